#pragma once
// What the benchmark servers (http_bench_server, websocket_bench_server) share: their command
// line (--port N, --address A, --help and a few switches of their own) and their way of
// listening and of stopping on a signal.

#include <chrono>
#include <functional>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>

#include <squall/core/ioloop.hpp>
#include <squall/http/httpserver.hpp>

namespace squall::bench {

/// A benchmark server's command line, parsed.
struct ServerArgs {
  long port = 0;
  std::string address = "127.0.0.1";
  std::set<std::string, std::less<>> switches;  ///< the switches given, e.g. "--web"

  /// Whether the switch `name` was given.
  bool has(std::string_view name) const { return switches.contains(name); }
};

/// The usage text of a server: "Usage: <program> <synopsis>\n" then `description` (whole lines).
struct ServerUsage {
  std::string_view synopsis;
  std::string_view description;
};

/// Parses `argv`: --port N (0 to 65535), --address A (both also as --name=value), each of
/// `switches`, and -h/--help, which prints the usage on stdout and exits with 0. Anything else,
/// a missing value or a bad port prints the trouble on stderr and exits with 2.
ServerArgs parse_server_args(int argc, char** argv, long default_port,
                             std::initializer_list<std::string_view> switches,
                             const ServerUsage& usage);

/// Calls `listen`, which listens on `args`' address and port; if it throws, prints
/// "<program>: cannot listen on A:P: <what>" on stderr and returns false.
bool listen_or_report(const char* program, const ServerArgs& args,
                      const std::function<void()>& listen);

/// Shuts `server` down on SIGTERM or SIGINT, giving open connections `grace` to finish, and runs
/// the current IOLoop until then.
void serve_until_signal(HTTPServer& server, std::chrono::seconds grace);

}  // namespace squall::bench
