#include "web/websocket_protocol.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "squall/util/error.hpp"

namespace squall::web::detail {

namespace {

bool is_control(Opcode opcode) noexcept {
  return (static_cast<std::uint8_t>(opcode) & 0x8) != 0;
}

bool is_known(std::uint8_t opcode) noexcept {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xA);
}

// The header's size once its first two bytes are known.
std::size_t header_size_for(const std::array<char, kMaxFrameHeaderSize>& header) noexcept {
  const auto second = static_cast<std::uint8_t>(header[1]);
  std::size_t size = 2;
  const std::uint8_t length7 = second & 0x7F;
  if (length7 == 126) size += 2;
  if (length7 == 127) size += 8;
  if (second & 0x80) size += 4;
  return size;
}

constexpr char kDeflateTail[] = {'\x00', '\x00', '\xff', '\xff'};

}  // namespace

bool is_valid_close_code(std::uint16_t code) noexcept {
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

std::size_t write_frame_header(char* out, Opcode opcode, bool fin, bool rsv1, std::uint64_t length,
                               const MaskKey* mask) noexcept {
  auto* p = reinterpret_cast<std::uint8_t*>(out);
  p[0] = static_cast<std::uint8_t>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) |
                                   static_cast<std::uint8_t>(opcode));
  const std::uint8_t mask_bit = mask ? 0x80 : 0;
  std::size_t size = 2;
  if (length < 126) {
    p[1] = static_cast<std::uint8_t>(mask_bit | length);
  } else if (length <= 0xFFFF) {
    p[1] = mask_bit | 126;
    p[2] = static_cast<std::uint8_t>(length >> 8);
    p[3] = static_cast<std::uint8_t>(length);
    size = 4;
  } else {
    p[1] = mask_bit | 127;
    for (int i = 0; i < 8; ++i) p[2 + i] = static_cast<std::uint8_t>(length >> (56 - 8 * i));
    size = 10;
  }
  if (mask) {
    std::memcpy(p + size, mask->data(), 4);
    size += 4;
  }
  return size;
}

void apply_mask(char* data, std::size_t size, const MaskKey& key, std::size_t offset) noexcept {
  auto* p = reinterpret_cast<std::uint8_t*>(data);
  std::size_t i = 0;
  // Byte by byte until the key lines up with position 0, then eight bytes at a time.
  while (i < size && (offset + i) % 4 != 0) {
    p[i] ^= key[(offset + i) % 4];
    ++i;
  }
  std::uint8_t key8[8];
  for (int k = 0; k < 8; ++k) key8[k] = key[k % 4];
  std::uint64_t word_key;
  std::memcpy(&word_key, key8, 8);
  for (; size - i >= 8; i += 8) {
    std::uint64_t word;
    std::memcpy(&word, p + i, 8);
    word ^= word_key;
    std::memcpy(p + i, &word, 8);
  }
  for (; i < size; ++i) p[i] ^= key[(offset + i) % 4];
}

std::string build_frame(Opcode opcode, std::string_view payload, bool fin, bool rsv1,
                        const MaskKey* mask) {
  char header[kMaxFrameHeaderSize];
  const std::size_t header_size =
      write_frame_header(header, opcode, fin, rsv1, payload.size(), mask);
  std::string frame;
  frame.reserve(header_size + payload.size());
  frame.append(header, header_size);
  frame.append(payload);
  if (mask) apply_mask(frame.data() + header_size, payload.size(), *mask);
  return frame;
}

std::string make_close_payload(std::uint16_t code, std::string_view reason) {
  if (!is_valid_close_code(code)) throw ValueError("invalid WebSocket close code");
  std::size_t size = std::min(reason.size(), kMaxControlPayload - 2);
  // Back up to a character boundary: never cut between a lead byte and its continuations.
  if (size < reason.size()) {
    while (size > 0 && (static_cast<std::uint8_t>(reason[size]) & 0xC0) == 0x80) --size;
  }
  std::string payload;
  payload += static_cast<char>(code >> 8);
  payload += static_cast<char>(code & 0xFF);
  payload.append(reason.substr(0, size));
  return payload;
}

