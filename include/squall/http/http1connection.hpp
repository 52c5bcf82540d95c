#pragma once
/// \file
/// The HTTP/1.1 server connection (Tornado's `http1connection`): reads requests off an IOStream
/// with squall's strict, zero-copy parser, hands them to a delegate, and writes the responses.
///
/// What a connection does, in order, for each request:
/// - waits for the request head (`idle_connection_timeout` for its first byte, then
///   `header_timeout` for the whole head; a client that is too slow is dropped);
/// - refuses a malformed head with its status (400, 431, 501 or 505), then closes: no byte after a
///   broken message is ever read as a request;
/// - asks the delegate for the request's `HTTPMessageDelegate`, gives it the head;
/// - sends `100 Continue` if the client asked for it, refuses a body over the request's
///   `max_body_size` with 413 and closes, then gives the body (`Content-Length` or chunked,
///   inflated if gzip'ed and `decompress` is on) in pieces of at most `chunk_size` bytes, within
///   `body_timeout`;
/// - waits until the response is finished, then reads the next request (pipelined requests are
///   answered in order) unless either side asked to close.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "squall/core/concurrent.hpp"
#include "squall/http/message.hpp"
#include "squall/net/iostream.hpp"

namespace squall {

/// The parameters of an HTTP/1.1 connection (Tornado's `HTTP1ConnectionParameters`).
struct HTTP1ConnectionParameters {
  /// Close the connection after each response.
  bool no_keep_alive = false;
  /// The largest piece of body given to `data_received` at once.
  std::size_t chunk_size = std::size_t{64} << 10;
  /// The largest request head (request line and headers together); past it: 431.
  std::size_t max_header_size = std::size_t{64} << 10;
  /// How long a request head may take, from its first byte. Unset: no limit.
  std::optional<std::chrono::steady_clock::duration> header_timeout = std::chrono::seconds(60);
  /// How long a connection may wait for the first byte of a request (a keep-alive connection
  /// idle between requests). Unset: no limit.
  std::optional<std::chrono::steady_clock::duration> idle_connection_timeout =
      std::chrono::seconds(3600);
  /// The largest request body (after decompression); past it: 413. A request may lower or raise
  /// it with `HTTPConnection::set_max_body_size`.
  std::uint64_t max_body_size = std::uint64_t{100} << 20;
  /// How long a request body may take to arrive. Unset: no limit.
  std::optional<std::chrono::steady_clock::duration> body_timeout;
  /// Inflate request bodies sent with `Content-Encoding: gzip` (the header is then removed and
  /// the coding is kept in `X-Consumed-Content-Encoding`, as Tornado does).
  bool decompress = false;
};

/// Where a connection comes from, for the requests it makes.
struct HTTP1ConnectionContext {
  std::string remote_ip;          // empty for a Unix socket
  std::string protocol = "http";  // "https" on a TLS stream
};

/// Serves the requests of one HTTP/1.1 connection (Tornado's `HTTP1ServerConnection`). Made by
/// `HTTPServer` for each accepted stream; usable alone with any IOStream.
class HTTP1ServerConnection {
 public:
  HTTP1ServerConnection(std::unique_ptr<IOStream> stream, HTTP1ConnectionParameters params = {},
                        HTTP1ConnectionContext context = {});
  /// As above, sharing `params` with other connections (a server's: an idle connection then
  /// holds no copy). Throws ValueError for null `params`.
  HTTP1ServerConnection(std::unique_ptr<IOStream> stream,
                        std::shared_ptr<const HTTP1ConnectionParameters> params,
                        HTTP1ConnectionContext context = {});
  /// Closes the connection.
  ~HTTP1ServerConnection();
  HTTP1ServerConnection(const HTTP1ServerConnection&) = delete;
  HTTP1ServerConnection& operator=(const HTTP1ServerConnection&) = delete;

  /// Serves requests with `delegate` (which must outlive the connection) until the connection
  /// closes; the Future completes then (it never fails: errors are logged). Call once.
  Future<void> start_serving(HTTPServerConnectionDelegate& delegate);
  /// Closes the connection now; an in-flight response is cut.
  void close();
  /// Closes the connection as soon as no request is in flight: now if it is waiting for one,
  /// else after the current response (which then says `Connection: close`).
  void close_when_idle();
  /// The Future that completes once the connection is closed and its requests are done (the
  /// one `start_serving` gave). Throws InvalidStateError before `start_serving`.
  Future<void> closed_future() const;

  /// The connection is waiting for a request (no request in flight).
  bool idle() const noexcept;
  /// Where the connection comes from: the peer's address and the scheme, which `xheaders` may
  /// replace for the duration of a request.
  const HTTP1ConnectionContext& context() const noexcept;
  HTTP1ConnectionContext& context() noexcept;
  const HTTP1ConnectionParameters& params() const noexcept;
  /// The stream (for its address, or TLS details).
  IOStream& stream() noexcept;

  struct Core;

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace squall
