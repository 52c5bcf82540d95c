#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "squall/core/gen.hpp"
#include "squall/net/iostream.hpp"
#include "squall/testing/testing.hpp"
#include "squall/util/log.hpp"
#include "support/test_certificates.hpp"

#if defined(__SANITIZE_ADDRESS__)
// The sanitizer runtime's count of live heap bytes (GCC ships no header declaring it).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace squall {
namespace {

using namespace std::chrono_literals;
using namespace netutil;  // bind_sockets, add_accept_handler...

// The certificates: tests/support/test_certificates.hpp (server, CA, a self-signed "untrusted").
using test_support::Certificates;

class SSLIOStreamTest : public testing::AsyncTest {
 protected:
  static const Certificates& certs() { return test_support::shared_certificates(); }

  static SSLOptions server_options() {
    SSLOptions options;
    options.certfile = certs().server_cert;
    options.keyfile = certs().server_key;
    return options;
  }
  static SSLOptions client_options() {
    SSLOptions options;
    options.ca_certs = certs().ca;
    return options;
  }
};

std::pair<int, int> socket_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    throw OSError(errno, "socketpair");
  }
  return {fds[0], fds[1]};
}

/// A server and a client SSLIOStream over a Unix-domain socket pair.
struct TLSPair {
  std::unique_ptr<SSLIOStream> server;
  std::unique_ptr<SSLIOStream> client;
};

TLSPair make_tls_pair(const SSLOptions& server, const SSLOptions& client,
                      std::string hostname = "localhost", IOStreamOptions server_stream = {},
                      IOStreamOptions client_stream = {}) {
  auto [a, b] = socket_pair();
  TLSPair pair;
  pair.server = std::make_unique<SSLIOStream>(a, ssl_options_to_context(server, true),
                                              std::string(), server_stream);
  pair.client = std::make_unique<SSLIOStream>(b, ssl_options_to_context(client, false),
                                              std::move(hostname), client_stream);
  return pair;
}

/// Waits for all of `futures` (a plain function: GCC 12 cannot hold an initializer list in a
/// coroutine frame).
template <class... F>
Future<void> all_of(F... futures) {
  std::vector<Future<void>> list;
  (list.push_back(std::move(futures)), ...);
  return gen::multi(std::move(list));
}

template <class T>
Future<std::exception_ptr> failure_of(Future<T> future) {
  std::exception_ptr error;
  try {
    co_await future;
  } catch (...) {
    error = std::current_exception();
  }
  co_return error;
}

/// The message of a StreamClosedError's real error ("" if `error` is something else).
std::string real_error_message(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const StreamClosedError& closed) {
    if (!closed.real_error()) return "(no real error)";
    try {
      std::rethrow_exception(closed.real_error());
    } catch (const std::exception& real) {
      return real.what();
    }
  } catch (...) {
  }
  return "";
}

bool real_error_is_ssl_error(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const StreamClosedError& closed) {
    if (!closed.real_error()) return false;
    try {
      std::rethrow_exception(closed.real_error());
    } catch (const SSLError&) {
      return true;
    } catch (...) {
    }
  } catch (...) {
  }
  return false;
}

std::string sha256(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return std::string(reinterpret_cast<char*>(digest), sizeof digest);
}

std::string random_bytes(std::size_t size, std::uint64_t seed) {
  std::string data(size, '\0');
  std::mt19937_64 random(seed);
  for (std::size_t i = 0; i + 8 <= data.size(); i += 8) {
    std::uint64_t word = random();
    std::memcpy(data.data() + i, &word, 8);
  }
  return data;
}

// ---- handshake and verification ------------------------------------------------------------

TEST_F(SSLIOStreamTest, HandshakeAndEchoOverASocketPair) {
  auto [server, client] = make_tls_pair(server_options(), client_options());
  EXPECT_TRUE(server->server_side());
  EXPECT_FALSE(client->server_side());
  run_sync([&]() -> Future<void> {
    co_await all_of(server->wait_for_handshake(), client->wait_for_handshake());
    EXPECT_TRUE(server->handshake_done());
    EXPECT_TRUE(client->handshake_done());
    EXPECT_EQ(client->version(), "TLSv1.3");
    co_await client->write("hello over tls\n");
    std::string line = co_await server->read_until("\n");
    EXPECT_EQ(line, "hello over tls\n");
    co_await server->write(line);
    EXPECT_EQ(co_await client->read_until("\n"), "hello over tls\n");
  });
}

