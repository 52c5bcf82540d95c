#include "squall/core/concurrent.hpp"

#include <gtest/gtest.h>
#include <pthread.h>

#include <chrono>
#include <latch>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "squall/core/ioloop.hpp"
#include "squall/testing/testing.hpp"
#include "squall/util/log.hpp"

namespace squall {
namespace {

using namespace std::chrono_literals;
using squall::testing::ExpectLog;

class ConcurrentTest : public testing::AsyncTest {};

// ---- helpers -------------------------------------------------------------------------------

/// A Future that a callback on the current loop resolves with `value`.
template <class T>
Future<T> resolve_later(T value) {
  Future<T> future;
  IOLoop::current().add_callback(
      [future, value = std::move(value)]() mutable { future.set_result(std::move(value)); });
  return future;
}

/// A Future done at the loop's next iteration: awaiting it lets everything queued before run.
Future<void> next_iteration() {
  Future<void> future;
  IOLoop::current().add_callback([future] { future.set_result(); });
  return future;
}

/// Counts its own destruction, to see that a coroutine frame holding it was freed.
class DestructionCounter {
 public:
  explicit DestructionCounter(int* count) : count_(count) {}
  DestructionCounter(const DestructionCounter&) = delete;
  DestructionCounter& operator=(const DestructionCounter&) = delete;
  ~DestructionCounter() { ++*count_; }

