#pragma once
/// \file
/// Command-line and config-file options, as Tornado's `tornado.options`: any file defines the
/// options it needs (`define<int>("port", 8888, "listen on this port")`), `main` parses the command
/// line
/// (`--port=8000`) or a config file (`port = 8000`) once, and any code reads the values
/// (`get<int>("port")`). `OptionParser` holds one set of options; `options()` is the program's
/// global one, which the module functions use and which also holds the logging options of
/// `squall::log`.
///
/// Value types: `bool`, integers (`int`, `long`, `std::int64_t`, `std::uint16_t`...), `double`,
/// `float`, `std::string`, `std::chrono` durations (written as Tornado writes them: `30s`, `5m`,
/// `1h`, `500ms`, `2d`, `1.5h`, `1h 30m`), `std::vector<T>` of those for options taking several
/// values (Tornado's `multiple=True`: `--ports=8000,8001` or `--ports=8000:8003` for integers), and
/// `std::optional<T>` for an option whose default is "not given" (Tornado's `None`).
///
/// Threads: define and parse at start-up on one thread, before other threads read the values;
/// nothing here takes a lock.

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <limits>
#include <memory>
#include <optional>
#include "squall/util/source_location.hpp"
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <variant>
#include <vector>

#include "squall/util/error.hpp"

