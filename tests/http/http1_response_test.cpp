// The client's response-head parser (RFC 9112 §4 and §6.3), and the URL helpers of the client.
#include "http/http1_response.hpp"

#include <gtest/gtest.h>

#include <string>

#include "http/client_url.hpp"
#include "squall/util/error.hpp"

namespace squall::http1 {
namespace {

using namespace std::string_view_literals;
using Status = ResponseParser::Status;

struct Parsed {
  Status status;
  ResponseHead head;
  ParseError error;
};

Parsed parse(std::string_view data, bool head_request = false,
             std::size_t max_header_size = 65536) {
  ResponseParser parser(max_header_size);
  Parsed out{};
  out.status = parser.parse(data, head_request, out.head, out.error);
  return out;
}

void expect_rejected(std::string_view data, std::string_view why = {}) {
  Parsed p = parse(data);
  EXPECT_EQ(p.status, Status::kError) << "accepted: " << data;
  if (!why.empty()) {
    EXPECT_NE(p.error.message.find(why), std::string::npos) << p.error.message;
  }
}

std::string_view header(const ResponseHead& head, std::string_view name) {
  for (const auto& field : head.headers) {
    if (field.name == name) return field.value;
  }
  return "<missing>";
}

TEST(HTTP1ResponseTest, ParsesAStatusLineAndHeaders) {
  std::string_view data =
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Two:  spaced value \r\n\r\nhello";
  Parsed p = parse(data);
  ASSERT_EQ(p.status, Status::kDone) << p.error.message;
  EXPECT_EQ(p.head.version_minor, 1);
  EXPECT_EQ(p.head.code, 200);
  EXPECT_EQ(p.head.reason, "OK");
  EXPECT_EQ(p.head.status_line, "HTTP/1.1 200 OK\r\n");
  EXPECT_EQ(header(p.head, "X-Two"), "spaced value");
  EXPECT_EQ(p.head.framing, ResponseFraming::kContentLength);
  EXPECT_EQ(p.head.content_length, 5u);
  EXPECT_TRUE(p.head.keep_alive);
  EXPECT_EQ(p.head.size, data.size() - 5);
}

TEST(HTTP1ResponseTest, AcceptsAMissingOrEmptyReason) {
  Parsed bare = parse("HTTP/1.1 204\r\n\r\n");
  ASSERT_EQ(bare.status, Status::kDone) << bare.error.message;
  EXPECT_EQ(bare.head.code, 204);
  EXPECT_EQ(bare.head.reason, "");
  Parsed empty = parse("HTTP/1.1 404 \r\n\r\n");
  ASSERT_EQ(empty.status, Status::kDone) << empty.error.message;
  EXPECT_EQ(empty.head.code, 404);
  EXPECT_EQ(empty.head.reason, "");
  Parsed spaced = parse("HTTP/1.1 500 Internal  Server\tError\r\n\r\n");
  ASSERT_EQ(spaced.status, Status::kDone);
  EXPECT_EQ(spaced.head.reason, "Internal  Server\tError");
}

TEST(HTTP1ResponseTest, RefusesMalformedStatusLines) {
  expect_rejected("HTTP/1.1 20 OK\r\n\r\n", "status");
  expect_rejected("HTTP/1.1 2000 OK\r\n\r\n", "status");
  expect_rejected("HTTP/1.1 099 OK\r\n\r\n", "status");
  expect_rejected("HTTP/1.1 abc OK\r\n\r\n", "status");
  expect_rejected("HTTP/1.1  200 OK\r\n\r\n", "status");
  expect_rejected("HTTP/1.1\t200 OK\r\n\r\n", "status line");
  expect_rejected("HTTP/2.0 200 OK\r\n\r\n", "version");
  expect_rejected("HTTP/0.9 200 OK\r\n\r\n", "version");
  expect_rejected("http/1.1 200 OK\r\n\r\n", "status line");
  expect_rejected("HTTP/1.1 200 O\x01K\r\n\r\n", "reason");
  expect_rejected("HTTP/1.1 200 OK\rX\r\n\r\n");
  expect_rejected("ICY 200 OK\r\n\r\n", "status line");
}

TEST(HTTP1ResponseTest, RefusesJunkBeforeAWholeLineArrives) {
  // A response that does not start with "HTTP/" is refused at its first bytes.
  EXPECT_EQ(parse("<html>").status, Status::kError);
  EXPECT_EQ(parse("HTT").status, Status::kIncomplete);
  EXPECT_EQ(parse("HTTX").status, Status::kError);
}

TEST(HTTP1ResponseTest, RefusesAMalformedStatusLineBeforeTheHeadEnds) {
  EXPECT_EQ(parse("HTTP/1.1 2x0 OK\r\nX-A: 1\r\n").status, Status::kError);
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nX-A: 1\r\n").status, Status::kIncomplete);
}

TEST(HTTP1ResponseTest, SkipsEmptyLinesBeforeTheStatusLine) {
  Parsed p = parse("\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(p.status, Status::kDone) << p.error.message;
  EXPECT_EQ(p.head.code, 200);
  EXPECT_EQ(p.head.size, 4 + 38u);
  EXPECT_EQ(parse("\r\n").status, Status::kIncomplete);
  EXPECT_EQ(parse("\n").status, Status::kError);
}

TEST(HTTP1ResponseTest, RefusesBadHeaderLines) {
  expect_rejected("HTTP/1.1 200 OK\r\nNo-Colon\r\n\r\n", "colon");
  expect_rejected("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "header name");
  expect_rejected("HTTP/1.1 200 OK\r\nName : x\r\n\r\n", "header name");
  expect_rejected("HTTP/1.1 200 OK\r\n: x\r\n\r\n", "header name");
  expect_rejected("HTTP/1.1 200 OK\r\nA: 1\r\n folded\r\n\r\n", "folding");
  expect_rejected("HTTP/1.1 200 OK\r\nA: x\x01y\r\n\r\n", "control");
  expect_rejected("HTTP/1.1 200 OK\r\nA: x\ry\r\n\r\n", "control");
  expect_rejected("HTTP/1.1 200 OK\r\nA: x\0y\r\n\r\n"sv, "control");
  expect_rejected("HTTP/1.1 200 OK\nA: x\r\n\r\n", "bare LF");
  expect_rejected("HTTP/1.1 200 OK\r\nA: x\n\r\n", "bare LF");
}

TEST(HTTP1ResponseTest, ChunkedWhenTransferEncodingEndsWithChunked) {
  Parsed p = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n");
  ASSERT_EQ(p.status, Status::kDone) << p.error.message;
  EXPECT_EQ(p.head.framing, ResponseFraming::kChunked);
  EXPECT_TRUE(p.head.keep_alive);
}

TEST(HTTP1ResponseTest, RefusesTransferCodingsOtherThanChunked) {
  expect_rejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "transfer coding");
  expect_rejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "transfer coding");
  expect_rejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "transfer coding");
  expect_rejected(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
      "transfer coding");
  expect_rejected("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.0");
}

TEST(HTTP1ResponseTest, RefusesContentLengthWithTransferEncoding) {
  expect_rejected("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                  "both");
  expect_rejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
                  "both");
}

TEST(HTTP1ResponseTest, RefusesInvalidOrDifferingContentLengths) {
  expect_rejected("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length");
  expect_rejected("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", "Content-Length");
  expect_rejected("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", "Content-Length");
  expect_rejected("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", "Content-Length");
  expect_rejected("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", "Content-Length");
  expect_rejected("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
                  "Content-Length");
  expect_rejected("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                  "conflicting");
  expect_rejected("HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n", "Content-Length");
  // The same value repeated is one length (RFC 9110 §8.6).
  Parsed same = parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\n");
  ASSERT_EQ(same.status, Status::kDone) << same.error.message;
  EXPECT_EQ(same.head.content_length, 3u);
}

TEST(HTTP1ResponseTest, ReadsUntilCloseWithoutLengthOrChunked) {
  Parsed p = parse("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");
  ASSERT_EQ(p.status, Status::kDone);
  EXPECT_EQ(p.head.framing, ResponseFraming::kUntilClose);
  EXPECT_FALSE(p.head.keep_alive);  // the close ends the body
}

TEST(HTTP1ResponseTest, AZeroContentLengthHasNoBody) {
  Parsed p = parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(p.status, Status::kDone);
  EXPECT_EQ(p.head.framing, ResponseFraming::kNone);
  EXPECT_TRUE(p.head.keep_alive);
}

TEST(HTTP1ResponseTest, HeadAnd1xx204And304HaveNoBody) {
  const char* length = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
  EXPECT_EQ(parse(length, /*head_request=*/true).head.framing, ResponseFraming::kNone);
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true).head.framing,
            ResponseFraming::kNone);
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\n\r\n", true).head.framing, ResponseFraming::kNone);
  EXPECT_TRUE(parse("HTTP/1.1 200 OK\r\n\r\n", true).head.keep_alive);
  for (const char* status :
       {"100 Continue", "103 Early Hints", "204 No Content", "304 Not Modified"}) {
    std::string data = std::string("HTTP/1.1 ") + status + "\r\nContent-Length: 10\r\n\r\n";
    Parsed p = parse(data);
    ASSERT_EQ(p.status, Status::kDone) << status << ": " << p.error.message;
    EXPECT_EQ(p.head.framing, ResponseFraming::kNone) << status;
    EXPECT_TRUE(p.head.keep_alive) << status;
  }
}

