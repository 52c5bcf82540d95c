// TCPClient: connecting by name and by address, failures, source addresses, and Happy Eyeballs
// (driven by a scripted stream factory, so that an attempt can hang without any traffic leaving
// the loopback interface).
#include "squall/net/tcpclient.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "squall/core/gen.hpp"
#include "squall/net/tcpserver.hpp"
#include "squall/testing/testing.hpp"
#include "squall/util/log.hpp"
#include "support/test_certificates.hpp"

namespace squall {
namespace {

using namespace std::chrono_literals;
using namespace netutil;  // bind_sockets, add_accept_handler...

class TCPClientTest : public testing::AsyncTest {};

/// Echoes every line until the peer closes; records the peers' addresses.
class EchoServer : public TCPServer {
 public:
  using TCPServer::TCPServer;

  std::vector<SocketAddress> peers;
  int tls_streams = 0;  // streams that were SSLIOStreams

  std::uint16_t port() const { return addresses().front().port(); }

  /// Done once every connection so far has ended (its client closed it).
  Future<void> finished() const { return gen::multi(handlers_); }

 protected:
  Future<void> handle_stream(std::unique_ptr<IOStream> stream, SocketAddress address) override {
    peers.push_back(address);
    if (dynamic_cast<SSLIOStream*>(stream.get()) != nullptr) ++tls_streams;
    return handlers_.emplace_back(echo(std::move(stream)));
  }

 private:
  static Future<void> echo(std::unique_ptr<IOStream> stream) {
    try {
      for (;;) co_await stream->write(co_await stream->read_until("\n"));
    } catch (const StreamClosedError&) {
    }
  }

  std::vector<Future<void>> handlers_;
};

Future<std::string> round_trip(IOStream& stream, std::string line) {
  co_await stream.write(line);
  co_return co_await stream.read_until("\n");
}

SocketAddress peer_of(const IOStream& stream) {
  SocketAddress peer;
  socklen_t length = SocketAddress::capacity();
  if (::getpeername(stream.fileno(), peer.get(), &length) != 0) throw OSError(errno, "getpeername");
  peer.set_length(length);
  return peer;
}

/// A port on 127.0.0.1 that nobody listens on.
std::uint16_t closed_port() {
  std::vector<int> sockets = bind_sockets(0, "127.0.0.1");
  std::uint16_t port = socket_address_of(sockets[0]).port();
  for (int fd : sockets) ::close(fd);
  return port;
}

/// Gives the same addresses for every name, and records what it was asked.
class FixedResolver final : public Resolver {
 public:
  explicit FixedResolver(std::vector<SocketAddress> addresses) : addresses_(std::move(addresses)) {}

  Future<std::vector<SocketAddress>> resolve(std::string host, std::uint16_t port,
                                             int family) override {
    hosts.push_back(host);
    families.push_back(family);
    return make_ready_future(addresses_);
  }

  std::vector<std::string> hosts;
  std::vector<int> families;

 private:
  std::vector<SocketAddress> addresses_;
};

/// Never answers.
class HangingResolver final : public Resolver {
 public:
  Future<std::vector<SocketAddress>> resolve(std::string, std::uint16_t, int) override {
    return pending_;
  }

 private:
  Future<std::vector<SocketAddress>> pending_;
};

/// A StreamFactory whose attempts are scripted per address: fail at once (with an errno),
/// succeed at once, hang until the test settles them, or connect for real. Scripted attempts
/// use one end of a socket pair as their stream and send nothing anywhere.
class FakeNetwork {
 public:
  enum class Outcome { kFail, kSucceed, kHang, kReal };

  struct Call {
    SocketAddress address;
    IOLoop::time_point when;
    Future<void> connected;  // what the attempt reported, or will (kHang)
    Future<void> closed;     // done once the attempt's stream is closed
    int fd = -1;             // the stream's descriptor
  };

  FakeNetwork() = default;
  FakeNetwork(const FakeNetwork&) = delete;
  FakeNetwork& operator=(const FakeNetwork&) = delete;
  ~FakeNetwork() {
    for (int fd : peers_) ::close(fd);
  }

