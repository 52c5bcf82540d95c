// Quoted by docs/httpclient.md: the blocking HTTPClient, for scripts and tests. The server runs
// on a thread of its own (HTTPClient blocks this one); the program fetches from it, checks the
// answers and exits 0.
#include <future>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include <squall/core/ioloop.hpp>
#include <squall/http/httpclient.hpp>
#include <squall/http/httpserver.hpp>

namespace {

void hello(std::shared_ptr<squall::HTTPServerRequest> request) {
  int code = request->path == "/" ? 200 : 404;
  std::string body = code == 200 ? "hello\n" : "not here\n";
  squall::HTTPHeaders headers;
  headers.add("Content-Length", std::to_string(body.size()));
  request->connection->write_headers(squall::ResponseStartLine{"HTTP/1.1", code, ""}, headers,
                                     body);
  request->connection->finish();
}

// [blocking]
// No loop, no coroutine: fetch() returns the response, or throws as the Future would fail.
int check_site(const std::string& base) {
  squall::HTTPClient client;  // a loop of its own, run only inside fetch()
  squall::HTTPResponse home = client.fetch(base + "/");
  std::cout << home.code << ": " << home.body;
  try {
    client.fetch(base + "/missing");
  } catch (const squall::HTTPClientError& e) {
    std::cout << "error " << e.code() << ": " << e.response()->body;
    return home.body == "hello\n" && e.code() == 404 ? 0 : 1;
  }
  return 1;
}
// [blocking]

}  // namespace

int main() {
  // The server's thread: its own loop, stopped once the client is done.
  std::promise<std::uint16_t> port;
  squall::IOLoop* server_loop = nullptr;
  std::thread server_thread([&port, &server_loop] {
    squall::IOLoop loop;
    squall::HTTPServer server(hello);
    server.listen(0, "127.0.0.1");
    server_loop = &loop;
    port.set_value(server.addresses().front().port());
    loop.start();
  });
  int status = check_site("http://127.0.0.1:" + std::to_string(port.get_future().get()));
  server_loop->add_callback([server_loop] { server_loop->stop(); });
  server_thread.join();
  return status;
}
