// Quoted by docs/websocket.md: the server side's handshake and settings. check_origin for other
// sites, select_subprotocol, get_compression_options, prepare() refusing a request, the ping and
// message-size settings, on_ping/on_pong; and the plain HTTP requests the handshake refuses. It
// serves on a free loopback port, connects with squall's client and fetches with its HTTP client,
// checks every outcome and exits 0.
#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <squall/core/locks.hpp>
#include <squall/http/httpclient.hpp>
#include <squall/web/application.hpp>
#include <squall/web/http_error.hpp>
#include <squall/web/websocket.hpp>

#include "web_example.hpp"

using namespace std::chrono_literals;
using squall::web::WebSocketMessage;

// What the handlers report to the test.
struct Journal {
  squall::Event pinged;  // on_ping() ran
  squall::Event ponged;  // on_pong() ran
  std::string ping_data;
};

// [socket]
class ApiSocket : public squall::web::WebSocketHandler {
 public:
  void initialize(std::shared_ptr<Journal> journal) { journal_ = std::move(journal); }

  // Runs before the handshake, as in any handler: it may refuse with an HTTP status.
  squall::Future<void> prepare() override {
    if (!get_cookie("user")) throw squall::web::HTTPError(401);
    return squall::make_ready_future();
  }

  // The default accepts only pages of this host (the Origin's host and port equal Host).
  bool check_origin(std::string_view origin) override {
    static const std::set<std::string, std::less<>> trusted = {"https://example.com",
                                                               "https://www.example.com"};
    return trusted.contains(origin) || WebSocketHandler::check_origin(origin);
  }

  // Picks one of the client's subprotocols (in its order of preference), or none.
  std::optional<std::string> select_subprotocol(const std::vector<std::string>& offered) override {
    for (const std::string& protocol : offered) {
      if (protocol == "api.v2" || protocol == "api.v1") return protocol;
    }
    return std::nullopt;
  }

  // Accepts permessage-deflate when the client offers it (the default: no compression).
  std::optional<squall::web::WebSocketCompressionOptions> get_compression_options() override {
    return squall::web::WebSocketCompressionOptions{.compression_level = 6, .mem_level = 8};
  }

  squall::Future<void> on_message(WebSocketMessage message) override {
    co_await write_message(message.data, message.binary);
  }

  void on_ping(std::string_view data) override {  // the pong is sent already
    journal_->ping_data = data;
    journal_->pinged.set();
  }
  void on_pong(std::string_view data) override { journal_->ponged.set(); }

 private:
  std::shared_ptr<Journal> journal_;
};
// [socket]

std::shared_ptr<Journal> journal = std::make_shared<Journal>();

std::unique_ptr<squall::web::Application> make_app() {
  // [settings]
  squall::web::Settings settings;
  settings.websocket_ping_interval = 50ms;          // none by default; a real server: 10 to 30 s
  settings.websocket_ping_timeout = 10s;            // closes a connection whose pong is this late
  settings.websocket_max_message_size = 64 * 1024;  // bigger: closed with 1009 (default 10 MiB)
  auto app = std::make_unique<squall::web::Application>(
      std::vector<squall::web::URLSpec>{{"/api", squall::web::handler<ApiSocket>(journal)}},
      std::move(settings));
  // [settings]
  return app;
}

// Connects to `url` with a cookie, an Origin (if any) and subprotocols; the client offers
// permessage-deflate.
squall::Future<squall::web::WebSocketClientConnection> connect(std::string url,
                                                               std::string origin = "",
                                                               bool cookie = true) {
  squall::HTTPRequest request(std::move(url));
  if (cookie) request.headers.add("Cookie", "user=ann");
  if (!origin.empty()) request.headers.add("Origin", origin);
  squall::web::WebSocketClientOptions options;
  options.subprotocols = {"api.v3", "api.v2", "api.v1"};
  options.compression = squall::web::WebSocketCompressionOptions{};
  co_return co_await squall::web::websocket_connect(std::move(request), std::move(options));
}

// The HTTP status websocket_connect failed with, or 101 if it connected.
squall::Future<int> status_of(std::string url, std::string origin, bool cookie = true) {
  try {
    squall::web::WebSocketClientConnection conn = co_await connect(url, origin, cookie);
    conn.close();
    co_await conn.closed();
    co_return 101;
  } catch (const squall::HTTPClientError& e) {
    co_return e.code();
  }
}

squall::Future<void> handshake(web_example::Site& site) {
  using web_example::check_equal;
  std::string port = std::to_string(site.port());
  std::string url = "ws://127.0.0.1:" + port + "/api";

  squall::web::WebSocketClientConnection conn = co_await connect(url);
  check_equal(conn.selected_subprotocol().value_or("none"), "api.v2", "the subprotocol chosen");
  web_example::check_contains(conn.headers().get("Sec-WebSocket-Extensions", ""),
                              "permessage-deflate", "compression was negotiated");
  std::string page(50000, 'a');  // compressible, and under the 64 KiB limit
  co_await conn.write_message(page);
  std::optional<WebSocketMessage> echo = co_await conn.read_message();
  web_example::check(echo && echo->data == page, "a compressed message round trip");

  // The server pings every 50 ms and the client answers; the client's ping reaches on_ping.
  co_await journal->ponged.wait(5s);
  conn.ping("are you there?");
  co_await journal->pinged.wait(5s);
  check_equal(journal->ping_data, "are you there?", "on_ping's data");

  // Past websocket_max_message_size, the server closes with 1009.
  co_await conn.write_message(std::string(100 * 1024, 'b'));
  std::optional<WebSocketMessage> after = co_await conn.read_message();
  web_example::check(!after, "a message over the limit closes the connection");
  check_equal(std::to_string(conn.close_code().value_or(0)), "1009", "the server's close code");

  check_equal(std::to_string(co_await status_of(url, "http://127.0.0.1:" + port)), "101",
              "the same origin");
  check_equal(std::to_string(co_await status_of(url, "https://www.example.com")), "101",
              "a trusted origin");
  check_equal(std::to_string(co_await status_of(url, "https://evil.example.net")), "403",
              "another origin");
  check_equal(std::to_string(co_await status_of(url, "", false)), "401", "refused in prepare()");
}

// Plain HTTP requests to the WebSocket's URL, each refused with its status.
squall::Future<void> refusals(web_example::Site& site) {
  using web_example::check_equal;
  squall::HTTPRequest plain;
  plain.headers.add("Cookie", "user=ann");
  squall::HTTPResponse response = co_await site.fetch("/api", plain);
  check_equal(std::to_string(response.code) + " " + response.body,
              "400 Can \"Upgrade\" only to \"WebSocket\".", "a GET that does not upgrade");

  squall::HTTPRequest post;
  post.method = "POST";
  post.body = "";
  post.headers.add("Cookie", "user=ann");
  response = co_await site.fetch("/api", post);
  check_equal(std::to_string(response.code), "405", "a POST");

  squall::HTTPRequest old_version;
  old_version.headers.add("Cookie", "user=ann");
  old_version.headers.add("Upgrade", "websocket");
  old_version.headers.add("Connection", "Upgrade");
  old_version.headers.add("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
  old_version.headers.add("Sec-WebSocket-Version", "8");
  response = co_await site.fetch("/api", old_version);
  check_equal(
      std::to_string(response.code) + " " + response.headers.get("Sec-WebSocket-Version", ""),
      "426 13", "an older protocol version");
}

squall::Future<void> test(web_example::Site& site) {
  co_await handshake(site);
  co_await refusals(site);
}

int main() {
  return web_example::run(make_app, test);
}