TEST_F(SSLIOStreamTest, AClientVerifiesTheServerAgainstTheCaAndHostname) {
  for (const char* name : {"localhost", "127.0.0.1"}) {
    SCOPED_TRACE(name);
    auto [server, client] = make_tls_pair(server_options(), client_options(), name);
    EXPECT_TRUE(client->context()->check_hostname());
    run_sync([&]() -> Future<void> {
      co_await client->wait_for_handshake();
      co_await server->wait_for_handshake();
      co_await client->write("verified\n");
      EXPECT_EQ(co_await server->read_until("\n"), "verified\n");
    });
  }
}

TEST_F(SSLIOStreamTest, AClientExpectingAnotherHostnameIsRejected) {
  testing::ExpectLog expected(log::gen_log(), "SSL Error");
  auto [server, client] = make_tls_pair(server_options(), client_options(), "example.com");
  run_sync([&]() -> Future<void> {
    Future<std::string> pending_read = client->read_until("\n");
    std::exception_ptr error = co_await failure_of(client->wait_for_handshake());
    EXPECT_TRUE(error);
    if (!error) co_return;
    EXPECT_TRUE(real_error_is_ssl_error(error));
    std::string message = real_error_message(error);
    EXPECT_NE(message.find("hostname mismatch"), std::string::npos) << message;
    EXPECT_NE(message.find("example.com"), std::string::npos) << message;
    EXPECT_TRUE(client->closed());
    EXPECT_THROW(co_await pending_read, StreamClosedError);
    EXPECT_THROW(co_await client->write("too late"), StreamClosedError);
    // The server sees the client's alert and fails too.
    EXPECT_THROW(co_await server->wait_for_handshake(), StreamClosedError);
  });
}

TEST_F(SSLIOStreamTest, AnUntrustedCertificateIsRejectedWhenVerificationIsRequired) {
  testing::ExpectLog expected(log::gen_log(), "SSL Error");
  SSLOptions untrusted;
  untrusted.certfile = certs().untrusted_cert;
  untrusted.keyfile = certs().untrusted_key;
  SSLOptions client = client_options();
  client.verify_mode = SSLOptions::VerifyMode::kRequired;
  auto [server_stream, client_stream] = make_tls_pair(untrusted, client);
  run_sync([&]() -> Future<void> {
    Future<void> early_write = client_stream->write("never sent\n");
    std::exception_ptr error = co_await failure_of(client_stream->wait_for_handshake());
    EXPECT_TRUE(error);
    if (!error) co_return;
    std::string message = real_error_message(error);
    EXPECT_NE(message.find("certificate verify failed"), std::string::npos) << message;
    EXPECT_NE(message.find("self-signed"), std::string::npos) << message;
    EXPECT_THROW(co_await early_write, StreamClosedError);
    EXPECT_THROW(co_await server_stream->read_bytes(1), StreamClosedError);
  });
}

TEST_F(SSLIOStreamTest, WithoutVerificationAnUntrustedCertificateIsAccepted) {
  SSLOptions untrusted;
  untrusted.certfile = certs().untrusted_cert;
  untrusted.keyfile = certs().untrusted_key;
  SSLOptions client;
  client.verify_mode = SSLOptions::VerifyMode::kNone;
  auto [server, client_stream] = make_tls_pair(untrusted, client, "");
  EXPECT_FALSE(client_stream->context()->check_hostname());
  run_sync([&]() -> Future<void> {
    co_await client_stream->wait_for_handshake();
    co_await client_stream->write("x");
    EXPECT_EQ(co_await server->read_bytes(1), "x");
  });
}

