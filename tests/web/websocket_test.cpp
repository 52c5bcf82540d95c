// WebSocketHandler and websocket_connect over real sockets: the handshake and its refusals, the
// life of a connection (open, messages one at a time, on_close), writing, closing with codes,
// pings, protocol violations, compression, TLS, and the client's own failures.

#include "squall/web/websocket.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "squall/core/gen.hpp"
#include "squall/net/netutil.hpp"
#include "squall/net/tcpclient.hpp"
#include "squall/testing/testing.hpp"
#include "squall/util/log.hpp"
#include "squall/web/application.hpp"
#include "support/test_certificates.hpp"
#include "web/websocket_connection.hpp"
#include "web/websocket_protocol.hpp"

namespace squall::web {
namespace {

using namespace std::chrono_literals;
using squall::testing::AsyncHTTPTestCase;
using squall::testing::ExpectLog;

// What the handlers saw, shared by the test and the handlers it starts.
struct Journal {
  std::vector<std::string> events;
  int open_handlers = 0;
  int max_in_flight = 0;
  int in_flight = 0;
  std::optional<int> close_code;
  std::string close_reason;
  Future<void> closed;  // set by on_close
  std::vector<std::string> pongs;
  std::vector<std::string> pings;
};

class EchoSocket : public WebSocketHandler {
 public:
  void initialize(Journal* journal) { journal_ = journal; }
  ~EchoSocket() override {
    if (opened_) --journal_->open_handlers;
  }

  Future<void> open() override {
    ++journal_->open_handlers;
    opened_ = true;
    journal_->events.push_back("open " + get_argument("tag", ""));
    if (get_argument("fail_open", "") == "1") throw ValueError("open failed");
    if (get_argument("slow_open", "") == "1") {
      co_await gen::sleep(30ms);
      journal_->events.push_back("opened");
    }
  }

  Future<void> on_message(WebSocketMessage message) override {
    journal_->events.push_back((message.binary ? "binary " : "text ") + message.data);
    ++journal_->in_flight;
    journal_->max_in_flight = std::max(journal_->max_in_flight, journal_->in_flight);
    if (message.data == "slow") co_await gen::sleep(20ms);
    --journal_->in_flight;
    if (message.data == "throw") throw ValueError("a handler failed");
    if (message.data == "close") {
      close(4001, "asked to close");
      co_return;
    }
    if (message.data == "ping") {
      ping("are you there");
      co_return;
    }
    if (message.data == "json") {
      nlohmann::json answer = {{"answer", 42}};
      co_await write_message(answer);
      co_return;
    }
    co_await write_message(message.data, message.binary);
  }

  void on_close() override {
    journal_->events.push_back("close");
    journal_->close_code = close_code();
    journal_->close_reason = close_reason();
    if (!journal_->closed.done()) journal_->closed.set_result();
  }
  void on_ping(std::string_view data) override { journal_->pings.emplace_back(data); }
  void on_pong(std::string_view data) override { journal_->pongs.emplace_back(data); }

  std::optional<std::string> select_subprotocol(const std::vector<std::string>& offered) override {
    for (const std::string& protocol : offered) {
      if (protocol == "chat.v2") return protocol;
    }
    return std::nullopt;
  }

 private:
  Journal* journal_ = nullptr;
  bool opened_ = false;
};

class CompressedEchoSocket : public EchoSocket {
 public:
  std::optional<WebSocketCompressionOptions> get_compression_options() override {
    return WebSocketCompressionOptions{};
  }
};

class AnyOriginSocket : public EchoSocket {
 public:
  bool check_origin(std::string_view) override { return true; }
};

// A raw client over TCP, for what websocket_connect would never send.
struct RawClient {
  std::unique_ptr<IOStream> stream;
  std::string head;  // the response head

