// http_bench_server: the HTTPServer callback API at full speed, for ../shared/bench/http_bench.sh.
// GET /plaintext -> "Hello, World!" (text/plain); GET /json -> {"message":"Hello, World!"}
// (application/json); anything else -> 404. One loop, one thread.
//
// With --web, the same two endpoints go through the web framework (Application + RequestHandler,
// default settings: routing, automatic ETag, error pages) instead of the bare callback. The access
// log is set to warning level, as a production server would run (`--logging=warning`), so that
// its lines are not what is measured.
//
// Usage: http_bench_server [--port N] [--address A] [--web]

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include <squall/core/ioloop.hpp>
#include <squall/http/httpserver.hpp>
#include <squall/util/json.hpp>
#include <squall/util/log.hpp>
#include <squall/web/application.hpp>
#include <squall/web/request_handler.hpp>

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

class PlaintextHandler : public squall::web::RequestHandler {
 public:
  squall::Future<void> get() override {
    set_header("Content-Type", "text/plain");
    write("Hello, World!");
    return squall::make_ready_future();
  }
};

class JsonHandler : public squall::web::RequestHandler {
 public:
  squall::Future<void> get() override {
    write(squall::json{{"message", "Hello, World!"}});
    return squall::make_ready_future();
  }
};

[[noreturn]] void usage(const char* program, int status) {
  (status == 0 ? std::cout : std::cerr)
      << "Usage: " << program << " [--port N] [--address A] [--web]\n"
      << "Serves /plaintext and /json for the HTTP benchmark (default 127.0.0.1:8080).\n"
      << "--web serves them through Application and RequestHandler.\n";
  std::exit(status);
}

}  // namespace

int main(int argc, char** argv) {
  long port = 8080;
  std::string address = "127.0.0.1";
  bool web = false;
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
    } else if (arg == "--web") {
      web = true;
    } else {
      std::cerr << argv[0] << ": unknown option '" << arg << "'\n";
      usage(argv[0], 2);
    }
  }
  squall::IOLoop loop;
  squall::log::access_log().set_level(spdlog::level::warn);
  squall::web::Application app({{"/plaintext", squall::web::handler<PlaintextHandler>()},
                                {"/json", squall::web::handler<JsonHandler>()}});
  auto server_ptr = web ? std::make_unique<squall::HTTPServer>(
                              static_cast<squall::HTTPServerConnectionDelegate&>(app))
                        : std::make_unique<squall::HTTPServer>(handle);
  squall::HTTPServer& server = *server_ptr;
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
