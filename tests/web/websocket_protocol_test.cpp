// The WebSocket protocol core: frame writer, push parser (every RFC 6455 rule and its close
// code), and permessage-deflate (RFC 7692) streams and negotiation.
#include "web/websocket_protocol.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "squall/util/error.hpp"

namespace squall::web::detail {
namespace {

const MaskKey kKey = {0x37, 0xfa, 0x21, 0x3d};

// Records what the parser reports as one line per event.
struct Recorder : WebSocketParserDelegate {
  std::vector<std::string> events;
  void on_message(Opcode opcode, std::string& data) override {
    events.push_back((opcode == Opcode::text ? "text:" : "binary:") + data);
  }
  void on_ping(std::string_view payload) override {
    events.push_back("ping:" + std::string(payload));
  }
  void on_pong(std::string_view payload) override {
    events.push_back("pong:" + std::string(payload));
  }
  void on_close(std::optional<std::uint16_t> code, std::string_view reason) override {
    events.push_back("close:" + (code ? std::to_string(*code) : std::string("none")) + ":" +
                     std::string(reason));
  }
};

// A frame as a client sends it (masked) or a server sends it (not).
std::string client_frame(Opcode opcode, std::string_view payload, bool fin = true,
                         bool rsv1 = false) {
  return build_frame(opcode, payload, fin, rsv1, &kKey);
}
std::string server_frame(Opcode opcode, std::string_view payload, bool fin = true,
                         bool rsv1 = false) {
  return build_frame(opcode, payload, fin, rsv1, nullptr);
}

struct Outcome {
  std::vector<std::string> events;
  std::optional<std::uint16_t> error_code;
  std::size_t consumed = 0;
};

Outcome parse(Role role, std::string_view input, std::size_t max_size = 1 << 20,
              Decompressor* decompressor = nullptr) {
  WebSocketParser parser(role, max_size, decompressor);
  Recorder recorder;
  const FeedResult result = parser.feed(input, recorder);
  Outcome outcome{recorder.events, std::nullopt, result.consumed};
  if (result.error) outcome.error_code = result.error->close_code;
  return outcome;
}

std::optional<std::uint16_t> server_error(std::string_view input, std::size_t max_size = 1 << 20) {
  return parse(Role::server, input, max_size).error_code;
}

// ---- writer ------------------------------------------------------------------------------------

TEST(WebSocketFrameWriter, HeaderUsesTheShortestLengthForm) {
  char header[kMaxFrameHeaderSize];
  EXPECT_EQ(write_frame_header(header, Opcode::text, true, false, 125, nullptr), 2u);
  EXPECT_EQ(static_cast<std::uint8_t>(header[0]), 0x81);
  EXPECT_EQ(static_cast<std::uint8_t>(header[1]), 125);
  EXPECT_EQ(write_frame_header(header, Opcode::binary, false, true, 126, nullptr), 4u);
  EXPECT_EQ(static_cast<std::uint8_t>(header[0]), 0x42);
  EXPECT_EQ(static_cast<std::uint8_t>(header[1]), 126);
  EXPECT_EQ(write_frame_header(header, Opcode::binary, true, false, 65535, &kKey), 8u);
  EXPECT_EQ(static_cast<std::uint8_t>(header[1]), 0x80 | 126);
  EXPECT_EQ(static_cast<std::uint8_t>(header[2]), 0xff);
  EXPECT_EQ(static_cast<std::uint8_t>(header[4]), kKey[0]);
  EXPECT_EQ(write_frame_header(header, Opcode::binary, true, false, 65536, nullptr), 10u);
  EXPECT_EQ(static_cast<std::uint8_t>(header[1]), 127);
  EXPECT_EQ(std::string(header + 2, 8), std::string("\0\0\0\0\0\1\0\0", 8));
}

TEST(WebSocketFrameWriter, MaskingTwiceRestoresTheData) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data += static_cast<char>(i * 7);
  std::string masked = data;
  apply_mask(masked.data(), masked.size(), kKey);
  EXPECT_NE(masked, data);
  for (std::size_t i = 0; i < data.size(); ++i) {
    ASSERT_EQ(static_cast<std::uint8_t>(masked[i]),
              static_cast<std::uint8_t>(data[i]) ^ kKey[i % 4]);
  }
  apply_mask(masked.data(), masked.size(), kKey);
  EXPECT_EQ(masked, data);
}

TEST(WebSocketFrameWriter, MaskingInPiecesMatchesMaskingAtOnce) {
  std::string data(203, 'q');
  std::string whole = data;
  apply_mask(whole.data(), whole.size(), kKey);
  std::string pieces = data;
  const std::size_t cuts[] = {0, 3, 4, 13, 50, 51, 203};
  for (std::size_t i = 0; i + 1 < std::size(cuts); ++i) {
    apply_mask(pieces.data() + cuts[i], cuts[i + 1] - cuts[i], kKey, cuts[i]);
  }
  EXPECT_EQ(pieces, whole);
}

TEST(WebSocketFrameWriter, ClosePayloadHoldsTheCodeAndACutReason) {
  EXPECT_EQ(make_close_payload(1000, "bye"), std::string("\x03\xe8"
                                                         "bye"));
  // 61 two-byte characters: the cut at 123 bytes falls inside the 62nd, so it backs up.
  std::string reason;
  for (int i = 0; i < 70; ++i) reason += "\xc3\xa9";
  const std::string payload = make_close_payload(4000, reason);
  EXPECT_EQ(payload.size(), 2u + 122u);
  EXPECT_TRUE(squall::detail::is_valid_utf8(payload.substr(2)));
  EXPECT_THROW(make_close_payload(1005, ""), ValueError);
  EXPECT_THROW(make_close_payload(999, ""), ValueError);
}

TEST(WebSocketCloseCodes, FollowTheIanaRegistry) {
  for (int code :
       {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999}) {
    EXPECT_TRUE(is_valid_close_code(static_cast<std::uint16_t>(code))) << code;
  }
  for (int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535}) {
    EXPECT_FALSE(is_valid_close_code(static_cast<std::uint16_t>(code))) << code;
  }
}

