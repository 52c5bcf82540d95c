#pragma once
/// \file
/// `IOLoop`: the event loop, one per thread (Tornado's `ioloop`), and `PeriodicCallback`.
///
/// A loop runs, in each iteration: the fd handlers whose descriptors are ready (epoll, level
/// triggered), the timers that are due, and the callbacks that are ready, up to a budget so that
/// I/O is polled again even while callbacks keep scheduling more callbacks. Only `add_callback`
/// (and `spawn_callback`) may be called from other threads; everything else belongs to the thread
/// that runs the loop. An exception escaping a callback is logged on the application logger with
/// the callback's name, and the loop goes on.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "squall/core/concurrent.hpp"
#include "squall/core/detail/unique_function.hpp"

namespace squall {

class IOLoop;
class ThreadPoolExecutor;

namespace detail {
class LoopImpl;
/// Logs an exception that escaped a callback of type `callback`, on the application logger.
void log_callback_error(const std::exception_ptr& error, const std::type_info& callback) noexcept;
}  // namespace detail

/// When a wait gives up: a point on the loop's clock, or a delay from now (Tornado's "deadline
/// or timedelta"). Converts implicitly from both, so `wait(std::chrono::seconds(1))` reads well.
class Deadline {
 public:
  Deadline(std::chrono::steady_clock::time_point when) noexcept : when_(when) {}  // NOLINT
  template <class Rep, class Period>
  Deadline(std::chrono::duration<Rep, Period> delay)  // NOLINT(google-explicit-constructor)
      : when_(std::chrono::steady_clock::now() +
              std::chrono::ceil<std::chrono::steady_clock::duration>(delay)) {}
  std::chrono::steady_clock::time_point when() const noexcept { return when_; }

 private:
  std::chrono::steady_clock::time_point when_;
};

/// Names a pending timeout; returned by `call_later`, `call_at` and `add_timeout`, taken by
/// `remove_timeout`. A default-constructed handle names nothing.
class TimeoutHandle {
 public:
  TimeoutHandle() noexcept = default;
  explicit operator bool() const noexcept { return generation_ != 0; }
  friend bool operator==(TimeoutHandle, TimeoutHandle) noexcept = default;

 private:
  friend class detail::LoopImpl;
  TimeoutHandle(std::uint32_t slot, std::uint32_t generation) noexcept
      : slot_(slot), generation_(generation) {}
  std::uint32_t slot_ = 0;
  std::uint32_t generation_ = 0;
};

/// The event loop.
class IOLoop {
 public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;
  using duration = clock::duration;
  using Handler = detail::UniqueFunction<void(int fd, std::uint32_t events)>;
  using SignalHandler = detail::UniqueFunction<void(int signum)>;

  /// fd events, with Tornado's (and epoll's) values.
  static constexpr std::uint32_t NONE = 0;
  static constexpr std::uint32_t READ = 0x001;
  static constexpr std::uint32_t WRITE = 0x004;
  static constexpr std::uint32_t ERROR = 0x018;

  /// A new loop; it becomes the current loop of the calling thread if that thread has none.
  IOLoop();
  /// Closes the loop if it is open (see `close`).
  ~IOLoop();
  IOLoop(const IOLoop&) = delete;
  IOLoop& operator=(const IOLoop&) = delete;

  /// The calling thread's current loop, created on first use if the thread has none.
  static IOLoop& current();
  /// The calling thread's current loop, or nullptr if it has none.
  static IOLoop* current_or_null() noexcept;
  /// Makes this the calling thread's current loop.
  void make_current() noexcept;

  /// Runs the loop until `stop()` is called. Throws InvalidStateError if it is running already
  /// or closed. Makes the loop current for the calling thread while it runs.
  void start();
  /// Makes `start()` return once the callback running now has finished. Callbacks still queued
  /// stay queued for the next `start()`.
  void stop() noexcept;
  /// True while `start()` is running.
  bool running() const noexcept;

  /// Frees everything the loop holds: queued callbacks, timers and handlers are dropped without
  /// running, and coroutines still suspended on this loop are destroyed (their locals' destructors
  /// run). With `all_fds`, the registered file descriptors are closed too. A closed loop cannot
  /// run again; closing twice does nothing. Throws InvalidStateError while the loop is running.
  void close(bool all_fds = false);
  bool closed() const noexcept;

