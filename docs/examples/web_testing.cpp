// Quoted by docs/web.md: testing a web application with GoogleTest. AsyncHTTPTestCase serves the
// application on a free port for each test; ExpectLog asserts a log line; AsyncTest runs
// coroutines on a fresh loop. CTest runs this program (test doc_web_testing).
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <squall/core/gen.hpp>
#include <squall/testing/testing.hpp>
#include <squall/util/log.hpp>
#include <squall/web/application.hpp>
#include <squall/web/request_handler.hpp>

using namespace std::chrono_literals;

namespace {

class HelloHandler : public squall::web::RequestHandler {
 public:
  squall::Future<void> get() override {
    write("Hello, " + get_argument("name"));
    return squall::make_ready_future();
  }
};

// [http]
class HelloTest : public squall::testing::AsyncHTTPTestCase {
 protected:
  // Called for each test: the application under test, served on 127.0.0.1 at a free port.
  std::unique_ptr<squall::web::Application> get_app() override {
    return std::make_unique<squall::web::Application>(
        std::vector<squall::web::URLSpec>{{"/hello", squall::web::handler<HelloHandler>()}});
  }
};

TEST_F(HelloTest, GreetsByName) {
  squall::HTTPResponse response = fetch("/hello?name=Ann");  // runs the loop until it is done
  EXPECT_EQ(response.code, 200);
  EXPECT_EQ(response.body, "Hello, Ann");
}

TEST_F(HelloTest, AMissingNameIs400AndLogged) {
  // Fails the test unless a matching line is logged while it lives; the line is not printed.
  squall::testing::ExpectLog logged(squall::log::gen_log(), "Missing argument name");
  EXPECT_EQ(fetch("/hello").code, 400);  // an error status is a response, not an exception
}
// [http]

TEST_F(HelloTest, FetchesInParallel) {
  run_sync([this]() -> squall::Future<void> {  // a coroutine test body, with a 5 s timeout
    auto [ann, bob] =
        co_await squall::gen::multi(fetch_async("/hello?name=Ann"), fetch_async("/hello?name=Bob"));
    EXPECT_EQ(ann.body + " / " + bob.body, "Hello, Ann / Hello, Bob");
  });
}

// [async]
class SleepTest : public squall::testing::AsyncTest {};  // a fresh IOLoop for each test

TEST_F(SleepTest, SleepsOnTheTestsLoop) {
  auto started = io_loop().time();
  run_sync([]() -> squall::Future<void> { co_await squall::gen::sleep(10ms); });
  EXPECT_GE(io_loop().time() - started, 10ms);
}
// [async]

}  // namespace