// ---- parser: framing -------------------------------------------------------------------------

TEST(WebSocketParser, ServerReadsAMaskedTextFrame) {
  const auto outcome = parse(Role::server, client_frame(Opcode::text, "Hello"));
  EXPECT_FALSE(outcome.error_code);
  EXPECT_EQ(outcome.events, std::vector<std::string>{"text:Hello"});
}

TEST(WebSocketParser, ClientReadsTheRfcUnmaskedExample) {
  const auto outcome = parse(Role::client, std::string("\x81\x05Hello", 7));
  EXPECT_EQ(outcome.events, std::vector<std::string>{"text:Hello"});
}

TEST(WebSocketParser, ServerReadsTheRfcMaskedExample) {
  const auto outcome =
      parse(Role::server, std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11));
  EXPECT_EQ(outcome.events, std::vector<std::string>{"text:Hello"});
}

TEST(WebSocketParser, ServerRefusesAnUnmaskedFrame) {
  EXPECT_EQ(server_error(server_frame(Opcode::text, "x")), kCloseProtocolError);
}

TEST(WebSocketParser, ClientRefusesAMaskedFrame) {
  EXPECT_EQ(parse(Role::client, client_frame(Opcode::text, "x")).error_code, kCloseProtocolError);
}

TEST(WebSocketParser, ReadsSixteenAndSixtyFourBitLengths) {
  const std::string medium(300, 'm');
  const std::string large(70000, 'L');
  const auto outcome = parse(
      Role::server, client_frame(Opcode::binary, medium) + client_frame(Opcode::binary, large));
  ASSERT_EQ(outcome.events.size(), 2u);
  EXPECT_EQ(outcome.events[0], "binary:" + medium);
  EXPECT_EQ(outcome.events[1], "binary:" + large);
}

TEST(WebSocketParser, AcceptsANonMinimalLength) {
  // "Hi" with a 64-bit length: discouraged for senders, harmless to read.
  const auto outcome = parse(Role::client, std::string("\x82\x7f\0\0\0\0\0\0\0\x02Hi", 12));
  EXPECT_EQ(outcome.events, std::vector<std::string>{"binary:Hi"});
}

TEST(WebSocketParser, RefusesASixtyFourBitLengthWithTheTopBitSet) {
  EXPECT_EQ(parse(Role::client, std::string("\x82\x7f\x80\0\0\0\0\0\0\x02", 10)).error_code,
            kCloseProtocolError);
}

TEST(WebSocketParser, RefusesUnknownOpcodes) {
  for (int opcode : {0x3, 0x7, 0xB, 0xF}) {
    EXPECT_EQ(server_error(client_frame(static_cast<Opcode>(opcode), "")), kCloseProtocolError)
        << opcode;
  }
}

