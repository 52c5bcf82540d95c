// Quoted by docs/async.md: one operation -- read what arrives on a pipe -- written four ways:
// blocking, with a callback, returning a Future, and as a coroutine.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

#include <squall/core/concurrent.hpp>
#include <squall/core/ioloop.hpp>

using namespace std::chrono_literals;

// [blocking]
// Returns what the pipe holds, waiting first if it is empty: until then the thread does nothing.
std::string read_blocking(int fd) {
  char buffer[4096];
  ssize_t n = ::read(fd, buffer, sizeof buffer);
  if (n < 0) throw std::system_error(errno, std::generic_category(), "read");
  return std::string(buffer, static_cast<std::size_t>(n));
}
// [blocking]

// [callback]
// Returns at once; the loop calls `callback` with the data once the pipe is readable.
void read_with_callback(int fd, std::function<void(std::string)> callback) {
  squall::IOLoop& loop = squall::IOLoop::current();
  loop.add_handler(fd, squall::IOLoop::READ,
                   [&loop, callback = std::move(callback)](int ready_fd, std::uint32_t) {
                     loop.remove_handler(ready_fd);
                     callback(read_blocking(ready_fd));  // readable now: read() does not wait
                   });
}
// [callback]

// [future]
// Returns a pending Future at once; the loop completes it with the data, or with read's error.
squall::Future<std::string> read_future(int fd) {
  squall::Future<std::string> result;
  squall::IOLoop& loop = squall::IOLoop::current();
  loop.add_handler(fd, squall::IOLoop::READ, [&loop, result](int ready_fd, std::uint32_t) {
    loop.remove_handler(ready_fd);
    try {
      result.set_result(read_blocking(ready_fd));
    } catch (...) {
      result.set_exception(std::current_exception());
    }
  });
  return result;
}
// [future]

// [coroutine]
// Reads what arrives and counts its lines. co_await suspends this function, never the thread.
squall::Future<std::size_t> count_lines(int fd) {
  std::string text = co_await read_future(fd);
  co_return std::ranges::count(text, '\n');
}
// [coroutine]

int main() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
  const int in = fds[0];
  const int out = fds[1];
  auto send = [out](std::string_view text) {
    if (::write(out, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      throw std::system_error(errno, std::generic_category(), "write");
    }
  };

  // [use-blocking]
  std::thread writer([&send] {
    std::this_thread::sleep_for(50ms);
    send("one\n");
  });
  std::cout << "blocking:  " << read_blocking(in);  // this thread waits here for 50 ms
  writer.join();
  // [use-blocking]

  // The other three styles wait through the loop, which needs a descriptor that never blocks.
  ::fcntl(in, F_SETFL, ::fcntl(in, F_GETFL) | O_NONBLOCK);
  squall::IOLoop& loop = squall::IOLoop::current();

  // [use-callback]
  read_with_callback(in, [&loop](std::string text) {
    std::cout << "callback:  " << text;
    loop.stop();
  });
  loop.call_later(10ms, [&send] { send("two\n"); });
  loop.start();  // runs until the callback calls stop()
  // [use-callback]

  // [use-future]
  squall::Future<std::string> future = read_future(in);
  future.add_done_callback([&loop](const squall::Future<std::string>& done) {
    std::cout << "future:    " << done.result();  // result() rethrows read's error, if any
    loop.stop();
  });
  loop.call_later(10ms, [&send] { send("three\n"); });
  loop.start();
  // [use-future]

  // [use-coroutine]
  loop.call_later(10ms, [&send] { send("four\nfive\n"); });
  std::size_t lines = loop.run_sync([in] { return count_lines(in); });
  std::cout << "coroutine: " << lines << " lines\n";
  // [use-coroutine]

  ::close(in);
  ::close(out);
}
