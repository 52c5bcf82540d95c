// httputil: HTTPHeaders, the HTTP errors, URL and query helpers, HTTP dates, reason phrases and
// cookie parsing. Expected values follow Tornado's and Python's behaviour.
#include "squall/http/httputil.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/http1_parser.hpp"
#include "squall/util/error.hpp"

namespace squall {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using namespace httputil;
using Pairs = std::vector<std::pair<std::string, std::string>>;
using Clock = std::chrono::system_clock;

Pairs all_pairs(const HTTPHeaders& headers) {
  Pairs out;
  for (const auto& [name, value] : headers) out.emplace_back(name, value);
  return out;
}

// `prefix` followed by `i` in decimal (append: GCC 12 warns falsely on "x" + std::string).
std::string numbered(std::string_view prefix, int i) {
  std::string out(prefix);
  out.append(std::to_string(i));
  return out;
}

// Expects `fn` to throw HTTPInputError whose message contains `fragment`.
template <typename Fn>
void expect_input_error(Fn&& fn, std::string_view fragment) {
  try {
    fn();
    ADD_FAILURE() << "no HTTPInputError; expected one mentioning \"" << fragment << "\"";
  } catch (const HTTPInputError& e) {
    EXPECT_NE(std::string_view(e.what()).find(fragment), std::string_view::npos) << e.what();
  }
}

// Expects `fn` to throw HTTPOutputError whose message contains `fragment`.
template <typename Fn>
void expect_output_error(Fn&& fn, std::string_view fragment) {
  try {
    fn();
    ADD_FAILURE() << "no HTTPOutputError; expected one mentioning \"" << fragment << "\"";
  } catch (const HTTPOutputError& e) {
    EXPECT_NE(std::string_view(e.what()).find(fragment), std::string_view::npos) << e.what();
  }
}

// ---- errors ------------------------------------------------------------------------------------

TEST(HTTPUtilTest, HTTPErrorsDeriveFromSquallError) {
  EXPECT_THROW(throw HTTPInputError("bad"), Error);
  EXPECT_THROW(throw HTTPOutputError("bad"), Error);
  EXPECT_STREQ(HTTPInputError("malformed").what(), "malformed");
}

// ---- HTTPHeaders -------------------------------------------------------------------------------

TEST(HTTPUtilTest, NamesAreCaseInsensitiveAndStoredInHttpHeaderCase) {
  HTTPHeaders h;
  h.add("coNtent-TYPE", "text/html");
  EXPECT_TRUE(h.contains("content-type"));
  EXPECT_TRUE(h.contains("CONTENT-TYPE"));
  EXPECT_EQ(h.get("Content-Type"), "text/html");
  EXPECT_EQ(all_pairs(h), (Pairs{{"Content-Type", "text/html"}}));
  EXPECT_EQ(normalize_header("x-FORWARDED-for"), "X-Forwarded-For");
  EXPECT_EQ(normalize_header("etag"), "Etag");
  EXPECT_EQ(normalize_header("a--b-"), "A--B-");
}

TEST(HTTPUtilTest, CommonNamesInAnyCaseAreStoredInHttpHeaderCase) {
  // The usual names, as usually written, take a shortcut; other spellings of them must not.
  const std::vector<std::string> names = {"Host",
                                          "Date",
                                          "Etag",
                                          "Server",
                                          "Accept",
                                          "Cookie",
                                          "Origin",
                                          "Referer",
                                          "Connection",
                                          "User-Agent",
                                          "Set-Cookie",
                                          "Content-Type",
                                          "Cache-Control",
                                          "Last-Modified",
                                          "Content-Length",
                                          "Accept-Encoding",
                                          "Accept-Language",
                                          "Content-Encoding",
                                          "Transfer-Encoding"};
  for (const std::string& name : names) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string upper = name;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (const std::string& spelling : {name, lower, upper}) {
      HTTPHeaders headers;
      headers.add(spelling, "v");
      detail::HTTPHeadersAccess::add_validated(headers, spelling, "w");
      std::vector<std::pair<std::string, std::string>> fields;
      for (auto [n, v] : headers) fields.emplace_back(n, v);
      ASSERT_EQ(fields.size(), 2u) << spelling;
      EXPECT_EQ(fields[0].first, name) << spelling;
      EXPECT_EQ(fields[1].first, name) << spelling;
      EXPECT_EQ(headers.get(lower), "v,w") << spelling;
    }
  }
  // Names as long as a common one but not it still have their case changed and are checked.
  HTTPHeaders headers;
  headers.add("HOSTS", "a");
  headers.add("x-yz", "b");
  std::vector<std::string> stored;
  for (auto [n, v] : headers) stored.emplace_back(n);
  EXPECT_EQ(stored, (std::vector<std::string>{"Hosts", "X-Yz"}));
  EXPECT_THROW(headers.add("Hos ", "c"), HTTPOutputError);
  EXPECT_THROW(headers.add("Date:", "c"), HTTPOutputError);
}

TEST(HTTPUtilTest, RepeatedNamesKeepAllValuesJoinedWithCommaAsTornado) {
  HTTPHeaders h;
  h.add("Set-Cookie", "A=B");
  h.add("set-cookie", "C=D");
  EXPECT_EQ(h.get("SET-COOKIE"), "A=B,C=D");
  EXPECT_EQ(h.get_list("set-cookie"), (std::vector<std::string>{"A=B", "C=D"}));
  EXPECT_EQ(h.size(), 2u);
}

TEST(HTTPUtilTest, IterationGroupsValuesByNameInFirstAddedOrder) {
  HTTPHeaders h;
  h.add("B", "1");
  h.add("A", "2");
  h.add("b", "3");
  h.add("C", "4");
  EXPECT_EQ(all_pairs(h), (Pairs{{"B", "1"}, {"B", "3"}, {"A", "2"}, {"C", "4"}}));
  EXPECT_EQ(static_cast<std::size_t>(std::distance(h.begin(), h.end())), h.size());
}

TEST(HTTPUtilTest, SetReplacesAllValuesAndKeepsThePosition) {
  HTTPHeaders h;
  h.add("A", "1");
  h.add("B", "2");
  h.add("a", "3");
  h.set("A", "x");
  EXPECT_EQ(all_pairs(h), (Pairs{{"A", "x"}, {"B", "2"}}));
  h.set("New", "n");
  EXPECT_EQ(all_pairs(h), (Pairs{{"A", "x"}, {"B", "2"}, {"New", "n"}}));
  EXPECT_EQ(h.size(), 3u);
}

TEST(HTTPUtilTest, GetReturnsNulloptOrTheDefaultForAnAbsentName) {
  HTTPHeaders h;
  EXPECT_EQ(h.get("Missing"), std::nullopt);
  EXPECT_EQ(h.get("Missing", "fallback"), "fallback");
  EXPECT_TRUE(h.get_list("Missing").empty());
  h.add("Empty", "");
  EXPECT_EQ(h.get("Empty"), "");
  EXPECT_EQ(h.get("empty", "fallback"), "");
}

TEST(HTTPUtilTest, EraseRemovesEveryValueAndReAddingGoesLast) {
  HTTPHeaders h;
  h.add("A", "1");
  h.add("B", "2");
  h.add("A", "3");
  EXPECT_TRUE(h.erase("a"));
  EXPECT_FALSE(h.erase("a"));
  EXPECT_FALSE(h.contains("A"));
  EXPECT_EQ(h.size(), 1u);
  h.add("A", "4");
  EXPECT_EQ(all_pairs(h), (Pairs{{"B", "2"}, {"A", "4"}}));
  h.clear();
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.begin(), h.end());
}