TEST(HTTP1ResponseTest, InterimResponsesAre1xxButNot101) {
  EXPECT_TRUE(parse("HTTP/1.1 100 Continue\r\n\r\n").head.interim());
  EXPECT_TRUE(parse("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n").head.interim());
  Parsed upgrade = parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n");
  EXPECT_FALSE(upgrade.head.interim());
  EXPECT_FALSE(upgrade.head.keep_alive);
  EXPECT_FALSE(parse("HTTP/1.1 200 OK\r\n\r\n").head.interim());
}

TEST(HTTP1ResponseTest, KeepAliveByVersionAndConnection) {
  EXPECT_TRUE(parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").head.keep_alive);
  EXPECT_FALSE(
      parse("HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n").head.keep_alive);
  EXPECT_FALSE(parse("HTTP/1.1 200 OK\r\nConnection: upgrade, close\r\nContent-Length: 0\r\n\r\n")
                   .head.keep_alive);
  EXPECT_FALSE(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").head.keep_alive);
  Parsed kept = parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(kept.head.version_minor, 0);
  EXPECT_TRUE(kept.head.keep_alive);
  // A later HTTP/1.x is read as 1.1.
  Parsed later = parse("HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(later.status, Status::kDone);
  EXPECT_EQ(later.head.version_minor, 1);
}

TEST(HTTP1ResponseTest, RefusesAHeadPastTheLimit) {
  std::string big = "HTTP/1.1 200 OK\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n";
  EXPECT_EQ(parse(big, false, 1024).status, Status::kError);
  EXPECT_EQ(parse(big, false, big.size()).status, Status::kDone);
  EXPECT_EQ(parse(big, false, big.size() - 1).status, Status::kError);
  // An incomplete head is refused once it is past the limit, without waiting for its end.
  Parsed partial = parse(std::string_view(big).substr(0, 1500), false, 1024);
  EXPECT_EQ(partial.status, Status::kError);
  EXPECT_NE(partial.error.message.find("too large"), std::string::npos);
}

TEST(HTTP1ResponseTest, AHeadSplitAnywhereParsesAsWhole) {
  std::string data =
      "HTTP/1.1 301 Moved Permanently\r\nLocation: /next\r\nContent-Length: 4\r\n"
      "Connection: keep-alive\r\n\r\nbody";
  Parsed whole = parse(data);
  ASSERT_EQ(whole.status, Status::kDone);
  for (std::size_t cut = 0; cut < data.size(); ++cut) {
    ResponseParser parser;
    ResponseHead head;
    ParseError error;
    Status first = parser.parse(std::string_view(data).substr(0, cut), false, head, error);
    if (first == Status::kDone) {
      EXPECT_GE(cut, whole.head.size);
      continue;
    }
    ASSERT_EQ(first, Status::kIncomplete) << "cut at " << cut << ": " << error.message;
    ASSERT_EQ(parser.parse(data, false, head, error), Status::kDone) << cut;
    EXPECT_EQ(head.size, whole.head.size);
    EXPECT_EQ(head.code, 301);
    EXPECT_EQ(header(head, "Location"), "/next");
  }
}

TEST(HTTP1ResponseTest, AHeadFedOneByteAtATimeIsScannedOnce) {
  // 60 KB of headers (and 30 KB of empty lines before them) a byte at a time: rescanning from
  // the start at each call would be quadratic and hit the test's timeout.
  std::string data(30'000, '\0');
  for (std::size_t i = 0; i < data.size(); i += 2) {
    data[i] = '\r';
    data[i + 1] = '\n';
  }
  data += "HTTP/1.1 200 OK\r\n";
  while (data.size() < 90'000) data += "X-Filler: " + std::string(50, 'f') + "\r\n";
  data += "\r\n";
  ResponseParser parser(100'000);
  ResponseHead head;
  ParseError error;
  Status status = Status::kIncomplete;
  for (std::size_t n = 1; n <= data.size(); ++n) {
    status = parser.parse(std::string_view(data).substr(0, n), false, head, error);
    if (status != Status::kIncomplete) {
      EXPECT_EQ(n, data.size()) << error.message;
      break;
    }
  }
  ASSERT_EQ(status, Status::kDone) << error.message;
  EXPECT_EQ(head.size, data.size());
  EXPECT_EQ(head.code, 200);
}

TEST(HTTP1ResponseTest, ResetStartsANewHead) {
  std::string data = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  ResponseParser parser;
  ResponseHead head;
  ParseError error;
  ASSERT_EQ(parser.parse(data, false, head, error), Status::kDone);
  EXPECT_TRUE(head.interim());
  std::string_view rest = std::string_view(data).substr(head.size);
  parser.reset();
  ASSERT_EQ(parser.parse(rest, false, head, error), Status::kDone);
  EXPECT_EQ(head.code, 200);
  EXPECT_EQ(rest.substr(head.size), "ok");
}

}  // namespace
}  // namespace squall::http1

namespace squall::httpclient_detail {
namespace {

TEST(ClientURLTest, ParsesHTTPAndHTTPSURLs) {
  URL url = parse_url("http://127.0.0.1:8080/path/to?q=1&r=2#fragment");
  EXPECT_EQ(url.scheme, "http");
  EXPECT_EQ(url.host, "127.0.0.1");
  EXPECT_EQ(url.port, 8080);
  EXPECT_EQ(url.netloc, "127.0.0.1:8080");
  EXPECT_EQ(url.target, "/path/to?q=1&r=2");
  EXPECT_FALSE(url.username);
  URL secure = parse_url("HTTPS://Example.COM");
  EXPECT_EQ(secure.scheme, "https");
  EXPECT_EQ(secure.port, 443);
  EXPECT_EQ(secure.host, "Example.COM");
  EXPECT_EQ(secure.target, "/");
  EXPECT_EQ(parse_url("http://h?x=1").target, "/?x=1");
  EXPECT_EQ(parse_url("http://h:/a").port, 80);
}

TEST(ClientURLTest, ParsesIPv6LiteralsAndUserinfo) {
  URL url = parse_url("http://user%40x:p%3Ass@[::1]:8443/a");
  EXPECT_EQ(url.host, "::1");
  EXPECT_EQ(url.port, 8443);
  EXPECT_EQ(url.netloc, "[::1]:8443");
  EXPECT_EQ(*url.username, "user@x");
  EXPECT_EQ(*url.password, "p:ss");
  URL bare = parse_url("https://[fe80::1]/");
  EXPECT_EQ(bare.host, "fe80::1");
  EXPECT_EQ(bare.port, 443);
  URL name_only = parse_url("http://u@h/");
  EXPECT_EQ(*name_only.username, "u");
  EXPECT_FALSE(name_only.password);
}

TEST(ClientURLTest, RefusesOtherSchemesAndMalformedURLs) {
  for (const char* bad :
       {"ftp://h/", "file:///etc/passwd", "h/path", "/path", "http:/h/", "http://", "http://:80/",
        "http://h:0/", "http://h:65536/", "http://h:8x/", "http://[::1/", "http://[1.2.3.4]/",
        "http://[::1]x/", "http://h h/", "http://h/a b", "http://h/\x01", "http://h/\xc3\xa9",
        "http://a:b:c/", "http://h\\x/"}) {
    EXPECT_THROW(parse_url(bad), ValueError) << bad;
  }
}

// resolve_url is public now: its tests are in tests/http/httputil_test.cpp.

}  // namespace
}  // namespace squall::httpclient_detail
