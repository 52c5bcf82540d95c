// AsyncHTTPClient and HTTPClient against a server nobody here wrote: Debian's nginx, started on
// loopback with a generated configuration (static files, gzip, redirects, chunked responses,
// keep-alive limits, HTTPS with certificates made by the test, DAV uploads, a location that
// never answers and one that trickles). nginx is required: scripts/deps installs it, and its
// absence fails every test here.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "squall/core/gen.hpp"
#include "squall/http/httpclient.hpp"
#include "squall/http/httputil.hpp"
#include "squall/net/iostream.hpp"
#include "squall/testing/testing.hpp"
#include "squall/util/log.hpp"
#include "support/nginx_server.hpp"
#include "support/test_certificates.hpp"

namespace squall {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// ---- the site nginx serves -----------------------------------------------------------------

void write_file(const fs::path& path, std::string_view data) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) throw Error("cannot write " + path.string());
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// A file of `size` bytes that takes no disk space: reads give zeros.
void make_sparse_file(const fs::path& path, std::uint64_t size) {
  write_file(path, "");
  fs::resize_file(path, size);
}

constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;
constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;

/// The ports of the servers, in the order NginxSite asks for them.
enum Port : std::size_t { kHTTP, kOther, kHTTPS, kUntrusted, kWrongName, kPortCount };

/// The locations every server has (the file locations.conf, included by each server block).
std::string common_locations(const std::vector<std::uint16_t>& ports, const fs::path& dir) {
  const std::string http = "http://127.0.0.1:" + std::to_string(ports[kHTTP]);
  const std::string other = "http://127.0.0.1:" + std::to_string(ports[kOther]);
  const std::string https = "https://127.0.0.1:" + std::to_string(ports[kHTTPS]);
  std::string big_value(3000, 'x');  // nginx takes parameters up to 4 KiB
  std::ostringstream conf;
  conf << "root " << (dir / "www").string() << ";\n"
       // What the request was: echoed as "method content-length transfer-encoding".
       << "location = /method { return 200 \"$request_method $http_content_length "
          "$http_transfer_encoding\\n\"; }\n"
       << "location = /headers { return 200 \"authorization=$http_authorization\\n"
          "cookie=$http_cookie\\nproxy-authorization=$http_proxy_authorization\\n"
          "user-agent=$http_user_agent\\nif-modified-since=$http_if_modified_since\\n"
          "accept-encoding=$http_accept_encoding\\nx-test=$http_x_test\\nhost=$http_host\\n"
          "expect=$http_expect\\n\"; }\n"
       // The server's own count of connections: its serial number and requests on it.
       << "location = /conn { return 200 \"$connection $connection_requests\\n\"; }\n"
       << "location = /empty { return 204; }\n"
       << "location = /sni { return 200 \"sni=$ssl_server_name\\n\"; }\n"
       << "location = /client-cert { return 200 \"$ssl_client_verify $ssl_client_s_dn\\n\"; }\n"
       << "location = /big-header { add_header X-Big \"" << big_value
       << "\"; return 200 \"big\\n\"; }\n";
  for (int code : {301, 302, 303, 307, 308}) {
    conf << "location = /redirect/" << code << " { return " << code << " /method; }\n";
  }
  conf << "location = /chain/1 { return 301 /chain/2; }\n"
       << "location = /chain/2 { return 302 /chain/3; }\n"
       << "location = /chain/3 { return 303 /chain/4; }\n"
       << "location = /chain/4 { return 307 /chain/5; }\n"
       << "location = /chain/5 { return 308 /method; }\n"
       << "location = /loop { return 302 /loop; }\n"
       << "location = /redirect/same-origin { return 302 /headers; }\n"
       << "location = /redirect/same-origin-absolute { return 302 " << http << "/headers; }\n"
       << "location = /redirect/cross-origin { return 302 " << other << "/headers; }\n"
       << "location = /redirect/to-https { return 302 " << https << "/headers; }\n"
       << "location = /redirect/to-http { return 302 " << http << "/headers; }\n"
       << "location = /redirect/dav-307 { return 307 /dav/via-307.txt; }\n"
       << "location = /redirect/dav-308 { return 308 /dav/via-308.txt; }\n"
       // Delayed by limit_req: after the first request, each waits about a minute (rate 1/min)
       // before nginx even reads the file. A server that never answers, for timeouts.
       << "location = /stall { limit_req zone=stall burst=100000; alias "
       << (dir / "www" / "small.txt").string() << "; }\n"
       // One byte a second, status line included: a response that never completes in time.
       << "location = /trickle { limit_rate 1; return 200 \"0123456789\\n\"; }\n"
       // nginx answers two requests per connection here, then says Connection: close.
       << "location /limited/ { keepalive_requests 2; return 200 \"limited\\n\"; }\n"
       // A kept-alive connection is closed by nginx 300 ms after this request.
       << "location = /short-keepalive { keepalive_timeout 300ms; return 200 \"short\\n\"; }\n"
       // sub_filter drops Content-Length: the body goes out chunked, as nginx rewrites it.
       << "location /chunked/ { gzip off; sub_filter 'REPLACE_ME' 'replaced'; "
          "sub_filter_once off; sub_filter_types text/plain; }\n"
       << "location /private/ { auth_basic \"squall\"; auth_basic_user_file "
       << (dir / "htpasswd").string() << "; }\n"
       << "location /dav/ { dav_methods PUT DELETE; create_full_put_path on; "
          "client_max_body_size 64m; }\n";
  return conf.str();
}

std::string http_block(const std::vector<std::uint16_t>& ports, const fs::path& dir) {
  write_file(dir / "locations.conf", common_locations(ports, dir));
  const std::string include = "  include " + (dir / "locations.conf").string() + ";\n";
  auto tls = [&dir](const char* name) {
    return "  ssl_certificate " + (dir / (std::string(name) + ".pem")).string() +
           ";\n  ssl_certificate_key " + (dir / (std::string(name) + ".key")).string() + ";\n";
  };
  std::ostringstream conf;
  conf << "types { text/plain txt; text/html html; application/octet-stream bin; }\n"
       << "default_type text/plain;\n"
       << "sendfile on;\n"
       << "tcp_nopush on;\n"
       << "keepalive_requests 100000;\n"
       << "keepalive_timeout 60s;\n"
       << "if_modified_since before;\n"
       << "gzip on;\n"
       << "gzip_types text/plain;\n"  // and text/html, always
       << "gzip_min_length 256;\n"
       << "limit_req_zone $server_port zone=stall:1m rate=1r/m;\n"
       << "server {\n  listen 127.0.0.1:" << ports[kHTTP] << ";\n"
       << include << "}\n"
       << "server {\n  listen 127.0.0.1:" << ports[kOther] << ";\n"
       << include << "}\n"
       << "server {\n  listen 127.0.0.1:" << ports[kHTTPS] << " ssl;\n"
       << tls("server") << "  ssl_client_certificate " << (dir / "ca.pem").string() << ";\n"
       << "  ssl_verify_client optional;\n"
       << include << "}\n"
       << "server {\n  listen 127.0.0.1:" << ports[kUntrusted] << " ssl;\n"
       << tls("untrusted") << include << "}\n"
       << "server {\n  listen 127.0.0.1:" << ports[kWrongName] << " ssl;\n"
       << tls("wrong-name") << include << "}\n";
  return conf.str();
}