 private:
  int* count_;
};

Future<int> add_one(Future<int> f) {
  co_return co_await f + 1;
}

// ---- Future: states and errors ---------------------------------------------------------------

TEST_F(ConcurrentTest, ANewFutureIsPending) {
  Future<int> f;
  EXPECT_FALSE(f.done());
  EXPECT_FALSE(f.cancelled());
}

TEST_F(ConcurrentTest, ResultOnAPendingFutureThrowsInvalidStateError) {
  Future<int> f;
  EXPECT_THROW(f.result(), InvalidStateError);
  Future<void> v;
  EXPECT_THROW(v.result(), InvalidStateError);
}

TEST_F(ConcurrentTest, ExceptionOnAPendingFutureThrowsInvalidStateError) {
  Future<int> f;
  EXPECT_THROW(f.exception(), InvalidStateError);
}

TEST_F(ConcurrentTest, SetResultStoresTheValue) {
  Future<std::string> f;
  f.set_result("hello");
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
  EXPECT_EQ(f.result(), "hello");
  EXPECT_EQ(f.exception(), nullptr);
}

TEST_F(ConcurrentTest, SetResultConstructsTheValueFromSeveralArguments) {
  Future<std::string> f;
  f.set_result(3u, 'x');
  EXPECT_EQ(f.result(), "xxx");
}

TEST_F(ConcurrentTest, SetResultOnAVoidFutureMakesItDone) {
  Future<void> f;
  f.set_result();
  EXPECT_TRUE(f.done());
  EXPECT_NO_THROW(f.result());
  EXPECT_EQ(f.exception(), nullptr);
}

TEST_F(ConcurrentTest, SetResultTwiceThrowsInvalidStateErrorAndKeepsTheFirstValue) {
  Future<int> f;
  f.set_result(1);
  EXPECT_THROW(f.set_result(2), InvalidStateError);
  EXPECT_EQ(f.result(), 1);
}

TEST_F(ConcurrentTest, SetExceptionAfterResultThrowsInvalidStateError) {
  Future<int> f;
  f.set_result(1);
  EXPECT_THROW(f.set_exception(std::runtime_error("late")), InvalidStateError);
  EXPECT_THROW(f.set_exception(std::make_exception_ptr(std::runtime_error("late"))),
               InvalidStateError);
  EXPECT_EQ(f.result(), 1);
  EXPECT_EQ(f.exception(), nullptr);
}

TEST_F(ConcurrentTest, SetResultAfterExceptionThrowsInvalidStateError) {
  Future<int> f;
  f.set_exception(std::runtime_error("first"));
  EXPECT_THROW(f.set_result(1), InvalidStateError);
  EXPECT_THROW(f.result(), std::runtime_error);
}

TEST_F(ConcurrentTest, ResultRethrowsTheStoredExceptionEveryTime) {
  Future<int> f;
  f.set_exception(std::out_of_range("boom"));
  EXPECT_TRUE(f.done());
  for (int i = 0; i < 2; ++i) {
    try {
      (void)f.result();
      ADD_FAILURE() << "result() did not throw";
    } catch (const std::out_of_range& e) {
      EXPECT_STREQ(e.what(), "boom");
    }
  }
}

TEST_F(ConcurrentTest, ExceptionReturnsTheStoredExceptionPointer) {
  auto error = std::make_exception_ptr(std::logic_error("stored"));
  Future<void> f;
  f.set_exception(error);
  EXPECT_EQ(f.exception(), error);
  EXPECT_THROW(f.result(), std::logic_error);
}

TEST_F(ConcurrentTest, CancelMakesAPendingFutureDoneAndCancelled) {
  Future<int> f;
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(f.done());
  EXPECT_TRUE(f.cancelled());
  EXPECT_THROW(f.result(), CancelledError);
  EXPECT_THROW(f.exception(), CancelledError);
}

TEST_F(ConcurrentTest, CancelOnADoneFutureReturnsFalseAndKeepsTheResult) {
  Future<int> f;
  f.set_result(5);
  EXPECT_FALSE(f.cancel());
  EXPECT_FALSE(f.cancelled());
  EXPECT_EQ(f.result(), 5);
}

TEST_F(ConcurrentTest, CancelTwiceReturnsFalseTheSecondTime) {
  Future<void> f;
  EXPECT_TRUE(f.cancel());
  EXPECT_FALSE(f.cancel());
  EXPECT_TRUE(f.cancelled());
}

TEST_F(ConcurrentTest, SetResultOnACancelledFutureThrowsInvalidStateError) {
  Future<int> f;
  f.cancel();
  EXPECT_THROW(f.set_result(1), InvalidStateError);
  EXPECT_THROW(f.set_exception(std::runtime_error("x")), InvalidStateError);
  EXPECT_TRUE(f.cancelled());
}

TEST_F(ConcurrentTest, CopiesOfAFutureShareOneState) {
  Future<int> original;
  Future<int> copy = original;
  Future<int> assigned;
  assigned = original;
  copy.set_result(9);
  EXPECT_TRUE(original.done());
  EXPECT_EQ(original.result(), 9);
  EXPECT_EQ(assigned.result(), 9);
  EXPECT_EQ(&original.result(), &copy.result());
}

TEST_F(ConcurrentTest, MakeReadyFutureIsDoneWithTheValue) {
  auto f = make_ready_future(std::string("ready"));
  static_assert(std::is_same_v<decltype(f), Future<std::string>>);
  EXPECT_TRUE(f.done());
  EXPECT_EQ(f.result(), "ready");

  int lvalue = 4;
  auto g = make_ready_future(lvalue);
  static_assert(std::is_same_v<decltype(g), Future<int>>);
  EXPECT_EQ(g.result(), 4);

  Future<void> v = make_ready_future();
  EXPECT_TRUE(v.done());
  EXPECT_NO_THROW(v.result());
}

TEST_F(ConcurrentTest, MakeExceptionalFutureIsDoneWithTheError) {
  auto f = make_exceptional_future<int>(std::make_exception_ptr(TimeoutError()));
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
  EXPECT_THROW(f.result(), TimeoutError);
}

// ---- add_done_callback ---------------------------------------------------------------------

TEST_F(ConcurrentTest, AddDoneCallbackRunsOnTheLoopNeverInsideSetResult) {
  Future<int> f;
  bool ran = false;
  f.add_done_callback([&] { ran = true; });
  f.set_result(1);
  EXPECT_FALSE(ran) << "the callback ran inside set_result";
  run_sync([] { return next_iteration(); });
  EXPECT_TRUE(ran);
}

TEST_F(ConcurrentTest, AddDoneCallbackRunsOnTheLoopAfterSetException) {
  Future<int> f;
  std::exception_ptr seen;
  f.add_done_callback([&](const Future<int>& done) { seen = done.exception(); });
  f.set_exception(std::runtime_error("failed"));
  EXPECT_EQ(seen, nullptr);
  run_sync([] { return next_iteration(); });
  ASSERT_NE(seen, nullptr);
  EXPECT_THROW(std::rethrow_exception(seen), std::runtime_error);
}

TEST_F(ConcurrentTest, AddDoneCallbackPassesTheFutureWhenTheCallbackTakesOne) {
  Future<std::string> f;
  std::string seen;
  bool same_state = false;
  f.add_done_callback([&, f](Future<std::string> done) {
    seen = done.result();
    same_state = &done.result() == &f.result();
  });
  f.set_result("value");
  run_sync([] { return next_iteration(); });
  EXPECT_EQ(seen, "value");
  EXPECT_TRUE(same_state);
}

TEST_F(ConcurrentTest, AddDoneCallbackWithoutArgumentsIsCalledWithNone) {
  Future<void> f;
  int calls = 0;
  f.add_done_callback([&calls] { ++calls; });
  f.set_result();
  run_sync([] { return next_iteration(); });
  EXPECT_EQ(calls, 1);
}

TEST_F(ConcurrentTest, AddDoneCallbackOnADoneFutureRunsAtTheNextIterationNotAtOnce) {
  auto f = make_ready_future(3);
  int seen = 0;
  f.add_done_callback([&](const Future<int>& done) { seen = done.result(); });
  EXPECT_EQ(seen, 0);
  run_sync([] { return next_iteration(); });
  EXPECT_EQ(seen, 3);
}

TEST_F(ConcurrentTest, AddDoneCallbackRunsWhenTheFutureIsCancelled) {
  Future<int> f;
  bool saw_cancelled = false;
  f.add_done_callback([&](const Future<int>& done) { saw_cancelled = done.cancelled(); });
  f.cancel();
  EXPECT_FALSE(saw_cancelled);
  run_sync([] { return next_iteration(); });
  EXPECT_TRUE(saw_cancelled);
}

TEST_F(ConcurrentTest, DoneCallbacksAndAwaitingCoroutinesRunInTheOrderAdded) {
  Future<void> f;
  std::vector<int> order;
  for (int i = 0; i < 3; ++i) f.add_done_callback([&order, i] { order.push_back(i); });
  auto waiter = [](Future<void> gate, std::vector<int>& out) -> Future<void> {
    co_await gate;
    out.push_back(3);
  };
  Future<void> awaiting = waiter(f, order);
  f.add_done_callback([&order](const Future<void>&) { order.push_back(4); });
  for (int i = 5; i < 10; ++i) f.add_done_callback([&order, i] { order.push_back(i); });
  f.set_result();
  EXPECT_TRUE(order.empty());
  run_sync([&] { return awaiting; });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST_F(ConcurrentTest, DoneCallbacksOnSeveralFuturesRunInTheOrderTheFuturesFinished) {
  Future<int> a;
  Future<int> b;
  std::vector<int> order;
  a.add_done_callback([&](const Future<int>& f) { order.push_back(f.result()); });
  b.add_done_callback([&](const Future<int>& f) { order.push_back(f.result()); });
  b.set_result(2);
  a.set_result(1);
  run_sync([] { return next_iteration(); });
  EXPECT_EQ(order, (std::vector<int>{2, 1}));
}

TEST_F(ConcurrentTest, ADoneCallbackKeepsTheStateAliveAfterTheLastFutureGoes) {
  std::string seen;
  {
    Future<std::string> f;
    f.add_done_callback([&](const Future<std::string>& done) { seen = done.result(); });
    f.set_result("kept");
  }
  run_sync([] { return next_iteration(); });
  EXPECT_EQ(seen, "kept");
}

TEST_F(ConcurrentTest, AnExceptionInADoneCallbackIsLoggedAndLaterCallbacksStillRun) {
  ExpectLog logged(log::app_log(), "Exception in callback.*callback failed");
  Future<void> f;
  bool second_ran = false;
  f.add_done_callback([] { throw std::runtime_error("callback failed"); });
  f.add_done_callback([&] { second_ran = true; });
  f.set_result();
  run_sync([] { return next_iteration(); });
  EXPECT_TRUE(second_ran);
}

// ---- chain_future --------------------------------------------------------------------------

TEST_F(ConcurrentTest, ChainFutureCopiesTheResult) {
  Future<int> from;
  Future<int> to;
  chain_future(from, to);
  from.set_result(8);
  EXPECT_FALSE(to.done()) << "chain_future copies on the loop, not inside set_result";
  EXPECT_EQ(run_sync([&] { return to; }), 8);
  EXPECT_EQ(from.result(), 8) << "a copyable result is copied, not moved";
}

TEST_F(ConcurrentTest, ChainFutureCopiesTheException) {
  ExpectLog never(log::gen_log(), "never retrieved", /*required=*/false);
  Future<void> from;
  Future<void> to;
  chain_future(from, to);
  from.set_exception(std::runtime_error("chained"));
  EXPECT_THROW(run_sync([&] { return to; }), std::runtime_error);
  EXPECT_EQ(never.matched(), 0) << "the source's exception counts as retrieved by the chain";
}

TEST_F(ConcurrentTest, ChainFutureCopiesACancellation) {
  Future<int> from;
  Future<int> to;
  chain_future(from, to);
  from.cancel();
  run_sync([] { return next_iteration(); });
  EXPECT_TRUE(to.cancelled());
}

TEST_F(ConcurrentTest, ChainFutureLeavesATargetThatIsDoneAlreadyAsItIs) {
  Future<int> from;
  Future<int> to;
  chain_future(from, to);
  to.set_result(1);
  from.set_result(2);
  run_sync([] { return next_iteration(); });
  EXPECT_EQ(to.result(), 1);
}

TEST_F(ConcurrentTest, ChainFutureMovesAMoveOnlyResult) {
  Future<std::unique_ptr<int>> from;
  Future<std::unique_ptr<int>> to;
  chain_future(from, to);
  from.set_result(std::make_unique<int>(5));
  run_sync([&] { return next_iteration(); });
  ASSERT_TRUE(to.done());
  ASSERT_NE(to.result(), nullptr);
  EXPECT_EQ(*to.result(), 5);
  EXPECT_EQ(from.result(), nullptr);
}

TEST_F(ConcurrentTest, ChainFutureFromADoneFutureCopiesAtTheNextIteration) {
  auto from = make_ready_future(std::string("done"));
  Future<std::string> to;
  chain_future(from, to);
  EXPECT_FALSE(to.done());
  EXPECT_EQ(run_sync([&] { return to; }), "done");
}

// ---- co_await -------------------------------------------------------------------------------

TEST_F(ConcurrentTest, AwaitsAFutureResolvedByACallback) {
  int result = run_sync([&]() -> Future<int> {
    Future<int> f;
    io_loop().add_callback([f] { f.set_result(41); });
    co_return co_await add_one(f);
  });
  EXPECT_EQ(result, 42);
}

TEST_F(ConcurrentTest, CoAwaitOnAnLvalueGivesAReferenceToTheStoredResult) {
  Future<std::unique_ptr<int>> f = resolve_later(std::make_unique<int>(7));
  run_sync([&]() -> Future<void> {
    decltype(auto) value = co_await f;
    static_assert(std::is_same_v<decltype(value), std::unique_ptr<int>&>);
    EXPECT_EQ(&value, &f.result());
    EXPECT_TRUE(value != nullptr && *value == 7);
  });
  ASSERT_NE(f.result(), nullptr) << "awaiting an lvalue left the result in the Future";
  EXPECT_EQ(*f.result(), 7);
}

TEST_F(ConcurrentTest, CoAwaitOnAnRvalueMovesTheResultOut) {
  Future<std::unique_ptr<int>> f = resolve_later(std::make_unique<int>(7));
  Future<std::unique_ptr<int>> keep = f;
  auto moved = run_sync([&]() -> Future<int> {
    decltype(auto) value = co_await std::move(f);
    static_assert(std::is_same_v<decltype(value), std::unique_ptr<int>>);
    co_return value ? *value : -1;
  });
  EXPECT_EQ(moved, 7);
  EXPECT_EQ(keep.result(), nullptr) << "the value was moved out of the shared state";
}

TEST_F(ConcurrentTest, CoAwaitOnATemporaryFutureMovesTheResultOut) {
  auto make = []() -> Future<std::unique_ptr<int>> {
    co_return std::make_unique<int>(co_await resolve_later(11));
  };
  int value = run_sync([&]() -> Future<int> {
    std::unique_ptr<int> p = co_await make();
    co_return *p;
  });
  EXPECT_EQ(value, 11);
}

TEST_F(ConcurrentTest, CoAwaitOnADoneFutureDoesNotSuspend) {
  auto f = make_ready_future(5);
  auto g = [](Future<int> ready) -> Future<int> { co_return co_await ready * 2; }(f);
  EXPECT_TRUE(g.done()) << "awaiting a done Future went through the loop";
  EXPECT_EQ(g.result(), 10);
}

TEST_F(ConcurrentTest, CoAwaitRethrowsTheStoredExceptionAndTryCatchWorks) {
  std::string caught = run_sync([]() -> Future<std::string> {
    Future<int> f;
    IOLoop::current().add_callback([f] { f.set_exception(std::invalid_argument("bad input")); });
    try {
      co_await f;
    } catch (const std::invalid_argument& e) {
      co_return e.what();
    }
    co_return "not thrown";
  });
  EXPECT_EQ(caught, "bad input");
}

TEST_F(ConcurrentTest, CoAwaitOnACancelledFutureThrowsCancelledError) {
  bool cancelled = run_sync([]() -> Future<bool> {
    Future<int> f;
    IOLoop::current().add_callback([f] { f.cancel(); });
    try {
      co_await f;
    } catch (const CancelledError&) {
      co_return true;
    }
    co_return false;
  });
  EXPECT_TRUE(cancelled);
}

// ---- "Future exception was never retrieved" ------------------------------------------------

TEST_F(ConcurrentTest, AFailedFutureNobodyRetrievedIsLoggedWhenItsLastReferenceGoes) {
  ExpectLog logged(log::gen_log(), "never retrieved");
  {
    Future<int> f;
    Future<int> copy = f;
    f.set_exception(std::runtime_error("lost error"));
    { Future<int> dropped = std::move(f); }
    EXPECT_EQ(logged.matched(), 0) << "logged while a copy still refers to the state";
  }
  ASSERT_EQ(logged.matched(), 1);
  EXPECT_NE(logged.lines()[0].find("std::runtime_error: lost error"), std::string::npos)
      << logged.lines()[0];
}

TEST_F(ConcurrentTest, AnExceptionRetrievedThroughResultIsNotLogged) {
  ExpectLog logged(log::gen_log(), "never retrieved", /*required=*/false);
  {
    Future<int> f;
    f.set_exception(std::runtime_error("seen"));
    EXPECT_THROW(f.result(), std::runtime_error);
  }
  EXPECT_EQ(logged.matched(), 0);
}

TEST_F(ConcurrentTest, AnExceptionRetrievedThroughExceptionIsNotLogged) {
  ExpectLog logged(log::gen_log(), "never retrieved", /*required=*/false);
  {
    Future<void> f;
    f.set_exception(std::runtime_error("seen"));
    EXPECT_NE(f.exception(), nullptr);
  }
  EXPECT_EQ(logged.matched(), 0);
}

TEST_F(ConcurrentTest, AnExceptionRetrievedThroughCoAwaitIsNotLogged) {
  ExpectLog logged(log::gen_log(), "never retrieved", /*required=*/false);
  bool caught = run_sync([]() -> Future<bool> {
    Future<int> f;
    IOLoop::current().add_callback([f] { f.set_exception(std::runtime_error("seen")); });
    try {
      co_await f;
    } catch (const std::runtime_error&) {
      co_return true;
    }
    co_return false;
  });
  EXPECT_TRUE(caught);
  EXPECT_EQ(logged.matched(), 0);
}

TEST_F(ConcurrentTest, ACancelledFutureIsNotLoggedAsNeverRetrieved) {
  ExpectLog logged(log::gen_log(), "never retrieved", /*required=*/false);
  {
    Future<int> f;
    f.cancel();
  }
  EXPECT_EQ(logged.matched(), 0);
}

// ---- Tornado's coroutine examples ------------------------------------------------------------

/// Tornado's asyn_sum: the sum is handed back by a callback the loop runs later.
Future<int> asyn_sum(int a, int b) {
  Future<int> future;
  IOLoop::current().add_callback([future, a, b] { future.set_result(a + b); });
  return future;
}

TEST_F(ConcurrentTest, ACoroutineAwaitsAnAsyncSumResolvedByACallback) {
  int result = run_sync([]() -> Future<int> {
    Future<int> pending = asyn_sum(40, 2);
    EXPECT_FALSE(pending.done()) << "the sum is only known once the loop runs its callback";
    co_return co_await pending;
  });
  EXPECT_EQ(result, 42);
}

Future<int> fetch_number(int n) {
  co_return co_await resolve_later(n);
}

Future<int> sum_of_fetched(int a, int b) {
  int x = co_await fetch_number(a);
  int y = co_await fetch_number(b);
  co_return x + y;
}

Future<std::string> describe_sum(int a, int b) {
  int sum = co_await sum_of_fetched(a, b);
  co_return std::to_string(a) + "+" + std::to_string(b) + "=" + std::to_string(sum);
}

TEST_F(ConcurrentTest, NestedCoroutinesAwaitEachOthersResults) {
  EXPECT_EQ(run_sync([] { return describe_sum(2, 3); }), "2+3=5");
}

Future<int> fail_when(Future<void> gate, std::string message) {
  co_await gate;
  throw std::runtime_error(message);
}

Future<int> fail_at_once(std::string message) {
  throw std::runtime_error(message);
  co_return 0;
}

TEST_F(ConcurrentTest, AFailingCoroutineCalledWithoutAwaitKeepsTheErrorInItsFuture) {
  ExpectLog logged(log::gen_log(), "never retrieved", /*required=*/false);
  {
    Future<void> gate;
    Future<int> f = fail_when(gate, "kept");  // not awaited: the error must not escape
    gate.set_result();
    run_sync([] { return next_iteration(); });
    ASSERT_TRUE(f.done());
    try {
      (void)f.result();
      ADD_FAILURE() << "result() did not throw";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "kept");
    }
  }
  EXPECT_EQ(logged.matched(), 0);
}

TEST_F(ConcurrentTest, AFailingCoroutineThatThrowsBeforeSuspendingStoresTheError) {
  Future<int> f;
  EXPECT_NO_THROW(f = fail_at_once("at once"));
  ASSERT_TRUE(f.done());
  EXPECT_THROW(f.result(), std::runtime_error);
}

TEST_F(ConcurrentTest, AFailingCoroutineNobodyAwaitsIsLoggedAsNeverRetrievedWhenDropped) {
  ExpectLog logged(log::gen_log(), "never retrieved");
  Future<void> gate;
  static_cast<void>(fail_when(gate, "dropped error"));
  EXPECT_EQ(logged.matched(), 0) << "logged before the coroutine failed";
  gate.set_result();
  run_sync([] { return next_iteration(); });
  ASSERT_EQ(logged.matched(), 1);
  EXPECT_NE(logged.lines()[0].find("dropped error"), std::string::npos) << logged.lines()[0];
}

TEST_F(ConcurrentTest, AwaitingAFailingCoroutineRaisesTheErrorAtTheAwait) {
  ExpectLog logged(log::gen_log(), "never retrieved", /*required=*/false);
  std::string caught = run_sync([]() -> Future<std::string> {
    Future<void> gate = next_iteration();
    try {
      co_await fail_when(gate, "raised at co_await");
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "nothing thrown";
  });
  EXPECT_EQ(caught, "raised at co_await");
  EXPECT_EQ(logged.matched(), 0);
}

TEST_F(ConcurrentTest, AnErrorPropagatesThroughSeveralLevelsOfAwait) {
  auto middle = [](Future<void> gate) -> Future<int> {
    co_return 1 + co_await fail_when(gate, "deep");
  };
  auto top = [&](Future<void> gate) -> Future<int> { co_return 1 + co_await middle(gate); };
  EXPECT_THROW(run_sync([&] { return top(next_iteration()); }), std::runtime_error);
}

/// Polls for a value by rescheduling itself on the loop until the value is there.
class Poller {
 public:
  explicit Poller(const bool& ready) : ready_(ready) {}
  Future<int> wait() {
    poll();
    return result_;
  }

 private:
  void poll() {
    ++polls_;
    if (ready_) {
      result_.set_result(polls_);
    } else {
      IOLoop::current().add_callback([this] { poll(); });
    }
  }

  const bool& ready_;
  int polls_ = 0;
  Future<int> result_;
};

TEST_F(ConcurrentTest, ATaskPollsForAResultByReschedulingItselfUntilItIsReady) {
  bool ready = false;
  io_loop().call_later(10ms, [&] { ready = true; });
  Poller poller(ready);
  int polls = run_sync([&] { return poller.wait(); });
  EXPECT_TRUE(ready);
  EXPECT_GT(polls, 1) << "the poller never rescheduled itself";
}

/// Tornado's sleep, built from a Future and call_later.
Future<void> sleep_for(IOLoop::duration delay) {
  Future<void> future;
  IOLoop::current().call_later(delay, [future] { future.set_result(); });
  return future;
}

TEST_F(ConcurrentTest, SleepBuiltFromAFutureAndCallLaterWaitsAtLeastTheDelay) {
  auto elapsed = run_sync([]() -> Future<IOLoop::duration> {
    auto start = IOLoop::current().time();
    co_await sleep_for(20ms);
    co_return IOLoop::current().time() - start;
  });
  EXPECT_GE(elapsed, 20ms);
}

TEST_F(ConcurrentTest, ConcurrentSleepsFinishInTheOrderOfTheirDelays) {
  std::vector<int> order;
  auto sleeper = [](IOLoop::duration delay, int id, std::vector<int>& out) -> Future<void> {
    co_await sleep_for(delay);
    out.push_back(id);
  };
  run_sync([&]() -> Future<void> {
    Future<void> a = sleeper(30ms, 3, order);
    Future<void> b = sleeper(10ms, 1, order);
    Future<void> c = sleeper(20ms, 2, order);
    co_await a;
    co_await b;
    co_await c;
  });
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST_F(ConcurrentTest, CallbacksAddedFromEightThreadsAtOnceAreAllRunOnTheLoop) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 10'000;
  constexpr int kTotal = kThreads * kPerThread;
  IOLoop& loop = io_loop();
  const auto loop_thread = std::this_thread::get_id();
  int count = 0;  // touched only on the loop's thread
  int off_loop = 0;
  Future<void> all_ran;
  std::latch start_together(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      start_together.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        loop.add_callback([&] {
          if (std::this_thread::get_id() != loop_thread) ++off_loop;
          if (++count == kTotal) all_ran.set_result();
        });
      }
    });
  }
  EXPECT_NO_THROW(run_sync([&] { return all_ran; }));
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(count, kTotal);
  EXPECT_EQ(off_loop, 0);
}

