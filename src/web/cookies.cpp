#include "squall/web/cookies.hpp"

#include <cmath>
#include <string>

#include "squall/http/httputil.hpp"
#include "squall/util/error.hpp"

namespace squall::web {

namespace {

// Python's datetime range, which bounds what Tornado can write as `expires`.
constexpr std::int64_t kFirstSecond = -62135596800;  // 0001-01-01T00:00:00Z
constexpr std::int64_t kLastSecond = 253402300799;   // 9999-12-31T23:59:59Z
constexpr double kSecondsPerDay = 86400.0;
constexpr int kClearedDaysAgo = 365;

bool is_control(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

// RFC 6265's cookie-name: an RFC 2616 token.
bool is_token_char(unsigned char c) {
  if (c <= 0x20 || c >= 0x7f) return false;
  constexpr std::string_view kSeparators = "()<>@,;:\\\"/[]?={}";
  return kSeparators.find(static_cast<char>(c)) == std::string_view::npos;
}

// Python's http.cookies._LegalChars: a value made only of these is written unquoted.
bool is_legal_value_char(unsigned char c) {
  return c == ':' || is_token_char(c);
}

// Bytes Python keeps as they are inside a quoted value (its _UnescapedChars beyond the legal ones).
bool is_unescaped_in_quotes(unsigned char c) {
  constexpr std::string_view kExtra = " ()/<=>?@[]{}";
  return is_legal_value_char(c) || kExtra.find(static_cast<char>(c)) != std::string_view::npos;
}

// `s` in single quotes with unprintable bytes as \xNN, so an error message cannot carry a
// line break or terminal control into a log.
std::string quote_for_message(std::string_view s) {
  constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += ch;
    } else {
      out.append("\\x").append(1, kHex[c >> 4]).append(1, kHex[c & 0x0f]);
    }
  }
  out += '\'';
  return out;
}

[[noreturn]] void refuse(std::string_view name, std::string_view what) {
  std::string message = "invalid cookie ";
  message.append(quote_for_message(name)).append(": ").append(what);
  throw ValueError(message);
}

void check_name(std::string_view name) {
  if (name.empty()) refuse(name, "the name is empty");
  for (const char c : name) {
    if (!is_token_char(static_cast<unsigned char>(c))) {
      refuse(name, "the name is not an RFC 6265 token");
    }
  }
}

void check_value(std::string_view name, std::string_view value) {
  // Tornado refuses spaces too; ';' would end the value in a parser that ignores quotes.
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_control(c) || c == ' ' || c == ';') {
      std::string what = "the value ";
      what.append(quote_for_message(value)).append(" has a control character, a space or ';'");
      refuse(name, what);
    }
  }
}

void check_attribute(std::string_view name, std::string_view attribute, std::string_view value) {
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_control(c) || c == ';') {
      std::string what(attribute);
      what.append(" ").append(quote_for_message(value)).append(" has a control character or ';'");
      refuse(name, what);
    }
  }
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// As Python's http.cookies._quote: bare if every byte is legal, else in double quotes with the
// backslash escapes its unquoting undoes.
void append_value(std::string& out, std::string_view value) {
  bool bare = !value.empty();
  for (const char c : value) bare = bare && is_legal_value_char(static_cast<unsigned char>(c));
  if (bare) {
    out.append(value);
    return;
  }
  out += '"';
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.append(1, '\\').append(1, ch);
    } else if (is_unescaped_in_quotes(c)) {
      out += ch;
    } else {
      out.append(1, '\\')
          .append(1, static_cast<char>('0' + (c >> 6)))
          .append(1, static_cast<char>('0' + ((c >> 3) & 7)))
          .append(1, static_cast<char>('0' + (c & 7)));
    }
  }
  out += '"';
}

void check_expiry(std::string_view name, std::chrono::system_clock::time_point t) {
  const auto seconds = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
  if (seconds < kFirstSecond || seconds > kLastSecond) {
    refuse(name, "the expiry is not a time between the years 1 and 9999");
  }
}

std::optional<std::chrono::system_clock::time_point> expiry(std::string_view name,
                                                            const CookieOptions& options) {
  using Clock = std::chrono::system_clock;
  if (options.expires) {
    check_expiry(name, *options.expires);
    return options.expires;
  }
  if (!options.expires_days) return std::nullopt;
  const auto now = Clock::now();
  // Bounded before the conversion, which would overflow for an offset past the clock's range.
  const double offset = *options.expires_days * kSecondsPerDay;
  const double now_seconds = std::chrono::duration<double>(now.time_since_epoch()).count();
  const double earliest =
      std::chrono::duration<double>(Clock::time_point::min().time_since_epoch()).count() + 1.0;
  const double latest =
      std::chrono::duration<double>(Clock::time_point::max().time_since_epoch()).count() - 1.0;
  if (!std::isfinite(offset) || now_seconds + offset < earliest || now_seconds + offset > latest) {
    refuse(name, "expires_days is not a finite number of days the clock can reach");
  }
  const auto t =
      now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(offset));
  check_expiry(name, t);
  return t;
}

}  // namespace

std::string format_set_cookie(std::string_view name, std::string_view value,
                              const CookieOptions& options) {
  check_name(name);
  check_value(name, value);
  if (options.domain) check_attribute(name, "the domain", *options.domain);
  check_attribute(name, "the path", options.path);
  if (!options.samesite.empty() && !iequals(options.samesite, "Strict") &&
      !iequals(options.samesite, "Lax") && !iequals(options.samesite, "None")) {
    std::string what = "samesite ";
    what.append(quote_for_message(options.samesite)).append(" is not Strict, Lax or None");
    refuse(name, what);
  }
  const auto expires = expiry(name, options);

  // Python writes the attributes sorted by their lower-case names.
  std::string out;
  out.reserve(name.size() + value.size() + 128);
  out.append(name).append(1, '=');
  append_value(out, value);
  if (options.domain && !options.domain->empty()) out.append("; Domain=").append(*options.domain);
  if (expires) out.append("; expires=").append(httputil::format_timestamp(*expires));
  if (options.httponly) out.append("; HttpOnly");
  if (options.max_age) out.append("; Max-Age=").append(std::to_string(*options.max_age));
  if (!options.path.empty()) out.append("; Path=").append(options.path);
  if (!options.samesite.empty()) out.append("; SameSite=").append(options.samesite);
  if (options.secure) out.append("; Secure");
  return out;
}

std::string format_clear_cookie(std::string_view name, const CookieOptions& options) {
  CookieOptions cleared = options;
  cleared.expires = std::chrono::system_clock::now() - std::chrono::days(kClearedDaysAgo);
  cleared.expires_days.reset();
  cleared.max_age.reset();
  return format_set_cookie(name, "", cleared);
}

}  // namespace squall::web
