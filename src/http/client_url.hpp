#pragma once
// The URLs of the HTTP client: parsing the absolute http and https URLs it fetches, and
// resolving a redirect's Location against the URL that gave it (RFC 3986 §5.2).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "squall/http/httputil.hpp"

namespace squall::httpclient_detail {

/// An http or https URL, split into what a request needs.
struct URL {
  std::string scheme;  // "http" or "https", lower case
  std::string host;    // a name, an IPv4 address, or an IPv6 address without its brackets
  std::uint16_t port = 80;
  std::string netloc;  // host and port as the URL gave them (brackets kept): the Host header
  std::string target;  // path (or "/") and query: the request-target; no fragment
  std::optional<std::string> username;  // the userinfo, percent-decoded
  std::optional<std::string> password;

  /// Same scheme, host (without regard to case) and port.
  bool same_origin(const URL& other) const noexcept;
};

/// Parses an absolute `http://` or `https://` URL (scheme without regard to case): userinfo,
/// host (a bracketed IPv6 literal included), port, path and query; the fragment is dropped.
/// Throws ValueError for another scheme, a missing or malformed host, a bad port, or a URL
/// holding white space, a control character or a byte past ASCII (which a request line cannot
/// carry).
URL parse_url(std::string_view url);

// A redirect's Location is resolved by the public httputil::resolve_url (defined in
// client_url.cpp, beside the splitting it shares with parse_url).
using httputil::resolve_url;

}  // namespace squall::httpclient_detail
