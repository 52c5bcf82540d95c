// Tornado's "Hello, world" demo in squall: one handler, one route, a --port option.
//
//   helloworld [--port=8888] [--address=127.0.0.1]
//
// Prints "Listening on http://ADDRESS:PORT/" once it accepts connections (--port=0 picks a free
// port); SIGINT or SIGTERM stops it gracefully.

#include <squall/core/ioloop.hpp>
#include <squall/util/options.hpp>
#include <squall/web/application.hpp>
#include <squall/web/request_handler.hpp>

#include "demo_support.hpp"

namespace {

class MainHandler : public squall::web::RequestHandler {
 public:
  squall::Future<void> get() override {
    write("Hello, world");
    return squall::make_ready_future();
  }
};

}  // namespace

int main(int argc, char** argv) {
  squall::options::define<int>("port", 8888, "run on the given port");
  squall::options::define<std::string>("address", "127.0.0.1", "listen on this address");
  squall::options::parse_command_line(argc, argv);
  const int port = squall::options::get<int>("port");
  const auto address = squall::options::get<std::string>("address");

  squall::IOLoop loop;
  squall::web::Application application({{"/", squall::web::handler<MainHandler>()}});
  squall::HTTPServer* server = demo::listen(argv[0], application, port, address);
  if (!server) return 1;
  demo::shutdown_on_signals(*server);
  loop.start();
  return 0;
}
