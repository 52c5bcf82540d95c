#pragma once
/// \file
/// `ThreadPoolExecutor`: runs blocking functions on worker threads and hands their results back
/// to the loop (Python's `concurrent.futures.ThreadPoolExecutor` as Tornado uses it).
///
/// `submit` must be called on a thread that has a current IOLoop (created on first use). The
/// returned Future completes on that loop's thread: results and exceptions cross threads only
/// through the loop's thread-safe `add_callback`. If that loop is closed before the function
/// finishes, the result is dropped. Worker threads block every signal, so signals handled with
/// `IOLoop::add_signal_handler` reach the loop.

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "squall/core/concurrent.hpp"
#include "squall/core/detail/unique_function.hpp"
#include "squall/core/ioloop.hpp"

namespace squall {

namespace detail {
class RemoteQueue;
std::shared_ptr<RemoteQueue> current_remote_queue();
/// Posts `cb` to a loop's remote queue; false (leaving `cb` with the caller) if the loop closed.
bool post_remote(RemoteQueue& queue, Callback& cb);
/// Keeps a result whose loop closed: its Future may only be touched on the loop's thread.
void abandon(Callback cb) noexcept;

/// A job for a worker: runs the function, then posts the outcome to the submitting loop.
template <class R, class Fn>
UniqueFunction<void()> make_executor_job(Fn fn, Future<R> future) {
  using Stored = std::conditional_t<std::is_void_v<R>, std::monostate, R>;
  struct Outcome {
    Future<R> future;
    std::optional<Stored> value;
    std::exception_ptr error;
  };
  struct Deliver {
    std::unique_ptr<Outcome> outcome;
    void operator()() {
      if (outcome->error) {
        outcome->future.set_exception(outcome->error);
      } else if constexpr (std::is_void_v<R>) {
        outcome->future.set_result();
      } else {
        outcome->future.set_result(std::move(*outcome->value));
      }
    }
  };
  auto outcome = std::make_unique<Outcome>(Outcome{std::move(future), std::nullopt, nullptr});
  return [fn = std::move(fn), outcome = std::move(outcome),
          remote = current_remote_queue()]() mutable {
    try {
      if constexpr (std::is_void_v<R>) {
        fn();
        outcome->value.emplace();
      } else {
        outcome->value.emplace(fn());
      }
    } catch (...) {
      outcome->error = std::current_exception();
    }
    Callback deliver = Deliver{std::move(outcome)};
    if (!post_remote(*remote, deliver)) abandon(std::move(deliver));
  };
}
}  // namespace detail

/// A fixed pool of worker threads running submitted functions in order of submission.
class ThreadPoolExecutor {
 public:
  /// Starts `max_workers` threads (at least one).
  explicit ThreadPoolExecutor(std::size_t max_workers = default_workers());
  /// Runs every submitted function, then joins the threads (`shutdown(true)`).
  ~ThreadPoolExecutor();
  ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
  ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;

  /// Runs `fn(args...)` on a worker; the Future completes on the calling thread's loop with its
  /// result or exception. The arguments are copied (or moved) into the job. Throws
  /// InvalidStateError after `shutdown`.
  template <class F, class... Args>
  auto submit(F&& fn, Args&&... args)
      -> Future<std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>&...>> {
    using R = std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>&...>;
    Future<R> future;
    enqueue(detail::make_executor_job<R>(
        [fn = std::forward<F>(fn), tuple = std::make_tuple(std::forward<Args>(args)...)]() mutable {
          return std::apply(fn, tuple);
        },
        future));
    return future;
  }

  /// Refuses new work; with `wait`, runs what was submitted and joins the threads.
  void shutdown(bool wait = true);

  std::size_t max_workers() const noexcept;

  /// Five workers per core, as Python's executor used to choose.
  static std::size_t default_workers() noexcept;

 private:
  void enqueue(detail::UniqueFunction<void()> job);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

template <class F, class... Args>
auto IOLoop::run_in_executor(ThreadPoolExecutor* executor, F&& fn, Args&&... args)
    -> Future<std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>&...>> {
  if (!executor) executor = &default_executor();
  return executor->submit(std::forward<F>(fn), std::forward<Args>(args)...);
}

}  // namespace squall