/// nginx with the site above, started once per test program and stopped at its exit.
class NginxSite {
 public:
  NginxSite() {
    try {
      server_ = std::make_unique<test_support::NginxServer>();
      const fs::path& dir = server_->dir();
      // ca.pem; server, wrong-name, untrusted and client .pem/.key: the names used above.
      test_support::Certificates certificates(dir);
      make_files(dir / "www");
      write_file(dir / "htpasswd", "user:{PLAIN}secret\n");
      server_->start(kPortCount, [&dir](const std::vector<std::uint16_t>& ports) {
        return http_block(ports, dir);
      });
    } catch (const std::exception& e) {
      error_ = e.what();
    }
  }

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const fs::path& dir() const { return server_->dir(); }
  fs::path www() const { return server_->dir() / "www"; }
  std::string ca_certs() const { return (dir() / "ca.pem").string(); }
  std::string log() const { return server_->log(); }

  std::uint16_t port(Port which) const { return server_->ports()[which]; }

  std::string url(Port port, std::string_view path, std::string_view host = "127.0.0.1") const {
    const char* scheme = port == kHTTP || port == kOther ? "http" : "https";
    return std::string(scheme) + "://" + std::string(host) + ":" +
           std::to_string(this->port(port)) + std::string(path);
  }

  // The files' contents, to compare with what the client receives.
  std::string small_text = "Hello from nginx\n";
  std::string text;        // text.txt: ~270 KiB of lines, which nginx gzips
  std::string random;      // random.bin: 8 MiB that do not compress
  std::string chunked;     // chunked/big.txt as sub_filter sends it back
  std::string chunked_raw;  // chunked/big.txt on disk

 private:
  void make_files(const fs::path& www) {
    write_file(www / "small.txt", small_text);
    for (int i = 0; i < 5000; ++i) {
      text += "line " + std::to_string(i) + ": the quick brown fox jumps over the lazy dog\n";
    }
    write_file(www / "text.txt", text);
    std::mt19937_64 generator(20261122);
    random.resize(8 * kMiB);
    for (std::size_t i = 0; i < random.size(); i += 8) {
      std::uint64_t word = generator();
      std::memcpy(random.data() + i, &word, 8);
    }
    write_file(www / "random.bin", random);
    for (int i = 0; i < 40000; ++i) {
      chunked_raw += "REPLACE_ME number " + std::to_string(i) + "\n";
      chunked += "replaced number " + std::to_string(i) + "\n";
    }
    write_file(www / "chunked" / "big.txt", chunked_raw);
    write_file(www / "private" / "secret.txt", "the secret\n");
    fs::create_directories(www / "dav");
    // 32 MiB of zeros as text/plain: gzip'ed by nginx to a few tens of KiB.
    make_sparse_file(www / "zeros.txt", 32 * kMiB);
    make_sparse_file(www / "huge.bin", kGiB);
  }

  std::unique_ptr<test_support::NginxServer> server_;
  std::string error_;
};

NginxSite& site() {
  static NginxSite instance;
  return instance;
}

// ---- helpers -------------------------------------------------------------------------------

/// The "name=value" lines of /headers.
std::map<std::string, std::string> echoed(const std::string& body) {
  std::map<std::string, std::string> fields;
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) fields[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return fields;
}

/// Whether `error` is an E: the cause itself, as a 599 response's `error` and an
/// HTTPClientError's `real_error()` hold it, not wrapped in another exception.
template <class E>
bool is_a(const std::exception_ptr& error) {
  if (!error) return false;
  try {
    std::rethrow_exception(error);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

std::string describe(const std::exception_ptr& error) {
  if (!error) return "(no error)";
  try {
    std::rethrow_exception(error);
  } catch (const HTTPClientError& e) {
    return std::string("HTTPClientError ") + std::to_string(e.code()) + ": " + e.what() +
           (e.real_error() ? " <- " + describe(e.real_error()) : std::string());
  } catch (const StreamClosedError& e) {
    return std::string("StreamClosedError: ") + e.what() +
           (e.real_error() ? " <- " + describe(e.real_error()) : std::string());
  } catch (const std::exception& e) {
    return std::string(typeid(e).name()) + ": " + e.what();
  }
}

std::string inflate_gzip(std::string_view data) {
  z_stream stream{};
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) throw Error("inflateInit2");
  std::string out;
  char buffer[65536];
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  int status = Z_OK;
  while (status == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof buffer;
    status = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer, sizeof buffer - stream.avail_out);
  }
  inflateEnd(&stream);
  if (status != Z_STREAM_END) throw Error("not a complete gzip stream");
  return out;
}

bool has_line(const std::vector<std::string>& lines, std::string_view wanted) {
  return std::find(lines.begin(), lines.end(), wanted) != lines.end();
}

/// The process's resident set (VmRSS of /proc/self/status), in bytes.
std::uint64_t resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

Future<void> write_parts(HTTPRequest::BodyWriter write, std::vector<std::string> parts) {
  for (const std::string& part : parts) co_await write(part);
}

/// A body_producer that writes `parts` in turn (the parts are copied into the coroutine).
std::function<Future<void>(HTTPRequest::BodyWriter)> producer(std::vector<std::string> parts) {
  return [parts = std::move(parts)](HTTPRequest::BodyWriter write) {
    return write_parts(std::move(write), parts);
  };
}

AsyncHTTPClient::Defaults pool_of(std::size_t max_clients) {
  AsyncHTTPClient::Defaults defaults;
  defaults.max_clients = max_clients;
  defaults.max_idle_per_host = max_clients;
  return defaults;
}

// ---- fixtures ------------------------------------------------------------------------------

class NginxClientTest : public testing::AsyncTest {
 protected:
  void SetUp() override { ASSERT_TRUE(site().ok()) << site().error(); }

  static std::string url(std::string_view path) { return site().url(kHTTP, path); }

  /// Fetches `request` with `client`, giving every outcome as a response (raise_error false).
  HTTPResponse fetch(AsyncHTTPClient& client, const HTTPRequest& request,
                     IOLoop::duration timeout = 20s) {
    return run_sync([&client, &request] { return client.fetch(request, false); }, timeout);
  }
  HTTPResponse fetch(const HTTPRequest& request, IOLoop::duration timeout = 20s) {
    AsyncHTTPClient client(AsyncHTTPClient::Defaults{});
    HTTPResponse response = fetch(client, request, timeout);
    client.close();
    return response;
  }

