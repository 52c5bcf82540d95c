#pragma once
// One open WebSocket over an IOStream, for either side: the read loop (messages delivered one at
// a time), framing and compression of what is sent, the close handshake, and pings. The server's
// WebSocketHandler and the client's connection state both drive one.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/loop_close_hook.hpp"
#include "squall/core/concurrent.hpp"
#include "squall/core/ioloop.hpp"
#include "squall/net/iostream.hpp"
#include "squall/web/websocket.hpp"
#include "web/websocket_protocol.hpp"

namespace squall::web::detail {

/// What a connection tells its owner. Calls come on the loop's thread, never after
/// `WebSocketConnection::set_events(nullptr)`.
class WebSocketEvents {
 public:
  virtual ~WebSocketEvents() = default;
  /// A whole message; the next one waits for the returned Future.
  virtual Future<void> on_message(WebSocketMessage message) = 0;
  virtual void on_ping(std::string_view data) = 0;
  virtual void on_pong(std::string_view data) = 0;
  /// The stream closed; called once.
  virtual void on_close() = 0;
};

/// How a connection behaves, fixed by the handshake.
struct WebSocketParams {
  Role role = Role::server;  // the side this connection is
  std::uint64_t max_message_size = std::uint64_t{10} << 20;
  std::chrono::milliseconds ping_interval{0};
  std::chrono::milliseconds ping_timeout{0};  // zero: three intervals, at least 30 s
  std::optional<DeflateParameters> deflate;   // negotiated permessage-deflate, if any
  WebSocketCompressionOptions compression;
};

class WebSocketConnection : public std::enable_shared_from_this<WebSocketConnection>,
                            private WebSocketParserDelegate,
                            private squall::detail::LoopCloseHook {
 public:
  /// How long the close handshake may take before the stream is closed anyway.
  static constexpr std::chrono::seconds kCloseTimeout{5};

  WebSocketConnection(std::unique_ptr<IOStream> stream, WebSocketParams params);
  ~WebSocketConnection() override;
  WebSocketConnection(const WebSocketConnection&) = delete;
  WebSocketConnection& operator=(const WebSocketConnection&) = delete;

  /// Where events go (null: nowhere). The owner clears it before it is destroyed.
  void set_events(WebSocketEvents* events) noexcept { events_ = events; }

  /// Starts reading and delivering messages until the stream closes; the adopted handler is let
  /// go once `on_close` ran and no message is being handled. Call once. `opened` (if given)
  /// holds messages back until done.
  void run(std::optional<Future<void>> opened = std::nullopt);

  /// Sends a message (see WebSocketHandler::write_message).
  Future<void> write_message(std::string_view message, bool binary);
  void ping(std::string_view data);
  /// Starts the close handshake (see WebSocketHandler::close).
  void close(std::optional<int> code, std::string_view reason);
  /// Closes the stream now.
  void abort() noexcept;

  std::optional<int> close_code() const noexcept {
    return closing_ ? closing_->code : std::nullopt;
  }
  const std::string& close_reason() const noexcept;
  /// A close frame was sent or the stream is closed.
  bool is_closing() const noexcept { return close_sent_ || stream_->closed(); }
  IOStream& stream() noexcept { return *stream_; }
  /// Completes once the stream is closed and `on_close` has run.
  Future<void> closed() {
    if (close_notified_) return make_ready_future();
    Closing& c = closing();
    if (!c.closed) c.closed.emplace();
    return *c.closed;
  }
  /// Keeps `owner` (the handler) alive until the connection has closed and `on_close` has run;
  /// false (and `owner` untouched) when that is already the case.
  bool adopt(std::unique_ptr<RequestHandler>& owner) {
    if (close_notified_) return false;
    owner_ = std::move(owner);
    return true;
  }

 private:
  // WebSocketParserDelegate
  void on_message(Opcode opcode, std::string& data) override;
  void on_ping(std::string_view payload) override;
  void on_pong(std::string_view payload) override;
  void on_close(std::optional<std::uint16_t> code, std::string_view reason) override;
  // Calls an event with a control frame's payload; an exception is logged, not propagated.
  void notify(const char* what, void (WebSocketEvents::*event)(std::string_view),
              std::string_view payload);

  // Appends a frame to the output; sends it unless a batch of input is being handled.
  Future<void> send_frame(Opcode opcode, std::string_view payload, bool rsv1);
  // Hands the output to the stream; the batch's Future follows the write.
  Future<void> flush_out();
  // Sends a close frame (if none was sent) and closes the stream once it is written.
  void fail(std::uint16_t code, std::string_view reason);
  void close_after_write(Future<void> written);
  // Our close frame was sent (maybe still buffered): closes the stream once it is written.
  void close_after_sent();
  enum class Next { read, handler, done };
  // Handles what is buffered; says what the read loop awaits next (more input, or the Future of
  // a message handler left in handler_wait_), or that the stream is closed.
  Next step();
  // The read loop: steps until it must wait, then waits with a callback (resume_after).
  void pump();
  // Pumps again once `awaited` is done; a failure goes through loop_failed first.
  template <class T>
  void resume_after(const Future<T>& awaited);
  // Handles a failure the loop met; false if the loop is over (the stream closed).
  bool loop_failed(std::exception_ptr error);
  // The stream closed: sends what is left and lets the handler go once on_close ran.
  void end_loop();
  // After the messages of one read: answers a close frame, sends what they wrote, reports a
  // protocol error.
  void end_batch();
  // A handler threw: logged, and the connection is closed with 1011.
  void handler_failed(std::exception_ptr error);
  void on_stream_close();
  // The loop closes with the connection open: the pending read's callback and the adopted
  // handler, which keep this connection alive, let go (a coroutine's frame would be destroyed).
  void on_loop_close() noexcept override;
  // Answers the peer's close frame: with ours if we sent none, then closes the stream.
  void answer_close();
  void schedule_ping();
  void on_ping_timer();
  void fill_mask(MaskKey& key);

  std::unique_ptr<IOStream> stream_;
  WebSocketEvents* events_ = nullptr;
  IOLoop& loop_;
  std::unique_ptr<Compressor> compressor_;
  std::unique_ptr<Decompressor> decompressor_;
  WebSocketParser parser_;

  // Parsed from one read, not yet delivered (a vector: an empty deque would still allocate).
  std::vector<WebSocketMessage> pending_;
  std::size_t next_pending_ = 0;
  std::unique_ptr<ProtocolError> feed_error_;  // rare: kept off the idle footprint
  std::optional<Future<void>> handler_wait_;
  std::unique_ptr<RequestHandler> owner_;
  std::string out_;
  std::optional<Future<void>> batch_;  // the Future of frames held for the end of a batch
  // Keep-alive pings, when the params ask for them (Tornado's default is none).
  struct Pinging {
    std::chrono::milliseconds interval;
    std::chrono::milliseconds timeout;  // effective: never zero
    TimeoutHandle timer;
    IOLoop::time_point last_ping{};
    IOLoop::time_point last_pong{};
  };
  std::unique_ptr<Pinging> pinging_;
  // The closing handshake's state: made when it begins (or someone waits for the end), so an
  // open connection does not carry it.
  struct Closing {
    std::optional<Future<void>> written;  // our close frame's write
    std::optional<int> code;              // the peer's close frame's
    std::string reason;
    std::optional<Future<void>> closed;  // made when someone waits
    TimeoutHandle timer;                 // how long the peer may take to answer our close
  };
  Closing& closing() {
    if (!closing_) closing_ = std::make_unique<Closing>();
    return *closing_;
  }
  std::unique_ptr<Closing> closing_;

  // The flags together (an idle connection's size matters: thousands are open at once).
  bool client_;              // this side masks its frames
  bool batch_open_ = false;  // messages of the last read are being delivered
  bool dispatching_ = false;
  bool close_sent_ = false;
  bool close_received_ = false;
  bool close_timer_armed_ = false;
  bool ping_timer_armed_ = false;
  bool close_notified_ = false;
};

/// The Sec-WebSocket-Accept value for a Sec-WebSocket-Key (RFC 6455 §4.2.2).
std::string websocket_accept_key(std::string_view key);

/// Whether `key` is a valid Sec-WebSocket-Key: the base64 of 16 bytes.
bool is_valid_websocket_key(std::string_view key);

/// The comma-separated tokens of a header value, trimmed, empty ones dropped.
std::vector<std::string> split_header_list(std::string_view value);

}  // namespace squall::web::detail
