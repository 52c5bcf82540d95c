// The request-head parser and chunked decoder of http1connection, against RFC 9112 and the
// conformance cases of ../shared/parity/SPEC.md §7.
#include "http/http1_parser.hpp"

#include <gtest/gtest.h>

#include <string>

namespace squall::http1 {
namespace {

using namespace std::string_view_literals;

struct Parsed {
  RequestParser::Status status;
  RequestHead head;
  ParseError error;
};

Parsed parse(std::string_view data, std::size_t max_header_size = 65536) {
  RequestParser parser(max_header_size);
  Parsed out{};
  out.status = parser.parse(data, out.head, out.error);
  return out;
}

void expect_rejected(std::string_view data, int status) {
  Parsed p = parse(data);
  EXPECT_EQ(p.status, RequestParser::Status::kError) << "accepted: " << data;
  EXPECT_EQ(p.error.status, status) << data << " -> " << p.error.message;
}

std::string_view header(const RequestHead& head, std::string_view name) {
  for (const auto& field : head.headers) {
    if (field.name == name) return field.value;
  }
  return "<missing>";
}

TEST(HTTP1ParserTest, ParsesARequestLineAndHeaders) {
  Parsed p = parse("GET /path?q=1 HTTP/1.1\r\nHost: example\r\nX-Two:  spaced value \r\n\r\nBODY");
  ASSERT_EQ(p.status, RequestParser::Status::kDone) << p.error.message;
  EXPECT_EQ(p.head.method, "GET");
  EXPECT_EQ(p.head.target, "/path?q=1");
  EXPECT_EQ(p.head.version_minor, 1);
  EXPECT_EQ(header(p.head, "Host"), "example");
  EXPECT_EQ(header(p.head, "X-Two"), "spaced value");
  EXPECT_EQ(p.head.size, std::string_view("GET /path?q=1 HTTP/1.1\r\nHost: example\r\nX-Two:  "
                                          "spaced value \r\n\r\n")
                             .size());
  EXPECT_TRUE(p.head.keep_alive);
  EXPECT_EQ(p.head.framing, BodyFraming::kNone);
}

TEST(HTTP1ParserTest, ATargetWithASpaceOrAControlCharacterAnywhereIsRefused) {
  // Targets of every length up to 40, with each forbidden byte at each place: the check goes
  // 8 bytes at a time and must miss none.
  for (std::size_t length = 1; length <= 40; ++length) {
    const std::string clean = "/" + std::string(length - 1, 'a');
    std::string request = "GET " + clean + " HTTP/1.1\r\nHost: h\r\n\r\n";
    Parsed ok = parse(request);
    ASSERT_EQ(ok.status, RequestParser::Status::kDone) << request;
    EXPECT_EQ(ok.head.target, clean);
    for (std::size_t at = 1; at < length; ++at) {
      for (const char bad : {' ', '\t', '\x7f', '\x01', '\x1f', '\0'}) {
        std::string target = clean;
        target[at] = bad;
        expect_rejected("GET " + target + " HTTP/1.1\r\nHost: h\r\n\r\n", 400);
      }
      std::string high = clean;  // bytes past ASCII are the application's to judge
      high[at] = '\xc3';
      EXPECT_EQ(parse("GET " + high + " HTTP/1.1\r\nHost: h\r\n\r\n").status,
                RequestParser::Status::kDone)
          << length << " " << at;
    }
  }
  // The version's last space is found the same way whether the line ends as usual or not.
  expect_rejected("GET / HTTP/1. \r\nHost: h\r\n\r\n", 400);
  expect_rejected("GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400);
  EXPECT_EQ(parse("GET / HTTP/1.0\r\n\r\n").head.version_minor, 0);
  EXPECT_EQ(parse("GET / HTTP/1.7\r\nHost: h\r\n\r\n").head.version_minor, 1);
}

TEST(HTTP1ParserTest, AnIncompleteHeadAsksForMore) {
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: x\r\n").status, RequestParser::Status::kIncomplete);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: x\r\n\r").status, RequestParser::Status::kIncomplete);
}

TEST(HTTP1ParserTest, AHeadFedOneByteAtATimeIsScannedOnce) {
  // 60 KB of headers delivered a byte at a time: 60,000 calls. Rescanning from the start each
  // time would be quadratic (billions of steps) and hit the test's timeout.
  std::string request = "GET / HTTP/1.1\r\nHost: h\r\n";
  while (request.size() < 60'000) request += "X-Filler: " + std::string(50, 'f') + "\r\n";
  request += "\r\n";
  RequestParser parser;
  RequestHead head;
  ParseError error;
  RequestParser::Status status = RequestParser::Status::kIncomplete;
  for (std::size_t n = 1; n <= request.size(); ++n) {
    status = parser.parse(std::string_view(request).substr(0, n), head, error);
    if (status != RequestParser::Status::kIncomplete) {
      EXPECT_EQ(n, request.size()) << "stopped at byte " << n << ": " << error.message;
      break;
    }
  }
  ASSERT_EQ(status, RequestParser::Status::kDone) << error.message;
  EXPECT_EQ(head.headers.size(), 1 + (request.size() - 27) / 62);  // Host and 62-byte fillers
}

TEST(HTTP1ParserTest, ManyTinyHeadersParseInOnePass) {
  std::string request = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 20'000; ++i) request += "a:b\r\n";
  request += "\r\n";
  Parsed p = parse(request, 1 << 20);
  ASSERT_EQ(p.status, RequestParser::Status::kDone);
  EXPECT_EQ(p.head.headers.size(), 20'001u);  // Host and the tiny ones
}

TEST(HTTP1ParserTest, EmptyLinesBeforeTheRequestLineAreIgnored) {
  Parsed p = parse("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(p.status, RequestParser::Status::kDone) << p.error.message;
  EXPECT_EQ(p.head.method, "GET");
}

TEST(HTTP1ParserTest, LongTargetsAndValuesWithinTheLimitAreAccepted) {
  std::string target = "/" + std::string(7999, 'a');
  Parsed p = parse("GET " + target + " HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(8192, 'v') +
                   "\r\n\r\n");
  ASSERT_EQ(p.status, RequestParser::Status::kDone) << p.error.message;
  EXPECT_EQ(p.head.target.size(), 8000u);
}

TEST(HTTP1ParserTest, AHeaderSectionOverTheLimitIs431) {
  expect_rejected("GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(70'000, 'v') + "\r\n\r\n", 431);
  // Also while still incomplete: the client cannot make the server buffer without end.
  Parsed p = parse("GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(70'000, 'v'));
  EXPECT_EQ(p.status, RequestParser::Status::kError);
  EXPECT_EQ(p.error.status, 431);
}

TEST(HTTP1ParserTest, VersionsAreHandledAsTheSpecSays) {
  Parsed p10 = parse("GET / HTTP/1.0\r\n\r\n");  // without Host: served
  ASSERT_EQ(p10.status, RequestParser::Status::kDone);
  EXPECT_EQ(p10.head.version_minor, 0);
  EXPECT_FALSE(p10.head.keep_alive);
  Parsed p12 = parse("GET / HTTP/1.2\r\nHost: x\r\n\r\n");  // served as 1.1
  ASSERT_EQ(p12.status, RequestParser::Status::kDone);
  EXPECT_EQ(p12.head.version_minor, 1);
  expect_rejected("GET / HTTP/2.0\r\n\r\n", 505);
  expect_rejected("GET / HTTP/3.0\r\n\r\n", 505);
  expect_rejected("GET / http/1.1\r\n\r\n", 400);
  expect_rejected("GET / HTTP/1\r\n\r\n", 400);
  expect_rejected("GET / HTTP/0.9\r\n\r\n", 400);
  expect_rejected("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);  // the HTTP/2 preface
}

TEST(HTTP1ParserTest, MalformedRequestLinesAre400) {
  expect_rejected("GARBAGE\r\n\r\n", 400);
  expect_rejected("GET /\r\n\r\n", 400);  // HTTP/0.9: never answered with a bare body
  expect_rejected("GET / extra HTTP/1.1\r\n\r\n", 400);
  expect_rejected(" GET / HTTP/1.1\r\n\r\n", 400);
  expect_rejected("GET  / HTTP/1.1\r\n\r\n", 400);
  expect_rejected("GET /a\0b HTTP/1.1\r\n\r\n"sv, 400);     // NUL in the target
  expect_rejected("G@T / HTTP/1.1\r\n\r\n", 400);           // not a token
  expect_rejected("GET / HTTP/1.1\nHost: x\r\n\r\n", 400);  // bare LF
  expect_rejected("GET / HTTP/1.1\rX: y\r\n\r\n", 400);     // bare CR
}

TEST(HTTP1ParserTest, MalformedHeaderLinesAre400) {
  expect_rejected("GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400);
  expect_rejected("GET / HTTP/1.1\r\nName : v\r\n\r\n", 400);    // white space before colon
  expect_rejected("GET / HTTP/1.1\r\n X: v\r\n\r\n", 400);       // before the first header
  expect_rejected("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400);  // obs-fold
  expect_rejected("GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", 400);   // control character
  expect_rejected("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"sv, 400);   // NUL
  expect_rejected("GET / HTTP/1.1\r\nX: a\nY: b\r\n\r\n", 400);  // bare LF inside
  expect_rejected("GET / HTTP/1.1\r\n: empty name\r\n\r\n", 400);
  Parsed tab = parse("GET / HTTP/1.1\r\nHost: h\r\nX: a\tb\r\n\r\n");  // HTAB is allowed in values
  EXPECT_EQ(tab.status, RequestParser::Status::kDone);
}

TEST(HTTP1ParserTest, ContentLengthFramesTheBody) {
  Parsed p = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_EQ(p.status, RequestParser::Status::kDone);
  EXPECT_EQ(p.head.framing, BodyFraming::kContentLength);
  EXPECT_EQ(p.head.content_length, 5u);
  Parsed same =
      parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n");
  ASSERT_EQ(same.status, RequestParser::Status::kDone);
  EXPECT_EQ(same.head.content_length, 5u);
  Parsed zero = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(zero.head.framing, BodyFraming::kNone);
}

TEST(HTTP1ParserTest, InvalidOrConflictingContentLengthsAre400) {
  for (std::string_view value :
       {"0x5", "abc", "", "5 5", "5.0", "5;", "-5", "+5", "99999999999999999999999"}) {
    expect_rejected(
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::string(value) + "\r\n\r\n", 400);
  }
  expect_rejected("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                  400);
  expect_rejected("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\n", 400);
}

TEST(HTTP1ParserTest, TransferEncodingRulesStopSmuggling) {
  Parsed p = parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n");
  ASSERT_EQ(p.status, RequestParser::Status::kDone);
  EXPECT_EQ(p.head.framing, BodyFraming::kChunked);
  expect_rejected(
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
  expect_rejected("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400);
  expect_rejected(
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
      "chunked\r\n\r\n",
      400);
  expect_rejected("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 400);
  expect_rejected("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501);
}

TEST(HTTP1ParserTest, KeepAliveFollowsVersionAndConnection) {
  EXPECT_FALSE(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").head.keep_alive);
  EXPECT_FALSE(
      parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n").head.keep_alive);
  EXPECT_TRUE(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").head.keep_alive);
  EXPECT_EQ(parse("GET / HTTP/1.0\r\n\r\n").status, RequestParser::Status::kDone);
  EXPECT_TRUE(
      parse("GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n").head.expect_continue);
  EXPECT_FALSE(parse("GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").head.expect_continue);
}

/// Decodes `input` fed in pieces of `step` bytes; the body, or the error status.
std::pair<std::string, int> decode_chunked(std::string_view input, std::size_t step,
                                           std::size_t max_trailer_size = 65536) {
  ChunkedDecoder decoder(max_trailer_size);
  std::string buffer, body;
  std::size_t fed = 0;
  for (;;) {
    std::size_t consumed = 0;
    std::string_view data;
    ParseError error;
    auto status = decoder.decode(buffer, consumed, data, error);
    if (status == ChunkedDecoder::Status::kData) body.append(data);
    if (status == ChunkedDecoder::Status::kError) return {body, error.status};
    buffer.erase(0, consumed);
    if (status == ChunkedDecoder::Status::kDone) return {body, 0};
    if (status == ChunkedDecoder::Status::kNeedMore) {
      if (fed >= input.size()) return {body, -1};  // truncated
      std::size_t n = std::min(step, input.size() - fed);
      buffer.append(input.substr(fed, n));
      fed += n;
    }
  }
}

TEST(HTTP1ParserTest, ChunkedBodiesDecodeHoweverTheBytesArrive) {
  std::string_view input =
      "5\r\nhello\r\nA;ext=1\r\n, world!!!\r\na\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n";
  for (std::size_t step : {1u, 2u, 3u, 7u, 1000u}) {
    auto [body, status] = decode_chunked(input, step);
    EXPECT_EQ(status, 0) << "step " << step;
    EXPECT_EQ(body, "hello, world!!!0123456789") << "step " << step;
  }
}

TEST(HTTP1ParserTest, MalformedChunkedFramingIsRejected) {
  for (std::string_view input : {"x\r\nhello\r\n0\r\n\r\n",    // non-hex size
                                 "\r\nhello\r\n0\r\n\r\n",     // empty size
                                 "5\r\nhelloXX0\r\n\r\n",      // missing CRLF after data
                                 "-5\r\nhello\r\n0\r\n\r\n",   // negative
                                 "0x5\r\nhello\r\n0\r\n\r\n",  // 0x prefix
                                 "5 x\r\nhello\r\n0\r\n\r\n",  // junk after the size
                                 "5\nhello\r\n0\r\n\r\n",      // bare LF
                                 "fffffffffffffffff\r\n"}) {   // oversized size
    auto [body, status] = decode_chunked(input, 1000);
    EXPECT_EQ(status, 400) << input;
  }
}

// Regression (found by fuzz/chunked_fuzz): a trailer of exactly the limit was accepted whole
// but refused when its final CRLF arrived in two pieces, the lone CR counted as a field's.
TEST(HTTP1ParserTest, ATrailerAtTheLimitIsAcceptedHoweverItArrives) {
  std::string trailer;
  while (trailer.size() < 1000) trailer += "x: " + std::string(7, 'v') + "\r\n";  // 12-byte lines
  trailer += "y: " + std::string(1024 - trailer.size() - 5, 'w') + "\r\n";        // exactly 1024
  ASSERT_EQ(trailer.size(), 1024u);
  std::string input = "0\r\n" + trailer + "\r\n";
  for (std::size_t step : {1u, 2u, 5u, 4096u}) {
    ChunkedDecoder decoder(1024);
    std::string buffer;
    std::size_t fed = 0;
    ChunkedDecoder::Status status = ChunkedDecoder::Status::kNeedMore;
    while (status == ChunkedDecoder::Status::kNeedMore && fed < input.size()) {
      std::size_t n = std::min(step, input.size() - fed);
      buffer.append(input, fed, n);
      fed += n;
      std::size_t consumed = 0;
      std::string_view data;
      ParseError error;
      status = decoder.decode(buffer, consumed, data, error);
      buffer.erase(0, consumed);
    }
    EXPECT_EQ(status, ChunkedDecoder::Status::kDone) << "step " << step;
  }
  // One byte more is refused, whole or in pieces.
  std::string over = "0\r\n" + trailer.substr(0, 1012) + "y: " + std::string(8, 'w') + "\r\n\r\n";
  EXPECT_EQ(decode_chunked(over, 1, 1024).second, 431);
  EXPECT_EQ(decode_chunked(over, 4096, 1024).second, 431);
}

TEST(HTTP1ParserTest, HTTP11NeedsExactlyOneHost) {
  expect_rejected("GET / HTTP/1.1\r\n\r\n", 400);
  expect_rejected("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
  expect_rejected("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nhOsT: a\r\n\r\n").status, RequestParser::Status::kDone);
}

}  // namespace
}  // namespace squall::http1