  /// Fetches with raise_error and gives what the fetch failed with (null if it did not fail).
  std::exception_ptr failure(AsyncHTTPClient& client, const HTTPRequest& request,
                             IOLoop::duration timeout = 20s) {
    try {
      run_sync([&client, &request] { return client.fetch(request, true); }, timeout);
    } catch (...) {
      return std::current_exception();
    }
    return nullptr;
  }

  static HTTPRequest https_request(std::string url) {
    HTTPRequest request(std::move(url));
    request.ca_certs = site().ca_certs();
    return request;
  }
};

// ---- plain fetches -------------------------------------------------------------------------

TEST_F(NginxClientTest, FetchesASmallStaticFile) {
  HTTPResponse response = fetch(HTTPRequest(url("/small.txt")));
  ASSERT_EQ(response.code, 200) << describe(response.error);
  EXPECT_EQ(response.reason, "OK");
  EXPECT_EQ(response.body, site().small_text);
  EXPECT_EQ(response.headers.get("Content-Type", ""), "text/plain");
  EXPECT_EQ(response.headers.get("Content-Length", ""), std::to_string(site().small_text.size()));
  EXPECT_TRUE(response.headers.get("Server", "").starts_with("nginx"));
  EXPECT_EQ(response.effective_url, url("/small.txt"));
  EXPECT_FALSE(response.error);
  EXPECT_NO_THROW(response.rethrow());
  EXPECT_GT(response.request_time, 0.0);
  for (const char* stage : {"queue", "connect", "firstbyte", "total"}) {
    EXPECT_TRUE(response.time_info.contains(stage)) << stage;
  }
  EXPECT_LE(response.time_info["queue"], response.time_info["connect"]);
  EXPECT_LE(response.time_info["connect"], response.time_info["firstbyte"]);
  EXPECT_LE(response.time_info["firstbyte"], response.time_info["total"]);
}

TEST_F(NginxClientTest, TheSharedClientFetchesByURL) {
  AsyncHTTPClient client;  // the loop's shared client
  auto fetch_url = [&client] { return client.fetch(url("/small.txt")); };
  HTTPResponse response = run_sync(fetch_url, 20s);
  EXPECT_EQ(response.code, 200);
  EXPECT_EQ(response.body, site().small_text);
  AsyncHTTPClient same;  // another handle on the same client, with its pool
  EXPECT_EQ(same.connections_opened(), 1u);
}

TEST_F(NginxClientTest, FetchesAnIncompressibleFileByteForByte) {
  HTTPResponse response = fetch(HTTPRequest(url("/random.bin")));
  ASSERT_EQ(response.code, 200) << describe(response.error);
  EXPECT_EQ(response.headers.get("Content-Type", ""), "application/octet-stream");
  ASSERT_EQ(response.body.size(), site().random.size());
  EXPECT_TRUE(response.body == site().random);
}

TEST_F(NginxClientTest, HeadGetsTheHeadersWithoutTheBody) {
  HTTPResponse response = fetch(HTTPRequest(url("/random.bin"), "HEAD"));
  ASSERT_EQ(response.code, 200) << describe(response.error);
  EXPECT_EQ(response.headers.get("Content-Length", ""), std::to_string(8 * kMiB));
  EXPECT_EQ(response.body, "");
}

TEST_F(NginxClientTest, NoContentIsASuccessWithAnEmptyBody) {
  HTTPResponse response = fetch(HTTPRequest(url("/empty")));
  EXPECT_EQ(response.code, 204);
  EXPECT_EQ(response.body, "");
  EXPECT_FALSE(response.error) << describe(response.error);
}

TEST_F(NginxClientTest, NotFoundFailsWithTheResponseInTheError) {
  AsyncHTTPClient client(AsyncHTTPClient::Defaults{});
  std::exception_ptr error = failure(client, HTTPRequest(url("/no/such/file")));
  ASSERT_TRUE(error);
  try {
    std::rethrow_exception(error);
  } catch (const HTTPClientError& e) {
    EXPECT_EQ(e.code(), 404);
    ASSERT_TRUE(e.response());
    EXPECT_EQ(e.response()->code, 404);
    EXPECT_NE(e.response()->body.find("404 Not Found"), std::string::npos);
    EXPECT_FALSE(e.real_error());
  } catch (...) {
    ADD_FAILURE() << "expected HTTPClientError 404, got " << describe(error);
  }
  // Without raise_error, the same outcome is a response whose error holds the HTTPClientError.
  HTTPResponse response = fetch(client, HTTPRequest(url("/no/such/file")));
  EXPECT_EQ(response.code, 404);
  EXPECT_EQ(response.reason, "Not Found");
  EXPECT_THROW(response.rethrow(), HTTPClientError);
}

// ---- gzip ----------------------------------------------------------------------------------

TEST_F(NginxClientTest, InflatesAGzipResponse) {
  std::vector<std::string> lines;
  HTTPRequest request(url("/text.txt"));
  request.header_callback = [&lines](std::string_view line) { lines.emplace_back(line); };
  HTTPResponse response = fetch(request);
  ASSERT_EQ(response.code, 200) << describe(response.error);
  // nginx compressed it (and sent it chunked, its length being unknown), the client inflated it.
  EXPECT_TRUE(has_line(lines, "Content-Encoding: gzip\r\n"));
  EXPECT_TRUE(has_line(lines, "Transfer-Encoding: chunked\r\n"));
  // As in Tornado, the headers say what was undone rather than what no longer holds.
  EXPECT_FALSE(response.headers.contains("Content-Encoding"));
  EXPECT_EQ(response.headers.get("X-Consumed-Content-Encoding", ""), "gzip");
  EXPECT_EQ(response.body.size(), site().text.size());
  EXPECT_TRUE(response.body == site().text);
}

TEST_F(NginxClientTest, AsksForGzipOnlyWhenItDecompresses) {
  HTTPResponse asked = fetch(HTTPRequest(url("/headers")));
  EXPECT_NE(echoed(asked.body)["accept-encoding"].find("gzip"), std::string::npos) << asked.body;

  HTTPRequest request(url("/text.txt"));
  request.decompress_response = false;
  std::vector<std::string> lines;
  request.header_callback = [&lines](std::string_view line) { lines.emplace_back(line); };
  HTTPResponse plain = fetch(request);
  ASSERT_EQ(plain.code, 200) << describe(plain.error);
  EXPECT_FALSE(has_line(lines, "Content-Encoding: gzip\r\n"));
  EXPECT_TRUE(plain.body == site().text);

  request.url = url("/headers");
  HTTPResponse not_asked = fetch(request);
  EXPECT_EQ(echoed(not_asked.body)["accept-encoding"], "") << not_asked.body;
}