  static Future<RawClient> connect(std::uint16_t port, std::string_view path,
                                   std::string extra_headers = {}, std::string after = {}) {
    RawClient client;
    TCPClient tcp;
    client.stream = co_await tcp.connect("127.0.0.1", port);
    std::string request = "GET " + std::string(path) +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n";
    request.append(extra_headers).append("\r\n").append(after);
    co_await client.stream->write(request);
    client.head = co_await client.stream->read_until("\r\n\r\n");
    co_return client;
  }

  Future<void> send(detail::Opcode opcode, std::string_view payload, bool mask = true,
                    bool fin = true) {
    detail::MaskKey key{1, 2, 3, 4};
    return stream->write(detail::build_frame(opcode, payload, fin, false, mask ? &key : nullptr));
  }
};

// Collects what a client-side parser finds.
struct Frames : detail::WebSocketParserDelegate {
  std::vector<WebSocketMessage> messages;
  std::vector<std::string> pings;
  std::optional<std::optional<std::uint16_t>> close;
  void on_message(detail::Opcode opcode, std::string& data) override {
    messages.push_back({data, opcode == detail::Opcode::binary});
  }
  void on_ping(std::string_view payload) override { pings.emplace_back(payload); }
  void on_pong(std::string_view) override {}
  void on_close(std::optional<std::uint16_t> code, std::string_view) override { close = code; }
};

// Reads server frames until the server closes the connection.
Future<Frames> read_until_closed(IOStream& stream) {
  Frames frames;
  detail::WebSocketParser parser(detail::Role::client, 1 << 20);
  try {
    for (;;) {
      std::string data = co_await stream.read_bytes(65536, true);
      parser.feed(data, frames);
    }
  } catch (const StreamClosedError&) {
  }
  co_return frames;
}

class WebSocketTest : public AsyncHTTPTestCase {
 protected:
  std::unique_ptr<Application> get_app() override {
    Settings settings;
    settings.websocket_max_message_size = 1024;
    settings.websocket_ping_interval = ping_interval_;
    settings.websocket_ping_timeout = ping_timeout_;
    return std::make_unique<Application>(
        std::vector<URLSpec>{
            {"/echo", handler<EchoSocket>(&journal_)},
            {"/compressed", handler<CompressedEchoSocket>(&journal_)},
            {"/any", handler<AnyOriginSocket>(&journal_)},
        },
        std::move(settings));
  }

  std::string ws_url(std::string_view path) {
    return "ws://127.0.0.1:" + std::to_string(get_http_port()) + std::string(path);
  }

  // Waits (on the loop) until `done` holds.
  template <class F>
  Future<void> until(F done) {
    for (int i = 0; i < 500 && !done(); ++i) co_await gen::sleep(2ms);
    EXPECT_TRUE(done());
  }