// ---- coroutine machinery --------------------------------------------------------------------

Future<void> record_around(std::vector<std::string>& log, Future<void> gate) {
  log.push_back("before");
  co_await gate;
  log.push_back("after");
}

TEST_F(ConcurrentTest, CoroutinesStartEagerlyUpToTheirFirstSuspension) {
  std::vector<std::string> log;
  Future<void> gate;
  Future<void> task = record_around(log, gate);
  EXPECT_EQ(log, (std::vector<std::string>{"before"})) << "the body did not run at the call";
  EXPECT_FALSE(task.done());
  gate.set_result();
  EXPECT_EQ(log.size(), 1u) << "resumed inside set_result";
  run_sync([&] { return task; });
  EXPECT_EQ(log, (std::vector<std::string>{"before", "after"}));
}

TEST_F(ConcurrentTest, ACoroutineThatNeverSuspendsIsDoneWhenTheCallReturns) {
  auto immediate = [](int x) -> Future<int> { co_return x * 3; };
  Future<int> f = immediate(4);
  EXPECT_TRUE(f.done());
  EXPECT_EQ(f.result(), 12);
}

TEST_F(ConcurrentTest, ACoroutineCalledWithoutAwaitRunsToCompletionOnTheLoop) {
  std::vector<std::string> log;
  Future<void> gate;
  static_cast<void>(record_around(log, gate));  // nobody keeps its Future
  gate.set_result();
  run_sync([] { return next_iteration(); });
  EXPECT_EQ(log, (std::vector<std::string>{"before", "after"}));
}