// ---------------------------------------------------------------------------------------------
// Parser

WebSocketParser::WebSocketParser(Role role, std::size_t max_message_size,
                                 Decompressor* decompressor)
    : max_message_size_(max_message_size), decompressor_(decompressor), role_(role) {}

std::optional<ProtocolError> WebSocketParser::fail(std::uint16_t code, std::string message) {
  failed_ = true;
  return ProtocolError{code, std::move(message)};
}

FeedResult WebSocketParser::feed(std::string_view data, WebSocketParserDelegate& delegate) {
  FeedResult result;
  if (failed_ || closed_) return result;
  std::size_t pos = 0;
  while (pos < data.size() && !closed_) {
    if (state_ == State::header) {
      const std::size_t wanted = header_size_ < 2 ? 2 : header_size_for(header_);
      const std::size_t take = std::min(wanted - header_size_, data.size() - pos);
      std::memcpy(header_.data() + header_size_, data.data() + pos, take);
      header_size_ = static_cast<std::uint8_t>(header_size_ + take);
      pos += take;
      if (header_size_ < 2 || header_size_ < header_size_for(header_)) continue;
      if (auto error = start_frame()) {
        result.consumed = pos;
        result.error = std::move(error);
        return result;
      }
      state_ = State::payload;
    }
    // An empty payload still finishes the frame, so this runs with nothing left to take.
    const std::uint64_t remaining = payload_length_ - payload_read_;
    const std::size_t take =
        static_cast<std::size_t>(std::min<std::uint64_t>(remaining, data.size() - pos));
    std::optional<ProtocolError> error = take_payload(data.substr(pos, take));
    pos += take;
    if (!error && payload_read_ == payload_length_) {
      error = finish_frame(delegate);
      state_ = State::header;
      header_size_ = 0;
    }
    if (error) {
      result.consumed = pos;
      result.error = std::move(error);
      return result;
    }
  }
  result.consumed = pos;
  return result;
}

std::optional<ProtocolError> WebSocketParser::start_frame() {
  const auto first = static_cast<std::uint8_t>(header_[0]);
  const auto second = static_cast<std::uint8_t>(header_[1]);
  fin_ = (first & 0x80) != 0;
  rsv1_ = (first & 0x40) != 0;
  const std::uint8_t opcode = first & 0x0F;
  masked_ = (second & 0x80) != 0;

  if (first & 0x30) return fail(kCloseProtocolError, "reserved bits RSV2/RSV3 set");
  if (!is_known(opcode)) return fail(kCloseProtocolError, "unknown opcode");
  opcode_ = static_cast<Opcode>(opcode);
  if (role_ == Role::server && !masked_)
    return fail(kCloseProtocolError, "client frame not masked");
  if (role_ == Role::client && masked_) return fail(kCloseProtocolError, "server frame masked");

  // Non-minimal length encodings are accepted: RFC 6455 §5.2 says "the minimal number of bytes
  // MUST be used" to encode, but lists no failure for receiving them, and peers differ.
  const std::uint8_t length7 = second & 0x7F;
  std::size_t at = 2;
  if (length7 == 126) {
    payload_length_ = (std::uint64_t{static_cast<std::uint8_t>(header_[2])} << 8) |
                      static_cast<std::uint8_t>(header_[3]);
    at = 4;
  } else if (length7 == 127) {
    payload_length_ = 0;
    for (int i = 0; i < 8; ++i) {
      payload_length_ = (payload_length_ << 8) | static_cast<std::uint8_t>(header_[2 + i]);
    }
    if (payload_length_ >> 63) return fail(kCloseProtocolError, "frame length has its top bit set");
    at = 10;
  } else {
    payload_length_ = length7;
  }
  if (masked_) std::memcpy(mask_.data(), header_.data() + at, 4);
  payload_read_ = 0;

  if (is_control(opcode_)) {
    if (!fin_) return fail(kCloseProtocolError, "fragmented control frame");
    if (rsv1_) return fail(kCloseProtocolError, "RSV1 set on a control frame");
    if (payload_length_ > kMaxControlPayload) {
      return fail(kCloseProtocolError, "control frame payload over 125 bytes");
    }
    control_ = std::make_unique<std::string>();
    return std::nullopt;
  }

  if (opcode_ == Opcode::continuation) {
    if (!in_message_) return fail(kCloseProtocolError, "continuation frame without a message");
    if (rsv1_) return fail(kCloseProtocolError, "RSV1 set on a continuation frame");
  } else {
    if (in_message_) return fail(kCloseProtocolError, "new message inside a fragmented message");
    if (rsv1_ && !decompressor_) return fail(kCloseProtocolError, "RSV1 set without an extension");
    in_message_ = true;
    message_opcode_ = opcode_;
    message_compressed_ = rsv1_;
    message_wire_size_ = 0;
    message_.clear();
    utf8_.reset();
  }
  // Checked before reading, so an oversized frame is refused without buffering any of it.
  if (payload_length_ > max_message_size_ - message_wire_size_) {
    return fail(kCloseMessageTooBig, "message too big");
  }
  message_wire_size_ += payload_length_;
  return std::nullopt;
}

