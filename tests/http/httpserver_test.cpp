// HTTPServer over real loopback sockets: HTTP/1.1 conformance (../shared/parity/SPEC.md §7 and
// the RFC 9112 points of §8), limits, timeouts, robustness against slow, abandoned and malformed
// clients, request smuggling, response splitting, and 10,000 concurrent connections.
//
// Every response is read with the strict parser of tests/support/http_test_client.hpp: a test
// never accepts a response by looking for a substring.
#include "squall/http/httpserver.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "../support/http_test_client.hpp"
#include "squall/core/gen.hpp"
#include "squall/core/locks.hpp"
#include "squall/testing/testing.hpp"

namespace squall {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using test_support::BodyFraming;
using test_support::ClientTimeout;
using test_support::HttpProtocolError;
using test_support::HttpResponse;
using test_support::PeerClosed;
using test_support::RawClient;
using Clock = std::chrono::steady_clock;

long long ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

/// A request that must never be answered: sent after a message whose framing is broken.
const std::string kSmuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";

// ---- the application under the server ----------------------------------------------------------

/// What the application saw of one request.
struct SeenRequest {
  std::string method;
  std::string uri;
  std::string path;
  std::string host;
  std::string version;
  std::string body;
};

/// The callback the test servers run. Routes, by path:
/// - `/slow?ms=N`: answers as the default route, N ms later (from a loop timer);
/// - `/stream`: a body written in two pieces without Content-Length;
/// - `/status?code=N`: an empty response with that status;
/// - `/split-reason?c=X`, `/split-header?c=X`, `/split-name`: try to write a CR, LF or NUL into
///   the head, record the error, then answer 200 "safe";
/// - `/too-long`: Content-Length 5, then writes a sixth byte (and writes after finish);
/// - `/too-short`: Content-Length 10, finishes after 5 bytes;
/// - anything else: 200, body = the request's body (or "ok:" + uri if empty), with the request's
///   parts in X- headers. Methods other than the usual ones get 501.
class TestApp {
 public:
  std::vector<SeenRequest> seen;
  std::vector<std::string> output_errors;  // HTTPOutputError messages caught
  std::vector<std::string> head_refusals;  // where a bad head was refused: "add" or "write_headers"

  bool saw(std::string_view path) const {
    return std::any_of(seen.begin(), seen.end(),
                       [&](const SeenRequest& s) { return s.path == path; });
  }

  void handle(std::shared_ptr<HTTPServerRequest> request) {
    seen.push_back(SeenRequest{request->method, request->uri, request->path, request->host,
                               request->version, request->body});
    const std::string& path = request->path;
    static const std::set<std::string> known = {"GET",    "HEAD",    "POST", "PUT",
                                                "DELETE", "OPTIONS", "PATCH"};
    if (!known.count(request->method)) {
      HTTPHeaders headers;
      headers.add("X-Method", request->method);
      respond(*request, 501, "", headers);
    } else if (path == "/slow") {
      int ms = std::stoi(argument(*request, "ms", "100"));
      IOLoop::current().call_later(std::chrono::milliseconds(ms),
                                   [this, request] { echo(*request); });
    } else if (path == "/stream") {
      HTTPHeaders headers;
      headers.add("Content-Type", "text/plain");
      request->connection->write_headers(ResponseStartLine{}, headers, "first,");
      request->connection->write("second");
      request->connection->finish();
    } else if (path == "/status") {
      ResponseStartLine line;
      line.code = std::stoi(argument(*request, "code", "200"));
      HTTPHeaders headers;
      if (line.code != 204 && line.code != 304) headers.add("Content-Length", "0");
      request->connection->write_headers(line, headers);
      request->connection->finish();
    } else if (path == "/split-reason" || path == "/split-header" || path == "/split-name") {
      std::string bad = bad_chars(argument(*request, "c", "crlf"));
      try {
        ResponseStartLine line;
        HTTPHeaders headers;
        headers.add("Content-Length", "0");
        if (path == "/split-reason") {
          line.reason = "OK" + bad + "Injected: 1";
        } else if (path == "/split-header") {
          headers.add("X-Bad", "a" + bad + "Injected: 1");
        } else {
          headers.add("X-Bad" + bad + "Injected", "1");
        }
        request->connection->write_headers(line, headers);
        request->connection->finish();
        ADD_FAILURE() << "a head with a CR, LF or NUL was written for " << request->uri;
      } catch (const HTTPOutputError& e) {
        output_errors.push_back(e.what());
        head_refusals.push_back("write_headers");
        respond(*request, 200, "safe");
      } catch (const HTTPInputError&) {
        // HTTPHeaders itself refuses such a value or name: it never reaches write_headers.
        head_refusals.push_back("add");
        respond(*request, 200, "safe");
      }
    } else if (path == "/too-long") {
      HTTPHeaders headers;
      headers.add("Content-Length", "5");
      request->connection->write_headers(ResponseStartLine{}, headers, "12345");
      try {
        request->connection->write("6");
        ADD_FAILURE() << "wrote past Content-Length";
      } catch (const HTTPOutputError& e) {
        output_errors.push_back(e.what());
      }
      request->connection->finish();
      try {
        request->connection->write("7");
        ADD_FAILURE() << "wrote after finish";
      } catch (const HTTPOutputError& e) {
        output_errors.push_back(e.what());
      }
    } else if (path == "/too-short") {
      HTTPHeaders headers;
      headers.add("Content-Length", "10");
      request->connection->write_headers(ResponseStartLine{}, headers, "12345");
      try {
        request->connection->finish();
        ADD_FAILURE() << "finished short of Content-Length";
      } catch (const HTTPOutputError& e) {
        output_errors.push_back(e.what());
      }
    } else {
      echo(*request);
    }
  }

 private:
  static std::string argument(const HTTPServerRequest& request, const std::string& name,
                              const std::string& fallback) {
    auto it = request.query_arguments.find(name);
    if (it == request.query_arguments.end() || it->second.empty()) return fallback;
    return it->second.front();
  }

  static std::string bad_chars(const std::string& name) {
    if (name == "cr") return "\r";
    if (name == "lf") return "\n";
    if (name == "nul") return std::string(1, '\0');
    return "\r\n";
  }

  static void respond(HTTPServerRequest& request, int code, const std::string& body,
                      HTTPHeaders headers = {}) {
    headers.set("Content-Length", std::to_string(body.size()));
    headers.set("Content-Type", "text/plain; charset=UTF-8");
    ResponseStartLine line;
    line.code = code;
    if (request.method == "HEAD") {
      request.connection->write_headers(line, headers);
    } else {
      request.connection->write_headers(line, headers, body);
    }
    request.connection->finish();
  }

