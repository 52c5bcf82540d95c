// Quoted by docs/httpclient.md: fetching with AsyncHTTPClient, the request's options, errors,
// redirects and fetches in parallel. It starts two HTTPServers of its own on free loopback ports
// (two origins), fetches from them, checks what came back and exits 0.
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <squall/core/gen.hpp>
#include <squall/core/ioloop.hpp>
#include <squall/http/httpclient.hpp>
#include <squall/http/httpserver.hpp>
#include <squall/net/iostream.hpp>

using namespace std::chrono_literals;

namespace {

void check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("check failed: " + what);
}

void respond(const std::shared_ptr<squall::HTTPServerRequest>& request, int code,
             const std::string& body, squall::HTTPHeaders headers = {}) {
  headers.add("Content-Type", "text/plain");
  headers.add("Content-Length", std::to_string(body.size()));
  request->connection->write_headers(squall::ResponseStartLine{"HTTP/1.1", code, ""}, headers,
                                     body);
  request->connection->finish();
}

// The servers' routes: /hello, /echo (the request as the server saw it), /redirect (to another
// origin's /echo), /slow (answers after 2 s); anything else is 404.
struct Site {
  std::string other_origin;  // where /redirect points

  void operator()(const std::shared_ptr<squall::HTTPServerRequest>& request) const {
    if (request->path == "/hello") {
      respond(request, 200, "Hello, world!\n");
    } else if (request->path == "/echo") {
      respond(request, 200,
              request->method + " body=" + request->body +
                  " authorization=" + request->headers.get("Authorization", "-") +
                  " user-agent=" + request->headers.get("User-Agent", "-"));
    } else if (request->path == "/redirect") {
      squall::HTTPHeaders headers;
      headers.add("Location", other_origin + "/echo");
      respond(request, 302, "", headers);
    } else if (request->path == "/slow") {
      squall::IOLoop::current().call_later(2s, [request] { respond(request, 200, "late\n"); });
    } else {
      respond(request, 404, "no such page\n");
    }
  }
};

// [fetch]
// Fetches a URL and gives its body; a status that is not 2xx fails the Future.
squall::Future<std::string> get_page(std::string url) {
  squall::AsyncHTTPClient client;  // the loop's shared client
  squall::HTTPResponse response = co_await client.fetch(url);
  std::cout << response.code << " " << response.reason << ", "
            << response.headers.get("Content-Type", "?") << ", " << response.body.size()
            << " bytes in " << response.request_time << " s\n";
  co_return response.body;
}
// [fetch]

// [request]
// A POST with a body, headers and timeouts of its own.
squall::Future<squall::HTTPResponse> post_form(std::string url) {
  squall::HTTPRequest request(url, "POST");
  request.body = "name=squall&kind=client";
  request.headers.add("Content-Type", "application/x-www-form-urlencoded");
  request.connect_timeout = 2s;
  request.request_timeout = 5s;  // the whole fetch, waiting for a connection slot included
  request.user_agent = "docs-example/1.0";
  request.auth_username = "user";  // basic authentication
  request.auth_password = "secret";
  squall::AsyncHTTPClient client;
  co_return co_await client.fetch(request);
}
// [request]

