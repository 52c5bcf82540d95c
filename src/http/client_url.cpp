#include "http/client_url.hpp"

#include <charconv>

#include "http/text.hpp"
#include "squall/http/httputil.hpp"
#include "squall/net/netutil.hpp"
#include "squall/util/error.hpp"

namespace squall::httpclient_detail {
namespace {

using http_text::iequals;

bool is_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

/// A character of a reg-name host: unreserved, sub-delims or '%' (RFC 3986 §3.2.2).
bool is_host_char(char c) noexcept {
  if (is_alpha(c) || is_digit(c)) return true;
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':
    case '%':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
      return true;
    default:
      return false;
  }
}

[[noreturn]] void bad_url(std::string_view url, std::string_view why) {
  std::string message("Invalid URL '");
  message.append(url).append("': ").append(why);
  throw ValueError(message);
}

/// A URL's components, views into it (RFC 3986 §3); the fragment is dropped.
struct Parts {
  std::optional<std::string_view> scheme;
  std::optional<std::string_view> authority;
  std::string_view path;
  std::optional<std::string_view> query;
};

Parts split(std::string_view s) {
  Parts parts;
  s = s.substr(0, s.find('#'));
  if (!s.empty() && is_alpha(s.front())) {
    std::size_t i = 1;
    while (i < s.size() &&
           (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')) {
      ++i;
    }
    if (i < s.size() && s[i] == ':') {
      parts.scheme = s.substr(0, i);
      s.remove_prefix(i + 1);
    }
  }
  if (s.substr(0, 2) == "//") {
    std::size_t end = s.find_first_of("/?", 2);
    if (end == std::string_view::npos) end = s.size();
    parts.authority = s.substr(2, end - 2);
    s.remove_prefix(end);
  }
  std::size_t question = s.find('?');
  if (question != std::string_view::npos) {
    parts.query = s.substr(question + 1);
    s = s.substr(0, question);
  }
  parts.path = s;
  return parts;
}

/// Drops the last segment of `out`, and the '/' before it.
void pop_segment(std::string& out) {
  std::size_t slash = out.rfind('/');
  out.resize(slash == std::string::npos ? 0 : slash);
}

/// RFC 3986 §5.2.4.
std::string remove_dot_segments(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  while (!in.empty()) {
    if (in.substr(0, 3) == "../") {
      in.remove_prefix(3);
    } else if (in.substr(0, 2) == "./") {
      in.remove_prefix(2);
    } else if (in.substr(0, 3) == "/./") {
      in.remove_prefix(2);
    } else if (in == "/.") {
      in = "/";
    } else if (in.substr(0, 4) == "/../") {
      in.remove_prefix(3);
      pop_segment(out);
    } else if (in == "/..") {
      in = "/";
      pop_segment(out);
    } else if (in == "." || in == "..") {
      in = {};
    } else {
      std::size_t next = in.find('/', 1);
      if (next == std::string_view::npos) next = in.size();
      out.append(in.substr(0, next));
      in.remove_prefix(next);
    }
  }
  return out;
}

/// Whether `c` may appear in a URL as it is: RFC 3986's unreserved and reserved characters, and
/// '%' (an escape already made is kept, as browsers keep it).
bool is_url_char(char c) noexcept {
  if (is_alpha(c) || is_digit(c)) return true;
  static constexpr std::string_view kOthers = "-._~:/?#[]@!$&'()*+,;=%";
  return kOthers.find(c) != std::string_view::npos;
}

/// Percent-encodes the bytes a URL cannot hold as they are.
std::string escape_unsafe(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (is_url_char(c)) {
      out.push_back(c);
    } else {
      auto u = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

}  // namespace

bool URL::same_origin(const URL& other) const noexcept {
  return scheme == other.scheme && port == other.port && iequals(host, other.host);
}

URL parse_url(std::string_view url) {
  for (char c : url) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) bad_url(url, "white space, a control character or non-ASCII byte");
  }
  Parts parts = split(url);
  URL out;
  if (!parts.scheme) bad_url(url, "not an absolute URL");
  if (iequals(*parts.scheme, "http")) {
    out.scheme = "http";
    out.port = 80;
  } else if (iequals(*parts.scheme, "https")) {
    out.scheme = "https";
    out.port = 443;
  } else {
    bad_url(url, "unsupported scheme (only http and https)");
  }
  if (!parts.authority) bad_url(url, "no host");
  std::string_view authority = *parts.authority;
  std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    std::size_t colon = userinfo.find(':');
    out.username = httputil::url_unescape(userinfo.substr(0, colon), false);
    if (colon != std::string_view::npos) {
      out.password = httputil::url_unescape(userinfo.substr(colon + 1), false);
    }
  }
  out.netloc.assign(authority);
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) bad_url(url, "unterminated IPv6 address");
    std::string_view host = authority.substr(1, close - 1);
    if (host.find(':') == std::string_view::npos || !netutil::is_valid_ip(host)) {
      bad_url(url, "invalid IPv6 address");
    }
    out.host.assign(host);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') bad_url(url, "junk after the IPv6 address");
      port = rest.substr(1);
      has_port = true;
    }
  } else {
    std::size_t colon = authority.find(':');
    std::string_view host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      has_port = true;
    }
    for (char c : host) {
      if (!is_host_char(c)) bad_url(url, "invalid character in the host");
    }
    out.host.assign(host);
  }
  if (out.host.empty()) bad_url(url, "no host");
  if (has_port && !port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535 ||
        !is_digit(port.front())) {
      bad_url(url, "invalid port");
    }
    out.port = static_cast<std::uint16_t>(value);
  }
  out.target.assign(parts.path.empty() ? std::string_view("/") : parts.path);
  if (out.target.front() != '/') bad_url(url, "the path must start with '/'");
  if (parts.query && !parts.query->empty()) out.target.append("?").append(*parts.query);
  return out;
}

}  // namespace squall::httpclient_detail

