#pragma once
// The client side of websocket_bench: a raw-socket epoll client (not squall's websocket_connect),
// so that it costs the measurement little CPU and memory. The handshake by hand (a random
// Sec-WebSocket-Key, 101 and Sec-WebSocket-Accept checked), client frames masked as RFC 6455
// requires (mask keys from a xorshift generator seeded by the OS: unpredictable enough for a
// benchmark, though RFC 6455 asks for a strong source), level-triggered epoll, one recv and at
// most one send per ready connection. Every echo is checked byte for byte; anything unexpected
// ends the program through fail().

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace squall::bench::ws {

/// The size of every message the client sends, in bytes.
inline constexpr std::size_t kPayloadSize = 64;

/// Prints "websocket_bench: <what>" on stderr (after flushing stdout) and exits with 1.
[[noreturn]] void fail(const std::string& what);

/// One connection of the Client and where it stands.
struct Conn {
  int fd = -1;
  enum State : std::uint8_t { kConnecting, kHandshaking, kOpen, kClosing, kClosed } state = kClosed;
  bool want_write = false;      // EPOLLOUT is on: `pending` waits for the socket
  std::uint64_t sent = 0;       // messages sent
  std::uint64_t received = 0;   // echoes received and checked
  std::string expected_accept;  // during the handshake
  std::string partial;          // a response head or frame not yet whole
  std::string pending;          // output the socket did not take yet
};

/// WebSocket connections to ws://127.0.0.1:<port>/echo, numbered from 0 in the order opened,
/// driven by one epoll set. Any failure (refused handshake, wrong echo, lost connection, timeout)
/// calls fail().
class Client {
 public:
  /// Creates the epoll set; connects nothing yet.
  explicit Client(std::uint16_t port);
  /// Resets whatever connection is still open.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Echoes received and checked so far, over all connections.
  std::uint64_t echoes() const { return echoes_; }
  /// Whether each echo sends the next message (the throughput run) or not (draining, idling).
  void set_resend(bool resend) { resend_ = resend; }

  /// Opens `count` more connections and completes their handshakes, at most `in_flight` at a
  /// time; fails the program if any cannot be opened.
  void open(std::size_t count, std::size_t in_flight, double timeout_s);

  /// Sends `count` messages on connection `i`.
  void send_messages(std::size_t i, std::size_t count);

  /// Waits up to `timeout_ms` for events and handles them.
  void poll_once(int timeout_ms);

  /// Messages sent and not yet echoed, over connections [first, last).
  std::uint64_t outstanding(std::size_t first, std::size_t last) const;

  /// Waits until every message sent on [first, last) is echoed.
  void drain(std::size_t first, std::size_t last, double timeout_s);

  /// Closes [first, last) with a close handshake (code 1000), waiting for the server to close.
  void close_politely(std::size_t first, std::size_t last, double timeout_s);

  /// Closes every connection with a reset (SO_LINGER 0: no TIME_WAIT left behind).
  void abort_all();

 private:
  void start_connect(std::size_t i);
  void on_connected(std::size_t i, std::uint32_t events);
  std::string_view check_handshake(std::size_t i, std::string_view head);
  void on_readable(std::size_t i);
  std::size_t parse_frames(std::size_t i, std::string_view data, std::string& out);
  void append_message(std::size_t i, std::string& out);
  void append_frame(std::string& out, int opcode, std::string_view payload);
  void send_on(std::size_t i, std::string_view data);
  void flush_pending(std::size_t i);
  void watch_write(std::size_t i, bool on);
  void close_conn(std::size_t i);
  std::uint64_t next_random();

  std::uint16_t port_;
  int epoll_ = -1;
  std::uint64_t rng_;
  std::vector<Conn> conns_;
  std::size_t opened_ = 0;
  std::uint64_t echoes_ = 0;
  bool resend_ = false;
  char scratch_[65536];
};

}  // namespace squall::bench::ws
