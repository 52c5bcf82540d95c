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
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include <squall/core/ioloop.hpp>
#include <squall/http/httpserver.hpp>
#include <squall/util/log.hpp>
#include <squall/web/application.hpp>
#include <squall/web/websocket.hpp>

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

[[noreturn]] void usage(const char* program, int status) {
  (status == 0 ? std::cout : std::cerr)
      << "Usage: " << program << " [--port N] [--address A]\n"
      << "Echoes WebSocket messages at /echo (default 127.0.0.1, port 0: a free one).\n"
      << "Prints port=N once listening.\n";
  std::exit(status);
}

}  // namespace

int main(int argc, char** argv) {
  long port = 0;
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
  squall::log::access_log().set_level(spdlog::level::warn);
  squall::web::Application app({{"/echo", squall::web::handler<EchoSocket>()}});
  squall::HTTPServer* server = nullptr;
  try {
    server = &app.listen(static_cast<int>(port), address);
  } catch (const std::exception& e) {
    std::cerr << argv[0] << ": cannot listen on " << address << ":" << port << ": " << e.what()
              << "\n";
    return 1;
  }
  std::cout << "port=" << server->addresses().at(0).port() << std::endl;
  server->shutdown_on_signal(SIGTERM, std::chrono::seconds(2));
  server->shutdown_on_signal(SIGINT, std::chrono::seconds(2));
  loop.start();
  return 0;
}
