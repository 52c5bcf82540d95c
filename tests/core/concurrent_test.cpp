#include "squall/core/concurrent.hpp"

#include <gtest/gtest.h>

#include "squall/testing/testing.hpp"

namespace squall {
namespace {

class ConcurrentTest : public testing::AsyncTest {};

Future<int> add_one(Future<int> f) {
  co_return co_await f + 1;
}

TEST_F(ConcurrentTest, AwaitsAFutureResolvedByACallback) {
  int result = run_sync([&]() -> Future<int> {
    Future<int> f;
    io_loop().add_callback([f] { f.set_result(41); });
    co_return co_await add_one(f);
  });
  EXPECT_EQ(result, 42);
}

}  // namespace
}  // namespace squall