std::optional<ProtocolError> WebSocketParser::take_payload(std::string_view piece) {
  if (piece.empty()) return std::nullopt;
  const auto offset = static_cast<std::size_t>(payload_read_ % 4);
  payload_read_ += piece.size();
  if (is_control(opcode_)) {
    const std::size_t start = control_->size();
    control_->append(piece);
    if (masked_) apply_mask(control_->data() + start, piece.size(), mask_, offset);
    return std::nullopt;
  }
  if (message_compressed_) {
    // One buffer per thread, not per connection: it is only needed during this call.
    thread_local std::string scratch;
    scratch.assign(piece);
    if (masked_) apply_mask(scratch.data(), scratch.size(), mask_, offset);
    const std::size_t start = message_.size();
    const auto status = decompressor_->decompress(scratch, message_, max_message_size_);
    if (status == Decompressor::Status::too_big) {
      return fail(kCloseMessageTooBig, "message too big after inflation");
    }
    if (status == Decompressor::Status::bad_data) {
      return fail(kCloseInvalidData, "invalid compressed data");
    }
    if (message_opcode_ == Opcode::text && !utf8_.feed(std::string_view(message_).substr(start))) {
      return fail(kCloseInvalidData, "invalid UTF-8 in a text message");
    }
    return std::nullopt;
  }
  const std::size_t start = message_.size();
  message_.append(piece);
  if (masked_) apply_mask(message_.data() + start, piece.size(), mask_, offset);
  if (message_opcode_ == Opcode::text && !utf8_.feed(std::string_view(message_).substr(start))) {
    return fail(kCloseInvalidData, "invalid UTF-8 in a text message");
  }
  return std::nullopt;
}

std::optional<ProtocolError> WebSocketParser::finish_frame(WebSocketParserDelegate& delegate) {
  if (is_control(opcode_)) return finish_control(delegate);
  if (!fin_) return std::nullopt;
  // A compressed message with no payload at all is empty; the tail alone would not inflate.
  if (message_compressed_ && message_wire_size_ > 0) {
    const std::size_t start = message_.size();
    const auto status = decompressor_->finish_message(message_, max_message_size_);
    if (status == Decompressor::Status::too_big) {
      return fail(kCloseMessageTooBig, "message too big after inflation");
    }
    if (status == Decompressor::Status::bad_data) {
      return fail(kCloseInvalidData, "invalid compressed data");
    }
    if (message_opcode_ == Opcode::text && !utf8_.feed(std::string_view(message_).substr(start))) {
      return fail(kCloseInvalidData, "invalid UTF-8 in a text message");
    }
  }
  if (message_opcode_ == Opcode::text && !utf8_.complete()) {
    return fail(kCloseInvalidData, "text message ends inside a character");
  }
  in_message_ = false;
  delegate.on_message(message_opcode_, message_);
  message_.clear();
  return std::nullopt;
}

