#pragma once
/// \file
/// squall's three loggers, as in Tornado: access (one line per request), application (errors from
/// user code: uncaught exceptions in callbacks and handlers) and general (everything else,
/// including unretrieved Future exceptions). They are spdlog loggers named "squall.access",
/// "squall.application" and "squall.general"; configure them with spdlog's API.

#include <exception>
#include <string>

namespace spdlog {
class logger;
}

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

}  // namespace squall::log
