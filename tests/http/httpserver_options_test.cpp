// HTTPServer over real loopback sockets: every HTTPServerOptions field (no_keep_alive, xheaders
// and trusted_downstream, protocol, ssl_options, decompress_request, chunk_size, the size limits
// and timeouts, max_buffer_size), the streaming delegate API (call order, flow control,
// set_max_body_size), how responses are framed (chunked, HTTP/1.0, HEAD, 204, 304), flush, late
// writes, close_all_connections, shutdown and shutdown_on_signal. Every response is read by a
// strict RFC 9112 parser below, which also checks that each final response carries one Date in
// IMF-fixdate form. Expected behaviour follows Tornado's httpserver and http1connection.
#include "squall/http/httpserver.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "squall/core/gen.hpp"
#include "squall/http/httputil.hpp"
#include "squall/net/iostream.hpp"
#include "squall/net/netutil.hpp"
#include "squall/net/tcpclient.hpp"
#include "squall/testing/testing.hpp"
#include "support/loop_helpers.hpp"
#include "support/test_certificates.hpp"

namespace squall {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test_support::after;
using test_support::iterations;

// ---- a strict HTTP/1.1 response reader -----------------------------------------------------

constexpr std::size_t kMaxLine = 16 * 1024;

[[noreturn]] void malformed(const std::string& what) {
  throw Error("malformed HTTP response: " + what);
}

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

/// `line` ends with CRLF and holds no other CR, LF or NUL; gives it without the CRLF.
std::string_view line_content(const std::string& line) {
  if (line.size() < 2 || line.compare(line.size() - 2, 2, "\r\n") != 0) {
    malformed("line without CRLF: " + line);
  }
  std::string_view content(line.data(), line.size() - 2);
  for (char c : content) {
    if (c == '\r' || c == '\n' || c == '\0') malformed("bare CR, LF or NUL in: " + line);
  }
  return content;
}

struct Response {
  std::string version;
  int code = 0;
  std::string reason;
  HTTPHeaders headers;
  HTTPHeaders trailers;
  std::string body;
  std::vector<std::string> chunks;  // the data of each chunk, for a chunked body
  bool chunked = false;
  bool until_close = false;  // the body was delimited by the end of the connection

  std::string header(std::string_view name) const { return headers.get(name, ""); }
  bool has(std::string_view name) const { return headers.contains(name); }
  /// Whether the Connection header lists `token` (case-insensitively).
  bool connection_lists(std::string_view token) const {
    for (const std::string& value : headers.get_list("Connection")) {
      std::size_t start = 0;
      while (start <= value.size()) {
        std::size_t comma = value.find(',', start);
        if (comma == std::string::npos) comma = value.size();
        std::string item = value.substr(start, comma - start);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.erase(0, 1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.pop_back();
        if (item.size() == token.size() &&
            std::equal(item.begin(), item.end(), token.begin(), [](char a, char b) {
              return std::tolower(static_cast<unsigned char>(a)) ==
                     std::tolower(static_cast<unsigned char>(b));
            })) {
          return true;
        }
        start = comma + 1;
      }
    }
    return false;
  }
};

/// Parses one "name: value" field line into `into`.
void parse_field(const std::string& line, HTTPHeaders& into) {
  std::string_view content = line_content(line);
  std::size_t colon = content.find(':');
  if (colon == std::string_view::npos || colon == 0) malformed("field without a name: " + line);
  std::string_view name = content.substr(0, colon);
  for (char c : name) {
    if (!is_tchar(c)) malformed("field name is not a token: " + line);
  }
  std::string_view value = content.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) malformed("control character in: " + line);
  }
  into.add(name, value);
}

/// The status line and header section of one response (interim or final). A final response
/// must carry exactly one Date, an IMF-fixdate close to now.
Future<Response> read_head(IOStream& stream) {
  Response response;
  std::string status_line = co_await stream.read_until("\r\n", kMaxLine);
  std::string_view status = line_content(status_line);
  // HTTP-version SP 3DIGIT SP reason-phrase
  if (status.size() < 13 || status.substr(0, 7) != "HTTP/1." ||
      (status[7] != '0' && status[7] != '1') || status[8] != ' ' || status[12] != ' ') {
    malformed("bad status line: " + status_line);
  }
  response.version = std::string(status.substr(0, 8));
  for (int i = 9; i < 12; ++i) {
    if (status[i] < '0' || status[i] > '9') malformed("bad status code: " + status_line);
  }
  response.code = (status[9] - '0') * 100 + (status[10] - '0') * 10 + (status[11] - '0');
  if (response.code < 100) malformed("status code below 100: " + status_line);
  response.reason = std::string(status.substr(13));
  for (;;) {
    std::string line = co_await stream.read_until("\r\n", kMaxLine);
    if (line == "\r\n") break;
    if (line.front() == ' ' || line.front() == '\t') malformed("obsolete line folding");
    parse_field(line, response.headers);
  }
  if (response.code >= 200) {
    const std::vector<std::string>& dates = response.headers.get_list("Date");
    if (dates.size() != 1) malformed("expected exactly one Date header");
    std::optional<std::chrono::system_clock::time_point> date =
        httputil::parse_http_date(dates.front());
    if (!date || httputil::format_timestamp(*date) != dates.front()) {
      malformed("Date is not an IMF-fixdate: " + dates.front());
    }
    auto skew = std::chrono::system_clock::now() - *date;
    if (skew > 10s || skew < -10s) malformed("Date far from now: " + dates.front());
  }
  co_return response;
}

/// Everything until the peer closes ("" for a connection that ends now); a reset counts as an
/// end.
Future<std::string> rest_until_close(IOStream& stream) {
  std::string rest;
  try {
    rest = co_await stream.read_until_close();
  } catch (const StreamClosedError&) {
  }
  co_return rest;
}

/// One chunk-size line: hex digits only (this server sends no extensions). Gives the size.
std::uint64_t parse_chunk_size(const std::string& line) {
  std::string_view hex = line_content(line);
  if (hex.empty() || hex.size() > 15) malformed("bad chunk size line: " + line);
  std::uint64_t size = 0;
  auto [end, error] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
  if (error != std::errc() || end != hex.data() + hex.size()) {
    malformed("bad chunk size line: " + line);
  }
  return size;
}

/// The next chunk's data, or nullopt at the last chunk (its trailer section is read into
/// `response.trailers`).
Future<std::optional<std::string>> read_chunk(IOStream& stream, Response& response) {
  std::uint64_t size = parse_chunk_size(co_await stream.read_until("\r\n", kMaxLine));
  if (size == 0) {
    for (;;) {
      std::string line = co_await stream.read_until("\r\n", kMaxLine);
      if (line == "\r\n") break;
      parse_field(line, response.trailers);
    }
    co_return std::nullopt;
  }
  std::string data = co_await stream.read_bytes(static_cast<std::size_t>(size));
  std::string end = co_await stream.read_bytes(2);
  if (end != "\r\n") malformed("chunk data not followed by CRLF");
  co_return data;
}

/// The body of `response` (whose head was read), framed as RFC 9112 §6.3 says for a response to
/// `method`.
Future<Response> read_body(IOStream& stream, Response response, std::string method) {
  const std::vector<std::string>& te = response.headers.get_list("Transfer-Encoding");
  const std::vector<std::string>& cl = response.headers.get_list("Content-Length");
  if (!te.empty() && !cl.empty()) malformed("both Transfer-Encoding and Content-Length");
  if ((response.code < 200 || response.code == 204) && (!te.empty() || !cl.empty())) {
    malformed("Content-Length or Transfer-Encoding in a " + std::to_string(response.code));
  }
  if (!cl.empty()) {
    if (cl.size() != 1) malformed("several Content-Length values");
    if (cl.front().empty() || cl.front().size() > 15 ||
        cl.front().find_first_not_of("0123456789") != std::string::npos) {
      malformed("bad Content-Length " + cl.front());
    }
  }
  if (method == "HEAD" || response.code < 200 || response.code == 204 || response.code == 304) {
    co_return response;
  }
  if (!te.empty()) {
    if (te.size() != 1 || te.front() != "chunked") malformed("unexpected Transfer-Encoding");
    response.chunked = true;
    for (;;) {
      std::optional<std::string> chunk = co_await read_chunk(stream, response);
      if (!chunk) break;
      response.body.append(*chunk);
      response.chunks.push_back(std::move(*chunk));
    }
  } else if (!cl.empty()) {
    std::size_t length = std::stoull(cl.front());
    if (length > 0) response.body = co_await stream.read_bytes(length);
  } else {
    response.until_close = true;
    response.body = co_await rest_until_close(stream);
  }
  co_return response;
}

/// One final response to `method` (interim 1xx responses are skipped).
Future<Response> read_response(IOStream& stream, std::string method = "GET") {
  for (;;) {
    Response head = co_await read_head(stream);
    if (head.code >= 200) co_return co_await read_body(stream, std::move(head), method);
    if (head.code == 101) malformed("unexpected 101");
    co_await read_body(stream, std::move(head), method);  // checks the interim framing
  }
}

// ---- connections and requests --------------------------------------------------------------

std::uint16_t port_of(const TCPServer& server) {
  std::vector<SocketAddress> addresses = server.addresses();
  if (addresses.empty()) throw Error("the server has no socket");
  return addresses.front().port();
}

Future<std::unique_ptr<IOStream>> connect_to(std::uint16_t port,
                                             std::string ip = "127.0.0.1") {
  SocketAddress address = SocketAddress::from_ip(ip, port);
  int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw OSError(errno, "socket");
  auto stream = std::make_unique<IOStream>(fd);
  co_await stream->connect(address);
  co_return stream;
}

/// Sends `request` on a new connection and reads one response.
Future<Response> fetch(std::uint16_t port, std::string request, std::string method = "GET") {
  std::unique_ptr<IOStream> stream = co_await connect_to(port);
  co_await stream->write(request);
  co_return co_await read_response(*stream, method);
}

std::string get(const std::string& target, const std::string& extra_headers = "") {
  std::string request = "GET ";
  request.append(target).append(" HTTP/1.1\r\nHost: test\r\n").append(extra_headers);
  request.append("\r\n");
  return request;
}

std::string post(const std::string& target, const std::string& body,
                 const std::string& extra_headers = "") {
  std::string request = "POST ";
  request.append(target).append(" HTTP/1.1\r\nHost: test\r\nContent-Length: ");
  request.append(std::to_string(body.size())).append("\r\n").append(extra_headers);
  request.append("\r\n").append(body);
  return request;
}

