// Quoted by docs/web.md: errors. HTTPError and other exceptions, Finish, send_error, a custom
// write_error, and serve_traceback. It serves two applications on free loopback ports, fetches
// their pages, checks the status codes and bodies, and exits.
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <squall/http/httputil.hpp>
#include <squall/util/json.hpp>
#include <squall/web/application.hpp>
#include <squall/web/http_error.hpp>
#include <squall/web/request_handler.hpp>

#include "web_example.hpp"

using squall::web::handler;

// [raise]
class ItemHandler : public squall::web::RequestHandler {
 public:
  squall::Future<void> get() override {
    const std::string& id = path_args().at(0);
    if (id == "0") {
      // 404 with the standard page; the log message goes to the log, never to the client.
      throw squall::web::HTTPError(404, "item 0 was deleted");
    }
    if (id == "7") {
      // A reason of your own replaces the standard phrase, in the status line and the page.
      throw squall::web::HTTPError(403, {}, "Item Is Private");
    }
    if (id == "13") {
      throw std::runtime_error("the database is on fire");  // any other exception: 500
    }
    if (id == "42") {
      write("a preview of item 42");
      throw squall::web::Finish();  // ends the request with what was written: 200
    }
    write("item " + id);
    return squall::make_ready_future();
  }
};
// [raise]

// [write_error]
// An API's handlers answer errors with JSON instead of Tornado's little HTML page.
class ApiHandler : public ItemHandler {
 public:
  void write_error(int status_code, const std::exception_ptr& error) override {
    std::string reason(squall::httputil::reason_phrase(status_code));
    try {
      if (error) std::rethrow_exception(error);
    } catch (const squall::web::HTTPError& e) {
      if (!e.reason().empty()) reason = e.reason();
    } catch (...) {
      // Other exceptions say nothing to the client: they may hold internal details.
    }
    write(squall::json{{"code", status_code}, {"error", reason}});
  }
};
// [write_error]

std::unique_ptr<squall::web::Application> make_app() {
  return std::make_unique<squall::web::Application>(std::vector<squall::web::URLSpec>{
      {"/items/(\\w+)", handler<ItemHandler>()},
      {"/api/items/(\\w+)", handler<ApiHandler>()},
  });
}

std::unique_ptr<squall::web::Application> make_debug_app() {
  // [traceback]
  squall::web::Settings settings;
  settings.serve_traceback = true;  // or debug = true, which implies it
  // [traceback]
  return std::make_unique<squall::web::Application>(
      std::vector<squall::web::URLSpec>{{"/items/(\\w+)", handler<ItemHandler>()}},
      std::move(settings));
}

squall::Future<void> test(web_example::Site& site) {
  using web_example::check_equal;
  auto answer = [&](std::string path) -> squall::Future<std::string> {
    squall::HTTPResponse response = co_await site.fetch(path);
    co_return std::to_string(response.code) + " " + response.reason + " | " + response.body;
  };
  check_equal(co_await answer("/items/1"), "200 OK | item 1", "no error");
  check_equal(
      co_await answer("/items/0"),
      "404 Not Found | <html><title>404: Not Found</title><body>404: Not Found</body></html>",
      "HTTPError");
  check_equal(co_await answer("/items/7"),
              "403 Item Is Private | <html><title>403: Item Is Private</title><body>403: Item Is "
              "Private</body></html>",
              "HTTPError with a reason");
  check_equal(
      co_await answer("/items/13"),
      "500 Internal Server Error | <html><title>500: Internal Server Error</title><body>500: "
      "Internal Server Error</body></html>",
      "an uncaught exception");
  check_equal(co_await answer("/items/42"), "200 OK | a preview of item 42", "Finish");
  check_equal(co_await answer("/api/items/7"),
              R"(403 Item Is Private | {"code":403,"error":"Item Is Private"})", "write_error");
  check_equal(co_await answer("/api/items/13"),
              R"(500 Internal Server Error | {"code":500,"error":"Internal Server Error"})",
              "write_error of an exception");
}

squall::Future<void> test_debug(web_example::Site& site) {
  squall::HTTPResponse response = co_await site.fetch("/items/13");
  web_example::check_equal(
      response.headers.get("Content-Type", "") + " | " + response.body,
      "text/plain; charset=UTF-8 | std::runtime_error: the database is on fire\n",
      "serve_traceback");
}

int main() {
  if (int status = web_example::run(make_app, test); status != 0) return status;
  return web_example::run(make_debug_app, test_debug);
}
