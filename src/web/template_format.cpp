// Python's printf-style string formatting, `format % args`, for the template language: the
// conversions s r a d i u x X o e E f F g G c and %%, the flags - + space # 0, a width and a
// precision, and %(key)s with a dict on the right. A list on the right is the argument tuple.
#include <cstdio>
#include <string>
#include <string_view>

#include "util/utf8.hpp"
#include "web/template_value.hpp"

namespace squall::web::detail {
namespace {

// Widths and precisions past this are refused rather than allocated.
constexpr int kMaxWidth = 1 << 20;

struct Spec {
  bool left = false;
  bool plus = false;
  bool space = false;
  bool alternate = false;
  bool zero = false;
  int width = 0;
  int precision = -1;
  char conversion = 0;
};

using squall::detail::append_utf8;

// Python's repr() of a string, in its usual single quotes.
std::string repr_string(const std::string& s) {
  bool use_double = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
  char quote = use_double ? '"' : '\'';
  std::string out(1, quote);
  for (char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c == quote) {
          out += '\\';
          out += c;
        } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\x%02x", static_cast<unsigned char>(c));
          out += buffer;
        } else {
          out += c;
        }
    }
  }
  out += quote;
  return out;
}

// Pads `text` (counted in characters) to the spec's width.
void append_padded(std::string& out, std::string_view text, const Spec& spec) {
  std::size_t length = utf8_length(text);
  std::size_t pad = spec.width > 0 && static_cast<std::size_t>(spec.width) > length
                        ? static_cast<std::size_t>(spec.width) - length
                        : 0;
  if (!spec.left) out.append(pad, ' ');
  out += text;
  if (spec.left) out.append(pad, ' ');
}

// Formats through snprintf with the spec's flags, width and precision; `conversion` holds the
// length modifier and letter (for example "lld").
template <typename T>
void append_printf(std::string& out, const Spec& spec, const char* conversion, T value) {
  std::string format = "%";
  if (spec.left) format += '-';
  if (spec.plus) format += '+';
  if (spec.space) format += ' ';
  if (spec.alternate) format += '#';
  if (spec.zero) format += '0';
  format += "*";
  if (spec.precision >= 0) format += ".*";
  format += conversion;
  std::string buffer(static_cast<std::size_t>(spec.width) +
                         static_cast<std::size_t>(spec.precision > 0 ? spec.precision : 0) + 400,
                     '\0');
  int written = spec.precision >= 0 ? std::snprintf(buffer.data(), buffer.size(), format.c_str(),
                                                    spec.width, spec.precision, value)
                                    : std::snprintf(buffer.data(), buffer.size(), format.c_str(),
                                                    spec.width, value);
  if (written < 0) throw EvalError("cannot format the value");
  out.append(buffer.data(), std::min(static_cast<std::size_t>(written), buffer.size() - 1));
}

// %x %X %o of a possibly negative integer: Python writes the sign then the magnitude.
void append_based(std::string& out, const Spec& spec, std::int64_t value) {
  bool negative = value < 0;
  auto magnitude =
      negative ? 0 - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
  char digits[32];
  const char* format = spec.conversion == 'x' ? "%llx" : spec.conversion == 'X' ? "%llX" : "%llo";
  std::snprintf(digits, sizeof digits, format, static_cast<unsigned long long>(magnitude));
  std::string body = digits;
  if (spec.precision > 0 && body.size() < static_cast<std::size_t>(spec.precision)) {
    body.insert(0, static_cast<std::size_t>(spec.precision) - body.size(), '0');
  }
  std::string prefix = negative ? "-" : spec.plus ? "+" : spec.space ? " " : "";
  if (spec.alternate)
    prefix += spec.conversion == 'o' ? "0o" : spec.conversion == 'x' ? "0x" : "0X";
  std::size_t length = prefix.size() + body.size();
  std::size_t pad = static_cast<std::size_t>(spec.width) > length
                        ? static_cast<std::size_t>(spec.width) - length
                        : 0;
  if (spec.left) {
    out += prefix;
    out += body;
    out.append(pad, ' ');
  } else if (spec.zero) {
    out += prefix;
    out.append(pad, '0');
    out += body;
  } else {
    out.append(pad, ' ');
    out += prefix;
    out += body;
  }
}

