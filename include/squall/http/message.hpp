#pragma once
/// \file
/// HTTP messages and the interfaces between the HTTP/1.1 codec and the code that answers it, the
/// request half of Tornado's `httputil`: start lines, `HTTPServerRequest`, `HTTPConnection` (how a
/// response is written) and the streaming delegates (`HTTPMessageDelegate`,
/// `HTTPServerConnectionDelegate`).
///
/// The flow of one request on a server, as in Tornado: the connection asks its
/// `HTTPServerConnectionDelegate` for an `HTTPMessageDelegate` (`start_request`), then gives it the
/// head (`headers_received`), the body in pieces as they arrive (`data_received`), and `finish`;
/// or `on_connection_close` if the connection ends first. The response is written through the
/// request's `HTTPConnection`, at any time after `headers_received`, and ends with `finish()`.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "squall/core/concurrent.hpp"
#include "squall/http/body_arguments.hpp"
#include "squall/http/httputil.hpp"

namespace squall {

class IOStream;

/// `GET /path?q HTTP/1.1`: the method, the request-target as sent, and the version.
struct RequestStartLine {
  std::string method;
  std::string path;  // the request-target (Tornado's name)
  std::string version = "HTTP/1.1";
};

/// `HTTP/1.1 200 OK`: the version, status code and reason phrase.
struct ResponseStartLine {
  std::string version = "HTTP/1.1";
  int code = 200;
  std::string reason;  // empty: the standard phrase of `code` ("Unknown" if it has none)
};

/// How the response to one request is written (Tornado's `HTTPConnection`). Writes are buffered
/// and coalesced: what is written while the server is dispatching a request goes out together
/// (one system call for a pipelined batch), and what is written later goes out at the end of the
/// loop iteration, or at once with `flush()`. Unlike Tornado, `write_headers` and `write` return
/// nothing: `flush()` is the Future to await for backpressure.
///
/// A connection object serves one request; once the TCP connection closed, writes are dropped
/// and `flush()` fails with StreamClosedError.
class HTTPConnection {
 public:
  virtual ~HTTPConnection() = default;

  /// Writes the status line and headers, then `chunk` as the start of the body. Without a
  /// Content-Length (and on an HTTP/1.1 request), the body is sent chunked. A `Date` header is
  /// added unless present. Throws HTTPOutputError, writing nothing, if the reason or a header
  /// name or value holds CR, LF or NUL (response splitting), a name is not a token, or the
  /// headers were written already.
  virtual void write_headers(const ResponseStartLine& start_line, const HTTPHeaders& headers,
                             std::string_view chunk = {}) = 0;
  /// Writes a piece of the body. Throws HTTPOutputError before the headers, after `finish`, or
  /// past the Content-Length the headers gave (or any body for HEAD, 204 and 304).
  virtual void write(std::string_view chunk) = 0;
  /// Writes `count` bytes of the file `fd` from `offset` as a piece of the body, in order with
  /// `write`, under the same rules (counted against Content-Length, a chunk of its own when the
  /// body is chunked, nothing for HEAD, 204 and 304). The bytes go out with
  /// `IOStream::write_file` (zero-copy on a plain connection); small ones are copied into the
  /// response buffer. `fd` may be closed once the call returns; `flush()` tells when the bytes
  /// have gone. A file that turns out shorter than `count` closes the connection (`flush()`
  /// then fails with StreamClosedError naming the cause). Throws as `write`, and ValueError for
  /// a negative `fd`. The default implementation reads the file in pieces and calls `write`
  /// (a short file closes the connection and throws the cause).
  virtual void write_file(int fd, std::uint64_t offset, std::uint64_t count);
  /// Completes once everything written so far has been handed to the kernel.
  virtual Future<void> flush() = 0;
  /// Ends the response. Throws HTTPOutputError if fewer bytes than the Content-Length were
  /// written (the connection is then closed after what was written), or if called twice.
  virtual void finish() = 0;

  /// The largest request body this request may have (a streaming handler's own limit); call it
  /// from `headers_received`. A larger body is refused with 413 and the connection closed.
  virtual void set_max_body_size(std::uint64_t max_body_size) = 0;
  /// The longest the request body may take to arrive, from `headers_received` on.
  virtual void set_body_timeout(std::chrono::steady_clock::duration timeout) = 0;
  /// Closes the TCP connection now (an in-flight response is cut).
  virtual void close() = 0;
  /// The TCP connection is closed.
  virtual bool closed() const noexcept = 0;
  /// Takes the connection's stream from the HTTP server, for a switch to another protocol (a
  /// WebSocket after its 101 response, as Tornado's `detach`): the response goes out first, then
  /// the server stops reading and forgets the connection (it no longer counts for
  /// `close_all_connections` or a graceful stop); bytes the client sent after the request stay
  /// in the stream's read buffer. Throws InvalidStateError before the response is finished or
  /// the request body was read, or once the exchange is over; the default implementation (a
  /// connection that cannot hand over its stream) always throws.
  virtual std::unique_ptr<IOStream> detach();
};

/// A request received by a server (Tornado's `HTTPServerRequest`). The server fills it in; tests
/// and other servers may build one by hand.
class HTTPServerRequest {
 public:
  HTTPServerRequest() = default;
  /// Sets `method`, `uri` (splitting `path` and `query`, and parsing `query_arguments` into
  /// `arguments`), `version` and `headers`; `host` from the Host header (or "127.0.0.1"), and
  /// `host_name` from `host`. An absolute-form target (`http://host/path`) gives its path, and
  /// its authority is the host. Sets `start_time` to now.
  HTTPServerRequest(std::string method, std::string uri, std::string version = "HTTP/1.1",
                    HTTPHeaders headers = {}, std::string body = {});
  /// The same from a request line as a server parsed it (Tornado's `start_line` argument), with
  /// the headers moved in and no body yet.
  HTTPServerRequest(const RequestStartLine& start_line, HTTPHeaders&& headers);