namespace squall::httputil {

// Here rather than in httputil.cpp: it shares the URL splitting of the client, its first user.
std::string resolve_url(std::string_view base_url, std::string_view reference) {
  using httpclient_detail::Parts;
  using httpclient_detail::remove_dot_segments;
  std::string escaped = httpclient_detail::escape_unsafe(reference);
  Parts ref = httpclient_detail::split(escaped);
  Parts base = httpclient_detail::split(base_url);
  if (!base.scheme) {
    std::string message("resolve_url: the base URL '");
    message.append(base_url).append("' has no scheme");
    throw ValueError(message);
  }
  std::string_view scheme = *base.scheme;
  std::optional<std::string_view> authority = base.authority;
  std::string path;
  std::optional<std::string_view> query;
  if (ref.scheme) {
    scheme = *ref.scheme;
    authority = ref.authority;
    path = remove_dot_segments(ref.path);
    query = ref.query;
  } else if (ref.authority) {
    authority = ref.authority;
    path = remove_dot_segments(ref.path);
    query = ref.query;
  } else if (ref.path.empty()) {
    path.assign(base.path);
    query = ref.query ? ref.query : base.query;
  } else {
    if (ref.path.front() == '/') {
      path = remove_dot_segments(ref.path);
    } else {
      // Merge (§5.2.3): the base path up to its last '/', then the reference.
      std::string merged;
      if (base.authority && base.path.empty()) {
        merged = "/";
      } else {
        std::size_t slash = base.path.rfind('/');
        if (slash != std::string_view::npos) merged.assign(base.path.substr(0, slash + 1));
      }
      merged.append(ref.path);
      path = remove_dot_segments(merged);
    }
    query = ref.query;
  }
  std::string out;
  out.reserve(scheme.size() + path.size() + 32);
  // Schemes are case-insensitive; lower case is their canonical form (RFC 3986 §6.2.2.1).
  for (char c : scheme) out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  out.append(":");
  if (authority) out.append("//").append(*authority);
  out.append(path);
  if (query) out.append("?").append(*query);
  return out;
}

}  // namespace squall::httputil
