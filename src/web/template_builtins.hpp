#pragma once
// The functions every template sees (escape, url_escape, json_encode, len, range...) and the
// methods of strings, lists and dicts (s.upper(), d.items()...).

#include <cstddef>
#include <span>
#include <string_view>

#include "web/template_value.hpp"

namespace squall::web::detail {

// What a built-in may need from the render: its size limit.
struct CallContext {
  std::size_t max_size = 0;
};

// A built-in function: the evaluated positional arguments in, the result out. Throws EvalError for
// wrong arguments.
using BuiltinFunction = Value (*)(std::span<Value> args, const CallContext& context);

// The built-in named `name`, or nullptr.
BuiltinFunction find_builtin(std::string_view name);

// True for the built-in behind `escape` and `xhtml_escape`, which the renderer applies directly.
bool is_builtin_xhtml_escape(BuiltinFunction function);

// The method called `name`, or Method::kUnknown.
Method find_method(std::string_view name);

// receiver.name(args...), `method` being find_method(name). Throws EvalError for a method the
// receiver does not have or wrong arguments.
Value call_method(Value&& receiver, Method method, std::string_view name, std::span<Value> args,
                  const CallContext& context);

// Calls `visit(json&&)` for each item of `iterable` as a for loop sees it: list items, dict keys,
// string characters. Moves the items out of an owned value. Throws EvalError if not iterable.
template <typename Visit>
void for_each_item(Value& iterable, Visit&& visit);

// The characters of a string, one UTF-8 sequence each.
template <typename Visit>
void for_each_character(std::string_view text, Visit&& visit) {
  for (std::size_t i = 0; i < text.size();) {
    std::size_t end = i + 1;
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
    visit(text.substr(i, end - i));
    i = end;
  }
}

template <typename Visit>
void for_each_item(Value& iterable, Visit&& visit) {
  const json& value = iterable.get();
  switch (value.type()) {
    case json::value_t::array:
      if (iterable.owned()) {
        for (auto& item : iterable.mutable_owned()) visit(std::move(item));
      } else {
        for (const auto& item : value) visit(json(item));
      }
      return;
    case json::value_t::object:
      for (auto it = value.begin(); it != value.end(); ++it) visit(json(it.key()));
      return;
    case json::value_t::string:
      for_each_character(value.get_ref<const std::string&>(),
                         [&](std::string_view character) { visit(json(character)); });
      return;
    default:
      throw EvalError("'" + std::string(type_name(value)) + "' object is not iterable");
  }
}

}  // namespace squall::web::detail
