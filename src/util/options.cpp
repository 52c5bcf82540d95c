// OptionParser: definitions, typed access, the command line, the help, and the global parser.

#include "squall/util/options.hpp"

#include <errno.h>  // program_invocation_name
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "squall/util/log.hpp"
#include "util/options_impl.hpp"

namespace squall::options {
namespace {

using detail::Option;

constexpr std::size_t kHelpWidth = 79 - 35;  // Tornado's: descriptions start at column 35
constexpr std::size_t kPrefixWidth = 30;

// Greedy word wrap; a word longer than a line is cut, as Python's textwrap does.
std::vector<std::string> wrap(std::string_view text, std::size_t width) {
  std::vector<std::string> lines;
  std::string line;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto start = text.find_first_not_of(" \t\r\n", i);
    if (start == std::string_view::npos) break;
    auto end = text.find_first_of(" \t\r\n", start);
    if (end == std::string_view::npos) end = text.size();
    auto word = text.substr(start, end - start);
    i = end;
    while (!word.empty()) {
      const auto needed = line.empty() ? word.size() : line.size() + 1 + word.size();
      if (needed <= width) {
        if (!line.empty()) line += ' ';
        line.append(word);
        break;
      }
      if (!line.empty()) {
        lines.push_back(std::move(line));
        line.clear();
        continue;
      }
      line.append(word.substr(0, width));
      word.remove_prefix(width);
      lines.push_back(std::move(line));
      line.clear();
    }
  }
  if (!line.empty()) lines.push_back(std::move(line));
  return lines;
}

void check_name(std::string_view name) {
  if (name.empty() || name.front() == '-' || name.front() == '_' ||
      name.find_first_of("= \t\r\n") != std::string_view::npos) {
    throw Error(fmt::format(
        "cannot define option '{}': a name is not empty, does not start with '-' or '_' and has "
        "no '=' or spaces",
        name));
  }
}

}  // namespace

detail::Option* OptionParser::Impl::find(std::string_view name) {
  const auto it = options.find(detail::normalize_name(name));
  return it == options.end() ? nullptr : &it->second;
}

void OptionParser::Impl::store(detail::Option& option, detail::Values values) {
  option.value = std::move(values);
  if (option.callback) option.callback(option.value);
}

OptionParser::OptionParser() : impl_(std::make_unique<Impl>()) {
  // Tornado's help option: its default is None, so the help shows no default for it.
  const auto& type = detail::kTypeInfo<std::optional<bool>>;
  Option help{.name = "help",
              .type = &type,
              .value = {},
              .default_value = {},
              .help = "show this help information",
              .metavar = {},
              .group = {},
              .defined_at = "squall::options::OptionParser",
              .callback = [](const detail::Values& values) {
                if (!values.empty() && std::get<bool>(values.front())) throw HelpRequested();
              }};
  impl_->options.emplace(help.name, std::move(help));
}

OptionParser::~OptionParser() = default;

void OptionParser::define_option(std::string_view name, const detail::TypeInfo& type,
                                 detail::Values default_value, std::string_view help,
                                 std::string_view group, bool multiple,
                                 std::function<void(const detail::Values&)> callback,
                                 std::string_view metavar, const squall::source_location& where) {
  check_name(name);
  auto normalized = detail::normalize_name(name);
  const bool is_vector = type.shape == detail::Shape::multiple;
  if (multiple && !is_vector) {
    throw Error(
        fmt::format("cannot define option '{}': multiple needs a std::vector type "
                    "(define<std::vector<{}>>)",
                    normalized, detail::type_name(type)));
  }
  if (!multiple && is_vector) {
    throw Error(
        fmt::format("cannot define option '{}': a {} takes several values, so multiple "
                    "cannot be false",
                    normalized, detail::type_name(type)));
  }
  if (const auto* existing = impl_->find(normalized)) {
    throw Error(fmt::format("option '{}' already defined in {}", normalized, existing->defined_at));
  }
  Option option{.name = normalized,
                .type = &type,
                .value = default_value,
                .default_value = std::move(default_value),
                .help = std::string(help),
                .metavar = std::string(metavar),
                .group = group.empty()
                             ? std::filesystem::path(where.file_name()).lexically_normal().string()
                             : std::string(group),
                .defined_at = fmt::format("{}:{}", where.file_name(), where.line()),
                .callback = std::move(callback)};
  impl_->options.emplace(std::move(normalized), std::move(option));
}

const detail::Values& OptionParser::value_of(std::string_view name,
                                             const detail::TypeInfo& type) const {
  const auto* option = impl_->find(name);
  if (option == nullptr) throw Error(fmt::format("unrecognized option '{}'", name));
  if (*option->type->type != *type.type) {
    throw Error(fmt::format("option '{}' is of type {}, not {}", option->name,
                            detail::type_name(*option->type), detail::type_name(type)));
  }
  return option->value;
}

void OptionParser::assign(std::string_view name, const detail::TypeInfo& type,
                          detail::Values values) {
  value_of(name, type);  // the same checks
  Impl::store(*impl_->find(name), std::move(values));
}

bool OptionParser::contains(std::string_view name) const {
  return impl_->find(name) != nullptr;
}

