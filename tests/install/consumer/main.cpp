// Built against an installed squall, by find_package and by pkg-config.
#include <squall/core/gen.hpp>
#include <squall/core/ioloop.hpp>

#include <chrono>
#include <cstdio>

squall::Future<int> answer() {
  co_await squall::gen::sleep(std::chrono::milliseconds(1));
  co_return 42;
}

int main() {
  squall::IOLoop loop;
  int value = loop.run_sync(answer);
  std::printf("consumer: %d\n", value);
  return value == 42 ? 0 : 1;
}
