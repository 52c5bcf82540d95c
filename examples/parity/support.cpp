// The parity app's small helpers: its config, Python 3.11's reason phrases, UTF-8 validation.

#include <cstddef>
#include <string_view>

#include "parity.hpp"

namespace parity {

Config& config() {
  static Config instance;
  return instance;
}

std::string_view spec_reason(int code) noexcept {
  // The 4xx/5xx of the spec's table; other codes keep squall's (RFC 9110) phrases, which are
  // Python's too.
  switch (code) {
    case 413:
      return "Request Entity Too Large";
    case 414:
      return "Request-URI Too Long";
    case 416:
      return "Requested Range Not Satisfiable";
    case 422:
      return "Unprocessable Entity";
    default:
      return squall::httputil::reason_phrase(code);
  }
}

bool valid_utf8(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    unsigned min = 0;
    unsigned code = 0;
    if (byte < 0x80) {
      ++i;
      continue;
    } else if (byte >= 0xc2 && byte <= 0xdf) {
      extra = 1, min = 0x80, code = byte & 0x1f;
    } else if (byte >= 0xe0 && byte <= 0xef) {
      extra = 2, min = 0x800, code = byte & 0x0f;
    } else if (byte >= 0xf0 && byte <= 0xf4) {
      extra = 3, min = 0x10000, code = byte & 0x07;
    } else {
      return false;
    }
    if (text.size() - i <= extra) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    if (code < min || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) return false;
    i += extra + 1;
  }
  return true;
}

}  // namespace parity