  void script(const SocketAddress& address, Outcome outcome, int error = ECONNREFUSED) {
    scripts_[address.to_string()] = {outcome, error};
  }

  /// The factory; it refers to this network, which must outlive the connections.
  StreamFactory factory() {
    return [this](const SocketAddress& address, const std::optional<SocketAddress>& source_ip,
                  const IOStreamOptions& options) { return attempt(address, source_ip, options); };
  }

  std::vector<Call> calls;

 private:
  struct Script {
    Outcome outcome = Outcome::kFail;
    int error = ECONNREFUSED;
  };

  ConnectAttempt attempt(const SocketAddress& address,
                         const std::optional<SocketAddress>& source_ip,
                         const IOStreamOptions& options) {
    Script script = scripts_.at(address.to_string());
    ConnectAttempt attempt;
    if (script.outcome == Outcome::kReal) {
      attempt = TCPClient::create_stream(address, source_ip, options);
    } else {
      int fds[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        throw OSError(errno, "socketpair");
      }
      peers_.push_back(fds[1]);
      attempt.stream = std::make_unique<IOStream>(fds[0], options);
      if (script.outcome == Outcome::kSucceed) {
        attempt.connected.set_result();
      } else if (script.outcome == Outcome::kFail) {
        attempt.connected.set_exception(StreamClosedError(
            std::make_exception_ptr(OSError(script.error, "connect to " + address.to_string()))));
      }
    }
    Future<void> closed;
    attempt.stream->set_close_callback([closed] { closed.set_result(); });
    calls.push_back(
        {address, IOLoop::current().time(), attempt.connected, closed, attempt.stream->fileno()});
    return attempt;
  }

  std::map<std::string, Script> scripts_;
  std::vector<int> peers_;
};

const SocketAddress kV4a = SocketAddress::from_ip("127.0.0.1", 1001);
const SocketAddress kV4b = SocketAddress::from_ip("127.0.0.1", 1002);
const SocketAddress kV6a = SocketAddress::from_ip("::1", 1001);
const SocketAddress kV6b = SocketAddress::from_ip("::1", 1002);

/// The OSError code inside a StreamClosedError (or an OSError), else -1.
int error_code(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const StreamClosedError& e) {
    return e.real_error() ? error_code(e.real_error()) : -1;
  } catch (const OSError& e) {
    return e.code();
  } catch (...) {
    return -1;
  }
}

// ---- real connections on loopback ---------------------------------------------------------------

TEST_F(TCPClientTest, ConnectsToAnIpAddress) {
  EchoServer server;
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    TCPClient client;
    auto stream = co_await client.connect("127.0.0.1", server.port());
    EXPECT_EQ(co_await round_trip(*stream, "by address\n"), "by address\n");
    EXPECT_EQ(peer_of(*stream), SocketAddress::from_ip("127.0.0.1", server.port()));
  });
  run_sync([&] { return server.finished(); });
}

TEST_F(TCPClientTest, ConnectsToLocalhostByName) {
  EchoServer server;
  server.listen(0, "localhost");  // every address localhost has, on one port
  run_sync([&]() -> Future<void> {
    TCPClient client;  // the default resolver: getaddrinfo on the loop's executor
    auto stream = co_await client.connect("localhost", server.port());
    EXPECT_EQ(co_await round_trip(*stream, "by name\n"), "by name\n");
  });
  run_sync([&] { return server.finished(); });
}

TEST_F(TCPClientTest, AFamilyRestrictsTheAddressesTried) {
  EchoServer server;
  server.listen(0, "127.0.0.1");
  auto resolver = std::make_shared<FixedResolver>(
      std::vector<SocketAddress>{SocketAddress::from_ip("127.0.0.1", server.port())});
  run_sync([&]() -> Future<void> {
    TCPClient client(resolver);
    auto stream = co_await client.connect("somewhere", server.port(), AF_INET);
    EXPECT_EQ(peer_of(*stream).family(), AF_INET);
  });
  run_sync([&] { return server.finished(); });
  EXPECT_EQ(resolver->hosts, std::vector<std::string>{"somewhere"});
  EXPECT_EQ(resolver->families, std::vector<int>{AF_INET});
}