namespace squall::options {

/// An option was defined twice, is unknown, was given a value that its type cannot hold, or was
/// read with the wrong type. The message names the option and the offending text.
class Error : public squall::Error {
 public:
  using squall::Error::Error;
};

/// Thrown by `OptionParser::parse_command_line` and `parse_config_file` when `--help` was given:
/// the analogue of the `sys.exit(0)` of Tornado's help callback. Not an `options::Error`; the
/// global `parse_command_line` answers it by printing the help and exiting with status 0.
class HelpRequested : public squall::Error {
 public:
  HelpRequested() : squall::Error("help requested") {}
};

namespace detail {

/// What the parser knows about a value type: how to read text into it and the range it holds.
enum class Kind : unsigned char { boolean, integer, floating, string, duration };
enum class Shape : unsigned char { single, optional, multiple };

/// A value as the parser stores it, whatever the declared type: integers widened to 64 bits,
/// durations in nanoseconds.
using Scalar = std::variant<bool, std::int64_t, double, std::string, std::chrono::nanoseconds>;
/// An option's value: one Scalar, none (an empty optional) or several (a vector).
using Values = std::vector<Scalar>;

struct TypeInfo {
  Kind kind;
  Shape shape;
  std::int64_t min;  // integers: the declared type's range; durations: in nanoseconds
  std::int64_t max;
  std::int64_t unit;           // durations with an integer count: nanoseconds per tick; otherwise 0
  const std::type_info* type;  // the declared type, checked by get and set
  const std::type_info* element;  // the scalar inside a vector or optional, for messages
};

template <class T>
struct ScalarTraits;

template <>
struct ScalarTraits<bool> {
  static constexpr Kind kind = Kind::boolean;
  static constexpr std::int64_t min = 0, max = 0, unit = 0;
  static Scalar to(bool value) { return value; }
  static bool from(const Scalar& value) { return std::get<bool>(value); }
};

/// Throws an Error saying that `value` does not fit an option's type.
[[noreturn]] void throw_out_of_range(long double value);

template <class T>
concept IntegerOption =
    std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char> &&
    !std::is_same_v<T, wchar_t> && !std::is_same_v<T, char8_t> && !std::is_same_v<T, char16_t> &&
    !std::is_same_v<T, char32_t>;

template <IntegerOption T>
struct ScalarTraits<T> {
  static constexpr Kind kind = Kind::integer;
  // Values are kept as int64, so unsigned 64-bit options stop at 2^63 - 1.
  static constexpr std::int64_t min = static_cast<std::int64_t>(std::numeric_limits<T>::min());
  static constexpr std::int64_t max =
      static_cast<std::uint64_t>(std::numeric_limits<T>::max()) > std::uint64_t{INT64_MAX}
          ? INT64_MAX
          : static_cast<std::int64_t>(std::numeric_limits<T>::max());
  static constexpr std::int64_t unit = 0;
  static Scalar to(T value) {
    if (static_cast<long double>(value) > static_cast<long double>(max)) {
      throw_out_of_range(static_cast<long double>(value));
    }
    return static_cast<std::int64_t>(value);
  }
  static T from(const Scalar& value) { return static_cast<T>(std::get<std::int64_t>(value)); }
};

template <class T>
requires std::is_floating_point_v<T>
struct ScalarTraits<T> {
  static constexpr Kind kind = Kind::floating;
  static constexpr std::int64_t min = 0, max = 0, unit = 0;
  static Scalar to(T value) { return static_cast<double>(value); }
  static T from(const Scalar& value) { return static_cast<T>(std::get<double>(value)); }
};

template <>
struct ScalarTraits<std::string> {
  static constexpr Kind kind = Kind::string;
  static constexpr std::int64_t min = 0, max = 0, unit = 0;
  static Scalar to(const std::string& value) { return value; }
  static std::string from(const Scalar& value) { return std::get<std::string>(value); }
};

/// Nanoseconds per tick of Period, or 0 when the count is floating-point (any value fits).
template <class Rep, class Period>
constexpr std::int64_t duration_unit() {
  if constexpr (std::is_floating_point_v<Rep>) {
    return 0;
  } else {
    static_assert(Period::num * 1'000'000'000 % Period::den == 0,
                  "an option's duration type must count whole nanoseconds");
    return Period::num * 1'000'000'000 / Period::den;
  }
}

template <class Rep, class Period>
struct ScalarTraits<std::chrono::duration<Rep, Period>> {
  using Duration = std::chrono::duration<Rep, Period>;
  static constexpr Kind kind = Kind::duration;
  static constexpr std::int64_t unit = duration_unit<Rep, Period>();
  static constexpr std::int64_t largest() {
    if constexpr (std::is_floating_point_v<Rep>) {
      return INT64_MAX;
    } else if (static_cast<std::uint64_t>(std::numeric_limits<Rep>::max()) >=
               static_cast<std::uint64_t>(INT64_MAX / unit)) {
      return INT64_MAX;
    } else {
      return static_cast<std::int64_t>(std::numeric_limits<Rep>::max()) * unit;
    }
  }
  static constexpr std::int64_t max = largest();
  static constexpr std::int64_t min = std::is_signed_v<Rep> ? -max : 0;
  static Scalar to(Duration value) {
    // Range-checked in nanoseconds as long double, so that no conversion can overflow first.
    const auto nanoseconds = std::chrono::duration<long double, std::nano>(value).count();
    if (!(nanoseconds <= static_cast<long double>(max) &&
          nanoseconds >= static_cast<long double>(min))) {
      throw_out_of_range(nanoseconds);
    }
    return std::chrono::duration_cast<std::chrono::nanoseconds>(value);
  }
  static Duration from(const Scalar& value) {
    const auto nanoseconds = std::get<std::chrono::nanoseconds>(value);
    if constexpr (unit == 0) {
      return std::chrono::duration_cast<Duration>(nanoseconds);
    } else {
      return Duration(static_cast<Rep>(nanoseconds.count() / unit));
    }
  }
};

template <class T>
concept ScalarOption = requires {
  ScalarTraits<T>::kind;
};

template <class T>
struct OptionTraits;

template <ScalarOption T>
struct OptionTraits<T> {
  using Element = T;
  static constexpr Shape shape = Shape::single;
  static Values to(const T& value) { return {ScalarTraits<T>::to(value)}; }
  static T from(const Values& values) { return ScalarTraits<T>::from(values.front()); }
};

template <ScalarOption T>
struct OptionTraits<std::optional<T>> {
  using Element = T;
  static constexpr Shape shape = Shape::optional;
  static Values to(const std::optional<T>& value) {
    return value ? Values{ScalarTraits<T>::to(*value)} : Values{};
  }
  static std::optional<T> from(const Values& values) {
    if (values.empty()) return std::nullopt;
    return ScalarTraits<T>::from(values.front());
  }
};

template <ScalarOption T>
struct OptionTraits<std::vector<T>> {
  using Element = T;
  static constexpr Shape shape = Shape::multiple;
  static Values to(const std::vector<T>& value) {
    Values values;
    values.reserve(value.size());
    for (const auto& item : value) values.push_back(ScalarTraits<T>::to(item));
    return values;
  }
  static std::vector<T> from(const Values& values) {
    std::vector<T> result;
    result.reserve(values.size());
    for (const auto& item : values) result.push_back(ScalarTraits<T>::from(item));
    return result;
  }
};

template <class T>
inline constexpr TypeInfo kTypeInfo = {ScalarTraits<typename OptionTraits<T>::Element>::kind,
                                       OptionTraits<T>::shape,
                                       ScalarTraits<typename OptionTraits<T>::Element>::min,
                                       ScalarTraits<typename OptionTraits<T>::Element>::max,
                                       ScalarTraits<typename OptionTraits<T>::Element>::unit,
                                       &typeid(T),
                                       &typeid(typename OptionTraits<T>::Element)};

/// define's `multiple`: takes a bool and nothing else, so that a callback written one place too
/// early is a compile error rather than a lambda converted to `true`.
struct Multiple {
  constexpr Multiple(bool multiple) : value(multiple) {}  // NOLINT: implicit by design
  template <class U>
  Multiple(U) = delete;
  bool value;
};

}  // namespace detail

/// A type an option can hold: a scalar (bool, integer, floating-point, std::string, std::chrono
/// duration), or a std::vector or std::optional of one.
template <class T>
concept OptionType = requires {
  detail::OptionTraits<T>::shape;
};

/// A collection of options: defined once each, then set by parsing, read by name. Names are
/// case-sensitive and `_` and `-` are the same letter in them (`log_file_prefix` is
/// `--log-file-prefix`), as in Tornado. Every parser has the option `--help`.
class OptionParser {
 public:
  OptionParser();
  ~OptionParser();
  OptionParser(const OptionParser&) = delete;
  OptionParser& operator=(const OptionParser&) = delete;

