#include "squall/http/body_arguments.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <optional>

#include "http/text.hpp"
#include "squall/http/httputil.hpp"
#include "squall/util/error.hpp"
#include "squall/util/log.hpp"

namespace squall::httputil {
// Helpers have internal linkage so that they cannot collide with httputil.cpp's own.
namespace {

constexpr std::string_view kWhitespace = " \t\r\n\f\v";

std::string_view strip(std::string_view s) {
  return http_text::strip(s, kWhitespace);
}

using http_text::ascii_lower;

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

void append_utf8(std::string& out, unsigned code_point) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

// Bytes in an RFC 2231 charset, as UTF-8. As Python's decoder with errors="replace": a byte that
// US-ASCII cannot hold becomes U+FFFD; a charset we do not know is read as ISO-8859-1.
std::string charset_to_utf8(std::string_view charset, std::string_view bytes) {
  const std::string name = to_lower(charset);
  if (name == "utf-8" || name == "utf8") return std::string(bytes);
  const bool ascii = name.empty() || name == "us-ascii" || name == "ascii";
  std::string out;
  out.reserve(bytes.size());
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    append_utf8(out, (ascii && byte >= 0x80) ? 0xFFFDu : byte);
  }
  return out;
}

// Removes the quotes of a quoted-string and its backslash escapes (RFC 7230 quoted-pair).
std::string unquote(std::string_view value) {
  if (value.size() < 2 || value.front() != '"' || value.back() != '"') return std::string(value);
  const std::string_view inner = value.substr(1, value.size() - 2);
  std::string out;
  out.reserve(inner.size());
  for (std::size_t i = 0; i < inner.size(); ++i) {
    if (inner[i] == '\\' && i + 1 < inner.size() && (inner[i + 1] == '\\' || inner[i + 1] == '"'))
      ++i;
    out.push_back(inner[i]);
  }
  return out;
}

// Splits at each ';' outside a quoted string, in one pass (Tornado's _parseparam re-counted
// quotes for each ';', which was quadratic).
std::vector<std::string_view> split_params(std::string_view s) {
  std::vector<std::string_view> pieces;
  std::size_t start = 0;
  bool quoted = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted && c == '\\') {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ';' && !quoted) {
      pieces.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  pieces.push_back(s.substr(std::min(start, s.size())));
  return pieces;
}

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// An RFC 2231 parameter name: `word*`, `word*N` or `word*N*`. Returns the word and N, if any.
std::optional<std::pair<std::string, std::optional<unsigned long long>>> rfc2231_name(
    std::string_view name) {
  const auto star = name.find('*');
  if (star == 0 || star == std::string_view::npos) return std::nullopt;
  const std::string_view word = name.substr(0, star);
  if (!std::all_of(word.begin(), word.end(), is_word_char)) return std::nullopt;
  std::string_view rest = name.substr(star + 1);
  if (rest.empty()) return std::pair{std::string(word), std::optional<unsigned long long>{}};
  if (rest.back() == '*') rest.remove_suffix(1);
  if (rest.empty() ||
      !std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  unsigned long long number = 0;
  if (std::from_chars(rest.data(), rest.data() + rest.size(), number).ec != std::errc{}) {
    number = std::numeric_limits<unsigned long long>::max();
  }
  return std::pair{std::string(word), std::optional<unsigned long long>{number}};
}

struct Continuation {
  std::optional<unsigned long long> number;
  std::string value;
  bool encoded;
};

// RFC 2231 sections joined in order; encoded sections are percent-decoded and the result read as
// `charset'language'text`, as Python's email.utils.decode_params and collapse_rfc2231_value do.
std::string join_continuations(std::vector<Continuation>& sections) {
  std::stable_sort(sections.begin(), sections.end(),
                   [](const Continuation& a, const Continuation& b) {
                     // An unnumbered section (`name*`) sorts first.
                     if (!a.number) return b.number.has_value();
                     return b.number && *a.number < *b.number;
                   });
  std::string joined;
  bool extended = false;
  for (const auto& section : sections) {
    if (section.encoded) {
      joined += url_unescape(section.value, false);
      extended = true;
    } else {
      joined += section.value;
    }
  }
  if (!extended) return joined;
  const auto first = joined.find('\'');
  const auto second = first == std::string::npos ? std::string::npos : joined.find('\'', first + 1);
  if (second == std::string::npos) return charset_to_utf8("us-ascii", joined);
  return charset_to_utf8(std::string_view(joined).substr(0, first),
                         std::string_view(joined).substr(second + 1));
}

std::size_t saturating_add(std::size_t a, std::size_t b) {
  return a > std::numeric_limits<std::size_t>::max() - b ? std::numeric_limits<std::size_t>::max()
                                                         : a + b;
}

// The next `delimiter` ("\r\n--" + boundary) in `body` at or after `from`. The boundary holds no
// CR, so a partial match starting at one CR cannot contain the next: each byte is compared a
// bounded number of times and the search is linear whatever the boundary's length.
std::size_t find_delimiter(std::string_view body, std::string_view delimiter, std::size_t from) {
  if (body.size() < delimiter.size()) return std::string_view::npos;
  const std::size_t last_start = body.size() - delimiter.size();
  while (from <= last_start) {
    const void* hit = std::memchr(body.data() + from, '\r', last_start - from + 1);
    if (hit == nullptr) return std::string_view::npos;
    const auto at = static_cast<std::size_t>(static_cast<const char*>(hit) - body.data());
    const auto mismatch = std::mismatch(delimiter.begin(), delimiter.end(), body.begin() + at);
    if (mismatch.first == delimiter.end()) return at;
    from = at + 1;
  }
  return std::string_view::npos;
}

struct PartHeaders {
  std::optional<std::string> content_disposition;
  std::optional<std::string> content_type;
};

// Reads the two headers a form part needs; lines end in CRLF (or a bare LF, as Tornado accepts),
// a line starting with a space or tab continues the previous one.
PartHeaders parse_part_headers(std::string_view block) {
  PartHeaders headers;
  std::optional<std::string>* last = nullptr;
  bool seen_any = false;
  std::size_t start = 0;
  while (start <= block.size()) {
    auto end = block.find('\n', start);
    if (end == std::string_view::npos) end = block.size();
    std::string_view line = block.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.front() == ' ' || line.front() == '\t') {
      if (!seen_any)
        throw HTTPInputError(
            "Invalid multipart/form-data: first header line starts with whitespace");
      if (last != nullptr && *last) {
        **last += ' ';
        **last += strip(line);
      }
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos)
      throw HTTPInputError("Invalid multipart/form-data: no colon in header line");
    seen_any = true;
    last = nullptr;
    const std::string_view name = strip(line.substr(0, colon));
    const std::string_view value = strip(line.substr(colon + 1));
    if (iequals(name, "Content-Disposition")) {
      last = &headers.content_disposition;
    } else if (iequals(name, "Content-Type")) {
      last = &headers.content_type;
    }
    // The first of repeated headers wins; later ones are not continued either.
    if (last != nullptr) {
      if (*last) {
        last = nullptr;
      } else {
        *last = std::string(value);
      }
    }
  }
  return headers;
}

void parse_part(std::string_view part, Arguments& arguments, Files& files,
                const BodyLimits& limits) {
  std::string_view header_block;
  std::string_view value;
  if (part.starts_with("\r\n")) {
    value = part.substr(2);
  } else {
    // Look for the blank line only where the limit allows it, so a huge part costs no more.
    const std::size_t window = saturating_add(limits.max_part_header_size, 4);
    const auto end_of_headers = part.substr(0, std::min(part.size(), window)).find("\r\n\r\n");
    if (end_of_headers == std::string_view::npos) {
      if (part.size() >= window) {
        throw HTTPInputError("Invalid multipart/form-data: part header block larger than " +
                             std::to_string(limits.max_part_header_size) + " bytes");
      }
      throw HTTPInputError("multipart/form-data missing headers");
    }
    header_block = part.substr(0, end_of_headers);
    value = part.substr(end_of_headers + 4);
  }
  const PartHeaders headers = parse_part_headers(header_block);
  const auto [disposition, params] = parse_header_params(headers.content_disposition.value_or(""));
  if (!iequals(disposition, "form-data")) {
    throw HTTPInputError("Invalid multipart/form-data: part disposition is not form-data");
  }
  const auto name = params.find("name");
  if (name == params.end() || name->second.empty()) {
    throw HTTPInputError("multipart/form-data value missing name");
  }
  const auto filename = params.find("filename");
  // As Tornado: an empty filename (a file input left empty) makes an ordinary argument.
  if (filename != params.end() && !filename->second.empty()) {
    files[name->second].push_back(HTTPFile{filename->second,
                                           headers.content_type.value_or("application/unknown"),
                                           std::string(value)});
  } else {
    arguments[name->second].emplace_back(value);
  }
}

// Python's parse_qs with keep_blank_values=True, appended to what `arguments` holds.
void parse_urlencoded(std::string_view body, Arguments& arguments) {
  for (auto& [name, values] : parse_qs_bytes(body, true)) {
    auto& target = arguments[name];
    target.insert(target.end(), std::make_move_iterator(values.begin()),
                  std::make_move_iterator(values.end()));
  }
}

}  // namespace

