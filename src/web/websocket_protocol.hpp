#pragma once
// The WebSocket wire protocol without I/O: RFC 6455 framing (a push parser and a frame writer),
// close codes, and RFC 7692 permessage-deflate (parameter negotiation, compressor and
// decompressor). The handler and the client connection feed bytes in and write bytes out.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/utf8.hpp"

namespace squall::web::detail {

/// Frame opcodes (RFC 6455 §5.2); the others are reserved and refused.
enum class Opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

/// Which side of the connection a parser or writer serves: servers receive masked frames,
/// clients receive unmasked ones.
enum class Role : std::uint8_t { server, client };

/// Close codes this layer sends itself (RFC 6455 §7.4.1).
inline constexpr std::uint16_t kCloseNormal = 1000;
inline constexpr std::uint16_t kCloseGoingAway = 1001;
inline constexpr std::uint16_t kCloseProtocolError = 1002;
inline constexpr std::uint16_t kCloseInvalidData = 1007;
inline constexpr std::uint16_t kClosePolicyViolation = 1008;
inline constexpr std::uint16_t kCloseMessageTooBig = 1009;

/// The largest frame header: 2 bytes, an 8-byte length and a 4-byte mask key.
inline constexpr std::size_t kMaxFrameHeaderSize = 14;

/// The payload limit of control frames (RFC 6455 §5.5).
inline constexpr std::size_t kMaxControlPayload = 125;

/// A 4-byte masking key.
using MaskKey = std::array<std::uint8_t, 4>;

/// Why the peer's input was refused: the close code to send and a message for the log.
struct ProtocolError {
  std::uint16_t close_code = kCloseProtocolError;
  std::string message;
};

/// Whether `code` may appear in a close frame on the wire: 1000-1003, 1007-1014 (the IANA
/// registry's assigned codes, which browsers accept) and 3000-4999. 1004-1006 and 1015 are
/// reserved for local use and never sent.
bool is_valid_close_code(std::uint16_t code) noexcept;

/// Writes the header of a frame into `out` (at least kMaxFrameHeaderSize bytes) and returns
/// its size. The length uses the shortest form. `mask` is written after the length when given;
/// the caller masks the payload itself with apply_mask.
std::size_t write_frame_header(char* out, Opcode opcode, bool fin, bool rsv1, std::uint64_t length,
                               const MaskKey* mask) noexcept;

/// XORs `data` with `key` in place, as if the first byte were at position `offset` of the
/// payload (so a payload can be masked piece by piece). Masking twice restores the data.
void apply_mask(char* data, std::size_t size, const MaskKey& key, std::size_t offset = 0) noexcept;

/// A whole frame (header and masked payload) as one string; convenient for small frames and tests.
std::string build_frame(Opcode opcode, std::string_view payload, bool fin = true, bool rsv1 = false,
                        const MaskKey* mask = nullptr);

/// The payload of a close frame: the code in network order and the reason, cut at a character
/// boundary so the whole fits in 125 bytes. Throws ValueError for a code not valid on the wire.
std::string make_close_payload(std::uint16_t code, std::string_view reason);

class Decompressor;

/// Receives what a WebSocketParser finds, in stream order. Messages come whole (fragments
/// joined, inflated, text validated); control frames may arrive between the fragments of a message.
class WebSocketParserDelegate {
 public:
  virtual ~WebSocketParserDelegate() = default;
  /// A complete text or binary message; `data` may be moved from.
  virtual void on_message(Opcode opcode, std::string& data) = 0;
  /// A ping with its payload (at most 125 bytes).
  virtual void on_ping(std::string_view payload) = 0;
  /// A pong with its payload.
  virtual void on_pong(std::string_view payload) = 0;
  /// A close frame: the code (empty if the frame had none) and the reason. The parser stops here.
  virtual void on_close(std::optional<std::uint16_t> code, std::string_view reason) = 0;
};

/// The result of WebSocketParser::feed.
struct FeedResult {
  /// Bytes taken from the input; less than given only after a close frame or an error.
  std::size_t consumed = 0;
  /// Set when the input broke the protocol; the connection must be closed with its code.
  std::optional<ProtocolError> error;
};

/// A push parser for the frames one peer receives. Feed it bytes as they arrive, split anywhere;
/// it calls the delegate for each message and control frame. It holds at most one message
/// (bounded by max_message_size) and a frame header, never throws on bad input, and after an
/// error or a close frame it takes no more input.
class WebSocketParser {
 public:
  /// `role` is the side that receives. `decompressor` (borrowed, may be null) enables RSV1
  /// (permessage-deflate); without it RSV1 is a protocol error. `max_message_size` bounds each
  /// message, counted over its fragments both on the wire and after inflation (1009 past it).
  WebSocketParser(Role role, std::size_t max_message_size, Decompressor* decompressor = nullptr);

  /// Consumes `data`, calling `delegate` for what it completes.
  FeedResult feed(std::string_view data, WebSocketParserDelegate& delegate);

