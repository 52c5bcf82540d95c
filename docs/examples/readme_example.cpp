// The example of README.md: two coroutines wait concurrently on one loop, in one thread.
#include <chrono>
#include <iostream>
#include <string>

#include <squall/core/gen.hpp>
#include <squall/core/ioloop.hpp>

using namespace std::chrono_literals;

// A coroutine: it runs until its first co_await, hands its caller a Future, and finishes later.
squall::Future<std::string> greet(std::string name, std::chrono::milliseconds delay) {
  co_await squall::gen::sleep(delay);  // the loop runs other work meanwhile
  co_return "hello, " + name;
}

squall::Future<int> main_coroutine() {
  auto started = squall::IOLoop::current().time();
  // Both calls start at once, so the two sleeps overlap: this takes 30 ms, not 50.
  auto [first, second] = co_await squall::gen::multi(greet("alice", 30ms), greet("bob", 20ms));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      squall::IOLoop::current().time() - started);
  std::cout << first << '\n' << second << '\n' << "took about " << took.count() << " ms\n";
  co_return 0;
}

int main() {
  return squall::IOLoop::current().run_sync(main_coroutine);
}
