// StaticFileHandler over real sockets: validators, conditional requests, ranges, folders, versioned
// URLs, path traversal (sent raw so that no client normalizes it), a large file's memory, gzip.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <squall/testing/testing.hpp>
#include <squall/util/log.hpp>
#include <squall/web/application.hpp>
#include <squall/web/request_handler.hpp>
#include <squall/web/static_file_handler.hpp>

#include "support/http_test_client.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using squall::Future;
using squall::HTTPRequest;
using squall::HTTPResponse;
using squall::test_support::HttpResponse;
using squall::test_support::RawClient;
using squall::testing::ExpectLog;
namespace web = squall::web;
namespace httputil = squall::httputil;

constexpr std::string_view kHello = "Hello, static!\n";
constexpr std::string_view kHelloMd5 = "d2129bef9aeb8257313ad9ae4c0bf0de";
constexpr std::string_view kSecret = "TOPSECRET-42";
// 2020-01-02 03:04:05 UTC.
constexpr std::time_t kMtime = 1577934245;
constexpr std::string_view kMtimeText = "Thu, 02 Jan 2020 03:04:05 GMT";
constexpr std::size_t kDataSize = 1000;

// 1000 bytes that differ from one position to the next, so a wrong offset shows.
std::string data_bytes() {
  std::string data(kDataSize, '\0');
  for (std::size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<char>((i * 7 + i / 251) % 256);
  return data;
}

void write_text(const fs::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  ASSERT_TRUE(out.good()) << path;
}

void set_mtime(const fs::path& path, std::time_t seconds) {
  timespec times[2] = {{seconds, 0}, {seconds, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

std::string header(const HTTPResponse& response, std::string_view name) {
  return response.headers.get(name).value_or("<absent>");
}

// FNV-1a, 64 bits: enough to tell a wrong byte in a large body without keeping the body.
struct Fnv1a {
  std::uint64_t value = 0xcbf29ce484222325ULL;
  void update(std::string_view bytes) {
    for (unsigned char c : bytes) {
      value ^= c;
      value *= 0x100000001b3ULL;
    }
  }
};

// The bytes of a large file: a xorshift stream, made piece by piece.
struct LargeContent {
  std::uint64_t state = 0x9e3779b97f4a7c15ULL;
  void fill(std::string& piece) {
    for (char& c : piece) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      c = static_cast<char>(state >> 56);
    }
  }
};

std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0;
  std::size_t resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

class UrlHandler : public web::RequestHandler {
 public:
  Future<void> get() override {
    write(static_url(get_argument("path"), get_argument("host", "") == "1"));
    return squall::make_ready_future();
  }
};

class StaticFileHandlerTest : public squall::testing::AsyncHTTPTestCase {
 protected:
  StaticFileHandlerTest() {
    char pattern[] = "/tmp/squall-static-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    if (!made) std::abort();
    dir_ = made;
    const fs::path root = static_dir();
    fs::create_directories(root / "sub");
    fs::create_directories(root / "empty_dir");
    write_text(dir_ / "secret.txt", kSecret);
    write_text(root / "hello.txt", kHello);
    write_text(root / "data.bin", data_bytes());
    write_text(root / "empty.txt", "");
    write_text(root / "index.html", "<p>root index</p>");
    write_text(root / "sub" / "index.html", "<p>sub index</p>");
    write_text(root / "robots.txt", "User-agent: *\n");
    for (const char* name : {"page.html", "style.css", "app.js", "data.json", "image.png",
                             "logo.svg", "file.weird", "archive.tar.gz", "notes.txt.bz2"}) {
      write_text(root / name, "x");
    }
    fs::create_symlink("hello.txt", root / "inside_link.txt");
    fs::create_symlink("../secret.txt", root / "escape.txt");
    fs::create_symlink(dir_, root / "escape_dir");
    set_mtime(root / "hello.txt", kMtime);
    set_mtime(root / "data.bin", kMtime);
  }

  ~StaticFileHandlerTest() override {
    std::error_code ignored;
    fs::permissions(static_dir(), fs::perms::owner_all, fs::perm_options::add, ignored);
    fs::remove_all(dir_, ignored);
  }

  fs::path static_dir() const { return dir_ / "static"; }

  virtual web::Settings app_settings() {
    web::Settings settings;
    settings.static_path = static_dir().string();
    return settings;
  }

  std::unique_ptr<web::Application> get_app() override {
    return std::make_unique<web::Application>(
        std::vector<web::URLSpec>{
            {"/files/(.*)", web::handler<web::StaticFileHandler>(
                                web::StaticFileOptions{static_dir().string(), "index.html"})},
            {"/url", web::handler<UrlHandler>()}},
        app_settings());
  }

  HTTPResponse get(std::string_view path,
                   std::vector<std::pair<std::string, std::string>> headers = {},
                   std::string method = "GET") {
    HTTPRequest request;
    request.method = std::move(method);
    request.follow_redirects = false;
    for (const auto& [name, value] : headers) request.headers.add(name, value);
    return fetch(path, std::move(request));
  }

  // Sends `target` exactly as given, on a new connection, and reads the response strictly.
  HttpResponse raw(const std::string& target, const std::string& method = "GET",
                   const std::string& extra_headers = "") {
    std::string request = method;
    request.append(" ").append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    request.append(extra_headers).append("Connection: close\r\n\r\n");
    return run_sync([&]() -> Future<HttpResponse> {
      auto client = co_await RawClient::connect(static_cast<std::uint16_t>(get_http_port()));
      HttpResponse response = co_await client->request(request, method);
      std::string after = co_await client->read_until_close();
      EXPECT_EQ(after, "") << "bytes after the response to " << method << " " << target;
      co_return response;
    });
  }

  std::string etag_of(std::string_view path) { return header(get(path), "Etag"); }

  fs::path dir_;
};

// --- Files, types and validators ----------------------------------------------------------------

TEST_F(StaticFileHandlerTest, ServesAFileWithItsTypeLengthAndValidators) {
  HTTPResponse r = get("/static/hello.txt");
  ASSERT_EQ(r.code, 200);
  EXPECT_EQ(r.body, kHello);
  EXPECT_EQ(header(r, "Content-Type"), "text/plain");
  EXPECT_EQ(header(r, "Content-Length"), std::to_string(kHello.size()));
  EXPECT_EQ(header(r, "Accept-Ranges"), "bytes");
  EXPECT_EQ(header(r, "Etag"), "\"" + std::string(kHelloMd5) + "\"");
  EXPECT_EQ(header(r, "Last-Modified"), kMtimeText);
  // Not versioned: no cache lifetime of its own.
  EXPECT_EQ(header(r, "Cache-Control"), "<absent>");
  EXPECT_EQ(header(r, "Expires"), "<absent>");
}

TEST_F(StaticFileHandlerTest, ServesTheSameFileThroughARouteOfItsOwn) {
  HTTPResponse r = get("/files/hello.txt");
  ASSERT_EQ(r.code, 200);
  EXPECT_EQ(r.body, kHello);
  EXPECT_EQ(header(r, "Etag"), "\"" + std::string(kHelloMd5) + "\"");
}

TEST_F(StaticFileHandlerTest, GuessesTheContentTypeFromTheName) {
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"page.html", "text/html"},
      {"style.css", "text/css"},
      {"app.js", "text/javascript"},
      {"data.json", "application/json"},
      {"image.png", "image/png"},
      {"logo.svg", "image/svg+xml"},
      {"file.weird", "application/octet-stream"},
      {"archive.tar.gz", "application/gzip"},
      {"notes.txt.bz2", "application/octet-stream"},
  };
  for (const auto& [name, type] : expected) {
    HTTPResponse r = get("/static/" + name);
    EXPECT_EQ(r.code, 200) << name;
    EXPECT_EQ(header(r, "Content-Type"), type) << name;
  }
}

TEST_F(StaticFileHandlerTest, MissingFileGives404) {
  EXPECT_EQ(get("/static/missing.txt").code, 404);
  EXPECT_EQ(get("/static/sub/missing/deeper.txt").code, 404);
  EXPECT_EQ(get("/static/hello.txt/below").code, 404);
}

TEST_F(StaticFileHandlerTest, OtherMethodsAreNotAllowed) {
  HTTPRequest request;
  request.method = "POST";
  request.body = "x";
  EXPECT_EQ(fetch("/static/hello.txt", std::move(request)).code, 405);
}

TEST_F(StaticFileHandlerTest, RobotsTxtAndFaviconRoutesServeFromTheStaticPath) {
  HTTPResponse r = get("/robots.txt");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "User-agent: *\n");
  EXPECT_EQ(get("/favicon.ico").code, 404);  // routed, but there is none
}

