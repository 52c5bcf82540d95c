// The built-in functions and methods of the template language. They follow Python's behaviour on
// the JSON types (str, int, float, bool, None, list, dict), with its error messages where they
// help.
#include "web/template_builtins.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "squall/util/escape.hpp"

namespace squall::web::detail {
namespace {

void expect_arguments(std::string_view name, std::span<Value> args, std::size_t min,
                      std::size_t max) {
  if (args.size() >= min && args.size() <= max) return;
  std::size_t count = args.size() < min ? min : max;
  std::string expected = min == max ? "" : args.size() < min ? "at least " : "at most ";
  expected += std::to_string(count);
  throw EvalError(std::string(name) + "() takes " + expected +
                  (count == 1 ? " argument" : " arguments") + " (" + std::to_string(args.size()) +
                  " given)");
}

const std::string& expect_string(std::string_view name, const json& value) {
  if (!value.is_string()) {
    throw EvalError(std::string(name) + "() needs a str, not " + std::string(type_name(value)));
  }
  return value.get_ref<const std::string&>();
}

// The text a string function works on: a string as it is, anything else as str() writes it.
std::string text_of(const Value& value) {
  if (value->is_string()) return value->get_ref<const std::string&>();
  return to_str(value.get());
}

bool flag(std::span<Value> args, std::size_t index, bool fallback) {
  return index < args.size() ? truthy(args[index].get()) : fallback;
}

bool is_python_space(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

std::string_view strip_spaces(std::string_view s) {
  while (!s.empty() && is_python_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_python_space(s.back())) s.remove_suffix(1);
  return s;
}

// A list of the items of an iterable (copies; moved out of an owned value).
json to_list(Value& value) {
  json out = json::array();
  for_each_item(value, [&out](json&& item) { out.push_back(std::move(item)); });
  return out;
}

Value escape_function(std::span<Value> args, const CallContext&) {
  expect_arguments("xhtml_escape", args, 1, 1);
  return Value(escape::xhtml_escape(text_of(args[0])));
}

Value xhtml_unescape_function(std::span<Value> args, const CallContext&) {
  expect_arguments("xhtml_unescape", args, 1, 1);
  return Value(escape::xhtml_unescape(text_of(args[0])));
}

Value url_escape_function(std::span<Value> args, const CallContext&) {
  expect_arguments("url_escape", args, 1, 2);
  return Value(escape::url_escape(text_of(args[0]), flag(args, 1, true)));
}

Value url_unescape_function(std::span<Value> args, const CallContext&) {
  expect_arguments("url_unescape", args, 1, 2);
  return Value(escape::url_unescape(text_of(args[0]), flag(args, 1, true)));
}

Value json_encode_function(std::span<Value> args, const CallContext&) {
  expect_arguments("json_encode", args, 1, 1);
  return Value(escape::json_encode(args[0].get()));
}

Value json_decode_function(std::span<Value> args, const CallContext&) {
  expect_arguments("json_decode", args, 1, 1);
  return Value(escape::json_decode(expect_string("json_decode", args[0].get())));
}

Value squeeze_function(std::span<Value> args, const CallContext&) {
  expect_arguments("squeeze", args, 1, 1);
  return Value(escape::squeeze(text_of(args[0])));
}

// linkify(text, shorten=False, extra_params="", require_protocol=False,
//         permitted_protocols=["http", "https"])
Value linkify_function(std::span<Value> args, const CallContext&) {
  expect_arguments("linkify", args, 1, 5);
  std::string extra = args.size() > 2 ? text_of(args[2]) : std::string();
  std::vector<std::string> protocols{"http", "https"};
  if (args.size() > 4) {
    protocols.clear();
    for (const auto& protocol : args[4].get()) {
      protocols.push_back(expect_string("linkify", protocol));
    }
  }
  return Value(escape::linkify(text_of(args[0]), flag(args, 1, false), extra, flag(args, 3, false),
                               protocols));
}

Value len_function(std::span<Value> args, const CallContext&) {
  expect_arguments("len", args, 1, 1);
  const json& value = args[0].get();
  if (value.is_string()) return Value(json(utf8_length(value.get_ref<const std::string&>())));
  if (value.is_array() || value.is_object()) return Value(json(value.size()));
  throw EvalError("object of type '" + std::string(type_name(value)) + "' has no len()");
}

Value str_function(std::span<Value> args, const CallContext&) {
  expect_arguments("str", args, 0, 1);
  if (args.empty()) return Value(json(""));
  return Value(json(to_str(args[0].get())));
}

// Python's int() of a string: optional sign, decimal digits with single underscores between them,
// surrounding whitespace allowed.
std::int64_t parse_int(const std::string& text) {
  std::string_view s = strip_spaces(text);
  std::string digits;
  bool negative = false;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  bool valid = !s.empty() && s.front() != '_' && s.back() != '_';
  for (std::size_t i = 0; valid && i < s.size(); ++i) {
    if (s[i] == '_') {
      valid = s[i - 1] != '_';
    } else if (s[i] >= '0' && s[i] <= '9') {
      digits += s[i];
    } else {
      valid = false;
    }
  }
  if (!valid) throw EvalError("invalid literal for int() with base 10: '" + text + "'");
  if (negative) digits.insert(0, 1, '-');
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (error != std::errc()) throw EvalError("integer overflow");
  return value;
}

Value int_function(std::span<Value> args, const CallContext&) {
  expect_arguments("int", args, 0, 1);
  if (args.empty()) return Value(json(0));
  const json& value = args[0].get();
  if (value.is_string()) return Value(json(parse_int(value.get_ref<const std::string&>())));
  auto number = to_number(value);
  if (!number) {
    throw EvalError("int() argument must be a string or a number, not '" +
                    std::string(type_name(value)) + "'");
  }
  if (!number->is_float) return Value(json(number->integer));
  double real = std::trunc(number->real);
  if (!std::isfinite(real)) throw EvalError("cannot convert float infinity or NaN to integer");
  if (real < -9.2e18 || real > 9.2e18) throw EvalError("integer overflow");
  return Value(json(static_cast<std::int64_t>(real)));
}

Value float_function(std::span<Value> args, const CallContext&) {
  expect_arguments("float", args, 0, 1);
  if (args.empty()) return Value(json(0.0));
  const json& value = args[0].get();
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    std::string_view s = strip_spaces(text);
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    double real = 0;
    auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), real);
    if (s.empty() || error != std::errc() || end != s.data() + s.size()) {
      throw EvalError("could not convert string to float: '" + text + "'");
    }
    return Value(json(real));
  }
  auto number = to_number(value);
  if (!number) {
    throw EvalError("float() argument must be a string or a number, not '" +
                    std::string(type_name(value)) + "'");
  }
  return Value(json(number->as_double()));
}