TEST_F(SSLIOStreamTest, AServerRequiringAClientCertificateRejectsAClientWithout) {
  testing::ExpectLog expected(log::gen_log(), "SSL Error");
  SSLOptions server = server_options();
  server.ca_certs = certs().ca;
  server.verify_mode = SSLOptions::VerifyMode::kRequired;
  auto [server_stream, client_stream] = make_tls_pair(server, client_options());
  run_sync([&]() -> Future<void> {
    std::exception_ptr error = co_await failure_of(server_stream->wait_for_handshake());
    EXPECT_TRUE(error);
    if (!error) co_return;
    EXPECT_NE(real_error_message(error).find("certificate"), std::string::npos)
        << real_error_message(error);
    // In TLS 1.3 the client finishes first, then learns of the rejection from the server.
    EXPECT_THROW(co_await client_stream->read_bytes(1), StreamClosedError);
  });
}

TEST_F(SSLIOStreamTest, AlpnPicksTheCommonProtocol) {
  SSLOptions server = server_options();
  server.alpn_protocols = {"h2", "http/1.1"};
  SSLOptions client = client_options();
  client.alpn_protocols = {"spdy/3", "http/1.1"};
  auto [server_stream, client_stream] = make_tls_pair(server, client);
  EXPECT_EQ(client_stream->selected_alpn_protocol(), "");
  run_sync([&]() -> Future<void> {
    co_await client_stream->wait_for_handshake();
    co_await server_stream->wait_for_handshake();
  });
  EXPECT_EQ(server_stream->selected_alpn_protocol(), "http/1.1");
  EXPECT_EQ(client_stream->selected_alpn_protocol(), "http/1.1");

  // Nothing in common: the handshake still completes, without a protocol.
  client.alpn_protocols = {"spdy/3"};
  auto [server2, client2] = make_tls_pair(server, client);
  run_sync([&]() -> Future<void> {
    co_await client2->wait_for_handshake();
    co_await server2->wait_for_handshake();
  });
  EXPECT_EQ(client2->selected_alpn_protocol(), "");
  EXPECT_EQ(server2->selected_alpn_protocol(), "");
}

TEST_F(SSLIOStreamTest, TheMinimumVersionIsEnforced) {
  testing::ExpectLog expected(log::gen_log(), "SSL Error");
  SSLOptions server = server_options();
  server.minimum_version = SSLOptions::TLSVersion::kTLS1_3;
  SSLOptions client = client_options();
  auto client_context = ssl_options_to_context(client, false);
  // A client that speaks TLS 1.2 at most, through the native handle.
  SSL_CTX_set_max_proto_version(client_context->native_handle(), TLS1_2_VERSION);
  auto [a, b] = socket_pair();
  SSLIOStream server_stream(a, ssl_options_to_context(server, true));
  SSLIOStream client_stream(b, client_context, "localhost");
  run_sync([&]() -> Future<void> {
    std::exception_ptr error = co_await failure_of(server_stream.wait_for_handshake());
    EXPECT_TRUE(error);
    if (!error) co_return;
    EXPECT_NE(real_error_message(error).find("protocol"), std::string::npos)
        << real_error_message(error);
    EXPECT_THROW(co_await client_stream.wait_for_handshake(), StreamClosedError);
  });
}

// ---- reads and writes ----------------------------------------------------------------------

TEST_F(SSLIOStreamTest, ReadsAndWritesIssuedBeforeTheHandshakeCompletesWork) {
  auto [server, client] = make_tls_pair(server_options(), client_options());
  ASSERT_FALSE(client->handshake_done());
  ASSERT_FALSE(server->handshake_done());
  Future<void> client_wrote = client->write("early bird\n");
  Future<std::string> server_read = server->read_until("\n");
  Future<void> server_wrote = server->write("early reply\n");
  Future<std::string> client_read = client->read_bytes(12);
  EXPECT_FALSE(client_wrote.done());
  EXPECT_FALSE(server_read.done());
  run_sync([&]() -> Future<void> {
    EXPECT_EQ(co_await server_read, "early bird\n");
    EXPECT_EQ(co_await client_read, "early reply\n");
    co_await client_wrote;
    co_await server_wrote;
    EXPECT_TRUE(client->handshake_done());
  });
}

