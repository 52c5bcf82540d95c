// Quoted by docs/websocket.md: the WebSocket client. websocket_connect with an HTTPRequest
// (headers, timeout) and WebSocketClientOptions (subprotocols, pings, a message size limit),
// messages by read_message or by on_message_callback, a server that closes with a code of its own,
// a client limit that closes with 1009, and the errors. It serves a small application on a free
// loopback port, connects to it, checks every outcome and exits 0.
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <squall/core/locks.hpp>
#include <squall/http/httpclient.hpp>
#include <squall/net/netutil.hpp>
#include <squall/util/error.hpp>
#include <squall/util/json.hpp>
#include <squall/web/application.hpp>
#include <squall/web/websocket.hpp>

#include "web_example.hpp"

using namespace std::chrono_literals;
using squall::web::WebSocketMessage;

// The service the client talks to: it tells the client what it learned from the handshake,
// echoes, and leaves with a close code of its own when asked.
class ServiceSocket : public squall::web::WebSocketHandler {
 public:
  std::optional<std::string> select_subprotocol(const std::vector<std::string>& offered) override {
    return offered.empty() ? std::nullopt : std::optional<std::string>(offered.front());
  }

  squall::Future<void> open() override {
    squall::json hello = {{"user", get_cookie("user").value_or("nobody")}};
    co_await write_message(hello);
  }

  squall::Future<void> on_message(WebSocketMessage message) override {
    if (message.data == "bye") {
      close(4000, "asked to leave");  // 4000-4999: codes of the application's own
    } else if (message.data.starts_with("repeat ")) {
      std::string big(std::stoul(message.data.substr(7)), 'x');
      co_await write_message(big);
    } else {
      co_await write_message(message.data, message.binary);
    }
  }
};

// [produce]
// Counts to ?to=N, then closes. Awaiting each write keeps at most the kernel's buffer in flight,
// however slowly the client reads.
class CountSocket : public squall::web::WebSocketHandler {
 public:
  squall::Future<void> open() override {
    int to = std::stoi(get_argument("to", "10"));
    for (int i = 1; i <= to; ++i) {
      co_await write_message(std::to_string(i));  // waits while the client lags behind
    }
    close(1000, "counted");
  }

  squall::Future<void> on_message(WebSocketMessage message) override {
    return squall::make_ready_future();  // this one only talks
  }
};
// [produce]

std::unique_ptr<squall::web::Application> make_app() {
  return std::make_unique<squall::web::Application>(std::vector<squall::web::URLSpec>{
      {"/service", squall::web::handler<ServiceSocket>()},
      {"/count", squall::web::handler<CountSocket>()},
  });
}

squall::Future<void> connect_with_options(std::string url) {
  using web_example::check_equal;
  // [connect]
  squall::HTTPRequest request(url);           // ws://host:port/service (or wss://)
  request.headers.add("Cookie", "user=ann");  // sent with the handshake, as any header
  request.connect_timeout = 5s;               // connecting, TLS and the handshake (default 20 s)
  squall::web::WebSocketClientOptions options;
  options.subprotocols = {"chat.v2", "chat.v1"};  // offered in order of preference
  options.ping_interval = 15s;                    // keeps idle proxies from dropping us
  options.max_message_size = 64 * 1024;           // a bigger message closes with 1009
  squall::web::WebSocketClientConnection conn =
      co_await squall::web::websocket_connect(std::move(request), std::move(options));
  // [connect]
  check_equal(conn.selected_subprotocol().value_or("none"), "chat.v2", "the subprotocol");
  check_equal(conn.headers().get("Sec-WebSocket-Protocol", ""), "chat.v2",
              "the 101 response's headers");
  std::optional<WebSocketMessage> hello = co_await conn.read_message();
  check_equal(hello->data, R"({"user":"ann"})", "the cookie reached the handler");

  // The client's own limit: the server's answer is too big, so the client sends 1009 and closes.
  // close_code() tells what the peer's close frame said; here the peer sent none.
  co_await conn.write_message("repeat 100000");
  std::optional<WebSocketMessage> too_big = co_await conn.read_message();
  web_example::check(!too_big, "a message over max_message_size closes the connection");
  web_example::check(!conn.close_code(), "no close code from the server");
}