  /// Defines an option holding a T, with its default value and help text. `group` titles the
  /// option's section of the help; by default the section is the file that calls define. A
  /// vector T takes several values (Tornado's `multiple`): `multiple` says the same thing and
  /// must agree with T. `callback` runs with the new value whenever the option is set, by parsing
  /// or `set`. `metavar` names the value in the help (`--port=PORT`); by default INT, FLOAT, STR
  /// or DURATION, and nothing for a bool. Throws Error if the name is empty, starts with `-` or
  /// `_`, holds `=` or a space, or is already defined (with `_` and `-` counted as one), if
  /// `multiple` disagrees with T, or if the default does not fit (an unsigned value past 2^63).
  template <OptionType T>
  void define(std::string_view name, T default_value = T{}, std::string_view help = {},
              std::string_view group = {},
              detail::Multiple multiple = detail::OptionTraits<T>::shape == detail::Shape::multiple,
              std::type_identity_t<std::function<void(const T&)>> callback = {},
              std::string_view metavar = {},
              squall::source_location where = squall::source_location::current()) {
    std::function<void(const detail::Values&)> on_set;
    if (callback) {
      on_set = [callback = std::move(callback)](const detail::Values& values) {
        callback(detail::OptionTraits<T>::from(values));
      };
    }
    define_option(name, detail::kTypeInfo<T>, detail::OptionTraits<T>::to(default_value), help,
                  group, multiple.value, std::move(on_set), metavar, where);
  }

  /// The value of the option (its default until something sets it). Throws Error if no option has
  /// this name or if T is not the type it was defined with.
  template <OptionType T>
  T get(std::string_view name) const {
    return detail::OptionTraits<T>::from(value_of(name, detail::kTypeInfo<T>));
  }

  /// Sets the option and runs its callback. Throws Error if no option has this name or if T is not
  /// the type it was defined with.
  template <OptionType T>
  void set(std::string_view name, const T& value) {
    assign(name, detail::kTypeInfo<T>, detail::OptionTraits<T>::to(value));
  }

  /// Whether an option of this name (`_` and `-` alike) is defined.
  bool contains(std::string_view name) const;

