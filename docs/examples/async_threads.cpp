// Quoted by docs/async.md: one loop per thread, sharing nothing; results handed to another loop
// with add_callback, the one IOLoop call that is safe from any thread; a blocking call sent to
// the loop's thread pool with run_in_executor.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <thread>
#include <vector>

#include <squall/core/gen.hpp>
#include <squall/core/ioloop.hpp>

using namespace std::chrono_literals;

// Some work for a thread's own loop: a coroutine that waits a little and computes a value.
squall::Future<int> work(int id) {
  co_await squall::gen::sleep(10ms * (id + 1));
  co_return id * 100;
}

// What the main loop collects. Only the main thread touches it: the workers reach it through
// add_callback, which runs their callbacks on the main loop's thread.
struct Collector {
  int remaining;
  squall::Future<void> all_done;
  void record(int id, int value) {
    std::cout << "main loop: thread " << id << " sent " << value << '\n';
    if (--remaining == 0) all_done.set_result();
  }
};

// [blocking-call]
// A plain blocking function: it knows nothing of loops and may take as long as it likes.
std::uint64_t checksum(std::uint64_t n) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) sum = sum * 31 + i;
  return sum;
}
// [blocking-call]

int main() {
  constexpr int kThreads = 3;
  squall::IOLoop& main_loop = squall::IOLoop::current();
  Collector collector{kThreads, {}};

  // [threads]
  std::vector<std::thread> threads;
  for (int id = 0; id < kThreads; ++id) {
    threads.emplace_back([id, &main_loop, &collector] {
      // This thread's own loop, created by current() on first use. Nothing on it is shared.
      int value = squall::IOLoop::current().run_sync([id] { return work(id); });
      // Hand the result to the main loop: a copy of plain values, and a callback that runs
      // on the main thread, where `collector` lives.
      main_loop.add_callback([id, value, &collector] { collector.record(id, value); });
    });
  }
  // [threads]

  main_loop.run_sync([&]() -> squall::Future<void> {
    // [executor]
    // The pool runs checksum() on a worker thread; this coroutine waits without blocking the loop.
    std::uint64_t sum = co_await main_loop.run_in_executor(nullptr, checksum, 10'000'000);
    // [executor]
    std::cout << "main loop: checksum " << sum << " computed on the pool\n";
    co_await collector.all_done;
  });
  for (std::thread& thread : threads) thread.join();
  std::cout << "all " << kThreads << " threads reported\n";
}
