#pragma once
/// \file
/// The asynchronous HTTP client (Tornado's `httpclient`): `AsyncHTTPClient`, `HTTPRequest`,
/// `HTTPResponse`, `HTTPClientError`, and the blocking `HTTPClient`.
///
///     squall::AsyncHTTPClient client;  // the loop's shared client
///     squall::HTTPResponse response = co_await client.fetch("http://127.0.0.1:8888/json");
///     std::cout << response.code << " " << response.body << "\n";
///
/// A fetch that gets an HTTP error status (4xx, 5xx, or a 3xx it did not follow) fails with
/// `HTTPClientError` carrying the response, unless `raise_error` is false; a network failure or a
/// timeout fails with `HTTPClientError` code 599 whose `real_error()` is the cause (an OSError, a
/// TimeoutError, a StreamClosedError, an SSLError...). With `raise_error` false every outcome is a
/// response (599 ones hold the cause in `error`).
///
/// The client speaks HTTP/1.1 over squall's own codec (the server's parser and writer), keeps
/// connections alive and reuses them per scheme, host and port (a bounded pool of idle
/// connections, each closed after an idle timeout), verifies HTTPS certificates and sends SNI by
/// default, and connects through `TCPClient` (IPv6 and Happy Eyeballs).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "squall/core/concurrent.hpp"
#include "squall/http/httputil.hpp"
#include "squall/util/error.hpp"

namespace squall {

class IOLoop;

/// One request's settings (Tornado's `HTTPRequest`). Unset optional fields take the client's
/// defaults (`AsyncHTTPClient::Defaults`); the defaults' headers are added under the names the
/// request does not set, and a flag (`allow_nonstandard_methods`, `expect_100_continue`) set in
/// either applies.
struct HTTPRequest {
  using duration = std::chrono::steady_clock::duration;
  /// Writes a piece of a streamed request body; the Future completes once it may write more.
  using BodyWriter = std::function<Future<void>(std::string_view chunk)>;

  HTTPRequest() = default;
  HTTPRequest(std::string url_, std::string method_ = "GET")
      : url(std::move(url_)), method(std::move(method_)) {}

  std::string url;
  std::string method = "GET";
  HTTPHeaders headers;
  /// The request body. A POST, PUT or PATCH needs one (or a `body_producer`), and other
  /// methods must not have one, unless `allow_nonstandard_methods` (as Tornado checks).
  std::optional<std::string> body;
  /// Streams the body instead (sent chunked unless the headers give a Content-Length): called
  /// once with a writer; the body ends when the returned Future completes.
  std::function<Future<void>(BodyWriter write)> body_producer;
  /// Basic authentication (the only mode, as Tornado's simple client). Without it, the URL's
  /// userinfo (`http://user:password@host/`, percent-decoded) is used, as Tornado does.
  std::optional<std::string> auth_username;
  std::optional<std::string> auth_password;
  /// Default 20 s: the TCP connection and the TLS handshake. Zero: none.
  std::optional<duration> connect_timeout;
  /// Default 20 s: the whole fetch, the wait in the queue and the redirects included (the wait
  /// in the queue is bounded by connect_timeout too, as in Tornado). Zero: none.
  std::optional<duration> request_timeout;
  /// Sends If-Modified-Since.
  std::optional<std::chrono::system_clock::time_point> if_modified_since;
  std::optional<bool> follow_redirects;  // default true
  std::optional<int> max_redirects;      // default 5
  std::optional<std::string> user_agent;
  /// Default true: asks for gzip and inflates a gzip'ed body; the response's headers then say
  /// `X-Consumed-Content-Encoding: gzip` instead of `Content-Encoding` (as Tornado's).
  std::optional<bool> decompress_response;
  /// Gets the body in pieces as they arrive (inflated if gzip'ed); the response's `body` then
  /// stays empty.
  std::function<void(std::string_view chunk)> streaming_callback;
  /// Gets each header line as it arrives (the status line first, then "Name: value\r\n" lines,
  /// then the empty line), as Tornado's `header_callback`. Neither callback sees interim (1xx)
  /// responses, nor a redirect that is followed (whose body is dropped).
  std::function<void(std::string_view line)> header_callback;
  std::optional<bool> validate_cert;       // default true
  std::optional<std::string> ca_certs;     // PEM file; default: the system's
  std::optional<std::string> client_cert;  // PEM file of a client certificate
  std::optional<std::string> client_key;   // its key (default: in client_cert)
  /// Any method, and a body with any method.
  bool allow_nonstandard_methods = false;
  /// Sends `Expect: 100-continue` and waits for the interim response before the body: for at
  /// most 1 s, then the body goes anyway (as curl does). A final response instead of the 100
  /// is the answer, and the body is not sent. Only for a non-empty body.
  bool expect_100_continue = false;
  std::optional<std::size_t> max_header_size;  // default 64 KiB
  /// The largest response body, counted after decompression; default 100 MiB.
  std::optional<std::uint64_t> max_body_size;
  /// Follow a redirect from https to http (refused by default).
  std::optional<bool> allow_insecure_redirects;  // default false
};

/// The outcome of a fetch (Tornado's `HTTPResponse`).
struct HTTPResponse {
  /// The request as sent last (after redirects: the last one's, with its method, body and
  /// headers as the redirects changed them). The headers the client adds on the wire (Host,
  /// User-Agent, Accept-Encoding, Authorization, Content-Length...) are not added to it.
  HTTPRequest request;
  int code = 0;
  std::string reason;  // the status line's, or the standard phrase ("Unknown" for 599)
  HTTPHeaders headers;
  std::string body;
  /// The URL finally fetched, after redirects.
  std::string effective_url;
  /// Seconds from the fetch's start to its end.
  double request_time = 0;
  /// Seconds from the fetch's start to each stage: "queue" (waiting for a connection slot),
  /// "connect", "firstbyte" (the first byte of the response), "total".
  std::map<std::string, double> time_info;
  /// Why the fetch failed (HTTPClientError for an HTTP error status, or the network cause for
  /// 599), or null.
  std::exception_ptr error;

