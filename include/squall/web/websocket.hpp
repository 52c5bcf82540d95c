#pragma once
/// \file
/// WebSockets (RFC 6455, with RFC 7692 permessage-deflate), Tornado's `websocket` module: the
/// server side as a `WebSocketHandler` that a route serves like any handler, and the client side
/// as `websocket_connect`.
///
///     class EchoSocket : public squall::web::WebSocketHandler {
///      public:
///       squall::Future<void> on_message(squall::web::WebSocketMessage message) override {
///         write_message("You said: " + message.data);
///         co_return;
///       }
///     };
///     // Application app({{"/ws", squall::web::handler<EchoSocket>()}});
///
///     squall::web::WebSocketClientConnection conn =
///         co_await squall::web::websocket_connect("ws://localhost:8888/ws");
///     co_await conn.write_message("hello");
///     std::optional<squall::web::WebSocketMessage> reply = co_await conn.read_message();
///
/// Both sides run on the loop's thread. A peer that breaks the protocol is sent a close frame with
/// the matching code (1002 protocol error, 1007 invalid UTF-8 in a text message, 1009 a message
/// over `max_message_size`) and the connection is closed.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "squall/core/concurrent.hpp"
#include "squall/http/httpclient.hpp"
#include "squall/util/error.hpp"
#include "squall/web/request_handler.hpp"

namespace squall::web {

class Application;
class WebSocketHandler;

namespace detail {
class WebSocketConnection;
}  // namespace detail

/// One whole message: text (valid UTF-8) or binary.
struct WebSocketMessage {
  std::string data;
  bool binary = false;
};

/// Writing to, or pinging, a WebSocket that is closed or closing (Tornado's
/// `WebSocketClosedError`). A write's Future fails with it when the connection closes before
/// the message could be sent.
class WebSocketClosedError : public Error {
 public:
  using Error::Error;
  WebSocketClosedError() : Error("WebSocket is closed") {}
};

/// permessage-deflate (RFC 7692) settings of our compressor. The window sizes and context
/// takeover are negotiated with the peer (a server agrees to what the client asks); these only
/// set how hard our side works.
struct WebSocketCompressionOptions {
  int compression_level = 6;  // zlib's 0-9 (Z_DEFAULT_COMPRESSION's level)
  int mem_level = 8;          // zlib's 1-9
};

/// The server side of a WebSocket (Tornado's `WebSocketHandler`). Route a URL to a subclass;
/// a GET there that asks to upgrade is answered with 101 Switching Protocols, then the handler
/// lives, receiving messages, until the connection closes:
/// - `open()` runs first (it may suspend; no message is delivered until it completes);
/// - `on_message()` for each message, one at a time and in order (the next waits for the
///   Future of the one before);
/// - `on_close()` once, when the connection closes, for whatever reason.
///
/// The handshake refuses, as Tornado: a request without `Upgrade: websocket` (400 "Can
/// \"Upgrade\" only to \"WebSocket\"."), without `Connection: upgrade` (400), with a version
/// other than 13 (426 with `Sec-WebSocket-Version: 13`), without a valid Sec-WebSocket-Key
/// (400), from an origin `check_origin` refuses (403), or with a method other than GET (405).
/// `prepare()` may refuse too, as in any handler (a 401 or a redirect); anything it writes
/// before the upgrade is a normal HTTP response.
///
/// The application settings `websocket_ping_interval`, `websocket_ping_timeout` and
/// `websocket_max_message_size` apply (see `Settings`).
class WebSocketHandler : public RequestHandler {
 public:
  WebSocketHandler();
  ~WebSocketHandler() override;

  /// The handshake. Its Future completes once the connection is open; the handler then lives on
  /// (owned by the connection) until the connection has closed and `on_close()` has run. Not
  /// overridable.
  Future<void> get() final;

  // --- What a subclass overrides -------------------------------------------------------------