std::string chunked_post(const std::string& target, const std::vector<std::string>& chunks,
                         const std::string& extra_headers = "") {
  std::string request = "POST ";
  request.append(target).append(" HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n");
  request.append(extra_headers).append("\r\n");
  for (const std::string& chunk : chunks) {
    char size[20];
    auto result = std::to_chars(size, size + sizeof size, chunk.size(), 16);
    request.append(size, result.ptr).append("\r\n").append(chunk).append("\r\n");
  }
  request.append("0\r\n\r\n");
  return request;
}

/// Answers `request` with `body` and a Content-Length.
void reply(HTTPServerRequest& request, std::string_view body, int code = 200,
           HTTPHeaders headers = {}) {
  headers.set("Content-Length", std::to_string(body.size()));
  ResponseStartLine start_line;
  start_line.code = code;
  request.connection->write_headers(start_line, headers, body);
  request.connection->finish();
}

/// Waits (a bounded number of loop iterations) until `condition` holds.
Future<bool> eventually(std::function<bool()> condition, IOLoop::duration limit = 2s) {
  auto end = Clock::now() + limit;
  while (!condition()) {
    if (Clock::now() > end) co_return false;
    co_await after(1ms);
  }
  co_return true;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string gzip(std::string_view data) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    throw Error("deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw Error("deflate did not finish");
  return out;
}

// ---- the fixture ---------------------------------------------------------------------------

class HTTPServerOptionsTest : public testing::AsyncTest {
 protected:
  /// Closes what is left of `server`'s connections, so no coroutine outlives the test's loop.
  void close_all(HTTPServer& server) {
    run_sync([&]() -> Future<void> { co_await server.close_all_connections(); });
  }
};

/// A callback that answers "<remote_ip> <protocol> <full_url>".
HTTPServer::RequestCallback describe_request() {
  return [](std::shared_ptr<HTTPServerRequest> request) {
    std::string body = request->remote_ip;
    body.append(" ").append(request->protocol).append(" ").append(request->full_url());
    reply(*request, body);
  };
}

// ---- keep-alive and no_keep_alive ----------------------------------------------------------

TEST_F(HTTPServerOptionsTest, KeepAliveByDefaultServesSeveralRequestsOnOneConnection) {
  HTTPServer server([](std::shared_ptr<HTTPServerRequest> request) {
    reply(*request, "path=" + request->path);
  });
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    for (int i = 0; i < 3; ++i) {
      co_await stream->write(get("/n" + std::to_string(i)));
      Response response = co_await read_response(*stream);
      EXPECT_EQ(response.version, "HTTP/1.1");
      EXPECT_EQ(response.code, 200);
      EXPECT_EQ(response.reason, "OK");
      EXPECT_EQ(response.body, "path=/n" + std::to_string(i));
      EXPECT_FALSE(response.connection_lists("close"));
    }
    EXPECT_EQ(server.connection_count(), 1u);
  });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, NoKeepAliveSaysConnectionCloseAndClosesTheSocket) {
  HTTPServerOptions options;
  options.no_keep_alive = true;
  int calls = 0;
  HTTPServer server(
      [&](std::shared_ptr<HTTPServerRequest> request) {
        ++calls;
        reply(*request, "once");
      },
      options);
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    // Two pipelined requests: only the first is answered.
    std::string requests = get("/first");
    requests.append(get("/second"));
    co_await stream->write(requests);
    Response response = co_await read_response(*stream);
    EXPECT_EQ(response.code, 200);
    EXPECT_EQ(response.body, "once");
    EXPECT_TRUE(response.connection_lists("close"));
    EXPECT_EQ(co_await gen::with_timeout(2s, rest_until_close(*stream)), "");
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(co_await eventually([&] { return server.connection_count() == 0; }));

    // HTTP/1.0 asking for keep-alive is refused too.
    auto old = co_await connect_to(port_of(server));
    co_await old->write("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    Response old_response = co_await read_response(*old);
    EXPECT_EQ(old_response.body, "once");
    EXPECT_FALSE(old_response.connection_lists("keep-alive"));
    EXPECT_EQ(co_await gen::with_timeout(2s, rest_until_close(*old)), "");
  });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, ClientConnectionCloseIsHonoured) {
  HTTPServer server([](std::shared_ptr<HTTPServerRequest> request) { reply(*request, "bye"); });
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    co_await stream->write(get("/", "Connection: close\r\n"));
    Response response = co_await read_response(*stream);
    EXPECT_EQ(response.body, "bye");
    EXPECT_TRUE(response.connection_lists("close"));
    EXPECT_EQ(co_await gen::with_timeout(2s, rest_until_close(*stream)), "");
  });
  close_all(server);
}

// ---- xheaders, trusted_downstream and protocol ---------------------------------------------

struct XHeaderCase {
  std::string headers;
  std::string expected;  // "<remote_ip> <protocol>"
};

/// Sends each case on one keep-alive connection and checks the address and scheme the request
/// got.
Future<void> check_cases(std::uint16_t port, std::vector<XHeaderCase> cases) {
  auto stream = co_await connect_to(port);
  for (const XHeaderCase& c : cases) {
    co_await stream->write(get("/x", c.headers));
    Response response = co_await read_response(*stream);
    std::string body = response.body;
    std::string ip_and_protocol = body.substr(0, body.rfind(' '));
    EXPECT_EQ(ip_and_protocol, c.expected) << "headers: " << c.headers;
  }
}

TEST_F(HTTPServerOptionsTest, XHeadersSetRemoteIpAndProtocolPerRequest) {
  HTTPServerOptions options;
  options.xheaders = true;
  options.trusted_downstream = {"10.0.0.1", "10.0.0.2"};
  HTTPServer server(describe_request(), options);
  server.listen(0, "127.0.0.1");
  std::vector<XHeaderCase> cases = {
      {"", "127.0.0.1 http"},
      {"X-Real-Ip: 4.4.4.4\r\n", "4.4.4.4 http"},
      // Applied per request: the next request gets the peer's address back.
      {"", "127.0.0.1 http"},
      {"X-Forwarded-For: 1.1.1.1, 2.2.2.2\r\n", "2.2.2.2 http"},
      {"X-Forwarded-For: 1.1.1.1, 5.5.5.5, 10.0.0.2, 10.0.0.1\r\n", "5.5.5.5 http"},
      {"X-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 6.6.6.6, 10.0.0.1\r\n", "6.6.6.6 http"},
      // X-Real-Ip wins over X-Forwarded-For.
      {"X-Forwarded-For: 1.1.1.1\r\nX-Real-Ip: 3.3.3.3\r\n", "3.3.3.3 http"},
      {"X-Real-Ip: 2001:db8::7\r\n", "2001:db8::7 http"},
      // Not an IP address: ignored.
      {"X-Real-Ip: not-an-ip\r\n", "127.0.0.1 http"},
      {"X-Forwarded-For: 1.1.1.1, bogus\r\n", "127.0.0.1 http"},
      {"X-Forwarded-For: 10.0.0.1, 10.0.0.2, 256.1.1.1\r\n", "127.0.0.1 http"},
      // The scheme: X-Scheme, else the last element of X-Forwarded-Proto.
      {"X-Scheme: https\r\n", "127.0.0.1 https"},
      {"X-Forwarded-Proto: https\r\n", "127.0.0.1 https"},
      {"X-Forwarded-Proto: http, https\r\n", "127.0.0.1 https"},
      {"X-Forwarded-Proto: https, http\r\n", "127.0.0.1 http"},
      {"X-Scheme: http\r\nX-Forwarded-Proto: https\r\n", "127.0.0.1 http"},
      {"X-Forwarded-Proto: ftp\r\n", "127.0.0.1 http"},
      {"X-Forwarded-Proto: https, gopher\r\n", "127.0.0.1 http"},
      {"X-Real-Ip: 9.9.9.9\r\nX-Forwarded-Proto: https\r\n", "9.9.9.9 https"},
      {"", "127.0.0.1 http"},
  };
  run_sync([&]() -> Future<void> { co_await check_cases(port_of(server), cases); });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, XHeadersGiveTheUrlTheForwardedScheme) {
  HTTPServerOptions options;
  options.xheaders = true;
  HTTPServer server(describe_request(), options);
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    Response response =
        co_await fetch(port_of(server), get("/a?b=1", "X-Forwarded-Proto: https\r\n"));
    EXPECT_EQ(response.body, "127.0.0.1 https https://test/a?b=1");
  });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, WithoutXHeadersTheProxyHeadersAreIgnored) {
  HTTPServerOptions options;
  options.trusted_downstream = {"10.0.0.1"};  // no effect without xheaders
  HTTPServer server(describe_request(), options);
  server.listen(0, "127.0.0.1");
  std::vector<XHeaderCase> cases = {
      {"X-Real-Ip: 4.4.4.4\r\n", "127.0.0.1 http"},
      {"X-Forwarded-For: 1.1.1.1, 2.2.2.2\r\n", "127.0.0.1 http"},
      {"X-Scheme: https\r\n", "127.0.0.1 http"},
      {"X-Forwarded-Proto: https\r\n", "127.0.0.1 http"},
  };
  run_sync([&]() -> Future<void> { co_await check_cases(port_of(server), cases); });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, XHeadersOverIpv6Loopback) {
  HTTPServerOptions options;
  options.xheaders = true;
  HTTPServer server(describe_request(), options);
  try {
    server.listen(0, "::1");
  } catch (const std::exception& e) {
    GTEST_SKIP() << "no IPv6 loopback: " << e.what();
  }
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server), "::1");
    co_await stream->write(get("/"));
    Response plain = co_await read_response(*stream);
    EXPECT_EQ(plain.body.substr(0, plain.body.rfind(' ')), "::1 http");
    co_await stream->write(get("/", "X-Real-Ip: 8.8.4.4\r\n"));
    Response forwarded = co_await read_response(*stream);
    EXPECT_EQ(forwarded.body.substr(0, forwarded.body.rfind(' ')), "8.8.4.4 http");
  });
  close_all(server);
}

HTTPHeaders header_lines(std::initializer_list<std::pair<const char*, const char*>> fields) {
  HTTPHeaders headers;
  for (const auto& [name, value] : fields) headers.add(name, value);
  return headers;
}

HTTP1ConnectionContext applied(const HTTPHeaders& headers,
                               const std::vector<std::string>& trusted = {}) {
  HTTP1ConnectionContext context;
  context.remote_ip = "192.0.2.10";
  context.protocol = "http";
  httpserver::apply_xheaders(headers, context, trusted);
  return context;
}

