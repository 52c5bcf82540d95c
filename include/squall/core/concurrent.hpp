#pragma once
/// \file
/// `Future<T>`: a placeholder for a result that is not known yet, and the coroutine machinery that
/// lets a function returning `Future<T>` be written as a coroutine (Tornado's `concurrent` and
/// `gen.coroutine`).
///
/// Contract:
/// - A Future is a handle: copies refer to one shared state, which is single-threaded (its
///   reference count is not atomic). Use a Future only on the thread of the loop that runs it.
/// - Done-callbacks and coroutines awaiting a Future never run inside `set_result` or
///   `set_exception`: they are queued on the current thread's IOLoop, in the order they were added.
/// - An exception stored in a Future that nobody retrieved (through `result()`, `exception()` or
///   `co_await`) is logged on the general logger when the last reference goes.
/// - A coroutine returning `Future<T>` starts at once and runs until its first suspension, like
///   Tornado's `@gen.coroutine`; calling it without `co_await` still runs it. `co_await` gives the
///   value or rethrows the stored exception.

#include <coroutine>
#include <cstdint>
#include <exception>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "squall/core/detail/small_alloc.hpp"
#include "squall/core/detail/unique_function.hpp"
#include "squall/util/error.hpp"

namespace squall {

template <class T = void>
class Future;

namespace detail {

class PromiseBase;

/// The part of a Future's shared state that does not depend on T.
class FutureStateBase {
 public:
  enum class Status : std::uint8_t { kPending, kResult, kError, kCancelled };

  FutureStateBase() noexcept = default;
  FutureStateBase(const FutureStateBase&) = delete;
  FutureStateBase& operator=(const FutureStateBase&) = delete;

  void add_ref() noexcept { ++refs_; }
  void release() noexcept {
    if (--refs_ == 0) delete this;
  }

  bool done() const noexcept { return status_ != Status::kPending; }
  Status status() const noexcept { return status_; }

  static void* operator new(std::size_t size) { return small_allocate(size); }
  static void operator delete(void* block, std::size_t size) noexcept {
    small_deallocate(block, size);
  }

  /// Queues `cb` on the loop once this is done (at once if it already is). While the callback is
  /// queued the state is kept alive, so the callback may refer to it by raw pointer.
  void add_waiter(Callback&& cb);

  /// Throws InvalidStateError unless pending; `operation` names the call for the message.
  void check_pending(const char* operation) const;

  /// Stores an exception and wakes the waiters. Throws InvalidStateError if done already.
  void set_exception(std::exception_ptr error);
  /// As set_exception, but does nothing when already done (a cancelled coroutine's late end).
  void set_exception_unless_done(std::exception_ptr error) noexcept;
  /// Cancels a pending state; returns false if it was done already.
  bool cancel() noexcept;

  /// Marks the outcome retrieved, and throws the stored exception (or CancelledError, or
  /// InvalidStateError if pending). Returns normally when a result is stored.
  void rethrow_if_failed();
  /// The stored exception (nullptr for a result); marks it retrieved. Throws like rethrow_if_failed
  /// for pending and cancelled states.
  std::exception_ptr exception();

 protected:
  virtual ~FutureStateBase();
  /// Records the outcome and queues every waiter on the loop.
  void finish(Status status) noexcept;

 private:
  std::uint32_t refs_ = 1;
  Status status_ = Status::kPending;
  bool retrieved_ = false;
  std::exception_ptr error_;
  Callback first_waiter_;
  std::vector<Callback>* more_waiters_ = nullptr;
};

template <class T>
class FutureState final : public FutureStateBase {
 public:
  FutureState() noexcept {}
  ~FutureState() override {
    if (status() == Status::kResult) value_.~T();
  }

  template <class... A>
  void set_result(A&&... args) {
    check_pending("set_result");
    ::new (static_cast<void*>(&value_)) T(std::forward<A>(args)...);
    finish(Status::kResult);
  }

  template <class... A>
  void set_result_unless_done(A&&... args) {
    if (done()) return;
    ::new (static_cast<void*>(&value_)) T(std::forward<A>(args)...);
    finish(Status::kResult);
  }

  T& value() noexcept { return value_; }

 private:
  union {
    T value_;
  };
};

template <>
class FutureState<void> final : public FutureStateBase {
 public:
  void set_result() {
    check_pending("set_result");
    finish(Status::kResult);
  }
  void set_result_unless_done() noexcept {
    if (!done()) finish(Status::kResult);
  }
};

/// Resumes a squall coroutine from the loop; names it for the loop's logs.
struct ResumePromise {
  PromiseBase* promise;
  void operator()() const;
  std::string describe() const;
};

/// Resumes any other coroutine from the loop.
struct ResumeHandle {
  std::coroutine_handle<> handle;
  void operator()() const { handle.resume(); }
  std::string describe() const { return "coroutine resumption"; }
};

/// True while the calling thread's stack has room for another eagerly started coroutine.
bool stack_has_room() noexcept;
/// Queues a callback on the calling thread's loop (dropped if that loop is closed).
void schedule_on_current_loop(Callback&& cb);

template <class P>
Callback make_resume_callback(std::coroutine_handle<P> handle) {
  if constexpr (std::is_base_of_v<PromiseBase, P>) {
    return ResumePromise{&handle.promise()};
  } else {
    return ResumeHandle{handle};
  }
}

/// Names the coroutine a promise belongs to: the compiler fills it at the coroutine's call site.
struct CoroutineName {
  explicit constexpr CoroutineName(const char* n) noexcept : name(n) {}
  const char* name;
};

/// A link in the list of live coroutines of a loop; the list's head is a bare link.
class CoroutineLink {
 public:
  CoroutineLink() noexcept = default;
  CoroutineLink(const CoroutineLink&) = delete;
  CoroutineLink& operator=(const CoroutineLink&) = delete;
  ~CoroutineLink() { unlink(); }