TEST_F(SSLIOStreamTest, SixteenMebibytesEachWayArriveIntact) {
  auto [server, client] = make_tls_pair(server_options(), client_options());
  const std::string up = random_bytes(16u << 20, 1);
  const std::string down = random_bytes(16u << 20, 2);
  std::string received_up, received_down;
  run_sync(
      [&]() -> Future<void> {
        // Both directions at once, in uneven pieces, so that each side's writes wait for the
        // socket while its reads go on.
        auto writer = [](SSLIOStream& out, const std::string& all) -> Future<void> {
          std::size_t offset = 0, step = 1;
          while (offset < all.size()) {
            std::size_t n = std::min(all.size() - offset, (step * 7919) % (1 << 20) + 1);
            co_await out.write(std::string_view(all).substr(offset, n));
            offset += n;
            ++step;
          }
        };
        auto reader = [](SSLIOStream& in, std::size_t size, std::string& into) -> Future<void> {
          into.reserve(size);
          while (into.size() < size) {
            into +=
                co_await in.read_bytes(std::min<std::size_t>(size - into.size(), 1 << 16), true);
          }
        };
        Future<void> w1 = writer(*client, up);
        Future<void> w2 = writer(*server, down);
        Future<void> r1 = reader(*server, up.size(), received_up);
        Future<void> r2 = reader(*client, down.size(), received_down);
        co_await all_of(w1, w2, r1, r2);
      },
      120s);
  EXPECT_EQ(received_up.size(), up.size());
  EXPECT_TRUE(sha256(received_up) == sha256(up));
  EXPECT_EQ(received_down.size(), down.size());
  EXPECT_TRUE(sha256(received_down) == sha256(down));
}

