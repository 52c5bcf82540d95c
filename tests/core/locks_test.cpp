#include "squall/core/locks.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "squall/core/gen.hpp"
#include "squall/testing/testing.hpp"
#include "squall/util/log.hpp"

namespace squall {
namespace {

using namespace std::chrono_literals;

class LocksTest : public testing::AsyncTest {};

/// Awaits `future` for at most a second: what a test expects to complete soon.
template <class T>
Future<T> soon(const Future<T>& future) {
  return gen::with_timeout(1s, future);
}

/// Lets the loop run what is ready a few times, so that anything woken already has resumed.
Future<void> settle() {
  for (int i = 0; i < 3; ++i) co_await gen::moment;
}

// ---- Event ---------------------------------------------------------------------------------

TEST_F(LocksTest, EventStartsClearAndSetAndClearToggleIt) {
  Event event;
  EXPECT_FALSE(event.is_set());
  event.set();
  EXPECT_TRUE(event.is_set());
  event.set();  // setting twice is harmless
  EXPECT_TRUE(event.is_set());
  event.clear();
  EXPECT_FALSE(event.is_set());
}

Future<void> wait_then_record(Event& event, std::vector<int>& order, int id) {
  co_await event.wait();
  order.push_back(id);
}

TEST_F(LocksTest, EventSetWakesEveryWaiter) {
  std::vector<int> order = run_sync([&]() -> Future<std::vector<int>> {
    Event event;
    std::vector<int> order;
    std::vector<Future<void>> waiters;
    for (int i = 0; i < 3; ++i) waiters.push_back(wait_then_record(event, order, i));
    co_await settle();
    EXPECT_TRUE(order.empty());
    event.set();
    co_await soon(gen::multi(std::move(waiters)));
    co_return order;
  });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
}

TEST_F(LocksTest, EventWaitOnASetEventCompletesAtOnce) {
  run_sync([&]() -> Future<void> {
    Event event;
    event.set();
    Future<void> waiter = event.wait();
    EXPECT_TRUE(waiter.done());
    co_await waiter;
    Future<void> timed = event.wait(1ms);
    EXPECT_TRUE(timed.done());
    co_await timed;
  });
}

TEST_F(LocksTest, EventWaitTimesOut) {
  run_sync([&]() -> Future<void> {
    Event event;
    auto start = IOLoop::current().time();
    EXPECT_THROW(co_await event.wait(20ms), TimeoutError);
    EXPECT_GE(IOLoop::current().time() - start, 20ms);
    // The event still works after a timed-out wait.
    Future<void> waiter = event.wait(1s);
    event.set();
    co_await soon(waiter);
    EXPECT_TRUE(waiter.done());
  });
}

TEST_F(LocksTest, EventClearAfterSetStillWakesTheWaitersSetWoke) {
  run_sync([&]() -> Future<void> {
    Event event;
    Future<void> early = event.wait();
    event.set();
    event.clear();
    co_await soon(early);
    Future<void> late = event.wait();
    co_await settle();
    EXPECT_FALSE(late.done());
    event.set();
    co_await soon(late);
  });
}

TEST_F(LocksTest, EventCancelledWaiterLeavesTheOthersWaiting) {
  run_sync([&]() -> Future<void> {
    Event event;
    Future<void> cancelled = event.wait();
    Future<void> other = event.wait();
    EXPECT_TRUE(cancelled.cancel());
    co_await settle();
    EXPECT_FALSE(other.done());
    event.set();
    co_await soon(other);
    EXPECT_TRUE(cancelled.cancelled());
  });
}

TEST_F(LocksTest, EventDestroyedWithWaitersCancelsThem) {
  run_sync([&]() -> Future<void> {
    auto event = std::make_unique<Event>();
    Future<void> waiter = event->wait();
    Future<void> timed = event->wait(10s);
    event.reset();
    EXPECT_TRUE(waiter.cancelled());
    EXPECT_TRUE(timed.cancelled());
    EXPECT_THROW(co_await waiter, CancelledError);
  });
}

// ---- Condition -----------------------------------------------------------------------------

Future<void> wait_condition_then_record(Condition& condition, std::vector<int>& order, int id) {
  bool notified = co_await condition.wait();
  EXPECT_TRUE(notified);
  order.push_back(id);
}

TEST_F(LocksTest, ConditionNotifyWakesOneWaiterInFifoOrder) {
  run_sync([&]() -> Future<void> {
    Condition condition;
    std::vector<int> order;
    std::vector<Future<void>> waiters;
    for (int i = 0; i < 3; ++i) waiters.push_back(wait_condition_then_record(condition, order, i));
    condition.notify();
    co_await soon(waiters[0]);
    co_await settle();
    EXPECT_EQ(order, (std::vector<int>{0}));
    condition.notify();
    co_await soon(waiters[1]);
    co_await settle();
    EXPECT_EQ(order, (std::vector<int>{0, 1}));
    condition.notify();
    co_await soon(waiters[2]);
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
  });
}

TEST_F(LocksTest, ConditionNotifyNWakesNWaiters) {
  run_sync([&]() -> Future<void> {
    Condition condition;
    std::vector<Future<bool>> waiters;
    for (int i = 0; i < 5; ++i) waiters.push_back(condition.wait());
    condition.notify(2);
    co_await settle();
    EXPECT_TRUE(waiters[0].done());
    EXPECT_TRUE(waiters[1].done());
    EXPECT_FALSE(waiters[2].done());
    condition.notify(10);  // more than are waiting: wakes the rest
    for (auto& waiter : waiters) EXPECT_TRUE(co_await soon(waiter));
  });
}

TEST_F(LocksTest, ConditionNotifyAllWakesEveryWaiter) {
  run_sync([&]() -> Future<void> {
    Condition condition;
    std::vector<int> order;
    std::vector<Future<void>> waiters;
    for (int i = 0; i < 4; ++i) waiters.push_back(wait_condition_then_record(condition, order, i));
    condition.notify_all();
    co_await soon(gen::multi(std::move(waiters)));
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
    // A later waiter needs a later notification.
    Future<bool> later = condition.wait();
    co_await settle();
    EXPECT_FALSE(later.done());
    condition.notify_all();
    EXPECT_TRUE(co_await soon(later));
  });
}

TEST_F(LocksTest, ConditionWaitTimesOutReturningFalse) {
  run_sync([&]() -> Future<void> {
    Condition condition;
    auto start = IOLoop::current().time();
    bool notified = co_await condition.wait(20ms);
    EXPECT_FALSE(notified);
    EXPECT_GE(IOLoop::current().time() - start, 20ms);
  });
}

TEST_F(LocksTest, ConditionWaitWithADeadlineInThePastReturnsFalse) {
  run_sync([&]() -> Future<void> {
    Condition condition;
    EXPECT_FALSE(co_await condition.wait(IOLoop::current().time() - 1s));
  });
}

TEST_F(LocksTest, ConditionNotifiedBeforeItsTimeoutReturnsTrue) {
  run_sync([&]() -> Future<void> {
    Condition condition;
    Future<bool> waiter = condition.wait(10s);
    condition.notify();
    EXPECT_TRUE(co_await soon(waiter));
  });
}

TEST_F(LocksTest, ConditionNotifyWithoutWaitersIsNotRemembered) {
  run_sync([&]() -> Future<void> {
    Condition condition;
    condition.notify();
    condition.notify_all();
    EXPECT_FALSE(co_await condition.wait(10ms));
  });
}

TEST_F(LocksTest, ConditionTimedOutWaiterDoesNotConsumeANotify) {
  run_sync([&]() -> Future<void> {
    Condition condition;
    Future<bool> timed = condition.wait(10ms);
    Future<bool> patient = condition.wait();
    EXPECT_FALSE(co_await soon(timed));
    condition.notify();
    EXPECT_TRUE(co_await soon(patient));
  });
}

TEST_F(LocksTest, ConditionCancelledWaiterDoesNotConsumeANotify) {
  run_sync([&]() -> Future<void> {
    Condition condition;
    Future<bool> cancelled = condition.wait();
    Future<bool> patient = condition.wait();
    cancelled.cancel();
    condition.notify();
    EXPECT_TRUE(co_await soon(patient));
    EXPECT_TRUE(cancelled.cancelled());
  });
}

TEST_F(LocksTest, ConditionNotifiedWaiterResumesOnTheNextLoopIteration) {
  run_sync([&]() -> Future<void> {
    Condition condition;
    std::vector<int> order;
    Future<void> waiter = wait_condition_then_record(condition, order, 1);
    condition.notify();
    EXPECT_TRUE(order.empty());  // not resumed inside notify()
    co_await soon(waiter);
    EXPECT_EQ(order, (std::vector<int>{1}));
  });
}

TEST_F(LocksTest, ConditionManyTimedOutWaitsLeaveTheLiveWaiterNotifiable) {
  run_sync([&]() -> Future<void> {
    Condition condition;
    Future<bool> patient = condition.wait();
    for (int i = 0; i < 300; ++i) EXPECT_FALSE(co_await condition.wait(IOLoop::current().time()));
    condition.notify();
    EXPECT_TRUE(co_await soon(patient));
  });
}

TEST_F(LocksTest, ConditionDestroyedWithWaitersCancelsThem) {
  run_sync([&]() -> Future<void> {
    auto condition = std::make_unique<Condition>();
    Future<bool> waiter = condition->wait(10s);
    condition.reset();
    EXPECT_TRUE(waiter.cancelled());
    EXPECT_THROW(co_await waiter, CancelledError);
  });
}

// ---- WaiterQueue (the list behind every primitive) -----------------------------------------

TEST_F(LocksTest, WaiterQueueDropsAbandonedWaitersAsItGrows) {
  detail::WaiterQueue<Future<int>> waiters;
  for (int i = 0; i < 1000; ++i) {
    Future<int> waiter;
    waiters.push(waiter);
    waiter.cancel();
    EXPECT_LE(waiters.size(), 32u);
  }
  std::vector<Future<int>> live;
  for (int i = 0; i < 100; ++i) {
    live.emplace_back();
    waiters.push(live.back());
    Future<int> abandoned;
    waiters.push(abandoned);
    abandoned.cancel();
  }
  EXPECT_LE(waiters.size(), 2 * live.size() + 32);
  // The live waiters come out in the order they came in.
  for (const auto& expected : live) {
    ASSERT_TRUE(waiters.has_pending());
    Future<int> got = waiters.pop();
    EXPECT_EQ(detail::FutureAccess::state(got), detail::FutureAccess::state(expected));
  }
  EXPECT_FALSE(waiters.has_pending());
  EXPECT_EQ(waiters.size(), 0u);
}

// ---- Semaphore -----------------------------------------------------------------------------

TEST_F(LocksTest, SemaphoreRejectsANegativeValue) {
  try {
    Semaphore semaphore(-1);
    FAIL() << "a negative value was accepted";
  } catch (const ValueError& error) {
    EXPECT_NE(std::string(error.what()).find("must be >= 0"), std::string::npos) << error.what();
  }
  EXPECT_THROW(BoundedSemaphore(-3), Error);
  EXPECT_NO_THROW(Semaphore(0));
}

TEST_F(LocksTest, SemaphoreAcquireSucceedsAtOnceWhileSlotsAreFree) {
  run_sync([&]() -> Future<void> {
    Semaphore semaphore(2);
    EXPECT_EQ(semaphore.value(), 2);
    Future<Semaphore::Guard> first = semaphore.acquire();
    Future<Semaphore::Guard> second = semaphore.acquire(1s);
    EXPECT_TRUE(first.done());
    EXPECT_TRUE(second.done());
    EXPECT_EQ(semaphore.value(), 0);
    Future<Semaphore::Guard> third = semaphore.acquire();
    co_await settle();
    EXPECT_FALSE(third.done());
    {
      Semaphore::Guard guard = co_await std::move(first);
      EXPECT_TRUE(guard.owns());
    }
    // The slot went straight to the waiter, not to the counter.
    EXPECT_EQ(semaphore.value(), 0);
    Semaphore::Guard guard = co_await soon(third);
    EXPECT_TRUE(guard.owns());
  });
}

TEST_F(LocksTest, SemaphoreDefaultsToOneSlot) {
  Semaphore semaphore;
  EXPECT_EQ(semaphore.value(), 1);
  BoundedSemaphore bounded;
  EXPECT_EQ(bounded.value(), 1);
}

Future<void> acquire_then_record(Semaphore& semaphore, std::vector<int>& order, int id) {
  auto guard = co_await semaphore.acquire();
  order.push_back(id);
  guard.dismiss();  // the test releases by hand
}

TEST_F(LocksTest, SemaphoreReleaseWakesWaitersInFifoOrder) {
  run_sync([&]() -> Future<void> {
    Semaphore semaphore(0);
    std::vector<int> order;
    std::vector<Future<void>> waiters;
    for (int i = 0; i < 4; ++i) waiters.push_back(acquire_then_record(semaphore, order, i));
    for (int i = 0; i < 4; ++i) {
      semaphore.release();
      co_await soon(waiters[i]);
      co_await settle();
      EXPECT_EQ(order.size(), static_cast<std::size_t>(i + 1));
    }
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
    EXPECT_EQ(semaphore.value(), 0);
  });
}

TEST_F(LocksTest, SemaphoreReleaseWithoutWaitersRaisesTheValue) {
  Semaphore semaphore(1);
  semaphore.release();  // an unbounded semaphore may go past its initial value
  EXPECT_EQ(semaphore.value(), 2);
}

TEST_F(LocksTest, SemaphoreAcquireTimesOut) {
  run_sync([&]() -> Future<void> {
    Semaphore semaphore(0);
    auto start = IOLoop::current().time();
    EXPECT_THROW(co_await semaphore.acquire(20ms), TimeoutError);
    EXPECT_GE(IOLoop::current().time() - start, 20ms);
    EXPECT_EQ(semaphore.value(), 0);
  });
}

TEST_F(LocksTest, SemaphoreAcquireWithTimeoutSucceedsWhenReleasedInTime) {
  run_sync([&]() -> Future<void> {
    Semaphore semaphore(0);
    Future<Semaphore::Guard> waiter = semaphore.acquire(10s);
    semaphore.release();
    Semaphore::Guard guard = co_await soon(waiter);
    EXPECT_TRUE(guard.owns());
  });
}

TEST_F(LocksTest, SemaphoreTimedOutWaiterDoesNotConsumeARelease) {
  run_sync([&]() -> Future<void> {
    Semaphore semaphore(0);
    Future<Semaphore::Guard> timed = semaphore.acquire(10ms);
    Future<Semaphore::Guard> patient = semaphore.acquire();
    EXPECT_THROW(co_await soon(timed), TimeoutError);
    semaphore.release();
    Semaphore::Guard guard = co_await soon(patient);
    EXPECT_TRUE(guard.owns());
    EXPECT_EQ(semaphore.value(), 0);
    guard.release();
    EXPECT_EQ(semaphore.value(), 1);
  });
}

TEST_F(LocksTest, SemaphoreCancelledWaiterDoesNotConsumeARelease) {
  run_sync([&]() -> Future<void> {
    Semaphore semaphore(0);
    Future<Semaphore::Guard> cancelled = semaphore.acquire();
    Future<Semaphore::Guard> patient = semaphore.acquire();
    cancelled.cancel();
    semaphore.release();
    Semaphore::Guard guard = co_await soon(patient);
    EXPECT_TRUE(guard.owns());
    EXPECT_EQ(semaphore.value(), 0);
  });
}

TEST_F(LocksTest, SemaphoreGuardReleasesOnScopeExit) {
  run_sync([&]() -> Future<void> {
    Semaphore semaphore(1);
    {
      auto guard = co_await semaphore.acquire();
      EXPECT_EQ(semaphore.value(), 0);
    }
    EXPECT_EQ(semaphore.value(), 1);
  });
}

Future<void> hold_then_throw(Semaphore& semaphore) {
  auto guard = co_await semaphore.acquire();
  co_await gen::moment;
  throw std::runtime_error("boom");
}

TEST_F(LocksTest, SemaphoreGuardReleasesWhenTheCoroutineThrows) {
  run_sync([&]() -> Future<void> {
    Semaphore semaphore(1);
    Future<void> failing = hold_then_throw(semaphore);
    EXPECT_EQ(semaphore.value(), 0);
    EXPECT_THROW(co_await soon(failing), std::runtime_error);
    EXPECT_EQ(semaphore.value(), 1);
  });
}

TEST_F(LocksTest, SemaphoreGuardReleaseIsIdempotent) {
  run_sync([&]() -> Future<void> {
    Semaphore semaphore(1);
    {
      auto guard = co_await semaphore.acquire();
      guard.release();
      EXPECT_FALSE(guard.owns());
      EXPECT_EQ(semaphore.value(), 1);
      guard.release();
      EXPECT_EQ(semaphore.value(), 1);
    }
    EXPECT_EQ(semaphore.value(), 1);  // nor does the destructor release again
  });
}

TEST_F(LocksTest, SemaphoreGuardMovesItsSlot) {
  run_sync([&]() -> Future<void> {
    Semaphore semaphore(2);
    auto first = co_await semaphore.acquire();
    Semaphore::Guard moved(std::move(first));
    EXPECT_FALSE(first.owns());  // NOLINT(bugprone-use-after-move): checking the moved-from state
    EXPECT_TRUE(moved.owns());
    EXPECT_EQ(semaphore.value(), 1);
    auto second = co_await semaphore.acquire();
    EXPECT_EQ(semaphore.value(), 0);
    moved = std::move(second);  // releases the slot `moved` held
    EXPECT_EQ(semaphore.value(), 1);
    EXPECT_TRUE(moved.owns());
    Semaphore::Guard empty;
    EXPECT_FALSE(empty);
    moved = std::move(empty);
    EXPECT_EQ(semaphore.value(), 2);
  });
}

TEST_F(LocksTest, SemaphoreGuardDismissLeavesTheReleaseToTheCaller) {
  run_sync([&]() -> Future<void> {
    Semaphore semaphore(1);
    {
      auto guard = co_await semaphore.acquire();
      guard.dismiss();
      EXPECT_FALSE(guard.owns());
    }
    EXPECT_EQ(semaphore.value(), 0);
    semaphore.release();
    EXPECT_EQ(semaphore.value(), 1);
  });
}

TEST_F(LocksTest, SemaphoreUnawaitedAcquireReleasesItsSlotWhenDropped) {
  run_sync([&]() -> Future<void> {
    Semaphore semaphore(1);
    { Future<Semaphore::Guard> dropped = semaphore.acquire(); }
    EXPECT_EQ(semaphore.value(), 1);
    // A waiter handed the slot, then dropped unawaited, passes it on too.
    auto guard = co_await semaphore.acquire();
    { Future<Semaphore::Guard> dropped = semaphore.acquire(); }
    Future<Semaphore::Guard> next = semaphore.acquire();
    guard.release();
    EXPECT_TRUE(next.done());
    co_await soon(next);
    co_return;
  });
}

TEST_F(LocksTest, SemaphoreReleasePastManyAbandonedWaitersDoesNotRecurse) {
  run_sync([&]() -> Future<void> {
    Semaphore semaphore(0);
    // Waiters nobody holds any more: each one handed the slot releases it at once, which must
    // not nest one release() inside another for the whole run.
    for (int i = 0; i < 200000; ++i) {
      Future<Semaphore::Guard> dropped = semaphore.acquire();
    }
    Future<Semaphore::Guard> last = semaphore.acquire();
    semaphore.release();
    EXPECT_TRUE(last.done());
    EXPECT_EQ(semaphore.value(), 0);
    { Semaphore::Guard guard = co_await soon(last); }
    EXPECT_EQ(semaphore.value(), 1);
  });
}

struct WorkerLog {
  std::vector<std::string> lines;
  int working = 0;
  int most_working = 0;
};

Future<void> limited_worker(Semaphore& semaphore, WorkerLog& log, int id) {
  auto guard = co_await semaphore.acquire();
  log.lines.push_back("Worker " + std::to_string(id) + " is working");
  log.most_working = std::max(log.most_working, ++log.working);
  for (int i = 0; i <= id; ++i) co_await gen::moment;  // worker 0 finishes first
  --log.working;
  log.lines.push_back("Worker " + std::to_string(id) + " is done");
}

TEST_F(LocksTest, SemaphoreLimitsHowManyWorkersRunAtOnce) {
  WorkerLog log = run_sync([&]() -> Future<WorkerLog> {
    Semaphore semaphore(2);
    WorkerLog log;
    std::vector<Future<void>> workers;
    for (int i = 0; i < 3; ++i) workers.push_back(limited_worker(semaphore, log, i));
    co_await soon(gen::multi(std::move(workers)));
    EXPECT_EQ(semaphore.value(), 2);
    co_return log;
  });
  EXPECT_EQ(log.most_working, 2);
  EXPECT_EQ(log.lines, (std::vector<std::string>{"Worker 0 is working", "Worker 1 is working",
                                                 "Worker 0 is done", "Worker 2 is working",
                                                 "Worker 1 is done", "Worker 2 is done"}));
}

TEST_F(LocksTest, SemaphoreDestroyedWithWaitersCancelsThem) {
  run_sync([&]() -> Future<void> {
    auto semaphore = std::make_unique<Semaphore>(0);
    Future<Semaphore::Guard> waiter = semaphore->acquire();
    Future<Semaphore::Guard> timed = semaphore->acquire(10s);
    semaphore.reset();
    EXPECT_TRUE(waiter.cancelled());
    EXPECT_TRUE(timed.cancelled());
    EXPECT_THROW(co_await waiter, CancelledError);
  });
}

TEST_F(LocksTest, BoundedSemaphoreRejectsReleasePastItsInitialValue) {
  run_sync([&]() -> Future<void> {
    BoundedSemaphore semaphore(2);
    try {
      semaphore.release();
      ADD_FAILURE() << "over-release accepted";
    } catch (const InvalidStateError& error) {
      EXPECT_STREQ(error.what(), "Semaphore released too many times");
    }
    EXPECT_EQ(semaphore.value(), 2);
    auto guard = co_await semaphore.acquire();
    guard.dismiss();
    semaphore.release();  // back to 2: allowed
    EXPECT_EQ(semaphore.value(), 2);
    EXPECT_THROW(semaphore.release(), InvalidStateError);
  });
}

TEST_F(LocksTest, BoundedSemaphoreGuardAfterAManualReleaseLogsTheOverRelease) {
  run_sync([&]() -> Future<void> {
    BoundedSemaphore semaphore(1);
    testing::ExpectLog expect(log::gen_log(), "Semaphore released too many times");
    {
      auto guard = co_await semaphore.acquire();
      semaphore.release();  // a bug: the guard releases again when destroyed
    }
    EXPECT_EQ(expect.matched(), 1);
    EXPECT_EQ(semaphore.value(), 1);
  });
}

TEST_F(LocksTest, BoundedSemaphoreGuardReleaseThrowsOnOverRelease) {
  run_sync([&]() -> Future<void> {
    BoundedSemaphore semaphore(1);
    auto guard = co_await semaphore.acquire();
    semaphore.release();
    EXPECT_THROW(guard.release(), InvalidStateError);
    EXPECT_FALSE(guard.owns());  // and the guard is done with it
  });
}

// ---- Lock ----------------------------------------------------------------------------------

TEST_F(LocksTest, LockAcquireLocksAndTheGuardUnlocks) {
  run_sync([&]() -> Future<void> {
    Lock lock;
    EXPECT_FALSE(lock.locked());
    {
      Lock::Guard guard = co_await lock.acquire();
      EXPECT_TRUE(lock.locked());
      EXPECT_TRUE(guard.owns());
    }
    EXPECT_FALSE(lock.locked());
  });
}

TEST_F(LocksTest, LockReleaseOfAnUnlockedLockThrows) {
  Lock lock;
  try {
    lock.release();
    ADD_FAILURE() << "released an unlocked lock";
  } catch (const InvalidStateError& error) {
    EXPECT_STREQ(error.what(), "release unlocked lock");
  }
  EXPECT_FALSE(lock.locked());
}

TEST_F(LocksTest, LockReleaseByHandPassesTheLockToTheFirstWaiter) {
  run_sync([&]() -> Future<void> {
    Lock lock;
    (co_await lock.acquire()).dismiss();
    Future<Lock::Guard> next = lock.acquire();
    co_await settle();
    EXPECT_FALSE(next.done());
    lock.release();
    EXPECT_TRUE(lock.locked());  // now held by `next`
    Lock::Guard guard = co_await soon(next);
    guard.release();
    EXPECT_FALSE(lock.locked());
    EXPECT_THROW(lock.release(), InvalidStateError);
  });
}

Future<void> take_lock_in_turn(Lock& lock, std::vector<int>& order, int& holders, int id) {
  auto guard = co_await lock.acquire();
  EXPECT_EQ(++holders, 1);
  order.push_back(id);
  co_await gen::moment;
  co_await gen::moment;
  --holders;
}

TEST_F(LocksTest, LockIsGrantedInFifoOrderToOneHolderAtATime) {
  std::vector<int> order = run_sync([&]() -> Future<std::vector<int>> {
    Lock lock;
    std::vector<int> order;
    int holders = 0;
    std::vector<Future<void>> takers;
    for (int i = 0; i < 5; ++i) takers.push_back(take_lock_in_turn(lock, order, holders, i));
    co_await soon(gen::multi(std::move(takers)));
    EXPECT_FALSE(lock.locked());
    co_return order;
  });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST_F(LocksTest, LockAcquireTimesOut) {
  run_sync([&]() -> Future<void> {
    Lock lock;
    auto guard = co_await lock.acquire();
    auto start = IOLoop::current().time();
    EXPECT_THROW(co_await lock.acquire(20ms), TimeoutError);
    EXPECT_GE(IOLoop::current().time() - start, 20ms);
    EXPECT_TRUE(lock.locked());
    EXPECT_TRUE(guard.owns());
  });
}

TEST_F(LocksTest, LockTimedOutWaiterIsSkipped) {
  run_sync([&]() -> Future<void> {
    Lock lock;
    auto guard = co_await lock.acquire();
    Future<Lock::Guard> timed = lock.acquire(10ms);
    Future<Lock::Guard> patient = lock.acquire();
    EXPECT_THROW(co_await soon(timed), TimeoutError);
    guard.release();
    Lock::Guard next = co_await soon(patient);
    EXPECT_TRUE(next.owns());
    EXPECT_TRUE(lock.locked());
    next.release();
    EXPECT_FALSE(lock.locked());
  });
}

Future<void> lock_then_throw(Lock& lock) {
  auto guard = co_await lock.acquire();
  co_await gen::moment;
  throw std::runtime_error("inside the critical section");
}

TEST_F(LocksTest, LockGuardReleasesAcrossACoroutineException) {
  run_sync([&]() -> Future<void> {
    Lock lock;
    Future<void> failing = lock_then_throw(lock);
    Future<Lock::Guard> next = lock.acquire();
    try {
      co_await soon(failing);
      ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error& error) {
      EXPECT_STREQ(error.what(), "inside the critical section");
    }
    Lock::Guard guard = co_await soon(next);
    EXPECT_TRUE(guard.owns());
  });
}

TEST_F(LocksTest, LockDestroyedWithWaitersCancelsThem) {
  run_sync([&]() -> Future<void> {
    auto lock = std::make_unique<Lock>();
    (co_await lock->acquire()).dismiss();
    Future<Lock::Guard> waiter = lock->acquire();
    lock.reset();
    EXPECT_TRUE(waiter.cancelled());
    EXPECT_THROW(co_await waiter, CancelledError);
  });
}

TEST_F(LocksTest, LockTimerOutlivingTheLockIsHarmless) {
  run_sync([&]() -> Future<void> {
    Future<Lock::Guard> timed;
    {
      Lock lock;
      (co_await lock.acquire()).dismiss();
      timed = lock.acquire(10ms);
    }
    EXPECT_TRUE(timed.cancelled());
    // Past the deadline, the timer (if it were still armed) finds the Future done.
    co_await gen::sleep(20ms);
    EXPECT_TRUE(timed.cancelled());
  });
}

}  // namespace
}  // namespace squall
