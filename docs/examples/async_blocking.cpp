// Quoted by docs/async.md: while a callback blocks, the loop runs nothing else; while a coroutine
// waits without blocking, everything else on the loop goes on.
#include <chrono>
#include <iostream>
#include <thread>

#include <squall/core/gen.hpp>
#include <squall/core/ioloop.hpp>

using namespace std::chrono_literals;

int main() {
  squall::IOLoop& loop = squall::IOLoop::current();
  // [threshold]
  // Logs a warning naming any callback or coroutine step that holds the loop for over 50 ms.
  loop.set_blocking_log_threshold(50ms);
  // [threshold]

  int ticks = 0;
  squall::PeriodicCallback ticker([&ticks] { ++ticks; }, 10ms);
  ticker.start();

  loop.run_sync([&ticks]() -> squall::Future<void> {
    // [blocking]
    int before = ticks;
    std::this_thread::sleep_for(100ms);  // blocks the thread, and the loop with it
    std::cout << "ticks during a blocking wait of 100 ms: " << ticks - before << '\n';
    // [blocking]

    // [non-blocking]
    before = ticks;
    co_await squall::gen::sleep(100ms);  // suspends this coroutine only; the loop goes on
    std::cout << "ticks during a non-blocking wait of 100 ms: " << ticks - before << '\n';
    // [non-blocking]
  });
  ticker.stop();
}