TEST_F(TCPClientTest, AnOverrideResolverRedirectsANameToLoopback) {
  EchoServer server;
  server.listen(0, "127.0.0.1");
  auto resolver = std::make_shared<OverrideResolver>(
      Resolver::default_resolver(), OverrideResolver::Mapping{{"service.test", "127.0.0.1"}});
  run_sync([&]() -> Future<void> {
    TCPClient client(resolver);
    EXPECT_EQ(client.resolver(), resolver);
    auto stream = co_await client.connect("service.test", server.port());
    EXPECT_EQ(co_await round_trip(*stream, "redirected\n"), "redirected\n");
  });
  run_sync([&] { return server.finished(); });
}

TEST_F(TCPClientTest, ConnectingToAClosedPortFailsWithConnectionRefused) {
  const std::uint16_t port = closed_port();
  run_sync([&]() -> Future<void> {
    TCPClient client;
    try {
      co_await client.connect("127.0.0.1", port);
      ADD_FAILURE() << "connected to a closed port";
    } catch (const StreamClosedError& e) {
      EXPECT_EQ(error_code(e.real_error()), ECONNREFUSED) << e.what();
    }
  });
}

TEST_F(TCPClientTest, ASourceIpBindsTheLocalEnd) {
  EchoServer server;
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    TCPClient client;
    auto stream = co_await client.connect("127.0.0.1", server.port(), AF_UNSPEC, {},
                                          SocketAddress::from_ip("127.0.0.1", 0));
    EXPECT_EQ(co_await round_trip(*stream, "from 127.0.0.1\n"), "from 127.0.0.1\n");
    EXPECT_EQ(server.peers.at(0), socket_address_of(stream->fileno()));
    EXPECT_EQ(server.peers.at(0).ip(), "127.0.0.1");

    // Another loopback address, which the system would not have chosen by itself.
    auto other = co_await client.connect("127.0.0.1", server.port(), AF_UNSPEC, {},
                                         SocketAddress::from_ip("127.0.0.2", 0));
    EXPECT_EQ(co_await round_trip(*other, "from 127.0.0.2\n"), "from 127.0.0.2\n");
    EXPECT_EQ(server.peers.size(), 2u);
    EXPECT_EQ(server.peers.at(1).ip(), "127.0.0.2");
  });
  run_sync([&] { return server.finished(); });
}

TEST_F(TCPClientTest, ASourceIpOfTheWrongFamilyFailsWithTheBindError) {
  EchoServer server;
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    TCPClient client;
    EXPECT_THROW(co_await client.connect("127.0.0.1", server.port(), AF_UNSPEC, {},
                                         SocketAddress::from_ip("::1", 0)),
                 OSError);
  });
  run_sync([&] { return server.finished(); });
  EXPECT_TRUE(server.peers.empty());
}

TEST_F(TCPClientTest, TheClientsStreamOptionsApplyToItsStreams) {
  EchoServer server;
  server.listen(0, "127.0.0.1");
  TCPClientOptions options;
  options.stream_options.max_buffer_size = 4096;
  options.stream_options.read_chunk_size = 512;
  run_sync([&]() -> Future<void> {
    TCPClient client(nullptr, options);
    auto stream = co_await client.connect("127.0.0.1", server.port());
    EXPECT_EQ(stream->options().max_buffer_size, 4096u);
    EXPECT_EQ(stream->options().read_chunk_size, 512u);
  });
  run_sync([&] { return server.finished(); });
}

TEST_F(TCPClientTest, TheClientMayGoAwayWhileItsConnectionIsInProgress) {
  EchoServer server;
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    Future<std::unique_ptr<IOStream>> connecting = TCPClient().connect("127.0.0.1", server.port());
    auto stream = co_await std::move(connecting);
    EXPECT_EQ(co_await round_trip(*stream, "still fine\n"), "still fine\n");
  });
  run_sync([&] { return server.finished(); });
}

TEST_F(TCPClientTest, AHostWithoutAddressesFails) {
  run_sync([&]() -> Future<void> {
    TCPClient client(std::make_shared<FixedResolver>(std::vector<SocketAddress>{}));
    EXPECT_THROW(co_await client.connect("nowhere", 80), Error);
  });
}

