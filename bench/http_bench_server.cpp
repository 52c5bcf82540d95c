// http_bench_server: the HTTPServer callback API at full speed, for ../shared/bench/http_bench.sh.
// GET /plaintext -> "Hello, World!" (text/plain); GET /json -> {"message":"Hello, World!"}
// (application/json); anything else -> 404. One loop, one thread.
//
// Usage: http_bench_server [--port N] [--address A]

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

#include <squall/core/ioloop.hpp>
#include <squall/http/httpserver.hpp>

namespace {

void respond(squall::HTTPConnection& connection, int code, std::string_view content_type,
             std::string_view body) {
  squall::HTTPHeaders headers;
  headers.add("Server", "squall");
  headers.add("Content-Type", content_type);
  headers.add("Content-Length", std::to_string(body.size()));
  squall::ResponseStartLine start_line;
  start_line.code = code;
  connection.write_headers(start_line, headers, body);
  connection.finish();
}

void handle(const std::shared_ptr<squall::HTTPServerRequest>& request) {
  squall::HTTPConnection& connection = *request->connection;
  if (request->path == "/plaintext") {
    respond(connection, 200, "text/plain", "Hello, World!");
  } else if (request->path == "/json") {
    respond(connection, 200, "application/json", R"({"message":"Hello, World!"})");
  } else {
    respond(connection, 404, "text/plain", "Not Found");
  }
}

[[noreturn]] void usage(const char* program, int status) {
  (status == 0 ? std::cout : std::cerr)
      << "Usage: " << program << " [--port N] [--address A]\n"
      << "Serves /plaintext and /json for the HTTP benchmark (default 127.0.0.1:8080).\n";
  std::exit(status);
}

}  // namespace

int main(int argc, char** argv) {
  long port = 8080;
  std::string address = "127.0.0.1";
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (auto eq = arg.find('='); eq != std::string_view::npos)
        return std::string(arg.substr(eq + 1));
      if (i + 1 >= argc) usage(argv[0], 2);
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") usage(argv[0], 0);
    if (arg.starts_with("--port")) {
      std::string text = value();
      char* end = nullptr;
      port = std::strtol(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || port < 0 || port > 65535) {
        std::cerr << argv[0] << ": invalid --port '" << text << "'\n";
        return 2;
      }
    } else if (arg.starts_with("--address")) {
      address = value();
    } else {
      std::cerr << argv[0] << ": unknown option '" << arg << "'\n";
      usage(argv[0], 2);
    }
  }
  squall::IOLoop loop;
  squall::HTTPServer server(handle);
  try {
    server.listen(static_cast<std::uint16_t>(port), address);
  } catch (const std::exception& e) {
    std::cerr << argv[0] << ": cannot listen on " << address << ":" << port << ": " << e.what()
              << "\n";
    return 1;
  }
  server.shutdown_on_signal(SIGTERM, std::chrono::seconds(5));
  server.shutdown_on_signal(SIGINT, std::chrono::seconds(5));
  loop.start();
  return 0;
}