  /// Throws `error` if set.
  void rethrow() const;
};

/// An HTTP error status, or (code 599) a failure without one (Tornado's `HTTPClientError`).
class HTTPClientError : public Error {
 public:
  HTTPClientError(int code, std::string message = {},
                  std::shared_ptr<const HTTPResponse> response = nullptr,
                  std::exception_ptr real_error = nullptr);
  int code() const noexcept { return code_; }
  /// The response, for an HTTP error status (null for 599).
  const std::shared_ptr<const HTTPResponse>& response() const noexcept { return response_; }
  /// For 599: what went wrong (OSError, TimeoutError, StreamClosedError, SSLError...).
  const std::exception_ptr& real_error() const noexcept { return real_error_; }

 private:
  int code_;
  std::shared_ptr<const HTTPResponse> response_;
  std::exception_ptr real_error_;
};

/// Fetches URLs without blocking (Tornado's `AsyncHTTPClient`). A value is a handle: copies share
/// one client. Use it on its loop's thread.
class AsyncHTTPClient {
 public:
  /// Settings for every request of a client, and its pool.
  struct Defaults {
    HTTPRequest request;  // its unset fields fall back on the built-in defaults
    /// Fetches in progress at once (at least 1); more wait in a queue, in order (the wait
    /// counts against request_timeout, as in Tornado).
    std::size_t max_clients = 10;
    /// Idle keep-alive connections kept per scheme, host and port (and TLS settings), and how
    /// long each is kept. A connection goes back to the pool only after its response was read
    /// whole and both sides allow keep-alive. With 0 none is kept (requests then say
    /// `Connection: close`).
    std::size_t max_idle_per_host = 8;
    std::chrono::steady_clock::duration idle_timeout = std::chrono::seconds(60);
  };

  /// The current loop's shared client (made on first use, with default settings; it lives as
  /// long as the loop, or until closed).
  AsyncHTTPClient();
  /// A client of its own (Tornado's `force_instance=True`), with `defaults`.
  explicit AsyncHTTPClient(Defaults defaults);
  ~AsyncHTTPClient();
  AsyncHTTPClient(const AsyncHTTPClient&);
  AsyncHTTPClient& operator=(const AsyncHTTPClient&);

  /// Fetches `url` with GET.
  Future<HTTPResponse> fetch(std::string url, bool raise_error = true);
  /// Fetches `request`. Throws ValueError at once for a request that cannot be sent (a bad URL
  /// or scheme, a body with GET unless allowed...), InvalidStateError on a closed client.
  ///
  /// Redirects (301, 302, 303, 307, 308 with a Location, resolved against the URL) are followed
  /// up to max_redirects: 303 makes any method but HEAD a GET without a body, 301 and 302 do so
  /// for methods other than GET and HEAD, 307 and 308 keep the method and body. A redirect to
  /// another origin (scheme, host or port) drops the Authorization, Cookie and
  /// Proxy-Authorization headers and the basic-auth credentials. A redirect not followed (past
  /// max_redirects, https to http without allow_insecure_redirects, a Location that is not an
  /// http or https URL) gives the 3xx response, as an HTTPClientError saying why.
  Future<HTTPResponse> fetch(HTTPRequest request, bool raise_error = true);
  /// Closes the pool's connections; fetches in progress fail with 599. A closed shared client
  /// is replaced by a new one at the next `AsyncHTTPClient()`.
  void close();

  /// Connections this client has opened so far (for tests of reuse).
  std::uint64_t connections_opened() const noexcept;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

/// A blocking client with its own loop (Tornado's `HTTPClient`), for scripts and tests. Use it
/// on a thread without a running loop.
class HTTPClient {
 public:
  explicit HTTPClient(AsyncHTTPClient::Defaults defaults = {});
  ~HTTPClient();
  HTTPClient(const HTTPClient&) = delete;
  HTTPClient& operator=(const HTTPClient&) = delete;

  /// Fetches and waits; throws as AsyncHTTPClient::fetch's Future fails.
  HTTPResponse fetch(std::string url, bool raise_error = true);
  HTTPResponse fetch(HTTPRequest request, bool raise_error = true);
  void close();

 private:
  std::unique_ptr<IOLoop> loop_;
  std::unique_ptr<AsyncHTTPClient> client_;
};

}  // namespace squall
