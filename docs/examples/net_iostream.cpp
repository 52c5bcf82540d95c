// Quoted by docs/networking.md: reading and writing with IOStream over a connected socket pair.
#include <sys/socket.h>

#include <iostream>
#include <memory>
#include <string>

#include <squall/core/ioloop.hpp>
#include <squall/net/iostream.hpp>

// [protocol]
// A line-and-length protocol: "LEN n\r\n" then n bytes. One side writes, the other reads.
squall::Future<void> send_message(squall::IOStream& out, std::string body) {
  co_await out.write("LEN " + std::to_string(body.size()) + "\r\n");
  co_await out.write(std::move(body));  // moved in: no copy
}

squall::Future<std::string> receive_message(squall::IOStream& in) {
  std::string header = co_await in.read_until("\r\n", 64);  // at most 64 bytes without "\r\n"
  std::size_t length = std::stoul(header.substr(4));
  co_return co_await in.read_bytes(length);
}
// [protocol]

int main() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return 1;
  squall::IOLoop loop;
  // [use]
  auto left = std::make_unique<squall::IOStream>(fds[0]);
  auto right = std::make_unique<squall::IOStream>(fds[1]);
  std::string got = loop.run_sync([&]() -> squall::Future<std::string> {
    squall::Future<void> sending = send_message(*left, "hello over a stream");
    std::string message = co_await receive_message(*right);
    co_await sending;
    left->close();  // the peer sees the end of the stream
    try {
      co_await right->read_bytes(1);
    } catch (const squall::StreamClosedError& e) {
      std::cout << "after close: " << e.what() << '\n';
    }
    co_return message;
  });
  std::cout << "received: " << got << '\n';
  // [use]
  return got == "hello over a stream" ? 0 : 1;
}
