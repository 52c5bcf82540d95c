// The parity app's routes that suspend: sleeps, fetches from itself, a thread pool, a streamed
// response, long polling and the WebSocket echo.

#include <squall/core/gen.hpp>
#include <squall/core/ioloop.hpp>
#include <squall/http/httpclient.hpp>
#include <squall/net/iostream.hpp>
#include <squall/util/escape.hpp>
#include <squall/web/websocket.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "parity.hpp"

namespace parity {
namespace {

using nlohmann::json;
using squall::Future;
using squall::IOLoop;
using squall::make_ready_future;
using squall::web::handler;
using squall::web::HTTPError;
using std::chrono::milliseconds;

class Sleep : public Page {
 public:
  Future<void> get() override {
    const std::int64_t ms = int_arg("ms", std::nullopt, 0, 10000);
    co_await squall::gen::sleep(milliseconds(ms));
    text(fmt::format("slept {}", ms));
  }
};

/// GETs `path` from the app itself; every outcome is a response (599 for a network failure).
Future<squall::HTTPResponse> fetch_self(const std::string& path) {
  squall::AsyncHTTPClient client;
  return client.fetch(config().self_base + path, /*raise_error=*/false);
}

class Fetch : public Page {
 public:
  Future<void> get() override {
    const std::string path = get_query_argument("path");
    if (path.empty() || path.front() != '/') throw HTTPError(400, "path must start with /");
    std::optional<Future<squall::HTTPResponse>> pending;
    try {
      pending = fetch_self(path);
    } catch (const squall::ValueError& e) {
      throw HTTPError(400, e.what());  // a path that makes no URL
    }
    const squall::HTTPResponse response = co_await *pending;
    if (response.code == 599) throw HTTPError(502);
    // json_encode writes invalid UTF-8 as U+FFFD, as Python's decode("utf-8", "replace").
    write(json{{"status", response.code}, {"body", response.body}});
  }
};

class Multi : public Page {
 public:
  Future<void> get() override {
    const std::int64_t n = int_arg("n", 5, 1, 50);
    std::vector<Future<squall::HTTPResponse>> fetches;
    for (std::int64_t i = 0; i < n; ++i) fetches.push_back(fetch_self("/json"));
    const std::vector<squall::HTTPResponse> responses =
        co_await squall::gen::multi(std::move(fetches));
    const json expected = {{"message", "Hello, World!"}};
    int count = 0;
    for (const squall::HTTPResponse& response : responses) {
      if (response.code != 200) continue;
      try {
        if (squall::escape::json_decode(response.body) == expected) ++count;
      } catch (const squall::ValueError&) {
      }
    }
    write(json{{"count", count}});
  }
};

/// Blocks its thread on purpose: the loop must stay free meanwhile.
std::int64_t blocking_sum(std::int64_t n, std::int64_t ms) {
  if (ms > 0) std::this_thread::sleep_for(milliseconds(ms));
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += i;
  return sum;
}

class Executor : public Page {
 public:
  Future<void> get() override {
    const std::int64_t n = int_arg("n", std::nullopt, 0, 10'000'000);
    const std::int64_t ms = int_arg("ms", 0, 0, 5000);
    const std::int64_t sum =
        co_await IOLoop::current().run_in_executor(nullptr, blocking_sum, n, ms);
    write(json{{"n", n}, {"sum", sum}});
  }
};

class Stream : public Page {
 public:
  Future<void> get() override {
    const std::int64_t chunks = int_arg("chunks", 5, 1, 100);
    const std::int64_t delay = int_arg("delay_ms", 50, 0, 1000);
    set_header("Content-Type", "text/plain; charset=UTF-8");
    for (std::int64_t i = 0; i < chunks; ++i) {
      write(fmt::format("chunk {}\n", i));
      try {
        co_await flush();
      } catch (const squall::StreamClosedError&) {
        co_return;  // the client went away: nobody to tell
      }
      if (i + 1 < chunks) co_await squall::gen::sleep(milliseconds(delay));
    }
  }
};

/// A request waiting for the next message of a channel (Tornado's chat demo style). The loop is
/// single-threaded, so the waiters are a plain static map.
class LongPoll : public Page {
 public:
  ~LongPoll() override {
    IOLoop::current().remove_timeout(timeout_);
    forget();
  }