std::pair<std::string, std::map<std::string, std::string>> parse_header_params(
    std::string_view value) {
  const auto pieces = split_params(value);
  std::pair<std::string, std::map<std::string, std::string>> result;
  result.first = std::string(strip(pieces.front()));
  std::vector<std::pair<std::string, std::string>> plain;
  std::map<std::string, std::vector<Continuation>> extended;
  for (std::size_t i = 1; i < pieces.size(); ++i) {
    const std::string_view piece = strip(pieces[i]);
    const auto equals = piece.find('=');
    if (equals == std::string_view::npos) continue;
    const std::string name = to_lower(strip(piece.substr(0, equals)));
    std::string param_value = unquote(strip(piece.substr(equals + 1)));
    if (auto rfc2231 = rfc2231_name(name)) {
      extended[rfc2231->first].push_back(
          Continuation{rfc2231->second, std::move(param_value), name.back() == '*'});
    } else {
      plain.emplace_back(name, std::move(param_value));
    }
  }
  auto& params = result.second;
  for (auto& [name, param_value] : plain) params[name] = std::move(param_value);
  // RFC 2231 values come last so that `filename*` wins over `filename`, as in Python.
  for (auto& [name, sections] : extended) params[name] = join_continuations(sections);
  for (auto& [name, param_value] : params) {
    // Tornado strips a second pair of quotes left after unquoting.
    if (param_value.size() >= 2 && param_value.front() == '"' && param_value.back() == '"') {
      param_value = param_value.substr(1, param_value.size() - 2);
    }
  }
  return result;
}