std::optional<ProtocolError> WebSocketParser::finish_control(WebSocketParserDelegate& delegate) {
  // Freed on return: an idle connection keeps no control payload.
  const std::unique_ptr<std::string> payload = std::move(control_);
  const std::string& control = *payload;
  switch (opcode_) {
    case Opcode::ping:
      delegate.on_ping(control);
      return std::nullopt;
    case Opcode::pong:
      delegate.on_pong(control);
      return std::nullopt;
    default:
      break;
  }
  if (control.size() == 1) return fail(kCloseProtocolError, "close frame with a 1-byte payload");
  std::optional<std::uint16_t> code;
  std::string_view reason;
  if (!control.empty()) {
    code = static_cast<std::uint16_t>((static_cast<std::uint8_t>(control[0]) << 8) |
                                      static_cast<std::uint8_t>(control[1]));
    if (!is_valid_close_code(*code)) return fail(kCloseProtocolError, "invalid close code");
    reason = std::string_view(control).substr(2);
    if (!squall::detail::is_valid_utf8(reason)) {
      return fail(kCloseInvalidData, "close reason is not valid UTF-8");
    }
  }
  closed_ = true;
  delegate.on_close(code, reason);
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// permessage-deflate streams

struct Compressor::Stream {
  z_stream z{};
};

Compressor::Compressor(int max_window_bits, bool no_context_takeover, int level, int mem_level)
    : stream_(std::make_unique<Stream>()), no_context_takeover_(no_context_takeover) {
  // zlib cannot make raw deflate streams with an 8-bit window (it uses 9), so the negotiation
  // never agrees to 8 for a side we compress.
  const int bits = std::clamp(max_window_bits, 9, 15);
  if (deflateInit2(&stream_->z, level, Z_DEFLATED, -bits, mem_level, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw Error("deflateInit2 failed");
  }
}

Compressor::~Compressor() {
  deflateEnd(&stream_->z);
}

std::string Compressor::compress(std::string_view message) {
  z_stream& z = stream_->z;
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(message.data()));
  z.avail_in = static_cast<uInt>(message.size());
  char buffer[16384];
  do {
    z.next_out = reinterpret_cast<Bytef*>(buffer);
    z.avail_out = sizeof buffer;
    deflate(&z, Z_SYNC_FLUSH);
    out.append(buffer, sizeof buffer - z.avail_out);
  } while (z.avail_out == 0 || z.avail_in > 0);
  // A sync flush always ends with the empty stored block RFC 7692 §7.2.1 says to drop.
  if (out.size() >= 4 && std::memcmp(out.data() + out.size() - 4, kDeflateTail, 4) == 0) {
    out.resize(out.size() - 4);
  }
  // With nothing new to flush zlib writes nothing; a lone empty stored block's first byte
  // stands for the empty message (RFC 7692 §7.2.3.6) and keeps the receiver's stream in step.
  if (out.empty()) out.assign(1, '\0');
  if (no_context_takeover_) deflateReset(&z);
  return out;
}

struct Decompressor::Stream {
  z_stream z{};
};

Decompressor::Decompressor(bool no_context_takeover)
    : stream_(std::make_unique<Stream>()), no_context_takeover_(no_context_takeover) {
  // Always the largest window: inflating with a larger window than the peer used is harmless.
  if (inflateInit2(&stream_->z, -15) != Z_OK) throw Error("inflateInit2 failed");
}

Decompressor::~Decompressor() {
  inflateEnd(&stream_->z);
}

Decompressor::Status Decompressor::decompress(std::string_view input, std::string& out,
                                              std::size_t limit) {
  z_stream& z = stream_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  z.avail_in = static_cast<uInt>(input.size());
  char buffer[16384];
  for (;;) {
    // Room for one byte past the limit, so exceeding it is seen without inflating more.
    const std::size_t room = limit - std::min(limit, out.size()) + 1;
    const std::size_t chunk = std::min(sizeof buffer, room);
    z.next_out = reinterpret_cast<Bytef*>(buffer);
    z.avail_out = static_cast<uInt>(chunk);
    const int rc = inflate(&z, Z_SYNC_FLUSH);
    const std::size_t produced = chunk - z.avail_out;
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) return Status::bad_data;
    if (out.size() + produced > limit) return Status::too_big;
    out.append(buffer, produced);
    if (rc == Z_STREAM_END) {
      // The peer ended its deflate stream (BFINAL); anything after starts a new one.
      inflateReset(&z);
      if (z.avail_in == 0) return Status::ok;
      continue;
    }
    if (z.avail_out != 0 || rc == Z_BUF_ERROR) {
      if (z.avail_in == 0) return Status::ok;
      if (rc == Z_BUF_ERROR) return Status::bad_data;
    }
  }
}

