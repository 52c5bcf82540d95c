// Tornado's websocket chat demo in squall: a page with the messages so far and a form, and a
// WebSocket that broadcasts each message posted to every open page.
//
//   websocket_chatdemo [--port=8888] [--address=127.0.0.1] [--root=DIR]
//
// templates/ and static/ are looked for beside the program, then in the source folder it was
// built from; --root names another folder holding both. Prints "Listening on
// http://ADDRESS:PORT/" once it accepts connections (--port=0 picks a free port); SIGINT or
// SIGTERM closes the open sockets (1001, going away) and stops the server gracefully.

#include <squall/core/gen.hpp>
#include <squall/core/ioloop.hpp>
#include <squall/util/escape.hpp>
#include <squall/util/log.hpp>
#include <squall/web/application.hpp>
#include <squall/web/request_handler.hpp>
#include <squall/web/websocket.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "demo_support.hpp"

#ifndef SQUALL_EXAMPLE_DIR
#define SQUALL_EXAMPLE_DIR ""
#endif

namespace {

using nlohmann::json;

/// A random (version 4) UUID in its usual text form, as Python's `str(uuid.uuid4())`.
std::string uuid4() {
  // Seeded once from the system: ids need to be unique, not secret.
  static std::mt19937_64 generator{std::random_device{}()};
  std::uint64_t high = generator();
  std::uint64_t low = generator();
  high = (high & ~std::uint64_t{0xf000}) | 0x4000;                         // version 4
  low = (low & ~(std::uint64_t{0xc} << 60)) | (std::uint64_t{0x8} << 60);  // RFC 4122 variant
  const std::string hex = fmt::format("{:016x}{:016x}", high, low);
  return fmt::format("{}-{}-{}-{}-{}", hex.substr(0, 8), hex.substr(8, 4), hex.substr(12, 4),
                     hex.substr(16, 4), hex.substr(20));
}

/// One open chat page. The loop is single-threaded, so the set of sockets and the message cache
/// are plain static members, shared by every handler.
class ChatSocketHandler : public squall::web::WebSocketHandler {
 public:
  /// How many messages a new page shows.
  static constexpr std::size_t kCacheSize = 200;

  /// The cached messages, oldest first: each {id, body, html}.
  static json cache() { return json(cache_); }

  /// Starts the closing handshake of every open socket with `code`. The Future completes once
  /// none is open (a peer that does not answer is dropped after a few seconds).
  static squall::Future<void> close_all(int code, std::string_view reason) {
    for (ChatSocketHandler* waiter : snapshot()) {
      if (waiters_.contains(waiter)) waiter->close(code, reason);
    }
    if (waiters_.empty()) return squall::make_ready_future();
    if (!all_closed_) all_closed_.emplace();
    return *all_closed_;
  }

  /// Drops the Future of `close_all` unfinished (after giving up on it).
  static void stop_waiting_for_close() { all_closed_.reset(); }

  std::optional<squall::web::WebSocketCompressionOptions> get_compression_options() override {
    // Chat messages are small but repetitive HTML: worth deflating, as Tornado's demo does.
    return squall::web::WebSocketCompressionOptions{};
  }

  squall::Future<void> open() override {
    waiters_.insert(this);
    return squall::make_ready_future();
  }

  void on_close() override {
    waiters_.erase(this);
    if (waiters_.empty() && all_closed_) {
      all_closed_->set_result();
      all_closed_.reset();
    }
  }

  squall::Future<void> on_message(squall::web::WebSocketMessage message) override {
    squall::log::app_log().info("got message {}", squall::escape::json_encode(message.data));
    const json parsed = squall::escape::json_decode(message.data);
    if (!parsed.is_object() || !parsed.contains("body") || !parsed["body"].is_string()) {
      // Thrown out of on_message, it closes this socket with 1011 and is logged.
      throw squall::ValueError(R"(a chat message must be a JSON object with a string "body")");
    }
    json chat = {{"id", uuid4()}, {"body", parsed["body"]}};
    chat["html"] = render_string("message.html", {{"message", chat}});
    update_cache(chat);
    send_updates(chat);
    return squall::make_ready_future();
  }

 private:
  static std::vector<ChatSocketHandler*> snapshot() { return {waiters_.begin(), waiters_.end()}; }

  static void update_cache(json chat) {
    cache_.push_back(std::move(chat));
    while (cache_.size() > kCacheSize) cache_.pop_front();
  }

  static void send_updates(const json& chat) {
    squall::log::app_log().info("sending message to {} waiters", waiters_.size());
    // Over a copy: a write that finds its connection broken may close it, and on_close then
    // leaves the set while it is walked.
    for (ChatSocketHandler* waiter : snapshot()) {
      if (!waiters_.contains(waiter) || waiter->is_closing()) continue;
      try {
        // Not awaited: one slow reader must not hold up the others. A socket closing while
        // its copy is on the way fails that copy alone, which is no error for a chat.
        waiter->write_message(chat).add_done_callback([](const squall::Future<void>& sent) {
          if (std::exception_ptr error = sent.exception()) {
            squall::log::app_log().debug("a message was not delivered: {}",
                                         squall::log::describe(error));
          }
        });
      } catch (const std::exception& e) {
        squall::log::app_log().error("Error sending message: {}", e.what());
      }
    }
  }

  static inline std::set<ChatSocketHandler*> waiters_;
  static inline std::deque<json> cache_;
  static inline std::optional<squall::Future<void>> all_closed_;  // while close_all waits
};

class MainHandler : public squall::web::RequestHandler {
 public:
  squall::Future<void> get() override {
    return render("index.html", {{"messages", ChatSocketHandler::cache()}});
  }
};

/// Stops as HTTPServer::shutdown_on_signal does, but ends the chat's sockets first: they left
/// the HTTP server when they were upgraded, so its shutdown would not wait for them, and they
/// would be dropped without a close frame. `server` is the application's, which outlives the loop.
squall::Future<void> stop_gracefully(squall::HTTPServer& server) {
  // Started first, so that no new page connects while the sockets close.
  squall::Future<void> shutdown = server.shutdown(std::chrono::seconds(10));
  try {
    co_await squall::gen::with_timeout(
        std::chrono::seconds(10),
        ChatSocketHandler::close_all(1001, "the server is shutting down"));
  } catch (const squall::TimeoutError&) {
    squall::log::gen_log().warn("some chat sockets did not close in time");
    ChatSocketHandler::stop_waiting_for_close();
  }
  co_await shutdown;
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<demo::WebDemoOptions> options =
      demo::parse_web_demo_options(argc, argv, SQUALL_EXAMPLE_DIR, {"templates/index.html"});
  if (!options) return 1;
  const int port = options->port;
  const std::string& address = options->address;
  const std::filesystem::path& root = options->root;

  squall::IOLoop loop;
  squall::web::Settings settings;
  settings.template_path = (root / "templates").string();
  settings.static_path = (root / "static").string();
  // As Tornado's demo: the form carries the _xsrf field, harmless in the JSON it becomes.
  settings.xsrf_cookies = true;
  squall::web::Application application({{"/", squall::web::handler<MainHandler>()},
                                        {"/chatsocket", squall::web::handler<ChatSocketHandler>()}},
                                       std::move(settings));
  squall::HTTPServer* server = demo::listen(argv[0], application, port, address);
  if (!server) return 1;
  demo::stop_on_signals(loop, [server](int signum) {
    squall::log::gen_log().info("Signal {} received: closing the chat", signum);
    return stop_gracefully(*server);
  });
  loop.start();
  return 0;
}
