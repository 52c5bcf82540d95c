#pragma once
/// \file
/// Form bodies, as Tornado's `httputil.parse_body_arguments`: `application/x-www-form-urlencoded`
/// and `multipart/form-data` (RFC 7578, framed as RFC 2046 says), with limits that keep a hostile
/// body from costing more than one linear pass.

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "squall/http/httputil.hpp"  // HTTPInputError

namespace squall {

/// A file uploaded through a `multipart/form-data` form: its name as the client gave it (decoded
/// when sent as RFC 2231 `filename*`), the part's Content-Type, and its bytes.
struct HTTPFile {
  std::string filename;
  std::string content_type;
  std::string body;
};

/// Form values by name, each name's values in the order they arrived (bytes, not decoded text).
using Arguments = std::map<std::string, std::vector<std::string>>;
/// Uploaded files by form field name, in the order they arrived.
using Files = std::map<std::string, std::vector<HTTPFile>>;

/// Bounds on a `multipart/form-data` body. A body that passes them fails with
/// `squall::HTTPInputError` rather than costing memory or time out of proportion to its size.
struct BodyLimits {
  /// The most parts a body may hold (every part counts, skipped or empty ones too).
  std::size_t max_parts = 1000;
  /// The most bytes a part's header block may hold, not counting the blank line that ends it.
  std::size_t max_part_header_size = 10 * 1024;
};

namespace httputil {

/// Parses a form body into `arguments` and `files` (appending to what they hold), chosen by
/// `content_type`: `application/x-www-form-urlencoded` (blank values kept, `+` is a space, a `%`
/// not followed by two hex digits stays as it is) or `multipart/form-data; boundary=...` (see
/// `parse_multipart_form_data`). The media type is compared without regard to case; any other type
/// is ignored, as Tornado does. `headers` is reserved for Content-Encoding checks and unused now.
/// Throws `squall::HTTPInputError` for a multipart type without a boundary and for a malformed
/// multipart body; on a throw, `arguments` and `files` may hold the parts parsed before the error.
void parse_body_arguments(std::string_view content_type, std::string_view body,
                          Arguments& arguments, Files& files,
                          const std::map<std::string, std::string>* headers = nullptr,
                          BodyLimits limits = {});

/// Parses a `multipart/form-data` body framed by `boundary` (surrounding double quotes are
/// removed). The preamble before the first boundary line and the epilogue after the closing one
/// are ignored; spaces and tabs may pad a boundary line. A part whose Content-Disposition has a
/// non-empty `filename` goes to `files` (Content-Type defaulting to "application/unknown"), any
/// other named part to `arguments`; empty parts are skipped. Runs in time linear in
/// `boundary.size() + body.size()`. Throws `squall::HTTPInputError` when the boundary is empty or
/// holds a line break, a boundary line is malformed, the closing boundary is missing, a part has
/// no headers, no `form-data` disposition or no `name` (as Tornado since its CVE-2025-47287 fix),
/// a part header line has no colon, or `limits` are passed.
void parse_multipart_form_data(std::string_view boundary, std::string_view body,
                               Arguments& arguments, Files& files, BodyLimits limits = {});

/// Splits a Content-Type or Content-Disposition value into its main value (trimmed, case kept) and
/// its parameters (names lowercased). `;` inside a quoted string does not split; quoted values lose
/// their quotes and backslash escapes. RFC 2231 values (`filename*=UTF-8''%E2%82%AC.txt`, and
/// `name*0`, `name*1*` continuations) are decoded to UTF-8 and replace a plain parameter of the
/// same name; charsets other than UTF-8 and US-ASCII are read as ISO-8859-1. A parameter without
/// `=` is dropped. Linear in `value.size()`; never throws for any input (only `std::bad_alloc`).
std::pair<std::string, std::map<std::string, std::string>> parse_header_params(
    std::string_view value);

}  // namespace httputil
}  // namespace squall