TEST(HTTPUtilTest, ManyErasesKeepOrderAcrossCompaction) {
  HTTPHeaders h;
  auto name_of = [](char prefix, int i) {
    std::string name(1, prefix);
    name.append(std::to_string(i));  // (append: GCC 12 warns falsely on "H" + std::string)
    return name;
  };
  for (int i = 0; i < 1000; ++i) h.add(name_of('H', i), std::to_string(i));
  for (int i = 0; i < 1000; i += 2) ASSERT_TRUE(h.erase(name_of('h', i)));
  EXPECT_EQ(h.size(), 500u);
  int expected = 1;
  for (const auto& [name, value] : h) {
    EXPECT_EQ(name, "H" + std::to_string(expected));
    EXPECT_EQ(value, std::to_string(expected));
    expected += 2;
  }
  EXPECT_EQ(expected, 1001);
  EXPECT_EQ(h.get("h999"), "999");
}

TEST(HTTPUtilTest, MultiValuedNamesKeepTheirValuesAcrossSetAndEraseOfOthers) {
  HTTPHeaders h;
  h.add("A", "1");
  h.add("B", "b1");
  h.add("A", "2");
  h.add("C", "c");
  h.set("B", "a longer value than before");
  h.add("a", "3");
  ASSERT_TRUE(h.erase("C"));
  h.add("B", "b2");
  h.set("D", "d");
  h.add("A", "4");
  EXPECT_EQ(all_pairs(h), (Pairs{{"A", "1"},
                                 {"A", "2"},
                                 {"A", "3"},
                                 {"A", "4"},
                                 {"B", "a longer value than before"},
                                 {"B", "b2"},
                                 {"D", "d"}}));
  EXPECT_EQ(h.get("a"), "1,2,3,4");
  EXPECT_EQ(h.size(), 7u);
  h.set("A", "");  // shorter: written over the old first value
  EXPECT_EQ(h.get_list("A"), (std::vector<std::string>{""}));
  EXPECT_EQ(h.size(), 4u);
}

TEST(HTTPUtilTest, IterationIsUnchangedByCompaction) {
  HTTPHeaders h;
  h.add("Keep", "k1");
  for (int i = 0; i < 40; ++i) h.add("Drop", std::string(50, 'x'));
  h.add("Keep", "k2");
  h.add("Other", "o");
  h.add("keep", "k3");
  const std::size_t before = detail::HTTPHeadersAccess::heap_bytes(h);
  ASSERT_TRUE(h.erase("Drop"));  // the dead now outweigh the live: copied out
  EXPECT_LT(detail::HTTPHeadersAccess::heap_bytes(h), before / 4);
  EXPECT_EQ(all_pairs(h), (Pairs{{"Keep", "k1"}, {"Keep", "k2"}, {"Keep", "k3"}, {"Other", "o"}}));
  h.add("Keep", "k4");
  h.add("Drop", "again");
  EXPECT_EQ(h.get("KEEP"), "k1,k2,k3,k4");
  EXPECT_EQ(all_pairs(h), (Pairs{{"Keep", "k1"},
                                 {"Keep", "k2"},
                                 {"Keep", "k3"},
                                 {"Keep", "k4"},
                                 {"Other", "o"},
                                 {"Drop", "again"}}));
}

TEST(HTTPUtilTest, AMillionSetsOfOneNameKeepMemoryBounded) {
  HTTPHeaders h;
  h.add("Before", "b");
  h.add("After", "a");
  std::size_t most = 0;
  for (int i = 0; i < 1'000'000; ++i) {
    h.set("X", std::string(static_cast<std::size_t>(i % 300), 'v'));  // growing, then short
    if (i % 7 == 0) h.add("After", "more");
    if (i % 7 == 6) h.set("After", "a");
    most = std::max(most, detail::HTTPHeadersAccess::heap_bytes(h));
  }
  EXPECT_LE(most, 4096u);
  EXPECT_EQ(
      all_pairs(h),
      (Pairs{{"Before", "b"}, {"After", "a"}, {"After", "more"}, {"X", std::string(99, 'v')}}));
}

TEST(HTTPUtilTest, AMillionAddAndEraseCyclesKeepMemoryBounded) {
  HTTPHeaders h;
  h.add("Host", "example.com");
  std::size_t most = 0;
  for (int i = 0; i < 1'000'000; ++i) {
    h.add("Cycle", "first value");
    h.add("Cycle", "second");
    ASSERT_TRUE(h.erase("cycle"));
    most = std::max(most, detail::HTTPHeadersAccess::heap_bytes(h));
  }
  EXPECT_LE(most, 2048u);
  EXPECT_EQ(all_pairs(h), (Pairs{{"Host", "example.com"}}));
}

TEST(HTTPUtilTest, ManyNamesAreFoundWithoutRegardToCaseThroughTheIndex) {
  HTTPHeaders h;
  for (int i = 0; i < 200; ++i) h.add(numbered("x-name-", i), std::to_string(i));
  EXPECT_EQ(h.get("X-NAME-7"), "7");
  EXPECT_EQ(h.get("x-NaMe-199"), "199");
  EXPECT_FALSE(h.contains("X-Name-200"));
  for (int i = 0; i < 200; i += 3) ASSERT_TRUE(h.erase(numbered("X-NAME-", i)));
  for (int i = 0; i < 200; i += 3) EXPECT_FALSE(h.contains(numbered("x-name-", i))) << i;
  for (int i = 0; i < 200; i += 6) h.add(numbered("X-name-", i), "again");  // goes last
  h.add("x-name-1", "second");
  Pairs expected;
  for (int i = 0; i < 200; ++i) {
    if (i % 3 != 0) expected.emplace_back(numbered("X-Name-", i), std::to_string(i));
    if (i == 1) expected.emplace_back("X-Name-1", "second");
  }
  for (int i = 0; i < 200; i += 6) expected.emplace_back(numbered("X-Name-", i), "again");
  EXPECT_EQ(all_pairs(h), expected);
  EXPECT_EQ(h.size(), expected.size());
  EXPECT_EQ(h.get("X-NAME-1"), "1,second");
  EXPECT_EQ(h.get("x-name-6"), "again");
}

TEST(HTTPUtilTest, ChurningNamesThroughTheIndexKeepsMemoryBounded) {
  HTTPHeaders h;
  for (int i = 0; i < 20; ++i) h.add(numbered("Stay-", i), "s");
  std::size_t most = 0;
  for (int i = 0; i < 200'000; ++i) {
    const std::string name = numbered("Churn-", i);
    h.add(name, "c");
    ASSERT_EQ(h.get(name), "c");
    if (i >= 10) {
      ASSERT_TRUE(h.erase(numbered("churn-", i - 10)));
    }
    most = std::max(most, detail::HTTPHeadersAccess::heap_bytes(h));
  }
  EXPECT_LE(most, 8192u);
  EXPECT_EQ(h.size(), 30u);
  EXPECT_EQ(h.get("stay-19"), "s");
  EXPECT_EQ(h.get("CHURN-199999"), "c");
  EXPECT_FALSE(h.contains("Churn-199989"));
}

TEST(HTTPUtilTest, CopiesAndMovesKeepEveryPair) {
  for (const int names : {3, 40}) {  // scanned, and through the index
    HTTPHeaders h;
    for (int i = 0; i < names; ++i) {
      h.add(numbered("N", i), "v");
      h.add(numbered("n", i), "w");
    }
    ASSERT_TRUE(h.erase("N1"));
    const Pairs pairs = all_pairs(h);

    HTTPHeaders copy(h);
    EXPECT_EQ(all_pairs(copy), pairs);
    copy.add("N0", "only in the copy");
    EXPECT_EQ(h.get("N0"), "v,w");
    EXPECT_EQ(copy.get("n0"), "v,w,only in the copy");
    EXPECT_EQ(copy.get("N2"), "v,w");

    HTTPHeaders assigned;
    assigned.add("Old", "gone");
    assigned = h;
    EXPECT_EQ(all_pairs(assigned), pairs);
    const HTTPHeaders& same = assigned;
    assigned = same;
    EXPECT_EQ(all_pairs(assigned), pairs);

    HTTPHeaders moved(std::move(assigned));
    EXPECT_EQ(all_pairs(moved), pairs);
    EXPECT_TRUE(assigned.empty());  // NOLINT(bugprone-use-after-move): left empty, usable
    EXPECT_EQ(assigned.begin(), assigned.end());
    assigned.add("Reused", "yes");
    EXPECT_EQ(all_pairs(assigned), (Pairs{{"Reused", "yes"}}));

    HTTPHeaders target;
    target.add("Old", "gone");
    target = std::move(moved);
    EXPECT_EQ(all_pairs(target), pairs);
    EXPECT_EQ(target.get("n2"), "v,w");
    EXPECT_FALSE(target.contains("Old"));
    EXPECT_EQ(moved.size(), 0u);  // NOLINT(bugprone-use-after-move)
  }
}

