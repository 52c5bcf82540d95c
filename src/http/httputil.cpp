#include "squall/http/httputil.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>

#include "http/http1_parser.hpp"
#include "http/text.hpp"
#include "squall/util/escape.hpp"

namespace squall {
namespace {

constexpr std::string_view kHttpWhitespace = " \t";
constexpr char kHexDigits[] = "0123456789ABCDEF";

bool is_tchar(unsigned char c) {
  return http1::is_token_char(static_cast<char>(c));
}

bool is_forbidden_in_value(unsigned char c) {
  return (c < 0x20 && c != '\t') || c == 0x7f;
}

std::string_view strip(std::string_view s, std::string_view chars) {
  const auto first = s.find_first_not_of(chars);
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(chars);
  return s.substr(first, last - first + 1);
}

using http_text::ascii_lower;
using http_text::iequals;

// Whether any of the 8 bytes of `word` is a control character (below 0x20, tab included) or
// DEL: the usual "has a byte less than n" bit trick, bytes of 0x80 and above never flagged.
constexpr bool has_control_byte(std::uint64_t word) noexcept {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
  const std::uint64_t below_space = (word - kOnes * 0x20) & ~word & kHighs;
  const std::uint64_t del = word ^ (kOnes * 0x7f);
  const std::uint64_t is_del = (del - kOnes) & ~del & kHighs;
  return (below_space | is_del) != 0;
}

// Whether a header value may be written as it is: the common case, eight bytes at a time.
bool value_is_clean(std::string_view value) noexcept {
  const char* p = value.data();
  std::size_t n = value.size();
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    if (has_control_byte(word)) return false;  // maybe only a tab: the slow path decides
  }
  for (; n > 0; ++p, --n) {
    const auto c = static_cast<unsigned char>(*p);
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// A short, printable rendition of untrusted input for an error message.
std::string quote_for_message(std::string_view s) {
  constexpr std::size_t kMax = 40;
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

template <class ErrorType>
void check_name(std::string_view name, std::string_view context) {
  if (!name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
        return is_tchar(static_cast<unsigned char>(ch));
      })) {
    return;  // the common case: one pass
  }
  if (name.empty()) throw ErrorType("Invalid header " + std::string(context) + ": empty name");
  for (const char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_tchar(c)) continue;
    if (c == ' ' || c == '\t') {
      throw ErrorType("Invalid header " + std::string(context) +
                      ": white space in or after the name " + quote_for_message(name));
    }
    throw ErrorType("Invalid header " + std::string(context) + ": bad character in name " +
                    quote_for_message(name));
  }
}

template <class ErrorType>
void check_value(std::string_view value, std::string_view context) {
  if (value_is_clean(value)) return;
  if (std::none_of(value.begin(), value.end(),
                   [](char ch) { return is_forbidden_in_value(static_cast<unsigned char>(ch)); })) {
    return;
  }
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (!is_forbidden_in_value(c)) continue;
    const char* what = c == 0      ? "NUL in value "
                       : c == '\r' ? "bare CR in value "
                       : c == '\n' ? "LF in value "
                                   : "control character in value ";
    throw ErrorType("Invalid header " + std::string(context) + ": " + what +
                    quote_for_message(value));
  }
}

}  // namespace

// ---- HTTPHeaders -------------------------------------------------------------------------------

HTTPHeaders::const_iterator::const_iterator(const HTTPHeaders* headers, std::size_t field)
    : headers_(headers), field_(field) {
  skip_erased();
}

void HTTPHeaders::const_iterator::skip_erased() {
  const auto& fields = headers_->fields_;
  while (field_ < fields.size() && fields[field_].count == 0) ++field_;
}

HTTPHeaders::const_iterator::value_type HTTPHeaders::const_iterator::operator*() const {
  const auto& field = headers_->fields_[field_];
  return {field.name, field.value(value_)};
}

HTTPHeaders::const_iterator& HTTPHeaders::const_iterator::operator++() {
  if (++value_ >= headers_->fields_[field_].count) {
    value_ = 0;
    ++field_;
    skip_erased();
  }
  return *this;
}

HTTPHeaders HTTPHeaders::parse(std::string_view block) {
  HTTPHeaders headers;
  std::size_t start = 0;
  while (start < block.size()) {
    const auto lf = block.find('\n', start);
    const auto end = lf == std::string_view::npos ? block.size() : lf + 1;
    headers.parse_line(block.substr(start, end - start));
    start = end;
  }
  return headers;
}

void HTTPHeaders::parse_line(std::string_view line) {
  // RFC 9112 §2.2: a recipient may take a bare LF as a line terminator, ignoring a CR before it.
  if (!line.empty() && line.back() == '\n') {
    line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  }
  if (line.empty()) return;
  if (line.front() == ' ' || line.front() == '\t') {
    throw HTTPInputError("Invalid header line " + quote_for_message(line) +
                         ": starts with white space (obsolete line folding)");
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) {
    throw HTTPInputError("Invalid header line " + quote_for_message(line) + ": no colon");
  }
  const auto name = line.substr(0, colon);
  const auto value = strip(line.substr(colon + 1), kHttpWhitespace);
  check_name<HTTPInputError>(name, "line");
  check_value<HTTPInputError>(value, "line");
  append_value(name, value);
  ++pairs_;
}

std::size_t HTTPHeaders::find(std::string_view name) const {
  if (index_.empty()) {
    for (std::size_t i = 0; i < fields_.size(); ++i) {
      if (fields_[i].count != 0 && iequals(fields_[i].name, name)) return i;
    }
    return kNotFound;
  }
  std::string key(name);
  for (char& c : key) c = ascii_lower(c);
  const auto it = index_.find(key);
  return it == index_.end() ? kNotFound : it->second;
}

