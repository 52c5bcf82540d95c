#pragma once
// The parts of OptionParser that its source files share: the stored option, the parser's state,
// and the conversions between text and stored values.

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "squall/util/options.hpp"

namespace squall::options::detail {

struct Option {
  std::string name;  // normalized: '-' where the definition may have said '_'
  const TypeInfo* type;
  Values value;
  Values default_value;
  std::string help;
  std::string metavar;
  std::string group;
  std::string defined_at;  // file:line of the define call, for the "defined twice" error
  std::function<void(const Values&)> callback;
};

/// The option name with every '_' turned into '-', the form options are stored under.
std::string normalize_name(std::string_view name);

/// `text` without the whitespace around it.
std::string_view trim(std::string_view text);

/// Reads one value of the option's element type from `text`. Throws Error
/// "option <label>: <why>" quoting the text.
Scalar parse_scalar(const TypeInfo& type, std::string_view text, std::string_view label);

/// Reads a value as the command line gives it: one scalar, or for a vector option
/// comma-separated items (empty text is an empty list) where an integer item may be a range
/// `first:last` (both included). Throws Error as parse_scalar.
Values parse_values(const TypeInfo& type, std::string_view text, std::string_view label);

/// The value as the help shows it; empty for an empty string, list or optional.
std::string format_values(const Values& values);

/// The declared type for messages: "int", "std::vector<std::string>",
/// "std::chrono::seconds".
std::string type_name(const TypeInfo& type);

/// The help's placeholder for a value of the type when the definition gave none: "INT",
/// "STR[,STR...]", and nothing for a bool, which may be given alone.
std::string default_metavar(const TypeInfo& type);

}  // namespace squall::options::detail

namespace squall::options {

struct OptionParser::Impl {
  std::map<std::string, detail::Option, std::less<>> options;
  std::vector<std::function<void()>> parse_callbacks;
  std::string program;  // argv[0] of the last command line, for the help's usage line

  /// The option of this name (any mix of '_' and '-'), or null.
  detail::Option* find(std::string_view name);
  /// Sets the option's value, then runs its callback.
  static void store(detail::Option& option, detail::Values values);
};

}  // namespace squall::options