  static void echo(HTTPServerRequest& request) {
    HTTPHeaders headers;
    headers.add("X-Method", request.method);
    headers.add("X-Uri", request.uri);
    headers.add("X-Path", request.path);
    headers.add("X-Host", request.host);
    headers.add("X-Version", request.version);
    headers.add("X-Header-Count", std::to_string(request.headers.size()));
    headers.add("X-Body-Length", std::to_string(request.body.size()));
    if (auto echoed = request.headers.get("X-Echo")) headers.add("X-Echo", *echoed);
    std::string lengths;
    for (const std::string& value : request.headers.get_list("X-Long")) {
      if (!lengths.empty()) lengths += ",";
      lengths += std::to_string(value.size());
    }
    if (!lengths.empty()) headers.add("X-Long-Length", lengths);
    std::string body = request.body;
    if (body.empty()) {
      body = "ok:";
      body += request.uri;
    }
    respond(request, 200, body, headers);
  }
};

// ---- exchanges -----------------------------------------------------------------------------

/// What a connection gave back: the final responses before the server closed it, and what
/// came after them.
struct Exchange {
  std::vector<HttpResponse> responses;
  std::string error;    // a malformed response, or a wait that timed out
  bool closed = false;  // the server closed the connection
  std::string after;    // bytes after the last response (before the close)
};

/// Sends `raw` on a new connection, reads the responses to `methods` (stopping early if the
/// server closes), then waits (within `timeout`) for the server to close the connection.
Future<Exchange> exchange(std::uint16_t port, std::string raw, std::vector<std::string> methods,
                          RawClient::duration timeout = 3s) {
  auto deadline = Clock::now() + timeout;
  auto left = [&] { return std::max<RawClient::duration>(deadline - Clock::now(), 1ms); };
  Exchange out;
  auto client = co_await RawClient::connect(port);
  co_await client->send(std::move(raw));
  try {
    for (const std::string& method : methods) {
      out.responses.push_back(co_await client->final_response(method, left()));
    }
  } catch (const PeerClosed&) {
  } catch (const std::exception& e) {
    out.error = e.what();
    co_return out;
  }
  try {
    out.after = co_await client->read_until_close(left());
    out.closed = true;
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  co_return out;
}

/// The request was refused with one of `statuses` (and `Connection: close`), the connection was
/// closed, and nothing was answered after the refusal.
void expect_refused(const Exchange& e, const std::set<int>& statuses) {
  EXPECT_EQ(e.error, "");
  ASSERT_EQ(e.responses.size(), 1u) << "expected exactly one response (a refusal)";
  const HttpResponse& r = e.responses[0];
  EXPECT_TRUE(statuses.count(r.status)) << "status " << r.status << " " << r.reason;
  EXPECT_TRUE(r.lists("Connection", "close")) << "a refusal that closes says so";
  EXPECT_TRUE(e.closed) << "the connection stays open after a refusal";
  EXPECT_EQ(e.after, "") << "bytes after the refusal";
}

/// Escapes CR, LF and NUL in a request for a trace message.
std::string shown(std::string_view raw) {
  return test_support::detail::printable(raw);
}

class HTTPServerTest : public testing::AsyncTest {
 protected:
  void start(HTTPServerOptions options = {}) {
    server_ = std::make_unique<HTTPServer>(
        [this](std::shared_ptr<HTTPServerRequest> request) { app_.handle(std::move(request)); },
        std::move(options));
    server_->listen(0, "127.0.0.1");
  }

  std::uint16_t port() const { return server_->addresses().front().port(); }

  Future<std::unique_ptr<RawClient>> connect() { return RawClient::connect(port()); }

  Exchange exchange_sync(std::string raw, std::vector<std::string> methods = {"GET"},
                         RawClient::duration timeout = 3s) {
    return run_sync([&] { return exchange(port(), std::move(raw), std::move(methods), timeout); },
                    10s);
  }

  /// Sends `raw` followed by a smuggled request, and expects a refusal with one of `statuses`,
  /// the connection closed, and the smuggled request never answered nor seen.
  void expect_refused_without_smuggling(const std::string& raw, const std::set<int>& statuses) {
    SCOPED_TRACE(shown(raw));
    Exchange e = exchange_sync(raw + kSmuggled);
    expect_refused(e, statuses);
    EXPECT_FALSE(app_.saw("/smuggled")) << "the bytes after a refused message were served";
  }

  TestApp app_;  // declared first: outlives the server
  std::unique_ptr<HTTPServer> server_;
};

/// The usual checks of a response of the default route to `uri`.
void expect_echo(const HttpResponse& r, std::string_view uri) {
  EXPECT_EQ(r.status, 200) << r.reason;
  EXPECT_EQ(r.header_or_absent("X-Uri"), uri);
  EXPECT_EQ(r.framing, BodyFraming::kContentLength);
}

// ---- the strict response parser itself ---------------------------------------------------------

HttpResponse parse_one(std::string_view data, std::string_view method = "GET", bool eof = true) {
  std::size_t used = 0;
  std::optional<HttpResponse> r = test_support::parse_response(data, method, eof, used);
  if (!r) throw std::runtime_error("incomplete");
  if (used != data.size()) throw std::runtime_error("left over: " + std::string(data.substr(used)));
  return *r;
}

TEST(StrictResponseParserTest, ParsesWellFormedResponses) {
  HttpResponse cl = parse_one("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  spaced \r\n\r\nhello");
  EXPECT_EQ(cl.status, 200);
  EXPECT_EQ(cl.reason, "OK");
  EXPECT_EQ(cl.body, "hello");
  EXPECT_EQ(cl.header_or_absent("x-a"), "spaced");
  EXPECT_EQ(cl.framing, BodyFraming::kContentLength);

  HttpResponse chunked = parse_one(
      "HTTP/1.1 201 \r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\nA\r\n0123456789\r\n"
      "0\r\nX-T: 1\r\n\r\n");
  EXPECT_EQ(chunked.reason, "");
  EXPECT_EQ(chunked.body, "hello0123456789");
  ASSERT_EQ(chunked.trailers.size(), 1u);

  HttpResponse head = parse_one("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", "HEAD");
  EXPECT_EQ(head.body, "");
  HttpResponse no_content = parse_one("HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n");
  EXPECT_EQ(no_content.framing, BodyFraming::kNone);
  HttpResponse until_close = parse_one("HTTP/1.1 200 OK\r\n\r\nall of it");
  EXPECT_EQ(until_close.framing, BodyFraming::kUntilClose);
  EXPECT_EQ(until_close.body, "all of it");

  std::vector<std::string> methods{"POST", "HEAD"};
  std::vector<HttpResponse> two = test_support::parse_responses(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 "
      "OK\r\n"
      "Content-Length: 2\r\n\r\n",
      methods);
  ASSERT_EQ(two.size(), 3u);
  EXPECT_TRUE(two[0].interim());
  EXPECT_EQ(two[1].body, "ok");
}

TEST(StrictResponseParserTest, WaitsForMoreOfAnIncompleteResponse) {
  std::size_t used = 0;
  for (std::string_view partial :
       {"HTTP/1.1 200 OK\r", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "HTT"}) {
    EXPECT_FALSE(test_support::parse_response(partial, "GET", false, used)) << partial;
    // Cut by the end of the stream: an error.
    EXPECT_THROW(test_support::parse_response(partial, "GET", true, used), HttpProtocolError)
        << partial;
  }
  // A body delimited by the close is complete only at the close.
  EXPECT_FALSE(test_support::parse_response("HTTP/1.1 200 OK\r\n\r\nbody", "GET", false, used));
}

TEST(StrictResponseParserTest, RefusesEverythingMalformed) {
  for (std::string bad : {
           std::string("hello"),  // HTTP/0.9 bare body
           std::string("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"),
           std::string("HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n"),
           std::string("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"),
           std::string("HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n"),
           std::string("HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n"),
           std::string("http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
           std::string("HTTP/1.1 200 O\rK\r\nContent-Length: 0\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n"),
           std::string("HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n"),
           "HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n"s,
           std::string("HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nX-A : a\r\nContent-Length: 0\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nNo colon\r\nContent-Length: 0\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\n: v\r\nContent-Length: 0\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx"),
           std::string("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx"),
           std::string(
               "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\nx"),
           std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nx"),
           std::string("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"),
           std::string("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"),
           std::string("HTTP/1.1 100 Continue\r\nContent-Length: 0\r\n\r\n"),
           std::string(
               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"),
           std::string(
               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"),
           std::string(
               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n0\r\n\r\n"),
           std::string(
               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad trailer\r\n\r\n"),
           std::string("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"),  // cut by the close
       }) {
    EXPECT_THROW(parse_one(bad), HttpProtocolError) << shown(bad);
  }
}

// ---- §7: persistent connections -------------------------------------------------------------

TEST_F(HTTPServerTest, Http11KeepsTheConnectionOpenForSeveralRequests) {
  start();
  run_sync([&]() -> Future<void> {
    auto client = co_await connect();
    for (int i = 0; i < 5; ++i) {
      std::string uri = "/keep/" + std::to_string(i);
      std::string raw = "GET " + uri;
      raw += " HTTP/1.1\r\nHost: x\r\n\r\n";
      HttpResponse r = co_await client->request(raw);
      expect_echo(r, uri);
      EXPECT_EQ(r.body, "ok:" + uri);
      EXPECT_FALSE(r.lists("Connection", "close"));
      EXPECT_TRUE(r.has("Date"));
      EXPECT_EQ(r.header_or_absent("X-Version"), "HTTP/1.1");
    }
    EXPECT_TRUE(co_await client->stays_open(100ms));
  });
  EXPECT_EQ(app_.seen.size(), 5u);
}

TEST_F(HTTPServerTest, ConnectionCloseClosesAfterTheResponse) {
  start();
  Exchange e = exchange_sync(
      "GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
      "GET /never HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(e.error, "");
  ASSERT_EQ(e.responses.size(), 1u);
  expect_echo(e.responses[0], "/bye");
  EXPECT_TRUE(e.responses[0].lists("Connection", "close"));
  EXPECT_TRUE(e.closed);
  EXPECT_EQ(e.after, "");
  EXPECT_FALSE(app_.saw("/never"));
}

TEST_F(HTTPServerTest, Http10ClosesAfterTheResponse) {
  start();
  Exchange e = exchange_sync("GET /old HTTP/1.0\r\nHost: x\r\n\r\nGET /never HTTP/1.0\r\n\r\n");
  ASSERT_EQ(e.error, "");
  ASSERT_EQ(e.responses.size(), 1u);
  expect_echo(e.responses[0], "/old");
  EXPECT_EQ(e.responses[0].header_or_absent("X-Version"), "HTTP/1.0");
  EXPECT_FALSE(e.responses[0].lists("Connection", "keep-alive"));
  EXPECT_TRUE(e.closed);
  EXPECT_EQ(e.after, "");
  EXPECT_FALSE(app_.saw("/never"));
}

TEST_F(HTTPServerTest, Http10WithKeepAliveKeepsTheConnection) {
  start();
  run_sync([&]() -> Future<void> {
    auto client = co_await connect();
    for (int i = 0; i < 3; ++i) {
      HttpResponse r =
          co_await client->request("GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
      expect_echo(r, "/ka");
      EXPECT_TRUE(r.lists("Connection", "keep-alive")) << "the next request would not work";
    }
    // Without keep-alive, the last one closes.
    HttpResponse last = co_await client->request("GET /last HTTP/1.0\r\n\r\n");
    expect_echo(last, "/last");
    EXPECT_EQ(co_await client->read_until_close(), "");
  });
}

// §3.2: no chunked coding towards HTTP/1.0; a streamed body is then delimited by the close.
TEST_F(HTTPServerTest, AStreamedBodyIsChunkedForHttp11AndCloseDelimitedForHttp10) {
  start();
  run_sync([&]() -> Future<void> {
    auto client = co_await connect();
    HttpResponse chunked = co_await client->request("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(chunked.status, 200);
    EXPECT_EQ(chunked.framing, BodyFraming::kChunked);
    EXPECT_EQ(chunked.body, "first,second");
    HttpResponse after = co_await client->request("GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_echo(after, "/after");

    auto old = co_await connect();
    HttpResponse r =
        co_await old->request("GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET");
    EXPECT_EQ(r.status, 200);
    EXPECT_FALSE(r.has("Transfer-Encoding"));
    EXPECT_EQ(r.framing, BodyFraming::kUntilClose);
    EXPECT_EQ(r.body, "first,second");
    EXPECT_FALSE(r.lists("Connection", "keep-alive"));
    EXPECT_TRUE(old->eof());
  });
}

TEST_F(HTTPServerTest, BodilessResponsesHaveNoFramingHeadersAndKeepTheConnection) {
  start();
  run_sync([&]() -> Future<void> {
    auto client = co_await connect();
    std::vector<int> codes{204, 304};
    for (int code : codes) {
      std::string raw = "GET /status?code=" + std::to_string(code);
      raw += " HTTP/1.1\r\nHost: x\r\n\r\n";
      HttpResponse r = co_await client->request(raw);  // the parser refuses CL or TE here
      EXPECT_EQ(r.status, code);
      EXPECT_EQ(r.body, "");
    }
    HttpResponse head = co_await client->request("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD");
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.header_or_absent("Content-Length"), std::to_string(std::string("ok:/h").size()));
    EXPECT_EQ(head.body, "");
    HttpResponse after = co_await client->request("GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_echo(after, "/after");
    EXPECT_EQ(client->pending(), "");
  });
}

// ---- §7: pipelining ------------------------------------------------------------------------

TEST_F(HTTPServerTest, PipelinedRequestsOfEveryKindAreAnsweredInOrderEvenWhenTheFirstIsSlow) {
  start();
  std::string batch =
      "GET /slow?ms=150 HTTP/1.1\r\nHost: x\r\n\r\n"
      "HEAD /head HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
      "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
      "GET /slow?ms=30 HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /last HTTP/1.1\r\nHost: x\r\n\r\n";
  run_sync([&]() -> Future<void> {
    auto client = co_await connect();
    co_await client->send(batch);  // one write: one packet on loopback
    HttpResponse slow = co_await client->final_response("GET");
    expect_echo(slow, "/slow?ms=150");
    HttpResponse head = co_await client->final_response("HEAD");
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.header_or_absent("X-Uri"), "/head");
    EXPECT_EQ(head.body, "");
    HttpResponse post = co_await client->final_response("POST");
    expect_echo(post, "/post");
    EXPECT_EQ(post.body, "hello");
    HttpResponse chunked = co_await client->final_response("POST");
    expect_echo(chunked, "/chunked");
    EXPECT_EQ(chunked.body, "abcdefg");
    HttpResponse slow2 = co_await client->final_response("GET");
    expect_echo(slow2, "/slow?ms=30");
    HttpResponse last = co_await client->final_response("GET");
    expect_echo(last, "/last");
    EXPECT_TRUE(co_await client->stays_open(50ms));
  });
  std::vector<std::string> order;
  for (const SeenRequest& s : app_.seen) order.push_back(s.uri);
  EXPECT_EQ(order, (std::vector<std::string>{"/slow?ms=150", "/head", "/post", "/chunked",
                                             "/slow?ms=30", "/last"}));
}

TEST_F(HTTPServerTest, OneHundredPipelinedRequestsInOnePacketGetOneHundredResponsesInOrder) {
  start();
  std::string batch;
  for (int i = 0; i < 100; ++i) {
    batch += "GET /p/" + std::to_string(i);
    batch += i % 10 == 3 ? "?slow HTTP/1.1\r\nHost: x\r\n\r\n" : " HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  run_sync([&]() -> Future<void> {
    auto client = co_await connect();
    co_await client->send(batch);
    for (int i = 0; i < 100; ++i) {
      HttpResponse r = co_await client->final_response("GET");
      std::string uri = "/p/" + std::to_string(i);
      if (i % 10 == 3) uri += "?slow";
      expect_echo(r, uri);
      EXPECT_EQ(r.body, "ok:" + uri);
    }
    EXPECT_TRUE(co_await client->stays_open(50ms));
    EXPECT_EQ(client->pending(), "");
  });
  EXPECT_EQ(app_.seen.size(), 100u);
}

// ---- §7: Expect: 100-continue --------------------------------------------------------------

TEST_F(HTTPServerTest, ExpectContinueGetsAnInterim100BeforeTheBodyThenTheFinalResponse) {
  start();
  run_sync([&]() -> Future<void> {
    auto client = co_await connect();
    co_await client->send(
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    HttpResponse interim = co_await client->response("POST");
    EXPECT_EQ(interim.status, 100);
    EXPECT_TRUE(client->pending().empty()) << "more than the 100 before the body was sent";
    co_await client->send("hello");
    HttpResponse r = co_await client->final_response("POST");
    expect_echo(r, "/upload");
    EXPECT_EQ(r.body, "hello");
    HttpResponse next = co_await client->request("GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_echo(next, "/next");
  });
}

// ---- §7: chunked request bodies ------------------------------------------------------------

TEST_F(HTTPServerTest, ChunkedBodiesWithHexInEitherCaseAndSeveralChunksAreAccepted) {
  start();
  std::string letters = "abcdefghijklmnopqrstuvwxyz";
  std::string raw =
      "POST /chunks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
      "5\r\nhello\r\nA\r\n0123456789\r\na\r\nABCDEFGHIJ\r\n1a\r\n" +
      letters + "\r\n1A\r\n" + letters + "\r\n000\r\n\r\n";
  raw += "GET /next HTTP/1.1\r\nHost: x\r\n\r\n";
  run_sync([&]() -> Future<void> {
    auto client = co_await connect();
    co_await client->send(raw);
    HttpResponse r = co_await client->final_response("POST");
    expect_echo(r, "/chunks");
    EXPECT_EQ(r.body, "hello0123456789ABCDEFGHIJ" + letters + letters);
    HttpResponse next = co_await client->final_response("GET");
    expect_echo(next, "/next");
  });
}

TEST_F(HTTPServerTest, ChunkExtensionsAreIgnored) {
  start();
  run_sync([&]() -> Future<void> {
    auto client = co_await connect();
    HttpResponse r = co_await client->request(
        "POST /ext HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;foo=bar\r\nhello\r\n3;a;b=c\r\nxyz\r\n2;name=\"quoted value\"\r\n!!\r\n0;last\r\n\r\n",
        "POST");
    expect_echo(r, "/ext");
    EXPECT_EQ(r.body, "helloxyz!!");
    HttpResponse next = co_await client->request("GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_echo(next, "/next");
  });
}

TEST_F(HTTPServerTest, TrailerFieldsAreAccepted) {
  start();
  run_sync([&]() -> Future<void> {
    auto client = co_await connect();
    HttpResponse r = co_await client->request(
        "POST /trailers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
        "4\r\nbody\r\n0\r\nX-Sum: 42\r\nX-Other: yes\r\n\r\n",
        "POST");
    expect_echo(r, "/trailers");
    EXPECT_EQ(r.body, "body");
    HttpResponse next = co_await client->request("GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_echo(next, "/next");
  });
}

// ---- §7: accepted oddities -----------------------------------------------------------------

TEST_F(HTTPServerTest, AGetWithAContentLengthBodyIsReadAndTheNextRequestWorks) {
  start();
  run_sync([&]() -> Future<void> {
    auto client = co_await connect();
    co_await client->send(
        "GET /with-body HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        "GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    HttpResponse r = co_await client->final_response("GET");
    expect_echo(r, "/with-body");
    HttpResponse next = co_await client->final_response("GET");
    expect_echo(next, "/next");
    EXPECT_EQ(client->pending(), "");
  });
  ASSERT_EQ(app_.seen.size(), 2u);
  EXPECT_EQ(app_.seen[1].path, "/next");
}

TEST_F(HTTPServerTest, An8000ByteTargetAndAn8KiBHeaderValueAreAccepted) {
  start();
  std::string target = "/" + std::string(7999, 't');
  std::string value(8192, 'v');
  run_sync([&]() -> Future<void> {
    auto client = co_await connect();
    std::string raw = "GET " + target;
    raw += " HTTP/1.1\r\nHost: x\r\n\r\n";
    HttpResponse r = co_await client->request(raw);
    expect_echo(r, target);
    std::string with_value = "GET /long-value HTTP/1.1\r\nHost: x\r\nX-Long: " + value;
    with_value += "\r\n\r\n";
    HttpResponse v = co_await client->request(with_value);
    expect_echo(v, "/long-value");
    EXPECT_EQ(v.header_or_absent("X-Long-Length"), "8192");
  });
}

TEST_F(HTTPServerTest, EmptyLinesBeforeTheRequestLineAreIgnored) {
  start();
  run_sync([&]() -> Future<void> {
    auto client = co_await connect();
    HttpResponse r = co_await client->request("\r\nGET /after-crlf HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_echo(r, "/after-crlf");
    // Also between pipelined requests (a client that adds a CRLF after a body).
    HttpResponse p = co_await client->request(
        "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok\r\n"
        "GET /after-body HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST");
    expect_echo(p, "/p");
    HttpResponse after = co_await client->final_response("GET");
    expect_echo(after, "/after-body");
  });
}

TEST_F(HTTPServerTest, Http12IsServedAsHttp11) {
  start();
  run_sync([&]() -> Future<void> {
    auto client = co_await connect();
    // The parser requires the status line to say HTTP/1.1.
    HttpResponse r = co_await client->request("GET /v12 HTTP/1.2\r\nHost: x\r\n\r\n");
    expect_echo(r, "/v12");
    EXPECT_EQ(r.version, "HTTP/1.1");
    EXPECT_EQ(r.header_or_absent("X-Version"), "HTTP/1.1");
    HttpResponse next = co_await client->request("GET /next HTTP/1.2\r\nHost: x\r\n\r\n");
    expect_echo(next, "/next");
  });
}

TEST_F(HTTPServerTest, Http10WithoutHostIsServed) {
  start();
  Exchange e = exchange_sync("GET /no-host HTTP/1.0\r\n\r\n");
  ASSERT_EQ(e.error, "");
  ASSERT_EQ(e.responses.size(), 1u);
  expect_echo(e.responses[0], "/no-host");
  EXPECT_EQ(e.responses[0].header_or_absent("X-Host"), "127.0.0.1");
  EXPECT_TRUE(e.closed);
}

TEST_F(HTTPServerTest, AnUpgradeHeaderOnAnOrdinaryRouteIsIgnored) {
  start();
  run_sync([&]() -> Future<void> {
    auto client = co_await connect();
    HttpResponse ws = co_await client->request(
        "GET /plain HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    expect_echo(ws, "/plain");
    EXPECT_FALSE(ws.has("Upgrade"));
    HttpResponse h2c = co_await client->request(
        "GET /plain2 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n");
    expect_echo(h2c, "/plain2");
    HttpResponse next = co_await client->request("GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_echo(next, "/next");
  });
}

TEST_F(HTTPServerTest, AnAbsoluteFormTargetIsRoutedByItsPathWithTheHostFromTheTarget) {
  start();
  run_sync([&]() -> Future<void> {
    auto client = co_await connect();
    HttpResponse r = co_await client->request(
        "GET http://example.test:8080/abs/path?q=1 HTTP/1.1\r\nHost: other.test\r\n\r\n");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header_or_absent("X-Path"), "/abs/path");
    EXPECT_EQ(r.header_or_absent("X-Uri"), "/abs/path?q=1");
    EXPECT_EQ(r.header_or_absent("X-Host"), "example.test:8080");
  });
}

TEST_F(HTTPServerTest, UnknownAndLowercaseMethodsReachTheApplicationVerbatim) {
  start();
  run_sync([&]() -> Future<void> {
    auto client = co_await connect();
    // Methods are case-sensitive (RFC 9110 §9.1): "get" is not GET. The application answers
    // methods it does not know with 501, as SPEC §7 wants.
    std::vector<std::string> methods{"get", "FOO", "BREW"};
    for (const std::string& method : methods) {
      std::string raw = method + " / HTTP/1.1\r\nHost: x\r\n\r\n";
      HttpResponse r = co_await client->request(raw, method);
      EXPECT_EQ(r.status, 501) << method;
      EXPECT_EQ(r.header_or_absent("X-Method"), method);
    }
    HttpResponse next = co_await client->request("GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_echo(next, "/next");
  });
}

// ---- §7: refusals of malformed heads --------------------------------------------------------

TEST_F(HTTPServerTest, MalformedRequestLinesAre400) {
  start();
  for (std::string raw : {
           std::string("GARBAGE\r\n\r\n"),
           std::string("GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n"),
           std::string(" GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
           std::string("GET  / HTTP/1.1\r\nHost: x\r\n\r\n"),
           std::string("GET / HTTP/1.x\r\nHost: x\r\n\r\n"),
           std::string("GET / HTTP/11\r\nHost: x\r\n\r\n"),
           std::string("GET / HTTP/1.1.1\r\nHost: x\r\n\r\n"),
           std::string("GET / HTTPS/1.1\r\nHost: x\r\n\r\n"),
           std::string("GET / HTTP/1.1 \r\nHost: x\r\n\r\n"),
           std::string("GE(T / HTTP/1.1\r\nHost: x\r\n\r\n"),
       }) {
    expect_refused_without_smuggling(raw, {400});
  }
  EXPECT_TRUE(app_.seen.empty());
}

TEST_F(HTTPServerTest, OtherHttpVersionsAndTheHttp2PrefaceAre400Or505) {
  start();
  for (std::string raw : {
           std::string("GET / HTTP/2.0\r\nHost: x\r\n\r\n"),
           std::string("GET / HTTP/3.0\r\nHost: x\r\n\r\n"),
           std::string("GET / http/1.1\r\nHost: x\r\n\r\n"),
           std::string("GET / HTTP/1\r\nHost: x\r\n\r\n"),
           std::string("GET / HTTP/0.9\r\nHost: x\r\n\r\n"),
           std::string("GET /\r\n\r\n"),  // HTTP/0.9: never answered with a bare body
           std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
       }) {
    expect_refused_without_smuggling(raw, {400, 505});
  }
  EXPECT_TRUE(app_.seen.empty());
}

/// The start of a TLS 1.2 ClientHello record: what a client speaking HTTPS sends first.
std::string tls_client_hello() {
  std::string hello("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 11);
  hello += std::string(160, '\x42');
  return hello;
}

// Robustness beyond the letter of RFC 9112: an HTTP/0.9 client sends only its request line
// ("GET /" CRLF, RFC 1945's Simple-Request) and waits, and a TLS client sends a ClientHello and
// waits. Neither will ever send the blank line that ends an HTTP/1.1 head, so a server that waits
// for it holds the connection until header_timeout (60 s by default) instead of refusing the
// request (SPEC §7: "HTTP/0.9 (`GET /`) ... reject: 400 or 505", "TLS bytes"). A request line
// that is complete, or a first byte that cannot start a method, is enough to refuse.
TEST_F(HTTPServerTest, ACompleteMalformedRequestLineIsRefusedWithoutWaitingForTheHead) {
  start();
  for (std::string raw : {std::string("GET /\r\n"), std::string("GARBAGE\r\n"),
                          std::string("GET / HTTP/2.0\r\n"), tls_client_hello()}) {
    SCOPED_TRACE(shown(raw));
    Exchange e = exchange_sync(raw, {"GET"}, 1s);
    EXPECT_EQ(e.error, "");
    if (!e.responses.empty()) {
      EXPECT_TRUE(e.responses[0].status == 400 || e.responses[0].status == 505);
    }
    EXPECT_TRUE(e.closed);
  }
}

TEST_F(HTTPServerTest, ANulInTheTargetIs400) {
  start();
  expect_refused_without_smuggling("GET /a\0b HTTP/1.1\r\nHost: x\r\n\r\n"s, {400});
}

TEST_F(HTTPServerTest, ATargetOver64KiBIsRefused) {
  start();
  std::string raw = "GET /" + std::string(70 * 1024, 'a');
  raw += " HTTP/1.1\r\nHost: x\r\n\r\n";
  expect_refused_without_smuggling(raw, {414, 400, 431});
}

TEST_F(HTTPServerTest, AHeaderSectionOver64KiBIs431) {
  start();
  std::string raw = "GET /big HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 2000; ++i) {
    raw += "X-Filler-" + std::to_string(i) + ": " + std::string(24, 'f') + "\r\n";
  }
  raw += "\r\n";
  ASSERT_GT(raw.size(), 64u * 1024);
  expect_refused_without_smuggling(raw, {431});
  EXPECT_FALSE(app_.saw("/big"));
}

TEST_F(HTTPServerTest, MalformedHeaderLinesAre400) {
  start();
  for (std::string raw : {
           // A header line without a colon.
           std::string("GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n"),
           // An empty name, a name that is not a token.
           std::string("GET / HTTP/1.1\r\nHost: x\r\n: empty\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nHost: x\r\nX(Bad): 1\r\n\r\n"),
           // NUL, bare CR and other controls in a value (SPEC §8.9).
           "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n"s,
           std::string("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01z\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x7fz\r\n\r\n"),
       }) {
    expect_refused_without_smuggling(raw, {400});
  }
  EXPECT_TRUE(app_.seen.empty());
}

// RFC 9112 §5.1 and SPEC §8.8: `Content-Length : 5` must not become a header named
// "Content-Length " (which would make the body the next request).
TEST_F(HTTPServerTest, WhiteSpaceBeforeAColonIs400AndNotASmugglingVector) {
  start();
  expect_refused_without_smuggling("POST /ws HTTP/1.1\r\nHost: x\r\nContent-Length : " +
                                       std::to_string(kSmuggled.size()) + "\r\n\r\n" + kSmuggled,
                                   {400});
  expect_refused_without_smuggling("GET /ws HTTP/1.1\r\nHost : x\r\n\r\n", {400});
  expect_refused_without_smuggling("GET /ws HTTP/1.1\r\nHost\t: x\r\n\r\n", {400});
  expect_refused_without_smuggling(
      "POST /ws HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", {400});
  EXPECT_TRUE(app_.seen.empty());
}

TEST_F(HTTPServerTest, WhiteSpaceBeforeTheFirstHeaderLineIsRefusedOrThatLineIgnored) {
  start();
  Exchange e = exchange_sync("GET /ws HTTP/1.1\r\n X-Ignored: 1\r\nHost: x\r\n\r\n" + kSmuggled,
                             {"GET", "GET"});
  ASSERT_EQ(e.error, "");
  ASSERT_FALSE(e.responses.empty());
  if (e.responses[0].status == 400) {
    expect_refused(e, {400});
    EXPECT_FALSE(app_.saw("/smuggled"));
  } else {
    ASSERT_EQ(e.responses.size(), 2u);
    expect_echo(e.responses[0], "/ws");
    EXPECT_EQ(e.responses[0].header_or_absent("X-Header-Count"), "1");
  }
}

TEST_F(HTTPServerTest, ObsFoldIsRefusedOrJoinedWithASpace) {
  start();
  Exchange e = exchange_sync("GET /fold HTTP/1.1\r\nHost: x\r\nX-Echo: a\r\n b\r\n\r\n" + kSmuggled,
                             {"GET", "GET"});
  ASSERT_EQ(e.error, "");
  ASSERT_FALSE(e.responses.empty());
  if (e.responses[0].status == 400) {
    expect_refused(e, {400});
    EXPECT_FALSE(app_.saw("/smuggled"));
  } else {
    expect_echo(e.responses[0], "/fold");
    EXPECT_EQ(e.responses[0].header_or_absent("X-Echo"), "a b");
  }
}

// SPEC §7: bare LF line endings are accepted, or refused with 400; either way, at once.
TEST_F(HTTPServerTest, BareLfLineEndingsAreAcceptedOrRefusedAtOnce) {
  start();
  for (std::string raw : {std::string("GET /lf HTTP/1.1\nHost: x\n\n"),
                          std::string("GET /lf HTTP/1.1\r\nHost: x\n\r\n"),
                          std::string("GET /lf HTTP/1.1\nHost: x\r\n\r\n")}) {
    SCOPED_TRACE(shown(raw));
    run_sync(
        [&]() -> Future<void> {
          auto client = co_await connect();
          co_await client->send(raw);
          try {
            HttpResponse r = co_await client->final_response("GET", 2s);
            if (r.status == 400) {
              EXPECT_EQ(co_await client->read_until_close(), "");
            } else {
              expect_echo(r, "/lf");
            }
          } catch (const ClientTimeout& e) {
            ADD_FAILURE() << "neither served nor refused within 2 s: " << e.what();
          } catch (const PeerClosed&) {
            ADD_FAILURE() << "closed without the 400 that SPEC §7 allows";
          }
        },
        10s);
  }
}

TEST_F(HTTPServerTest, Http11WithoutHostOrWithTwoHostsIs400) {
  start();
  expect_refused_without_smuggling("GET /no-host HTTP/1.1\r\n\r\n", {400});
  expect_refused_without_smuggling("GET /two HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", {400});
  expect_refused_without_smuggling("GET /two HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", {400});
  EXPECT_TRUE(app_.seen.empty());
}

// ---- §7: body framing and request smuggling -------------------------------------------------

TEST_F(HTTPServerTest, ContentLengthWithTransferEncodingIs400AndTheRestIsNeverAnswered) {
  start();
  expect_refused_without_smuggling(
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\n",
      {400});
  expect_refused_without_smuggling(
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 30\r\n\r\n"
      "0\r\n\r\n",
      {400});
  EXPECT_TRUE(app_.seen.empty());
}

TEST_F(HTTPServerTest, DifferingContentLengthsAre400) {
  start();
  expect_refused_without_smuggling(
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", {400});
  expect_refused_without_smuggling(
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello!", {400});
  EXPECT_TRUE(app_.seen.empty());
}

TEST_F(HTTPServerTest, RepeatedIdenticalContentLengthsAreOneLengthOrRefused) {
  start();
  for (std::string lengths : {std::string("Content-Length: 5, 5\r\n"),
                              std::string("Content-Length: 5\r\nContent-Length: 5\r\n")}) {
    std::string raw = "POST /same HTTP/1.1\r\nHost: x\r\n" + lengths;
    raw += "\r\nhelloGET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    SCOPED_TRACE(shown(raw));
    Exchange e = exchange_sync(raw, {"POST", "GET"});
    EXPECT_EQ(e.error, "");
    EXPECT_TRUE(e.closed);
    ASSERT_FALSE(e.responses.empty());
    if (e.responses[0].status == 400) {
      expect_refused(e, {400});
    } else {
      ASSERT_EQ(e.responses.size(), 2u) << e.error;
      expect_echo(e.responses[0], "/same");
      EXPECT_EQ(e.responses[0].body, "hello");
      expect_echo(e.responses[1], "/next");
    }
  }
}

TEST_F(HTTPServerTest, InvalidContentLengthsAre400AndTheRestIsNeverAnswered) {
  start();
  for (std::string value : {"0x5", "abc", "", "5 5", "5.0", "5;", "+5", "-1", "5a", " ,", "1e1"}) {
    std::string raw = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + value;
    raw += "\r\n\r\nhello";
    expect_refused_without_smuggling(raw, {400});
  }
  EXPECT_TRUE(app_.seen.empty());
}

TEST_F(HTTPServerTest, AnOverflowingContentLengthIsRefused) {
  start();
  for (std::string value : {"18446744073709551616", "99999999999999999999999999999",
                            "100000000000000000000", "18446744073709551615"}) {
    std::string raw = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + value;
    raw += "\r\n\r\nhello";
    expect_refused_without_smuggling(raw, {400, 413});
  }
  EXPECT_TRUE(app_.seen.empty());
}

TEST_F(HTTPServerTest, MalformedChunkedFramingIsRefusedAndTheRestIsNeverAnswered) {
  start();
  const std::string head =
      "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::string body : {
           std::string("zz\r\nhello\r\n0\r\n\r\n"),                    // not hex
           std::string("\r\nhello\r\n0\r\n\r\n"),                      // empty size
           std::string("5\r\nhelloXX0\r\n\r\n"),                       // no CRLF after data
           std::string("5\r\nhello\n0\r\n\r\n"),                       // bare LF after data
           std::string("ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n"),  // size too large
           std::string("-5\r\nhello\r\n0\r\n\r\n"),                    // negative size
           std::string("0x5\r\nhello\r\n0\r\n\r\n"),                   // 0x prefix
           std::string("+5\r\nhello\r\n0\r\n\r\n"),                    // sign
           std::string(" 5\r\nhello\r\n0\r\n\r\n"),                    // leading space
           std::string("5\nhello\r\n0\r\n\r\n"),                       // bare LF after the size
           std::string("5\r\nhello\r\n0\r\nBad Trailer\r\n\r\n"),      // malformed trailer
       }) {
    SCOPED_TRACE(shown(body));
    Exchange e = exchange_sync(head + body + kSmuggled);
    EXPECT_EQ(e.error, "");
    EXPECT_TRUE(e.closed);
    EXPECT_EQ(e.after, "");
    // SPEC §7: 400/413 and close, or close without a response.
    if (!e.responses.empty()) {
      EXPECT_EQ(e.responses.size(), 1u);
      EXPECT_TRUE(e.responses[0].status == 400 || e.responses[0].status == 413)
          << e.responses[0].status;
    }
  }
  EXPECT_FALSE(app_.saw("/smuggled"));
  EXPECT_FALSE(app_.saw("/chunked"));
}

TEST_F(HTTPServerTest, TransferCodingsOtherThanAFinalChunkedAreRefused) {
  start();
  // RFC 9112 §6.1: an unknown coding is 501; chunked not final (or twice) is 400 + close.
  expect_refused_without_smuggling(
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", {501});
  expect_refused_without_smuggling(
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\n",
      {501});
  for (std::string coding : {"chunked, gzip", "chunked, chunked", "gzip", "identity", "chunkedx"}) {
    std::string raw = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + coding;
    raw += "\r\n\r\n0\r\n\r\n";
    expect_refused_without_smuggling(raw, {400});
  }
  EXPECT_TRUE(app_.seen.empty());
}

// ---- limits --------------------------------------------------------------------------------

TEST_F(HTTPServerTest, MaxHeaderSizeIsEnforcedWith431) {
  HTTPServerOptions options;
  options.max_header_size = 1024;
  start(options);
  std::string small = "GET /small HTTP/1.1\r\nHost: x\r\nX-Long: " + std::string(800, 's');
  small += "\r\n\r\n";
  std::string large = "GET /large HTTP/1.1\r\nHost: x\r\nX-Long: " + std::string(2000, 'l');
  large += "\r\n\r\n";
  Exchange ok = exchange_sync(small + "GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                              {"GET", "GET"});
  ASSERT_EQ(ok.responses.size(), 2u) << ok.error;
  expect_echo(ok.responses[0], "/small");
  expect_refused_without_smuggling(large, {431});
  EXPECT_FALSE(app_.saw("/large"));
}

TEST_F(HTTPServerTest, ADeclaredBodyOverMaxBodySizeIs413BeforeTheBodyIsSent) {
  HTTPServerOptions options;
  options.max_body_size = 1000;
  start(options);
  run_sync([&]() -> Future<void> {
    // At the limit: accepted.
    auto fits = co_await connect();
    std::string at_limit = "POST /fits HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n";
    at_limit += std::string(1000, 'b');
    HttpResponse r = co_await fits->request(at_limit, "POST");
    expect_echo(r, "/fits");
    EXPECT_EQ(r.header_or_absent("X-Body-Length"), "1000");

    // Over it: only the head is sent, and the 413 comes anyway.
    auto client = co_await connect();
    co_await client->send("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n");
    HttpResponse refused = co_await client->final_response("POST");
    EXPECT_EQ(refused.status, 413);
    EXPECT_TRUE(refused.lists("Connection", "close"));
    EXPECT_EQ(co_await client->read_until_close(), "");
  });
  EXPECT_FALSE(app_.saw("/big"));
}

TEST_F(HTTPServerTest, NoContinueIsSentWhenTheDeclaredBodyIsTooLarge) {
  HTTPServerOptions options;
  options.max_body_size = 1000;
  start(options);
  run_sync([&]() -> Future<void> {
    auto client = co_await connect();
    co_await client->send(
        "POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n");
    HttpResponse first = co_await client->response("POST");
    EXPECT_EQ(first.status, 413) << "the first response must be the refusal, not 100 Continue";
    EXPECT_EQ(co_await client->read_until_close(), "");
  });
  EXPECT_FALSE(app_.saw("/big"));
}

TEST_F(HTTPServerTest, AChunkedBodyGrowingPastMaxBodySizeIs413) {
  HTTPServerOptions options;
  options.max_body_size = 1000;
  start(options);
  std::string raw = "POST /grows HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) raw += "190\r\n" + std::string(400, 'c') + "\r\n";  // 1200 bytes
  raw += "0\r\n\r\n";
  expect_refused_without_smuggling(raw, {413});
  // Under the limit in several chunks: accepted.
  std::string fits = "POST /fits HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 2; ++i) fits += "190\r\n" + std::string(400, 'c') + "\r\n";
  fits += "0\r\n\r\nGET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  Exchange ok = exchange_sync(fits, {"POST", "GET"});
  ASSERT_EQ(ok.responses.size(), 2u) << ok.error;
  expect_echo(ok.responses[0], "/fits");
  EXPECT_EQ(ok.responses[0].body.size(), 800u);
  EXPECT_FALSE(app_.saw("/grows"));
}

// ---- linear time -----------------------------------------------------------------------------

TEST_F(HTTPServerTest, ManyTinyHeadersAreParsedInLinearTime) {
  HTTPServerOptions options;
  options.max_header_size = std::size_t{2} << 20;
  start(options);
  std::string raw = "GET /many HTTP/1.1\r\nHost: x\r\n";
  const int count = 100000;
  for (int i = 0; i < count; ++i) {
    raw += 'h';
    raw += std::to_string(i);
    raw += ":v\r\n";
  }
  raw += "\r\n";
  auto start_time = Clock::now();
  run_sync(
      [&]() -> Future<void> {
        auto client = co_await connect();
        HttpResponse r = co_await client->request(raw, "GET", 10s);
        expect_echo(r, "/many");
        EXPECT_EQ(r.header_or_absent("X-Header-Count"), std::to_string(count + 1));
      },
      8s);
  RecordProperty("many_headers_ms", static_cast<int>(ms_since(start_time)));
}

TEST_F(HTTPServerTest, ASixtyKilobyteHeadFedAByteAtATimeIsParsedInLinearTime) {
  start();
  std::string raw = "GET /trickle HTTP/1.1\r\nHost: x\r\n";
  int headers = 0;
  while (raw.size() < 60000) {
    raw += "X-Trickle-" + std::to_string(headers++) + ": " + std::string(40, 'z') + "\r\n";
  }
  raw += "\r\n";
  ASSERT_LT(raw.size(), 64u * 1024);
  auto start_time = Clock::now();
  run_sync(
      [&]() -> Future<void> {
        auto client = co_await connect();
        // One byte per write, and the loop runs between writes: the server sees ~60,000 reads.
        EXPECT_TRUE(co_await client->send_in_pieces(raw, 1, 1, 10s));
        HttpResponse r = co_await client->final_response("GET", 5s);
        expect_echo(r, "/trickle");
        EXPECT_EQ(r.header_or_absent("X-Header-Count"), std::to_string(headers + 1));
      },
      10s);
  RecordProperty("trickle_ms", static_cast<int>(ms_since(start_time)));
}

TEST_F(HTTPServerTest, LongHeaderValuesSentInPiecesAreParsedInLinearTime) {
  start();
  std::string raw = "GET /long HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 3; ++i) {
    raw += "X-Long: " + std::string(20000, static_cast<char>('a' + i)) + "\r\n";
  }
  raw += "\r\n";
  run_sync(
      [&]() -> Future<void> {
        auto client = co_await connect();
        EXPECT_TRUE(co_await client->send_in_pieces(raw, 7, 1, 10s));
        HttpResponse r = co_await client->final_response("GET", 5s);
        expect_echo(r, "/long");
        EXPECT_EQ(r.header_or_absent("X-Long-Length"), "20000,20000,20000");
      },
      10s);
}

// ---- slow and idle clients -------------------------------------------------------------------

TEST_F(HTTPServerTest, ASlowHeaderClientDoesNotDelayOthersAndIsDroppedAfterHeaderTimeout) {
  HTTPServerOptions options;
  options.header_timeout = 300ms;
  start(options);
  run_sync(
      [&]() -> Future<void> {
        auto slow_client = [&]() -> Future<void> {
          auto slow = co_await connect();
          auto started = Clock::now();
          co_await slow->send("GET /slow-head HTTP/1.1\r\n");
          for (int i = 0; i < 60; ++i) {
            if (!co_await slow->stays_open(50ms)) break;
            std::string line = "X-Bit-" + std::to_string(i);
            line += ": 1\r\n";
            if (!co_await slow->send(line)) break;
          }
          std::string rest = co_await slow->read_until_close(2s);
          long long elapsed = ms_since(started);
          EXPECT_GE(elapsed, 280) << "dropped before header_timeout";
          EXPECT_LT(elapsed, 1500) << "not dropped at header_timeout";
          // Dropped without a response, or with a well-formed 408.
          if (!rest.empty()) {
            std::vector<std::string> methods{"GET"};
            std::vector<HttpResponse> responses = test_support::parse_responses(rest, methods);
            EXPECT_EQ(responses.back().status, 408);
          }
        };
        auto normal_clients = [&]() -> Future<void> {
          co_await gen::sleep(50ms);
          for (int i = 0; i < 4; ++i) {
            auto started = Clock::now();
            auto client = co_await connect();
            HttpResponse r = co_await client->request("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
            expect_echo(r, "/fast");
            EXPECT_LT(ms_since(started), 200) << "a normal client waited for the slow one";
            co_await gen::sleep(50ms);
          }
        };
        Future<void> slow = slow_client();
        Future<void> normal = normal_clients();
        co_await slow;
        co_await normal;
      },
      10s);
  EXPECT_FALSE(app_.saw("/slow-head"));
}

TEST_F(HTTPServerTest, IdleConnectionTimeoutClosesAnIdleKeepAliveConnection) {
  HTTPServerOptions options;
  options.idle_connection_timeout = 300ms;
  start(options);
  run_sync(
      [&]() -> Future<void> {
        // Requests closer together than the timeout keep the connection.
        auto busy = co_await connect();
        for (int i = 0; i < 4; ++i) {
          HttpResponse r = co_await busy->request("GET /busy HTTP/1.1\r\nHost: x\r\n\r\n");
          expect_echo(r, "/busy");
          co_await gen::sleep(150ms);
        }
        // An idle one is closed once the timeout passes.
        auto idle = co_await connect();
        HttpResponse r = co_await idle->request("GET /idle HTTP/1.1\r\nHost: x\r\n\r\n");
        expect_echo(r, "/idle");
        auto idle_since = Clock::now();
        EXPECT_EQ(co_await idle->read_until_close(2s), "");
        long long elapsed = ms_since(idle_since);
        EXPECT_GE(elapsed, 280);
        EXPECT_LT(elapsed, 1500);
        // A connection that never sends a byte too.
        auto silent = co_await connect();
        EXPECT_EQ(co_await silent->read_until_close(2s), "");
      },
      10s);
}

// ---- clients that go away ------------------------------------------------------------------

/// What the delegate-API server saw.
struct DelegateLog {
  int requests = 0;
  std::size_t body_bytes = 0;
  int finished = 0;
  int connection_closes = 0;   // HTTPMessageDelegate::on_connection_close
  int server_conn_closes = 0;  // HTTPServerConnectionDelegate::on_close
  Event closed;
};

class LoggingMessage : public HTTPMessageDelegate {
 public:
  LoggingMessage(DelegateLog& log, std::shared_ptr<HTTPConnection> connection)
      : log_(log), connection_(std::move(connection)) {}

  std::optional<Future<void>> headers_received(const RequestStartLine&, HTTPHeaders&) override {
    return std::nullopt;
  }
  std::optional<Future<void>> data_received(std::string_view chunk) override {
    log_.body_bytes += chunk.size();
    bytes_ += chunk.size();
    return std::nullopt;
  }
  void finish() override {
    ++log_.finished;
    std::string body = "got " + std::to_string(bytes_);
    HTTPHeaders headers;
    headers.add("Content-Length", std::to_string(body.size()));
    connection_->write_headers(ResponseStartLine{}, headers, body);
    connection_->finish();
  }
  void on_connection_close() override {
    ++log_.connection_closes;
    log_.closed.set();
  }

 private:
  DelegateLog& log_;
  std::shared_ptr<HTTPConnection> connection_;
  std::size_t bytes_ = 0;
};

class LoggingServerDelegate : public HTTPServerConnectionDelegate {
 public:
  explicit LoggingServerDelegate(DelegateLog& log) : log_(log) {}
  std::unique_ptr<HTTPMessageDelegate> start_request(
      HTTP1ServerConnection&, std::shared_ptr<HTTPConnection> request_conn) override {
    ++log_.requests;
    return std::make_unique<LoggingMessage>(log_, std::move(request_conn));
  }
  void on_close(HTTP1ServerConnection&) override { ++log_.server_conn_closes; }

 private:
  DelegateLog& log_;
};

/// Waits (polling the loop) until `done()` or `timeout`; false on timeout.
template <class F>
Future<bool> eventually(F done, RawClient::duration timeout = 2s) {
  auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() > deadline) co_return false;
    co_await gen::sleep(5ms);
  }
  co_return true;
}

TEST_F(HTTPServerTest, AClientLeavingInTheMiddleOfABodyIsReportedAndTheServerKeepsServing) {
  DelegateLog log;
  LoggingServerDelegate delegate(log);
  HTTPServer server(delegate);
  server.listen(0, "127.0.0.1");
  const std::uint16_t port = server.addresses().front().port();
  run_sync([&]() -> Future<void> {
    std::vector<bool> ways{false, true};
    for (bool abortive : ways) {
      SCOPED_TRACE(abortive ? "reset" : "close");
      log.closed.clear();
      int closes_before = log.connection_closes;
      std::size_t bytes_before = log.body_bytes;
      auto client = co_await RawClient::connect(port);
      co_await client->send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n");
      co_await client->send(std::string(10, 'p'));
      EXPECT_TRUE(co_await eventually([&] { return log.body_bytes == bytes_before + 10; }));
      if (abortive) {
        client->abort();
      } else {
        client->close();
      }
      co_await log.closed.wait(2s);
      EXPECT_EQ(log.connection_closes, closes_before + 1);
      EXPECT_EQ(log.finished, 0);
    }
    EXPECT_TRUE(co_await eventually([&] { return server.connection_count() == 0; }));
    EXPECT_EQ(log.server_conn_closes, 2);

    // Still serving.
    auto client = co_await RawClient::connect(port);
    std::string raw = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n";
    raw += std::string(100, 'q');
    HttpResponse r = co_await client->request(raw, "POST");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "got 100");
    EXPECT_EQ(log.finished, 1);
    EXPECT_EQ(log.connection_closes, 2);
  });
}

TEST_F(HTTPServerTest, AbandonedAndGarbageConnectionsLeaveTheServerHealthy) {
  start();
  run_sync([&]() -> Future<void> {
    // A partial head, then gone.
    auto partial = co_await connect();
    co_await partial->send("GET /partial HTTP/1.1\r\nHost: x\r\nX-");
    partial->close();
    // A partial body, then reset.
    auto body = co_await connect();
    co_await body->send("POST /partial-body HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nab");
    body->abort();
    // TLS bytes on the plain port: refused or left to the header timeout (how fast is
    // ACompleteMalformedRequestLineIsRefusedWithoutWaitingForTheHead's business); the
    // connection stays open while the others are served.
    auto tls = co_await connect();
    co_await tls->send(tls_client_hello());
    try {
      HttpResponse r = co_await tls->response("GET", 200ms);
      EXPECT_TRUE(r.status == 400 || r.status == 505) << r.status;
      EXPECT_EQ(co_await tls->read_until_close(), "");
    } catch (const PeerClosed&) {
    } catch (const ClientTimeout&) {
    }
    // Connections opened and closed without a byte.
    for (int i = 0; i < 20; ++i) {
      auto nothing = co_await connect();
      if (i % 2) nothing->abort();
    }
    // Still serving, at once.
    auto started = Clock::now();
    auto client = co_await connect();
    HttpResponse r = co_await client->request("GET /healthy HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_echo(r, "/healthy");
    EXPECT_LT(ms_since(started), 500);
  });
  EXPECT_FALSE(app_.saw("/partial"));
  EXPECT_FALSE(app_.saw("/partial-body"));
}

// ---- response splitting and output errors -----------------------------------------------------

TEST_F(HTTPServerTest, CrLfOrNulInTheResponseHeadIsRefusedAndNothingMalformedIsSent) {
  start();
  run_sync([&]() -> Future<void> {
    auto client = co_await connect();
    int requests = 0;
    std::vector<std::string> paths{"/split-reason", "/split-header", "/split-name"};
    std::vector<std::string> chars{"cr", "lf", "nul", "crlf"};
    for (const std::string& path : paths) {
      for (const std::string& c : chars) {
        std::string raw = "GET " + path + "?c=" + c;
        raw += " HTTP/1.1\r\nHost: x\r\n\r\n";
        // The strict parser throws on any CR, LF or NUL out of place.
        HttpResponse r = co_await client->request(raw);
        ++requests;
        EXPECT_EQ(r.status, 200) << path << " " << c;
        EXPECT_EQ(r.reason, "OK");
        EXPECT_EQ(r.body, "safe");
        EXPECT_FALSE(r.has("X-Bad"));
        EXPECT_FALSE(r.has("Injected"));
      }
    }
    EXPECT_EQ(client->pending(), "");
    EXPECT_EQ(requests, 12);
  });
  // The reason phrase reaches write_headers, which throws HTTPOutputError; header names and
  // values with CR, LF or NUL are refused by HTTPHeaders::add already (HTTPInputError).
  ASSERT_EQ(app_.head_refusals.size(), 12u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(app_.head_refusals[i], "write_headers") << i;
  EXPECT_EQ(app_.output_errors.size(), 4u + std::count(app_.head_refusals.begin() + 4,
                                                       app_.head_refusals.end(), "write_headers"));
}

TEST_F(HTTPServerTest, WritingPastContentLengthOrAfterFinishIsAnHTTPOutputError) {
  start();
  run_sync([&]() -> Future<void> {
    auto client = co_await connect();
    HttpResponse r = co_await client->request("GET /too-long HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "12345");
    HttpResponse next = co_await client->request("GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_echo(next, "/next");
    EXPECT_EQ(client->pending(), "");
  });
  ASSERT_EQ(app_.output_errors.size(), 2u);
}

TEST_F(HTTPServerTest, FinishingShortOfContentLengthIsAnHTTPOutputErrorAndClosesTheConnection) {
  start();
  run_sync([&]() -> Future<void> {
    auto client = co_await connect();
    co_await client->send(
        "GET /too-short HTTP/1.1\r\nHost: x\r\n\r\nGET /never HTTP/1.1\r\nHost: x\r\n\r\n");
    try {
      HttpResponse r = co_await client->final_response("GET");
      ADD_FAILURE() << "a complete response came: " << r.status << " " << r.body;
    } catch (const HttpProtocolError& e) {
      // Cut short by the close: the head and the 5 bytes written, then the end.
      EXPECT_NE(std::string(e.what()).find("closed in the middle"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(client->eof());
  });
  EXPECT_EQ(app_.output_errors.size(), 1u);
  EXPECT_FALSE(app_.saw("/never"));
}

// ---- 10,000 concurrent connections -----------------------------------------------------------

/// One client connection of the child process.
struct ManyConn {
  int fd = -1;
  enum State { kUnused, kConnecting, kAwaiting, kIdle } state = kUnused;
  int round = 0;
  test_support::ResponseParser parser;
};

std::string many_request(int index, int round) {
  std::string raw = "GET /c/" + std::to_string(index) + "/" + std::to_string(round);
  raw += " HTTP/1.1\r\nHost: x\r\n\r\n";
  return raw;
}

/// Writes `line` to `fd` (a pipe), whole.
void write_line(int fd, const std::string& line) {
  std::size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

/// The client side of the 10,000-connection test, run in a child process (each side needs a
/// descriptor per connection): opens `count` connections to `port` (at most 64 connecting at
/// once, within the listen backlog), does one request on each and checks the answer, reports
/// "round1" on `report`, waits for a line on `go`, checks that every connection is still open
/// and quiet, then does a second request on each. Reports "ok" or "fail <why>"; returns the
/// exit status.
int run_many_clients(std::uint16_t port, int count, int report, int go) {
  auto fail = [&](const std::string& why) {
    write_line(report, "fail " + why + "\n");
    return 1;
  };
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return fail("epoll_create1");
  std::vector<ManyConn> conns(static_cast<std::size_t>(count));
  auto deadline = Clock::now() + 25s;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  auto send_request = [&](int i) -> bool {
    std::string raw = many_request(i, conns[i].round);
    ssize_t n = ::send(conns[i].fd, raw.data(), raw.size(), MSG_NOSIGNAL);
    return n == static_cast<ssize_t>(raw.size());  // small: the socket buffer takes it whole
  };
  auto watch = [&](int i, std::uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u32 = static_cast<std::uint32_t>(i);
    return ::epoll_ctl(ep, op, conns[i].fd, &ev) == 0;
  };
  // Reads what is there and checks the response when it is complete; "" or an error.
  auto on_readable = [&](int i) -> std::string {
    ManyConn& c = conns[i];
    char buffer[4096];
    for (;;) {
      ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        c.parser.feed(std::string_view(buffer, static_cast<std::size_t>(n)));
        continue;
      }
      if (n == 0) return "connection " + std::to_string(i) + " closed";
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      return "recv on connection " + std::to_string(i) + ": " + std::strerror(errno);
    }
    if (c.state != ManyConn::kAwaiting) {
      return "unexpected bytes on idle connection " + std::to_string(i);
    }
    std::optional<HttpResponse> r;
    try {
      r = c.parser.next("GET");
    } catch (const std::exception& e) {
      return e.what();
    }
    if (!r) return "";
    std::string uri = "/c/" + std::to_string(i) + "/" + std::to_string(c.round);
    if (r->status != 200 || r->header("X-Uri") != uri || r->body != "ok:" + uri ||
        r->lists("Connection", "close") || !c.parser.pending().empty()) {
      return "wrong answer on connection " + std::to_string(i) + ": " + std::to_string(r->status) +
             " " + r->body;
    }
    c.state = ManyConn::kIdle;
    return "";
  };

  epoll_event events[256];
  for (int round = 1; round <= 2; ++round) {
    int next = 0;
    int in_flight = 0;
    int answered = 0;
    if (round == 2) {
      // Every connection is still open and quiet: no event at all.
      int n = ::epoll_wait(ep, events, 256, 0);
      if (n != 0) return fail("events on idle connections before round 2: " + std::to_string(n));
      for (int i = 0; i < count; ++i) {
        conns[i].round = 2;
        conns[i].state = ManyConn::kAwaiting;
        if (!send_request(i)) return fail("send round 2 on " + std::to_string(i));
      }
      next = count;
      in_flight = count;
    }
    while (answered < count) {
      if (Clock::now() > deadline) {
        return fail("timed out in round " + std::to_string(round) + " with " +
                    std::to_string(answered) + " answered");
      }
      while (round == 1 && next < count && in_flight < 64) {
        ManyConn& c = conns[next];
        c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) return fail(std::string("socket: ") + std::strerror(errno));
        if (::connect(c.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 &&
            errno != EINPROGRESS) {
          return fail(std::string("connect: ") + std::strerror(errno));
        }
        c.state = ManyConn::kConnecting;
        c.round = 1;
        if (!watch(next, EPOLLOUT, EPOLL_CTL_ADD)) return fail("epoll_ctl add");
        ++next;
        ++in_flight;
      }
      int n = ::epoll_wait(ep, events, 256, 100);
      for (int k = 0; k < n; ++k) {
        int i = static_cast<int>(events[k].data.u32);
        ManyConn& c = conns[i];
        if (c.state == ManyConn::kConnecting) {
          int error = 0;
          socklen_t size = sizeof error;
          ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &size);
          if (error != 0) return fail(std::string("connect: ") + std::strerror(error));
          c.state = ManyConn::kAwaiting;
          if (!send_request(i)) return fail("send round 1 on " + std::to_string(i));
          if (!watch(i, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD)) return fail("epoll_ctl mod");
          continue;
        }
        std::string error = on_readable(i);
        if (!error.empty()) return fail(error);
        if (c.state == ManyConn::kIdle) {
          ++answered;
          --in_flight;
        }
      }
    }
    write_line(report, round == 1 ? "round1\n" : "ok\n");
    if (round == 1) {
      pollfd p{go, POLLIN, 0};
      char byte;
      if (::poll(&p, 1, 30000) != 1 || ::read(go, &byte, 1) != 1) return 2;
    }
  }
  return 0;
}

TEST_F(HTTPServerTest, TenThousandConcurrentKeepAliveConnectionsAreServedOnOneLoop) {
  constexpr int kConnections = 10000;
  rlimit original{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &original), 0);
  const rlim_t needed = kConnections + 256;
  if (original.rlim_max != RLIM_INFINITY && original.rlim_max < needed) {
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << original.rlim_max << " < " << needed;
  }
  struct RestoreLimit {
    rlimit limit;
    ~RestoreLimit() { ::setrlimit(RLIMIT_NOFILE, &limit); }
  } restore{original};
  if (original.rlim_cur < needed) {
    rlimit raised = original;
    raised.rlim_cur = needed;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &raised), 0);
  }
  start();
  const std::uint16_t server_port = port();

  int to_parent[2];
  int to_child[2];
  ASSERT_EQ(::pipe2(to_parent, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(to_child, O_CLOEXEC), 0);
  std::fflush(nullptr);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(to_parent[0]);
    ::close(to_child[1]);
    int code = 3;
    try {
      code = run_many_clients(server_port, kConnections, to_parent[1], to_child[0]);
    } catch (...) {
    }
    ::_exit(code);
  }
  ::close(to_parent[1]);
  ::close(to_child[0]);
  struct Child {
    pid_t pid;
    int go;
    bool reaped = false;
    int status = 0;
    void reap() {
      if (reaped) return;
      ::close(go);
      if (::waitpid(pid, &status, WNOHANG) == 0) {
        // Give it a moment to exit, then stop it.
        for (int i = 0; i < 100 && ::waitpid(pid, &status, WNOHANG) == 0; ++i) ::usleep(20000);
        if (::waitpid(pid, &status, WNOHANG) == 0) {
          ::kill(pid, SIGKILL);
          ::waitpid(pid, &status, 0);
        }
      }
      reaped = true;
    }
    ~Child() { reap(); }
  } child{pid, to_child[1]};

  std::size_t open_after_round1 = 0;
  std::string first;
  std::string second;
  auto started = Clock::now();
  run_sync(
      [&]() -> Future<void> {
        auto report = std::make_unique<IOStream>(to_parent[0]);
        first = co_await gen::with_timeout(30s, report->read_until("\n"));
        if (first != "round1\n") co_return;
        open_after_round1 = server_->connection_count();
        // All answered and all kept: one more request on each.
        if (::write(child.go, "g", 1) != 1) co_return;
        second = co_await gen::with_timeout(30s, report->read_until("\n"));
      },
      70s);
  child.reap();
  EXPECT_EQ(first, "round1\n");
  EXPECT_EQ(open_after_round1, static_cast<std::size_t>(kConnections));
  EXPECT_EQ(second, "ok\n");
  EXPECT_TRUE(WIFEXITED(child.status) && WEXITSTATUS(child.status) == 0)
      << "child status " << child.status;
  RecordProperty("ten_thousand_ms", static_cast<int>(ms_since(started)));
  // The child's sockets are closed: the server lets every connection go.
  run_sync(
      [&]() -> Future<void> {
        EXPECT_TRUE(co_await eventually([&] { return server_->connection_count() == 0; }, 20s));
      },
      30s);
}

// ---- bodies from files (HTTPConnection::write_file) ---------------------------------------

/// A temporary file holding `content`, already unlinked; its descriptor closes with it.
class TempFile {
 public:
  explicit TempFile(std::string_view content) : size_(content.size()) {
    char path[] = "/tmp/squall-httpserver-XXXXXX";
    fd_ = ::mkostemp(path, O_CLOEXEC);
    if (fd_ < 0) throw OSError(errno, "mkostemp");
    ::unlink(path);
    for (std::size_t done = 0; done < content.size();) {
      ssize_t n = ::write(fd_, content.data() + done, content.size() - done);
      if (n <= 0) throw OSError(errno, "write");
      done += static_cast<std::size_t>(n);
    }
  }
  ~TempFile() { ::close(fd_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  int fd() const noexcept { return fd_; }
  std::size_t size() const noexcept { return size_; }

 private:
  int fd_ = -1;
  std::size_t size_;
};

std::string patterned_bytes(std::size_t size, unsigned seed) {
  std::string data(size, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (char& c : data) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return data;
}

/// Serves files with HTTPConnection::write_file, each from a descriptor of its own that it
/// closes as soon as write_file returns. Paths:
/// - `/big`: the big file whole, with Content-Length (zero-copy);
/// - `/big-chunked`: "head-", bytes [100, 100 + 5 MiB) of the big file, "-tail", chunked;
/// - `/small-chunked`: the small file, chunked (small pieces are copied into the batch);
/// - `/short?n=N`: Content-Length N, from a file shorter than that; keeps flush()'s Future;
/// - `/rules`, `/not-modified` and HEAD: write_file where write would throw; keeps the errors;
/// - anything else: "ok:" and the path, with Content-Length.
class FileApp {
 public:
  FileApp()
      : big_content(patterned_bytes(8u << 20, 1)),
        big(big_content),
        small(std::string(1000, 's')) {}

  std::string big_content;
  TempFile big;
  TempFile small;
  std::vector<std::string> errors;
  std::optional<Future<void>> short_flush;

  void handle(std::shared_ptr<HTTPServerRequest> request) {
    HTTPConnection& connection = *request->connection;
    const std::string& path = request->path;
    HTTPHeaders headers;
    if (path == "/big" && request->method == "HEAD") {
      headers.add("Content-Length", std::to_string(big.size()));
      connection.write_headers(ResponseStartLine{}, headers);
      record([&] { send_file(connection, big, 0, big.size()); });
      send_file(connection, big, 0, 0);  // nothing: allowed
    } else if (path == "/big") {
      headers.add("Content-Length", std::to_string(big.size()));
      connection.write_headers(ResponseStartLine{}, headers);
      send_file(connection, big, 0, big.size());
    } else if (path == "/big-chunked") {
      connection.write_headers(ResponseStartLine{}, headers, "head-");
      send_file(connection, big, 100, 5u << 20);
      connection.write("-tail");
    } else if (path == "/small-chunked") {
      connection.write_headers(ResponseStartLine{}, headers);
      send_file(connection, small, 0, small.size());
      send_file(connection, small, 10, 5);
    } else if (path == "/short") {
      headers.add("Content-Length", request->query.substr(2));
      connection.write_headers(ResponseStartLine{}, headers);
      const std::uint64_t n = std::stoull(request->query.substr(2));
      const TempFile& file = n > (64u << 10) ? big : small;
      send_file(connection, file, file.size() - (n - 1), n);  // one byte short
      short_flush = connection.flush();
    } else if (path == "/rules") {
      record([&] { send_file(connection, small, 0, 1); });  // before the head
      headers.add("Content-Length", "5");
      connection.write_headers(ResponseStartLine{}, headers);
      record([&] { send_file(connection, small, 0, 6); });  // past Content-Length
      record([&] { connection.write_file(-1, 0, 1); });
      send_file(connection, small, 0, 5);
      connection.finish();
      record([&] { send_file(connection, small, 0, 1); });  // after finish
      return;
    } else if (path == "/not-modified") {
      ResponseStartLine line;
      line.code = 304;
      connection.write_headers(line, headers);
      record([&] { send_file(connection, small, 0, 1); });
    } else {
      std::string body = "ok:" + path;
      headers.add("Content-Length", std::to_string(body.size()));
      connection.write_headers(ResponseStartLine{}, headers, body);
    }
    connection.finish();
  }

 private:
  static void send_file(HTTPConnection& connection, const TempFile& file, std::uint64_t offset,
                        std::uint64_t count) {
    int fd = ::dup(file.fd());
    try {
      connection.write_file(fd, offset, count);
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);  // the connection keeps what it needs
  }

  template <class F>
  void record(F&& attempt) {
    try {
      attempt();
      errors.push_back("(no error)");
    } catch (const HTTPOutputError& e) {
      errors.push_back(std::string("HTTPOutputError: ") + e.what());
    } catch (const ValueError& e) {
      errors.push_back(std::string("ValueError: ") + e.what());
    }
  }
};

class HTTPServerFileTest : public testing::AsyncTest {
 protected:
  void SetUp() override {
    testing::AsyncTest::SetUp();
    server_ = std::make_unique<HTTPServer>(
        [this](std::shared_ptr<HTTPServerRequest> request) { app_.handle(std::move(request)); });
    server_->listen(0, "127.0.0.1");
  }
  std::uint16_t port() const { return server_->addresses().front().port(); }

  FileApp app_;  // declared first: outlives the server
  std::unique_ptr<HTTPServer> server_;
};

TEST_F(HTTPServerFileTest, AnEightMebibyteBodyFromAFileArrivesWholeAndTheConnectionGoesOn) {
  run_sync([&]() -> Future<void> {
    auto client = co_await RawClient::connect(port());
    HttpResponse r = co_await client->request("GET /big HTTP/1.1\r\nHost: x\r\n\r\n", "GET", 20s);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.framing, BodyFraming::kContentLength);
    EXPECT_EQ(r.header_or_absent("Content-Length"), std::to_string(8u << 20));
    EXPECT_EQ(r.body.size(), app_.big_content.size());
    EXPECT_TRUE(r.body == app_.big_content);
    HttpResponse next = co_await client->request("GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(next.body, "ok:/next");
    EXPECT_TRUE(co_await client->stays_open(50ms));
  });
}

TEST_F(HTTPServerFileTest, AChunkedBodyFramesTheFileAsChunksInOrderWithWrites) {
  run_sync([&]() -> Future<void> {
    auto client = co_await RawClient::connect(port());
    HttpResponse r =
        co_await client->request("GET /big-chunked HTTP/1.1\r\nHost: x\r\n\r\n", "GET", 20s);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.framing, BodyFraming::kChunked);
    EXPECT_TRUE(r.body == "head-" + app_.big_content.substr(100, 5u << 20) + "-tail");
    HttpResponse small = co_await client->request("GET /small-chunked HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(small.framing, BodyFraming::kChunked);
    EXPECT_EQ(small.body, std::string(1000, 's') + std::string(5, 's'));
  });
}

TEST_F(HTTPServerFileTest, PipelinedRequestsAroundFileResponsesAreAnsweredInOrder) {
  const std::string batch =
      "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
      "HEAD /big HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /big-chunked HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /small-chunked HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /c HTTP/1.1\r\nHost: x\r\n\r\n";
  run_sync(
      [&]() -> Future<void> {
        auto client = co_await RawClient::connect(port());
        co_await client->send(batch);
        EXPECT_EQ((co_await client->final_response("GET")).body, "ok:/a");
        HttpResponse big = co_await client->final_response("GET", 20s);
        EXPECT_TRUE(big.body == app_.big_content);
        EXPECT_EQ((co_await client->final_response("GET")).body, "ok:/b");
        HttpResponse head = co_await client->final_response("HEAD");
        EXPECT_EQ(head.status, 200);
        EXPECT_EQ(head.body, "");
        EXPECT_EQ(head.header_or_absent("Content-Length"), std::to_string(8u << 20));
        HttpResponse chunked = co_await client->final_response("GET", 20s);
        EXPECT_TRUE(chunked.body == "head-" + app_.big_content.substr(100, 5u << 20) + "-tail");
        HttpResponse small = co_await client->final_response("GET");
        EXPECT_EQ(small.body.size(), 1005u);
        HttpResponse again = co_await client->final_response("GET", 20s);
        EXPECT_TRUE(again.body == app_.big_content);
        EXPECT_EQ((co_await client->final_response("GET")).body, "ok:/c");
        EXPECT_TRUE(co_await client->stays_open(50ms));
        EXPECT_EQ(client->pending(), "");
      },
      60s);
  // HEAD has no body: writing one from a file is refused as write refuses it.
  ASSERT_EQ(app_.errors.size(), 1u);
  EXPECT_NE(app_.errors[0].find("HTTPOutputError"), std::string::npos) << app_.errors[0];
}

TEST_F(HTTPServerFileTest, WriteFileKeepsTheRulesOfWrite) {
  run_sync([&]() -> Future<void> {
    auto client = co_await RawClient::connect(port());
    HttpResponse r = co_await client->request("GET /rules HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "sssss");
    HttpResponse not_modified =
        co_await client->request("GET /not-modified HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(not_modified.status, 304);
    EXPECT_EQ(not_modified.body, "");
    EXPECT_TRUE(co_await client->stays_open(50ms));
  });
  ASSERT_EQ(app_.errors.size(), 5u);
  EXPECT_NE(app_.errors[0].find("HTTPOutputError: write_file before write_headers"),
            std::string::npos)
      << app_.errors[0];
  EXPECT_NE(app_.errors[1].find("HTTPOutputError: Tried to write more data than Content-Length"),
            std::string::npos)
      << app_.errors[1];
  EXPECT_NE(app_.errors[2].find("ValueError"), std::string::npos) << app_.errors[2];
  EXPECT_NE(app_.errors[3].find("HTTPOutputError: write_file after finish"), std::string::npos)
      << app_.errors[3];
  EXPECT_NE(app_.errors[4].find("HTTPOutputError: Tried to write more data than Content-Length"),
            std::string::npos)
      << app_.errors[4];
}

TEST_F(HTTPServerFileTest, AFileShorterThanTheBodyItPromisedClosesTheConnection) {
  // 100 bytes are copied into the response buffer; 1 MiB goes out with sendfile: both find the
  // file one byte short, and the connection closes before the body is complete.
  for (std::uint64_t n : {std::uint64_t{100}, std::uint64_t{1} << 20}) {
    SCOPED_TRACE(n);
    app_.short_flush.reset();
    std::string received;
    run_sync([&]() -> Future<void> {
      auto client = co_await RawClient::connect(port());
      co_await client->send("GET /short?n=" + std::to_string(n) + " HTTP/1.1\r\nHost: x\r\n\r\n");
      received = co_await client->read_until_close(10s);
      if (!app_.short_flush) co_return;
      try {
        co_await *app_.short_flush;
        ADD_FAILURE() << "flush() succeeded";
      } catch (const StreamClosedError& e) {
        EXPECT_TRUE(e.real_error());
        EXPECT_NE(std::string(e.what()).find("bytes short of the range"), std::string::npos)
            << e.what();
      }
    });
    ASSERT_TRUE(app_.short_flush.has_value());
    if (!received.empty()) {  // never a complete response
      std::size_t used = 0;
      EXPECT_THROW(test_support::parse_response(received, "GET", true, used), HttpProtocolError);
    }
  }
}

}  // namespace
}  // namespace squall
