// Quoted by docs/coroutines.md: running coroutines in parallel with gen::multi (vector, map,
// variadic) and gen::WaitIterator, and interleaving work with a Future started earlier.
#include <chrono>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <squall/core/gen.hpp>
#include <squall/core/ioloop.hpp>

using namespace std::chrono_literals;

squall::Future<int> square_later(int x, std::chrono::milliseconds delay) {
  co_await squall::gen::sleep(delay);
  co_return x* x;
}

squall::Future<std::string> name_later(int x) {
  co_await squall::gen::sleep(5ms);
  co_return "number " + std::to_string(x);
}

// Milliseconds since `start`, for the printout.
long long since(squall::IOLoop::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(squall::IOLoop::current().time() -
                                                               start)
      .count();
}

squall::Future<void> demo() {
  auto start = squall::IOLoop::current().time();

  // [multi-vector]
  std::vector<squall::Future<int>> futures;
  for (int x : {1, 2, 3}) futures.push_back(square_later(x, x * 10ms));  // all three start now
  std::vector<int> squares = co_await squall::gen::multi(std::move(futures));
  // squares == {1, 4, 9}, after 30 ms: the longest wait, not the sum of the three
  // [multi-vector]
  std::cout << "vector: " << squares[0] << ' ' << squares[1] << ' ' << squares[2] << " after "
            << since(start) << " ms\n";

  // [multi-map]
  std::map<std::string, squall::Future<int>> by_name;
  by_name.emplace("four", square_later(4, 10ms));
  by_name.emplace("five", square_later(5, 5ms));
  std::map<std::string, int> results = co_await squall::gen::multi(std::move(by_name));
  // results == {{"five", 25}, {"four", 16}}
  // [multi-map]
  std::cout << "map: five=" << results["five"] << " four=" << results["four"] << '\n';

  // [multi-variadic]
  // Futures of different types: the results come as a tuple, ready for a structured binding.
  auto [square, name] = co_await squall::gen::multi(square_later(6, 5ms), name_later(6));
  // [multi-variadic]
  std::cout << "variadic: " << square << ", " << name << '\n';

  // [wait-iterator]
  std::vector<squall::Future<int>> racing;
  racing.push_back(square_later(7, 30ms));
  racing.push_back(square_later(8, 10ms));
  racing.push_back(square_later(9, 20ms));
  squall::gen::WaitIterator<int> it(std::move(racing));
  while (!it.done()) {
    int value = co_await it.next();  // the next Future to finish, in the order they finish
    std::cout << "wait-iterator: index " << *it.current_index() << " gave " << value << '\n';
  }
  // [wait-iterator]

  // [interleave]
  start = squall::IOLoop::current().time();
  squall::Future<int> later = square_later(10, 20ms);  // started, not awaited yet
  int meanwhile = co_await square_later(11, 10ms);     // other work while it runs
  int value = co_await later;                          // done after 20 ms in all, not 30
  // [interleave]
  std::cout << "interleave: " << meanwhile << " then " << value << " after " << since(start)
            << " ms\n";
}

int main() {
  squall::IOLoop::current().run_sync(demo);
}
