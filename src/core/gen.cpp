#include "squall/core/gen.hpp"

#include <spdlog/spdlog.h>

#include "squall/util/log.hpp"

namespace squall::gen {

Future<void> sleep(IOLoop::duration delay) {
  Future<void> future;
  IOLoop::current().call_later(delay, [future] { future.set_result(); });
  return future;
}

Future<void> multi(std::vector<Future<void>> futures) {
  std::vector<detail::StateRef> states;
  states.reserve(futures.size());
  for (const auto& future : futures) states.push_back(detail::ref_of(future));
  return detail::wait_all(std::move(states));
}

namespace detail {
namespace {

/// Waits until `state` is done without retrieving its outcome.
struct DoneAwaiter {
  FutureStateBase& state;
  bool await_ready() const noexcept { return state.done(); }
  template <class P>
  void await_suspend(std::coroutine_handle<P> handle) {
    state.add_waiter(squall::detail::make_resume_callback(handle));
  }
  void await_resume() const noexcept {}
};

std::exception_ptr failure_of(FutureStateBase& state) {
  try {
    return state.exception();
  } catch (...) {
    return std::current_exception();  // cancelled
  }
}

}  // namespace

Future<void> wait_all(std::vector<StateRef> states) {
  for (const StateRef& state : states) co_await DoneAwaiter{*state};
  std::exception_ptr first;
  for (const StateRef& state : states) {
    std::exception_ptr error = failure_of(*state);
    if (!error) continue;
    if (!first) {
      first = error;
    } else {
      log::app_log().error("Multiple exceptions in yield list: {}", log::describe(error));
    }
  }
  if (first) std::rethrow_exception(first);
}

void log_after_timeout(const std::exception_ptr& error) noexcept {
  try {
    log::app_log().error("Exception in Future after timeout: {}", log::describe(error));
  } catch (...) {
  }
}

void fail_unresolved(FutureStateBase& state) noexcept {
  state.set_exception_unless_done(std::make_exception_ptr(
      Error("from_callback: the callback was destroyed without being called")));
}

}  // namespace detail
}  // namespace squall::gen
