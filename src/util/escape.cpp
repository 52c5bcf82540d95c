// HTML, URL and JSON escaping and squeeze (tornado.escape); linkify is in linkify.cpp and the
// HTML entity names in html_entities.cpp.
#include "squall/util/escape.hpp"

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "squall/util/error.hpp"
#include "util/html_entities.hpp"
#include "util/utf8.hpp"

namespace squall::escape {
namespace {

constexpr char kHexDigits[] = "0123456789ABCDEF";

// The replacement for each byte that xhtml_escape rewrites; empty for the others.
constexpr std::array<std::string_view, 256> make_xhtml_table() {
  std::array<std::string_view, 256> table{};
  table['&'] = "&amp;";
  table['<'] = "&lt;";
  table['>'] = "&gt;";
  table['"'] = "&quot;";
  table['\''] = "&#39;";
  return table;
}
constexpr auto kXhtmlTable = make_xhtml_table();

// The bytes url_escape keeps: ASCII letters, digits and "_.-~" (Python's always-safe set).
constexpr std::array<bool, 256> make_url_safe_table() {
  std::array<bool, 256> table{};
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (char c : std::string_view("_.-~")) table[static_cast<unsigned char>(c)] = true;
  return table;
}
constexpr auto kUrlSafe = make_url_safe_table();

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Python's regex \w on our bytes: ASCII letters, digits, '_', and every non-ASCII byte (so a
// UTF-8 letter counts as one).
bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c >= 0x80;
}

using squall::detail::append_utf8;

// Parses the digits of a numeric character reference as Python's int() does: digits in `base`
// with single underscores allowed between them. Returns -1 if malformed or past U+10FFFF.
long parse_reference_number(std::string_view digits, int base) {
  if (digits.empty() || digits.front() == '_' || digits.back() == '_') return -1;
  long value = 0;
  char previous = 0;
  for (char c : digits) {
    if (c == '_') {
      if (previous == '_') return -1;
      previous = c;
      continue;
    }
    previous = c;
    int digit = hex_value(c);
    if (digit < 0 || digit >= base) return -1;
    value = value * base + digit;
    if (value > 0x10FFFF) return -1;
  }
  return value;
}

// The text a reference "&<name>;" stands for, appended to out; false if it stays as it is.
bool append_reference(std::string& out, std::string_view name, bool numeric) {
  if (!numeric) {
    auto code_point = html_entity_code_point(name);
    if (!code_point) return false;
    append_utf8(out, *code_point);
    return true;
  }
  long value = (name[0] == 'x' || name[0] == 'X') ? parse_reference_number(name.substr(1), 16)
                                                  : parse_reference_number(name, 10);
  // A lone surrogate cannot be written as UTF-8.
  if (value < 0 || (value >= 0xD800 && value <= 0xDFFF)) return false;
  append_utf8(out, static_cast<std::uint32_t>(value));
  return true;
}

// Deeper nesting than this is refused by json_decode, as Python's parser refuses it.
constexpr int kMaxJsonDepth = 1000;

// The deepest nesting of arrays and objects in `text`, skipping strings; stops counting past
// kMaxJsonDepth. Malformed text is left for the parser to report.
int json_depth(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return depth;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return 0;
}

}  // namespace

void xhtml_escape_to(std::string& out, std::string_view value) {
  std::size_t run_start = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    std::string_view replacement = kXhtmlTable[static_cast<unsigned char>(value[i])];
    if (replacement.empty()) continue;
    out.append(value.data() + run_start, i - run_start);
    out.append(replacement);
    run_start = i + 1;
  }
  out.append(value.data() + run_start, value.size() - run_start);
}

std::string xhtml_escape(std::string_view value) {
  std::string out;
  out.reserve(value.size() + value.size() / 8);
  xhtml_escape_to(out, value);
  return out;
}

std::string xhtml_unescape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  std::size_t copied = 0;  // value[copied..] is not yet in out
  std::size_t amp = value.find('&');
  while (amp != std::string_view::npos) {
    // A reference is '&', an optional '#', one or more word characters, then ';'.
    std::size_t name_start = amp + 1;
    bool numeric = name_start < value.size() && value[name_start] == '#';
    if (numeric) ++name_start;
    std::size_t name_end = name_start;
    while (name_end < value.size() && is_word_byte(static_cast<unsigned char>(value[name_end]))) {
      ++name_end;
    }
    if (name_end > name_start && name_end < value.size() && value[name_end] == ';') {
      out.append(value.data() + copied, amp - copied);
      std::string_view name = value.substr(name_start, name_end - name_start);
      if (!append_reference(out, name, numeric)) {
        out.append(value.data() + amp, name_end + 1 - amp);
      }
      copied = name_end + 1;
    }
    amp = value.find('&', copied > amp ? copied : amp + 1);
  }
  out.append(value.data() + copied, value.size() - copied);
  return out;
}

std::string url_escape(std::string_view value, bool plus) {
  std::string out;
  out.reserve(value.size() + value.size() / 4);
  for (char c : value) {
    auto byte = static_cast<unsigned char>(c);
    if (kUrlSafe[byte] || (!plus && c == '/')) {
      out += c;
    } else if (plus && c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHexDigits[byte >> 4];
      out += kHexDigits[byte & 0xF];
    }
  }
  return out;
}

std::string url_unescape(std::string_view value, bool plus) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '%' && i + 2 < value.size()) {
      int high = hex_value(value[i + 1]);
      int low = hex_value(value[i + 2]);
      if (high >= 0 && low >= 0) {
        out += static_cast<char>(high * 16 + low);
        i += 2;
        continue;
      }
    }
    out += (plus && c == '+') ? ' ' : c;
  }
  return out;
}

std::string json_encode(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  // "</" can only appear inside a JSON string, where "<\/" means the same.
  std::size_t slash = text.find("</");
  if (slash == std::string::npos) return text;
  std::string out;
  out.reserve(text.size() + 8);
  std::size_t copied = 0;
  while (slash != std::string::npos) {
    out.append(text, copied, slash + 1 - copied);
    out += "\\/";
    copied = slash + 2;
    slash = text.find("</", copied);
  }
  out.append(text, copied, std::string::npos);
  return out;
}

nlohmann::json json_decode(std::string_view value) {
  if (json_depth(value) > kMaxJsonDepth) {
    throw ValueError("JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  try {
    return nlohmann::json::parse(value);
  } catch (const nlohmann::json::parse_error& e) {
    throw ValueError("invalid JSON at byte " + std::to_string(e.byte) + ": " + e.what());
  } catch (const nlohmann::json::exception& e) {
    // A number too large for a double ("1e400") is an out_of_range error.
    throw ValueError(std::string("invalid JSON: ") + e.what());
  }
}

std::string squeeze(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (char c : value) {
    if (static_cast<unsigned char>(c) <= 0x20) {
      pending_space = true;
      continue;
    }
    if (pending_space && !out.empty()) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

}  // namespace squall::escape