TEST(WebSocketParser, RefusesReservedBitsWithoutAnExtension) {
  EXPECT_EQ(server_error(client_frame(Opcode::text, "x", true, true)), kCloseProtocolError);
  std::string rsv2 = client_frame(Opcode::text, "x");
  rsv2[0] = static_cast<char>(rsv2[0] | 0x20);
  EXPECT_EQ(server_error(rsv2), kCloseProtocolError);
  std::string rsv3 = client_frame(Opcode::text, "x");
  rsv3[0] = static_cast<char>(rsv3[0] | 0x10);
  EXPECT_EQ(server_error(rsv3), kCloseProtocolError);
}

TEST(WebSocketParser, RefusesOversizedAndFragmentedControlFrames) {
  EXPECT_EQ(server_error(client_frame(Opcode::ping, std::string(126, 'p'))), kCloseProtocolError);
  EXPECT_EQ(server_error(client_frame(Opcode::ping, "p", false)), kCloseProtocolError);
  EXPECT_EQ(server_error(client_frame(Opcode::close, std::string(126, 'c'))), kCloseProtocolError);
  const auto ok = parse(Role::server, client_frame(Opcode::pong, std::string(125, 'p')));
  EXPECT_EQ(ok.events, std::vector<std::string>{"pong:" + std::string(125, 'p')});
}

TEST(WebSocketParser, JoinsFragmentsAndDeliversInterleavedControlFrames) {
  const std::string input =
      client_frame(Opcode::text, "Hel", false) + client_frame(Opcode::ping, "are you there") +
      client_frame(Opcode::continuation, "lo", false) +
      client_frame(Opcode::continuation, "", false) + client_frame(Opcode::continuation, " world");
  const auto outcome = parse(Role::server, input);
  EXPECT_FALSE(outcome.error_code);
  EXPECT_EQ(outcome.events, (std::vector<std::string>{"ping:are you there", "text:Hello world"}));
}

TEST(WebSocketParser, RefusesAContinuationWithoutAMessage) {
  EXPECT_EQ(server_error(client_frame(Opcode::continuation, "x")), kCloseProtocolError);
}

TEST(WebSocketParser, RefusesANewMessageInsideAFragmentedOne) {
  EXPECT_EQ(
      server_error(client_frame(Opcode::text, "a", false) + client_frame(Opcode::binary, "b")),
      kCloseProtocolError);
}

TEST(WebSocketParser, RefusesAFrameOverTheSizeLimitBeforeReadingIt) {
  const std::string frame = client_frame(Opcode::binary, std::string(101, 'x'));
  const auto outcome = parse(Role::server, frame, 100);
  EXPECT_EQ(outcome.error_code, kCloseMessageTooBig);
  EXPECT_EQ(outcome.consumed, 2u + 4u);  // just the header
  EXPECT_FALSE(
      parse(Role::server, client_frame(Opcode::binary, std::string(100, 'x')), 100).error_code);
}

TEST(WebSocketParser, CountsTheSizeLimitOverFragments) {
  const std::string input = client_frame(Opcode::binary, std::string(60, 'a'), false) +
                            client_frame(Opcode::continuation, std::string(41, 'b'));
  EXPECT_EQ(server_error(input, 100), kCloseMessageTooBig);
}

TEST(WebSocketParser, RejectsAHugeDeclaredLengthWithoutAllocating) {
  // 2^62 bytes declared: refused from the header alone.
  const auto outcome = parse(Role::client, std::string("\x82\x7f\x40\0\0\0\0\0\0\0", 10), 10 << 20);
  EXPECT_EQ(outcome.error_code, kCloseMessageTooBig);
}

// ---- parser: UTF-8 -----------------------------------------------------------------------------

TEST(WebSocketParser, RefusesInvalidUtf8InText) {
  EXPECT_EQ(server_error(client_frame(Opcode::text, "ok\xff")), kCloseInvalidData);
  EXPECT_EQ(server_error(client_frame(Opcode::text, "\xed\xa0\x80")), kCloseInvalidData);
  // Binary messages carry any bytes.
  EXPECT_FALSE(server_error(client_frame(Opcode::binary, "ok\xff")));
}