void append_conversion(std::string& out, const Spec& spec, const json& value) {
  switch (spec.conversion) {
    case 's':
    case 'r':
    case 'a': {
      std::string text = spec.conversion != 's' && value.is_string()
                             ? repr_string(value.get_ref<const std::string&>())
                             : to_str(value);
      if (spec.precision >= 0)
        text.resize(utf8_offset(text, static_cast<std::size_t>(spec.precision)));
      append_padded(out, text, spec);
      return;
    }
    case 'd':
    case 'i':
    case 'u': {
      auto number = to_number(value);
      if (!number) {
        throw EvalError(std::string("%") + spec.conversion +
                        " format: a real number is required, not " + std::string(type_name(value)));
      }
      double real = number->real;
      if (number->is_float && !(real > -9.2e18 && real < 9.2e18)) {
        throw EvalError("cannot convert the float to an integer");
      }
      long long integer =
          number->is_float ? static_cast<long long>(real) : static_cast<long long>(number->integer);
      append_printf(out, spec, "lld", integer);
      return;
    }
    case 'x':
    case 'X':
    case 'o':
      append_based(out, spec, to_integer(value, std::string("%") + spec.conversion + " format"));
      return;
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G': {
      auto number = to_number(value);
      if (!number) {
        throw EvalError("must be real number, not " + std::string(type_name(value)));
      }
      const char conversion[] = {spec.conversion, '\0'};
      append_printf(out, spec, conversion, number->as_double());
      return;
    }
    case 'c': {
      std::string text;
      if (value.is_string() && utf8_length(value.get_ref<const std::string&>()) == 1) {
        text = value.get_ref<const std::string&>();
      } else {
        std::int64_t code_point = to_integer(value, "%c");
        if (code_point < 0 || code_point > 0x10FFFF ||
            (code_point >= 0xD800 && code_point <= 0xDFFF)) {
          throw EvalError("%c arg not in range(0x110000)");
        }
        append_utf8(text, static_cast<std::uint32_t>(code_point));
      }
      append_padded(out, text, spec);
      return;
    }
    default: {
      char code[16];
      std::snprintf(code, sizeof code, "%#x", static_cast<unsigned char>(spec.conversion));
      throw EvalError(std::string("unsupported format character '") + spec.conversion + "' (" +
                      code + ")");
    }
  }
}

int read_number(std::string_view format, std::size_t& i) {
  int value = 0;
  while (i < format.size() && format[i] >= '0' && format[i] <= '9') {
    value = value * 10 + (format[i] - '0');
    if (value > kMaxWidth) throw EvalError("format width or precision too big");
    ++i;
  }
  return value;
}

}  // namespace

std::string percent_format(std::string_view format, const json& args, std::size_t max_size) {
  std::string out;
  out.reserve(format.size() + 16);
  bool is_tuple = args.is_array();
  std::size_t next_argument = 0;
  std::size_t argument_count = is_tuple ? args.size() : 1;
  bool used_mapping = false;
  for (std::size_t i = 0; i < format.size(); ++i) {
    char c = format[i];
    if (c != '%') {
      out += c;
      continue;
    }
    if (++i >= format.size()) throw EvalError("incomplete format");
    if (format[i] == '%') {
      out += '%';
      continue;
    }
    const json* argument = nullptr;
    if (format[i] == '(') {
      if (!args.is_object()) throw EvalError("format requires a mapping");
      std::size_t close = format.find(')', i);
      if (close == std::string_view::npos) throw EvalError("incomplete format key");
      auto found = args.find(format.substr(i + 1, close - i - 1));
      if (found == args.end()) {
        throw EvalError("KeyError: '" + std::string(format.substr(i + 1, close - i - 1)) + "'");
      }
      argument = &*found;
      used_mapping = true;
      i = close + 1;
    }
    Spec spec;
    for (; i < format.size(); ++i) {
      char flag = format[i];
      if (flag == '-') {
        spec.left = true;
      } else if (flag == '+') {
        spec.plus = true;
      } else if (flag == ' ') {
        spec.space = true;
      } else if (flag == '#') {
        spec.alternate = true;
      } else if (flag == '0') {
        spec.zero = true;
      } else {
        break;
      }
    }
    spec.width = read_number(format, i);
    if (i < format.size() && format[i] == '.') {
      ++i;
      spec.precision = read_number(format, i);
    }
    while (i < format.size() && (format[i] == 'h' || format[i] == 'l' || format[i] == 'L')) ++i;
    if (i >= format.size()) throw EvalError("incomplete format");
    spec.conversion = format[i];
    if (argument == nullptr && spec.conversion != '%') {
      if (next_argument >= argument_count)
        throw EvalError("not enough arguments for format string");
      argument = is_tuple ? &args[next_argument] : &args;
      ++next_argument;
    }
    if (spec.conversion == '%') {
      out += '%';
    } else {
      append_conversion(out, spec, *argument);
    }
    check_size(out.size(), max_size);
  }
  if (!used_mapping && !args.is_object() && next_argument < argument_count) {
    throw EvalError("not all arguments converted during string formatting");
  }
  return out;
}

}  // namespace squall::web::detail
