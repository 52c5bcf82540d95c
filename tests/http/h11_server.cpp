// A small HTTPServer (callback API) for tests/http/h11_check.py, which talks to it with Python's
// h11 as a strict client.
//
//     h11_server [--port N] [--address IP]
//
// Listens on IP (127.0.0.1 by default) and port N (0, the default, picks a free one), prints the
// port as the first line of stdout, then serves until SIGTERM or SIGINT, after which it shuts
// down gracefully and exits with status 0:
//
//     GET  /plaintext  "Hello, World!" with a Content-Length
//     POST /echo       the request body back, with a Content-Length
//     GET  /chunked    a body written in several pieces over time, with no Content-Length
//                      (chunked for HTTP/1.1, delimited by the close for HTTP/1.0)
//     anything else    404
//
// HEAD is answered as GET without the body.
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

#include "squall/core/concurrent.hpp"
#include "squall/core/gen.hpp"
#include "squall/core/ioloop.hpp"
#include "squall/http/httpserver.hpp"

namespace {

using namespace std::chrono_literals;

constexpr std::string_view kChunkedPieces[] = {"first piece;", "second piece;", "third piece."};

void answer(squall::HTTPServerRequest& request, int code, std::string_view content_type,
            std::string_view body) {
  squall::HTTPHeaders headers;
  headers.add("Content-Type", content_type);
  headers.add("Content-Length", std::to_string(body.size()));
  squall::ResponseStartLine start_line;
  start_line.code = code;
  const bool head = request.method == "HEAD";
  request.connection->write_headers(start_line, headers, head ? std::string_view() : body);
  request.connection->finish();
}

/// Writes the pieces one by one, 5 ms apart, flushing each.
squall::Future<void> stream_chunks(std::shared_ptr<squall::HTTPServerRequest> request) {
  std::shared_ptr<squall::HTTPConnection> connection = request->connection;
  squall::HTTPHeaders headers;
  headers.add("Content-Type", "text/plain");
  squall::ResponseStartLine start_line;
  connection->write_headers(start_line, headers);
  try {
    if (request->method != "HEAD") {
      for (std::string_view piece : kChunkedPieces) {
        connection->write(piece);
        co_await connection->flush();
        co_await squall::gen::sleep(5ms);
      }
    }
    connection->finish();
  } catch (const squall::StreamClosedError&) {
    // The client left.
  }
}

void route(std::shared_ptr<squall::HTTPServerRequest> request) {
  const bool get = request->method == "GET" || request->method == "HEAD";
  if (get && request->path == "/plaintext") {
    answer(*request, 200, "text/plain", "Hello, World!");
  } else if (request->method == "POST" && request->path == "/echo") {
    answer(*request, 200, "application/octet-stream", request->body);
  } else if (get && request->path == "/chunked") {
    squall::Future<void> streaming = stream_chunks(std::move(request));
    (void)streaming;  // runs on the loop; the connection waits for its finish()
  } else {
    answer(*request, 404, "text/plain", "Not Found: " + request->path);
  }
}

int usage(const char* program) {
  std::cerr << "usage: " << program << " [--port N] [--address IP]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  std::string address = "127.0.0.1";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--address") == 0 && i + 1 < argc) {
      address = argv[++i];
    } else {
      return usage(argv[0]);
    }
  }
  if (port < 0 || port > 65535) return usage(argv[0]);

  squall::IOLoop loop;
  loop.make_current();
  {
    squall::HTTPServer server(route);
    server.listen(static_cast<std::uint16_t>(port), address);
    server.shutdown_on_signal(SIGTERM, 2s);
    server.shutdown_on_signal(SIGINT, 2s);
    std::cout << server.addresses().front().port() << std::endl;
    loop.start();
  }
  loop.close();
  return 0;
}