// ---- timeouts -----------------------------------------------------------------------------------

TEST_F(TCPClientTest, ATimeoutWhileResolvingRaisesTimeoutError) {
  run_sync([&]() -> Future<void> {
    TCPClient client(std::make_shared<HangingResolver>());
    auto start = IOLoop::current().time();
    EXPECT_THROW(co_await client.connect("slow.test", 80, AF_UNSPEC, 50ms), TimeoutError);
    EXPECT_GE(IOLoop::current().time() - start, 50ms);
  });
}

TEST_F(TCPClientTest, ATimeoutWhileConnectingRaisesTimeoutErrorAndClosesTheAttempts) {
  FakeNetwork network;
  network.script(kV6a, FakeNetwork::Outcome::kHang);
  network.script(kV4a, FakeNetwork::Outcome::kHang);
  TCPClientOptions options;
  options.initial_connect_timeout = 20ms;
  options.stream_factory = network.factory();
  run_sync([&]() -> Future<void> {
    TCPClient client(std::make_shared<FixedResolver>(std::vector{kV6a, kV4a}), options);
    auto start = IOLoop::current().time();
    EXPECT_THROW(co_await client.connect("hanging.test", 80, AF_UNSPEC, 100ms), TimeoutError);
    EXPECT_GE(IOLoop::current().time() - start, 100ms);
    EXPECT_EQ(network.calls.size(), 2u);  // both families were tried
    for (auto& call : network.calls) co_await gen::with_timeout(1s, call.closed);
  });
}

// ---- Happy Eyeballs -----------------------------------------------------------------------------

TEST_F(TCPClientTest, TheSecondaryFamilyWinsAfterTheDelayWhenThePrimaryHangs) {
  EchoServer server;
  server.listen(0, "127.0.0.1");
  const SocketAddress reachable = SocketAddress::from_ip("127.0.0.1", server.port());
  FakeNetwork network;
  network.script(kV6a, FakeNetwork::Outcome::kHang);  // the primary family: never answers
  network.script(reachable, FakeNetwork::Outcome::kReal);
  TCPClientOptions options;
  options.initial_connect_timeout = 50ms;
  options.stream_factory = network.factory();
  run_sync([&]() -> Future<void> {
    TCPClient client(std::make_shared<FixedResolver>(std::vector{kV6a, reachable}), options);
    auto start = IOLoop::current().time();
    auto stream = co_await client.connect("dual.test", server.port());
    EXPECT_GE(IOLoop::current().time() - start, 50ms);
    EXPECT_EQ(peer_of(*stream), reachable);
    EXPECT_EQ(co_await round_trip(*stream, "via IPv4\n"), "via IPv4\n");
    if (network.calls.size() != 2u) {
      ADD_FAILURE() << network.calls.size() << " attempts";
      co_return;
    }
    EXPECT_EQ(network.calls[0].address, kV6a);
    EXPECT_EQ(network.calls[1].address, reachable);
    EXPECT_GE(network.calls[1].when - network.calls[0].when, 50ms);
    // The primary attempt still pending is closed.
    co_await gen::with_timeout(1s, network.calls[0].closed);
    EXPECT_FALSE(network.calls[1].closed.done());
  });
  run_sync([&] { return server.finished(); });
}

TEST_F(TCPClientTest, AFailureInThePrimaryFamilyStartsTheSecondaryAtOnce) {
  FakeNetwork network;
  network.script(kV6a, FakeNetwork::Outcome::kFail);
  network.script(kV6b, FakeNetwork::Outcome::kHang);
  network.script(kV4a, FakeNetwork::Outcome::kSucceed);
  TCPClientOptions options;
  options.initial_connect_timeout = 1h;  // only the failure can start the secondary family
  options.stream_factory = network.factory();
  run_sync([&]() -> Future<void> {
    TCPClient client(std::make_shared<FixedResolver>(std::vector{kV6a, kV6b, kV4a}), options);
    auto stream = co_await client.connect("dual.test", 80);
    if (network.calls.size() != 3u) {
      ADD_FAILURE() << network.calls.size() << " attempts";
      co_return;
    }
    // After the failure: the next primary address, and the secondary family.
    EXPECT_EQ(network.calls[0].address, kV6a);
    EXPECT_EQ(network.calls[1].address, kV6b);
    EXPECT_EQ(network.calls[2].address, kV4a);
    EXPECT_EQ(stream->fileno(), network.calls[2].fd);
    co_await gen::with_timeout(1s, network.calls[1].closed);  // the loser is closed
  });
}

