#pragma once
/// \file
/// Small handlers every application can route to (Tornado's `ErrorHandler` and
/// `RedirectHandler`).

#include <string>

#include "squall/web/request_handler.hpp"

namespace squall::web {

/// Answers every request with error `status_code`: `handler<ErrorHandler>(404)`. The
/// application uses it for paths no route matches.
class ErrorHandler : public RequestHandler {
 public:
  void initialize(int status_code) { status_code_to_send_ = status_code; }
  Future<void> prepare() override;
  /// No XSRF check: the error is the answer whatever the method.
  void check_xsrf_cookie() override {}

 private:
  int status_code_to_send_ = 404;
};

/// Redirects every GET and HEAD to `url`: `handler<RedirectHandler>(RedirectOptions{"/new"})`.
/// The URL may use the route's groups, `{0}`, `{1}`... for positional ones and `{name}` for named
/// ones; the request's query string is appended (after any query the URL has).
struct RedirectOptions {
  std::string url;
  bool permanent = true;
  /// A status replacing 301/302 (it must be 3xx).
  int status = 0;
};

class RedirectHandler : public RequestHandler {
 public:
  void initialize(RedirectOptions options) { options_ = std::move(options); }
  Future<void> get() override;
  Future<void> head() override { return get(); }

 private:
  RedirectOptions options_;
};

}  // namespace squall::web
