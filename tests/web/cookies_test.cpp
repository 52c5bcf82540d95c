// Set-Cookie formatting against Python: the header squall writes is the one Tornado 6.2's
// set_cookie and clear_cookie write, Python's http.cookies.SimpleCookie and squall's parse_cookie
// read back the same bytes, and whatever could inject attributes is refused.
#include "squall/web/cookies.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "squall/http/httputil.hpp"
#include "squall/util/error.hpp"
#include "squall/web/signed_value.hpp"
#include "web/tornado_python.hpp"

namespace squall::web {
namespace {

using nlohmann::json;
using test_support::from_hex;
using test_support::run_tornado_script;
using test_support::to_hex;
using Clock = std::chrono::system_clock;
using namespace std::chrono_literals;

constexpr std::int64_t kDate = 1359312200;  // Sun, 27 Jan 2013 18:43:20 GMT

Clock::time_point at_seconds(std::int64_t seconds) {
  return Clock::time_point(std::chrono::seconds(seconds));
}

// The keyword arguments of Tornado's set_cookie for the same options (expires as a timestamp).
json tornado_kwargs(const CookieOptions& options) {
  json kwargs = {{"path", options.path}};
  if (options.domain) kwargs["domain"] = *options.domain;
  if (options.expires) {
    kwargs["expires"] =
        std::chrono::floor<std::chrono::seconds>(options.expires->time_since_epoch()).count();
  }
  if (options.max_age) kwargs["max_age"] = *options.max_age;
  if (options.httponly) kwargs["httponly"] = true;
  if (options.secure) kwargs["secure"] = true;
  if (!options.samesite.empty()) kwargs["samesite"] = options.samesite;
  return kwargs;
}

struct Case {
  std::string name;
  std::string value;
  CookieOptions options;
};

TEST(Cookies, WritesAttributesInTheOrderPythonSortsThem) {
  CookieOptions options;
  options.domain = "example.com";
  options.expires = at_seconds(kDate) + 999ms;
  options.max_age = 10;
  options.httponly = true;
  options.secure = true;
  options.samesite = "Lax";
  EXPECT_EQ(format_set_cookie("n", "v", options),
            "n=v; Domain=example.com; expires=Sun, 27 Jan 2013 18:43:20 GMT; HttpOnly; "
            "Max-Age=10; Path=/; SameSite=Lax; Secure");
  EXPECT_EQ(format_set_cookie("n", "v"), "n=v; Path=/");
  EXPECT_EQ(format_set_cookie("n", "v", {.domain = "", .path = ""}), "n=v");
}

TEST(Cookies, WritesTheSameHeaderAsTornadoSetCookie) {
  const std::string signed_value =
      create_signed_value(CookieSecret("k"), "session", "user 12", 2, at_seconds(kDate));
  const std::vector<Case> cases = {
      {"n", "plain", {}},
      {"n", "", {}},
      {"n", "a,b", {}},
      {"n", "a\"b", {}},
      {"n", "a\\b", {}},
      {"n", "x=y/z", {}},
      {"n", "(a)[b]{c}<>?@", {}},
      {"n", "a:b|c!#$%&'*+-.^_`~", {}},
      {"session", signed_value, {.httponly = true}},
      {"n", "v", {.domain = "example.com"}},
      {"n", "v", {.expires = at_seconds(kDate)}},
      {"n", "v", {.expires = at_seconds(std::int64_t{-86400} * 365)}},
      {"n", "v", {.path = "/app/x"}},
      {"n", "v", {.path = ""}},
      {"n", "v", {.max_age = 0}},
      {"n", "v", {.max_age = -1}},
      {"n", "v", {.secure = true}},
      {"n", "v", {.samesite = "strict"}},
      {"n", "v", {.samesite = "None"}},
      {"Name_With-All!#$%&'*+.^`|~Token9",
       "v",
       {.domain = ".example.com",
        .expires = at_seconds(kDate),
        .path = "/",
        .max_age = 3600,
        .httponly = true,
        .secure = true,
        .samesite = "Strict"}},
  };
  json args = json::array();
  std::vector<std::string> ours;
  for (const auto& c : cases) {
    args.push_back({c.name, c.value, tornado_kwargs(c.options)});
    ours.push_back(format_set_cookie(c.name, c.value, c.options));
  }
  const json theirs = run_tornado_script(R"PY(
results = []
for name, value, kwargs in args:
    handler = make_handler()
    handler.set_cookie(name, value, **kwargs)
    results.append(handler._new_cookie[name].OutputString(None))
print(json.dumps(results))
)PY",
                                         args);
  ASSERT_EQ(theirs.size(), ours.size());
  for (std::size_t i = 0; i < ours.size(); ++i) EXPECT_EQ(ours[i], theirs[i]) << args[i].dump();
  EXPECT_EQ(ours[8].substr(0, 10), "session=\"2");  // '=' of the base64 padding makes quotes
}

// Every byte a value may hold, read back by Python's SimpleCookie (as latin-1 characters) and by
// squall's parse_cookie, with the attributes.
TEST(Cookies, SimpleCookieAndParseCookieReadBackEveryAllowedByte) {
  std::string every_byte;
  for (int c = 0x21; c < 0x100; ++c) {
    if (c != ';' && c != 0x7f) every_byte += static_cast<char>(c);
  }
  const std::vector<std::string> values = {every_byte, "\xc3\xa9t\xc3\xa9", "\"", "\\", ",", "",
                                           "plain"};
  CookieOptions options{.domain = "example.com",
                        .expires = at_seconds(kDate),
                        .path = "/a/b",
                        .max_age = 42,
                        .httponly = true,
                        .secure = true,
                        .samesite = "Lax"};
  json headers = json::array();
  for (const auto& value : values) {
    const auto header = format_set_cookie("name", value, options);
    headers.push_back(to_hex(header));
    const auto cookies = httputil::parse_cookie(header.substr(0, header.find(';')));
    ASSERT_EQ(cookies.count("name"), 1u) << header;
    EXPECT_EQ(cookies.at("name"), value) << header;
  }
  const json out = run_tornado_script(R"PY(
import http.cookies
results = []
for header in args:
    cookie = http.cookies.SimpleCookie()
    cookie.load(unhex(header).decode("latin-1"))
    morsel = cookie["name"]
    results.append({"value": tohex(morsel.value.encode("latin-1")),
                    "attributes": {k: v for k, v in morsel.items() if v}})
print(json.dumps(results))
)PY",
                                      headers);
  ASSERT_EQ(out.size(), values.size());
  const json attributes = {{"domain", "example.com"}, {"expires", "Sun, 27 Jan 2013 18:43:20 GMT"},
                           {"path", "/a/b"},          {"max-age", "42"},
                           {"httponly", true},        {"secure", true},
                           {"samesite", "Lax"}};
  for (std::size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(from_hex(out[i]["value"].get<std::string>()), values[i]);
    EXPECT_EQ(out[i]["attributes"], attributes);
  }
}

