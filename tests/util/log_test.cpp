#include "squall/util/log.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <map>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include "squall/testing/testing.hpp"
#include "squall/util/error.hpp"

namespace squall {
namespace {

using squall::testing::ExpectLog;

std::exception_ptr thrown(auto error) {
  try {
    throw error;
  } catch (...) {
    return std::current_exception();
  }
}

class CustomFailure : public std::logic_error {
 public:
  CustomFailure() : std::logic_error("custom message") {}
};

struct NotAnException {
  int code = 3;
};

TEST(LogTest, TheLoggersHaveTornadosNames) {
  EXPECT_EQ(log::access_log().name(), "squall.access");
  EXPECT_EQ(log::app_log().name(), "squall.application");
  EXPECT_EQ(log::gen_log().name(), "squall.general");
}

TEST(LogTest, EachLoggerIsOneObjectRegisteredWithSpdlog) {
  EXPECT_EQ(&log::access_log(), &log::access_log());
  EXPECT_EQ(spdlog::get("squall.access").get(), &log::access_log());
  EXPECT_EQ(spdlog::get("squall.application").get(), &log::app_log());
  EXPECT_EQ(spdlog::get("squall.general").get(), &log::gen_log());
  EXPECT_NE(&log::app_log(), &log::gen_log());
}

TEST(LogTest, DescribeNamesTheExceptionTypeAndItsMessage) {
  EXPECT_EQ(log::describe(thrown(std::runtime_error("it broke"))), "std::runtime_error: it broke");
}

TEST(LogTest, DescribeNamesTheDynamicTypeOfAStdExceptionSubclass) {
  EXPECT_EQ(log::describe(thrown(TimeoutError("too slow"))), "squall::TimeoutError: too slow");
  EXPECT_EQ(log::describe(thrown(CancelledError())),
            "squall::CancelledError: Future was cancelled");
  EXPECT_EQ(log::describe(thrown(std::out_of_range("index 9"))), "std::out_of_range: index 9");
}

TEST(LogTest, DescribeNamesAUserDefinedExceptionClass) {
  EXPECT_EQ(log::describe(thrown(CustomFailure())),
            "squall::(anonymous namespace)::CustomFailure: custom message");
}

TEST(LogTest, DescribeOfANonStdExceptionSaysUnknown) {
  EXPECT_EQ(log::describe(thrown(42)), "unknown exception");
  EXPECT_EQ(log::describe(thrown(NotAnException{})), "unknown exception");
  EXPECT_EQ(log::describe(thrown(std::string("a string"))), "unknown exception");
}

TEST(LogTest, DescribeOfNoExceptionSaysSo) {
  EXPECT_EQ(log::describe(nullptr), "no exception");
}

TEST(LogTest, DemangleTurnsATypeidNameIntoCxxSyntax) {
  EXPECT_EQ(log::demangle(typeid(int).name()), "int");
  EXPECT_EQ(
      log::demangle(typeid(std::map<int, double>).name()),
      "std::map<int, double, std::less<int>, std::allocator<std::pair<int const, double> > >");
  EXPECT_EQ(log::demangle(typeid(CustomFailure).name()),
            "squall::(anonymous namespace)::CustomFailure");
  EXPECT_EQ(log::demangle(typeid(InvalidStateError).name()), "squall::InvalidStateError");
}

TEST(LogTest, DemangleReturnsANameItCannotDemangleUnchanged) {
  EXPECT_EQ(log::demangle("not a mangled name!"), "not a mangled name!");
  EXPECT_EQ(log::demangle(""), "");
}

TEST(LogTest, ExpectLogCapturesTheMatchingLinesOnly) {
  ExpectLog expect(log::gen_log(), "^wanted [0-9]+$");
  log::gen_log().warn("wanted {}", 1);
  log::gen_log().warn("unrelated line");  // passes through to the real sink
  log::gen_log().error("wanted {}", 2);
  EXPECT_EQ(expect.matched(), 2);
  EXPECT_EQ(expect.lines(), (std::vector<std::string>{"wanted 1", "wanted 2"}));
}

TEST(LogTest, ExpectLogRestoresTheLoggersSinks) {
  auto sinks_before = log::app_log().sinks();
  {
    ExpectLog expect(log::app_log(), "x");
    EXPECT_NE(log::app_log().sinks(), sinks_before);
    log::app_log().error("x");
  }
  EXPECT_EQ(log::app_log().sinks(), sinks_before);
}

}  // namespace
}  // namespace squall