TEST(HTTPUtilTest, AddingAPairViewedFromTheSameHeadersIsSafe) {
  HTTPHeaders h;
  h.add("Source", std::string(100, 's'));
  for (int i = 0; i < 20; ++i) {
    const auto [name, value] = *h.begin();  // views into h, which may move as it grows
    h.add(name, value);
    h.add(numbered("Copy-", i), (*h.begin()).second);  // the views above are stale now
  }
  EXPECT_EQ(h.get_list("source").size(), 21u);
  EXPECT_EQ(h.get("Copy-19"), std::string(100, 's'));
  const auto [name, value] = *h.begin();
  h.set("Longer", value);
  h.set("Longer", std::string(200, 'l'));
  const auto longer = detail::HTTPHeadersAccess::first_value(h, "Longer");
  ASSERT_TRUE(longer.has_value());
  h.set("Source", *longer);  // longer than Source's first value: appended
  EXPECT_EQ(h.get("Source"), std::string(200, 'l'));
}

TEST(HTTPUtilTest, HeadersAreSmallAndAParsedHeadHasNoSpareRoom) {
  EXPECT_LE(sizeof(HTTPHeaders), 56u);
  const Pairs fields = {{"Host", "example.com:8888"},
                        {"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101"},
                        {"Accept", "text/html,application/xhtml+xml"},
                        {"Connection", "Upgrade"},
                        {"Upgrade", "websocket"},
                        {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}};
  std::size_t bytes = 0;
  for (const auto& [name, value] : fields) bytes += name.size() + value.size();
  HTTPHeaders h;
  detail::HTTPHeadersAccess::reserve(h, fields.size(), bytes);
  const std::size_t reserved = detail::HTTPHeadersAccess::heap_bytes(h);
  for (const auto& [name, value] : fields) detail::HTTPHeadersAccess::add_validated(h, name, value);
  EXPECT_EQ(detail::HTTPHeadersAccess::heap_bytes(h), reserved);  // nothing grew
  EXPECT_LE(reserved, bytes + fields.size() * 32);
  Pairs normalized = fields;
  normalized.back().first = "Sec-Websocket-Key";  // Http-Header-Case, as Tornado writes it
  EXPECT_EQ(all_pairs(h), normalized);
  EXPECT_EQ(detail::HTTPHeadersAccess::first_value(h, "upgrade"), "websocket");
  EXPECT_EQ(detail::HTTPHeadersAccess::first_value(h, "Origin"), std::nullopt);
}

TEST(HTTPUtilTest, RandomChangesMatchASimpleModel) {
  // The model: names in first-added order, each with its values; a linear search.
  struct Name {
    std::string name;
    std::vector<std::string> values;
  };
  std::vector<Name> model;
  auto find = [&](std::string_view name) {
    return std::find_if(model.begin(), model.end(),
                        [&](const Name& n) { return n.name == normalize_header(name); });
  };
  auto model_pairs = [&] {
    Pairs out;
    for (const auto& n : model) {
      for (const auto& v : n.values) out.emplace_back(n.name, v);
    }
    return out;
  };
  std::mt19937 random(12345);
  auto below = [&](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };
  HTTPHeaders h;
  for (int step = 0; step < 20'000; ++step) {
    // Few names use the scan; past a dozen entries lookups go through the index.
    std::string name = numbered("Name-", below(step % 4000 < 2000 ? 6 : 40));
    for (char& c : name) {
      if (below(2) == 0) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    const std::string value(static_cast<std::size_t>(below(40)),
                            static_cast<char>('a' + below(26)));
    const auto it = find(name);
    switch (below(8)) {
      case 0:
      case 1:
      case 2:
        h.add(name, value);
        if (it == model.end()) {
          model.push_back({normalize_header(name), {value}});
        } else {
          it->values.push_back(value);
        }
        break;
      case 3:
      case 4:
        h.set(name, value);
        if (it == model.end()) {
          model.push_back({normalize_header(name), {value}});
        } else {
          it->values = {value};
        }
        break;
      case 5:
        ASSERT_EQ(h.erase(name), it != model.end());
        if (it != model.end()) model.erase(it);
        break;
      case 6: {
        const HTTPHeaders copy = h;
        h = copy;
        break;
      }
      default:
        if (it == model.end()) {
          ASSERT_EQ(h.get(name), std::nullopt);
        } else {
          ASSERT_EQ(h.get_list(name), it->values);
        }
        break;
    }
    if (step % 97 == 0) {
      ASSERT_EQ(all_pairs(h), model_pairs()) << "step " << step;
      ASSERT_EQ(h.size(), model_pairs().size());
    }
  }
  EXPECT_EQ(all_pairs(h), model_pairs());
}

TEST(HTTPUtilTest, AddRejectsBadNamesAndControlCharactersInValues) {
  HTTPHeaders h;
  expect_output_error([&] { h.add("", "v"); }, "empty name");
  expect_output_error([&] { h.add("Bad Name", "v"); }, "white space");
  expect_output_error([&] { h.add("Bad:Name", "v"); }, "bad character");
  expect_output_error([&] { h.add("X", "a\r\nInjected: 1"); }, "bare CR");
  expect_output_error([&] { h.add("X", "a\nb"); }, "LF");
  expect_output_error([&] { h.set("X", "a\0b"s); }, "NUL");
  h.add("X", "tab\tinside and obs-text \xff");
  EXPECT_EQ(h.get("x"), "tab\tinside and obs-text \xff");
}

// Http-Header-Case a byte at a time, as Tornado's `_normalize_header` does it: the model for the
// word-at-a-time writer.
std::string header_case_model(std::string_view name) {
  std::string out(name);
  bool word_start = true;
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80) c = static_cast<char>(word_start ? std::toupper(u) : std::tolower(u));
    word_start = c == '-';
  }
  return out;
}