TEST(ApplyXHeadersTest, NoProxyHeadersLeaveTheContextAlone) {
  HTTP1ConnectionContext context = applied(HTTPHeaders());
  EXPECT_EQ(context.remote_ip, "192.0.2.10");
  EXPECT_EQ(context.protocol, "http");
  HTTP1ConnectionContext tls;
  tls.remote_ip = "192.0.2.11";
  tls.protocol = "https";
  httpserver::apply_xheaders(header_lines({{"X-Forwarded-Proto", "nonsense"}}), tls, {});
  EXPECT_EQ(tls.protocol, "https");
  EXPECT_EQ(tls.remote_ip, "192.0.2.11");
}

TEST(ApplyXHeadersTest, RealIpAndForwardedFor) {
  EXPECT_EQ(applied(header_lines({{"X-Real-Ip", "203.0.113.5"}})).remote_ip, "203.0.113.5");
  EXPECT_EQ(applied(header_lines({{"X-Real-Ip", " 203.0.113.6 "}})).remote_ip, "203.0.113.6");
  EXPECT_EQ(applied(header_lines({{"X-Forwarded-For", "203.0.113.1,203.0.113.2"}})).remote_ip,
            "203.0.113.2");
  EXPECT_EQ(applied(header_lines({{"X-Forwarded-For", "203.0.113.1"},
                                  {"X-Real-Ip", "203.0.113.9"}}))
                .remote_ip,
            "203.0.113.9");
  EXPECT_EQ(applied(header_lines({{"X-Real-Ip", "::ffff:1.2.3.4"}})).remote_ip, "::ffff:1.2.3.4");
}

TEST(ApplyXHeadersTest, TrustedDownstreamIsSkippedFromTheRight) {
  const std::vector<std::string> trusted = {"198.51.100.1", "198.51.100.2"};
  EXPECT_EQ(applied(header_lines({{"X-Forwarded-For",
                                   "203.0.113.1, 203.0.113.2, 198.51.100.2, 198.51.100.1"}}),
                    trusted)
                .remote_ip,
            "203.0.113.2");
  // A trusted address that is not at the right end is not skipped.
  EXPECT_EQ(applied(header_lines({{"X-Forwarded-For", "198.51.100.1, 203.0.113.3"}}), trusted)
                .remote_ip,
            "203.0.113.3");
  // Untrusted proxies are not skipped.
  EXPECT_EQ(applied(header_lines({{"X-Forwarded-For", "203.0.113.1, 198.51.100.9"}}), trusted)
                .remote_ip,
            "198.51.100.9");
}

TEST(ApplyXHeadersTest, InvalidAddressesAreIgnored) {
  EXPECT_EQ(applied(header_lines({{"X-Real-Ip", "example.com"}})).remote_ip, "192.0.2.10");
  EXPECT_EQ(applied(header_lines({{"X-Real-Ip", ""}})).remote_ip, "192.0.2.10");
  EXPECT_EQ(applied(header_lines({{"X-Forwarded-For", "203.0.113.1, unknown"}})).remote_ip,
            "192.0.2.10");
  EXPECT_EQ(applied(header_lines({{"X-Forwarded-For", "1.2.3.4:80"}})).remote_ip, "192.0.2.10");
}

TEST(ApplyXHeadersTest, SchemeFromXSchemeOrTheLastForwardedProto) {
  EXPECT_EQ(applied(header_lines({{"X-Scheme", "https"}})).protocol, "https");
  EXPECT_EQ(applied(header_lines({{"X-Forwarded-Proto", "https"}})).protocol, "https");
  EXPECT_EQ(applied(header_lines({{"X-Forwarded-Proto", "http,https"}})).protocol, "https");
  EXPECT_EQ(applied(header_lines({{"X-Forwarded-Proto", "https , http"}})).protocol, "http");
  EXPECT_EQ(applied(header_lines({{"X-Scheme", "http"}, {"X-Forwarded-Proto", "https"}})).protocol,
            "http");
  EXPECT_EQ(applied(header_lines({{"X-Scheme", "wss"}})).protocol, "http");
  EXPECT_EQ(applied(header_lines({{"X-Forwarded-Proto", "https, ftp"}})).protocol, "http");
}

TEST_F(HTTPServerOptionsTest, ProtocolOverridesTheScheme) {
  HTTPServerOptions options;
  options.protocol = "https";
  HTTPServer server(describe_request(), options);
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    Response response = co_await fetch(port_of(server), get("/p?q=1"));
    EXPECT_EQ(response.body, "127.0.0.1 https https://test/p?q=1");
  });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, XHeadersApplyOnTopOfTheProtocolOverride) {
  HTTPServerOptions options;
  options.protocol = "https";
  options.xheaders = true;
  HTTPServer server(describe_request(), options);
  server.listen(0, "127.0.0.1");
  std::vector<XHeaderCase> cases = {
      {"X-Scheme: http\r\n", "127.0.0.1 http"},
      {"", "127.0.0.1 https"},
  };
  run_sync([&]() -> Future<void> { co_await check_cases(port_of(server), cases); });
  close_all(server);
}

// ---- ssl_options ---------------------------------------------------------------------------

TEST_F(HTTPServerOptionsTest, SslOptionsServeHttps) {
  test_support::Certificates certificates;
  HTTPServerOptions options;
  SSLOptions server_ssl;
  server_ssl.certfile = certificates.server_cert;
  server_ssl.keyfile = certificates.server_key;
  options.ssl_options = server_ssl;
  HTTPServer server(describe_request(), options);
  server.listen(0, "127.0.0.1");
  const std::uint16_t port = port_of(server);
  run_sync([&]() -> Future<void> {
    SSLOptions client_ssl;
    client_ssl.ca_certs = certificates.ca;  // verified, hostname (IP) checked
    TCPClient client;
    std::optional<IOLoop::duration> timeout = 5s;
    std::unique_ptr<IOStream> stream = co_await client.connect(
        "127.0.0.1", port, AF_INET, timeout, std::nullopt, client_ssl);
    EXPECT_NE(dynamic_cast<SSLIOStream*>(stream.get()), nullptr);
    for (int i = 0; i < 2; ++i) {  // keep-alive over TLS
      co_await stream->write(get("/secure?i=" + std::to_string(i)));
      Response response = co_await read_response(*stream);
      EXPECT_EQ(response.code, 200);
      EXPECT_EQ(response.body,
                "127.0.0.1 https https://test/secure?i=" + std::to_string(i));
    }
  });
  // Plain HTTP on the TLS port gets no HTTP response.
  run_sync([&]() -> Future<void> {
    auto plain = co_await connect_to(port);
    co_await plain->write(get("/"));
    std::string answer = co_await gen::with_timeout(3s, rest_until_close(*plain));
    EXPECT_NE(answer.substr(0, 5), "HTTP/");
  });
  close_all(server);
}

// ---- decompress_request --------------------------------------------------------------------

/// A callback that answers with what it got: the body, its Content-Encoding headers, and the
/// form arguments.
HTTPServer::RequestCallback describe_body() {
  return [](std::shared_ptr<HTTPServerRequest> request) {
    std::string body = "ce=";
    body.append(request->headers.get("Content-Encoding", "-"));
    body.append(" xcce=").append(request->headers.get("X-Consumed-Content-Encoding", "-"));
    body.append(" a=");
    auto it = request->arguments.find("a");
    body.append(it == request->arguments.end() ? "-" : it->second.front());
    body.append(" len=").append(std::to_string(request->body.size()));
    body.append(" body=").append(request->body);
    reply(*request, body);
  };
}

TEST_F(HTTPServerOptionsTest, DecompressRequestInflatesAGzipBody) {
  HTTPServerOptions options;
  options.decompress_request = true;
  HTTPServer server(describe_body(), options);
  server.listen(0, "127.0.0.1");
  const std::string form = "a=inflated+value&b=2";
  const std::string compressed = gzip(form);
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    co_await stream->write(post("/", compressed,
                                "Content-Encoding: gzip\r\n"
                                "Content-Type: application/x-www-form-urlencoded\r\n"));
    Response response = co_await read_response(*stream);
    EXPECT_EQ(response.code, 200);
    EXPECT_EQ(response.body, "ce=- xcce=gzip a=inflated value len=20 body=" + form);

    // A chunked gzip body, split in the middle of the compressed stream.
    std::vector<std::string> pieces = {compressed.substr(0, 7), compressed.substr(7)};
    co_await stream->write(chunked_post("/", pieces,
                                        "Content-Encoding: gzip\r\n"
                                        "Content-Type: application/x-www-form-urlencoded\r\n"));
    Response chunked = co_await read_response(*stream);
    EXPECT_EQ(chunked.body, "ce=- xcce=gzip a=inflated value len=20 body=" + form);

    // A body without Content-Encoding is left alone.
    co_await stream->write(post("/", "a=plain"));
    Response plain = co_await read_response(*stream);
    EXPECT_EQ(plain.body, "ce=- xcce=- a=- len=7 body=a=plain");
  });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, DecompressRequestRefusesAGzipBombPastMaxBodySize) {
  HTTPServerOptions options;
  options.decompress_request = true;
  options.max_body_size = 64 * 1024;
  int calls = 0;
  HTTPServer server(
      [&](std::shared_ptr<HTTPServerRequest> request) {
        ++calls;
        reply(*request, "should not be called");
      },
      options);
  server.listen(0, "127.0.0.1");
  const std::string bomb = gzip(std::string(4 << 20, '\0'));  // 4 MiB of zeros, a few KB sent
  ASSERT_LT(bomb.size(), 64u * 1024);
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    co_await stream->write(post("/", bomb, "Content-Encoding: gzip\r\n"));
    Response response = co_await read_response(*stream);
    EXPECT_EQ(response.code, 413);
    EXPECT_TRUE(response.connection_lists("close"));
    EXPECT_EQ(co_await gen::with_timeout(2s, rest_until_close(*stream)), "");
    EXPECT_EQ(calls, 0);
  });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, DecompressRequestRefusesMalformedGzipWith400) {
  HTTPServerOptions options;
  options.decompress_request = true;
  int calls = 0;
  HTTPServer server(
      [&](std::shared_ptr<HTTPServerRequest> request) {
        ++calls;
        reply(*request, "should not be called");
      },
      options);
  server.listen(0, "127.0.0.1");
  const std::string valid = gzip("some text that is long enough to be cut in half");
  run_sync([&]() -> Future<void> {
    Response garbage = co_await fetch(port_of(server),
                                      post("/", "definitely not gzip", "Content-Encoding: gzip\r\n"));
    EXPECT_EQ(garbage.code, 400);
    EXPECT_TRUE(garbage.connection_lists("close"));
    Response truncated = co_await fetch(
        port_of(server), post("/", valid.substr(0, valid.size() / 2), "Content-Encoding: gzip\r\n"));
    EXPECT_EQ(truncated.code, 400);
    EXPECT_EQ(calls, 0);
  });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, WithoutDecompressRequestTheBodyStaysCompressed) {
  std::string received;
  HTTPServer server([&](std::shared_ptr<HTTPServerRequest> request) {
    received = request->body;
    std::string body = "ce=" + request->headers.get("Content-Encoding", "-");
    body.append(" xcce=").append(request->headers.get("X-Consumed-Content-Encoding", "-"));
    reply(*request, body);
  });
  server.listen(0, "127.0.0.1");
  const std::string compressed = gzip("a=1");
  run_sync([&]() -> Future<void> {
    Response response =
        co_await fetch(port_of(server), post("/", compressed, "Content-Encoding: gzip\r\n"));
    EXPECT_EQ(response.code, 200);
    EXPECT_EQ(response.body, "ce=gzip xcce=-");
  });
  EXPECT_EQ(received, compressed);
  close_all(server);
}

