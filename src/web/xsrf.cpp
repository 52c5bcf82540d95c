#include "web/xsrf.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstddef>
#include <limits>

#include "squall/util/error.hpp"

namespace squall::web {

namespace {

constexpr std::size_t kTokenSize = 16;
constexpr std::size_t kMaskSize = 4;
constexpr char kHexDigits[] = "0123456789abcdef";

std::string random_bytes(std::size_t size) {
  std::string out(size, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(size)) != 1) {
    throw Error("RAND_bytes failed to make an XSRF token");
  }
  return out;
}

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string hex_encode(std::string_view data) {
  std::string out;
  out.reserve(data.size() * 2);
  for (const char c : data) {
    const auto byte = static_cast<unsigned char>(c);
    out += kHexDigits[byte >> 4];
    out += kHexDigits[byte & 0x0f];
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// As Python's binascii.a2b_hex: an even number of hex digits of either case.
std::optional<std::string> hex_decode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int high = hex_digit(hex[i]);
    const int low = hex_digit(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>((high << 4) | low);
  }
  return out;
}

// XORs `data` with the 4-byte `mask` repeated (the WebSocket masking Tornado reuses).
std::string apply_mask(std::string_view mask, std::string_view data) {
  std::string out(data);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(out[i] ^ mask[i % 4]);
  return out;
}

bool is_python_space(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// An integer as Python's int() reads ASCII text: surrounding white space, an optional sign,
// digits with single underscores between them. nullopt also past the int64 range.
std::optional<std::int64_t> parse_python_int(std::string_view s) {
  while (!s.empty() && is_python_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_python_space(s.back())) s.remove_suffix(1);
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || !is_digit(s.front()) || !is_digit(s.back())) return std::nullopt;
  std::int64_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (!is_digit(s[i + 1])) return std::nullopt;  // s ends in a digit, so s[i + 1] exists
      continue;
    }
    if (!is_digit(s[i])) return std::nullopt;
    const int digit = s[i] - '0';
    if (n > (std::numeric_limits<std::int64_t>::max() - digit) / 10) return std::nullopt;
    n = n * 10 + digit;
  }
  return negative ? -n : n;
}

// What Tornado's regex `^([1-9][0-9]*)\|(.*)$` sees as the version digits of a value: digits
// without a leading zero and a '|', the rest free of line feeds but possibly a final one.
std::optional<std::string_view> version_prefix(std::string_view value) {
  if (value.empty() || value[0] < '1' || value[0] > '9') return std::nullopt;
  std::size_t i = 1;
  while (i < value.size() && is_digit(value[i])) ++i;
  if (i == value.size() || value[i] != '|') return std::nullopt;
  const auto newline = value.find('\n', i + 1);
  if (newline != std::string_view::npos && newline + 1 != value.size()) return std::nullopt;
  return value.substr(0, i);
}

std::optional<RawXsrfToken> decode_v2(std::string_view value) {
  std::string_view parts[4];
  std::size_t count = 0;
  std::size_t start = 0;
  while (true) {
    const auto bar = value.find('|', start);
    if (count == 4) return std::nullopt;  // more than four parts
    parts[count++] = value.substr(start, bar == std::string_view::npos ? bar : bar - start);
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  if (count != 4) return std::nullopt;
  const auto mask = hex_decode(parts[1]);
  const auto masked = hex_decode(parts[2]);
  const auto timestamp = parse_python_int(parts[3]);
  if (!mask || mask->size() != kMaskSize || !masked || masked->empty() || !timestamp) {
    return std::nullopt;
  }
  return RawXsrfToken{2, apply_mask(*mask, *masked), *timestamp};
}

}  // namespace

RawXsrfToken generate_xsrf_token() {
  return RawXsrfToken{std::nullopt, random_bytes(kTokenSize), now_seconds()};
}

std::string encode_xsrf_token(std::string_view token, std::int64_t timestamp, int version) {
  if (version == 1) return hex_encode(token);
  if (version != 2) {
    throw ValueError("unknown xsrf cookie version " + std::to_string(version));
  }
  const std::string mask = random_bytes(kMaskSize);
  std::string out = "2|";
  out.append(hex_encode(mask)).append(1, '|');
  out.append(hex_encode(apply_mask(mask, token))).append(1, '|');
  out.append(std::to_string(timestamp));
  return out;
}

std::optional<RawXsrfToken> decode_xsrf_token(std::string_view value) {
  if (const auto version = version_prefix(value)) {
    // Tornado treats a version it does not know as no token rather than an error.
    if (*version != "2") return std::nullopt;
    return decode_v2(value);
  }
  if (value.empty()) return std::nullopt;
  // Version 1 carries no timestamp.
  if (auto token = hex_decode(value)) {
    if (token->empty()) return std::nullopt;
    return RawXsrfToken{1, std::move(*token), now_seconds()};
  }
  return RawXsrfToken{1, std::string(value), now_seconds()};
}

bool xsrf_tokens_equal(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace squall::web
