#pragma once
// UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF), with an
// ASCII fast path eight bytes at a time. Used for request arguments and WebSocket text.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace squall::detail {

/// Validates UTF-8 incrementally: feed pieces with `feed`, then `complete()` says whether the
/// input ended on a character boundary. A message split anywhere validates as a whole.
class Utf8Validator {
 public:
  /// Consumes `data`; returns false (and stays failed) at the first invalid byte.
  bool feed(std::string_view data) noexcept {
    if (failed_) return false;
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    const auto* end = p + data.size();
    while (p < end) {
      if (need_ == 0) {
        // ASCII runs, eight bytes at a time.
        while (end - p >= 8) {
          std::uint64_t word;
          std::memcpy(&word, p, 8);
          if (word & 0x8080808080808080ULL) break;
          p += 8;
        }
        if (p == end) break;
        unsigned char c = *p++;
        if (c < 0x80) continue;
        if (c >= 0xC2 && c <= 0xDF) {
          need_ = 1;
          low_ = 0x80;
          high_ = 0xBF;
        } else if (c >= 0xE0 && c <= 0xEF) {
          need_ = 2;
          low_ = c == 0xE0 ? 0xA0 : 0x80;   // no overlong forms
          high_ = c == 0xED ? 0x9F : 0xBF;  // no surrogates
        } else if (c >= 0xF0 && c <= 0xF4) {
          need_ = 3;
          low_ = c == 0xF0 ? 0x90 : 0x80;
          high_ = c == 0xF4 ? 0x8F : 0xBF;  // nothing past U+10FFFF
        } else {
          failed_ = true;
          return false;
        }
      } else {
        unsigned char c = *p++;
        if (c < low_ || c > high_) {
          failed_ = true;
          return false;
        }
        low_ = 0x80;
        high_ = 0xBF;
        --need_;
      }
    }
    return true;
  }
  /// True if everything fed is valid and ends on a character boundary.
  bool complete() const noexcept { return !failed_ && need_ == 0; }
  bool failed() const noexcept { return failed_; }
  void reset() noexcept { *this = Utf8Validator(); }

 private:
  int need_ = 0;  // continuation bytes still expected
  unsigned char low_ = 0x80;
  unsigned char high_ = 0xBF;
  bool failed_ = false;
};

/// Appends the UTF-8 encoding of `code_point` (at most U+10FFFF) to `out`.
inline void append_utf8(std::string& out, std::uint32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

/// Whether `text` is entirely valid UTF-8.
inline bool is_valid_utf8(std::string_view text) noexcept {
  Utf8Validator validator;
  return validator.feed(text) && validator.complete();
}

}  // namespace squall::detail