// Plaintext OpenSSL decrypted but the reader had no room for: with small read chunks a read
// stops before a record is used up, and nothing on the socket wakes the loop for the rest.
TEST_F(SSLIOStreamTest, SmallReadChunksStillGetTheDataOpenSSLHolds) {
  IOStreamOptions small;
  small.read_chunk_size = 100;
  auto [server, client] = make_tls_pair(server_options(), client_options(), "localhost", small, {});
  const std::string data = random_bytes(200'000, 3);
  run_sync([&]() -> Future<void> {
    Future<std::string> received = server->read_bytes(data.size());
    co_await client->write(data);
    EXPECT_TRUE(co_await received == data);
    // Once the client has sent everything, only what OpenSSL holds is left to read.
    std::vector<char> buffer(50'000);
    Future<std::size_t> filled = server->read_into(buffer);
    co_await client->write(std::string_view(data).substr(0, buffer.size()));
    EXPECT_EQ(co_await filled, buffer.size());
    EXPECT_EQ(std::memcmp(buffer.data(), data.data(), buffer.size()), 0);
  });
}

TEST_F(SSLIOStreamTest, ThePeerClosingMidReadFailsTheReadWithStreamClosedError) {
  auto [server, client] = make_tls_pair(server_options(), client_options());
  run_sync([&]() -> Future<void> {
    co_await client->wait_for_handshake();
    Future<std::string> read = server->read_bytes(100);
    co_await client->write("short");
    client->close();  // with close_notify: an orderly end
    EXPECT_THROW(co_await read, StreamClosedError);
    EXPECT_TRUE(server->closed());
    EXPECT_EQ(server->error(), nullptr);
  });
}

TEST_F(SSLIOStreamTest, ReadUntilCloseGetsEverythingBeforeTheClose) {
  auto [server, client] = make_tls_pair(server_options(), client_options());
  run_sync([&]() -> Future<void> {
    Future<std::string> all = server->read_until_close();
    co_await client->write("first ");
    co_await client->write("second");
    client->close();
    EXPECT_EQ(co_await all, "first second");
    EXPECT_EQ(server->error(), nullptr);
  });
}

TEST_F(SSLIOStreamTest, AnEndOfStreamWithoutCloseNotifyClosesWithAnSSLError) {
  auto [server, client] = make_tls_pair(server_options(), client_options());
  run_sync([&]() -> Future<void> {
    co_await client->wait_for_handshake();
    Future<std::string> read = server->read_bytes(100);
    co_await client->write("cut");
    ::shutdown(client->fileno(), SHUT_RDWR);  // the connection ends, TLS did not say so
    std::exception_ptr error = co_await failure_of(read);
    EXPECT_TRUE(error);
    if (!error) co_return;
    EXPECT_TRUE(real_error_is_ssl_error(error));
    EXPECT_NE(real_error_message(error).find("unexpected eof"), std::string::npos)
        << real_error_message(error);
  });
}

TEST_F(SSLIOStreamTest, DestroyingAStreamMidHandshakeFailsItsWaiters) {
  auto [server, client] = make_tls_pair(server_options(), client_options());
  Future<void> handshake = server->wait_for_handshake();
  Future<std::string> read = server->read_bytes(1);
  server.reset();
  run_sync([&]() -> Future<void> {
    EXPECT_THROW(co_await handshake, StreamClosedError);
    EXPECT_THROW(co_await read, StreamClosedError);
    EXPECT_THROW(co_await client->wait_for_handshake(), StreamClosedError);
  });
}

// ---- connect and start_tls -----------------------------------------------------------------

TEST_F(SSLIOStreamTest, ConnectHandshakesWithATcpServerOnLoopback) {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  SocketAddress any = SocketAddress::from_ip("127.0.0.1", 0);
  ASSERT_EQ(::bind(listener, any.get(), any.length()), 0);
  ASSERT_EQ(::listen(listener, 8), 0);
  SocketAddress bound = socket_address_of(listener);
  auto server_context = ssl_options_to_context(server_options(), true);
  run_sync([&]() -> Future<void> {
    auto client =
        std::make_unique<SSLIOStream>(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
                                      ssl_options_to_context(client_options(), false), "localhost");
    Future<void> connected = client->connect(bound);
    Future<void> written = client->write("over tcp\n");  // queued until the handshake is done
    int accepted = -1;
    while ((accepted = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC)) < 0) {
      co_await gen::sleep(1ms);  // no accept handler here: poll the listener
    }
    SSLIOStream server(accepted, server_context);
    co_await connected;
    EXPECT_TRUE(client->handshake_done());
    EXPECT_EQ(co_await server.read_until("\n"), "over tcp\n");
    co_await written;
    EXPECT_THROW(static_cast<void>(client->connect(bound)), InvalidStateError);
  });
  ::close(listener);
}

TEST_F(SSLIOStreamTest, ConnectOverAUnixSocketHandshakesOnceConnected) {
  // A Unix-domain connect completes at once: the handshake starts inside connect().
  std::string path = (certs().dir / "listener.sock").string();
  int listener = bind_unix_socket(path);
  auto server_context = ssl_options_to_context(server_options(), true);
  run_sync([&]() -> Future<void> {
    SSLIOStream client(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0),
                       ssl_options_to_context(client_options(), false), "localhost");
    EXPECT_THROW(co_await client.write("not connected"), StreamClosedError);
    SSLIOStream unconnected(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0),
                            ssl_options_to_context(client_options(), false), "localhost");
    Future<void> connected = unconnected.connect(SocketAddress::from_unix_path(path));
    Future<void> written = unconnected.write("over a unix socket\n");
    int accepted = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    EXPECT_GE(accepted, 0);
    SSLIOStream server(accepted, server_context);
    co_await connected;
    EXPECT_EQ(co_await server.read_until("\n"), "over a unix socket\n");
    co_await written;
  });
  ::close(listener);
}

TEST_F(SSLIOStreamTest, StartTlsUpgradesAPlainStreamMidConversation) {
  auto [a, b] = socket_pair();
  auto plain_server = std::make_unique<IOStream>(a);
  auto plain_client = std::make_unique<IOStream>(b);
  bool server_close_callback_ran = false;
  plain_server->set_close_callback([&] { server_close_callback_ran = true; });
  run_sync([&]() -> Future<void> {
    // The server's half, in its own coroutine (the closure outlives it: it is a local here).
    auto serve = [&]() -> Future<std::unique_ptr<SSLIOStream>> {
      EXPECT_EQ(co_await plain_server->read_until("\n"), "STARTTLS\n");
      co_await plain_server->write("GO\n");
      co_return co_await plain_server->start_tls(true, server_options());
    };
    Future<std::unique_ptr<SSLIOStream>> server_side = serve();
    co_await plain_client->write("STARTTLS\n");
    EXPECT_EQ(co_await plain_client->read_until("\n"), "GO\n");
    std::unique_ptr<SSLIOStream> client =
        co_await plain_client->start_tls(false, client_options(), "localhost");
    std::unique_ptr<SSLIOStream> server = co_await std::move(server_side);

    EXPECT_TRUE(plain_client->closed());
    EXPECT_EQ(plain_client->fileno(), -1);
    EXPECT_EQ(plain_client->error(), nullptr);
    EXPECT_TRUE(client->handshake_done());
    co_await client->write("secret\n");
    EXPECT_EQ(co_await server->read_until("\n"), "secret\n");
    co_await server->write("also secret\n");
    EXPECT_EQ(co_await client->read_until("\n"), "also secret\n");

    // The close callback went with the descriptor.
    EXPECT_FALSE(server_close_callback_ran);
    client->close();
    EXPECT_THROW(co_await server->read_bytes(1), StreamClosedError);
    co_await gen::moment;
    EXPECT_TRUE(server_close_callback_ran);
  });
}

