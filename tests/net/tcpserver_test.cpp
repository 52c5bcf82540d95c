// TCPServer: serving many clients, errors in handle_stream, stop, bind/start (with worker
// processes), Unix sockets, stream options, and running out of descriptors.
#include "squall/net/tcpserver.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "squall/core/gen.hpp"
#include "squall/net/process.hpp"
#include "squall/testing/testing.hpp"
#include "squall/util/log.hpp"

namespace squall {
namespace {

using namespace std::chrono_literals;
using namespace netutil;  // bind_sockets, add_accept_handler...

class TCPServerTest : public testing::AsyncTest {};

/// Echoes every line until the peer closes.
class EchoServer : public TCPServer {
 public:
  using TCPServer::TCPServer;

  /// Peers' addresses, in the order they connected.
  std::vector<SocketAddress> peers;

  /// Done once every connection so far has ended (its client closed it).
  Future<void> finished() const { return gen::multi(handlers_); }

 protected:
  Future<void> handle_stream(std::unique_ptr<IOStream> stream, SocketAddress address) override {
    peers.push_back(address);
    return handlers_.emplace_back(echo(std::move(stream)));
  }

  static Future<void> echo(std::unique_ptr<IOStream> stream) {
    try {
      for (;;) co_await stream->write(co_await stream->read_until("\n"));
    } catch (const StreamClosedError&) {
    }
  }

 private:
  std::vector<Future<void>> handlers_;
};

std::uint16_t port_of(const TCPServer& server) {
  std::vector<SocketAddress> addresses = server.addresses();
  if (addresses.empty()) throw Error("the server has no socket");
  return addresses.front().port();
}

/// A stream connected to `address`.
Future<std::unique_ptr<IOStream>> connect_to(SocketAddress address) {
  int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw OSError(errno, "socket");
  auto stream = std::make_unique<IOStream>(fd);
  co_await stream->connect(address);
  co_return stream;
}

Future<std::unique_ptr<IOStream>> connect_to(std::uint16_t port) {
  return connect_to(SocketAddress::from_ip("127.0.0.1", port));
}

/// Sends `line` and gives the line that comes back.
Future<std::string> round_trip(IOStream& stream, std::string line) {
  co_await stream.write(line);
  co_return co_await stream.read_until("\n");
}

TEST_F(TCPServerTest, EchoesLinesToOneHundredConcurrentClients) {
  EchoServer server;
  server.listen(0, "127.0.0.1");
  const std::uint16_t port = port_of(server);
  run_sync(
      [&]() -> Future<void> {
        auto client = [](std::uint16_t port, int id) -> Future<int> {
          auto stream = co_await connect_to(port);
          int echoed = 0;
          for (int line = 0; line < 3; ++line) {
            std::string text = "client " + std::to_string(id) + " line " + std::to_string(line);
            if (co_await round_trip(*stream, text + "\n") == text + "\n") ++echoed;
          }
          co_return echoed;
        };
        std::vector<Future<int>> clients;
        for (int id = 0; id < 100; ++id) clients.push_back(client(port, id));
        std::vector<int> echoed = co_await gen::multi(std::move(clients));
        for (int id = 0; id < 100; ++id) EXPECT_EQ(echoed[id], 3) << "client " << id;
      },
      30s);
  run_sync([&] { return server.finished(); });
  EXPECT_EQ(server.peers.size(), 100u);
}

TEST_F(TCPServerTest, HandleStreamGetsThePeersAddressAndTheStreamIsConnected) {
  EchoServer server;
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    EXPECT_EQ(co_await round_trip(*stream, "ping\n"), "ping\n");
    EXPECT_EQ(server.peers.size(), 1u);
    EXPECT_EQ(server.peers.at(0), socket_address_of(stream->fileno()));
    EXPECT_EQ(server.peers.at(0).ip(), "127.0.0.1");
  });
  run_sync([&] { return server.finished(); });
}

/// The first connection throws from handle_stream at once; later ones echo, but a "boom" line
/// makes the coroutine throw.
class FailingServer : public TCPServer {
 public:
  /// The Future of the last connection's coroutine.
  Future<void> last;

 protected:
  Future<void> handle_stream(std::unique_ptr<IOStream> stream, SocketAddress) override {
    if (++connections_ == 1) throw ValueError("refusing the first connection");
    last = serve(std::move(stream));
    return last;
  }