// ---- the streaming delegate API ------------------------------------------------------------

/// What one request went through, as an Exchange delegate saw it.
struct Exchange {
  HTTP1ServerConnection* server_conn = nullptr;  // valid while the request is in flight
  std::shared_ptr<HTTPConnection> conn;
  RequestStartLine start_line;
  HTTPHeaders headers;
  HTTP1ConnectionContext context;  // the connection's context at headers_received
  std::vector<std::string> pieces;
  std::string body;
  bool finished = false;
  bool connection_closed = false;
};

/// An HTTPServerConnectionDelegate that records every call and echoes each body back; tests
/// hook into each step.
class RecordingApp : public HTTPServerConnectionDelegate {
 public:
  std::vector<std::string> events;
  std::vector<std::shared_ptr<Exchange>> exchanges;
  std::function<std::optional<Future<void>>(Exchange&)> on_headers;
  std::function<std::optional<Future<void>>(Exchange&, std::string_view)> on_data;
  std::function<void(Exchange&)> on_finish;  // default: echo the body

  std::unique_ptr<HTTPMessageDelegate> start_request(
      HTTP1ServerConnection& server_conn, std::shared_ptr<HTTPConnection> request_conn) override {
    events.push_back("start_request");
    auto exchange = std::make_shared<Exchange>();
    exchange->server_conn = &server_conn;
    exchange->conn = std::move(request_conn);
    exchanges.push_back(exchange);
    return std::make_unique<Delegate>(*this, exchange);
  }
  void on_close(HTTP1ServerConnection&) override { events.push_back("on_close"); }

  static void echo(Exchange& exchange) {
    HTTPHeaders headers;
    headers.add("Content-Length", std::to_string(exchange.body.size()));
    ResponseStartLine start_line;
    exchange.conn->write_headers(start_line, headers, exchange.body);
    exchange.conn->finish();
  }

 private:
  class Delegate : public HTTPMessageDelegate {
   public:
    Delegate(RecordingApp& app, std::shared_ptr<Exchange> exchange)
        : app_(app), exchange_(std::move(exchange)) {}
    std::optional<Future<void>> headers_received(const RequestStartLine& start_line,
                                                 HTTPHeaders& headers) override {
      app_.events.push_back("headers_received " + start_line.method + " " + start_line.path);
      exchange_->start_line = start_line;
      exchange_->headers = headers;
      exchange_->context = exchange_->server_conn->context();
      if (app_.on_headers) return app_.on_headers(*exchange_);
      return std::nullopt;
    }
    std::optional<Future<void>> data_received(std::string_view chunk) override {
      app_.events.push_back("data_received " + std::to_string(chunk.size()));
      exchange_->pieces.emplace_back(chunk);
      exchange_->body.append(chunk);
      if (app_.on_data) return app_.on_data(*exchange_, chunk);
      return std::nullopt;
    }
    void finish() override {
      app_.events.push_back("finish");
      exchange_->finished = true;
      if (app_.on_finish) {
        app_.on_finish(*exchange_);
      } else {
        echo(*exchange_);
      }
    }
    void on_connection_close() override {
      app_.events.push_back("on_connection_close");
      exchange_->connection_closed = true;
    }

   private:
    RecordingApp& app_;
    std::shared_ptr<Exchange> exchange_;
  };
};

TEST_F(HTTPServerOptionsTest, DelegateSeesStartHeadersDataFinishThenOnClose) {
  RecordingApp app;
  HTTPServerOptions options;
  options.chunk_size = 5;
  HTTPServer server(app, options);
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    co_await stream->write(post("/upload?x=1", "hello world", "X-Custom: yes\r\n"));
    Response response = co_await read_response(*stream);
    EXPECT_EQ(response.body, "hello world");
    co_await stream->write(get("/second"));
    Response second = co_await read_response(*stream);
    EXPECT_EQ(second.body, "");
    EXPECT_EQ(second.header("Content-Length"), "0");
    stream.reset();  // the client leaves
    EXPECT_TRUE(co_await eventually([&] { return server.connection_count() == 0; }));
  });
  // How the body is cut depends on the socket reads; each piece is at most chunk_size bytes.
  std::vector<std::string> events;
  for (const std::string& event : app.events) {
    if (event.rfind("data_received ", 0) == 0) {
      EXPECT_LE(std::stoul(event.substr(14)), 5u) << event;
      EXPECT_GE(std::stoul(event.substr(14)), 1u) << event;
      if (events.back() == "data_received") continue;
      events.push_back("data_received");
    } else {
      events.push_back(event);
    }
  }
  std::vector<std::string> expected = {
      "start_request", "headers_received POST /upload?x=1", "data_received", "finish",
      "start_request", "headers_received GET /second",      "finish",        "on_close"};
  EXPECT_EQ(events, expected);
  ASSERT_EQ(app.exchanges.size(), 2u);
  EXPECT_EQ(app.exchanges[0]->body, "hello world");
  EXPECT_GE(app.exchanges[0]->pieces.size(), 3u);
  EXPECT_EQ(app.exchanges[0]->start_line.method, "POST");
  EXPECT_EQ(app.exchanges[0]->start_line.version, "HTTP/1.1");
  EXPECT_EQ(app.exchanges[0]->headers.get("X-Custom"), "yes");
  EXPECT_EQ(app.exchanges[0]->context.remote_ip, "127.0.0.1");
  EXPECT_EQ(app.exchanges[0]->context.protocol, "http");
  EXPECT_FALSE(app.exchanges[0]->connection_closed);
}

TEST_F(HTTPServerOptionsTest, DelegateSeesTheXHeadersContextOnlyDuringItsRequest) {
  RecordingApp app;
  HTTPServerOptions options;
  options.xheaders = true;
  HTTPServer server(app, options);
  server.listen(0, "127.0.0.1");
  HTTP1ConnectionContext after_first;
  app.on_finish = [&](Exchange& exchange) {
    RecordingApp::echo(exchange);
    if (app.exchanges.size() == 1) after_first = exchange.server_conn->context();
  };
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    co_await stream->write(get("/", "X-Real-Ip: 5.6.7.8\r\nX-Scheme: https\r\n"));
    co_await read_response(*stream);
    co_await stream->write(get("/"));
    co_await read_response(*stream);
  });
  ASSERT_EQ(app.exchanges.size(), 2u);
  EXPECT_EQ(app.exchanges[0]->context.remote_ip, "5.6.7.8");
  EXPECT_EQ(app.exchanges[0]->context.protocol, "https");
  EXPECT_EQ(after_first.remote_ip, "5.6.7.8");  // still applied while the request is in flight
  EXPECT_EQ(app.exchanges[1]->context.remote_ip, "127.0.0.1");
  EXPECT_EQ(app.exchanges[1]->context.protocol, "http");
  close_all(server);
}

/// Sends `request` and checks that the delegate gets no more body while its first
/// data_received Future is pending, then everything once it completes.
Future<void> check_flow_control(HTTPServer& server, RecordingApp& app, std::string request,
                                std::string body) {
  Future<void> gate;
  int calls_while_paused = -1;
  app.on_data = [&](Exchange& exchange, std::string_view) -> std::optional<Future<void>> {
    if (exchange.pieces.size() == 1) return gate;
    return std::nullopt;
  };
  auto stream = co_await connect_to(port_of(server));
  co_await stream->write(request);
  EXPECT_TRUE(co_await eventually([&] { return !app.exchanges.empty() &&
                                               !app.exchanges.back()->pieces.empty(); }));
  co_await after(50ms);  // the whole body has arrived by now
  Exchange& exchange = *app.exchanges.back();
  calls_while_paused = static_cast<int>(exchange.pieces.size());
  EXPECT_EQ(calls_while_paused, 1) << "data_received was called again while its Future was pending";
  EXPECT_FALSE(exchange.finished);
  gate.set_result();
  Response response = co_await read_response(*stream);
  EXPECT_EQ(response.body, body);
  EXPECT_TRUE(exchange.finished);
  EXPECT_EQ(exchange.body, body);
  EXPECT_GE(exchange.pieces.size(), 4u);
  for (const std::string& piece : exchange.pieces) EXPECT_LE(piece.size(), 4u);
}

