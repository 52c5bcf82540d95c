// Quoted by docs/httpclient.md: a client of its own with its settings (Defaults), its pool of
// kept-alive connections, and the queue past max_clients. It starts an HTTPServer on a free
// loopback port, makes 200 fetches, checks how many connections they took and exits 0.
#include <cstdint>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <squall/core/gen.hpp>
#include <squall/core/ioloop.hpp>
#include <squall/http/httpclient.hpp>
#include <squall/http/httpserver.hpp>

using namespace std::chrono_literals;

namespace {

void hello(std::shared_ptr<squall::HTTPServerRequest> request) {
  squall::HTTPHeaders headers;
  headers.add("Content-Length", "6");
  request->connection->write_headers(squall::ResponseStartLine{}, headers, "hello\n");
  request->connection->finish();
}

// [defaults]
// A client of its own: at most 4 fetches at once (the others wait in its queue), settings for
// every request it makes, and up to 4 idle connections kept per host for 30 s.
squall::AsyncHTTPClient make_client() {
  squall::AsyncHTTPClient::Defaults defaults;
  defaults.max_clients = 4;
  defaults.max_idle_per_host = 4;
  defaults.idle_timeout = 30s;
  defaults.request.user_agent = "docs-example/1.0";
  defaults.request.request_timeout = 10s;
  defaults.request.follow_redirects = false;
  return squall::AsyncHTTPClient(defaults);
}

// 100 fetches one after the other, then 100 at once: they share the pool's connections.
squall::Future<std::uint64_t> fetch_many(std::string url) {
  squall::AsyncHTTPClient client = make_client();
  for (int i = 0; i < 100; ++i) co_await client.fetch(url);
  std::vector<squall::Future<squall::HTTPResponse>> fetches;
  for (int i = 0; i < 100; ++i) fetches.push_back(client.fetch(url));
  co_await squall::gen::multi(std::move(fetches));
  std::cout << "200 fetches over " << client.connections_opened() << " connections\n";
  std::uint64_t opened = client.connections_opened();
  client.close();  // closes its idle connections now
  co_return opened;
}
// [defaults]

}  // namespace

int main() {
  squall::IOLoop loop;
  squall::HTTPServer server(hello);
  server.listen(0, "127.0.0.1");
  const std::string url =
      "http://127.0.0.1:" + std::to_string(server.addresses().front().port()) + "/";
  try {
    auto run = [&url] { return fetch_many(url); };
    std::uint64_t opened = loop.run_sync(run, 20s);
    return opened >= 1 && opened <= 4 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "client_pool: " << e.what() << "\n";
    return 1;
  }
}
