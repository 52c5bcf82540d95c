#pragma once
// The state of an AsyncHTTPClient (its queue of fetches, keep-alive pool and fetches in
// progress), shared by httpclient.cpp (the client, its queue and pool) and client_fetch.cpp (a
// fetch, from the queue to the response: connecting, redirects, timeouts).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "http/client_connection.hpp"
#include "http/client_url.hpp"
#include "squall/core/ioloop.hpp"
#include "squall/http/httpclient.hpp"
#include "squall/net/iostream.hpp"
#include "squall/net/netutil.hpp"

namespace squall {
namespace httpclient_detail {

using Clock = std::chrono::steady_clock;

constexpr Clock::duration kDefaultConnectTimeout = std::chrono::seconds(20);
constexpr Clock::duration kDefaultRequestTimeout = std::chrono::seconds(20);
constexpr int kDefaultMaxRedirects = 5;
constexpr std::size_t kDefaultMaxHeaderSize = std::size_t{64} << 10;
constexpr std::uint64_t kDefaultMaxBodySize = std::uint64_t{100} << 20;
constexpr std::string_view kDefaultUserAgent = "squall/0.1";

/// A request's settings with every default applied (the views point into the request).
struct Settings {
  Clock::duration connect_timeout{};  // zero: none
  Clock::duration request_timeout{};  // zero: none
  bool follow_redirects = true;
  int max_redirects = kDefaultMaxRedirects;
  bool decompress = true;
  bool validate_cert = true;
  bool allow_insecure_redirects = false;
  std::size_t max_header_size = kDefaultMaxHeaderSize;
  std::uint64_t max_body_size = kDefaultMaxBodySize;
  std::string_view user_agent = kDefaultUserAgent;
};

/// The settings of `request`, its unset fields taking the built-in defaults.
Settings settings_of(const HTTPRequest& request);

/// Lookups of the pool by a string_view, without making a key string.
struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view key) const noexcept {
    return std::hash<std::string_view>()(key);
  }
};

struct ActiveFetch;

}  // namespace httpclient_detail

/// The client behind AsyncHTTPClient's handles.
struct AsyncHTTPClient::Impl : std::enable_shared_from_this<AsyncHTTPClient::Impl> {
  Impl(IOLoop& l, Defaults d, bool is_shared);
  ~Impl();

  /// A client on the current loop, and the coroutine that ties it to the loop's lifetime.
  static std::shared_ptr<Impl> create(Defaults defaults, bool shared);

  /// Fills the request's unset fields from the client's defaults.
  void apply_defaults(HTTPRequest& request) const;
  void close();
  /// The loop is closing: everything on it goes now, and nothing touches it after.
  void on_loop_gone() noexcept;
  void signal_keeper() noexcept {
    if (!closed_signal.done() && IOLoop::current_or_null() == loop) closed_signal.set_result();
  }

  bool try_take_slot() noexcept {
    if (active >= defaults.max_clients) return false;
    ++active;
    return true;
  }
  /// Hands the slot to the next fetch in the queue, or frees it.
  void release_slot() noexcept;

  std::shared_ptr<httpclient_detail::ClientConnection> take_idle(std::string_view key);
  void give_back(std::shared_ptr<httpclient_detail::ClientConnection> conn);
  void arm_idle_timer(const std::shared_ptr<httpclient_detail::ClientConnection>& conn,
                      IOLoop::time_point when);
  void remove_idle(const httpclient_detail::ClientConnection* conn);
  /// The TLS context of a request's settings, made once per client.
  std::shared_ptr<SSLContext> ssl_context(const HTTPRequest& request,
                                          const httpclient_detail::Settings& settings);

