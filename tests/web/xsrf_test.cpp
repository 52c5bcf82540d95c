// XSRF tokens against Python's Tornado 6.2: tokens squall encodes are read by Tornado's own
// RequestHandler (its _decode_xsrf_token and check_xsrf_cookie) and the other way round.
#include "web/xsrf.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "squall/util/error.hpp"
#include "web/tornado_python.hpp"

namespace squall::web {
namespace {

using nlohmann::json;
using test_support::from_hex;
using test_support::run_tornado_script;
using test_support::to_hex;

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What Tornado's handler reads from each value: [version, token hex, timestamp], nulls if
// nothing.
json tornado_decode(const std::vector<std::string>& values) {
  json hex = json::array();
  for (const auto& value : values) hex.push_back(to_hex(value));
  return run_tornado_script(R"PY(
handler = make_handler()
results = []
for value in args:
    version, token, timestamp = handler._decode_xsrf_token(unhex(value).decode("latin-1"))
    results.append([version, tohex(token), timestamp])
print(json.dumps(results))
)PY",
                            hex);
}

TEST(Xsrf, GeneratesSixteenRandomBytesStampedNow) {
  const auto before = now_seconds();
  const auto first = generate_xsrf_token();
  const auto second = generate_xsrf_token();
  EXPECT_EQ(first.version, std::nullopt);
  EXPECT_EQ(first.token.size(), 16u);
  EXPECT_NE(first.token, second.token);
  EXPECT_GE(first.timestamp, before);
  EXPECT_LE(first.timestamp, now_seconds());
}

TEST(Xsrf, EncodesVersion2WithAFreshMaskEachTime) {
  const std::string token = from_hex("00112233445566778899aabbccddeeff");
  const auto first = encode_xsrf_token(token, 1700000000);
  const auto second = encode_xsrf_token(token, 1700000000);
  EXPECT_NE(first, second);
  for (const auto& encoded : {first, second}) {
    ASSERT_EQ(encoded.size(), 2 + 8 + 1 + 32 + 1 + 10u) << encoded;
    EXPECT_EQ(encoded.substr(0, 2), "2|");
    EXPECT_EQ(encoded.substr(encoded.size() - 11), "|1700000000");
    const auto decoded = decode_xsrf_token(encoded);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->version, 2);
    EXPECT_EQ(decoded->token, token);
    EXPECT_EQ(decoded->timestamp, 1700000000);
  }
}

TEST(Xsrf, EncodesVersion1AsHexAndRefusesOthers) {
  EXPECT_EQ(encode_xsrf_token(from_hex("00ff10"), 5, 1), "00ff10");
  EXPECT_THROW(encode_xsrf_token("x", 5, 3), ValueError);
  EXPECT_THROW(encode_xsrf_token("x", 5, 0), ValueError);
}

TEST(Xsrf, TornadoReadsSquallTokens) {
  std::vector<std::string> tokens;
  std::vector<std::string> values;
  for (int i = 0; i < 8; ++i) {
    tokens.push_back(generate_xsrf_token().token);
    values.push_back(encode_xsrf_token(tokens.back(), 1700000000 + i));
  }
  tokens.push_back(from_hex("0102030405"));  // not a multiple of the mask's length
  values.push_back(encode_xsrf_token(tokens.back(), 0));
  tokens.push_back(from_hex("abcdef"));
  values.push_back(encode_xsrf_token(tokens.back(), 7, 1));
  const json theirs = tornado_decode(values);
  ASSERT_EQ(theirs.size(), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(theirs[i][1], to_hex(tokens[i])) << values[i];
    if (i < 8) {
      EXPECT_EQ(theirs[i][0], 2);
      EXPECT_EQ(theirs[i][2], 1700000000 + static_cast<int>(i));
    }
  }
  EXPECT_EQ(theirs[8][2], 0);
  EXPECT_EQ(theirs[9][0], 1);
}

TEST(Xsrf, SquallReadsTornadoTokens) {
  // Tornado's xsrf_token property on a request without a cookie makes a token, and its
  // _get_raw_xsrf_token gives the raw form to compare with.
  const json out = run_tornado_script(R"PY(
results = []
for _ in range(8):
    handler = make_handler()
    encoded = handler.xsrf_token
    _, token, timestamp = handler._get_raw_xsrf_token()
    v1 = make_handler(settings={"xsrf_cookie_version": 1})
    results.append([encoded.decode(), tohex(token), int(timestamp),
                    v1.xsrf_token.decode(), tohex(v1._get_raw_xsrf_token()[1])])
print(json.dumps(results))
)PY");
  ASSERT_EQ(out.size(), 8u);
  std::set<std::string> tokens;
  for (const auto& row : out) {
    const auto decoded = decode_xsrf_token(row[0].get<std::string>());
    ASSERT_TRUE(decoded) << row[0];
    EXPECT_EQ(decoded->version, 2);
    EXPECT_EQ(to_hex(decoded->token), row[1]);
    EXPECT_EQ(decoded->timestamp, row[2].get<std::int64_t>());
    tokens.insert(decoded->token);

    const auto before = now_seconds();
    const auto v1 = decode_xsrf_token(row[3].get<std::string>());
    ASSERT_TRUE(v1) << row[3];
    EXPECT_EQ(v1->version, 1);
    EXPECT_EQ(to_hex(v1->token), row[4]);
    EXPECT_GE(v1->timestamp, before);  // version 1 carries no time: "now"
    EXPECT_LE(v1->timestamp, now_seconds());
  }
  EXPECT_EQ(tokens.size(), 8u);
}