  void unlink() noexcept {
    if (next_) {
      prev_->next_ = next_;
      next_->prev_ = prev_;
      prev_ = next_ = nullptr;
    }
  }

 private:
  friend class LiveCoroutines;
  CoroutineLink* prev_ = nullptr;
  CoroutineLink* next_ = nullptr;
};

/// What every squall coroutine's promise holds: its name, its handle, and a link in the list of
/// live coroutines of the loop it was created on (so closing the loop destroys suspended frames).
class PromiseBase : public CoroutineLink {
 public:
  const char* name() const noexcept { return name_; }
  std::coroutine_handle<> handle() const noexcept { return handle_; }

  /// The first coroutine step runs at once unless the stack is deep already; then the coroutine
  /// is queued on the loop, so recursion through eager starts never overflows the stack.
  struct EagerStart {
    PromiseBase* promise;
    bool await_ready() const noexcept { return stack_has_room(); }
    void await_suspend(std::coroutine_handle<>) const {
      schedule_on_current_loop(ResumePromise{promise});
    }
    void await_resume() const noexcept {}
  };

  EagerStart initial_suspend() noexcept { return EagerStart{this}; }
  std::suspend_never final_suspend() noexcept { return {}; }

  // Coroutine frames come from the per-thread block cache too.
  static void* operator new(std::size_t size) { return small_allocate(size); }
  static void operator delete(void* frame, std::size_t size) noexcept {
    small_deallocate(frame, size);
  }

 protected:
  /// Registers the coroutine with the calling thread's current loop.
  PromiseBase(const char* name, std::coroutine_handle<> handle);
  ~PromiseBase() = default;

 private:
  const char* name_;
  std::coroutine_handle<> handle_;
};

template <class T>
class Promise;

/// Lets squall's own code reach a Future's shared state.
struct FutureAccess {
  template <class T>
  static FutureState<T>* state(const Future<T>& future) noexcept {
    return future.state_;
  }
  /// A Future taking over one reference to `state`.
  template <class T>
  static Future<T> adopt(FutureState<T>* state) noexcept {
    return Future<T>(state);
  }
};

template <class T, bool kMoveOut>
class FutureAwaiter {
 public:
  explicit FutureAwaiter(FutureState<T>* state) noexcept : state_(state) {}
  bool await_ready() const noexcept { return state_->done(); }
  template <class P>
  void await_suspend(std::coroutine_handle<P> handle) {
    state_->add_waiter(make_resume_callback(handle));
  }
  decltype(auto) await_resume() {
    state_->rethrow_if_failed();
    if constexpr (std::is_void_v<T>) {
      return;
    } else if constexpr (kMoveOut) {
      return T(std::move(state_->value()));
    } else {
      return static_cast<T&>(state_->value());
    }
  }

 private:
  FutureState<T>* state_;
};

}  // namespace detail

/// A placeholder for a result of type T (or an exception) that will be known later.
template <class T>
class [[nodiscard]] Future {
  static_assert(!std::is_reference_v<T>, "Future<T> holds values; use std::reference_wrapper");

 public:
  using value_type = T;
  using promise_type = detail::Promise<T>;

