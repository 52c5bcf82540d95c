#pragma once
/// \file
/// squall's three loggers, as in Tornado: access (one line per request), application (errors from
/// user code: uncaught exceptions in callbacks and handlers) and general (everything else,
/// including unretrieved Future exceptions). They are spdlog loggers named "squall.access",
/// "squall.application" and "squall.general"; configure them with spdlog's API, or with the
/// logging options (`--logging=debug`, `--log_file_prefix=...`) that every program parsing its
/// command line with `squall::options` has, as in Tornado.
///
/// Lines look like Tornado's: `[I 221126 12:00:00 web:2243] 200 GET / (127.0.0.1) 0.52ms`: the
/// level's letter, the date and time, then the source file and line when the call gave them
/// (spdlog's `SPDLOG_LOGGER_*` macros) or else the logger's name. The bracket is colored by level
/// when stderr is a terminal.

#include <cstdint>
#include <exception>
#include <optional>
#include "squall/util/source_location.hpp"
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace squall::options {
class OptionParser;
OptionParser& options();
}  // namespace squall::options

namespace squall::log {

/// The logger for per-request access lines.
spdlog::logger& access_log();
/// The logger for errors raised by application code (callbacks, handlers).
spdlog::logger& app_log();
/// The logger for everything else squall reports.
spdlog::logger& gen_log();

/// Describes an exception for a log line: "TypeName: what()", or "unknown exception".
std::string describe(const std::exception_ptr& error);

/// Demangles a C++ type name as given by `typeid(T).name()`.
std::string demangle(const char* mangled_name);

/// How `enable_pretty_logging` sets up squall's loggers: the values of Tornado's logging options.
struct LogSettings {
  /// The level: "debug", "info", "warning" (or "warn"), "error", "critical", or "none" to leave
  /// the loggers as they are. Case does not matter.
  std::string logging = "info";
  /// Whether to log to stderr; unset means "when no log file is set".
  std::optional<bool> log_to_stderr;
  /// The log file's path; empty means no log file.
  std::string log_file_prefix;
  /// "size": start a new file when this one would pass log_file_max_size bytes, keeping
  /// log_file_num_backups old ones (`app.log` then `app.1.log`, `app.2.log`...: spdlog puts the
  /// number before the extension). "time": a new file each day or hour (see log_rotate_when).
  std::string log_rotate_mode = "size";
  /// The size a file may reach before rotation (mode "size"); 0 means never rotate.
  std::int64_t log_file_max_size = 100 * 1000 * 1000;
  /// How many rotated files to keep (0 in mode "time": all of them).
  int log_file_num_backups = 10;
  /// Mode "time": "midnight" or "D" for a new file each day (`app_2022-11-26.log`), "H" for each
  /// hour (`app_2022-11-26_13.log`), spdlog's daily and hourly file sinks. Tornado's other
  /// periods (S, M, W0-W6) have no spdlog sink and are rejected.
  std::string log_rotate_when = "midnight";
  /// Mode "time": must be 1 (spdlog's sinks rotate every day or every hour).
  int log_rotate_interval = 1;

  /// The settings held by a parser's logging options (see define_logging_options). Throws
  /// options::Error if they are not defined there.
  static LogSettings from_options(const options::OptionParser& parser);
};

/// Defines Tornado's logging options in `parser`: `logging`, `log_to_stderr`, `log_file_prefix`,
/// `log_file_max_size`, `log_file_num_backups`, `log_rotate_mode`, `log_rotate_when`,
/// `log_rotate_interval`, and a parse callback that calls `enable_pretty_logging(parser)`. The
/// global `options::options()` has them already. Bad values are options::Errors when parsed.
void define_logging_options(options::OptionParser& parser = options::options());

/// Sets the three loggers' level, and their sinks, which they share: stderr (Tornado's format,
/// colored on a terminal) and/or a rotating log file. Replaces the sinks set before, so calling
/// it again does not double the lines. Does nothing for `logging = "none"`. Throws
/// squall::ValueError for a bad setting, and spdlog::spdlog_ex if the log file cannot be opened.
/// Call it at start-up: the loggers' sinks are not swapped atomically.
void enable_pretty_logging(const LogSettings& settings);
/// Calls enable_pretty_logging with the settings of `parser`'s logging options.
void enable_pretty_logging(const options::OptionParser& parser = options::options());

/// Logs a request's access line, `200 GET /path (127.0.0.1) 0.52ms`, to access_log(): at info
/// below status 400, warning for 400-499, error from 500. Formats nothing when the logger's level
/// drops the line, so it costs next to nothing with access logging off.
void log_request_line(int status, std::string_view method, std::string_view uri,
                      std::string_view remote_ip, double request_time_ms,
                      squall::source_location where = squall::source_location::current());

}  // namespace squall::log
