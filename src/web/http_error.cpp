// HTTPError and MissingArgumentError.

#include "squall/web/http_error.hpp"

#include "squall/http/httputil.hpp"

namespace squall::web {
namespace {

// "HTTP 404: Not Found (log message)", as Tornado's str(HTTPError).
std::string describe(int status_code, const std::string& log_message, const std::string& reason) {
  std::string text = "HTTP " + std::to_string(status_code) + ": ";
  if (!reason.empty()) {
    text += reason;
  } else {
    std::string_view phrase = httputil::reason_phrase(status_code);
    text += phrase.empty() ? std::string_view("Unknown") : phrase;
  }
  if (!log_message.empty()) text.append(" (").append(log_message).append(")");
  return text;
}

}  // namespace

HTTPError::HTTPError(int status_code, std::string log_message, std::string reason)
    : Error(describe(status_code, log_message, reason)),
      status_code_(status_code),
      log_message_(std::move(log_message)),
      reason_(std::move(reason)) {}

MissingArgumentError::MissingArgumentError(std::string arg_name)
    : HTTPError(400, "Missing argument " + arg_name, "Missing argument " + arg_name),
      arg_name_(std::move(arg_name)) {}

}  // namespace squall::web
