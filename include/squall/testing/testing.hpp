#pragma once
/// \file
/// GoogleTest support, as Tornado's `testing`: a fixture with a fresh IOLoop per test, and
/// `ExpectLog` to assert (and silence) log lines.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "squall/core/ioloop.hpp"

namespace spdlog {
class logger;
}

namespace squall::testing {

/// A fixture whose every test gets a new IOLoop, current for the test's thread and closed after.
/// `run_sync(fn)` runs a coroutine on it with a timeout (5 s unless given), like Tornado's
/// `gen_test`.
class AsyncTest : public ::testing::Test {
 protected:
  AsyncTest();
  ~AsyncTest() override;

  IOLoop& io_loop() noexcept { return *loop_; }

  template <class F>
  auto run_sync(F&& fn, IOLoop::duration timeout = std::chrono::seconds(5)) {
    return loop_->run_sync(std::forward<F>(fn), timeout);
  }

 private:
  IOLoop* previous_;
  std::unique_ptr<IOLoop> loop_;
};

/// While alive, captures the lines of `logger` whose text matches `pattern` (std::regex, searched
/// anywhere in the line); other lines pass through. On destruction, adds a test failure if
/// `required` and no line matched.
class ExpectLog {
 public:
  ExpectLog(spdlog::logger& logger, std::string pattern, bool required = true);
  ~ExpectLog();
  ExpectLog(const ExpectLog&) = delete;
  ExpectLog& operator=(const ExpectLog&) = delete;

  /// How many lines matched so far.
  int matched() const;
  /// The matching lines so far.
  std::vector<std::string> lines() const;

 private:
  struct Capture;
  std::shared_ptr<Capture> capture_;
  spdlog::logger& logger_;
  bool required_;
};

}  // namespace squall::testing
