// AsyncHTTPClient and HTTPClient against squall's own HTTPServer, and against small raw servers
// that misbehave on purpose (never answer, close mid-body, hold back 100 Continue...), all on
// loopback. HTTPS uses certificates made at run time.
#include "squall/http/httpclient.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "squall/core/gen.hpp"
#include "squall/http/httpserver.hpp"
#include "squall/net/iostream.hpp"
#include "squall/net/netutil.hpp"
#include "squall/net/tcpserver.hpp"
#include "squall/testing/testing.hpp"
#include "support/test_certificates.hpp"

namespace squall {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

template <class E>
bool holds(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

std::string what_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  }
}

std::string gzip(std::string_view data) {
  z_stream stream{};
  if (deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    throw std::runtime_error("deflateInit2");
  }
  std::string out(deflateBound(&stream, static_cast<uLong>(data.size())) + 64, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate");
  return out;
}

/// A body whose bytes depend on their position, so a piece out of place shows.
std::string pattern(std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>('a' + (i * 7 + i / 1000) % 26);
  return out;
}

// ---- the test application ------------------------------------------------------------------

/// The routes of the test server, by path:
/// - `/hello`: "Hello, world";
/// - `/echo`: the request's body, with X-Method and X-Body-Length;
/// - `/headers`: the request's header lines ("Name: value\n" each), with X-Method;
/// - `/status?code=N`: status N, body "status N";
/// - `/redirect?code=N&to=URL`: status N (302 default) with Location URL;
/// - `/loop`: 302 to itself;
/// - `/slow?ms=N`: "slow" after N ms;
/// - `/gzip?size=N`: N pattern bytes, gzip'ed, with Content-Encoding: gzip;
/// - `/negotiate`: "negotiated", gzip'ed only if the request accepts gzip;
/// - `/big?size=N`: N pattern bytes with a Content-Length;
/// - `/chunked?size=N&pieces=K`: N pattern bytes in K writes, chunked;
/// - `/ims`: 304 if the request has If-Modified-Since, else 200;
/// - `/close`: "closing" with Connection: close;
/// - `/big-header?size=N`: a header of N bytes.
class TestApp {
 public:
  std::map<std::string, int> hits;
  std::vector<HTTPHeaders> seen_headers;

  void handle(const std::shared_ptr<HTTPServerRequest>& request) {
    ++hits[request->path];
    seen_headers.push_back(request->headers);
    const std::string& path = request->path;
    HTTPHeaders headers;
    if (path == "/hello") {
      respond(*request, 200, "Hello, world");
    } else if (path == "/echo") {
      headers.add("X-Method", request->method);
      headers.add("X-Body-Length", std::to_string(request->body.size()));
      respond(*request, 200, request->body, headers);
    } else if (path == "/headers") {
      std::string body;
      for (auto [name, value] : request->headers) {
        body.append(name).append(": ").append(value).append("\n");
      }
      headers.add("X-Method", request->method);
      respond(*request, 200, body, headers);
    } else if (path == "/status") {
      int code = std::stoi(argument(*request, "code", "200"));
      respond(*request, code, "status " + std::to_string(code));
    } else if (path == "/redirect") {
      int code = std::stoi(argument(*request, "code", "302"));
      headers.add("Location", argument(*request, "to", "/hello"));
      respond(*request, code, "redirect", headers);
    } else if (path == "/loop") {
      headers.add("Location", "/loop");
      respond(*request, 302, "again", headers);
    } else if (path == "/slow") {
      int ms = std::stoi(argument(*request, "ms", "100"));
      IOLoop::current().call_later(std::chrono::milliseconds(ms),
                                   [request] { respond(*request, 200, "slow"); });
    } else if (path == "/gzip") {
      std::size_t size = std::stoul(argument(*request, "size", "1000"));
      headers.add("Content-Encoding", "gzip");
      respond(*request, 200, gzip(pattern(size)), headers);
    } else if (path == "/negotiate") {
      std::string accept = request->headers.get("Accept-Encoding", "");
      if (accept.find("gzip") != std::string::npos) {
        headers.add("Content-Encoding", "gzip");
        respond(*request, 200, gzip("negotiated"), headers);
      } else {
        respond(*request, 200, "negotiated");
      }
    } else if (path == "/big") {
      respond(*request, 200, pattern(std::stoul(argument(*request, "size", "1000"))));
    } else if (path == "/chunked") {
      std::size_t size = std::stoul(argument(*request, "size", "1000"));
      std::size_t pieces = std::stoul(argument(*request, "pieces", "4"));
      std::string body = pattern(size);
      request->connection->write_headers(ResponseStartLine{}, headers);
      std::size_t step = (size + pieces - 1) / pieces;
      for (std::size_t at = 0; at < size; at += step) {
        request->connection->write(std::string_view(body).substr(at, step));
      }
      request->connection->finish();
    } else if (path == "/ims") {
      if (request->headers.contains("If-Modified-Since")) {
        ResponseStartLine line;
        line.code = 304;
        request->connection->write_headers(line, headers);
        request->connection->finish();
      } else {
        respond(*request, 200, "modified");
      }
    } else if (path == "/close") {
      headers.add("Connection", "close");
      respond(*request, 200, "closing", headers);
    } else if (path == "/big-header") {
      headers.add("X-Big", std::string(std::stoul(argument(*request, "size", "100")), 'h'));
      respond(*request, 200, "big header", headers);
    } else {
      respond(*request, 404, "not found");
    }
  }

  static void respond(HTTPServerRequest& request, int code, const std::string& body,
                      HTTPHeaders headers = {}) {
    headers.set("Content-Length", std::to_string(body.size()));
    ResponseStartLine line;
    line.code = code;
    if (request.method == "HEAD") {
      request.connection->write_headers(line, headers);
    } else {
      request.connection->write_headers(line, headers, body);
    }
    request.connection->finish();
  }

 private:
  static std::string argument(const HTTPServerRequest& request, const std::string& name,
                              const std::string& fallback) {
    auto it = request.query_arguments.find(name);
    if (it == request.query_arguments.end() || it->second.empty()) return fallback;
    return it->second.front();
  }
};

/// A server whose every connection runs `handler` (a coroutine owning the stream).
class RawServer : public TCPServer {
 public:
  using Handler = std::function<Future<void>(std::unique_ptr<IOStream>)>;
  explicit RawServer(Handler handler, std::optional<SSLOptions> ssl = std::nullopt)
      : TCPServer(std::move(ssl)), handler_(std::move(handler)) {
    listen(0, "127.0.0.1");
    port_ = addresses().front().port();
  }
  std::uint16_t port() const { return port_; }
  std::string url(std::string_view path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  int connections = 0;

 protected:
  Future<void> handle_stream(std::unique_ptr<IOStream> stream, SocketAddress) override {
    ++connections;
    return handler_(std::move(stream));
  }

 private:
  Handler handler_;
  std::uint16_t port_ = 0;
};

/// Reads a request head; gives it, or an empty string at the end of the stream.
Future<std::string> read_head(IOStream& stream) {
  try {
    co_return co_await stream.read_until("\r\n\r\n");
  } catch (const StreamClosedError&) {
  }
  co_return std::string();
}

std::size_t content_length_of(const std::string& head) {
  std::size_t at = head.find("Content-Length: ");
  return at == std::string::npos ? 0 : std::stoul(head.substr(at + 16));
}

/// Accepts and reads, never answering.
Future<void> silent(std::unique_ptr<IOStream> stream) {
  try {
    for (;;) co_await stream->read_bytes(65536, true);
  } catch (const StreamClosedError&) {
  }
}

/// Writes `response` after reading a request head, then closes.
Future<void> answer_and_close(std::unique_ptr<IOStream> stream, std::string response) {
  std::string head = co_await read_head(*stream);
  if (head.empty()) co_return;
  co_await stream->write(response);
  stream->close();
}

/// An HTTPServer with the test application, on 127.0.0.1.
class AppServer {
 public:
  explicit AppServer(HTTPServerOptions options = {}, std::string address = "127.0.0.1")
      : server_([this](std::shared_ptr<HTTPServerRequest> request) { app.handle(request); },
                std::move(options)) {
    server_.listen(0, address);
    port_ = server_.addresses().front().port();
    std::string scheme = server_.options().ssl_options ? "https" : "http";
    std::string host = address.find(':') != std::string::npos ? "[" + address + "]" : address;
    base_ = scheme + "://" + host + ":" + std::to_string(port_);
  }
  std::string url(std::string_view path) const { return base_ + std::string(path); }
  std::uint16_t port() const { return port_; }
  HTTPServer& server() { return server_; }

  TestApp app;

 private:
  HTTPServer server_;
  std::uint16_t port_ = 0;
  std::string base_;
};

/// The body's header lines as a map (for `/headers`).
std::map<std::string, std::string> header_lines(const std::string& body) {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start < body.size()) {
    std::size_t end = body.find('\n', start);
    std::string line = body.substr(start, end - start);
    std::size_t colon = line.find(": ");
    if (colon != std::string::npos) out[line.substr(0, colon)] = line.substr(colon + 2);
    start = end + 1;
  }
  return out;
}

class HTTPClientTest : public testing::AsyncTest {
 protected:
  AppServer server;
  std::string url(std::string_view path) const { return server.url(path); }

  /// Runs `fetch` and gives the HTTPClientError it fails with.
  HTTPClientError expect_error(AsyncHTTPClient& client, HTTPRequest request,
                               IOLoop::duration timeout = 5s) {
    std::optional<HTTPClientError> caught;
    auto run = [&]() -> Future<void> {
      try {
        static_cast<void>(co_await client.fetch(std::move(request)));
      } catch (const HTTPClientError& e) {
        caught.emplace(e);
      }
    };
    run_sync(run, timeout);
    if (!caught) throw std::runtime_error("the fetch did not fail");
    return *caught;
  }

  /// Waits until the test server has no connection left: a test that leaves a request in
  /// flight on the server (a fetch it gave up on) lets the server finish with it before the
  /// loop closes.
  void wait_for_server_idle(AppServer& app_server) {
    auto wait = [&]() -> Future<void> {
      for (int i = 0; i < 300 && app_server.server().connection_count() > 0; ++i) {
        co_await gen::sleep(10ms);
      }
    };
    run_sync(wait);
    EXPECT_EQ(app_server.server().connection_count(), 0u);
  }

  HTTPResponse fetch(AsyncHTTPClient& client, HTTPRequest request, bool raise_error = true,
                     IOLoop::duration timeout = 5s) {
    HTTPResponse response;
    auto run = [&]() -> Future<void> {
      response = co_await client.fetch(std::move(request), raise_error);
    };
    run_sync(run, timeout);
    return response;
  }
};

// ---- basics --------------------------------------------------------------------------------

TEST_F(HTTPClientTest, FetchesAURL) {
  AsyncHTTPClient client;
  HTTPResponse response = fetch(client, url("/hello"));
  EXPECT_EQ(response.code, 200);
  EXPECT_EQ(response.reason, "OK");
  EXPECT_EQ(response.body, "Hello, world");
  EXPECT_EQ(response.headers.get("Content-Length", ""), "12");
  EXPECT_EQ(response.effective_url, url("/hello"));
  EXPECT_EQ(response.request.url, url("/hello"));
  EXPECT_FALSE(response.error);
  EXPECT_NO_THROW(response.rethrow());
  EXPECT_GT(response.request_time, 0);
}

TEST_F(HTTPClientTest, TimeInfoGivesEachStageInOrder) {
  AsyncHTTPClient client;
  HTTPResponse response = fetch(client, url("/slow?ms=20"));
  ASSERT_EQ(response.time_info.size(), 4u);
  double queue = response.time_info.at("queue");
  double connect = response.time_info.at("connect");
  double first = response.time_info.at("firstbyte");
  double total = response.time_info.at("total");
  EXPECT_LE(0, queue);
  EXPECT_LE(queue, connect);
  EXPECT_LE(connect, first);
  EXPECT_LE(first, total);
  EXPECT_GE(first, 0.015);  // the server waited 20 ms before answering
  EXPECT_DOUBLE_EQ(total, response.request_time);
}

TEST_F(HTTPClientTest, TheSharedClientIsOnePerLoopAndForceInstanceIsNot) {
  AsyncHTTPClient a;
  AsyncHTTPClient b;
  AsyncHTTPClient own(AsyncHTTPClient::Defaults{});
  fetch(a, url("/hello"));
  EXPECT_EQ(a.connections_opened(), 1u);
  EXPECT_EQ(b.connections_opened(), 1u);  // the same client
  EXPECT_EQ(own.connections_opened(), 0u);
  fetch(b, url("/hello"));
  EXPECT_EQ(a.connections_opened(), 1u);  // and the same pool
}

TEST_F(HTTPClientTest, ACopyIsAHandleOnTheSameClient) {
  AsyncHTTPClient client(AsyncHTTPClient::Defaults{});
  AsyncHTTPClient copy = client;
  fetch(copy, url("/hello"));
  EXPECT_EQ(client.connections_opened(), 1u);
}

TEST_F(HTTPClientTest, AnHTTPErrorStatusFailsWithHTTPClientErrorHoldingTheResponse) {
  AsyncHTTPClient client;
  HTTPClientError error = expect_error(client, HTTPRequest(url("/status?code=404")));
  EXPECT_EQ(error.code(), 404);
  EXPECT_STREQ(error.what(), "HTTP 404: Not Found");
  ASSERT_TRUE(error.response());
  EXPECT_EQ(error.response()->code, 404);
  EXPECT_EQ(error.response()->body, "status 404");
  EXPECT_FALSE(error.real_error());
  HTTPClientError server_error = expect_error(client, HTTPRequest(url("/status?code=503")));
  EXPECT_EQ(server_error.code(), 503);
}

TEST_F(HTTPClientTest, RaiseErrorFalseGivesEveryOutcomeAsAResponse) {
  AsyncHTTPClient client;
  HTTPResponse not_found = fetch(client, url("/status?code=404"), false);
  EXPECT_EQ(not_found.code, 404);
  EXPECT_EQ(not_found.body, "status 404");
  ASSERT_TRUE(not_found.error);
  EXPECT_TRUE(holds<HTTPClientError>(not_found.error));
  EXPECT_THROW(not_found.rethrow(), HTTPClientError);

  int fd = netutil::bind_sockets(0, "127.0.0.1").front();
  std::uint16_t port = netutil::socket_address_of(fd).port();
  ::close(fd);  // nothing listens there now
  HTTPResponse refused = fetch(client, "http://127.0.0.1:" + std::to_string(port) + "/", false);
  EXPECT_EQ(refused.code, 599);
  ASSERT_TRUE(refused.error);
  EXPECT_TRUE(holds<OSError>(refused.error)) << what_of(refused.error);
  EXPECT_THROW(refused.rethrow(), OSError);
  EXPECT_TRUE(refused.body.empty());
}

TEST_F(HTTPClientTest, AConnectionRefusedIs599WithTheOSError) {
  int fd = netutil::bind_sockets(0, "127.0.0.1").front();
  std::uint16_t port = netutil::socket_address_of(fd).port();
  ::close(fd);
  AsyncHTTPClient client;
  HTTPClientError error =
      expect_error(client, HTTPRequest("http://127.0.0.1:" + std::to_string(port) + "/"));
  EXPECT_EQ(error.code(), 599);
  EXPECT_FALSE(error.response());
  ASSERT_TRUE(error.real_error());
  try {
    std::rethrow_exception(error.real_error());
  } catch (const OSError& e) {
    EXPECT_EQ(e.code(), ECONNREFUSED);
  }
}

TEST_F(HTTPClientTest, RequestsThatCannotBeSentAreRefusedAtOnce) {
  AsyncHTTPClient client;
  HTTPRequest post(url("/echo"), "POST");  // no body
  EXPECT_THROW(static_cast<void>(client.fetch(post)), ValueError);
  HTTPRequest get_with_body(url("/echo"));
  get_with_body.body = "x";
  EXPECT_THROW(static_cast<void>(client.fetch(get_with_body)), ValueError);
  EXPECT_THROW(static_cast<void>(client.fetch(HTTPRequest(url("/"), "PROPFIND"))), ValueError);
  EXPECT_THROW(static_cast<void>(client.fetch(HTTPRequest(url("/"), "GET /x"))), ValueError);
  EXPECT_THROW(static_cast<void>(client.fetch("ftp://127.0.0.1/")), ValueError);
  EXPECT_THROW(static_cast<void>(client.fetch("127.0.0.1/path")), ValueError);
  EXPECT_THROW(static_cast<void>(client.fetch(url("/a b"))), ValueError);
  HTTPRequest both(url("/echo"), "POST");
  both.body = "x";
  both.body_producer = [](HTTPRequest::BodyWriter) { return make_ready_future(); };
  EXPECT_THROW(static_cast<void>(client.fetch(both)), ValueError);
  HTTPRequest bad_length(url("/echo"), "POST");
  bad_length.headers.add("Content-Length", "abc");
  bad_length.body_producer = [](HTTPRequest::BodyWriter) { return make_ready_future(); };
  EXPECT_THROW(static_cast<void>(client.fetch(bad_length)), ValueError);
  EXPECT_EQ(client.connections_opened(), 0u);
}

TEST_F(HTTPClientTest, AllowNonstandardMethodsAllowsAnyMethodAndBody) {
  AsyncHTTPClient client;
  HTTPRequest request(url("/echo"), "PROPFIND");
  request.allow_nonstandard_methods = true;
  request.body = "props";
  HTTPResponse response = fetch(client, request);
  EXPECT_EQ(response.headers.get("X-Method", ""), "PROPFIND");
  EXPECT_EQ(response.body, "props");
  HTTPRequest get(url("/echo"));
  get.allow_nonstandard_methods = true;
  get.body = "get body";
  EXPECT_EQ(fetch(client, get).body, "get body");
  HTTPRequest post(url("/echo"), "POST");  // no body at all
  post.allow_nonstandard_methods = true;
  EXPECT_EQ(fetch(client, post).headers.get("X-Body-Length", ""), "0");
}

TEST_F(HTTPClientTest, SendsTheBodyOfPostPutAndPatch) {
  AsyncHTTPClient client;
  for (std::string method : {"POST", "PUT", "PATCH"}) {
    HTTPRequest request(url("/echo"), method);
    request.body = "payload of " + method;
    HTTPResponse response = fetch(client, request);
    EXPECT_EQ(response.headers.get("X-Method", ""), method);
    EXPECT_EQ(response.body, "payload of " + method);
  }
  HTTPRequest empty(url("/headers"), "POST");
  empty.body = "";
  auto lines = header_lines(fetch(client, empty).body);
  EXPECT_EQ(lines["Content-Length"], "0");
  EXPECT_EQ(lines["Content-Type"], "application/x-www-form-urlencoded");  // as Tornado
  HTTPResponse deleted = fetch(client, HTTPRequest(url("/echo"), "DELETE"));
  EXPECT_EQ(deleted.headers.get("X-Method", ""), "DELETE");
  // A large body goes out without a copy, after the head.
  HTTPRequest big(url("/echo"), "PUT");
  big.body = pattern(3 << 20);
  EXPECT_EQ(fetch(client, big).body, *big.body);
  EXPECT_EQ(client.connections_opened(), 1u);
}

TEST_F(HTTPClientTest, SendsHostUserAgentAndAcceptEncoding) {
  AsyncHTTPClient client;
  auto lines = header_lines(fetch(client, url("/headers")).body);
  EXPECT_EQ(lines["Host"], "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(lines["User-Agent"], "squall/0.1");
  EXPECT_EQ(lines["Accept-Encoding"], "gzip");
  EXPECT_EQ(lines.count("Connection"), 0u);  // HTTP/1.1 keeps the connection by default

  HTTPRequest custom(url("/headers"));
  custom.user_agent = "tester/1.0";
  custom.headers.add("Host", "example.test");
  custom.headers.add("X-Custom", "value");
  custom.headers.add("Accept-Encoding", "identity");
  custom.decompress_response = true;
  lines = header_lines(fetch(client, custom).body);
  EXPECT_EQ(lines["Host"], "example.test");
  EXPECT_EQ(lines["User-Agent"], "tester/1.0");
  EXPECT_EQ(lines["X-Custom"], "value");
  EXPECT_EQ(lines["Accept-Encoding"], "identity");

  HTTPRequest own_agent(url("/headers"));
  own_agent.headers.add("User-Agent", "from-headers");
  EXPECT_EQ(header_lines(fetch(client, own_agent).body)["User-Agent"], "from-headers");
}

TEST_F(HTTPClientTest, BasicAuthFromTheRequestOrTheURL) {
  AsyncHTTPClient client;
  HTTPRequest request(url("/headers"));
  request.auth_username = "user";
  request.auth_password = "pass";
  EXPECT_EQ(header_lines(fetch(client, request).body)["Authorization"], "Basic dXNlcjpwYXNz");

  std::string with_userinfo =
      "http://Aladdin:open%20sesame@127.0.0.1:" + std::to_string(server.port()) + "/headers";
  HTTPResponse response = fetch(client, with_userinfo);
  EXPECT_EQ(header_lines(response.body)["Authorization"], "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  EXPECT_EQ(header_lines(response.body)["Host"], "127.0.0.1:" + std::to_string(server.port()));

  // The request's credentials win over the URL's, and over an Authorization header.
  HTTPRequest both(with_userinfo);
  both.auth_username = "a";
  both.headers.add("Authorization", "Bearer token");
  EXPECT_EQ(header_lines(fetch(client, both).body)["Authorization"], "Basic YTo=");
  HTTPRequest header_only(url("/headers"));
  header_only.headers.add("Authorization", "Bearer token");
  EXPECT_EQ(header_lines(fetch(client, header_only).body)["Authorization"], "Bearer token");
}

TEST_F(HTTPClientTest, IfModifiedSinceIsSentAsAnHTTPDate) {
  AsyncHTTPClient client;
  HTTPRequest request(url("/headers"));
  request.if_modified_since = std::chrono::system_clock::from_time_t(784111777);
  EXPECT_EQ(header_lines(fetch(client, request).body)["If-Modified-Since"],
            "Sun, 06 Nov 1994 08:49:37 GMT");
  HTTPRequest ims(url("/ims"));
  ims.if_modified_since = std::chrono::system_clock::now();
  HTTPResponse not_modified = fetch(client, ims, false);
  EXPECT_EQ(not_modified.code, 304);
  EXPECT_TRUE(not_modified.body.empty());
  EXPECT_TRUE(holds<HTTPClientError>(not_modified.error));  // as Tornado: not a 2xx
  // A 304 has no body even without a Content-Length: the connection goes on.
  EXPECT_EQ(fetch(client, url("/hello")).body, "Hello, world");
  EXPECT_EQ(client.connections_opened(), 1u);
}

TEST_F(HTTPClientTest, HeadResponsesHaveNoBodyAndKeepTheConnection) {
  AsyncHTTPClient client;
  HTTPResponse response = fetch(client, HTTPRequest(url("/big?size=5000"), "HEAD"));
  EXPECT_EQ(response.code, 200);
  EXPECT_EQ(response.headers.get("Content-Length", ""), "5000");
  EXPECT_TRUE(response.body.empty());
  EXPECT_EQ(fetch(client, url("/hello")).body, "Hello, world");
  EXPECT_EQ(client.connections_opened(), 1u);
}

TEST_F(HTTPClientTest, DefaultsApplyToEveryRequest) {
  AsyncHTTPClient::Defaults defaults;
  defaults.request.user_agent = "defaults/2";
  defaults.request.headers.add("X-Default", "d");
  defaults.request.headers.add("X-Overridden", "default");
  defaults.request.auth_username = "u";
  defaults.request.auth_password = "p";
  AsyncHTTPClient client(defaults);
  HTTPRequest request(url("/headers"));
  request.headers.add("X-Overridden", "request");
  auto lines = header_lines(fetch(client, request).body);
  EXPECT_EQ(lines["User-Agent"], "defaults/2");
  EXPECT_EQ(lines["X-Default"], "d");
  EXPECT_EQ(lines["X-Overridden"], "request");
  EXPECT_EQ(lines["Authorization"], "Basic dTpw");

  AsyncHTTPClient::Defaults strict;
  strict.request.follow_redirects = false;
  AsyncHTTPClient no_redirects(strict);
  EXPECT_EQ(expect_error(no_redirects, HTTPRequest(url("/redirect?to=/hello"))).code(), 302);
}

// ---- response bodies -----------------------------------------------------------------------

TEST_F(HTTPClientTest, ReadsChunkedBodies) {
  AsyncHTTPClient client;
  HTTPResponse response = fetch(client, url("/chunked?size=100000&pieces=7"));
  EXPECT_EQ(response.headers.get("Transfer-Encoding", ""), "chunked");
  EXPECT_EQ(response.body, pattern(100000));
  EXPECT_EQ(fetch(client, url("/chunked?size=10&pieces=3")).body, pattern(10));
  EXPECT_EQ(client.connections_opened(), 1u);
}

TEST_F(HTTPClientTest, DecompressesGzipAndSaysSo) {
  AsyncHTTPClient client;
  HTTPResponse response = fetch(client, url("/gzip?size=200000"));
  EXPECT_EQ(response.body, pattern(200000));
  EXPECT_FALSE(response.headers.contains("Content-Encoding"));
  EXPECT_EQ(response.headers.get("X-Consumed-Content-Encoding", ""), "gzip");
  EXPECT_EQ(fetch(client, url("/negotiate")).body, "negotiated");
  EXPECT_EQ(server.app.seen_headers.back().get("Accept-Encoding", ""), "gzip");
}

TEST_F(HTTPClientTest, DecompressResponseFalseGivesTheBodyAsSent) {
  AsyncHTTPClient client;
  HTTPRequest request(url("/gzip?size=5000"));
  request.decompress_response = false;
  HTTPResponse response = fetch(client, request);
  EXPECT_EQ(response.headers.get("Content-Encoding", ""), "gzip");
  EXPECT_EQ(response.body, gzip(pattern(5000)));
  HTTPRequest negotiate(url("/negotiate"));
  negotiate.decompress_response = false;
  EXPECT_EQ(fetch(client, negotiate).body, "negotiated");
  EXPECT_FALSE(server.app.seen_headers.back().contains("Accept-Encoding"));
}

TEST_F(HTTPClientTest, ABodyOverMaxBodySizeIs599) {
  AsyncHTTPClient client;
  HTTPRequest request(url("/big?size=2000000"));
  request.max_body_size = 1000000;
  HTTPClientError error = expect_error(client, request);
  EXPECT_EQ(error.code(), 599);
  EXPECT_TRUE(holds<HTTPInputError>(error.real_error()));
  EXPECT_NE(std::string(error.what()).find("max_body_size"), std::string::npos) << error.what();

  HTTPRequest chunked(url("/chunked?size=2000000&pieces=20"));
  chunked.max_body_size = 1000000;
  EXPECT_EQ(expect_error(client, chunked).code(), 599);

  HTTPRequest exact(url("/big?size=1000000"));
  exact.max_body_size = 1000000;
  EXPECT_EQ(fetch(client, exact).body.size(), 1000000u);
}

TEST_F(HTTPClientTest, AGzipBombIsRefusedAfterInflation) {
  AsyncHTTPClient client;
  HTTPRequest request(url("/gzip?size=20000000"));  // 20 MB of text, a few hundred KB sent
  request.max_body_size = 1 << 20;
  HTTPClientError error = expect_error(client, request);
  EXPECT_EQ(error.code(), 599);
  EXPECT_TRUE(holds<HTTPInputError>(error.real_error()));
  EXPECT_NE(std::string(error.what()).find("max_body_size"), std::string::npos) << error.what();
  // The same with streaming: the limit holds for pieces that are never buffered.
  std::size_t streamed = 0;
  request.streaming_callback = [&](std::string_view piece) { streamed += piece.size(); };
  EXPECT_EQ(expect_error(client, request).code(), 599);
  EXPECT_LE(streamed, std::size_t{1} << 20);
}

TEST_F(HTTPClientTest, StreamingCallbackGetsThePiecesWithoutBuffering) {
  AsyncHTTPClient client;
  for (std::string path :
       {"/big?size=8000000", "/chunked?size=8000000&pieces=16", "/gzip?size=8000000"}) {
    HTTPRequest request(url(path));
    std::string received;
    std::size_t pieces = 0, largest = 0;
    request.streaming_callback = [&](std::string_view piece) {
      ++pieces;
      largest = std::max(largest, piece.size());
      received.append(piece);
    };
    HTTPResponse response = fetch(client, request);
    EXPECT_TRUE(response.body.empty()) << path;
    EXPECT_EQ(received, pattern(8000000)) << path;
    EXPECT_GT(pieces, 1u) << path;
    EXPECT_LE(largest, std::size_t{1} << 20) << path;  // pieces, not the whole body
  }
}

TEST_F(HTTPClientTest, HeaderCallbackGetsEachLine) {
  AsyncHTTPClient client;
  HTTPRequest request(url("/hello"));
  std::vector<std::string> lines;
  request.header_callback = [&](std::string_view line) { lines.emplace_back(line); };
  HTTPResponse response = fetch(client, request);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines.front(), "HTTP/1.1 200 OK\r\n");
  EXPECT_EQ(lines.back(), "\r\n");
  EXPECT_NE(std::find(lines.begin(), lines.end(), "Content-Length: 12\r\n"), lines.end());
  EXPECT_EQ(lines.size(), response.headers.size() + 2);
  EXPECT_EQ(response.body, "Hello, world");
}

TEST_F(HTTPClientTest, ACallbackThatThrowsFailsTheFetch) {
  AsyncHTTPClient client;
  HTTPRequest request(url("/big?size=100000"));
  request.streaming_callback = [](std::string_view) { throw ValueError("no thanks"); };
  HTTPClientError error = expect_error(client, request);
  EXPECT_EQ(error.code(), 599);
  EXPECT_TRUE(holds<ValueError>(error.real_error()));
  EXPECT_EQ(fetch(client, url("/hello")).body, "Hello, world");  // the client goes on
}

TEST_F(HTTPClientTest, AHeadOverMaxHeaderSizeIs599) {
  AsyncHTTPClient client;
  HTTPRequest request(url("/big-header?size=5000"));
  request.max_header_size = 4096;
  HTTPClientError error = expect_error(client, request);
  EXPECT_EQ(error.code(), 599);
  EXPECT_TRUE(holds<HTTPInputError>(error.real_error()));
  request.max_header_size = 8192;
  EXPECT_EQ(fetch(client, request).body, "big header");
}

// ---- request bodies ------------------------------------------------------------------------

Future<void> produce_in_pieces(HTTPRequest::BodyWriter write, int pieces) {
  for (int i = 0; i < pieces; ++i) {
    std::string piece = "piece" + std::to_string(i) + ";";
    co_await write(piece);
    co_await gen::sleep(1ms);
  }
}

TEST_F(HTTPClientTest, BodyProducerStreamsTheBodyChunked) {
  AsyncHTTPClient client;
  HTTPRequest request(url("/echo"), "POST");
  request.body_producer = [](HTTPRequest::BodyWriter write) {
    return produce_in_pieces(std::move(write), 5);
  };
  HTTPResponse response = fetch(client, request);
  EXPECT_EQ(response.body, "piece0;piece1;piece2;piece3;piece4;");
  EXPECT_EQ(server.app.seen_headers.back().get("Transfer-Encoding", ""), "chunked");
  EXPECT_FALSE(server.app.seen_headers.back().contains("Content-Length"));
  // A producer that writes nothing makes an empty body.
  HTTPRequest empty(url("/echo"), "PUT");
  empty.body_producer = [](HTTPRequest::BodyWriter) { return make_ready_future(); };
  EXPECT_EQ(fetch(client, empty).headers.get("X-Body-Length", ""), "0");
  EXPECT_EQ(client.connections_opened(), 1u);
}

TEST_F(HTTPClientTest, BodyProducerWithAContentLengthSendsItAsIs) {
  AsyncHTTPClient client;
  HTTPRequest request(url("/echo"), "POST");
  request.headers.add("Content-Length", "35");
  request.body_producer = [](HTTPRequest::BodyWriter write) {
    return produce_in_pieces(std::move(write), 5);
  };
  EXPECT_EQ(fetch(client, request).body, "piece0;piece1;piece2;piece3;piece4;");
  EXPECT_FALSE(server.app.seen_headers.back().contains("Transfer-Encoding"));

  HTTPRequest too_short(url("/echo"), "POST");
  too_short.headers.add("Content-Length", "100");
  too_short.body_producer = request.body_producer;
  HTTPClientError error = expect_error(client, too_short);
  EXPECT_EQ(error.code(), 599);
  EXPECT_TRUE(holds<HTTPOutputError>(error.real_error())) << error.what();
  wait_for_server_idle(server);  // the connection was closed: the server gives up the request
}

TEST_F(HTTPClientTest, ABodyProducerThatFailsFailsTheFetch) {
  AsyncHTTPClient client;
  HTTPRequest request(url("/echo"), "POST");
  request.body_producer = [](HTTPRequest::BodyWriter) -> Future<void> {
    return make_exceptional_future<void>(std::make_exception_ptr(ValueError("producer broke")));
  };
  HTTPClientError error = expect_error(client, request);
  EXPECT_EQ(error.code(), 599);
  EXPECT_TRUE(holds<ValueError>(error.real_error()));
  wait_for_server_idle(server);  // the server saw a request begin: let it see the close
}

// ---- Expect: 100-continue ------------------------------------------------------------------

TEST_F(HTTPClientTest, Expect100ContinueWorksWithTheServer) {
  AsyncHTTPClient client;
  HTTPRequest request(url("/echo"), "POST");
  request.body = "sent after 100";
  request.expect_100_continue = true;
  auto start = Clock::now();
  EXPECT_EQ(fetch(client, request).body, "sent after 100");
  EXPECT_LT(seconds_since(start), 0.9);  // the server's 100 came: no waiting out the timer
  EXPECT_EQ(server.app.seen_headers.back().get("Expect", ""), "100-continue");
}

/// Reads the head, checks no body comes within 200 ms, sends 100 Continue, reads the body and
/// answers with it (`early` tells whether body bytes came before the 100).
Future<void> continue_after_a_pause(std::unique_ptr<IOStream> stream, std::shared_ptr<bool> early) {
  std::string head = co_await read_head(*stream);
  if (head.empty()) co_return;
  co_await gen::sleep(200ms);
  *early = stream->read_buffer_size() > 0;
  co_await stream->write("HTTP/1.1 100 Continue\r\n\r\n");
  std::string body = co_await stream->read_bytes(content_length_of(head));
  std::string response =
      "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  co_await stream->write(response);
  co_await silent(std::move(stream));
}

TEST_F(HTTPClientTest, Expect100ContinueHoldsTheBodyUntilTheInterimResponse) {
  auto early = std::make_shared<bool>(true);
  RawServer raw([early](std::unique_ptr<IOStream> stream) {
    return continue_after_a_pause(std::move(stream), early);
  });
  AsyncHTTPClient client;
  HTTPRequest request(raw.url("/"), "PUT");
  request.body = "the body";
  request.expect_100_continue = true;
  HTTPResponse response = fetch(client, request);
  EXPECT_EQ(response.code, 200);
  EXPECT_EQ(response.body, "the body");
  EXPECT_FALSE(*early);
}

/// Never sends 100 Continue: reads the head and the body, and answers.
Future<void> no_continue(std::unique_ptr<IOStream> stream) {
  std::string head = co_await read_head(*stream);
  if (head.empty()) co_return;
  std::string body = co_await stream->read_bytes(content_length_of(head));
  std::string response =
      "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  co_await stream->write(response);
  co_await silent(std::move(stream));
}

TEST_F(HTTPClientTest, Expect100ContinueSendsTheBodyAnywayAfterABoundedWait) {
  RawServer raw([](std::unique_ptr<IOStream> stream) { return no_continue(std::move(stream)); });
  AsyncHTTPClient client;
  HTTPRequest request(raw.url("/"), "POST");
  request.body = "eventually";
  request.expect_100_continue = true;
  auto start = Clock::now();
  HTTPResponse response = fetch(client, request);
  double elapsed = seconds_since(start);
  EXPECT_EQ(response.body, "eventually");
  EXPECT_GE(elapsed, 0.9);
  EXPECT_LT(elapsed, 3.0);
}

TEST_F(HTTPClientTest, Expect100ContinueGivesAFinalAnswerWithoutSendingTheBody) {
  auto handler = [](std::unique_ptr<IOStream> stream) {
    return answer_and_close(std::move(stream),
                            "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 4\r\n\r\nnope");
  };
  RawServer raw(handler);
  AsyncHTTPClient client;
  HTTPRequest request(raw.url("/"), "POST");
  request.body = std::string(1000, 'b');
  request.expect_100_continue = true;
  HTTPResponse response = fetch(client, request, false);
  EXPECT_EQ(response.code, 417);
  EXPECT_EQ(response.body, "nope");
}

// ---- redirects -----------------------------------------------------------------------------

TEST_F(HTTPClientTest, FollowsRedirectsToTheFinalResponse) {
  AsyncHTTPClient client;
  std::string target = url("/hello");
  HTTPResponse response = fetch(client, url("/redirect?code=301&to=" + target));
  EXPECT_EQ(response.code, 200);
  EXPECT_EQ(response.body, "Hello, world");
  EXPECT_EQ(response.effective_url, target);
  EXPECT_EQ(response.request.url, target);
  EXPECT_EQ(client.connections_opened(), 1u);  // the same origin: the same connection
}

TEST_F(HTTPClientTest, RedirectCodesChangeTheMethodAsBrowsersDo) {
  AsyncHTTPClient client;
  struct Case {
    int code;
    std::string method;
    std::string expected_method;
    bool keeps_body;
  };
  const Case cases[] = {
      {301, "POST", "GET", false},  {302, "POST", "GET", false},   {303, "POST", "GET", false},
      {307, "POST", "POST", true},  {308, "POST", "POST", true},   {301, "GET", "GET", false},
      {302, "HEAD", "HEAD", false}, {303, "HEAD", "HEAD", false},  {303, "PUT", "GET", false},
      {307, "PUT", "PUT", true},    {308, "PATCH", "PATCH", true}, {303, "DELETE", "GET", false},
  };
  for (const Case& c : cases) {
    HTTPRequest request(url("/redirect?code=" + std::to_string(c.code) + "&to=/echo"), c.method);
    if (c.method == "POST" || c.method == "PUT" || c.method == "PATCH") {
      request.body = "the body";
      request.headers.add("Content-Type", "text/plain");
    }
    HTTPResponse response = fetch(client, request);
    std::string label = std::to_string(c.code) + " " + c.method;
    EXPECT_EQ(response.code, 200) << label;
    EXPECT_EQ(response.request.method, c.expected_method) << label;
    if (c.method != "HEAD") {
      EXPECT_EQ(response.headers.get("X-Method", ""), c.expected_method) << label;
      EXPECT_EQ(response.body, c.keeps_body ? "the body" : "") << label;
    }
    EXPECT_EQ(server.app.seen_headers.back().contains("Content-Type"), c.keeps_body) << label;
  }
}

TEST_F(HTTPClientTest, ARelativeLocationIsResolvedAgainstTheURL) {
  AsyncHTTPClient client;
  EXPECT_EQ(fetch(client, url("/redirect?to=hello")).effective_url, url("/hello"));
  EXPECT_EQ(fetch(client, url("/redirect?to=./status%3Fcode%3D201")).code, 201);
  std::string scheme_relative = "//127.0.0.1:" + std::to_string(server.port()) + "/hello";
  EXPECT_EQ(fetch(client, url("/redirect?to=" + httputil::url_escape(scheme_relative))).body,
            "Hello, world");
}

TEST_F(HTTPClientTest, ARedirectLoopStopsAtMaxRedirects) {
  AsyncHTTPClient client;
  HTTPRequest request(url("/loop"));
  request.max_redirects = 3;
  HTTPClientError error = expect_error(client, request);
  EXPECT_EQ(error.code(), 302);
  ASSERT_TRUE(error.response());
  EXPECT_EQ(error.response()->code, 302);
  EXPECT_EQ(error.response()->effective_url, url("/loop"));
  EXPECT_NE(std::string(error.what()).find("max_redirects"), std::string::npos);
  EXPECT_EQ(server.app.hits["/loop"], 4);  // the first request and three redirects
  EXPECT_EQ(client.connections_opened(), 1u);
  HTTPRequest none(url("/redirect?to=/hello"));
  none.max_redirects = 0;
  EXPECT_EQ(expect_error(client, none).code(), 302);
}

TEST_F(HTTPClientTest, CallbacksSeeOnlyTheResponseThatIsNotFollowed) {
  AsyncHTTPClient client;
  HTTPRequest request(url("/redirect?to=/hello"));
  std::vector<std::string> lines;
  std::string streamed;
  request.header_callback = [&](std::string_view line) { lines.emplace_back(line); };
  request.streaming_callback = [&](std::string_view piece) { streamed.append(piece); };
  HTTPResponse response = fetch(client, request);
  EXPECT_EQ(streamed, "Hello, world");
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front(), "HTTP/1.1 200 OK\r\n");
  for (const std::string& line : lines) EXPECT_EQ(line.find("Location"), std::string::npos);
  // A redirect past max_redirects is the answer: the callbacks get it.
  request.max_redirects = 0;
  lines.clear();
  streamed.clear();
  EXPECT_EQ(expect_error(client, request).code(), 302);
  EXPECT_EQ(lines.front(), "HTTP/1.1 302 Found\r\n");
  EXPECT_EQ(streamed, "redirect");
}

TEST_F(HTTPClientTest, FollowRedirectsFalseGivesThe3xx) {
  AsyncHTTPClient client;
  HTTPRequest request(url("/redirect?code=307&to=/hello"));
  request.follow_redirects = false;
  HTTPResponse response = fetch(client, request, false);
  EXPECT_EQ(response.code, 307);
  EXPECT_EQ(response.headers.get("Location", ""), "/hello");
  EXPECT_EQ(response.body, "redirect");
}

TEST_F(HTTPClientTest, ARedirectToAnotherOriginDropsTheCredentials) {
  AppServer other;
  AsyncHTTPClient client;
  HTTPRequest request(url("/redirect?to=" + httputil::url_escape(other.url("/headers"))));
  request.auth_username = "user";
  request.auth_password = "secret";
  request.headers.add("Cookie", "session=1");
  request.headers.add("Proxy-Authorization", "Basic eA==");
  request.headers.add("X-Kept", "yes");
  HTTPResponse response = fetch(client, request);
  auto lines = header_lines(response.body);
  EXPECT_EQ(lines.count("Authorization"), 0u);
  EXPECT_EQ(lines.count("Cookie"), 0u);
  EXPECT_EQ(lines.count("Proxy-Authorization"), 0u);
  EXPECT_EQ(lines["X-Kept"], "yes");
  EXPECT_EQ(lines["Host"], "127.0.0.1:" + std::to_string(other.port()));
  EXPECT_FALSE(response.request.auth_username);
  // The first server did get them.
  EXPECT_TRUE(server.app.seen_headers.back().contains("Authorization"));
  EXPECT_TRUE(server.app.seen_headers.back().contains("Cookie"));

  // Credentials in the URL's userinfo stay behind too.
  std::string with_userinfo = "http://u:p@127.0.0.1:" + std::to_string(server.port()) +
                              "/redirect?to=" + httputil::url_escape(other.url("/headers"));
  EXPECT_EQ(header_lines(fetch(client, with_userinfo).body).count("Authorization"), 0u);

  // The same origin keeps them.
  HTTPRequest same(url("/redirect?to=/headers"));
  same.auth_username = "user";
  same.headers.add("Cookie", "session=1");
  lines = header_lines(fetch(client, same).body);
  EXPECT_EQ(lines["Authorization"], "Basic dXNlcjo=");
  EXPECT_EQ(lines["Cookie"], "session=1");
}

TEST_F(HTTPClientTest, AnotherPortIsAnotherOrigin) {
  // 127.0.0.1 and [::1] would be other hosts; a port is enough to make another origin.
  AppServer other;
  AsyncHTTPClient client;
  HTTPRequest request(url("/redirect?code=307&to=" + httputil::url_escape(other.url("/headers"))));
  request.headers.add("Authorization", "Bearer abc");
  EXPECT_EQ(header_lines(fetch(client, request).body).count("Authorization"), 0u);
  EXPECT_EQ(client.connections_opened(), 2u);
}

// ---- timeouts and failures -----------------------------------------------------------------

TEST_F(HTTPClientTest, AServerThatNeverAnswersTimesOutWithin599) {
  RawServer raw([](std::unique_ptr<IOStream> stream) { return silent(std::move(stream)); });
  AsyncHTTPClient client;
  HTTPRequest request(raw.url("/"));
  request.request_timeout = 200ms;
  auto start = Clock::now();
  HTTPClientError error = expect_error(client, request);
  double elapsed = seconds_since(start);
  EXPECT_EQ(error.code(), 599);
  EXPECT_TRUE(holds<TimeoutError>(error.real_error()));
  EXPECT_STREQ(error.what(), "HTTP 599: Timeout during request");
  EXPECT_GE(elapsed, 0.19);
  EXPECT_LT(elapsed, 1.5);
  // With raise_error false the response holds the cause.
  HTTPResponse response = fetch(client, request, false);
  EXPECT_EQ(response.code, 599);
  EXPECT_TRUE(holds<TimeoutError>(response.error));
}

TEST_F(HTTPClientTest, AHandshakeThatNeverEndsTimesOutAsAConnect) {
  RawServer raw([](std::unique_ptr<IOStream> stream) { return silent(std::move(stream)); });
  AsyncHTTPClient client;
  HTTPRequest request("https://127.0.0.1:" + std::to_string(raw.port()) + "/");
  request.connect_timeout = 200ms;
  auto start = Clock::now();
  HTTPClientError error = expect_error(client, request);
  EXPECT_EQ(error.code(), 599);
  EXPECT_TRUE(holds<TimeoutError>(error.real_error()));
  EXPECT_STREQ(error.what(), "HTTP 599: Timeout while connecting");
  EXPECT_LT(seconds_since(start), 1.5);
}

TEST_F(HTTPClientTest, AServerThatClosesMidBodyIs599) {
  auto cut_length = [](std::unique_ptr<IOStream> stream) {
    return answer_and_close(std::move(stream),
                            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this");
  };
  RawServer length_server(cut_length);
  AsyncHTTPClient client;
  HTTPClientError error = expect_error(client, HTTPRequest(length_server.url("/")));
  EXPECT_EQ(error.code(), 599);
  EXPECT_TRUE(holds<StreamClosedError>(error.real_error()));

  auto cut_chunks = [](std::unique_ptr<IOStream> stream) {
    return answer_and_close(std::move(stream),
                            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
  };
  RawServer chunked_server(cut_chunks);
  EXPECT_EQ(expect_error(client, HTTPRequest(chunked_server.url("/"))).code(), 599);

  auto cut_gzip = [](std::unique_ptr<IOStream> stream) {
    std::string body = gzip(pattern(10000));
    body.resize(body.size() / 2);
    return answer_and_close(std::move(stream),
                            "HTTP/1.0 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + body);
  };
  RawServer gzip_server(cut_gzip);
  HTTPClientError truncated = expect_error(client, HTTPRequest(gzip_server.url("/")));
  EXPECT_EQ(truncated.code(), 599);
  EXPECT_TRUE(holds<HTTPInputError>(truncated.real_error())) << truncated.what();
}

TEST_F(HTTPClientTest, ABodyThatRunsToTheCloseIsRead) {
  auto until_close = [](std::unique_ptr<IOStream> stream) {
    return answer_and_close(std::move(stream), "HTTP/1.0 200 OK\r\nX-A: 1\r\n\r\nall of it");
  };
  RawServer raw(until_close);
  AsyncHTTPClient client;
  HTTPResponse first = fetch(client, raw.url("/"));
  EXPECT_EQ(first.body, "all of it");
  EXPECT_EQ(fetch(client, raw.url("/")).body, "all of it");
  EXPECT_EQ(client.connections_opened(), 2u);  // such a connection is never reused
}

TEST_F(HTTPClientTest, AMalformedResponseIs599) {
  for (std::string bad :
       {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
        "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", "SSH-2.0-OpenSSH\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
    auto handler = [bad](std::unique_ptr<IOStream> stream) {
      return answer_and_close(std::move(stream), bad);
    };
    RawServer raw(handler);
    AsyncHTTPClient client;
    HTTPClientError error = expect_error(client, HTTPRequest(raw.url("/")));
    EXPECT_EQ(error.code(), 599) << bad;
    EXPECT_TRUE(holds<HTTPInputError>(error.real_error())) << bad << ": " << error.what();
  }
}

TEST_F(HTTPClientTest, InterimResponsesAreSkipped) {
  auto handler = [](std::unique_ptr<IOStream> stream) {
    return answer_and_close(std::move(stream),
                            "HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n"
                            "HTTP/1.1 100 Continue\r\n\r\n"
                            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal");
  };
  RawServer raw(handler);
  AsyncHTTPClient client;
  HTTPResponse response = fetch(client, raw.url("/"));
  EXPECT_EQ(response.code, 200);
  EXPECT_EQ(response.body, "final");
  EXPECT_FALSE(response.headers.contains("Link"));
}

// ---- the queue (max_clients) ---------------------------------------------------------------

TEST_F(HTTPClientTest, MaxClientsQueuesTheRest) {
  AsyncHTTPClient::Defaults defaults;
  defaults.max_clients = 2;
  AsyncHTTPClient client(defaults);
  std::vector<HTTPResponse> responses;
  auto start = Clock::now();
  auto run = [&]() -> Future<void> {
    std::vector<Future<HTTPResponse>> futures;
    for (int i = 0; i < 6; ++i) futures.push_back(client.fetch(url("/slow?ms=100")));
    responses = co_await gen::multi(std::move(futures));
  };
  run_sync(run);
  double elapsed = seconds_since(start);
  ASSERT_EQ(responses.size(), 6u);
  for (const HTTPResponse& response : responses) EXPECT_EQ(response.body, "slow");
  EXPECT_GE(elapsed, 0.29);  // three rounds of two
  EXPECT_LE(client.connections_opened(), 2u);
  EXPECT_LT(responses.front().time_info.at("queue"), 0.05);
  EXPECT_GE(responses.back().time_info.at("queue"), 0.19);
}

TEST_F(HTTPClientTest, TheQueueWaitCountsAgainstTheRequestTimeout) {
  AsyncHTTPClient::Defaults defaults;
  defaults.max_clients = 1;
  AsyncHTTPClient client(defaults);
  HTTPRequest slow(url("/slow?ms=300"));
  HTTPRequest queued(url("/slow?ms=300"));
  queued.request_timeout = 450ms;  // 300 ms in the queue, then 300 ms of its own
  HTTPRequest short_wait(url("/hello"));
  short_wait.request_timeout = 150ms;
  short_wait.connect_timeout = 10s;
  std::optional<HTTPResponse> first, second, third;
  std::vector<double> ends;
  auto start = Clock::now();
  auto run = [&]() -> Future<void> {
    Future<HTTPResponse> a = client.fetch(slow);
    Future<HTTPResponse> b = client.fetch(queued, false);
    Future<HTTPResponse> c = client.fetch(short_wait, false);
    third = co_await c;
    ends.push_back(seconds_since(start));
    second = co_await b;
    ends.push_back(seconds_since(start));
    first = co_await a;
  };
  run_sync(run);
  EXPECT_EQ(first->code, 200);
  EXPECT_EQ(third->code, 599);
  EXPECT_TRUE(holds<TimeoutError>(third->error));
  EXPECT_EQ(what_of(third->error), "Timeout in request queue");
  EXPECT_GE(ends[0], 0.14);
  EXPECT_LT(ends[0], 0.29);  // before the slot was free
  EXPECT_EQ(second->code, 599);
  EXPECT_TRUE(holds<TimeoutError>(second->error));
  EXPECT_EQ(what_of(second->error), "Timeout during request");
  EXPECT_GE(ends[1], 0.44);
  EXPECT_LT(ends[1], 0.59);  // not 300 ms after it got its slot
  EXPECT_GE(second->time_info.at("queue"), 0.29);
  wait_for_server_idle(server);
}

// ---- the keep-alive pool -------------------------------------------------------------------

TEST_F(HTTPClientTest, AThousandRequestsReuseAFewConnections) {
  AsyncHTTPClient::Defaults defaults;
  defaults.max_clients = 10;
  AsyncHTTPClient client(defaults);
  std::size_t ok = 0;
  auto run = [&]() -> Future<void> {
    std::vector<Future<HTTPResponse>> futures;
    for (int i = 0; i < 1000; ++i) futures.push_back(client.fetch(url("/hello")));
    std::vector<HTTPResponse> responses = co_await gen::multi(std::move(futures));
    for (const HTTPResponse& response : responses) ok += response.body == "Hello, world";
  };
  run_sync(run, 60s);
  EXPECT_EQ(ok, 1000u);
  EXPECT_LE(client.connections_opened(), 10u);
  EXPECT_GE(client.connections_opened(), 1u);
  EXPECT_EQ(server.app.hits["/hello"], 1000);

  // One after another, they share one connection.
  AsyncHTTPClient sequential(AsyncHTTPClient::Defaults{});
  auto one_by_one = [&]() -> Future<void> {
    for (int i = 0; i < 200; ++i) static_cast<void>(co_await sequential.fetch(url("/hello")));
  };
  run_sync(one_by_one, 60s);
  EXPECT_EQ(sequential.connections_opened(), 1u);
}

TEST_F(HTTPClientTest, AConnectionIsReusedOnlyWhenBothSidesAllow) {
  AsyncHTTPClient client;
  fetch(client, url("/close"));  // the server says Connection: close
  fetch(client, url("/hello"));
  EXPECT_EQ(client.connections_opened(), 2u);
  HTTPRequest request(url("/hello"));
  request.headers.add("Connection", "close");  // the request says it
  fetch(client, request);
  fetch(client, url("/hello"));
  EXPECT_EQ(client.connections_opened(), 3u);
  fetch(client, url("/hello"));
  EXPECT_EQ(client.connections_opened(), 3u);
}

TEST_F(HTTPClientTest, AnUnfinishedResponseLeavesTheConnectionOut) {
  AsyncHTTPClient client;
  HTTPRequest request(url("/big?size=100000"));
  request.streaming_callback = [](std::string_view) { throw ValueError("stop"); };
  expect_error(client, request);
  fetch(client, url("/hello"));
  EXPECT_EQ(client.connections_opened(), 2u);
}

TEST_F(HTTPClientTest, ThePoolIsPerSchemeHostAndPort) {
  AppServer other;
  AsyncHTTPClient client;
  for (int i = 0; i < 3; ++i) {
    fetch(client, url("/hello"));
    fetch(client, other.url("/hello"));
  }
  EXPECT_EQ(client.connections_opened(), 2u);
}

TEST_F(HTTPClientTest, IdleConnectionsCloseAfterTheIdleTimeout) {
  AsyncHTTPClient::Defaults defaults;
  defaults.idle_timeout = 100ms;
  AsyncHTTPClient client(defaults);
  fetch(client, url("/hello"));
  EXPECT_EQ(server.server().connection_count(), 1u);
  auto wait = [&]() -> Future<void> {
    for (int i = 0; i < 100 && server.server().connection_count() > 0; ++i) {
      co_await gen::sleep(10ms);
    }
  };
  run_sync(wait);
  EXPECT_EQ(server.server().connection_count(), 0u);  // the client closed it
  fetch(client, url("/hello"));
  EXPECT_EQ(client.connections_opened(), 2u);
}

TEST_F(HTTPClientTest, MaxIdlePerHostZeroKeepsNoConnection) {
  AsyncHTTPClient::Defaults defaults;
  defaults.max_idle_per_host = 0;
  AsyncHTTPClient client(defaults);
  auto lines = header_lines(fetch(client, url("/headers")).body);
  EXPECT_EQ(lines["Connection"], "close");
  fetch(client, url("/hello"));
  fetch(client, url("/hello"));
  EXPECT_EQ(client.connections_opened(), 3u);
}

TEST_F(HTTPClientTest, AConnectionTheServerClosedWhileIdleIsNotUsed) {
  HTTPServerOptions options;
  options.idle_connection_timeout = 50ms;
  AppServer closing(options);
  AsyncHTTPClient client;
  fetch(client, closing.url("/hello"));
  auto wait = [&]() -> Future<void> {
    for (int i = 0; i < 100 && closing.server().connection_count() > 0; ++i) {
      co_await gen::sleep(10ms);
    }
    co_await gen::sleep(10ms);
  };
  run_sync(wait);
  EXPECT_EQ(fetch(client, closing.url("/hello")).body, "Hello, world");
  EXPECT_EQ(client.connections_opened(), 2u);
}

/// The first connection answers one request, then reads the next and closes without a word (a
/// server closing a keep-alive connection as the client reuses it); later ones answer all.
Future<void> close_on_second_request(std::unique_ptr<IOStream> stream, std::shared_ptr<int> count) {
  const bool first_connection = ++*count == 1;
  for (int requests = 0;; ++requests) {
    std::string head = co_await read_head(*stream);
    if (head.empty()) co_return;
    if (first_connection && requests == 1) {
      stream->close();
      co_return;
    }
    co_await stream->write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  }
}

TEST_F(HTTPClientTest, ARequestOnAReusedConnectionThatDiesIsRetriedOnce) {
  auto count = std::make_shared<int>(0);
  RawServer raw([count](std::unique_ptr<IOStream> stream) {
    return close_on_second_request(std::move(stream), count);
  });
  AsyncHTTPClient client;
  EXPECT_EQ(fetch(client, raw.url("/")).body, "ok");
  EXPECT_EQ(fetch(client, raw.url("/")).body, "ok");
  EXPECT_EQ(client.connections_opened(), 2u);
  EXPECT_EQ(raw.connections, 2);
}

// ---- close() -------------------------------------------------------------------------------

TEST_F(HTTPClientTest, CloseFailsFetchesInProgressAndRefusesNewOnes) {
  AsyncHTTPClient::Defaults defaults;
  defaults.max_clients = 1;
  AsyncHTTPClient client(defaults);
  std::optional<HTTPResponse> running, queued;
  auto run = [&]() -> Future<void> {
    Future<HTTPResponse> a = client.fetch(url("/slow?ms=2000"), false);
    Future<HTTPResponse> b = client.fetch(url("/hello"), false);
    co_await gen::sleep(50ms);
    client.close();
    running = co_await a;
    queued = co_await b;
  };
  auto start = Clock::now();
  run_sync(run);
  EXPECT_LT(seconds_since(start), 1.0);
  EXPECT_EQ(running->code, 599);
  EXPECT_EQ(queued->code, 599);
  EXPECT_NE(what_of(running->error).find("closed"), std::string::npos);
  EXPECT_THROW(static_cast<void>(client.fetch(url("/hello"))), InvalidStateError);
  EXPECT_EQ(server.app.hits["/hello"], 0);  // the queued fetch never went out
  wait_for_server_idle(server);             // close() closed the connection of the slow fetch
}

TEST_F(HTTPClientTest, AClosedSharedClientIsReplaced) {
  AsyncHTTPClient shared;
  fetch(shared, url("/hello"));
  shared.close();
  AsyncHTTPClient fresh;
  EXPECT_EQ(fresh.connections_opened(), 0u);
  EXPECT_EQ(fetch(fresh, url("/hello")).body, "Hello, world");
}

// ---- IPv6 ----------------------------------------------------------------------------------

TEST_F(HTTPClientTest, FetchesFromAnIPv6Literal) {
  std::unique_ptr<AppServer> v6;
  try {
    v6 = std::make_unique<AppServer>(HTTPServerOptions{}, "::1");
  } catch (const Error& e) {
    GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
  }
  AsyncHTTPClient client;
  std::string address = "http://[::1]:" + std::to_string(v6->port()) + "/headers";
  HTTPResponse response = fetch(client, address);
  EXPECT_EQ(response.code, 200);
  EXPECT_EQ(header_lines(response.body)["Host"], "[::1]:" + std::to_string(v6->port()));
}

// ---- HTTPS ---------------------------------------------------------------------------------

using test_support::Certificates;

class HTTPSClientTest : public HTTPClientTest {
 protected:
  static void SetUpTestSuite() { certs_ = new Certificates(); }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
  }
  static const Certificates& certs() { return *certs_; }

  static HTTPServerOptions tls(bool require_client_cert = false) {
    HTTPServerOptions options;
    SSLOptions ssl;
    ssl.certfile = certs().server_cert;
    ssl.keyfile = certs().server_key;
    if (require_client_cert) {
      ssl.ca_certs = certs().ca;
      ssl.verify_mode = SSLOptions::VerifyMode::kRequired;
    }
    options.ssl_options = ssl;
    return options;
  }

 private:
  static Certificates* certs_;
};
Certificates* HTTPSClientTest::certs_ = nullptr;

TEST_F(HTTPSClientTest, VerifiesTheServerWithCACerts) {
  AppServer secure(tls());
  AsyncHTTPClient client;
  HTTPRequest request(secure.url("/hello"));
  request.ca_certs = certs().ca;
  EXPECT_EQ(fetch(client, request).body, "Hello, world");
  EXPECT_EQ(fetch(client, request).body, "Hello, world");
  EXPECT_EQ(client.connections_opened(), 1u);  // kept alive over TLS too
}

TEST_F(HTTPSClientTest, RefusesAServerItCannotVerify) {
  AppServer secure(tls());
  AsyncHTTPClient client;
  HTTPClientError error = expect_error(client, HTTPRequest(secure.url("/hello")));
  EXPECT_EQ(error.code(), 599);
  EXPECT_TRUE(holds<SSLError>(error.real_error())) << error.what();
}

TEST_F(HTTPSClientTest, ValidateCertFalseAcceptsAnyCertificate) {
  AppServer secure(tls());
  AsyncHTTPClient client;
  HTTPRequest request(secure.url("/hello"));
  request.validate_cert = false;
  EXPECT_EQ(fetch(client, request).body, "Hello, world");
  // A connection made without verification never serves a request that verifies.
  HTTPRequest verified(secure.url("/hello"));
  verified.ca_certs = certs().ca;
  EXPECT_EQ(fetch(client, verified).body, "Hello, world");
  EXPECT_EQ(client.connections_opened(), 2u);
  EXPECT_EQ(expect_error(client, HTTPRequest(secure.url("/hello"))).code(), 599);
}

TEST_F(HTTPSClientTest, SendsAClientCertificate) {
  AppServer secure(tls(/*require_client_cert=*/true));
  AsyncHTTPClient client;
  HTTPRequest request(secure.url("/hello"));
  request.ca_certs = certs().ca;
  request.client_cert = certs().client_cert;
  request.client_key = certs().client_key;
  EXPECT_EQ(fetch(client, request).body, "Hello, world");
  HTTPRequest without(secure.url("/hello"));
  without.ca_certs = certs().ca;
  EXPECT_EQ(expect_error(client, without).code(), 599);
}

TEST_F(HTTPSClientTest, AnUnloadableCAFileIs599SSLError) {
  AppServer secure(tls());
  AsyncHTTPClient client;
  HTTPRequest request(secure.url("/hello"));
  request.ca_certs = "/nonexistent/ca.pem";
  HTTPClientError error = expect_error(client, request);
  EXPECT_EQ(error.code(), 599);
  EXPECT_TRUE(holds<SSLError>(error.real_error())) << error.what();
}

TEST_F(HTTPSClientTest, ARedirectFromHTTPSToHTTPIsRefusedUnlessAllowed) {
  AppServer secure(tls());
  AsyncHTTPClient client;
  HTTPRequest request(secure.url("/redirect?to=" + httputil::url_escape(url("/hello"))));
  request.ca_certs = certs().ca;
  HTTPClientError error = expect_error(client, request);
  EXPECT_EQ(error.code(), 302);
  EXPECT_NE(std::string(error.what()).find("https to http"), std::string::npos) << error.what();
  ASSERT_TRUE(error.response());
  EXPECT_EQ(error.response()->effective_url, request.url);
  EXPECT_EQ(error.response()->body, "redirect");  // the answer, body and all
  EXPECT_EQ(server.app.hits["/hello"], 0);

  request.allow_insecure_redirects = true;
  HTTPResponse response = fetch(client, request);
  EXPECT_EQ(response.body, "Hello, world");
  EXPECT_EQ(response.effective_url, url("/hello"));
  // http to https is an upgrade: always followed.
  HTTPRequest upgrade(url("/redirect?to=" + httputil::url_escape(secure.url("/hello"))));
  upgrade.ca_certs = certs().ca;
  EXPECT_EQ(fetch(client, upgrade).effective_url, secure.url("/hello"));
}

// ---- the blocking client -------------------------------------------------------------------

/// An HTTPServer with the test application on a thread of its own, for the blocking client.
class ThreadedServer {
 public:
  ThreadedServer() {
    std::promise<std::uint16_t> port;
    auto ready = port.get_future();
    thread_ = std::thread([this, &port] {
      IOLoop loop;
      loop.make_current();
      {
        AppServer server;
        loop_ = &loop;
        port.set_value(server.port());
        loop.start();
      }
    });
    port_ = ready.get();
  }
  ~ThreadedServer() {
    loop_->add_callback([loop = loop_] { loop->stop(); });
    thread_.join();
  }
  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

 private:
  std::thread thread_;
  IOLoop* loop_ = nullptr;
  std::uint16_t port_ = 0;
};

TEST(BlockingHTTPClientTest, FetchesWithAPrivateLoop) {
  ThreadedServer server;
  HTTPClient client;
  HTTPResponse response = client.fetch(server.url("/hello"));
  EXPECT_EQ(response.code, 200);
  EXPECT_EQ(response.body, "Hello, world");
  HTTPRequest post(server.url("/echo"), "POST");
  post.body = "blocking";
  EXPECT_EQ(client.fetch(post).body, "blocking");
  EXPECT_THROW(client.fetch(server.url("/status?code=500")), HTTPClientError);
  EXPECT_EQ(client.fetch(server.url("/status?code=500"), false).code, 500);
  EXPECT_THROW(client.fetch("gopher://127.0.0.1/"), ValueError);
  client.close();
  EXPECT_THROW(client.fetch(server.url("/hello")), InvalidStateError);
}

TEST(AsyncHTTPClientLifetimeTest, AClientMayOutliveItsLoop) {
  ThreadedServer server;
  std::optional<AsyncHTTPClient> own, shared;
  {
    IOLoop loop;
    loop.make_current();
    own.emplace(AsyncHTTPClient::Defaults{});
    shared.emplace();
    auto run = [&]() -> Future<void> {
      static_cast<void>(co_await own->fetch(server.url("/hello")));
      static_cast<void>(co_await shared->fetch(server.url("/hello")));
    };
    loop.run_sync(run);
    EXPECT_EQ(own->connections_opened(), 1u);
  }  // the loop goes first, and the pooled connections with it
  EXPECT_THROW(static_cast<void>(own->fetch(server.url("/hello"))), InvalidStateError);
  own.reset();
  shared.reset();
}

TEST(BlockingHTTPClientTest, LeavesTheThreadsLoopAlone) {
  ThreadedServer server;
  IOLoop mine;
  mine.make_current();
  {
    HTTPClient client;
    EXPECT_EQ(&IOLoop::current(), &mine);
    EXPECT_EQ(client.fetch(server.url("/hello")).body, "Hello, world");
    EXPECT_EQ(&IOLoop::current(), &mine);
  }
  EXPECT_EQ(&IOLoop::current(), &mine);
  AsyncHTTPClient on_mine;  // the thread's own loop gets its own shared client
  EXPECT_EQ(on_mine.connections_opened(), 0u);
}

}  // namespace
}  // namespace squall
