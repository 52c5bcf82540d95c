// The loop's private timer structure, checked against a plain ordered model.
#include "core/timer_queue.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <utility>
#include <vector>

namespace squall::detail {
namespace {

constexpr std::int64_t kMs = 1'000'000;

/// Adds a timer that records its id in `fired` when run.
TimerQueue::Handle add(TimerQueue& queue, std::int64_t when, int id, std::vector<int>& fired) {
  return queue.add(when, [&fired, id] { fired.push_back(id); });
}

/// Runs every timer due at `now`, in the queue's order.
void run_due(TimerQueue& queue, std::int64_t now) {
  Callback cb;
  while (queue.pop_due(now, cb)) {
    cb();
    cb.reset();
  }
}

TEST(TimerQueueTest, FiresInDeadlineOrderThenInsertionOrder) {
  TimerQueue queue;
  std::vector<int> fired;
  const std::int64_t base = 1'000 * kMs;
  add(queue, base + 5 * kMs, 1, fired);
  add(queue, base + 1 * kMs, 2, fired);
  add(queue, base + 5 * kMs, 3, fired);          // same deadline as 1: after it
  add(queue, base + 3'600'000 * kMs, 4, fired);  // an hour later
  add(queue, base - 50 * kMs, 5, fired);         // in the past
  run_due(queue, base + 10 * kMs);
  EXPECT_EQ(fired, (std::vector<int>{5, 2, 1, 3}));
  EXPECT_EQ(queue.size(), 1u);
  std::int64_t next = 0;
  ASSERT_TRUE(queue.next_deadline(next));
  EXPECT_EQ(next, base + 3'600'000 * kMs);  // exact: nothing was cancelled
}

TEST(TimerQueueTest, AFarTimerDoesNotPullTheWheelAhead) {
  // Pulling the hour-away slot early would file every nearer timer in the side heap.
  TimerQueue queue;
  std::vector<int> fired;
  const std::int64_t now = 7'000 * kMs;
  run_due(queue, now);
  add(queue, now + 3'600'000 * kMs, 1, fired);
  std::int64_t next = 0;
  ASSERT_TRUE(queue.next_deadline(next));
  run_due(queue, now + kMs);
  for (int i = 0; i < 100; ++i) add(queue, now + (i + 2) * kMs, 100 + i, fired);
  run_due(queue, now + 200 * kMs);
  ASSERT_EQ(fired.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(fired[static_cast<std::size_t>(i)], 100 + i);
  ASSERT_TRUE(queue.next_deadline(next));
  EXPECT_EQ(next, now + 3'600'000 * kMs);
}

TEST(TimerQueueTest, NeverFiresBeforeTheDeadline) {
  TimerQueue queue;
  std::vector<int> fired;
  const std::int64_t when = 5'000 * kMs + 123;
  add(queue, when, 1, fired);
  run_due(queue, when - 1);
  EXPECT_TRUE(fired.empty());
  run_due(queue, when);
  EXPECT_EQ(fired, std::vector<int>{1});
}

TEST(TimerQueueTest, CancelIsIdempotentAndRejectsStaleHandles) {
  TimerQueue queue;
  std::vector<int> fired;
  auto a = add(queue, 10 * kMs, 1, fired);
  auto b = add(queue, 20 * kMs, 2, fired);
  EXPECT_TRUE(queue.cancel(a));
  EXPECT_FALSE(queue.cancel(a));
  EXPECT_EQ(queue.size(), 1u);
  run_due(queue, 30 * kMs);
  EXPECT_EQ(fired, std::vector<int>{2});
  EXPECT_FALSE(queue.cancel(b));            // fired already
  auto c = add(queue, 40 * kMs, 3, fired);  // may reuse a's or b's slot
  EXPECT_FALSE(queue.cancel(a));
  EXPECT_FALSE(queue.cancel(b));
  EXPECT_TRUE(queue.cancel(c));
  std::int64_t next = 0;
  EXPECT_FALSE(queue.next_deadline(next));
}

TEST(TimerQueueTest, ExtremeDeadlinesAreOrdered) {
  TimerQueue queue;
  std::vector<int> fired;
  add(queue, INT64_MAX, 1, fired);
  add(queue, INT64_MIN, 2, fired);
  add(queue, 0, 3, fired);
  add(queue, INT64_MAX / 2, 4, fired);
  run_due(queue, INT64_MAX);
  EXPECT_EQ(fired, (std::vector<int>{2, 3, 4, 1}));
}

TEST(TimerQueueTest, ClearDropsEverythingWithoutRunning) {
  TimerQueue queue;
  std::vector<int> fired;
  for (int i = 0; i < 1000; ++i) add(queue, (i % 37) * kMs * 100, i, fired);
  queue.clear();
  EXPECT_EQ(queue.size(), 0u);
  run_due(queue, INT64_MAX);
  EXPECT_TRUE(fired.empty());
}

// Random adds (near, far, past, equal deadlines), cancels (enough to trigger compaction) and
// advances of `now`, compared step by step with a std::map keyed by (deadline, insertion).
TEST(TimerQueueTest, MatchesAnOrderedModelUnderRandomOperations) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 random(seed);
    TimerQueue queue;
    std::vector<int> fired;
    std::map<std::pair<std::int64_t, int>, TimerQueue::Handle> model;
    std::vector<std::pair<std::pair<std::int64_t, int>, TimerQueue::Handle>> live;
    std::int64_t now = static_cast<std::int64_t>(random() % 1'000'000) * kMs;
    int next_id = 0;
    for (int step = 0; step < 20'000; ++step) {
      unsigned op = random() % 100;
      if (op < 55) {
        std::int64_t delay;
        switch (random() % 5) {
          case 0:
            delay = static_cast<std::int64_t>(random() % 2'000'000);
            break;  // < 2 ms
          case 1:
            delay = static_cast<std::int64_t>(random() % (200 * kMs));
            break;
          case 2:
            delay = static_cast<std::int64_t>(random() % (100'000 * kMs));
            break;
          case 3:
            delay = -static_cast<std::int64_t>(random() % (5 * kMs));
            break;  // past
          default:
            delay = static_cast<std::int64_t>(random() % 4) * kMs;
            break;  // collisions
        }
        int id = next_id++;
        auto key = std::make_pair(now + delay, id);
        auto handle = add(queue, now + delay, id, fired);
        model.emplace(key, handle);
        live.emplace_back(key, handle);
      } else if (op < 80 && !live.empty()) {
        std::size_t pick = random() % live.size();
        auto [key, handle] = live[pick];
        live[pick] = live.back();
        live.pop_back();
        bool pending = model.erase(key) > 0;
        ASSERT_EQ(queue.cancel(handle), pending) << "seed " << seed << " step " << step;
      } else {
        now += static_cast<std::int64_t>(random() % (50 * kMs));
        std::vector<int> expected;
        while (!model.empty() && model.begin()->first.first <= now) {
          expected.push_back(model.begin()->first.second);
          model.erase(model.begin());
        }
        fired.clear();
        run_due(queue, now);
        ASSERT_EQ(fired, expected) << "seed " << seed << " step " << step;
        // Once the due timers ran, the next wake-up is in the future: the loop cannot spin.
        std::int64_t next = 0;
        if (queue.next_deadline(next)) {
          ASSERT_GT(next, now) << "seed " << seed << " step " << step;
        }
      }
      ASSERT_EQ(queue.size(), model.size()) << "seed " << seed << " step " << step;
      std::int64_t next = 0;
      ASSERT_EQ(queue.next_deadline(next), !model.empty());
      // A lower bound: waking then never misses a timer (exact when nothing was cancelled).
      if (!model.empty()) {
        ASSERT_LE(next, model.begin()->first.first);
      }
    }
  }
}

}  // namespace
}  // namespace squall::detail