squall::Future<void> close_codes(std::string url) {
  using web_example::check_equal;
  squall::web::WebSocketClientConnection conn = co_await squall::web::websocket_connect(url);
  (void)co_await conn.read_message();  // the greeting
  // [close]
  co_await conn.write_message("bye");  // the server closes with 4000 "asked to leave"
  std::optional<WebSocketMessage> message = co_await conn.read_message();
  if (!message) {  // closed: the server's close frame said why
    std::cout << "closed: " << conn.close_code().value_or(1005) << ' ' << conn.close_reason()
              << '\n';
  }
  // [close]
  web_example::check(!message, "read_message gives nullopt once closed");
  check_equal(std::to_string(conn.close_code().value_or(0)) + " " + conn.close_reason(),
              "4000 asked to leave", "the server's close code and reason");
  co_await conn.closed();
  web_example::check(conn.is_closing(), "is_closing() once closed");

  // [closed_error]
  std::string error;
  try {
    co_await conn.write_message("anyone there?");
  } catch (const squall::web::WebSocketClosedError& e) {
    error = e.what();  // "WebSocket is closed"
  }
  // [closed_error]
  check_equal(error, "WebSocket is closed", "writing to a closed connection");
}

squall::Future<void> callback(std::string url) {
  using web_example::check_equal;
  // [callback]
  std::vector<std::string> numbers;
  squall::Event closed;
  squall::web::WebSocketClientOptions options;
  // Each message as it arrives, then nullopt once the connection has closed. The callback must
  // not block: it runs on the loop.
  options.on_message_callback = [&](std::optional<WebSocketMessage> message) {
    if (message) {
      numbers.push_back(std::move(message->data));
    } else {
      closed.set();
    }
  };
  squall::web::WebSocketClientConnection conn =
      co_await squall::web::websocket_connect(url + "?to=1000", std::move(options));
  co_await closed.wait();  // the server closes after 1000
  // [callback]
  check_equal(std::to_string(numbers.size()), "1000", "every message reached the callback");
  check_equal(numbers.front() + ".." + numbers.back(), "1..1000", "in order");
  check_equal(std::to_string(conn.close_code().value_or(0)) + " " + conn.close_reason(),
              "1000 counted", "the server's close frame");
}

squall::Future<void> errors(std::string base) {
  using web_example::check_equal;
  // [refused]
  int status = 101;
  try {
    co_await squall::web::websocket_connect(base + "/nowhere");
  } catch (const squall::HTTPClientError& e) {
    status = e.code();  // 404: the server answered, but not with 101
  }
  // [refused]
  web_example::check(status == 404, "a path with no route fails with HTTPClientError(404)");

  // Nothing listens on a port that was free a moment ago: the connection's own error.
  bool refused = false;
  try {
    co_await squall::web::websocket_connect(
        "ws://127.0.0.1:" + std::to_string(web_example::free_port()) + "/");
  } catch (const squall::OSError&) {
    refused = true;  // "connect: Connection refused"
  }
  web_example::check(refused, "connecting to a closed port fails with OSError");

  // A server that accepts the connection and never answers: connect_timeout.
  int silent = squall::netutil::bind_sockets(0, "127.0.0.1").front();
  ::listen(silent, 8);
  squall::HTTPRequest request("ws://127.0.0.1:" +
                              std::to_string(squall::netutil::socket_address_of(silent).port()));
  request.connect_timeout = 200ms;
  bool timed_out = false;
  try {
    co_await squall::web::websocket_connect(std::move(request));
  } catch (const squall::TimeoutError&) {
    timed_out = true;
  }
  ::close(silent);
  web_example::check(timed_out, "a handshake longer than connect_timeout fails with TimeoutError");
}

squall::Future<void> test(web_example::Site& site) {
  std::string base = "ws://127.0.0.1:" + std::to_string(site.port());
  co_await connect_with_options(base + "/service");
  co_await close_codes(base + "/service");
  co_await callback(base + "/count");
  co_await errors(base);
}

int main() {
  return web_example::run(make_app, test);
}
