// Quoted by docs/coroutines.md: what a suspended coroutine may refer to, and what closing a loop
// does to coroutines still suspended on it.
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include <squall/core/gen.hpp>
#include <squall/core/ioloop.hpp>

using namespace std::chrono_literals;

// [shared-this]
// An object whose member coroutine outlives the caller's pointer to the object.
class Poller : public std::enable_shared_from_this<Poller> {
 public:
  explicit Poller(std::string name) : name_(std::move(name)) {}
  ~Poller() { std::cout << name_ << " destroyed\n"; }

  squall::Future<void> run(int rounds) {
    // The frame holds a strong reference, so `this` stays valid across every co_await below,
    // even if every other owner lets go meanwhile.
    std::shared_ptr<Poller> self = shared_from_this();
    for (int i = 0; i < rounds; ++i) {
      co_await squall::gen::sleep(2ms);
      ++polls_;
    }
    std::cout << name_ << " polled " << polls_ << " times\n";
  }

 private:
  std::string name_;
  int polls_ = 0;
};
// [shared-this]

// [by-value]
// Parameters are copied into the frame: `text` lives as long as the coroutine. A `const
// std::string&` parameter would refer to the caller's string, gone by the time the coroutine
// resumes if the caller passed a temporary.
squall::Future<std::size_t> length_later(std::string text) {
  co_await squall::gen::sleep(1ms);
  co_return text.size();
}
// [by-value]

// [close]
struct Guard {
  ~Guard() { std::cout << "guard destroyed with its frame\n"; }
};

squall::Future<void> wait_forever(squall::Future<void> never) {
  Guard guard;
  co_await never;  // nobody completes it
  std::cout << "not reached\n";
}
// [close]

squall::Future<void> demo() {
  // [shared-this-use]
  squall::Future<void> polled;
  {
    auto poller = std::make_shared<Poller>("poller");
    polled = poller->run(3);
  }                 // the last outside owner is gone; the coroutine keeps the object
  co_await polled;  // prints "poller polled 3 times", then "poller destroyed"
  // [shared-this-use]

  std::cout << "length_later: " << co_await length_later(std::string("temporary")) << '\n';

  // [lambda]
  // A lambda's captures live in the lambda object, not in a coroutine frame, and spawn_callback
  // destroys the lambda once it has called it. So the lambda only calls a named coroutine, whose
  // by-value parameters keep what it needs.
  squall::IOLoop::current().spawn_callback(
      [text = std::string("spawned")] { return length_later(text); });
  // [lambda]
  co_await squall::gen::sleep(5ms);
}

int main() {
  squall::IOLoop::current().run_sync(demo);

  // [close-use]
  std::thread([] {
    squall::IOLoop loop;  // this thread's loop: the thread had none
    squall::Future<void> never;
    squall::Future<void> stuck = wait_forever(never);
    loop.close();  // destroys the suspended frame: its locals' destructors run
    std::cout << "after close(), stuck.done() = " << std::boolalpha << stuck.done() << '\n';
  }).join();
  // [close-use]
}
