#pragma once
/// \file
/// `HTTPServer`: a non-blocking, single-threaded HTTP/1.1 server (Tornado's `httpserver`).
///
/// With a callback, each request arrives whole (body read and parsed) and the callback writes the
/// response through `request->connection`:
///
///     squall::HTTPServer server([](std::shared_ptr<squall::HTTPServerRequest> request) {
///       squall::HTTPHeaders headers;
///       headers.add("Content-Type", "text/plain");
///       headers.add("Content-Length", "13");
///       request->connection->write_headers({"HTTP/1.1", 200, "OK"}, headers, "Hello, World!");
///       request->connection->finish();
///     });
///     server.listen(8888);
///     squall::IOLoop::current().start();
///
/// With an `HTTPServerConnectionDelegate` (the web layer's `Application`), requests stream
/// through it piece by piece. Starting to listen works as `TCPServer`: `listen`, `bind` +
/// `start(n)` (which may fork), or `add_sockets`.

#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "squall/core/concurrent.hpp"
#include "squall/http/http1connection.hpp"
#include "squall/http/message.hpp"
#include "squall/net/tcpserver.hpp"

namespace squall {

/// Options of an `HTTPServer`, Tornado's constructor arguments.
struct HTTPServerOptions {
  /// Close each connection after one response.
  bool no_keep_alive = false;
  /// Trust X-Real-Ip / X-Forwarded-For for `remote_ip` and X-Scheme / X-Forwarded-Proto for
  /// `protocol` (behind a reverse proxy that sets them).
  bool xheaders = false;
  /// With `xheaders`: proxies whose addresses are skipped from the right of X-Forwarded-For.
  /// With xheaders, a request's context (`HTTP1ServerConnection::context()`) holds the client's
  /// address and scheme from `headers_received` until the request is finished.
  std::vector<std::string> trusted_downstream;
  /// Serve HTTPS.
  std::optional<SSLOptions> ssl_options;
  /// Overrides every request's `protocol` ("http" or "https" by default).
  std::string protocol;
  /// Inflate gzip'ed request bodies (Tornado's `decompress_request`).
  bool decompress_request = false;
  std::size_t chunk_size = std::size_t{64} << 10;
  std::size_t max_header_size = std::size_t{64} << 10;
  /// See `HTTP1ConnectionParameters`.
  std::optional<std::chrono::steady_clock::duration> header_timeout = std::chrono::seconds(60);
  std::optional<std::chrono::steady_clock::duration> idle_connection_timeout =
      std::chrono::seconds(3600);
  std::optional<std::chrono::steady_clock::duration> body_timeout;
  std::uint64_t max_body_size = std::uint64_t{100} << 20;
  /// The largest read buffer of a connection (IOStream's `max_buffer_size`).
  std::size_t max_buffer_size = std::size_t{100} << 20;
  /// Limits of multipart bodies parsed for the callback API.
  BodyLimits body_limits;
};

/// An HTTP/1.1 server. Use it on its loop's thread, and destroy it before the loop.
class HTTPServer : public TCPServer, public HTTPServerConnectionDelegate {
 public:
  using RequestCallback = std::function<void(std::shared_ptr<HTTPServerRequest>)>;

  /// A server calling `callback` with each whole request. Throws as TCPServer does for bad
  /// `ssl_options`.
  explicit HTTPServer(RequestCallback callback, HTTPServerOptions options = {});
  /// A server streaming each request through `delegate`, which must outlive it.
  explicit HTTPServer(HTTPServerConnectionDelegate& delegate, HTTPServerOptions options = {});
  /// Stops listening and closes every connection.
  ~HTTPServer() override;

  /// Closes every open connection now (Tornado's `close_all_connections`); the Future completes
  /// once they are all closed. Call `stop()` first to accept no more.
  Future<void> close_all_connections();

  /// A graceful stop: stops accepting, closes idle connections, lets requests in flight finish
  /// (their responses say `Connection: close`), and after `timeout` closes what is left. The
  /// Future completes once every connection is closed.
  Future<void> shutdown(std::chrono::steady_clock::duration timeout = std::chrono::seconds(30));

  /// On `signum` (SIGTERM by default), runs `shutdown(timeout)` and then stops the current loop:
  /// what a demo's `main` calls before `IOLoop::start()`.
  void shutdown_on_signal(int signum = SIGTERM,
                          std::chrono::steady_clock::duration timeout = std::chrono::seconds(30));

  /// The number of open connections.
  std::size_t connection_count() const noexcept { return connections_.size(); }
  const HTTPServerOptions& options() const noexcept { return options_; }

  // HTTPServerConnectionDelegate, for the callback API and for the delegate given.
  std::unique_ptr<HTTPMessageDelegate> start_request(
      HTTP1ServerConnection& server_conn, std::shared_ptr<HTTPConnection> request_conn) override;
  void on_close(HTTP1ServerConnection& server_conn) override;

 protected:
  Future<void> handle_stream(std::unique_ptr<IOStream> stream, SocketAddress address) override;

 private:
  HTTPServer(RequestCallback callback, HTTPServerConnectionDelegate* delegate,
             HTTPServerOptions options);
  Future<void> wait_all_closed();

  HTTPServerOptions options_;
  std::shared_ptr<const HTTP1ConnectionParameters> params_;  // shared by the connections
  RequestCallback callback_;
  HTTPServerConnectionDelegate* delegate_;  // null with a callback
  std::unordered_map<HTTP1ServerConnection*, std::unique_ptr<HTTP1ServerConnection>> connections_;
  std::vector<Future<void>> all_closed_;  // waiting for connections_ to empty
  std::shared_ptr<bool> alive_;           // false once destroyed, for callbacks that outlive it
  bool shutting_down_ = false;
};

namespace httpserver {

/// The client's address and scheme as `xheaders` rules give them (Tornado's
/// `_HTTPRequestContext._apply_xheaders`): the address is X-Real-Ip if present, else the last
/// address of X-Forwarded-For that is not in `trusted_downstream`, used only if it is a valid IP
/// address; the scheme is X-Scheme, else X-Forwarded-Proto (its last element), used only if it is
/// "http" or "https". Updates `context` with what applies.
void apply_xheaders(const HTTPHeaders& headers, HTTP1ConnectionContext& context,
                    const std::vector<std::string>& trusted_downstream);

}  // namespace httpserver
}  // namespace squall
