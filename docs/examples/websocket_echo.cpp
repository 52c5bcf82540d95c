// Quoted by docs/websocket.md: Tornado's echo WebSocket, its route, and a squall client talking to
// it in the same process. The server runs on a free loopback port; the client sends text, binary
// and JSON messages, reads the answers, closes with a code and a reason, and the program checks
// what both sides saw (the order of open / on_message / on_close included) and exits 0.
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <squall/core/locks.hpp>
#include <squall/util/json.hpp>
#include <squall/web/application.hpp>
#include <squall/web/websocket.hpp>

#include "web_example.hpp"

using namespace std::chrono_literals;

// [handler]
// A handler object per connection: it lives, and receives messages, until the connection closes.
class EchoWebSocket : public squall::web::WebSocketHandler {
 public:
  squall::Future<void> open() override {
    std::cout << "WebSocket opened\n";
    return squall::make_ready_future();
  }

  // One message at a time: the next one waits until this Future is done.
  squall::Future<void> on_message(squall::web::WebSocketMessage message) override {
    if (message.binary) {
      co_await write_message(message.data, true);  // bytes back as bytes
    } else {
      co_await write_message("You said: " + message.data);  // done once the kernel has it
    }
  }

  void on_close() override { std::cout << "WebSocket closed\n"; }
};
// [handler]

// What the server saw, in order, for the checks.
struct Journal {
  std::vector<std::string> events;
  squall::Event closed;
};

// EchoWebSocket, recording its life in a Journal.
class ObservedEchoWebSocket : public EchoWebSocket {
 public:
  void initialize(std::shared_ptr<Journal> journal) { journal_ = std::move(journal); }

  squall::Future<void> open() override {
    journal_->events.push_back("open");
    return EchoWebSocket::open();
  }

  squall::Future<void> on_message(squall::web::WebSocketMessage message) override {
    journal_->events.push_back(std::string(message.binary ? "binary " : "text ") + message.data);
    return EchoWebSocket::on_message(std::move(message));
  }

  void on_close() override {
    EchoWebSocket::on_close();
    // close_code() and close_reason() tell what the client's close frame said.
    journal_->events.push_back("close " + std::to_string(close_code().value_or(0)) + " " +
                               close_reason());
    journal_->closed.set();
  }

 private:
  std::shared_ptr<Journal> journal_;
};

std::shared_ptr<Journal> journal = std::make_shared<Journal>();

std::unique_ptr<squall::web::Application> make_app() {
  // [app]
  auto app = std::make_unique<squall::web::Application>(std::vector<squall::web::URLSpec>{
      {"/websocket", squall::web::handler<EchoWebSocket>()},
  });
  // [app]
  // The same echo, reporting to the test what the server saw.
  app->add_handlers(".*", {{"/observed", squall::web::handler<ObservedEchoWebSocket>(journal)}});
  return app;
}

// [client]
// A client in a coroutine: connect, send, read the answers, close. Returns what it heard.
squall::Future<std::vector<std::optional<squall::web::WebSocketMessage>>> talk(std::string url) {
  std::vector<std::optional<squall::web::WebSocketMessage>> heard;
  squall::web::WebSocketClientConnection conn = co_await squall::web::websocket_connect(url);

  co_await conn.write_message("hello");
  heard.push_back(co_await conn.read_message());  // "You said: hello"

  std::string bytes("\x00\xff", 2);
  co_await conn.write_message(bytes, true);       // a binary message
  heard.push_back(co_await conn.read_message());  // the same bytes, binary

  squall::json greeting = {{"greeting", "hi"}};
  co_await conn.write_message(greeting);          // JSON, sent as a text message
  heard.push_back(co_await conn.read_message());  // You said: {"greeting":"hi"}

  conn.close(1000, "done");                       // the server answers with its close frame
  heard.push_back(co_await conn.read_message());  // nullopt: the connection is closed
  co_return heard;
}
// [client]

// "text: <data>", "binary: <size> bytes" or "nullopt".
std::string describe(const std::optional<squall::web::WebSocketMessage>& message) {
  if (!message) return "nullopt";
  if (message->binary) return "binary: " + std::to_string(message->data.size()) + " bytes";
  return "text: " + message->data;
}

squall::Future<void> test(web_example::Site& site) {
  using web_example::check_equal;
  std::string base = "ws://127.0.0.1:" + std::to_string(site.port());
  std::vector<std::string> paths = {"/websocket", "/observed"};
  for (const std::string& path : paths) {
    std::vector<std::optional<squall::web::WebSocketMessage>> heard = co_await talk(base + path);
    check_equal(std::to_string(heard.size()), "4", "four answers");
    check_equal(describe(heard[0]), "text: You said: hello", "the echo of a text message");
    check_equal(describe(heard[1]), "binary: 2 bytes", "the echo of a binary message");
    check_equal(heard[1]->data, std::string("\x00\xff", 2), "the binary message's bytes");
    check_equal(describe(heard[2]), R"(text: You said: {"greeting":"hi"})", "the echo of JSON");
    check_equal(describe(heard[3]), "nullopt", "read_message once the connection is closed");
  }

  co_await journal->closed.wait(5s);
  std::string events;
  for (const std::string& event : journal->events) events += event + "|";
  check_equal(events,
              std::string("open|text hello|binary ") + std::string("\x00\xff", 2) +
                  R"(|text {"greeting":"hi"}|close 1000 done|)",
              "what the handler saw, in order");
}

int main() {
  return web_example::run(make_app, test);
}
