// tcpecho_server: echoes each line it receives back to whoever sent it (Tornado's
// demos/tcpecho/server.py). Each connection is an IOStream served by its own coroutine; the
// server prints a line when a client comes and goes.
//
// Usage: tcpecho_server [--port=9888] [--address=127.0.0.1] [--help]
// With --port=0 the system picks a free port, which the "Listening on" line names. SIGINT or
// SIGTERM stops the server, which then exits 0.

#include <csignal>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <squall/core/ioloop.hpp>
#include <squall/net/tcpserver.hpp>
#include <squall/util/options.hpp>

#include "demo_support.hpp"

namespace {

/// Reads lines and writes each back, until the client goes away.
squall::Future<void> echo(std::unique_ptr<squall::IOStream> stream, squall::SocketAddress client) {
  std::cout << "Client connected from " << client.to_string() << std::endl;
  try {
    for (;;) {
      std::string line = co_await stream->read_until("\n");
      co_await stream->write(std::move(line));
    }
  } catch (const squall::StreamClosedError&) {
    std::cout << "Lost client at " << client.to_string() << std::endl;
  }
}

class EchoServer : public squall::TCPServer {
 protected:
  squall::Future<void> handle_stream(std::unique_ptr<squall::IOStream> stream,
                                     squall::SocketAddress address) override {
    // A free function: the coroutine needs nothing from the server, so the server may stop
    // while clients are still connected.
    return echo(std::move(stream), std::move(address));
  }
};

}  // namespace

int main(int argc, char** argv) {
  squall::options::define<std::uint16_t>("port", 9888,
                                         "TCP port to listen on (0 picks a free one)");
  squall::options::define<std::string>("address", "127.0.0.1", "address to listen on");
  if (!demo::parse_options_only(argc, argv)) return 2;
  const std::uint16_t port = squall::options::get<std::uint16_t>("port");
  const auto address = squall::options::get<std::string>("address");

  squall::IOLoop loop;
  {
    EchoServer server;
    try {
      server.listen(port, address);
    } catch (const std::exception& e) {
      std::cerr << argv[0] << ": cannot listen on " << address << " port " << port << ": "
                << e.what() << "\n";
      return 1;
    }
    for (const squall::SocketAddress& bound : server.addresses()) {
      std::cout << "Listening on " << bound.to_string() << std::endl;
    }
    for (int signum : {SIGINT, SIGTERM}) {
      loop.add_signal_handler(signum, [&loop](int) { loop.stop(); });
    }
    loop.start();
    std::cout << "Stopping" << std::endl;
  }
  loop.close();  // ends the connections still open
  return 0;
}
