// Python's semantics on JSON values for the template language (see template_value.hpp).
#include "web/template_value.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <system_error>
#include <utility>

namespace squall::web::detail {
namespace {

// Python's repr() of a float: the shortest digits that read back the same, in positional
// notation when the decimal exponent is in [-4, 16), in scientific notation otherwise.
void append_float(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "nan";
    return;
  }
  if (std::isinf(value)) {
    out += value < 0 ? "-inf" : "inf";
    return;
  }
  char buffer[64];
  auto [end, error] =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  std::string_view text(buffer, static_cast<std::size_t>(end - buffer));
  if (!text.empty() && text.front() == '-') {
    out += '-';
    text.remove_prefix(1);
  }
  std::size_t e = text.find('e');
  std::string digits;
  for (char c : text.substr(0, e)) {
    if (c != '.') digits += c;
  }
  int exponent = 0;
  std::from_chars(text.data() + e + 1 + (text[e + 1] == '+' ? 1 : 0), text.data() + text.size(),
                  exponent);
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0.";
      out.append(static_cast<std::size_t>(-exponent - 1), '0');
      out += digits;
    } else {
      auto integer_digits = static_cast<std::size_t>(exponent) + 1;
      if (digits.size() <= integer_digits) {
        out += digits;
        out.append(integer_digits - digits.size(), '0');
        out += ".0";
      } else {
        out.append(digits, 0, integer_digits);
        out += '.';
        out.append(digits, integer_digits, std::string::npos);
      }
    }
    return;
  }
  out += digits[0];
  if (digits.size() > 1) {
    out += '.';
    out.append(digits, 1, std::string::npos);
  }
  out += exponent < 0 ? "e-" : "e+";
  int magnitude = exponent < 0 ? -exponent : exponent;
  if (magnitude < 10) out += '0';
  out += std::to_string(magnitude);
}

[[noreturn]] void unsupported(std::string_view op, const json& a, const json& b) {
  throw EvalError("unsupported operand type(s) for " + std::string(op) + ": '" +
                  std::string(type_name(a)) + "' and '" + std::string(type_name(b)) + "'");
}

[[noreturn]] void overflow() {
  throw EvalError("integer overflow");
}

std::string_view op_text(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
      return "+";
    case BinaryOp::kSubtract:
      return "-";
    case BinaryOp::kMultiply:
      return "*";
    case BinaryOp::kDivide:
      return "/";
    case BinaryOp::kFloorDivide:
      return "//";
    case BinaryOp::kModulo:
      return "%";
    case BinaryOp::kPower:
      return "**";
  }
  return "?";
}

// Python's divmod for floats: the quotient floored, the remainder with the divisor's sign.
std::pair<double, double> float_divmod(double x, double y) {
  double mod = std::fmod(x, y);
  double div = (x - mod) / y;
  if (mod != 0) {
    if ((y < 0) != (mod < 0)) {
      mod += y;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, y);
  }
  double floor_div;
  if (div != 0) {
    floor_div = std::floor(div);
    if (div - floor_div > 0.5) floor_div += 1.0;
  } else {
    floor_div = std::copysign(0.0, x / y);
  }
  return {floor_div, mod};
}

json power(const Number& x, const Number& y) {
  if (!x.is_float && !y.is_float && y.integer >= 0) {
    // Exponentiation by squaring, refusing what int64 cannot hold.
    std::int64_t result = 1;
    std::int64_t base = x.integer;
    for (std::int64_t exponent = y.integer; exponent > 0; exponent >>= 1) {
      if ((exponent & 1) != 0 && __builtin_mul_overflow(result, base, &result)) overflow();
      if (exponent > 1 && __builtin_mul_overflow(base, base, &base)) overflow();
    }
    return result;
  }
  double a = x.as_double();
  double b = y.as_double();
  if (a == 0 && b < 0) throw EvalError("0.0 cannot be raised to a negative power");
  if (a < 0 && b != std::floor(b)) {
    throw EvalError("negative number cannot be raised to a fractional power");
  }
  double result = std::pow(a, b);
  if (std::isinf(result) && std::isfinite(a) && std::isfinite(b)) {
    throw EvalError("numerical result out of range");
  }
  return result;
}