TEST_F(HTTPServerOptionsTest, PendingDataReceivedFuturePausesAContentLengthBody) {
  RecordingApp app;
  HTTPServerOptions options;
  options.chunk_size = 4;
  HTTPServer server(app, options);
  server.listen(0, "127.0.0.1");
  const std::string body = "abcdefghijklmnop";
  run_sync([&]() -> Future<void> {
    co_await check_flow_control(server, app, post("/", body), body);
  });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, PendingDataReceivedFuturePausesAChunkedBody) {
  RecordingApp app;
  HTTPServerOptions options;
  options.chunk_size = 4;
  HTTPServer server(app, options);
  server.listen(0, "127.0.0.1");
  const std::string body = "abcdefghijklmnop";
  std::vector<std::string> chunks = {body};  // one chunk, delivered in pieces
  run_sync([&]() -> Future<void> {
    co_await check_flow_control(server, app, chunked_post("/", chunks), body);
  });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, PendingHeadersReceivedFutureHoldsTheBody) {
  RecordingApp app;
  HTTPServer server(app);
  server.listen(0, "127.0.0.1");
  Future<void> gate;
  app.on_headers = [&](Exchange&) -> std::optional<Future<void>> { return gate; };
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    co_await stream->write(post("/", "payload"));
    EXPECT_TRUE(co_await eventually([&] { return !app.exchanges.empty(); }));
    co_await after(50ms);
    EXPECT_TRUE(app.exchanges.front()->pieces.empty());
    gate.set_result();
    Response response = co_await read_response(*stream);
    EXPECT_EQ(response.body, "payload");
  });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, SetMaxBodySizeRaisesOrLowersTheLimitPerRequest) {
  RecordingApp app;
  HTTPServerOptions options;
  options.max_body_size = 100;
  HTTPServer server(app, options);
  server.listen(0, "127.0.0.1");
  app.on_headers = [](Exchange& exchange) -> std::optional<Future<void>> {
    if (exchange.start_line.path == "/raise") exchange.conn->set_max_body_size(1000);
    if (exchange.start_line.path == "/lower") exchange.conn->set_max_body_size(10);
    return std::nullopt;
  };
  const std::string fifty(50, 'f');
  const std::string five_hundred(500, 'h');
  run_sync([&]() -> Future<void> {
    const std::uint16_t port = port_of(server);
    Response raised = co_await fetch(port, post("/raise", five_hundred));
    EXPECT_EQ(raised.code, 200);
    EXPECT_EQ(raised.body, five_hundred);
    std::vector<std::string> raised_chunks = {five_hundred.substr(0, 300), five_hundred.substr(300)};
    Response raised_chunked = co_await fetch(port, chunked_post("/raise", raised_chunks));
    EXPECT_EQ(raised_chunked.code, 200);
    EXPECT_EQ(raised_chunked.body, five_hundred);

    Response default_limit = co_await fetch(port, post("/plain", five_hundred));
    EXPECT_EQ(default_limit.code, 413);
    Response within_default = co_await fetch(port, post("/plain", fifty));
    EXPECT_EQ(within_default.code, 200);

    Response lowered = co_await fetch(port, post("/lower", fifty));
    EXPECT_EQ(lowered.code, 413);
    EXPECT_TRUE(lowered.connection_lists("close"));
    std::vector<std::string> lowered_chunks = {fifty};
    Response lowered_chunked = co_await fetch(port, chunked_post("/lower", lowered_chunks));
    EXPECT_EQ(lowered_chunked.code, 413);
  });
  // The refused requests' delegates were told that their connections closed, and never finished.
  ASSERT_EQ(app.exchanges.size(), 6u);
  for (std::size_t i : {2u, 4u, 5u}) {
    EXPECT_TRUE(app.exchanges[i]->connection_closed) << i;
    EXPECT_FALSE(app.exchanges[i]->finished) << i;
  }
  close_all(server);
}

// ---- chunk_size, size limits, max_buffer_size ----------------------------------------------

TEST_F(HTTPServerOptionsTest, ChunkSizeBoundsEveryPieceOfBody) {
  RecordingApp app;
  HTTPServerOptions options;
  options.chunk_size = 16;
  options.decompress_request = true;
  HTTPServer server(app, options);
  server.listen(0, "127.0.0.1");
  std::string body;
  for (int i = 0; i < 30; ++i) body.append("line " + std::to_string(i) + "\n");
  ASSERT_GT(body.size(), 100u);
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    co_await stream->write(post("/fixed", body));
    EXPECT_EQ((co_await read_response(*stream)).body, body);
    std::vector<std::string> chunks = {body.substr(0, 40), body.substr(40, 7), body.substr(47)};
    co_await stream->write(chunked_post("/chunked", chunks));
    EXPECT_EQ((co_await read_response(*stream)).body, body);
    co_await stream->write(post("/gzip", gzip(body), "Content-Encoding: gzip\r\n"));
    EXPECT_EQ((co_await read_response(*stream)).body, body);
  });
  ASSERT_EQ(app.exchanges.size(), 3u);
  for (const auto& exchange : app.exchanges) {
    EXPECT_EQ(exchange->body, body) << exchange->start_line.path;
    EXPECT_GE(exchange->pieces.size(), body.size() / 16) << exchange->start_line.path;
    for (const std::string& piece : exchange->pieces) {
      EXPECT_LE(piece.size(), 16u) << exchange->start_line.path;
      EXPECT_FALSE(piece.empty()) << exchange->start_line.path;
    }
  }
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, MaxBodySizeRefusesLargerBodiesWith413) {
  HTTPServerOptions options;
  options.max_body_size = 100;
  int calls = 0;
  HTTPServer server(
      [&](std::shared_ptr<HTTPServerRequest> request) {
        ++calls;
        reply(*request, std::to_string(request->body.size()));
      },
      options);
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    const std::uint16_t port = port_of(server);
    Response at_limit = co_await fetch(port, post("/", std::string(100, 'x')));
    EXPECT_EQ(at_limit.code, 200);
    EXPECT_EQ(at_limit.body, "100");
    Response over = co_await fetch(port, post("/", std::string(101, 'x')));
    EXPECT_EQ(over.code, 413);
    EXPECT_TRUE(over.connection_lists("close"));
    std::vector<std::string> chunks = {std::string(60, 'y'), std::string(60, 'z')};
    Response chunked_over = co_await fetch(port, chunked_post("/", chunks));
    EXPECT_EQ(chunked_over.code, 413);
  });
  EXPECT_EQ(calls, 1);
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, MaxHeaderSizeRefusesLargerHeadsWith431) {
  HTTPServerOptions options;
  options.max_header_size = 1024;
  HTTPServer server([](std::shared_ptr<HTTPServerRequest> request) { reply(*request, "ok"); },
                    options);
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    const std::uint16_t port = port_of(server);
    Response small = co_await fetch(port, get("/", "X-Pad: " + std::string(500, 'p') + "\r\n"));
    EXPECT_EQ(small.code, 200);
    auto stream = co_await connect_to(port);
    co_await stream->write(get("/", "X-Pad: " + std::string(2000, 'p') + "\r\n"));
    Response large = co_await read_response(*stream);
    EXPECT_EQ(large.code, 431);
    EXPECT_TRUE(large.connection_lists("close"));
    EXPECT_EQ(co_await gen::with_timeout(2s, rest_until_close(*stream)), "");
  });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, BodyLimitsRefuseAMultipartBodyWith400) {
  HTTPServerOptions options;
  options.body_limits.max_parts = 1;
  int calls = 0;
  HTTPServer server(
      [&](std::shared_ptr<HTTPServerRequest> request) {
        ++calls;
        reply(*request, std::to_string(request->body_arguments.size()));
      },
      options);
  server.listen(0, "127.0.0.1");
  auto form = [](int parts) {
    std::string body;
    for (int i = 0; i < parts; ++i) {
      body.append("--B\r\nContent-Disposition: form-data; name=\"f" + std::to_string(i) +
                  "\"\r\n\r\nv\r\n");
    }
    body.append("--B--\r\n");
    return body;
  };
  const std::string type = "Content-Type: multipart/form-data; boundary=B\r\n";
  run_sync([&]() -> Future<void> {
    Response one = co_await fetch(port_of(server), post("/", form(1), type));
    EXPECT_EQ(one.code, 200);
    EXPECT_EQ(one.body, "1");
    Response two = co_await fetch(port_of(server), post("/", form(2), type));
    EXPECT_EQ(two.code, 400);
    Response broken = co_await fetch(port_of(server), post("/", "--B\r\nno end", type));
    EXPECT_EQ(broken.code, 400);
  });
  EXPECT_EQ(calls, 1);
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, MaxBufferSizeBoundsTheHeadButNotAStreamedBody) {
  HTTPServerOptions options;
  options.max_buffer_size = 2048;
  HTTPServer server(
      [](std::shared_ptr<HTTPServerRequest> request) {
        reply(*request, std::to_string(request->body.size()));
      },
      options);
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    const std::uint16_t port = port_of(server);
    // The body goes through in pieces, so it may be far larger than the buffer.
    Response big_body = co_await fetch(port, post("/", std::string(100000, 'b')));
    EXPECT_EQ(big_body.code, 200);
    EXPECT_EQ(big_body.body, "100000");
    // A head larger than the buffer cannot be parsed: the connection ends without a response
    // (or with an error status).
    auto stream = co_await connect_to(port);
    co_await stream->write(get("/", "X-Pad: " + std::string(8000, 'p') + "\r\n"));
    std::string answer = co_await gen::with_timeout(3s, rest_until_close(*stream));
    if (!answer.empty()) {
      EXPECT_EQ(answer.substr(0, 9), "HTTP/1.1 ");
      EXPECT_GE(std::atoi(answer.substr(9, 3).c_str()), 400) << answer;
    }
    // The server still serves.
    Response after_that = co_await fetch(port, get("/"));
    EXPECT_EQ(after_that.code, 200);
  });
  close_all(server);
}

// ---- timeouts ------------------------------------------------------------------------------

TEST_F(HTTPServerOptionsTest, BodyTimeoutClosesAStalledBodyAndTellsTheDelegate) {
  RecordingApp app;
  HTTPServerOptions options;
  options.body_timeout = 150ms;
  HTTPServer server(app, options);
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    std::string request = "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n0123456789";
    auto start = Clock::now();
    co_await stream->write(request);
    std::string answer = co_await gen::with_timeout(3s, rest_until_close(*stream));
    double elapsed = seconds_since(start);
    EXPECT_EQ(answer, "");
    EXPECT_GE(elapsed, 0.14);
    EXPECT_LT(elapsed, 2.0);
    EXPECT_TRUE(co_await eventually([&] { return server.connection_count() == 0; }));
  });
  ASSERT_EQ(app.exchanges.size(), 1u);
  EXPECT_EQ(app.exchanges[0]->body, "0123456789");
  EXPECT_TRUE(app.exchanges[0]->connection_closed);
  EXPECT_FALSE(app.exchanges[0]->finished);
  std::vector<std::string> expected = {"start_request", "headers_received POST /",
                                       "data_received 10", "on_connection_close", "on_close"};
  EXPECT_EQ(app.events, expected);
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, BodyTimeoutLeavesABodyThatArrivesInTime) {
  HTTPServerOptions options;
  options.body_timeout = 300ms;
  HTTPServer server(
      [](std::shared_ptr<HTTPServerRequest> request) { reply(*request, request->body); }, options);
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    co_await stream->write("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nabc");
    co_await after(50ms);
    co_await stream->write("def");
    Response response = co_await read_response(*stream);
    EXPECT_EQ(response.body, "abcdef");
    // The timeout is per body: an idle keep-alive connection is not cut by it.
    co_await after(400ms);
    co_await stream->write(get("/"));
    Response next = co_await read_response(*stream);
    EXPECT_EQ(next.code, 200);
  });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, IdleConnectionTimeoutClosesIdleConnections) {
  HTTPServerOptions options;
  options.idle_connection_timeout = 150ms;
  HTTPServer server([](std::shared_ptr<HTTPServerRequest> request) { reply(*request, "hi"); },
                    options);
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    // A connection that never sends anything.
    auto start = Clock::now();
    auto silent = co_await connect_to(port_of(server));
    EXPECT_EQ(co_await gen::with_timeout(3s, rest_until_close(*silent)), "");
    double elapsed = seconds_since(start);
    EXPECT_GE(elapsed, 0.14);
    EXPECT_LT(elapsed, 2.0);

    // A keep-alive connection, idle after its response.
    auto stream = co_await connect_to(port_of(server));
    co_await stream->write(get("/"));
    Response response = co_await read_response(*stream);
    EXPECT_EQ(response.body, "hi");
    EXPECT_FALSE(response.connection_lists("close"));
    auto idle_start = Clock::now();
    EXPECT_EQ(co_await gen::with_timeout(3s, rest_until_close(*stream)), "");
    EXPECT_GE(seconds_since(idle_start), 0.14);
    EXPECT_TRUE(co_await eventually([&] { return server.connection_count() == 0; }));
  });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, HeaderTimeoutClosesAConnectionWhoseHeadStalls) {
  HTTPServerOptions options;
  options.header_timeout = 150ms;
  HTTPServer server([](std::shared_ptr<HTTPServerRequest> request) { reply(*request, "hi"); },
                    options);
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    auto start = Clock::now();
    co_await stream->write("GET / HTTP/1.1\r\nHost: te");
    std::string answer = co_await gen::with_timeout(3s, rest_until_close(*stream));
    double elapsed = seconds_since(start);
    // Closed without an answer, or with 408 Request Timeout.
    if (!answer.empty()) {
      EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 408") << answer;
    }
    EXPECT_GE(elapsed, 0.14);
    EXPECT_LT(elapsed, 2.0);
  });
  close_all(server);
}

