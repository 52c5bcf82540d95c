#include "squall/core/concurrent.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <cstdint>

#include "core/loop_impl.hpp"
#include "squall/core/ioloop.hpp"
#include "squall/util/log.hpp"

namespace squall {

Future<void> make_ready_future() {
  Future<void> future;
  future.set_result();
  return future;
}

namespace detail {

FutureStateBase::~FutureStateBase() {
  if (status_ == Status::kError && !retrieved_) {
    log::gen_log().error("Future exception was never retrieved: {}", log::describe(error_));
  }
  delete more_waiters_;
}

void FutureStateBase::add_waiter(Callback&& cb) {
  if (done()) {
    add_ref();
    schedule_waiter(std::move(cb), this);
  } else if (!first_waiter_) {
    first_waiter_ = std::move(cb);
  } else {
    if (!more_waiters_) more_waiters_ = new std::vector<Callback>;
    more_waiters_->push_back(std::move(cb));
  }
}

void FutureStateBase::check_pending(const char* operation) const {
  if (done()) {
    throw InvalidStateError(std::string(operation) + "() called on a Future that is done already");
  }
}

void FutureStateBase::finish(Status status) noexcept {
  status_ = status;
  if (first_waiter_) {
    // Held across the loop: a closing loop drops a waiter at once, and the waiter may hold
    // the last other reference to this state.
    add_ref();
    add_ref();
    schedule_waiter(std::move(first_waiter_), this);
    if (more_waiters_) {
      for (auto& cb : *more_waiters_) {
        add_ref();
        schedule_waiter(std::move(cb), this);
      }
      delete std::exchange(more_waiters_, nullptr);
    }
    release();
  }
}

void FutureStateBase::set_exception(std::exception_ptr error) {
  check_pending("set_exception");
  error_ = std::move(error);
  finish(Status::kError);
}

void FutureStateBase::set_exception_unless_done(std::exception_ptr error) noexcept {
  if (done()) return;
  error_ = std::move(error);
  finish(Status::kError);
}

bool FutureStateBase::cancel() noexcept {
  if (done()) return false;
  finish(Status::kCancelled);
  return true;
}

void FutureStateBase::rethrow_if_failed() {
  switch (status_) {
    case Status::kResult:
      return;
    case Status::kError:
      retrieved_ = true;
      std::rethrow_exception(error_);
    case Status::kCancelled:
      throw CancelledError();
    case Status::kPending:
      break;
  }
  throw InvalidStateError("result() called on a Future that is not done yet");
}

std::exception_ptr FutureStateBase::exception() {
  switch (status_) {
    case Status::kResult:
      return nullptr;
    case Status::kError:
      retrieved_ = true;
      return error_;
    case Status::kCancelled:
      throw CancelledError();
    case Status::kPending:
      break;
  }
  throw InvalidStateError("exception() called on a Future that is not done yet");
}

void ResumePromise::operator()() const {
  promise->handle().resume();
}

std::string ResumePromise::describe() const {
  return std::string("coroutine ") + promise->name();
}

PromiseBase::PromiseBase(const char* name, std::coroutine_handle<> handle)
    : name_(name), handle_(handle) {
  IOLoop::current().impl().coroutines().link(this);
}

namespace {

/// The lowest stack address an eager coroutine start may run at: half of the thread's stack.
std::uintptr_t compute_stack_limit() noexcept {
  pthread_attr_t attr;
  void* low = nullptr;
  std::size_t size = 0;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return 1;
  int rc = pthread_attr_getstack(&attr, &low, &size);
  pthread_attr_destroy(&attr);
  if (rc != 0 || size == 0) return 1;
  return reinterpret_cast<std::uintptr_t>(low) + size / 2;
}

thread_local std::uintptr_t tls_stack_limit = 0;

}  // namespace

bool stack_has_room() noexcept {
  if (tls_stack_limit == 0) tls_stack_limit = compute_stack_limit();
  return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)) > tls_stack_limit;
}

void schedule_on_current_loop(Callback&& cb) {
  schedule_waiter(std::move(cb), nullptr);
}

std::string describe_callable_type(const std::type_info& type) {
  return log::demangle(type.name());
}

}  // namespace detail
}  // namespace squall
