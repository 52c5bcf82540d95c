#include "squall/core/locks.hpp"

#include <spdlog/spdlog.h>

#include <exception>
#include <string>

#include "squall/util/error.hpp"
#include "squall/util/log.hpp"

namespace squall {
namespace detail {
namespace {

/// A counted reference to a waiter's state: what a timeout timer holds, so that the timer may
/// outlive the lock or queue the waiter belonged to.
class StateHold {
 public:
  explicit StateHold(FutureStateBase& state) noexcept : state_(&state) { state.add_ref(); }
  StateHold(StateHold&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  StateHold& operator=(StateHold&&) = delete;
  ~StateHold() {
    if (state_) state_->release();
  }
  FutureStateBase* operator->() const noexcept { return state_; }

 private:
  FutureStateBase* state_;
};

/// Runs `on_timeout` at `deadline` on the current loop; once `waiter` is done (whoever finished
/// it), the timer is removed. The removal runs on the loop that armed the timer, which is alive
/// then: it is the loop that runs the waiter's done-callbacks.
void arm_timeout(FutureStateBase& waiter, Deadline deadline, Callback on_timeout) {
  IOLoop& loop = IOLoop::current();
  TimeoutHandle timer = loop.call_at(deadline.when(), std::move(on_timeout));
  waiter.add_waiter([&loop, timer] { loop.remove_timeout(timer); });
}

}  // namespace

void fail_at(FutureStateBase& waiter, Deadline deadline) {
  arm_timeout(waiter, deadline, [hold = StateHold(waiter)] {
    if (!hold->done()) hold->set_exception(std::make_exception_ptr(TimeoutError()));
  });
}

}  // namespace detail

// ---- Event ---------------------------------------------------------------------------------

void Event::set() {
  if (value_) return;
  value_ = true;
  for (const Future<void>& waiter : waiters_.take_all()) {
    if (!waiter.done()) waiter.set_result();
  }
}

Future<void> Event::wait(std::optional<Deadline> timeout) {
  Future<void> waiter;
  if (value_) {
    waiter.set_result();
    return waiter;
  }
  waiters_.push(waiter);
  detail::set_timeout(waiter, timeout);
  return waiter;
}

// ---- Condition -----------------------------------------------------------------------------

Future<bool> Condition::wait(std::optional<Deadline> timeout) {
  Future<bool> waiter;
  waiters_.push(waiter);
  if (timeout) {
    detail::arm_timeout(*detail::FutureAccess::state(waiter), *timeout, [waiter] {
      if (!waiter.done()) waiter.set_result(false);
    });
  }
  return waiter;
}

void Condition::notify(std::size_t n) {
  for (; n > 0 && waiters_.has_pending(); --n) waiters_.pop().set_result(true);
}

void Condition::notify_all() {
  notify(waiters_.size());
}

// ---- Semaphore -----------------------------------------------------------------------------

Semaphore::Guard& Semaphore::Guard::operator=(Guard&& other) noexcept {
  if (this != &other) {
    reset();
    semaphore_ = std::exchange(other.semaphore_, nullptr);
  }
  return *this;
}

Semaphore::Guard::~Guard() {
  reset();
}

void Semaphore::Guard::release() {
  if (Semaphore* semaphore = std::exchange(semaphore_, nullptr)) semaphore->release();
}

void Semaphore::Guard::reset() noexcept {
  try {
    release();
  } catch (...) {
    try {
      log::gen_log().error("Semaphore guard could not release: {}",
                           log::describe(std::current_exception()));
    } catch (...) {
    }
  }
}

Semaphore::Semaphore(int value) : Semaphore(value, false) {}

Semaphore::Semaphore(int value, bool bounded)
    : value_(value), initial_value_(value), bounded_(bounded) {
  if (value < 0) {
    throw ValueError("Semaphore initial value must be >= 0, got " + std::to_string(value));
  }
}

Semaphore::~Semaphore() = default;

Future<Semaphore::Guard> Semaphore::acquire(std::optional<Deadline> timeout) {
  Future<Guard> waiter;
  if (value_ > 0) {
    --value_;
    waiter.set_result(Guard(this));
    return waiter;
  }
  waiters_.push(waiter);
  detail::set_timeout(waiter, timeout);
  return waiter;
}

void Semaphore::release() {
  if (bounded_ && value_ >= initial_value_) {
    throw InvalidStateError("Semaphore released too many times");
  }
  ++value_;
  // Handing a slot over can release one at once: a waiter's Future that nobody holds any more
  // destroys its Guard with it. Such a nested release() only counts the slot, and this loop hands
  // it on, so a run of abandoned waiters never recurses.
  if (releasing_) return;
  releasing_ = true;
  // The slot goes straight to the first waiter that still waits, so a coroutine calling
  // acquire() meanwhile cannot overtake it.
  while (value_ > 0 && waiters_.has_pending()) {
    --value_;
    waiters_.pop().set_result(Guard(this));
  }
  releasing_ = false;
}

BoundedSemaphore::BoundedSemaphore(int value) : Semaphore(value, true) {}

// ---- Lock ----------------------------------------------------------------------------------

Future<Lock::Guard> Lock::acquire(std::optional<Deadline> timeout) {
  return block_.acquire(timeout);
}

void Lock::release() {
  if (!locked()) throw InvalidStateError("release unlocked lock");
  block_.release();
}

}  // namespace squall
