// file_receiver: Tornado's demos/file_upload server in squall. It takes uploads two ways:
//
//   PUT /NAME   the raw bytes of one file, streamed through the handler as they arrive (never held
//               in memory whole): the answer gives the name, Content-Type, size and SHA-256;
//   POST /post  a multipart/form-data form with any number of files (buffered and parsed by the
//               framework): the answer lists each file's field, name, Content-Type, size and
//               SHA-256.
//
// Answers are JSON objects; GET / gives a small form for trying it from a browser. A body larger
// than --max_body_size is refused with 413 (before it is sent, when the client asked for
// 100-continue or gave a Content-Length over the limit).
//
//   file_receiver [--port=8888] [--address=127.0.0.1] [--max_body_size=104857600]
//
// Prints "Listening on http://ADDRESS:PORT/" once it accepts connections (--port=0 picks a free
// port); SIGINT or SIGTERM stops it gracefully.

#include <squall/core/ioloop.hpp>
#include <squall/util/log.hpp>
#include <squall/util/options.hpp>
#include <squall/web/application.hpp>
#include <squall/web/request_handler.hpp>

#include <spdlog/spdlog.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "demo_support.hpp"
#include "sha256.hpp"

namespace {

/// Writes `answer` as the response, as JSON; names that are not UTF-8 get U+FFFD in place of their
/// bad bytes rather than failing the request.
void write_json(squall::web::RequestHandler& handler, const nlohmann::json& answer) {
  handler.set_header("Content-Type", "application/json; charset=UTF-8");
  handler.write(answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  handler.write("\n");
}

/// GET /: a form to upload files from a browser.
class FormHandler : public squall::web::RequestHandler {
 public:
  squall::Future<void> get() override {
    write(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>file_receiver</title></head>\n"
        "<body><form action=\"/post\" method=\"post\" enctype=\"multipart/form-data\">\n"
        "<input type=\"file\" name=\"file\" multiple> <input type=\"submit\" value=\"Upload\">\n"
        "</form></body></html>\n");
    return squall::make_ready_future();
  }
};

/// POST /post: the framework has read and parsed the whole multipart body into request().files.
class PostHandler : public squall::web::RequestHandler {
 public:
  squall::Future<void> post() override {
    nlohmann::json files = nlohmann::json::array();
    for (const auto& [field, uploads] : request().files) {
      for (const squall::HTTPFile& file : uploads) {
        squall::log::app_log().info("POST \"{}\" \"{}\" {} bytes", file.filename, file.content_type,
                                    file.body.size());
        files.push_back({{"field", field},
                         {"filename", file.filename},
                         {"content_type", file.content_type},
                         {"size", file.body.size()},
                         {"sha256", file_upload::Sha256::of(file.body)}});
      }
    }
    write_json(*this, {{"files", std::move(files)}});
    return squall::make_ready_future();
  }
};

/// PUT /NAME: the body streams through data_received piece by piece, so a file of any size costs
/// one piece of memory; the route's group is the file's name, percent-decoded.
class PutHandler : public squall::web::RequestHandler {
 public:
  static constexpr bool stream_request_body = true;

  squall::Future<void> data_received(std::string_view chunk) override {
    size_ += chunk.size();
    sha256_.update(chunk);
    return squall::make_ready_future();
  }

  squall::Future<void> put() override {
    const std::string& filename = path_args().at(0);
    const std::string content_type =
        request().headers.get("Content-Type").value_or("application/octet-stream");
    squall::log::app_log().info("PUT \"{}\" \"{}\" {} bytes", filename, content_type, size_);
    write_json(*this, {{"filename", filename},
                       {"content_type", content_type},
                       {"size", size_},
                       {"sha256", sha256_.hexdigest()}});
    return squall::make_ready_future();
  }

 private:
  std::uint64_t size_ = 0;
  file_upload::Sha256 sha256_;
};

}  // namespace

int main(int argc, char** argv) {
  squall::options::define<std::uint16_t>("port", 8888,
                                         "run on the given port (0 picks a free one)");
  squall::options::define<std::string>("address", "127.0.0.1", "listen on this address");
  squall::options::define<std::uint64_t>("max_body_size", std::uint64_t{100} << 20,
                                         "the largest upload accepted, in bytes (413 beyond)");
  if (!demo::parse_options_only(argc, argv)) return 2;
  const std::uint16_t port = squall::options::get<std::uint16_t>("port");
  const auto address = squall::options::get<std::string>("address");

  squall::IOLoop loop;
  squall::web::Application application({
      {"/", squall::web::handler<FormHandler>()},
      {"/post", squall::web::handler<PostHandler>()},
      {"/(.+)", squall::web::handler<PutHandler>()},
  });
  squall::HTTPServerOptions server_options;
  server_options.max_body_size = squall::options::get<std::uint64_t>("max_body_size");
  squall::HTTPServer* server = demo::listen(argv[0], application, port, address, server_options);
  if (!server) return 1;
  demo::shutdown_on_signals(*server);
  loop.start();
  return 0;
}
