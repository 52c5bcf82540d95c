#pragma once
/// \file
/// `TCPClient`: a non-blocking TCP connection factory (Tornado's `tcpclient`).
///
///     squall::TCPClient client;
///     std::unique_ptr<squall::IOStream> stream = co_await client.connect("localhost", 8888);
///
/// A host name may resolve to several addresses, of both IPv4 and IPv6. `connect` tries them as
/// Tornado does ("Happy Eyeballs", RFC 6555): the addresses of the family of the first address
/// (the primary family) are tried one after another; the other family's (the secondary) start
/// as well once the first primary attempt fails, or after `initial_connect_timeout` (0.3 s) if
/// none has succeeded by then, so an unreachable family delays a connection but never breaks it.

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "squall/core/concurrent.hpp"
#include "squall/core/ioloop.hpp"
#include "squall/net/iostream.hpp"
#include "squall/net/netutil.hpp"

namespace squall {

/// One connection attempt: the stream being connected, and a Future done once it is connected
/// (or failed, which fails the attempt).
struct ConnectAttempt {
  /// The stream; the attempt's owner closes it if another attempt wins.
  std::unique_ptr<IOStream> stream;
  /// Done once `stream` is connected; its exception is the attempt's failure.
  Future<void> connected;
};

/// Starts one connection attempt to `address`, from `source_ip` if given, making a stream with
/// `options`. It may throw: the attempt then fails with that exception.
using StreamFactory = std::function<ConnectAttempt(const SocketAddress& address,
                                                   const std::optional<SocketAddress>& source_ip,
                                                   const IOStreamOptions& options)>;

/// How a TCPClient connects.
struct TCPClientOptions {
  /// Limits of the streams `connect` makes (max_buffer_size, read_chunk_size...).
  IOStreamOptions stream_options;
  /// How long the attempts of the primary family have before the secondary family is tried in
  /// parallel (Tornado's `_INITIAL_CONNECT_TIMEOUT`).
  IOLoop::duration initial_connect_timeout = std::chrono::milliseconds(300);
  /// Starts each attempt; `TCPClient::create_stream` when empty. Tests replace it to hold attempts
  /// pending or fail them on cue.
  StreamFactory stream_factory;
};

/// Connects to TCP servers, returning IOStreams.
///
/// `connect` copies what it needs from the client, so a client may be destroyed while its
/// connections are in progress; their Futures complete as if it were alive.
class TCPClient {
 public:
  /// Resolves names with `resolver` (`Resolver::default_resolver()` when null), and connects
  /// with `options`.
  explicit TCPClient(std::shared_ptr<Resolver> resolver = nullptr, TCPClientOptions options = {});

  /// Resolves `host` (restricted to `family` unless AF_UNSPEC) and connects to `port` on the
  /// addresses it gives, trying the families as the file comment says, from `source_ip` when
  /// given (its port too, unless 0). Gives the stream of the first attempt that succeeds; the
  /// other attempts are closed. With `ssl_options`, the connection then starts TLS as a client
  /// (`IOStream::start_tls`, with `host` as the server name to send and verify) and gives the
  /// SSLIOStream once its handshake has completed.
  ///
  /// Fails with the resolver's Error, with Error if the host resolves to no address, with the
  /// last attempt's error when every attempt fails (a StreamClosedError whose `real_error()` is
  /// the OSError, ECONNREFUSED say), with StreamClosedError whose real error is an SSLError if the
  /// handshake fails, with what `ssl_options_to_context` throws for options that cannot work, or
  /// with TimeoutError if `timeout` passes first (resolving and the handshake included), which
  /// closes the attempts in progress (a handshake in progress goes on until it ends, then its
  /// stream is closed).
  Future<std::unique_ptr<IOStream>> connect(std::string host, std::uint16_t port,
                                            int family = AF_UNSPEC,
                                            std::optional<IOLoop::duration> timeout = {},
                                            std::optional<SocketAddress> source_ip = {},
                                            std::optional<SSLOptions> ssl_options = {});

  /// The default StreamFactory (Tornado's `_create_stream`): a non-blocking socket of `address`'s
  /// family, bound to `source_ip` if given, as an IOStream with `options` that starts connecting
  /// (always in plain text: TLS starts once an attempt has won).
  /// Throws OSError if the socket cannot be made or bound.
  static ConnectAttempt create_stream(const SocketAddress& address,
                                      const std::optional<SocketAddress>& source_ip,
                                      const IOStreamOptions& options);

  /// The resolver the client uses.
  const std::shared_ptr<Resolver>& resolver() const noexcept { return resolver_; }

 private:
  std::shared_ptr<Resolver> resolver_;
  TCPClientOptions options_;
};

}  // namespace squall