Decompressor::Status Decompressor::finish_message(std::string& out, std::size_t limit) {
  const Status status = decompress(std::string_view(kDeflateTail, 4), out, limit);
  if (no_context_takeover_ || status != Status::ok) inflateReset(&stream_->z);
  return status;
}

// ---------------------------------------------------------------------------------------------
// permessage-deflate negotiation

namespace {

bool is_token_char(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7F) return false;
  return std::strchr("()<>@,;:\\\"/[]?={}", c) == nullptr;
}

void skip_space(std::string_view s, std::size_t& pos) noexcept {
  while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t')) ++pos;
}

std::string read_token(std::string_view s, std::size_t& pos) {
  const std::size_t start = pos;
  while (pos < s.size() && is_token_char(s[pos])) ++pos;
  if (pos == start) throw ValueError("malformed Sec-WebSocket-Extensions header");
  return std::string(s.substr(start, pos - start));
}

std::string read_quoted(std::string_view s, std::size_t& pos) {
  std::string value;
  ++pos;  // the opening quote
  while (pos < s.size() && s[pos] != '"') {
    if (s[pos] == '\\' && pos + 1 < s.size()) ++pos;
    value += s[pos++];
  }
  if (pos >= s.size()) throw ValueError("unterminated quoted string in Sec-WebSocket-Extensions");
  ++pos;  // the closing quote
  return value;
}

// A window-bits value: 1*DIGIT in 8-15, without leading zeros (RFC 7692 §7.1.2.1).
std::optional<int> parse_window_bits(const std::string& value) {
  if (value.size() == 1 && value[0] == '8') return 8;
  if (value.size() == 1 && value[0] == '9') return 9;
  if (value.size() == 2 && value[0] == '1' && value[1] >= '0' && value[1] <= '5') {
    return 10 + (value[1] - '0');
  }
  return std::nullopt;
}

// Checks one permessage-deflate parameter list. `server_side`: the parameters of a client's
// offer; otherwise those of a server's response. Returns nothing if it is not acceptable.
std::optional<DeflateParameters> check_params(const ExtensionOffer& offer, bool server_side,
                                              bool& echo_client_bits) {
  DeflateParameters params;
  bool seen[4] = {false, false, false, false};
  echo_client_bits = false;
  for (const auto& [name, value] : offer.params) {
    int index;
    if (name == "server_no_context_takeover") {
      index = 0;
    } else if (name == "client_no_context_takeover") {
      index = 1;
    } else if (name == "server_max_window_bits") {
      index = 2;
    } else if (name == "client_max_window_bits") {
      index = 3;
    } else {
      return std::nullopt;
    }
    if (seen[index]) return std::nullopt;
    seen[index] = true;
    switch (index) {
      case 0:
      case 1:
        if (value) return std::nullopt;
        (index == 0 ? params.server_no_context_takeover : params.client_no_context_takeover) = true;
        break;
      case 2: {
        if (!value) return std::nullopt;
        const auto bits = parse_window_bits(*value);
        // The server compresses with this window; zlib's smallest raw window is 9.
        if (!bits || (server_side && *bits == 8)) return std::nullopt;
        params.server_max_window_bits = *bits;
        break;
      }
      default: {
        if (!value) {
          // Only a client may send it bare, to say it accepts any value.
          if (!server_side) return std::nullopt;
          break;
        }
        const auto bits = parse_window_bits(*value);
        if (!bits || (!server_side && *bits == 8)) return std::nullopt;
        params.client_max_window_bits = *bits;
        echo_client_bits = true;
        break;
      }
    }
  }
  return params;
}

}  // namespace

