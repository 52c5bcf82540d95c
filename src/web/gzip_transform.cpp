// GzipTransform: gzip'ed responses for the compress_response setting.

#include "web/gzip_transform.hpp"

#include <array>

#include "http/text.hpp"

namespace squall::web::detail {
namespace {

// Besides text/*, the types Tornado compresses.
constexpr std::array<std::string_view, 7> kCompressibleTypes = {
    "application/javascript", "application/x-javascript", "application/xml", "application/atom+xml",
    "application/json",       "application/xhtml+xml",    "image/svg+xml"};

// Whether Accept-Encoding lists gzip with a nonzero weight (RFC 9110 §12.5.3).
bool accepts_gzip(const HTTPServerRequest& request) {
  auto accept = request.headers.get("Accept-Encoding");
  if (!accept) return false;
  bool accepted = false;
  http_text::for_each_element(*accept, [&](std::string_view element) {
    std::size_t semicolon = element.find(';');
    if (!http_text::iequals(http_text::trim(element.substr(0, semicolon)), "gzip")) return;
    bool zero_weight = false;
    while (semicolon != std::string_view::npos) {
      element.remove_prefix(semicolon + 1);
      semicolon = element.find(';');
      std::string_view param = http_text::trim(element.substr(0, semicolon));
      if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
        std::string_view weight = param.substr(2);
        zero_weight = !weight.empty() && weight.find_first_not_of("0.") == std::string_view::npos;
      }
    }
    accepted = accepted || !zero_weight;
  });
  return accepted;
}

}  // namespace

GzipTransform::GzipTransform(const HTTPServerRequest& request) : gzipping_(accepts_gzip(request)) {}

bool GzipTransform::compressible_type(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  type = http_text::trim(type);
  if (type.size() >= 5 && http_text::iequals(type.substr(0, 5), "text/")) return true;
  for (std::string_view known : kCompressibleTypes) {
    if (http_text::iequals(type, known)) return true;
  }
  return false;
}

void GzipTransform::transform_first_chunk(int status_code, HTTPHeaders& headers, std::string& chunk,
                                          bool finishing) {
  if (auto vary = headers.get("Vary")) {
    if (!http_text::lists_token(*vary, "Accept-Encoding")) {
      headers.set("Vary", *vary + ", Accept-Encoding");
    }
  } else {
    headers.set("Vary", "Accept-Encoding");
  }
  if (!gzipping_) return;
  const bool has_body = status_code >= 200 && status_code != 204 && status_code != 304;
  gzipping_ = has_body && compressible_type(headers.get("Content-Type", "")) &&
              (!finishing || chunk.size() >= kMinLength) && !headers.contains("Content-Encoding");
  if (!gzipping_) return;
  headers.set("Content-Encoding", "gzip");
  compressor_.emplace();
  transform_chunk(chunk, finishing);
  if (finishing) {
    headers.set("Content-Length", std::to_string(chunk.size()));
  } else {
    headers.erase("Content-Length");
  }
}

void GzipTransform::transform_chunk(std::string& chunk, bool finishing) {
  if (!gzipping_) return;
  std::string compressed;
  compressor_->compress(chunk, compressed, finishing);
  chunk.swap(compressed);
}

}  // namespace squall::web::detail
