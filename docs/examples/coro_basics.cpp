// Quoted by docs/coroutines.md: how a coroutine returning Future<T> runs; nesting; a coroutine
// called without co_await, and what becomes of its error.
#include <chrono>
#include <iostream>
#include <stdexcept>

#include <squall/core/gen.hpp>
#include <squall/core/ioloop.hpp>

using namespace std::chrono_literals;

// [define]
// A coroutine: a function returning squall::Future<T> whose body uses co_await or co_return.
squall::Future<int> add_slowly(int a, int b) {
  std::cout << "  add_slowly(" << a << ", " << b << ") starts\n";
  co_await squall::gen::sleep(10ms);  // the first suspension: the caller gets the Future now
  std::cout << "  add_slowly(" << a << ", " << b << ") resumes\n";
  co_return a + b;
}
// [define]

// [nest]
// Coroutines call coroutines as functions call functions.
squall::Future<int> add_three(int a, int b, int c) {
  int sum = co_await add_slowly(a, b);
  co_return co_await add_slowly(sum, c);
}
// [nest]

// [fail]
squall::Future<void> fail_soon() {
  co_await squall::gen::sleep(5ms);
  throw std::runtime_error("nobody is listening");
}
// [fail]

squall::Future<void> demo() {
  // [eager]
  std::cout << "calling add_slowly\n";
  squall::Future<int> pending = add_slowly(1, 2);  // runs up to its first co_await, then returns
  std::cout << "add_slowly returned, done() = " << std::boolalpha << pending.done() << '\n';
  int three = co_await pending;
  std::cout << "co_await gave " << three << '\n';
  // [eager]

  std::cout << "add_three(1, 2, 3) = " << co_await add_three(1, 2, 3) << '\n';

  // [forgotten]
  // Called and dropped: it still runs, but its exception stays in a Future nobody reads. When the
  // last reference to that Future goes, squall logs "Future exception was never retrieved".
  (void)fail_soon();
  // spawn_callback is the way to say "run this in the background": a failure is logged as an
  // exception in that callback.
  squall::IOLoop::current().spawn_callback(fail_soon);
  // [forgotten]
  co_await squall::gen::sleep(20ms);
  std::cout << "both background failures were logged on stderr\n";
}

int main() {
  squall::IOLoop::current().run_sync(demo);
}
