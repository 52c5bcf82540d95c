// Quoted by docs/web.md: a handler's output. Buffered writes, headers and status, JSON, a response
// streamed with flush(), redirects, the automatic ETag and its 304, and compress_response. It
// serves on a free loopback port, fetches its pages, checks them and exits.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <squall/core/gen.hpp>
#include <squall/util/json.hpp>
#include <squall/web/application.hpp>
#include <squall/web/request_handler.hpp>

#include "web_example.hpp"

using namespace std::chrono_literals;
using squall::web::handler;

// [write]
class PlainHandler : public squall::web::RequestHandler {
 public:
  squall::Future<void> get() override {
    set_header("Content-Type", "text/plain; charset=UTF-8");  // replaces the text/html default
    add_header("Link", "</style.css>; rel=preload");          // add_header keeps earlier ones
    add_header("Link", "</app.js>; rel=preload");
    write("line 1\n");  // buffered: nothing is sent yet
    write("line 2\n");
    return squall::make_ready_future();  // sent now, with Content-Length and Etag
  }
};
// [write]

// [json]
class CreateHandler : public squall::web::RequestHandler {
 public:
  squall::Future<void> post() override {
    set_status(201);  // the reason phrase is the standard one ("Created") unless given
    set_header("Location", "/items/17");
    write(squall::json{{"id", 17}, {"note", "</script> is safe"}});  // application/json
    return squall::make_ready_future();
  }
};
// [json]

// [flush]
// A response sent in pieces: the first flush() sends the headers (chunked, no Content-Length).
class CountdownHandler : public squall::web::RequestHandler {
 public:
  squall::Future<void> get() override {
    set_header("Content-Type", "text/plain");
    for (int i = 3; i > 0; --i) {
      write(std::to_string(i) + "...\n");
      co_await flush();  // completes once the kernel has the bytes: the client's pace
      co_await squall::gen::sleep(10ms);
    }
    write("liftoff\n");  // the rest goes when get() returns
  }
};
// [flush]

// [redirect]
class MovedHandler : public squall::web::RequestHandler {
 public:
  squall::Future<void> get() override {
    redirect("/plain", /*permanent=*/true);  // 301 (302 if not permanent), and finished
    return squall::make_ready_future();
  }
};
// [redirect]

std::unique_ptr<squall::web::Application> make_app() {
  // [compress]
  squall::web::Settings settings;
  settings.compress_response = true;  // gzip text of 1 KiB or more for clients that accept it
  // [compress]
  return std::make_unique<squall::web::Application>(
      std::vector<squall::web::URLSpec>{
          {"/plain", handler<PlainHandler>()},
          {"/items", handler<CreateHandler>()},
          {"/countdown", handler<CountdownHandler>()},
          {"/moved", handler<MovedHandler>()},
      },
      std::move(settings));
}

squall::Future<void> test(web_example::Site& site) {
  using web_example::check;
  using web_example::check_equal;
  auto plain = co_await site.fetch("/plain");
  check_equal(plain.body, "line 1\nline 2\n", "buffered writes");
  check_equal(plain.headers.get("Content-Length", ""), "14", "Content-Length");
  check_equal(std::to_string(plain.headers.get_list("Link").size()), "2", "add_header");
  check(plain.headers.contains("Server") && plain.headers.contains("Date"), "default headers");

  squall::HTTPRequest post;
  post.method = "POST";
  post.body = "";
  auto created = co_await site.fetch("/items", post);
  check_equal(std::to_string(created.code) + " " + created.reason, "201 Created", "set_status");
  check_equal(created.headers.get("Content-Type", ""), "application/json; charset=UTF-8",
              "JSON Content-Type");
  check_equal(created.body, R"({"id":17,"note":"<\/script> is safe"})", "JSON body");

  auto countdown = co_await site.fetch("/countdown");
  check_equal(countdown.body, "3...\n2...\n1...\nliftoff\n", "flushed pieces");
  check_equal(countdown.headers.get("Transfer-Encoding", ""), "chunked", "chunked response");

  auto moved = co_await site.fetch("/moved");
  check_equal(std::to_string(moved.code) + " " + moved.headers.get("Location", ""), "301 /plain",
              "redirect");

  // [etag]
  // A GET answered with 200 and not flushed gets an Etag (the SHA-1 of the body). A client that
  // sends it back in If-None-Match gets 304 Not Modified, without the body.
  std::string etag = plain.headers.get("Etag", "");
  squall::HTTPRequest again;
  again.headers.add("If-None-Match", etag);
  squall::HTTPResponse not_modified = co_await site.fetch("/plain", again);
  check_equal(std::to_string(not_modified.code) + " [" + not_modified.body + "]", "304 []",
              "the Etag sent back gives 304");
  // [etag]
  check_equal(std::to_string(etag.size()), "42", "a quoted SHA-1");

  // compress_response: the client asks for gzip and inflates what comes back.
  squall::HTTPRequest raw;
  raw.decompress_response = false;
  raw.headers.add("Accept-Encoding", "gzip");
  auto small = co_await site.fetch("/plain", raw);
  check(!small.headers.contains("Content-Encoding"), "a small response is not compressed");
  check_equal(small.headers.get("Vary", ""), "Accept-Encoding", "Vary");
  auto streamed = co_await site.fetch("/countdown", raw);
  check_equal(streamed.headers.get("Content-Encoding", ""), "gzip", "a flushed response is");
  auto inflated = co_await site.fetch("/countdown");
  check_equal(inflated.headers.get("X-Consumed-Content-Encoding", ""), "gzip", "inflated");
}

int main() {
  return web_example::run(make_app, test);
}
