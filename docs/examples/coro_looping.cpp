// Quoted by docs/coroutines.md: loops in coroutines, gen::moment, PeriodicCallback, and a loop
// running in the background.
#include <chrono>
#include <cstdint>
#include <iostream>

#include <squall/core/gen.hpp>
#include <squall/core/ioloop.hpp>

using namespace std::chrono_literals;

// [while]
// A plain loop: each co_await lets the rest of the program run.
squall::Future<void> countdown(int from) {
  while (from > 0) {
    std::cout << "countdown " << from-- << '\n';
    co_await squall::gen::sleep(5ms);
  }
}
// [while]

// [moment]
// A long computation that gives the loop a turn every 100000 steps.
squall::Future<std::uint64_t> sum_to(char name, std::uint64_t n) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 1; i <= n; ++i) {
    sum += i;
    if (i % 1'000'000 == 0) std::cout << name << ": " << i << " steps\n";
    if (i % 100'000 == 0) co_await squall::gen::moment;  // what is ready runs, then we resume
  }
  co_return sum;
}
// [moment]

// [steady]
// Runs `step` every 10 ms, start to start, however long each step takes (up to 10 ms): the
// next sleep starts before the step does.
squall::Future<void> every_10ms(int times) {
  for (int i = 0; i < times; ++i) {
    squall::Future<void> next = squall::gen::sleep(10ms);
    std::cout << "steady step " << i << '\n';  // the step: any co_await work
    co_await next;
  }
}
// [steady]

// [background]
// Works until `stopping` is set. It is started with spawn_callback, which does not wait for it.
squall::Future<void> worker(const bool& stopping, int& rounds) {
  // `stopping` and `rounds` belong to demo(), which awaits `finished` before they go away.
  while (!stopping) {
    ++rounds;
    co_await squall::gen::sleep(2ms);
  }
}
// [background]

squall::Future<void> demo() {
  co_await countdown(3);

  // [moment-effect]
  // Two computations on one thread take turns; the printout alternates a, b, a, b...
  auto [a, b] = co_await squall::gen::multi(sum_to('a', 2'000'000), sum_to('b', 2'000'000));
  // [moment-effect]
  std::cout << "both sums: " << a << ", " << b << '\n';

  co_await every_10ms(3);

  // [periodic]
  int ticks = 0;
  squall::PeriodicCallback ticker([&ticks] { std::cout << "tick " << ++ticks << '\n'; }, 10ms);
  ticker.start();  // the first call comes one period from now
  co_await squall::gen::sleep(35ms);
  ticker.stop();  // three ticks, at 10, 20 and 30 ms
  // [periodic]

  // [background-use]
  bool stopping = false;
  int rounds = 0;
  squall::Future<void> finished = worker(stopping, rounds);
  co_await squall::gen::sleep(20ms);  // ...meanwhile, other work...
  stopping = true;
  co_await finished;  // the worker sees the flag, ends, and then its references may go
  // [background-use]
  std::cout << "background worker ran " << rounds << " rounds\n";
}

int main() {
  squall::IOLoop::current().run_sync(demo);
}
