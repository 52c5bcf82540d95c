// Quoted by docs/coroutines.md: turning a callback-style API into a Future with gen::from_callback.
#include <chrono>
#include <functional>
#include <iostream>
#include <string>

#include <squall/core/gen.hpp>
#include <squall/core/ioloop.hpp>
#include <squall/util/error.hpp>

using namespace std::chrono_literals;

// [callback-api]
// A callback-style API, as a C library or older code may offer: later, on the loop, it calls
// exactly one of `on_success` and `on_failure`.
void lookup_with_callbacks(std::string key, std::function<void(int)> on_success,
                           std::function<void(std::string)> on_failure) {
  squall::IOLoop::current().call_later(5ms, [key, on_success, on_failure] {
    if (key == "answer") {
      on_success(42);
    } else {
      on_failure("unknown key '" + key + "'");
    }
  });
}
// [callback-api]

// [adapter]
// The same operation as a Future: `resolve` completes it with a value, `reject` with an error.
squall::Future<int> lookup(const std::string& key) {
  return squall::gen::from_callback<int>([&key](auto resolve, auto reject) {
    lookup_with_callbacks(key, resolve, [reject](const std::string& message) {
      reject(std::make_exception_ptr(squall::Error(message)));
    });
  });
}
// [adapter]

// [void-adapter]
// With no value: Future<void>, completed by resolve().
squall::Future<void> after(std::chrono::milliseconds delay) {
  return squall::gen::from_callback(
      [delay](auto resolve) { squall::IOLoop::current().call_later(delay, resolve); });
}
// [void-adapter]

squall::Future<void> demo() {
  // [use]
  std::cout << "answer = " << co_await lookup("answer") << '\n';
  try {
    co_await lookup("question");
  } catch (const squall::Error& e) {
    std::cout << "failed: " << e.what() << '\n';
  }
  co_await after(5ms);
  std::cout << "after 5 ms\n";
  // [use]
}

int main() {
  squall::IOLoop::current().run_sync(demo);
}
