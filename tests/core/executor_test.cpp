#include "squall/core/executor.hpp"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "squall/core/ioloop.hpp"
#include "squall/testing/testing.hpp"

namespace squall {
namespace {

using namespace std::chrono_literals;

class ExecutorTest : public testing::AsyncTest {};

/// Lets groups of `parties` threads wait for each other, giving up after `timeout` so that a pool
/// running fewer jobs at once than expected fails the test instead of hanging it.
class Rendezvous {
 public:
  explicit Rendezvous(int parties) : parties_(parties) {}

  /// True once `parties` threads arrived in this round; false on timeout.
  bool arrive_and_wait(std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mutex_);
    const int round = round_;
    if (++arrived_ == parties_) {
      arrived_ = 0;
      ++round_;
      all_arrived_.notify_all();
      return true;
    }
    return all_arrived_.wait_for(lock, timeout, [&] { return round_ != round; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable all_arrived_;
  const int parties_;
  int arrived_ = 0;
  int round_ = 0;
};

TEST_F(ExecutorTest, SubmitRunsOnAWorkerAndCompletesTheFutureOnTheLoopThread) {
  const auto loop_thread = std::this_thread::get_id();
  std::thread::id worker_thread;
  std::thread::id callback_thread;
  ThreadPoolExecutor executor(2);
  Future<int> f = executor.submit([&] {
    worker_thread = std::this_thread::get_id();
    return 42;
  });
  f.add_done_callback([&] { callback_thread = std::this_thread::get_id(); });
  EXPECT_EQ(run_sync([&] { return f; }), 42);
  EXPECT_NE(worker_thread, std::thread::id());
  EXPECT_NE(worker_thread, loop_thread);
  EXPECT_EQ(callback_thread, loop_thread);
}

TEST_F(ExecutorTest, TheFutureStaysPendingUntilTheLoopRuns) {
  ThreadPoolExecutor executor(1);
  std::promise<void> finished;
  Future<int> f = executor.submit([&] {
    finished.set_value();
    return 1;
  });
  ASSERT_EQ(finished.get_future().wait_for(5s), std::future_status::ready);
  // The function has returned, but its result reaches the Future only through the loop.
  EXPECT_FALSE(f.done());
  EXPECT_EQ(run_sync([&] { return f; }), 1);
}

TEST_F(ExecutorTest, SubmitPassesTheArgumentsByValue) {
  ThreadPoolExecutor executor(1);
  std::string text = "abc";
  auto f =
      executor.submit([](const std::string& s, int n) { return s + std::to_string(n); }, text, 7);
  text = "changed";
  EXPECT_EQ(run_sync([&] { return f; }), "abc7");
}

TEST_F(ExecutorTest, SubmitAcceptsMoveOnlyArgumentsAndResults) {
  ThreadPoolExecutor executor(1);
  auto f = executor.submit(
      [](std::unique_ptr<int>& p) {
        *p += 1;
        return std::move(p);
      },
      std::make_unique<int>(41));
  std::unique_ptr<int> result =
      run_sync([&]() -> Future<std::unique_ptr<int>> { co_return co_await std::move(f); });
  ASSERT_NE(result, nullptr);
  EXPECT_EQ(*result, 42);
}

TEST_F(ExecutorTest, SubmitOfAVoidFunctionGivesAFutureOfVoid) {
  ThreadPoolExecutor executor(1);
  std::atomic<bool> ran{false};
  Future<void> f = executor.submit([&] { ran = true; });
  run_sync([&] { return f; });
  EXPECT_TRUE(ran);
}

TEST_F(ExecutorTest, AnExceptionCrossesThreadsAndIsRethrownAtCoAwait) {
  ThreadPoolExecutor executor(1);
  std::string caught = run_sync([&]() -> Future<std::string> {
    try {
      co_await executor.submit([]() -> int { throw std::invalid_argument("thrown on a worker"); });
    } catch (const std::invalid_argument& e) {
      co_return e.what();
    }
    co_return "nothing thrown";
  });
  EXPECT_EQ(caught, "thrown on a worker");
}

TEST_F(ExecutorTest, JobsRunInParallelUpToMaxWorkers) {
  constexpr int kWorkers = 4;
  constexpr int kJobs = 8;
  ThreadPoolExecutor executor(kWorkers);
  EXPECT_EQ(executor.max_workers(), static_cast<std::size_t>(kWorkers));
  Rendezvous rendezvous(kWorkers);  // passes only when kWorkers jobs run at the same time
  std::atomic<int> running{0};
  std::atomic<int> most_running{0};
  std::vector<Future<bool>> jobs;
  for (int i = 0; i < kJobs; ++i) {
    jobs.push_back(executor.submit([&] {
      int now = ++running;
      int seen = most_running.load();
      while (now > seen && !most_running.compare_exchange_weak(seen, now)) {
      }
      bool met = rendezvous.arrive_and_wait();
      --running;
      return met;
    }));
  }
  int met = run_sync([&]() -> Future<int> {
    int count = 0;
    for (auto& job : jobs) count += co_await job ? 1 : 0;
    co_return count;
  });
  EXPECT_EQ(met, kJobs) << "some jobs never found " << kWorkers << " jobs running beside them";
  EXPECT_EQ(most_running.load(), kWorkers) << "more jobs ran at once than there are workers";
}

TEST_F(ExecutorTest, ASingleWorkerRunsJobsInOrderOfSubmission) {
  ThreadPoolExecutor executor(1);
  std::vector<int> order;  // written by the one worker only
  std::vector<Future<void>> jobs;
  for (int i = 0; i < 50; ++i) jobs.push_back(executor.submit([&order, i] { order.push_back(i); }));
  run_sync([&]() -> Future<void> {
    for (auto& job : jobs) co_await job;
  });
  ASSERT_EQ(order.size(), 50u);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

TEST_F(ExecutorTest, MaxWorkersIsAtLeastOne) {
  ThreadPoolExecutor executor(0);
  EXPECT_EQ(executor.max_workers(), 1u);
  EXPECT_EQ(run_sync([&] { return executor.submit([] { return 3; }); }), 3);
}

TEST_F(ExecutorTest, DefaultWorkersIsFivePerCore) {
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  EXPECT_EQ(ThreadPoolExecutor::default_workers(), cores * 5u);
}

TEST_F(ExecutorTest, RunInExecutorWithNullptrUsesTheLoopsDefaultExecutor) {
  const auto loop_thread = std::this_thread::get_id();
  std::thread::id worker_thread;
  int value = run_sync([&] {
    return io_loop().run_in_executor(
        nullptr,
        [&](int a, int b) {
          worker_thread = std::this_thread::get_id();
          return a * b;
        },
        6, 7);
  });
  EXPECT_EQ(value, 42);
  EXPECT_NE(worker_thread, loop_thread);
  ThreadPoolExecutor& pool = io_loop().default_executor();
  EXPECT_EQ(&pool, &io_loop().default_executor()) << "the default executor is made once";
  EXPECT_EQ(pool.max_workers(), ThreadPoolExecutor::default_workers());
}

TEST_F(ExecutorTest, RunInExecutorUsesTheExecutorGiven) {
  ThreadPoolExecutor executor(1);
  std::thread::id first;
  std::thread::id second;
  run_sync([&]() -> Future<void> {
    co_await io_loop().run_in_executor(&executor, [&] { first = std::this_thread::get_id(); });
    co_await io_loop().run_in_executor(&executor, [&] { second = std::this_thread::get_id(); });
  });
  EXPECT_NE(first, std::this_thread::get_id());
  EXPECT_EQ(first, second) << "a one-worker executor ran the jobs on different threads";
}

TEST_F(ExecutorTest, SubmitAfterShutdownThrowsInvalidStateError) {
  ThreadPoolExecutor executor(2);
  EXPECT_EQ(run_sync([&] { return executor.submit([] { return 1; }); }), 1);
  executor.shutdown();
  EXPECT_THROW(executor.submit([] { return 2; }), InvalidStateError);
}

TEST_F(ExecutorTest, SubmitAfterShutdownWithoutWaitThrowsInvalidStateError) {
  ThreadPoolExecutor executor(2);
  executor.shutdown(/*wait=*/false);
  EXPECT_THROW(executor.submit([] {}), InvalidStateError);
}

TEST_F(ExecutorTest, TheDestructorWaitsForARunningJob) {
  std::atomic<bool> finished{false};
  std::promise<void> started;
  Future<int> f;
  {
    ThreadPoolExecutor executor(1);
    f = executor.submit([&] {
      started.set_value();
      std::this_thread::sleep_for(50ms);  // the job's own slow work
      finished = true;
      return 7;
    });
    ASSERT_EQ(started.get_future().wait_for(5s), std::future_status::ready);
  }
  EXPECT_TRUE(finished) << "the executor was destroyed while its job still ran";
  EXPECT_EQ(run_sync([&] { return f; }), 7) << "the result of the finished job was lost";
}

TEST_F(ExecutorTest, ShutdownWithWaitRunsTheJobsStillQueued) {
  ThreadPoolExecutor executor(1);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> ran{0};
  std::vector<Future<void>> jobs;
  jobs.push_back(executor.submit([&, released] {
    released.wait();
    ++ran;
  }));
  for (int i = 0; i < 3; ++i) jobs.push_back(executor.submit([&] { ++ran; }));
  release.set_value();
  executor.shutdown(/*wait=*/true);
  EXPECT_EQ(ran.load(), 4);
  run_sync([&]() -> Future<void> {
    for (auto& job : jobs) co_await job;
  });
  for (auto& job : jobs) EXPECT_TRUE(job.done());
}

TEST_F(ExecutorTest, WorkersBlockEverySignal) {
  ThreadPoolExecutor executor(1);
  bool blocked = run_sync([&] {
    return executor.submit([] {
      sigset_t mask;
      pthread_sigmask(SIG_BLOCK, nullptr, &mask);
      return sigismember(&mask, SIGUSR1) == 1 && sigismember(&mask, SIGINT) == 1 &&
             sigismember(&mask, SIGTERM) == 1;
    });
  });
  EXPECT_TRUE(blocked);
}

TEST_F(ExecutorTest, JobsSubmittedFromTwoLoopsCompleteOnTheirOwnLoops) {
  ThreadPoolExecutor executor(2);
  std::thread::id other_loop_thread;
  std::thread::id other_callback_thread;
  int other_value = 0;
  std::thread other([&] {
    other_loop_thread = std::this_thread::get_id();
    IOLoop loop;
    other_value = loop.run_sync([&] {
      Future<int> f = executor.submit([] { return 2; });
      f.add_done_callback([&] { other_callback_thread = std::this_thread::get_id(); });
      return f;
    });
  });
  int here = run_sync([&] { return executor.submit([] { return 1; }); });
  other.join();
  EXPECT_EQ(here, 1);
  EXPECT_EQ(other_value, 2);
  EXPECT_EQ(other_callback_thread, other_loop_thread);
}

}  // namespace
}  // namespace squall