  /// Calls `fn` on the loop and runs the loop until the Future it returns is done; returns its
  /// result or throws its exception. `fn` may also return a plain value or nothing. With a
  /// `timeout`, throws TimeoutError when it passes first (the work is left as it is).
  template <class F>
  auto run_sync(F&& fn, std::optional<duration> timeout = std::nullopt);

  /// Queues `fn` to run on the loop's next iteration. Thread-safe: from another thread it wakes
  /// the loop. If `fn` returns a Future, its exception is logged. Throws InvalidStateError if the
  /// loop is closed.
  template <class F>
  void add_callback(F&& fn) {
    add_callback_impl(wrap_callback(std::forward<F>(fn)), "add_callback");
  }
  /// As `add_callback`; the name says the callback's Future is nobody's to await.
  template <class F>
  void spawn_callback(F&& fn) {
    add_callback_impl(wrap_callback(std::forward<F>(fn)), "spawn_callback");
  }

  /// Runs `fn` once `delay` has passed; returns a handle for `remove_timeout`.
  template <class Rep, class Period, class F>
  TimeoutHandle call_later(std::chrono::duration<Rep, Period> delay, F&& fn) {
    return call_at(time() + std::chrono::ceil<duration>(delay), std::forward<F>(fn));
  }
  /// Runs `fn` at `when` (by this loop's `time()`); returns a handle for `remove_timeout`.
  template <class F>
  TimeoutHandle call_at(time_point when, F&& fn) {
    return add_timer(when, wrap_callback(std::forward<F>(fn)));
  }
  /// Tornado's spelling: a deadline or a delay.
  template <class F>
  TimeoutHandle add_timeout(time_point deadline, F&& fn) {
    return call_at(deadline, std::forward<F>(fn));
  }
  template <class Rep, class Period, class F>
  TimeoutHandle add_timeout(std::chrono::duration<Rep, Period> delay, F&& fn) {
    return call_later(delay, std::forward<F>(fn));
  }
  /// Cancels a pending timeout in O(1). A handle that already ran or was removed is ignored.
  void remove_timeout(TimeoutHandle handle) noexcept;

  /// Calls `handler(fd, events)` whenever `fd` has one of `events` (READ, WRITE; ERROR is always
  /// reported). Throws ValueError for a negative fd, InvalidStateError if `fd` has a handler
  /// already, or Error if epoll refuses the descriptor.
  void add_handler(int fd, std::uint32_t events, Handler handler);
  /// Changes the events `fd` is watched for. Throws InvalidStateError if it has no handler.
  void update_handler(int fd, std::uint32_t events);
  /// Stops watching `fd`; does nothing if it has no handler.
  void remove_handler(int fd) noexcept;

  /// Calls `callback(future)` on this loop once `future` is done.
  template <class T, class F>
  void add_future(const Future<T>& future, F&& callback) {
    future.add_done_callback(std::forward<F>(callback));
  }

  /// Delivers `signum` (SIGINT, SIGTERM, SIGCHLD...) as a callback on this loop, through a
  /// signalfd. The signal is blocked for the calling thread (threads started by squall block all
  /// signals); deliveries may coalesce. Replaces an earlier handler for the same signal.
  void add_signal_handler(int signum, SignalHandler handler);
  /// Stops handling `signum` and unblocks it; returns false if it had no handler.
  bool remove_signal_handler(int signum) noexcept;

  /// Logs, on the general logger, every callback or coroutine step that runs longer than
  /// `threshold`, with its name and its duration. Zero turns the check off (the default).
  void set_blocking_log_threshold(duration threshold) noexcept;

  /// This loop's clock: `std::chrono::steady_clock`.
  time_point time() const noexcept { return clock::now(); }

  /// Runs `fn(args...)` on `executor` (the loop's default thread pool when nullptr) and returns a
  /// Future of its result, completed on this loop's thread.
  template <class F, class... Args>
  auto run_in_executor(ThreadPoolExecutor* executor, F&& fn, Args&&... args)
      -> Future<std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>&...>>;

  /// The thread pool `run_in_executor(nullptr, ...)` uses, started on first use.
  ThreadPoolExecutor& default_executor();

  /// The squall-internal part of the loop.
  detail::LoopImpl& impl() noexcept { return *impl_; }

