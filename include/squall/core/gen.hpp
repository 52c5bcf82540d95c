#pragma once
/// \file
/// Coroutine helpers (Tornado's `gen`): `sleep`, `moment`, `multi`, `with_timeout`,
/// `from_callback` and `WaitIterator`.

#include <chrono>
#include <cstddef>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "squall/core/concurrent.hpp"
#include "squall/core/ioloop.hpp"

namespace squall::gen {

/// A Future that completes after `delay` (on the current loop).
Future<void> sleep(IOLoop::duration delay);
template <class Rep, class Period>
Future<void> sleep(std::chrono::duration<Rep, Period> delay) {
  return sleep(std::chrono::ceil<IOLoop::duration>(delay));
}

/// `co_await gen::moment` lets the loop run what is ready (other callbacks, I/O) once, then
/// resumes: a long computation split by it does not starve the loop.
struct Moment {
  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> handle) const {
    detail::schedule_on_current_loop(detail::make_resume_callback(handle));
  }
  void await_resume() const noexcept {}
};
inline constexpr Moment moment{};

namespace detail {

using squall::detail::copy_outcome;
using squall::detail::FutureAccess;
using squall::detail::FutureStateBase;

/// A counted reference to a Future's state, whatever its value type.
class StateRef {
 public:
  explicit StateRef(FutureStateBase* state) noexcept : state_(state) { state_->add_ref(); }
  StateRef(const StateRef& other) noexcept : StateRef(other.state_) {}
  StateRef& operator=(const StateRef&) = delete;
  ~StateRef() { state_->release(); }
  FutureStateBase& operator*() const noexcept { return *state_; }

 private:
  FutureStateBase* state_;
};

template <class T>
StateRef ref_of(const Future<T>& future) {
  return StateRef(FutureAccess::state(future));
}

/// Completes when every state is done; then raises the first failure in order (a cancellation
/// counts as CancelledError) and logs the later ones, as Tornado's `multi` does.
Future<void> wait_all(std::vector<StateRef> states);

/// Logs a failure of a Future that finished after `with_timeout` gave up on it.
void log_after_timeout(const std::exception_ptr& error) noexcept;

template <class T>
using ValueOf = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// The value of a done Future: copied when copyable, else moved out.
template <class T>
ValueOf<T> take_value(const Future<T>& future) {
  if constexpr (std::is_void_v<T>) {
    future.result();
    return {};
  } else if constexpr (std::is_copy_constructible_v<T>) {
    return future.result();
  } else {
    return std::move(future.result());
  }
}

template <class Result, class Map>
Future<Result> multi_map(Map futures) {
  std::vector<StateRef> states;
  states.reserve(futures.size());
  for (const auto& [key, future] : futures) states.push_back(ref_of(future));
  co_await wait_all(std::move(states));
  Result results;
  for (const auto& [key, future] : futures) results.emplace(key, take_value(future));
  co_return results;
}

}  // namespace detail

/// Waits for every Future of `futures` and gives their results in order. When any failed, the
/// first failure (in list order) is raised once all are done, and later ones are logged.
template <class T>
requires(!std::is_void_v<T>) Future<std::vector<T>> multi(std::vector<Future<T>> futures) {
  std::vector<detail::StateRef> states;
  states.reserve(futures.size());
  for (const auto& future : futures) states.push_back(detail::ref_of(future));
  co_await detail::wait_all(std::move(states));
  std::vector<T> results;
  results.reserve(futures.size());
  for (const auto& future : futures) results.push_back(detail::take_value(future));
  co_return results;
}

/// Waits for every `Future<void>`; raises as the other overloads do.
Future<void> multi(std::vector<Future<void>> futures);

/// Waits for every Future of a map and gives a map of their results under the same keys.
template <class K, class T, class C, class A>
Future<std::map<K, T>> multi(std::map<K, Future<T>, C, A> futures) {
  return detail::multi_map<std::map<K, T>>(std::move(futures));
}
template <class K, class T, class H, class E, class A>
Future<std::unordered_map<K, T>> multi(std::unordered_map<K, Future<T>, H, E, A> futures) {
  return detail::multi_map<std::unordered_map<K, T>>(std::move(futures));
}

/// `auto [a, b] = co_await multi(fa, fb)`: a tuple of the results (std::monostate for void).
template <class T1, class T2, class... Ts>
Future<std::tuple<detail::ValueOf<T1>, detail::ValueOf<T2>, detail::ValueOf<Ts>...>> multi(
    Future<T1> f1, Future<T2> f2, Future<Ts>... rest) {
  // Built before the co_await: GCC 12 rejects a braced list inside a co_await expression.
  std::vector<detail::StateRef> states{detail::ref_of(f1), detail::ref_of(f2),
                                       detail::ref_of(rest)...};
  co_await detail::wait_all(std::move(states));
  co_return std::tuple<detail::ValueOf<T1>, detail::ValueOf<T2>, detail::ValueOf<Ts>...>(
      detail::take_value(f1), detail::take_value(f2), detail::take_value(rest)...);
}