  /// The connection is open (the path's groups are in `path_args()` / `path_kwargs()`). May
  /// suspend; messages wait until it completes. An exception closes the connection (1011).
  virtual Future<void> open();
  /// A message arrived. May suspend; the next message waits until it completes. An exception
  /// closes the connection with 1011 (internal error) and is logged.
  virtual Future<void> on_message(WebSocketMessage message) = 0;
  /// The connection closed (by either side, or because it broke); runs once. `close_code()` and
  /// `close_reason()` give what the peer's close frame said, if it sent one.
  virtual void on_close() {}
  /// A ping arrived (the pong is sent already).
  virtual void on_ping(std::string_view data);
  /// A pong arrived.
  virtual void on_pong(std::string_view data);
  /// Picks one of the subprotocols the client offered (Sec-WebSocket-Protocol, in its order), or
  /// none. The default picks none.
  virtual std::optional<std::string> select_subprotocol(
      const std::vector<std::string>& subprotocols);
  /// Whether to accept a connection from a page of `origin` (the Origin header; a request
  /// without one, from a client that is not a browser, is always accepted). The default accepts
  /// only the same host: the origin's host and port equal the request's Host header (case aside).
  /// Override it to allow other sites; a refused origin gets 403.
  virtual bool check_origin(std::string_view origin);
  /// The compression to use when the client offers permessage-deflate, or none (the default:
  /// compression off). The client's window sizes and context takeover are honoured.
  virtual std::optional<WebSocketCompressionOptions> get_compression_options();
  /// The largest message accepted; past it the connection closes with 1009. The default is the
  /// `websocket_max_message_size` setting (10 MiB).
  virtual std::uint64_t max_message_size();
  /// The ping interval (zero: no pings): the `websocket_ping_interval` setting by default.
  virtual std::chrono::milliseconds ping_interval();
  /// How long after a ping without any pong the connection is closed as dead: the
  /// `websocket_ping_timeout` setting, or when that is zero, three intervals (at least 30 s).
  virtual std::chrono::milliseconds ping_timeout();

  // --- What a handler calls ------------------------------------------------------------------

  /// Sends a text (UTF-8) or binary message. The Future completes once the message is handed to
  /// the kernel: await it to stop a fast producer from queueing without bound. Throws
  /// WebSocketClosedError when the connection is closed or closing, ValueError for a text
  /// message that is not valid UTF-8, InvalidStateError before the connection is open.
  Future<void> write_message(std::string_view message, bool binary = false);
  Future<void> write_message(const std::string& message, bool binary = false) {
    return write_message(std::string_view(message), binary);
  }
  Future<void> write_message(const char* message, bool binary = false) {
    return write_message(std::string_view(message), binary);
  }
  /// Sends `message` as JSON text (Tornado's dict form).
  Future<void> write_message(const nlohmann::json& message);
  /// Starts the closing handshake: sends a close frame with `code` (and `reason`, at most 123
  /// bytes, cut at a character boundary) and closes the connection once the peer answers, or
  /// after 5 s. With neither code nor reason, the frame carries no code (the peer sees 1005).
  /// Throws ValueError for a code that may not be sent (1004-1006, 1015, outside 1000-4999).
  /// Does nothing once closing.
  void close(std::optional<int> code = std::nullopt, std::string_view reason = {});
  /// Sends a ping with `data` (at most 125 bytes, else ValueError). Throws WebSocketClosedError
  /// when the connection is closed or closing.
  void ping(std::string_view data = {});
  /// The code of the peer's close frame (none before one arrived, or if it had none).
  std::optional<int> close_code() const noexcept;
  /// The reason of the peer's close frame.
  const std::string& close_reason() const noexcept;
  /// The subprotocol `select_subprotocol` chose, if any.
  const std::optional<std::string>& selected_subprotocol() const noexcept;
  /// Whether the connection is closed or closing (no more messages can be sent).
  bool is_closing() const noexcept;
  /// Sets TCP_NODELAY (small messages go out at once rather than coalesced by the kernel).
  void set_nodelay(bool value);

 private:
  friend class Application;
  void retain(std::unique_ptr<RequestHandler>& owned) override;
  Future<void> accept();
  // Refuses the handshake with `status` and `message`.
  void refuse(int status, std::string_view message);
  // Takes this socket off its application's list, if it is on one.
  void unregister() noexcept;