 private:
  template <class F>
  static detail::Callback wrap_callback(F&& fn) {
    using R = std::invoke_result_t<std::decay_t<F>&>;
    if constexpr (is_future_v<R>) {
      // A coroutine lambda reads its captures through the closure object, so the closure must
      // live until the coroutine is done, not only until its first suspension.
      return [fn = std::forward<F>(fn)]() mutable {
        auto closure = std::make_shared<std::decay_t<F>>(std::move(fn));
        auto future = (*closure)();
        future.add_done_callback([closure](const auto& done) {
          if (!done.cancelled()) {
            if (auto error = done.exception()) {
              detail::log_callback_error(error, typeid(std::decay_t<F>));
            }
          }
        });
      };
    } else {
      return detail::Callback(std::forward<F>(fn));
    }
  }

  void add_callback_impl(detail::Callback&& cb, const char* operation);
  TimeoutHandle add_timer(time_point when, detail::Callback&& cb);
  /// Runs `start` as a callback, then the loop until the state it returns is done or the timeout
  /// passes; returns true if it timed out.
  bool run_until_done(detail::UniqueFunction<detail::FutureStateBase*()> start,
                      std::optional<duration> timeout);

  std::unique_ptr<detail::LoopImpl> impl_;
};

namespace detail {
/// What run_sync gives for a function returning R: a Future's value type, else R itself.
template <class R>
struct SyncResult {
  using type = std::decay_t<R>;
};
template <class T>
struct SyncResult<Future<T>> {
  using type = T;
};
}  // namespace detail

template <class F>
auto IOLoop::run_sync(F&& fn, std::optional<duration> timeout) {
  using R = std::invoke_result_t<std::decay_t<F>&>;
  using T = typename detail::SyncResult<std::remove_cvref_t<R>>::type;
  std::optional<Future<T>> future;
  std::exception_ptr thrown;
  bool timed_out = run_until_done(
      [&]() -> detail::FutureStateBase* {
        try {
          if constexpr (is_future_v<R>) {
            future.emplace(fn());
          } else if constexpr (std::is_void_v<R>) {
            fn();
            future.emplace(make_ready_future());
          } else {
            future.emplace(make_ready_future(fn()));
          }
        } catch (...) {
          thrown = std::current_exception();
          return nullptr;
        }
        return future->done() ? nullptr : detail::FutureAccess::state(*future);
      },
      timeout);
  if (thrown) std::rethrow_exception(thrown);
  if (timed_out) {
    throw TimeoutError("Operation timed out after " +
                       std::to_string(std::chrono::duration<double>(*timeout).count()) +
                       " seconds");
  }
  if constexpr (std::is_void_v<T> || std::is_copy_constructible_v<T>) {
    return future->result();
  } else {
    // A move-only result is moved out (others sharing the Future see it moved-from), as
    // chain_future does.
    return T(std::move(future->result()));
  }
}

/// Calls a function every `callback_time`, on the loop current when `start()` is called.
///
/// As in Tornado, missed runs are skipped rather than run late in a burst: after a run that took
/// longer than the period, the next run is the next multiple of the period. With `jitter` (say
/// 0.1), each period is varied at random by up to ±jitter/2 of itself. If the function returns a
/// Future, the next run is scheduled after that Future is done. Exceptions are logged.
class PeriodicCallback {
 public:
  using Function = detail::UniqueFunction<Future<void>()>;

  template <class F, class Rep, class Period>
  PeriodicCallback(F&& fn, std::chrono::duration<Rep, Period> callback_time, double jitter = 0.0)
      : PeriodicCallback(wrap(std::forward<F>(fn)),
                         std::chrono::ceil<IOLoop::duration>(callback_time), jitter) {}
  /// Throws ValueError unless `callback_time` is positive.
  PeriodicCallback(Function fn, IOLoop::duration callback_time, double jitter = 0.0);
  ~PeriodicCallback();
  PeriodicCallback(const PeriodicCallback&) = delete;
  PeriodicCallback& operator=(const PeriodicCallback&) = delete;

  /// Starts calling; the first call is one period from now. Does nothing if running.
  void start();
  /// Stops calling; a run in progress finishes.
  void stop() noexcept;
  bool is_running() const noexcept;

 private:
  template <class F>
  static Function wrap(F&& fn) {
    if constexpr (is_future_v<std::invoke_result_t<std::decay_t<F>&>>) {
      return Function(std::forward<F>(fn));
    } else {
      return [fn = std::forward<F>(fn)]() mutable {
        fn();
        return make_ready_future();
      };
    }
  }

  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace squall

// run_in_executor's definition needs the executor, which needs IOLoop complete.
#include "squall/core/executor.hpp"  // IWYU pragma: export
