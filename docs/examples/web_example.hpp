// The self-test plumbing shared by the web examples (docs/examples/web_*.cpp), not quoted by the
// docs: an Application served on a free loopback port, a client fetching from it on the same
// loop, and checks that throw on a mismatch so that the program exits non-zero.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <squall/core/ioloop.hpp>
#include <squall/http/httpclient.hpp>
#include <squall/http/httpserver.hpp>
#include <squall/net/netutil.hpp>
#include <squall/web/application.hpp>

namespace web_example {

/// Throws std::runtime_error naming `what` unless `ok`.
inline void check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("check failed: " + what);
}

/// Throws unless `got` equals `expected`, showing both.
inline void check_equal(const std::string& got, const std::string& expected,
                        const std::string& what) {
  if (got != expected) {
    throw std::runtime_error("check failed: " + what + "\n  expected: " + expected +
                             "\n  got:      " + got);
  }
}

/// Throws unless `text` contains `part`.
inline void check_contains(const std::string& text, const std::string& part,
                           const std::string& what) {
  if (text.find(part) == std::string::npos) {
    throw std::runtime_error("check failed: " + what + "\n  missing: " + part +
                             "\n  in:      " + text);
  }
}

/// A loopback port that was free a moment ago (for examples that call Application::listen).
inline std::uint16_t free_port() {
  int probe = squall::netutil::bind_sockets(0, "127.0.0.1").front();
  std::uint16_t port = squall::netutil::socket_address_of(probe).port();
  ::close(probe);
  return port;
}

/// Serves `app` on a port of 127.0.0.1 chosen by the kernel, on the current loop, and fetches
/// from it with a client of its own. Use it on the loop's thread; `close()` before the loop goes.
class Site {
 public:
  explicit Site(squall::web::Application& app, squall::HTTPServerOptions options = {})
      : client_(squall::AsyncHTTPClient::Defaults{}) {
    std::vector<int> sockets = squall::netutil::bind_sockets(0, "127.0.0.1");
    port_ = squall::netutil::socket_address_of(sockets.front()).port();
    server_ = std::make_unique<squall::HTTPServer>(
        static_cast<squall::HTTPServerConnectionDelegate&>(app), std::move(options));
    server_->add_sockets(std::move(sockets));
  }

  std::uint16_t port() const { return port_; }
  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

  /// Fetches `path` without following redirects; a 4xx or 5xx is a response, not an exception.
  squall::Future<squall::HTTPResponse> fetch(std::string_view path,
                                             squall::HTTPRequest request = {}) {
    request.url = url(path);
    if (!request.follow_redirects) request.follow_redirects = false;
    return client_.fetch(std::move(request), false);
  }

  /// Closes the client and the server's connections (runs the loop until they are closed).
  void close() {
    client_.close();
    server_->stop();
    squall::IOLoop::current().run_sync(
        [this]() -> squall::Future<void> { co_await server_->close_all_connections(); });
  }

 private:
  squall::AsyncHTTPClient client_;
  std::unique_ptr<squall::HTTPServer> server_;
  std::uint16_t port_ = 0;
};

/// Runs `test` (a coroutine taking the Site) on a fresh loop against `app`, prints what failed,
/// and gives main's exit status.
template <class MakeApp, class Test>
int run(MakeApp make_app, Test test, squall::HTTPServerOptions options = {}) {
  squall::IOLoop loop;
  try {
    std::unique_ptr<squall::web::Application> app = make_app();
    Site site(*app, std::move(options));
    try {
      loop.run_sync([&]() -> squall::Future<void> { co_await test(site); },
                    std::chrono::seconds(30));
    } catch (...) {
      site.close();
      throw;
    }
    site.close();
  } catch (const std::exception& e) {
    std::cerr << e.what() << '\n';
    return 1;
  }
  std::cout << "ok\n";
  return 0;
}

}  // namespace web_example
