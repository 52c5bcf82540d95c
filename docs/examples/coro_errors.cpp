// Quoted by docs/coroutines.md: exceptions cross co_await; try/catch works as in plain code.
#include <chrono>
#include <exception>
#include <iostream>
#include <string>

#include <squall/core/gen.hpp>
#include <squall/core/ioloop.hpp>
#include <squall/util/error.hpp>

using namespace std::chrono_literals;

// [errors]
class NotFound : public squall::Error {
 public:
  using squall::Error::Error;
};

squall::Future<std::string> find_user(std::string key) {
  if (key.empty()) throw std::invalid_argument("empty key");  // before any suspension
  co_await squall::gen::sleep(5ms);
  if (key != "alice") throw NotFound("no user " + key);  // after one
  co_return "Alice Liddell";
}

squall::Future<std::string> display_name(std::string key) {
  try {
    co_return co_await find_user(key);  // rethrows find_user's exception here
  } catch (const NotFound& e) {
    std::cout << "  caught NotFound: " << e.what() << '\n';
    co_return "(unknown)";
  }
}
// [errors]

squall::Future<void> demo() {
  std::cout << "alice -> " << co_await display_name("alice") << '\n';
  std::cout << "bob -> " << co_await display_name("bob") << '\n';

  // [call-never-throws]
  // Calling never throws, even when the body throws before suspending: the exception goes into
  // the Future and comes out where the Future is awaited (or its result() is read).
  squall::Future<std::string> failed = find_user("");
  std::cout << "find_user(\"\") returned a Future, done() = " << std::boolalpha << failed.done()
            << '\n';
  try {
    co_await failed;
  } catch (const std::invalid_argument& e) {
    std::cout << "  co_await rethrew: " << e.what() << '\n';
  }
  // [call-never-throws]
}

int main() {
  // [run-sync-throws]
  try {
    squall::IOLoop::current().run_sync([] { return display_name(""); });
  } catch (const std::exception& e) {
    std::cout << "run_sync rethrew: " << e.what() << '\n';
  }
  // [run-sync-throws]
  squall::IOLoop::current().run_sync(demo);
}