  /// A new pending Future.
  Future() : state_(new detail::FutureState<T>) {}
  Future(const Future& other) noexcept : state_(other.state_) { state_->add_ref(); }
  Future(Future&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  Future& operator=(Future other) noexcept {
    std::swap(state_, other.state_);
    return *this;
  }
  ~Future() {
    if (state_) state_->release();
  }

  /// True once a result or an exception is set, or the Future is cancelled.
  bool done() const noexcept { return state_->done(); }
  /// True if `cancel()` took effect.
  bool cancelled() const noexcept {
    return state_->status() == detail::FutureStateBase::Status::kCancelled;
  }

  /// The result. Throws the stored exception, CancelledError if cancelled, or InvalidStateError
  /// if not done yet.
  decltype(auto) result() const {
    state_->rethrow_if_failed();
    if constexpr (!std::is_void_v<T>) return static_cast<T&>(state_->value());
  }

  /// The stored exception, or nullptr if a result is stored. Throws CancelledError if cancelled,
  /// InvalidStateError if not done yet.
  std::exception_ptr exception() const { return state_->exception(); }

  /// Stores the result (constructed from `args`) and wakes the waiters on the loop.
  /// Throws InvalidStateError if the Future is done already.
  template <class... A>
  void set_result(A&&... args) const {
    state_->set_result(std::forward<A>(args)...);
  }

  /// Stores an exception and wakes the waiters. Throws InvalidStateError if done already.
  void set_exception(std::exception_ptr error) const { state_->set_exception(std::move(error)); }
  /// Stores a copy of `error`, as above.
  template <class E>
  requires std::is_base_of_v<std::exception, std::remove_cvref_t<E>>
  void set_exception(E&& error) const {
    state_->set_exception(std::make_exception_ptr(std::forward<E>(error)));
  }

  /// Cancels the Future if it is pending: waiters wake and `result()` throws CancelledError.
  /// Returns false if it was done already. A coroutine producing the Future is not interrupted;
  /// its eventual result is discarded.
  bool cancel() const noexcept { return state_->cancel(); }

  /// Runs `fn(future)` (or `fn()`) on the loop once the Future is done; at the next loop
  /// iteration if it is done already.
  template <class F>
  void add_done_callback(F&& fn) const {
    auto* state = state_;
    state->add_waiter([fn = std::forward<F>(fn), state]() mutable {
      if constexpr (std::is_invocable_v<F&, Future>) {
        state->add_ref();
        fn(Future(state));
      } else {
        fn();
      }
    });
  }

  /// `co_await future`: the result by reference (the Future keeps it), or the exception thrown.
  auto operator co_await() const& noexcept { return detail::FutureAwaiter<T, false>(state_); }
  /// `co_await std::move(future)` or a temporary: the result moved out.
  auto operator co_await() const&& noexcept { return detail::FutureAwaiter<T, true>(state_); }

 private:
  friend struct detail::FutureAccess;
  explicit Future(detail::FutureState<T>* adopted) noexcept : state_(adopted) {}

  detail::FutureState<T>* state_;
};

/// A Future that is done already, holding `value`.
template <class T>
Future<std::decay_t<T>> make_ready_future(T&& value) {
  Future<std::decay_t<T>> future;
  future.set_result(std::forward<T>(value));
  return future;
}
/// A `Future<void>` that is done already.
Future<void> make_ready_future();
/// A Future that is done already, holding `error`.
template <class T>
Future<T> make_exceptional_future(std::exception_ptr error) {
  Future<T> future;
  future.set_exception(std::move(error));
  return future;
}

/// Copies the outcome of `from` (result, exception or cancellation) into `to` once `from` is
/// done, unless `to` is done by then (Tornado's `chain_future`). A result is copied when T is
/// copyable, else moved.
template <class T>
void chain_future(const Future<T>& from, const Future<T>& to);

namespace detail {
/// Copies the outcome of the done Future `from` into the pending Future `to`.
template <class T>
void copy_outcome(const Future<T>& from, const Future<T>& to) {
  if (from.cancelled()) {
    to.cancel();
  } else if (auto error = from.exception()) {
    to.set_exception(error);
  } else if constexpr (std::is_void_v<T>) {
    to.set_result();
  } else if constexpr (std::is_copy_constructible_v<T>) {
    to.set_result(from.result());
  } else {
    to.set_result(std::move(from.result()));
  }
}
}  // namespace detail

template <class T>
void chain_future(const Future<T>& from, const Future<T>& to) {
  from.add_done_callback([to](const Future<T>& done) {
    if (!to.done()) detail::copy_outcome(done, to);
  });
}

/// The Future type a callable returns when it returns one, or `void`.
template <class R>
struct is_future : std::false_type {};
template <class T>
struct is_future<Future<T>> : std::true_type {};
template <class R>
inline constexpr bool is_future_v = is_future<std::remove_cvref_t<R>>::value;

namespace detail {

template <class T>
class PromiseStorage : public PromiseBase {
 public:
  PromiseStorage(const char* name, std::coroutine_handle<> handle)
      : PromiseBase(name, handle), state_(new FutureState<T>) {}
  ~PromiseStorage() { state_->release(); }

  Future<T> get_return_object() noexcept {
    state_->add_ref();
    return FutureAccess::adopt(state_);
  }
  void unhandled_exception() noexcept {
    state_->set_exception_unless_done(std::current_exception());
  }

 protected:
  FutureState<T>* state_;
};

template <class T>
class Promise final : public PromiseStorage<T> {
 public:
  explicit Promise(CoroutineName name = CoroutineName(__builtin_FUNCTION()))
      : PromiseStorage<T>(name.name, std::coroutine_handle<Promise>::from_promise(*this)) {}

  template <class U = T>
  void return_value(U&& value) {
    this->state_->set_result_unless_done(std::forward<U>(value));
  }
};

template <>
class Promise<void> final : public PromiseStorage<void> {
 public:
  explicit Promise(CoroutineName name = CoroutineName(__builtin_FUNCTION()))
      : PromiseStorage<void>(name.name, std::coroutine_handle<Promise>::from_promise(*this)) {}

  void return_void() noexcept { state_->set_result_unless_done(); }
};

}  // namespace detail
}  // namespace squall
