// HTTPServer: TCPServer accepting HTTP/1.1 connections, with the callback adapter and xheaders.

#include "squall/http/httpserver.hpp"

#include "http/text.hpp"
#include "spdlog/spdlog.h"
#include "squall/core/detail/small_alloc.hpp"
#include "squall/net/netutil.hpp"
#include "squall/util/log.hpp"

namespace squall {
namespace {

using http_text::trim;

// Sends a bodiless error response on `connection` (the callback API's answer to a bad body).
void send_simple_error(HTTPConnection& connection, int code) {
  HTTPHeaders headers;
  headers.add("Content-Length", "0");
  headers.add("Connection", "close");
  ResponseStartLine start_line;
  start_line.code = code;
  connection.write_headers(start_line, headers);
  connection.finish();
}

// The callback API: collects the whole request, then calls the callback (Tornado's
// _CallableAdapter).
class CallbackAdapter final : public HTTPMessageDelegate, public detail::SmallAllocated {
 public:
  CallbackAdapter(const HTTPServer::RequestCallback& callback, const HTTPServerOptions& options,
                  HTTP1ServerConnection& server_conn, std::shared_ptr<HTTPConnection> request_conn)
      : callback_(callback),
        body_limits_(options.body_limits),
        server_conn_(server_conn),
        request_conn_(std::move(request_conn)) {}

  std::optional<Future<void>> headers_received(const RequestStartLine& start_line,
                                               HTTPHeaders& headers) override {
    request_ = std::allocate_shared<HTTPServerRequest>(detail::SmallAllocator<HTTPServerRequest>(),
                                                       start_line, std::move(headers));
    const HTTP1ConnectionContext& context = server_conn_.context();
    request_->remote_ip = context.remote_ip;
    request_->protocol = context.protocol;
    request_->connection = std::move(request_conn_);  // (one reference fewer to count)
    return std::nullopt;
  }

  std::optional<Future<void>> data_received(std::string_view chunk) override {
    request_->body.append(chunk);
    return std::nullopt;
  }

  void finish() override {
    if (!request_->body.empty()) {
      try {
        request_->parse_body(body_limits_);
      } catch (const HTTPInputError& e) {
        log::gen_log().info("Malformed request body from {}: {}", request_->remote_ip, e.what());
        send_simple_error(*request_->connection, 400);
        return;
      }
    }
    callback_(std::move(request_));
  }

  void on_connection_close() override { request_.reset(); }

 private:
  const HTTPServer::RequestCallback& callback_;
  BodyLimits body_limits_;
  HTTP1ServerConnection& server_conn_;
  std::shared_ptr<HTTPConnection> request_conn_;
  std::shared_ptr<HTTPServerRequest> request_;
};

// With xheaders: puts the client's address and scheme in the connection's context for the
// duration of each request (Tornado's _ProxyAdapter).
class ProxyAdapter final : public HTTPMessageDelegate, public detail::SmallAllocated {
 public:
  ProxyAdapter(std::unique_ptr<HTTPMessageDelegate> inner, HTTP1ServerConnection& server_conn,
               const std::vector<std::string>& trusted_downstream)
      : inner_(std::move(inner)),
        server_conn_(server_conn),
        trusted_downstream_(trusted_downstream),
        saved_(server_conn.context()) {}
  ~ProxyAdapter() override { restore(); }

  std::optional<Future<void>> headers_received(const RequestStartLine& start_line,
                                               HTTPHeaders& headers) override {
    httpserver::apply_xheaders(headers, server_conn_.context(), trusted_downstream_);
    applied_ = true;
    return inner_->headers_received(start_line, headers);
  }
  std::optional<Future<void>> data_received(std::string_view chunk) override {
    return inner_->data_received(chunk);
  }
  void finish() override { inner_->finish(); }
  void on_connection_close() override {
    inner_->on_connection_close();
    restore();
  }

 private:
  void restore() noexcept {
    if (!applied_) return;
    applied_ = false;
    server_conn_.context() = saved_;
  }