// The whole check as Tornado's handler runs it: the `_xsrf` cookie and the `_xsrf` argument
// (two encodings of one squall token, each with its own mask) must agree.
TEST(Xsrf, TornadoCheckAcceptsSquallCookieAndArgument) {
  const auto token = generate_xsrf_token();
  const auto other = generate_xsrf_token();
  const json cases = json::array({
      json::array({encode_xsrf_token(token.token, token.timestamp),
                   encode_xsrf_token(token.token, token.timestamp + 5), true}),
      json::array({encode_xsrf_token(token.token, token.timestamp, 1),
                   encode_xsrf_token(token.token, token.timestamp), true}),
      json::array({encode_xsrf_token(token.token, token.timestamp),
                   encode_xsrf_token(other.token, token.timestamp), false}),
  });
  const json out = run_tornado_script(R"PY(
import urllib.parse
results = []
for cookie, argument, _ in args:
    handler = make_handler(uri="/?_xsrf=" + urllib.parse.quote(argument),
                           headers={"Cookie": "_xsrf=" + cookie})
    try:
        handler.check_xsrf_cookie()
        results.append(True)
    except tornado.web.HTTPError as e:
        results.append(False if e.status_code == 403 else e.status_code)
print(json.dumps(results))
)PY",
                                      cases);
  ASSERT_EQ(out.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(out[i], cases[i][2]) << cases[i].dump();
    const auto cookie = decode_xsrf_token(cases[i][0].get<std::string>());
    const auto argument = decode_xsrf_token(cases[i][1].get<std::string>());
    ASSERT_TRUE(cookie && argument);
    EXPECT_EQ(xsrf_tokens_equal(cookie->token, argument->token), cases[i][2].get<bool>());
  }
}

TEST(Xsrf, DecodesOddValuesAsTornadoDoes) {
  const std::vector<std::string> values = {
      "2|00000000|abcd|12",
      "2|01020304|ABCD|12",
      "2|00000000|abcd|12\n",
      "2|00000000|abcd| 12 ",
      "2|00000000|abcd|\t12\r\n",
      "2|00000000|abcd|1_2",
      "2|00000000|abcd|+12",
      "2|00000000|abcd|-12",
      "2|00000000|abcd|1__2",
      "2|00000000|abcd|_12",
      "2|00000000|abcd|12_",
      "2|00000000|abcd|",
      "2|00000000|abcd|x",
      "2|00000000|abc|12",
      "2|0000000g|abcd|12",
      "2|00000000|abcd|12|",
      "2|00000000|abcd",
      "2|",
      "2|||",
      "3|00000000|abcd|12",
      "20|00000000|abcd|12",
      "02|00000000|abcd|12",
      "2|00000000|abcd|\n12",
      "abcdef",
      "ABCDEF",
      "abcde",
      "not hex at all",
      "|",
      std::string("\0\x7f", 2),
  };
  const json theirs = tornado_decode(values);
  ASSERT_EQ(theirs.size(), values.size());
  const auto before = now_seconds();
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto ours = decode_xsrf_token(values[i]);
    if (theirs[i][0].is_null()) {
      EXPECT_EQ(ours, std::nullopt) << values[i];
      continue;
    }
    ASSERT_TRUE(ours) << values[i];
    EXPECT_EQ(ours->version, theirs[i][0].get<int>()) << values[i];
    EXPECT_EQ(to_hex(ours->token), theirs[i][1]) << values[i];
    if (ours->version == 2) {
      EXPECT_EQ(ours->timestamp, theirs[i][2].get<std::int64_t>()) << values[i];
    } else {
      EXPECT_GE(ours->timestamp, before);
    }
  }
}

// Where squall refuses what Tornado takes: an empty token (which can never pass Tornado's
// check), a mask of other than four bytes (Tornado's C speedup reads past a shorter one) and a
// timestamp beyond 64 bits.
TEST(Xsrf, RefusesEmptyTokensOddMasksAndHugeTimestamps) {
  for (const char* value : {"2|00000000||12", "", "2|0000|abcd|12", "2||abcd|12",
                            "2|000000000000|abcd|12", "2|00000000|abcd|99999999999999999999"}) {
    EXPECT_EQ(decode_xsrf_token(value), std::nullopt) << value;
  }
}

TEST(Xsrf, TokensCompareEqualOnlyWhenIdentical) {
  EXPECT_TRUE(xsrf_tokens_equal("abc", "abc"));
  EXPECT_TRUE(xsrf_tokens_equal("", ""));
  EXPECT_FALSE(xsrf_tokens_equal("abc", "abd"));
  EXPECT_FALSE(xsrf_tokens_equal("abc", "abcd"));
  EXPECT_FALSE(xsrf_tokens_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
}

}  // namespace
}  // namespace squall::web
