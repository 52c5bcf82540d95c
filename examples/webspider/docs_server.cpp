// docs_server: serves a folder of static files (StaticFileHandler, index.html for folders), for
// webspider to crawl: its end-to-end test serves an HTML rendering of squall's docs with it.
//
//   docs_server --root=FOLDER [--port=8888] [--address=127.0.0.1]
//
// Prints "Listening on http://ADDRESS:PORT/" once it accepts connections (--port=0 picks a free
// port) and an access log line per request on stderr; SIGINT or SIGTERM stops it gracefully.

#include <squall/core/ioloop.hpp>
#include <squall/util/options.hpp>
#include <squall/web/application.hpp>
#include <squall/web/static_file_handler.hpp>

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>

#include "demo_support.hpp"

int main(int argc, char** argv) {
  squall::options::define<std::uint16_t>("port", 8888,
                                         "run on the given port (0 picks a free one)");
  squall::options::define<std::string>("address", "127.0.0.1", "listen on this address");
  squall::options::define<std::string>("root", "", "the folder to serve (required)");
  if (!demo::parse_options_only(argc, argv)) return 2;
  const std::uint16_t port = squall::options::get<std::uint16_t>("port");
  const auto address = squall::options::get<std::string>("address");
  const auto root = squall::options::get<std::string>("root");
  if (root.empty() || !std::filesystem::is_directory(root)) {
    std::cerr << argv[0] << ": --root must name a folder\n";
    return 2;
  }

  squall::IOLoop loop;
  squall::web::Application application({
      {"/(.*)", squall::web::handler<squall::web::StaticFileHandler>(
                    squall::web::StaticFileOptions{root, "index.html"})},
  });
  squall::HTTPServer* server = demo::listen(argv[0], application, port, address);
  if (!server) return 1;
  demo::shutdown_on_signals(*server);
  loop.start();
  return 0;
}
