// squall's websocket_connect against servers nobody here wrote: Python's `websockets` 10.4 and
// Tornado 6.2's WebSocketHandler, run as child processes (tests/web/ws_peer_*.py) that print a
// JSON record of each connection once it closed; the assertions are here. See
// websocket_interop.hpp.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "web/websocket_interop.hpp"

namespace squall::interop {
namespace {

// ---- squall's client against Python servers -------------------------------------------------

// A Python server for one test, and squall's client connected to it.
class PythonServerTest : public testing::AsyncTest {
 protected:
  // Starts `script` as a server with `config`; connects to `path` with `options`; runs `body`;
  // returns the server's record of the connection (printed once it closed).
  template <class Body>
  json with_server(std::string_view script, const json& config, std::string_view path,
                   WebSocketClientOptions options, Body body) {
    return run_sync(
        [&]() -> Future<json> {
          PythonPeer server(script, "server", config);
          const json hello = co_await server.read_line();
          std::string url = "ws://127.0.0.1:" + std::to_string(hello.at("port").get<int>());
          url.append(path);
          WebSocketClientConnection conn = co_await web::websocket_connect(url, std::move(options));
          co_await body(conn);
          if (!conn.is_closing()) conn.close();
          co_await gen::with_timeout(20s, conn.closed());
          json record = co_await server.read_line();
          co_await server.stop();
          co_return record;
        },
        kTestTimeout);
  }
};

WebSocketClientOptions with_deflate() {
  WebSocketClientOptions options;
  options.compression = WebSocketCompressionOptions{};
  return options;
}

WebSocketClientOptions offering(std::vector<std::string> subprotocols) {
  WebSocketClientOptions options;
  options.subprotocols = std::move(subprotocols);
  return options;
}

// The next message, which must come.
Future<WebSocketMessage> next_message(WebSocketClientConnection& conn) {
  std::optional<WebSocketMessage> message = co_await gen::with_timeout(20s, conn.read_message());
  if (!message) throw Error("the connection closed instead of giving a message");
  co_return std::move(*message);
}

// The next message is `expected`.
Future<void> expect_next(WebSocketClientConnection& conn, std::string expected) {
  WebSocketMessage message = co_await next_message(conn);
  EXPECT_TRUE(message.data == expected)
      << "got " << message.data.size() << " bytes: " << message.data.substr(0, 200);
}

// The connection closes without giving another message.
Future<void> expect_closed(WebSocketClientConnection& conn) {
  std::optional<WebSocketMessage> message = co_await gen::with_timeout(20s, conn.read_message());
  EXPECT_FALSE(message.has_value()) << "unexpected message: " << message->data;
  co_await gen::with_timeout(20s, conn.closed());
}

class WebsocketsServerTest : public PythonServerTest {};

TEST_F(WebsocketsServerTest, EchoesTextAndBinaryMessagesByteForByte) {
  const std::string binary = random_bytes(100000, 8);
  json record = with_server("ws_peer_websockets.py", json::object(), "/echo", {},
                            [&](WebSocketClientConnection& conn) -> Future<void> {
                              co_await conn.write_message(kUnicodeText);
                              WebSocketMessage text = co_await next_message(conn);
                              EXPECT_EQ(text.data, kUnicodeText);
                              EXPECT_FALSE(text.binary);
                              co_await conn.write_message(binary, true);
                              WebSocketMessage echoed = co_await next_message(conn);
                              EXPECT_EQ(echoed.data, binary);
                              EXPECT_TRUE(echoed.binary);
                              EXPECT_FALSE(conn.headers().contains("Sec-WebSocket-Extensions"));
                            });
  EXPECT_EQ(record["path"], "/echo");
  ASSERT_EQ(record["messages"].size(), 2u);
  EXPECT_EQ(from_hex(record["messages"][0]["hex"].get<std::string>()), kUnicodeText);
  EXPECT_EQ(record["messages"][1]["sha256"], sha256_hex(binary));
  EXPECT_TRUE(record["request_extensions"].is_null());
  // Our close() without a code: the frame has none, which websockets reports as 1005.
  EXPECT_EQ(record["close_code"], 1005);
}

TEST_F(WebsocketsServerTest, JoinsFragmentedMessagesFromTheServer) {
  with_server("ws_peer_websockets.py", json::object(), "/fragments", {},
              [&](WebSocketClientConnection& conn) -> Future<void> {
                const std::string request1 = command(
                    {{"fragments", {to_hex("frag"), to_hex("mented "), to_hex("\xe2\x9c\x93")}},
                     {"binary", false}});
                co_await conn.write_message(request1);
                WebSocketMessage text = co_await next_message(conn);
                EXPECT_EQ(text.data, "fragmented \xe2\x9c\x93");
                EXPECT_FALSE(text.binary);
                const std::string request2 =
                    command({{"fragments", {to_hex(std::string("\x00\x01", 2)), to_hex("\xff")}},
                             {"binary", true}});
                co_await conn.write_message(request2);
                WebSocketMessage binary = co_await next_message(conn);
                EXPECT_EQ(binary.data, std::string("\x00\x01\xff", 3));
                EXPECT_TRUE(binary.binary);
                // A character cut between fragments, with a ping between them.
                const std::string request3 =
                    command({{"raw",
                              {{{"fin", false}, {"opcode", 1}, {"hex", to_hex("caf\xc3")}},
                               {{"fin", true}, {"opcode", 9}, {"hex", to_hex("mid")}},
                               {{"fin", true}, {"opcode", 0}, {"hex", to_hex("\xa9")}}}}});
                co_await conn.write_message(request3);
                WebSocketMessage cut = co_await next_message(conn);
                EXPECT_EQ(cut.data, "caf\xc3\xa9");
              });
}

TEST_F(WebsocketsServerTest, JoinsCompressedFragmentedMessagesFromTheServer) {
  const std::string text = repeated_letters(2000, 2, 23);
  const std::string request = command(
      {{"fragments",
        {to_hex(text.substr(0, 1000)), to_hex(text.substr(1000, 2000)), to_hex(text.substr(3000))}},
       {"binary", false}});
  with_server("ws_peer_websockets.py", {{"compression", "default"}}, "/deflate", with_deflate(),
              [&](WebSocketClientConnection& conn) -> Future<void> {
                EXPECT_TRUE(conn.headers().contains("Sec-WebSocket-Extensions"));
                for (int i = 0; i < 2; ++i) {
                  co_await conn.write_message(request);
                  co_await expect_next(conn, text);
                }
              });
}

TEST_F(WebsocketsServerTest, CompressesWithinTheWindowTheServerSets) {
  // websockets' server answers server_max_window_bits=12 and client_max_window_bits=12: our
  // compressor must not refer back more than 4096 bytes (these copies are 5000 apart).
  const std::string text = repeated_letters(5000, 2, 21);
  json record = with_server(
      "ws_peer_websockets.py", {{"compression", "default"}}, "/deflate", with_deflate(),
      [&](WebSocketClientConnection& conn) -> Future<void> {
        EXPECT_EQ(conn.headers().get("Sec-WebSocket-Extensions"),
                  "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12");
        for (int i = 0; i < 2; ++i) {
          co_await conn.write_message(text);
          WebSocketMessage echoed = co_await next_message(conn);
          EXPECT_EQ(echoed.data, text);
        }
        co_await conn.write_message(std::string(200000, 'q'));
        co_await expect_next(conn, std::string(200000, 'q'));
      });
  EXPECT_EQ(record["request_extensions"], "permessage-deflate; client_max_window_bits");
  ASSERT_EQ(record["extensions"].size(), 1u);
  EXPECT_EQ(record["extensions"][0]["remote_max_window_bits"], 12);
  ASSERT_EQ(record["messages"].size(), 3u) << record.dump();
  // Our compressor kept to 2^12 bytes: it could refer neither to the copy 5000 bytes back nor
  // to the message before, so each message costs its 10000 letters at 4.7 bits (~5900 bytes;
  // a 15-bit window would give ~3000, then a few bytes, and websockets would fail the second).
  EXPECT_GT(record["messages"][0]["wire_bytes"].get<int>(), 5500);
  EXPECT_GT(record["messages"][1]["wire_bytes"].get<int>(), 5500);
  // What came on the wire was compressed: the 200000 'q's in a few hundred bytes.
  EXPECT_LT(record["messages"][2]["wire_bytes"].get<int>(), 1000);
  EXPECT_EQ(record["messages"][0]["sha256"], sha256_hex(text));
}

TEST_F(WebsocketsServerTest, ResetsTheCompressorWhenTheServerAsksForNoContextTakeover) {
  const std::string text = repeated_letters(2000, 1, 22);
  json record = with_server(
      "ws_peer_websockets.py",
      {{"compression",
        {{"client_no_context_takeover", true}, {"server_no_context_takeover", true}}}},
      "/deflate", with_deflate(), [&](WebSocketClientConnection& conn) -> Future<void> {
        EXPECT_EQ(conn.headers().get("Sec-WebSocket-Extensions"),
                  "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
        for (int i = 0; i < 3; ++i) {
          co_await conn.write_message(text);
          co_await expect_next(conn, text);
        }
      });
  ASSERT_EQ(record["messages"].size(), 3u) << record.dump();
  // Each message compressed on its own: the same size on the wire each time.
  const int first = record["messages"][0]["wire_bytes"];
  EXPECT_GT(first, 1000);
  EXPECT_EQ(record["messages"][1]["wire_bytes"], first);
  EXPECT_EQ(record["messages"][2]["wire_bytes"], first);
}

TEST_F(WebsocketsServerTest, PingsAreAnsweredBothWays) {
  json record =
      with_server("ws_peer_websockets.py", json::object(), "/ping", {},
                  [&](WebSocketClientConnection& conn) -> Future<void> {
                    conn.ping("squall client ping");
                    const std::string request4 = command({{"ping", to_hex("server ping")}});
                    co_await conn.write_message(request4);
                    co_await expect_next(conn, "pong:" + to_hex("server ping"));
                  });
  EXPECT_EQ(record["pings_received"], json::array({to_hex("squall client ping")}));
}

TEST_F(WebsocketsServerTest, ClientCloseCodeAndReasonReachTheServer) {
  json record = with_server("ws_peer_websockets.py", json::object(), "/close", {},
                            [&](WebSocketClientConnection& conn) -> Future<void> {
                              conn.close(4011, "client done \xe2\x9c\x93");
                              co_await expect_closed(conn);
                              // websockets echoes the code and reason.
                              EXPECT_EQ(conn.close_code(), 4011);
                            });
  EXPECT_EQ(record["close_code"], 4011);
  EXPECT_EQ(record["close_reason"], "client done \xe2\x9c\x93");
}

TEST_F(WebsocketsServerTest, ServerCloseCodeAndReasonReachTheClient) {
  json record = with_server(
      "ws_peer_websockets.py", json::object(), "/close", {},
      [&](WebSocketClientConnection& conn) -> Future<void> {
        const std::string request5 = command({{"close", 4012}, {"reason", "server done"}});
        co_await conn.write_message(request5);
        co_await expect_closed(conn);
        EXPECT_EQ(conn.close_code(), 4012);
        EXPECT_EQ(conn.close_reason(), "server done");
      });
  // We echoed the code (RFC 6455 §5.5.1).
  EXPECT_EQ(record["close_code"], 4012);
}

TEST_F(WebsocketsServerTest, InvalidUtf8FromTheServerGetsCloseCode1007) {
  json record = with_server(
      "ws_peer_websockets.py", json::object(), "/bad", {},
      [&](WebSocketClientConnection& conn) -> Future<void> {
        const std::string request6 =
            command({{"raw", {{{"fin", true}, {"opcode", 1}, {"hex", to_hex("bad \xc0\xaf")}}}}});
        co_await conn.write_message(request6);
        co_await expect_closed(conn);
      });
  EXPECT_EQ(record["close_code"], 1007) << record.dump();
}

TEST_F(WebsocketsServerTest, ContinuationWithoutAStartFromTheServerGetsCloseCode1002) {
  json record = with_server(
      "ws_peer_websockets.py", json::object(), "/bad", {},
      [&](WebSocketClientConnection& conn) -> Future<void> {
        const std::string request7 =
            command({{"raw", {{{"fin", true}, {"opcode", 0}, {"hex", to_hex("orphan")}}}}});
        co_await conn.write_message(request7);
        co_await expect_closed(conn);
      });
  EXPECT_EQ(record["close_code"], 1002) << record.dump();
}

TEST_F(WebsocketsServerTest, AMessageOverTheLimitFromTheServerGetsCloseCode1009) {
  json record =
      with_server("ws_peer_websockets.py", json::object(), "/big", {},
                  [&](WebSocketClientConnection& conn) -> Future<void> {
                    const std::string request8 =
                        command({{"send", {{"size", kTenMiB + 1}, {"seed", 9}, {"binary", true}}}});
                    co_await conn.write_message(request8);
                    co_await expect_closed(conn);
                  });
  EXPECT_EQ(record["close_code"], 1009) << record.dump();
}

TEST_F(WebsocketsServerTest, AMaskedFrameFromTheServerGetsCloseCode1002) {
  // RFC 6455 §5.1: a client closes the connection on a masked frame.
  const std::string request = command({{"bytes", to_hex(wire_frame(0x81, "hi", true))}});
  json record = with_server("ws_peer_websockets.py", json::object(), "/bad", {},
                            [&](WebSocketClientConnection& conn) -> Future<void> {
                              co_await conn.write_message(request);
                              co_await expect_closed(conn);
                            });
  EXPECT_EQ(record["close_code"], 1002) << record.dump();
}

TEST_F(WebsocketsServerTest, AReservedOpcodeFromTheServerGetsCloseCode1002) {
  const std::string request = command({{"bytes", to_hex(wire_frame(0x8b, "", false))}});
  json record = with_server("ws_peer_websockets.py", json::object(), "/bad", {},
                            [&](WebSocketClientConnection& conn) -> Future<void> {
                              co_await conn.write_message(request);
                              co_await expect_closed(conn);
                            });
  EXPECT_EQ(record["close_code"], 1002) << record.dump();
}

TEST_F(WebsocketsServerTest, EchoesTenMebibyteMessagesWhole) {
  const std::string big = random_bytes(kTenMiB, 10);
  json record = with_server("ws_peer_websockets.py", json::object(), "/big", {},
                            [&](WebSocketClientConnection& conn) -> Future<void> {
                              co_await conn.write_message(big, true);
                              WebSocketMessage echoed = co_await next_message(conn);
                              EXPECT_TRUE(echoed.data == big);
                              EXPECT_EQ(echoed.data.size(), kTenMiB);
                            });
  EXPECT_EQ(record["messages"][0]["sha256"], sha256_hex(big));
}

TEST_F(WebsocketsServerTest, TheServerPicksOneOfTheOfferedSubprotocols) {
  json record = with_server("ws_peer_websockets.py", {{"subprotocols", {"chat.v1"}}}, "/chat",
                            offering({"chat.v2", "chat.v1"}),
                            [&](WebSocketClientConnection& conn) -> Future<void> {
                              EXPECT_EQ(conn.selected_subprotocol(), "chat.v1");
                              co_return;
                            });
  EXPECT_EQ(record["subprotocol"], "chat.v1");
}

// ---- squall's client against Tornado's server -----------------------------------------------

class TornadoServerTest : public PythonServerTest {};

TEST_F(TornadoServerTest, EchoesTextAndBinaryMessages) {
  const std::string binary = random_bytes(50000, 30);
  json record = with_server("ws_peer_tornado.py", json::object(), "/echo", {},
                            [&](WebSocketClientConnection& conn) -> Future<void> {
                              co_await conn.write_message(kUnicodeText);
                              co_await expect_next(conn, std::string(kUnicodeText));
                              co_await conn.write_message(binary, true);
                              WebSocketMessage echoed = co_await next_message(conn);
                              EXPECT_EQ(echoed.data, binary);
                              EXPECT_TRUE(echoed.binary);
                              conn.close(1000, "finished");
                            });
  ASSERT_EQ(record["messages"].size(), 2u);
  EXPECT_EQ(record["messages"][1]["sha256"], sha256_hex(binary));
  EXPECT_TRUE(record["messages"][1]["binary"]);
  EXPECT_EQ(record["close_code"], 1000);
  EXPECT_EQ(record["close_reason"], "finished");
}

TEST_F(TornadoServerTest, NegotiatesDeflateAndCompressesBothWays) {
  const std::string text = repeated_letters(3000, 2, 31);
  json record =
      with_server("ws_peer_tornado.py", {{"compression", json::object()}}, "/deflate",
                  with_deflate(), [&](WebSocketClientConnection& conn) -> Future<void> {
                    EXPECT_EQ(conn.headers().get("Sec-WebSocket-Extensions"), "permessage-deflate");
                    for (int i = 0; i < 2; ++i) {
                      co_await conn.write_message(text);
                      co_await expect_next(conn, text);
                    }
                  });
  EXPECT_EQ(record["request_extensions"], "permessage-deflate; client_max_window_bits");
  ASSERT_FALSE(record["compression"].is_null());
  ASSERT_EQ(record["messages"].size(), 2u);
  // Our compressor keeps its context: the second copy is a few bytes on the wire.
  EXPECT_LT(record["messages"][0]["wire_bytes"].get<int>(), 2600);
  EXPECT_LT(record["messages"][1]["wire_bytes"].get<int>(), 100);
}

TEST_F(TornadoServerTest, PingsAreAnsweredBothWays) {
  json record =
      with_server("ws_peer_tornado.py", json::object(), "/ping", {},
                  [&](WebSocketClientConnection& conn) -> Future<void> {
                    conn.ping("to tornado");
                    const std::string request9 = command({{"ping", to_hex("from tornado")}});
                    co_await conn.write_message(request9);
                    co_await expect_next(conn, "pong:" + to_hex("from tornado"));
                  });
  EXPECT_EQ(record["pings_received"], json::array({to_hex("to tornado")}));
  EXPECT_EQ(record["pongs_received"], json::array({to_hex("from tornado")}));
}

TEST_F(TornadoServerTest, ServerCloseCodeAndReasonReachTheClient) {
  json record = with_server(
      "ws_peer_tornado.py", json::object(), "/close", {},
      [&](WebSocketClientConnection& conn) -> Future<void> {
        const std::string request10 = command({{"close", 4013}, {"reason", "tornado done"}});
        co_await conn.write_message(request10);
        co_await expect_closed(conn);
        EXPECT_EQ(conn.close_code(), 4013);
        EXPECT_EQ(conn.close_reason(), "tornado done");
      });
  EXPECT_EQ(record["close_code"], 4013);
}

TEST_F(TornadoServerTest, TheServerPicksOneOfTheOfferedSubprotocols) {
  json record = with_server("ws_peer_tornado.py", {{"subprotocols", {"chat.v2"}}}, "/chat",
                            offering({"chat.v1", "chat.v2"}),
                            [&](WebSocketClientConnection& conn) -> Future<void> {
                              EXPECT_EQ(conn.selected_subprotocol(), "chat.v2");
                              co_return;
                            });
  EXPECT_EQ(record["offered_subprotocols"], "chat.v1, chat.v2");
  EXPECT_EQ(record["subprotocol"], "chat.v2");
}

}  // namespace
}  // namespace squall::interop
