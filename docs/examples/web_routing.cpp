// Quoted by docs/web.md: routing. Path patterns and their groups, named routes and reverse_url,
// routes for some hosts only, the default host and handler, RedirectHandler and ErrorHandler. It
// serves the application on a free loopback port, fetches its URLs, checks the answers and exits.
#include <memory>
#include <string>
#include <vector>

#include <squall/util/json.hpp>
#include <squall/web/application.hpp>
#include <squall/web/handlers.hpp>
#include <squall/web/request_handler.hpp>

#include "web_example.hpp"

using squall::web::handler;

// [story]
// Shows what the route captured: path_args() for positional groups, path_kwargs() for named ones.
class StoryHandler : public squall::web::RequestHandler {
 public:
  squall::Future<void> get() override {
    squall::json out = {{"args", path_args()}, {"kwargs", squall::json::object()}};
    for (const auto& [name, value] : path_kwargs()) out["kwargs"][name] = value;
    out["link"] = reverse_url("story", {"42"});  // the path of the route named "story"
    write(out);
    return squall::make_ready_future();
  }
};
// [story]

// Answers with a fixed text.
class TextHandler : public squall::web::RequestHandler {
 public:
  void initialize(std::string text) { text_ = std::move(text); }
  squall::Future<void> get() override {
    write(text_);
    return squall::make_ready_future();
  }

 private:
  std::string text_;
};

std::unique_ptr<squall::web::Application> make_app() {
  // [routes]
  squall::web::Settings settings;
  settings.default_host = "www.example.com";  // serves hosts no pattern matches
  settings.default_handler_class = handler<TextHandler>(std::string("no such page, sorry"));
  auto app = std::make_unique<squall::web::Application>(
      std::vector<squall::web::URLSpec>{
          {"/", handler<TextHandler>(std::string("home"))},
          {"/story/([0-9]+)", handler<StoryHandler>(), "story"},  // named: reverse_url("story")
          {"/by/(?P<author>[^/]+)/(?P<slug>[^/]+)", handler<StoryHandler>()},
          {"/old/(.*)", handler<squall::web::RedirectHandler>(
                            squall::web::RedirectOptions{.url = "/story/{0}"})},
          {"/gone", handler<squall::web::ErrorHandler>(410)},
      },
      std::move(settings));
  // Hosts matching the pattern are served these routes first, then the ones above.
  app->add_handlers(R"(www\.example\.com)",
                    {{"/", handler<TextHandler>(std::string("www home"))},
                     {"/about", handler<TextHandler>(std::string("about www"))}});
  // [routes]
  return app;
}

squall::Future<void> test(web_example::Site& site) {
  using web_example::check_equal;
  auto story = co_await site.fetch("/story/7");
  check_equal(story.body, R"({"args":["7"],"kwargs":{},"link":"/story/42"})", "/story/7");
  auto by = co_await site.fetch("/by/ann/caf%C3%A9%20au%20lait");
  check_equal(
      by.body,
      R"({"args":[],"kwargs":{"author":"ann","slug":"caf\u00e9 au lait"},"link":"/story/42"})",
      "named groups are decoded");
  auto old = co_await site.fetch("/old/9?page=2");
  check_equal(std::to_string(old.code) + " " + old.headers.get("Location", ""),
              "301 /story/9?page=2", "RedirectHandler");
  check_equal(std::to_string((co_await site.fetch("/gone")).code), "410", "ErrorHandler");
  check_equal((co_await site.fetch("/nowhere")).body, "no such page, sorry",
              "default_handler_class");

  squall::HTTPRequest www;
  www.headers.add("Host", "WWW.example.com:8888");
  check_equal((co_await site.fetch("/", www)).body, "www home", "a host's routes come first");
  check_equal((co_await site.fetch("/")).body, "home", "127.0.0.1 gets the routes of any host");
  squall::HTTPRequest other;
  other.headers.add("Host", "unknown.example.org");
  check_equal((co_await site.fetch("/", other)).body, "home", "any host's routes come next");
  check_equal((co_await site.fetch("/about", other)).body, "about www",
              "then the default host's routes");
}

int main() {
  return web_example::run(make_app, test);
}
