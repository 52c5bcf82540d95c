#pragma once
// Header names and values eight bytes at a time, for HTTPHeaders' hot paths: names are short,
// and a byte at a time costs a dependent load, a compare and a store for each. Loads of fewer
// than 8 bytes overlap (two loads of 4, or a last word that repeats bytes) rather than read past
// the text.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "http/text.hpp"

namespace squall::header_words {

// Byte i of a loaded word is bits 8i to 8i+7: "the next byte" is a shift left by 8.
static_assert(std::endian::native == std::endian::little);

constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
constexpr std::uint64_t kLows = 0x7f7f7f7f7f7f7f7fULL;
constexpr std::uint64_t kCaseBits = kOnes * 0x20;

// Whether any of the 8 bytes of `word` is a control character (below 0x20, tab included) or
// DEL: the usual "has a byte less than n" bit trick, bytes of 0x80 and above never flagged.
constexpr bool has_control_byte(std::uint64_t word) noexcept {
  const std::uint64_t below_space = (word - kOnes * 0x20) & ~word & kHighs;
  const std::uint64_t del = word ^ (kOnes * 0x7f);
  const std::uint64_t is_del = (del - kOnes) & ~del & kHighs;
  return (below_space | is_del) != 0;
}

// Whether a header value may be written as it is: the common case, eight bytes at a time.
// A false answer may be only a tab, which the slow path allows.
inline bool value_is_clean(std::string_view value) noexcept {
  const char* p = value.data();
  const std::size_t n = value.size();
  auto load = [](const char* at, std::size_t size) {
    std::uint64_t word = 0;
    std::memcpy(&word, at, size);
    return word;
  };
  if (n >= 8) {
    std::size_t i = 0;
    for (; n - i >= 8; i += 8) {
      if (has_control_byte(load(p + i, 8))) return false;
    }
    return i == n || !has_control_byte(load(p + n - 8, 8));  // the last 8, again in part
  }
  if (n >= 4) {  // two loads of 4 that overlap: all eight bytes are the value's
    return !has_control_byte(load(p, 4) | (load(p + n - 4, 4) << 32));
  }
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

inline std::uint64_t load64(const char* p) noexcept {
  std::uint64_t word;
  std::memcpy(&word, p, 8);
  return word;
}

inline std::uint64_t load32(const char* p) noexcept {
  std::uint32_t word;
  std::memcpy(&word, p, 4);
  return word;
}

inline void store64(char* p, std::uint64_t word) noexcept {
  std::memcpy(p, &word, 8);
}

inline void store32(char* p, std::uint64_t word) noexcept {
  const auto low = static_cast<std::uint32_t>(word);
  std::memcpy(p, &low, 4);
}

// The high bit of each byte of `x` (whose bytes are below 0x80) that is in [lo, hi]: neither sum
// carries into the next byte.
constexpr std::uint64_t bytes_in_range(std::uint64_t x, unsigned char lo, unsigned char hi) {
  return (x + kOnes * (0x80 - lo)) & ~(x + kOnes * (0x7f - hi)) & kHighs;
}

// The high bit of each ASCII letter of `word`.
constexpr std::uint64_t letters_of(std::uint64_t word) noexcept {
  return bytes_in_range((word & kLows) | kCaseBits, 'a', 'z') & ~word;
}

struct CasedWord {
  std::uint64_t text;    // in Http-Header-Case
  std::uint64_t dashes;  // the high bit of each '-': the byte after it begins a word
};

// Eight bytes of a name in Http-Header-Case; `carry` flags (high bit) the first byte if it
// begins a word. If `kCheck`, sets `plain` false if a byte flagged in `valid` (high bits) is not
// a letter, digit or '-'.

template <bool kCheck>
inline CasedWord case_word(std::uint64_t word, std::uint64_t carry, std::uint64_t valid,
                           bool& plain) noexcept {
  const std::uint64_t seven = word & kLows;
  const std::uint64_t letters = letters_of(word);
  const std::uint64_t dashes = bytes_in_range(seven, '-', '-') & ~word;
  if constexpr (kCheck) {
    const std::uint64_t digits = bytes_in_range(seven, '0', '9') & ~word;
    plain &= ((letters | dashes | digits) & valid) == valid;
  }
  const std::uint64_t starts = (dashes << 8) | carry;
  const std::uint64_t lower = word | (letters >> 2);
  return {lower & ~((starts & letters) >> 2), dashes};
}

// Whether `name` is, byte for byte, one of the names most requests and responses carry, as they
// are usually written (in Http-Header-Case): such a name is a valid token already in the case it
// is stored in, so it is copied without the case conversion and its checks.
inline bool is_common_name(std::string_view name) noexcept {
  auto is = [&name](std::string_view known) {
    return std::memcmp(name.data(), known.data(), known.size()) == 0;
  };
  switch (name.size()) {
    case 4:
      return is("Host") || is("Date") || is("Etag");
    case 6:
      return is("Server") || is("Accept") || is("Cookie") || is("Origin");
    case 7:
      return is("Referer");
    case 10:
      return is("Connection") || is("User-Agent") || is("Set-Cookie");
    case 12:
      return is("Content-Type");
    case 13:
      return is("Cache-Control") || is("Last-Modified");
    case 14:
      return is("Content-Length");
    case 15:
      return is("Accept-Encoding") || is("Accept-Language");
    case 16:
      return is("Content-Encoding");
    case 17:
      return is("Transfer-Encoding");
    default:
      return false;
  }
}

// Writes `name` in Http-Header-Case to `out` if it is at least 4 bytes long and, if `kCheck`, made
// of letters, digits and '-' only (nearly every name); returns false, with `out` undefined,
// otherwise.
template <bool kCheck>
inline bool write_plain_name(std::string_view name, char* out) noexcept {
  const char* p = name.data();
  const std::size_t n = name.size();
  bool plain = true;
  if (n >= 8) {
    if (n <= 16) {  // most: two words that may overlap, without a loop
      const CasedWord first = case_word<kCheck>(load64(p), 0x80, kHighs, plain);
      const std::uint64_t before = n == 8 || p[n - 9] == '-' ? 0x80 : 0;
      const CasedWord last = case_word<kCheck>(load64(p + n - 8), before, kHighs, plain);
      store64(out, first.text);
      store64(out + n - 8, last.text);
      return plain;
    }
    std::uint64_t carry = 0x80;  // the first byte starts a word
    std::size_t i = 0;
    for (; n - i >= 8; i += 8) {
      const CasedWord w = case_word<kCheck>(load64(p + i), carry, kHighs, plain);
      store64(out + i, w.text);
      carry = w.dashes >> 56;
    }
    if (i != n) {  // the last 8 bytes, again in part
      const std::uint64_t before = p[n - 9] == '-' ? 0x80 : 0;
      store64(out + n - 8, case_word<kCheck>(load64(p + n - 8), before, kHighs, plain).text);
    }
    return plain;
  }
  if (n < 4) return false;
  // 4 to 7 bytes: two loads of 4 that overlap, the overlap the same bytes.
  const unsigned shift = 8 * static_cast<unsigned>(n - 4);
  const std::uint64_t word = load32(p) | (load32(p + n - 4) << shift);
  const std::uint64_t valid = kCheck ? kHighs >> (64 - 8 * n) : 0;
  const std::uint64_t text = case_word<kCheck>(word, 0x80, valid, plain).text;
  store32(out, text);
  store32(out + n - 4, text >> shift);
  return plain;
}

// Copies `n` bytes: short values (most) without a call to memcpy.
inline void copy_bytes(char* out, const char* p, std::size_t n) noexcept {
  if (n >= 8) {
    if (n > 16) {
      std::memcpy(out, p, n);
      return;
    }
    const std::uint64_t first = load64(p);
    const std::uint64_t last = load64(p + n - 8);
    store64(out, first);
    store64(out + n - 8, last);
  } else if (n >= 4) {
    const std::uint64_t first = load32(p);
    const std::uint64_t last = load32(p + n - 4);
    store32(out, first);
    store32(out + n - 4, last);
  } else if (n != 0) {
    const char first = p[0];
    const char middle = p[n / 2];
    const char last = p[n - 1];
    out[0] = first;
    out[n / 2] = middle;
    out[n - 1] = last;
  }
}

// Whether `a` and `b` (both `n` bytes) are equal without regard to ASCII case, a word at a time.
inline bool same_name(const char* a, const char* b, std::size_t n) noexcept {
  auto same = [](std::uint64_t x, std::uint64_t y) {
    const std::uint64_t diff = x ^ y;
    // Only case bits differ, and only in letters.
    return diff == 0 || (diff & ~(letters_of(x) >> 2)) == 0;
  };
  if (n >= 8) {
    std::size_t i = 0;
    for (; n - i >= 8; i += 8) {
      if (!same(load64(a + i), load64(b + i))) return false;
    }
    return i == n || same(load64(a + n - 8), load64(b + n - 8));
  }
  if (n >= 4) {
    return same(load32(a), load32(b)) && same(load32(a + n - 4), load32(b + n - 4));
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (http_text::ascii_lower(a[i]) != http_text::ascii_lower(b[i])) return false;
  }
  return true;
}

}  // namespace squall::header_words