TEST_F(StaticFileHandlerTest, FutureModificationTimeIsReportedAsNow) {
  set_mtime(static_dir() / "hello.txt", std::time(nullptr) + 86400 * 365);
  const auto before = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  HTTPResponse r = get("/static/hello.txt");
  const auto after = std::chrono::system_clock::now();
  auto modified = httputil::parse_http_date(header(r, "Last-Modified"));
  ASSERT_TRUE(modified) << header(r, "Last-Modified");
  EXPECT_GE(*modified, before);
  EXPECT_LE(*modified, after);
}

// --- HEAD ---------------------------------------------------------------------------------------

TEST_F(StaticFileHandlerTest, HeadSendsTheHeadersWithoutTheBody) {
  HttpResponse r = raw("/static/data.bin", "HEAD");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header_or_absent("Content-Length"), std::to_string(kDataSize));
  EXPECT_EQ(r.header_or_absent("Content-Type"), "application/octet-stream");
  EXPECT_EQ(r.header_or_absent("Etag"), etag_of("/static/data.bin"));
  EXPECT_EQ(r.header_or_absent("Last-Modified"), kMtimeText);
  EXPECT_EQ(r.body, "");
}

TEST_F(StaticFileHandlerTest, HeadIgnoresRange) {
  // RFC 9110 §14.2: range handling is defined for GET only.
  HttpResponse r = raw("/static/data.bin", "HEAD", "Range: bytes=0-9\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header_or_absent("Content-Length"), std::to_string(kDataSize));
  EXPECT_FALSE(r.has("Content-Range"));
}

// --- Conditional requests -----------------------------------------------------------------------

TEST_F(StaticFileHandlerTest, IfNoneMatchWithTheEtagGives304WithoutRepresentationHeaders) {
  const std::string etag = etag_of("/static/hello.txt");
  // The strict client refuses a 304 with a body, Content-Length or Transfer-Encoding.
  HttpResponse r = raw("/static/hello.txt", "GET", "If-None-Match: " + etag + "\r\n");
  EXPECT_EQ(r.status, 304);
  EXPECT_EQ(r.header_or_absent("Etag"), etag);
  EXPECT_FALSE(r.has("Content-Type"));
  EXPECT_FALSE(r.has("Last-Modified"));  // the ETag revalidates (RFC 9110 §15.4.5)
  EXPECT_EQ(r.body, "");
}

TEST_F(StaticFileHandlerTest, IfNoneMatchComparesWeaklyAndTakesListsAndAStar) {
  const std::string etag = etag_of("/static/hello.txt");
  EXPECT_EQ(get("/static/hello.txt", {{"If-None-Match", "W/" + etag}}).code, 304);
  EXPECT_EQ(get("/static/hello.txt", {{"If-None-Match", "\"other\", " + etag}}).code, 304);
  EXPECT_EQ(get("/static/hello.txt", {{"If-None-Match", "*"}}).code, 304);
  EXPECT_EQ(get("/static/hello.txt", {{"If-None-Match", etag}}, "HEAD").code, 304);
}

TEST_F(StaticFileHandlerTest, IfNoneMatchWithAnotherEtagGivesTheFile) {
  HTTPResponse r = get("/static/hello.txt", {{"If-None-Match", "\"0123\""}});
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, kHello);
}