Value bool_function(std::span<Value> args, const CallContext&) {
  expect_arguments("bool", args, 0, 1);
  return Value(json(!args.empty() && truthy(args[0].get())));
}

Value range_function(std::span<Value> args, const CallContext& context) {
  expect_arguments("range", args, 1, 3);
  std::int64_t start = 0;
  std::int64_t stop = 0;
  std::int64_t step = 1;
  if (args.size() == 1) {
    stop = to_integer(args[0].get(), "range()");
  } else {
    start = to_integer(args[0].get(), "range()");
    stop = to_integer(args[1].get(), "range()");
    if (args.size() == 3) step = to_integer(args[2].get(), "range()");
  }
  if (step == 0) throw EvalError("range() arg 3 must not be zero");
  // The count in unsigned arithmetic, which cannot overflow for int64 bounds.
  std::uint64_t count = 0;
  if (step > 0 && start < stop) {
    count = (static_cast<std::uint64_t>(stop) - static_cast<std::uint64_t>(start) - 1) /
                static_cast<std::uint64_t>(step) +
            1;
  } else if (step < 0 && start > stop) {
    count = (static_cast<std::uint64_t>(start) - static_cast<std::uint64_t>(stop) - 1) /
                (0 - static_cast<std::uint64_t>(step)) +
            1;
  }
  check_size(count, context.max_size);
  json out = json::array();
  auto& items = out.get_ref<json::array_t&>();
  items.reserve(count);
  std::int64_t value = start;
  for (std::uint64_t i = 0; i < count; ++i) {
    items.emplace_back(value);
    if (i + 1 < count) value += step;
  }
  return Value(std::move(out));
}

Value abs_function(std::span<Value> args, const CallContext&) {
  expect_arguments("abs", args, 1, 1);
  auto number = to_number(args[0].get());
  if (!number) {
    throw EvalError("bad operand type for abs(): '" + std::string(type_name(args[0].get())) + "'");
  }
  if (number->is_float) return Value(json(std::fabs(number->real)));
  if (number->integer == std::numeric_limits<std::int64_t>::min()) {
    throw EvalError("integer overflow");
  }
  return Value(json(number->integer < 0 ? -number->integer : number->integer));
}