  /// The number of requests waiting on `channel`.
  static std::size_t waiting(const std::string& channel) {
    auto it = waiters_.find(channel);
    return it == waiters_.end() ? 0 : it->second.size();
  }

  /// Wakes every waiter of `channel` with `message`; returns how many there were.
  static std::size_t publish(const std::string& channel, const std::string& message) {
    auto it = waiters_.find(channel);
    if (it == waiters_.end()) return 0;
    const std::set<LongPoll*> woken = std::move(it->second);
    waiters_.erase(it);
    for (LongPoll* waiter : woken) waiter->wake(json::array({message}));
    return woken.size();
  }

  Future<void> get() override {
    channel_ = get_query_argument("channel", "default");
    const std::int64_t timeout_ms = int_arg("timeout_ms", 10000, 0, 60000);
    waiters_[channel_].insert(this);
    timeout_ =
        IOLoop::current().call_later(milliseconds(timeout_ms), [this] { wake(json::array()); });
    const std::optional<json> messages = co_await waiter_;
    IOLoop::current().remove_timeout(timeout_);
    // Woken by the client's leaving: there is nobody to answer.
    if (!messages || request().connection->closed()) co_return;
    write(json{{"messages", *messages}});
  }

  void on_connection_close() override { wake(std::nullopt); }

 private:
  void wake(std::optional<json> messages) {
    forget();
    if (!waiter_.done()) waiter_.set_result(std::move(messages));
  }

  void forget() {
    auto it = waiters_.find(channel_);
    if (it == waiters_.end()) return;
    it->second.erase(this);
    if (it->second.empty()) waiters_.erase(it);
  }

  static inline std::map<std::string, std::set<LongPoll*>> waiters_;
  std::string channel_;
  Future<std::optional<json>> waiter_;
  squall::TimeoutHandle timeout_;
};

class Waiters : public Page {
 public:
  Future<void> get() override {
    write(json{{"waiters", LongPoll::waiting(get_query_argument("channel", "default"))}});
    return make_ready_future();
  }
};

class Publish : public Handler<squall::web::RequestHandler> {
 public:
  Future<void> post() override {
    const std::string channel = get_query_argument("channel", "default");
    if (!valid_utf8(request().body)) throw HTTPError(400, "message is not UTF-8");
    write(json{{"delivered", LongPoll::publish(channel, request().body)}});
    return make_ready_future();
  }

 protected:
  std::string_view allowed_methods() const override { return "POST"; }
};

class WsEcho : public Handler<squall::web::WebSocketHandler> {
 public:
  std::optional<squall::web::WebSocketCompressionOptions> get_compression_options() override {
    return squall::web::WebSocketCompressionOptions{};  // accept permessage-deflate if offered
  }

  Future<void> on_message(squall::web::WebSocketMessage message) override {
    if (!message.binary && message.data == "close") {
      close(1000, "bye");
      co_return;
    }
    try {
      co_await write_message(message.data, message.binary);
    } catch (const squall::web::WebSocketClosedError&) {
      // Closed while the echo was on its way: nothing to do.
    }
  }

 protected:
  std::string_view allowed_methods() const override { return "GET"; }
};

}  // namespace

std::vector<squall::web::URLSpec> async_routes() {
  return {
      {"/sleep", handler<Sleep>()},
      {"/fetch", handler<Fetch>()},
      {"/multi", handler<Multi>()},
      {"/executor", handler<Executor>()},
      {"/stream", handler<Stream>()},
      {"/longpoll", handler<LongPoll>()},
      {"/longpoll/waiters", handler<Waiters>()},
      {"/publish", handler<Publish>()},
      {"/ws/echo", handler<WsEcho>()},
  };
}

}  // namespace parity