TEST_F(StaticFileHandlerTest, IfModifiedSinceNotBeforeTheFileGives304) {
  EXPECT_EQ(get("/static/hello.txt", {{"If-Modified-Since", std::string(kMtimeText)}}).code, 304);
  EXPECT_EQ(get("/static/hello.txt", {{"If-Modified-Since", "Fri, 03 Jan 2020 00:00:00 GMT"}}).code,
            304);
  // The other date forms of RFC 9110 §5.6.7.
  EXPECT_EQ(
      get("/static/hello.txt", {{"If-Modified-Since", "Thursday, 02-Jan-20 03:04:05 GMT"}}).code,
      304);
  EXPECT_EQ(get("/static/hello.txt", {{"If-Modified-Since", "Thu Jan  2 03:04:05 2020"}}).code,
            304);
}

TEST_F(StaticFileHandlerTest, IfModifiedSinceBeforeTheFileOrInvalidGivesTheFile) {
  HTTPResponse earlier =
      get("/static/hello.txt", {{"If-Modified-Since", "Thu, 02 Jan 2020 03:04:04 GMT"}});
  EXPECT_EQ(earlier.code, 200);
  EXPECT_EQ(earlier.body, kHello);
  EXPECT_EQ(get("/static/hello.txt", {{"If-Modified-Since", "yesterday"}}).code, 200);
}

TEST_F(StaticFileHandlerTest, IfNoneMatchWinsOverIfModifiedSince) {
  const std::string etag = etag_of("/static/hello.txt");
  EXPECT_EQ(get("/static/hello.txt", {{"If-None-Match", "\"stale\""},
                                      {"If-Modified-Since", "Fri, 03 Jan 2020 00:00:00 GMT"}})
                .code,
            200);
  EXPECT_EQ(get("/static/hello.txt",
                {{"If-None-Match", etag}, {"If-Modified-Since", "Wed, 01 Jan 2020 00:00:00 GMT"}})
                .code,
            304);
}