// ---- how responses are framed --------------------------------------------------------------

/// Answers /chunked with three writes and no Content-Length, /head-* and /204, /304 without a
/// body, and records HTTPOutputErrors from writing a body where none may go.
struct FramingServer {
  std::vector<std::string> output_errors;

  HTTPServer::RequestCallback callback() {
    return [this](std::shared_ptr<HTTPServerRequest> request) {
      HTTPConnection& conn = *request->connection;
      ResponseStartLine start_line;
      HTTPHeaders headers;
      headers.add("Content-Type", "text/plain");
      if (request->path == "/chunked" && request->method == "HEAD") {
        conn.write_headers(start_line, headers);
        conn.finish();
      } else if (request->path == "/chunked") {
        conn.write_headers(start_line, headers, "first,");
        conn.write("second,");
        conn.write("");  // nothing: no chunk (an empty one would end the body)
        conn.write("third");
        conn.finish();
      } else if (request->path == "/length") {
        headers.add("Content-Length", "11");
        conn.write_headers(start_line, headers);
        conn.write("hello ");
        conn.write("world");
        conn.finish();
      } else if (request->path == "/no-content" || request->path == "/not-modified") {
        start_line.code = request->path == "/no-content" ? 204 : 304;
        conn.write_headers(start_line, headers);
        try {
          conn.write("body");
        } catch (const HTTPOutputError&) {
          output_errors.push_back(request->path);
        }
        conn.finish();
      } else {  // /resource: 11 bytes, for GET and HEAD
        headers.add("Content-Length", "11");
        if (request->method == "HEAD") {
          conn.write_headers(start_line, headers);
          try {
            conn.write("hello world");
          } catch (const HTTPOutputError&) {
            output_errors.push_back("HEAD " + request->path);
          }
        } else {
          conn.write_headers(start_line, headers, "hello world");
        }
        conn.finish();
      }
    };
  }
};

TEST_F(HTTPServerOptionsTest, ResponseWithoutContentLengthIsChunkedOnHttp11) {
  FramingServer framing;
  HTTPServer server(framing.callback());
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    co_await stream->write(get("/chunked"));
    Response response = co_await read_response(*stream);
    EXPECT_EQ(response.code, 200);
    EXPECT_TRUE(response.chunked);
    EXPECT_FALSE(response.has("Content-Length"));
    EXPECT_EQ(response.header("Transfer-Encoding"), "chunked");
    EXPECT_EQ(response.chunks, (std::vector<std::string>{"first,", "second,", "third"}));
    EXPECT_EQ(response.body, "first,second,third");
    EXPECT_TRUE(response.trailers.empty());
    EXPECT_FALSE(response.connection_lists("close"));
    // The connection goes on: the chunked framing delimited the body.
    co_await stream->write(get("/length"));
    Response next = co_await read_response(*stream);
    EXPECT_FALSE(next.chunked);
    EXPECT_EQ(next.body, "hello world");
  });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, ResponseWithoutContentLengthOnHttp10EndsWithTheConnection) {
  FramingServer framing;
  HTTPServer server(framing.callback());
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    co_await stream->write("GET /chunked HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    Response response = co_await read_response(*stream);
    EXPECT_EQ(response.code, 200);
    EXPECT_FALSE(response.chunked);
    EXPECT_FALSE(response.has("Transfer-Encoding"));  // RFC 9112 §6.1: never to HTTP/1.0
    EXPECT_TRUE(response.until_close);
    EXPECT_EQ(response.body, "first,second,third");
    EXPECT_FALSE(response.connection_lists("keep-alive"));
  });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, Http10KeepAliveWithContentLength) {
  FramingServer framing;
  HTTPServer server(framing.callback());
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    co_await stream->write("GET /resource HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    Response first = co_await read_response(*stream);
    EXPECT_EQ(first.body, "hello world");
    EXPECT_TRUE(first.connection_lists("keep-alive"));
    co_await stream->write("GET /resource HTTP/1.0\r\n\r\n");  // no keep-alive this time
    Response second = co_await read_response(*stream);
    EXPECT_EQ(second.body, "hello world");
    EXPECT_FALSE(second.connection_lists("keep-alive"));
    EXPECT_EQ(co_await gen::with_timeout(2s, rest_until_close(*stream)), "");
  });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, HeadResponsesHaveNoBody) {
  FramingServer framing;
  HTTPServer server(framing.callback());
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    co_await stream->write("HEAD /resource HTTP/1.1\r\nHost: t\r\n\r\n");
    Response head = co_await read_response(*stream, "HEAD");
    EXPECT_EQ(head.code, 200);
    EXPECT_EQ(head.header("Content-Length"), "11");
    EXPECT_EQ(head.body, "");
    // A HEAD answered without Content-Length is not chunked either.
    co_await stream->write("HEAD /chunked HTTP/1.1\r\nHost: t\r\n\r\n");
    Response head_chunked = co_await read_response(*stream, "HEAD");
    EXPECT_FALSE(head_chunked.has("Transfer-Encoding"));
    // Had a body been sent, this GET's response would not parse.
    co_await stream->write(get("/resource"));
    Response next = co_await read_response(*stream);
    EXPECT_EQ(next.body, "hello world");
    EXPECT_FALSE(next.connection_lists("close"));
  });
  EXPECT_EQ(framing.output_errors, (std::vector<std::string>{"HEAD /resource"}));
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, NoContentAndNotModifiedHaveNoBody) {
  FramingServer framing;
  HTTPServer server(framing.callback());
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    std::string pipelined = get("/no-content");
    pipelined.append(get("/not-modified")).append(get("/resource"));
    co_await stream->write(pipelined);
    Response no_content = co_await read_response(*stream);
    EXPECT_EQ(no_content.code, 204);
    EXPECT_EQ(no_content.reason, "No Content");
    EXPECT_FALSE(no_content.has("Transfer-Encoding"));
    EXPECT_FALSE(no_content.has("Content-Length"));
    Response not_modified = co_await read_response(*stream);
    EXPECT_EQ(not_modified.code, 304);
    EXPECT_FALSE(not_modified.has("Transfer-Encoding"));
    Response resource = co_await read_response(*stream);
    EXPECT_EQ(resource.body, "hello world");
    EXPECT_FALSE(resource.connection_lists("close"));
  });
  EXPECT_EQ(framing.output_errors, (std::vector<std::string>{"/no-content", "/not-modified"}));
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, AnApplicationDateHeaderIsKeptAndNotDoubled) {
  HTTPServer server([](std::shared_ptr<HTTPServerRequest> request) {
    HTTPHeaders headers;
    headers.add("Date", "Sun, 06 Nov 1994 08:49:37 GMT");
    headers.add("Content-Length", "0");
    ResponseStartLine start_line;
    request->connection->write_headers(start_line, headers);
    request->connection->finish();
  });
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    co_await stream->write(get("/"));
    // read_head insists on a Date close to now, so read this head by hand.
    std::string head = co_await stream->read_until("\r\n\r\n", kMaxLine);
    HTTPHeaders headers;
    std::size_t start = head.find("\r\n") + 2;
    while (start < head.size() - 2) {
      std::size_t end = head.find("\r\n", start) + 2;
      parse_field(head.substr(start, end - start), headers);
      start = end;
    }
    EXPECT_EQ(headers.get_list("Date"), (std::vector<std::string>{"Sun, 06 Nov 1994 08:49:37 GMT"}));
  });
  close_all(server);
}

// ---- Expect: 100-continue, early answers, output errors ------------------------------------

