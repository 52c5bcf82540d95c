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

#include <chrono>
#include <cstdint>
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

#include "bench_server.hpp"

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

constexpr squall::bench::ServerUsage kUsage{
    "[--port N] [--address A] [--web]",
    "Serves /plaintext and /json for the HTTP benchmark (default 127.0.0.1:8080).\n"
    "--web serves them through Application and RequestHandler.\n"};

}  // namespace

int main(int argc, char** argv) {
  const squall::bench::ServerArgs args =
      squall::bench::parse_server_args(argc, argv, 8080, {"--web"}, kUsage);
  squall::IOLoop loop;
  squall::log::access_log().set_level(spdlog::level::warn);
  squall::web::Application app({{"/plaintext", squall::web::handler<PlaintextHandler>()},
                                {"/json", squall::web::handler<JsonHandler>()}});
  auto server_ptr = args.has("--web") ? std::make_unique<squall::HTTPServer>(
                                            static_cast<squall::HTTPServerConnectionDelegate&>(app))
                                      : std::make_unique<squall::HTTPServer>(handle);
  squall::HTTPServer& server = *server_ptr;
  if (!squall::bench::listen_or_report(argv[0], args, [&] {
        server.listen(static_cast<std::uint16_t>(args.port), args.address);
      })) {
    return 1;
  }
  squall::bench::serve_until_signal(server, std::chrono::seconds(5));
  return 0;
}