 private:
  static Future<void> serve(std::unique_ptr<IOStream> stream) {
    try {
      for (;;) {
        std::string line = co_await stream->read_until("\n");
        if (line == "boom\n") throw ValueError("boom from a coroutine");
        co_await stream->write(line);
      }
    } catch (const StreamClosedError&) {
    }
  }

  int connections_ = 0;
};

TEST_F(TCPServerTest, AnExceptionInHandleStreamIsLoggedAndTheServerKeepsServing) {
  FailingServer server;
  server.listen(0, "127.0.0.1");
  const std::uint16_t port = port_of(server);
  testing::ExpectLog expected(log::app_log(), "Error in connection callback from 127\\.0\\.0\\.1:");
  run_sync([&]() -> Future<void> {
    // Thrown at once: the stream is dropped, so the client sees the end of the stream.
    auto first = co_await connect_to(port);
    EXPECT_EQ(co_await first->read_until_close(), "");
    // Thrown by the coroutine.
    auto second = co_await connect_to(port);
    EXPECT_EQ(co_await round_trip(*second, "fine\n"), "fine\n");
    co_await second->write("boom\n");
    EXPECT_EQ(co_await second->read_until_close(), "");
    // Still serving.
    auto third = co_await connect_to(port);
    EXPECT_EQ(co_await round_trip(*third, "still here\n"), "still here\n");
  });
  run_sync([&] { return server.last; });  // ends without an error once the client has gone
  ASSERT_EQ(expected.matched(), 2);
  std::vector<std::string> lines = expected.lines();
  EXPECT_NE(lines[0].find("refusing the first connection"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("boom from a coroutine"), std::string::npos) << lines[1];
}

TEST_F(TCPServerTest, StopStopsAcceptingWhileAnAcceptedConnectionGoesOn) {
  EchoServer server;
  server.listen(0, "127.0.0.1");
  const std::uint16_t port = port_of(server);
  run_sync([&]() -> Future<void> {
    auto accepted = co_await connect_to(port);
    EXPECT_EQ(co_await round_trip(*accepted, "before\n"), "before\n");
    server.stop();
    EXPECT_TRUE(server.addresses().empty());
    try {
      co_await connect_to(port);
      ADD_FAILURE() << "connected to a stopped server";
    } catch (const StreamClosedError& e) {
      try {
        std::rethrow_exception(e.real_error());
      } catch (const OSError& os) {
        EXPECT_EQ(os.code(), ECONNREFUSED) << os.what();
      }
    }
    EXPECT_EQ(co_await round_trip(*accepted, "after\n"), "after\n");
    server.stop();  // again: nothing to do
  });
  run_sync([&] { return server.finished(); });
}

TEST_F(TCPServerTest, DestroyingTheServerClosesItsSockets) {
  std::uint16_t port = 0;
  std::uint16_t pending_port = 0;
  {
    EchoServer server;
    server.listen(0, "127.0.0.1");
    port = port_of(server);
    EchoServer never_started;
    never_started.bind(0, "127.0.0.1");
    pending_port = port_of(never_started);
  }
  run_sync([&]() -> Future<void> {
    EXPECT_THROW(co_await connect_to(port), StreamClosedError);
    EXPECT_THROW(co_await connect_to(pending_port), StreamClosedError);
  });
}

TEST_F(TCPServerTest, BindThenStartAcceptsConnections) {
  EchoServer server;
  server.bind(0, "127.0.0.1");
  const std::uint16_t port = port_of(server);  // known before start
  server.start();
  EXPECT_THROW(server.start(), InvalidStateError);
  // Once started, bind adds sockets at once.
  server.bind(0, "127.0.0.1");
  ASSERT_EQ(server.addresses().size(), 2u);
  const std::uint16_t second_port = server.addresses()[1].port();
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port);
    EXPECT_EQ(co_await round_trip(*stream, "started\n"), "started\n");
    auto other = co_await connect_to(second_port);
    EXPECT_EQ(co_await round_trip(*other, "bound later\n"), "bound later\n");
  });
  run_sync([&] { return server.finished(); });
}

TEST_F(TCPServerTest, ListenCanBeCalledForSeveralPorts) {
  EchoServer server;
  server.listen(0, "127.0.0.1");
  server.listen(0, "127.0.0.1");
  std::vector<SocketAddress> addresses = server.addresses();
  ASSERT_EQ(addresses.size(), 2u);
  EXPECT_NE(addresses[0].port(), addresses[1].port());
  run_sync([&]() -> Future<void> {
    for (const SocketAddress& address : addresses) {
      auto stream = co_await connect_to(address);
      EXPECT_EQ(co_await round_trip(*stream, "hi\n"), "hi\n");
    }
  });
  run_sync([&] { return server.finished(); });
}