  Journal journal_;
  std::chrono::milliseconds ping_interval_{0};
  std::chrono::milliseconds ping_timeout_{0};
};

// ---- the handshake -----------------------------------------------------------------------------

TEST_F(WebSocketTest, EchoesTextAndBinaryMessagesInOrder) {
  run_sync([&]() -> Future<void> {
    WebSocketClientConnection conn = co_await websocket_connect(ws_url("/echo?tag=a"));
    co_await conn.write_message("hello");
    co_await conn.write_message(std::string("\x00\xff\x01", 3), true);
    co_await conn.write_message("h\xc3\xa9llo w\xc3\xb6rld");
    std::optional<WebSocketMessage> first = co_await conn.read_message();
    std::optional<WebSocketMessage> second = co_await conn.read_message();
    std::optional<WebSocketMessage> third = co_await conn.read_message();
    EXPECT_EQ(first->data, "hello");
    EXPECT_FALSE(first->binary);
    EXPECT_EQ(second->data, std::string("\x00\xff\x01", 3));
    EXPECT_TRUE(second->binary);
    EXPECT_EQ(third->data, "h\xc3\xa9llo w\xc3\xb6rld");
    EXPECT_EQ(journal_.open_handlers, 1);
    EXPECT_EQ(journal_.events.front(), "open a");
  });
}

TEST_F(WebSocketTest, AnswersTheHandshakeAsRfc6455Says) {
  run_sync([&]() -> Future<void> {
    RawClient client = co_await RawClient::connect(get_http_port(), "/echo");
    // RFC 6455 §1.3's example key and its accept value.
    EXPECT_EQ(client.head.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u) << client.head;
    EXPECT_NE(client.head.find("\r\nSec-Websocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
              std::string::npos);
    EXPECT_NE(client.head.find("\r\nUpgrade: websocket\r\n"), std::string::npos);
    EXPECT_NE(client.head.find("\r\nConnection: Upgrade\r\n"), std::string::npos);
    EXPECT_EQ(client.head.find("Content-Length"), std::string::npos);
    EXPECT_EQ(client.head.find("Content-Type"), std::string::npos);
    EXPECT_EQ(client.head.find("Sec-WebSocket-Extensions"), std::string::npos);
  });
}

TEST_F(WebSocketTest, AcceptKeyMatchesTheRfcExample) {
  EXPECT_EQ(detail::websocket_accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_TRUE(detail::is_valid_websocket_key("dGhlIHNhbXBsZSBub25jZQ=="));
  EXPECT_FALSE(detail::is_valid_websocket_key("dGhlIHNhbXBsZSBub25jZQ="));
  EXPECT_FALSE(detail::is_valid_websocket_key("dGhlIHNhbXBsZSBub25jZR=="));  // stray low bits
  EXPECT_FALSE(detail::is_valid_websocket_key("not a key at all, really"));
}

TEST_F(WebSocketTest, RefusesBadUpgradesAsTornado) {
  struct Case {
    std::string headers;
    int status;
    std::string body;
  };
  const std::vector<Case> cases = {
      {"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n", 400,
       "Can \"Upgrade\" only to \"WebSocket\"."},
      {"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n", 400,
       "\"Connection\" must be \"Upgrade\"."},
      {"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\n"
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
       426, "Upgrade Required"},
      {"Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\n"
       "Sec-WebSocket-Key: short\r\n",
       400, "Missing/Invalid WebSocket headers"},
      {"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://evil.example\r\n",
       403, "Cross origin websockets not allowed"},
  };
  for (const Case& c : cases) {
    HTTPRequest request;
    for (std::string_view rest = c.headers; !rest.empty();) {
      std::size_t end = rest.find("\r\n");
      std::string_view line = rest.substr(0, end);
      std::size_t colon = line.find(": ");
      request.headers.add(line.substr(0, colon), line.substr(colon + 2));
      rest.remove_prefix(end + 2);
    }
    HTTPResponse response = fetch("/echo", request);
    EXPECT_EQ(response.code, c.status) << c.headers;
    EXPECT_EQ(response.body, c.body) << c.headers;
    if (c.status == 426) EXPECT_EQ(response.headers.get("Sec-WebSocket-Version", ""), "13");
  }
  HTTPRequest post("", "POST");
  post.body = "x";
  EXPECT_EQ(fetch("/echo", post).code, 405);
  EXPECT_EQ(journal_.open_handlers, 0);
}

TEST_F(WebSocketTest, AcceptsTheSameOriginAndWhatCheckOriginAllows) {
  run_sync([&]() -> Future<void> {
    HTTPRequest same(ws_url("/echo"));
    same.headers.add("Origin", "http://127.0.0.1:" + std::to_string(get_http_port()));
    WebSocketClientConnection a = co_await websocket_connect(same);
    HTTPRequest other(ws_url("/echo"));
    other.headers.add("Origin", "http://evil.example");
    try {
      co_await websocket_connect(other);
      ADD_FAILURE() << "a foreign origin was accepted";
    } catch (const HTTPClientError& e) {
      EXPECT_EQ(e.code(), 403);
    }
    HTTPRequest allowed(ws_url("/any"));
    allowed.headers.add("Origin", "http://evil.example");
    WebSocketClientConnection b = co_await websocket_connect(allowed);
    co_await b.write_message("ok");
    EXPECT_EQ((co_await b.read_message())->data, "ok");
  });
}

TEST_F(WebSocketTest, NegotiatesASubprotocol) {
  run_sync([&]() -> Future<void> {
    WebSocketClientOptions options;
    options.subprotocols = {"chat.v1", "chat.v2"};
    WebSocketClientConnection conn = co_await websocket_connect(ws_url("/echo"), options);
    EXPECT_EQ(conn.selected_subprotocol(), std::optional<std::string>("chat.v2"));
    EXPECT_EQ(conn.headers().get("Sec-WebSocket-Protocol", ""), "chat.v2");
    WebSocketClientOptions none;
    none.subprotocols = {"other"};
    WebSocketClientConnection plain = co_await websocket_connect(ws_url("/echo"), none);
    EXPECT_FALSE(plain.selected_subprotocol());
  });
}

TEST_F(WebSocketTest, ReadsAFrameSentWithTheHandshake) {
  run_sync([&]() -> Future<void> {
    detail::MaskKey key{9, 8, 7, 6};
    std::string frame = detail::build_frame(detail::Opcode::text, "early", true, false, &key);
    RawClient client = co_await RawClient::connect(get_http_port(), "/echo", {}, frame);
    co_await until([&] { return journal_.events.size() >= 2; });
    EXPECT_EQ(journal_.events.at(1), "text early");
  });
}

// ---- the life of a connection ------------------------------------------------------------------

TEST_F(WebSocketTest, HandlesMessagesOneAtATimeAfterOpen) {
  run_sync([&]() -> Future<void> {
    WebSocketClientConnection conn = co_await websocket_connect(ws_url("/echo?slow_open=1"));
    co_await conn.write_message("slow");
    co_await conn.write_message("slow");
    co_await conn.write_message("last");
    for (std::string expected : {"slow", "slow", "last"}) {
      EXPECT_EQ((co_await conn.read_message())->data, expected);
    }
    EXPECT_EQ(journal_.max_in_flight, 1);
    const std::vector<std::string> expected = {"open ", "opened", "text slow", "text slow",
                                               "text last"};
    EXPECT_EQ(journal_.events, expected);
  });
}

TEST_F(WebSocketTest, ServerCloseGivesTheClientItsCodeAndReason) {
  run_sync([&]() -> Future<void> {
    WebSocketClientConnection conn = co_await websocket_connect(ws_url("/echo"));
    co_await conn.write_message("close");
    EXPECT_EQ(co_await conn.read_message(), std::nullopt);
    EXPECT_EQ(conn.close_code(), std::optional<int>(4001));
    EXPECT_EQ(conn.close_reason(), "asked to close");
    co_await journal_.closed;
    // The client echoed the code, as RFC 6455 §5.5.1 asks.
    EXPECT_EQ(journal_.close_code, std::optional<int>(4001));
    EXPECT_EQ(journal_.events.back(), "close");
    EXPECT_THROW(static_cast<void>(conn.write_message("late")), WebSocketClosedError);
    EXPECT_EQ(co_await conn.read_message(), std::nullopt);
    co_await until([&] { return journal_.open_handlers == 0; });
  });
}

TEST_F(WebSocketTest, ClientCloseGivesTheHandlerItsCodeAndReason) {
  run_sync([&]() -> Future<void> {
    WebSocketClientConnection conn = co_await websocket_connect(ws_url("/echo"));
    conn.close(3000, "bye now");
    co_await journal_.closed;
    EXPECT_EQ(journal_.close_code, std::optional<int>(3000));
    EXPECT_EQ(journal_.close_reason, "bye now");
    co_await conn.closed();
    EXPECT_EQ(co_await conn.read_message(), std::nullopt);
    co_await until([&] { return journal_.open_handlers == 0; });
    EXPECT_EQ(std::count(journal_.events.begin(), journal_.events.end(), "close"), 1);
  });
}

TEST_F(WebSocketTest, DroppingTheLastClientHandleClosesTheConnection) {
  run_sync([&]() -> Future<void> {
    {
      WebSocketClientConnection conn = co_await websocket_connect(ws_url("/echo"));
      WebSocketClientConnection copy = conn;
      co_await copy.write_message("x");
    }
    co_await journal_.closed;
    EXPECT_EQ(journal_.close_code, std::nullopt);  // a close frame without a code
  });
}

TEST_F(WebSocketTest, ApplicationClosesEveryOpenWebSocket) {
  run_sync([&]() -> Future<void> {
    WebSocketClientConnection a = co_await websocket_connect(ws_url("/echo"));
    WebSocketClientConnection b = co_await websocket_connect(ws_url("/any"));
    co_await until([&] { return app().websocket_count() == 2; });
    co_await app().close_websockets(1001, "server going down");
    EXPECT_EQ(app().websocket_count(), 0u);
    for (WebSocketClientConnection* conn : {&a, &b}) {
      EXPECT_EQ(co_await conn->read_message(), std::nullopt);
      EXPECT_EQ(conn->close_code(), std::optional<int>(1001));
      EXPECT_EQ(conn->close_reason(), "server going down");
    }
    co_await app().close_websockets();  // none left: completes at once
  });
}

TEST_F(WebSocketTest, ACloseAnsweringACloseInTheSameReadStillGoesOut) {
  run_sync([&]() -> Future<void> {
    RawClient client = co_await RawClient::connect(get_http_port(), "/echo");
    // One write: a message whose handler closes (4001), then the client's own close frame.
    detail::MaskKey key{5, 6, 7, 8};
    std::string both =
        detail::build_frame(detail::Opcode::text, "close", true, false, &key) +
        detail::build_frame(detail::Opcode::close, std::string("\x03\xe8", 2), true, false, &key);
    co_await client.stream->write(both);
    Frames frames = co_await read_until_closed(*client.stream);
    EXPECT_TRUE(frames.close.has_value());
    if (frames.close) EXPECT_EQ(*frames.close, std::optional<std::uint16_t>(4001));
    co_await journal_.closed;
    EXPECT_EQ(journal_.close_code, std::optional<int>(1000));
  });
}

TEST_F(WebSocketTest, AFailedOpenClosesWith1011BeforeAnyMessage) {
  ExpectLog expected(squall::log::app_log(), "open failed");
  run_sync([&]() -> Future<void> {
    WebSocketClientConnection conn = co_await websocket_connect(ws_url("/echo?fail_open=1"));
    try {
      static_cast<void>(conn.write_message("too early"));
    } catch (const WebSocketClosedError&) {
      // The server's 1011 may have arrived already.
    }
    EXPECT_EQ(co_await conn.read_message(), std::nullopt);
    EXPECT_EQ(conn.close_code(), std::optional<int>(1011));
    EXPECT_EQ(std::count(journal_.events.begin(), journal_.events.end(), "text too early"), 0);
  });
}

TEST_F(WebSocketTest, DroppingAClientWithUnreadMessagesFreesIt) {
  run_sync([&]() -> Future<void> {
    {
      WebSocketClientConnection conn = co_await websocket_connect(ws_url("/echo"));
      co_await conn.write_message("one");
      co_await conn.write_message("two");
      co_await until([&] { return journal_.events.size() >= 3; });
      co_await gen::sleep(10ms);  // the echoes arrive and wait, unread
    }
    co_await journal_.closed;  // (LeakSanitizer checks that nothing is left behind)
  });
}

TEST_F(WebSocketTest, RefusesInvalidCloseCodes) {
  run_sync([&]() -> Future<void> {
    WebSocketClientConnection conn = co_await websocket_connect(ws_url("/echo"));
    EXPECT_THROW(conn.close(1005), ValueError);
    EXPECT_THROW(conn.close(999), ValueError);
    EXPECT_THROW(conn.close(5000), ValueError);
    EXPECT_FALSE(conn.is_closing());
    conn.close(1000);
    EXPECT_TRUE(conn.is_closing());
    co_await conn.closed();
  });
}

TEST_F(WebSocketTest, AnExceptionInOnMessageClosesWith1011) {
  ExpectLog expected(squall::log::app_log(), "Uncaught exception in a WebSocket handler");
  run_sync([&]() -> Future<void> {
    WebSocketClientConnection conn = co_await websocket_connect(ws_url("/echo"));
    co_await conn.write_message("throw");
    EXPECT_EQ(co_await conn.read_message(), std::nullopt);
    EXPECT_EQ(conn.close_code(), std::optional<int>(1011));
  });
}

TEST_F(WebSocketTest, WritesJson) {
  run_sync([&]() -> Future<void> {
    WebSocketClientConnection conn = co_await websocket_connect(ws_url("/echo"));
    std::string literal_and_string = "js";
    literal_and_string += "on";
    co_await conn.write_message(literal_and_string);
    std::optional<WebSocketMessage> reply = co_await conn.read_message();
    EXPECT_EQ(nlohmann::json::parse(reply->data), (nlohmann::json{{"answer", 42}}));
    nlohmann::json object = {{"from", "client"}};
    co_await conn.write_message(object);
    reply = co_await conn.read_message();
    EXPECT_EQ(reply->data, R"({"from":"client"})");
  });
}

TEST_F(WebSocketTest, RefusesTextThatIsNotUtf8) {
  run_sync([&]() -> Future<void> {
    WebSocketClientConnection conn = co_await websocket_connect(ws_url("/echo"));
    EXPECT_THROW(static_cast<void>(conn.write_message("\xff\xfe")), ValueError);
    co_await conn.write_message("\xff\xfe", true);
    EXPECT_EQ((co_await conn.read_message())->data, "\xff\xfe");
  });
}

TEST_F(WebSocketTest, ClientKeepsMessagesUntilRead) {
  run_sync([&]() -> Future<void> {
    WebSocketClientConnection conn = co_await websocket_connect(ws_url("/echo"));
    for (int i = 0; i < 5; ++i) co_await conn.write_message(std::to_string(i));
    co_await until([&] { return journal_.events.size() >= 6; });
    co_await gen::sleep(10ms);  // let the replies arrive while nobody reads
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ((co_await conn.read_message())->data, std::to_string(i));
    }
    EXPECT_THROW(
        {
          Future<std::optional<WebSocketMessage>> first = conn.read_message();
          static_cast<void>(conn.read_message());
        },
        InvalidStateError);
  });
}

TEST_F(WebSocketTest, OnMessageCallbackGetsEachMessageThenNothing) {
  run_sync([&]() -> Future<void> {
    std::vector<std::optional<std::string>> seen;
    WebSocketClientOptions options;
    options.on_message_callback = [&](std::optional<WebSocketMessage> message) {
      seen.push_back(message ? std::optional(message->data) : std::nullopt);
    };
    WebSocketClientConnection conn = co_await websocket_connect(ws_url("/echo"), options);
    co_await conn.write_message("one");
    co_await conn.write_message("close");
    co_await conn.closed();
    const std::vector<std::optional<std::string>> expected = {"one", std::nullopt};
    EXPECT_EQ(seen, expected);
  });
}

// ---- pings -------------------------------------------------------------------------------------

TEST_F(WebSocketTest, PingsAreAnsweredBothWays) {
  run_sync([&]() -> Future<void> {
    WebSocketClientConnection conn = co_await websocket_connect(ws_url("/echo"));
    conn.ping("client ping");
    co_await conn.write_message("ping");  // the handler pings the client
    co_await until([&] { return !journal_.pings.empty() && !journal_.pongs.empty(); });
    EXPECT_EQ(journal_.pings, std::vector<std::string>{"client ping"});
    EXPECT_EQ(journal_.pongs, std::vector<std::string>{"are you there"});
    EXPECT_THROW(conn.ping(std::string(126, 'x')), ValueError);
  });
}

class WebSocketPingTest : public WebSocketTest {
 protected:
  WebSocketPingTest() {
    ping_interval_ = 20ms;
    ping_timeout_ = 60ms;
  }
};

TEST_F(WebSocketPingTest, ClosesAPeerThatNeverAnswersPings) {
  run_sync([&]() -> Future<void> {
    RawClient client = co_await RawClient::connect(get_http_port(), "/echo");
    // The raw client reads but never answers: the server pings, then gives up.
    Frames frames = co_await read_until_closed(*client.stream);
    EXPECT_GE(frames.pings.size(), 2u);
    EXPECT_TRUE(frames.close);
    if (!frames.close) co_return;
    EXPECT_EQ(*frames.close, std::optional<std::uint16_t>(1001));
    co_await journal_.closed;
  });
}

TEST_F(WebSocketPingTest, KeepsAPeerThatAnswersPings) {
  run_sync([&]() -> Future<void> {
    WebSocketClientConnection conn = co_await websocket_connect(ws_url("/echo"));
    co_await gen::sleep(200ms);
    EXPECT_FALSE(conn.is_closing());
    co_await conn.write_message("still here");
    EXPECT_EQ((co_await conn.read_message())->data, "still here");
  });
}

// ---- protocol violations -----------------------------------------------------------------------

TEST_F(WebSocketTest, ClosesWithTheCodeOfEachViolation) {
  struct Case {
    const char* what;
    detail::Opcode opcode;
    std::string payload;
    bool mask;
    std::uint16_t code;
  };
  const std::vector<Case> cases = {
      {"unmasked frame", detail::Opcode::text, "hi", false, 1002},
      {"invalid UTF-8", detail::Opcode::text, "\xc3\x28", true, 1007},
      {"over max_message_size", detail::Opcode::binary, std::string(1025, 'x'), true, 1009},
      {"long ping", detail::Opcode::ping, std::string(126, 'p'), true, 1002},
  };
  for (const Case& c : cases) {
    run_sync([&]() -> Future<void> {
      RawClient client = co_await RawClient::connect(get_http_port(), "/echo");
      co_await client.send(c.opcode, c.payload, c.mask);
      Frames frames = co_await read_until_closed(*client.stream);
      EXPECT_TRUE(frames.close) << c.what;
      if (!frames.close) co_return;
      EXPECT_EQ(*frames.close, std::optional<std::uint16_t>(c.code)) << c.what;
      EXPECT_TRUE(frames.messages.empty()) << c.what;
    });
  }
}

TEST_F(WebSocketTest, JoinsFragmentsAndAnswersPingsBetweenThem) {
  run_sync([&]() -> Future<void> {
    RawClient client = co_await RawClient::connect(get_http_port(), "/echo");
    co_await client.send(detail::Opcode::text, "frag", true, false);
    co_await client.send(detail::Opcode::ping, "between");
    co_await client.send(detail::Opcode::continuation, "ment", true, false);
    co_await client.send(detail::Opcode::continuation, "ed", true, true);
    co_await client.send(detail::Opcode::close, std::string("\x03\xe8", 2));
    Frames frames = co_await read_until_closed(*client.stream);
    EXPECT_EQ(frames.messages.size(), 1u);
    if (frames.messages.size() != 1) co_return;
    EXPECT_EQ(frames.messages[0].data, "fragmented");
    EXPECT_EQ(journal_.pings, std::vector<std::string>{"between"});
    EXPECT_EQ(*frames.close, std::optional<std::uint16_t>(1000));
  });
}

// ---- compression -------------------------------------------------------------------------------

TEST_F(WebSocketTest, CompressesWhenBothSidesAgree) {
  run_sync([&]() -> Future<void> {
    WebSocketClientOptions options;
    options.compression = WebSocketCompressionOptions{};
    WebSocketClientConnection conn = co_await websocket_connect(ws_url("/compressed"), options);
    EXPECT_EQ(conn.headers().get("Sec-WebSocket-Extensions", ""), "permessage-deflate");
    std::string big(900, 'a');
    for (int i = 0; i < 3; ++i) {
      co_await conn.write_message(big);
      EXPECT_EQ((co_await conn.read_message())->data, big);
    }
    // The server does not compress for a client that did not offer it.
    WebSocketClientConnection plain = co_await websocket_connect(ws_url("/compressed"));
    EXPECT_FALSE(plain.headers().contains("Sec-WebSocket-Extensions"));
    co_await plain.write_message("plain");
    EXPECT_EQ((co_await plain.read_message())->data, "plain");
    // Nor does a handler without compression options.
    WebSocketClientConnection off = co_await websocket_connect(ws_url("/echo"), options);
    EXPECT_FALSE(off.headers().contains("Sec-WebSocket-Extensions"));
  });
}

TEST_F(WebSocketTest, HonoursNoContextTakeoverRequests) {
  run_sync([&]() -> Future<void> {
    RawClient client = co_await RawClient::connect(
        get_http_port(), "/compressed",
        "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; "
        "server_no_context_takeover\r\n");
    EXPECT_NE(client.head.find("\r\nSec-Websocket-Extensions: permessage-deflate; "
                               "server_no_context_takeover; client_no_context_takeover\r\n"),
              std::string::npos)
        << client.head;
  });
}

// ---- the client's failures ---------------------------------------------------------------------

TEST_F(WebSocketTest, ClientReportsRefusalsAndBadUrls) {
  run_sync([&]() -> Future<void> {
    try {
      co_await websocket_connect(ws_url("/missing"));
      ADD_FAILURE() << "a 404 was taken for a WebSocket";
    } catch (const HTTPClientError& e) {
      EXPECT_EQ(e.code(), 404);
    }
    EXPECT_THROW(co_await websocket_connect("ftp://127.0.0.1/"), ValueError);
    // A port nobody listens on.
    std::vector<int> unused = netutil::bind_sockets(0, "127.0.0.1");
    const std::uint16_t closed_port = netutil::socket_address_of(unused.front()).port();
    ::close(unused.front());
    bool failed = false;
    try {
      co_await websocket_connect("ws://127.0.0.1:" + std::to_string(closed_port) + "/");
    } catch (const Error&) {
      failed = true;
    }
    EXPECT_TRUE(failed);
  });
}

TEST_F(WebSocketTest, ClientTimesOutOnAServerThatNeverAnswers) {
  run_sync([&]() -> Future<void> {
    // A TCP server that accepts and says nothing.
    std::vector<int> listening = netutil::bind_sockets(0, "127.0.0.1");
    const std::uint16_t port = netutil::socket_address_of(listening.front()).port();
    HTTPRequest request("ws://127.0.0.1:" + std::to_string(port) + "/");
    request.connect_timeout = 100ms;
    EXPECT_THROW(co_await websocket_connect(request), TimeoutError);
    ::close(listening.front());
  });
}

// ---- TLS ---------------------------------------------------------------------------------------

class SecureWebSocketTest : public WebSocketTest {
 protected:
  static void SetUpTestSuite() { certs_ = new test_support::Certificates(); }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
  }
  HTTPServerOptions get_http_server_options() override {
    HTTPServerOptions options;
    SSLOptions ssl;
    ssl.certfile = certs_->server_cert;
    ssl.keyfile = certs_->server_key;
    options.ssl_options = ssl;
    return options;
  }
  static test_support::Certificates* certs_;
};
test_support::Certificates* SecureWebSocketTest::certs_ = nullptr;

TEST_F(SecureWebSocketTest, EchoesOverWss) {
  run_sync([&]() -> Future<void> {
    HTTPRequest request("wss://localhost:" + std::to_string(get_http_port()) + "/echo");
    request.ca_certs = certs_->ca;
    WebSocketClientConnection conn = co_await websocket_connect(request);
    co_await conn.write_message("secret");
    EXPECT_EQ((co_await conn.read_message())->data, "secret");
    HTTPRequest untrusted("wss://localhost:" + std::to_string(get_http_port()) + "/echo");
    bool refused = false;
    try {
      co_await websocket_connect(untrusted);
    } catch (const Error&) {
      refused = true;
    }
    EXPECT_TRUE(refused);
  });
}

}  // namespace
}  // namespace squall::web
