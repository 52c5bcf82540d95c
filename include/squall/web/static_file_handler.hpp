#pragma once
/// \file
/// `StaticFileHandler` (Tornado's): serves the files of a folder, with validators (ETag,
/// Last-Modified), conditional requests (304, 412), byte ranges (206, 416), long cache lifetimes
/// for versioned URLs (`static_url(path)` gives `...?v=<hash>`), and large files sent without
/// reading them into memory. The `static_path` setting routes `static_url_prefix` to one; a route
/// can serve any folder:
///
///     {"/files/(.*)", squall::web::handler<squall::web::StaticFileHandler>(
///                         squall::web::StaticFileOptions{"/srv/files", "index.html"})}
///
/// The route's first group (or its group named `path`) is the file's path below the folder.
/// Paths leaving the folder (`..`, encoded or not, an absolute path, or a symbolic link pointing
/// outside) get 403; missing files 404.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "squall/web/request_handler.hpp"

namespace squall::web {

/// Where a StaticFileHandler serves from.
struct StaticFileOptions {
  /// The folder served.
  std::string path;
  /// The file served for a folder's URL (such as "index.html"); without it folders get 403.
  /// A folder's URL without its trailing slash is redirected to it.
  std::string default_filename = {};
};

/// Serves the files below one folder for GET and HEAD, as Tornado's StaticFileHandler, with these
/// differences, each where RFC 9110 asks for it: If-Match and If-Unmodified-Since are honoured
/// (412), If-Range too (a changed file gets the whole 200), HEAD ignores Range, Last-Modified is
/// never later than now, a 304 leaves Last-Modified out when it has an ETag, a suffix range of an
/// empty file gets the (empty) whole, and a response the `compress_response` setting gzips has a
/// weak ETag and ignores Range (the byte positions would not be those of the bytes sent).
class StaticFileHandler : public RequestHandler {
 public:
  /// How long a versioned URL may be cached: ten years, as Tornado.
  static constexpr std::chrono::seconds kCacheMaxAge{86400LL * 365 * 10};
  /// The largest piece of a file handed to `write_file` at once: what a gzip'ed response holds
  /// in memory.
  static constexpr std::uint64_t kPieceSize = std::uint64_t{1} << 20;

  /// Takes the folder and default file name from the route (`handler<StaticFileHandler>(...)`).
  void initialize(StaticFileOptions options);

  /// Serves the file: 200 with the whole file, 206 with a range of it, 304 when the client's copy
  /// is current, 412 when a precondition fails, 416 for a range past the end. Errors are
  /// HTTPErrors: 403 outside the folder or not a regular file, 404 missing.
  Future<void> get() override;
  /// As `get`, with the headers only (Range ignored).
  Future<void> head() override;

  // --- Overridable behaviour (Tornado's methods of the same names) ---------------------------

  /// The file path (relative to the folder) a URL path asks for (the route's group); the default
  /// keeps it as is. A subclass may map URL paths to other names.
  virtual std::string parse_url_path(std::string_view url_path);
  /// Sets Accept-Ranges, Etag, Last-Modified, Content-Type, the cache headers and the extra ones.
  virtual void set_headers();
  /// Extra headers for the file at `path` (the parsed URL path); none by default.
  virtual void set_extra_headers(std::string_view path) {}
  /// Whether the client's copy is current: If-None-Match matches the ETag (weak comparison), or,
  /// without If-None-Match, If-Modified-Since is not before Last-Modified.
  virtual bool should_return_304();
  /// The file's modification time: its mtime to the second, or now if that is in the future.
  virtual std::optional<std::chrono::system_clock::time_point> get_modified_time();
  /// Seconds the response may be cached: kCacheMaxAge for a versioned URL (a `v` argument), 0
  /// (no Expires/Cache-Control) otherwise.
  virtual std::chrono::seconds get_cache_time(
      std::string_view path, std::optional<std::chrono::system_clock::time_point> modified,
      std::string_view mime_type);
  /// The Content-Type of the file, from its name (`application/gzip` for a gzip-encoded file,
  /// `application/octet-stream` for another encoding or an unknown type).
  virtual std::string get_content_type();
  /// The file's ETag: its content version (Application::static_file_version) in quotes; nullopt
  /// if it cannot be read. Before a file is chosen, RequestHandler's (the buffered output's).
  std::optional<std::string> compute_etag() override;

  // --- Shared helpers (Tornado's class methods) ----------------------------------------------

  /// `root`/`path` as an absolute path, lexically normalized (`.` and `..` folded, no trailing
  /// slash), as Python's `os.path.abspath`; an absolute `path` replaces `root`. No check that it
  /// stays inside: see `validate_absolute_path`.
  static std::filesystem::path get_absolute_path(std::string_view root, std::string_view path);
  /// The content version of a file: the hex MD5 of its bytes, read in pieces; empty (and logged)
  /// if it cannot be read.
  static std::string get_content_version(const std::filesystem::path& absolute_path);
  /// `static_url_prefix` + `path`, with `?v=<version>` if `include_version` and the file (below
  /// `static_path`) can be read.
  static std::string make_static_url(Application& application, std::string_view path,
                                     bool include_version = true);

 protected:
  /// Checks the file to serve and returns its path: 403 (HTTPError) for an absolute URL path or
  /// one whose resolved location (symbolic links followed) is outside the resolved `root`; for a
  /// folder, with a default file name, a redirect adding the trailing slash (returning nullopt:
  /// the response is finished) or the default file (checked the same way), without one 403; 404
  /// for a missing file or a path with a NUL byte; 403 for anything but a regular file.
  virtual std::optional<std::filesystem::path> validate_absolute_path(
      const std::filesystem::path& root, const std::filesystem::path& absolute_path);

  const StaticFileOptions& static_options() const noexcept { return options_; }
  /// The parsed URL path (Tornado's `self.path`), once `get` has it.
  const std::string& path() const noexcept { return path_; }
  /// The validated file path (Tornado's `self.absolute_path`), once `get` has it.
  const std::filesystem::path& absolute_path() const noexcept { return absolute_path_; }
  /// The file's size, once it is open.
  std::uint64_t content_size() const noexcept { return size_; }

 private:
  Future<void> serve(bool include_body);
  void check_preconditions();
  bool if_range_matches(std::string_view if_range) const;
  bool compressing(std::string_view content_type) const;

  StaticFileOptions options_;
  std::string path_;
  std::filesystem::path absolute_path_;
  std::uint64_t size_ = 0;
  std::chrono::system_clock::time_point mtime_;  // from the same fstat as size_
  std::optional<std::chrono::system_clock::time_point> modified_;
  std::string etag_;  // as sent, empty if none
  bool gzipping_ = false;
};

}  // namespace squall::web
