// The parity app: most of Tornado's features, route by route, as specified in SPEC.md of the
// parity suite (the same application written with Tornado 6.2 is the reference).
//
//   parity [--port=8888 | --port 8888] [--address=127.0.0.1] [--root=DIR]
//
// templates/ and static/ are looked for beside the program, then in the source folder it was
// built from; --root names another folder holding both. static/big.bin is (re)written at
// start-up if missing or wrong. Prints "Listening on http://ADDRESS:PORT/" once it accepts
// connections (--port=0 picks a free port); SIGINT or SIGTERM stops it gracefully.

#include <squall/core/ioloop.hpp>
#include <squall/http/httpserver.hpp>
#include <squall/util/log.hpp>
#include <squall/web/application.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "demo_support.hpp"
#include "parity.hpp"

#ifndef SQUALL_EXAMPLE_DIR
#define SQUALL_EXAMPLE_DIR ""
#endif

namespace {

namespace fs = std::filesystem;

/// Writes static/big.bin (102400 bytes, byte i is i % 251) unless it is there already; through
/// a temporary file renamed into place, so that two instances starting at once never serve a
/// half-written file.
void ensure_big_bin(const fs::path& static_dir) {
  constexpr std::size_t kSize = 102400;
  std::string want(kSize, '\0');
  for (std::size_t i = 0; i < kSize; ++i) want[i] = static_cast<char>(i % 251);
  const fs::path path = static_dir / "big.bin";
  {
    std::ifstream in(path, std::ios::binary);
    const std::string have((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (have == want) return;
  }
  const fs::path temporary = static_dir / ("big.bin.tmp." + std::to_string(::getpid()));
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(want.data(), static_cast<std::streamsize>(want.size()));
    if (!out) throw squall::OSError(errno, "cannot write " + temporary.string());
  }
  fs::rename(temporary, path);
}

/// `http://HOST:PORT` reaching a server listening on `address`: the wildcard addresses are
/// reached through the loopback.
std::string self_base(std::string host, int port) {
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(port);
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<demo::WebDemoOptions> options =
      demo::parse_web_demo_options(argc, argv, SQUALL_EXAMPLE_DIR, {"templates/page.html"});
  if (!options) return 1;
  const int port = options->port;
  const std::string& address = options->address;
  const fs::path& root = options->root;
  try {
    ensure_big_bin(root / "static");
  } catch (const std::exception& e) {
    std::cerr << argv[0] << ": " << e.what() << "\n";
    return 1;
  }

  squall::IOLoop loop;
  squall::web::Settings settings;
  settings.cookie_secret = "parity-secret";
  settings.compress_response = true;
  settings.template_path = (root / "templates").string();
  settings.static_path = (root / "static").string();
  settings.static_handler_class = parity::static_handler(settings.static_path);
  settings.default_handler_class = parity::not_found_handler();
  std::vector<squall::web::URLSpec> routes = parity::sync_routes();
  for (squall::web::URLSpec& route : parity::async_routes()) routes.push_back(std::move(route));
  squall::web::Application application(std::move(routes), std::move(settings));

  squall::HTTPServerOptions server_options;
  server_options.xheaders = true;
  squall::HTTPServer* server = demo::listen(argv[0], application, port, address, server_options);
  if (!server) return 1;
  const int bound_port = server->addresses().empty() ? port : server->addresses().front().port();
  parity::config().self_base = self_base(address, bound_port);
  // Long polls may wait a minute: the suite allows 5 s to exit, so in-flight requests get 2.
  demo::shutdown_on_signals(*server, std::chrono::seconds(2));
  loop.start();
  return 0;
}
