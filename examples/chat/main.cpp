// Tornado's long-polling chat demo in squall: a page with the messages so far and a form. A
// message posted to /a/message/new reaches every open page through /a/message/updates, a POST
// that the server answers only once there is something newer than the page's cursor.
//
//   chatdemo [--port=8888] [--address=127.0.0.1] [--root=DIR]
//
// templates/ and static/ are looked for beside the program, then in the source folder it was
// built from; --root names another folder holding both. Prints "Listening on
// http://ADDRESS:PORT/" once it accepts connections (--port=0 picks a free port). SIGINT or
// SIGTERM stops it gracefully: the long polls still waiting are answered with no messages.
// With --logging=debug it logs the number of waiting long polls each time it changes
// ("waiters: N (...)"), which the end-to-end test watches.

#include <squall/core/concurrent.hpp>
#include <squall/core/ioloop.hpp>
#include <squall/core/locks.hpp>
#include <squall/util/error.hpp>
#include <squall/util/log.hpp>
#include <squall/web/application.hpp>
#include <squall/web/request_handler.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "demo_support.hpp"

#ifndef SQUALL_EXAMPLE_DIR
#define SQUALL_EXAMPLE_DIR ""
#endif

namespace {

using nlohmann::json;

/// The chat's state: the last messages, and the long polls waiting for the next one. One per
/// program, owned by `main` and borrowed by every handler (the loop is single-threaded).
class MessageBuffer {
 public:
  /// How many messages are kept: a page shows them, a cursor older than them gets them all.
  static constexpr std::size_t kCacheSize = 200;

  /// Counts a long poll as waiting for as long as it lives, logging the count as it changes.
  class Waiting {
   public:
    explicit Waiting(MessageBuffer& buffer) : buffer_(buffer) {
      ++buffer_.waiters_;
      buffer_.log_waiters("a long poll started waiting");
    }
    Waiting(const Waiting&) = delete;
    Waiting& operator=(const Waiting&) = delete;
    ~Waiting() {
      --buffer_.waiters_;
      buffer_.log_waiters(reason_);
    }

    /// Why the wait ended, for the log line of the destructor.
    void set_reason(const char* reason) noexcept { reason_ = reason; }

   private:
    MessageBuffer& buffer_;
    const char* reason_ = "a long poll stopped waiting";
  };

  /// The cached messages, oldest first, each {id, body, html}.
  const std::deque<json>& cache() const noexcept { return cache_; }

  /// The cached messages after the one whose id is `cursor`, oldest first. Without a cursor, or
  /// with one that is no longer (or never was) cached, all of them: that page missed too much.
  json messages_since(const std::optional<std::string>& cursor) const {
    auto first = cache_.end();
    while (first != cache_.begin()) {
      auto previous = std::prev(first);
      if (cursor && previous->at("id") == *cursor) break;
      first = previous;
    }
    return json(std::deque<json>(first, cache_.end()));
  }

  /// Caches `message`, dropping the oldest past kCacheSize, and wakes every waiting long poll.
  void add_message(json message) {
    cache_.push_back(std::move(message));
    while (cache_.size() > kCacheSize) cache_.pop_front();
    condition_.notify_all();
  }

  /// A Future that becomes true when a message is added or the chat closes; cancel it to stop
  /// waiting.
  squall::Future<bool> wait() { return condition_.wait(); }

  /// Wakes the waiting long polls for good: from now on they answer at once, even with nothing.
  void close() {
    closed_ = true;
    condition_.notify_all();
  }

  /// True once `close()` was called.
  bool closed() const noexcept { return closed_; }

 private:
  void log_waiters(const char* why) const {
    squall::log::app_log().debug("waiters: {} ({})", waiters_, why);
  }

  std::deque<json> cache_;
  squall::Condition condition_;
  std::size_t waiters_ = 0;
  bool closed_ = false;
};

/// A random (version 4) UUID in its usual text form, the id of a message.
std::string uuid4() {
  // Seeded once from the system: ids must not collide, they need not be secret.
  static std::mt19937_64 random{std::random_device{}()};
  const std::uint64_t high = (random() & ~std::uint64_t{0xf000}) | 0x4000;  // version 4
  const std::uint64_t low = (random() >> 2) | (std::uint64_t{1} << 63);     // variant 10
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", high >> 32, (high >> 16) & 0xffff,
                     high & 0xffff, low >> 48, low & 0xffffffffffff);
}

