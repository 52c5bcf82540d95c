// HTTPServerRequest (target splitting, arguments, Host, absolute-form targets, full_url,
// request_time, cookies, parse_body) and the default methods of the delegate interfaces. Expected
// values follow Tornado's httputil.HTTPServerRequest, and RFC 9112 for absolute-form targets.
#include "squall/http/message.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "squall/http/http1connection.hpp"
#include "squall/net/iostream.hpp"
#include "squall/testing/testing.hpp"
#include "support/loop_helpers.hpp"

namespace squall {
namespace {

using namespace std::chrono_literals;
using Values = std::vector<std::string>;

HTTPHeaders headers_of(std::initializer_list<std::pair<const char*, const char*>> fields) {
  HTTPHeaders headers;
  for (const auto& [name, value] : fields) headers.add(name, value);
  return headers;
}

// ---- start lines and defaults --------------------------------------------------------------

TEST(StartLineTest, DefaultsAreHttp11And200WithTheStandardReason) {
  RequestStartLine request;
  EXPECT_EQ(request.version, "HTTP/1.1");
  EXPECT_TRUE(request.method.empty());
  EXPECT_TRUE(request.path.empty());
  ResponseStartLine response;
  EXPECT_EQ(response.version, "HTTP/1.1");
  EXPECT_EQ(response.code, 200);
  EXPECT_TRUE(response.reason.empty());
}

TEST(HTTPServerRequestTest, DefaultConstructedRequestIsEmptyHttp) {
  HTTPServerRequest request;
  EXPECT_EQ(request.version, "HTTP/1.1");
  EXPECT_EQ(request.protocol, "http");
  EXPECT_TRUE(request.method.empty());
  EXPECT_TRUE(request.uri.empty());
  EXPECT_TRUE(request.arguments.empty());
  EXPECT_TRUE(request.files.empty());
  EXPECT_EQ(request.connection, nullptr);
  EXPECT_FALSE(request.finish_time.has_value());
  EXPECT_TRUE(request.cookies().empty());
}

// ---- uri, path and query -------------------------------------------------------------------

TEST(HTTPServerRequestTest, SplitsTheUriIntoPathAndQuery) {
  HTTPServerRequest request("GET", "/a/b%20c?x=1&y=two+words&x=3");
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.uri, "/a/b%20c?x=1&y=two+words&x=3");
  EXPECT_EQ(request.path, "/a/b%20c");  // the path is not unescaped, as in Tornado
  EXPECT_EQ(request.query, "x=1&y=two+words&x=3");
  EXPECT_EQ(request.version, "HTTP/1.1");
  EXPECT_EQ(request.query_arguments.at("x"), (Values{"1", "3"}));
  EXPECT_EQ(request.query_arguments.at("y"), (Values{"two words"}));
  EXPECT_EQ(request.arguments, request.query_arguments);
  EXPECT_TRUE(request.body_arguments.empty());
}

TEST(HTTPServerRequestTest, UriWithoutQueryHasAnEmptyQuery) {
  HTTPServerRequest request("POST", "/only/path", "HTTP/1.0");
  EXPECT_EQ(request.path, "/only/path");
  EXPECT_EQ(request.query, "");
  EXPECT_EQ(request.version, "HTTP/1.0");
  EXPECT_TRUE(request.query_arguments.empty());
  EXPECT_TRUE(request.arguments.empty());
}

TEST(HTTPServerRequestTest, TrailingQuestionMarkGivesAnEmptyQuery) {
  HTTPServerRequest request("GET", "/p?");
  EXPECT_EQ(request.path, "/p");
  EXPECT_EQ(request.query, "");
  EXPECT_TRUE(request.query_arguments.empty());
}

TEST(HTTPServerRequestTest, OnlyTheFirstQuestionMarkSplits) {
  HTTPServerRequest request("GET", "/p?a=b?c");
  EXPECT_EQ(request.path, "/p");
  EXPECT_EQ(request.query, "a=b?c");
  EXPECT_EQ(request.query_arguments.at("a"), (Values{"b?c"}));
}

TEST(HTTPServerRequestTest, BlankQueryValuesAreKept) {
  HTTPServerRequest request("GET", "/p?empty=&bare&full=1&&");
  EXPECT_EQ(request.query_arguments.at("empty"), (Values{""}));
  EXPECT_EQ(request.query_arguments.at("bare"), (Values{""}));
  EXPECT_EQ(request.query_arguments.at("full"), (Values{"1"}));
  EXPECT_EQ(request.query_arguments.size(), 3u);  // empty pairs are skipped
  EXPECT_EQ(request.arguments.at("empty"), (Values{""}));
  EXPECT_EQ(request.arguments.at("bare"), (Values{""}));
}

TEST(HTTPServerRequestTest, QueryValuesArePercentDecodedToBytes) {
  HTTPServerRequest request("GET", "/p?k%20ey=%E2%82%AC%zz");
  EXPECT_EQ(request.query_arguments.at("k ey"), (Values{"\xE2\x82\xAC%zz"}));
}

// ---- Host ----------------------------------------------------------------------------------

TEST(HTTPServerRequestTest, HostWithPort) {
  HTTPServerRequest request("GET", "/", "HTTP/1.1", headers_of({{"Host", "example.com:8080"}}));
  EXPECT_EQ(request.host, "example.com:8080");
  EXPECT_EQ(request.host_name, "example.com");
}

TEST(HTTPServerRequestTest, HostWithoutPort) {
  HTTPServerRequest request("GET", "/", "HTTP/1.1", headers_of({{"Host", "example.com"}}));
  EXPECT_EQ(request.host, "example.com");
  EXPECT_EQ(request.host_name, "example.com");
}

TEST(HTTPServerRequestTest, HostNameIsLowerCasedButHostIsKeptAsSent) {
  HTTPServerRequest request("GET", "/", "HTTP/1.1", headers_of({{"Host", "ExAmple.COM:80"}}));
  EXPECT_EQ(request.host, "ExAmple.COM:80");
  EXPECT_EQ(request.host_name, "example.com");
}

TEST(HTTPServerRequestTest, MissingHostIsLoopback) {
  HTTPServerRequest request("GET", "/", "HTTP/1.0");
  EXPECT_EQ(request.host, "127.0.0.1");
  EXPECT_EQ(request.host_name, "127.0.0.1");
}

TEST(HTTPServerRequestTest, EmptyHostIsLoopback) {
  HTTPServerRequest request("GET", "/", "HTTP/1.1", headers_of({{"Host", ""}}));
  EXPECT_EQ(request.host, "127.0.0.1");
  EXPECT_EQ(request.host_name, "127.0.0.1");
}

TEST(HTTPServerRequestTest, Ipv6LiteralHostWithAndWithoutPort) {
  HTTPServerRequest with_port("GET", "/", "HTTP/1.1", headers_of({{"Host", "[::1]:8888"}}));
  EXPECT_EQ(with_port.host, "[::1]:8888");
  EXPECT_EQ(with_port.host_name, "[::1]");
  HTTPServerRequest without_port("GET", "/", "HTTP/1.1", headers_of({{"Host", "[2001:DB8::1]"}}));
  EXPECT_EQ(without_port.host, "[2001:DB8::1]");
  EXPECT_EQ(without_port.host_name, "[2001:db8::1]");
}

// ---- absolute-form targets (RFC 9112 §3.2.2) -----------------------------------------------

TEST(HTTPServerRequestTest, AbsoluteFormTargetGivesPathQueryAndHost) {
  HTTPServerRequest request("GET", "http://h:8/p?q", "HTTP/1.1",
                            headers_of({{"Host", "other.example:1"}}));
  EXPECT_EQ(request.path, "/p");
  EXPECT_EQ(request.query, "q");
  EXPECT_EQ(request.uri, "/p?q");
  // The authority of the target wins over the Host header.
  EXPECT_EQ(request.host, "h:8");
  EXPECT_EQ(request.host_name, "h");
  EXPECT_EQ(request.query_arguments.at("q"), (Values{""}));
  EXPECT_EQ(request.full_url(), "http://h:8/p?q");
}

TEST(HTTPServerRequestTest, AbsoluteFormSchemeIsCaseInsensitiveAndPathDefaultsToSlash) {
  HTTPServerRequest bare("GET", "HTTPS://Example.ORG");
  EXPECT_EQ(bare.host, "Example.ORG");
  EXPECT_EQ(bare.host_name, "example.org");
  EXPECT_EQ(bare.path, "/");
  EXPECT_EQ(bare.query, "");

  HTTPServerRequest query_only("GET", "http://h?x=1");
  EXPECT_EQ(query_only.host, "h");
  EXPECT_EQ(query_only.path, "/");
  EXPECT_EQ(query_only.query, "x=1");
  EXPECT_EQ(query_only.arguments.at("x"), (Values{"1"}));
}

TEST(HTTPServerRequestTest, AbsoluteFormWithIpv6Authority) {
  HTTPServerRequest request("GET", "http://[::1]:9000/x");
  EXPECT_EQ(request.host, "[::1]:9000");
  EXPECT_EQ(request.host_name, "[::1]");
  EXPECT_EQ(request.path, "/x");
}

// ---- full_url and request_time -------------------------------------------------------------

TEST(HTTPServerRequestTest, FullUrlIsProtocolHostAndUri) {
  HTTPServerRequest request("GET", "/a/b?c=d", "HTTP/1.1",
                            headers_of({{"Host", "example.com:8080"}}));
  EXPECT_EQ(request.full_url(), "http://example.com:8080/a/b?c=d");
  request.protocol = "https";
  EXPECT_EQ(request.full_url(), "https://example.com:8080/a/b?c=d");
  HTTPServerRequest no_host("GET", "/");
  EXPECT_EQ(no_host.full_url(), "http://127.0.0.1/");
}

TEST(HTTPServerRequestTest, RequestTimeUsesFinishTimeWhenSet) {
  HTTPServerRequest request("GET", "/");
  request.finish_time = request.start_time + std::chrono::milliseconds(1500);
  EXPECT_DOUBLE_EQ(request.request_time(), 1.5);
  request.finish_time = request.start_time;
  EXPECT_DOUBLE_EQ(request.request_time(), 0.0);
}

TEST(HTTPServerRequestTest, RequestTimeWithoutFinishTimeRunsToNow) {
  auto before = std::chrono::steady_clock::now();
  HTTPServerRequest request("GET", "/");
  auto after = std::chrono::steady_clock::now();
  EXPECT_GE(request.start_time, before);
  EXPECT_LE(request.start_time, after);
  request.start_time = std::chrono::steady_clock::now() - std::chrono::seconds(2);
  double elapsed = request.request_time();
  EXPECT_GE(elapsed, 2.0);
  EXPECT_LT(elapsed, 10.0);
  std::this_thread::sleep_for(5ms);
  EXPECT_GT(request.request_time(), elapsed);  // still running
}

// ---- cookies -------------------------------------------------------------------------------

TEST(HTTPServerRequestTest, CookiesFromSeveralCookieHeaders) {
  HTTPHeaders headers;
  headers.add("Cookie", "a=1; b=2");
  headers.add("Cookie", "c=\"quoted value\"; d=\"x\\\"y\"");
  HTTPServerRequest request("GET", "/", "HTTP/1.1", std::move(headers));
  const auto& cookies = request.cookies();
  EXPECT_EQ(cookies, (std::map<std::string, std::string>{
                         {"a", "1"}, {"b", "2"}, {"c", "quoted value"}, {"d", "x\"y"}}));
  // Parsed once: the same map comes back.
  EXPECT_EQ(&request.cookies(), &cookies);
}

TEST(HTTPServerRequestTest, LaterCookieHeaderReplacesAnEarlierValue) {
  HTTPHeaders headers;
  headers.add("Cookie", "session=old; keep=yes");
  headers.add("Cookie", "session=new");
  HTTPServerRequest request("GET", "/", "HTTP/1.1", std::move(headers));
  EXPECT_EQ(request.cookies().at("session"), "new");
  EXPECT_EQ(request.cookies().at("keep"), "yes");
}

TEST(HTTPServerRequestTest, NoCookieHeaderGivesNoCookies) {
  HTTPServerRequest request("GET", "/", "HTTP/1.1", headers_of({{"Host", "h"}}));
  EXPECT_TRUE(request.cookies().empty());
}

TEST(HTTPServerRequestTest, CookieValuesWithOctalEscapesAndWhitespace) {
  HTTPServerRequest request("GET", "/", "HTTP/1.1",
                            headers_of({{"Cookie", "  semi = \"a\\073b\" ;plain=  v  "}}));
  EXPECT_EQ(request.cookies().at("semi"), "a;b");
  EXPECT_EQ(request.cookies().at("plain"), "v");
}

TEST(HTTPServerRequestTest, CopiesHaveTheirOwnCookies) {
  HTTPServerRequest parsed("GET", "/", "HTTP/1.1", headers_of({{"Cookie", "a=1; b=2"}}));
  const auto& original = parsed.cookies();
  HTTPServerRequest unparsed("GET", "/", "HTTP/1.1", headers_of({{"Cookie", "c=3"}}));

  // A copy made after parsing has its own map with the same cookies.
  HTTPServerRequest copy = parsed;
  EXPECT_NE(&copy.cookies(), &original);
  EXPECT_EQ(copy.cookies(), original);
  // A copy made before parsing parses its own headers.
  HTTPServerRequest late_copy(unparsed);
  EXPECT_EQ(late_copy.cookies(), (std::map<std::string, std::string>{{"c", "3"}}));

  // Assignment replaces the cookies; the source keeps its own.
  late_copy = parsed;
  EXPECT_EQ(late_copy.cookies(), original);
  EXPECT_NE(&late_copy.cookies(), &original);
  unparsed = HTTPServerRequest(copy);  // a move of a parsed request
  EXPECT_EQ(unparsed.cookies(), original);
  EXPECT_EQ(parsed.cookies().at("b"), "2");
}

// ---- parse_body ----------------------------------------------------------------------------

TEST(HTTPServerRequestTest, ParseBodyUrlencodedKeepsBlankValues) {
  HTTPServerRequest request(
      "POST", "/", "HTTP/1.1",
      headers_of({{"Content-Type", "application/x-www-form-urlencoded; charset=UTF-8"}}),
      "a=1&blank=&bare&c=x+y%21");
  request.parse_body();
  EXPECT_EQ(request.body_arguments.at("a"), (Values{"1"}));
  EXPECT_EQ(request.body_arguments.at("blank"), (Values{""}));
  EXPECT_EQ(request.body_arguments.at("bare"), (Values{""}));
  EXPECT_EQ(request.body_arguments.at("c"), (Values{"x y!"}));
  EXPECT_EQ(request.arguments, request.body_arguments);
  EXPECT_TRUE(request.files.empty());
}

TEST(HTTPServerRequestTest, BodyArgumentsAreAppendedAfterQueryArguments) {
  HTTPServerRequest request(
      "POST", "/form?a=from-query&q=only-query", "HTTP/1.1",
      headers_of({{"Content-Type", "application/x-www-form-urlencoded"}}), "a=from-body&b=2");
  request.parse_body();
  EXPECT_EQ(request.arguments.at("a"), (Values{"from-query", "from-body"}));
  EXPECT_EQ(request.arguments.at("q"), (Values{"only-query"}));
  EXPECT_EQ(request.arguments.at("b"), (Values{"2"}));
  EXPECT_EQ(request.query_arguments.at("a"), (Values{"from-query"}));
  EXPECT_EQ(request.body_arguments.at("a"), (Values{"from-body"}));
  EXPECT_EQ(request.query_arguments.count("b"), 0u);
  EXPECT_EQ(request.body_arguments.count("q"), 0u);
}

std::string multipart_body(const std::string& boundary) {
  std::string body;
  body.append("--").append(boundary).append("\r\n");
  body.append("Content-Disposition: form-data; name=\"field\"\r\n\r\n");
  body.append("field value\r\n");
  body.append("--").append(boundary).append("\r\n");
  body.append("Content-Disposition: form-data; name=\"upload\"; filename=\"notes.txt\"\r\n");
  body.append("Content-Type: text/plain\r\n\r\n");
  body.append("line one\r\nline two\r\n");
  body.append("--").append(boundary).append("\r\n");
  body.append("Content-Disposition: form-data; name=\"upload\"; filename=\"blob.bin\"\r\n\r\n");
  body.append(std::string("\x00\x01\xff", 3)).append("\r\n");
  body.append("--").append(boundary).append("--\r\n");
  return body;
}

TEST(HTTPServerRequestTest, ParseBodyMultipartWithFiles) {
  const std::string boundary = "----squallBoundary42";
  HTTPServerRequest request(
      "POST", "/upload?field=query", "HTTP/1.1",
      headers_of({{"Content-Type", "multipart/form-data; boundary=----squallBoundary42"}}),
      multipart_body(boundary));
  request.parse_body();
  EXPECT_EQ(request.body_arguments.at("field"), (Values{"field value"}));
  EXPECT_EQ(request.arguments.at("field"), (Values{"query", "field value"}));
  EXPECT_EQ(request.body_arguments.count("upload"), 0u);
  ASSERT_EQ(request.files.count("upload"), 1u);
  const std::vector<HTTPFile>& uploads = request.files.at("upload");
  ASSERT_EQ(uploads.size(), 2u);
  EXPECT_EQ(uploads[0].filename, "notes.txt");
  EXPECT_EQ(uploads[0].content_type, "text/plain");
  EXPECT_EQ(uploads[0].body, "line one\r\nline two");
  EXPECT_EQ(uploads[1].filename, "blob.bin");
  EXPECT_EQ(uploads[1].content_type, "application/unknown");
  EXPECT_EQ(uploads[1].body, std::string("\x00\x01\xff", 3));
}

TEST(HTTPServerRequestTest, ParseBodyMalformedMultipartThrowsHTTPInputError) {
  // No closing boundary.
  std::string body = "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n";
  HTTPServerRequest request("POST", "/", "HTTP/1.1",
                            headers_of({{"Content-Type", "multipart/form-data; boundary=b"}}),
                            body);
  EXPECT_THROW(request.parse_body(), HTTPInputError);

  // A multipart type without a boundary.
  HTTPServerRequest no_boundary("POST", "/", "HTTP/1.1",
                                headers_of({{"Content-Type", "multipart/form-data"}}), "x");
  EXPECT_THROW(no_boundary.parse_body(), HTTPInputError);

  // A part header line without a colon.
  HTTPServerRequest bad_header(
      "POST", "/", "HTTP/1.1", headers_of({{"Content-Type", "multipart/form-data; boundary=b"}}),
      "--b\r\nnot a header\r\n\r\nvalue\r\n--b--\r\n");
  EXPECT_THROW(bad_header.parse_body(), HTTPInputError);
}

TEST(HTTPServerRequestTest, ParseBodyAppliesTheLimitsGiven) {
  const std::string boundary = "lim";
  HTTPServerRequest request(
      "POST", "/", "HTTP/1.1", headers_of({{"Content-Type", "multipart/form-data; boundary=lim"}}),
      multipart_body(boundary));
  BodyLimits limits;
  limits.max_parts = 2;  // the body has three
  EXPECT_THROW(request.parse_body(limits), HTTPInputError);

  HTTPServerRequest within(
      "POST", "/", "HTTP/1.1", headers_of({{"Content-Type", "multipart/form-data; boundary=lim"}}),
      multipart_body(boundary));
  limits.max_parts = 3;
  EXPECT_NO_THROW(within.parse_body(limits));
  EXPECT_EQ(within.files.at("upload").size(), 2u);
}

TEST(HTTPServerRequestTest, ParseBodyIgnoresOtherContentTypesAndAMissingOne) {
  HTTPServerRequest json("POST", "/?a=1", "HTTP/1.1",
                         headers_of({{"Content-Type", "application/json"}}), "{\"a\": 2}");
  json.parse_body();
  EXPECT_TRUE(json.body_arguments.empty());
  EXPECT_TRUE(json.files.empty());
  EXPECT_EQ(json.arguments.at("a"), (Values{"1"}));
  EXPECT_EQ(json.body, "{\"a\": 2}");

  HTTPServerRequest untyped("POST", "/", "HTTP/1.1", {}, "a=1");
  untyped.parse_body();
  EXPECT_TRUE(untyped.body_arguments.empty());
  EXPECT_TRUE(untyped.arguments.empty());
}

TEST(HTTPServerRequestTest, ParseBodyMediaTypeIsCaseInsensitive) {
  HTTPServerRequest request(
      "POST", "/", "HTTP/1.1",
      headers_of({{"Content-Type", "Application/X-WWW-Form-URLEncoded"}}), "k=v");
  request.parse_body();
  EXPECT_EQ(request.body_arguments.at("k"), (Values{"v"}));
}

// ---- the default delegate methods ----------------------------------------------------------

class BareMessageDelegate : public HTTPMessageDelegate {};

TEST(HTTPMessageDelegateTest, DefaultMethodsDoNothingAndAskNoWait) {
  BareMessageDelegate delegate;
  HTTPMessageDelegate& base = delegate;
  RequestStartLine request_line{"GET", "/", "HTTP/1.1"};
  ResponseStartLine response_line{"HTTP/1.1", 200, "OK"};
  HTTPHeaders headers;
  headers.add("X-Kept", "yes");
  EXPECT_FALSE(base.headers_received(request_line, headers).has_value());
  EXPECT_FALSE(base.headers_received(response_line, headers).has_value());
  EXPECT_EQ(headers.get("X-Kept"), "yes");  // not moved from by the default
  EXPECT_FALSE(base.data_received("some body").has_value());
  EXPECT_FALSE(base.data_received("").has_value());
  EXPECT_NO_THROW(base.finish());
  EXPECT_NO_THROW(base.on_connection_close());
}

/// Overrides only start_request: on_close is the default.
class OnlyStartRequest : public HTTPServerConnectionDelegate {
 public:
  std::unique_ptr<HTTPMessageDelegate> start_request(
      HTTP1ServerConnection&, std::shared_ptr<HTTPConnection>) override {
    ++started;
    return std::make_unique<BareMessageDelegate>();
  }
  int started = 0;
};

class MessageDelegateLoopTest : public testing::AsyncTest {};

TEST_F(MessageDelegateLoopTest, DefaultOnCloseDoesNothing) {
  test_support::SocketPair pair;
  auto stream = std::make_unique<IOStream>(pair.a);
  pair.a = -1;  // the stream owns it now
  HTTP1ServerConnection connection(std::move(stream));
  OnlyStartRequest delegate;
  HTTPServerConnectionDelegate& base = delegate;
  EXPECT_NO_THROW(base.on_close(connection));
  EXPECT_EQ(delegate.started, 0);
}

TEST_F(MessageDelegateLoopTest, ConnectionServesABareDelegateUntilThePeerCloses) {
  // A delegate with only the default methods never answers: the request stays in flight, and
  // closing the peer ends the connection cleanly.
  test_support::SocketPair pair;
  auto stream = std::make_unique<IOStream>(pair.a);
  pair.a = -1;
  HTTP1ServerConnection connection(std::move(stream));
  OnlyStartRequest delegate;
  run_sync([&]() -> Future<void> {
    Future<void> served = connection.start_serving(delegate);
    const std::string request = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
    EXPECT_EQ(::write(pair.b, request.data(), request.size()),
              static_cast<ssize_t>(request.size()));
    co_await test_support::iterations(5);
    EXPECT_EQ(delegate.started, 1);
    EXPECT_FALSE(connection.idle());
    ::close(pair.b);
    pair.b = -1;
    co_await served;
  });
}

}  // namespace
}  // namespace squall