TEST_F(NginxClientTest, LeavesGzipAloneWithoutDecompression) {
  HTTPRequest request(url("/text.txt"));
  request.decompress_response = false;
  request.headers.add("Accept-Encoding", "gzip");
  HTTPResponse response = fetch(request);
  ASSERT_EQ(response.code, 200) << describe(response.error);
  EXPECT_EQ(response.headers.get("Content-Encoding", ""), "gzip");
  ASSERT_GE(response.body.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(response.body[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(response.body[1]), 0x8b);
  EXPECT_LT(response.body.size(), site().text.size() / 4);
  EXPECT_TRUE(inflate_gzip(response.body) == site().text);
}

TEST_F(NginxClientTest, StreamsAnInflatedBodyInPieces) {
  std::string streamed;
  std::size_t pieces = 0;
  HTTPRequest request(url("/text.txt"));
  request.streaming_callback = [&streamed, &pieces](std::string_view chunk) {
    streamed.append(chunk);
    ++pieces;
  };
  HTTPResponse response = fetch(request);
  ASSERT_EQ(response.code, 200) << describe(response.error);
  EXPECT_EQ(response.body, "");
  EXPECT_GE(pieces, 1u);
  EXPECT_TRUE(streamed == site().text);
}

TEST_F(NginxClientTest, MaxBodySizeCountsInflatedBytes) {
  // 32 MiB of zeros arrive as a few tens of KiB of gzip: the limit applies to what they inflate to.
  HTTPRequest request(url("/zeros.txt"));
  request.max_body_size = kMiB;
  HTTPResponse bomb = fetch(request);
  EXPECT_EQ(bomb.code, 599) << describe(bomb.error);
  EXPECT_TRUE(is_a<HTTPInputError>(bomb.error)) << describe(bomb.error);
  EXPECT_EQ(bomb.body.size(), 0u);

  request.max_body_size = 64 * kMiB;
  HTTPResponse allowed = fetch(request);
  ASSERT_EQ(allowed.code, 200) << describe(allowed.error);
  EXPECT_EQ(allowed.body.size(), 32 * kMiB);
  EXPECT_EQ(allowed.body.find_first_not_of('\0'), std::string::npos);
}

TEST_F(NginxClientTest, MaxBodySizeRefusesALargerPlainBody) {
  HTTPRequest request(url("/random.bin"));
  request.max_body_size = kMiB;
  HTTPResponse response = fetch(request);
  EXPECT_EQ(response.code, 599) << describe(response.error);
  EXPECT_TRUE(is_a<HTTPInputError>(response.error)) << describe(response.error);
}

// ---- chunked responses and header lines ----------------------------------------------------

TEST_F(NginxClientTest, ReadsAChunkedResponse) {
  std::vector<std::string> lines;
  HTTPRequest request(url("/chunked/big.txt"));
  request.header_callback = [&lines](std::string_view line) { lines.emplace_back(line); };
  HTTPResponse response = fetch(request);
  ASSERT_EQ(response.code, 200) << describe(response.error);
  EXPECT_TRUE(has_line(lines, "Transfer-Encoding: chunked\r\n"));
  EXPECT_FALSE(has_line(lines, "Content-Encoding: gzip\r\n"));
  ASSERT_EQ(response.body.size(), site().chunked.size());
  EXPECT_TRUE(response.body == site().chunked);
}

TEST_F(NginxClientTest, HeaderCallbackGetsTheStatusLineEachHeaderAndTheBlankLine) {
  std::vector<std::string> lines;
  HTTPRequest request(url("/small.txt"));
  request.header_callback = [&lines](std::string_view line) { lines.emplace_back(line); };
  HTTPResponse response = fetch(request);
  ASSERT_EQ(response.code, 200) << describe(response.error);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines.front(), "HTTP/1.1 200 OK\r\n");
  EXPECT_EQ(lines.back(), "\r\n");
  EXPECT_TRUE(has_line(lines, "Content-Type: text/plain\r\n"));
  EXPECT_TRUE(has_line(lines, "Content-Length: " + std::to_string(site().small_text.size()) +
                                  "\r\n"));
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
    EXPECT_TRUE(lines[i].ends_with("\r\n")) << lines[i];
    EXPECT_NE(lines[i].find(": "), std::string::npos) << lines[i];
  }
  EXPECT_EQ(response.body, site().small_text);
}

TEST_F(NginxClientTest, ResponseHeadOverMaxHeaderSizeFails) {
  HTTPRequest request(url("/big-header"));
  request.max_header_size = 2048;
  HTTPResponse refused = fetch(request);
  EXPECT_EQ(refused.code, 599) << describe(refused.error);
  EXPECT_TRUE(is_a<HTTPInputError>(refused.error)) << describe(refused.error);

  request.max_header_size = 16384;
  HTTPResponse accepted = fetch(request);
  ASSERT_EQ(accepted.code, 200) << describe(accepted.error);
  EXPECT_EQ(accepted.headers.get("X-Big", "").size(), 3000u);
}

// ---- redirects -----------------------------------------------------------------------------

TEST_F(NginxClientTest, FollowsEachRedirectStatusWithGet) {
  for (int code : {301, 302, 303, 307, 308}) {
    SCOPED_TRACE(code);
    HTTPResponse response = fetch(HTTPRequest(url("/redirect/" + std::to_string(code))));
    EXPECT_EQ(response.code, 200) << describe(response.error);
    EXPECT_EQ(response.body, "GET  \n");
    EXPECT_EQ(response.effective_url, url("/method"));
  }
}

TEST_F(NginxClientTest, PostBecomesGetAfter301302And303) {
  for (int code : {301, 302, 303}) {
    SCOPED_TRACE(code);
    HTTPRequest request(url("/redirect/" + std::to_string(code)), "POST");
    request.body = "hello";
    HTTPResponse response = fetch(request);
    EXPECT_EQ(response.code, 200) << describe(response.error);
    EXPECT_EQ(response.body, "GET  \n");  // no body, so neither Content-Length nor chunks
  }
}

TEST_F(NginxClientTest, PutBecomesGetAfter301And302AsInBrowsers) {
  for (int code : {301, 302}) {
    SCOPED_TRACE(code);
    HTTPRequest request(url("/redirect/" + std::to_string(code)), "PUT");
    request.body = "hello";
    HTTPResponse response = fetch(request);
    EXPECT_EQ(response.code, 200) << describe(response.error);
    EXPECT_EQ(response.body, "GET  \n");
    EXPECT_EQ(response.request.method, "GET");
    EXPECT_FALSE(response.request.body);
  }
  HTTPRequest head(url("/redirect/303"), "HEAD");
  HTTPResponse response = fetch(head);
  EXPECT_EQ(response.code, 200) << describe(response.error);
  EXPECT_EQ(response.request.method, "HEAD");
}

TEST_F(NginxClientTest, PostStaysPostWithItsBodyAfter307And308) {
  for (int code : {307, 308}) {
    SCOPED_TRACE(code);
    HTTPRequest request(url("/redirect/" + std::to_string(code)), "POST");
    request.body = "hello";
    HTTPResponse response = fetch(request);
    EXPECT_EQ(response.code, 200) << describe(response.error);
    EXPECT_EQ(response.body, "POST 5 \n");
  }
}

