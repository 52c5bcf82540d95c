// Quoted by docs/web.md: static files. The static_path setting, static_url's versioned URLs, a
// StaticFileHandler route with an index file, and a subclass that changes the cache lifetime. It
// writes a few files to a temporary folder, serves them on a free loopback port, fetches them
// (conditional and range requests included), checks and exits.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <squall/web/application.hpp>
#include <squall/web/request_handler.hpp>
#include <squall/web/static_file_handler.hpp>

#include "web_example.hpp"

using squall::web::handler;
namespace fs = std::filesystem;

const fs::path root =
    fs::temp_directory_path() / ("squall-web-static-" + std::to_string(::getpid()));

// [page]
class PageHandler : public squall::web::RequestHandler {
 public:
  squall::Future<void> get() override {
    // /static/app.js?v=<MD5 of the file>: the URL changes whenever the file does.
    write("<script src=\"" + static_url("app.js") + "\"></script>");
    return squall::make_ready_future();
  }
};
// [page]

// [subclass]
// Lets browsers cache every file of a folder for an hour, versioned URL or not.
class HourlyStaticHandler : public squall::web::StaticFileHandler {
 public:
  std::chrono::seconds get_cache_time(std::string_view path,
                                      std::optional<std::chrono::system_clock::time_point> modified,
                                      std::string_view mime_type) override {
    return std::chrono::hours(1);
  }
};
// [subclass]

std::unique_ptr<squall::web::Application> make_app() {
  const std::string static_folder = (root / "static").string();
  const std::string docs_folder = (root / "docs").string();
  // [settings]
  squall::web::Settings settings;
  settings.static_path = static_folder;  // serves /static/..., /favicon.ico and /robots.txt
  auto app = std::make_unique<squall::web::Application>(
      std::vector<squall::web::URLSpec>{
          {"/", handler<PageHandler>()},
          // Another folder, with an index file for its folders' URLs.
          {"/docs/(.*)",
           handler<HourlyStaticHandler>(squall::web::StaticFileOptions{docs_folder, "index.html"})},
      },
      std::move(settings));
  // [settings]
  return app;
}

squall::Future<void> test(web_example::Site& site) {
  using web_example::check;
  using web_example::check_equal;
  auto page = co_await site.fetch("/");
  check_equal(page.body,
              "<script src=\"/static/app.js?v=d8e8fca2dc0f896fd7cb4cb0031ba249\"></script>",
              "static_url (the MD5 of \"test\\n\")");

  auto versioned = co_await site.fetch("/static/app.js?v=d8e8fca2dc0f896fd7cb4cb0031ba249");
  check_equal(versioned.body, "test\n", "the file");
  check_equal(versioned.headers.get("Content-Type", ""), "text/javascript", "its type");
  check_equal(versioned.headers.get("Cache-Control", ""), "max-age=315360000", "ten years");
  check_equal(versioned.headers.get("Etag", ""), "\"d8e8fca2dc0f896fd7cb4cb0031ba249\"", "Etag");

  squall::HTTPRequest conditional;
  conditional.headers.add("If-None-Match", versioned.headers.get("Etag", ""));
  check_equal(std::to_string((co_await site.fetch("/static/app.js", conditional)).code), "304",
              "If-None-Match");
  squall::HTTPRequest range;
  range.headers.add("Range", "bytes=0-1");
  auto part = co_await site.fetch("/static/app.js", range);
  check_equal(
      std::to_string(part.code) + " " + part.headers.get("Content-Range", "") + " " + part.body,
      "206 bytes 0-1/5 te", "a range");
  check_equal(std::to_string((co_await site.fetch("/static/../secret.txt")).code), "403",
              "outside the folder");
  check_equal(std::to_string((co_await site.fetch("/static/missing.js")).code), "404", "missing");
  check_equal((co_await site.fetch("/robots.txt")).body, "User-agent: *\n", "robots.txt");

  auto folder = co_await site.fetch("/docs/guide");
  check_equal(std::to_string(folder.code) + " " + folder.headers.get("Location", ""),
              "301 /docs/guide/", "a folder's URL gets its slash");
  auto index = co_await site.fetch("/docs/guide/");
  check_equal(index.body, "<h1>Guide</h1>\n", "the index file");
  check_equal(index.headers.get("Cache-Control", ""), "max-age=3600", "get_cache_time");
}

int main() {
  fs::create_directories(root / "static");
  fs::create_directories(root / "docs" / "guide");
  std::ofstream(root / "static" / "app.js") << "test\n";
  std::ofstream(root / "static" / "robots.txt") << "User-agent: *\n";
  std::ofstream(root / "secret.txt") << "not for the web\n";
  std::ofstream(root / "docs" / "guide" / "index.html") << "<h1>Guide</h1>\n";
  int status = web_example::run(make_app, test);
  fs::remove_all(root);
  return status;
}
