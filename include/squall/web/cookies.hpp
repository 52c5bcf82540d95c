#pragma once
/// \file
/// The `Set-Cookie` response header as Tornado's `set_cookie` and `clear_cookie` write it
/// (through Python's `http.cookies`): the value, quoted when it has to be, then the attributes in
/// the order Python writes them. Names, values and attributes that could split the header or add
/// attributes are refused.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace squall::web {

/// The attributes of an outgoing cookie, named as Tornado's `set_cookie` keywords. Every member
/// has a default, so designated initializers may name any of them (`{.httponly = true}`).
struct CookieOptions {
  /// `Domain`; none (or empty) for a host-only cookie.
  std::optional<std::string> domain = std::nullopt;
  /// `expires`, written as an HTTP date (whole seconds); takes precedence over `expires_days`.
  std::optional<std::chrono::system_clock::time_point> expires = std::nullopt;
  /// `expires` as this many days (fractions allowed, negative in the past) from now.
  std::optional<double> expires_days = std::nullopt;
  /// `Path`; empty for none.
  std::string path = "/";
  /// `Max-Age` in seconds.
  std::optional<std::int64_t> max_age = std::nullopt;
  /// `HttpOnly`: hidden from scripts in the page.
  bool httponly = false;
  /// `Secure`: sent over HTTPS only.
  bool secure = false;
  /// `SameSite`: "Strict", "Lax" or "None" (any case, written as given); empty for none.
  std::string samesite = {};
};

/// The value of a `Set-Cookie` header for `name`=`value` with `options`, as Tornado writes it:
/// `name=value; Domain=...; expires=<HTTP date>; HttpOnly; Max-Age=...; Path=/; SameSite=...;
/// Secure` (attributes not set are left out). A value that is empty or has bytes beyond
/// Python's legal cookie characters is written in double quotes, `"` and `\` escaped with a
/// backslash and other special bytes (',', non-ASCII) as `\ooo` octal, so that Python's
/// `SimpleCookie` and squall's `parse_cookie` read back the same bytes (Python as latin-1
/// characters). Throws `ValueError` naming the cookie if the name is not an RFC 6265 token, the
/// value has a control character, a space or ';', the domain or path has a control character or
/// ';', `samesite` is not one of its three values, or the expiry is not a finite time in the
/// years 1 to 9999.
std::string format_set_cookie(std::string_view name, std::string_view value,
                              const CookieOptions& options = {});

/// The value of a `Set-Cookie` header that deletes the cookie `name`, as Tornado's
/// `clear_cookie`: an empty value that expired 365 days ago. Browsers only delete a cookie set
/// with the same path and domain, so `options` should carry them; its `expires`, `expires_days`
/// and `max_age` are ignored, its other attributes written. Throws as `format_set_cookie`.
std::string format_clear_cookie(std::string_view name, const CookieOptions& options = {});

}  // namespace squall::web