TEST_F(NginxClientTest, PutRedirectedBy307Or308UploadsTheSameBody) {
  for (int code : {307, 308}) {
    SCOPED_TRACE(code);
    const std::string name = "via-" + std::to_string(code) + ".txt";
    fs::remove(site().www() / "dav" / name);  // a new file: 201 (a replaced one gets 204)
    HTTPRequest request(url("/redirect/dav-" + std::to_string(code)), "PUT");
    request.body = "uploaded through a " + std::to_string(code) + "\n";
    HTTPResponse response = fetch(request);
    EXPECT_EQ(response.code, 201) << describe(response.error);
    EXPECT_EQ(response.effective_url, url("/dav/" + name));
    EXPECT_EQ(read_file(site().www() / "dav" / name), *request.body);
  }
}

TEST_F(NginxClientTest, FollowsAChainOfFiveRedirects) {
  HTTPResponse response = fetch(HTTPRequest(url("/chain/1")));
  EXPECT_EQ(response.code, 200) << describe(response.error);
  EXPECT_EQ(response.body, "GET  \n");
  EXPECT_EQ(response.effective_url, url("/method"));
}

TEST_F(NginxClientTest, StopsAtMaxRedirectsWithTheLastRedirect) {
  HTTPRequest request(url("/chain/1"));
  request.max_redirects = 4;
  HTTPResponse response = fetch(request);
  EXPECT_EQ(response.code, 308);  // /chain/5's redirect, not followed
  EXPECT_EQ(response.effective_url, url("/chain/5"));
  EXPECT_TRUE(response.headers.get("Location", "").ends_with("/method"));
  EXPECT_THROW(response.rethrow(), HTTPClientError);

  AsyncHTTPClient client(AsyncHTTPClient::Defaults{});
  std::exception_ptr error = failure(client, request);
  try {
    std::rethrow_exception(error);
  } catch (const HTTPClientError& e) {
    EXPECT_EQ(e.code(), 308);
    ASSERT_TRUE(e.response());
    EXPECT_EQ(e.response()->code, 308);
  } catch (...) {
    ADD_FAILURE() << "expected HTTPClientError 308, got " << describe(error);
  }
}

TEST_F(NginxClientTest, ARedirectLoopEndsAfterMaxRedirects) {
  HTTPResponse response = fetch(HTTPRequest(url("/loop")));
  EXPECT_EQ(response.code, 302);
  EXPECT_EQ(response.effective_url, url("/loop"));
  EXPECT_TRUE(response.error);

  HTTPRequest request(url("/loop"));
  request.max_redirects = 0;
  HTTPResponse at_once = fetch(request);
  EXPECT_EQ(at_once.code, 302);
}

TEST_F(NginxClientTest, DoesNotFollowRedirectsWhenToldNot) {
  HTTPRequest request(url("/redirect/301"));
  request.follow_redirects = false;
  HTTPResponse response = fetch(request);
  EXPECT_EQ(response.code, 301);
  EXPECT_EQ(response.effective_url, url("/redirect/301"));
  EXPECT_EQ(response.headers.get("Location", ""), url("/method"));
  EXPECT_THROW(response.rethrow(), HTTPClientError);
}

TEST_F(NginxClientTest, ASameOriginRedirectKeepsCredentials) {
  for (const char* path : {"/redirect/same-origin", "/redirect/same-origin-absolute"}) {
    SCOPED_TRACE(path);
    HTTPRequest request(url(path));
    request.headers.add("Cookie", "session=abc");
    request.headers.add("Proxy-Authorization", "Basic cHJveHk6cHc=");
    request.headers.add("X-Test", "kept");
    request.auth_username = "user";
    request.auth_password = "secret";
    HTTPResponse response = fetch(request);
    ASSERT_EQ(response.code, 200) << describe(response.error);
    auto fields = echoed(response.body);
    EXPECT_EQ(fields["authorization"], "Basic dXNlcjpzZWNyZXQ=");
    EXPECT_EQ(fields["cookie"], "session=abc");
    EXPECT_EQ(fields["proxy-authorization"], "Basic cHJveHk6cHc=");
    EXPECT_EQ(fields["x-test"], "kept");
  }
}

TEST_F(NginxClientTest, ACrossOriginRedirectDropsCredentials) {
  HTTPRequest request(url("/redirect/cross-origin"));
  request.headers.add("Authorization", "Bearer token-for-the-first-origin");
  request.headers.add("Cookie", "session=abc");
  request.headers.add("Proxy-Authorization", "Basic cHJveHk6cHc=");
  request.headers.add("X-Test", "kept");
  HTTPResponse response = fetch(request);
  ASSERT_EQ(response.code, 200) << describe(response.error);
  EXPECT_EQ(response.effective_url, site().url(kOther, "/headers"));
  auto fields = echoed(response.body);
  EXPECT_EQ(fields["authorization"], "");
  EXPECT_EQ(fields["cookie"], "");
  EXPECT_EQ(fields["proxy-authorization"], "");
  EXPECT_EQ(fields["x-test"], "kept");
  EXPECT_EQ(fields["host"], "127.0.0.1:" + std::to_string(site().port(kOther)));
}

TEST_F(NginxClientTest, ACrossOriginRedirectDropsBasicAuth) {
  HTTPRequest request(url("/redirect/cross-origin"));
  request.auth_username = "user";
  request.auth_password = "secret";
  HTTPResponse response = fetch(request);
  ASSERT_EQ(response.code, 200) << describe(response.error);
  EXPECT_EQ(echoed(response.body)["authorization"], "");
}

TEST_F(NginxClientTest, AnUpgradeToHttpsIsAnotherOrigin) {
  HTTPRequest request(url("/redirect/to-https"));
  request.ca_certs = site().ca_certs();
  request.headers.add("Cookie", "session=abc");
  request.auth_username = "user";
  request.auth_password = "secret";
  HTTPResponse response = fetch(request);
  ASSERT_EQ(response.code, 200) << describe(response.error);
  EXPECT_EQ(response.effective_url, site().url(kHTTPS, "/headers"));
  auto fields = echoed(response.body);
  EXPECT_EQ(fields["authorization"], "");
  EXPECT_EQ(fields["cookie"], "");
}

TEST_F(NginxClientTest, AnHttpsToHttpRedirectIsRefusedUnlessAllowed) {
  HTTPRequest request = https_request(site().url(kHTTPS, "/redirect/to-http"));
  HTTPResponse refused = fetch(request);
  EXPECT_EQ(refused.code, 302);  // the redirect, not followed, is the response
  EXPECT_EQ(refused.effective_url, site().url(kHTTPS, "/redirect/to-http"));
  EXPECT_THROW(refused.rethrow(), HTTPClientError);

  request.allow_insecure_redirects = true;
  HTTPResponse allowed = fetch(request);
  EXPECT_EQ(allowed.code, 200) << describe(allowed.error);
  EXPECT_EQ(allowed.effective_url, url("/headers"));
}