void HTTPHeaders::index_field(std::size_t slot) {
  std::string key(fields_[slot].name);
  for (char& c : key) c = ascii_lower(c);
  index_[std::move(key)] = slot;
}

void HTTPHeaders::append_value(std::string_view name, std::string_view value) {
  const std::size_t found = find(name);
  if (found != kNotFound) {
    fields_[found].add(value);
    return;
  }
  if (fields_.capacity() == 0) fields_.reserve(8);
  // A new name: its first value is built in place (cheaper than assigning it afterwards).
  fields_.push_back(Field{httputil::normalize_header(name), std::string(value), {}, 1});
  // Few names: a linear scan is fastest. Many (a hostile request): a hash index keeps each
  // lookup O(1), so parsing stays linear.
  if (!index_.empty()) {
    index_field(fields_.size() - 1);
  } else if (fields_.size() > kLinearLimit) {
    for (std::size_t i = 0; i < fields_.size(); ++i) {
      if (fields_[i].count != 0) index_field(i);
    }
  }
}

void detail::HTTPHeadersAccess::add_validated(HTTPHeaders& headers, std::string_view name,
                                              std::string_view value) {
  headers.append_value(name, value);
  ++headers.pairs_;
}

void HTTPHeaders::add(std::string_view name, std::string_view value) {
  check_name<HTTPOutputError>(name, "name");
  check_value<HTTPOutputError>(value, "value");
  append_value(name, value);
  ++pairs_;
}

void HTTPHeaders::set(std::string_view name, std::string_view value) {
  check_name<HTTPOutputError>(name, "name");
  check_value<HTTPOutputError>(value, "value");
  const std::size_t found = find(name);
  if (found == kNotFound) {
    append_value(name, value);
  } else {
    Field& field = fields_[found];
    pairs_ -= field.count;
    field.first.assign(value);
    field.more.clear();
    field.count = 1;
  }
  ++pairs_;
}

std::optional<std::string> HTTPHeaders::get(std::string_view name) const {
  const std::size_t slot = find(name);
  if (slot == kNotFound) return std::nullopt;
  const Field& field = fields_[slot];
  if (field.count == 1) return field.first;
  std::size_t total = field.first.size() + field.more.size();
  for (const auto& v : field.more) total += v.size();
  std::string joined;
  joined.reserve(total);
  joined += field.first;
  for (const auto& v : field.more) {
    joined += ',';
    joined += v;
  }
  return joined;
}

std::string HTTPHeaders::get(std::string_view name, std::string_view default_value) const {
  auto value = get(name);
  return value ? std::move(*value) : std::string(default_value);
}

std::vector<std::string> HTTPHeaders::get_list(std::string_view name) const {
  const std::size_t slot = find(name);
  if (slot == kNotFound) return {};
  const Field& field = fields_[slot];
  std::vector<std::string> values;
  values.reserve(field.count);
  values.push_back(field.first);
  values.insert(values.end(), field.more.begin(), field.more.end());
  return values;
}

bool HTTPHeaders::contains(std::string_view name) const {
  return find(name) != kNotFound;
}

bool HTTPHeaders::erase(std::string_view name) {
  const std::size_t slot = find(name);
  if (slot == kNotFound) return false;
  auto& field = fields_[slot];
  pairs_ -= field.count;
  field.count = 0;
  std::string().swap(field.first);
  std::vector<std::string>().swap(field.more);
  if (!index_.empty()) {
    std::string key(field.name);
    for (char& c : key) c = ascii_lower(c);
    index_.erase(key);
  }
  // Erased slots stay as holes so erase is O(1); compacting once holes outnumber live fields
  // keeps a run of erases linear overall.
  if (++erased_ > 16 && erased_ * 2 > fields_.size()) compact();
  return true;
}

void HTTPHeaders::compact() {
  std::vector<Field, detail::SmallAllocator<Field>> live;
  live.reserve(fields_.size() - erased_);
  for (auto& field : fields_) {
    if (field.count != 0) live.push_back(std::move(field));
  }
  fields_ = std::move(live);
  erased_ = 0;
  const bool indexed = !index_.empty();
  index_.clear();
  if (indexed || fields_.size() > kLinearLimit) {
    for (std::size_t i = 0; i < fields_.size(); ++i) index_field(i);
  }
}

void HTTPHeaders::clear() noexcept {
  fields_.clear();
  index_.clear();
  pairs_ = 0;
  erased_ = 0;
}

namespace httputil {

std::string normalize_header(std::string_view name) {
  // Two tables: the character as the first of a word (upper case) and as any other (lower).
  static constexpr auto kCase = [] {
    std::array<std::array<char, 256>, 2> table{};
    for (int c = 0; c < 256; ++c) {
      const char ch = static_cast<char>(c);
      table[0][c] = ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch;
      table[1][c] = ch >= 'a' && ch <= 'z' ? static_cast<char>(ch - 32) : ch;
    }
    return table;
  }();
  // Most names arrive in this case already (literals in code): check before copying.
  bool word_start = true;
  std::size_t i = 0;
  for (; i < name.size(); ++i) {
    const char c = name[i];
    if (kCase[word_start][static_cast<unsigned char>(c)] != c) break;
    word_start = c == '-';
  }
  std::string out(name);
  for (; i < out.size(); ++i) {
    char& c = out[i];
    c = kCase[word_start][static_cast<unsigned char>(c)];
    word_start = c == '-';
  }
  return out;
}

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