TEST_F(TCPServerTest, AddSocketsServesAUnixSocket) {
  std::string path = ::testing::TempDir() + "squall_tcpserver_" + std::to_string(::getpid());
  EchoServer server;
  server.add_sockets({bind_unix_socket(path)});
  ASSERT_EQ(server.addresses().size(), 1u);
  EXPECT_EQ(server.addresses()[0].family(), AF_UNIX);
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(SocketAddress::from_unix_path(path));
    EXPECT_EQ(co_await round_trip(*stream, "over a unix socket\n"), "over a unix socket\n");
  });
  run_sync([&] { return server.finished(); });
  ASSERT_EQ(server.peers.size(), 1u);
  EXPECT_EQ(server.peers[0].family(), AF_UNIX);
  server.stop();
  ::unlink(path.c_str());
}

TEST_F(TCPServerTest, AddSocketTakesOneSocket) {
  std::vector<int> sockets = bind_sockets(0, "127.0.0.1");
  ASSERT_EQ(sockets.size(), 1u);
  const std::uint16_t port = socket_address_of(sockets[0]).port();
  EchoServer server;
  server.add_socket(sockets[0]);
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port);
    EXPECT_EQ(co_await round_trip(*stream, "one\n"), "one\n");
  });
  run_sync([&] { return server.finished(); });
}

/// Records the options of its streams, and the error that closed each.
class RecordingServer : public TCPServer {
 public:
  using TCPServer::TCPServer;

  std::vector<IOStreamOptions> options;
  Future<std::exception_ptr> closed_with;

 protected:
  Future<void> handle_stream(std::unique_ptr<IOStream> stream, SocketAddress) override {
    options.push_back(stream->options());
    try {
      co_await stream->read_until("\n");
    } catch (const StreamClosedError& e) {
      closed_with.set_result(e.real_error());
    }
  }
};

TEST_F(TCPServerTest, TheServersStreamOptionsApplyToItsStreams) {
  IOStreamOptions small;
  small.max_buffer_size = 1024;
  small.read_chunk_size = 256;
  RecordingServer server(std::nullopt, small);
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    co_await stream->write(std::string(4096, 'x'));  // no newline, past max_buffer_size
    std::exception_ptr error = co_await server.closed_with;
    EXPECT_THROW(std::rethrow_exception(error), StreamBufferFullError);
  });
  ASSERT_EQ(server.options.size(), 1u);
  EXPECT_EQ(server.options[0].max_buffer_size, 1024u);
  EXPECT_EQ(server.options[0].read_chunk_size, 256u);
}

TEST_F(TCPServerTest, TLSOptionsThatCannotWorkThrowAtConstruction) {
  SSLOptions without_certificate;
  EXPECT_THROW(EchoServer{without_certificate}, ValueError);
  SSLOptions missing_file;
  missing_file.certfile = "/nonexistent/squall-test.pem";
  try {
    EchoServer server(missing_file);
    ADD_FAILURE() << "a server took a certfile that does not exist";
  } catch (const SSLError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/squall-test.pem"), std::string::npos)
        << e.what();
  }
}

/// A blocking socket connected to 127.0.0.1:`port`: the listen backlog completes the handshake
/// whether or not anyone accepts.
int connect_blocking(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  SocketAddress address = SocketAddress::from_ip("127.0.0.1", port);
  if (fd < 0 || ::connect(fd, address.get(), address.length()) != 0) {
    throw OSError(errno, "connect");
  }
  return fd;
}

/// UndefinedBehaviorSanitizer checks the dynamic type of a polymorphic object the first time it
/// meets that type, with a pipe(): while descriptors are exhausted the pipe fails and it reports a
/// false "invalid vptr". Running first what runs in that window (a log line of the same shape, a
/// timer completing a Future) puts those types in its cache.
Future<void> warm_up_sanitizer_type_cache() {
  {
    testing::ExpectLog warm_up(log::app_log(), "warming up the logger");
    log::app_log().error("warming up the logger: fd {}: {}; {} ms", 0, std::string("x"), 0L);
  }
  co_await gen::sleep(1ms);
}

