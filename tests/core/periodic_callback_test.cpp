// PeriodicCallback, from ioloop.
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

#include "squall/core/concurrent.hpp"
#include "squall/testing/testing.hpp"
#include "squall/util/log.hpp"
#include "support/loop_helpers.hpp"

namespace squall {
namespace {

using namespace std::chrono_literals;
using squall::testing::ExpectLog;
using namespace squall::test_support;

class PeriodicCallbackTest : public testing::AsyncTest {};

// ---- PeriodicCallback ----------------------------------------------------------------------

TEST_F(PeriodicCallbackTest, RunsRepeatedlyUntilStopped) {
  int runs = 0;
  Future<void> fifth;
  PeriodicCallback periodic(
      [&] {
        if (++runs == 5) fifth.set_result();
      },
      2ms);
  EXPECT_FALSE(periodic.is_running());
  periodic.start();
  EXPECT_TRUE(periodic.is_running());
  io_loop().run_sync([&] { return fifth; });
  periodic.stop();
  EXPECT_FALSE(periodic.is_running());
  EXPECT_EQ(runs, 5);
  io_loop().run_sync([] { return after(10ms); });
  EXPECT_EQ(runs, 5) << "it ran after stop()";
}

TEST_F(PeriodicCallbackTest, TheFirstRunIsOnePeriodAfterStart) {
  IOLoop::time_point started;
  IOLoop::time_point first;
  Future<void> ran;
  PeriodicCallback periodic(
      [&] {
        if (!ran.done()) {
          first = io_loop().time();
          ran.set_result();
        }
      },
      20ms);
  io_loop().run_sync([&] {
    started = io_loop().time();
    periodic.start();
    return ran;
  });
  EXPECT_GE(first - started, 20ms);
}

TEST_F(PeriodicCallbackTest, StopFromInsideTheCallbackEndsTheRuns) {
  int runs = 0;
  PeriodicCallback* self = nullptr;
  PeriodicCallback periodic(
      [&] {
        if (++runs == 3) self->stop();
      },
      2ms);
  self = &periodic;
  periodic.start();
  io_loop().run_sync([] { return after(40ms); });
  EXPECT_EQ(runs, 3);
  EXPECT_FALSE(periodic.is_running());
}

TEST_F(PeriodicCallbackTest, StartingTwiceDoesNotDoubleTheRuns) {
  constexpr auto kPeriod = 10ms;
  int runs = 0;
  Future<void> third;
  PeriodicCallback periodic(
      [&] {
        if (++runs == 3) third.set_result();
      },
      kPeriod);
  auto started = io_loop().time();
  periodic.start();
  periodic.start();
  io_loop().run_sync([&] { return third; });
  EXPECT_GE(io_loop().time() - started, 3 * kPeriod) << "two timers ran per period";
}

TEST_F(PeriodicCallbackTest, ItCanBeRestartedAfterStop) {
  int runs = 0;
  Future<void> ran;
  PeriodicCallback periodic(
      [&] {
        ++runs;
        if (!ran.done()) ran.set_result();
      },
      2ms);
  periodic.start();
  io_loop().run_sync([&] { return ran; });
  periodic.stop();
  int before = runs;
  ran = Future<void>();
  periodic.start();
  EXPECT_TRUE(periodic.is_running());
  io_loop().run_sync([&] { return ran; });
  EXPECT_GT(runs, before);
  periodic.stop();
}

TEST_F(PeriodicCallbackTest, DestroyingItStopsTheRuns) {
  int runs = 0;
  auto periodic = std::make_unique<PeriodicCallback>([&] { ++runs; }, 2ms);
  periodic->start();
  io_loop().run_sync([] { return iterations(2); });
  periodic.reset();
  int before = runs;
  io_loop().run_sync([] { return after(20ms); });
  EXPECT_EQ(runs, before);
}

TEST_F(PeriodicCallbackTest, AFutureReturnedByTheCallbackIsAwaitedBeforeTheNextRun) {
  constexpr auto kWork = 25ms;
  std::vector<IOLoop::time_point> starts;
  std::vector<IOLoop::time_point> ends;
  bool in_flight = false;
  int overlaps = 0;
  Future<void> third;
  PeriodicCallback periodic(
      [&]() -> Future<void> {
        if (in_flight) ++overlaps;
        in_flight = true;
        starts.push_back(io_loop().time());
        co_await after(kWork);
        ends.push_back(io_loop().time());
        in_flight = false;
        if (ends.size() == 3) third.set_result();
      },
      5ms);
  periodic.start();
  io_loop().run_sync([&] { return third; });
  periodic.stop();
  EXPECT_EQ(overlaps, 0);
  ASSERT_GE(starts.size(), 3u);
  for (std::size_t i = 1; i < 3; ++i) {
    EXPECT_GE(starts[i], ends[i - 1]) << "run " << i << " started before the previous finished";
    EXPECT_GE(starts[i] - starts[i - 1], kWork);
  }
}

TEST_F(PeriodicCallbackTest, ASlowRunSkipsTheMissedRunsInsteadOfBursting) {
  constexpr auto kPeriod = 20ms;
  std::vector<IOLoop::time_point> starts;
  IOLoop::time_point slow_end;
  Future<void> done;
  PeriodicCallback periodic(
      [&] {
        starts.push_back(io_loop().time());
        if (starts.size() == 1) {
          busy_for(70ms);  // misses the next three runs
          slow_end = io_loop().time();
        }
        if (starts.size() == 6) done.set_result();
      },
      kPeriod);
  periodic.start();
  io_loop().run_sync([&] { return done; });
  periodic.stop();
  // Runs after the slow one fall on distinct later multiples of the period, so a window of 1.5
  // periods right after it holds at most two; a burst would run the three missed ones at once.
  int in_window = 0;
  for (std::size_t i = 1; i < starts.size(); ++i) {
    EXPECT_GT(starts[i], slow_end);
    if (starts[i] - slow_end <= kPeriod * 3 / 2) ++in_window;
  }
  EXPECT_LE(in_window, 2);
}

TEST_F(PeriodicCallbackTest, AnAlwaysSlowCallbackRunsOncePerRoundOfMissedPeriods) {
  constexpr auto kPeriod = 20ms;
  constexpr auto kBusy = 70ms;
  std::vector<IOLoop::time_point> starts;
  Future<void> done;
  PeriodicCallback periodic(
      [&] {
        starts.push_back(io_loop().time());
        if (starts.size() == 4) {
          done.set_result();
        } else {
          busy_for(kBusy);
        }
      },
      kPeriod);
  auto window_start = io_loop().time();
  periodic.start();
  io_loop().run_sync([&] { return done; });
  periodic.stop();
  // Each run waits for the next multiple of the period after the slow one ends: 4 runs span at
  // least 1 + 3 * 4 periods (the slow run covers 3.5 periods, rounded up to 4).
  EXPECT_GE(starts.back() - window_start, kPeriod * 13);
}

TEST_F(PeriodicCallbackTest, JitterKeepsRunsNearThePeriod) {
  constexpr auto kPeriod = 10ms;
  constexpr int kRuns = 10;
  std::vector<IOLoop::time_point> starts;
  Future<void> done;
  PeriodicCallback periodic(
      [&] {
        starts.push_back(io_loop().time());
        if (starts.size() == kRuns) done.set_result();
      },
      kPeriod, 0.5);
  auto started = io_loop().time();
  periodic.start();
  io_loop().run_sync([&] { return done; });
  periodic.stop();
  // Each period varies within ±25% (jitter 0.5): the runs come no sooner than 0.75 periods
  // apart on average, and the loop adds only its latency to 1.25 periods.
  auto total = starts.back() - started;
  EXPECT_GE(total, kPeriod * kRuns * 3 / 4);
  EXPECT_LE(total, kPeriod * kRuns * 5 / 4 + 300ms);
}

TEST_F(PeriodicCallbackTest, AnExceptionInTheCallbackIsLoggedAndTheRunsGoOn) {
  ExpectLog logged(log::app_log(), "Exception in callback .*PeriodicCallback.*periodic boom");
  int runs = 0;
  Future<void> third;
  PeriodicCallback periodic(
      [&] {
        if (++runs == 3) third.set_result();
        throw std::runtime_error("periodic boom");
      },
      2ms);
  periodic.start();
  io_loop().run_sync([&] { return third; });
  periodic.stop();
  EXPECT_GE(logged.matched(), 2);
}

TEST_F(PeriodicCallbackTest, AFailedFutureFromTheCallbackIsLoggedAndTheRunsGoOn) {
  ExpectLog logged(log::app_log(), "Exception in callback .*async periodic boom");
  int runs = 0;
  Future<void> third;
  PeriodicCallback periodic(
      [&]() -> Future<void> {
        if (++runs == 3) third.set_result();
        co_await next_iteration();
        throw std::runtime_error("async periodic boom");
      },
      2ms);
  periodic.start();
  io_loop().run_sync([&] { return third; });
  periodic.stop();
  EXPECT_GE(logged.matched(), 2);
}

TEST_F(PeriodicCallbackTest, ANonPositivePeriodThrows) {
  EXPECT_THROW((PeriodicCallback([] {}, 0ms)), ValueError);
  EXPECT_THROW((PeriodicCallback([] {}, -5ms)), ValueError);
  EXPECT_NO_THROW((PeriodicCallback([] {}, 1ns)));
}

}  // namespace
}  // namespace squall
