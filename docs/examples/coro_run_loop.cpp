// Quoted by docs/coroutines.md: the two ways to run a loop -- run_sync for a program with a main
// coroutine, start()/stop() for a program that serves until told to stop.
#include <chrono>
#include <csignal>
#include <iostream>

#include <squall/core/gen.hpp>
#include <squall/core/ioloop.hpp>

using namespace std::chrono_literals;

// [main-coroutine]
squall::Future<int> main_coroutine() {
  co_await squall::gen::sleep(5ms);
  std::cout << "main_coroutine done\n";
  co_return 7;
}
// [main-coroutine]

// [serve]
// Starts the work that runs "forever", here a timer, and returns at once.
void start_serving(squall::IOLoop& loop, int& served) {
  loop.call_later(5ms, [&loop, &served] {
    ++served;
    std::cout << "served one; sending ourselves SIGINT, as Ctrl-C would\n";
    std::raise(SIGINT);
  });
}
// [serve]

int main() {
  squall::IOLoop& loop = squall::IOLoop::current();

  // [run-sync]
  int result = loop.run_sync(main_coroutine);  // runs the loop until the Future is done
  std::cout << "run_sync returned " << result << '\n';
  // [run-sync]

  // [start-stop]
  int served = 0;
  loop.add_signal_handler(SIGINT, [&loop](int) {
    std::cout << "SIGINT: stopping the loop\n";
    loop.stop();  // start() returns once this callback is over
  });
  start_serving(loop, served);
  loop.start();  // runs until stop()
  loop.remove_signal_handler(SIGINT);
  std::cout << "start() returned after serving " << served << '\n';
  // [start-stop]
}