  Future<std::shared_ptr<httpclient_detail::ClientConnection>> connect(
      httpclient_detail::ActiveFetch& fetch, const httpclient_detail::URL& url,
      const HTTPRequest& request, const httpclient_detail::Settings& settings, std::string key);
  /// One request of a fetch (one hop of its redirects) on a pooled or new connection; a
  /// request that fails on a reused connection before any response arrived (the server closed
  /// it meanwhile) is sent once more on a new one, unless its body cannot be sent again.
  Future<void> exchange(httpclient_detail::ActiveFetch& fetch, const httpclient_detail::URL& url,
                        const HTTPRequest& request, const httpclient_detail::Settings& settings,
                        const httpclient_detail::ExchangeRequest& ex,
                        httpclient_detail::ExchangeResult& result, IOLoop::time_point& connected);

  IOLoop* loop;
  Defaults defaults;
  bool shared;
  bool closed = false;
  bool loop_gone = false;
  std::uint64_t opened = 0;
  std::size_t active = 0;              // fetches holding a slot
  detail::Fifo<Future<void>> waiters;  // fetches waiting for a slot, in order
  std::unordered_map<std::string, std::vector<std::shared_ptr<httpclient_detail::ClientConnection>>,
                     httpclient_detail::KeyHash, std::equal_to<>>
      idle;
  httpclient_detail::ActiveFetch* fetches = nullptr;  // the fetches in progress, for close()
  std::map<std::string, std::shared_ptr<SSLContext>> ssl_contexts;
  std::shared_ptr<Resolver> resolver;
  Future<void> closed_signal;  // ends the keeper coroutine
};

namespace httpclient_detail {

/// A fetch in progress, in its coroutine frame: what stops it (FetchControl), its timers, and
/// its slot. Linked into the client's list so `close()` can stop it.
struct ActiveFetch {
  explicit ActiveFetch(AsyncHTTPClient::Impl& i) : impl(i) {
    next = impl.fetches;
    if (next) next->prev = this;
    impl.fetches = this;
  }
  ~ActiveFetch() {
    finish();
    if (prev) {
      prev->next = next;
    } else {
      impl.fetches = next;
    }
    if (next) next->prev = prev;
  }
  ActiveFetch(const ActiveFetch&) = delete;
  ActiveFetch& operator=(const ActiveFetch&) = delete;

  /// Stops the fetch with TimeoutError at `when`.
  void arm_request(IOLoop::time_point when) {
    deadline = when;
    request_timer = impl.loop->call_at(when, [this] {
      request_timer = {};
      time_out();
    });
  }
  /// Stops the fetch with TimeoutError at `when` unless `disarm_phase` comes first.
  void arm_phase(IOLoop::time_point when) {
    disarm_phase();
    phase_timer = impl.loop->call_at(when, [this] {
      phase_timer = {};
      time_out();
    });
  }
  void disarm_phase() noexcept {
    if (phase_timer) impl.loop->remove_timeout(std::exchange(phase_timer, {}));
  }
  void time_out() {
    std::string message("Timeout ");
    message.append(control.phase);
    control.abort(std::make_exception_ptr(TimeoutError(message)), /*timeout=*/true);
  }
  /// Frees the slot and the timers (once).
  void finish() noexcept {
    if (!impl.loop_gone) {
      disarm_phase();
      if (request_timer) impl.loop->remove_timeout(std::exchange(request_timer, {}));
    }
    if (slot) {
      slot = false;
      impl.release_slot();
    }
  }

  AsyncHTTPClient::Impl& impl;
  FetchControl control;
  std::optional<IOLoop::time_point> deadline;  // of the whole fetch
  TimeoutHandle request_timer;
  TimeoutHandle phase_timer;
  bool slot = false;
  ActiveFetch* prev = nullptr;
  ActiveFetch* next = nullptr;
};

/// Checks the request's method and body as Tornado does (and the method as a token); throws
/// ValueError.
void validate(const HTTPRequest& request);

/// The body of a fetch of `request` (at `url`, parsed already) on the client `self`.
Future<HTTPResponse> run_fetch(std::shared_ptr<AsyncHTTPClient::Impl> self, HTTPRequest request,
                               URL url, bool raise_error);

}  // namespace httpclient_detail
}  // namespace squall