/// The base of the chat's handlers: holds the buffer their route gave them.
class ChatHandler : public squall::web::RequestHandler {
 public:
  void initialize(MessageBuffer* buffer) { buffer_ = buffer; }

 protected:
  MessageBuffer& buffer() { return *buffer_; }

 private:
  MessageBuffer* buffer_ = nullptr;  // owned by main, which outlives every request
};

/// GET /: the page, with the cached messages.
class MainHandler : public ChatHandler {
 public:
  squall::Future<void> get() override {
    return render("index.html", {{"messages", json(buffer().cache())}});
  }
};

/// POST /a/message/new with `body`: a new message for everyone. Answers it as JSON for the
/// page's script; a plain form post (with `next`) is redirected back to the page instead.
class MessageNewHandler : public ChatHandler {
 public:
  squall::Future<void> post() override {
    json message = {{"id", uuid4()}, {"body", get_argument("body")}};
    message["html"] = render_string("message.html", {{"message", message}});
    const std::string next = get_argument("next", "");
    if (next.empty()) {
      write(message);
    } else {
      redirect(local_path(next));
    }
    buffer().add_message(std::move(message));
    return squall::make_ready_future();
  }

 private:
  /// `next` if it is a path on this site, else "/": the form is not to be used as an open
  /// redirect to another site ("//host" and "/\host" are taken for hosts by browsers).
  static std::string local_path(const std::string& next) {
    const bool local = next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\");
    return local ? next : "/";
  }
};

// [updates]
/// POST /a/message/updates with an optional `cursor` (the id of the page's last message): the
/// messages after it, as {"messages": [...]}, at once if there are any, else once one is posted.
class MessageUpdatesHandler : public ChatHandler {
 public:
  squall::Future<void> post() override {
    std::optional<std::string> cursor;
    if (std::string value = get_argument("cursor", ""); !value.empty()) cursor = std::move(value);
    json messages = buffer().messages_since(cursor);
    while (messages.empty() && !buffer().closed()) {
      MessageBuffer::Waiting waiting(buffer());
      // Kept so that on_connection_close can cancel it.
      wait_ = buffer().wait();
      try {
        co_await *wait_;
      } catch (const squall::CancelledError&) {
        waiting.set_reason("the client went away");
        co_return;
      }
      waiting.set_reason(buffer().closed() ? "the chat is closing" : "woken by a message");
      messages = buffer().messages_since(cursor);
    }
    // Empty only when the chat is closing: the page polls again and finds the server gone.
    write(json{{"messages", std::move(messages)}});
  }

  void on_connection_close() override {
    if (wait_) wait_->cancel();
  }

 private:
  std::optional<squall::Future<bool>> wait_;
};
// [updates]

}  // namespace

int main(int argc, char** argv) {
  const std::optional<demo::WebDemoOptions> options =
      demo::parse_web_demo_options(argc, argv, SQUALL_EXAMPLE_DIR, {"templates/index.html"});
  if (!options) return 1;
  const int port = options->port;
  const std::string& address = options->address;
  const std::filesystem::path& root = options->root;

  // Declared in this order so that they go in the reverse one: the application (and the requests
  // borrowing the buffer), then the buffer (whose destruction cancels waiters), then the loop.
  squall::IOLoop loop;
  MessageBuffer buffer;
  squall::web::Settings settings;
  settings.template_path = (root / "templates").string();
  settings.static_path = (root / "static").string();
  settings.xsrf_cookies = true;
  squall::web::Application application(
      {{"/", squall::web::handler<MainHandler>(&buffer)},
       {"/a/message/new", squall::web::handler<MessageNewHandler>(&buffer)},
       {"/a/message/updates", squall::web::handler<MessageUpdatesHandler>(&buffer)}},
      std::move(settings));
  squall::HTTPServer* server = demo::listen(argv[0], application, port, address);
  if (!server) return 1;
  // [stop]
  demo::stop_on_signals(loop, [server, &buffer](int signum) {
    squall::log::gen_log().info("Signal {} received: closing the chat", signum);
    // Stop accepting first, so that the answered pages cannot come back with a new poll;
    // the waiting polls are requests in flight, which the shutdown waits for: wake them.
    squall::Future<void> shutdown = server->shutdown(std::chrono::seconds(5));
    buffer.close();
    return shutdown;
  });
  // [stop]
  loop.start();
  return 0;
}
