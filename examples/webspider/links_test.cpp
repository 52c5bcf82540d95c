// The webspider's link extraction, checked against the HTML a crawler meets. (The links are
// resolved by squall::httputil::resolve_url, tested with httputil.)

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "links.hpp"

namespace webspider {
namespace {

using Links = std::vector<std::string>;

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