TEST_F(TCPClientTest, PrimaryAddressesAreTriedOneAfterAnother) {
  FakeNetwork network;
  network.script(kV4a, FakeNetwork::Outcome::kFail);
  network.script(kV4b, FakeNetwork::Outcome::kSucceed);
  TCPClientOptions options;
  options.initial_connect_timeout = 1h;
  options.stream_factory = network.factory();
  run_sync([&]() -> Future<void> {
    TCPClient client(std::make_shared<FixedResolver>(std::vector{kV4a, kV4b}), options);
    auto stream = co_await client.connect("two.test", 80);
    if (network.calls.size() != 2u) {
      ADD_FAILURE() << network.calls.size() << " attempts";
      co_return;
    }
    EXPECT_EQ(network.calls[0].address, kV4a);
    EXPECT_EQ(network.calls[1].address, kV4b);
    EXPECT_TRUE(network.calls[0].connected.done());  // the second began after the first failed
    EXPECT_EQ(stream->fileno(), network.calls[1].fd);
  });
}

TEST_F(TCPClientTest, WhenEveryAttemptFailsTheLastErrorIsRaised) {
  FakeNetwork network;
  network.script(kV4a, FakeNetwork::Outcome::kFail, ECONNREFUSED);
  network.script(kV6a, FakeNetwork::Outcome::kFail, ENETUNREACH);
  TCPClientOptions options;
  options.stream_factory = network.factory();
  run_sync([&]() -> Future<void> {
    TCPClient client(std::make_shared<FixedResolver>(std::vector{kV4a, kV6a}), options);
    try {
      co_await client.connect("broken.test", 80);
      ADD_FAILURE() << "connected with every attempt failing";
    } catch (const StreamClosedError& e) {
      EXPECT_EQ(error_code(std::current_exception()), ENETUNREACH) << e.what();
    }
    EXPECT_EQ(network.calls.size(), 2u);
  });
}

TEST_F(TCPClientTest, ASuccessAfterAWinnerIsDropped) {
  FakeNetwork network;
  network.script(kV6a, FakeNetwork::Outcome::kHang);
  network.script(kV4a, FakeNetwork::Outcome::kSucceed);
  TCPClientOptions options;
  options.initial_connect_timeout = 1ms;
  options.stream_factory = network.factory();
  run_sync([&]() -> Future<void> {
    TCPClient client(std::make_shared<FixedResolver>(std::vector{kV6a, kV4a}), options);
    auto stream = co_await client.connect("dual.test", 80);
    EXPECT_EQ(stream->fileno(), network.calls.at(1).fd);
    co_await gen::with_timeout(1s, network.calls[0].closed);
    network.calls[0].connected.set_result();  // too late: nothing happens
    co_await gen::sleep(1ms);
    EXPECT_FALSE(stream->closed());
  });
}

TEST_F(TCPClientTest, AStreamFactoryThatThrowsFailsThatAttemptOnly) {
  FakeNetwork network;
  network.script(kV4b, FakeNetwork::Outcome::kSucceed);
  TCPClientOptions options;
  options.initial_connect_timeout = 1h;
  options.stream_factory = [&](const SocketAddress& address,
                               const std::optional<SocketAddress>& source_ip,
                               const IOStreamOptions& stream_options) -> ConnectAttempt {
    if (address == kV4a) throw OSError(EMFILE, "socket");
    return network.factory()(address, source_ip, stream_options);
  };
  run_sync([&]() -> Future<void> {
    TCPClient client(std::make_shared<FixedResolver>(std::vector{kV4a, kV4b}), options);
    auto stream = co_await client.connect("two.test", 80);
    EXPECT_EQ(stream->fileno(), network.calls.at(0).fd);
  });
}