std::vector<std::string> OptionParser::parse_command_line(const std::vector<std::string>& args,
                                                          bool final) {
  if (!args.empty()) impl_->program = args.front();
  std::vector<std::string> remaining;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--") {
      remaining.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (arg.size() < 2 || arg.front() != '-') {
      remaining.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      break;
    }
    const auto body = arg.substr(arg.find_first_not_of('-') == std::string_view::npos
                                     ? arg.size()
                                     : arg.find_first_not_of('-'));
    const auto equals = body.find('=');
    const auto name = body.substr(0, equals);
    // The option as the user wrote it, dashes included, for messages.
    const auto written = arg.substr(0, arg.size() - body.size() + name.size());
    auto* option = impl_->find(name);
    if (option == nullptr) {
      throw Error(fmt::format("unrecognized command line option '{}'", written));
    }
    std::string_view value;
    if (equals != std::string_view::npos) {
      value = body.substr(equals + 1);
    } else if (option->type->kind == detail::Kind::boolean) {
      value = "true";
    } else if (i + 1 < args.size() && !args[i + 1].starts_with("--")) {
      // `--port 8888`, as getopt and argparse accept (Tornado's parser does not): the next
      // argument is the value, even one starting with a single dash (a negative number).
      value = args[++i];
    } else {
      const auto metavar =
          option->metavar.empty() ? detail::default_metavar(*option->type) : option->metavar;
      throw Error(fmt::format("option {} needs a value: {}={}", written, written, metavar));
    }
    Impl::store(*option, detail::parse_values(*option->type, value, written));
  }
  if (final) run_parse_callbacks();
  return remaining;
}

std::vector<std::string> OptionParser::parse_command_line(int argc, const char* const* argv,
                                                          bool final) {
  std::vector<std::string> args;
  args.reserve(argc > 0 ? static_cast<std::size_t>(argc) : 0);
  for (int i = 0; i < argc; ++i) args.emplace_back(argv[i] != nullptr ? argv[i] : "");
  return parse_command_line(args, final);
}

void OptionParser::print_help(std::ostream& out) const {
  const std::string_view program =
      impl_->program.empty() ? std::string_view(program_invocation_name) : impl_->program;
  out << "Usage: " << program << " [OPTIONS]\n\nOptions:\n\n";
  // The options map is sorted by name, so each group's list comes out sorted too.
  std::map<std::string_view, std::vector<const Option*>> by_group;
  for (const auto& [name, option] : impl_->options) by_group[option.group].push_back(&option);
  for (const auto& [group, members] : by_group) {
    if (!group.empty()) out << '\n' << group << " options:\n\n";
    for (const auto* option : members) {
      auto prefix = option->name;
      const auto metavar =
          option->metavar.empty() ? detail::default_metavar(*option->type) : option->metavar;
      if (!metavar.empty()) prefix.append("=").append(metavar);
      auto description = option->help;
      const auto default_text = detail::format_values(option->default_value);
      if (!default_text.empty()) {
        if (!description.empty()) description += ' ';
        description.append("(default ").append(default_text).append(")");
      }
      auto lines = wrap(description, kHelpWidth);
      if (prefix.size() > kPrefixWidth || lines.empty()) lines.insert(lines.begin(), "");
      std::string first = "  --" + prefix;
      if (!lines.front().empty()) {
        first.resize(4 + kPrefixWidth, ' ');
        first.append(" ").append(lines.front());
      }
      out << first << '\n';
      for (std::size_t i = 1; i < lines.size(); ++i) {
        out << std::string(4 + kPrefixWidth + 1, ' ') << lines[i] << '\n';
      }
    }
  }
  out << '\n';
}

void OptionParser::add_parse_callback(std::function<void()> callback) {
  impl_->parse_callbacks.push_back(std::move(callback));
}

void OptionParser::run_parse_callbacks() {
  // By index: a callback may add another.
  for (std::size_t i = 0; i < impl_->parse_callbacks.size(); ++i) {
    auto callback = impl_->parse_callbacks[i];
    callback();
  }
}

OptionParser& options() {
  static OptionParser& parser = []() -> OptionParser& {
    static OptionParser instance;
    log::define_logging_options(instance);
    return instance;
  }();
  return parser;
}

std::vector<std::string> parse_command_line(int argc, const char* const* argv, bool final) {
  auto& parser = options();
  try {
    return parser.parse_command_line(argc, argv, final);
  } catch (const HelpRequested&) {
    parser.print_help(std::cout);
    std::cout.flush();
    std::exit(0);
  } catch (const Error& error) {
    const std::string_view program =
        argc > 0 && argv[0] != nullptr ? argv[0] : program_invocation_name;
    std::cerr << "error: " << error.what() << "\n(run '" << program
              << " --help' for the list of options)\n";
    std::cerr.flush();
    std::exit(2);
  }
}

void parse_config_file(const std::string& path, bool final) {
  options().parse_config_file(path, final);
}

void print_help() {
  options().print_help(std::cout);
}

void print_help(std::ostream& out) {
  options().print_help(out);
}

void add_parse_callback(std::function<void()> callback) {
  options().add_parse_callback(std::move(callback));
}

}  // namespace squall::options