void parse_multipart_form_data(std::string_view boundary, std::string_view body,
                               Arguments& arguments, Files& files, BodyLimits limits) {
  if (boundary.size() >= 2 && boundary.front() == '"' && boundary.back() == '"') {
    boundary = boundary.substr(1, boundary.size() - 2);
  }
  if (boundary.empty()) throw HTTPInputError("Invalid multipart/form-data: empty boundary");
  if (boundary.find_first_of("\r\n") != std::string_view::npos) {
    throw HTTPInputError("Invalid multipart/form-data: boundary contains a line break");
  }
  std::string delimiter_storage = "\r\n--";
  delimiter_storage += boundary;
  const std::string_view delimiter = delimiter_storage;
  const std::string_view dash_boundary = delimiter.substr(2);

  // `at` is where the current "--boundary" starts: at 0, or after the preamble's last CRLF.
  std::size_t at = 0;
  if (!body.starts_with(dash_boundary)) {
    at = find_delimiter(body, delimiter, 0);
    if (at == std::string_view::npos)
      throw HTTPInputError("Invalid multipart/form-data: no final boundary");
    at += 2;
  }
  std::size_t parts = 0;
  for (;;) {
    std::size_t line_end = at + dash_boundary.size();
    if (body.substr(line_end).starts_with("--"))
      return;  // the close delimiter; the rest is epilogue
    while (line_end < body.size() && (body[line_end] == ' ' || body[line_end] == '\t')) ++line_end;
    if (!body.substr(line_end).starts_with("\r\n")) {
      if (line_end >= body.size())
        throw HTTPInputError("Invalid multipart/form-data: no final boundary");
      throw HTTPInputError("Invalid multipart/form-data: malformed boundary line");
    }
    const std::size_t part_start = line_end + 2;
    // Searching from the boundary line's own CRLF lets an empty part sit between two boundary
    // lines, as Tornado accepts.
    const std::size_t next = find_delimiter(body, delimiter, part_start - 2);
    if (next == std::string_view::npos)
      throw HTTPInputError("Invalid multipart/form-data: no final boundary");
    if (++parts > limits.max_parts) {
      throw HTTPInputError("Invalid multipart/form-data: more than " +
                           std::to_string(limits.max_parts) + " parts");
    }
    if (next > part_start)
      parse_part(body.substr(part_start, next - part_start), arguments, files, limits);
    at = next + 2;
  }
}

void parse_body_arguments(std::string_view content_type, std::string_view body,
                          Arguments& arguments, Files& files,
                          const std::map<std::string, std::string>* /*headers*/,
                          BodyLimits limits) {
  const auto [media_type, params] = parse_header_params(content_type);
  if (iequals(media_type, "application/x-www-form-urlencoded")) {
    parse_urlencoded(body, arguments);
  } else if (iequals(media_type, "multipart/form-data")) {
    const auto boundary = params.find("boundary");
    if (boundary == params.end() || boundary->second.empty()) {
      throw HTTPInputError("Invalid multipart/form-data: no boundary in Content-Type");
    }
    parse_multipart_form_data(boundary->second, body, arguments, files, limits);
  }
}

}  // namespace squall::httputil
