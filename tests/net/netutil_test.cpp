// netutil: SocketAddress, is_valid_ip, bind_sockets, bind_unix_socket, add_accept_handler and
// the resolvers. Real sockets, on loopback only.
#include "squall/net/netutil.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "squall/core/concurrent.hpp"
#include "squall/core/gen.hpp"
#include "squall/core/ioloop.hpp"
#include "squall/testing/testing.hpp"
#include "squall/util/error.hpp"
#include "squall/util/log.hpp"
#include "support/loop_helpers.hpp"

namespace squall {
namespace {

using namespace std::chrono_literals;
using namespace netutil;  // bind_sockets, add_accept_handler...
using squall::testing::ExpectLog;
using namespace squall::test_support;

class NetutilTest : public testing::AsyncTest {};

// ---- helpers ---------------------------------------------------------------------------------

/// Owns descriptors and closes them at the end of a test, whatever happens.
class Fds {
 public:
  Fds() = default;
  Fds(const Fds&) = delete;
  Fds& operator=(const Fds&) = delete;
  ~Fds() { close_all(); }

  int add(int fd) {
    fds_.push_back(fd);
    return fd;
  }
  void add(const std::vector<int>& fds) { fds_.insert(fds_.end(), fds.begin(), fds.end()); }
  void close_all() {
    for (int fd : fds_) ::close(fd);
    fds_.clear();
  }
  std::size_t size() const { return fds_.size(); }