std::vector<ExtensionOffer> parse_extension_header(std::string_view header) {
  std::vector<ExtensionOffer> offers;
  std::size_t pos = 0;
  for (;;) {
    skip_space(header, pos);
    if (pos < header.size() && header[pos] == ',') {  // empty list elements are allowed
      ++pos;
      continue;
    }
    if (pos >= header.size()) break;
    ExtensionOffer offer;
    offer.name = read_token(header, pos);
    skip_space(header, pos);
    while (pos < header.size() && header[pos] == ';') {
      ++pos;
      skip_space(header, pos);
      std::string name = read_token(header, pos);
      skip_space(header, pos);
      std::optional<std::string> value;
      if (pos < header.size() && header[pos] == '=') {
        ++pos;
        skip_space(header, pos);
        if (pos < header.size() && header[pos] == '"') {
          value = read_quoted(header, pos);
        } else {
          value = read_token(header, pos);
        }
        skip_space(header, pos);
      }
      offer.params.emplace_back(std::move(name), std::move(value));
    }
    offers.push_back(std::move(offer));
    if (pos >= header.size()) break;
    if (header[pos] != ',') throw ValueError("malformed Sec-WebSocket-Extensions header");
    ++pos;
  }
  return offers;
}

std::optional<DeflateAgreement> negotiate_deflate(std::string_view offers_header) {
  std::vector<ExtensionOffer> offers;
  try {
    offers = parse_extension_header(offers_header);
  } catch (const ValueError&) {
    return std::nullopt;
  }
  for (const auto& offer : offers) {
    if (offer.name != "permessage-deflate") continue;
    bool echo_client_bits = false;
    auto params = check_params(offer, true, echo_client_bits);
    if (!params) continue;
    DeflateAgreement agreement{*params, "permessage-deflate"};
    if (params->server_no_context_takeover) agreement.response += "; server_no_context_takeover";
    if (params->client_no_context_takeover) agreement.response += "; client_no_context_takeover";
    for (const auto& [name, value] : offer.params) {
      if (name == "server_max_window_bits") {
        agreement.response.append("; server_max_window_bits=").append(*value);
      }
    }
    if (echo_client_bits) {
      agreement.response.append("; client_max_window_bits=")
          .append(std::to_string(params->client_max_window_bits));
    }
    return agreement;
  }
  return std::nullopt;
}

std::string deflate_offer(const DeflateParameters& requested) {
  std::string offer = "permessage-deflate";
  if (requested.server_no_context_takeover) offer += "; server_no_context_takeover";
  if (requested.client_no_context_takeover) offer += "; client_no_context_takeover";
  if (requested.server_max_window_bits != 15) {
    offer.append("; server_max_window_bits=")
        .append(std::to_string(requested.server_max_window_bits));
  }
  if (requested.client_max_window_bits != 15) {
    offer.append("; client_max_window_bits=")
        .append(std::to_string(requested.client_max_window_bits));
  } else {
    offer += "; client_max_window_bits";
  }
  return offer;
}

std::optional<DeflateParameters> accept_deflate_response(std::string_view response_header,
                                                         const DeflateParameters& offered) {
  const auto extensions = parse_extension_header(response_header);
  if (extensions.empty()) return std::nullopt;
  if (extensions.size() != 1 || extensions[0].name != "permessage-deflate") {
    throw ValueError("server accepted an extension that was not offered");
  }
  bool echo_client_bits = false;
  auto params = check_params(extensions[0], false, echo_client_bits);
  if (!params) throw ValueError("invalid permessage-deflate response parameters");
  // The server may tighten what we asked for, never loosen it (RFC 7692 §7.1).
  if (params->client_max_window_bits > offered.client_max_window_bits ||
      params->server_max_window_bits > offered.server_max_window_bits ||
      (offered.server_no_context_takeover && !params->server_no_context_takeover)) {
    throw ValueError("permessage-deflate response does not match the offer");
  }
  return params;
}

}  // namespace squall::web::detail