TEST(WebSocketParser, AcceptsACodePointSplitAcrossFragments) {
  // U+1F600 is F0 9F 98 80; the split falls after its second byte.
  const std::string input = client_frame(Opcode::text, "smile \xf0\x9f", false) +
                            client_frame(Opcode::continuation, "\x98\x80");
  const auto outcome = parse(Role::server, input);
  EXPECT_EQ(outcome.events, std::vector<std::string>{"text:smile \xf0\x9f\x98\x80"});
}

TEST(WebSocketParser, FailsFastOnAnInvalidPrefix) {
  // The first fragment is already invalid: refused before the message is complete.
  const auto outcome = parse(Role::server, client_frame(Opcode::text, "\xc0\xaf", false));
  EXPECT_EQ(outcome.error_code, kCloseInvalidData);
}

TEST(WebSocketParser, RefusesTextEndingInsideACharacter) {
  EXPECT_EQ(server_error(client_frame(Opcode::text, "abc\xe2\x82")), kCloseInvalidData);
}

// ---- parser: close frames ----------------------------------------------------------------------

TEST(WebSocketParser, ReadsCloseFramesWithAndWithoutACode) {
  EXPECT_EQ(parse(Role::server, client_frame(Opcode::close, "")).events,
            std::vector<std::string>{"close:none:"});
  EXPECT_EQ(
      parse(Role::server, client_frame(Opcode::close, make_close_payload(1001, "away"))).events,
      std::vector<std::string>{"close:1001:away"});
  EXPECT_EQ(parse(Role::server, client_frame(Opcode::close, std::string("\x03\xf4", 2))).events,
            std::vector<std::string>{"close:1012:"});
}

TEST(WebSocketParser, RefusesBadCloseFrames) {
  EXPECT_EQ(server_error(client_frame(Opcode::close, "\x03")), kCloseProtocolError);
  for (std::uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000}) {
    const std::string payload = {static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
    EXPECT_EQ(server_error(client_frame(Opcode::close, payload)), kCloseProtocolError) << code;
  }
  EXPECT_EQ(server_error(client_frame(Opcode::close, std::string("\x03\xe8\xff", 3))),
            kCloseInvalidData);
}

TEST(WebSocketParser, StopsAtACloseFrame) {
  const std::string close = client_frame(Opcode::close, make_close_payload(1000, ""));
  WebSocketParser parser(Role::server, 1000);
  Recorder recorder;
  const auto result = parser.feed(close + client_frame(Opcode::text, "late"), recorder);
  EXPECT_FALSE(result.error);
  EXPECT_EQ(result.consumed, close.size());
  EXPECT_TRUE(parser.closed());
  EXPECT_EQ(recorder.events, std::vector<std::string>{"close:1000:"});
}

TEST(WebSocketParser, TakesNothingAfterAnError) {
  WebSocketParser parser(Role::server, 1000);
  Recorder recorder;
  EXPECT_TRUE(parser.feed(server_frame(Opcode::text, "x"), recorder).error);
  EXPECT_TRUE(parser.failed());
  const auto again = parser.feed(client_frame(Opcode::text, "x"), recorder);
  EXPECT_EQ(again.consumed, 0u);
  EXPECT_TRUE(recorder.events.empty());
}

// ---- parser: arbitrary splits ------------------------------------------------------------------

std::string mixed_stream() {
  return client_frame(Opcode::text, "caf\xc3\xa9 ", false) + client_frame(Opcode::ping, "p1") +
         client_frame(Opcode::continuation, "\xe2\x82", false) +
         client_frame(Opcode::continuation, "\xac") +
         client_frame(Opcode::binary, std::string(300, '\x01')) +
         client_frame(Opcode::binary, std::string(70000, '\x02')) + client_frame(Opcode::pong, "") +
         client_frame(Opcode::text, "") +
         client_frame(Opcode::close, make_close_payload(1000, "done"));
}

TEST(WebSocketParser, ByteAtATimeGivesTheSameEvents) {
  const std::string input = mixed_stream();
  const auto whole = parse(Role::server, input);
  ASSERT_FALSE(whole.error_code);
  ASSERT_EQ(whole.events.size(), 7u);
  WebSocketParser parser(Role::server, 1 << 20);
  Recorder recorder;
  for (char c : input) {
    const auto result = parser.feed(std::string_view(&c, 1), recorder);
    ASSERT_FALSE(result.error);
    ASSERT_EQ(result.consumed, 1u);
  }
  EXPECT_EQ(recorder.events, whole.events);
}

