// The webspider's link extraction and URL resolution, checked against RFC 3986's own examples
// and the HTML a crawler meets.

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "links.hpp"
#include "urls.hpp"

namespace webspider {
namespace {

using Links = std::vector<std::string>;

constexpr const char* kBase = "http://a/b/c/d;p?q";

TEST(UrlJoinTest, ResolvesTheNormalExamplesOfRfc3986) {
  const std::vector<std::pair<const char*, const char*>> examples = {
      {"g:h", "g:h"},
      {"g", "http://a/b/c/g"},
      {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"},
      {"/g", "http://a/g"},
      {"//g", "http://g"},
      {"?y", "http://a/b/c/d;p?y"},
      {"g?y", "http://a/b/c/g?y"},
      {"#s", "http://a/b/c/d;p?q#s"},
      {"g#s", "http://a/b/c/g#s"},
      {"g?y#s", "http://a/b/c/g?y#s"},
      {";x", "http://a/b/c/;x"},
      {"g;x", "http://a/b/c/g;x"},
      {"g;x?y#s", "http://a/b/c/g;x?y#s"},
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
  for (const auto& [reference, target] : examples) {
    EXPECT_EQ(urljoin(kBase, reference), target) << "reference: " << reference;
  }
}

TEST(UrlJoinTest, ResolvesTheAbnormalExamplesOfRfc3986) {
  const std::vector<std::pair<const char*, const char*>> examples = {
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
      {"g#s/./x", "http://a/b/c/g#s/./x"},
      {"g#s/../x", "http://a/b/c/g#s/../x"},
      {"http:g", "http:g"},
  };
  for (const auto& [reference, target] : examples) {
    EXPECT_EQ(urljoin(kBase, reference), target) << "reference: " << reference;
  }
}

TEST(UrlJoinTest, LowercasesTheSchemeOnly) {
  EXPECT_EQ(urljoin("http://h/a/", "HTTP://Host/Page.html"), "http://Host/Page.html");
}

TEST(UrlJoinTest, GivesARootPathToAReferenceOnAHostWithoutPath) {
  EXPECT_EQ(urljoin("http://h", "page.html"), "http://h/page.html");
}

TEST(UrlJoinTest, TreatsAColonAfterASlashAsPartOfThePath) {
  EXPECT_EQ(urljoin("http://h/d/", "a/b:c"), "http://h/d/a/b:c");
}

TEST(RemoveFragmentTest, DropsEverythingFromTheFirstHash) {
  EXPECT_EQ(remove_fragment("http://h/p?q#f#g"), "http://h/p?q");
  EXPECT_EQ(remove_fragment("http://h/p"), "http://h/p");
}

TEST(QuoteUnsafeTest, EncodesSpacesControlsAndNonAsciiBytes) {
  EXPECT_EQ(quote_unsafe("http://h/a b\t\xc3\xa9{x}\"<>|^`\\"),
            "http://h/a%20b%09%C3%A9%7Bx%7D%22%3C%3E%7C%5E%60%5C");
}

TEST(QuoteUnsafeTest, KeepsAValidUrlAsItIs) {
  const std::string url = "http://u:p@h:80/a-b._~/c;d=1,2?e=%41&f=g+h*'()!$[]@#";
  EXPECT_EQ(quote_unsafe(url), url);
}

TEST(GetLinksTest, CollectsTheHrefsOfAnchorTagsOnly) {
  EXPECT_EQ(get_links("<p><a href=\"a.html\">a</a> <link href=\"s.css\"> <area href=\"m\">"
                      "<abbr href=\"no\"></abbr><a name=\"n\">x</a><a href=\"b.html\">b</a></p>"),
            (Links{"a.html", "b.html"}));
}

TEST(GetLinksTest, AcceptsAnyCaseAndQuoting) {
  EXPECT_EQ(get_links("<A HREF='one'><a href=two><a\nclass=x\thref = \"three\" ><a href=four>"),
            (Links{"one", "two", "three", "four"}));
}

TEST(GetLinksTest, DecodesCharacterReferencesAndTrimsWhiteSpace) {
  EXPECT_EQ(get_links("<a href=\" p?a=1&amp;b=2 \"><a href='x&#46;html'><a href=\"\">"),
            (Links{"p?a=1&b=2", "x.html", ""}));
}

TEST(GetLinksTest, SkipsCommentsDeclarationsScriptsAndStyles) {
  EXPECT_EQ(get_links("<!DOCTYPE html><!-- <a href=\"c\"> --><?xml x?>"
                      "<script type=\"text/javascript\">w('<a href=\"s\">')</script >"
                      "<STYLE>a[href=\"t\"]{}</style><a href=\"kept\">"),
            (Links{"kept"}));
}

TEST(GetLinksTest, ReadsAScriptEndTagOnlyWhenItIsOne) {
  EXPECT_EQ(get_links("<script>'</scripts><a href=\"s\">'</script><a href=\"after\">"),
            (Links{"after"}));
}

TEST(GetLinksTest, TakesTheFirstHrefOfATag) {
  EXPECT_EQ(get_links("<a href=\"first\" href=\"second\">"), (Links{"first"}));
}

TEST(GetLinksTest, TreatsALoneLessThanAsText) {
  EXPECT_EQ(get_links("1 < 2 <3 <<a href=\"x\">"), (Links{"x"}));
}

TEST(GetLinksTest, IgnoresTagsLeftOpenAtTheEnd) {
  EXPECT_EQ(get_links("<a href=\"a\"><a href=\"unterminated"), (Links{"a"}));
  EXPECT_EQ(get_links("<a href=\"a\"><a href=b"), (Links{"a"}));
  EXPECT_EQ(get_links("<a href=\"a\"><!-- <a href=\"b\">"), (Links{"a"}));
  EXPECT_EQ(get_links("<a href=\"a\"><script><a href=\"b\">"), (Links{"a"}));
}

TEST(GetLinksTest, StaysLinearOnPathologicalInput) {
  // Each of these would make a backtracking pattern retry from every position.
  std::string page;
  for (int i = 0; i < 200000; ++i) page.append("<a x=y ");
  EXPECT_TRUE(get_links(page).empty());
  page.clear();
  for (int i = 0; i < 200000; ++i) page.append("</scrip<");
  page.insert(0, "<script>");
  EXPECT_TRUE(get_links(page).empty());
  page.assign(1000000, '<');
  page.append("<a href=\"end\">");
  EXPECT_EQ(get_links(page), (Links{"end"}));
}

}  // namespace
}  // namespace webspider