TEST_F(SSLIOStreamTest, StartTlsOnABusyStreamThrowsInvalidStateError) {
  auto [a, b] = socket_pair();
  IOStream server(a);
  IOStream client(b);
  run_sync([&]() -> Future<void> {
    Future<std::string> pending = server.read_bytes(1);
    EXPECT_THROW(static_cast<void>(server.start_tls(true, server_options())), InvalidStateError);
    co_await client.write("xy");
    EXPECT_EQ(co_await pending, "x");
    // "y" is buffered: TLS cannot start on top of it.
    while (server.read_buffer_size() == 0) co_await gen::moment;
    EXPECT_THROW(static_cast<void>(server.start_tls(true, server_options())), InvalidStateError);
    EXPECT_FALSE(server.closed());
    EXPECT_EQ(co_await server.read_bytes(1), "y");
    // A client that checks hostnames needs one.
    EXPECT_THROW(static_cast<void>(client.start_tls(false, client_options())), ValueError);
    EXPECT_FALSE(client.closed());
  });
}

// ---- options -------------------------------------------------------------------------------

TEST_F(SSLIOStreamTest, ABadCertfilePathIsAnErrorNamingTheFile) {
  SSLOptions options = server_options();
  options.certfile = "/nonexistent/squall/cert.pem";
  try {
    ssl_options_to_context(options, true);
    ADD_FAILURE() << "a missing certfile was accepted";
  } catch (const SSLError& error) {
    std::string message = error.what();
    EXPECT_NE(message.find("/nonexistent/squall/cert.pem"), std::string::npos) << message;
    EXPECT_NE(message.find("No such file"), std::string::npos) << message;
  }
  options = server_options();
  options.keyfile = certs().untrusted_key;  // a key of another certificate
  try {
    ssl_options_to_context(options, true);
    ADD_FAILURE() << "a mismatched key was accepted";
  } catch (const SSLError& error) {
    EXPECT_NE(std::string(error.what()).find(certs().untrusted_key), std::string::npos)
        << error.what();
  }
  SSLOptions client = client_options();
  client.ca_certs = "/nonexistent/squall/ca.pem";
  EXPECT_THROW(ssl_options_to_context(client, false), SSLError);
  EXPECT_THROW(ssl_options_to_context(SSLOptions{}, true), ValueError);  // a server needs a cert
  client = client_options();
  client.ciphers = "NO-SUCH-CIPHER";
  EXPECT_THROW(ssl_options_to_context(client, false), SSLError);
  client = client_options();
  client.alpn_protocols = {""};
  EXPECT_THROW(ssl_options_to_context(client, false), ValueError);
}

// ---- write_file ----------------------------------------------------------------------------