TEST(Cookies, QuotesValuesAsPythonDoes) {
  EXPECT_EQ(format_set_cookie("n", "\xc3\xa9", {.path = ""}), "n=\"\\303\\251\"");
  EXPECT_EQ(format_set_cookie("n", "a,b", {.path = ""}), "n=\"a\\054b\"");
  EXPECT_EQ(format_set_cookie("n", "", {.path = ""}), "n=\"\"");
  EXPECT_EQ(format_set_cookie("n", "a:b", {.path = ""}), "n=a:b");
}

void expect_refused(std::string_view name, std::string_view value, const CookieOptions& options,
                    std::string_view expected_in_message) {
  try {
    format_set_cookie(name, value, options);
    ADD_FAILURE() << "accepted " << name << "=" << value;
  } catch (const ValueError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(expected_in_message), std::string::npos) << message;
    EXPECT_EQ(message.find_first_of("\r\n"), std::string::npos) << message;
  }
}

TEST(Cookies, RefusesNamesThatAreNotTokens) {
  for (const std::string& name : std::vector<std::string>{
           "", "a b", "a;b", "a=b", "a,b", "a:b", "a\tb", "a\"b", "a/b", "(a)", "a\x7f", "\xc3\xa9",
           "a\r\nSet-Cookie: x", std::string("a\0b", 3)}) {
    expect_refused(name, "v", {}, "name");
  }
  expect_refused("a\r\nb", "v", {}, "'a\\x0d\\x0ab'");
}

TEST(Cookies, RefusesValuesThatCouldEndTheValue) {
  for (const std::string& value :
       std::vector<std::string>{"a b", "a;b", "; Path=/evil", "a\r\nb", "a\nb", "a\tb", "a\x7f",
                                "\x01", std::string("a\0b", 3)}) {
    expect_refused("session", value, {}, "'session'");
  }
}