TEST_F(StaticFileHandlerTest, IfMatchFailingGives412) {
  const std::string etag = etag_of("/static/hello.txt");
  EXPECT_EQ(get("/static/hello.txt", {{"If-Match", "\"stale\""}}).code, 412);
  // The strong comparison: a weak tag never matches.
  EXPECT_EQ(get("/static/hello.txt", {{"If-Match", "W/" + etag}}).code, 412);
  HTTPResponse matching = get("/static/hello.txt", {{"If-Match", "\"stale\", " + etag}});
  EXPECT_EQ(matching.code, 200);
  EXPECT_EQ(matching.body, kHello);
  EXPECT_EQ(get("/static/hello.txt", {{"If-Match", "*"}}).code, 200);
}

TEST_F(StaticFileHandlerTest, IfUnmodifiedSinceBeforeTheFileGives412) {
  EXPECT_EQ(
      get("/static/hello.txt", {{"If-Unmodified-Since", "Wed, 01 Jan 2020 00:00:00 GMT"}}).code,
      412);
  EXPECT_EQ(get("/static/hello.txt", {{"If-Unmodified-Since", std::string(kMtimeText)}}).code, 200);
  EXPECT_EQ(get("/static/hello.txt", {{"If-Unmodified-Since", "garbage"}}).code, 200);
  // If-Match, when present, decides alone.
  EXPECT_EQ(get("/static/hello.txt",
                {{"If-Match", "*"}, {"If-Unmodified-Since", "Wed, 01 Jan 2020 00:00:00 GMT"}})
                .code,
            200);
}

// --- Ranges -------------------------------------------------------------------------------------

TEST_F(StaticFileHandlerTest, RangeOfTheFirstBytesGives206) {
  const std::string data = data_bytes();
  HttpResponse r = raw("/static/data.bin", "GET", "Range: bytes=0-9\r\n");
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.header_or_absent("Content-Range"), "bytes 0-9/1000");
  EXPECT_EQ(r.header_or_absent("Content-Length"), "10");
  EXPECT_EQ(r.header_or_absent("Content-Type"), "application/octet-stream");
  EXPECT_EQ(r.header_or_absent("Etag"), etag_of("/static/data.bin"));  // the whole file's
  EXPECT_EQ(r.body, data.substr(0, 10));
}

TEST_F(StaticFileHandlerTest, SuffixRangeGivesTheLastBytes) {
  const std::string data = data_bytes();
  HTTPResponse r = get("/static/data.bin", {{"Range", "bytes=-10"}});
  EXPECT_EQ(r.code, 206);
  EXPECT_EQ(header(r, "Content-Range"), "bytes 990-999/1000");
  EXPECT_EQ(r.body, data.substr(990));
}

TEST_F(StaticFileHandlerTest, OpenEndedRangeGivesTheRest) {
  const std::string data = data_bytes();
  HTTPResponse r = get("/static/data.bin", {{"Range", "bytes=100-"}});
  EXPECT_EQ(r.code, 206);
  EXPECT_EQ(header(r, "Content-Range"), "bytes 100-999/1000");
  EXPECT_EQ(header(r, "Content-Length"), "900");
  EXPECT_EQ(r.body, data.substr(100));
}

TEST_F(StaticFileHandlerTest, RangeEndPastTheFileIsCappedAtItsSize) {
  const std::string data = data_bytes();
  HTTPResponse r = get("/static/data.bin", {{"Range", "bytes=990-5000"}});
  EXPECT_EQ(r.code, 206);
  EXPECT_EQ(header(r, "Content-Range"), "bytes 990-999/1000");
  EXPECT_EQ(r.body, data.substr(990));
}

TEST_F(StaticFileHandlerTest, RangeCoveringTheWholeFileGives200) {
  const std::string data = data_bytes();
  for (const char* range :
       {"bytes=0-", "bytes=0-999", "bytes=0-99999", "bytes=-1000", "bytes=-5000"}) {
    HTTPResponse r = get("/static/data.bin", {{"Range", range}});
    EXPECT_EQ(r.code, 200) << range;
    EXPECT_EQ(header(r, "Content-Range"), "<absent>") << range;
    EXPECT_EQ(r.body, data) << range;
  }
}

