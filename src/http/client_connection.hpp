#pragma once
// The client half of the HTTP/1.1 codec: a connection the client keeps (its stream, parser and
// output buffer), one request/response exchange over it, and how a fetch is interrupted (a
// timeout, or the client closing) whatever it is waiting for.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/http1_response.hpp"
#include "squall/core/concurrent.hpp"
#include "squall/core/ioloop.hpp"
#include "squall/http/httpclient.hpp"
#include "squall/net/iostream.hpp"

namespace squall::httpclient_detail {

/// What a fetch in progress is doing, so a timeout or `close()` can stop it: the stream it uses
/// (closed with the cause, which fails its pending read or write), and any other wait (a
/// connection being made, a body producer, a place in the queue) through `interruptible`.
/// Lives in the fetch's coroutine frame.
struct FetchControl {
  IOStream* stream = nullptr;             // the connection in use, if any
  std::exception_ptr abort_error;         // why the fetch was stopped, once it was
  std::optional<Future<void>> interrupt;  // made by the first interruptible wait
  std::optional<Future<void>> waiter;     // the place in the client's queue, while queued
  const char* phase = "during request";   // for the message of a timeout
  // A wait with a deadline of its own, no later than the fetch's (a connect): a timeout is
  // recorded, and reported once that wait ends, rather than abandoning it.
  bool timeouts_deferred = false;
  bool aborted = false;  // the stream and waits were stopped

  /// Stops the fetch with `error` (once; later calls do nothing); a `timeout` only records it
  /// while timeouts are deferred.
  void abort(std::exception_ptr error, bool timeout = false);
  /// Throws `abort_error` if the fetch was stopped.
  void check() const {
    if (abort_error) std::rethrow_exception(abort_error);
  }
};

/// A Future with the outcome of `future`, or failing with the fetch's abort error if the fetch
/// is stopped first (then `future` runs on, and its outcome is dropped).
template <class T>
Future<T> interruptible(FetchControl& control, Future<T> future) {
  if (future.done()) return future;
  if (control.abort_error) {
    future.add_done_callback([](const Future<T>& done) {
      if (!done.cancelled()) static_cast<void>(done.exception());  // retrieved: not logged
    });
    return make_exceptional_future<T>(control.abort_error);
  }
  if (!control.interrupt) control.interrupt.emplace();
  Future<T> out;
  future.add_done_callback([out](const Future<T>& done) {
    if (out.done()) {
      if (!done.cancelled()) static_cast<void>(done.exception());  // retrieved: not logged
      return;
    }
    squall::detail::copy_outcome(done, out);
  });
  control.interrupt->add_done_callback([out](const Future<void>& signal) {
    std::exception_ptr error = signal.exception();
    if (!out.done()) out.set_exception(error);
  });
  return out;
}

/// A connection the client made: in use by one fetch, or idle in the pool.
struct ClientConnection {
  ClientConnection(std::unique_ptr<IOStream> s, std::string pool_key)
      : stream(std::move(s)), key(std::move(pool_key)) {}
  ~ClientConnection();
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  /// Waits for more bytes than are buffered: the read started while the connection was idle
  /// (or while waiting for 100 Continue) if there is one, else a new one.
  Future<std::size_t> read_more();
  /// Starts the read that watches an idle connection (the server closing it, or sending
  /// something unasked, ends it).
  void watch_idle() {
    if (!pending_fill && !stream->closed()) pending_fill = stream->fill_buffer(1);
  }
  /// Usable for a new request: open, and nothing arrived while idle.
  bool usable() const noexcept {
    return !stream->closed() && stream->buffered().empty() &&
           (!pending_fill || !pending_fill->done());
  }
  /// Drops the pending read's outcome (retrieving it, so a failure is not logged).
  void drop_pending_fill() noexcept;

  std::unique_ptr<IOStream> stream;
  std::string key;  // the pool's key: scheme, host, port and TLS settings
  http1::ResponseParser parser;
  http1::ResponseHead head;
  std::string out;  // the request being written; its capacity is kept between requests
  std::optional<Future<std::size_t>> pending_fill;
  std::uint64_t exchanges = 0;  // requests completed on this connection

  // Idle in the pool: since when, and the timer that closes it after the idle timeout.
  bool idle = false;
  IOLoop::time_point idle_since{};
  bool timer_armed = false;
  TimeoutHandle timer;
};

/// One request as the exchange sends it: the request (headers, body, callbacks) and what the
/// client worked out for it. Borrowed for the exchange.
struct ExchangeRequest {
  const HTTPRequest* request = nullptr;
  std::string_view target;         // path and query
  std::string_view host;           // the Host header, unless the request's headers give one
  std::string_view authorization;  // "Basic ...", or empty
  std::string_view user_agent;
  bool decompress = true;
  /// Redirects are followed: a redirect response (301, 302, 303, 307, 308) whose Location,
  /// resolved against `url`, is an http or https URL the client may go to (not from https to
  /// http unless `allow_insecure_redirects`) is not for the request's callbacks, and its body
  /// is dropped as it arrives.
  bool follow_redirects = false;
  std::string_view url;  // the request's URL
  bool https = false;    // its scheme
  bool allow_insecure_redirects = false;
  bool close_connection = false;  // ask the server to close after the response
  std::size_t max_header_size = 65536;
  std::uint64_t max_body_size = 0;
};

/// What an exchange gave.
struct ExchangeResult {
  int code = 0;
  std::string reason;
  HTTPHeaders headers;
  std::string body;
  std::optional<IOLoop::time_point> first_byte;
  bool head_received = false;  // the final response's head arrived
  bool redirect = false;       // a redirect to follow (its body was dropped)
  bool reusable = false;       // the connection may serve another request
};

/// Sends the request on `conn` and reads the response into `result` (the body to the request's
/// streaming_callback instead, if it has one). Throws what went wrong: StreamClosedError,
/// HTTPInputError for a malformed or too large response, what a callback or the body producer
/// threw. `request`, `result` and `control` must outlive the Future (the caller awaits it).
Future<void> run_exchange(ClientConnection& conn, const ExchangeRequest& request,
                          ExchangeResult& result, FetchControl& control);

}  // namespace squall::httpclient_detail