// ---- TLS ----------------------------------------------------------------------------------------

class TCPClientTLSTest : public TCPClientTest {
 protected:
  static const test_support::Certificates& certs() { return test_support::shared_certificates(); }

  static SSLOptions server_options() {
    SSLOptions options;
    options.certfile = certs().server_cert;
    options.keyfile = certs().server_key;
    return options;
  }
  /// A client that trusts the server's CA, or only an unrelated self-signed certificate.
  static SSLOptions client_options(bool trust_the_server = true) {
    SSLOptions options;
    options.ca_certs = trust_the_server ? certs().ca : certs().untrusted_cert;
    return options;
  }
};

TEST_F(TCPClientTLSTest, AClientAndAServerTalkOverTLS) {
  EchoServer server(server_options());
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    TCPClient client;
    auto stream =
        co_await client.connect("localhost", server.port(), AF_UNSPEC, 5s, {}, client_options());
    auto* tls = dynamic_cast<SSLIOStream*>(stream.get());
    EXPECT_NE(tls, nullptr);
    if (tls != nullptr) {
      EXPECT_TRUE(tls->handshake_done());
      EXPECT_EQ(tls->server_hostname(), "localhost");
    }
    EXPECT_EQ(co_await round_trip(*stream, "secret\n"), "secret\n");
    // By address too: the certificate names 127.0.0.1.
    auto by_address =
        co_await client.connect("127.0.0.1", server.port(), AF_UNSPEC, {}, {}, client_options());
    EXPECT_EQ(co_await round_trip(*by_address, "also secret\n"), "also secret\n");
  });
  EXPECT_EQ(server.tls_streams, 2);
  run_sync([&] { return server.finished(); });
}

TEST_F(TCPClientTLSTest, AnUntrustedCertificateFailsTheConnectionWithSSLError) {
  EchoServer server(server_options());
  server.listen(0, "127.0.0.1");
  // Both sides report their failed handshake.
  testing::ExpectLog client_side(log::gen_log(), "SSL Error .*certificate verify failed");
  testing::ExpectLog server_side(log::gen_log(), "SSL Error .*unknown ca");
  run_sync([&]() -> Future<void> {
    TCPClient client;
    try {
      co_await client.connect("localhost", server.port(), AF_UNSPEC, {}, {}, client_options(false));
      ADD_FAILURE() << "a certificate nobody trusts was accepted";
    } catch (const StreamClosedError& e) {
      EXPECT_THROW(std::rethrow_exception(e.real_error()), SSLError) << e.what();
    }
  });
  run_sync([&] { return server.finished(); });  // its side of the handshake failed too
}

/// Accepts connections and never answers, until told to hang up.
class SilentServer : public TCPServer {
 public:
  Future<void> accepted;

  void hang_up() { streams_.clear(); }

 protected:
  Future<void> handle_stream(std::unique_ptr<IOStream> stream, SocketAddress) override {
    streams_.push_back(std::move(stream));
    if (!accepted.done()) accepted.set_result();
    return make_ready_future();
  }

 private:
  std::vector<std::unique_ptr<IOStream>> streams_;
};

TEST_F(TCPClientTLSTest, ATimeoutDuringTheHandshakeRaisesTimeoutError) {
  SilentServer server;
  server.listen(0, "127.0.0.1");
  const std::uint16_t port = server.addresses().front().port();
  run_sync([&]() -> Future<void> {
    TCPClient client;
    auto start = IOLoop::current().time();
    EXPECT_THROW(co_await client.connect("localhost", port, AF_UNSPEC, 100ms, {}, client_options()),
                 TimeoutError);
    EXPECT_GE(IOLoop::current().time() - start, 100ms);
    // The handshake went on past the timeout; it ends once the server hangs up, and its failure
    // is logged as with_timeout logs what fails after it gave up.
    testing::ExpectLog late(log::app_log(),
                            "Exception in Future after timeout: .*StreamClosedError");
    co_await server.accepted;
    server.hang_up();
    while (late.matched() == 0) co_await gen::sleep(1ms);  // bounded by run_sync's timeout
  });
}

}  // namespace
}  // namespace squall
