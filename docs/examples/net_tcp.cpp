// Quoted by docs/networking.md: a TCP server and a client, as Tornado's tcpserver and tcpclient.
#include <iostream>
#include <memory>
#include <string>

#include <squall/core/ioloop.hpp>
#include <squall/net/tcpclient.hpp>
#include <squall/net/tcpserver.hpp>

// [server]
// A server: override handle_stream, a coroutine that owns the connection while it runs.
class UpperCaseServer : public squall::TCPServer {
 public:
  squall::Future<void> handle_stream(std::unique_ptr<squall::IOStream> stream,
                                     squall::SocketAddress address) override {
    try {
      for (;;) {
        std::string line = co_await stream->read_until("\n", 4096);
        for (char& c : line) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        co_await stream->write(std::move(line));
      }
    } catch (const squall::StreamClosedError&) {
      std::cout << "server: " << address.to_string() << " went away\n";
    }
  }
};
// [server]

int main() {
  squall::IOLoop loop;
  // [client]
  UpperCaseServer server;
  server.listen(0, "127.0.0.1");  // port 0: the kernel picks one
  std::uint16_t port = server.addresses().front().port();

  std::string reply = loop.run_sync([port]() -> squall::Future<std::string> {
    squall::TCPClient client;
    std::unique_ptr<squall::IOStream> stream = co_await client.connect("localhost", port);
    co_await stream->write("hello, server\n");
    co_return co_await stream->read_until("\n");
  });
  std::cout << "client: " << reply;
  // [client]
  server.stop();
  return reply == "HELLO, SERVER\n" ? 0 : 1;
}