TEST_F(HTTPServerOptionsTest, ExpectContinueGets100BeforeTheBody) {
  HTTPServerOptions options;
  options.max_body_size = 100;
  HTTPServer server(
      [](std::shared_ptr<HTTPServerRequest> request) { reply(*request, "got " + request->body); },
      options);
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    co_await stream->write(
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    Response interim = co_await read_head(*stream);
    EXPECT_EQ(interim.code, 100);
    EXPECT_FALSE(interim.has("Content-Length"));
    co_await stream->write("hello");
    Response response = co_await read_response(*stream);
    EXPECT_EQ(response.code, 200);
    EXPECT_EQ(response.body, "got hello");

    // A body the server will refuse is refused at once, without 100 Continue (RFC 9110
    // §10.1.1: the final status is known from the head).
    auto refused = co_await connect_to(port_of(server));
    co_await refused->write(
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n");
    Response first = co_await read_head(*refused);
    EXPECT_EQ(first.code, 413);
  });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, AnAnswerWrittenBeforeTheBodyIsReadSkipsContinueAndCloses) {
  RecordingApp app;
  HTTPServer server(app);
  server.listen(0, "127.0.0.1");
  app.on_headers = [](Exchange& exchange) -> std::optional<Future<void>> {
    HTTPHeaders headers;
    headers.add("Content-Length", "6");
    ResponseStartLine start_line;
    start_line.code = 403;
    exchange.conn->write_headers(start_line, headers, "denied");
    exchange.conn->finish();
    return std::nullopt;
  };
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    co_await stream->write(
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    Response response = co_await read_response(*stream);
    EXPECT_EQ(response.code, 403);
    EXPECT_EQ(response.reason, "Forbidden");
    EXPECT_EQ(response.body, "denied");
    // The unread body cannot be told from a next request: the connection ends.
    EXPECT_EQ(co_await gen::with_timeout(2s, rest_until_close(*stream)), "");
  });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, OutputErrorsForBadWritesAndAShortBody) {
  std::vector<std::string> errors;
  HTTPServer server([&](std::shared_ptr<HTTPServerRequest> request) {
    HTTPConnection& conn = *request->connection;
    ResponseStartLine start_line;
    HTTPHeaders headers;
    if (request->path == "/split") {
      ResponseStartLine evil;
      evil.reason = "OK\r\nInjected: yes";
      try {
        conn.write_headers(evil, headers);
      } catch (const HTTPOutputError&) {
        errors.push_back("reason");
      }
      start_line.reason = "Quite OK";
      headers.add("Content-Length", "3");
      conn.write_headers(start_line, headers, "abc");
      try {
        conn.write_headers(start_line, headers);
      } catch (const HTTPOutputError&) {
        errors.push_back("twice");
      }
      try {
        conn.write("d");
      } catch (const HTTPOutputError&) {
        errors.push_back("past length");
      }
      conn.finish();
      try {
        conn.write("e");
      } catch (const HTTPOutputError&) {
        errors.push_back("after finish");
      }
    } else {  // /short: promises 10 bytes, sends 5
      headers.add("Content-Length", "10");
      conn.write_headers(start_line, headers, "12345");
      try {
        conn.finish();
      } catch (const HTTPOutputError&) {
        errors.push_back("short");
      }
    }
  });
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    co_await stream->write(get("/split"));
    Response response = co_await read_response(*stream);
    EXPECT_EQ(response.code, 200);
    EXPECT_EQ(response.reason, "Quite OK");
    EXPECT_FALSE(response.has("Injected"));
    EXPECT_EQ(response.body, "abc");
    // Nothing of the refused writes went out: the connection serves the next request cleanly.
    co_await stream->write(get("/short"));
    Response short_head = co_await read_head(*stream);
    EXPECT_EQ(short_head.header("Content-Length"), "10");
    // The body is cut: the connection closes after what was written.
    EXPECT_EQ(co_await gen::with_timeout(2s, rest_until_close(*stream)), "12345");
  });
  EXPECT_EQ(errors,
            (std::vector<std::string>{"reason", "twice", "past length", "after finish", "short"}));
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, SetBodyTimeoutFromHeadersReceived) {
  RecordingApp app;
  HTTPServer server(app);  // no body_timeout of its own
  server.listen(0, "127.0.0.1");
  app.on_headers = [](Exchange& exchange) -> std::optional<Future<void>> {
    exchange.conn->set_body_timeout(150ms);
    return std::nullopt;
  };
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    auto start = Clock::now();
    co_await stream->write("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    std::string rest;
    try {
      rest = co_await gen::with_timeout(1500ms, rest_until_close(*stream));
    } catch (const TimeoutError&) {
      ADD_FAILURE() << "the body timeout set in headers_received did not close the connection";
      co_return;
    }
    EXPECT_EQ(rest, "");
    EXPECT_GE(seconds_since(start), 0.14);
    EXPECT_LT(seconds_since(start), 2.0);
  });
  ASSERT_EQ(app.exchanges.size(), 1u);
  EXPECT_TRUE(app.exchanges[0]->connection_closed);
  EXPECT_FALSE(app.exchanges[0]->finished);
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, APausedDelegateStopsReadingSoTheBufferStaysBounded) {
  RecordingApp app;
  HTTPServerOptions options;
  options.max_buffer_size = 64 * 1024;
  options.chunk_size = 16 * 1024;
  HTTPServer server(app, options);
  server.listen(0, "127.0.0.1");
  Future<void> gate;
  std::size_t received = 0;
  app.on_data = [&](Exchange& exchange, std::string_view chunk) -> std::optional<Future<void>> {
    received += chunk.size();
    exchange.body.clear();  // keep only the count
    if (exchange.pieces.size() == 1) return gate;
    exchange.pieces.clear();
    exchange.pieces.emplace_back("counted");
    return std::nullopt;
  };
  app.on_finish = [&](Exchange& exchange) {
    std::string count = std::to_string(received);
    HTTPHeaders headers;
    headers.add("Content-Length", std::to_string(count.size()));
    ResponseStartLine start_line;
    exchange.conn->write_headers(start_line, headers, count);
    exchange.conn->finish();
  };
  const std::size_t size = std::size_t{4} << 20;
  run_sync(
      [&]() -> Future<void> {
        auto stream = co_await connect_to(port_of(server));
        Future<void> sent = stream->write(post("/", std::string(size, 'z')));
        co_await after(200ms);  // paused all along: the server must not have read the rest
        EXPECT_EQ(server.connection_count(), 1u);
        gate.set_result();
        co_await sent;
        Response response = co_await read_response(*stream);
        EXPECT_EQ(response.code, 200);
        EXPECT_EQ(response.body, std::to_string(size));
      },
      20s);
  close_all(server);
}

/// A client socket with a small receive buffer, so that a large response cannot all sit in the
/// kernel.
Future<std::unique_ptr<IOStream>> connect_small_window(std::uint16_t port) {
  SocketAddress address = SocketAddress::from_ip("127.0.0.1", port);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw OSError(errno, "socket");
  int size = 16 * 1024;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  auto stream = std::make_unique<IOStream>(fd);
  co_await stream->connect(address);
  co_return stream;
}

TEST_F(HTTPServerOptionsTest, FlushWaitsUntilASlowClientReads) {
  const std::size_t size = std::size_t{16} << 20;
  bool flushed = false;
  std::vector<Future<void>> writers;
  HTTPServer server([&](std::shared_ptr<HTTPServerRequest> request) {
    auto writer = [](std::shared_ptr<HTTPServerRequest> request, std::size_t size,
                     bool* flushed) -> Future<void> {
      ResponseStartLine start_line;
      HTTPHeaders headers;
      headers.add("Content-Length", std::to_string(size));
      request->connection->write_headers(start_line, headers);
      request->connection->write(std::string(size, 'w'));
      co_await request->connection->flush();
      *flushed = true;
      request->connection->finish();
    };
    writers.push_back(writer(request, size, &flushed));
  });
  server.listen(0, "127.0.0.1");
  run_sync(
      [&]() -> Future<void> {
        auto stream = co_await connect_small_window(port_of(server));
        co_await stream->write(get("/big"));
        co_await after(100ms);
        EXPECT_FALSE(flushed) << "flush completed while the client read nothing";
        Response response = co_await read_response(*stream);
        EXPECT_EQ(response.body.size(), size);
        EXPECT_EQ(response.body.find_first_not_of('w'), std::string::npos);
        co_await gen::multi(writers);
        EXPECT_TRUE(flushed);
      },
      20s);
  close_all(server);
}

// ---- flush and writes from later callbacks -------------------------------------------------

TEST_F(HTTPServerOptionsTest, FlushCompletesAndTheClientSeesTheFirstPartBeforeTheRest) {
  Future<void> release;
  bool flushed = false;
  std::vector<Future<void>> writers;
  HTTPServer server([&](std::shared_ptr<HTTPServerRequest> request) {
    auto writer = [](std::shared_ptr<HTTPServerRequest> request, Future<void> release,
                     bool* flushed) -> Future<void> {
      ResponseStartLine start_line;
      HTTPHeaders headers;
      request->connection->write_headers(start_line, headers, "part one;");
      co_await request->connection->flush();
      *flushed = true;
      co_await release;
      request->connection->write("part two");
      co_await request->connection->flush();
      request->connection->finish();
    };
    writers.push_back(writer(request, release, &flushed));
  });
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    co_await stream->write(get("/stream"));
    Response head = co_await read_head(*stream);
    EXPECT_EQ(head.header("Transfer-Encoding"), "chunked");
    std::optional<std::string> first = co_await read_chunk(*stream, head);
    EXPECT_EQ(first, "part one;");
    EXPECT_TRUE(flushed);
    release.set_result();
    std::optional<std::string> second = co_await read_chunk(*stream, head);
    EXPECT_EQ(second, "part two");
    std::optional<std::string> last = co_await read_chunk(*stream, head);
    EXPECT_FALSE(last.has_value());
    co_await gen::multi(writers);
  });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, FlushWithNothingWrittenIsDoneAtOnce) {
  std::vector<Future<void>> flushes;
  HTTPServer server([&](std::shared_ptr<HTTPServerRequest> request) {
    ResponseStartLine start_line;
    HTTPHeaders headers;
    headers.add("Content-Length", "2");
    request->connection->write_headers(start_line, headers, "ok");
    flushes.push_back(request->connection->flush());
    request->connection->finish();
    flushes.push_back(request->connection->flush());
  });
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    Response response = co_await fetch(port_of(server), get("/"));
    EXPECT_EQ(response.body, "ok");
    co_await gen::multi(flushes);
  });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, ResponsesWrittenFromLaterCallbacksAreDeliveredInOrder) {
  HTTPServer server([](std::shared_ptr<HTTPServerRequest> request) {
    // Each request says how long to wait before answering.
    int delay_ms = std::stoi(request->arguments.at("delay").front());
    IOLoop::current().call_later(std::chrono::milliseconds(delay_ms), [request] {
      ResponseStartLine start_line;
      HTTPHeaders headers;
      request->connection->write_headers(start_line, headers);  // chunked
      request->connection->write("late ");
      IOLoop::current().call_later(10ms, [request] {
        request->connection->write(request->arguments.at("delay").front());
        request->connection->finish();
      });
    });
  });
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    std::string pipelined = get("/?delay=80");
    pipelined.append(get("/?delay=0")).append(get("/?delay=30"));
    co_await stream->write(pipelined);
    EXPECT_EQ((co_await read_response(*stream)).body, "late 80");
    EXPECT_EQ((co_await read_response(*stream)).body, "late 0");
    EXPECT_EQ((co_await read_response(*stream)).body, "late 30");
  });
  close_all(server);
}

TEST_F(HTTPServerOptionsTest, WritesAfterTheConnectionClosedAreDroppedAndFlushFails) {
  std::shared_ptr<HTTPServerRequest> held;
  HTTPServer server([&](std::shared_ptr<HTTPServerRequest> request) { held = request; });
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    co_await stream->write(get("/"));
    EXPECT_TRUE(co_await eventually([&] { return held != nullptr; }));
    stream.reset();
    EXPECT_TRUE(co_await eventually([&] { return held->connection->closed(); }));
    ResponseStartLine start_line;
    HTTPHeaders headers;
    headers.add("Content-Length", "4");
    EXPECT_NO_THROW(held->connection->write_headers(start_line, headers, "late"));
    EXPECT_THROW(co_await held->connection->flush(), StreamClosedError);
  });
  close_all(server);
}

