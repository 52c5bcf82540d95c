#pragma once
// Values while rendering, and Python's semantics on JSON: truthiness, str(), equality, ordering,
// `in`, arithmetic, `%` formatting. Errors are EvalError, which the renderer turns into a
// RenderError naming the template and line.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "squall/util/json.hpp"
#include "web/template_ast.hpp"

namespace squall::web::detail {

// A failed operation (Python's TypeError, KeyError, ZeroDivisionError...) inside an expression.
class EvalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The result of evaluating an expression: either a JSON value it owns, or a borrowed pointer to
// one that outlives it, so a name or member lookup does not copy. A borrow from the render's
// values or the template's literals lasts the whole render; a borrow from a local variable only
// until the next {% set %} or loop turn (`borrows_local`), so the renderer copies those it keeps.
class Value {
 public:
  Value() = default;
  explicit Value(json owned) : owned_(std::move(owned)) {}

  static Value borrow(const json& target, bool local) {
    Value value;
    value.ref_ = &target;
    value.local_ = local;
    return value;
  }

  const json& get() const { return ref_ ? *ref_ : owned_; }
  const json* operator->() const { return &get(); }
  bool owned() const { return ref_ == nullptr; }
  bool borrows_local() const { return ref_ != nullptr && local_; }
  // The owned value, to move parts out of; only when owned().
  json& mutable_owned() { return owned_; }

  // The value, moved out if owned, copied if borrowed.
  json take() && { return ref_ ? *ref_ : std::move(owned_); }

  // A Value that stays valid while locals change: the same borrow, or a copy of a local.
  Value stable() && {
    if (borrows_local()) return Value(*ref_);
    return std::move(*this);
  }

 private:
  const json* ref_ = nullptr;
  json owned_;
  bool local_ = false;
};

// Python's type names, for messages.
std::string_view type_name(const json& value);

bool truthy(const json& value);

// Appends Python's str(value): strings as they are, 1, 2.5, True, None; lists and objects as
// compact JSON.
void append_str(std::string& out, const json& value);
std::string to_str(const json& value);

// A number as Python sees it (booleans are 0 and 1), or nullopt.
struct Number {
  bool is_float;
  std::int64_t integer;
  double real;
  double as_double() const { return is_float ? real : static_cast<double>(integer); }
};
std::optional<Number> to_number(const json& value);

// An integer (an int or a bool). Throws EvalError naming `what` for anything else.
std::int64_t to_integer(const json& value, std::string_view what);

bool equal(const json& a, const json& b);

// Python's `a op b` for the ordering operators (<, <=, >, >=): numbers, strings, and lists
// element by element. Throws EvalError for other types.
bool order(CompareOp op, const json& a, const json& b);

// Python's `item in container`.
bool contains(const json& container, const json& item);

// a op b. `max_size` (0 for none) bounds the strings and lists built.
Value binary(BinaryOp op, Value&& a, Value&& b, std::size_t max_size);

// Python's `format % args` (printf-style formatting).
std::string percent_format(std::string_view format, const json& args, std::size_t max_size);

// Throws EvalError if `size` passes `max_size` (0 for none).
void check_size(std::size_t size, std::size_t max_size);

// The number of UTF-8 characters of `s` (every byte that does not continue a sequence).
std::size_t utf8_length(std::string_view s);
// The byte offset of character `index` of `s` (s.size() past the end).
std::size_t utf8_offset(std::string_view s, std::size_t index);

}  // namespace squall::web::detail