json arithmetic(BinaryOp op, const Number& x, const Number& y) {
  if (op == BinaryOp::kPower) return power(x, y);
  if (x.is_float || y.is_float || op == BinaryOp::kDivide) {
    double a = x.as_double();
    double b = y.as_double();
    switch (op) {
      case BinaryOp::kAdd:
        return a + b;
      case BinaryOp::kSubtract:
        return a - b;
      case BinaryOp::kMultiply:
        return a * b;
      case BinaryOp::kDivide:
        if (b == 0) throw EvalError("division by zero");
        return a / b;
      case BinaryOp::kFloorDivide:
        if (b == 0) throw EvalError("float floor division by zero");
        return float_divmod(a, b).first;
      case BinaryOp::kModulo:
        if (b == 0) throw EvalError("float modulo by zero");
        return float_divmod(a, b).second;
      case BinaryOp::kPower:
        break;
    }
  }
  std::int64_t a = x.integer;
  std::int64_t b = y.integer;
  std::int64_t result = 0;
  switch (op) {
    case BinaryOp::kAdd:
      if (__builtin_add_overflow(a, b, &result)) overflow();
      return result;
    case BinaryOp::kSubtract:
      if (__builtin_sub_overflow(a, b, &result)) overflow();
      return result;
    case BinaryOp::kMultiply:
      if (__builtin_mul_overflow(a, b, &result)) overflow();
      return result;
    case BinaryOp::kFloorDivide:
    case BinaryOp::kModulo: {
      if (b == 0) throw EvalError("integer division or modulo by zero");
      if (a == std::numeric_limits<std::int64_t>::min() && b == -1) {
        if (op == BinaryOp::kModulo) return 0;
        overflow();
      }
      std::int64_t quotient = a / b;
      std::int64_t remainder = a % b;
      if (remainder != 0 && ((remainder < 0) != (b < 0))) {
        --quotient;
        remainder += b;
      }
      return op == BinaryOp::kFloorDivide ? quotient : remainder;
    }
    case BinaryOp::kDivide:
    case BinaryOp::kPower:
      break;
  }
  return nullptr;
}

// `sequence * count` for a string or list.
json repeat(const json& sequence, std::int64_t count, std::size_t max_size) {
  if (count <= 0) return sequence.is_string() ? json("") : json::array();
  if (sequence.is_string()) {
    const auto& text = sequence.get_ref<const std::string&>();
    std::size_t total = 0;
    if (__builtin_mul_overflow(text.size(), static_cast<std::size_t>(count), &total)) overflow();
    check_size(total, max_size);
    std::string out;
    out.reserve(total);
    for (std::int64_t i = 0; i < count; ++i) out += text;
    return out;
  }
  std::size_t total = 0;
  if (__builtin_mul_overflow(sequence.size(), static_cast<std::size_t>(count), &total)) overflow();
  check_size(total, max_size);
  json out = json::array();
  out.get_ref<json::array_t&>().reserve(total);
  for (std::int64_t i = 0; i < count; ++i) {
    for (const auto& item : sequence) out.push_back(item);
  }
  return out;
}

bool ordered_strings(CompareOp op, const std::string& a, const std::string& b) {
  int c = a.compare(b);
  switch (op) {
    case CompareOp::kLess:
      return c < 0;
    case CompareOp::kLessEqual:
      return c <= 0;
    case CompareOp::kGreater:
      return c > 0;
    case CompareOp::kGreaterEqual:
      return c >= 0;
    default:
      return false;
  }
}

template <typename T>
bool ordered_numbers(CompareOp op, T a, T b) {
  switch (op) {
    case CompareOp::kLess:
      return a < b;
    case CompareOp::kLessEqual:
      return a <= b;
    case CompareOp::kGreater:
      return a > b;
    case CompareOp::kGreaterEqual:
      return a >= b;
    default:
      return false;
  }
}

