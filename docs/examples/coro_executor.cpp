// Quoted by docs/coroutines.md: calling blocking functions from a coroutine through a thread pool.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <stdexcept>
#include <vector>

#include <squall/core/executor.hpp>
#include <squall/core/gen.hpp>
#include <squall/core/ioloop.hpp>

using namespace std::chrono_literals;

// [blocking-function]
// Blocking (it keeps a CPU busy): called on the loop's thread, it would stall every coroutine.
std::uint64_t count_primes(std::uint64_t limit) {
  if (limit > 50'000'000) throw std::out_of_range("limit too large");
  std::uint64_t count = 0;
  for (std::uint64_t n = 2; n < limit; ++n) {
    bool prime = true;
    for (std::uint64_t d = 2; d * d <= n && prime; ++d) prime = n % d != 0;
    count += prime;
  }
  return count;
}
// [blocking-function]

// [run-in-executor]
squall::Future<void> on_default_pool() {
  squall::IOLoop& loop = squall::IOLoop::current();
  // Runs on the loop's default pool (nullptr); the Future completes back on this thread.
  std::uint64_t count = co_await loop.run_in_executor(nullptr, count_primes, 100'000);
  std::cout << "primes below 100000: " << count << '\n';
}
// [run-in-executor]

// [submit]
squall::Future<void> on_own_pool(squall::ThreadPoolExecutor& pool) {
  // Four calls at once on a pool of our own; gen::multi waits for all of them.
  std::vector<squall::Future<std::uint64_t>> counts;
  for (std::uint64_t limit : {10'000, 20'000, 40'000, 80'000}) {
    counts.push_back(pool.submit(count_primes, limit));  // `limit` is copied into the job
  }
  std::vector<std::uint64_t> results = co_await squall::gen::multi(std::move(counts));
  for (std::uint64_t count : results) std::cout << count << ' ';
  std::cout << "primes below 10000, 20000, 40000, 80000\n";

  try {
    co_await pool.submit(count_primes, 100'000'000);  // the worker's exception comes back here
  } catch (const std::out_of_range& e) {
    std::cout << "the pool's call failed: " << e.what() << '\n';
  }
}
// [submit]

int main() {
  // [pool-lifetime]
  // The pool outlives every Future it completes: it is declared before the loop runs them.
  squall::ThreadPoolExecutor pool(4);
  squall::IOLoop::current().run_sync(on_default_pool);
  squall::IOLoop::current().run_sync([&pool] { return on_own_pool(pool); });
  // [pool-lifetime]
}
