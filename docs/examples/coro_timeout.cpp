// Quoted by docs/coroutines.md: giving up on a slow Future with gen::with_timeout.
#include <chrono>
#include <iostream>

#include <squall/core/gen.hpp>
#include <squall/core/ioloop.hpp>
#include <squall/util/error.hpp>

using namespace std::chrono_literals;

squall::Future<int> slow_answer(std::chrono::milliseconds delay) {
  co_await squall::gen::sleep(delay);
  co_return 42;
}

squall::Future<void> demo() {
  // [with-timeout]
  try {
    int answer = co_await squall::gen::with_timeout(20ms, slow_answer(100ms));
    std::cout << "answer: " << answer << '\n';
  } catch (const squall::TimeoutError& e) {
    // slow_answer goes on running; only this wait gave up.
    std::cout << "gave up after 20 ms: " << e.what() << '\n';
  }
  // [with-timeout]

  // [deadline]
  // A point in time works too: several waits can share one deadline.
  auto deadline = squall::IOLoop::current().time() + 50ms;
  int first = co_await squall::gen::with_timeout(deadline, slow_answer(10ms));
  int second = co_await squall::gen::with_timeout(deadline, slow_answer(10ms));
  // [deadline]
  std::cout << "both before the deadline: " << first << ", " << second << '\n';
}

int main() {
  squall::IOLoop::current().run_sync(demo);

  // [run-sync-timeout]
  try {
    squall::IOLoop::current().run_sync([] { return slow_answer(1s); }, 20ms);
  } catch (const squall::TimeoutError& e) {
    std::cout << "run_sync: " << e.what() << '\n';
  }
  // [run-sync-timeout]
}