  std::shared_ptr<detail::WebSocketConnection> connection_;
  // Made only when a subprotocol is chosen: most sockets have none, and thousands may be open.
  std::unique_ptr<const std::optional<std::string>> selected_subprotocol_;
  // The application listing this open WebSocket, and the neighbours in its list (intrusive: a
  // registered socket costs no allocation).
  Application* registry_ = nullptr;
  WebSocketHandler* prev_socket_ = nullptr;
  WebSocketHandler* next_socket_ = nullptr;
};

/// How `websocket_connect` connects.
struct WebSocketClientOptions {
  /// Offers permessage-deflate with these settings; none: no compression.
  std::optional<WebSocketCompressionOptions> compression;
  /// The subprotocols to offer (Sec-WebSocket-Protocol), in order of preference.
  std::vector<std::string> subprotocols;
  /// Pings every interval (zero: none); a connection with no pong for `ping_timeout` (zero: three
  /// intervals, at least 30 s) is closed.
  std::chrono::milliseconds ping_interval{0};
  std::chrono::milliseconds ping_timeout{0};
  /// The largest message accepted; past it the connection closes with 1009.
  std::uint64_t max_message_size = std::uint64_t{10} << 20;
  /// The largest handshake response head.
  std::size_t max_header_size = 65536;
  /// Gets each message instead of `read_message`, and once nothing (nullopt) when the
  /// connection closes (Tornado's `on_message_callback`).
  std::function<void(std::optional<WebSocketMessage>)> on_message_callback;
};

/// A client's WebSocket connection (Tornado's `WebSocketClientConnection`): a handle that may be
/// copied; the connection closes when the last handle is destroyed.
class WebSocketClientConnection {
 public:
  WebSocketClientConnection() = default;

  /// The next message, or nullopt once the connection is closed. Messages received while
  /// nobody reads wait in order; the peer is not read from while more than one is waiting
  /// (backpressure). Call it again only once the previous Future completed (else
  /// InvalidStateError).
  Future<std::optional<WebSocketMessage>> read_message();
  /// As WebSocketHandler::write_message.
  Future<void> write_message(std::string_view message, bool binary = false);
  Future<void> write_message(const std::string& message, bool binary = false) {
    return write_message(std::string_view(message), binary);
  }
  Future<void> write_message(const char* message, bool binary = false) {
    return write_message(std::string_view(message), binary);
  }
  Future<void> write_message(const nlohmann::json& message);
  /// As WebSocketHandler::ping.
  void ping(std::string_view data = {});
  /// As WebSocketHandler::close.
  void close(std::optional<int> code = std::nullopt, std::string_view reason = {});
  /// As on WebSocketHandler.
  std::optional<int> close_code() const noexcept;
  const std::string& close_reason() const noexcept;
  /// The subprotocol the server chose, if any.
  const std::optional<std::string>& selected_subprotocol() const noexcept;
  /// The headers of the server's 101 response.
  const HTTPHeaders& headers() const noexcept;
  bool is_closing() const noexcept;
  /// Completes once the connection is closed.
  Future<void> closed() const;

  struct State;

 private:
  friend Future<WebSocketClientConnection> websocket_connect(HTTPRequest, WebSocketClientOptions);
  explicit WebSocketClientConnection(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

/// Opens a WebSocket to `request.url` (`ws://` or `wss://`; `http://` and `https://` are taken
/// as the same). The request's headers are sent with the handshake (an Origin, cookies...);
/// `connect_timeout` (default 20 s) bounds connecting, TLS and the handshake, and
/// `validate_cert`, `ca_certs`, `client_cert` and `client_key` apply to wss. Fails with
/// HTTPClientError(code) when the server answers with another status than 101, with Error
/// when its 101 response is not a valid WebSocket accept (wrong Sec-WebSocket-Accept, an
/// extension or subprotocol not offered), with TimeoutError, or with the connection's error.
Future<WebSocketClientConnection> websocket_connect(HTTPRequest request,
                                                    WebSocketClientOptions options = {});
Future<WebSocketClientConnection> websocket_connect(std::string url,
                                                    WebSocketClientOptions options = {});

}  // namespace squall::web
