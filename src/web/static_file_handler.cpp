// StaticFileHandler: files of a folder, with validators, conditional requests and byte ranges,
// sent with write_file (sendfile) in bounded pieces.

#include "squall/web/static_file_handler.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>

#include "squall/net/iostream.hpp"
#include "squall/util/log.hpp"
#include "squall/web/application.hpp"
#include "web/gzip_transform.hpp"
#include "web/mime_types.hpp"

namespace squall::web {
namespace {

namespace fs = std::filesystem;
using std::chrono::system_clock;

// O_NONBLOCK: a FIFO put where a file was checked must not block the loop in open(2); it changes
// nothing for a regular file.
constexpr int kOpenFlags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string not_in_root(std::string_view path) {
  std::string message(path);
  message.append(" is not in root static directory");
  return message;
}

// Whether `resolved` is `root` or below it; both are canonical, so a textual prefix (ended by a
// separator, so that /srv/static2 is not below /srv/static) decides.
bool is_inside(const fs::path& resolved, const fs::path& root) {
  std::string prefix = root.native();
  if (!prefix.ends_with('/')) prefix.push_back('/');
  std::string candidate = resolved.native();
  candidate.push_back('/');
  return candidate.starts_with(prefix);
}

// `path` with its symbolic links, `.` and `..` resolved as far as it exists. A path that cannot
// be resolved (a link loop, a name too long) is one that does not exist.
fs::path resolve(const fs::path& path) {
  std::error_code error;
  fs::path resolved = fs::weakly_canonical(path, error);
  if (error) throw HTTPError(error == std::errc::permission_denied ? 403 : 404);
  return resolved;
}

// Whether the entity-tag list `list` (If-Match's) holds `etag` under the strong comparison of
// RFC 9110 §8.8.3.2: weak tags match nothing. Entity tags may hold commas, so the list is
// scanned by quotes; a malformed list matches nothing.
bool strong_match(std::string_view list, std::string_view etag) {
  if (trim(list) == "*") return true;  // the file exists
  if (etag.empty() || etag.starts_with("W/")) return false;
  std::size_t i = 0;
  while (i < list.size()) {
    const char c = list[i];
    if (c == ' ' || c == '\t' || c == ',') {
      ++i;
      continue;
    }
    const bool weak = list.substr(i).starts_with("W/\"");
    const std::size_t open = weak ? i + 2 : i;
    if (list[open] != '"') return false;
    const std::size_t close = list.find('"', open + 1);
    if (close == std::string_view::npos) return false;
    if (!weak && list.substr(open, close + 1 - open) == etag) return true;
    i = close + 1;
  }
  return false;
}

}  // namespace

void StaticFileHandler::initialize(StaticFileOptions options) {
  options_ = std::move(options);
}

Future<void> StaticFileHandler::get() {
  return serve(true);
}

Future<void> StaticFileHandler::head() {
  return serve(false);
}

Future<void> StaticFileHandler::serve(bool include_body) {
  std::string_view url_path;
  if (!path_args().empty()) {
    url_path = path_args().front();
  } else if (auto it = path_kwargs().find("path"); it != path_kwargs().end()) {
    url_path = it->second;
  }
  path_ = parse_url_path(url_path);
  std::optional<fs::path> validated =
      validate_absolute_path(options_.path, get_absolute_path(options_.path, path_));
  if (!validated) co_return;  // redirected
  absolute_path_ = std::move(*validated);
  if (absolute_path_.native().find('\0') != std::string::npos) throw HTTPError(404);

  // One descriptor and one fstat: the size and mtime sent are those of the bytes sent, even if
  // the file is replaced meanwhile.
  FileDescriptor file(::open(absolute_path_.c_str(), kOpenFlags));
  if (file.get() < 0) {
    const int error = errno;
    if (error == ENOENT || error == ENOTDIR) throw HTTPError(404);
    if (error == EACCES || error == EPERM) throw HTTPError(403, path_ + ": permission denied");
    throw OSError(error, "open " + absolute_path_.native());
  }
  struct stat info {};
  if (::fstat(file.get(), &info) != 0) throw OSError(errno, "fstat " + absolute_path_.native());
  if (!S_ISREG(info.st_mode)) throw HTTPError(403, path_ + " is not a file");
  size_ = static_cast<std::uint64_t>(info.st_size);
  mtime_ = system_clock::time_point(std::chrono::seconds(info.st_mtim.tv_sec));
  modified_ = get_modified_time();

  set_headers();
  check_preconditions();
  if (should_return_304()) {
    set_status(304);
    // RFC 9110 §15.4.5: with an ETag to revalidate by, a 304 needs no Last-Modified.
    if (!etag_.empty()) clear_header("Last-Modified");
    co_return;
  }

  std::uint64_t start = 0;
  std::uint64_t end = size_;
  // Range is defined for GET only (RFC 9110 §14.2), and the positions of a gzip'ed body are not
  // those of the file.
  auto range_header = request().headers.get("Range");
  if (include_body && !gzipping_ && range_header && !range_header->empty()) {
    auto if_range = request().headers.get("If-Range");
    std::optional<httputil::RequestRange> range;
    if (!if_range || if_range_matches(*if_range))
      range = httputil::parse_request_range(*range_header);
    if (range) {
      auto [first, last] = *range;
      const auto size = static_cast<std::int64_t>(size_);
      const bool suffix = first && *first < 0;
      if (suffix) first = std::max<std::int64_t>(*first + size, 0);
      if (suffix && size == 0) {
        // RFC 9110 §14.1.1: a suffix of an empty file is the whole of it, sent as a 200.
      } else if ((first && (*first >= size || (last && *first >= *last))) || last == 0) {
        set_status(416);
        set_header("Content-Type", "text/plain");
        set_header("Content-Range", "bytes */" + std::to_string(size_));
        co_return;
      } else {
        if (last && *last > size) last = size;
        start = static_cast<std::uint64_t>(first.value_or(0));
        end = static_cast<std::uint64_t>(last.value_or(size));
        // The whole file asked for is a 200: some clients (Chrome's audio) refuse a 206 for
        // `bytes=0-`.
        if (end - start != size_) {
          set_status(206);
          set_header("Content-Range", httputil::format_content_range(first, last, size));
        }
      }
    }
  }
  set_header("Content-Length", end - start);

  try {
    if (!include_body) {
      // Flushed rather than left to finish(): a response compress_response gzips then shows the
      // same headers as to GET (Content-Encoding, no Content-Length).
      Future<void> flushed = flush();
      co_await flushed;
      co_return;
    }
    std::uint64_t offset = start;
    do {
      const std::uint64_t piece = std::min(end - offset, kPieceSize);
      Future<void> sent = write_file(file.get(), offset, piece);
      co_await sent;
      offset += piece;
    } while (offset < end);
  } catch (const StreamClosedError&) {
    // The client went away: nobody is left to send the rest to.
  }
}

std::string StaticFileHandler::parse_url_path(std::string_view url_path) {
  return std::string(url_path);
}

void StaticFileHandler::set_headers() {
  const std::string content_type = get_content_type();
  gzipping_ = compressing(content_type);
  if (!gzipping_) set_header("Accept-Ranges", "bytes");
  etag_.clear();
  if (std::optional<std::string> etag = compute_etag()) {
    etag_ = std::move(*etag);
    // Another content coding is another representation (RFC 9110 §8.8.3): the strong validator
    // of the file's bytes cannot stand for the gzip'ed ones.
    if (gzipping_ && !etag_.starts_with("W/")) etag_.insert(0, "W/");
    set_header("Etag", etag_);
  }
  if (modified_) set_header("Last-Modified", *modified_);
  set_header("Content-Type", content_type);
  const std::chrono::seconds cache_time = get_cache_time(path_, modified_, content_type);
  if (cache_time > std::chrono::seconds::zero()) {
    set_header("Expires", system_clock::now() + cache_time);
    set_header("Cache-Control", "max-age=" + std::to_string(cache_time.count()));
  }
  set_extra_headers(path_);
}

bool StaticFileHandler::should_return_304() {
  // If-None-Match, when sent, decides alone (RFC 9110 §13.1.3).
  if (auto if_none_match = request().headers.get("If-None-Match");
      if_none_match && !if_none_match->empty()) {
    return check_etag_header();
  }
  auto if_modified_since = request().headers.get("If-Modified-Since");
  if (!if_modified_since || !modified_) return false;
  auto since = httputil::parse_http_date(*if_modified_since);
  return since && *since >= *modified_;
}

// If-Match, else If-Unmodified-Since (RFC 9110 §13.2.2's first steps), which Tornado ignores.
void StaticFileHandler::check_preconditions() {
  const HTTPHeaders& headers = request().headers;
  if (auto if_match = headers.get("If-Match")) {
    if (!strong_match(*if_match, etag_)) throw HTTPError(412);
    return;
  }
  if (auto if_unmodified_since = headers.get("If-Unmodified-Since");
      if_unmodified_since && modified_) {
    auto date = httputil::parse_http_date(*if_unmodified_since);
    if (date && *modified_ > *date) throw HTTPError(412);
  }
}

// RFC 9110 §13.1.5: an entity tag matches by strong comparison, a date when it is exactly the
// Last-Modified sent (as nginx compares it).
bool StaticFileHandler::if_range_matches(std::string_view if_range) const {
  if_range = trim(if_range);
  if (if_range.starts_with('"'))
    return !etag_.empty() && !etag_.starts_with("W/") && if_range == etag_;
  if (if_range.starts_with("W/")) return false;
  auto date = httputil::parse_http_date(if_range);
  return date && modified_ && *date == *modified_;
}

// Whether compress_response will gzip this response: the test GzipTransform makes on the first
// piece written (write_file's pieces are never the last, so the size does not count).
bool StaticFileHandler::compressing(std::string_view content_type) const {
  if (!settings().compress_response) return false;
  return detail::GzipTransform(request()).gzipping() &&
         detail::GzipTransform::compressible_type(content_type);
}

std::optional<system_clock::time_point> StaticFileHandler::get_modified_time() {
  // RFC 9110 §8.8.2.1: never a modification time later than the response's Date.
  const system_clock::time_point now =
      std::chrono::floor<std::chrono::seconds>(system_clock::now());
  return std::min(mtime_, now);
}

std::chrono::seconds StaticFileHandler::get_cache_time(std::string_view,
                                                       std::optional<system_clock::time_point>,
                                                       std::string_view) {
  return request().arguments.contains("v") ? kCacheMaxAge : std::chrono::seconds::zero();
}

std::string StaticFileHandler::get_content_type() {
  return std::string(detail::static_content_type(absolute_path_.native()));
}

std::optional<std::string> StaticFileHandler::compute_etag() {
  if (absolute_path_.empty()) return RequestHandler::compute_etag();
  std::string version = application().static_file_version(absolute_path_.native());
  if (version.empty()) return std::nullopt;
  std::string etag = "\"";
  etag.append(version).append("\"");
  return etag;
}

std::optional<fs::path> StaticFileHandler::validate_absolute_path(const fs::path& root,
                                                                  const fs::path& absolute_path) {
  // A NUL would cut the name the kernel sees: "secret.txt\0.png" is no file.
  if (path_.find('\0') != std::string::npos) throw HTTPError(404);
  // An absolute URL path names no file below the root; refusing it (where Tornado serves the
  // root's own files by their absolute names) also keeps the root's location from being probed.
  if (path_.starts_with('/')) throw HTTPError(403, not_in_root(path_));
  std::error_code error;
  const fs::path real_root = fs::canonical(root.empty() ? fs::path(".") : root, error);
  if (error) throw HTTPError(404, "static root " + root.native() + ": " + error.message());

  fs::path candidate = absolute_path;
  fs::path resolved = resolve(candidate);
  if (!is_inside(resolved, real_root)) throw HTTPError(403, not_in_root(path_));
  if (!options_.default_filename.empty() && fs::is_directory(resolved, error)) {
    // The request's own path: the route's group may be empty while a prefix was matched.
    const std::string& request_path = request().path;
    if (!request_path.ends_with('/')) {
      // "//host" would be taken by browsers as another site.
      if (request_path.starts_with("//")) {
        throw HTTPError(403, "cannot redirect path with two initial slashes");
      }
      std::string location = request_path;
      location.push_back('/');
      redirect(location, true);
      return std::nullopt;
    }
    candidate = (candidate / options_.default_filename).lexically_normal();
    resolved = resolve(candidate);
    if (!is_inside(resolved, real_root)) throw HTTPError(403, not_in_root(path_));
  }
  const fs::file_status status = fs::status(resolved, error);
  if (!fs::exists(status)) {
    if (error == std::errc::permission_denied) throw HTTPError(403, path_ + ": permission denied");
    throw HTTPError(404);
  }
  if (!fs::is_regular_file(status)) throw HTTPError(403, path_ + " is not a file");
  return candidate;
}

fs::path StaticFileHandler::get_absolute_path(std::string_view root, std::string_view path) {
  fs::path joined = fs::path(root) / fs::path(path);
  if (joined.empty()) joined = ".";
  joined = fs::absolute(joined).lexically_normal();
  // "dir/" normalizes to "dir/": drop the empty last name, as os.path.abspath does.
  if (!joined.has_filename() && joined.has_relative_path()) joined = joined.parent_path();
  return joined;
}

std::string StaticFileHandler::get_content_version(const fs::path& absolute_path) {
  FileDescriptor file(::open(absolute_path.c_str(), kOpenFlags));
  struct stat info {};
  if (file.get() < 0 || ::fstat(file.get(), &info) != 0 || !S_ISREG(info.st_mode)) {
    const int error = file.get() < 0 ? errno : EINVAL;
    log::gen_log().error("Could not open static file {}: {}", absolute_path.native(),
                         std::strerror(error));
    return {};
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                  EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_md5(), nullptr) != 1) return {};
  char buffer[64 * 1024];
  for (;;) {
    const ssize_t got = ::read(file.get(), buffer, sizeof(buffer));
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      log::gen_log().error("Could not read static file {}: {}", absolute_path.native(),
                           std::strerror(errno));
      return {};
    }
    EVP_DigestUpdate(context.get(), buffer, static_cast<std::size_t>(got));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context.get(), digest, &length) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xf];
  }
  return hex;
}

std::string StaticFileHandler::make_static_url(Application& application, std::string_view path,
                                               bool include_version) {
  std::string url = application.settings().static_url_prefix;
  url.append(path);
  if (!include_version) return url;
  // Keyed by absolute path, the version is the one the handler's ETag finds in the cache.
  const fs::path absolute = get_absolute_path(application.settings().static_path, path);
  std::string version = application.static_file_version(absolute.native());
  if (version.empty()) return url;
  url.append("?v=").append(version);
  return url;
}

}  // namespace squall::web
