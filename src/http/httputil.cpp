// httputil beside HTTPHeaders (httputil_headers.cpp): URLs and query strings, reason phrases,
// the Cookie header.

#include "squall/http/httputil.hpp"

#include <cstdint>
#include <limits>

#include "http/text.hpp"
#include "squall/util/escape.hpp"

namespace squall {

using http_text::quote_for_message;
using http_text::strip;

namespace httputil {

// ---- URLs --------------------------------------------------------------------------------------

// The util layer's escape module has them; httputil keeps Tornado's names for them too.
std::string url_unescape(std::string_view s, bool plus) {
  return escape::url_unescape(s, plus);
}

std::string url_escape(std::string_view s, bool plus) {
  return escape::url_escape(s, plus);
}

namespace {

// Python's parse_qsl: calls `emit(name, value)` for each pair, decoded.
template <typename Emit>
void for_each_query_pair(std::string_view query, bool keep_blank_values, Emit&& emit) {
  std::size_t start = 0;
  while (start <= query.size()) {
    auto amp = query.find('&', start);
    if (amp == std::string_view::npos) amp = query.size();
    const auto pair = query.substr(start, amp - start);
    start = amp + 1;
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    const auto name = pair.substr(0, eq);
    const auto value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (value.empty() && !keep_blank_values) continue;
    emit(url_unescape(name, true), url_unescape(value, true));
  }
}

}  // namespace

std::map<std::string, std::vector<std::string>> parse_qs_bytes(std::string_view query,
                                                               bool keep_blank_values) {
  std::map<std::string, std::vector<std::string>> result;
  for_each_query_pair(query, keep_blank_values, [&](std::string name, std::string value) {
    result[std::move(name)].push_back(std::move(value));
  });
  return result;
}

std::string url_concat(std::string_view url,
                       const std::vector<std::pair<std::string, std::string>>& args) {
  // Python's urlsplit: the fragment goes first, then the query.
  std::string_view fragment;
  if (const auto hash = url.find('#'); hash != std::string_view::npos) {
    fragment = url.substr(hash + 1);
    url = url.substr(0, hash);
  }
  std::string_view query;
  if (const auto question = url.find('?'); question != std::string_view::npos) {
    query = url.substr(question + 1);
    url = url.substr(0, question);
  }
  std::string encoded;
  auto append = [&encoded](std::string_view name, std::string_view value) {
    if (!encoded.empty()) encoded += '&';
    encoded += url_escape(name, true);
    encoded += '=';
    encoded += url_escape(value, true);
  };
  for_each_query_pair(
      query, true, [&](const std::string& name, const std::string& value) { append(name, value); });
  for (const auto& [name, value] : args) append(name, value);

  std::string out(url);
  if (!encoded.empty()) {
    out += '?';
    out += encoded;
  }
  if (!fragment.empty()) {
    out += '#';
    out += fragment;
  }
  return out;
}

std::pair<std::string, std::optional<int>> split_host_and_port(std::string_view netloc) {
  const auto colon = netloc.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == netloc.size()) {
    return {std::string(netloc), std::nullopt};
  }
  long long port = 0;
  for (const char c : netloc.substr(colon + 1)) {
    if (c < '0' || c > '9') return {std::string(netloc), std::nullopt};
    port = port * 10 + (c - '0');
    if (port > std::numeric_limits<int>::max()) {
      throw ValueError("port out of range in " + quote_for_message(netloc));
    }
  }
  return {std::string(netloc.substr(0, colon)), static_cast<int>(port)};
}

// ---- status reasons ----------------------------------------------------------------------------

std::string_view reason_phrase(int code) noexcept {
  switch (code) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 102:
      return "Processing";
    case 103:
      return "Early Hints";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 205:
      return "Reset Content";
    case 206:
      return "Partial Content";
    case 207:
      return "Multi-Status";
    case 208:
      return "Already Reported";
    case 226:
      return "IM Used";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 305:
      return "Use Proxy";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 418:
      return "I'm a Teapot";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 423:
      return "Locked";
    case 424:
      return "Failed Dependency";
    case 425:
      return "Too Early";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 451:
      return "Unavailable For Legal Reasons";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    case 506:
      return "Variant Also Negotiates";
    case 507:
      return "Insufficient Storage";
    case 508:
      return "Loop Detected";
    case 510:
      return "Not Extended";
    case 511:
      return "Network Authentication Required";
    default:
      return {};
  }
}

// ---- cookies -----------------------------------------------------------------------------------

namespace {

// Python's str.strip() on ASCII: its white space includes the separators 0x1C-0x1F. Bytes 0x85
// and 0xA0 (white space in Latin-1) are kept so UTF-8 values survive.
constexpr std::string_view kAsciiWhitespace = " \t\n\v\f\r\x1c\x1d\x1e\x1f";

// http.cookies._unquote: drops surrounding double quotes, then turns `\ooo` (first digit 0-3)
// into that byte and `\c` into c (except a newline, which Python's '.' does not match).
std::string unquote_cookie(std::string_view s) {
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return std::string(s);
  s = s.substr(1, s.size() - 2);
  std::string out;
  out.reserve(s.size());
  auto is_octal = [](char c, char max) { return c >= '0' && c <= max; };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
    } else if (i + 3 < s.size() && is_octal(s[i + 1], '3') && is_octal(s[i + 2], '7') &&
               is_octal(s[i + 3], '7')) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else if (s[i + 1] != '\n') {
      out += s[i + 1];
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::map<std::string, std::string> parse_cookie(std::string_view header) {
  std::map<std::string, std::string> cookies;
  std::size_t start = 0;
  while (start <= header.size()) {
    auto semicolon = header.find(';', start);
    if (semicolon == std::string_view::npos) semicolon = header.size();
    const auto chunk = header.substr(start, semicolon - start);
    start = semicolon + 1;
    const auto eq = chunk.find('=');
    // A pair without '=' is a value with an empty name, as browsers do (Mozilla bug 169091).
    const auto key = eq == std::string_view::npos ? std::string_view() : chunk.substr(0, eq);
    const auto value = eq == std::string_view::npos ? chunk : chunk.substr(eq + 1);
    const auto k = strip(key, kAsciiWhitespace);
    const auto v = strip(value, kAsciiWhitespace);
    if (!k.empty() || !v.empty()) cookies.insert_or_assign(std::string(k), unquote_cookie(v));
  }
  return cookies;
}

}  // namespace httputil
}  // namespace squall
