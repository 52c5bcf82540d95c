// Quoted by docs/web.md: the request handler's flow. prepare() before the method, methods that
// return a ready Future and methods that are coroutines, on_finish() after the response, and
// on_connection_close() for a client that leaves. It serves on a free loopback port, fetches its
// pages (and gives up on one, so that the server sees the client go), checks and exits.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <squall/core/gen.hpp>
#include <squall/core/locks.hpp>
#include <squall/web/application.hpp>
#include <squall/web/request_handler.hpp>

#include "web_example.hpp"

using namespace std::chrono_literals;
using squall::web::handler;

// What the handlers report to the test.
struct Journal {
  std::vector<std::string> finished;  // on_finish(), in order
  squall::Event client_left;          // set by on_connection_close()
};

// [flow]
class ReportHandler : public squall::web::RequestHandler {
 public:
  void initialize(std::shared_ptr<Journal> journal) { journal_ = std::move(journal); }

  // Runs before the method, and may suspend. A response finished here skips the method.
  squall::Future<void> prepare() override {
    if (get_argument("maintenance", "") == "yes") {
      set_status(503);
      co_await finish("down for maintenance");
    }
  }

  // A coroutine method: the response is finished once it returns (unless it finished it).
  squall::Future<void> get() override {
    co_await squall::gen::sleep(5ms);  // stands for a database query
    write("report ready");
  }

  // After the response is finished: cleanup, statistics. It must not write.
  void on_finish() override {
    journal_->finished.push_back(request().method + " " + std::to_string(get_status()));
  }

 private:
  std::shared_ptr<Journal> journal_;
};
// [flow]

// [close]
// Long polling: the method waits until there is news, or until the client goes away.
class WaitHandler : public squall::web::RequestHandler {
 public:
  squall::Future<void> get() override {
    co_await wake_.wait();  // set when there is news (not shown), or by on_connection_close
  }

  void on_connection_close() override { wake_.set(); }

 private:
  squall::Event wake_;
};
// [close]

// WaitHandler, telling the test when the client has gone.
class ObservedWaitHandler : public WaitHandler {
 public:
  void initialize(std::shared_ptr<Journal> journal) { journal_ = std::move(journal); }
  void on_connection_close() override {
    WaitHandler::on_connection_close();
    journal_->client_left.set();
  }

 private:
  std::shared_ptr<Journal> journal_;
};

std::shared_ptr<Journal> journal = std::make_shared<Journal>();

std::unique_ptr<squall::web::Application> make_app() {
  return std::make_unique<squall::web::Application>(std::vector<squall::web::URLSpec>{
      {"/report", handler<ReportHandler>(journal)},
      {"/wait", handler<ObservedWaitHandler>(journal)},
  });
}

squall::Future<void> test(web_example::Site& site) {
  using web_example::check_equal;
  auto report = co_await site.fetch("/report");
  check_equal(std::to_string(report.code) + " " + report.body, "200 report ready", "GET");
  auto down = co_await site.fetch("/report?maintenance=yes");
  check_equal(std::to_string(down.code) + " " + down.body, "503 down for maintenance",
              "finished in prepare");
  squall::HTTPRequest post;
  post.method = "POST";
  post.body = "";
  check_equal(std::to_string((co_await site.fetch("/report", post)).code), "405",
              "a method not overridden");
  std::string finished;
  for (const std::string& entry : journal->finished) finished += entry + ",";
  check_equal(finished, "GET 200,GET 503,POST 405,", "on_finish");

  // The client gives up after 200 ms; the server sees the connection close.
  squall::HTTPRequest impatient;
  impatient.request_timeout = 200ms;
  auto gave_up = co_await site.fetch("/wait", impatient);
  check_equal(std::to_string(gave_up.code), "599", "the client timed out");
  co_await journal->client_left.wait(5s);
}

int main() {
  return web_example::run(make_app, test);
}
