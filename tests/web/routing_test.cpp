// URLSpec: Python-syntax patterns matched against whole paths, groups decoded, and reversal.

#include "squall/web/routing.hpp"

#include <gtest/gtest.h>

#include "squall/util/error.hpp"
#include "squall/web/request_handler.hpp"

namespace squall::web {
namespace {

HandlerFactory no_handler() {
  HandlerFactory factory;
  factory.make = [] { return std::unique_ptr<RequestHandler>(); };
  return factory;
}

PathArguments match(const URLSpec& spec, std::string_view path, bool expect = true) {
  PathArguments out;
  EXPECT_EQ(spec.match(path, out), expect) << spec.pattern() << " against " << path;
  return out;
}

TEST(URLSpecTest, LiteralPatternMatchesOnlyTheWholePath) {
  URLSpec spec("/plaintext", no_handler());
  match(spec, "/plaintext");
  match(spec, "/plaintext/", false);
  match(spec, "/plaintex", false);
  match(spec, "/x/plaintext", false);
}

TEST(URLSpecTest, PatternIsAnchoredAtBothEndsAsTornadoAppendsDollar) {
  URLSpec spec("/a.c", no_handler());
  match(spec, "/abc");
  match(spec, "/abcd", false);
  match(spec, "x/abc", false);
  URLSpec explicit_anchors("^/abc$", no_handler());
  match(explicit_anchors, "/abc");
}

TEST(URLSpecTest, DollarDoesNotMatchBeforeATrailingNewline) {
  URLSpec spec("/item/([a-z]+)$", no_handler());
  match(spec, "/item/abc\n", false);
}

TEST(URLSpecTest, PositionalGroupsArePercentDecoded) {
  URLSpec spec("/story/([^/]+)/(\\d+)", no_handler());
  PathArguments out = match(spec, "/story/caf%C3%A9%20au%20lait/42");
  ASSERT_EQ(out.args.size(), 2u);
  EXPECT_EQ(out.args[0], "caf\xC3\xA9 au lait");
  EXPECT_EQ(out.args[1], "42");
  EXPECT_TRUE(out.kwargs.empty());
}

TEST(URLSpecTest, PlusStaysAPlusInAPath) {
  URLSpec spec("/q/(.*)", no_handler());
  EXPECT_EQ(match(spec, "/q/a+b").args.at(0), "a+b");
}

TEST(URLSpecTest, NamedGroupsGiveKeywordArgumentsOnly) {
  URLSpec spec("/(?P<year>\\d{4})/(?P<slug>[a-z-]+)/(\\d+)", no_handler());
  PathArguments out = match(spec, "/2026/hello-world/7");
  EXPECT_TRUE(out.args.empty());
  ASSERT_EQ(out.kwargs.size(), 2u);
  EXPECT_EQ(out.kwargs.at("year"), "2026");
  EXPECT_EQ(out.kwargs.at("slug"), "hello-world");
}

TEST(URLSpecTest, AGroupThatTookNoPartIsEmpty) {
  URLSpec spec("/a(/b)?(/c)?", no_handler());
  PathArguments out = match(spec, "/a/c");
  ASSERT_EQ(out.args.size(), 2u);
  EXPECT_EQ(out.args[0], "");
  EXPECT_EQ(out.args[1], "/c");
}

TEST(URLSpecTest, BadPatternThrowsValueErrorNamingIt) {
  try {
    URLSpec spec("/broken/(unclosed", no_handler());
    FAIL() << "no exception";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("/broken/(unclosed"), std::string::npos) << e.what();
  }
}

TEST(URLSpecTest, MissingFactoryIsRefused) {
  EXPECT_THROW(URLSpec("/x", HandlerFactory{}), ValueError);
}

TEST(URLSpecTest, ReverseFillsGroupsPercentEncoded) {
  URLSpec spec("/story/([0-9]+)/comments/([^/]+)", no_handler(), "comments");
  std::vector<std::string> args = {"42", "a b/c"};
  EXPECT_EQ(spec.reverse(args), "/story/42/comments/a%20b/c");
}

TEST(URLSpecTest, ReverseUnescapesTheFixedText) {
  URLSpec spec("^/files/report\\.txt$", no_handler());
  EXPECT_EQ(spec.reverse({}), "/files/report.txt");
}

TEST(URLSpecTest, ReverseRefusesTheWrongNumberOfArguments) {
  URLSpec spec("/story/([0-9]+)", no_handler());
  EXPECT_THROW(spec.reverse({}), ValueError);
  std::vector<std::string> two = {"1", "2"};
  EXPECT_THROW(spec.reverse(two), ValueError);
}

TEST(URLSpecTest, ReverseRefusesPatternsTooComplexToReverse) {
  std::vector<std::string> one = {"1"};
  EXPECT_THROW(URLSpec("/a/((\\d+))", no_handler()).reverse(one), ValueError);
  EXPECT_THROW(URLSpec("/a/\\d+/(x)", no_handler()).reverse(one), ValueError);
  EXPECT_THROW(URLSpec("/a/[xy]/(x)", no_handler()).reverse(one), ValueError);
}

TEST(URLSpecTest, CopiesShareTheCompiledPattern) {
  URLSpec spec("/n/(\\d+)", no_handler(), "n");
  URLSpec copy = spec;
  EXPECT_EQ(copy.name(), "n");
  EXPECT_EQ(match(copy, "/n/5").args.at(0), "5");
}

TEST(HandlerFactoryTest, HandlerCallsInitializeWithCopiesOfTheArguments) {
  struct Greeter : RequestHandler {
    void initialize(std::string greeting, int times) {
      greeting_ = std::move(greeting);
      times_ = times;
    }
    std::string greeting_;
    int times_ = 0;
  };
  HandlerFactory factory = handler<Greeter>(std::string("hi"), 3);
  auto made = factory.make();
  auto* greeter = dynamic_cast<Greeter*>(made.get());
  ASSERT_NE(greeter, nullptr);
  EXPECT_EQ(greeter->greeting_, "hi");
  EXPECT_EQ(greeter->times_, 3);
  EXPECT_FALSE(factory.stream_request_body);
}

struct Uploads : RequestHandler {
  static constexpr bool stream_request_body = true;
};

TEST(HandlerFactoryTest, StreamRequestBodyComesFromTheClass) {
  EXPECT_TRUE(handler<Uploads>().stream_request_body);
}

}  // namespace
}  // namespace squall::web