std::string_view compare_text(CompareOp op) {
  switch (op) {
    case CompareOp::kLess:
      return "<";
    case CompareOp::kLessEqual:
      return "<=";
    case CompareOp::kGreater:
      return ">";
    case CompareOp::kGreaterEqual:
      return ">=";
    default:
      return "?";
  }
}

}  // namespace

std::string_view type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::boolean:
      return "bool";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "int";
    case json::value_t::number_float:
      return "float";
    case json::value_t::string:
      return "str";
    case json::value_t::array:
      return "list";
    case json::value_t::object:
      return "dict";
    case json::value_t::binary:
      return "bytes";
    default:
      return "NoneType";
  }
}

bool truthy(const json& value) {
  switch (value.type()) {
    case json::value_t::boolean:
      return value.get<bool>();
    case json::value_t::number_integer:
      return value.get<std::int64_t>() != 0;
    case json::value_t::number_unsigned:
      return value.get<std::uint64_t>() != 0;
    case json::value_t::number_float:
      return value.get<double>() != 0;
    case json::value_t::string:
      return !value.get_ref<const std::string&>().empty();
    case json::value_t::array:
    case json::value_t::object:
    case json::value_t::binary:
      return !value.empty();
    default:
      return false;
  }
}

void append_str(std::string& out, const json& value) {
  char buffer[32];
  switch (value.type()) {
    case json::value_t::string:
      out += value.get_ref<const std::string&>();
      return;
    case json::value_t::boolean:
      out += value.get<bool>() ? "True" : "False";
      return;
    case json::value_t::number_integer: {
      auto end = std::to_chars(buffer, buffer + sizeof buffer, value.get<std::int64_t>()).ptr;
      out.append(buffer, end);
      return;
    }
    case json::value_t::number_unsigned: {
      auto end = std::to_chars(buffer, buffer + sizeof buffer, value.get<std::uint64_t>()).ptr;
      out.append(buffer, end);
      return;
    }
    case json::value_t::number_float:
      append_float(out, value.get<double>());
      return;
    case json::value_t::array:
    case json::value_t::object:
    case json::value_t::binary:
      out += value.dump(-1, ' ', false, json::error_handler_t::replace);
      return;
    default:
      out += "None";
      return;
  }
}

std::string to_str(const json& value) {
  std::string out;
  append_str(out, value);
  return out;
}

std::optional<Number> to_number(const json& value) {
  switch (value.type()) {
    case json::value_t::boolean:
      return Number{false, value.get<bool>() ? 1 : 0, 0};
    case json::value_t::number_integer:
      return Number{false, value.get<std::int64_t>(), 0};
    case json::value_t::number_unsigned: {
      auto u = value.get<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return Number{false, static_cast<std::int64_t>(u), 0};
      }
      return Number{true, 0, static_cast<double>(u)};
    }
    case json::value_t::number_float:
      return Number{true, 0, value.get<double>()};
    default:
      return std::nullopt;
  }
}

std::int64_t to_integer(const json& value, std::string_view what) {
  auto number = to_number(value);
  if (!number || number->is_float) {
    throw EvalError(std::string(what) + ": an integer is required, not '" +
                    std::string(type_name(value)) + "'");
  }
  return number->integer;
}

bool equal(const json& a, const json& b) {
  auto x = to_number(a);
  if (x) {
    auto y = to_number(b);
    if (!y) return false;
    if (!x->is_float && !y->is_float) return x->integer == y->integer;
    return x->as_double() == y->as_double();
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case json::value_t::string:
      return a.get_ref<const std::string&>() == b.get_ref<const std::string&>();
    case json::value_t::array: {
      if (a.size() != b.size()) return false;
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (!equal(a[i], b[i])) return false;
      }
      return true;
    }
    case json::value_t::object: {
      if (a.size() != b.size()) return false;
      for (auto it = a.begin(); it != a.end(); ++it) {
        auto other = b.find(it.key());
        if (other == b.end() || !equal(it.value(), *other)) return false;
      }
      return true;
    }
    default:
      return a == b;
  }
}

