// WebSocketHandler: the server's handshake (RFC 6455 §4.2, refused as Tornado refuses), then the
// connection's life on a WebSocketConnection.

#include "squall/web/websocket.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

#include <spdlog/spdlog.h>
#include "http/text.hpp"

#include "squall/core/gen.hpp"
#include "squall/util/log.hpp"
#include "squall/web/application.hpp"
#include "web/handler_access.hpp"
#include "web/websocket_connection.hpp"

namespace squall::web {

namespace detail {

// Forwards a connection's events to its handler.
class HandlerEvents final : public WebSocketEvents {
 public:
  explicit HandlerEvents(WebSocketHandler& handler) : handler_(handler) {}
  Future<void> on_message(WebSocketMessage message) override {
    return handler_.on_message(std::move(message));
  }
  void on_ping(std::string_view data) override { handler_.on_ping(data); }
  void on_pong(std::string_view data) override { handler_.on_pong(data); }
  void on_close() override { handler_.on_close(); }

 private:
  WebSocketHandler& handler_;
};

// A server-side connection with its events' forwarder: one allocation for both. (A member, not
// a base: WebSocketEvents' on_ping/on_pong would override the parser delegate's.)
class HandlerConnection final : public WebSocketConnection {
 public:
  HandlerConnection(WebSocketHandler& handler, std::unique_ptr<IOStream> stream,
                    WebSocketParams params)
      : WebSocketConnection(std::move(stream), std::move(params)), events_(handler) {
    set_events(&events_);
  }

