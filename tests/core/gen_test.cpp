#include "squall/core/gen.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "squall/testing/testing.hpp"
#include "squall/util/log.hpp"

namespace squall {
namespace {

using namespace std::chrono_literals;

class GenTest : public testing::AsyncTest {};

/// A Future resolved with `value` after `delay`.
template <class T>
Future<T> later(IOLoop::duration delay, T value) {
  Future<T> future;
  IOLoop::current().call_later(delay, [future, value] { future.set_result(value); });
  return future;
}

/// A Future failed with runtime_error(`message`) after `delay`.
Future<int> fail_later(IOLoop::duration delay, std::string message) {
  Future<int> future;
  IOLoop::current().call_later(
      delay, [future, message] { future.set_exception(std::runtime_error(message)); });
  return future;
}

TEST_F(GenTest, SleepWaitsAtLeastTheDelay) {
  auto start = IOLoop::clock::now();
  run_sync([]() -> Future<void> { co_await gen::sleep(30ms); });
  EXPECT_GE(IOLoop::clock::now() - start, 30ms);
}

TEST_F(GenTest, SleepsRunConcurrently) {
  auto start = IOLoop::clock::now();
  run_sync([]() -> Future<void> {
    std::vector<Future<void>> sleeps{gen::sleep(40ms), gen::sleep(40ms), gen::sleep(40ms)};
    co_await gen::multi(std::move(sleeps));
  });
  auto took = IOLoop::clock::now() - start;
  EXPECT_GE(took, 40ms);
  EXPECT_LT(took, 115ms);  // three sequential sleeps would take 120 ms
}

TEST_F(GenTest, MomentLetsOtherCallbacksRunFirst) {
  std::vector<std::string> order;
  run_sync([&]() -> Future<void> {
    io_loop().add_callback([&] { order.push_back("callback"); });
    order.push_back("before");
    co_await gen::moment;
    order.push_back("after");
  });
  EXPECT_EQ(order, (std::vector<std::string>{"before", "callback", "after"}));
}

TEST_F(GenTest, MultiOverAVectorKeepsTheListOrder) {
  auto results = run_sync([]() -> Future<std::vector<int>> {
    std::vector<Future<int>> futures;
    futures.push_back(later(30ms, 1));
    futures.push_back(later(10ms, 2));
    futures.push_back(make_ready_future(3));
    co_return co_await gen::multi(std::move(futures));
  });
  EXPECT_EQ(results, (std::vector<int>{1, 2, 3}));
}

TEST_F(GenTest, MultiOfAnEmptyVectorIsDoneAtOnce) {
  auto results = gen::multi(std::vector<Future<int>>{});
  EXPECT_TRUE(results.done());
  EXPECT_TRUE(results.result().empty());
}

TEST_F(GenTest, MultiOverAMapKeepsTheKeys) {
  auto results = run_sync([]() -> Future<std::map<std::string, int>> {
    std::map<std::string, Future<int>> futures{{"a", later(20ms, 1)}, {"b", later(5ms, 2)}};
    co_return co_await gen::multi(std::move(futures));
  });
  EXPECT_EQ(results, (std::map<std::string, int>{{"a", 1}, {"b", 2}}));
}

TEST_F(GenTest, MultiOverAnUnorderedMap) {
  auto results = run_sync([]() -> Future<std::unordered_map<int, std::string>> {
    std::unordered_map<int, Future<std::string>> futures{
        {1, later<std::string>(5ms, "one")}, {2, make_ready_future(std::string("two"))}};
    co_return co_await gen::multi(std::move(futures));
  });
  EXPECT_EQ(results.at(1), "one");
  EXPECT_EQ(results.at(2), "two");
}

TEST_F(GenTest, VariadicMultiGivesATupleWithMonostateForVoid) {
  run_sync([]() -> Future<void> {
    auto [number, text, nothing] =
        co_await gen::multi(later(10ms, 7), later<std::string>(5ms, "x"), gen::sleep(1ms));
    EXPECT_EQ(number, 7);
    EXPECT_EQ(text, "x");
    static_assert(std::is_same_v<decltype(nothing), std::monostate>);
  });
}

TEST_F(GenTest, MultiRaisesTheFirstErrorInListOrderAndLogsTheOthers) {
  testing::ExpectLog expect(log::app_log(), "Multiple exceptions in yield list.*second");
  std::string caught;
  run_sync([&]() -> Future<void> {
    std::vector<Future<int>> futures;
    futures.push_back(fail_later(20ms, "first"));  // fails last in time, first in the list
    futures.push_back(later(1ms, 5));
    futures.push_back(fail_later(1ms, "second"));
    try {
      co_await gen::multi(std::move(futures));
    } catch (const std::runtime_error& e) {
      caught = e.what();
    }
  });
  EXPECT_EQ(caught, "first");
}

TEST_F(GenTest, MultiWaitsForEveryFutureEvenAfterAFailure) {
  Future<int> slow = later(30ms, 1);
  run_sync([&]() -> Future<void> {
    std::vector<Future<int>> futures{fail_later(1ms, "early"), slow};
    EXPECT_THROW(co_await gen::multi(std::move(futures)), std::runtime_error);
    EXPECT_TRUE(slow.done());
  });
}

TEST_F(GenTest, MultiTreatsACancelledFutureAsCancelledError) {
  run_sync([]() -> Future<void> {
    Future<int> cancelled;
    cancelled.cancel();
    std::vector<Future<int>> futures{later(1ms, 1), cancelled};
    EXPECT_THROW(co_await gen::multi(std::move(futures)), CancelledError);
  });
}

TEST_F(GenTest, MultiOfVoidFutures) {
  int done = 0;
  run_sync([&]() -> Future<void> {
    std::vector<Future<void>> futures;
    for (int i = 0; i < 5; ++i) {
      futures.push_back([](int& counter, int i) -> Future<void> {
        co_await gen::sleep(std::chrono::milliseconds(i));
        ++counter;
      }(done, i));
    }
    co_await gen::multi(std::move(futures));
  });
  EXPECT_EQ(done, 5);
}

TEST_F(GenTest, WithTimeoutPassesTheResultThrough) {
  int value =
      run_sync([]() -> Future<int> { co_return co_await gen::with_timeout(1s, later(5ms, 9)); });
  EXPECT_EQ(value, 9);
}

TEST_F(GenTest, WithTimeoutOfADoneFutureIsDoneAtOnce) {
  auto future = gen::with_timeout(1ms, make_ready_future(3));
  EXPECT_TRUE(future.done());
  EXPECT_EQ(future.result(), 3);
}

TEST_F(GenTest, WithTimeoutRaisesTimeoutError) {
  Future<int> never;
  run_sync([&]() -> Future<void> {
    EXPECT_THROW(co_await gen::with_timeout(10ms, never), TimeoutError);
  });
  EXPECT_FALSE(never.done());  // the inner Future is left as it was
}

TEST_F(GenTest, WithTimeoutTakesAnAbsoluteDeadline) {
  run_sync([&]() -> Future<void> {
    EXPECT_THROW(co_await gen::with_timeout(io_loop().time() + 5ms, Future<void>()), TimeoutError);
  });
}

TEST_F(GenTest, WithTimeoutLogsAFailureAfterTheTimeout) {
  testing::ExpectLog expect(log::app_log(), "Exception in Future after timeout.*too late");
  run_sync([&]() -> Future<void> {
    Future<int> slow = fail_later(20ms, "too late");
    EXPECT_THROW(co_await gen::with_timeout(1ms, slow), TimeoutError);
    co_await gen::sleep(30ms);
  });
}

TEST_F(GenTest, WithTimeoutPropagatesErrorsAndCancellation) {
  run_sync([&]() -> Future<void> {
    EXPECT_THROW(co_await gen::with_timeout(1s, fail_later(1ms, "boom")), std::runtime_error);
    Future<int> cancelled;
    io_loop().add_callback([cancelled] { cancelled.cancel(); });
    EXPECT_THROW(co_await gen::with_timeout(1s, cancelled), CancelledError);
  });
}

/// A callback-style API: calls `done(value)` on a later iteration.
void legacy_api(int value, std::function<void(int)> done) {
  IOLoop::current().add_callback([value, done] { done(value * 2); });
}

TEST_F(GenTest, FromCallbackAdaptsACallbackApi) {
  int value = run_sync([]() -> Future<int> {
    co_return co_await gen::from_callback<int>([](auto resolve) { legacy_api(21, resolve); });
  });
  EXPECT_EQ(value, 42);
}

TEST_F(GenTest, FromCallbackWithVoidAndReject) {
  run_sync([&]() -> Future<void> {
    co_await gen::from_callback([&](auto resolve) { io_loop().add_callback(resolve); });
    auto failing = gen::from_callback<int>([&](auto, auto reject) {
      io_loop().add_callback(
          [reject] { reject(std::make_exception_ptr(std::runtime_error("rejected"))); });
    });
    EXPECT_THROW(co_await failing, std::runtime_error);
  });
}

TEST_F(GenTest, FromCallbackIgnoresCallsAfterTheFirst) {
  auto future = gen::from_callback<int>([](auto resolve) {
    resolve(1);
    resolve(2);
  });
  EXPECT_EQ(future.result(), 1);
}

TEST_F(GenTest, FromCallbackFailsWhenTheCallbackIsDroppedUncalled) {
  auto future = gen::from_callback<int>([](auto) {});
  ASSERT_TRUE(future.done());
  EXPECT_THROW(future.result(), Error);
}

TEST_F(GenTest, FromCallbackCapturesAnExceptionThrownByTheFunction) {
  auto future = gen::from_callback<int>([](auto) { throw std::logic_error("setup failed"); });
  EXPECT_THROW(future.result(), std::logic_error);
}

TEST_F(GenTest, WaitIteratorGivesFuturesInCompletionOrder) {
  std::vector<std::pair<std::size_t, int>> seen;
  run_sync([&]() -> Future<void> {
    std::vector<Future<int>> futures{later(30ms, 0), later(10ms, 1), later(20ms, 2)};
    gen::WaitIterator<int> it(std::move(futures));
    while (!it.done()) {
      int value = co_await it.next();
      seen.emplace_back(*it.current_index(), value);
      EXPECT_EQ(it.current_future().result(), value);
    }
  });
  EXPECT_EQ(seen, (std::vector<std::pair<std::size_t, int>>{{1, 1}, {2, 2}, {0, 0}}));
}

TEST_F(GenTest, WaitIteratorRaisesEachFuturesError) {
  int errors = 0, values = 0;
  run_sync([&]() -> Future<void> {
    std::vector<Future<int>> futures{fail_later(5ms, "x"), later(1ms, 1), make_ready_future(2)};
    gen::WaitIterator<int> it(std::move(futures));
    while (!it.done()) {
      try {
        co_await it.next();
        ++values;
      } catch (const std::runtime_error&) {
        ++errors;
      }
    }
  });
  EXPECT_EQ(values, 2);
  EXPECT_EQ(errors, 1);
}

TEST_F(GenTest, WaitIteratorRefusesNextWhenDone) {
  gen::WaitIterator<int> it({make_ready_future(1)});
  EXPECT_FALSE(it.current_index().has_value());
  EXPECT_THROW(it.current_future(), InvalidStateError);
  run_sync([&]() -> Future<void> { EXPECT_EQ(co_await it.next(), 1); });
  EXPECT_TRUE(it.done());
  EXPECT_THROW(static_cast<void>(it.next()), InvalidStateError);
}

}  // namespace
}  // namespace squall