TEST(WebSocketParser, RandomSplitsGiveTheSameEvents) {
  const std::string input = mixed_stream();
  const auto whole = parse(Role::server, input);
  std::mt19937 random(12345);
  for (int round = 0; round < 50; ++round) {
    WebSocketParser parser(Role::server, 1 << 20);
    Recorder recorder;
    std::size_t pos = 0;
    while (pos < input.size()) {
      const std::size_t size = std::min<std::size_t>(input.size() - pos, random() % 40 + 1);
      const auto result = parser.feed(std::string_view(input).substr(pos, size), recorder);
      ASSERT_FALSE(result.error);
      pos += size;
    }
    ASSERT_EQ(recorder.events, whole.events) << "round " << round;
  }
}

// ---- permessage-deflate streams ----------------------------------------------------------------

TEST(WebSocketDeflate, ReadsTheRfcCompressedExamples) {
  Decompressor decompressor(false);
  // RFC 7692 §7.2.3.1 "Hello" and, with context takeover, §7.2.3.2's second "Hello".
  const std::string first("\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00", 9);
  const std::string second("\xc1\x05\xf2\x00\x11\x00\x00", 7);
  // §7.2.3.1's fragmented form and §7.2.3.3's stored block.
  const std::string fragmented("\x41\x03\xf2\x48\xcd\x80\x04\xc9\xc9\x07\x00", 11);
  const std::string stored("\xc1\x0b\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00", 13);
  const auto outcome =
      parse(Role::client, first + second + fragmented + stored, 1000, &decompressor);
  EXPECT_FALSE(outcome.error_code);
  EXPECT_EQ(outcome.events,
            (std::vector<std::string>{"text:Hello", "text:Hello", "text:Hello", "text:Hello"}));
}

TEST(WebSocketDeflate, ReadsAMessageThatEndsTheDeflateStream) {
  // RFC 7692 §7.2.3.4: a final (BFINAL) block followed by a byte of padding.
  Decompressor decompressor(false);
  const std::string frame("\xc1\x08\xf3\x48\xcd\xc9\xc9\x07\x00\x00", 10);
  const auto outcome = parse(Role::client, frame + frame, 1000, &decompressor);
  EXPECT_FALSE(outcome.error_code);
  EXPECT_EQ(outcome.events, (std::vector<std::string>{"text:Hello", "text:Hello"}));
}

TEST(WebSocketDeflate, RoundTripsWithContextTakeover) {
  Compressor compressor(15, false);
  Decompressor decompressor(false);
  const std::string message = "the quick brown fox jumps over the lazy dog, again and again";
  const std::string first = compressor.compress(message);
  const std::string second = compressor.compress(message);
  // The second refers back to the first.
  EXPECT_LT(second.size(), first.size());
  const auto outcome = parse(Role::server,
                             client_frame(Opcode::text, first, true, true) +
                                 client_frame(Opcode::text, second, true, true),
                             1000, &decompressor);
  EXPECT_FALSE(outcome.error_code);
  EXPECT_EQ(outcome.events, (std::vector<std::string>{"text:" + message, "text:" + message}));
}

TEST(WebSocketDeflate, RoundTripsWithoutContextTakeover) {
  Compressor compressor(10, true);
  const std::string message(5000, 'z');
  const std::string first = compressor.compress(message);
  const std::string second = compressor.compress(message);
  EXPECT_EQ(first, second);  // each message stands alone
  for (const auto& payload : {first, second}) {
    Decompressor fresh(true);
    const auto outcome =
        parse(Role::client, server_frame(Opcode::binary, payload, true, true), 10000, &fresh);
    EXPECT_EQ(outcome.events, std::vector<std::string>{"binary:" + message});
  }
}

TEST(WebSocketDeflate, RoundTripsEmptyMessagesInsideAContext) {
  Compressor compressor(15, false);
  Decompressor decompressor(false);
  std::string input;
  for (const char* message : {"", "abc", "", "", "abc"}) {
    const std::string payload = compressor.compress(message);
    EXPECT_FALSE(payload.empty());
    input += client_frame(Opcode::text, payload, true, true);
  }
  // A peer may also send an empty message as an empty compressed payload.
  input += client_frame(Opcode::binary, "", true, true);
  input += client_frame(Opcode::text, compressor.compress("end"), true, true);
  const auto outcome = parse(Role::server, input, 1000, &decompressor);
  EXPECT_FALSE(outcome.error_code);
  EXPECT_EQ(outcome.events, (std::vector<std::string>{"text:", "text:abc", "text:", "text:",
                                                      "text:abc", "binary:", "text:end"}));
}