TEST_F(StaticFileHandlerTest, UnsatisfiableRangeGives416WithTheSize) {
  for (const char* range : {"bytes=1000-", "bytes=5000-6000", "bytes=-0", "bytes=5-2"}) {
    HttpResponse r = raw("/static/data.bin", "GET", std::string("Range: ") + range + "\r\n");
    EXPECT_EQ(r.status, 416) << range;
    EXPECT_EQ(r.header_or_absent("Content-Range"), "bytes */1000") << range;
    EXPECT_EQ(r.body, "") << range;
  }
}

TEST_F(StaticFileHandlerTest, InvalidOrSeveralRangesGiveTheWholeFile) {
  const std::string data = data_bytes();
  for (const char* range :
       {"bytes=abc", "bytes=", "bytes=5", "items=0-5", "bytes=0-1,5-6", "bytes=+1-2", "0-5"}) {
    HTTPResponse r = get("/static/data.bin", {{"Range", range}});
    EXPECT_EQ(r.code, 200) << range;
    EXPECT_EQ(header(r, "Content-Range"), "<absent>") << range;
    EXPECT_EQ(r.body, data) << range;
  }
}

TEST_F(StaticFileHandlerTest, IfRangeWithTheCurrentValidatorKeepsTheRange) {
  const std::string etag = etag_of("/static/data.bin");
  HTTPResponse by_etag = get("/static/data.bin", {{"Range", "bytes=0-4"}, {"If-Range", etag}});
  EXPECT_EQ(by_etag.code, 206);
  EXPECT_EQ(by_etag.body, data_bytes().substr(0, 5));
  HTTPResponse by_date =
      get("/static/data.bin", {{"Range", "bytes=0-4"}, {"If-Range", std::string(kMtimeText)}});
  EXPECT_EQ(by_date.code, 206);
}

TEST_F(StaticFileHandlerTest, IfRangeWithAnOldValidatorSendsTheWholeFile) {
  const std::string etag = etag_of("/static/data.bin");
  for (const std::string& validator :
       {std::string("\"old\""), "W/" + etag, std::string("Wed, 01 Jan 2020 00:00:00 GMT"),
        std::string("not a date")}) {
    HTTPResponse r = get("/static/data.bin", {{"Range", "bytes=0-4"}, {"If-Range", validator}});
    EXPECT_EQ(r.code, 200) << validator;
    EXPECT_EQ(r.body, data_bytes()) << validator;
  }
}

TEST_F(StaticFileHandlerTest, EmptyFileServesNothingAndOnlyASuffixRangeOfIt) {
  HTTPResponse whole = get("/static/empty.txt");
  EXPECT_EQ(whole.code, 200);
  EXPECT_EQ(header(whole, "Content-Length"), "0");
  EXPECT_EQ(get("/static/empty.txt", {{"Range", "bytes=0-"}}).code, 416);
  // RFC 9110 §14.1.1: a suffix of an empty representation is all of it.
  HTTPResponse suffix = get("/static/empty.txt", {{"Range", "bytes=-5"}});
  EXPECT_EQ(suffix.code, 200);
  EXPECT_EQ(suffix.body, "");
}

// --- Folders ------------------------------------------------------------------------------------

TEST_F(StaticFileHandlerTest, FolderWithADefaultFilenameServesIt) {
  HTTPResponse root = get("/files/");
  EXPECT_EQ(root.code, 200);
  EXPECT_EQ(root.body, "<p>root index</p>");
  EXPECT_EQ(header(root, "Content-Type"), "text/html");
  HTTPResponse sub = get("/files/sub/");
  EXPECT_EQ(sub.code, 200);
  EXPECT_EQ(sub.body, "<p>sub index</p>");
}

TEST_F(StaticFileHandlerTest, FolderWithoutItsTrailingSlashIsRedirectedPermanently) {
  HTTPResponse r = get("/files/sub?x=1");
  EXPECT_EQ(r.code, 301);
  EXPECT_EQ(header(r, "Location"), "/files/sub/");
}

TEST_F(StaticFileHandlerTest, FolderWithoutItsDefaultFileGives404) {
  EXPECT_EQ(get("/files/empty_dir/").code, 404);
}

TEST_F(StaticFileHandlerTest, FolderWithoutADefaultFilenameGives403) {
  EXPECT_EQ(get("/static/sub/").code, 403);
  EXPECT_EQ(get("/static/sub").code, 403);
  EXPECT_EQ(get("/static/").code, 403);
}

TEST_F(StaticFileHandlerTest, NonRegularFileGives403) {
  // A FIFO: opening it must not block the server (no writer will ever come).
  ASSERT_EQ(::mkfifo((static_dir() / "fifo").c_str(), 0600), 0);
  EXPECT_EQ(get("/static/fifo").code, 403);
}

