#pragma once
// ASCII text helpers shared by the http layer's sources (header names, comma lists, numbers):
// one definition for the parsers, the writers and the client.

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace squall::http_text {

inline char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}

/// Equal without regard to ASCII case.
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  if (a == b) return true;  // names mostly come in one spelling: one memcmp
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

/// Without the leading and trailing bytes that are in `chars`.
inline std::string_view strip(std::string_view s, std::string_view chars) noexcept {
  const auto first = s.find_first_not_of(chars);
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(chars);
  return s.substr(first, last - first + 1);
}

/// A short, printable rendition of untrusted input for an error message: in double quotes, at
/// most 40 bytes, quotes and backslashes escaped, other bytes outside printable ASCII as \xHH.
inline std::string quote_for_message(std::string_view s) {
  constexpr std::size_t kMax = 40;
  constexpr char kHexDigits[] = "0123456789ABCDEF";
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHexDigits[c >> 4];
      out += kHexDigits[c & 0xf];
    }
  }
  out += s.size() > kMax ? "\"..." : "\"";
  return out;
}

/// Without surrounding spaces and tabs (HTTP's OWS).
inline std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// Calls `fn(element)` for each element of a comma-separated list (RFC 9110 §5.6.1), trimmed;
/// empty elements are skipped, as the RFC allows.
template <class Fn>
void for_each_element(std::string_view list, Fn&& fn) {
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string_view element = trim(list.substr(0, comma));
    if (!element.empty()) fn(element);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

/// Whether a comma-separated value lists `token`, without regard to case.
inline bool lists_token(std::string_view value, std::string_view token) noexcept {
  bool found = false;
  for_each_element(value,
                   [&](std::string_view element) { found = found || iequals(element, token); });
  return found;
}

inline void append_decimal(std::string& out, std::uint64_t value) {
  char digits[24];
  auto result = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, result.ptr);
}

inline void append_hex(std::string& out, std::uint64_t value) {
  char digits[24];
  auto result = std::to_chars(digits, digits + sizeof digits, value, 16);
  out.append(digits, result.ptr);
}

}  // namespace squall::http_text