  /// True once a close frame was received (the parser takes no more input).
  bool closed() const noexcept { return closed_; }
  /// True once an error was returned (the parser takes no more input).
  bool failed() const noexcept { return failed_; }

 private:
  enum class State : std::uint8_t { header, payload };

  std::optional<ProtocolError> start_frame();
  std::optional<ProtocolError> take_payload(std::string_view piece);
  std::optional<ProtocolError> finish_frame(WebSocketParserDelegate& delegate);
  std::optional<ProtocolError> finish_control(WebSocketParserDelegate& delegate);
  std::optional<ProtocolError> append_message(std::string_view data);
  std::optional<ProtocolError> fail(std::uint16_t code, std::string message);

  std::size_t max_message_size_;
  Decompressor* decompressor_;
  std::uint64_t payload_length_ = 0;  // of the frame being read
  std::uint64_t payload_read_ = 0;
  std::uint64_t message_wire_size_ = 0;   // of the message being assembled
  std::unique_ptr<std::string> control_;  // a control frame's payload (<= 125 bytes), while read
  std::string message_;
  squall::detail::Utf8Validator utf8_;

  // The small fields together: thousands of idle connections each hold a parser.
  std::array<char, kMaxFrameHeaderSize> header_{};  // the frame being read
  std::uint8_t header_size_ = 0;
  MaskKey mask_{};
  Role role_;
  State state_ = State::header;
  bool closed_ = false;
  bool failed_ = false;
  bool fin_ = false;
  bool rsv1_ = false;
  Opcode opcode_ = Opcode::continuation;
  bool masked_ = false;
  bool in_message_ = false;  // the message being assembled
  Opcode message_opcode_ = Opcode::text;
  bool message_compressed_ = false;
};

/// permessage-deflate parameters (RFC 7692 §7.1). Window bits are 8-15.
struct DeflateParameters {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int server_max_window_bits = 15;
  int client_max_window_bits = 15;
};

/// One extension of a Sec-WebSocket-Extensions header: its name and its parameters in order
/// (a parameter without a value has none; quoted values are unquoted).
struct ExtensionOffer {
  std::string name;
  std::vector<std::pair<std::string, std::optional<std::string>>> params;
};

/// Parses a Sec-WebSocket-Extensions header value (RFC 6455 §9.1). Throws ValueError when
/// the value is malformed.
std::vector<ExtensionOffer> parse_extension_header(std::string_view header);

/// The server's agreement to a client's permessage-deflate offer.
struct DeflateAgreement {
  DeflateParameters params;
  std::string response;  // the Sec-WebSocket-Extensions value to send back
};

/// The server side of the negotiation, as Tornado does it: takes the first permessage-deflate
/// offer whose parameters are known, unrepeated and valid, and agrees to what it asks (context
/// takeover as the client requests; a valueless client_max_window_bits is not echoed). Returns
/// nothing when no offer is acceptable or the header is malformed (compression stays off).
std::optional<DeflateAgreement> negotiate_deflate(std::string_view offers_header);

/// The client's offer: permessage-deflate with the parameters that differ from the defaults,
/// plus a valueless client_max_window_bits (we accept any window the server picks for us).
std::string deflate_offer(const DeflateParameters& requested);

/// The client side: validates the server's Sec-WebSocket-Extensions response to the offer made
/// from `offered` and returns the agreed parameters, or nothing when the response names no
/// extension. Throws ValueError when the response is malformed, names another extension, or
/// loosens what was offered (the client must then fail the connection).
std::optional<DeflateParameters> accept_deflate_response(std::string_view response_header,
                                                         const DeflateParameters& offered);

/// Compresses outgoing messages (raw deflate, RFC 7692 §7.2.1): the trailing 0x00 0x00 0xff
/// 0xff of each flushed message is removed. `max_window_bits` is our side's window.
class Compressor {
 public:
  /// `level` and `mem_level` are zlib's (0-9, 1-9); deflateInit2 refuses others (Error).
  Compressor(int max_window_bits, bool no_context_takeover, int level = 6, int mem_level = 8);
  ~Compressor();
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;

  /// The compressed payload of one whole message.
  std::string compress(std::string_view message);

 private:
  struct Stream;
  std::unique_ptr<Stream> stream_;
  bool no_context_takeover_;
};

/// Inflates incoming messages piece by piece, bounded: it stops as soon as a message's output
/// would pass the limit, so a small compressed frame cannot expand without bound.
class Decompressor {
 public:
  /// What a call found.
  enum class Status { ok, too_big, bad_data };

  /// `no_context_takeover`: the peer resets its compressor after each message, so we do too.
  explicit Decompressor(bool no_context_takeover);
  ~Decompressor();
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  /// Inflates `input` (part of one message) and appends to `out`, which must not grow past `limit`.
  Status decompress(std::string_view input, std::string& out, std::size_t limit);
  /// Ends the message (feeds the removed 0x00 0x00 0xff 0xff tail).
  Status finish_message(std::string& out, std::size_t limit);

 private:
  struct Stream;
  std::unique_ptr<Stream> stream_;
  bool no_context_takeover_;
};

}  // namespace squall::web::detail
