// Quoted by docs/web.md: a handler's input. Query and form arguments and the 400s they give,
// uploaded files, a JSON body, and a body streamed to the handler as it arrives, with a limit of
// its own. It serves on a free loopback port, sends requests to itself, checks and exits.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <squall/util/escape.hpp>
#include <squall/util/json.hpp>
#include <squall/web/application.hpp>
#include <squall/web/request_handler.hpp>

#include "web_example.hpp"

using squall::web::handler;

// [arguments]
class SearchHandler : public squall::web::RequestHandler {
 public:
  squall::Future<void> get() override {
    std::string query = get_argument("q");                 // missing: 400 "Missing argument q"
    std::string page = get_argument("page", "1");          // with a default
    std::vector<std::string> tags = get_arguments("tag");  // every value, in order
    write(squall::json{{"q", query}, {"page", page}, {"tags", tags}});
    return squall::make_ready_future();
  }
};
// [arguments]

// [files]
class UploadHandler : public squall::web::RequestHandler {
 public:
  squall::Future<void> post() override {
    std::string listing = get_body_argument("album") + ":";
    for (const auto& [field, files] : request().files) {
      for (const squall::HTTPFile& file : files) {
        listing += " " + field + "=" + file.filename + " (" + file.content_type + ", " +
                   std::to_string(file.body.size()) + " bytes)";
      }
    }
    write(listing);
    return squall::make_ready_future();
  }
};
// [files]

// Any other body is in request().body, as bytes: here, JSON.
class OrderHandler : public squall::web::RequestHandler {
 public:
  squall::Future<void> post() override {
    // [json]
    squall::json order;
    try {
      order = squall::escape::json_decode(request().body);
    } catch (const squall::ValueError& e) {
      throw squall::web::HTTPError(400, e.what());  // logged; the client gets a plain 400
    }
    // [json]
    int quantity = order.value("quantity", 1);
    write(squall::json{{"item", order.value("item", "")}, {"total", quantity * 250}});
    return squall::make_ready_future();
  }
};

// [stream]
class StreamHandler : public squall::web::RequestHandler {
 public:
  static constexpr bool stream_request_body = true;  // Tornado's @stream_request_body

  squall::Future<void> prepare() override {
    // Runs once the headers are in, before any of the body: a limit for this request only.
    request().connection->set_max_body_size(std::uint64_t{1} << 30);
    return squall::make_ready_future();
  }

  squall::Future<void> data_received(std::string_view chunk) override {
    bytes_ += chunk.size();
    return squall::make_ready_future();
  }

  squall::Future<void> put() override {  // once the whole body has arrived
    write(squall::json{{"bytes", bytes_}, {"kept", request().body.size()}});
    return squall::make_ready_future();
  }

 private:
  std::uint64_t bytes_ = 0;
};
// [stream]

std::unique_ptr<squall::web::Application> make_app() {
  return std::make_unique<squall::web::Application>(std::vector<squall::web::URLSpec>{
      {"/search", handler<SearchHandler>()},
      {"/upload", handler<UploadHandler>()},
      {"/order", handler<OrderHandler>()},
      {"/stream", handler<StreamHandler>()},
  });
}

squall::Future<void> test(web_example::Site& site) {
  using web_example::check_equal;
  auto search = co_await site.fetch("/search?q=%20squall%20&tag=c%2B%2B&tag=async");
  check_equal(search.body, R"({"page":"1","q":"squall","tags":["c++","async"]})", "arguments");
  auto missing = co_await site.fetch("/search");
  check_equal(std::to_string(missing.code) + " " + missing.reason, "400 Missing argument q",
              "a missing argument");
  auto bad = co_await site.fetch("/search?q=%FF");
  check_equal(std::to_string(bad.code), "400", "an argument that is not UTF-8");

  squall::HTTPRequest form;
  form.method = "POST";
  form.headers.add("Content-Type", "multipart/form-data; boundary=XyZ");
  form.body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"album\"\r\n\r\nholidays\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"sea.jpg\"\r\n"
      "Content-Type: image/jpeg\r\n\r\n0123456789\r\n--XyZ--\r\n";
  check_equal((co_await site.fetch("/upload", form)).body,
              "holidays: photo=sea.jpg (image/jpeg, 10 bytes)", "multipart upload");

  squall::HTTPRequest order;
  order.method = "POST";
  order.body = R"({"item": "tea", "quantity": 3})";
  check_equal((co_await site.fetch("/order", order)).body, R"({"item":"tea","total":750})",
              "JSON body");
  order.body = "{not json";
  check_equal(std::to_string((co_await site.fetch("/order", order)).code), "400", "bad JSON");

  squall::HTTPRequest upload;
  upload.method = "PUT";
  // 120 MiB, past the server's 100 MiB default, sent a piece at a time.
  upload.headers.add("Content-Length", std::to_string(120 << 20));
  upload.body_producer = [](squall::HTTPRequest::BodyWriter write) -> squall::Future<void> {
    const std::string piece(1 << 20, 'x');
    for (int i = 0; i < 120; ++i) co_await write(piece);
  };
  upload.request_timeout = std::chrono::seconds(60);
  check_equal((co_await site.fetch("/stream", upload)).body, R"({"bytes":125829120,"kept":0})",
              "a streamed body over the server's limit");
}

int main() {
  return web_example::run(make_app, test);
}