// ---- request options -----------------------------------------------------------------------

TEST_F(NginxClientTest, BasicAuthOpensAProtectedLocation) {
  HTTPResponse anonymous = fetch(HTTPRequest(url("/private/secret.txt")));
  EXPECT_EQ(anonymous.code, 401);

  HTTPRequest request(url("/private/secret.txt"));
  request.auth_username = "user";
  request.auth_password = "wrong";
  EXPECT_EQ(fetch(request).code, 401);

  request.auth_password = "secret";
  HTTPResponse response = fetch(request);
  EXPECT_EQ(response.code, 200) << describe(response.error);
  EXPECT_EQ(response.body, "the secret\n");
}

TEST_F(NginxClientTest, SendsTheUserAgentOfTheRequestOrOfTheClient) {
  AsyncHTTPClient::Defaults defaults;
  defaults.request.user_agent = "squall-defaults/1.0";
  AsyncHTTPClient client(defaults);
  HTTPResponse by_default = fetch(client, HTTPRequest(url("/headers")));
  EXPECT_EQ(echoed(by_default.body)["user-agent"], "squall-defaults/1.0");

  HTTPRequest request(url("/headers"));
  request.user_agent = "squall-request/2.0";
  HTTPResponse own = fetch(client, request);
  EXPECT_EQ(echoed(own.body)["user-agent"], "squall-request/2.0");

  // Headers the caller sets go out as they are.
  HTTPRequest custom(url("/headers"));
  custom.headers.add("X-Test", "custom value");
  EXPECT_EQ(echoed(fetch(client, custom).body)["x-test"], "custom value");
  client.close();
}

