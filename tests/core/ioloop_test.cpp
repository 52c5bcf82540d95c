// IOLoop: the current loop, start/stop/run_sync, close, callbacks, timers, add_future and the
// blocking log. Descriptors and signals: ioloop_handlers_test.cpp; PeriodicCallback:
// periodic_callback_test.cpp.
#include "squall/core/ioloop.hpp"

#include "squall/core/gen.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "core/loop_close_hook.hpp"
#include "squall/core/concurrent.hpp"
#include "squall/testing/testing.hpp"
#include "squall/util/log.hpp"
#include "support/loop_helpers.hpp"

namespace squall {
namespace {

using namespace std::chrono_literals;
using squall::testing::ExpectLog;
using namespace squall::test_support;

class IOLoopTest : public testing::AsyncTest {};

// ---- current loop ----------------------------------------------------------------------------

TEST_F(IOLoopTest, CurrentIsTheLoopMadeCurrent) {
  EXPECT_EQ(&IOLoop::current(), &io_loop());
  EXPECT_EQ(IOLoop::current_or_null(), &io_loop());
}

TEST_F(IOLoopTest, MakeCurrentSwitchesTheCallingThreadsLoop) {
  IOLoop other;
  EXPECT_EQ(&IOLoop::current(), &io_loop()) << "a new loop replaced the existing current one";
  other.make_current();
  EXPECT_EQ(&IOLoop::current(), &other);
  io_loop().make_current();
  EXPECT_EQ(&IOLoop::current(), &io_loop());
}

TEST_F(IOLoopTest, CurrentIsPerThreadAndCreatedOnFirstUse) {
  IOLoop* before = &io_loop();
  IOLoop* seen_null = before;
  IOLoop* created = nullptr;
  IOLoop* again = nullptr;
  std::thread other([&] {
    seen_null = IOLoop::current_or_null();
    created = &IOLoop::current();
    again = &IOLoop::current();
  });
  other.join();
  EXPECT_EQ(seen_null, nullptr) << "a new thread has no current loop";
  EXPECT_NE(created, nullptr);
  EXPECT_NE(created, &io_loop()) << "another thread got this thread's loop";
  EXPECT_EQ(created, again) << "current() created a second loop on the same thread";
  EXPECT_EQ(&IOLoop::current(), before);
}

TEST_F(IOLoopTest, ANewLoopBecomesCurrentOnlyOnAThreadWithoutOne) {
  bool first_became_current = false;
  bool second_stayed_aside = false;
  std::thread other([&] {
    IOLoop first;
    first_became_current = IOLoop::current_or_null() == &first;
    IOLoop second;
    second_stayed_aside = IOLoop::current_or_null() == &first;
  });
  other.join();
  EXPECT_TRUE(first_became_current);
  EXPECT_TRUE(second_stayed_aside);
}

TEST_F(IOLoopTest, EachThreadRunsItsOwnLoop) {
  int ran_here = 0;
  int ran_there = 0;
  std::thread other([&] {
    IOLoop& loop = IOLoop::current();
    loop.run_sync([&] { ++ran_there; });
  });
  other.join();
  io_loop().run_sync([&] { ++ran_here; });
  EXPECT_EQ(ran_here, 1);
  EXPECT_EQ(ran_there, 1);
}

// ---- start / stop / run_sync -------------------------------------------------------------------

TEST_F(IOLoopTest, StartRunsCallbacksUntilStop) {
  std::vector<int> order;
  EXPECT_FALSE(io_loop().running());
  io_loop().add_callback([&] {
    order.push_back(1);
    EXPECT_TRUE(io_loop().running());
  });
  io_loop().add_callback([&] {
    order.push_back(2);
    io_loop().stop();
  });
  io_loop().start();
  EXPECT_FALSE(io_loop().running());
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST_F(IOLoopTest, StartWhileRunningThrowsInvalidStateError) {
  bool threw = false;
  io_loop().add_callback([&] {
    try {
      io_loop().start();
    } catch (const InvalidStateError&) {
      threw = true;
    }
    io_loop().stop();
  });
  io_loop().start();
  EXPECT_TRUE(threw);
}

TEST_F(IOLoopTest, StartMakesTheLoopCurrentWhileItRuns) {
  IOLoop other;
  IOLoop* inside = nullptr;
  other.add_callback([&] {
    inside = IOLoop::current_or_null();
    other.stop();
  });
  other.start();
  EXPECT_EQ(inside, &other);
  EXPECT_EQ(IOLoop::current_or_null(), &io_loop()) << "start() did not restore the current loop";
}

TEST_F(IOLoopTest, StopLeavesQueuedCallbacksForTheNextStart) {
  std::vector<int> order;
  io_loop().add_callback([&] {
    order.push_back(1);
    io_loop().stop();
  });
  io_loop().add_callback([&] {
    order.push_back(2);
    io_loop().stop();
  });
  io_loop().start();
  EXPECT_EQ(order, (std::vector<int>{1}));
  io_loop().start();
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST_F(IOLoopTest, RunSyncReturnsTheValueOfTheCoroutine) {
  int value = io_loop().run_sync([]() -> Future<int> {
    co_await next_iteration();
    co_return 42;
  });
  EXPECT_EQ(value, 42);
}

TEST_F(IOLoopTest, RunSyncReturnsAMoveOnlyValue) {
  std::unique_ptr<int> value = io_loop().run_sync([]() -> Future<std::unique_ptr<int>> {
    co_await next_iteration();
    co_return std::make_unique<int>(7);
  });
  ASSERT_NE(value, nullptr);
  EXPECT_EQ(*value, 7);
}

TEST_F(IOLoopTest, RunSyncRunsAVoidCoroutineToCompletion) {
  bool finished = false;
  io_loop().run_sync([&]() -> Future<void> {
    co_await next_iteration();
    finished = true;
  });
  EXPECT_TRUE(finished);
}

TEST_F(IOLoopTest, RunSyncAcceptsAFunctionReturningAPlainValue) {
  auto value = io_loop().run_sync([] { return std::string("plain"); });
  static_assert(std::is_same_v<decltype(value), std::string>);
  EXPECT_EQ(value, "plain");
}

TEST_F(IOLoopTest, RunSyncAcceptsAFunctionReturningNothing) {
  bool called = false;
  io_loop().run_sync([&] { called = true; });
  EXPECT_TRUE(called);
}

TEST_F(IOLoopTest, RunSyncCallsTheFunctionOnTheRunningLoop) {
  bool was_running = false;
  io_loop().run_sync([&] { was_running = io_loop().running(); });
  EXPECT_TRUE(was_running);
  EXPECT_FALSE(io_loop().running());
}

TEST_F(IOLoopTest, RunSyncRethrowsTheCoroutinesException) {
  auto failing = []() -> Future<int> {
    co_await next_iteration();
    throw std::invalid_argument("from coroutine");
  };
  try {
    io_loop().run_sync(failing);
    ADD_FAILURE() << "run_sync did not throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "from coroutine");
  }
}

TEST_F(IOLoopTest, RunSyncRethrowsAnExceptionThrownByAPlainFunction) {
  EXPECT_THROW(io_loop().run_sync([]() -> int { throw std::out_of_range("plain"); }),
               std::out_of_range);
}

TEST_F(IOLoopTest, RunSyncPastItsTimeoutThrowsTimeoutError) {
  Future<int> never;
  auto start = io_loop().time();
  EXPECT_THROW(io_loop().run_sync([&] { return never; }, 20ms), TimeoutError);
  EXPECT_GE(io_loop().time() - start, 20ms);
  EXPECT_FALSE(never.done());
}

TEST_F(IOLoopTest, RunSyncWithinItsTimeoutReturnsNormally) {
  EXPECT_NO_THROW(io_loop().run_sync([] { return next_iteration(); }, 5s));
  EXPECT_EQ(io_loop().run_sync([] { return 3; }, 5s), 3);
}

TEST_F(IOLoopTest, TheLoopIsReusableAfterARunSyncTimedOut) {
  Future<int> never;
  EXPECT_THROW(io_loop().run_sync([&] { return never; }, 10ms), TimeoutError);
  EXPECT_EQ(io_loop().run_sync([] { return 5; }), 5);
  never.set_result(1);  // the stale waiter must not stop a later run
  int value = io_loop().run_sync([]() -> Future<int> {
    co_await iterations(3);
    co_return 6;
  });
  EXPECT_EQ(value, 6);
}

TEST_F(IOLoopTest, RunSyncWhoseTimeoutPassesBeforeTheFunctionRunsLeavesNothingBehind) {
  int first_calls = 0;
  int second_calls = 0;
  EXPECT_THROW(io_loop().run_sync([&] { ++first_calls; }, IOLoop::duration::zero()), TimeoutError);
  // The timed-out call has returned: what it queued must not call into its finished frame (which
  // a later call's frame now occupies).
  EXPECT_NO_THROW(io_loop().run_sync(
      [&] {
        ++second_calls;
        return iterations(3);
      },
      5s));
  EXPECT_LE(first_calls, 1);
  EXPECT_EQ(second_calls, 1);
}

TEST_F(IOLoopTest, RunSyncInsideARunningLoopThrowsInvalidStateError) {
  bool threw = false;
  io_loop().run_sync([&]() -> Future<void> {
    try {
      io_loop().run_sync([] { return 1; });
    } catch (const InvalidStateError&) {
      threw = true;
    }
    co_await iterations(3);  // whatever the nested call queued must be harmless
  });
  EXPECT_TRUE(threw);
}

// ---- close ---------------------------------------------------------------------------------

TEST_F(IOLoopTest, AddCallbackAfterCloseThrowsInvalidStateError) {
  io_loop().close();
  EXPECT_TRUE(io_loop().closed());
  EXPECT_THROW(io_loop().add_callback([] {}), InvalidStateError);
  EXPECT_THROW(io_loop().spawn_callback([] {}), InvalidStateError);
}

TEST_F(IOLoopTest, EverythingButCloseThrowsOnAClosedLoop) {
  Pipe pipe;
  io_loop().close();
  EXPECT_THROW(io_loop().call_later(1ms, [] {}), InvalidStateError);
  EXPECT_THROW(io_loop().call_at(io_loop().time(), [] {}), InvalidStateError);
  EXPECT_THROW(io_loop().add_handler(pipe.read_fd, IOLoop::READ, [](int, std::uint32_t) {}),
               InvalidStateError);
  EXPECT_THROW(io_loop().start(), InvalidStateError);
  EXPECT_THROW(io_loop().run_sync([] { return 1; }), InvalidStateError);
  EXPECT_NO_THROW(io_loop().close()) << "closing twice does nothing";
}

TEST_F(IOLoopTest, AddCallbackFromAnotherThreadAfterCloseThrowsInvalidStateError) {
  io_loop().close();
  bool threw = false;
  std::thread other([&] {
    try {
      io_loop().add_callback([] {});
    } catch (const InvalidStateError&) {
      threw = true;
    }
  });
  other.join();
  EXPECT_TRUE(threw);
}

TEST_F(IOLoopTest, CloseWhileRunningThrowsInvalidStateError) {
  bool threw = false;
  io_loop().run_sync([&] {
    try {
      io_loop().close();
    } catch (const InvalidStateError&) {
      threw = true;
    }
  });
  EXPECT_TRUE(threw);
  EXPECT_FALSE(io_loop().closed());
}

TEST_F(IOLoopTest, CloseDropsQueuedCallbacksAndTimersWithoutRunningThem) {
  auto token = std::make_shared<int>(0);
  bool ran = false;
  io_loop().add_callback([&ran, token] { ran = true; });
  io_loop().call_later(0ms, [&ran, token] { ran = true; });
  EXPECT_EQ(token.use_count(), 3);
  io_loop().close();
  EXPECT_FALSE(ran);
  EXPECT_EQ(token.use_count(), 1) << "the dropped callbacks were not destroyed";
}

TEST_F(IOLoopTest, CloseWithAllFdsClosesTheRegisteredDescriptors) {
  Pipe pipe;
  io_loop().add_handler(pipe.read_fd, IOLoop::READ, [](int, std::uint32_t) {});
  io_loop().close(/*all_fds=*/true);
  EXPECT_FALSE(fd_is_open(pipe.read_fd));
  EXPECT_TRUE(fd_is_open(pipe.write_fd)) << "an fd without a handler was closed";
  pipe.read_fd = -1;  // closed by the loop
}

TEST_F(IOLoopTest, CloseWithoutAllFdsLeavesTheDescriptorsOpen) {
  Pipe pipe;
  io_loop().add_handler(pipe.read_fd, IOLoop::READ, [](int, std::uint32_t) {});
  io_loop().close();
  EXPECT_TRUE(fd_is_open(pipe.read_fd));
}

// ---- add_callback / spawn_callback -----------------------------------------------------------

TEST_F(IOLoopTest, AddCallbackRunsCallbacksInTheOrderAdded) {
  std::vector<int> order;
  io_loop().run_sync([&]() -> Future<void> {
    for (int i = 0; i < 5000; ++i) io_loop().add_callback([&order, i] { order.push_back(i); });
    co_await next_iteration();
    while (order.size() < 5000) co_await next_iteration();
  });
  ASSERT_EQ(order.size(), 5000u);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

TEST_F(IOLoopTest, AddCallbackNeverRunsTheCallbackAtOnce) {
  bool ran = false;
  io_loop().run_sync([&]() -> Future<void> {
    io_loop().add_callback([&] { ran = true; });
    EXPECT_FALSE(ran);
    co_await next_iteration();
    EXPECT_TRUE(ran);
  });
  EXPECT_TRUE(ran);
}

TEST_F(IOLoopTest, AddCallbackFromAnotherThreadWakesTheSleepingLoop) {
  Future<std::thread::id> ran_on;
  std::thread other;
  auto id = io_loop().run_sync([&] {
    // The loop has nothing else to do: only the eventfd can wake it.
    other = std::thread(
        [&] { io_loop().add_callback([&] { ran_on.set_result(std::this_thread::get_id()); }); });
    return ran_on;
  });
  other.join();
  EXPECT_EQ(id, std::this_thread::get_id());
}

Future<void> resolve_after_an_iteration(Future<int> done) {
  co_await next_iteration();
  done.set_result(1);
}

TEST_F(IOLoopTest, SpawnCallbackRunsTheCallbackOnTheLoop) {
  Future<int> done;
  io_loop().spawn_callback([done] { return resolve_after_an_iteration(done); });
  EXPECT_FALSE(done.done());
  EXPECT_EQ(io_loop().run_sync([&] { return done; }), 1);
}

TEST_F(IOLoopTest, AnExceptionInACallbackIsLoggedAndTheLoopGoesOn) {
  ExpectLog logged(log::app_log(), "Exception in callback .*std::runtime_error: callback boom");
  bool later_ran = false;
  io_loop().add_callback([] { throw std::runtime_error("callback boom"); });
  io_loop().add_callback([&] { later_ran = true; });
  io_loop().run_sync([] { return next_iteration(); });
  EXPECT_TRUE(later_ran);
  EXPECT_EQ(logged.matched(), 1);
}

TEST_F(IOLoopTest, TheExceptionLogNamesACallbackByItsDescribe) {
  ExpectLog logged(log::app_log(), "Exception in callback the named callback: .*named failure");
  io_loop().add_callback(NamedFailingCallback{});
  io_loop().run_sync([] { return next_iteration(); });
}

TEST_F(IOLoopTest, ACoroutineCallbackReturningAFailedFutureIsLogged) {
  ExpectLog logged(log::app_log(), "Exception in callback .*coroutine failed late");
  ExpectLog never(log::gen_log(), "never retrieved", /*required=*/false);
  io_loop().add_callback([]() -> Future<void> {
    co_await next_iteration();
    throw std::runtime_error("coroutine failed late");
  });
  io_loop().run_sync([] { return iterations(4); });
  EXPECT_EQ(logged.matched(), 1);
  EXPECT_EQ(never.matched(), 0) << "the loop retrieved the exception, so it is logged once";
}

TEST_F(IOLoopTest, ASpawnedCoroutineFailingAtOnceIsLogged) {
  ExpectLog logged(log::app_log(), "Exception in callback .*failed at once");
  io_loop().spawn_callback([]() -> Future<int> {
    throw std::runtime_error("failed at once");
    co_return 0;
  });
  io_loop().run_sync([] { return iterations(2); });
}

TEST_F(IOLoopTest, ACallbackReturningACancelledFutureIsNotLogged) {
  ExpectLog logged(log::app_log(), "Exception in callback", /*required=*/false);
  io_loop().add_callback([] {
    Future<void> f;
    f.cancel();
    return f;
  });
  io_loop().run_sync([] { return iterations(2); });
  EXPECT_EQ(logged.matched(), 0);
}

// ---- timers --------------------------------------------------------------------------------

TEST_F(IOLoopTest, CallLaterRunsTimersInDeadlineOrder) {
  std::vector<int> order;
  io_loop().run_sync([&]() -> Future<void> {
    io_loop().call_later(30ms, [&] { order.push_back(30); });
    io_loop().call_later(10ms, [&] { order.push_back(10); });
    io_loop().call_later(20ms, [&] { order.push_back(20); });
    co_await after(40ms);
  });
  EXPECT_EQ(order, (std::vector<int>{10, 20, 30}));
}

TEST_F(IOLoopTest, CallLaterWaitsAtLeastItsDelay) {
  auto start = io_loop().time();
  IOLoop::time_point ran_at;
  io_loop().run_sync([&] {
    Future<void> done;
    io_loop().call_later(15ms, [&, done] {
      ran_at = io_loop().time();
      done.set_result();
    });
    return done;
  });
  EXPECT_GE(ran_at - start, 15ms);
}

TEST_F(IOLoopTest, TimersWithEqualDeadlinesRunInTheOrderAdded) {
  std::vector<int> order;
  io_loop().run_sync([&]() -> Future<void> {
    auto when = io_loop().time() + 5ms;
    for (int i = 0; i < 100; ++i) io_loop().call_at(when, [&order, i] { order.push_back(i); });
    co_await after(10ms);
  });
  ASSERT_EQ(order.size(), 100u);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

TEST_F(IOLoopTest, TimersDueTogetherRunByDeadlineNotByInsertion) {
  std::vector<std::string> order;
  io_loop().run_sync([&]() -> Future<void> {
    auto now = io_loop().time();
    io_loop().call_at(now + 10ms, [&] { order.push_back("10ms"); });
    io_loop().call_at(now + 5ms, [&] { order.push_back("5ms a"); });
    io_loop().call_at(now - 1s, [&] { order.push_back("past"); });
    io_loop().call_at(now + 5ms, [&] { order.push_back("5ms b"); });
    busy_for(20ms);  // every deadline passes before the loop looks at the timers
    co_await iterations(1);
  });
  EXPECT_EQ(order, (std::vector<std::string>{"past", "5ms a", "5ms b", "10ms"}));
}

TEST_F(IOLoopTest, CallAtInThePastRunsAtTheNextIteration) {
  bool ran = false;
  io_loop().run_sync([&]() -> Future<void> {
    io_loop().call_at(io_loop().time() - 1h, [&] { ran = true; });
    EXPECT_FALSE(ran);
    co_await iterations(2);
  });
  EXPECT_TRUE(ran);
}

TEST_F(IOLoopTest, AddTimeoutAcceptsADeadlineOrADelay) {
  std::vector<std::string> order;
  io_loop().run_sync([&]() -> Future<void> {
    io_loop().add_timeout(io_loop().time() + 20ms, [&] { order.push_back("deadline"); });
    io_loop().add_timeout(10ms, [&] { order.push_back("delay"); });
    io_loop().add_timeout(std::chrono::microseconds(15'000), [&] { order.push_back("micro"); });
    co_await after(30ms);
  });
  EXPECT_EQ(order, (std::vector<std::string>{"delay", "micro", "deadline"}));
}

TEST_F(IOLoopTest, ATimerAddedByATimerRunsInOrderWithTheOthers) {
  std::vector<int> order;
  io_loop().run_sync([&]() -> Future<void> {
    io_loop().call_later(5ms, [&] {
      order.push_back(1);
      io_loop().call_later(5ms, [&] { order.push_back(2); });
    });
    io_loop().call_later(30ms, [&] { order.push_back(3); });
    co_await after(40ms);
  });
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST_F(IOLoopTest, TimersBeyondTheNearFutureRunInOrder) {
  std::vector<int> order;
  io_loop().run_sync([&]() -> Future<void> {
    for (int ms : {90, 3, 70, 45, 1, 120, 64, 66}) {
      io_loop().call_later(std::chrono::milliseconds(ms), [&order, ms] { order.push_back(ms); });
    }
    co_await after(130ms);
  });
  EXPECT_EQ(order, (std::vector<int>{1, 3, 45, 64, 66, 70, 90, 120}));
}

TEST_F(IOLoopTest, RemoveTimeoutCancelsATimer) {
  std::vector<int> order;
  io_loop().run_sync([&]() -> Future<void> {
    auto removed = io_loop().call_later(5ms, [&] { order.push_back(1); });
    io_loop().call_later(10ms, [&] { order.push_back(2); });
    EXPECT_TRUE(static_cast<bool>(removed));
    io_loop().remove_timeout(removed);
    co_await after(20ms);
  });
  EXPECT_EQ(order, (std::vector<int>{2}));
}

TEST_F(IOLoopTest, RemoveTimeoutDestroysTheCallback) {
  auto token = std::make_shared<int>(0);
  auto handle = io_loop().call_later(1h, [token] {});
  EXPECT_EQ(token.use_count(), 2);
  io_loop().remove_timeout(handle);
  io_loop().run_sync([] { return iterations(2); });
  EXPECT_EQ(token.use_count(), 1);
}

TEST_F(IOLoopTest, RemoveTimeoutIgnoresAStaleHandle) {
  int first = 0;
  int second = 0;
  io_loop().run_sync([&]() -> Future<void> {
    auto stale = io_loop().call_later(0ms, [&] { ++first; });
    co_await after(5ms);
    EXPECT_EQ(first, 1);
    // A new timer may reuse the ran timer's storage: the stale handle must not cancel it.
    auto fresh = io_loop().call_later(5ms, [&] { ++second; });
    EXPECT_NE(fresh, stale);
    io_loop().remove_timeout(stale);
    io_loop().remove_timeout(stale);
    io_loop().remove_timeout(TimeoutHandle());
    co_await after(15ms);
  });
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 1);
}

TEST_F(IOLoopTest, RemoveTimeoutTwiceIsHarmless) {
  int ran = 0;
  io_loop().run_sync([&]() -> Future<void> {
    auto handle = io_loop().call_later(5ms, [&] { ran += 1; });
    io_loop().call_later(5ms, [&] { ran += 10; });
    io_loop().remove_timeout(handle);
    io_loop().remove_timeout(handle);
    co_await after(15ms);
  });
  EXPECT_EQ(ran, 10);
}

TEST_F(IOLoopTest, ATimerCanRemoveAnotherTimerDueAtTheSameTime) {
  std::vector<int> order;
  io_loop().run_sync([&]() -> Future<void> {
    auto when = io_loop().time() + 5ms;
    TimeoutHandle victim;
    io_loop().call_at(when, [&] {
      order.push_back(1);
      io_loop().remove_timeout(victim);
    });
    victim = io_loop().call_at(when, [&] { order.push_back(2); });
    io_loop().call_at(when, [&] { order.push_back(3); });
    co_await after(15ms);
  });
  EXPECT_EQ(order, (std::vector<int>{1, 3}));
}

TEST_F(IOLoopTest, ATimerCanRemoveItselfWhileRunning) {
  int runs = 0;
  io_loop().run_sync([&]() -> Future<void> {
    TimeoutHandle self;
    self = io_loop().call_later(1ms, [&] {
      ++runs;
      io_loop().remove_timeout(self);
    });
    co_await after(10ms);
  });
  EXPECT_EQ(runs, 1);
}

TEST_F(IOLoopTest, TenThousandTimersRunInDeadlineOrderAndRemovedOnesNever) {
  constexpr int kTimers = 12'000;
  struct Ran {
    IOLoop::time_point when;
    int index;
  };
  std::vector<Ran> ran;
  ran.reserve(kTimers);
  int removed_ran = 0;
  io_loop().run_sync(
      [&]() -> Future<void> {
        std::mt19937 random(12345);
        std::uniform_int_distribution<int> millis(0, 40);
        auto base = io_loop().time() + 2ms;
        std::vector<TimeoutHandle> handles;
        handles.reserve(kTimers);
        for (int i = 0; i < kTimers; ++i) {
          auto when = base + std::chrono::milliseconds(millis(random));
          if (i % 2 == 0) {
            handles.push_back(io_loop().call_at(when, [&ran, when, i] {
              ran.push_back({when, i});
            }));
          } else {
            handles.push_back(io_loop().call_at(when, [&removed_ran] { ++removed_ran; }));
          }
        }
        for (int i = 1; i < kTimers; i += 2) io_loop().remove_timeout(handles[i]);
        co_await after(60ms);
      },
      10s);
  EXPECT_EQ(removed_ran, 0);
  ASSERT_EQ(ran.size(), static_cast<std::size_t>(kTimers / 2));
  for (std::size_t i = 1; i < ran.size(); ++i) {
    bool ordered = ran[i - 1].when < ran[i].when ||
                   (ran[i - 1].when == ran[i].when && ran[i - 1].index < ran[i].index);
    ASSERT_TRUE(ordered) << "timer " << ran[i].index << " ran after " << ran[i - 1].index;
  }
}

TEST_F(IOLoopTest, ManyFarTimersRemovedLeaveTheNearOnesRunning) {
  int far_ran = 0;
  int near_ran = 0;
  io_loop().run_sync([&]() -> Future<void> {
    std::vector<TimeoutHandle> far;
    for (int i = 0; i < 5000; ++i) {
      far.push_back(io_loop().call_later(std::chrono::seconds(1 + i % 7200), [&] { ++far_ran; }));
    }
    for (int i = 0; i < 10; ++i)
      io_loop().call_later(std::chrono::milliseconds(i), [&] { ++near_ran; });
    for (auto handle : far) io_loop().remove_timeout(handle);
    co_await after(20ms);
  });
  EXPECT_EQ(near_ran, 10);
  EXPECT_EQ(far_ran, 0);
}

TEST_F(IOLoopTest, ATimerThatThrowsIsLoggedAndLaterTimersStillRun) {
  ExpectLog logged(log::app_log(), "Exception in callback .*timer boom");
  bool later = false;
  io_loop().run_sync([&]() -> Future<void> {
    io_loop().call_later(1ms, [] { throw std::runtime_error("timer boom"); });
    io_loop().call_later(2ms, [&] { later = true; });
    co_await after(10ms);
  });
  EXPECT_TRUE(later);
}

TEST_F(IOLoopTest, TimeFollowsTheSteadyClock) {
  auto before = std::chrono::steady_clock::now();
  auto now = io_loop().time();
  auto after_now = std::chrono::steady_clock::now();
  EXPECT_LE(before, now);
  EXPECT_LE(now, after_now);
}

// ---- add_future ------------------------------------------------------------------------------

TEST_F(IOLoopTest, AddFutureCallsBackOnTheLoopOnceTheFutureIsDone) {
  Future<int> f;
  int seen = 0;
  io_loop().add_future(f, [&](const Future<int>& done) { seen = done.result(); });
  f.set_result(12);
  EXPECT_EQ(seen, 0);
  io_loop().run_sync([] { return next_iteration(); });
  EXPECT_EQ(seen, 12);
}

TEST_F(IOLoopTest, AddFutureSeesAFailedFuture) {
  Future<void> f;
  std::string seen;
  io_loop().add_future(f, [&](const Future<void>& done) {
    try {
      done.result();
    } catch (const std::exception& e) {
      seen = e.what();
    }
  });
  f.set_exception(std::runtime_error("failed future"));
  io_loop().run_sync([] { return next_iteration(); });
  EXPECT_EQ(seen, "failed future");
}

// ---- blocking log --------------------------------------------------------------------------

TEST_F(IOLoopTest, BlockingLogThresholdNamesTheSlowCallback) {
  ExpectLog logged(log::gen_log(), "Blocked for [0-9.]+s running .*SlowCallback");
  io_loop().set_blocking_log_threshold(10ms);
  io_loop().add_callback(SlowCallback{});
  io_loop().run_sync([] { return next_iteration(); });
  EXPECT_EQ(logged.matched(), 1);
}

Future<void> slow_coroutine_step() {
  co_await next_iteration();
  busy_for(50ms);
}

TEST_F(IOLoopTest, BlockingLogThresholdNamesTheCoroutineOfASlowStep) {
  ExpectLog logged(log::gen_log(), "Blocked for [0-9.]+s running coroutine slow_coroutine_step");
  io_loop().set_blocking_log_threshold(10ms);
  io_loop().run_sync([] { return slow_coroutine_step(); });
  EXPECT_EQ(logged.matched(), 1);
}

TEST_F(IOLoopTest, FastCallbacksAreNotLoggedAsBlocking) {
  ExpectLog logged(log::gen_log(), "Blocked for", /*required=*/false);
  io_loop().set_blocking_log_threshold(1s);
  io_loop().run_sync([] { return iterations(10); });
  EXPECT_EQ(logged.matched(), 0);
}

TEST_F(IOLoopTest, AZeroBlockingLogThresholdTurnsTheCheckOff) {
  ExpectLog logged(log::gen_log(), "Blocked for", /*required=*/false);
  io_loop().set_blocking_log_threshold(10ms);
  io_loop().set_blocking_log_threshold(IOLoop::duration::zero());
  io_loop().add_callback(SlowCallback{});
  io_loop().run_sync([] { return next_iteration(); });
  EXPECT_EQ(logged.matched(), 0);
}

// Regression: the closure of a coroutine lambda was destroyed when spawn_callback's callback
// returned, so the coroutine read its captures from freed memory after its first suspension.
TEST_F(IOLoopTest, SpawnCallbackKeepsACoroutineLambdasCapturesAlive) {
  std::size_t seen = 0;
  Future<void> gate;
  io_loop().spawn_callback(
      [&seen, gate, text = std::string("captured by value")]() -> Future<void> {
        co_await gate;
        seen = text.size();  // read through the closure, after the suspension
      });
  run_sync([&]() -> Future<void> {
    co_await gen::moment;  // the spawned coroutine starts and suspends on the gate
    gate.set_result();
    co_await gen::sleep(std::chrono::milliseconds(1));
  });
  EXPECT_EQ(seen, std::string("captured by value").size());
}

}  // namespace
}  // namespace squall

// ---- close hooks ---------------------------------------------------------------------------

namespace {

// A callback-driven loop that keeps itself alive through a pending Future's callback, as a
// WebSocket's read loop does: only the loop's close hook can free it.
class SelfHeld final : public std::enable_shared_from_this<SelfHeld>,
                       private squall::detail::LoopCloseHook {
 public:
  explicit SelfHeld(std::vector<std::string>& journal, std::string name)
      : journal_(journal), name_(std::move(name)) {}
  ~SelfHeld() { journal_.push_back(name_ + " freed"); }
  void watch(squall::IOLoop& loop) { link_to(loop); }
  void start(squall::IOLoop& loop) {
    link_to(loop);
    pending_.add_done_callback([self = shared_from_this()] { self->journal_.push_back("ran"); });
  }
  void stop_watching() { unlink(); }
  void on_loop_close() noexcept override {
    journal_.push_back(name_ + " told");
    pending_.cancel();  // its callback is queued, then dropped with the loop's queue
  }

 private:
  std::vector<std::string>& journal_;
  std::string name_;
  squall::Future<void> pending_;
};

}  // namespace

TEST(IOLoopCloseHookTest, ClosingTheLoopTellsEachHookInOrderAndFreesWhatItHeld) {
  std::vector<std::string> journal;
  std::shared_ptr<SelfHeld> unlinked;
  {
    squall::IOLoop loop;
    auto a = std::make_shared<SelfHeld>(journal, "a");
    auto b = std::make_shared<SelfHeld>(journal, "b");
    a->start(loop);
    b->start(loop);
    unlinked = std::make_shared<SelfHeld>(journal, "c");
    unlinked->watch(loop);
    unlinked->stop_watching();
    a.reset();
    b.reset();
    EXPECT_TRUE(journal.empty());  // each holds itself
    loop.close();
    // A closing loop drops a waiter at once: each is freed as soon as it let go.
    EXPECT_EQ(journal, (std::vector<std::string>{"a told", "a freed", "b told", "b freed"}));
  }
  // The unregistered one was not told; it is freed when its last owner goes.
  unlinked.reset();
  EXPECT_EQ(journal.back(), "c freed");
}