 private:
  std::vector<int> fds_;
};

/// A temporary directory, removed with its contents at the end of a test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "squall-netutil-XXXXXX");
    if (!::mkdtemp(pattern.data())) throw std::system_error(errno, std::generic_category());
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

/// A client socket connected to `address`; a blocking connect completes once the connection is
/// in the listener's accept queue, so it needs no loop.
int connect_to(const SocketAddress& address) {
  int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  if (::connect(fd, address.get(), address.length()) != 0) {
    int error = errno;
    ::close(fd);
    throw std::system_error(error, std::generic_category(), "connect " + address.to_string());
  }
  return fd;
}

bool non_blocking_and_close_on_exec(int fd) {
  return (::fcntl(fd, F_GETFL) & O_NONBLOCK) && (::fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

/// The lowest descriptor number free now: a call that leaks one moves it.
int lowest_free_fd() {
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ::close(fd);
  return fd;
}

struct Accepted {
  int fd;
  SocketAddress address;
};

/// Accepts on `listen_fd` until `count` connections came; the Future gives them, and the
/// handler is removed by then. The descriptors go to `fds`.
Future<std::vector<Accepted>> accept_n(int listen_fd, std::size_t count, Fds& fds) {
  Future<std::vector<Accepted>> done;
  auto accepted = std::make_shared<std::vector<Accepted>>();
  auto remove = std::make_shared<std::function<void()>>();
  *remove = add_accept_handler(listen_fd, [=, &fds](int fd, SocketAddress address) {
    fds.add(fd);
    accepted->push_back({fd, address});
    if (accepted->size() == count) {
      (*remove)();
      done.set_result(std::move(*accepted));
    }
  });
  return done;
}

/// Restores the process's descriptor limit on destruction.
class FdLimitGuard {
 public:
  FdLimitGuard() { ::getrlimit(RLIMIT_NOFILE, &saved_); }
  ~FdLimitGuard() { restore(); }
  FdLimitGuard(const FdLimitGuard&) = delete;
  FdLimitGuard& operator=(const FdLimitGuard&) = delete;

  void lower_to(rlim_t soft) {
    rlimit limit = saved_;
    limit.rlim_cur = soft;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0) << std::strerror(errno);
  }
  void restore() { ::setrlimit(RLIMIT_NOFILE, &saved_); }

 private:
  rlimit saved_{};
};

/// UndefinedBehaviorSanitizer checks the dynamic type of a polymorphic object the first time it
/// meets that type, with a pipe(): while descriptors are exhausted the pipe fails and it reports a
/// false "invalid vptr". Running first what runs in that window (a log line of the same shape, a
/// timer completing a Future) puts those types in its cache.
Future<void> warm_up_sanitizer_type_cache() {
  {
    ExpectLog warm_up(log::app_log(), "warming up the logger");
    log::app_log().error("warming up the logger: fd {}: {}; {} ms", 0, std::string("x"), 0L);
  }
  co_await gen::sleep(1ms);
}

// ---- is_valid_ip and SocketAddress -----------------------------------------------------------

TEST_F(NetutilTest, IsValidIpAcceptsIpv4AndIpv6Literals) {
  EXPECT_TRUE(is_valid_ip("127.0.0.1"));
  EXPECT_TRUE(is_valid_ip("4.4.4.4"));
  EXPECT_TRUE(is_valid_ip("::1"));
  EXPECT_TRUE(is_valid_ip("2620:0:1cfe:face:b00c::3"));
  EXPECT_TRUE(is_valid_ip("::ffff:127.0.0.1"));
}

TEST_F(NetutilTest, IsValidIpRejectsNamesAndGarbage) {
  EXPECT_FALSE(is_valid_ip(""));
  EXPECT_FALSE(is_valid_ip(" "));
  EXPECT_FALSE(is_valid_ip("localhost"));
  EXPECT_FALSE(is_valid_ip("www.google.com"));
  EXPECT_FALSE(is_valid_ip("4.4.4.4<"));
  EXPECT_FALSE(is_valid_ip("256.0.0.1"));
  EXPECT_FALSE(is_valid_ip("[::1]"));
  EXPECT_FALSE(is_valid_ip(std::string(300, '1')));
  EXPECT_FALSE(is_valid_ip(std::string("127.0.0.1\0junk", 14))) << "truncated at the NUL byte";
}

TEST_F(NetutilTest, FromIpParsesIpv4) {
  auto address = SocketAddress::from_ip("127.0.0.1", 8888);
  EXPECT_EQ(address.family(), AF_INET);
  EXPECT_EQ(address.port(), 8888);
  EXPECT_EQ(address.ip(), "127.0.0.1");
  EXPECT_EQ(address.to_string(), "127.0.0.1:8888");
  EXPECT_EQ(address.length(), sizeof(sockaddr_in));
}

TEST_F(NetutilTest, FromIpParsesIpv6PlainAndBracketed) {
  auto plain = SocketAddress::from_ip("::1", 443);
  EXPECT_EQ(plain.family(), AF_INET6);
  EXPECT_EQ(plain.port(), 443);
  EXPECT_EQ(plain.ip(), "::1");
  EXPECT_EQ(plain.to_string(), "[::1]:443");
  EXPECT_EQ(plain.length(), sizeof(sockaddr_in6));

  auto bracketed = SocketAddress::from_ip("[2001:db8::1]", 80);
  EXPECT_EQ(bracketed.family(), AF_INET6);
  EXPECT_EQ(bracketed.ip(), "2001:db8::1");
  EXPECT_EQ(bracketed.to_string(), "[2001:db8::1]:80");
}

TEST_F(NetutilTest, FromIpRejectsWhatIsNotAnIpAddress) {
  EXPECT_THROW(SocketAddress::from_ip("localhost", 80), ValueError);
  EXPECT_THROW(SocketAddress::from_ip("", 80), ValueError);
  EXPECT_THROW(SocketAddress::from_ip("[::1", 80), ValueError);
  EXPECT_THROW(SocketAddress::from_ip("[127.0.0.1]x", 80), ValueError);
  EXPECT_THROW(SocketAddress::from_ip("1.2.3.4.5", 80), ValueError);
  EXPECT_THROW(SocketAddress::from_ip(std::string("127.0.0.1\0junk", 14), 80), ValueError);
}

TEST_F(NetutilTest, FromUnixPathKeepsThePathAndRejectsOneTooLong) {
  auto address = SocketAddress::from_unix_path("/tmp/squall.sock");
  EXPECT_EQ(address.family(), AF_UNIX);
  EXPECT_EQ(address.ip(), "/tmp/squall.sock");
  EXPECT_EQ(address.to_string(), "/tmp/squall.sock");
  EXPECT_EQ(address.port(), 0);
  EXPECT_THROW(SocketAddress::from_unix_path(std::string(sizeof(sockaddr_un::sun_path), 'x')),
               ValueError);
}

TEST_F(NetutilTest, ADefaultSocketAddressIsEmpty) {
  SocketAddress address;
  EXPECT_EQ(address.family(), AF_UNSPEC);
  EXPECT_EQ(address.port(), 0);
  EXPECT_EQ(address.length(), 0u);
  EXPECT_EQ(address.to_string(), "");
}

TEST_F(NetutilTest, SocketAddressesCompareByValue) {
  EXPECT_EQ(SocketAddress::from_ip("127.0.0.1", 80), SocketAddress::from_ip("127.0.0.1", 80));
  EXPECT_EQ(SocketAddress::from_ip("[::1]", 80), SocketAddress::from_ip("::1", 80));
  EXPECT_FALSE(SocketAddress::from_ip("127.0.0.1", 80) == SocketAddress::from_ip("127.0.0.1", 81));
  EXPECT_FALSE(SocketAddress::from_ip("127.0.0.1", 80) == SocketAddress::from_ip("127.0.0.2", 80));
  EXPECT_FALSE(SocketAddress::from_ip("::1", 80) == SocketAddress::from_ip("127.0.0.1", 80));
  EXPECT_EQ(SocketAddress(), SocketAddress());
}

// ---- bind_sockets ----------------------------------------------------------------------------

TEST_F(NetutilTest, BindSocketsOnLoopbackPortZeroReportsARealPortAndAcceptsAConnection) {
  Fds fds;
  auto sockets = bind_sockets(0, "127.0.0.1");
  fds.add(sockets);
  ASSERT_EQ(sockets.size(), 1u);
  EXPECT_TRUE(non_blocking_and_close_on_exec(sockets[0]));
  auto address = socket_address_of(sockets[0]);
  EXPECT_EQ(address.family(), AF_INET);
  EXPECT_EQ(address.ip(), "127.0.0.1");
  EXPECT_NE(address.port(), 0);

  auto accepted = run_sync([&] {
    auto done = accept_n(sockets[0], 1, fds);
    fds.add(connect_to(address));
    return done;
  });
  ASSERT_EQ(accepted.size(), 1u);
  EXPECT_EQ(accepted[0].address.ip(), "127.0.0.1");
}

TEST_F(NetutilTest, BindSocketsOnLocalhostPortZeroGivesSocketsThatShareOnePort) {
  Fds fds;
  auto sockets = bind_sockets(0, "localhost");
  fds.add(sockets);
  ASSERT_FALSE(sockets.empty());
  const std::uint16_t port = socket_address_of(sockets[0]).port();
  EXPECT_NE(port, 0);
  for (int fd : sockets) {
    auto address = socket_address_of(fd);
    EXPECT_EQ(address.port(), port) << address.to_string();
    EXPECT_TRUE(address.ip() == "127.0.0.1" || address.ip() == "::1") << address.to_string();
  }
  // IPv4 first, as Tornado orders them.
  EXPECT_EQ(socket_address_of(sockets[0]).family(), AF_INET);
}

TEST_F(NetutilTest, BindSocketsOnIpv6LoopbackWorksWhenIpv6IsAvailable) {
  Fds fds;
  std::vector<int> sockets;
  try {
    sockets = bind_sockets(0, "::1");
  } catch (const Error& e) {
    GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
  }
  fds.add(sockets);
  ASSERT_EQ(sockets.size(), 1u);
  auto address = socket_address_of(sockets[0]);
  EXPECT_EQ(address.family(), AF_INET6);
  EXPECT_EQ(address.ip(), "::1");
  int v6only = 0;
  socklen_t length = sizeof v6only;
  ASSERT_EQ(::getsockopt(sockets[0], IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &length), 0);
  EXPECT_EQ(v6only, 1);

  auto accepted = run_sync([&] {
    auto done = accept_n(sockets[0], 1, fds);
    fds.add(connect_to(address));
    return done;
  });
  ASSERT_EQ(accepted.size(), 1u);
  EXPECT_EQ(accepted[0].address.family(), AF_INET6);
  EXPECT_EQ(accepted[0].address.ip(), "::1");
}

TEST_F(NetutilTest, BindSocketsOnlyInTheFamilyAsked) {
  Fds fds;
  auto sockets = bind_sockets(0, "localhost", AF_INET);
  fds.add(sockets);
  ASSERT_FALSE(sockets.empty());
  for (int fd : sockets) EXPECT_EQ(socket_address_of(fd).family(), AF_INET);
  // An IPv4 literal has no IPv6 address: nothing to bind.
  EXPECT_THROW(bind_sockets(0, "127.0.0.1", AF_INET6), Error);
}

TEST_F(NetutilTest, BindingAPortInUseFailsWithAnErrorNamingTheAddressAndLeaksNothing) {
  Fds fds;
  auto first = bind_sockets(0, "127.0.0.1");
  fds.add(first);
  const std::uint16_t port = socket_address_of(first[0]).port();
  const int free_before = lowest_free_fd();
  try {
    auto second = bind_sockets(port, "127.0.0.1");
    fds.add(second);
    FAIL() << "bound a port in use";
  } catch (const OSError& e) {
    EXPECT_EQ(e.code(), EADDRINUSE);
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(port)), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find(std::strerror(EADDRINUSE)), std::string::npos) << e.what();
  }
  EXPECT_EQ(lowest_free_fd(), free_before) << "the failed call left a socket open";
}

TEST_F(NetutilTest, ReusePortLetsTwoSocketsBindTheSamePort) {
  Fds fds;
  auto first = bind_sockets(0, "127.0.0.1", AF_INET, kDefaultBacklog, /*reuse_port=*/true);
  fds.add(first);
  const std::uint16_t port = socket_address_of(first[0]).port();
  auto second = bind_sockets(port, "127.0.0.1", AF_INET, kDefaultBacklog, /*reuse_port=*/true);
  fds.add(second);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(socket_address_of(second[0]).port(), port);
  int reuse = 0;
  socklen_t length = sizeof reuse;
  ASSERT_EQ(::getsockopt(second[0], SOL_SOCKET, SO_REUSEPORT, &reuse, &length), 0);
  EXPECT_NE(reuse, 0);
}

// ---- bind_unix_socket ------------------------------------------------------------------------

TEST_F(NetutilTest, BindUnixSocketAcceptsConnectionsAndSetsTheMode) {
  TempDir dir;
  const std::string path = dir.file("server.sock");
  Fds fds;
  int listener = fds.add(bind_unix_socket(path, 0640));
  EXPECT_TRUE(non_blocking_and_close_on_exec(listener));
  struct stat status;
  ASSERT_EQ(::stat(path.c_str(), &status), 0);
  EXPECT_TRUE(S_ISSOCK(status.st_mode));
  EXPECT_EQ(status.st_mode & 0777, 0640u);
  EXPECT_EQ(socket_address_of(listener).ip(), path);

  auto accepted = run_sync([&] {
    auto done = accept_n(listener, 1, fds);
    fds.add(connect_to(SocketAddress::from_unix_path(path)));
    return done;
  });
  ASSERT_EQ(accepted.size(), 1u);
  EXPECT_EQ(accepted[0].address.family(), AF_UNIX);
  EXPECT_EQ(accepted[0].address.ip(), "") << "the client socket has no name";
}

TEST_F(NetutilTest, BindUnixSocketReplacesAStaleSocketFile) {
  TempDir dir;
  const std::string path = dir.file("stale.sock");
  ::close(bind_unix_socket(path));  // the file stays behind, as after a crash
  ASSERT_TRUE(std::filesystem::is_socket(path));

  Fds fds;
  int listener = fds.add(bind_unix_socket(path));
  auto accepted = run_sync([&] {
    auto done = accept_n(listener, 1, fds);
    fds.add(connect_to(SocketAddress::from_unix_path(path)));
    return done;
  });
  EXPECT_EQ(accepted.size(), 1u);
}

TEST_F(NetutilTest, BindUnixSocketRefusesToDeleteARegularFile) {
  TempDir dir;
  const std::string path = dir.file("precious.txt");
  std::ofstream(path) << "keep me";
  const int free_before = lowest_free_fd();
  EXPECT_THROW(bind_unix_socket(path), ValueError);
  EXPECT_EQ(lowest_free_fd(), free_before);
  std::ifstream in(path);
  std::string content;
  std::getline(in, content);
  EXPECT_EQ(content, "keep me");
}

TEST_F(NetutilTest, BindUnixSocketRejectsAPathTooLongOrEmpty) {
  EXPECT_THROW(bind_unix_socket("/tmp/" + std::string(200, 'x')), ValueError);
  EXPECT_THROW(bind_unix_socket(""), ValueError);
}

// ---- add_accept_handler ----------------------------------------------------------------------

TEST_F(NetutilTest, AddAcceptHandlerGivesTheConnectionAndThePeerAddress) {
  Fds fds;
  auto sockets = bind_sockets(0, "127.0.0.1");
  fds.add(sockets);
  int client = -1;
  auto accepted = run_sync([&] {
    auto done = accept_n(sockets[0], 1, fds);
    client = fds.add(connect_to(socket_address_of(sockets[0])));
    return done;
  });
  ASSERT_EQ(accepted.size(), 1u);
  EXPECT_EQ(accepted[0].address, socket_address_of(client));
  EXPECT_TRUE(non_blocking_and_close_on_exec(accepted[0].fd));
  ASSERT_EQ(::write(client, "ping", 4), 4);
  auto received = run_sync([&]() -> Future<std::string> {
    Future<std::string> got;
    io_loop().add_handler(accepted[0].fd, IOLoop::READ, [&, got](int fd, std::uint32_t) {
      char buffer[16];
      ssize_t n = ::read(fd, buffer, sizeof buffer);
      io_loop().remove_handler(fd);
      got.set_result(std::string(buffer, n > 0 ? static_cast<std::size_t>(n) : 0));
    });
    return got;
  });
  EXPECT_EQ(received, "ping");
}

TEST_F(NetutilTest, TheRemoverStopsAcceptingAndFreesTheSocketForAnotherHandler) {
  Fds fds;
  auto sockets = bind_sockets(0, "127.0.0.1");
  fds.add(sockets);
  int calls = 0;
  run_sync([&]() -> Future<void> {
    auto remove = add_accept_handler(sockets[0], [&](int fd, SocketAddress) {
      fds.add(fd);
      ++calls;
    });
    remove();
    remove();  // a second call does nothing
    fds.add(connect_to(socket_address_of(sockets[0])));
    co_await iterations(5);
    EXPECT_EQ(calls, 0) << "accepted after the handler was removed";
    // The connection waited in the backlog; a new handler takes it.
    auto accepted = co_await accept_n(sockets[0], 1, fds);
    EXPECT_EQ(accepted.size(), 1u);
  });
}

TEST_F(NetutilTest, RemovingTheHandlerFromTheCallbackEndsTheBatch) {
  Fds fds;
  auto sockets = bind_sockets(0, "127.0.0.1");
  fds.add(sockets);
  const auto address = socket_address_of(sockets[0]);
  for (int i = 0; i < 3; ++i) fds.add(connect_to(address));
  int calls = 0;
  run_sync([&]() -> Future<void> {
    std::function<void()> remove;
    remove = add_accept_handler(sockets[0], [&](int fd, SocketAddress) {
      fds.add(fd);
      ++calls;
      remove();
    });
    co_await iterations(5);
  });
  EXPECT_EQ(calls, 1);
}

TEST_F(NetutilTest, AnExceptionFromTheCallbackIsLoggedAndAcceptingGoesOn) {
  Fds fds;
  auto sockets = bind_sockets(0, "127.0.0.1");
  fds.add(sockets);
  const auto address = socket_address_of(sockets[0]);
  ExpectLog logged(log::app_log(), "Exception in callback accept handler of fd .*first one fails");
  int calls = 0;
  run_sync([&]() -> Future<void> {
    Future<void> second;
    auto remove = add_accept_handler(sockets[0], [&, second](int fd, SocketAddress) {
      fds.add(fd);
      if (++calls == 1) throw std::runtime_error("the first one fails");
      if (calls == 2) second.set_result();
    });
    fds.add(connect_to(address));
    fds.add(connect_to(address));
    co_await second;
    remove();
  });
  EXPECT_EQ(calls, 2);
}

TEST_F(NetutilTest, ABurstOf200ConnectionsIsAllAcceptedInBoundedBatches) {
  constexpr std::size_t kClients = 200;
  Fds fds;
  auto sockets = bind_sockets(0, "127.0.0.1", AF_INET, /*backlog=*/256);
  fds.add(sockets);
  const auto address = socket_address_of(sockets[0]);
  // All of them wait in the accept queue before the handler first runs.
  for (std::size_t i = 0; i < kClients; ++i) fds.add(connect_to(address));

  std::size_t accepted = 0;
  std::size_t accepted_when_the_loop_got_control = 0;
  run_sync([&]() -> Future<void> {
    Future<void> all;
    auto remove = add_accept_handler(sockets[0], [&, all](int fd, SocketAddress) {
      fds.add(fd);
      if (++accepted == 1) {
        io_loop().add_callback([&] { accepted_when_the_loop_got_control = accepted; });
      }
      if (accepted == kClients) all.set_result();
    });
    co_await all;
    remove();
  });
  EXPECT_EQ(accepted, kClients);
  EXPECT_EQ(accepted_when_the_loop_got_control, static_cast<std::size_t>(kDefaultBacklog))
      << "one readiness event took more than a bounded batch";
}

TEST_F(NetutilTest, RunningOutOfDescriptorsPausesAcceptingWithoutSpinningAndThenResumes) {
  constexpr std::size_t kClients = 3;
  Fds fds;
  auto sockets = bind_sockets(0, "127.0.0.1");
  fds.add(sockets);
  const auto address = socket_address_of(sockets[0]);
  for (std::size_t i = 0; i < kClients; ++i) fds.add(connect_to(address));
  const int spare = fds.add(::open("/dev/null", O_RDONLY | O_CLOEXEC));

  ExpectLog paused(log::app_log(), "accept.*Too many open files");
  std::size_t accepted = 0;
  int logged_while_exhausted = 0;
  run_sync([&]() -> Future<void> {
    co_await warm_up_sanitizer_type_cache();
    Future<void> all;
    auto remove = add_accept_handler(sockets[0], [&, all](int fd, SocketAddress) {
      fds.add(fd);
      if (++accepted == kClients) all.set_result();
    });
    {
      // Take every descriptor the lowered limit allows; the connections wait in the backlog.
      FdLimitGuard limit;
      Fds fillers;
      limit.lower_to(static_cast<rlim_t>(lowest_free_fd()) + 8);
      for (int fd; (fd = ::dup(spare)) >= 0;) fillers.add(fd);
      EXPECT_EQ(errno, EMFILE);
      EXPECT_GE(fillers.size(), 8u);
      // A window to count in, not a wait for an event: with a 100 ms pause, about 3 attempts.
      co_await gen::sleep(350ms);
      logged_while_exhausted = paused.matched();
      EXPECT_EQ(accepted, 0u);
      fillers.close_all();
      limit.restore();
    }
    co_await all;
    remove();
  });
  EXPECT_EQ(accepted, kClients);
  EXPECT_GE(logged_while_exhausted, 1);
  EXPECT_LE(logged_while_exhausted, 6) << "the accept handler spun on EMFILE";
}

// ---- resolvers -------------------------------------------------------------------------------

TEST_F(NetutilTest, DefaultResolverResolvesLocalhost) {
  DefaultResolver resolver;
  auto addresses = run_sync([&] { return resolver.resolve("localhost", 8080); });
  ASSERT_FALSE(addresses.empty());
  EXPECT_NE(
      std::find(addresses.begin(), addresses.end(), SocketAddress::from_ip("127.0.0.1", 8080)),
      addresses.end());
  for (const auto& address : addresses) {
    EXPECT_TRUE(address.ip() == "127.0.0.1" || address.ip() == "::1") << address.to_string();
    EXPECT_EQ(address.port(), 8080);
  }
  auto v4 = run_sync([&] { return resolver.resolve("localhost", 80, AF_INET); });
  ASSERT_FALSE(v4.empty());
  for (const auto& address : v4) EXPECT_EQ(address.family(), AF_INET);
}

TEST_F(NetutilTest, DefaultResolverResolvesLiteralAddressesToThemselves) {
  DefaultResolver resolver;
  auto v4 = run_sync([&] { return resolver.resolve("127.0.0.1", 80); });
  EXPECT_EQ(v4, std::vector<SocketAddress>{SocketAddress::from_ip("127.0.0.1", 80)});
  auto v6 = run_sync([&] { return resolver.resolve("::1", 443); });
  EXPECT_EQ(v6, std::vector<SocketAddress>{SocketAddress::from_ip("::1", 443)});
}

// The failure comes from getaddrinfo itself, with no lookup: an IPv4 literal asked for as IPv6.
// (An unknown name would make a real DNS query, and tests send nothing beyond loopback.)
TEST_F(NetutilTest, DefaultResolverFailsWithAnErrorNamingTheHost) {
  DefaultResolver resolver;
  try {
    run_sync([&] { return resolver.resolve("127.0.0.1", 80, AF_INET6); });
    FAIL() << "an IPv4 literal resolved as IPv6";
  } catch (const TimeoutError&) {
    FAIL() << "the lookup did not finish";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1"), std::string::npos) << e.what();
  }
}

/// Records what it is asked and answers with the host as a literal address.
class RecordingResolver : public Resolver {
 public:
  struct Call {
    std::string host;
    std::uint16_t port;
    int family;
    bool operator==(const Call&) const = default;
  };