  std::unique_ptr<HTTPMessageDelegate> inner_;
  HTTP1ServerConnection& server_conn_;
  const std::vector<std::string>& trusted_downstream_;
  HTTP1ConnectionContext saved_;
  bool applied_ = false;
};

HTTP1ConnectionParameters parameters_of(const HTTPServerOptions& options) {
  HTTP1ConnectionParameters params;
  params.no_keep_alive = options.no_keep_alive;
  params.chunk_size = options.chunk_size;
  params.max_header_size = options.max_header_size;
  params.header_timeout = options.header_timeout;
  params.idle_connection_timeout = options.idle_connection_timeout;
  params.max_body_size = options.max_body_size;
  params.body_timeout = options.body_timeout;
  params.decompress = options.decompress_request;
  return params;
}

IOStreamOptions stream_options_of(const HTTPServerOptions& options) {
  IOStreamOptions stream_options;
  stream_options.max_buffer_size = options.max_buffer_size;
  stream_options.read_chunk_size = std::min(options.chunk_size, options.max_buffer_size);
  if (stream_options.read_chunk_size == 0) stream_options.read_chunk_size = 1;
  return stream_options;
}

}  // namespace

namespace httpserver {

void apply_xheaders(const HTTPHeaders& headers, HTTP1ConnectionContext& context,
                    const std::vector<std::string>& trusted_downstream) {
  std::string ip;
  if (auto forwarded = headers.get("X-Forwarded-For")) {
    std::string_view list = *forwarded;
    // From the right, skipping the trusted proxies.
    for (;;) {
      std::size_t comma = list.rfind(',');
      std::string_view candidate =
          trim(comma == std::string_view::npos ? list : list.substr(comma + 1));
      ip.assign(candidate);
      bool trusted = std::find(trusted_downstream.begin(), trusted_downstream.end(), ip) !=
                     trusted_downstream.end();
      if (!trusted || comma == std::string_view::npos) break;
      list = list.substr(0, comma);
    }
  } else {
    ip = context.remote_ip;
  }
  if (auto real_ip = headers.get("X-Real-Ip")) ip.assign(trim(*real_ip));
  if (netutil::is_valid_ip(ip)) context.remote_ip = ip;

  std::optional<std::string> proto = headers.get("X-Scheme");
  if (!proto) proto = headers.get("X-Forwarded-Proto");
  if (proto) {
    std::string_view value = *proto;
    std::size_t comma = value.rfind(',');
    if (comma != std::string_view::npos) value = value.substr(comma + 1);
    value = trim(value);
    if (value == "http" || value == "https") context.protocol.assign(value);
  }
}

}  // namespace httpserver

HTTPServer::HTTPServer(RequestCallback callback, HTTPServerOptions options)
    : HTTPServer(std::move(callback), nullptr, std::move(options)) {
  if (!callback_) throw ValueError("HTTPServer: empty request callback");
}

HTTPServer::HTTPServer(HTTPServerConnectionDelegate& delegate, HTTPServerOptions options)
    : HTTPServer(nullptr, &delegate, std::move(options)) {}

HTTPServer::HTTPServer(RequestCallback callback, HTTPServerConnectionDelegate* delegate,
                       HTTPServerOptions options)
    : TCPServer(options.ssl_options, stream_options_of(options)),
      options_(std::move(options)),
      params_(std::make_shared<const HTTP1ConnectionParameters>(parameters_of(options_))),
      callback_(std::move(callback)),
      delegate_(delegate),
      alive_(std::make_shared<bool>(true)) {
  if (options_.chunk_size == 0) throw ValueError("HTTPServer: chunk_size must be positive");
  if (options_.max_header_size == 0) {
    throw ValueError("HTTPServer: max_header_size must be positive");
  }
}

HTTPServer::~HTTPServer() {
  *alive_ = false;
  stop();
  for (auto& [raw, connection] : connections_) connection->close();
}

Future<void> HTTPServer::handle_stream(std::unique_ptr<IOStream> stream, SocketAddress address) {
  HTTP1ConnectionContext context;
  if (address.family() == AF_INET || address.family() == AF_INET6) context.remote_ip = address.ip();
  context.protocol = !options_.protocol.empty()         ? options_.protocol
                     : options_.ssl_options.has_value() ? "https"
                                                        : "http";
  stream->set_nodelay(true);
  auto connection =
      std::make_unique<HTTP1ServerConnection>(std::move(stream), params_, std::move(context));
  HTTP1ServerConnection* raw = connection.get();
  connections_.emplace(raw, std::move(connection));
  // Not a coroutine: an idle connection then costs no coroutine frame here.
  raw->start_serving(*this).add_done_callback([this, raw, alive = alive_](const Future<void>&) {
    if (*alive) on_close(*raw);  // the server is gone: its map took the connection with it
  });
  return make_ready_future();
}

std::unique_ptr<HTTPMessageDelegate> HTTPServer::start_request(
    HTTP1ServerConnection& server_conn, std::shared_ptr<HTTPConnection> request_conn) {
  std::unique_ptr<HTTPMessageDelegate> delegate;
  if (delegate_) {
    delegate = delegate_->start_request(server_conn, std::move(request_conn));
  } else {
    delegate = std::make_unique<CallbackAdapter>(callback_, options_, server_conn,
                                                 std::move(request_conn));
  }
  if (options_.xheaders) {
    delegate = std::make_unique<ProxyAdapter>(std::move(delegate), server_conn,
                                              options_.trusted_downstream);
  }
  return delegate;
}

void HTTPServer::on_close(HTTP1ServerConnection& server_conn) {
  auto it = connections_.find(&server_conn);
  if (it == connections_.end()) return;
  if (delegate_) delegate_->on_close(server_conn);
  std::unique_ptr<HTTP1ServerConnection> closing = std::move(it->second);
  connections_.erase(it);
  if (connections_.empty()) {
    std::vector<Future<void>> waiters = std::move(all_closed_);
    all_closed_.clear();
    for (Future<void>& waiter : waiters) {
      if (!waiter.done()) waiter.set_result();
    }
  }
}

Future<void> HTTPServer::wait_all_closed() {
  if (connections_.empty()) return make_ready_future();
  return all_closed_.emplace_back();
}

Future<void> HTTPServer::close_all_connections() {
  // Closing a stream completes its connection's loop on a later iteration; copy first, as
  // on_close edits the set.
  std::vector<HTTP1ServerConnection*> open;
  for (auto& [raw, connection] : connections_) open.push_back(raw);
  for (HTTP1ServerConnection* connection : open) connection->close();
  return wait_all_closed();
}

Future<void> HTTPServer::shutdown(std::chrono::steady_clock::duration timeout) {
  shutting_down_ = true;
  stop();
  std::vector<HTTP1ServerConnection*> open;
  for (auto& [raw, connection] : connections_) open.push_back(raw);
  for (HTTP1ServerConnection* connection : open) connection->close_when_idle();
  Future<void> all_closed = wait_all_closed();
  if (!all_closed.done()) {
    IOLoop& loop = IOLoop::current();
    TimeoutHandle timer = loop.call_later(timeout, [this, alive = alive_] {
      if (!*alive) return;
      if (!connections_.empty()) {
        log::gen_log().info("Shutdown timeout: closing {} connections", connections_.size());
      }
      static_cast<void>(close_all_connections());  // shutdown's own Future reports the end
    });
    all_closed.add_done_callback(
        [&loop, timer](const Future<void>&) { loop.remove_timeout(timer); });
  }
  return all_closed;
}

void HTTPServer::shutdown_on_signal(int signum, std::chrono::steady_clock::duration timeout) {
  IOLoop& loop = IOLoop::current();
  loop.add_signal_handler(signum, [this, timeout, &loop, alive = alive_](int received) {
    if (!*alive || shutting_down_) return;
    log::gen_log().info("Signal {} received: stopping the HTTP server", received);
    shutdown(timeout).add_done_callback([&loop](const Future<void>&) { loop.stop(); });
  });
}

}  // namespace squall
