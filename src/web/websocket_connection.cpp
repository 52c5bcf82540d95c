// One open WebSocket: the read loop, framing of what is sent, the close handshake and pings.

#include "web/websocket_connection.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cstring>

#include <spdlog/spdlog.h>

#include "squall/util/log.hpp"
#include "util/utf8.hpp"

namespace squall::web::detail {
namespace {

constexpr std::string_view kAcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// Three intervals, at least 30 s: how long a pong may take when no timeout is set (Tornado's).
std::chrono::milliseconds effective_ping_timeout(const WebSocketParams& params) {
  if (params.ping_timeout.count() > 0) return params.ping_timeout;
  return std::max(params.ping_interval * 3, std::chrono::milliseconds(30000));
}

}  // namespace

std::string websocket_accept_key(std::string_view key) {
  std::string input(key);
  input.append(kAcceptGuid);
  std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
  std::string out(4 * ((SHA_DIGEST_LENGTH + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), digest.data(),
                          SHA_DIGEST_LENGTH);
  out.resize(static_cast<std::size_t>(n));
  return out;
}

bool is_valid_websocket_key(std::string_view key) {
  // 16 bytes in base64: 22 characters of the alphabet and "==".
  if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
  for (std::size_t i = 0; i < 22; ++i) {
    char c = key[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/';
    if (!ok) return false;
  }
  // The last character before the padding carries 2 bits: its low 4 bits must be zero.
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  return (kAlphabet.find(key[21]) & 0xF) == 0;
}

std::vector<std::string> split_header_list(std::string_view value) {
  std::vector<std::string> items;
  while (!value.empty()) {
    std::size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return items;
}

namespace {

std::unique_ptr<Compressor> make_compressor(const WebSocketParams& params) {
  if (!params.deflate) return nullptr;
  const DeflateParameters& d = *params.deflate;
  const bool server = params.role == Role::server;
  return std::make_unique<Compressor>(
      server ? d.server_max_window_bits : d.client_max_window_bits,
      server ? d.server_no_context_takeover : d.client_no_context_takeover,
      params.compression.compression_level, params.compression.mem_level);
}

std::unique_ptr<Decompressor> make_decompressor(const WebSocketParams& params) {
  if (!params.deflate) return nullptr;
  const DeflateParameters& d = *params.deflate;
  return std::make_unique<Decompressor>(params.role == Role::server ? d.client_no_context_takeover
                                                                    : d.server_no_context_takeover);
}

// Marks a Future's failure as seen: errors of writes nobody awaits show up as the connection's
// close, not as log noise.
Future<void> quiet(Future<void> future) {
  if (future.done()) {
    static_cast<void>(future.exception());
  } else {
    future.add_done_callback([](const Future<void>& done) { static_cast<void>(done.exception()); });
  }
  return future;
}

}  // namespace

WebSocketConnection::WebSocketConnection(std::unique_ptr<IOStream> stream, WebSocketParams params)
    : stream_(std::move(stream)),
      loop_(IOLoop::current()),
      compressor_(make_compressor(params)),
      decompressor_(make_decompressor(params)),
      parser_(params.role,
              static_cast<std::size_t>(std::min<std::uint64_t>(params.max_message_size, SIZE_MAX)),
              decompressor_.get()),
      pinging_(params.ping_interval.count() > 0
                   ? std::make_unique<Pinging>(
                         Pinging{params.ping_interval, effective_ping_timeout(params), {}, {}, {}})
                   : nullptr),
      client_(params.role == Role::client) {}

WebSocketConnection::~WebSocketConnection() {
  if (close_timer_armed_) loop_.remove_timeout(closing_->timer);
  if (ping_timer_armed_) loop_.remove_timeout(pinging_->timer);
  stream_->set_close_callback({});
  stream_->close();
}

void WebSocketConnection::run(std::optional<Future<void>> opened) {
  // No coroutine: the loop's state lives in members, step() does the work, and a pending read
  // holds the connection through its callback. An idle connection keeps no frame.
  stream_->set_close_callback([weak = weak_from_this()] {
    if (auto conn = weak.lock()) conn->on_stream_close();
  });
  link_to(loop_);
  if (pinging_) {
    pinging_->last_ping = pinging_->last_pong = loop_.time();
    schedule_ping();
  }
  if (opened) {
    resume_after(*opened);
    return;
  }
  pump();
}

template <class T>
void WebSocketConnection::resume_after(const Future<T>& awaited) {
  awaited.add_done_callback([self = shared_from_this()](const Future<T>& done) {
    std::exception_ptr error;
    try {
      error = done.exception();
    } catch (...) {  // cancelled
      error = std::current_exception();
    }
    if (error && !self->loop_failed(std::move(error))) return;
    self->pump();
  });
}

bool WebSocketConnection::loop_failed(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const StreamClosedError&) {
    if (stream_->closed()) {
      end_loop();
      return false;
    }
  } catch (...) {
  }
  handler_failed(std::move(error));  // a handler's own failure, or its own stream error
  return true;
}

void WebSocketConnection::pump() {
  for (;;) {
    try {
      const Next next = step();
      if (next == Next::done) break;
      if (next == Next::read) {
        resume_after(stream_->fill_buffer(stream_->read_buffer_size() + 1));
      } else {
        Future<void> handled = std::move(*handler_wait_);
        handler_wait_.reset();
        resume_after(handled);
      }
      return;
    } catch (...) {
      if (!loop_failed(std::current_exception())) return;
    }
  }
  end_loop();
}

void WebSocketConnection::end_loop() {
  dispatching_ = false;
  static_cast<void>(flush_out());
  if (close_notified_) {
    owner_.reset();  // the handler that lived as long as the connection
    return;
  }
  closed().add_done_callback([self = shared_from_this()] { self->owner_.reset(); });
}

WebSocketConnection::Next WebSocketConnection::step() {
  for (;;) {
    if (stream_->closed()) return Next::done;
    if (batch_open_) {
      // Deliver the messages of the last read one at a time; one that suspends is awaited.
      dispatching_ = true;
      while (next_pending_ < pending_.size()) {
        WebSocketMessage message = std::move(pending_[next_pending_++]);
        if (events_ == nullptr) continue;
        Future<void> handled = events_->on_message(std::move(message));
        if (!handled.done()) {
          dispatching_ = false;
          static_cast<void>(flush_out());
          handler_wait_ = std::move(handled);
          return Next::handler;
        }
        if (std::exception_ptr error = handled.exception()) std::rethrow_exception(error);
        if (stream_->closed()) return Next::done;
        dispatching_ = true;
      }
      end_batch();
      continue;
    }
    std::string_view data = stream_->buffered();
    if (data.empty() || parser_.closed() || parser_.failed()) {
      // After a close frame or an error only the stream's end is awaited (bytes are dropped).
      if (!data.empty()) stream_->consume(data.size());
      return Next::read;
    }
    dispatching_ = true;
    FeedResult fed = parser_.feed(data, *this);
    stream_->consume(fed.consumed);
    if (fed.error) feed_error_ = std::make_unique<ProtocolError>(std::move(*fed.error));
    batch_open_ = true;
    next_pending_ = 0;
  }
}

void WebSocketConnection::end_batch() {
  batch_open_ = false;
  // An empty vector holds no memory: an idle connection keeps none.
  std::vector<WebSocketMessage>().swap(pending_);
  next_pending_ = 0;
  // What the batch wrote goes out first (a close frame of ours included), then the answer.
  dispatching_ = false;
  static_cast<void>(flush_out());
  if (close_received_ && !stream_->closed()) answer_close();
  if (feed_error_) {
    log::gen_log().info("WebSocket protocol error from the peer: {}", feed_error_->message);
    fail(feed_error_->close_code, feed_error_->message);
    feed_error_.reset();
  }
}

void WebSocketConnection::handler_failed(std::exception_ptr error) {
  log::app_log().error("Uncaught exception in a WebSocket handler: {}", log::describe(error));
  batch_open_ = false;
  std::vector<WebSocketMessage>().swap(pending_);
  next_pending_ = 0;
  feed_error_.reset();
  dispatching_ = false;
  fail(1011, "Internal error");
}

// ---- receiving ---------------------------------------------------------------------------------

void WebSocketConnection::on_message(Opcode opcode, std::string& data) {
  pending_.push_back(WebSocketMessage{std::move(data), opcode == Opcode::binary});
}

void WebSocketConnection::on_ping(std::string_view payload) {
  if (!close_sent_) static_cast<void>(quiet(send_frame(Opcode::pong, payload, false)));
  notify("on_ping", &WebSocketEvents::on_ping, payload);
}

void WebSocketConnection::on_pong(std::string_view payload) {
  if (pinging_) pinging_->last_pong = loop_.time();
  notify("on_pong", &WebSocketEvents::on_pong, payload);
}

void WebSocketConnection::notify(const char* what, void (WebSocketEvents::*event)(std::string_view),
                                 std::string_view payload) {
  if (events_ == nullptr) return;
  try {
    (events_->*event)(payload);
  } catch (...) {
    log::app_log().error("Uncaught exception in {}: {}", what,
                         log::describe(std::current_exception()));
  }
}

void WebSocketConnection::on_close(std::optional<std::uint16_t> code, std::string_view reason) {
  close_received_ = true;
  Closing& c = closing();
  if (code) c.code = *code;
  c.reason.assign(reason);
  // Answered once the messages before it are handled (their handlers may still write).
}

void WebSocketConnection::answer_close() {
  if (!close_sent_) {
    // Echo the peer's code (RFC 6455 §5.5.1), then close: the handshake is complete.
    close_sent_ = true;
    Closing& c = closing();
    std::string payload =
        c.code ? make_close_payload(static_cast<std::uint16_t>(*c.code), {}) : std::string();
    c.written = quiet(send_frame(Opcode::close, payload, false));
    close_after_write(*c.written);
    return;
  }
  // We started the handshake and the peer answered: close once our frame is out.
  close_after_sent();
}

void WebSocketConnection::close_after_sent() {
  static_cast<void>(flush_out());
  if (closing_ && closing_->written) {
    close_after_write(*closing_->written);
  } else {
    abort();
  }
}

// ---- sending -----------------------------------------------------------------------------------

void WebSocketConnection::fill_mask(MaskKey& key) {
  // Masking keys from the system's strong random source (RFC 6455 §5.3), drawn in batches.
  thread_local std::array<unsigned char, 512> pool{};
  thread_local std::size_t used = pool.size();
  if (used + key.size() > pool.size()) {
    if (RAND_bytes(pool.data(), static_cast<int>(pool.size())) != 1) {
      throw Error("WebSocket: no random bytes for a masking key");
    }
    used = 0;
  }
  std::memcpy(key.data(), pool.data() + used, key.size());
  used += key.size();
}

Future<void> WebSocketConnection::send_frame(Opcode opcode, std::string_view payload, bool rsv1) {
  const bool mask = client_;
  MaskKey key{};
  if (mask) fill_mask(key);
  std::array<char, kMaxFrameHeaderSize> header{};
  std::size_t header_size =
      write_frame_header(header.data(), opcode, true, rsv1, payload.size(), mask ? &key : nullptr);
  const std::size_t start = out_.size();
  out_.reserve(start + header_size + payload.size());
  out_.append(header.data(), header_size);
  out_.append(payload);
  if (mask) apply_mask(out_.data() + start + header_size, payload.size(), key);
  if (!dispatching_) return flush_out();
  if (!batch_) batch_.emplace();
  return *batch_;
}

Future<void> WebSocketConnection::flush_out() {
  if (out_.empty()) {
    if (batch_) {
      batch_->set_result();
      batch_.reset();
    }
    return make_ready_future();
  }
  if (stream_->closed()) {
    out_.clear();
    auto error = std::make_exception_ptr(WebSocketClosedError());
    if (batch_) {
      batch_->set_exception(error);
      batch_.reset();
    }
    return quiet(make_exceptional_future<void>(error));
  }
  Future<void> written = stream_->write(std::move(out_));
  std::string().swap(out_);  // (assigning an empty string would keep the allocation)
  if (batch_) {
    chain_future(written, *batch_);
    batch_.reset();
  }
  return written;
}

Future<void> WebSocketConnection::write_message(std::string_view message, bool binary) {
  if (is_closing()) throw WebSocketClosedError();
  if (!binary && !squall::detail::is_valid_utf8(message)) {
    throw ValueError("write_message: a text message must be valid UTF-8");
  }
  const Opcode opcode = binary ? Opcode::binary : Opcode::text;
  if (compressor_) return quiet(send_frame(opcode, compressor_->compress(message), true));
  return quiet(send_frame(opcode, message, false));
}

void WebSocketConnection::ping(std::string_view data) {
  if (data.size() > kMaxControlPayload) {
    throw ValueError("ping: the payload may have at most 125 bytes");
  }
  if (is_closing()) throw WebSocketClosedError();
  static_cast<void>(quiet(send_frame(Opcode::ping, data, false)));
}

// ---- closing -----------------------------------------------------------------------------------

void WebSocketConnection::close(std::optional<int> code, std::string_view reason) {
  if (close_sent_ || stream_->closed()) return;
  if (!code && !reason.empty()) code = kCloseNormal;
  std::string payload;
  if (code) {
    if (*code < 0 || *code > 0xFFFF || !is_valid_close_code(static_cast<std::uint16_t>(*code))) {
      throw ValueError("close: " + std::to_string(*code) + " is not a close code that may be sent");
    }
    payload = make_close_payload(static_cast<std::uint16_t>(*code), reason);
  }
  close_sent_ = true;
  closing().written = quiet(send_frame(Opcode::close, payload, false));
  if (close_received_) {
    close_after_write(*closing_->written);
    return;
  }
  // Wait for the peer's close frame, but not forever.
  close_timer_armed_ = true;
  closing_->timer = loop_.call_later(kCloseTimeout, [weak = weak_from_this()] {
    if (auto conn = weak.lock()) {
      conn->close_timer_armed_ = false;
      conn->abort();
    }
  });
}

void WebSocketConnection::fail(std::uint16_t code, std::string_view reason) {
  if (stream_->closed()) return;
  if (close_sent_) {
    close_after_sent();
    return;
  }
  close_sent_ = true;
  std::string payload = make_close_payload(code, reason);
  closing().written = quiet(send_frame(Opcode::close, payload, false));
  close_after_write(*closing_->written);
}

void WebSocketConnection::close_after_write(Future<void> written) {
  if (written.done()) {
    abort();
    return;
  }
  written.add_done_callback([weak = weak_from_this()](const Future<void>&) {
    if (auto conn = weak.lock()) conn->abort();
  });
}

void WebSocketConnection::abort() noexcept {
  if (!stream_->closed()) stream_->close();
}

const std::string& WebSocketConnection::close_reason() const noexcept {
  static const std::string kNone;
  return closing_ ? closing_->reason : kNone;
}

void WebSocketConnection::on_loop_close() noexcept {
  auto self = weak_from_this().lock();
  if (!self) return;
  std::unique_ptr<RequestHandler> owner = std::move(owner_);
  stream_->set_close_callback({});
  stream_->close();  // the pending read fails: its callback, queued, is dropped with the loop
}

void WebSocketConnection::on_stream_close() {
  if (close_notified_) return;
  close_notified_ = true;
  // Bytes that came with the end of the stream may hold the peer's close frame: its code and
  // reason are recorded (messages can no longer be answered and are dropped).
  if (!batch_open_ && !parser_.closed() && !parser_.failed() && !stream_->buffered().empty()) {
    FeedResult fed = parser_.feed(stream_->buffered(), *this);
    stream_->consume(fed.consumed);
    std::vector<WebSocketMessage>().swap(pending_);
  }
  if (close_timer_armed_) {
    loop_.remove_timeout(closing_->timer);
    close_timer_armed_ = false;
  }
  if (ping_timer_armed_) {
    loop_.remove_timeout(pinging_->timer);
    ping_timer_armed_ = false;
  }
  if (batch_) {
    batch_->set_exception(std::make_exception_ptr(WebSocketClosedError()));
    batch_.reset();
  }
  if (events_ != nullptr) {
    try {
      events_->on_close();
    } catch (...) {
      log::app_log().error("Uncaught exception in on_close: {}",
                           log::describe(std::current_exception()));
    }
  }
  if (closing_ && closing_->closed) closing_->closed->set_result();
}

// ---- pings -------------------------------------------------------------------------------------

void WebSocketConnection::schedule_ping() {
  ping_timer_armed_ = true;
  pinging_->timer = loop_.call_later(pinging_->interval, [weak = weak_from_this()] {
    if (auto conn = weak.lock()) {
      conn->ping_timer_armed_ = false;
      conn->on_ping_timer();
    }
  });
}

void WebSocketConnection::on_ping_timer() {
  if (is_closing()) return;
  const IOLoop::time_point now = loop_.time();
  // A ping went out recently and no pong came back within the timeout: the peer is gone.
  Pinging& p = *pinging_;
  if (now - p.last_ping < 2 * p.interval && now - p.last_pong > p.timeout) {
    log::gen_log().info("WebSocket ping timeout: closing the connection");
    fail(kCloseGoingAway, "ping timeout");
    return;
  }
  static_cast<void>(quiet(send_frame(Opcode::ping, {}, false)));
  p.last_ping = now;
  schedule_ping();
}

}  // namespace squall::web::detail
