#include "squall/util/log.hpp"

#include <cxxabi.h>
#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/daily_file_sink.h>
#include <spdlog/sinks/hourly_file_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "squall/util/error.hpp"
#include "squall/util/options.hpp"

namespace squall::log {
namespace {

// The `module:line` of Tornado's format: the source file's name without its extension and the
// line, when the call passed them, else the logger's name.
class WhereFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& message, const std::tm&,
              spdlog::memory_buf_t& out) override {
    if (message.source.empty()) {
      out.append(message.logger_name.data(),
                 message.logger_name.data() + message.logger_name.size());
      return;
    }
    std::string_view file = message.source.filename;
    if (const auto slash = file.find_last_of('/'); slash != std::string_view::npos) {
      file.remove_prefix(slash + 1);
    }
    if (const auto dot = file.find_last_of('.'); dot != std::string_view::npos && dot > 0) {
      file = file.substr(0, dot);
    }
    out.append(file.data(), file.data() + file.size());
    fmt::format_to(std::back_inserter(out), ":{}", message.source.line);
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<WhereFlag>();
  }
};

// Tornado's layout: [level-letter yymmdd hh:mm:ss module:line] message, the bracket colored.
std::unique_ptr<spdlog::formatter> make_formatter() {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<WhereFlag>('*').set_pattern("%^[%L %C%m%d %H:%M:%S %*]%$ %v");
  return formatter;
}

std::shared_ptr<spdlog::logger> make_logger(const char* name) {
  if (auto existing = spdlog::get(name)) return existing;
  static const auto sink = [] {
    auto stderr_sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    stderr_sink->set_formatter(make_formatter());
    return stderr_sink;
  }();
  auto logger = std::make_shared<spdlog::logger>(name, sink);
  spdlog::register_logger(logger);
  return logger;
}

constexpr std::string_view kLevels = "debug|info|warning|error|none";

// The level named by Tornado's --logging, nothing for "none"; an error message for a bad name.
struct Level {
  std::optional<spdlog::level::level_enum> level;
  std::string error;
};

std::string lower(std::string_view text) {
  std::string word(text);
  for (auto& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return word;
}

Level parse_level(std::string_view name) {
  const auto word = lower(name);
  if (word == "debug") return {spdlog::level::debug, {}};
  if (word == "info") return {spdlog::level::info, {}};
  if (word == "warning" || word == "warn") return {spdlog::level::warn, {}};
  if (word == "error") return {spdlog::level::err, {}};
  if (word == "critical") return {spdlog::level::critical, {}};
  if (word == "none") return {std::nullopt, {}};
  return {std::nullopt, fmt::format("'{}' is not a log level ({})", name, kLevels)};
}

// Each returns why the value cannot be used, or an empty string; shared by the options' parse-time
// checks and enable_pretty_logging.
std::string check_rotate_mode(std::string_view mode) {
  if (mode == "size" || mode == "time") return {};
  return fmt::format("'{}' is not a rotate mode (size or time)", mode);
}

std::string check_rotate_when(std::string_view when) {
  const auto word = lower(when);
  if (word == "midnight" || word == "d" || word == "h") return {};
  return fmt::format("'{}' is not a rotation period squall supports (midnight, D or H)", when);
}

std::string check_rotate_interval(int interval) {
  if (interval == 1) return {};
  return fmt::format("'{}' is not supported: files rotate every day or every hour (1)", interval);
}

std::string check_max_size(std::int64_t size) {
  if (size >= 0) return {};
  return fmt::format("'{}' is not a size (0 or more bytes)", size);
}

std::string check_backups(int backups) {
  if (backups >= 0 && backups <= 65535) return {};
  return fmt::format("'{}' is not a number of backups (0 to 65535)", backups);
}

spdlog::sink_ptr make_file_sink(const LogSettings& settings) {
  const auto& path = settings.log_file_prefix;
  if (settings.log_rotate_mode == "size") {
    if (settings.log_file_max_size == 0) {
      return std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
    }
    return std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        path, static_cast<std::size_t>(settings.log_file_max_size),
        static_cast<std::size_t>(settings.log_file_num_backups));
  }
  const auto backups = static_cast<std::uint16_t>(settings.log_file_num_backups);
  if (lower(settings.log_rotate_when) == "h") {
    return std::make_shared<spdlog::sinks::hourly_file_sink_mt>(path, false, backups);
  }
  return std::make_shared<spdlog::sinks::daily_file_sink_mt>(path, 0, 0, false, backups);
}

// A parse-time check as an option callback: the message names the option and the value.
template <class T, class Check>
std::function<void(const T&)> checked(std::string name, Check check) {
  return [name = std::move(name), check](const T& value) {
    if (auto problem = check(value); !problem.empty()) {
      throw options::Error(fmt::format("option {}: {}", name, problem));
    }
  };
}

std::string check_level(std::string_view name) {
  return parse_level(name).error;
}

}  // namespace

spdlog::logger& access_log() {
  static const auto logger = make_logger("squall.access");
  return *logger;
}

spdlog::logger& app_log() {
  static const auto logger = make_logger("squall.application");
  return *logger;
}

spdlog::logger& gen_log() {
  static const auto logger = make_logger("squall.general");
  return *logger;
}

std::string demangle(const char* mangled_name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(mangled_name, nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(mangled_name);
}

std::string describe(const std::exception_ptr& error) {
  if (!error) return "no exception";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return demangle(typeid(e).name()) + ": " + e.what();
  } catch (...) {
    return "unknown exception";
  }
}