/// A Future with the outcome of `future`, or TimeoutError if `timeout` passes first. `future`
/// itself is left running; if it fails after the timeout, its exception is logged.
template <class T>
Future<T> with_timeout(Deadline timeout, const Future<T>& future) {
  Future<T> result;
  if (future.done()) {
    detail::copy_outcome(future, result);
    return result;
  }
  IOLoop& loop = IOLoop::current();
  TimeoutHandle timer = loop.call_at(timeout.when(), [result] {
    if (!result.done()) result.set_exception(TimeoutError("Timeout"));
  });
  future.add_done_callback([result, timer, &loop](const Future<T>& done) {
    loop.remove_timeout(timer);
    if (!result.done()) {
      detail::copy_outcome(done, result);
    } else if (!done.cancelled()) {
      if (auto error = done.exception()) detail::log_after_timeout(error);
    }
  });
  return result;
}

/// Calls `fn(resolve)` (or `fn(resolve, reject)`) and returns a Future completed by the first
/// call of `resolve(value)` (`resolve()` for void) or `reject(exception_ptr)`: Tornado's
/// `gen.Task`, for callback-style APIs. Later calls are ignored. If every copy of the callbacks
/// is destroyed without either being called, the Future fails with squall::Error rather than
/// waiting forever. Call them on the loop's thread (from another thread, go through
/// `IOLoop::add_callback`). An exception thrown by `fn` fails the Future.
template <class T = void, class F>
Future<T> from_callback(F&& fn);

namespace detail {
void fail_unresolved(FutureStateBase& state) noexcept;

template <class T>
struct CallbackToken {
  Future<T> future;
  ~CallbackToken() {
    if (!future.done()) fail_unresolved(*FutureAccess::state(future));
  }
};

template <class T>
class Resolve {
 public:
  explicit Resolve(std::shared_ptr<CallbackToken<T>> token) noexcept : token_(std::move(token)) {}
  template <class... A>
  void operator()(A&&... value) const {
    if (!token_->future.done()) token_->future.set_result(std::forward<A>(value)...);
  }

 private:
  std::shared_ptr<CallbackToken<T>> token_;
};

template <class T>
class Reject {
 public:
  explicit Reject(std::shared_ptr<CallbackToken<T>> token) noexcept : token_(std::move(token)) {}
  void operator()(std::exception_ptr error) const {
    if (!token_->future.done()) token_->future.set_exception(std::move(error));
  }

 private:
  std::shared_ptr<CallbackToken<T>> token_;
};
}  // namespace detail

template <class T, class F>
Future<T> from_callback(F&& fn) {
  // Our own reference keeps the Future pending while `fn` runs, so an exception from `fn` is
  // what the Future reports, not the callbacks' destruction during unwinding.
  auto token = std::make_shared<detail::CallbackToken<T>>();
  Future<T> future = token->future;
  try {
    if constexpr (std::is_invocable_v<F&, detail::Resolve<T>, detail::Reject<T>>) {
      fn(detail::Resolve<T>(token), detail::Reject<T>(token));
    } else {
      fn(detail::Resolve<T>(token));
    }
  } catch (...) {
    if (!future.done()) future.set_exception(std::current_exception());
  }
  return future;
}

/// Gives Futures in the order they finish (Tornado's `WaitIterator`):
///
///     gen::WaitIterator<int> it(std::move(futures));
///     while (!it.done()) {
///       int value = co_await it.next();   // rethrows that Future's exception
///       use(it.current_index(), value);
///     }
template <class T>
class WaitIterator {
 public:
  explicit WaitIterator(std::vector<Future<T>> futures) : state_(std::make_shared<State>()) {
    state_->futures = std::move(futures);
    for (std::size_t i = 0; i < state_->futures.size(); ++i) {
      state_->futures[i].add_done_callback([weak = std::weak_ptr<State>(state_), i] {
        if (auto state = weak.lock()) state->on_done(i);
      });
    }
  }

  /// True once `next()` has given every Future.
  bool done() const noexcept { return state_->given == state_->futures.size(); }

  /// A Future with the outcome of the next Future to finish. Throws InvalidStateError when
  /// `done()`, or while the Future of an earlier `next()` is still pending.
  Future<T> next() {
    if (done()) throw InvalidStateError("WaitIterator::next() called after the last Future");
    if (state_->waiting) throw InvalidStateError("WaitIterator::next() called while waiting");
    ++state_->given;
    if (!state_->finished.empty()) {
      std::size_t index = state_->finished.front();
      state_->finished.pop_front();
      state_->current = index;
      return state_->futures[index];
    }
    state_->waiting.emplace();
    return *state_->waiting;
  }

  /// The index (in the constructor's list) of the Future the last `next()` gave, once known.
  std::optional<std::size_t> current_index() const noexcept { return state_->current; }
  /// The Future the last `next()` gave, once known. Throws InvalidStateError before that.
  Future<T> current_future() const {
    if (!state_->current) throw InvalidStateError("WaitIterator: no current Future yet");
    return state_->futures[*state_->current];
  }

 private:
  struct State {
    std::vector<Future<T>> futures;
    std::deque<std::size_t> finished;
    std::optional<Future<T>> waiting;
    std::optional<std::size_t> current;
    std::size_t given = 0;

    void on_done(std::size_t index) {
      if (waiting) {
        current = index;
        Future<T> target = std::move(*waiting);
        waiting.reset();
        detail::copy_outcome(futures[index], target);
      } else {
        finished.push_back(index);
      }
    }
  };
  std::shared_ptr<State> state_;
};

}  // namespace squall::gen
