#pragma once
/// \file
/// The exceptions a request handler throws to end a request early (Tornado's `web.HTTPError`,
/// `web.Finish` and `web.MissingArgumentError`).

#include <string>

#include "squall/util/error.hpp"

namespace squall::web {

/// Ends the request with an error response: thrown from a handler (or its `prepare`), it becomes
/// `send_error(status_code)`. `log_message` goes to the log (not to the client, unless
/// `serve_traceback`); `reason` replaces the standard phrase of the status line and of the error
/// page. A status code with no standard phrase needs a `reason`, or the phrase is "Unknown".
class HTTPError : public Error {
 public:
  explicit HTTPError(int status_code = 500, std::string log_message = {}, std::string reason = {});

  int status_code() const noexcept { return status_code_; }
  const std::string& log_message() const noexcept { return log_message_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  int status_code_;
  std::string log_message_;
  std::string reason_;
};

/// A required argument is missing: a 400 whose reason names it ("Missing argument name"), as
/// `get_argument` without a default throws.
class MissingArgumentError : public HTTPError {
 public:
  explicit MissingArgumentError(std::string arg_name);
  const std::string& arg_name() const noexcept { return arg_name_; }

 private:
  std::string arg_name_;
};

/// Ends the request without an error: the handler's response is finished as it stands (unlike
/// `HTTPError`, nothing is cleared). Thrown by `authenticated()`, `addslash()` and
/// `removeslash()` after they redirect.
class Finish : public Error {
 public:
  Finish() : Error("Finish") {}
};

}  // namespace squall::web