// [errors]
// Every way a fetch can fail, caught. Gives how many failed as expected.
squall::Future<int> show_errors(std::string base, std::string closed_port_url) {
  squall::AsyncHTTPClient client;
  int failures = 0;
  try {
    co_await client.fetch(base + "/missing");
  } catch (const squall::HTTPClientError& e) {
    // An HTTP error status: the response came, and the error carries it.
    std::cout << "HTTP error " << e.code() << ": " << e.response()->body;
    failures += e.code() == 404 ? 1 : 0;
  }
  try {
    co_await client.fetch(closed_port_url);
  } catch (const squall::HTTPClientError& e) {
    // No response at all: code 599, and real_error() is what went wrong.
    try {
      std::rethrow_exception(e.real_error());
    } catch (const std::exception& cause) {
      std::cout << "599 (" << e.what() << "), because: " << cause.what() << "\n";
    }
    failures += e.code() == 599 ? 1 : 0;
  }
  squall::HTTPRequest slow(base + "/slow");
  slow.request_timeout = 200ms;
  // raise_error = false: every outcome is a response, a failure's cause in `error`.
  squall::HTTPResponse response = co_await client.fetch(slow, false);
  try {
    response.rethrow();  // for a 599, `error` is the cause itself
  } catch (const squall::TimeoutError& e) {
    std::cout << "code " << response.code << ": " << e.what() << "\n";
    failures += response.code == 599 ? 1 : 0;
  }
  co_return failures;
}
// [errors]

// [redirects]
// A redirect to another origin: followed, but without the credentials meant for the first one.
squall::Future<std::string> show_redirects(std::string base) {
  squall::AsyncHTTPClient client;
  squall::HTTPRequest request(base + "/redirect");
  request.headers.add("Authorization", "Bearer meant-for-the-first-origin");
  squall::HTTPResponse followed = co_await client.fetch(request);
  std::cout << followed.effective_url << " answered: " << followed.body << "\n";

  request.follow_redirects = false;  // the 302 itself, as the response
  squall::HTTPResponse not_followed = co_await client.fetch(request, false);
  std::cout << not_followed.code << " to " << not_followed.headers.get("Location", "?") << "\n";
  co_return followed.body;
}
// [redirects]

// [parallel]
// Several fetches at once: start them all, then wait for all of them.
squall::Future<std::vector<squall::HTTPResponse>> fetch_all(std::vector<std::string> urls) {
  squall::AsyncHTTPClient client;
  std::vector<squall::Future<squall::HTTPResponse>> fetches;
  for (const std::string& url : urls) fetches.push_back(client.fetch(url));
  co_return co_await squall::gen::multi(std::move(fetches));
}
// [parallel]

// A loopback port nothing listens on: one a server had, closed again.
std::uint16_t closed_port() {
  squall::HTTPServer server([](std::shared_ptr<squall::HTTPServerRequest>) {});
  server.listen(0, "127.0.0.1");
  return server.addresses().front().port();
}

}  // namespace

int main() {
  squall::IOLoop loop;
  Site other_site;
  squall::HTTPServer other(other_site);
  other.listen(0, "127.0.0.1");
  Site site{"http://127.0.0.1:" + std::to_string(other.addresses().front().port())};
  squall::HTTPServer server(site);
  server.listen(0, "127.0.0.1");
  const std::string base = "http://127.0.0.1:" + std::to_string(server.addresses().front().port());
  const std::string nowhere = "http://127.0.0.1:" + std::to_string(closed_port()) + "/";

  std::vector<std::string> urls;
  for (const char* path : {"/hello", "/echo", "/redirect"}) urls.push_back(base + path);

  auto run = [&]() -> squall::Future<void> {
    std::string page = co_await get_page(base + "/hello");
    check(page == "Hello, world!\n", "get_page");

    squall::HTTPResponse posted = co_await post_form(base + "/echo");
    std::cout << posted.body << "\n";
    check(posted.body ==
              "POST body=name=squall&kind=client authorization=Basic dXNlcjpzZWNyZXQ= "
              "user-agent=docs-example/1.0",
          "post_form");

    int failures = co_await show_errors(base, nowhere);
    check(failures == 3, "show_errors");
    std::string redirected = co_await show_redirects(base);
    check(redirected.starts_with("GET body= authorization=- "), "show_redirects");

    std::vector<squall::HTTPResponse> responses = co_await fetch_all(urls);
    check(responses.size() == 3 && responses[0].body == "Hello, world!\n", "fetch_all");
  };
  try {
    loop.run_sync(run, 20s);
  } catch (const std::exception& e) {
    std::cerr << "client_fetch: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
