#include "squall/util/log.hpp"

#include <cxxabi.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <memory>
#include <typeinfo>

namespace squall::log {
namespace {

std::shared_ptr<spdlog::logger> make_logger(const char* name) {
  if (auto existing = spdlog::get(name)) return existing;
  static const auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(name, sink);
  // Tornado's layout: [level-letter yymmdd hh:mm:ss logger] message
  logger->set_pattern("%^[%L %C%m%d %H:%M:%S %n]%$ %v");
  spdlog::register_logger(logger);
  return logger;
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

}  // namespace squall::log
