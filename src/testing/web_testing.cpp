// AsyncHTTPTestCase: an Application on an unused port, and a client to fetch from it.

#include "squall/net/netutil.hpp"
#include "squall/testing/testing.hpp"
#include "squall/web/application.hpp"

namespace squall::testing {

AsyncHTTPTestCase::AsyncHTTPTestCase() = default;
AsyncHTTPTestCase::~AsyncHTTPTestCase() = default;

void AsyncHTTPTestCase::SetUp() {
  AsyncTest::SetUp();
  app_ = get_app();
  ASSERT_TRUE(app_) << "get_app() returned no application";
  std::vector<int> sockets = netutil::bind_sockets(0, "127.0.0.1");
  port_ = netutil::socket_address_of(sockets.front()).port();
  server_ = std::make_unique<HTTPServer>(static_cast<HTTPServerConnectionDelegate&>(*app_),
                                         get_http_server_options());
  server_->add_sockets(std::move(sockets));
  client_ = std::make_unique<AsyncHTTPClient>(AsyncHTTPClient::Defaults{});
}

void AsyncHTTPTestCase::TearDown() {
  if (client_) client_->close();
  if (server_) {
    server_->stop();
    // Lets the server's connections (and WebSockets) see their close before the loop goes.
    run_sync([this]() -> Future<void> {
      if (app_) co_await app_->close_websockets();
      co_await server_->close_all_connections();
    });
  }
  client_.reset();
  server_.reset();
  app_.reset();
  AsyncTest::TearDown();
}

std::string AsyncHTTPTestCase::get_url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
}

Future<HTTPResponse> AsyncHTTPTestCase::fetch_async(std::string_view path, HTTPRequest request) {
  request.url = path.starts_with("http://") || path.starts_with("https://") ? std::string(path)
                                                                            : get_url(path);
  return client_->fetch(std::move(request), false);
}

HTTPResponse AsyncHTTPTestCase::fetch(std::string_view path, HTTPRequest request) {
  auto response = fetch_async(path, std::move(request));
  return run_sync([&]() -> Future<HTTPResponse> { co_return co_await response; });
}

}  // namespace squall::testing