TEST(Cookies, RefusesAttributesThatCouldInjectOthers) {
  expect_refused("n", "v", {.domain = "example.com; Secure"}, "domain");
  expect_refused("n", "v", {.domain = "example.com\r\nX: y"}, "domain");
  expect_refused("n", "v", {.path = "/; HttpOnly"}, "path");
  expect_refused("n", "v", {.path = "/\n"}, "path");
  expect_refused("n", "v", {.samesite = "Lax; Secure"}, "samesite");
  expect_refused("n", "v", {.samesite = "foo"}, "samesite");
  expect_refused("n", "v", {.samesite = "lax "}, "samesite");
  EXPECT_EQ(format_set_cookie("n", "v", {.samesite = "nOnE"}), "n=v; Path=/; SameSite=nOnE");
}

TEST(Cookies, TornadoRefusesTheSameSpacesAndControlCharactersInValues) {
  const json out = run_tornado_script(
      R"PY(
results = []
for value in args:
    try:
        make_handler().set_cookie("n", unhex(value).decode("latin-1"))
        results.append(False)
    except ValueError:
        results.append(True)
print(json.dumps(results))
)PY",
      json::array({to_hex("a b"), to_hex("a\r\nb"), to_hex("a\tb"), to_hex(std::string(1, '\0'))}));
  EXPECT_EQ(out, json::array({true, true, true, true}));
}

TEST(Cookies, ExpiresDaysCountsFromNow) {
  const auto expiry_of = [](const std::string& header) {
    const auto start = header.find("expires=") + 8;
    const auto date = httputil::parse_http_date(header.substr(start, 29));
    EXPECT_TRUE(date) << header;
    return date.value_or(Clock::time_point());
  };
  const auto before = std::chrono::floor<std::chrono::seconds>(Clock::now());
  const auto in_two_days = expiry_of(format_set_cookie("n", "v", {.expires_days = 2}));
  const auto ago = expiry_of(format_set_cookie("n", "v", {.expires_days = -1.5}));
  const auto after = Clock::now();
  EXPECT_GE(in_two_days, before + 48h);
  EXPECT_LE(in_two_days, after + 48h);
  EXPECT_GE(ago, before - 36h);
  EXPECT_LE(ago, after - 36h);
  // An explicit expires wins, as in Tornado.
  EXPECT_EQ(
      expiry_of(format_set_cookie("n", "v", {.expires = at_seconds(kDate), .expires_days = 2})),
      at_seconds(kDate));
}

TEST(Cookies, RefusesExpiriesNoDateCanHold) {
  for (const double days : {std::numeric_limits<double>::quiet_NaN(),
                            std::numeric_limits<double>::infinity(), -1e12, 1e12, 1e6}) {
    expect_refused("n", "v", {.expires_days = days}, "expires_days");
  }
}

TEST(Cookies, ClearCookieWritesAnEmptyValueExpiredAYearAgo) {
  const auto before = std::chrono::floor<std::chrono::seconds>(Clock::now());
  const auto header = format_clear_cookie("c");
  const auto with_domain =
      format_clear_cookie("c", {.domain = "example.com", .path = "/app", .max_age = 5});
  const auto after = Clock::now();
  ASSERT_EQ(header.substr(0, 13), "c=\"\"; expires");
  const auto date = httputil::parse_http_date(header.substr(13 + 1, 29));
  ASSERT_TRUE(date) << header;
  EXPECT_GE(*date, before - std::chrono::days(365));
  EXPECT_LE(*date, after - std::chrono::days(365));

  // Tornado's clear_cookie writes the same, but for its own reading of the clock.
  const json out = run_tornado_script(
      R"PY(
results = []
for kwargs in args:
    handler = make_handler()
    handler.clear_cookie("c", **kwargs)
    results.append(handler._new_cookie["c"].OutputString(None))
print(json.dumps(results))
)PY",
      json::array({json::object(), {{"path", "/app"}, {"domain", "example.com"}}}));
  const auto without_date = [](std::string s) {
    const auto start = s.find("expires=");
    return start == std::string::npos ? s : s.erase(start + 8, 29);
  };
  EXPECT_EQ(without_date(header), without_date(out[0].get<std::string>()));
  EXPECT_EQ(without_date(with_domain), without_date(out[1].get<std::string>()));
  EXPECT_EQ(without_date(with_domain), "c=\"\"; Domain=example.com; expires=; Path=/app");
}

}  // namespace
}  // namespace squall::web