TEST(WebSocketDeflate, CompressedMessageMaySpanFragmentsAndMixWithPlainOnes) {
  Compressor compressor(15, false);
  Decompressor decompressor(false);
  const std::string compressed = compressor.compress("fragmented and compressed");
  const std::string input = client_frame(Opcode::text, compressed.substr(0, 5), false, true) +
                            client_frame(Opcode::ping, "") +
                            client_frame(Opcode::continuation, compressed.substr(5)) +
                            client_frame(Opcode::text, "plain");
  const auto outcome = parse(Role::server, input, 1000, &decompressor);
  EXPECT_FALSE(outcome.error_code);
  EXPECT_EQ(outcome.events,
            (std::vector<std::string>{"ping:", "text:fragmented and compressed", "text:plain"}));
}

TEST(WebSocketDeflate, RefusesRsv1OnAContinuation) {
  Decompressor decompressor(false);
  const std::string input =
      client_frame(Opcode::text, "a", false) + client_frame(Opcode::continuation, "b", true, true);
  EXPECT_EQ(parse(Role::server, input, 1000, &decompressor).error_code, kCloseProtocolError);
}

TEST(WebSocketDeflate, StopsInflatingAZipBombAtTheLimit) {
  Compressor compressor(15, true);
  const std::string bomb = compressor.compress(std::string(8 << 20, '\0'));
  ASSERT_LT(bomb.size(), 20000u);
  Decompressor decompressor(true);
  const auto outcome =
      parse(Role::server, client_frame(Opcode::binary, bomb, true, true), 1 << 20, &decompressor);
  EXPECT_EQ(outcome.error_code, kCloseMessageTooBig);
}

TEST(WebSocketDeflate, RefusesCorruptCompressedData) {
  Decompressor decompressor(false);
  const auto outcome = parse(Role::server, client_frame(Opcode::binary, "\xff\xff\xff", true, true),
                             1000, &decompressor);
  EXPECT_EQ(outcome.error_code, kCloseInvalidData);
}

TEST(WebSocketDeflate, ValidatesInflatedText) {
  Compressor compressor(15, false);
  Decompressor decompressor(false);
  const std::string input = client_frame(Opcode::text, compressor.compress("bad \xff"), true, true);
  EXPECT_EQ(parse(Role::server, input, 1000, &decompressor).error_code, kCloseInvalidData);
}

// ---- permessage-deflate negotiation ------------------------------------------------------------

TEST(WebSocketDeflateNegotiation, ParsesExtensionHeaders) {
  const auto offers = parse_extension_header(
      "permessage-deflate; client_max_window_bits; server_max_window_bits=\"10\" , foo,");
  ASSERT_EQ(offers.size(), 2u);
  EXPECT_EQ(offers[0].name, "permessage-deflate");
  ASSERT_EQ(offers[0].params.size(), 2u);
  EXPECT_EQ(offers[0].params[0].first, "client_max_window_bits");
  EXPECT_FALSE(offers[0].params[0].second);
  EXPECT_EQ(offers[0].params[1].second, "10");
  EXPECT_EQ(offers[1].name, "foo");
  EXPECT_THROW(parse_extension_header("permessage-deflate; =1"), ValueError);
  EXPECT_THROW(parse_extension_header("a b"), ValueError);
  EXPECT_THROW(parse_extension_header("a; b=\"unterminated"), ValueError);
}

TEST(WebSocketDeflateNegotiation, ServerAcceptsAPlainOffer) {
  const auto agreement = negotiate_deflate("permessage-deflate");
  ASSERT_TRUE(agreement);
  EXPECT_EQ(agreement->response, "permessage-deflate");
  EXPECT_FALSE(agreement->params.server_no_context_takeover);
  EXPECT_EQ(agreement->params.client_max_window_bits, 15);
}

TEST(WebSocketDeflateNegotiation, ServerDoesNotEchoABareClientWindow) {
  const auto agreement = negotiate_deflate("permessage-deflate; client_max_window_bits");
  ASSERT_TRUE(agreement);
  EXPECT_EQ(agreement->response, "permessage-deflate");
}

