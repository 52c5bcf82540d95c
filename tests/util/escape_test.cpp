// escape: HTML, URL and JSON escaping, squeeze and linkify. Expected values are Tornado's
// documented outputs (its docstrings and tornado/test/escape_test.py).
#include "squall/util/escape.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "squall/util/error.hpp"
#include "squall/util/json.hpp"

namespace squall {
namespace {

using namespace escape;
using namespace std::string_view_literals;

TEST(XhtmlEscape, EscapesTheFiveSpecialCharacters) {
  EXPECT_EQ(xhtml_escape("<foo>"), "&lt;foo&gt;");
  EXPECT_EQ(xhtml_escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;");
}

TEST(XhtmlEscape, EscapesAmpersandFirstSoEntitiesAreEscapedAgain) {
  EXPECT_EQ(xhtml_escape("&amp;"), "&amp;amp;");
}

TEST(XhtmlEscape, KeepsTextWithNothingToEscape) {
  EXPECT_EQ(xhtml_escape(""), "");
  EXPECT_EQ(xhtml_escape("plain text, \xc3\xa9t\xc3\xa9"), "plain text, \xc3\xa9t\xc3\xa9");
}

TEST(XhtmlEscape, AppendsToAnExistingString) {
  std::string out = "x=";
  xhtml_escape_to(out, "a<b");
  EXPECT_EQ(out, "x=a&lt;b");
}

TEST(XhtmlUnescape, DecodesNamedDecimalAndHexReferences) {
  EXPECT_EQ(xhtml_unescape("&lt;foo&gt; &amp; &quot;&#39;"), "<foo> & \"'");
  EXPECT_EQ(xhtml_unescape("&eacute;&#233;&#xe9;&#XE9;"), "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
  EXPECT_EQ(xhtml_unescape("&#x1F600;"), "\xf0\x9f\x98\x80");
}

TEST(XhtmlUnescape, RoundTripsXhtmlEscape) {
  std::string text = "<a href=\"x?a=1&b='2'\">";
  EXPECT_EQ(xhtml_unescape(xhtml_escape(text)), text);
}

TEST(XhtmlUnescape, LeavesUnknownAndMalformedReferencesAlone) {
  // apos is not an HTML 4 entity; names are case-sensitive.
  EXPECT_EQ(xhtml_unescape("&apos; &AMP; &nosuch;"), "&apos; &AMP; &nosuch;");
  EXPECT_EQ(xhtml_unescape("&amp &#; &#x; &#xg; &#12a; & ;"), "&amp &#; &#x; &#xg; &#12a; & ;");
  // Past U+10FFFF, or a surrogate.
  EXPECT_EQ(xhtml_unescape("&#1114112; &#xD800;"), "&#1114112; &#xD800;");
  EXPECT_EQ(xhtml_unescape("&#1114111;"), "\xf4\x8f\xbf\xbf");
}

TEST(XhtmlUnescape, ReadsAReferenceAfterAnUnterminatedOne) {
  EXPECT_EQ(xhtml_unescape("&a&amp;"), "&a&");
  EXPECT_EQ(xhtml_unescape("x&&lt;"), "x&<");
}

TEST(UrlEscape, EncodesSpacesAsPlusAndSlashesByDefault) {
  EXPECT_EQ(url_escape("a b/c~_.-+\xc3\xa9"), "a+b%2Fc~_.-%2B%C3%A9");
}

TEST(UrlEscape, WithoutPlusKeepsSlashesAndEncodesSpaces) {
  EXPECT_EQ(url_escape("a b/c~_.-+\xc3\xa9", false), "a%20b/c~_.-%2B%C3%A9");
}

TEST(UrlUnescape, DecodesPercentEscapesAndPlus) {
  EXPECT_EQ(url_unescape("a+b%2B%zz%4"), "a b+%zz%4");
  EXPECT_EQ(url_unescape("a+b%2B", false), "a+b+");
  EXPECT_EQ(url_unescape("%C3%a9"), "\xc3\xa9");
}

TEST(UrlUnescape, RoundTripsUrlEscape) {
  std::string text = "q=a b&c/d?\xc3\xa9%";
  EXPECT_EQ(url_unescape(url_escape(text)), text);
  EXPECT_EQ(url_unescape(url_escape(text, false), false), text);
}

TEST(JsonEncode, WritesCompactJsonWithEscapedClosingTags) {
  json value = {{"a", "</script>"}, {"b", json::array({1, 2.5, nullptr, true})}};
  EXPECT_EQ(json_encode(value), R"({"a":"<\/script>","b":[1,2.5,null,true]})");
}

TEST(JsonEncode, WritesNonAsciiAsUnicodeEscapes) {
  EXPECT_EQ(json_encode("\xc3\xa9"), R"("\u00e9")");
}

TEST(JsonEncode, ReplacesInvalidUtf8InsteadOfThrowing) {
  EXPECT_EQ(json_encode("a\xff"), R"("a\ufffd")");
}

TEST(JsonDecode, ParsesJson) {
  json value = json_decode(R"({"a": [1, "x", null], "b": {"c": false}})");
  EXPECT_EQ(value["a"][1], "x");
  EXPECT_EQ(value["b"]["c"], false);
  EXPECT_EQ(json_decode(json_encode("</tag>")), "</tag>");
}

TEST(JsonDecode, ThrowsValueErrorNamingThePosition) {
  try {
    json_decode(R"({"a": })");
    FAIL() << "no ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string_view(e.what()).find("at byte 7"), std::string_view::npos) << e.what();
  }
  EXPECT_THROW(json_decode(""), ValueError);
  EXPECT_THROW(json_decode("1e400"), ValueError);
}

TEST(JsonDecode, RefusesNestingDeeperThanPython) {
  EXPECT_THROW(json_decode(std::string(5000, '[') + std::string(5000, ']')), ValueError);
  EXPECT_NO_THROW(json_decode(std::string(900, '[') + std::string(900, ']')));
  // Brackets inside strings do not count.
  EXPECT_NO_THROW(json_decode("\"" + std::string(5000, '[') + "\""));
}

TEST(Squeeze, CollapsesWhitespaceAndControlBytesAndTrims) {
  EXPECT_EQ(squeeze("  a \t\n b\x00"
                    "c\x1f "sv),
            "a b c");
  EXPECT_EQ(squeeze("sequences     of    whitespace   chars"), "sequences of whitespace chars");
  EXPECT_EQ(squeeze(" \n "), "");
}

TEST(Linkify, LinksUrlsAndKeepsTrailingPunctuationOutside) {
  EXPECT_EQ(linkify("hello http://world.com/!"),
            "hello <a href=\"http://world.com/\">http://world.com/</a>!");
  EXPECT_EQ(linkify("http://url.com/withmany......................................."),
            "<a href=\"http://url.com/withmany\">http://url.com/withmany</a>"
            ".......................................");
}

TEST(Linkify, EscapesTheTextAndTheUrl) {
  EXPECT_EQ(linkify("hello http://world.com/with?param=true&stuff=yes"),
            "hello <a href=\"http://world.com/with?param=true&amp;stuff=yes\">"
            "http://world.com/with?param=true&amp;stuff=yes</a>");
  EXPECT_EQ(linkify("<tag>www.example.com</tag>"),
            "&lt;tag&gt;<a href=\"http://www.example.com\">www.example.com</a>&lt;/tag&gt;");
}

TEST(Linkify, KeepsBalancedParenthesesInside) {
  EXPECT_EQ(linkify("http://url.com/w(aaa)"),
            "<a href=\"http://url.com/w(aaa)\">http://url.com/w(aaa)</a>");
  EXPECT_EQ(linkify("(http://url.com/w(aaa))"),
            "(<a href=\"http://url.com/w(aaa)\">http://url.com/w(aaa)</a>)");
}

TEST(Linkify, AddsExtraParamsAndHttpToWwwLinks) {
  EXPECT_EQ(linkify("www.external-link.com", false, "rel=\"nofollow\" class=\"external\""),
            "<a href=\"http://www.external-link.com\" rel=\"nofollow\" class=\"external\">"
            "www.external-link.com</a>");
}

TEST(Linkify, TakesExtraParamsFromACallback) {
  auto params = [](std::string_view href) -> std::string {
    return href.starts_with("http://example.com") ? "class=\"internal\"" : "class=\"external\"";
  };
  EXPECT_EQ(linkify("http://example.com/a http://other.org", false, params),
            "<a href=\"http://example.com/a\" class=\"internal\">http://example.com/a</a> "
            "<a href=\"http://other.org\" class=\"external\">http://other.org</a>");
}

TEST(Linkify, RequireProtocolLeavesWwwLinksAsText) {
  EXPECT_EQ(linkify("www.external-link.com and www.internal-link.com/blogs extra", false, "", true),
            "www.external-link.com and www.internal-link.com/blogs extra");
}

TEST(Linkify, OnlyPermittedProtocolsAreLinked) {
  EXPECT_EQ(linkify("ftp://abc.com"), "ftp://abc.com");
  EXPECT_EQ(linkify("javascript://protocol.com"), "javascript://protocol.com");
  EXPECT_EQ(linkify("ftp://abc.com", false, "", false, {"ftp"}),
            "<a href=\"ftp://abc.com\">ftp://abc.com</a>");
}

TEST(Linkify, ShortensLongUrlsAndShowsTheFullOneAsTitle) {
  std::string url = "http://url.com/withl" + std::string(160, 'o') + "ng";
  EXPECT_EQ(linkify(url, true),
            "<a href=\"" + url + "\" title=\"" + url + "\">http://url.com/withlooo...</a>");
  EXPECT_EQ(linkify("http://www.example.com/wpstyle/?p=364.", true),
            "<a href=\"http://www.example.com/wpstyle/?p=364\" "
            "title=\"http://www.example.com/wpstyle/?p=364\">"
            "http://www.example.com/wpstyle...</a>.");
  // Short enough: no title.
  EXPECT_EQ(linkify("www.x.com/a", true), "<a href=\"http://www.x.com/a\">www.x.com/a</a>");
}

TEST(Linkify, RunsInLinearTimeOnPathologicalInput) {
  // Long runs that almost start or end a URL; a backtracking matcher would take quadratic time.
  std::string prefix;
  for (int i = 0; i < 20000; ++i) prefix += "a-";
  prefix += std::string(50000, '.');
  std::string parentheses(50000, '(');
  EXPECT_EQ(linkify(prefix + "http://" + parentheses),
            prefix + "<a href=\"http://\">http://</a>" + parentheses);
}

}  // namespace
}  // namespace squall