  Future<std::vector<SocketAddress>> resolve(std::string host, std::uint16_t port,
                                             int family) override {
    calls.push_back({host, port, family});
    return make_ready_future(std::vector<SocketAddress>{SocketAddress::from_ip(host, port)});
  }
  void close() override { closed = true; }

  std::vector<Call> calls;
  bool closed = false;
};

TEST_F(NetutilTest, OverrideResolverAppliesTheMostSpecificMapping) {
  auto inner = std::make_shared<RecordingResolver>();
  OverrideResolver resolver(inner, {
                                       {"host.invalid", "10.0.0.1"},
                                       {{"host.invalid", 443}, {"10.0.0.2", 8443}},
                                       {{"host.invalid", 443, AF_INET6}, {"::2", 9443}},
                                       {{"ported.invalid", 80}, "10.0.0.3"},
                                   });
  using Call = RecordingResolver::Call;
  auto resolve = [&](std::string host, std::uint16_t port, int family = AF_UNSPEC) {
    return run_sync([&] { return resolver.resolve(host, port, family); });
  };

  EXPECT_EQ(resolve("host.invalid", 80)[0].to_string(), "10.0.0.1:80");  // host: port kept
  EXPECT_EQ(resolve("host.invalid", 443)[0].to_string(), "10.0.0.2:8443");
  EXPECT_EQ(resolve("host.invalid", 443, AF_INET)[0].to_string(), "10.0.0.2:8443");
  EXPECT_EQ(resolve("host.invalid", 443, AF_INET6)[0].to_string(), "[::2]:9443");
  EXPECT_EQ(resolve("ported.invalid", 80)[0].to_string(), "10.0.0.3:80");
  EXPECT_EQ(resolve("127.0.0.1", 443)[0].to_string(), "127.0.0.1:443");  // not mapped

  std::vector<Call> expected{{"10.0.0.1", 80, AF_UNSPEC}, {"10.0.0.2", 8443, AF_UNSPEC},
                             {"10.0.0.2", 8443, AF_INET}, {"::2", 9443, AF_INET6},
                             {"10.0.0.3", 80, AF_UNSPEC}, {"127.0.0.1", 443, AF_UNSPEC}};
  EXPECT_EQ(inner->calls, expected);

  resolver.close();
  EXPECT_TRUE(inner->closed);
}

TEST_F(NetutilTest, OverrideResolverRedirectsANameThroughTheDefaultResolver) {
  OverrideResolver resolver(std::make_shared<DefaultResolver>(),
                            {{"service.invalid", "127.0.0.1"}});
  auto addresses = run_sync([&] { return resolver.resolve("service.invalid", 8000); });
  EXPECT_EQ(addresses, std::vector<SocketAddress>{SocketAddress::from_ip("127.0.0.1", 8000)});
}

TEST_F(NetutilTest, OverrideResolverNeedsAResolver) {
  EXPECT_THROW(OverrideResolver(nullptr, {}), ValueError);
}

TEST_F(NetutilTest, TheDefaultResolverIsReplaceable) {
  struct Restore {
    ~Restore() { Resolver::set_default(nullptr); }
  } restore;
  auto original = Resolver::default_resolver();
  ASSERT_NE(original, nullptr);
  EXPECT_NE(dynamic_cast<DefaultResolver*>(original.get()), nullptr);
  EXPECT_EQ(Resolver::default_resolver(), original) << "one process-wide instance";

  auto replacement = std::make_shared<RecordingResolver>();
  Resolver::set_default(replacement);
  EXPECT_EQ(Resolver::default_resolver(), replacement);
  auto addresses = run_sync([&] { return Resolver::default_resolver()->resolve("127.0.0.1", 25); });
  EXPECT_EQ(replacement->calls.size(), 1u);
  EXPECT_EQ(addresses[0].port(), 25);

  Resolver::set_default(nullptr);
  EXPECT_NE(dynamic_cast<DefaultResolver*>(Resolver::default_resolver().get()), nullptr);
}

}  // namespace
}  // namespace squall
