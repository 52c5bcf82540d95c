#pragma once
// The compress_response setting: gzip for compressible responses (Tornado's GZipContentEncoding).

#include <optional>
#include <string>

#include "http/gzip.hpp"
#include "squall/http/httputil.hpp"
#include "squall/http/message.hpp"

namespace squall::web::detail {

/// Compresses one response when the client accepts gzip, its type is compressible (text/*,
/// JSON, JavaScript, XML, SVG...) and it is at least kMinLength bytes or streamed with flush().
/// Always adds `Vary: Accept-Encoding`, since the response depends on that header.
class GzipTransform {
 public:
  static constexpr std::size_t kMinLength = 1024;

  explicit GzipTransform(const HTTPServerRequest& request);

  /// Adjusts the headers of the response and compresses its first piece (`finishing`: the whole
  /// body).
  void transform_first_chunk(int status_code, HTTPHeaders& headers, std::string& chunk,
                             bool finishing);
  /// Compresses a later piece (`finishing`: the last).
  void transform_chunk(std::string& chunk, bool finishing);

  /// Whether this response is being compressed (known after the first chunk).
  bool gzipping() const noexcept { return gzipping_; }

  /// Whether Content-Type `content_type` (parameters allowed) is worth compressing.
  static bool compressible_type(std::string_view content_type);

 private:
  bool gzipping_;
  std::optional<squall::detail::GzipCompressor> compressor_;
};

}  // namespace squall::web::detail