TEST_F(ConcurrentTest, CancellingACoroutinesFutureDiscardsItsLateResult) {
  Future<void> gate;
  bool finished = false;
  auto work = [](Future<void> g, bool& done) -> Future<int> {
    co_await g;
    done = true;
    co_return 5;
  };
  Future<int> f = work(gate, finished);
  EXPECT_TRUE(f.cancel());
  gate.set_result();
  run_sync([] { return next_iteration(); });
  EXPECT_TRUE(finished) << "cancel() does not interrupt the coroutine";
  EXPECT_TRUE(f.cancelled());
  EXPECT_THROW(f.result(), CancelledError);
}

Future<long> sum_of_done_futures(int n) {
  long total = 0;
  for (int i = 0; i < n; ++i) total += co_await make_ready_future(1);
  co_return total;
}

TEST_F(ConcurrentTest, AMillionSequentialAwaitsOfDoneFuturesDoNotOverflowTheStack) {
  EXPECT_EQ(run_sync([] { return sum_of_done_futures(1'000'000); }), 1'000'000);
}

Future<long> sum_of_resolved_later(int n) {
  long total = 0;
  for (int i = 0; i < n; ++i) total += co_await resolve_later(1);
  co_return total;
}

TEST_F(ConcurrentTest, AMillionSequentialAwaitsOfFuturesResolvedByCallbacksComplete) {
  EXPECT_EQ(run_sync([] { return sum_of_resolved_later(1'000'000); }, 60s), 1'000'000);
}