bool order(CompareOp op, const json& a, const json& b) {
  auto x = to_number(a);
  auto y = to_number(b);
  if (x && y) {
    if (!x->is_float && !y->is_float) return ordered_numbers(op, x->integer, y->integer);
    return ordered_numbers(op, x->as_double(), y->as_double());
  }
  if (a.is_string() && b.is_string()) {
    return ordered_strings(op, a.get_ref<const std::string&>(), b.get_ref<const std::string&>());
  }
  if (a.is_array() && b.is_array()) {
    std::size_t common = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < common; ++i) {
      if (!equal(a[i], b[i])) return order(op, a[i], b[i]);
    }
    return ordered_numbers(op, a.size(), b.size());
  }
  throw EvalError("'" + std::string(compare_text(op)) + "' not supported between instances of '" +
                  std::string(type_name(a)) + "' and '" + std::string(type_name(b)) + "'");
}

bool contains(const json& container, const json& item) {
  switch (container.type()) {
    case json::value_t::string:
      if (!item.is_string()) {
        throw EvalError("'in <string>' requires string as left operand, not " +
                        std::string(type_name(item)));
      }
      return container.get_ref<const std::string&>().find(item.get_ref<const std::string&>()) !=
             std::string::npos;
    case json::value_t::array:
      for (const auto& element : container) {
        if (equal(element, item)) return true;
      }
      return false;
    case json::value_t::object:
      return item.is_string() && container.contains(item.get_ref<const std::string&>());
    default:
      throw EvalError("argument of type '" + std::string(type_name(container)) +
                      "' is not iterable");
  }
}

void check_size(std::size_t size, std::size_t max_size) {
  if (max_size != 0 && size > max_size) {
    throw EvalError("result of " + std::to_string(size) + " bytes or items passes max_size");
  }
}

Value binary(BinaryOp op, Value&& a, Value&& b, std::size_t max_size) {
  const json& x = a.get();
  const json& y = b.get();
  if (op == BinaryOp::kModulo && x.is_string()) {
    return Value(percent_format(x.get_ref<const std::string&>(), y, max_size));
  }
  auto number_x = to_number(x);
  auto number_y = to_number(y);
  if (number_x && number_y) return Value(arithmetic(op, *number_x, *number_y));
  if (op == BinaryOp::kAdd) {
    if (x.is_string() && y.is_string()) {
      const auto& right = y.get_ref<const std::string&>();
      check_size(x.get_ref<const std::string&>().size() + right.size(), max_size);
      json result = std::move(a).take();
      result.get_ref<std::string&>() += right;
      return Value(std::move(result));
    }
    if (x.is_array() && y.is_array()) {
      check_size(x.size() + y.size(), max_size);
      json result = std::move(a).take();
      auto& items = result.get_ref<json::array_t&>();
      if (b.owned()) {
        for (auto& item : b.mutable_owned()) items.push_back(std::move(item));
      } else {
        items.insert(items.end(), y.begin(), y.end());
      }
      return Value(std::move(result));
    }
  }
  if (op == BinaryOp::kMultiply) {
    if ((x.is_string() || x.is_array()) && number_y && !number_y->is_float) {
      return Value(repeat(x, number_y->integer, max_size));
    }
    if ((y.is_string() || y.is_array()) && number_x && !number_x->is_float) {
      return Value(repeat(y, number_x->integer, max_size));
    }
  }
  unsupported(op_text(op), x, y);
}

std::size_t utf8_length(std::string_view s) {
  std::size_t count = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
  }
  return count;
}

std::size_t utf8_offset(std::string_view s, std::size_t index) {
  std::size_t seen = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && seen++ == index) return i;
  }
  return s.size();
}

}  // namespace squall::web::detail
