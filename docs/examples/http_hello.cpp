// Quoted by docs/httpserver.md: an HTTP server with the callback API. Without arguments it serves
// on a free loopback port, fetches two pipelined requests from itself with a raw IOStream client,
// checks the answers and exits; "http_hello PORT [PROCESSES [CERTFILE KEYFILE]]" serves until
// SIGTERM or SIGINT.
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include <squall/core/gen.hpp>
#include <squall/core/ioloop.hpp>
#include <squall/http/httpserver.hpp>
#include <squall/net/tcpclient.hpp>

using namespace std::chrono_literals;

// [hello]
// A whole response at once: Content-Length gives the body's size, and finish() ends it.
void say_hello(const std::shared_ptr<squall::HTTPServerRequest>& request) {
  std::string name = "world";
  if (auto it = request->arguments.find("name"); it != request->arguments.end()) {
    name = it->second.front();  // ?name=... (the query and form arguments, as bytes)
  }
  std::string body = "Hello, " + name + "!\n";
  squall::HTTPHeaders headers;
  headers.add("Content-Type", "text/plain; charset=UTF-8");
  headers.add("Content-Length", std::to_string(body.size()));
  request->connection->write_headers(squall::ResponseStartLine{"HTTP/1.1", 200, "OK"}, headers,
                                     body);
  request->connection->finish();
}
// [hello]

// [chunked]
// A response written over time. Without Content-Length, the body goes to an HTTP/1.1 client
// chunked, each write() as one chunk; flush() is the Future to await for the bytes to leave.
squall::Future<void> count_slowly(std::shared_ptr<squall::HTTPServerRequest> request) {
  std::shared_ptr<squall::HTTPConnection> connection = request->connection;
  squall::HTTPHeaders headers;
  headers.add("Content-Type", "text/plain; charset=UTF-8");
  connection->write_headers(squall::ResponseStartLine{}, headers);  // 200, reason "OK"
  try {
    for (int i = 1; i <= 3; ++i) {
      connection->write("count " + std::to_string(i) + "\n");
      co_await connection->flush();  // fails with StreamClosedError once the client is gone
      co_await squall::gen::sleep(10ms);
    }
    connection->finish();
  } catch (const squall::StreamClosedError&) {
    // The client went away: nobody is left to answer.
  }
}
// [chunked]

// [route]
// The server's callback: called on the loop with each request once its body has arrived.
void route(std::shared_ptr<squall::HTTPServerRequest> request) {
  if (request->path == "/count") {
    // Answered later, by a coroutine: the connection waits for finish().
    squall::IOLoop::current().spawn_callback([request] { return count_slowly(request); });
  } else {
    say_hello(request);
  }
}
// [route]

// [main]
// Serves on `port` until SIGTERM or SIGINT, in `processes` processes (one per core with 0), and
// over TLS when given a certificate and its key.
int serve(std::uint16_t port, int processes, const char* certfile, const char* keyfile) {
  squall::HTTPServerOptions options;
  if (certfile != nullptr && keyfile != nullptr) {
    options.ssl_options.emplace();
    options.ssl_options->certfile = certfile;
    options.ssl_options->keyfile = keyfile;
  }
  squall::HTTPServer server(route, options);
  server.bind(port, "127.0.0.1");  // this machine only; "" for every interface
  server.start(processes);         // forks the workers first, unless processes is 1
  server.shutdown_on_signal(SIGTERM);
  server.shutdown_on_signal(SIGINT);
  squall::IOLoop::current().start();  // until a signal's graceful shutdown stops the loop
  return 0;
}
// [main]

// The self-test's client: one connection, two pipelined requests, raw bytes both ways.
squall::Future<std::string> fetch(std::uint16_t port) {
  squall::TCPClient client;
  std::unique_ptr<squall::IOStream> stream = co_await client.connect("127.0.0.1", port);
  co_await stream->write(
      "GET /?name=docs HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
      "GET /count HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  co_return co_await stream->read_until_close();  // the server closes after the second answer
}

int self_test() {
  squall::IOLoop loop;
  // [listen]
  squall::HTTPServer server(route);
  server.listen(0, "127.0.0.1");  // port 0: the kernel picks a free one
  std::uint16_t port = server.addresses().front().port();
  // [listen]
  std::string response = loop.run_sync([port] { return fetch(port); }, 10s);
  std::cout << response;
  const bool ok = response.starts_with("HTTP/1.1 200 OK\r\n") &&
                  response.find("\r\n\r\nHello, docs!\n") != std::string::npos &&
                  response.find("Transfer-Encoding: chunked\r\n") != std::string::npos &&
                  response.find("8\r\ncount 3\n\r\n") != std::string::npos &&
                  response.ends_with("\r\n0\r\n\r\n");
  return ok ? 0 : 1;
}

int main(int argc, char** argv) {
  if (argc == 1) return self_test();
  int processes = argc > 2 ? std::atoi(argv[2]) : 1;
  return serve(static_cast<std::uint16_t>(std::atoi(argv[1])), processes,
               argc > 4 ? argv[3] : nullptr, argc > 4 ? argv[4] : nullptr);
}