Future<int> depth(int n) {
  if (n == 0) co_return 0;
  co_return 1 + co_await depth(n - 1);
}

TEST_F(ConcurrentTest, ARecursionOneHundredThousandCoroutinesDeepCompletesWithoutOverflow) {
  EXPECT_EQ(run_sync([] { return depth(100'000); }), 100'000);
}

/// Runs `fn` on a new thread whose stack is `stack_size` bytes, and waits for it to finish.
template <class F>
void run_on_thread_with_stack(std::size_t stack_size, F fn) {
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, stack_size), 0);
  auto* owned = new F(std::move(fn));
  pthread_t thread;
  int rc = pthread_create(
      &thread, &attr,
      [](void* arg) -> void* {
        std::unique_ptr<F> body(static_cast<F*>(arg));
        (*body)();
        return nullptr;
      },
      owned);
  pthread_attr_destroy(&attr);
  if (rc != 0) delete owned;
  ASSERT_EQ(rc, 0);
  pthread_join(thread, nullptr);
}

TEST_F(ConcurrentTest, ARecursionOneHundredThousandDeepFitsInASmallThreadStack) {
  // 512 KiB holds the recursion only if eager starts are deferred to the loop as the stack fills.
  int result = -1;
  run_on_thread_with_stack(512 * 1024, [&result] {
    IOLoop loop;
    result = loop.run_sync([] { return depth(100'000); });
  });
  EXPECT_EQ(result, 100'000);
}

TEST_F(ConcurrentTest, ADeepRecursionStartedOutsideTheLoopFinishesWhenTheLoopRuns) {
  Future<int> f = depth(100'000);  // deferred starts queue on the loop once the stack is half used
  EXPECT_EQ(run_sync([&] { return f; }), 100'000);
}

Future<void> hold_until(Future<void> gate, int* destroyed) {
  DestructionCounter guard(destroyed);
  co_await gate;
}

Future<void> hold_around(Future<void> gate, int* destroyed) {
  DestructionCounter guard(destroyed);
  co_await hold_until(std::move(gate), destroyed);
}

TEST_F(ConcurrentTest, ClosingTheLoopFreesSuspendedCoroutines) {
  int destroyed = 0;
  Future<void> task = hold_until(Future<void>(), &destroyed);  // the gate is the frame's own
  EXPECT_FALSE(task.done());
  EXPECT_EQ(destroyed, 0);
  io_loop().close();
  EXPECT_EQ(destroyed, 1) << "the suspended frame was not destroyed";
  EXPECT_FALSE(task.done());
}

TEST_F(ConcurrentTest, ClosingTheLoopFreesNestedSuspendedCoroutines) {
  int destroyed = 0;
  static_cast<void>(hold_around(Future<void>(), &destroyed));
  static_cast<void>(hold_around(Future<void>(), &destroyed));
  EXPECT_EQ(destroyed, 0);
  io_loop().close();
  EXPECT_EQ(destroyed, 4);
}

TEST_F(ConcurrentTest, DestroyingALoopFreesTheCoroutinesSuspendedOnIt) {
  int destroyed = 0;
  {
    IOLoop loop;
    loop.make_current();
    Future<void> gate;
    Future<void> task = hold_around(gate, &destroyed);
    EXPECT_EQ(destroyed, 0);
  }
  io_loop().make_current();
  EXPECT_EQ(destroyed, 2);
}

TEST_F(ConcurrentTest, ClosingTheLoopFreesACoroutineWhoseResumptionIsQueued) {
  int destroyed = 0;
  Future<void> gate;
  Future<void> task = hold_until(gate, &destroyed);
  gate.set_result();  // the resumption is queued, never run
  io_loop().close();
  EXPECT_EQ(destroyed, 1);
  EXPECT_FALSE(task.done());
}

}  // namespace
}  // namespace squall
