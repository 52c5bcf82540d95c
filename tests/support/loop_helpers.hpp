#pragma once
// Helpers shared by the IOLoop test files: waiting for loop iterations, busy work, and pipes and
// socket pairs that close themselves.

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "squall/core/concurrent.hpp"
#include "squall/core/ioloop.hpp"

namespace squall::test_support {

/// A Future done at the loop's next iteration: awaiting it lets everything queued before run.
inline Future<void> next_iteration() {
  Future<void> future;
  IOLoop::current().add_callback([future] { future.set_result(); });
  return future;
}

/// A Future done once `delay` has passed.
inline Future<void> after(IOLoop::duration delay) {
  Future<void> future;
  IOLoop::current().call_later(delay, [future] { future.set_result(); });
  return future;
}

/// Lets the loop run at least `n` iterations that poll the descriptors: it waits on zero-delay
/// timers, and an iteration with only a timer pending polls before running it.
inline Future<void> iterations(int n) {
  for (int i = 0; i < n; ++i) co_await after(IOLoop::duration::zero());
}

/// Keeps the thread busy (the work of a slow callback), without yielding to the loop.
inline void busy_for(IOLoop::duration duration) {
  auto end = IOLoop::clock::now() + duration;
  while (IOLoop::clock::now() < end) {
  }
}

inline bool fd_is_open(int fd) {
  return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

/// Both ends of a non-blocking pipe, closed on destruction unless released.
class Pipe {
 public:
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
      throw std::system_error(errno, std::generic_category(), "pipe2");
    }
    read_fd = fds[0];
    write_fd = fds[1];
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  void close_read() {
    if (read_fd >= 0) ::close(std::exchange(read_fd, -1));
  }
  void close_write() {
    if (write_fd >= 0) ::close(std::exchange(write_fd, -1));
  }
  void write(const std::string& data) const {
    ASSERT_EQ(::write(write_fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  }
  std::string read_available() const {
    std::string out;
    char buffer[256];
    ssize_t n;
    while ((n = ::read(read_fd, buffer, sizeof buffer)) > 0) out.append(buffer, buffer + n);
    return out;
  }

  int read_fd = -1;
  int write_fd = -1;
};

/// A connected pair of non-blocking Unix stream sockets.
class SocketPair {
 public:
  SocketPair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
      throw std::system_error(errno, std::generic_category(), "socketpair");
    }
    a = fds[0];
    b = fds[1];
  }
  ~SocketPair() {
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  }
  SocketPair(const SocketPair&) = delete;
  SocketPair& operator=(const SocketPair&) = delete;

  int a = -1;
  int b = -1;
};

/// A callable with a name of its own, for the loop's logs.
struct SlowCallback {
  void operator()() const { busy_for(std::chrono::milliseconds(50)); }
};

struct NamedFailingCallback {
  void operator()() const { throw std::runtime_error("named failure"); }
  std::string describe() const { return "the named callback"; }
};

}  // namespace squall::test_support
