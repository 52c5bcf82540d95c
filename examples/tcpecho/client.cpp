// tcpecho_client: connects to tcpecho_server, sends one line and prints the line that comes back
// (Tornado's demos/tcpecho/client.py). Exits 0 once the echo is printed, 1 if the connection or
// the exchange fails (within 10 seconds).
//
// Usage: tcpecho_client [--port=9888] [--address=127.0.0.1] [--message=TEXT] [--help]

#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <squall/core/ioloop.hpp>
#include <squall/net/tcpclient.hpp>
#include <squall/util/options.hpp>

#include "demo_support.hpp"

namespace {

using namespace std::chrono_literals;

/// Sends `message` and a newline to `address`:`port`; gives the line that comes back, without its
/// newline.
squall::Future<std::string> send_message(std::string address, std::uint16_t port,
                                         std::string message) {
  squall::TCPClient client;
  std::unique_ptr<squall::IOStream> stream = co_await client.connect(address, port, AF_UNSPEC, 5s);
  co_await stream->write(message + "\n");
  std::string reply = co_await stream->read_until("\n");
  reply.pop_back();
  co_return reply;
}

}  // namespace

int main(int argc, char** argv) {
  squall::options::define<std::uint16_t>("port", 9888, "TCP port to connect to");
  squall::options::define<std::string>("address", "127.0.0.1",
                                       "host name or address of the server");
  squall::options::define<std::string>("message", "hello", "the line to send (without a newline)");
  if (!demo::parse_options_only(argc, argv)) return 2;
  const std::uint16_t port = squall::options::get<std::uint16_t>("port");
  const auto address = squall::options::get<std::string>("address");
  const auto message = squall::options::get<std::string>("message");
  if (message.find('\n') != std::string::npos) {
    std::cerr << argv[0] << ": --message must be a single line\n";
    return 2;
  }

  squall::IOLoop loop;
  try {
    std::string reply = loop.run_sync([&] { return send_message(address, port, message); }, 10s);
    std::cout << reply << std::endl;
  } catch (const std::exception& e) {
    std::cerr << argv[0] << ": " << e.what() << "\n";
    return 1;
  }
  loop.close();
  return 0;
}
