#include "squall/core/queues.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "squall/core/gen.hpp"
#include "squall/testing/testing.hpp"

namespace squall {
namespace {

using namespace std::chrono_literals;

class QueuesTest : public testing::AsyncTest {};

/// Awaits `future` for at most a second: what a test expects to complete soon.
template <class T>
Future<T> soon(const Future<T>& future) {
  return gen::with_timeout(1s, future);
}

/// Lets the loop run what is ready a few times, so that anything woken already has resumed.
Future<void> settle() {
  for (int i = 0; i < 3; ++i) co_await gen::moment;
}

// ---- Sizes and the non-blocking calls ------------------------------------------------------

TEST_F(QueuesTest, QueueStartsEmptyWithItsMaxsize) {
  Queue<int> q(2);
  EXPECT_EQ(q.maxsize(), 2u);
  EXPECT_EQ(q.qsize(), 0u);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.full());
  q.put_nowait(1);
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_FALSE(q.empty());
  EXPECT_FALSE(q.full());
  q.put_nowait(2);
  EXPECT_EQ(q.qsize(), 2u);
  EXPECT_TRUE(q.full());
}

TEST_F(QueuesTest, QueueWithoutMaxsizeIsNeverFull) {
  Queue<int> q;
  EXPECT_EQ(q.maxsize(), 0u);
  for (int i = 0; i < 1000; ++i) q.put_nowait(i);
  EXPECT_EQ(q.qsize(), 1000u);
  EXPECT_FALSE(q.full());
}

TEST_F(QueuesTest, QueuePutNowaitAndGetNowaitAreFirstInFirstOut) {
  Queue<std::string> q;
  q.put_nowait("a");
  q.put_nowait("b");
  q.put_nowait("c");
  EXPECT_EQ(q.get_nowait(), "a");
  EXPECT_EQ(q.get_nowait(), "b");
  EXPECT_EQ(q.get_nowait(), "c");
  EXPECT_TRUE(q.empty());
}

TEST_F(QueuesTest, QueueGetNowaitOnAnEmptyQueueThrowsQueueEmpty) {
  Queue<int> q;
  try {
    q.get_nowait();
    ADD_FAILURE() << "no exception";
  } catch (const QueueEmpty& error) {
    EXPECT_STREQ(error.what(), "Queue is empty");
  }
  EXPECT_THROW(q.get_nowait(), Error);  // QueueEmpty is a squall::Error
}

TEST_F(QueuesTest, QueuePutNowaitOnAFullQueueThrowsQueueFull) {
  Queue<int> q(1);
  q.put_nowait(1);
  try {
    q.put_nowait(2);
    ADD_FAILURE() << "no exception";
  } catch (const QueueFull& error) {
    EXPECT_STREQ(error.what(), "Queue is full");
  }
  EXPECT_THROW(q.put_nowait(3), Error);
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_EQ(q.get_nowait(), 1);
}

// ---- get -----------------------------------------------------------------------------------

TEST_F(QueuesTest, QueueGetOfAnAvailableItemCompletesAtOnce) {
  run_sync([&]() -> Future<void> {
    Queue<int> q;
    q.put_nowait(7);
    Future<int> got = q.get(1s);
    EXPECT_TRUE(got.done());
    EXPECT_EQ(co_await got, 7);
  });
}

TEST_F(QueuesTest, QueueGetWaitsForAPutThatHandsTheItemOver) {
  run_sync([&]() -> Future<void> {
    Queue<int> q(1);
    Future<int> getter = q.get();
    co_await settle();
    EXPECT_FALSE(getter.done());
    Future<void> put = q.put(42);
    EXPECT_TRUE(put.done());
    EXPECT_EQ(q.qsize(), 0u);  // straight to the getter, not through the queue
    EXPECT_EQ(co_await soon(getter), 42);
  });
}

TEST_F(QueuesTest, QueuePutNowaitHandsTheItemToAWaitingGetter) {
  run_sync([&]() -> Future<void> {
    Queue<int> q;
    Future<int> getter = q.get();
    q.put_nowait(5);
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(co_await soon(getter), 5);
  });
}

TEST_F(QueuesTest, QueueGetTimesOut) {
  run_sync([&]() -> Future<void> {
    Queue<int> q;
    auto start = IOLoop::current().time();
    EXPECT_THROW(co_await q.get(20ms), TimeoutError);
    EXPECT_GE(IOLoop::current().time() - start, 20ms);
    // The queue works as before.
    q.put_nowait(1);
    EXPECT_EQ(q.qsize(), 1u);
    EXPECT_EQ(co_await q.get(), 1);
  });
}

TEST_F(QueuesTest, QueueGetWithTimeoutSucceedsWhenAnItemComesInTime) {
  run_sync([&]() -> Future<void> {
    Queue<int> q;
    Future<int> getter = q.get(10s);
    IOLoop::current().add_callback([&q] { q.put_nowait(3); });
    EXPECT_EQ(co_await soon(getter), 3);
  });
}

TEST_F(QueuesTest, QueueTimedOutGetterIsSkipped) {
  run_sync([&]() -> Future<void> {
    Queue<int> q;
    Future<int> timed = q.get(10ms);
    Future<int> patient = q.get();
    EXPECT_THROW(co_await soon(timed), TimeoutError);
    q.put_nowait(1);
    EXPECT_EQ(co_await soon(patient), 1);
    EXPECT_TRUE(q.empty());
  });
}

TEST_F(QueuesTest, QueueCancelledGetterIsSkipped) {
  run_sync([&]() -> Future<void> {
    Queue<int> q;
    Future<int> cancelled = q.get();
    Future<int> patient = q.get();
    cancelled.cancel();
    q.put_nowait(1);
    EXPECT_EQ(co_await soon(patient), 1);
    EXPECT_TRUE(cancelled.cancelled());
    // With no getter left, the next item stays in the queue.
    q.put_nowait(2);
    EXPECT_EQ(q.qsize(), 1u);
  });
}

TEST_F(QueuesTest, QueueGettersAreServedInFifoOrder) {
  run_sync([&]() -> Future<void> {
    Queue<int> q;
    std::vector<Future<int>> getters;
    for (int i = 0; i < 4; ++i) getters.push_back(q.get());
    for (int i = 0; i < 4; ++i) q.put_nowait(i * 10);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(co_await soon(getters[i]), i * 10);
  });
}

// ---- put -----------------------------------------------------------------------------------

TEST_F(QueuesTest, QueuePutBlocksWhileTheQueueIsFull) {
  run_sync([&]() -> Future<void> {
    Queue<int> q(1);
    co_await q.put(1);
    Future<void> blocked = q.put(2);
    co_await settle();
    EXPECT_FALSE(blocked.done());
    EXPECT_EQ(q.qsize(), 1u);
    EXPECT_EQ(co_await q.get(), 1);
    co_await soon(blocked);
    EXPECT_EQ(q.qsize(), 1u);
    EXPECT_TRUE(q.full());
    EXPECT_EQ(co_await q.get(), 2);
    EXPECT_TRUE(q.empty());
  });
}

TEST_F(QueuesTest, QueuePutTimesOutAndDropsItsItem) {
  run_sync([&]() -> Future<void> {
    Queue<int> q(1);
    q.put_nowait(1);
    auto start = IOLoop::current().time();
    EXPECT_THROW(co_await q.put(2, 20ms), TimeoutError);
    EXPECT_GE(IOLoop::current().time() - start, 20ms);
    EXPECT_EQ(q.qsize(), 1u);
    EXPECT_EQ(q.get_nowait(), 1);
    EXPECT_THROW(q.get_nowait(), QueueEmpty);  // 2 never went in
  });
}

TEST_F(QueuesTest, QueuePutWithTimeoutSucceedsWhenRoomComesInTime) {
  run_sync([&]() -> Future<void> {
    Queue<int> q(1);
    q.put_nowait(1);
    Future<void> put = q.put(2, 10s);
    EXPECT_EQ(q.get_nowait(), 1);
    co_await soon(put);
    EXPECT_EQ(q.get_nowait(), 2);
  });
}

TEST_F(QueuesTest, QueueTimedOutPutterIsSkipped) {
  run_sync([&]() -> Future<void> {
    Queue<int> q(1);
    q.put_nowait(1);
    Future<void> timed = q.put(2, 10ms);
    Future<void> patient = q.put(3);
    EXPECT_THROW(co_await soon(timed), TimeoutError);
    EXPECT_EQ(q.get_nowait(), 1);
    co_await soon(patient);
    EXPECT_EQ(q.get_nowait(), 3);
    EXPECT_TRUE(q.empty());
  });
}

TEST_F(QueuesTest, QueueCancelledPutterIsSkipped) {
  run_sync([&]() -> Future<void> {
    Queue<int> q(1);
    q.put_nowait(1);
    Future<void> cancelled = q.put(2);
    Future<void> patient = q.put(3);
    cancelled.cancel();
    EXPECT_EQ(q.get_nowait(), 1);
    co_await soon(patient);
    EXPECT_EQ(q.get_nowait(), 3);
    EXPECT_THROW(q.get_nowait(), QueueEmpty);
  });
}

TEST_F(QueuesTest, QueuePuttersAreServedInFifoOrder) {
  run_sync([&]() -> Future<void> {
    Queue<int> q(1);
    q.put_nowait(0);
    std::vector<Future<void>> putters;
    for (int i = 1; i <= 3; ++i) putters.push_back(q.put(i));
    for (int i = 0; i <= 3; ++i) {
      EXPECT_EQ(co_await q.get(), i);
      if (i < 3) {
        co_await soon(putters[i]);
        EXPECT_TRUE(q.full());
      }
    }
    EXPECT_TRUE(q.empty());
  });
}

TEST_F(QueuesTest, QueueGetFromAFullQueueLetsTheFirstPutterIn) {
  run_sync([&]() -> Future<void> {
    Queue<int> q(2);
    q.put_nowait(1);
    q.put_nowait(2);
    Future<void> putter = q.put(3);
    EXPECT_FALSE(putter.done());
    EXPECT_EQ(q.get_nowait(), 1);
    EXPECT_TRUE(putter.done());  // done inside get_nowait; its coroutine resumes later
    EXPECT_EQ(q.qsize(), 2u);
    co_await soon(putter);
    EXPECT_EQ(q.get_nowait(), 2);
    EXPECT_EQ(q.get_nowait(), 3);
  });
}

TEST_F(QueuesTest, QueueManyTimedOutGettersLeaveTheLiveGetterServed) {
  run_sync([&]() -> Future<void> {
    Queue<int> q;
    Future<int> patient = q.get();
    for (int i = 0; i < 300; ++i) {
      EXPECT_THROW(co_await q.get(IOLoop::current().time()), TimeoutError);
    }
    q.put_nowait(9);
    EXPECT_EQ(co_await soon(patient), 9);
  });
}

// ---- task_done and join --------------------------------------------------------------------

TEST_F(QueuesTest, QueueTaskDoneCalledTooManyTimesThrows) {
  Queue<int> q;
  try {
    q.task_done();
    ADD_FAILURE() << "no exception";
  } catch (const InvalidStateError& error) {
    EXPECT_STREQ(error.what(), "task_done() called too many times");
  }
  q.put_nowait(1);
  EXPECT_EQ(q.get_nowait(), 1);
  EXPECT_NO_THROW(q.task_done());
  EXPECT_THROW(q.task_done(), InvalidStateError);
}

TEST_F(QueuesTest, QueueJoinWithNoUnfinishedTaskCompletesAtOnce) {
  run_sync([&]() -> Future<void> {
    Queue<int> q;
    Future<void> joined = q.join();
    EXPECT_TRUE(joined.done());
    co_await joined;
    Future<void> timed = q.join(1ms);
    EXPECT_TRUE(timed.done());
    co_await timed;
  });
}

TEST_F(QueuesTest, QueueJoinWaitsUntilEveryItemIsMarkedDone) {
  run_sync([&]() -> Future<void> {
    Queue<int> q;
    for (int i = 0; i < 3; ++i) q.put_nowait(i);
    Future<void> joined = q.join();
    for (int i = 0; i < 3; ++i) EXPECT_EQ(q.get_nowait(), i);
    co_await settle();
    EXPECT_FALSE(joined.done());  // taken out is not done yet
    q.task_done();
    q.task_done();
    co_await settle();
    EXPECT_FALSE(joined.done());
    q.task_done();
    co_await soon(joined);
    // A new item makes join wait again.
    q.put_nowait(4);
    Future<void> again = q.join();
    co_await settle();
    EXPECT_FALSE(again.done());
    EXPECT_EQ(q.get_nowait(), 4);
    q.task_done();
    co_await soon(again);
  });
}

TEST_F(QueuesTest, QueueJoinTimesOut) {
  run_sync([&]() -> Future<void> {
    Queue<int> q;
    q.put_nowait(1);
    auto start = IOLoop::current().time();
    EXPECT_THROW(co_await q.join(20ms), TimeoutError);
    EXPECT_GE(IOLoop::current().time() - start, 20ms);
    EXPECT_EQ(q.get_nowait(), 1);
    q.task_done();
    co_await soon(q.join(1s));
  });
}

TEST_F(QueuesTest, QueueItemHandedToAGetterCountsAsAnUnfinishedTask) {
  run_sync([&]() -> Future<void> {
    Queue<int> q;
    Future<int> getter = q.get();
    q.put_nowait(1);
    EXPECT_EQ(co_await soon(getter), 1);
    Future<void> joined = q.join();
    co_await settle();
    EXPECT_FALSE(joined.done());
    q.task_done();
    co_await soon(joined);
  });
}

TEST_F(QueuesTest, QueueItemOfAWaitingPutterCountsOnceItIsIn) {
  run_sync([&]() -> Future<void> {
    Queue<int> q(1);
    q.put_nowait(1);
    Future<void> timed = q.put(2, 10ms);  // never goes in: not a task
    EXPECT_THROW(co_await soon(timed), TimeoutError);
    Future<void> putter = q.put(3);  // goes in once there is room: a task
    EXPECT_EQ(q.get_nowait(), 1);
    co_await soon(putter);
    EXPECT_EQ(q.get_nowait(), 3);
    q.task_done();
    Future<void> joined = q.join();
    co_await settle();
    EXPECT_FALSE(joined.done());
    q.task_done();
    co_await soon(joined);
    EXPECT_THROW(q.task_done(), InvalidStateError);
  });
}

// ---- PriorityQueue and LifoQueue -----------------------------------------------------------

TEST_F(QueuesTest, PriorityQueueGivesTheSmallestItemFirst) {
  PriorityQueue<std::pair<int, std::string>> q;
  q.put_nowait({1, "medium-priority item"});
  q.put_nowait({0, "high-priority item"});
  q.put_nowait({10, "low-priority item"});
  EXPECT_EQ(q.get_nowait().second, "high-priority item");
  EXPECT_EQ(q.get_nowait().second, "medium-priority item");
  EXPECT_EQ(q.get_nowait().second, "low-priority item");
  EXPECT_TRUE(q.empty());
}

TEST_F(QueuesTest, PriorityQueueOrdersManyItems) {
  PriorityQueue<int> q;
  std::vector<int> items = {5, 3, 9, 1, 7, 3, 0, 8, 2, 6, 4};
  for (int item : items) q.put_nowait(item);
  std::vector<int> out;
  while (!q.empty()) out.push_back(q.get_nowait());
  std::sort(items.begin(), items.end());
  EXPECT_EQ(out, items);
}

TEST_F(QueuesTest, PriorityQueueTakesACustomCompare) {
  PriorityQueue<int, std::greater<int>> q;
  for (int item : {2, 9, 4}) q.put_nowait(item);
  EXPECT_EQ(q.get_nowait(), 9);
  EXPECT_EQ(q.get_nowait(), 4);
  EXPECT_EQ(q.get_nowait(), 2);
}

TEST_F(QueuesTest, PriorityQueueWithMaxsizeLetsAWaitingPutterInBeforeItGives) {
  run_sync([&]() -> Future<void> {
    PriorityQueue<int> q(2);
    q.put_nowait(5);
    q.put_nowait(3);
    EXPECT_THROW(q.put_nowait(0), QueueFull);
    Future<void> putter = q.put(1);
    // As in Tornado, the waiting putter's item goes in first, so the smallest of all three
    // comes out.
    EXPECT_EQ(co_await q.get(), 1);
    co_await soon(putter);
    EXPECT_TRUE(q.full());
    EXPECT_EQ(q.get_nowait(), 3);
    EXPECT_EQ(q.get_nowait(), 5);
  });
}

TEST_F(QueuesTest, LifoQueueGivesTheLastItemFirst) {
  LifoQueue<int> q;
  q.put_nowait(3);
  q.put_nowait(2);
  q.put_nowait(1);
  EXPECT_EQ(q.get_nowait(), 1);
  EXPECT_EQ(q.get_nowait(), 2);
  EXPECT_EQ(q.get_nowait(), 3);
  EXPECT_THROW(q.get_nowait(), QueueEmpty);
}

TEST_F(QueuesTest, LifoQueueWithMaxsizeBlocksProducers) {
  run_sync([&]() -> Future<void> {
    LifoQueue<int> q(2);
    co_await q.put(1);
    co_await q.put(2);
    EXPECT_TRUE(q.full());
    Future<void> putter = q.put(3);
    co_await settle();
    EXPECT_FALSE(putter.done());
    // As in Tornado, the waiting putter's item goes in first, so it is the last one in.
    EXPECT_EQ(co_await q.get(), 3);
    co_await soon(putter);
    EXPECT_TRUE(q.full());
    EXPECT_EQ(q.get_nowait(), 2);
    EXPECT_EQ(q.get_nowait(), 1);
  });
}

// ---- Move-only items -----------------------------------------------------------------------

TEST_F(QueuesTest, QueueHoldsMoveOnlyItems) {
  run_sync([&]() -> Future<void> {
    Queue<std::unique_ptr<int>> q(1);
    Future<std::unique_ptr<int>> getter = q.get();
    co_await q.put(std::make_unique<int>(1));  // handed to the waiting getter
    std::unique_ptr<int> first = co_await soon(getter);
    EXPECT_TRUE(first && *first == 1);

    q.put_nowait(std::make_unique<int>(2));
    Future<void> putter = q.put(std::make_unique<int>(3));  // waits, holding its item
    std::unique_ptr<int> second = co_await q.get();
    EXPECT_EQ(*second, 2);
    co_await soon(putter);
    std::unique_ptr<int> third = q.get_nowait();
    EXPECT_EQ(*third, 3);
  });
}

TEST_F(QueuesTest, PriorityAndLifoQueuesHoldMoveOnlyItems) {
  struct ByValue {
    bool operator()(const std::unique_ptr<int>& a, const std::unique_ptr<int>& b) const {
      return *a < *b;
    }
  };
  PriorityQueue<std::unique_ptr<int>, ByValue> priority;
  for (int item : {4, 1, 3}) priority.put_nowait(std::make_unique<int>(item));
  EXPECT_EQ(*priority.get_nowait(), 1);
  EXPECT_EQ(*priority.get_nowait(), 3);
  EXPECT_EQ(*priority.get_nowait(), 4);

  LifoQueue<std::unique_ptr<int>> lifo;
  for (int item : {4, 1, 3}) lifo.put_nowait(std::make_unique<int>(item));
  EXPECT_EQ(*lifo.get_nowait(), 3);
  EXPECT_EQ(*lifo.get_nowait(), 1);
  EXPECT_EQ(*lifo.get_nowait(), 4);
}

// ---- Destruction ---------------------------------------------------------------------------

TEST_F(QueuesTest, QueueDestroyedWithWaitersCancelsThem) {
  run_sync([&]() -> Future<void> {
    auto empty = std::make_unique<Queue<int>>();
    Future<int> getter = empty->get();
    Future<int> timed_getter = empty->get(10s);
    empty.reset();
    EXPECT_TRUE(getter.cancelled());
    EXPECT_TRUE(timed_getter.cancelled());
    EXPECT_THROW(co_await getter, CancelledError);

    auto full = std::make_unique<Queue<std::unique_ptr<int>>>(1);
    full->put_nowait(std::make_unique<int>(1));
    Future<void> putter = full->put(std::make_unique<int>(2), 10s);
    Future<void> joiner = full->join();
    full.reset();
    EXPECT_TRUE(putter.cancelled());
    EXPECT_TRUE(joiner.cancelled());
    EXPECT_THROW(co_await joiner, CancelledError);
  });
}

// ---- A pipeline of producers and consumers -------------------------------------------------

Future<void> producer(Queue<int>& q, int first, int count, std::size_t& most_queued) {
  for (int item = first; item < first + count; ++item) {
    co_await q.put(item);
    most_queued = std::max(most_queued, q.qsize());
  }
}

/// Squares items from `in` into `out` forever, marking each done once it is passed on.
Future<void> worker(Queue<int>& in, Queue<int>& out) {
  for (;;) {
    int item = co_await in.get();
    co_await gen::moment;  // some work
    co_await out.put(item * item);
    in.task_done();
  }
}

Future<void> collector(Queue<int>& in, std::vector<int>& results) {
  for (;;) {
    results.push_back(co_await in.get());
    in.task_done();
  }
}

TEST_F(QueuesTest, QueueCarriesItemsThroughAPipelineOfCoroutines) {
  std::vector<int> results = run_sync([&]() -> Future<std::vector<int>> {
    auto work = std::make_unique<Queue<int>>(2);
    auto done = std::make_unique<Queue<int>>(3);
    std::vector<int> results;
    std::size_t most_queued = 0;
    std::vector<Future<void>> consumers;
    for (int i = 0; i < 3; ++i) consumers.push_back(worker(*work, *done));
    consumers.push_back(collector(*done, results));
    std::vector<Future<void>> producers;
    for (int p = 0; p < 4; ++p) producers.push_back(producer(*work, p * 100, 25, most_queued));
    co_await soon(gen::multi(std::move(producers)));
    co_await soon(work->join());
    co_await soon(done->join());
    EXPECT_LE(most_queued, 2u);
    EXPECT_TRUE(work->empty());
    EXPECT_TRUE(done->empty());
    // The consumers loop forever, as in Tornado's example; destroying their queues cancels the
    // gets they wait on, which ends them.
    for (const auto& consumer : consumers) EXPECT_FALSE(consumer.done());
    work.reset();
    done.reset();
    for (const auto& consumer : consumers) EXPECT_THROW(co_await soon(consumer), CancelledError);
    co_return results;
  });
  std::vector<int> expected;
  for (int p = 0; p < 4; ++p) {
    for (int item = p * 100; item < p * 100 + 25; ++item) expected.push_back(item * item);
  }
  std::sort(results.begin(), results.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(results, expected);
}

Future<void> doc_consumer(Queue<int>& q, std::vector<std::string>& log) {
  for (;;) {
    int item = co_await q.get();
    log.push_back("Doing work on " + std::to_string(item));
    co_await gen::moment;
    q.task_done();
  }
}

Future<void> doc_producer(Queue<int>& q, std::vector<std::string>& log) {
  for (int item = 0; item < 5; ++item) {
    co_await q.put(item);
    log.push_back("Put " + std::to_string(item));
  }
}

TEST_F(QueuesTest, QueueRunsTornadosProducerConsumerExample) {
  std::vector<std::string> log = run_sync([&]() -> Future<std::vector<std::string>> {
    auto q = std::make_unique<Queue<int>>(2);
    std::vector<std::string> log;
    Future<void> consumer = doc_consumer(*q, log);
    co_await soon(doc_producer(*q, log));
    co_await soon(q->join());
    log.push_back("Done");
    EXPECT_FALSE(consumer.done());
    q.reset();
    EXPECT_THROW(co_await soon(consumer), CancelledError);
    co_return log;
  });
  // Every item is put before it is worked on, each is worked on once and in order, and join
  // waits for the last one.
  std::vector<std::string> work;
  for (const auto& line : log) {
    if (line.starts_with("Doing")) work.push_back(line);
  }
  EXPECT_EQ(work, (std::vector<std::string>{"Doing work on 0", "Doing work on 1", "Doing work on 2",
                                            "Doing work on 3", "Doing work on 4"}));
  for (int item = 0; item < 5; ++item) {
    auto put = std::find(log.begin(), log.end(), "Put " + std::to_string(item));
    auto worked = std::find(log.begin(), log.end(), "Doing work on " + std::to_string(item));
    ASSERT_NE(put, log.end());
    EXPECT_LT(put, worked) << "item " << item;
  }
  EXPECT_EQ(log.back(), "Done");
  EXPECT_EQ(log.size(), 11u);
}

}  // namespace
}  // namespace squall
