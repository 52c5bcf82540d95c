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
#include "squall/http/httpclient.hpp"
#include "squall/http/httpserver.hpp"

namespace squall::web {
class Application;
}

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

/// A fixture serving an `Application` over real sockets, as Tornado's `AsyncHTTPTestCase`: each
/// test gets a fresh loop, the application of `get_app()` on an unused port of 127.0.0.1, and a
/// client. `fetch` runs one request to completion on the loop (a 5 s timeout) and returns the
/// response whatever its status (an HTTP error is a response with that code, not an exception).
class AsyncHTTPTestCase : public AsyncTest {
 protected:
  AsyncHTTPTestCase();
  ~AsyncHTTPTestCase() override;

  void SetUp() override;
  void TearDown() override;

  /// The application under test; called once per test, from SetUp.
  virtual std::unique_ptr<web::Application> get_app() = 0;
  /// Options of the test's HTTPServer.
  virtual HTTPServerOptions get_http_server_options() { return {}; }

  web::Application& app() noexcept { return *app_; }
  HTTPServer& http_server() noexcept { return *server_; }
  AsyncHTTPClient& http_client() noexcept { return *client_; }
  int get_http_port() const noexcept { return port_; }
  /// `http://127.0.0.1:<port><path>`.
  std::string get_url(std::string_view path) const;

  /// Fetches `path` (a path of the test server, or an absolute URL) with `request`'s method,
  /// headers, body and options (its `url` is replaced), and waits for the response.
  HTTPResponse fetch(std::string_view path, HTTPRequest request = {});
  /// As `fetch`, as a Future, for a coroutine test body.
  Future<HTTPResponse> fetch_async(std::string_view path, HTTPRequest request = {});

 private:
  std::unique_ptr<web::Application> app_;
  std::unique_ptr<HTTPServer> server_;
  std::unique_ptr<AsyncHTTPClient> client_;
  int port_ = 0;
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