  std::string method;
  std::string uri;    // the request-target as sent: path and query
  std::string path;   // `uri` before '?'
  std::string query;  // `uri` after '?', or empty
  std::string version = "HTTP/1.1";
  HTTPHeaders headers;
  std::string body;
  /// The client's IP address: the peer's, or with `xheaders` the one a trusted proxy gave.
  std::string remote_ip;
  /// "http" or "https" (with `xheaders`, as the proxy said).
  std::string protocol = "http";
  /// The Host header ("127.0.0.1" without one); `host_name` is it without the port.
  std::string host;
  std::string host_name;
  /// Query and body arguments together (query first), as Tornado's `arguments`.
  Arguments arguments;
  Arguments query_arguments;
  Arguments body_arguments;
  Files files;
  /// The connection to write the response through; null for a request built by hand.
  std::shared_ptr<HTTPConnection> connection;
  std::chrono::steady_clock::time_point start_time = std::chrono::steady_clock::now();
  std::optional<std::chrono::steady_clock::time_point> finish_time;

  /// The cookies of the Cookie header, parsed once (as `httputil::parse_cookie`); a copy of the
  /// request copies them.
  const std::map<std::string, std::string>& cookies() const;
  /// Seconds from `start_time` to `finish_time`, or to now if the request is not finished.
  double request_time() const;
  /// `protocol://host uri`, as Tornado's `full_url`.
  std::string full_url() const;
  /// Parses `body` into `body_arguments` and `files` by Content-Type, and adds the body
  /// arguments to `arguments` (Tornado's `_parse_body`). Throws HTTPInputError for a malformed
  /// multipart body. The server calls it for requests it buffered whole.
  void parse_body(BodyLimits limits = {});

 private:
  using CookieMap = std::map<std::string, std::string>;

  // The constructors' common part: path, query, arguments and host from `uri` and `headers`.
  void parse_target();

  // The parsed cookies behind a pointer, made on first use: a request kept as long as its
  // WebSocket should stay small. Copies as the map would.
  class CookieCache {
   public:
    CookieCache() = default;
    CookieCache(const CookieCache& other)
        : map_(other.map_ ? std::make_unique<CookieMap>(*other.map_) : nullptr) {}
    CookieCache(CookieCache&&) noexcept = default;
    CookieCache& operator=(const CookieCache& other) {
      if (this != &other) map_ = other.map_ ? std::make_unique<CookieMap>(*other.map_) : nullptr;
      return *this;
    }
    CookieCache& operator=(CookieCache&&) noexcept = default;
    ~CookieCache() = default;

    std::unique_ptr<CookieMap> map_;
  };

  mutable CookieCache cookies_;
};

/// Receives one HTTP message as it arrives (Tornado's `HTTPMessageDelegate`). A method may return
/// a Future to make the connection wait (no more of the body is read until it completes): flow
/// control for streaming bodies. An exception thrown (or a failed Future) is logged, and the
/// connection is closed.
class HTTPMessageDelegate {
 public:
  virtual ~HTTPMessageDelegate() = default;
  /// The head of a request (on a server). `headers` may be moved from; both arguments live only
  /// during the call.
  virtual std::optional<Future<void>> headers_received(const RequestStartLine& start_line,
                                                       HTTPHeaders& headers);
  /// The head of a response (on a client).
  virtual std::optional<Future<void>> headers_received(const ResponseStartLine& start_line,
                                                       HTTPHeaders& headers);
  /// A piece of the body (decoded from chunked framing, inflated with `decompress`). The view is
  /// valid only during the call.
  virtual std::optional<Future<void>> data_received(std::string_view chunk);
  /// The whole message has arrived.
  virtual void finish() {}
  /// The connection closed before the message was finished (or, on a server, before the
  /// response was).
  virtual void on_connection_close() {}
};

class HTTP1ServerConnection;

/// Starts a delegate for each request on a server's connections (Tornado's
/// `HTTPServerConnectionDelegate`); an `HTTPServer` given one uses it instead of a callback. The
/// web layer's `Application` is one.
class HTTPServerConnectionDelegate {
 public:
  virtual ~HTTPServerConnectionDelegate() = default;
  /// A new request began on `server_conn`; its response is written through `request_conn`.
  virtual std::unique_ptr<HTTPMessageDelegate> start_request(
      HTTP1ServerConnection& server_conn, std::shared_ptr<HTTPConnection> request_conn) = 0;
  /// `server_conn` closed.
  virtual void on_close(HTTP1ServerConnection& server_conn) {}
};

}  // namespace squall
