#include "squall/http/body_arguments.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "squall/testing/testing.hpp"
#include "squall/util/error.hpp"
#include "squall/util/log.hpp"

namespace squall {
namespace {

using squall::testing::ExpectLog;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;
using Values = std::vector<std::string>;

struct Form {
  Arguments arguments;
  Files files;
};

Form parse(std::string_view content_type, std::string_view body, BodyLimits limits = {}) {
  Form form;
  httputil::parse_body_arguments(content_type, body, form.arguments, form.files, nullptr, limits);
  return form;
}

Form parse_multipart(std::string_view body, BodyLimits limits = {}) {
  return parse("multipart/form-data; boundary=1234", body, limits);
}

std::string field(std::string_view name, std::string_view value) {
  std::string part = "--1234\r\nContent-Disposition: form-data; name=\"";
  part += name;
  part += "\"\r\n\r\n";
  part += value;
  part += "\r\n";
  return part;
}

constexpr std::string_view kEnd = "--1234--\r\n";

// ---- application/x-www-form-urlencoded

TEST(BodyArgumentsTest, UrlencodedKeepsBlankValues) {
  const auto form = parse("application/x-www-form-urlencoded", "a=&b=2&c");
  EXPECT_EQ(form.arguments.at("a"), Values{""});
  EXPECT_EQ(form.arguments.at("b"), Values{"2"});
  EXPECT_EQ(form.arguments.at("c"), Values{""});
  EXPECT_TRUE(form.files.empty());
}

TEST(BodyArgumentsTest, UrlencodedCollectsRepeatedKeysInOrder) {
  const auto form = parse("application/x-www-form-urlencoded", "k=1&other=x&k=2&k=3");
  EXPECT_EQ(form.arguments.at("k"), (Values{"1", "2", "3"}));
  EXPECT_EQ(form.arguments.size(), 2u);
}

TEST(BodyArgumentsTest, UrlencodedDecodesPlusAsSpaceAndPercentEscapes) {
  const auto form = parse("application/x-www-form-urlencoded", "q=a+b%2Bc%20d&na%6De+x=%3D%26");
  EXPECT_EQ(form.arguments.at("q"), Values{"a b+c d"});
  EXPECT_EQ(form.arguments.at("name x"), Values{"=&"});
}

TEST(BodyArgumentsTest, UrlencodedLeavesBadEscapesAsTheyAre) {
  const auto form = parse("application/x-www-form-urlencoded", "x=%zz%4&y=100%&z=%%41");
  EXPECT_EQ(form.arguments.at("x"), Values{"%zz%4"});
  EXPECT_EQ(form.arguments.at("y"), Values{"100%"});
  EXPECT_EQ(form.arguments.at("z"), Values{"%A"});
}

TEST(BodyArgumentsTest, UrlencodedKeepsDecodedBytesAsTheyAre) {
  const auto form = parse("application/x-www-form-urlencoded", "b=%00%ff%C3%A9");
  EXPECT_EQ(form.arguments.at("b"), Values{std::string("\0\xff\xc3\xa9", 4)});
}

TEST(BodyArgumentsTest, UrlencodedSkipsEmptyPairs) {
  const auto form = parse("application/x-www-form-urlencoded", "&&a=1&&");
  ASSERT_EQ(form.arguments.size(), 1u);
  EXPECT_EQ(form.arguments.at("a"), Values{"1"});
}

TEST(BodyArgumentsTest, UrlencodedAppendsToArgumentsAlreadyThere) {
  Form form;
  form.arguments["a"] = {"from query"};
  httputil::parse_body_arguments("application/x-www-form-urlencoded", "a=from+body", form.arguments,
                                 form.files);
  EXPECT_EQ(form.arguments.at("a"), (Values{"from query", "from body"}));
}

TEST(BodyArgumentsTest, MediaTypeIsMatchedWithoutCaseAndWithParameters) {
  const auto form = parse("Application/X-WWW-Form-Urlencoded; charset=UTF-8", "a=1");
  EXPECT_EQ(form.arguments.at("a"), Values{"1"});
}

TEST(BodyArgumentsTest, OtherContentTypesAreIgnored) {
  const auto form = parse("application/json", "{\"a\": 1}");
  EXPECT_TRUE(form.arguments.empty());
  EXPECT_TRUE(form.files.empty());
}

// ---- multipart/form-data

TEST(BodyArgumentsTest, MultipartSplitsFieldsAndFiles) {
  const std::string body =
      field("title", "hello") +
      "--1234\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"ab.txt\"\r\n"
      "Content-Type: text/plain\r\n\r\nfile body\r\n" +
      field("title", "again") + std::string(kEnd);
  const auto form = parse_multipart(body);
  EXPECT_EQ(form.arguments.at("title"), (Values{"hello", "again"}));
  ASSERT_EQ(form.files.at("upload").size(), 1u);
  const HTTPFile& file = form.files.at("upload")[0];
  EXPECT_EQ(file.filename, "ab.txt");
  EXPECT_EQ(file.content_type, "text/plain");
  EXPECT_EQ(file.body, "file body");
  EXPECT_FALSE(form.arguments.contains("upload"));
}

TEST(BodyArgumentsTest, MultipartFileWithoutContentTypeIsApplicationUnknown) {
  const auto form = parse_multipart(
      "--1234\r\nContent-Disposition: form-data; name=files; "
      "filename=a.bin\r\n\r\nxyz\r\n--1234--");
  EXPECT_EQ(form.files.at("files").at(0).content_type, "application/unknown");
  EXPECT_EQ(form.files.at("files").at(0).body, "xyz");
}

TEST(BodyArgumentsTest, MultipartEmptyFilenameMakesAnArgumentAsInTornado) {
  const auto form = parse_multipart(
      "--1234\r\nContent-Disposition: form-data; name=\"f\"; "
      "filename=\"\"\r\n\r\n\r\n--1234--\r\n");
  EXPECT_TRUE(form.files.empty());
  EXPECT_EQ(form.arguments.at("f"), Values{""});
}

TEST(BodyArgumentsTest, MultipartBodyKeepsCrlfsAndBinaryBytes) {
  constexpr char kRaw[] = "line1\r\nline2\r\n\r\n--123\r\n\0\xff\x80 tail\r\n";
  const std::string content(kRaw, sizeof kRaw - 1);
  const auto form = parse_multipart(
      "--1234\r\nContent-Disposition: form-data; name=\"bin\"; filename=\"b\"\r\n\r\n" + content +
      "\r\n" + std::string(kEnd));
  EXPECT_EQ(form.files.at("bin").at(0).body, content);
}

TEST(BodyArgumentsTest, MultipartPartWithEmptyValueHasAnEmptyArgument) {
  const auto form = parse_multipart(field("empty", "") + std::string(kEnd));
  EXPECT_EQ(form.arguments.at("empty"), Values{""});
}

TEST(BodyArgumentsTest, MultipartAcceptsAQuotedBoundary) {
  const std::string body =
      "--a:b; c\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--a:b; c--\r\n";
  const auto form = parse("multipart/form-data; boundary=\"a:b; c\"", body);
  EXPECT_EQ(form.arguments.at("x"), Values{"1"});

  Form direct;
  httputil::parse_multipart_form_data("\"a:b; c\"", body, direct.arguments, direct.files);
  EXPECT_EQ(direct.arguments.at("x"), Values{"1"});
}

TEST(BodyArgumentsTest, MultipartIgnoresPreambleAndEpilogue) {
  const auto form = parse_multipart(
      "This is a preamble.\r\n-- 1234 is not a boundary line\r\n" + field("a", "1") +
      "--1234--\r\nThis is the epilogue.\r\n--1234\r\nContent-Disposition: "
      "form-data; name=b\r\n\r\n2\r\n");
  EXPECT_EQ(form.arguments.size(), 1u);
  EXPECT_EQ(form.arguments.at("a"), Values{"1"});
}

TEST(BodyArgumentsTest, MultipartAllowsTransportPaddingAfterABoundary) {
  const auto form =
      parse_multipart("--1234 \t\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--1234--");
  EXPECT_EQ(form.arguments.at("a"), Values{"1"});
}

TEST(BodyArgumentsTest, MultipartJoinsContinuedHeaderLines) {
  const auto form = parse_multipart(
      "--1234\r\nContent-Disposition: form-data;\r\n name=\"folded\"\r\n\r\nv\r\n--1234--");
  EXPECT_EQ(form.arguments.at("folded"), Values{"v"});
}

TEST(BodyArgumentsTest, MultipartDecodesAnRfc2231Filename) {
  const auto form = parse_multipart(
      "--1234\r\nContent-Disposition: form-data; name=f; filename=\"fallback.txt\"; "
      "filename*=UTF-8''%E2%82%AC%20rates.txt\r\n\r\nx\r\n--1234--");
  EXPECT_EQ(form.files.at("f").at(0).filename, "\xE2\x82\xAC rates.txt");
}

TEST(BodyArgumentsTest, MultipartWithoutFinalBoundaryThrowsValueError) {
  EXPECT_THROW(parse_multipart(field("a", "1")), HTTPInputError);
  EXPECT_THROW(parse_multipart(field("a", "1") + "--1234"), HTTPInputError);
  EXPECT_THROW(parse_multipart("no boundary at all"), HTTPInputError);
  EXPECT_THROW(parse_multipart(""), HTTPInputError);
}

TEST(BodyArgumentsTest, MultipartTruncatedInsideAPartThrowsValueError) {
  EXPECT_THROW(parse_multipart("--1234\r\nContent-Disposition: form-data; name=a\r\n\r\npartial"),
               HTTPInputError);
}

TEST(BodyArgumentsTest, MultipartBoundaryLineWithTrailingTextThrowsValueError) {
  EXPECT_THROW(
      parse_multipart("--1234x\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--1234--"),
      HTTPInputError);
}

TEST(BodyArgumentsTest, MultipartHeaderLineWithoutColonThrowsValueError) {
  EXPECT_THROW(parse_multipart("--1234\r\nContent-Disposition form-data\r\n\r\n1\r\n--1234--"),
               HTTPInputError);
}

TEST(BodyArgumentsTest, MultipartWithoutBoundaryParameterThrowsValueError) {
  EXPECT_THROW(parse("multipart/form-data", std::string(kEnd)), HTTPInputError);
  EXPECT_THROW(parse("multipart/form-data; boundary=", std::string(kEnd)), HTTPInputError);
  EXPECT_THROW(parse("multipart/form-data; boundary=\"\"", std::string(kEnd)), HTTPInputError);
}

// Malformed parts are refused (a 400), as Tornado does since its CVE-2025-47287 fix (Debian's
// 6.2 has it): a part skipped silently would hide what the client sent.
TEST(BodyArgumentsTest, MultipartPartWithoutNameIsRefused) {
  EXPECT_THAT(
      [] {
        parse_multipart("--1234\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\nx\r\n" +
                        field("b", "2") + std::string(kEnd));
      },
      ThrowsMessage<HTTPInputError>(HasSubstr("missing name")));
}

TEST(BodyArgumentsTest, MultipartPartWithoutHeadersIsRefused) {
  EXPECT_THAT(
      [] { parse_multipart("--1234\r\nno blank line\r\n" + field("b", "2") + std::string(kEnd)); },
      ThrowsMessage<HTTPInputError>(HasSubstr("missing headers")));
}

TEST(BodyArgumentsTest, MultipartPartWithoutFormDataDispositionIsRefused) {
  for (std::string part :
       {"--1234\r\nContent-Disposition: attachment; name=a\r\n\r\n1\r\n",
        "--1234\r\nContent-Type: text/plain\r\n\r\n2\r\n", "--1234\r\n\r\nno headers at all\r\n"}) {
    EXPECT_THAT([&] { parse_multipart(part + field("b", "2") + std::string(kEnd)); },
                ThrowsMessage<HTTPInputError>(HasSubstr("not form-data")))
        << part;
  }
}

TEST(BodyArgumentsTest, MultipartEmptyPartsAreSkipped) {
  const auto form =
      parse_multipart("--1234\r\n--1234\r\n\r\n" + field("a", "1") + std::string(kEnd));
  EXPECT_EQ(form.arguments.size(), 1u);
}

TEST(BodyArgumentsTest, MultipartAtMaxPartsParses) {
  std::string body;
  for (int i = 0; i < 5; ++i) body += field("p", std::to_string(i));
  body += kEnd;
  const auto form = parse_multipart(body, {.max_parts = 5});
  EXPECT_EQ(form.arguments.at("p").size(), 5u);
}

TEST(BodyArgumentsTest, MultipartWithMoreThanMaxPartsThrowsValueError) {
  std::string body;
  for (int i = 0; i < 6; ++i) body += field("p", std::to_string(i));
  body += kEnd;
  EXPECT_THROW(parse_multipart(body, {.max_parts = 5}), HTTPInputError);
}

TEST(BodyArgumentsTest, DefaultLimitRejectsManyEmptyParts) {
  std::string body;
  for (int i = 0; i < 1001; ++i) body += "--1234\r\n";
  body += kEnd;
  EXPECT_THROW(parse_multipart(body), HTTPInputError);
}

TEST(BodyArgumentsTest, MultipartPartHeaderAtTheLimitParses) {
  const std::string header = "Content-Disposition: form-data; name=a";
  const auto form = parse_multipart("--1234\r\n" + header + "\r\n\r\n1\r\n--1234--",
                                    {.max_part_header_size = header.size()});
  EXPECT_EQ(form.arguments.at("a"), Values{"1"});
}

TEST(BodyArgumentsTest, MultipartPartHeaderOverTheLimitThrowsValueError) {
  const std::string header = "Content-Disposition: form-data; name=a";
  EXPECT_THROW(parse_multipart("--1234\r\n" + header + "\r\n\r\n1\r\n--1234--",
                               {.max_part_header_size = header.size() - 1}),
               HTTPInputError);
  const std::string huge =
      "--1234\r\nContent-Disposition: form-data; name=a\r\nX-Pad: " + std::string(20000, 'p') +
      "\r\n\r\n1\r\n--1234--";
  EXPECT_THROW(parse_multipart(huge), HTTPInputError);
}

// Quadratic parsing of these would run into ctest's timeout; no time is asserted.
TEST(BodyArgumentsTest, MultipartParsesTenThousandSmallParts) {
  std::string body;
  for (int i = 0; i < 10000; ++i) {
    std::string name = "n";
    name += std::to_string(i % 100);
    body += field(name, std::to_string(i));
  }
  body += kEnd;
  const auto form = parse_multipart(body, {.max_parts = 10000});
  ASSERT_EQ(form.arguments.size(), 100u);
  EXPECT_EQ(form.arguments.at("n7").size(), 100u);
  EXPECT_EQ(form.arguments.at("n7").back(), "9907");
}

TEST(BodyArgumentsTest, MultipartParsesAFiftyMegabytePartBody) {
  std::string content(50u * 1024 * 1024, 'x');
  for (std::size_t i = 0; i < content.size(); i += 4096) content.replace(i, 8, "\r\n--123\r");
  const auto form = parse_multipart(
      "--1234\r\nContent-Disposition: form-data; name=big; filename=big.bin\r\n\r\n" + content +
      "\r\n" + std::string(kEnd));
  EXPECT_EQ(form.files.at("big").at(0).body.size(), content.size());
  EXPECT_TRUE(form.files.at("big").at(0).body == content);
}

TEST(BodyArgumentsTest, MultipartWithALongBoundaryStaysLinear) {
  const std::string boundary(20000, 'a');
  std::string body;
  // Near-misses of the delimiter, each matching all but its last byte.
  const std::string near_miss = "\r\n--" + boundary.substr(1) + "b";
  body += "--" + boundary + "\r\nContent-Disposition: form-data; name=f\r\n\r\n";
  for (int i = 0; i < 500; ++i) body += near_miss;
  for (int i = 0; i < 300; ++i)
    body += "\r\n--" + boundary + "\r\nContent-Disposition: form-data; name=g\r\n\r\nv";
  body += "\r\n--" + boundary + "--";
  const auto form = parse("multipart/form-data; boundary=" + boundary, body);
  EXPECT_EQ(form.arguments.at("f").at(0).size(), near_miss.size() * 500);
  EXPECT_EQ(form.arguments.at("g").size(), 300u);
}

TEST(BodyArgumentsTest, MultipartBoundaryWithALineBreakThrowsValueError) {
  Form form;
  EXPECT_THROW(
      httputil::parse_multipart_form_data("a\r\nb", "--a\r\nb--", form.arguments, form.files),
      HTTPInputError);
}

// ---- parse_header_params

TEST(BodyArgumentsTest, HeaderParamsSplitMainValueAndLowercaseNames) {
  const auto [value, params] =
      httputil::parse_header_params(" Form-Data ; Name=field ;FILENAME = \"a.txt\" ;flag");
  EXPECT_EQ(value, "Form-Data");
  EXPECT_EQ(params.size(), 2u);
  EXPECT_EQ(params.at("name"), "field");
  EXPECT_EQ(params.at("filename"), "a.txt");
}

TEST(BodyArgumentsTest, HeaderParamsKeepSemicolonsAndEscapesInsideQuotes) {
  const auto [value, params] = httputil::parse_header_params(
      R"(form-data; name="a;b"; filename="say \"hi\"; \\ok.txt"; x=1)");
  EXPECT_EQ(value, "form-data");
  EXPECT_EQ(params.at("name"), "a;b");
  EXPECT_EQ(params.at("filename"), R"(say "hi"; \ok.txt)");
  EXPECT_EQ(params.at("x"), "1");
}

TEST(BodyArgumentsTest, HeaderParamsDecodeRfc2231Values) {
  const auto [value, params] = httputil::parse_header_params(
      "attachment; filename*=UTF-8''%e2%82%ac%20rates.txt; filename=\"plain.txt\"; "
      "title*=iso-8859-1'en'%A3%20rates; other*=us-ascii''caf%E9");
  EXPECT_EQ(value, "attachment");
  EXPECT_EQ(params.at("filename"), "\xE2\x82\xAC rates.txt");
  EXPECT_EQ(params.at("title"), "\xC2\xA3 rates");
  EXPECT_EQ(params.at("other"), "caf\xEF\xBF\xBD");
}

TEST(BodyArgumentsTest, HeaderParamsJoinRfc2231Continuations) {
  const auto [value, params] = httputil::parse_header_params(
      "form-data; name*1=\"second \"; name*0=\"first \"; name*2*=%74hird; "
      "url*0*=utf-8''%41; url*1=B");
  EXPECT_EQ(params.at("name"), "first second third");
  EXPECT_EQ(params.at("url"), "AB");
}

TEST(BodyArgumentsTest, HeaderParamsOfAnEmptyValueAreEmpty) {
  const auto [value, params] = httputil::parse_header_params("");
  EXPECT_EQ(value, "");
  EXPECT_TRUE(params.empty());
}

TEST(BodyArgumentsTest, HeaderParamsStayLinearWithManyQuotesAndSemicolons) {
  std::string header = "form-data";
  for (int i = 0; i < 200000; ++i) header += ";\"";
  const auto [value, params] = httputil::parse_header_params(header);
  EXPECT_EQ(value, "form-data");
}

}  // namespace
}  // namespace squall
