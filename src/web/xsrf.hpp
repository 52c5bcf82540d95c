#pragma once
// XSRF tokens in Tornado's formats, for RequestHandler's xsrf_token and check_xsrf_cookie.
//
// The raw token is 16 random bytes kept in the `_xsrf` cookie. Version 2 (what pages and cookies
// carry) is `2|<hex mask>|<hex token XOR mask>|<timestamp>` with a fresh 4-byte mask each time, so
// the token never repeats in a compressed page (the BREACH attack); version 1, still read, is the
// token in hex.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace squall::web {

/// A raw token with what is known of its origin (Tornado's `_get_raw_xsrf_token` tuple).
struct RawXsrfToken {
  std::optional<int> version;  ///< format it was read in; nullopt if made by generate_xsrf_token
  std::string token;           ///< raw bytes, never empty
  std::int64_t timestamp = 0;  ///< seconds since the epoch when made; "now" for version 1
};

/// A new token: 16 bytes from OpenSSL's RAND_bytes, stamped with the current time, no version.
/// Throws squall::Error if the random generator fails.
RawXsrfToken generate_xsrf_token();

/// `token` in the version 2 format with a fresh random mask (or, with `version` 1, in hex, as
/// Tornado's `xsrf_cookie_version` setting allows). Throws squall::ValueError for another version,
/// squall::Error if the random generator fails.
std::string encode_xsrf_token(std::string_view token, std::int64_t timestamp, int version = 2);

/// Reads a token from a cookie or form value as Tornado's `_decode_xsrf_token`: version 2 as
/// written by encode_xsrf_token; anything not starting like a versioned value is version 1, hex if
/// it decodes as hex, otherwise taken as the raw token itself. nullopt for an unknown version, a
/// malformed version 2 value or an empty token (where Tornado would keep an empty token that can
/// never match). Never throws but for std::bad_alloc.
std::optional<RawXsrfToken> decode_xsrf_token(std::string_view value);

/// Compares two raw tokens in time that depends only on their lengths.
bool xsrf_tokens_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace squall::web