// min() and max(): of one iterable argument, or of several arguments.
Value extreme(std::string_view name, std::span<Value> args, CompareOp better) {
  if (args.empty()) throw EvalError(std::string(name) + " expected at least 1 argument, got 0");
  json items = args.size() == 1 ? to_list(args[0]) : json::array();
  if (args.size() > 1) {
    for (auto& arg : args) items.push_back(std::move(arg).take());
  }
  if (items.empty()) throw EvalError(std::string(name) + "() arg is an empty sequence");
  std::size_t best = 0;
  for (std::size_t i = 1; i < items.size(); ++i) {
    if (order(better, items[i], items[best])) best = i;
  }
  return Value(std::move(items[best]));
}

Value min_function(std::span<Value> args, const CallContext&) {
  return extreme("min", args, CompareOp::kLess);
}

Value max_function(std::span<Value> args, const CallContext&) {
  return extreme("max", args, CompareOp::kGreater);
}

Value sum_function(std::span<Value> args, const CallContext& context) {
  expect_arguments("sum", args, 1, 2);
  Value total = args.size() > 1 ? std::move(args[1]) : Value(json(0));
  if (total->is_string()) throw EvalError("sum() can't sum strings [use ''.join(seq) instead]");
  Value items(to_list(args[0]));
  for (auto& item : items.mutable_owned()) {
    total = binary(BinaryOp::kAdd, std::move(total), Value(std::move(item)), context.max_size);
  }
  return total;
}

Value sorted_function(std::span<Value> args, const CallContext&) {
  expect_arguments("sorted", args, 1, 1);
  json items = to_list(args[0]);
  auto& array = items.get_ref<json::array_t&>();
  // stable_sort stays in bounds even if an ordering is inconsistent (NaN), unlike sort.
  std::stable_sort(array.begin(), array.end(),
                   [](const json& a, const json& b) { return order(CompareOp::kLess, a, b); });
  return Value(std::move(items));
}

Value reversed_function(std::span<Value> args, const CallContext&) {
  expect_arguments("reversed", args, 1, 1);
  json items = to_list(args[0]);
  auto& array = items.get_ref<json::array_t&>();
  std::reverse(array.begin(), array.end());
  return Value(std::move(items));
}

Value enumerate_function(std::span<Value> args, const CallContext&) {
  expect_arguments("enumerate", args, 1, 2);
  std::int64_t index = args.size() > 1 ? to_integer(args[1].get(), "enumerate()") : 0;
  json out = json::array();
  for_each_item(args[0], [&](json&& item) {
    out.push_back(json::array({index, std::move(item)}));
    ++index;
  });
  return Value(std::move(out));
}

Value list_function(std::span<Value> args, const CallContext&) {
  expect_arguments("list", args, 0, 1);
  if (args.empty()) return Value(json::array());
  return Value(to_list(args[0]));
}

struct BuiltinEntry {
  std::string_view name;
  BuiltinFunction function;
};

// Sorted by name for a binary search.
constexpr BuiltinEntry kBuiltins[] = {
    {"abs", abs_function},
    {"bool", bool_function},
    {"enumerate", enumerate_function},
    {"escape", escape_function},
    {"float", float_function},
    {"int", int_function},
    {"json_decode", json_decode_function},
    {"json_encode", json_encode_function},
    {"len", len_function},
    {"linkify", linkify_function},
    {"list", list_function},
    {"max", max_function},
    {"min", min_function},
    {"range", range_function},
    {"reversed", reversed_function},
    {"sorted", sorted_function},
    {"squeeze", squeeze_function},
    {"str", str_function},
    {"sum", sum_function},
    {"url_escape", url_escape_function},
    {"url_unescape", url_unescape_function},
    {"xhtml_escape", escape_function},
    {"xhtml_unescape", xhtml_unescape_function},
};
static_assert(std::is_sorted(std::begin(kBuiltins), std::end(kBuiltins),
                             [](const auto& a, const auto& b) { return a.name < b.name; }));

// --- methods ---

[[noreturn]] void no_method(const json& receiver, std::string_view name) {
  throw EvalError("'" + std::string(type_name(receiver)) + "' object has no attribute '" +
                  std::string(name) + "'");
}