TEST(HTTPUtilTest, NamesOfEveryLengthAreWrittenInHttpHeaderCase) {
  std::mt19937 random(2024);
  // Mostly letters and dashes (dashes first, last and doubled too), some digits and other token
  // characters, which take the byte-at-a-time path.
  constexpr std::string_view kAlphabet = "abcXYZ-----019_.!~^`";
  for (std::size_t length = 1; length <= 40; ++length) {
    for (int round = 0; round < 20; ++round) {
      std::string name;
      for (std::size_t i = 0; i < length; ++i) name += kAlphabet[random() % kAlphabet.size()];
      const std::string expected = header_case_model(name);
      EXPECT_EQ(normalize_header(name), expected);

      HTTPHeaders added;
      added.add("Before", "b");
      added.add(name, "1");
      HTTPHeaders validated;
      detail::HTTPHeadersAccess::add_validated(validated, name, "1");
      HTTPHeaders set;
      set.set(name, "1");
      HTTPHeaders parsed;
      parsed.parse_line(name + ": 1\r\n");
      EXPECT_EQ(all_pairs(added), (Pairs{{"Before", "b"}, {expected, "1"}})) << name;
      EXPECT_EQ(all_pairs(validated), (Pairs{{expected, "1"}})) << name;
      EXPECT_EQ(all_pairs(set), (Pairs{{expected, "1"}})) << name;
      EXPECT_EQ(all_pairs(parsed), (Pairs{{expected, "1"}})) << name;

      // Found in any case; a later value joins the first.
      std::string other_case = name;
      for (char& c : other_case) {
        if (random() % 2 == 0) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
      added.add(other_case, "2");
      EXPECT_EQ(added.get(name), "1,2") << name;
      EXPECT_EQ(added.size(), 3u);
    }
  }
}

TEST(HTTPUtilTest, LookupsMatchOnlyLettersWithoutRegardToCase) {
  // '^' and '~' (both token characters) differ by the case bit alone, as do '_' and DEL.
  for (const std::string_view base :
       {"^", "A^", "Ab^c", "X-Ab^cd", "X-Name-^", "X-Longer-Name^xyz"}) {
    HTTPHeaders h;
    h.add(base, "v");
    std::string tilde(base);
    std::replace(tilde.begin(), tilde.end(), '^', '~');
    EXPECT_FALSE(h.contains(tilde)) << base;
    std::string underscore(base);
    std::replace(underscore.begin(), underscore.end(), '^', '_');
    h.add(underscore, "u");
    std::string del(base);
    std::replace(del.begin(), del.end(), '^', '\x7f');
    EXPECT_FALSE(h.contains(del)) << base;
    std::string lower(base);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_TRUE(h.contains(lower)) << base;
    h.add(tilde, "w");
    EXPECT_EQ(h.get(base), "v");
    EXPECT_EQ(h.get(tilde), "w");
  }
  HTTPHeaders h;
  h.add("Content-Length", "1");
  EXPECT_FALSE(h.contains("Content-Lengti"));
  EXPECT_FALSE(h.contains("Bontent-Length"));
  EXPECT_FALSE(h.contains("Content\rLength"));  // '-' and CR differ by the case bit
  EXPECT_TRUE(h.contains("CONTENT-LENGTH"));
}

TEST(HTTPUtilTest, AFailedAddOrSetChangesNothing) {
  for (std::size_t length = 1; length <= 24; ++length) {
    for (std::size_t at = 0; at < length; ++at) {
      for (const char bad : {' ', ':', '\xff', '\x7f', '@'}) {
        std::string name(length, 'a');
        name[at] = bad;
        HTTPHeaders empty;
        expect_output_error([&] { empty.add(name, "v"); },
                            bad == ' ' ? "white space" : "bad character");
        EXPECT_TRUE(empty.empty());
        EXPECT_EQ(detail::HTTPHeadersAccess::heap_bytes(empty), 0u);
        HTTPHeaders h;
        h.add("Kept", "k");
        expect_output_error([&] { h.add(name, "v"); },
                            bad == ' ' ? "white space" : "bad character");
        expect_output_error([&] { h.set(name, "v"); },
                            bad == ' ' ? "white space" : "bad character");
        // The name is checked before the value.
        expect_output_error([&] { h.add(name, "a\nb"); },
                            bad == ' ' ? "white space" : "bad character");
        EXPECT_EQ(all_pairs(h), (Pairs{{"Kept", "k"}}));
        EXPECT_EQ(h.size(), 1u);
      }
    }
  }
  HTTPHeaders h;
  expect_output_error([&] { h.add(std::string(1000, 'a') + " ", "v"); }, "white space");
  expect_output_error([&] { h.add("", "a\nb"); }, "empty name");
  EXPECT_EQ(detail::HTTPHeadersAccess::heap_bytes(h), 0u);
}

TEST(HTTPUtilTest, ValuesOfEveryLengthAreCheckedAndKeptExactly) {
  for (std::size_t length = 0; length <= 40; ++length) {
    std::string value;
    for (std::size_t i = 0; i < length; ++i) value += static_cast<char>('!' + i % 90);
    HTTPHeaders h;
    h.add("V", value);
    h.set("W", value);
    EXPECT_EQ(h.get("v"), value);
    EXPECT_EQ(h.get("w"), value);
    for (std::size_t at = 0; at < length; ++at) {
      for (const char control : {'\0', '\r', '\n', '\x1f', '\x7f'}) {
        std::string bad = value;
        bad[at] = control;
        HTTPHeaders g;
        EXPECT_THROW(g.add("X", bad), HTTPOutputError) << length << " " << at;
        EXPECT_THROW(g.set("X", bad), HTTPOutputError) << length << " " << at;
        EXPECT_TRUE(g.empty());
      }
      std::string tabbed = value;
      tabbed[at] = '\t';
      h.set("T", tabbed);
      EXPECT_EQ(h.get("T"), tabbed);
    }
  }
}

TEST(HTTPUtilTest, AHeadGrowsPastWhatWasReserved) {
  HTTPHeaders h;
  detail::HTTPHeadersAccess::reserve(h, 1, 10);
  Pairs expected;
  for (int i = 0; i < 40; ++i) {
    const std::string name = numbered("Field-", i % 25);
    const std::string value(static_cast<std::size_t>(i), 'v');
    detail::HTTPHeadersAccess::add_validated(h, name, value);
    if (i < 25) expected.emplace_back(name, value);
  }
  for (int i = 25; i < 40; ++i) {
    auto at = std::find_if(expected.begin(), expected.end(), [&](const auto& pair) {
      return pair.first == numbered("Field-", i % 25);
    });
    expected.insert(at + 1,
                    {numbered("Field-", i % 25), std::string(static_cast<std::size_t>(i), 'v')});
  }
  EXPECT_EQ(all_pairs(h), expected);
  const HTTPHeaders copy = h;
  EXPECT_EQ(all_pairs(copy), expected);
  // A copy has no spare room.
  EXPECT_LT(detail::HTTPHeadersAccess::heap_bytes(copy), detail::HTTPHeadersAccess::heap_bytes(h));
}

TEST(HTTPUtilTest, ParseReadsCrlfAndBareLfLinesAndStripsValues) {
  const auto h = HTTPHeaders::parse(
      "Content-Type: text/html\r\n"
      "content-length:42\n"
      "X-Spaces: \t padded value \t\r\n"
      "\r\n"
      "X-Empty:\r\n"
      "Accept: a\r\n"
      "ACCEPT: b");
  EXPECT_EQ(all_pairs(h), (Pairs{{"Content-Type", "text/html"},
                                 {"Content-Length", "42"},
                                 {"X-Spaces", "padded value"},
                                 {"X-Empty", ""},
                                 {"Accept", "a"},
                                 {"Accept", "b"}}));
  EXPECT_EQ(h.get("accept"), "a,b");
  EXPECT_TRUE(HTTPHeaders::parse("").empty());
  EXPECT_TRUE(HTTPHeaders::parse("\r\n").empty());
}

TEST(HTTPUtilTest, ParseKeepsColonsInsideTheValue) {
  const auto h = HTTPHeaders::parse("Host: example.com:8080\r\nX-Time: 12:34:56\r\n");
  EXPECT_EQ(h.get("Host"), "example.com:8080");
  EXPECT_EQ(h.get("X-Time"), "12:34:56");
}

TEST(HTTPUtilTest, ParseRejectsALineWithoutAColon) {
  expect_input_error([] { HTTPHeaders::parse("Good: 1\r\nNoColonHere\r\n"); }, "no colon");
}

TEST(HTTPUtilTest, ParseRejectsWhiteSpaceBeforeTheColon) {
  expect_input_error([] { HTTPHeaders::parse("Host : example.com\r\n"); }, "white space");
  expect_input_error([] { HTTPHeaders::parse("Host\t: example.com\r\n"); }, "white space");
}

TEST(HTTPUtilTest, ParseRejectsObsoleteLineFolding) {
  expect_input_error([] { HTTPHeaders::parse("X-Long: a\r\n continued\r\n"); }, "line folding");
  expect_input_error([] { HTTPHeaders::parse("X-Long: a\r\n\tcontinued\r\n"); }, "line folding");
  expect_input_error([] { HTTPHeaders::parse(" Leading: space\r\n"); }, "line folding");
}

TEST(HTTPUtilTest, ParseRejectsABareCr) {
  expect_input_error([] { HTTPHeaders::parse("A: 1\rB: 2\r\n"); }, "bare CR");
  expect_input_error([] { HTTPHeaders::parse("A: 1\r\r\n"); }, "bare CR");
}

TEST(HTTPUtilTest, ParseRejectsNulAndControlCharactersInValues) {
  expect_input_error([] { HTTPHeaders::parse("A: x\0y\r\n"s); }, "NUL");
  expect_input_error([] { HTTPHeaders::parse("A: x\x01y\r\n"); }, "control character");
  expect_input_error([] { HTTPHeaders::parse("A: x\x7fy\r\n"); }, "control character");
  expect_input_error([] { HTTPHeaders::parse("A: x\x1b[31m\r\n"); }, "control character");
}

TEST(HTTPUtilTest, ParseRejectsBadNames) {
  expect_input_error([] { HTTPHeaders::parse(": no name\r\n"); }, "empty name");
  expect_input_error([] { HTTPHeaders::parse("B@d: 1\r\n"); }, "bad character");
  expect_input_error([] { HTTPHeaders::parse("N\xc3\xa4me: 1\r\n"); }, "bad character");
}

TEST(HTTPUtilTest, ParseErrorMessagesQuoteTheLineSafely) {
  try {
    HTTPHeaders::parse("Bad\x01Line-Without-Colon-That-Goes-On-And-On-For-A-While-Longer\r\n");
    FAIL() << "no error";
  } catch (const HTTPInputError& e) {
    const std::string_view what = e.what();
    EXPECT_NE(what.find("\\x01"), std::string_view::npos) << what;
    EXPECT_NE(what.find("..."), std::string_view::npos) << what;
    EXPECT_EQ(what.find('\x01'), std::string_view::npos);
  }
}

TEST(HTTPUtilTest, ParseLineAcceptsALineWithOrWithoutItsTerminator) {
  HTTPHeaders h;
  h.parse_line("Content-Type: text/html");
  h.parse_line("Content-Length: 42\r\n");
  h.parse_line("X-A: 1\n");
  h.parse_line("\r\n");
  EXPECT_EQ(all_pairs(h),
            (Pairs{{"Content-Type", "text/html"}, {"Content-Length", "42"}, {"X-A", "1"}}));
  expect_input_error([&] { h.parse_line("X: a\nb"); }, "LF");
}

// Sizes chosen so that quadratic code would take far longer than the test timeout.
TEST(HTTPUtilTest, ParsingAHundredThousandHeaderLinesIsLinear) {
  std::string block;
  for (int i = 0; i < 100'000; ++i) block += "X-" + std::to_string(i) + ": v\r\n";
  const auto h = HTTPHeaders::parse(block);
  EXPECT_EQ(h.size(), 100'000u);
  EXPECT_EQ(h.get("x-99999"), "v");
}

TEST(HTTPUtilTest, ParsingAHundredThousandValuesOfOneNameIsLinear) {
  std::string block;
  for (int i = 0; i < 100'000; ++i) block += "A: b\r\n";
  const auto h = HTTPHeaders::parse(block);
  EXPECT_EQ(h.get_list("a").size(), 100'000u);
  EXPECT_EQ(h.get("a")->size(), 100'000u * 2 - 1);
}

TEST(HTTPUtilTest, ParsingAHugeValueIsLinear) {
  const std::string value(8 * 1024 * 1024, 'v');
  const std::string spaces(1024 * 1024, ' ');
  const auto h = HTTPHeaders::parse("Big:" + spaces + value + spaces + "\r\n");
  EXPECT_EQ(h.get("big")->size(), value.size());
  expect_input_error([&] { HTTPHeaders::parse("Big: " + value + "\r" + value); }, "bare CR");
}

// ---- reason phrases ----------------------------------------------------------------------------

TEST(HTTPUtilTest, ReasonPhrasesCoverPythonsHTTPStatus) {
  EXPECT_EQ(reason_phrase(200), "OK");
  EXPECT_EQ(reason_phrase(404), "Not Found");
  EXPECT_EQ(reason_phrase(418), "I'm a Teapot");
  EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reason_phrase(505), "HTTP Version Not Supported");
  EXPECT_EQ(reason_phrase(413), "Content Too Large");
  EXPECT_EQ(reason_phrase(422), "Unprocessable Content");
  const int known[] = {100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208,
                       226, 300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403,
                       404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416,
                       417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451, 500,
                       501, 502, 503, 504, 505, 506, 507, 508, 510, 511};
  int count = 0;
  for (int code = -1; code < 1000; ++code) count += reason_phrase(code).empty() ? 0 : 1;
  EXPECT_EQ(count, static_cast<int>(std::size(known)));
  for (const int code : known) EXPECT_FALSE(reason_phrase(code).empty()) << code;
}

TEST(HTTPUtilTest, ReasonPhraseIsEmptyForUnknownCodes) {
  EXPECT_EQ(reason_phrase(299), "");
  EXPECT_EQ(reason_phrase(306), "");
  EXPECT_EQ(reason_phrase(0), "");
  EXPECT_EQ(reason_phrase(-200), "");
  EXPECT_EQ(reason_phrase(1000), "");
}

// ---- URL helpers -------------------------------------------------------------------------------

TEST(HTTPUtilTest, UrlConcatAppendsToAUrlWithoutAQuery) {
  EXPECT_EQ(url_concat("https://localhost/path", {{"y", "y"}, {"z", "z"}}),
            "https://localhost/path?y=y&z=z");
}

TEST(HTTPUtilTest, UrlConcatGivesANameWithoutValueAnEmptyValue) {
  EXPECT_EQ(url_concat("https://localhost/path?x", {{"y", "y"}, {"z", "z"}}),
            "https://localhost/path?x=&y=y&z=z");
  EXPECT_EQ(url_concat("https://localhost/path?x&", {{"y", "y"}, {"z", "z"}}),
            "https://localhost/path?x=&y=y&z=z");
}

TEST(HTTPUtilTest, UrlConcatKeepsAnExistingQuery) {
  EXPECT_EQ(url_concat("https://localhost/path?a=1&b=2", {{"y", "y"}, {"z", "z"}}),
            "https://localhost/path?a=1&b=2&y=y&z=z");
  EXPECT_EQ(url_concat("https://localhost/path?r=1&r=2", {{"y", "y"}}),
            "https://localhost/path?r=1&r=2&y=y");
}

TEST(HTTPUtilTest, UrlConcatWithNoArgsKeepsTheQuery) {
  EXPECT_EQ(url_concat("https://localhost/path?r=1&t=2", {}), "https://localhost/path?r=1&t=2");
  EXPECT_EQ(url_concat("https://localhost/path?", {}), "https://localhost/path");
}

TEST(HTTPUtilTest, UrlConcatRepeatsANameGivenTwice) {
  EXPECT_EQ(url_concat("https://localhost/path", {{"y", "y"}, {"y", "yy"}}),
            "https://localhost/path?y=y&y=yy");
}

TEST(HTTPUtilTest, UrlConcatKeepsTheFragmentLast) {
  EXPECT_EQ(url_concat("https://localhost/path#tab", {{"y", "y"}}),
            "https://localhost/path?y=y#tab");
  EXPECT_EQ(url_concat("/p?a=1#x?b=2#y", {{"c", "3"}}), "/p?a=1&c=3#x?b=2#y");
}

TEST(HTTPUtilTest, UrlConcatEscapesArgsAndReEncodesTheQuery) {
  EXPECT_EQ(url_concat("https://localhost/path?a=b%20c+d&e=%zz#f#g", {{"s p", "a/b&c=d"}}),
            "https://localhost/path?a=b+c+d&e=%25zz&s+p=a%2Fb%26c%3Dd#f#g");
  EXPECT_EQ(url_concat("/p?=x&&q=", {}), "/p?=x&q=");
}

TEST(HTTPUtilTest, ParseQsBytesKeepsBlankValuesAndRepeats) {
  const auto qs = parse_qs_bytes("a=1&a=2&b&c=&=d&&e=x+y%20z&f=%zz%4");
  const std::map<std::string, std::vector<std::string>> expected = {
      {"a", {"1", "2"}}, {"b", {""}}, {"c", {""}}, {"", {"d"}}, {"e", {"x y z"}}, {"f", {"%zz%4"}}};
  EXPECT_EQ(qs, expected);
}

TEST(HTTPUtilTest, ParseQsBytesCanDropBlankValues) {
  const auto qs = parse_qs_bytes("a=1&a=2&b&c=&=d&&e=x+y%20z", false);
  const std::map<std::string, std::vector<std::string>> expected = {
      {"a", {"1", "2"}}, {"", {"d"}}, {"e", {"x y z"}}};
  EXPECT_EQ(qs, expected);
}

TEST(HTTPUtilTest, ParseQsBytesDecodesToRawBytesAndPlusInNames) {
  const auto qs = parse_qs_bytes("na+me%3D=%E2%82%AC%00;x");
  ASSERT_EQ(qs.count("na me="), 1u);
  EXPECT_EQ(qs.at("na me=").at(0), "\xe2\x82\xac\0;x"s);
  EXPECT_TRUE(parse_qs_bytes("").empty());
  EXPECT_TRUE(parse_qs_bytes("&&&").empty());
}

TEST(HTTPUtilTest, UrlUnescapeLeavesInvalidEscapesAlone) {
  EXPECT_EQ(url_unescape("%41%4g%%2%zz%e2%82%ac+", false), "A%4g%%2%zz\xe2\x82\xac+");
  EXPECT_EQ(url_unescape("a+b%2Bc%"), "a b+c%");
  EXPECT_EQ(url_unescape("%"), "%");
  EXPECT_EQ(url_unescape("%4"), "%4");
  EXPECT_EQ(url_unescape("%00"), "\0"s);
  EXPECT_EQ(url_unescape("%252F"), "%2F");
  EXPECT_EQ(url_unescape(""), "");
}

TEST(HTTPUtilTest, UrlEscapeMatchesQuotePlusAndQuote) {
  EXPECT_EQ(url_escape("a b/c~_.-!*'()\xc3\xa9"), "a+b%2Fc~_.-%21%2A%27%28%29%C3%A9");
  EXPECT_EQ(url_escape("a b/c~_.-!*'()\xc3\xa9", false), "a%20b/c~_.-%21%2A%27%28%29%C3%A9");
  EXPECT_EQ(url_escape("+&=%"), "%2B%26%3D%25");
  EXPECT_EQ(url_escape("\0"s), "%00");
}

TEST(HTTPUtilTest, UrlEscapeAndUnescapeRoundTripEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  EXPECT_EQ(url_unescape(url_escape(all)), all);
  EXPECT_EQ(url_unescape(url_escape(all, false), false), all);
}

TEST(HTTPUtilTest, SplitHostAndPortSplitsAtTheLastColon) {
  using Result = std::pair<std::string, std::optional<int>>;
  EXPECT_EQ(split_host_and_port("example.com:8080"), (Result{"example.com", 8080}));
  EXPECT_EQ(split_host_and_port("example.com"), (Result{"example.com", std::nullopt}));
  EXPECT_EQ(split_host_and_port("[::1]:443"), (Result{"[::1]", 443}));
  EXPECT_EQ(split_host_and_port("[::1]"), (Result{"[::1]", std::nullopt}));
  EXPECT_EQ(split_host_and_port("::1"), (Result{":", 1}));  // as Tornado's regex does
  EXPECT_EQ(split_host_and_port("host:"), (Result{"host:", std::nullopt}));
  EXPECT_EQ(split_host_and_port(":80"), (Result{":80", std::nullopt}));
  EXPECT_EQ(split_host_and_port("host:8a"), (Result{"host:8a", std::nullopt}));
  EXPECT_EQ(split_host_and_port("host:0080"), (Result{"host", 80}));
  EXPECT_EQ(split_host_and_port(""), (Result{"", std::nullopt}));
  EXPECT_THROW(split_host_and_port("host:99999999999999999999"), ValueError);
}

// ---- dates -------------------------------------------------------------------------------------

Clock::time_point at(std::int64_t seconds) {
  return Clock::time_point(std::chrono::seconds(seconds));
}

TEST(HTTPUtilTest, FormatTimestampWritesAnImfFixdate) {
  EXPECT_EQ(format_timestamp(at(784111777)), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(format_timestamp(at(1359312200)), "Sun, 27 Jan 2013 18:43:20 GMT");
  EXPECT_EQ(format_timestamp(at(0)), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(format_timestamp(at(951782400)), "Tue, 29 Feb 2000 00:00:00 GMT");
  EXPECT_EQ(format_timestamp(at(-1)), "Wed, 31 Dec 1969 23:59:59 GMT");
  EXPECT_EQ(format_timestamp(at(1359312200) + 999ms), "Sun, 27 Jan 2013 18:43:20 GMT");
}

TEST(HTTPUtilTest, ParseHttpDateReadsAllThreeForms) {
  const auto expected = at(784111777);
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), expected);
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), expected);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), expected);
  EXPECT_EQ(parse_http_date("Sun Nov 16 08:49:37 1994"), expected + std::chrono::days(10));
  EXPECT_EQ(parse_http_date("  sun, 06 nov 1994 08:49:37 gmt\t"), expected);
}

TEST(HTTPUtilTest, ParseHttpDateTakesATwoDigitYearWithin50YearsAhead) {
  EXPECT_EQ(parse_http_date("Wednesday, 01-Jan-70 00:00:00 GMT"), at(3155760000));  // 2070
  // 2000 + 10 is always within 50 years of the current year for the next few decades.
  EXPECT_EQ(parse_http_date("Friday, 01-Jan-10 00:00:00 GMT"), at(1262304000));
}

TEST(HTTPUtilTest, DatesRoundTrip) {
  for (std::int64_t s :
       {0LL, 1LL, 68169600LL, 784111777LL, 951782400LL, 4102444799LL, -86400LL * 365 * 50}) {
    EXPECT_EQ(parse_http_date(format_timestamp(at(s))), at(s)) << s;
  }
}

TEST(HTTPUtilTest, ParseHttpDateRejectsGarbage) {
  for (const char* bad : {
           "",
           "garbage",
           "Sun, 06 Nov 1994 08:49:37",          // no zone
           "Sun, 06 Nov 1994 08:49:37 UTC",      // other zone
           "Sun, 06 Nov 1994 08:49:37 GMT x",    // trailing text
           "Sun, 6 Nov 1994 08:49:37 GMT",       // one-digit day
           "Sun, 06 Nov 94 08:49:37 GMT",        // two-digit year in IMF-fixdate
           "Sun, 06 Foo 1994 08:49:37 GMT",      // bad month
           "Xyz, 06 Nov 1994 08:49:37 GMT",      // bad day name
           "Sun, 31 Nov 1994 08:49:37 GMT",      // no such day
           "Sun, 29 Feb 1900 08:49:37 GMT",      // not a leap year
           "Sun, 00 Nov 1994 08:49:37 GMT",      // day zero
           "Sun, 06 Nov 1994 24:00:00 GMT",      // hour
           "Sun, 06 Nov 1994 08:60:00 GMT",      // minute
           "Sun, 06 Nov 1994 08:49:61 GMT",      // second
           "Sun, 06 Nov 1994 8:49:37 GMT",       // short hour
           "Sun,06 Nov 1994 08:49:37 GMT",       // missing space
           "Sun, 06 Nov 1994 08:49:37 GMT\r\n",  // control characters
           "Sun, 06-Nov-94 08:49:37 GMT",        // RFC 850 needs the long day name
           "Sunday, 06-Nov-1994 08:49:37 GMT",   // RFC 850 has a two-digit year
           "Sun Nov 6 08:49:37 1994",            // asctime pads the day with a space
           "Sun Nov  6 08:49:37 94",             // asctime has a four-digit year
           "Fri, 31 Dec 9999 23:59:59 GMT",      // beyond system_clock's range
       }) {
    EXPECT_EQ(parse_http_date(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT\0"s), std::nullopt);
}

TEST(HTTPUtilTest, ParseHttpDateAcceptsALeapSecond) {
  EXPECT_EQ(parse_http_date("Sat, 31 Dec 2016 23:59:60 GMT"), at(1483228800));
}

// ---- cookies
// -------------------------------------------------------------------------------------

using Cookies = std::map<std::string, std::string>;

TEST(HTTPUtilTest, ParseCookieSplitsPairs) {
  EXPECT_EQ(parse_cookie("chips=ahoy; vienna=finger"),
            (Cookies{{"chips", "ahoy"}, {"vienna", "finger"}}));
  EXPECT_EQ(parse_cookie("keebler=E=mc2"), (Cookies{{"keebler", "E=mc2"}}));
  EXPECT_EQ(parse_cookie("key:term=value:term"), (Cookies{{"key:term", "value:term"}}));
  EXPECT_EQ(parse_cookie("a=b; c=[; d=r; f=h"),
            (Cookies{{"a", "b"}, {"c", "["}, {"d", "r"}, {"f", "h"}}));
}

TEST(HTTPUtilTest, ParseCookieSplitsAtSemicolonsEvenInsideQuotes) {
  EXPECT_EQ(
      parse_cookie(R"(keebler="E=mc2; L=\"Loves\"; fudge=\012;")"),
      (Cookies{{"keebler", "\"E=mc2"}, {"L", R"(\"Loves\")"}, {"fudge", R"(\012)"}, {"", "\""}}));
}

TEST(HTTPUtilTest, ParseCookieUnquotesQuotedValues) {
  EXPECT_EQ(parse_cookie(R"(a="b\"c\\d\073e\x")"), (Cookies{{"a", "b\"c\\d;ex"}}));
  EXPECT_EQ(parse_cookie(R"(a="\400")"), (Cookies{{"a", "400"}}));
  EXPECT_EQ(parse_cookie(R"(a="\")"), (Cookies{{"a", "\\"}}));
  EXPECT_EQ(parse_cookie("a=\"x\\\ny\""), (Cookies{{"a", "x\\\ny"}}));
  EXPECT_EQ(parse_cookie(R"(a="\000")"), (Cookies{{"a", "\0"s}}));
  EXPECT_EQ(parse_cookie(R"(k = "  v "  )"), (Cookies{{"k", "  v "}}));
}

TEST(HTTPUtilTest, ParseCookieKeepsEmptyAndHalfQuotedValues) {
  EXPECT_EQ(parse_cookie(R"(a=""; b="; c="x)"), (Cookies{{"a", ""}, {"b", "\""}, {"c", "\"x"}}));
  EXPECT_EQ(parse_cookie("a=; b= "), (Cookies{{"a", ""}, {"b", ""}}));
}

TEST(HTTPUtilTest, ParseCookieGivesAPairWithoutEqualsAnEmptyName) {
  EXPECT_EQ(parse_cookie("unnamed"), (Cookies{{"", "unnamed"}}));
  EXPECT_EQ(parse_cookie("a=b; =c"), (Cookies{{"a", "b"}, {"", "c"}}));
}

TEST(HTTPUtilTest, ParseCookieSkipsEmptyPairsAndStripsSpaces) {
  EXPECT_EQ(parse_cookie(""), Cookies{});
  EXPECT_EQ(parse_cookie(" ; ;"), Cookies{});
  EXPECT_EQ(parse_cookie("="), Cookies{});
  EXPECT_EQ(parse_cookie("a b c=d e = f; gh=i"), (Cookies{{"a b c", "d e = f"}, {"gh", "i"}}));
  EXPECT_EQ(parse_cookie("\t a \t=\r\n b \x1f"), (Cookies{{"a", "b"}}));
  // Non-ASCII bytes are never white space, so UTF-8 ending in 0xA0 survives.
  EXPECT_EQ(parse_cookie("saint=Andr\xc3\xa0"), (Cookies{{"saint", "Andr\xc3\xa0"}}));
}

TEST(HTTPUtilTest, ParseCookieKeepsTheLastOfRepeatedNames) {
  EXPECT_EQ(parse_cookie("a=1; a=2"), (Cookies{{"a", "2"}}));
}

TEST(HTTPUtilTest, ParseCookieOfAMegabyteIsLinear) {
  std::string header;
  for (int i = 0; i < 100'000; ++i) {
    header.append("k").append(std::to_string(i)).append("=\"v\\073\"; ");
  }
  const auto cookies = parse_cookie(header);
  EXPECT_EQ(cookies.size(), 100'000u);
  EXPECT_EQ(cookies.at("k99999"), "v;");
}

// ---- byte ranges ---------------------------------------------------------------------------

std::optional<RequestRange> range_of(std::optional<std::int64_t> first,
                                     std::optional<std::int64_t> end) {
  return RequestRange(first, end);
}

TEST(HTTPUtilTest, ParseRequestRangeGivesSliceIndexesAsTornadoDoes) {
  // The examples of Tornado's _parse_request_range.
  EXPECT_EQ(parse_request_range("bytes=1-2"), range_of(1, 3));
  EXPECT_EQ(parse_request_range("bytes=6-"), range_of(6, std::nullopt));
  EXPECT_EQ(parse_request_range("bytes=-6"), range_of(-6, std::nullopt));
  EXPECT_EQ(parse_request_range("bytes=-0"), range_of(std::nullopt, 0));
  EXPECT_EQ(parse_request_range("foo=42"), std::nullopt);
  EXPECT_EQ(parse_request_range("bytes=1-2,6-10"), std::nullopt);
  EXPECT_EQ(parse_request_range("bytes=0-9"), range_of(0, 10));
  EXPECT_EQ(parse_request_range("bytes=0-0"), range_of(0, 1));
}

TEST(HTTPUtilTest, ParseRequestRangeKeepsALastBeforeTheFirstForTheCallerToRefuse) {
  EXPECT_EQ(parse_request_range("bytes=5-2"), range_of(5, 3));
}

TEST(HTTPUtilTest, ParseRequestRangeAllowsSpacesAsTornadoDoes) {
  EXPECT_EQ(parse_request_range(" bytes = 1 - 2 "), range_of(1, 3));
  EXPECT_EQ(parse_request_range("bytes=\t-5"), range_of(-5, std::nullopt));
}

TEST(HTTPUtilTest, ParseRequestRangeFollowsRfc9110WhereTornadoStrays) {
  EXPECT_EQ(parse_request_range("Bytes=0-1"), range_of(0, 2));  // units ignore case
  EXPECT_EQ(parse_request_range("BYTES=-3"), range_of(-3, std::nullopt));
  // Tornado gives (None, None), (None, None) and (5, None): not byte-range-specs.
  EXPECT_EQ(parse_request_range("bytes="), std::nullopt);
  EXPECT_EQ(parse_request_range("bytes=-"), std::nullopt);
  EXPECT_EQ(parse_request_range("bytes=5"), std::nullopt);
  // Python's int() takes these; a position is digits only.
  EXPECT_EQ(parse_request_range("bytes=+1-2"), std::nullopt);
  EXPECT_EQ(parse_request_range("bytes=1_0-20"), std::nullopt);
  EXPECT_EQ(parse_request_range("bytes=1 0-20"), std::nullopt);
  EXPECT_EQ(parse_request_range("bytes=0--5"), std::nullopt);
  EXPECT_EQ(parse_request_range("bytes=0x1-2"), std::nullopt);
}

TEST(HTTPUtilTest, ParseRequestRangeRefusesOtherShapes) {
  EXPECT_EQ(parse_request_range(""), std::nullopt);
  EXPECT_EQ(parse_request_range("bytes"), std::nullopt);
  EXPECT_EQ(parse_request_range("bytes 0-1"), std::nullopt);
  EXPECT_EQ(parse_request_range("items=0-1"), std::nullopt);
  EXPECT_EQ(parse_request_range("bytes=0-1, 3-4"), std::nullopt);
  EXPECT_EQ(parse_request_range("bytes=-1,-2"), std::nullopt);
  EXPECT_EQ(parse_request_range("bytes=a-b"), std::nullopt);
}

TEST(HTTPUtilTest, ParseRequestRangeSaturatesHugePositions) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(parse_request_range("bytes=0-99999999999999999999999"), range_of(0, kMax));
  EXPECT_EQ(parse_request_range("bytes=99999999999999999999999-"), range_of(kMax, std::nullopt));
  EXPECT_EQ(parse_request_range("bytes=-99999999999999999999999"), range_of(-kMax, std::nullopt));
  EXPECT_EQ(parse_request_range("bytes=0-9223372036854775806"), range_of(0, kMax));
  EXPECT_EQ(parse_request_range("bytes=9223372036854775807-"), range_of(kMax, std::nullopt));
}

TEST(HTTPUtilTest, FormatContentRangeGivesInclusivePositionsAsTornadoDoes) {
  // The examples of Tornado's _get_content_range.
  EXPECT_EQ(format_content_range(std::nullopt, 1, 4), "bytes 0-0/4");
  EXPECT_EQ(format_content_range(1, 3, 4), "bytes 1-2/4");
  EXPECT_EQ(format_content_range(std::nullopt, std::nullopt, 4), "bytes 0-3/4");
  EXPECT_EQ(format_content_range(6, std::nullopt, 10), "bytes 6-9/10");
  EXPECT_EQ(format_content_range(0, 8LL << 30, 16LL << 30), "bytes 0-8589934591/17179869184");
}

TEST(HTTPUtilTest, FormatContentRangeRefusesARangeOutsideTheRepresentation) {
  EXPECT_THROW(format_content_range(-1, 2, 4), ValueError);
  EXPECT_THROW(format_content_range(2, 2, 4), ValueError);
  EXPECT_THROW(format_content_range(3, 2, 4), ValueError);
  EXPECT_THROW(format_content_range(0, 5, 4), ValueError);
  EXPECT_THROW(format_content_range(std::nullopt, std::nullopt, 0), ValueError);
}

// The examples of RFC 3986 §5.4, on its base URI.
void expect_resolved_on_rfc3986_base(
    const std::vector<std::pair<std::string_view, std::string_view>>& examples) {
  for (const auto& [reference, target] : examples) {
    EXPECT_EQ(resolve_url("http://a/b/c/d;p?q", reference), target) << "reference: " << reference;
  }
}

TEST(HTTPUtilTest, ResolveUrlGivesTheNormalExamplesOfRfc3986WithoutFragments) {
  const std::vector<std::pair<std::string_view, std::string_view>> examples = {
      {"g:h", "g:h"},
      {"g", "http://a/b/c/g"},
      {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"},
      {"/g", "http://a/g"},
      {"//g", "http://g"},
      {"?y", "http://a/b/c/d;p?y"},
      {"g?y", "http://a/b/c/g?y"},
      {"#s", "http://a/b/c/d;p?q"},  // the RFC's results, less their fragment
      {"g#s", "http://a/b/c/g"},
      {"g?y#s", "http://a/b/c/g?y"},
      {";x", "http://a/b/c/;x"},
      {"g;x", "http://a/b/c/g;x"},
      {"g;x?y#s", "http://a/b/c/g;x?y"},
      {"", "http://a/b/c/d;p?q"},
      {".", "http://a/b/c/"},
      {"./", "http://a/b/c/"},
      {"..", "http://a/b/"},
      {"../", "http://a/b/"},
      {"../g", "http://a/b/g"},
      {"../..", "http://a/"},
      {"../../", "http://a/"},
      {"../../g", "http://a/g"},
  };
  expect_resolved_on_rfc3986_base(examples);
}

TEST(HTTPUtilTest, ResolveUrlGivesTheAbnormalExamplesOfRfc3986WithoutFragments) {
  const std::vector<std::pair<std::string_view, std::string_view>> examples = {
      {"../../../g", "http://a/g"},
      {"../../../../g", "http://a/g"},
      {"/./g", "http://a/g"},
      {"/../g", "http://a/g"},
      {"g.", "http://a/b/c/g."},
      {".g", "http://a/b/c/.g"},
      {"g..", "http://a/b/c/g.."},
      {"..g", "http://a/b/c/..g"},
      {"./../g", "http://a/b/g"},
      {"./g/.", "http://a/b/c/g/"},
      {"g/./h", "http://a/b/c/g/h"},
      {"g/../h", "http://a/b/c/h"},
      {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
      {"g;x=1/../y", "http://a/b/c/y"},
      {"g?y/./x", "http://a/b/c/g?y/./x"},
      {"g?y/../x", "http://a/b/c/g?y/../x"},
      {"g#s/./x", "http://a/b/c/g"},
      {"g#s/../x", "http://a/b/c/g"},
      {"http:g", "http:g"},  // the strict reading
  };
  expect_resolved_on_rfc3986_base(examples);
}

TEST(HTTPUtilTest, ResolveUrlDropsTheFragmentOfTheBaseToo) {
  EXPECT_EQ(resolve_url("http://h/a/b#top", ""), "http://h/a/b");
  EXPECT_EQ(resolve_url("http://h/a/b#top", "c"), "http://h/a/c");
}

TEST(HTTPUtilTest, ResolveUrlLowercasesTheSchemeOnly) {
  EXPECT_EQ(resolve_url("http://h/a/", "HTTP://Host/Page.html"), "http://Host/Page.html");
  EXPECT_EQ(resolve_url("HTTPS://Host/A/b", "c"), "https://Host/A/c");
}

TEST(HTTPUtilTest, ResolveUrlGivesARootPathToAReferenceOnAHostWithoutPath) {
  EXPECT_EQ(resolve_url("http://h", "page.html"), "http://h/page.html");
  EXPECT_EQ(resolve_url("http://h?q", "page.html"), "http://h/page.html");
}

TEST(HTTPUtilTest, ResolveUrlKeepsTheUserinfoAndPortOfTheBaseForARelativeReference) {
  EXPECT_EQ(resolve_url("http://u:p@h:8080/a", "/b"), "http://u:p@h:8080/b");
  EXPECT_EQ(resolve_url("https://h:8443/x/y", "http://other/z"), "http://other/z");
  EXPECT_EQ(resolve_url("https://h:8443/x/y", "//other/z"), "https://other/z");
}

TEST(HTTPUtilTest, ResolveUrlTreatsAColonAfterASlashAsPartOfThePath) {
  EXPECT_EQ(resolve_url("http://h/d/", "a/b:c"), "http://h/d/a/b:c");
}

TEST(HTTPUtilTest, ResolveUrlPercentEncodesWhatAUrlCannotHold) {
  EXPECT_EQ(resolve_url("http://h/", "a b\t\xc3\xa9{x}\"<>|^`\\\x7f"),
            "http://h/a%20b%09%C3%A9%7Bx%7D%22%3C%3E%7C%5E%60%5C%7F");
}

TEST(HTTPUtilTest, ResolveUrlKeepsAValidUrlAsItIs) {
  const std::string url = "https://u:p@h:80/a-b._~/c;d=1,2?e=%41&f=g+h*'()!$[]@/:";
  EXPECT_EQ(resolve_url("http://other/", url), url);
}

TEST(HTTPUtilTest, ResolveUrlResolvesAnySchemeAlike) {
  EXPECT_EQ(resolve_url("ftp://h/a/b", "../c"), "ftp://h/c");
  EXPECT_EQ(resolve_url("http://h/a", "mailto:someone@example.com"), "mailto:someone@example.com");
  EXPECT_EQ(resolve_url("urn:isbn:0451450523", "x"), "urn:x");
}

TEST(HTTPUtilTest, ResolveUrlRefusesABaseWithoutScheme) {
  EXPECT_THROW(resolve_url("//h/a", "b"), ValueError);
  EXPECT_THROW(resolve_url("/a/b", "http://h/"), ValueError);
  EXPECT_THROW(resolve_url("", "b"), ValueError);
}

}  // namespace
}  // namespace squall
