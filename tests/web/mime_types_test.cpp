// mime_types: guess_mime_type against what Debian's Python 3.11 answers (mimetypes.guess_type,
// with the media-types package's /etc/mime.types), and Tornado's choice of Content-Type.
#include "web/mime_types.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace squall::web::detail {

// GoogleTest's printer for a guess (found by argument-dependent lookup).
void PrintTo(const MimeGuess& g, std::ostream* out) {
  *out << "(" << (g.type.empty() ? "None" : g.type) << ", "
       << (g.encoding.empty() ? "None" : g.encoding) << ")";
}

namespace {

MimeGuess guess(std::string_view path) {
  return guess_mime_type(path);
}

MimeGuess typed(std::string_view type, std::string_view encoding = {}) {
  return MimeGuess{type, encoding};
}

// First: the system's table is read on the first lookup, which several threads race to make.
TEST(MimeTypesTest, ThreadsRacingToTheFirstLookupAllGetTheAnswer) {
  std::vector<std::thread> threads;
  std::vector<std::string> answers(8);
  for (std::size_t i = 0; i < answers.size(); ++i) {
    threads.emplace_back([&answers, i] { answers[i] = guess("x.sfd-hdstx").type; });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& answer : answers) {
    EXPECT_EQ(answer, "application/vnd.hydrostatix.sof-data");
  }
}

TEST(MimeTypesTest, TheCommonWebTypesAreDebiansPythons) {
  EXPECT_EQ(guess("index.html"), typed("text/html"));
  EXPECT_EQ(guess("index.htm"), typed("text/html"));
  EXPECT_EQ(guess("site.css"), typed("text/css"));
  EXPECT_EQ(guess("app.js"),
            typed("text/javascript"));  // Python 3.11 on Debian; not x-/application
  EXPECT_EQ(guess("module.mjs"), typed("text/javascript"));
  EXPECT_EQ(guess("data.json"), typed("application/json"));
  EXPECT_EQ(guess("a.png"), typed("image/png"));
  EXPECT_EQ(guess("a.jpg"), typed("image/jpeg"));
  EXPECT_EQ(guess("a.jpeg"), typed("image/jpeg"));
  EXPECT_EQ(guess("a.gif"), typed("image/gif"));
  EXPECT_EQ(guess("a.svg"), typed("image/svg+xml"));
  EXPECT_EQ(guess("favicon.ico"), typed("image/vnd.microsoft.icon"));
  EXPECT_EQ(guess("robots.txt"), typed("text/plain"));
  EXPECT_EQ(guess("app.wasm"), typed("application/wasm"));
  EXPECT_EQ(guess("font.woff"), typed("font/woff"));
  EXPECT_EQ(guess("font.woff2"), typed("font/woff2"));
  EXPECT_EQ(guess("a.webp"), typed("image/webp"));
  EXPECT_EQ(guess("feed.xml"), typed("application/xml"));
  EXPECT_EQ(guess("a.wav"), typed("audio/x-wav"));
  EXPECT_EQ(guess("a.webmanifest"), typed("application/manifest+json"));
  EXPECT_EQ(guess("a.zst"), typed("application/zstd"));
}

TEST(MimeTypesTest, ExtensionsMatchWithoutRegardToCase) {
  EXPECT_EQ(guess("INDEX.HTML"), typed("text/html"));
  EXPECT_EQ(guess("App.Js"), typed("text/javascript"));
  EXPECT_EQ(guess("x.SFD-HDSTX"), typed("application/vnd.hydrostatix.sof-data"));
}

TEST(MimeTypesTest, ACompressionSuffixIsTheEncodingAndTheExtensionBeforeItTheType) {
  EXPECT_EQ(guess("a.tar.gz"), typed("application/x-tar", "gzip"));
  EXPECT_EQ(guess("a.html.gz"), typed("text/html", "gzip"));
  EXPECT_EQ(guess("a.js.br"), typed("text/javascript", "br"));
  EXPECT_EQ(guess("a.css.bz2"), typed("text/css", "bzip2"));
  EXPECT_EQ(guess("a.tar.xz"), typed("application/x-tar", "xz"));
  EXPECT_EQ(guess("a.tar.Z"), typed("application/x-tar", "compress"));
  EXPECT_EQ(guess("a.gz"), typed("", "gzip"));
  EXPECT_EQ(guess("a.unknown.gz"), typed("", "gzip"));
}

TEST(MimeTypesTest, SuffixAliasesStandForTwoExtensionsWhateverTheirCase) {
  EXPECT_EQ(guess("a.svgz"), typed("image/svg+xml", "gzip"));
  EXPECT_EQ(guess("a.tgz"), typed("application/x-tar", "gzip"));
  EXPECT_EQ(guess("a.TGZ"), typed("application/x-tar", "gzip"));
  EXPECT_EQ(guess("a.taz"), typed("application/x-tar", "gzip"));
  EXPECT_EQ(guess("a.tz"), typed("application/x-tar", "gzip"));
  EXPECT_EQ(guess("a.tbz2"), typed("application/x-tar", "bzip2"));
  EXPECT_EQ(guess("a.txz"), typed("application/x-tar", "xz"));
}

TEST(MimeTypesTest, EncodingsMatchWithCaseAsPythonsDo) {
  EXPECT_EQ(guess("a.Z"), typed("", "compress"));
  EXPECT_EQ(guess("a.z"), typed(""));                   // nothing at all
  EXPECT_EQ(guess("a.GZ"), typed("application/gzip"));  // a type, not an encoding
  EXPECT_EQ(guess("a.tar.GZ"), typed("application/gzip"));
}

TEST(MimeTypesTest, OnlyTheLastComponentsExtensionCountsAndLeadingDotsAreNone) {
  EXPECT_EQ(guess("README"), typed(""));
  EXPECT_EQ(guess(".bashrc"), typed(""));
  EXPECT_EQ(guess(".gz"), typed(""));
  EXPECT_EQ(guess("static/.js"), typed(""));
  EXPECT_EQ(guess("a.b/.gz"), typed(""));
  EXPECT_EQ(guess("dir.css/file"), typed(""));
  EXPECT_EQ(guess("..css"), typed(""));
  EXPECT_EQ(guess("a..css"), typed("text/css"));
  EXPECT_EQ(guess("/srv/static/v1.2/app.min.js"), typed("text/javascript"));
  EXPECT_EQ(guess("file."), typed(""));
  EXPECT_EQ(guess(""), typed(""));
  EXPECT_EQ(guess("x." + std::string(100, 'a')), typed(""));
}

TEST(MimeTypesTest, StaticContentTypeFollowsTornado) {
  EXPECT_EQ(static_content_type("/srv/a.css"), "text/css");
  EXPECT_EQ(static_content_type("/srv/a.css.gz"), "application/gzip");  // RFC 6713
  EXPECT_EQ(static_content_type("/srv/a.svgz"), "application/gzip");
  EXPECT_EQ(static_content_type("/srv/a.css.bz2"), "application/octet-stream");
  EXPECT_EQ(static_content_type("/srv/a.js.br"), "application/octet-stream");
  EXPECT_EQ(static_content_type("/srv/a.no-such-extension"), "application/octet-stream");
  EXPECT_EQ(static_content_type("/srv/Makefile"), "application/octet-stream");
}

TEST(MimeTypesTest, AMimeTypesFileIsReadAsPythonReadsIt) {
  MimeTypesFile types(
      "# a comment line\n"
      "\n"
      "text/first\tfoo bar   # a comment after the extensions: baz\n"
      "application/x-later  foo\r\n"
      "image/Capital\tQUX\n"
      "type/without-extensions\n"
      "   \t  \n"
      "#text/commented qux2\n"
      "text/last-line-without-newline last");
  EXPECT_EQ(types.size(), 4u);                            // foo, bar, qux, last
  EXPECT_EQ(types.lookup("foo"), "application/x-later");  // a later line wins
  EXPECT_EQ(types.lookup("bar"), "text/first");
  EXPECT_EQ(types.lookup("baz"), "");
  EXPECT_EQ(types.lookup("qux"), "image/Capital");  // the type keeps its case
  EXPECT_EQ(types.lookup("QuX"), "image/Capital");
  EXPECT_EQ(types.lookup("qux2"), "");
  EXPECT_EQ(types.lookup("last"), "text/last-line-without-newline");
  EXPECT_EQ(types.lookup(""), "");
}

TEST(MimeTypesTest, TheBuiltInTableWinsOverTheFile) {
  MimeTypesFile types("application/x-bogus js\ntext/x-custom custom\n");
  EXPECT_EQ(guess_mime_type("a.js", types), typed("text/javascript"));
  EXPECT_EQ(guess_mime_type("a.CUSTOM.gz", types), typed("text/x-custom", "gzip"));
  MimeTypesFile none("");
  EXPECT_EQ(guess_mime_type("a.css", none), typed("text/css"));  // no file: still known
  EXPECT_EQ(guess_mime_type("a.custom", none), typed(""));
}

TEST(MimeTypesTest, TheSystemTableIsDebiansMediaTypes) {
  // scripts/deps installs the media-types package.
  EXPECT_GT(MimeTypesFile::system().size(), 1000u);
  EXPECT_EQ(guess("a.art"), typed("message/rfc822"));  // named twice: the later line wins
  EXPECT_EQ(guess("a.apk"), typed("application/vnd.android.package-archive"));
}

// Every extension of /etc/mime.types, bare, upper-cased and gzip'ed, against Debian's Python.
// (Extensions the file writes with capitals are left out: Python never finds those, and this
// module finds them without regard to case.)
TEST(MimeTypesTest, EveryExtensionOfTheSystemFileGetsPythonsAnswer) {
  std::ifstream file("/etc/mime.types");
  ASSERT_TRUE(file) << "/etc/mime.types is missing (scripts/deps installs media-types)";
  std::vector<std::string> names;
  std::string line;
  while (std::getline(file, line)) {
    std::istringstream words(line);
    std::string word;
    if (!(words >> word) || word[0] == '#') continue;
    while (words >> word && word[0] != '#') {
      bool capitals = false;
      for (char c : word) capitals = capitals || std::isupper(static_cast<unsigned char>(c));
      if (capitals) continue;
      std::string upper = word;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      names.push_back("dir/name." + word);
      names.push_back("name." + upper);
      names.push_back("name." + word + ".gz");
    }
  }
  ASSERT_GT(names.size(), 3000u);
  char path[] = "/tmp/squall-mime-names-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string all;
  for (const std::string& name : names) all.append(name).append("\n");
  ASSERT_EQ(::write(fd, all.data(), all.size()), static_cast<ssize_t>(all.size()));
  ::close(fd);
  std::string command =
      "/usr/bin/python3 -c 'import mimetypes, sys\n"
      "for name in open(sys.argv[1]).read().split():\n"
      "    t, e = mimetypes.guess_type(name)\n"
      "    print(t or \"\", e or \"\", sep=\"\\t\")' ";
  command.append(path);
  FILE* python = ::popen(command.c_str(), "r");
  ASSERT_NE(python, nullptr);
  std::string output;
  char buffer[65536];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, python)) output.append(buffer, n);
  int status = ::pclose(python);
  ::unlink(path);
  ASSERT_EQ(status, 0) << "python3 failed";
  std::istringstream answers(output);
  std::size_t checked = 0;
  int mismatches = 0;
  for (const std::string& name : names) {
    std::string answer;
    ASSERT_TRUE(std::getline(answers, answer)) << "python gave fewer answers than names";
    auto tab = answer.find('\t');
    ASSERT_NE(tab, std::string::npos);
    MimeGuess expected{std::string_view(answer).substr(0, tab),
                       std::string_view(answer).substr(tab + 1)};
    if (guess(name) != expected && ++mismatches <= 10) {
      ADD_FAILURE() << name << ": python says (" << expected.type << ", " << expected.encoding
                    << "), squall (" << guess(name).type << ", " << guess(name).encoding << ")";
    }
    ++checked;
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(checked, names.size());
}

}  // namespace
}  // namespace squall::web::detail