 private:
  HandlerEvents events_;
};

}  // namespace detail

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The host[:port] of an origin such as "https://Example.com:8443" (lower case), or "" for an
// origin without one ("null").
std::string origin_netloc(std::string_view origin) {
  std::size_t scheme_end = origin.find("://");
  if (scheme_end == std::string_view::npos) return {};
  std::string_view rest = origin.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (std::size_t at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  return lower(rest);
}

}  // namespace

WebSocketHandler::WebSocketHandler() = default;

WebSocketHandler::~WebSocketHandler() {
  if (connection_) connection_->set_events(nullptr);
  unregister();
}

const std::optional<std::string>& WebSocketHandler::selected_subprotocol() const noexcept {
  static const std::optional<std::string> kNone;
  return selected_subprotocol_ ? *selected_subprotocol_ : kNone;
}

void WebSocketHandler::unregister() noexcept {
  Application* app = std::exchange(registry_, nullptr);
  if (app == nullptr) return;
  (prev_socket_ != nullptr ? prev_socket_->next_socket_ : app->websockets_) = next_socket_;
  if (next_socket_ != nullptr) next_socket_->prev_socket_ = prev_socket_;
  prev_socket_ = next_socket_ = nullptr;
  --app->websocket_count_;
}

Future<void> Application::close_websockets(int code, std::string_view reason) {
  if (code < 0 || code > 0xFFFF || !detail::is_valid_close_code(static_cast<std::uint16_t>(code))) {
    throw ValueError("close_websockets: " + std::to_string(code) +
                     " is not a close code that may be sent");
  }
  std::vector<Future<void>> closed;
  closed.reserve(websocket_count_);
  // Copied: a socket may go away while the others are closed.
  std::vector<WebSocketHandler*> sockets;
  sockets.reserve(websocket_count_);
  for (WebSocketHandler* s = websockets_; s != nullptr; s = s->next_socket_) sockets.push_back(s);
  for (WebSocketHandler* socket : sockets) {
    if (!socket->connection_) continue;
    closed.push_back(socket->connection_->closed());
    socket->connection_->close(code, reason);
  }
  return gen::multi(std::move(closed));
}

Future<void> WebSocketHandler::open() {
  return make_ready_future();
}

void WebSocketHandler::on_ping(std::string_view) {}

void WebSocketHandler::on_pong(std::string_view) {}

std::optional<std::string> WebSocketHandler::select_subprotocol(const std::vector<std::string>&) {
  return std::nullopt;
}

bool WebSocketHandler::check_origin(std::string_view origin) {
  std::optional<std::string> host = request().headers.get("Host");
  return host && origin_netloc(origin) == lower(*host);
}

std::optional<WebSocketCompressionOptions> WebSocketHandler::get_compression_options() {
  return std::nullopt;
}

std::uint64_t WebSocketHandler::max_message_size() {
  return settings().websocket_max_message_size;
}

std::chrono::milliseconds WebSocketHandler::ping_interval() {
  return settings().websocket_ping_interval;
}

std::chrono::milliseconds WebSocketHandler::ping_timeout() {
  return settings().websocket_ping_timeout;
}

void WebSocketHandler::refuse(int status, std::string_view message) {
  log::gen_log().debug("WebSocket handshake refused ({}): {}", status, message);
  set_status(status);
  static_cast<void>(finish(message));
}

Future<void> WebSocketHandler::get() {
  const HTTPHeaders& headers = request().headers;
  // The checks and answers of Tornado's WebSocketHandler.get, in its order.
  if (lower(headers.get("Upgrade").value_or("")) != "websocket") {
    refuse(400, "Can \"Upgrade\" only to \"WebSocket\".");
    return make_ready_future();
  }
  bool upgrade = false;
  for (const std::string& token :
       detail::split_header_list(headers.get("Connection").value_or(""))) {
    upgrade = upgrade || lower(token) == "upgrade";
  }
  if (!upgrade) {
    refuse(400, "\"Connection\" must be \"Upgrade\".");
    return make_ready_future();
  }
  std::optional<std::string> origin = headers.get("Origin");
  if (!origin) origin = headers.get("Sec-Websocket-Origin");
  if (origin && !check_origin(*origin)) {
    refuse(403, "Cross origin websockets not allowed");
    return make_ready_future();
  }
  if (headers.get("Sec-WebSocket-Version").value_or("") != "13") {
    set_header("Sec-WebSocket-Version", "13");
    refuse(426, "Upgrade Required");
    return make_ready_future();
  }
  std::optional<std::string> key = headers.get("Sec-WebSocket-Key");
  if (!key || !detail::is_valid_websocket_key(*key) || !headers.get("Host")) {
    refuse(400, "Missing/Invalid WebSocket headers");
    return make_ready_future();
  }
  return accept();
}

Future<void> WebSocketHandler::accept() {
  const HTTPHeaders& headers = request().headers;
  std::vector<std::string> offered;
  for (const std::string& value : headers.get_list("Sec-WebSocket-Protocol")) {
    for (std::string& protocol : detail::split_header_list(value)) {
      offered.push_back(std::move(protocol));
    }
  }
  if (std::optional<std::string> chosen = select_subprotocol(offered)) {
    if (std::find(offered.begin(), offered.end(), *chosen) == offered.end()) {
      throw ValueError("select_subprotocol chose \"" + *chosen +
                       "\", which the client did not offer");
    }
    selected_subprotocol_ = std::make_unique<const std::optional<std::string>>(std::move(chosen));
  }

  detail::WebSocketParams params;
  params.role = detail::Role::server;
  params.max_message_size = max_message_size();
  params.ping_interval = ping_interval();
  params.ping_timeout = ping_timeout();
  std::string extension_response;
  if (std::optional<WebSocketCompressionOptions> compression = get_compression_options()) {
    std::string offers;
    for (const std::string& value : headers.get_list("Sec-WebSocket-Extensions")) {
      if (!offers.empty()) offers.append(", ");
      offers.append(value);
    }
    if (!offers.empty()) {
      if (std::optional<detail::DeflateAgreement> agreed = detail::negotiate_deflate(offers)) {
        params.deflate = agreed->params;
        params.compression = *compression;
        extension_response = std::move(agreed->response);
      }
    }
  }

  clear_header("Content-Type");
  set_status(101);
  set_header("Upgrade", "websocket");
  set_header("Connection", "Upgrade");
  set_header("Sec-WebSocket-Accept",
             detail::websocket_accept_key(*headers.get("Sec-WebSocket-Key")));
  if (selected_subprotocol_) set_header("Sec-WebSocket-Protocol", **selected_subprotocol_);
  if (!extension_response.empty()) set_header("Sec-WebSocket-Extensions", extension_response);
  static_cast<void>(finish());
  if (!request().connection || request().connection->closed()) return make_ready_future();
  std::unique_ptr<IOStream> stream = request().connection->detach();
  // Neither the HTTP connection's state nor the response's is needed any more: an idle
  // WebSocket should cost little.
  request().connection.reset();
  detail::HandlerAccess::release_response(*this);
  connection_ =
      std::make_shared<detail::HandlerConnection>(*this, std::move(stream), std::move(params));
  registry_ = &application();
  next_socket_ = registry_->websockets_;
  if (next_socket_ != nullptr) next_socket_->prev_socket_ = this;
  registry_->websockets_ = this;
  ++registry_->websocket_count_;

  std::optional<Future<void>> opened;
  try {
    Future<void> open_result = open();
    if (!open_result.done() || open_result.exception()) opened = open_result;
  } catch (...) {
    // As a failure of a suspended open(): the read loop logs it and fails the connection (1011)
    // before any message is delivered.
    opened = make_exceptional_future<void>(std::current_exception());
  }
  // The read loop runs by itself; once this Future completes, retain() hands the handler to the
  // connection (so no coroutine frame of the request stays behind for the connection's life).
  static_cast<void>(connection_->run(std::move(opened)));
  return make_ready_future();
}

void WebSocketHandler::retain(std::unique_ptr<RequestHandler>& owned) {
  if (connection_) static_cast<void>(connection_->adopt(owned));
}

Future<void> WebSocketHandler::write_message(std::string_view message, bool binary) {
  if (!connection_) {
    throw InvalidStateError("write_message before the WebSocket is open");
  }
  return connection_->write_message(message, binary);
}

Future<void> WebSocketHandler::write_message(const nlohmann::json& message) {
  return write_message(message.dump(), false);
}

void WebSocketHandler::close(std::optional<int> code, std::string_view reason) {
  if (connection_) connection_->close(code, reason);
}

void WebSocketHandler::ping(std::string_view data) {
  if (!connection_) throw WebSocketClosedError("ping before the WebSocket is open");
  connection_->ping(data);
}

std::optional<int> WebSocketHandler::close_code() const noexcept {
  return connection_ ? connection_->close_code() : std::nullopt;
}

const std::string& WebSocketHandler::close_reason() const noexcept {
  static const std::string kEmpty;
  return connection_ ? connection_->close_reason() : kEmpty;
}

bool WebSocketHandler::is_closing() const noexcept {
  return !connection_ || connection_->is_closing();
}

void WebSocketHandler::set_nodelay(bool value) {
  if (connection_) connection_->stream().set_nodelay(value);
}

}  // namespace squall::web
