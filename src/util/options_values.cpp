// Text to option values and back: booleans, integers, floating-point numbers, strings, Tornado's
// duration syntax, and comma lists with integer ranges.

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <typeinfo>
#include <utility>

#include "squall/util/log.hpp"
#include "util/options_impl.hpp"

namespace squall::options::detail {
namespace {

using std::chrono::nanoseconds;

// A range such as 1:1000000000 would allocate gigabytes before anything could complain.
constexpr std::int64_t kMaxRangeLength = std::int64_t{1} << 20;

constexpr std::string_view kWhitespace = " \t\r\n\f\v";

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

std::string lower(std::string_view text) {
  std::string result(text);
  for (auto& c : result) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return result;
}

[[noreturn]] void bad_value(std::string_view label, std::string_view text, std::string_view why) {
  throw Error(fmt::format("option {}: '{}' {}", label, text, why));
}

bool parse_bool(std::string_view text, std::string_view label) {
  const auto word = lower(trim(text));
  // Tornado takes any text but false/0/f as true; a typo then silently turns a flag on.
  for (const char* yes : {"true", "t", "1", "yes", "y", "on"}) {
    if (word == yes) return true;
  }
  for (const char* no : {"false", "f", "0", "no", "n", "off"}) {
    if (word == no) return false;
  }
  bad_value(label, text, "is not a boolean (true or false)");
}

std::string element_name(const TypeInfo& type);

std::int64_t parse_integer(const TypeInfo& type, std::string_view text, std::string_view label) {
  auto digits = trim(text);
  // from_chars takes '-' but not '+'.
  if (digits.size() > 1 && digits[0] == '+' && is_digit(digits[1])) digits.remove_prefix(1);
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  const bool whole = end == digits.data() + digits.size();
  if (error == std::errc::result_out_of_range && whole) {
    value = digits[0] == '-' ? INT64_MIN : INT64_MAX;
  } else if (error != std::errc() || !whole || digits.empty()) {
    bad_value(label, text, "is not an integer");
  }
  if (error != std::errc() || value < type.min || value > type.max) {
    bad_value(
        label, text,
        fmt::format("is out of range for {} ({} to {})", element_name(type), type.min, type.max));
  }
  return value;
}

double parse_floating(const TypeInfo& type, std::string_view text, std::string_view label) {
  auto digits = trim(text);
  if (digits.size() > 1 && digits[0] == '+' && digits[1] != '-') digits.remove_prefix(1);
  double value = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (error == std::errc::result_out_of_range) bad_value(label, text, "is out of range");
  if (error != std::errc() || end != digits.data() + digits.size() || digits.empty()) {
    bad_value(label, text, "is not a number");
  }
  // Narrowing a finite double beyond FLT_MAX to float is undefined behaviour.
  if (*type.element == typeid(float) && std::isfinite(value) &&
      std::fabs(value) > std::numeric_limits<float>::max()) {
    bad_value(label, text, "is out of range for float");
  }
  return value;
}

struct DurationUnit {
  std::string_view name;
  std::int64_t nanoseconds;
};

// Tornado's abbreviations, Python's timedelta keywords, their singulars, and ns for C++.
constexpr std::array<DurationUnit, 25> kDurationUnits = {{
    {"w", 604'800'000'000'000},  {"week", 604'800'000'000'000}, {"weeks", 604'800'000'000'000},
    {"d", 86'400'000'000'000},   {"day", 86'400'000'000'000},   {"days", 86'400'000'000'000},
    {"h", 3'600'000'000'000},    {"hour", 3'600'000'000'000},   {"hours", 3'600'000'000'000},
    {"m", 60'000'000'000},       {"min", 60'000'000'000},       {"minute", 60'000'000'000},
    {"minutes", 60'000'000'000}, {"s", 1'000'000'000},          {"sec", 1'000'000'000},
    {"second", 1'000'000'000},   {"seconds", 1'000'000'000},    {"ms", 1'000'000},
    {"millisecond", 1'000'000},  {"milliseconds", 1'000'000},   {"us", 1'000},
    {"microsecond", 1'000},      {"microseconds", 1'000},       {"ns", 1},
    {"nanoseconds", 1},
}};

std::string_view unit_name(std::int64_t nanoseconds_per_tick) {
  switch (nanoseconds_per_tick) {
    case 1:
      return "nanoseconds";
    case 1'000:
      return "microseconds";
    case 1'000'000:
      return "milliseconds";
    case 1'000'000'000:
      return "seconds";
    case 60'000'000'000:
      return "minutes";
    case 3'600'000'000'000:
      return "hours";
    case 86'400'000'000'000:
      return "days";
    case 604'800'000'000'000:
      return "weeks";
    default:
      return "ticks of the option's duration type";
  }
}

// Tornado's syntax: numbers (maybe signed, fractional, with an exponent) each followed by an
// optional unit (seconds when absent), summed: "30s", "1.5h", "1h 30m", "-2d", "500ms", "45".
// Unlike Tornado, "1h30m" needs no space, and empty text is not a duration of zero.
nanoseconds parse_duration(const TypeInfo& type, std::string_view text, std::string_view label) {
  constexpr std::string_view kExpected = "is not a duration (such as 30s, 5m, 1h, 500ms, 2d)";
  long double total = 0;
  bool any = false;
  std::size_t i = 0;
  const auto skip_space = [&] {
    while (i < text.size() && kWhitespace.find(text[i]) != std::string_view::npos) ++i;
  };
  while (true) {
    skip_space();
    if (i == text.size()) break;
    const auto start = i;
    if (text[i] == '+' || text[i] == '-') ++i;
    const auto digits_start = i;
    while (i < text.size() && is_digit(text[i])) ++i;
    auto digit_count = i - digits_start;
    if (i < text.size() && text[i] == '.') {
      ++i;
      const auto fraction_start = i;
      while (i < text.size() && is_digit(text[i])) ++i;
      digit_count += i - fraction_start;
    }
    if (digit_count == 0) bad_value(label, text, kExpected);
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
      auto j = i + 1;
      if (j < text.size() && (text[j] == '+' || text[j] == '-')) ++j;
      if (j < text.size() && is_digit(text[j])) {
        while (j < text.size() && is_digit(text[j])) ++j;
        i = j;
      }
    }
    auto number_text = text.substr(start, i - start);
    if (number_text[0] == '+') number_text.remove_prefix(1);
    double number = 0;
    const auto [end, error] =
        std::from_chars(number_text.data(), number_text.data() + number_text.size(), number);
    if (error != std::errc() || end != number_text.data() + number_text.size()) {
      bad_value(label, text, kExpected);
    }
    const auto number_end = i;
    skip_space();
    const auto unit_start = i;
    while (i < text.size() && is_letter(text[i])) ++i;
    const auto unit = text.substr(unit_start, i - unit_start);
    // "1.2.3s" is not 1.2s + .3s: a number without a unit ends the text or a word.
    if (unit.empty() && number_end == i && i < text.size()) bad_value(label, text, kExpected);
    std::int64_t per_unit = 1'000'000'000;
    if (!unit.empty()) {
      per_unit = 0;
      for (const auto& known : kDurationUnits) {
        if (known.name == unit) per_unit = known.nanoseconds;
      }
      if (per_unit == 0) bad_value(label, text, kExpected);
    }
    total += static_cast<long double>(number) * per_unit;
    any = true;
  }
  if (!any) bad_value(label, text, kExpected);
  if (!(total <= static_cast<long double>(type.max) &&
        total >= static_cast<long double>(type.min))) {
    bad_value(label, text, fmt::format("is out of range for {}", element_name(type)));
  }
  const auto count = static_cast<std::int64_t>(std::llround(total));
  if (type.unit > 0 && count % type.unit != 0) {
    bad_value(label, text, fmt::format("is not a whole number of {}", unit_name(type.unit)));
  }
  return nanoseconds(count);
}

std::string format_duration(nanoseconds value) {
  static constexpr std::array<std::pair<std::int64_t, std::string_view>, 7> kUnits = {{
      {86'400'000'000'000, "d"},
      {3'600'000'000'000, "h"},
      {60'000'000'000, "m"},
      {1'000'000'000, "s"},
      {1'000'000, "ms"},
      {1'000, "us"},
      {1, "ns"},
  }};
  if (value.count() == 0) return "0s";
  for (const auto& [per_unit, suffix] : kUnits) {
    if (value.count() % per_unit == 0) return fmt::format("{}{}", value.count() / per_unit, suffix);
  }
  return fmt::format("{}ns", value.count());  // unreachable: every count divides by 1
}

std::string format_scalar(const Scalar& value) {
  if (const auto* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  if (const auto* i = std::get_if<std::int64_t>(&value)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&value)) return fmt::format("{}", *d);
  if (const auto* s = std::get_if<std::string>(&value)) return *s;
  return format_duration(std::get<nanoseconds>(value));
}

std::string element_name(const TypeInfo& type) {
  using namespace std::chrono;
  static const std::array<std::pair<const std::type_info*, std::string_view>, 24> kNames = {{
      {&typeid(bool), "bool"},
      {&typeid(short), "short"},
      {&typeid(unsigned short), "unsigned short"},
      {&typeid(int), "int"},
      {&typeid(unsigned), "unsigned int"},
      {&typeid(long), "long"},
      {&typeid(unsigned long), "unsigned long"},
      {&typeid(long long), "long long"},
      {&typeid(unsigned long long), "unsigned long long"},
      {&typeid(signed char), "signed char"},
      {&typeid(unsigned char), "unsigned char"},
      {&typeid(float), "float"},
      {&typeid(double), "double"},
      {&typeid(long double), "long double"},
      {&typeid(std::string), "std::string"},
      {&typeid(std::chrono::nanoseconds), "std::chrono::nanoseconds"},
      {&typeid(microseconds), "std::chrono::microseconds"},
      {&typeid(milliseconds), "std::chrono::milliseconds"},
      {&typeid(seconds), "std::chrono::seconds"},
      {&typeid(minutes), "std::chrono::minutes"},
      {&typeid(hours), "std::chrono::hours"},
      {&typeid(days), "std::chrono::days"},
      {&typeid(weeks), "std::chrono::weeks"},
      {&typeid(duration<double>), "std::chrono::duration<double>"},
  }};
  for (const auto& [info, name] : kNames) {
    if (*info == *type.element) return std::string(name);
  }
  return log::demangle(type.element->name());
}

}  // namespace

[[noreturn]] void throw_out_of_range(long double value) {
  throw Error(fmt::format("value {} is out of range for its option", value));
}

std::string normalize_name(std::string_view name) {
  std::string normalized(name);
  for (auto& c : normalized) {
    if (c == '_') c = '-';
  }
  return normalized;
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(kWhitespace);
  return text.substr(first, last - first + 1);
}

Scalar parse_scalar(const TypeInfo& type, std::string_view text, std::string_view label) {
  switch (type.kind) {
    case Kind::boolean:
      return parse_bool(text, label);
    case Kind::integer:
      return parse_integer(type, text, label);
    case Kind::floating:
      return parse_floating(type, text, label);
    case Kind::string:
      return std::string(text);
    case Kind::duration:
      return parse_duration(type, text, label);
  }
  throw Error(fmt::format("option {}: unknown value kind", label));  // unreachable
}

Values parse_values(const TypeInfo& type, std::string_view text, std::string_view label) {
  if (type.shape != Shape::multiple) return {parse_scalar(type, text, label)};
  Values values;
  if (trim(text).empty()) return values;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    const auto item = trim(text.substr(start, end - start));
    start = end + 1;
    const auto colon = item.find(':');
    if (type.kind != Kind::integer || colon == std::string_view::npos) {
      values.push_back(parse_scalar(type, item, label));
      continue;
    }
    const auto first = parse_integer(type, item.substr(0, colon), label);
    const auto last = parse_integer(type, item.substr(colon + 1), label);
    if (last < first) bad_value(label, item, "is a range that ends before it starts");
    // Unsigned, so that neither the length nor the loop can overflow near the int64 limits.
    const auto span = static_cast<std::uint64_t>(last) - static_cast<std::uint64_t>(first);
    if (span >= static_cast<std::uint64_t>(kMaxRangeLength)) {
      bad_value(label, item, fmt::format("is a range of more than {} values", kMaxRangeLength));
    }
    for (std::uint64_t i = 0; i <= span; ++i) {
      values.emplace_back(static_cast<std::int64_t>(static_cast<std::uint64_t>(first) + i));
    }
  }
  return values;
}

std::string format_values(const Values& values) {
  std::string text;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ',';
    text += format_scalar(values[i]);
  }
  return text;
}

std::string type_name(const TypeInfo& type) {
  switch (type.shape) {
    case Shape::single:
      return element_name(type);
    case Shape::optional:
      return fmt::format("std::optional<{}>", element_name(type));
    case Shape::multiple:
      return fmt::format("std::vector<{}>", element_name(type));
  }
  return element_name(type);  // unreachable
}

std::string default_metavar(const TypeInfo& type) {
  std::string_view name;
  switch (type.kind) {
    case Kind::boolean:
      name = type.shape == Shape::multiple ? "BOOL" : "";
      break;
    case Kind::integer:
      name = "INT";
      break;
    case Kind::floating:
      name = "FLOAT";
      break;
    case Kind::string:
      name = "STR";
      break;
    case Kind::duration:
      name = "DURATION";
      break;
  }
  if (type.shape != Shape::multiple) return std::string(name);
  return fmt::format("{0}[,{0}...]", name);
}

}  // namespace squall::options::detail