TEST_F(NginxClientTest, IfModifiedSinceIsSentAsAnHttpDate) {
  HTTPRequest request(url("/headers"));
  // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example date.
  request.if_modified_since = std::chrono::system_clock::from_time_t(784111777);
  HTTPResponse response = fetch(request);
  EXPECT_EQ(echoed(response.body)["if-modified-since"], "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST_F(NginxClientTest, IfModifiedSinceAfterTheFileGets304) {
  HTTPRequest request(url("/small.txt"));
  request.if_modified_since = std::chrono::system_clock::now() + std::chrono::hours(24);
  HTTPResponse response = fetch(request);
  EXPECT_EQ(response.code, 304);
  EXPECT_EQ(response.body, "");

  request.if_modified_since = std::chrono::system_clock::from_time_t(784111777);
  EXPECT_EQ(fetch(request).code, 200);
}

TEST_F(NginxClientTest, BodyProducerStreamsAnUploadInChunks) {
  fs::remove(site().www() / "dav" / "streamed.txt");
  HTTPRequest request(url("/dav/streamed.txt"), "PUT");
  request.body_producer = producer({"first part, ", "second part, ", std::string(100000, 'x'),
                                    ", last part\n"});
  HTTPResponse response = fetch(request);
  EXPECT_EQ(response.code, 201) << describe(response.error);
  EXPECT_EQ(read_file(site().www() / "dav" / "streamed.txt"),
            "first part, second part, " + std::string(100000, 'x') + ", last part\n");

  // Without Content-Length the body goes chunked; with one, as it is.
  HTTPRequest chunked(url("/method"), "POST");
  chunked.body_producer = producer({"abc", "def"});
  EXPECT_EQ(fetch(chunked).body, "POST  chunked\n");
  HTTPRequest sized(url("/method"), "POST");
  sized.headers.add("Content-Length", "6");
  sized.body_producer = producer({"abc", "def"});
  EXPECT_EQ(fetch(sized).body, "POST 6 \n");
}

TEST_F(NginxClientTest, Expect100ContinueSendsTheBodyAfterTheInterimResponse) {
  std::string body(2 * kMiB, 'e');
  fs::remove(site().www() / "dav" / "expected.txt");
  HTTPRequest request(url("/dav/expected.txt"), "PUT");
  request.body = body;
  request.expect_100_continue = true;
  HTTPResponse response = fetch(request);
  EXPECT_EQ(response.code, 201) << describe(response.error);
  EXPECT_TRUE(read_file(site().www() / "dav" / "expected.txt") == body);

  HTTPRequest echo(url("/headers"), "POST");
  echo.body = "x";
  echo.expect_100_continue = true;
  HTTPResponse echoed_response = fetch(echo);
  EXPECT_EQ(echoed_response.code, 200) << describe(echoed_response.error);
  EXPECT_EQ(echoed(echoed_response.body)["expect"], "100-continue");
}

TEST_F(NginxClientTest, NonstandardMethodsAndBodiesNeedPermission) {
  AsyncHTTPClient client(AsyncHTTPClient::Defaults{});
  HTTPRequest propfind(url("/method"), "PROPFIND");
  EXPECT_THROW(client.fetch(propfind), ValueError);
  HTTPRequest get_with_body(url("/method"));
  get_with_body.body = "body";
  EXPECT_THROW(client.fetch(get_with_body), ValueError);
  HTTPRequest post_without_body(url("/method"), "POST");
  EXPECT_THROW(client.fetch(post_without_body), ValueError);

  propfind.allow_nonstandard_methods = true;
  EXPECT_EQ(fetch(client, propfind).body, "PROPFIND  \n");
  get_with_body.allow_nonstandard_methods = true;
  EXPECT_EQ(fetch(client, get_with_body).body, "GET 4 \n");
  client.close();
}

TEST_F(NginxClientTest, BadURLsAreRefusedAtOnce) {
  AsyncHTTPClient client(AsyncHTTPClient::Defaults{});
  EXPECT_THROW(client.fetch("ftp://127.0.0.1/file"), ValueError);
  EXPECT_THROW(client.fetch("not a url"), ValueError);
  client.close();
}

// ---- timeouts and broken responses ---------------------------------------------------------

TEST_F(NginxClientTest, RequestTimeoutFailsWith599WhenTheServerNeverAnswers) {
  AsyncHTTPClient client(AsyncHTTPClient::Defaults{});
  HTTPRequest prime(url("/stall"));
  prime.request_timeout = 500ms;
  fetch(client, prime);  // the zone's first request passes at once; the next ones wait
  HTTPRequest request(url("/stall"));
  request.request_timeout = 500ms;
  auto started = std::chrono::steady_clock::now();
  HTTPResponse response = fetch(client, request);
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(response.code, 599);
  EXPECT_TRUE(is_a<TimeoutError>(response.error)) << describe(response.error);
  EXPECT_GE(took, 450ms);
  EXPECT_LT(took, 5s);
  client.close();
}

TEST_F(NginxClientTest, RequestTimeoutCoversAResponseThatTrickles) {
  HTTPRequest request(url("/trickle"));
  request.request_timeout = 1500ms;
  HTTPResponse response = fetch(request);
  EXPECT_EQ(response.code, 599);
  EXPECT_TRUE(is_a<TimeoutError>(response.error)) << describe(response.error);
}

TEST_F(NginxClientTest, TheWaitForASlotCountsAgainstRequestTimeout) {
  AsyncHTTPClient client(pool_of(1));
  HTTPRequest prime(url("/stall"));
  prime.request_timeout = 500ms;
  fetch(client, prime);

  HTTPRequest stalled(url("/stall"));
  stalled.request_timeout = 30s;
  HTTPRequest queued(url("/small.txt"));
  queued.request_timeout = 300ms;
  auto both = [&]() -> Future<std::pair<HTTPResponse, HTTPResponse>> {
    Future<HTTPResponse> first = client.fetch(stalled, false);
    Future<HTTPResponse> second = client.fetch(queued, false);
    HTTPResponse second_response = co_await second;  // times out in the queue
    EXPECT_FALSE(first.done());
    client.close();  // fails the fetch in progress with 599
    HTTPResponse first_response = co_await first;
    co_return std::make_pair(std::move(first_response), std::move(second_response));
  };
  auto [first, second] = run_sync(both, 10s);
  EXPECT_EQ(second.code, 599);
  EXPECT_TRUE(is_a<TimeoutError>(second.error)) << describe(second.error);
  EXPECT_LT(second.request_time, 2.0);
  EXPECT_EQ(first.code, 599) << describe(first.error);
  EXPECT_TRUE(first.error);
}

TEST_F(NginxClientTest, AConnectionClosedMidBodyFailsWith599) {
  // nginx promised 256 MiB; once the download has started the file shrinks under it, and nginx,
  // finding it truncated, closes the connection in the middle of the body.
  const fs::path file = site().www() / "cut.bin";
  make_sparse_file(file, 256 * kMiB);
  std::uint64_t received = 0;
  HTTPRequest request(url("/cut.bin"));
  request.max_body_size = kGiB;
  request.streaming_callback = [&received, &file](std::string_view chunk) {
    if (received == 0) fs::resize_file(file, kMiB);
    received += chunk.size();
  };
  HTTPResponse response = fetch(request, 60s);
  EXPECT_EQ(response.code, 599);
  EXPECT_TRUE(response.error);
  EXPECT_TRUE(is_a<StreamClosedError>(response.error)) << describe(response.error);
  EXPECT_GT(received, 0u);
  EXPECT_LT(received, 256 * kMiB);
}

// ---- keep-alive and the pool ---------------------------------------------------------------

/// The connection serial numbers nginx reports in the bodies of /conn.
std::set<std::string> server_connections(const std::vector<HTTPResponse>& responses) {
  std::set<std::string> connections;
  for (const HTTPResponse& response : responses) {
    connections.insert(response.body.substr(0, response.body.find(' ')));
  }
  return connections;
}

TEST_F(NginxClientTest, AThousandSequentialFetchesShareOneConnection) {
  AsyncHTTPClient client(pool_of(4));
  auto sequential = [&client]() -> Future<std::vector<HTTPResponse>> {
    std::vector<HTTPResponse> responses;
    for (int i = 0; i < 1000; ++i) responses.push_back(co_await client.fetch(url("/conn")));
    co_return responses;
  };
  std::vector<HTTPResponse> responses = run_sync(sequential, 60s);
  ASSERT_EQ(responses.size(), 1000u);
  for (const HTTPResponse& response : responses) ASSERT_EQ(response.code, 200);
  EXPECT_EQ(client.connections_opened(), 1u);
  EXPECT_EQ(server_connections(responses).size(), 1u);
  EXPECT_EQ(responses.back().body.substr(responses.back().body.find(' ') + 1), "1000\n");
  client.close();
}

TEST_F(NginxClientTest, AThousandConcurrentFetchesUseAtMostMaxClientsConnections) {
  AsyncHTTPClient client(pool_of(10));
  auto concurrent = [&client] {
    std::vector<Future<HTTPResponse>> fetches;
    for (int i = 0; i < 1000; ++i) fetches.push_back(client.fetch(url("/conn")));
    return gen::multi(std::move(fetches));
  };
  std::vector<HTTPResponse> responses = run_sync(concurrent, 60s);
  ASSERT_EQ(responses.size(), 1000u);
  for (const HTTPResponse& response : responses) ASSERT_EQ(response.code, 200);
  EXPECT_GE(client.connections_opened(), 1u);
  EXPECT_LE(client.connections_opened(), 10u);
  EXPECT_LE(server_connections(responses).size(), 10u);
  client.close();
}

TEST_F(NginxClientTest, ConnectionsAreReusedOverHttpsToo) {
  AsyncHTTPClient client(pool_of(4));
  auto sequential = [&client]() -> Future<std::vector<HTTPResponse>> {
    std::vector<HTTPResponse> responses;
    for (int i = 0; i < 100; ++i) {
      responses.push_back(co_await client.fetch(https_request(site().url(kHTTPS, "/conn"))));
    }
    co_return responses;
  };
  std::vector<HTTPResponse> responses = run_sync(sequential, 60s);
  EXPECT_EQ(client.connections_opened(), 1u);
  EXPECT_EQ(server_connections(responses).size(), 1u);
  client.close();
}

TEST_F(NginxClientTest, AConnectionTheServerWillCloseIsNotReused) {
  // nginx answers two requests per connection under /limited/, the second with Connection: close.
  AsyncHTTPClient client(pool_of(4));
  auto sequential = [&client]() -> Future<int> {
    int ok = 0;
    for (int i = 0; i < 10; ++i) {
      HTTPResponse response = co_await client.fetch(url("/limited/" + std::to_string(i)), false);
      ok += response.code == 200 ? 1 : 0;
    }
    co_return ok;
  };
  EXPECT_EQ(run_sync(sequential, 20s), 10);
  EXPECT_EQ(client.connections_opened(), 5u);
  client.close();
}

TEST_F(NginxClientTest, AnIdleConnectionClosedByTheServerIsReplaced) {
  AsyncHTTPClient client(pool_of(4));
  HTTPResponse first = fetch(client, HTTPRequest(url("/short-keepalive")));
  ASSERT_EQ(first.code, 200) << describe(first.error);
  // nginx closes the idle connection after 300 ms; the next fetch must not fail on it.
  auto pause = [] { return gen::sleep(700ms); };
  run_sync(pause);
  HTTPResponse second = fetch(client, HTTPRequest(url("/short-keepalive")));
  EXPECT_EQ(second.code, 200) << describe(second.error);
  EXPECT_EQ(client.connections_opened(), 2u);
  client.close();
}

// ---- HTTPS ---------------------------------------------------------------------------------

TEST_F(NginxClientTest, HttpsIsVerifiedWithCaCerts) {
  HTTPResponse response = fetch(https_request(site().url(kHTTPS, "/small.txt")));
  ASSERT_EQ(response.code, 200) << describe(response.error);
  EXPECT_EQ(response.body, site().small_text);
  EXPECT_EQ(response.effective_url, site().url(kHTTPS, "/small.txt"));
}

TEST_F(NginxClientTest, HttpsWithoutTheCaIsRejectedWithSSLError) {
  testing::ExpectLog expected(log::gen_log(), "SSL Error");  // the rejection is logged
  HTTPResponse response = fetch(HTTPRequest(site().url(kHTTPS, "/small.txt")));
  EXPECT_EQ(response.code, 599);
  EXPECT_TRUE(is_a<SSLError>(response.error)) << describe(response.error);

  AsyncHTTPClient client(AsyncHTTPClient::Defaults{});
  std::exception_ptr error = failure(client, HTTPRequest(site().url(kHTTPS, "/small.txt")));
  try {
    std::rethrow_exception(error);
  } catch (const HTTPClientError& e) {
    EXPECT_EQ(e.code(), 599);
    EXPECT_FALSE(e.response());
    EXPECT_TRUE(is_a<SSLError>(e.real_error())) << describe(error);
  } catch (...) {
    ADD_FAILURE() << "expected HTTPClientError 599, got " << describe(error);
  }
  client.close();
}

TEST_F(NginxClientTest, ASelfSignedCertificateIsRejectedUnlessValidationIsOff) {
  testing::ExpectLog expected(log::gen_log(), "SSL Error");  // the rejection is logged
  HTTPRequest request = https_request(site().url(kUntrusted, "/small.txt"));
  HTTPResponse rejected = fetch(request);
  EXPECT_EQ(rejected.code, 599);
  EXPECT_TRUE(is_a<SSLError>(rejected.error)) << describe(rejected.error);

  request.validate_cert = false;
  HTTPResponse accepted = fetch(request);
  EXPECT_EQ(accepted.code, 200) << describe(accepted.error);
  EXPECT_EQ(accepted.body, site().small_text);
}

TEST_F(NginxClientTest, ACertificateForAnotherNameIsRejected) {
  testing::ExpectLog expected(log::gen_log(), "SSL Error");  // the rejection is logged
  HTTPRequest request = https_request(site().url(kWrongName, "/small.txt"));
  HTTPResponse rejected = fetch(request);
  EXPECT_EQ(rejected.code, 599);
  EXPECT_TRUE(is_a<SSLError>(rejected.error)) << describe(rejected.error);

  request.validate_cert = false;
  EXPECT_EQ(fetch(request).code, 200);
}

TEST_F(NginxClientTest, SendsTheHostNameAsSNI) {
  HTTPResponse by_name = fetch(https_request(site().url(kHTTPS, "/sni", "localhost")));
  ASSERT_EQ(by_name.code, 200) << describe(by_name.error);
  EXPECT_EQ(by_name.body, "sni=localhost\n");
}

TEST_F(NginxClientTest, SendsNoSNIForAnIPAddress) {
  HTTPResponse by_address = fetch(https_request(site().url(kHTTPS, "/sni")));
  ASSERT_EQ(by_address.code, 200) << describe(by_address.error);
  EXPECT_EQ(by_address.body, "sni=\n");
}

TEST_F(NginxClientTest, PresentsAClientCertificate) {
  HTTPRequest request = https_request(site().url(kHTTPS, "/client-cert"));
  HTTPResponse without = fetch(request);
  ASSERT_EQ(without.code, 200) << describe(without.error);
  EXPECT_EQ(without.body, "NONE \n");

  request.client_cert = (site().dir() / "client.pem").string();
  request.client_key = (site().dir() / "client.key").string();
  HTTPResponse with = fetch(request);
  ASSERT_EQ(with.code, 200) << describe(with.error);
  EXPECT_TRUE(with.body.starts_with("SUCCESS ")) << with.body;
  EXPECT_NE(with.body.find("CN=squall client"), std::string::npos) << with.body;
}

// ---- a gibibyte, streamed ------------------------------------------------------------------

TEST_F(NginxClientTest, StreamsAGibibyteInConstantMemory) {
  const std::uint64_t before = resident_bytes();
  std::uint64_t peak = before;
  std::uint64_t received = 0;
  std::uint64_t next_sample = 0;
  bool zeros = true;
  static const std::string kZeros(256 * 1024, '\0');
  HTTPRequest request(url("/huge.bin"));
  request.max_body_size = 2 * kGiB;
  request.request_timeout = 100s;
  request.streaming_callback = [&](std::string_view chunk) {
    received += chunk.size();
    for (std::size_t at = 0; zeros && at < chunk.size(); at += kZeros.size()) {
      std::size_t n = std::min(kZeros.size(), chunk.size() - at);
      zeros = std::memcmp(chunk.data() + at, kZeros.data(), n) == 0;
    }
    if (received >= next_sample) {
      peak = std::max(peak, resident_bytes());
      next_sample = received + 16 * kMiB;
    }
  };
  auto started = std::chrono::steady_clock::now();
  HTTPResponse response = fetch(request, 110s);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  peak = std::max(peak, resident_bytes());
  ASSERT_EQ(response.code, 200) << describe(response.error);
  EXPECT_EQ(received, kGiB);
  EXPECT_TRUE(zeros);
  EXPECT_EQ(response.body.size(), 0u);
  EXPECT_LT(peak - before, 64 * kMiB) << "resident set grew by " << (peak - before) / kMiB
                                      << " MiB";
  std::cout << "1 GiB in " << seconds << " s (" << 1.0 / seconds << " GiB/s), resident set +"
            << (peak - before) / kMiB << " MiB\n";
}

// ---- the blocking client -------------------------------------------------------------------

class NginxBlockingClientTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(site().ok()) << site().error(); }
};

TEST_F(NginxBlockingClientTest, FetchesWithoutALoopOfItsOwn) {
  HTTPClient client;
  HTTPResponse response = client.fetch(site().url(kHTTP, "/small.txt"));
  EXPECT_EQ(response.code, 200);
  EXPECT_EQ(response.body, site().small_text);
  HTTPResponse redirected = client.fetch(site().url(kHTTP, "/chain/1"));
  EXPECT_EQ(redirected.body, "GET  \n");
  client.close();
}

TEST_F(NginxBlockingClientTest, ThrowsHTTPClientErrorOrReturnsTheResponse) {
  HTTPClient client;
  try {
    client.fetch(site().url(kHTTP, "/no/such/file"));
    ADD_FAILURE() << "a 404 did not throw";
  } catch (const HTTPClientError& e) {
    EXPECT_EQ(e.code(), 404);
  }
  HTTPResponse response = client.fetch(site().url(kHTTP, "/no/such/file"), false);
  EXPECT_EQ(response.code, 404);

  HTTPRequest request(site().url(kHTTPS, "/small.txt"));
  request.ca_certs = site().ca_certs();
  EXPECT_EQ(client.fetch(request).body, site().small_text);
}

}  // namespace
}  // namespace squall
