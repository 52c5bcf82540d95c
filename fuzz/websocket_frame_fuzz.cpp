// libFuzzer target: the WebSocket frame parser, as a server and as a client, with and without
// permessage-deflate, fed in splits chosen by the input. Whatever it accepts must obey the
// protocol's limits, and written back out with the frame writer it must parse to the same events.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/utf8.hpp"
#include "web/websocket_protocol.hpp"

namespace {

using namespace squall::web::detail;

// Aborts for libFuzzer, naming the check that failed.
void check_at(bool ok, int line) {
  if (ok) return;
  std::fprintf(stderr, "check failed at line %d\n", line);
  std::abort();
}
#define check(x) check_at((x), __LINE__)

struct Event {
  Opcode opcode;
  std::string data;
  std::optional<std::uint16_t> code;
  bool operator==(const Event&) const = default;
};

struct Recorder : WebSocketParserDelegate {
  std::size_t max_size = 0;
  std::vector<Event> events;
  void on_message(Opcode opcode, std::string& data) override {
    check(opcode == Opcode::text || opcode == Opcode::binary);
    check(data.size() <= max_size);
    if (opcode == Opcode::text) check(squall::detail::is_valid_utf8(data));
    events.push_back({opcode, data, std::nullopt});
  }
  void on_ping(std::string_view payload) override {
    check(payload.size() <= kMaxControlPayload);
    events.push_back({Opcode::ping, std::string(payload), std::nullopt});
  }
  void on_pong(std::string_view payload) override {
    check(payload.size() <= kMaxControlPayload);
    events.push_back({Opcode::pong, std::string(payload), std::nullopt});
  }
  void on_close(std::optional<std::uint16_t> code, std::string_view reason) override {
    check(!code || is_valid_close_code(*code));
    check(squall::detail::is_valid_utf8(reason));
    events.push_back({Opcode::close, std::string(reason), code});
  }
};

const MaskKey kKey = {0xa1, 0x02, 0x7f, 0x80};

// Writes `events` back out as the peer would send them.
std::string encode(const std::vector<Event>& events, Role role, Compressor* compressor) {
  const MaskKey* mask = role == Role::server ? &kKey : nullptr;
  std::string out;
  for (const auto& event : events) {
    if (event.opcode == Opcode::close) {
      const std::string payload = event.code ? make_close_payload(*event.code, event.data) : "";
      out += build_frame(Opcode::close, payload, true, false, mask);
    } else if (compressor && (event.opcode == Opcode::text || event.opcode == Opcode::binary)) {
      out += build_frame(event.opcode, compressor->compress(event.data), true, true, mask);
    } else {
      out += build_frame(event.opcode, event.data, true, false, mask);
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // The first byte picks the configuration, the second the split pattern.
  const std::uint8_t config = data[0];
  const std::uint8_t split_seed = data[1];
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  const Role role = (config & 1) ? Role::client : Role::server;
  const bool deflate = (config & 2) != 0;
  const bool no_context_takeover = (config & 4) != 0;
  const std::size_t max_size = (config & 8) ? 64 : 1 << 16;

  std::optional<Decompressor> decompressor;
  if (deflate) decompressor.emplace(no_context_takeover);
  WebSocketParser parser(role, max_size, decompressor ? &*decompressor : nullptr);
  Recorder recorder;
  recorder.max_size = max_size;
  std::size_t pos = 0;
  std::uint32_t state = split_seed;
  while (pos < input.size() && !parser.failed() && !parser.closed()) {
    state = state * 1103515245u + 12345u;
    const std::size_t piece = std::min<std::size_t>(input.size() - pos, (state >> 16) % 64 + 1);
    const FeedResult result = parser.feed(input.substr(pos, piece), recorder);
    check(result.consumed <= piece);
    if (result.error) {
      check(parser.failed());
      const auto code = result.error->close_code;
      check(code == kCloseProtocolError || code == kCloseInvalidData ||
            code == kCloseMessageTooBig);
    } else if (!parser.closed()) {
      check(result.consumed == piece);
    }
    pos += result.consumed;
  }

  // What was accepted, written out again, reads back the same.
  std::optional<Compressor> compressor;
  std::optional<Decompressor> again_decompressor;
  if (deflate) {
    compressor.emplace(15, no_context_takeover);
    again_decompressor.emplace(no_context_takeover);
  }
  const std::string encoded = encode(recorder.events, role, compressor ? &*compressor : nullptr);
  // Compression can grow a message a little on the wire, so the second parser allows more.
  const std::size_t again_max = 2 * max_size + 1024;
  WebSocketParser again(role, again_max, again_decompressor ? &*again_decompressor : nullptr);
  Recorder again_recorder;
  again_recorder.max_size = again_max;
  const FeedResult result = again.feed(encoded, again_recorder);
  if (result.error) std::fprintf(stderr, "%s\n", result.error->message.c_str());
  check(!result.error);
  check(again_recorder.events == recorder.events);
  return 0;
}
