// squall's WebSocketHandler against clients nobody here wrote: Python's `websockets` 10.4 and
// Tornado 6.2's websocket_connect, run as child processes (tests/web/ws_peer_*.py) that print
// JSON of everything they saw; the assertions are here. See websocket_interop.hpp.
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "web/websocket_interop.hpp"

namespace squall::interop {
namespace {

// ---- Python's websockets as the client of squall's server -----------------------------------

class WebsocketsClientTest : public InteropTest {
 protected:
  json run(std::string_view path, json args) {
    args["url"] = ws_url(path);
    return run_client("ws_peer_websockets.py", std::move(args));
  }
};

TEST_F(WebsocketsClientTest, EchoesTextAndBinaryMessagesByteForByte) {
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  json report =
      run("/echo", {{"steps",
                     {send_text("hello"), recv(), send_text(kUnicodeText), recv(), send_text(""),
                      recv(), send_binary(all_bytes), recv(), send_binary(""), recv()}}});
  json steps = report.at("steps");
  EXPECT_EQ(received_bytes(steps[1]), "hello");
  EXPECT_FALSE(steps[1]["received"]["binary"]);
  EXPECT_EQ(received_bytes(steps[3]), kUnicodeText);
  EXPECT_EQ(received_bytes(steps[5]), "");
  EXPECT_FALSE(steps[5]["received"]["binary"]);
  EXPECT_EQ(received_bytes(steps[7]), all_bytes);
  EXPECT_TRUE(steps[7]["received"]["binary"]);
  EXPECT_EQ(received_bytes(steps[9]), "");
  EXPECT_TRUE(steps[9]["received"]["binary"]);

  ConnectionRecord& server = connection();
  ASSERT_EQ(server.messages.size(), 5u);
  EXPECT_EQ(server.messages[1].data, kUnicodeText);
  EXPECT_FALSE(server.messages[1].binary);
  EXPECT_EQ(server.messages[3].data, all_bytes);
  EXPECT_TRUE(server.messages[3].binary);
  // websockets closes with 1000 and no reason at the end of its run.
  EXPECT_EQ(server.close_code, 1000);
  EXPECT_EQ(server.close_reason, "");
  EXPECT_EQ(report["final_close"]["code"], 1000);
  // No compression was offered by this route: nothing was negotiated.
  EXPECT_TRUE(report["extensions"].empty());
  EXPECT_TRUE(report["response_extensions"].is_null());
}

TEST_F(WebsocketsClientTest, JoinsMessagesSentInSeveralFrames) {
  const std::string binary = random_bytes(200000, 7);
  // "é" is cut between its two bytes, "✓" after its first: UTF-8 checked across fragments.
  json report =
      run("/echo", {{"steps",
                     {send_text(kUnicodeText, 3), recv(), send_binary(binary, 4), recv(),
                      raw_frame(false, 1, "h\xc3"), raw_frame(false, 0, "\xa9llo \xe2"),
                      // A ping between fragments is answered at once (RFC 6455 §5.4).
                      raw_frame(true, 9, "between"), raw_frame(true, 0, "\x9c\x93"), recv()}}});
  json steps = report.at("steps");
  EXPECT_EQ(received_bytes(steps[1]), kUnicodeText);
  EXPECT_EQ(steps[3]["received"]["sha256"], sha256_hex(binary));
  EXPECT_EQ(steps[3]["received"]["length"], binary.size());
  EXPECT_EQ(received_bytes(steps[8]), "h\xc3\xa9llo \xe2\x9c\x93");
  EXPECT_FALSE(steps[8]["received"]["binary"]);

  ConnectionRecord& server = connection();
  ASSERT_EQ(server.messages.size(), 3u);
  EXPECT_EQ(server.messages[0].data, kUnicodeText);
  EXPECT_EQ(server.messages[1].data, binary);
  EXPECT_EQ(server.messages[2].data, "h\xc3\xa9llo \xe2\x9c\x93");
  EXPECT_EQ(server.pings, std::vector<std::string>{"between"});
}

TEST_F(WebsocketsClientTest, NegotiatesDeflateAndKeepsTheContextBetweenMessages) {
  const std::string text = repeated_letters(3000, 2, 11);
  json report = run("/deflate", {{"compression", "default"},
                                 {"steps",
                                  {send_text(text), recv(), send_text(text), recv(),
                                   send_text(std::string(100000, 'z')), recv()}}});
  ASSERT_EQ(report["extensions"].size(), 1u) << report.dump();
  json extension = report["extensions"][0];
  EXPECT_EQ(extension["name"], "permessage-deflate");
  EXPECT_FALSE(extension["remote_no_context_takeover"]);
  EXPECT_FALSE(extension["local_no_context_takeover"]);
  // websockets offers a valueless client_max_window_bits, which the server need not answer.
  EXPECT_EQ(report["request_extensions"], "permessage-deflate; client_max_window_bits");
  EXPECT_EQ(report["response_extensions"], "permessage-deflate");
  json steps = report.at("steps");
  EXPECT_EQ(received_bytes(steps[1]), text);
  EXPECT_EQ(received_bytes(steps[3]), text);
  EXPECT_EQ(received_bytes(steps[5]), std::string(100000, 'z'));
  // Compressed: the second copy refers back into the first, so the first message costs about
  // the 3000 random letters, the second a few bytes (the context is kept across messages).
  const int first = steps[1]["received"]["wire_bytes"];
  const int second = steps[3]["received"]["wire_bytes"];
  EXPECT_LT(first, 2600);
  EXPECT_LT(second, 100);
  EXPECT_LT(steps[5]["received"]["wire_bytes"].get<int>(), 1000);

  ConnectionRecord& server = connection();
  EXPECT_EQ(server.request_extensions, "permessage-deflate; client_max_window_bits");
  ASSERT_EQ(server.messages.size(), 3u);
  EXPECT_EQ(server.messages[1].data, text);
}

TEST_F(WebsocketsClientTest, CompressesWithinTheWindowTheClientAskedFor) {
  // Two copies of 1500 random letters, sent twice, with the context kept: a compressor whose
  // window is wider than the 2^10 bytes asked for would refer 1500 bytes back, within the
  // message and into the one before, and websockets' 10-bit inflater would fail the latter.
  const std::string text = repeated_letters(1500, 2, 12);
  json report = run("/deflate", {{"compression", {{"server_max_window_bits", 10}}},
                                 {"steps", {send_text(text), recv(), send_text(text), recv()}}});
  ASSERT_EQ(report["extensions"].size(), 1u) << report.dump();
  EXPECT_EQ(report["extensions"][0]["remote_max_window_bits"], 10);
  EXPECT_EQ(report["response_extensions"], "permessage-deflate; server_max_window_bits=10");
  json steps = report.at("steps");
  ASSERT_TRUE(steps[1].contains("received")) << steps[1].dump();
  ASSERT_TRUE(steps[3].contains("received")) << steps[3].dump();
  EXPECT_EQ(received_bytes(steps[1]), text);
  EXPECT_EQ(received_bytes(steps[3]), text);
  // No copy could be referred to: each costs about 3000 letters of 4.7 bits (~1760 bytes),
  // where a 15-bit window would have sent the first in ~950 and the second in a few.
  EXPECT_GT(steps[1]["received"]["wire_bytes"].get<int>(), 1600);
  EXPECT_GT(steps[3]["received"]["wire_bytes"].get<int>(), 1600);
}

TEST_F(WebsocketsClientTest, HonoursNoContextTakeoverBothWays) {
  const std::string text = repeated_letters(500, 1, 14);
  json report =
      run("/deflate",
          {{"compression",
            {{"server_no_context_takeover", true}, {"client_no_context_takeover", true}}},
           {"steps", {send_text(text), recv(), send_text(text), recv(), send_text(text), recv()}}});
  ASSERT_EQ(report["extensions"].size(), 1u) << report.dump();
  json extension = report["extensions"][0];
  EXPECT_TRUE(extension["remote_no_context_takeover"]);
  EXPECT_TRUE(extension["local_no_context_takeover"]);
  json steps = report.at("steps");
  // Each message compressed on its own: the same size on the wire each time, where a kept
  // context would send the second and third in a few bytes.
  const int first = steps[1]["received"]["wire_bytes"];
  EXPECT_GT(first, 250);
  for (int i : {1, 3, 5}) {
    EXPECT_EQ(received_bytes(steps[i]), text);
    EXPECT_EQ(steps[i]["received"]["wire_bytes"], first);
  }
  ASSERT_EQ(connection().messages.size(), 3u);
  EXPECT_EQ(connection().messages[2].data, text);
}

TEST_F(WebsocketsClientTest, AskingForAnEightBitServerWindowStillWorks) {
  // zlib cannot deflate raw data with a 2^8 window; a server agreeing to 8 must still send
  // what an 8-bit inflater reads, or decline the offer (RFC 7692 §5), which squall does.
  const std::string text = repeated_letters(200, 3, 15);
  json report = run("/deflate", {{"compression", {{"server_max_window_bits", 8}}},
                                 {"steps", {send_text(text), recv(), send_text(text), recv()}}});
  ASSERT_TRUE(report.contains("steps")) << report.dump();
  json steps = report.at("steps");
  ASSERT_TRUE(steps[1].contains("received")) << report.dump();
  ASSERT_TRUE(steps[3].contains("received")) << report.dump();
  EXPECT_EQ(received_bytes(steps[1]), text);
  EXPECT_EQ(received_bytes(steps[3]), text);
  if (!report["extensions"].empty()) {
    EXPECT_EQ(report["extensions"][0]["remote_max_window_bits"], 8);
  }
}

TEST_F(WebsocketsClientTest, JoinsCompressedMessagesSentInSeveralFrames) {
  const std::string text = repeated_letters(3000, 3, 16);
  const std::string binary = random_bytes(100000, 17);
  json report = run(
      "/deflate",
      {{"compression", "default"},
       {"steps",
        {send_text(text, 4), recv(), send_binary(binary, 3), recv(), send_text(text, 2), recv()}}});
  ASSERT_EQ(report["extensions"].size(), 1u);
  json steps = report.at("steps");
  EXPECT_EQ(received_bytes(steps[1]), text);
  EXPECT_EQ(steps[3]["received"]["sha256"], sha256_hex(binary));
  EXPECT_EQ(received_bytes(steps[5]), text);
  ASSERT_EQ(connection().messages.size(), 3u);
  EXPECT_EQ(connection().messages[0].data, text);
  EXPECT_EQ(connection().messages[1].data, binary);
}

TEST_F(WebsocketsClientTest, JoinsCompressedFramesThatArriveAFewBytesAtATime) {
  // Frame headers, masks and deflate blocks cut everywhere: each write is a few bytes.
  const std::string text = repeated_letters(300, 3, 18);
  json steps = json::array();
  for (int size : {1, 2, 3, 5, 8, 13}) {
    json step = send_text(text, 3);
    step["slices"] = size;
    steps.push_back(step);
    steps.push_back(recv());
  }
  json report = run("/deflate", {{"compression", "default"}, {"steps", steps}});
  ASSERT_EQ(report["extensions"].size(), 1u);
  for (std::size_t i = 1; i < steps.size(); i += 2) {
    ASSERT_TRUE(report["steps"][i].contains("received")) << report["steps"][i].dump();
    EXPECT_EQ(received_bytes(report["steps"][i]), text);
  }
  EXPECT_EQ(connection().messages.size(), 6u);
}

TEST_F(WebsocketsClientTest, ALongCloseReasonIsCutAtACharacterBoundary) {
  std::string reason;
  for (int i = 0; i < 100; ++i) reason.append("\xc3\xa9");  // 200 bytes of "é"
  json report = run(
      "/echo", {{"steps", {send_text(command({{"close", 4000}, {"reason", reason}})), recv()}}});
  // A close frame's payload is at most 125 bytes: the code and 61 whole characters.
  EXPECT_EQ(report["steps"][1]["closed"]["code"], 4000);
  EXPECT_EQ(report["steps"][1]["closed"]["reason"], reason.substr(0, 122));
}

TEST_F(WebsocketsClientTest, PingsOfTheLargestSizeAreAnsweredBothWays) {
  const std::string big_ping(125, '\x5a');
  json report = run("/echo", {{"steps",
                               {{{"do", "ping"}, {"hex", to_hex(big_ping)}},
                                send_text(command({{"ping", to_hex(big_ping)}})),
                                recv()}}});
  json steps = report.at("steps");
  EXPECT_TRUE(steps[0]["pong"]);
  EXPECT_EQ(received_bytes(steps[2]), "pong:" + to_hex(big_ping));
  EXPECT_EQ(connection().pings, std::vector<std::string>{big_ping});
}

TEST_F(WebsocketsClientTest, PingsAreAnsweredBothWays) {
  json report = run("/echo", {{"steps",
                               {{{"do", "ping"}, {"hex", to_hex("from python\x01")}},
                                send_text(command({{"ping", to_hex("from squall\xff")}})),
                                recv()}}});
  json steps = report.at("steps");
  EXPECT_TRUE(steps[0]["pong"]);
  // The handler's on_pong answered with the data of websockets' pong.
  EXPECT_EQ(received_bytes(steps[2]), "pong:" + to_hex("from squall\xff"));
  EXPECT_EQ(report["pings_received"], json::array({to_hex("from squall\xff")}));
  ConnectionRecord& server = connection();
  EXPECT_EQ(server.pings, std::vector<std::string>{"from python\x01"});
  EXPECT_EQ(server.pongs, std::vector<std::string>{"from squall\xff"});
}

TEST_F(WebsocketsClientTest, ClientCloseCodeAndReasonReachTheHandler) {
  json report = run(
      "/echo", {{"steps",
                 {send_text("x"),
                  recv(),
                  {{"do", "close"}, {"code", 4001}, {"reason", "client leaves \xe2\x9c\x93"}}}}});
  ConnectionRecord& server = connection();
  EXPECT_EQ(server.close_code, 4001);
  EXPECT_EQ(server.close_reason, "client leaves \xe2\x9c\x93");
  // The handler answered with the same code (RFC 6455 §5.5.1).
  EXPECT_EQ(report["steps"][2]["closed"]["code"], 4001);
}

TEST_F(WebsocketsClientTest, HandlerCloseCodeAndReasonReachTheClient) {
  json report = run(
      "/echo", {{"steps",
                 {send_text(command({{"close", 4002}, {"reason", "server leaves \xe2\x9c\x93"}})),
                  recv()}}});
  EXPECT_EQ(report["steps"][1]["closed"]["code"], 4002);
  EXPECT_EQ(report["steps"][1]["closed"]["reason"], "server leaves \xe2\x9c\x93");
  // websockets echoes the code and reason back.
  EXPECT_EQ(connection().close_code, 4002);
}

TEST_F(WebsocketsClientTest, InvalidUtf8GetsCloseCode1007) {
  json report = run("/echo", {{"steps", {raw_frame(true, 1, "ok \xce\xba \xed\xa0\x80"), recv()}}});
  EXPECT_EQ(report["steps"][1]["closed"]["code"], 1007) << report.dump();
  EXPECT_TRUE(connection().messages.empty());
}

TEST_F(WebsocketsClientTest, ContinuationWithoutAStartGetsCloseCode1002) {
  json report = run("/echo", {{"steps", {raw_frame(true, 0, "orphan"), recv()}}});
  EXPECT_EQ(report["steps"][1]["closed"]["code"], 1002) << report.dump();
  EXPECT_TRUE(connection().messages.empty());
}

TEST_F(WebsocketsClientTest, EchoesTenMebibyteMessagesWhole) {
  json report =
      run("/echo", {{"steps", {send_random(kTenMiB, 1), recv(), send_random(kTenMiB, 2), recv()}}});
  json steps = report.at("steps");
  for (int i : {0, 2}) {
    ASSERT_TRUE(steps[i + 1].contains("received")) << steps[i + 1].dump();
    EXPECT_EQ(steps[i + 1]["received"]["length"], kTenMiB);
    EXPECT_EQ(steps[i + 1]["received"]["sha256"], steps[i]["sent"]["sha256"]);
  }
  ConnectionRecord& server = connection();
  ASSERT_EQ(server.messages.size(), 2u);
  EXPECT_EQ(server.messages[0].data.size(), kTenMiB);
  EXPECT_EQ(sha256_hex(server.messages[0].data), steps[0]["sent"]["sha256"]);
}

TEST_F(WebsocketsClientTest, EchoesATenMebibyteMessageCompressed) {
  // Hex text, which deflate shrinks: the limit counts the compressed size as well (as Tornado
  // and websockets do), and random bytes grow a little when deflated.
  json report = run("/deflate", {{"compression", "default"},
                                 {"steps", {send_random(kTenMiB, 3, false), recv()}}});
  ASSERT_EQ(report["extensions"].size(), 1u);
  json steps = report.at("steps");
  ASSERT_TRUE(steps[1].contains("received")) << steps[1].dump();
  EXPECT_EQ(steps[1]["received"]["sha256"], steps[0]["sent"]["sha256"]);
  EXPECT_EQ(sha256_hex(connection().messages.at(0).data), steps[0]["sent"]["sha256"]);
  // Hex digits carry 4 bits in 8: deflated, a little over half the size.
  EXPECT_LT(steps[1]["received"]["wire_bytes"].get<double>(), 0.6 * kTenMiB);
}

TEST_F(WebsocketsClientTest, AMessageOverTheLimitOnceInflatedGetsCloseCode1009) {
  // 10 MiB and one byte of 'a': about 10 KiB on the wire.
  json big = send_text("a");
  big["repeat"] = kTenMiB + 1;
  json report = run("/deflate", {{"compression", "default"}, {"steps", {big, recv()}}});
  EXPECT_EQ(report["steps"][1]["closed"]["code"], 1009) << report.dump();
  EXPECT_TRUE(connection().messages.empty());
}

TEST_F(WebsocketsClientTest, AMessageOneByteOverTheLimitGetsCloseCode1009) {
  json report = run("/echo", {{"steps", {send_random(kTenMiB + 1, 4), recv()}}});
  EXPECT_EQ(report["steps"][1]["closed"]["code"], 1009) << report.dump();
  EXPECT_TRUE(connection().messages.empty());
}

// A peer that breaks the protocol is sent the close code that says how (RFC 6455 §7.4.1).
struct Violation {
  const char* name;
  std::string bytes;  // sent after the handshake
  int code;           // the close code the peer must see from us; 0: 1002 or 1007
  bool deflate = false;
};

std::ostream& operator<<(std::ostream& out, const Violation& violation) {
  return out << violation.name;
}

std::vector<Violation> client_violations() {
  const std::string long_size("\x82\xff\x80\0\0\0\0\0\0\x01\0\0\0\0", 14);
  return {
      {"ReservedOpcode", wire_frame(0x83, "x"), 1002},
      {"Rsv2Set", wire_frame(0xa1, "x"), 1002},
      {"Rsv1WithoutDeflate", wire_frame(0xc1, "x"), 1002},
      {"FragmentedPing", wire_frame(0x09, "p"), 1002},
      {"PingOf126Bytes", wire_frame(0x89, std::string(126, 'p')), 1002},
      {"UnmaskedFrame", wire_frame(0x81, "hi", false), 1002},
      {"NewMessageInsideAFragmentedOne", wire_frame(0x01, "a") + wire_frame(0x81, "b"), 1002},
      {"LengthWithTheTopBitSet", long_size, 1002},
      {"CloseWithOneByte", wire_frame(0x88, "\x03"), 1002},
      {"CloseCode1005", wire_frame(0x88, "\x03\xed"), 1002},
      {"CloseCode999", wire_frame(0x88, "\x03\xe7"), 1002},
      {"CloseCode5000", wire_frame(0x88, "\x13\x88"), 1002},
      {"CloseReasonNotUtf8", wire_frame(0x88, "\x03\xe8\xff"), 1007},
      {"Utf8CutAtTheEndOfAMessage", wire_frame(0x81, "ok \xe2\x9c"), 1007},
      {"InvalidUtf8AcrossFragments", wire_frame(0x01, "\xe2\x9c") + wire_frame(0x80, "x"), 1007},
      {"Rsv1OnAControlFrame", wire_frame(0xc9, "p"), 1002, true},
      {"Rsv1OnAContinuation", wire_frame(0x41, "a") + wire_frame(0xc0, "b"), 1002, true},
      {"CompressedDataThatIsNotDeflate", wire_frame(0xc1, "\xff\xff\xff\xff"), 0, true},
  };
}

class WebsocketsClientViolationTest : public WebsocketsClientTest,
                                      public ::testing::WithParamInterface<Violation> {};

TEST_P(WebsocketsClientViolationTest, GetsTheMatchingCloseCode) {
  const Violation& violation = GetParam();
  json args = {{"steps", {send_text("before"), recv(), wire_bytes(violation.bytes), recv()}}};
  if (violation.deflate) args["compression"] = "default";
  json report = run(violation.deflate ? "/deflate" : "/echo", std::move(args));
  json steps = report.at("steps");
  EXPECT_EQ(received_bytes(steps[1]), "before");
  ASSERT_TRUE(steps[3].contains("closed")) << steps[3].dump();
  const int code = steps[3]["closed"]["code"];
  if (violation.code != 0) {
    EXPECT_EQ(code, violation.code) << report.dump();
  } else {
    EXPECT_TRUE(code == 1002 || code == 1007) << report.dump();
  }
  EXPECT_EQ(connection().messages.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Violations, WebsocketsClientViolationTest,
                         ::testing::ValuesIn(client_violations()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(WebsocketsClientTest, TheHandlerPicksASubprotocolTheClientOffered) {
  json report = run("/chat", {{"subprotocols", {"chat.v3", "chat.v2", "chat.v1"}},
                              {"steps", {send_text("hi"), recv()}}});
  EXPECT_EQ(report["subprotocol"], "chat.v2");
  EXPECT_EQ(report["response_protocol"], "chat.v2");
  EXPECT_EQ(connection().selected_subprotocol, "chat.v2");
}

TEST_F(WebsocketsClientTest, NoCommonSubprotocolMeansNone) {
  json report = run("/chat", {{"subprotocols", {"other"}}, {"steps", {send_text("hi"), recv()}}});
  EXPECT_TRUE(report["subprotocol"].is_null());
  EXPECT_TRUE(report["response_protocol"].is_null());
  EXPECT_EQ(received_bytes(report["steps"][1]), "hi");
}

TEST_F(WebsocketsClientTest, AForeignOriginIsRefusedWith403) {
  json report = run("/echo", {{"origin", "http://evil.example"}, {"steps", json::array()}});
  EXPECT_EQ(report["handshake_status"], 403) << report.dump();
  EXPECT_TRUE(log_.connections.empty());
}

TEST_F(WebsocketsClientTest, TheSameOriginIsAccepted) {
  json report = run("/echo", {{"origin", "http://127.0.0.1:" + std::to_string(get_http_port())},
                              {"steps", {send_text("same"), recv()}}});
  EXPECT_EQ(received_bytes(report.at("steps")[1]), "same");
}

// ---- Tornado's client against squall's server -----------------------------------------------

class TornadoClientTest : public InteropTest {
 protected:
  json run(std::string_view path, json args) {
    args["url"] = ws_url(path);
    return run_client("ws_peer_tornado.py", std::move(args));
  }
};

TEST_F(TornadoClientTest, EchoesTextAndBinaryMessages) {
  const std::string binary = random_bytes(70000, 5);
  json report = run("/echo", {{"steps",
                               {send_text(kUnicodeText),
                                recv(),
                                send_binary(binary),
                                recv(),
                                {{"do", "close"}, {"code", 1000}, {"reason", "done"}}}}});
  json steps = report.at("steps");
  EXPECT_EQ(received_bytes(steps[1]), kUnicodeText);
  EXPECT_FALSE(steps[1]["received"]["binary"]);
  EXPECT_EQ(steps[3]["received"]["sha256"], sha256_hex(binary));
  EXPECT_TRUE(steps[3]["received"]["binary"]);
  EXPECT_TRUE(report["compression"].is_null());
  EXPECT_EQ(connection().close_code, 1000);
  EXPECT_EQ(connection().close_reason, "done");
}

TEST_F(TornadoClientTest, NegotiatesDeflate) {
  const std::string text = repeated_letters(3000, 2, 13);
  json report = run("/deflate", {{"compression", json::object()},
                                 {"steps", {send_text(text), recv(), send_text(text), recv()}}});
  EXPECT_EQ(report["response_extensions"], "permessage-deflate");
  ASSERT_FALSE(report["compression"].is_null());
  EXPECT_TRUE(report["compression"]["decompressor_persistent"]);
  json steps = report.at("steps");
  EXPECT_EQ(received_bytes(steps[1]), text);
  EXPECT_EQ(received_bytes(steps[3]), text);
  EXPECT_LT(steps[1]["received"]["wire_bytes"].get<int>(), 2600);
  EXPECT_LT(steps[3]["received"]["wire_bytes"].get<int>(), 100);
  EXPECT_EQ(connection().request_extensions, "permessage-deflate; client_max_window_bits");
}

TEST_F(TornadoClientTest, PingsAreAnsweredBothWays) {
  json report = run("/echo", {{"steps",
                               {{{"do", "ping"}, {"hex", to_hex("tornado ping")}},
                                send_text(command({{"ping", to_hex("squall ping")}})),
                                recv()}}});
  json steps = report.at("steps");
  EXPECT_EQ(steps[0]["pong"], to_hex("tornado ping"));
  EXPECT_EQ(received_bytes(steps[2]), "pong:" + to_hex("squall ping"));
  EXPECT_EQ(report["pings_received"], json::array({to_hex("squall ping")}));
  EXPECT_EQ(connection().pings, std::vector<std::string>{"tornado ping"});
  EXPECT_EQ(connection().pongs, std::vector<std::string>{"squall ping"});
}

TEST_F(TornadoClientTest, CloseCodesAndReasonsReachTheOtherSide) {
  json report = run(
      "/echo",
      {{"steps",
        {send_text(command({{"close", 4003}, {"reason", "bye tornado \xe2\x9c\x93"}})), recv()}}});
  EXPECT_EQ(report["steps"][1]["closed"]["code"], 4003);
  EXPECT_EQ(report["steps"][1]["closed"]["reason"], "bye tornado \xe2\x9c\x93");
  // Tornado echoes the code without the reason.
  EXPECT_EQ(connection().close_code, 4003);
}

TEST_F(TornadoClientTest, ClientCloseCodeAndReasonReachTheHandler) {
  run("/echo", {{"steps", {{{"do", "close"}, {"code", 4004}, {"reason", "bye squall"}}}}});
  EXPECT_EQ(connection().close_code, 4004);
  EXPECT_EQ(connection().close_reason, "bye squall");
}

TEST_F(TornadoClientTest, EchoesATenMebibyteMessage) {
  json report = run("/echo", {{"steps", {send_random(kTenMiB, 6), recv()}}});
  json steps = report.at("steps");
  EXPECT_EQ(steps[1]["received"]["sha256"], steps[0]["sent"]["sha256"]);
  EXPECT_EQ(steps[1]["received"]["length"], kTenMiB);
}

TEST_F(TornadoClientTest, SelectsASubprotocol) {
  json report = run("/chat", {{"subprotocols", {"chat.v1"}}, {"steps", json::array()}});
  EXPECT_EQ(report["subprotocol"], "chat.v1");
}

TEST_F(TornadoClientTest, AForeignOriginIsRefusedWith403) {
  json report = run(
      "/echo", {{"headers", {{"Origin", "https://elsewhere.example"}}}, {"steps", json::array()}});
  EXPECT_EQ(report["handshake_status"], 403) << report.dump();
}

}  // namespace
}  // namespace squall::interop