TEST_F(StaticFileHandlerTest, UnreadableFileGives403) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads any file";
  fs::permissions(static_dir() / "hello.txt", fs::perms::none);
  HTTPResponse r = get("/static/hello.txt");
  EXPECT_EQ(r.code, 403);
  EXPECT_EQ(r.body.find(kHello), std::string::npos);
}

// --- Versioned URLs -----------------------------------------------------------------------------

TEST_F(StaticFileHandlerTest, StaticUrlCarriesTheContentHash) {
  EXPECT_EQ(get("/url?path=hello.txt").body, "/static/hello.txt?v=" + std::string(kHelloMd5));
  EXPECT_EQ(get("/url?path=hello.txt&host=1").body,
            "http://127.0.0.1:" + std::to_string(get_http_port()) +
                "/static/hello.txt?v=" + std::string(kHelloMd5));
  ExpectLog log(squall::log::gen_log(), "Could not open static file .*missing\\.txt");
  EXPECT_EQ(get("/url?path=missing.txt").body, "/static/missing.txt");
}

TEST_F(StaticFileHandlerTest, VersionedUrlMayBeCachedForTenYears) {
  const std::string url = get("/url?path=hello.txt").body;
  const auto now = std::chrono::system_clock::now();
  HTTPResponse r = get(url);
  ASSERT_EQ(r.code, 200);
  EXPECT_EQ(r.body, kHello);
  EXPECT_EQ(header(r, "Cache-Control"), "max-age=315360000");
  auto expires = httputil::parse_http_date(header(r, "Expires"));
  ASSERT_TRUE(expires) << header(r, "Expires");
  const auto lifetime = std::chrono::duration_cast<std::chrono::seconds>(*expires - now);
  EXPECT_GE(lifetime, std::chrono::seconds(315360000 - 60));
  EXPECT_LE(lifetime, std::chrono::seconds(315360000 + 60));
  // The version's ETag is the one in the URL.
  EXPECT_EQ(header(r, "Etag"), "\"" + std::string(kHelloMd5) + "\"");
}

// --- Paths leaving the root ---------------------------------------------------------------------

TEST_F(StaticFileHandlerTest, PathsLeavingTheRootAreRefused) {
  // Sent raw: an HTTP client would fold the dots before sending.
  const std::vector<std::string> targets = {
      "/static/../secret.txt",
      "/static/%2e%2e/secret.txt",
      "/static/%2E%2E/secret.txt",
      "/static/..%2fsecret.txt",
      "/static/%2e%2e%2fsecret.txt",
      "/static/sub/../../secret.txt",
      "/static/sub/%2e%2e/%2e%2e/secret.txt",
      "/static/escape.txt",             // a symbolic link to ../secret.txt
      "/static/escape_dir/secret.txt",  // a symbolic link to the folder above
      "/static//etc/passwd",            // an absolute path
      "/static/%2fetc%2fpasswd",
      "/files/../secret.txt",
      "/files/escape_dir/",
      "/files/missing/../../secret.txt",  // not there, and outside anyway
  };
  for (const std::string& target : targets) {
    HttpResponse r = raw(target);
    EXPECT_EQ(r.status, 403) << target;
    EXPECT_EQ(r.body.find(kSecret), std::string::npos) << target;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << target;
  }
}

TEST_F(StaticFileHandlerTest, AbsolutePathInsideTheRootIsRefusedToo) {
  // Tornado serves it; refusing it keeps the root's location from being probed.
  HttpResponse r = raw("/static/" + (static_dir() / "hello.txt").string());
  EXPECT_EQ(r.status, 403);
}

TEST_F(StaticFileHandlerTest, DotsThatStayInsideTheRootAreServed) {
  EXPECT_EQ(raw("/static/sub/../hello.txt").body, kHello);
  EXPECT_EQ(raw("/static/./sub/%2e%2e/hello.txt").body, kHello);
  EXPECT_EQ(raw("/static/inside_link.txt").body, kHello);  // a link within the root
}

TEST_F(StaticFileHandlerTest, NulByteInThePathGives404) {
  // "hello.txt\0.png" must not be cut to hello.txt by the kernel.
  EXPECT_EQ(raw("/static/hello.txt%00.png").status, 404);
  EXPECT_EQ(raw("/static/hello.txt%00").status, 404);
}

TEST_F(StaticFileHandlerTest, BackslashIsAnOrdinaryCharacterOfAName) {
  write_text(static_dir() / "back\\slash.txt", "backslash");
  EXPECT_EQ(raw("/static/back%5cslash.txt").body, "backslash");
  EXPECT_EQ(raw("/static/..%5csecret.txt").status, 404);
}