std::string_view strip_chars(std::string_view s, std::span<Value> args, bool left, bool right,
                             std::string_view name) {
  expect_arguments(name, args, 0, 1);
  if (args.empty() || args[0]->is_null()) {
    while (left && !s.empty() && is_python_space(s.front())) s.remove_prefix(1);
    while (right && !s.empty() && is_python_space(s.back())) s.remove_suffix(1);
    return s;
  }
  std::string_view chars = expect_string(name, args[0].get());
  // The set is of bytes, which is Python's behaviour for ASCII characters.
  while (left && !s.empty() && chars.find(s.front()) != std::string_view::npos) s.remove_prefix(1);
  while (right && !s.empty() && chars.find(s.back()) != std::string_view::npos) s.remove_suffix(1);
  return s;
}

json split(const std::string& s, std::span<Value> args) {
  expect_arguments("split", args, 0, 2);
  std::int64_t max_split = args.size() > 1 ? to_integer(args[1].get(), "split()") : -1;
  json out = json::array();
  if (args.empty() || args[0]->is_null()) {
    std::size_t i = 0;
    while (true) {
      while (i < s.size() && is_python_space(s[i])) ++i;
      if (i >= s.size()) break;
      if (max_split >= 0 && static_cast<std::int64_t>(out.size()) >= max_split) {
        std::string_view rest(s);
        rest = rest.substr(i);
        while (!rest.empty() && is_python_space(rest.back())) rest.remove_suffix(1);
        out.push_back(rest);
        break;
      }
      std::size_t end = i;
      while (end < s.size() && !is_python_space(s[end])) ++end;
      out.push_back(s.substr(i, end - i));
      i = end;
    }
    return out;
  }
  const std::string& separator = expect_string("split", args[0].get());
  if (separator.empty()) throw EvalError("empty separator");
  std::size_t start = 0;
  while (max_split < 0 || static_cast<std::int64_t>(out.size()) < max_split) {
    std::size_t found = s.find(separator, start);
    if (found == std::string::npos) break;
    out.push_back(s.substr(start, found - start));
    start = found + separator.size();
  }
  out.push_back(s.substr(start));
  return out;
}