TEST(WebSocketDeflateNegotiation, ServerAgreesToWhatTheClientAsks) {
  const auto agreement = negotiate_deflate(
      "permessage-deflate; client_no_context_takeover; server_no_context_takeover; "
      "server_max_window_bits=10; client_max_window_bits=12");
  ASSERT_TRUE(agreement);
  EXPECT_TRUE(agreement->params.server_no_context_takeover);
  EXPECT_TRUE(agreement->params.client_no_context_takeover);
  EXPECT_EQ(agreement->params.server_max_window_bits, 10);
  EXPECT_EQ(agreement->params.client_max_window_bits, 12);
  EXPECT_EQ(agreement->response,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            "server_max_window_bits=10; client_max_window_bits=12");
}

TEST(WebSocketDeflateNegotiation, ServerTakesTheFirstAcceptableOffer) {
  // RFC 7692 §5.2's example: a fallback offer after a stricter one.
  auto agreement = negotiate_deflate(
      "permessage-deflate; client_max_window_bits; server_max_window_bits=10, "
      "permessage-deflate; client_max_window_bits");
  ASSERT_TRUE(agreement);
  EXPECT_EQ(agreement->params.server_max_window_bits, 10);
  agreement = negotiate_deflate(
      "x-webkit-deflate-frame, permessage-deflate; unknown_param, permessage-deflate; "
      "server_max_window_bits=8, permessage-deflate; server_no_context_takeover");
  ASSERT_TRUE(agreement);
  EXPECT_EQ(agreement->response, "permessage-deflate; server_no_context_takeover");
}

TEST(WebSocketDeflateNegotiation, ServerDeclinesInvalidOffers) {
  EXPECT_FALSE(negotiate_deflate(""));
  EXPECT_FALSE(negotiate_deflate("x-webkit-deflate-frame"));
  EXPECT_FALSE(
      negotiate_deflate("permessage-deflate; server_no_context_takeover; "
                        "server_no_context_takeover"));
  EXPECT_FALSE(negotiate_deflate("permessage-deflate; server_max_window_bits=16"));
  EXPECT_FALSE(negotiate_deflate("permessage-deflate; server_max_window_bits=010"));
  EXPECT_FALSE(negotiate_deflate("permessage-deflate; server_max_window_bits"));
  EXPECT_FALSE(negotiate_deflate("permessage-deflate; client_no_context_takeover=1"));
  EXPECT_FALSE(negotiate_deflate("permessage-deflate; a b"));
}

TEST(WebSocketDeflateNegotiation, ClientOffersItsParameters) {
  EXPECT_EQ(deflate_offer({}), "permessage-deflate; client_max_window_bits");
  DeflateParameters requested;
  requested.client_no_context_takeover = true;
  requested.server_max_window_bits = 12;
  requested.client_max_window_bits = 11;
  EXPECT_EQ(deflate_offer(requested),
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=12; "
            "client_max_window_bits=11");
}

TEST(WebSocketDeflateNegotiation, ClientAcceptsAValidResponse) {
  EXPECT_FALSE(accept_deflate_response("", {}));
  const auto params = accept_deflate_response(
      "permessage-deflate; server_no_context_takeover; client_max_window_bits=12", {});
  ASSERT_TRUE(params);
  EXPECT_TRUE(params->server_no_context_takeover);
  EXPECT_EQ(params->client_max_window_bits, 12);
}

TEST(WebSocketDeflateNegotiation, ClientRefusesAnInvalidResponse) {
  EXPECT_THROW(accept_deflate_response("x-other", {}), ValueError);
  EXPECT_THROW(accept_deflate_response("permessage-deflate, permessage-deflate", {}), ValueError);
  EXPECT_THROW(accept_deflate_response("permessage-deflate; mystery", {}), ValueError);
  EXPECT_THROW(accept_deflate_response("permessage-deflate; client_max_window_bits", {}),
               ValueError);
  EXPECT_THROW(accept_deflate_response("permessage-deflate; client_max_window_bits=8", {}),
               ValueError);
  DeflateParameters offered;
  offered.server_max_window_bits = 10;
  offered.server_no_context_takeover = true;
  // Looser than offered: no server window limit, or no server_no_context_takeover.
  EXPECT_THROW(accept_deflate_response("permessage-deflate; server_no_context_takeover", offered),
               ValueError);
  EXPECT_THROW(accept_deflate_response("permessage-deflate; server_max_window_bits=10", offered),
               ValueError);
  EXPECT_TRUE(accept_deflate_response(
      "permessage-deflate; server_no_context_takeover; server_max_window_bits=9", offered));
}

}  // namespace
}  // namespace squall::web::detail