// --- Large files --------------------------------------------------------------------------------

class LargeFileTest : public StaticFileHandlerTest {
 protected:
  static constexpr std::size_t kLargeSize = std::size_t{64} << 20;

  LargeFileTest() {
    std::ofstream out(static_dir() / "large.bin", std::ios::binary);
    LargeContent content;
    std::string piece(std::size_t{1} << 20, '\0');
    for (std::size_t written = 0; written < kLargeSize; written += piece.size()) {
      content.fill(piece);
      hash_.update(piece);
      out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
    }
    if (!out.good()) std::abort();
  }

  // The bytes [start, end) of large.bin, made again.
  static std::string large_slice(std::size_t start, std::size_t end) {
    LargeContent content;
    std::string piece(std::size_t{1} << 20, '\0');
    std::string out;
    for (std::size_t at = 0; at < end; at += piece.size()) {
      content.fill(piece);
      const std::size_t from = std::max(start, at);
      const std::size_t to = std::min(end, at + piece.size());
      if (from < to) out.append(piece, from - at, to - from);
    }
    return out;
  }

  Fnv1a hash_;
};

TEST_F(LargeFileTest, LargeFileIsSentWholeWithoutGrowingTheServer) {
  // The ETag's hash is computed (and cached) first, so that only the sending is measured.
  ASSERT_EQ(get("/static/large.bin", {}, "HEAD").code, 200);
  const std::size_t before = resident_bytes();
  std::size_t peak = before;
  std::size_t received = 0;
  Fnv1a hash;
  HTTPRequest request;
  request.streaming_callback = [&](std::string_view chunk) {
    hash.update(chunk);
    received += chunk.size();
    peak = std::max(peak, resident_bytes());
  };
  request.request_timeout = 60s;
  auto pending = fetch_async("/static/large.bin", std::move(request));
  HTTPResponse r = run_sync([&]() -> Future<HTTPResponse> { co_return co_await pending; }, 60s);
  ASSERT_EQ(r.code, 200);
  EXPECT_EQ(header(r, "Content-Length"), std::to_string(kLargeSize));
  EXPECT_EQ(received, kLargeSize);
  EXPECT_EQ(hash.value, hash_.value);
#if defined(__SANITIZE_ADDRESS__)
  // ASan's quarantine keeps freed buffers resident: the figure means nothing here.
  static_cast<void>(before);
#else
  const std::size_t growth = (peak > before ? peak - before : 0);
  EXPECT_LT(growth, std::size_t{16} << 20) << "the server holds the file in memory?";
#endif
}

TEST_F(LargeFileTest, RangesAcrossPiecesOfALargeFileHaveTheRightBytes) {
  const std::size_t mib = std::size_t{1} << 20;
  for (auto [start, end] : {std::pair{mib - 5, mib + 5}, std::pair{mib / 2, 3 * mib + 7},
                            std::pair{kLargeSize - 100, kLargeSize}}) {
    HTTPResponse r =
        get("/static/large.bin",
            {{"Range", "bytes=" + std::to_string(start) + "-" + std::to_string(end - 1)}});
    ASSERT_EQ(r.code, 206) << start;
    EXPECT_EQ(r.body.size(), end - start);
    EXPECT_TRUE(r.body == large_slice(start, end)) << "bytes " << start << "-" << end - 1;
  }
}

TEST_F(LargeFileTest, ClientLeavingMidTransferLeavesTheServerServing) {
  run_sync([&]() -> Future<void> {
    auto client = co_await RawClient::connect(static_cast<std::uint16_t>(get_http_port()));
    co_await client->send("GET /static/large.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    const bool quiet = co_await client->stays_open(3s);
    EXPECT_FALSE(quiet) << "nothing came";
    client->abort();
  });
  HTTPResponse r = get("/static/hello.txt");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, kHello);
}

// --- compress_response --------------------------------------------------------------------------

class CompressedStaticFileTest : public StaticFileHandlerTest {
 protected:
  CompressedStaticFileTest() {
    for (int i = 0; i < 200; ++i)
      text_.append("line ").append(std::to_string(i)).append(" of text\n");
    write_text(static_dir() / "page.txt", text_);
    std::string image(5000, '\0');
    for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<char>(i % 13);
    image_ = image;
    write_text(static_dir() / "picture.png", image_);
  }

  web::Settings app_settings() override {
    web::Settings settings = StaticFileHandlerTest::app_settings();
    settings.compress_response = true;
    return settings;
  }