std::string change_case(const std::string& s, Method method) {
  std::string out = s;
  for (std::size_t i = 0; i < out.size(); ++i) {
    char& c = out[i];
    bool upper = method == Method::kUpper || (method == Method::kCapitalize && i == 0);
    if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string replace(const std::string& s, std::span<Value> args, const CallContext& context) {
  expect_arguments("replace", args, 2, 3);
  const std::string& old_text = expect_string("replace", args[0].get());
  const std::string& new_text = expect_string("replace", args[1].get());
  std::int64_t count = args.size() > 2 ? to_integer(args[2].get(), "replace()") : -1;
  std::string out;
  std::int64_t done = 0;
  if (old_text.empty()) {
    // Python inserts the new text around every character.
    for_each_character(s, [&](std::string_view character) {
      if (count < 0 || done < count) {
        out += new_text;
        ++done;
      }
      out += character;
      check_size(out.size(), context.max_size);
    });
    if (count < 0 || done < count) out += new_text;
    return out;
  }
  std::size_t start = 0;
  while (count < 0 || done < count) {
    std::size_t found = s.find(old_text, start);
    if (found == std::string::npos) break;
    out.append(s, start, found - start);
    out += new_text;
    check_size(out.size(), context.max_size);
    start = found + old_text.size();
    ++done;
  }
  out.append(s, start, std::string::npos);
  return out;
}

std::string join(const std::string& separator, std::span<Value> args, const CallContext& context) {
  expect_arguments("join", args, 1, 1);
  std::string out;
  std::size_t index = 0;
  auto append = [&](const json& item) {
    if (!item.is_string()) {
      throw EvalError("sequence item " + std::to_string(index) + ": expected str instance, " +
                      std::string(type_name(item)) + " found");
    }
    if (index++ > 0) out += separator;
    out += item.get_ref<const std::string&>();
    check_size(out.size(), context.max_size);
  };
  const json& items = args[0].get();
  if (items.is_array()) {
    for (const auto& item : items) append(item);
  } else {
    for_each_item(args[0], [&](json&& item) { append(item); });
  }
  return out;
}

Value string_method(const std::string& s, Method method, std::string_view name,
                    std::span<Value> args, const CallContext& context) {
  switch (method) {
    case Method::kUpper:
    case Method::kLower:
    case Method::kCapitalize:
      expect_arguments(name, args, 0, 0);
      return Value(json(change_case(s, method)));
    case Method::kStrip:
      return Value(json(strip_chars(s, args, true, true, name)));
    case Method::kLstrip:
      return Value(json(strip_chars(s, args, true, false, name)));
    case Method::kRstrip:
      return Value(json(strip_chars(s, args, false, true, name)));
    case Method::kStartswith:
    case Method::kEndswith: {
      expect_arguments(name, args, 1, 1);
      const std::string& affix = expect_string(name, args[0].get());
      std::string_view view(s);
      return Value(
          json(method == Method::kStartswith ? view.starts_with(affix) : view.ends_with(affix)));
    }
    case Method::kReplace:
      return Value(json(replace(s, args, context)));
    case Method::kSplit:
      return Value(split(s, args));
    case Method::kJoin:
      return Value(json(join(s, args, context)));
    case Method::kFind: {
      expect_arguments(name, args, 1, 1);
      std::size_t found = s.find(expect_string(name, args[0].get()));
      if (found == std::string::npos) return Value(json(-1));
      return Value(json(utf8_length(std::string_view(s).substr(0, found))));
    }
    default:
      no_method(json(s), name);
  }
}

Value dict_method(Value&& receiver, Method method, std::string_view name, std::span<Value> args) {
  const json& dict = receiver.get();
  switch (method) {
    case Method::kGet: {
      expect_arguments(name, args, 1, 2);
      const json& key = args[0].get();
      auto found = key.is_string() ? dict.find(key.get_ref<const std::string&>()) : dict.end();
      if (found == dict.end()) return args.size() > 1 ? std::move(args[1]) : Value();
      if (receiver.owned()) {
        return Value(std::move(receiver.mutable_owned()[key.get_ref<const std::string&>()]));
      }
      return Value::borrow(*found, receiver.borrows_local());
    }
    case Method::kItems:
    case Method::kKeys:
    case Method::kValues: {
      expect_arguments(name, args, 0, 0);
      json out = json::array();
      out.get_ref<json::array_t&>().reserve(dict.size());
      for (auto it = dict.begin(); it != dict.end(); ++it) {
        if (method == Method::kKeys) {
          out.push_back(it.key());
        } else if (method == Method::kValues) {
          out.push_back(it.value());
        } else {
          out.push_back(json::array({it.key(), it.value()}));
        }
      }
      return Value(std::move(out));
    }
    default:
      no_method(dict, name);
  }
}

struct MethodEntry {
  std::string_view name;
  Method method;
};

// Sorted by name for a binary search.
constexpr MethodEntry kMethods[] = {
    {"capitalize", Method::kCapitalize},
    {"endswith", Method::kEndswith},
    {"find", Method::kFind},
    {"get", Method::kGet},
    {"items", Method::kItems},
    {"join", Method::kJoin},
    {"keys", Method::kKeys},
    {"lower", Method::kLower},
    {"lstrip", Method::kLstrip},
    {"replace", Method::kReplace},
    {"rstrip", Method::kRstrip},
    {"split", Method::kSplit},
    {"startswith", Method::kStartswith},
    {"strip", Method::kStrip},
    {"upper", Method::kUpper},
    {"values", Method::kValues},
};
static_assert(std::is_sorted(std::begin(kMethods), std::end(kMethods),
                             [](const auto& a, const auto& b) { return a.name < b.name; }));

}  // namespace

BuiltinFunction find_builtin(std::string_view name) {
  const BuiltinEntry* found = std::lower_bound(
      std::begin(kBuiltins), std::end(kBuiltins), name,
      [](const BuiltinEntry& entry, std::string_view key) { return entry.name < key; });
  if (found == std::end(kBuiltins) || found->name != name) return nullptr;
  return found->function;
}

bool is_builtin_xhtml_escape(BuiltinFunction function) {
  return function == escape_function;
}

Method find_method(std::string_view name) {
  const MethodEntry* found = std::lower_bound(
      std::begin(kMethods), std::end(kMethods), name,
      [](const MethodEntry& entry, std::string_view key) { return entry.name < key; });
  if (found == std::end(kMethods) || found->name != name) return Method::kUnknown;
  return found->method;
}

Value call_method(Value&& receiver, Method method, std::string_view name, std::span<Value> args,
                  const CallContext& context) {
  const json& value = receiver.get();
  if (value.is_string()) {
    return string_method(value.get_ref<const std::string&>(), method, name, args, context);
  }
  if (value.is_object()) return dict_method(std::move(receiver), method, name, args);
  no_method(value, name);
}

}  // namespace squall::web::detail