// ---- close_all_connections, shutdown, shutdown_on_signal -----------------------------------

TEST_F(HTTPServerOptionsTest, CloseAllConnectionsClosesEveryConnection) {
  std::vector<std::shared_ptr<HTTPServerRequest>> held;
  HTTPServer server([&](std::shared_ptr<HTTPServerRequest> request) {
    if (request->path == "/hold") {
      held.push_back(request);
    } else {
      reply(*request, "done");
    }
  });
  server.listen(0, "127.0.0.1");
  run_sync([&]() -> Future<void> {
    const std::uint16_t port = port_of(server);
    auto idle = co_await connect_to(port);
    co_await idle->write(get("/"));
    EXPECT_EQ((co_await read_response(*idle)).body, "done");
    auto in_flight = co_await connect_to(port);
    co_await in_flight->write(get("/hold"));
    auto silent = co_await connect_to(port);
    EXPECT_TRUE(co_await eventually([&] {
      return held.size() == 1 && server.connection_count() == 3;
    }));
    Future<void> closed = server.close_all_connections();
    co_await gen::with_timeout(2s, closed);
    EXPECT_EQ(server.connection_count(), 0u);
    EXPECT_EQ(co_await gen::with_timeout(2s, rest_until_close(*idle)), "");
    EXPECT_EQ(co_await gen::with_timeout(2s, rest_until_close(*in_flight)), "");
    EXPECT_EQ(co_await gen::with_timeout(2s, rest_until_close(*silent)), "");
    EXPECT_TRUE(held.front()->connection->closed());
    // The server still listens: close_all_connections does not stop it.
    Response again = co_await fetch(port, get("/"));
    EXPECT_EQ(again.body, "done");
  });
  close_all(server);
  // With no connection at all, the Future is done at once.
  Future<void> nothing = server.close_all_connections();
  EXPECT_TRUE(nothing.done());
}

TEST_F(HTTPServerOptionsTest, DelegateIsToldWhenTheClientLeavesBeforeTheResponse) {
  RecordingApp app;
  HTTPServer server(app);
  server.listen(0, "127.0.0.1");
  app.on_finish = [](Exchange&) {};  // the response never comes
  run_sync([&]() -> Future<void> {
    auto stream = co_await connect_to(port_of(server));
    co_await stream->write(post("/wait", "body"));
    EXPECT_TRUE(co_await eventually([&] {
      return !app.exchanges.empty() && app.exchanges.front()->finished;
    }));
    stream.reset();
    EXPECT_TRUE(co_await eventually([&] { return server.connection_count() == 0; }));
  });
  ASSERT_EQ(app.exchanges.size(), 1u);
  EXPECT_TRUE(app.exchanges[0]->connection_closed);
  EXPECT_TRUE(app.exchanges[0]->conn->closed());
  std::vector<std::string> expected = {"start_request", "headers_received POST /wait",
                                       "data_received 4", "finish", "on_connection_close",
                                       "on_close"};
  EXPECT_EQ(app.events, expected);
}

TEST_F(HTTPServerOptionsTest, CloseAllConnectionsTellsInFlightDelegates) {
  RecordingApp app;
  HTTPServer server(app);
  server.listen(0, "127.0.0.1");
  app.on_finish = [](Exchange&) {};
  run_sync([&]() -> Future<void> {
    auto first = co_await connect_to(port_of(server));
    auto second = co_await connect_to(port_of(server));
    co_await first->write(get("/a"));
    co_await second->write("POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\npartial");
    EXPECT_TRUE(co_await eventually([&] { return app.exchanges.size() == 2; }));
    co_await gen::with_timeout(2s, server.close_all_connections());
    EXPECT_EQ(co_await gen::with_timeout(2s, rest_until_close(*first)), "");
    EXPECT_EQ(co_await gen::with_timeout(2s, rest_until_close(*second)), "");
  });
  ASSERT_EQ(app.exchanges.size(), 2u);
  for (const auto& exchange : app.exchanges) {
    EXPECT_TRUE(exchange->connection_closed) << exchange->start_line.path;
  }
  EXPECT_EQ(std::count(app.events.begin(), app.events.end(), "on_close"), 2);
}

TEST_F(HTTPServerOptionsTest, DestroyingTheServerClosesItsConnections) {
  std::shared_ptr<HTTPServerRequest> held;
  auto server = std::make_unique<HTTPServer>(
      [&](std::shared_ptr<HTTPServerRequest> request) {
        if (request->path == "/hold") {
          held = request;
        } else {
          reply(*request, "ok");
        }
      });
  server->listen(0, "127.0.0.1");
  const std::uint16_t port = port_of(*server);
  run_sync([&]() -> Future<void> {
    auto idle = co_await connect_to(port);
    co_await idle->write(get("/"));
    EXPECT_EQ((co_await read_response(*idle)).body, "ok");
    auto in_flight = co_await connect_to(port);
    co_await in_flight->write(get("/hold"));
    EXPECT_TRUE(co_await eventually([&] { return held != nullptr; }));
    server.reset();
    EXPECT_EQ(co_await gen::with_timeout(2s, rest_until_close(*idle)), "");
    EXPECT_EQ(co_await gen::with_timeout(2s, rest_until_close(*in_flight)), "");
    EXPECT_THROW(co_await connect_to(port), StreamClosedError);
    co_await iterations(5);  // what the closed connections left on the loop runs now
    // The held request outlives the server: writing to it does nothing.
    EXPECT_TRUE(held->connection->closed());
    HTTPHeaders headers;
    headers.add("Content-Length", "2");
    ResponseStartLine start_line;
    held->connection->write_headers(start_line, headers, "ok");
    held->connection->finish();
  });
}

TEST_F(HTTPServerOptionsTest, ShutdownStopsAcceptingClosesIdleAndLetsRequestsFinish) {
  std::vector<std::shared_ptr<HTTPServerRequest>> held;
  HTTPServer server([&](std::shared_ptr<HTTPServerRequest> request) {
    if (request->path == "/slow") {
      IOLoop::current().call_later(400ms, [request] { reply(*request, "slow done"); });
    } else if (request->path == "/never") {
      held.push_back(request);
    } else {
      reply(*request, "quick");
    }
  });
  server.listen(0, "127.0.0.1");
  const std::uint16_t port = port_of(server);
  run_sync(
      [&]() -> Future<void> {
        auto idle = co_await connect_to(port);
        co_await idle->write(get("/"));
        EXPECT_EQ((co_await read_response(*idle)).body, "quick");
        auto slow = co_await connect_to(port);
        co_await slow->write(get("/slow"));
        auto never = co_await connect_to(port);
        co_await never->write(get("/never"));
        EXPECT_TRUE(co_await eventually([&] {
          return held.size() == 1 && server.connection_count() == 3;
        }));

        auto start = Clock::now();
        Future<void> done = server.shutdown(1s);
        EXPECT_FALSE(done.done());
        // No new connections.
        try {
          co_await connect_to(port);
          ADD_FAILURE() << "connected to a server that is shutting down";
        } catch (const StreamClosedError& e) {
          try {
            std::rethrow_exception(e.real_error());
          } catch (const OSError& os) {
            EXPECT_EQ(os.code(), ECONNREFUSED) << os.what();
          }
        }
        // The idle connection closes at once.
        EXPECT_EQ(co_await gen::with_timeout(2s, rest_until_close(*idle)), "");
        EXPECT_LT(seconds_since(start), 0.3);
        // The request in flight finishes, told that the connection closes.
        Response slow_response = co_await read_response(*slow);
        EXPECT_EQ(slow_response.body, "slow done");
        EXPECT_TRUE(slow_response.connection_lists("close"));
        EXPECT_EQ(co_await gen::with_timeout(2s, rest_until_close(*slow)), "");
        EXPECT_LT(seconds_since(start), 0.9);
        EXPECT_FALSE(done.done());
        // The one that never finishes is cut at the timeout.
        EXPECT_EQ(co_await gen::with_timeout(3s, rest_until_close(*never)), "");
        double cut_at = seconds_since(start);
        EXPECT_GE(cut_at, 0.95);
        EXPECT_LT(cut_at, 3.0);
        co_await gen::with_timeout(2s, done);
        EXPECT_EQ(server.connection_count(), 0u);
        EXPECT_TRUE(held.front()->connection->closed());
      },
      10s);
}

TEST_F(HTTPServerOptionsTest, ShutdownWithoutConnectionsIsDoneAtOnce) {
  HTTPServer server([](std::shared_ptr<HTTPServerRequest> request) { reply(*request, "x"); });
  server.listen(0, "127.0.0.1");
  const std::uint16_t port = port_of(server);
  Future<void> done = server.shutdown(5s);
  EXPECT_TRUE(done.done());
  EXPECT_TRUE(server.addresses().empty());
  run_sync([&]() -> Future<void> {
    EXPECT_THROW(co_await connect_to(port), StreamClosedError);
  });
}

TEST_F(HTTPServerOptionsTest, ShutdownOnSignalShutsDownThenStopsTheLoop) {
  HTTPServer server([](std::shared_ptr<HTTPServerRequest> request) { reply(*request, "up"); });
  server.listen(0, "127.0.0.1");
  const std::uint16_t port = port_of(server);
  std::unique_ptr<IOStream> client;
  run_sync([&]() -> Future<void> {
    client = co_await connect_to(port);
    co_await client->write(get("/"));
    EXPECT_EQ((co_await read_response(*client)).body, "up");
  });
  ASSERT_EQ(server.connection_count(), 1u);

  server.shutdown_on_signal(SIGTERM, 2s);
  io_loop().add_callback([] { ::raise(SIGTERM); });
  bool gave_up = false;
  TimeoutHandle safety = io_loop().call_later(5s, [&] {
    gave_up = true;
    io_loop().stop();
  });
  auto start = Clock::now();
  io_loop().start();  // returns once the shutdown completed
  io_loop().remove_timeout(safety);
  EXPECT_FALSE(gave_up) << "the loop did not stop after SIGTERM";
  EXPECT_LT(seconds_since(start), 1.5);  // the idle connection closed at once
  EXPECT_EQ(server.connection_count(), 0u);
  EXPECT_TRUE(server.addresses().empty());
  run_sync([&]() -> Future<void> {
    EXPECT_EQ(co_await gen::with_timeout(2s, rest_until_close(*client)), "");
    EXPECT_THROW(co_await connect_to(port), StreamClosedError);
  });
  io_loop().remove_signal_handler(SIGTERM);
}

}  // namespace
}  // namespace squall