/// A temporary file holding `content`, already unlinked; its descriptor closes with it.
class TempFile {
 public:
  explicit TempFile(std::string_view content) {
    char path[] = "/tmp/squall-ssl-file-XXXXXX";
    fd_ = ::mkostemp(path, O_CLOEXEC);
    if (fd_ < 0) throw OSError(errno, "mkostemp");
    ::unlink(path);
    for (std::size_t done = 0; done < content.size();) {
      ssize_t n = ::write(fd_, content.data() + done, content.size() - done);
      if (n <= 0) throw OSError(errno, "write");
      done += static_cast<std::size_t>(n);
    }
  }
  ~TempFile() { ::close(fd_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  int fd() const noexcept { return fd_; }

 private:
  int fd_ = -1;
};

/// Bytes the process holds allocated from the heap now.
std::size_t allocated_bytes() {
#if defined(__SANITIZE_ADDRESS__)
  return __sanitizer_get_current_allocated_bytes();
#else
  struct mallinfo2 info = ::mallinfo2();
  return info.uordblks + info.hblkhd;
#endif
}

TEST_F(SSLIOStreamTest, WriteFileSendsAFileOverTlsInOrderWithOtherWrites) {
  auto [server, client] = make_tls_pair(server_options(), client_options());
  const std::string content = random_bytes(6u << 20, 21);
  TempFile file(content);
  run_sync([&]() -> Future<void> {
    // Issued before the handshake: the file waits for it, behind the write before it.
    Future<void> head = server->write("head:");
    Future<void> body = server->write_file(file.fd(), 12345, 5u << 20);
    Future<void> tail = server->write(":tail");
    const std::size_t size = 5 + (5u << 20) + 5;
    std::string got;
    got.reserve(size);
    while (got.size() < size) got += co_await client->read_bytes(size - got.size(), true);
    co_await all_of(head, body, tail);
    EXPECT_EQ(got.size(), size);
    EXPECT_TRUE(got == "head:" + content.substr(12345, 5u << 20) + ":tail");
  });
}

TEST_F(SSLIOStreamTest, WriteFileOverTlsToASlowReaderWaitsWithBoundedMemory) {
  auto [server, client] = make_tls_pair(server_options(), client_options());
  const std::string content = random_bytes(16u << 20, 22);
  TempFile file(content);
  std::string received;
  received.reserve(content.size());
  run_sync(
      [&]() -> Future<void> {
        co_await all_of(server->wait_for_handshake(), client->wait_for_handshake());
        std::vector<char> piece(64 << 10);
        const std::size_t baseline = allocated_bytes();
        std::size_t peak = baseline;
        Future<void> sent = server->write_file(file.fd(), 0, content.size());
        EXPECT_FALSE(sent.done());
        EXPECT_GT(server->write_buffer_size(), content.size() / 2);
        while (received.size() < content.size()) {
          std::size_t n = co_await client->read_into(piece, true);
          received.append(piece.data(), n);
          peak = std::max(peak, allocated_bytes());
          co_await gen::moment;  // a slow reader: a piece at a time, letting the writer run
        }
        co_await sent;
        EXPECT_LT(peak - baseline, std::size_t{1} << 20) << "the file went through memory";
      },
      120s);
  EXPECT_TRUE(received == content);
}

TEST_F(SSLIOStreamTest, AFileShorterThanItsRangeClosesTheTlsStreamWithAnError) {
  auto [server, client] = make_tls_pair(server_options(), client_options());
  TempFile file("0123456789");
  run_sync([&]() -> Future<void> {
    Future<std::string> all = client->read_until_close();
    std::exception_ptr error = co_await failure_of(server->write_file(file.fd(), 2, 20));
    EXPECT_NE(real_error_message(error).find("ended at byte 10, 12 bytes short"), std::string::npos)
        << real_error_message(error);
    EXPECT_TRUE(server->closed());
    EXPECT_EQ(co_await all, "23456789");  // what there was, then an orderly TLS close
  });
}

TEST_F(SSLIOStreamTest, AQueuedFileFailsWithStreamClosedErrorWhenTheStreamCloses) {
  auto [server, client] = make_tls_pair(server_options(), client_options());
  const std::string content = random_bytes(4u << 20, 23);
  TempFile file(content);
  run_sync([&]() -> Future<void> {
    co_await all_of(server->wait_for_handshake(), client->wait_for_handshake());
    Future<void> sent = server->write_file(file.fd(), 0, content.size());
    EXPECT_FALSE(sent.done());  // the client reads nothing
    server->close();
    EXPECT_THROW(co_await sent, StreamClosedError);
    EXPECT_THROW(co_await server->write_file(file.fd(), 0, 1), StreamClosedError);
  });
}

}  // namespace
}  // namespace squall
