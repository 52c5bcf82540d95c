// Quoted by docs/web.md: a first web application, Tornado's "Hello, world" with a handler that
// takes arguments from its route. It listens on a free loopback port, starts the loop, fetches its
// own pages from a callback on that loop, checks them, stops the loop and exits 0.
#include <iostream>
#include <string>

#include <squall/core/ioloop.hpp>
#include <squall/http/httpclient.hpp>
#include <squall/web/application.hpp>
#include <squall/web/request_handler.hpp>

#include "web_example.hpp"

// [handlers]
// One handler object per request: the application makes it, calls get(), and finishes the
// response once the returned Future is done.
class MainHandler : public squall::web::RequestHandler {
 public:
  squall::Future<void> get() override {
    write("Hello, world");
    return squall::make_ready_future();  // done already: nothing to wait for
  }
};

// A handler configured by its route: handler<GreetingHandler>("Bonjour") passes "Bonjour" to
// initialize() on every new handler, as Tornado passes a route's keyword arguments.
class GreetingHandler : public squall::web::RequestHandler {
 public:
  void initialize(std::string greeting) { greeting_ = std::move(greeting); }

  squall::Future<void> get() override {
    write(greeting_ + ", " + get_argument("name", "world"));
    return squall::make_ready_future();
  }

 private:
  std::string greeting_;
};
// [handlers]

// The self-test: fetches both pages from the running loop, then stops it.
squall::Future<void> check_pages(std::uint16_t port, bool& ok) {
  squall::AsyncHTTPClient client(squall::AsyncHTTPClient::Defaults{});
  std::string base = "http://127.0.0.1:" + std::to_string(port);
  try {
    squall::HTTPResponse hello = co_await client.fetch(base + "/");
    squall::HTTPResponse bonjour = co_await client.fetch(base + "/greet?name=Ana");
    std::cout << hello.body << '\n' << bonjour.body << '\n';
    web_example::check_equal(hello.body, "Hello, world", "GET /");
    web_example::check_equal(hello.headers.get("Content-Type", ""), "text/html; charset=UTF-8",
                             "the default Content-Type");
    web_example::check_equal(bonjour.body, "Bonjour, Ana", "GET /greet?name=Ana");
    ok = true;
  } catch (const std::exception& e) {
    std::cerr << e.what() << '\n';
  }
  client.close();
  squall::IOLoop::current().stop();
}

int main() {
  const std::uint16_t port = web_example::free_port();  // 8888 in a real program
  bool ok = false;
  squall::IOLoop loop;
  loop.spawn_callback([port, &ok] { return check_pages(port, ok); });  // runs once started
  // [main]
  squall::web::Application app({
      {"/", squall::web::handler<MainHandler>()},
      {"/greet", squall::web::handler<GreetingHandler>(std::string("Bonjour"))},
  });
  app.listen(port, "127.0.0.1");      // the HTTPServer it returns belongs to the application
  squall::IOLoop::current().start();  // serves until something calls stop()
  // [main]
  return ok ? 0 : 1;
}