LogSettings LogSettings::from_options(const options::OptionParser& parser) {
  LogSettings settings;
  settings.logging = parser.get<std::string>("logging");
  settings.log_to_stderr = parser.get<std::optional<bool>>("log_to_stderr");
  settings.log_file_prefix = parser.get<std::string>("log_file_prefix");
  settings.log_rotate_mode = parser.get<std::string>("log_rotate_mode");
  settings.log_file_max_size = parser.get<std::int64_t>("log_file_max_size");
  settings.log_file_num_backups = parser.get<int>("log_file_num_backups");
  settings.log_rotate_when = parser.get<std::string>("log_rotate_when");
  settings.log_rotate_interval = parser.get<int>("log_rotate_interval");
  return settings;
}

void define_logging_options(options::OptionParser& parser) {
  // A group of its own: the default, this file's path on the build machine, means nothing to users.
  constexpr std::string_view kGroup = "logging";
  const LogSettings defaults;
  parser.define<std::string>(
      "logging", defaults.logging,
      "Set the level of squall's loggers. If 'none', squall won't touch the logging "
      "configuration.",
      kGroup, false, checked<std::string>("logging", &check_level), kLevels);
  parser.define<std::optional<bool>>(
      "log_to_stderr", defaults.log_to_stderr,
      "Send log output to stderr (colorized if possible). By default use stderr if "
      "--log_file_prefix is not set.",
      kGroup);
  parser.define<std::string>(
      "log_file_prefix", defaults.log_file_prefix,
      "Path prefix for log files. Note that if you are running multiple squall processes, "
      "log_file_prefix must be different for each of them (e.g. include the port number)",
      kGroup, false, {}, "PATH");
  parser.define<std::int64_t>("log_file_max_size", defaults.log_file_max_size,
                              "max size of log files before rollover", kGroup, false,
                              checked<std::int64_t>("log_file_max_size", &check_max_size));
  parser.define<int>("log_file_num_backups", defaults.log_file_num_backups,
                     "number of log files to keep", kGroup, false,
                     checked<int>("log_file_num_backups", &check_backups));
  parser.define<std::string>(
      "log_rotate_when", defaults.log_rotate_when,
      "specify the period of timed rotation: midnight, D (daily) or H (hourly)", kGroup, false,
      checked<std::string>("log_rotate_when", &check_rotate_when));
  parser.define<int>("log_rotate_interval", defaults.log_rotate_interval,
                     "the interval of timed rotation, in days or hours (only 1)", kGroup, false,
                     checked<int>("log_rotate_interval", &check_rotate_interval));
  parser.define<std::string>("log_rotate_mode", defaults.log_rotate_mode,
                             "The mode of rotating files (time or size)", kGroup, false,
                             checked<std::string>("log_rotate_mode", &check_rotate_mode));
  parser.add_parse_callback([&parser] {
    try {
      enable_pretty_logging(parser);
    } catch (const options::Error&) {
      throw;
    } catch (const std::exception& error) {
      throw options::Error(fmt::format("cannot set up logging: {}", error.what()));
    }
  });
}

void enable_pretty_logging(const LogSettings& settings) {
  const auto level = parse_level(settings.logging);
  if (!level.error.empty()) throw ValueError("logging: " + level.error);
  if (!level.level) return;
  std::vector<spdlog::sink_ptr> sinks;
  if (!settings.log_file_prefix.empty()) {
    for (const auto& problem :
         {check_rotate_mode(settings.log_rotate_mode), check_max_size(settings.log_file_max_size),
          check_backups(settings.log_file_num_backups)}) {
      if (!problem.empty()) throw ValueError(problem);
    }
    if (settings.log_rotate_mode == "time") {
      for (const auto& problem : {check_rotate_when(settings.log_rotate_when),
                                  check_rotate_interval(settings.log_rotate_interval)}) {
        if (!problem.empty()) throw ValueError(problem);
      }
    }
    sinks.push_back(make_file_sink(settings));
  }
  if (settings.log_to_stderr.value_or(settings.log_file_prefix.empty())) {
    sinks.push_back(
        std::make_shared<spdlog::sinks::stderr_color_sink_mt>(spdlog::color_mode::automatic));
  }
  for (const auto& sink : sinks) sink->set_formatter(make_formatter());
  for (auto* logger : {&access_log(), &app_log(), &gen_log()}) {
    logger->sinks() = sinks;
    logger->set_level(*level.level);
    // A file is written through a buffer: warnings and errors reach it at once, other lines
    // within a second (a flush per access line would cost a system call per request).
    logger->flush_on(spdlog::level::warn);
  }
  if (!settings.log_file_prefix.empty()) spdlog::flush_every(std::chrono::seconds(1));
}

void enable_pretty_logging(const options::OptionParser& parser) {
  enable_pretty_logging(LogSettings::from_options(parser));
}

void log_request_line(int status, std::string_view method, std::string_view uri,
                      std::string_view remote_ip, double request_time_ms,
                      squall::source_location where) {
  auto& logger = access_log();
  const auto level = status < 400   ? spdlog::level::info
                     : status < 500 ? spdlog::level::warn
                                    : spdlog::level::err;
  if (!logger.should_log(level)) return;
  logger.log(
      spdlog::source_loc{where.file_name(), static_cast<int>(where.line()), where.function_name()},
      level, "{} {} {} ({}) {:.2f}ms", status, method, uri, remote_ip, request_time_ms);
}

}  // namespace squall::log