  /// Parses `--name=value` arguments (`args[0]` is the program's name and skipped) and returns the
  /// arguments after the options: options end at the first argument that does not start with `-`
  /// (a lone `-` counts as such an argument) or after `--`. A bool option may be given alone
  /// (`--debug` is `--debug=true`); any other option takes `=value` in the same argument or, as
  /// getopt and argparse allow (Tornado's parser does not), the next argument unless that starts
  /// with `--` (`--port 8888`, `--offset -5`). If
  /// `final`, runs the parse callbacks afterwards. Throws Error for an unknown option, a missing
  /// or bad value, and HelpRequested for `--help`; options before the bad one stay set.
  std::vector<std::string> parse_command_line(const std::vector<std::string>& args,
                                              bool final = true);
  /// The same for `main`'s arguments.
  std::vector<std::string> parse_command_line(int argc, const char* const* argv, bool final = true);

  /// Reads `name = value` lines from a config file: `#` starts a comment, a string may be quoted
  /// with `'` or `"` (with backslash escapes), a vector option takes a list `[a, b]` (which may
  /// span lines) or comma-separated values, and an optional one takes `None`. Values are read as
  /// on the command line. If `final`, runs the parse callbacks afterwards. Throws Error naming the
  /// file and line for an unknown option, a bad line or value, or a file that cannot be read.
  void parse_config_file(const std::string& path, bool final = true);

  /// Writes the help: a line per option (`--name=METAVAR  help (default X)`), in sections by group
  /// sorted by name, options sorted by name within them, as Tornado's `print_help`.
  void print_help(std::ostream& out) const;

  /// Adds a function to run after every parse whose `final` is true (in order of addition).
  void add_parse_callback(std::function<void()> callback);
  /// Runs the parse callbacks, as the parse functions do when `final`.
  void run_parse_callbacks();

 private:
  struct Impl;

  void define_option(std::string_view name, const detail::TypeInfo& type,
                     detail::Values default_value, std::string_view help, std::string_view group,
                     bool multiple, std::function<void(const detail::Values&)> callback,
                     std::string_view metavar, const squall::source_location& where);
  const detail::Values& value_of(std::string_view name, const detail::TypeInfo& type) const;
  void assign(std::string_view name, const detail::TypeInfo& type, detail::Values values);

  std::unique_ptr<Impl> impl_;
};

/// The program's global options. On first use it defines the logging options of
/// `squall::log::define_logging_options`, whose parse callback configures squall's loggers, so
/// `--logging=debug` or `--log_file_prefix=...` work in every program that parses its command line.
OptionParser& options();

/// Defines an option in the global options: see `OptionParser::define`.
template <OptionType T>
void define(std::string_view name, T default_value = T{}, std::string_view help = {},
            std::string_view group = {},
            detail::Multiple multiple = detail::OptionTraits<T>::shape == detail::Shape::multiple,
            std::type_identity_t<std::function<void(const T&)>> callback = {},
            std::string_view metavar = {},
            squall::source_location where = squall::source_location::current()) {
  options().define<T>(name, std::move(default_value), help, group, multiple, std::move(callback),
                      metavar, where);
}

/// The value of a global option: see `OptionParser::get`.
template <OptionType T>
T get(std::string_view name) {
  return options().get<T>(name);
}

/// Sets a global option: see `OptionParser::set`.
template <OptionType T>
void set(std::string_view name, const T& value) {
  options().set<T>(name, value);
}

/// Parses the command line into the global options and returns the remaining arguments (see
/// `OptionParser::parse_command_line`). Does not return on a bad command line: prints
/// `error: <message>` and a hint to use `--help` to stderr and exits with status 2. For `--help`,
/// prints the help to stdout and exits with status 0.
std::vector<std::string> parse_command_line(int argc, const char* const* argv, bool final = true);

/// Parses a config file into the global options: see `OptionParser::parse_config_file` (throws
/// Error).
void parse_config_file(const std::string& path, bool final = true);

/// Prints the help of the global options to stdout.
void print_help();
/// Prints the help of the global options to `out`.
void print_help(std::ostream& out);

/// Adds a function to run after the global options are parsed.
void add_parse_callback(std::function<void()> callback);

}  // namespace squall::options
