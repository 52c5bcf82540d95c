// websocket_bench_server: the server side of websocket_bench. An Application with one route,
// /echo, a WebSocketHandler that sends every message back as it came (same data, same type).
// Compression is off (the handler's default), the access log at warning level as in production
// (`--logging=warning`), so that the 101 lines are not what is measured. One loop, one thread.
//
// Prints `port=N` on stdout once it listens (with --port 0 the kernel picks a free port), which
// is how websocket_bench learns where to connect. The driver reads this process's memory and CPU
// time from /proc/<pid>/status and /proc/<pid>/stat itself.
//
// Usage: websocket_bench_server [--port N] [--address A]   (default 127.0.0.1, port 0)

#include <chrono>
#include <iostream>

#include <spdlog/spdlog.h>

#include <squall/core/ioloop.hpp>
#include <squall/http/httpserver.hpp>
#include <squall/util/log.hpp>
#include <squall/web/application.hpp>
#include <squall/web/websocket.hpp>

#include "bench_server.hpp"

namespace {

class EchoSocket : public squall::web::WebSocketHandler {
 public:
  squall::Future<void> open() override {
    // Small messages go out at once; the Tornado peer does the same.
    set_nodelay(true);
    co_return;
  }

  squall::Future<void> on_message(squall::web::WebSocketMessage message) override {
    // Not awaited, as in Tornado's echo: a 64-byte message is handed to the kernel at once.
    (void)write_message(message.data, message.binary);
    co_return;
  }
};

constexpr squall::bench::ServerUsage kUsage{
    "[--port N] [--address A]",
    "Echoes WebSocket messages at /echo (default 127.0.0.1, port 0: a free one).\n"
    "Prints port=N once listening.\n"};

}  // namespace

int main(int argc, char** argv) {
  const squall::bench::ServerArgs args =
      squall::bench::parse_server_args(argc, argv, 0, {}, kUsage);
  squall::IOLoop loop;
  squall::log::access_log().set_level(spdlog::level::warn);
  squall::web::Application app({{"/echo", squall::web::handler<EchoSocket>()}});
  squall::HTTPServer* server = nullptr;
  if (!squall::bench::listen_or_report(argv[0], args, [&] {
        server = &app.listen(static_cast<int>(args.port), args.address);
      })) {
    return 1;
  }
  std::cout << "port=" << server->addresses().at(0).port() << std::endl;
  squall::bench::serve_until_signal(*server, std::chrono::seconds(2));
  return 0;
}