TEST_F(TCPServerTest, RunningOutOfDescriptorsPausesAcceptingWithoutSpinning) {
  std::vector<int> sockets = bind_sockets(0, "127.0.0.1");
  const std::uint16_t port = socket_address_of(sockets[0]).port();
  std::vector<std::unique_ptr<IOStream>> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(std::make_unique<IOStream>(connect_blocking(port)));
  EchoServer server;
  rlimit original{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &original), 0);
  struct RestoreLimit {
    rlimit limit;
    ~RestoreLimit() { ::setrlimit(RLIMIT_NOFILE, &limit); }
  } restore{original};

  testing::ExpectLog paused(log::app_log(), "accept\\(\\) on fd \\d+ failed: Too many open files");
  run_sync([&]() -> Future<void> {
    co_await warm_up_sanitizer_type_cache();
    server.add_sockets(sockets);
    // Before the loop polls again: the limit drops to the lowest free descriptor, so accept()
    // fails with EMFILE while the three connections wait in the backlog.
    int lowest_free = ::dup(0);
    ::close(lowest_free);
    rlimit lowered = original;
    lowered.rlim_cur = static_cast<rlim_t>(lowest_free);
    EXPECT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);
    // A window to count in, not a wait for an event: with a 100 ms pause, about 4 attempts; a
    // spinning accept handler would log thousands of times.
    co_await gen::sleep(350ms);
    const int logged = paused.matched();
    EXPECT_GE(logged, 2);
    EXPECT_LE(logged, 6) << "the accept handler spun on EMFILE";
    EXPECT_TRUE(server.peers.empty());

    ::setrlimit(RLIMIT_NOFILE, &original);
    // The pause ends by itself, and the waiting connections are served.
    for (auto& client : clients) {
      EXPECT_EQ(co_await round_trip(*client, "served\n"), "served\n");
    }
  });
  EXPECT_EQ(server.peers.size(), 3u);
  clients.clear();
  run_sync([&] { return server.finished(); });
}

// ---- start(num_processes) forks workers ---------------------------------------------------------

/// Each worker answers one connection with its task id, then stops and exits.
class TaskIdServer : public TCPServer {
 protected:
  Future<void> handle_stream(std::unique_ptr<IOStream> stream, SocketAddress) override {
    stop();  // the next connection goes to another worker
    co_await stream->write("task " + std::to_string(process::task_id().value_or(-1)) + "\n");
    IOLoop::current().stop();
  }
};

/// Reads one line from a blocking descriptor within `timeout`; empty on end, error or timeout.
std::string read_line(int fd, std::chrono::milliseconds timeout) {
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (line.empty() || line.back() != '\n') {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return "";
    char c;
    if (::read(fd, &c, 1) != 1) return "";
    line += c;
  }
  return line;
}

/// Reads a descriptor until its end; false if `timeout` passes first.
bool read_until_end(int fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buffer[256];
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) return true;
    if (n < 0 && errno != EINTR) return true;
  }
}

TEST(TCPServerForkTest, StartWithTwoProcessesServesFromEachWorker) {
  ASSERT_EQ(IOLoop::current_or_null(), nullptr);
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  std::fflush(nullptr);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setpgid(0, 0);
    ::close(fds[0]);
    int code = 100;
    try {
      TaskIdServer server;
      server.bind(0, "127.0.0.1");
      std::string port = "port " + std::to_string(port_of(server)) + "\n";
      if (::write(fds[1], port.data(), port.size()) != static_cast<ssize_t>(port.size())) {
        ::_exit(102);
      }
      server.start(2);  // the parent of the workers never returns: it exits when they have
      IOLoop::current().start();
      code = 0;
    } catch (const std::exception& e) {
      std::string line = std::string("exception ") + e.what() + "\n";
      [[maybe_unused]] auto n = ::write(fds[1], line.data(), line.size());
      code = 101;
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  std::string port_line = read_line(fds[0], 5000ms);
  std::set<std::string> answers;
  if (port_line.rfind("port ", 0) == 0) {
    auto port = static_cast<std::uint16_t>(std::stoi(port_line.substr(5)));
    for (int i = 0; i < 2; ++i) {
      int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      SocketAddress address = SocketAddress::from_ip("127.0.0.1", port);
      if (::connect(client, address.get(), address.length()) == 0) {
        answers.insert(read_line(client, 5000ms));
      }
      ::close(client);
    }
  } else {
    ADD_FAILURE() << "the child said: " << port_line;
  }
  // The workers and their parent exit, which ends the pipe.
  bool ended = read_until_end(fds[0], 5000ms);
  ::close(fds[0]);
  if (!ended) {
    ::kill(-pid, SIGKILL);
    ADD_FAILURE() << "the server's processes did not exit";
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(answers, (std::set<std::string>{"task 0\n", "task 1\n"}));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

}  // namespace
}  // namespace squall
