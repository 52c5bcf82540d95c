#pragma once
// What the demos in examples/ all do the same way, kept here so that each demo's main shows only
// what is its own: finding the folder of its templates and static files, listening and saying
// where, stopping gracefully on SIGINT or SIGTERM, and refusing stray arguments. Failures are
// reported as every demo reports them, "PROGRAM: WHY" on stderr, and the caller just exits.

#include <squall/core/concurrent.hpp>
#include <squall/core/ioloop.hpp>
#include <squall/http/httpserver.hpp>
#include <squall/web/application.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace demo {

/// Parses the command line into squall::options (see options::parse_command_line, which exits
/// for --help and a bad option). False, after printing "PROGRAM: takes no arguments besides its
/// options (see --help)" on stderr, if the command line holds anything else: exit 2 then.
bool parse_options_only(int argc, char** argv);

/// The folder holding a demo's templates/ and static/: `override_root` (its --root option) if not
/// empty, else the folder of the running program (found through /proc/self/exe), else
/// `source_dir` (the source folder it was built from, SQUALL_EXAMPLE_DIR) if not empty. A folder
/// is taken only if it holds every file of `needed` (paths relative to it); an override is
/// taken or refused, never passed over. Nullopt, after printing "PROGRAM: no FILE in WHERE (use
/// --root=DIR)" on stderr naming the first needed file, if no folder qualifies: exit 1 then.
std::optional<std::filesystem::path> find_resource_root(
    const char* program, std::string_view override_root, std::string_view source_dir,
    std::initializer_list<std::string_view> needed);

/// Where a web demo listens and what it serves from.
struct WebDemoOptions {
  int port;
  std::string address;
  std::filesystem::path root;  // holding templates/ and static/
};

/// A web demo's command line: defines the options `--port` (8888), `--address` (127.0.0.1) and
/// `--root` (find_resource_root's override), parses them (options::parse_command_line, which
/// exits for --help and a bad option), and finds the root holding every file of `needed` with
/// find_resource_root (`source_dir`: SQUALL_EXAMPLE_DIR). Nullopt, after find_resource_root's
/// message, if there is none: exit 1 then.
std::optional<WebDemoOptions> parse_web_demo_options(
    int argc, char** argv, std::string_view source_dir,
    std::initializer_list<std::string_view> needed);

/// Starts `application` on `address`:`port` with `options` (Application::listen) and prints
/// "Listening on http://HOST:PORT/" for each address bound, on stdout, flushed: the end-to-end
/// tests wait for that line, which names the port when `port` is 0. Nullptr, after printing
/// "PROGRAM: cannot listen on ADDRESS:PORT: WHY" on stderr, if it cannot listen: exit 1 then.
squall::HTTPServer* listen(const char* program, squall::web::Application& application, int port,
                           const std::string& address, squall::HTTPServerOptions options = {});

/// The usual graceful stop on SIGINT and on SIGTERM: HTTPServer::shutdown_on_signal for both
/// (stop accepting, let requests in flight finish within `timeout`, then stop the loop).
void shutdown_on_signals(squall::HTTPServer& server,
                         std::chrono::steady_clock::duration timeout = std::chrono::seconds(30));

/// A stop of the demo's own on SIGINT and on SIGTERM, for demos whose clients the server's
/// shutdown alone would not end (long polls, WebSockets): the first of the signals calls
/// `stop(signum)`, and `loop` stops once the Future it returns completes. Later signals are
/// ignored, the stop being under way.
void stop_on_signals(squall::IOLoop& loop, std::function<squall::Future<void>(int signum)> stop);

}  // namespace demo