  // Fetched asking for gzip, without inflating the body.
  HTTPResponse get_gzip(std::string_view path,
                        std::vector<std::pair<std::string, std::string>> headers = {},
                        std::string method = "GET") {
    HTTPRequest request;
    request.method = std::move(method);
    request.decompress_response = false;
    request.headers.add("Accept-Encoding", "gzip");
    for (const auto& [name, value] : headers) request.headers.add(name, value);
    return fetch(path, std::move(request));
  }

  std::string text_;
  std::string image_;
};

TEST_F(CompressedStaticFileTest, TextFileIsGzippedWithAWeakEtag) {
  HTTPResponse raw_body = get_gzip("/static/page.txt");
  ASSERT_EQ(raw_body.code, 200);
  EXPECT_EQ(header(raw_body, "Content-Encoding"), "gzip");
  EXPECT_EQ(header(raw_body, "Vary"), "Accept-Encoding");
  EXPECT_TRUE(raw_body.body.starts_with("\x1f\x8b")) << "not gzip";
  EXPECT_LT(raw_body.body.size(), text_.size());
  EXPECT_EQ(header(raw_body, "Accept-Ranges"), "<absent>");
  const std::string etag = header(raw_body, "Etag");
  EXPECT_TRUE(etag.starts_with("W/\"")) << etag;

  HTTPResponse inflated = get("/static/page.txt");  // the client asks for gzip and inflates
  EXPECT_EQ(inflated.body, text_);
  EXPECT_EQ(header(inflated, "X-Consumed-Content-Encoding"), "gzip");

  EXPECT_EQ(get_gzip("/static/page.txt", {{"If-None-Match", etag}}).code, 304);
}

TEST_F(CompressedStaticFileTest, SmallTextFileIsGzippedToo) {
  // The file is written in pieces, never as a finished body: as Tornado, no size threshold.
  HTTPResponse r = get_gzip("/static/hello.txt");
  EXPECT_EQ(header(r, "Content-Encoding"), "gzip");
  EXPECT_EQ(get("/static/hello.txt").body, kHello);
}

TEST_F(CompressedStaticFileTest, ImageIsNotGzipped) {
  HTTPResponse r = get_gzip("/static/picture.png");
  ASSERT_EQ(r.code, 200);
  EXPECT_EQ(header(r, "Content-Encoding"), "<absent>");
  EXPECT_EQ(header(r, "Content-Length"), std::to_string(image_.size()));
  EXPECT_EQ(header(r, "Vary"), "Accept-Encoding");
  EXPECT_TRUE(r.body == image_);
  EXPECT_FALSE(header(r, "Etag").starts_with("W/"));
  HTTPResponse range = get_gzip("/static/picture.png", {{"Range", "bytes=10-19"}});
  EXPECT_EQ(range.code, 206);
  EXPECT_TRUE(range.body == image_.substr(10, 10));
}

TEST_F(CompressedStaticFileTest, RangeOfAGzippedFileIsIgnored) {
  HTTPResponse r = get_gzip("/static/page.txt", {{"Range", "bytes=0-9"}});
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(header(r, "Content-Range"), "<absent>");
  EXPECT_EQ(header(r, "Content-Encoding"), "gzip");
}

TEST_F(CompressedStaticFileTest, HeadOfAGzippedFileShowsTheHeadersOfGet) {
  HttpResponse r = raw("/static/page.txt", "HEAD", "Accept-Encoding: gzip\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header_or_absent("Content-Encoding"), "gzip");
  EXPECT_FALSE(r.has("Content-Length"));
  EXPECT_EQ(r.body, "");
}

TEST_F(CompressedStaticFileTest, ClientNotAskingForGzipGetsTheFileAsIs) {
  HTTPRequest request;
  request.decompress_response = false;
  HTTPResponse r = fetch("/static/page.txt", std::move(request));
  EXPECT_EQ(r.body, text_);
  EXPECT_EQ(header(r, "Content-Encoding"), "<absent>");
  EXPECT_EQ(header(r, "Accept-Ranges"), "bytes");
  EXPECT_FALSE(header(r, "Etag").starts_with("W/"));
}

TEST_F(CompressedStaticFileTest, LargeTextIsGzippedPieceByPiece) {
  std::string large;
  while (large.size() < 3 * web::StaticFileHandler::kPieceSize) large.append(text_);
  write_text(static_dir() / "large.txt", large);
  HTTPRequest request;
  request.request_timeout = 30s;
  auto pending = fetch_async("/static/large.txt", std::move(request));
  HTTPResponse r = run_sync([&]() -> Future<HTTPResponse> { co_return co_await pending; }, 30s);
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(header(r, "X-Consumed-Content-Encoding"), "gzip");
  EXPECT_TRUE(r.body == large);
}

}  // namespace
