#pragma once
// The parity app's shared pieces: the handler base that gives every route the spec's error
// pages, its argument helpers, and the route table built from the two route files.

#include <squall/http/httputil.hpp>
#include <squall/web/application.hpp>
#include <squall/web/http_error.hpp>
#include <squall/web/request_handler.hpp>

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parity {

/// What the routes need to know about where the app runs.
struct Config {
  /// `http://HOST:PORT` of the app itself, for /fetch and /multi.
  std::string self_base;
};

/// The config of the running app (set once by main before the loop starts).
Config& config();

/// The phrase of `code` as Python 3.11's `http.client.responses` gives it (what Tornado 6.2 on
/// Debian writes, and what the spec's error table lists): empty for a code without one.
std::string_view spec_reason(int code) noexcept;

/// Whether `text` is well-formed UTF-8.
bool valid_utf8(std::string_view text) noexcept;

/// Every route's base: the spec's error page (Python 3.11's phrases in the status line and the
/// page), and `Allow` on a 405 (RFC 9110 §15.5.6, which Tornado forgets). `B` is RequestHandler
/// or one of its subclasses (StaticFileHandler, WebSocketHandler).
template <class B>
class Handler : public B {
 public:
  void write_error(int status_code, const std::exception_ptr& error) override {
    if (status_code == 405) this->set_header("Allow", allowed_methods());
    // Tornado 6.2 names codes as Python 3.11 does ("Request Entity Too Large"), squall as
    // RFC 9110 does ("Content Too Large"); the spec asks for the former.
    const std::string_view reason = spec_reason(status_code);
    this->set_status(status_code, reason.empty() ? std::string_view("Unknown") : reason);
    B::write_error(status_code, error);
  }

 protected:
  /// The methods this route answers, for the `Allow` header of its 405s.
  virtual std::string_view allowed_methods() const { return "GET, HEAD"; }

  /// Query argument `name` as an integer of ASCII digits within [lo, hi]: HTTPError(400) for
  /// anything else; a missing one is `default_value`, or MissingArgumentError (400) without one.
  std::int64_t int_arg(std::string_view name, std::optional<std::int64_t> default_value,
                       std::int64_t lo, std::int64_t hi) {
    std::optional<std::string> raw;
    if (!this->get_query_arguments(name).empty()) raw = this->get_query_argument(name);
    if (!raw) {
      if (!default_value) throw squall::web::MissingArgumentError(std::string(name));
      return *default_value;
    }
    if (raw->empty() || raw->size() > 12 ||
        raw->find_first_not_of("0123456789") != std::string::npos) {
      throw squall::web::HTTPError(400, "bad integer for " + std::string(name));
    }
    const std::int64_t value = std::stoll(*raw);
    if (value < lo || value > hi) {
      throw squall::web::HTTPError(400, std::string(name) + " out of range");
    }
    return value;
  }

  /// Writes `body` as text/plain.
  void text(std::string_view body) {
    this->set_header("Content-Type", "text/plain; charset=UTF-8");
    this->write(body);
  }
};

/// A plain route: HEAD is answered by running GET (the framework then drops the body), as the
/// reference's `head()` does.
class Page : public Handler<squall::web::RequestHandler> {
 public:
  squall::Future<void> head() override { return get(); }
};

/// The routes of routes_sync.cpp (answered at once) and routes_async.cpp (that suspend), and the
/// handlers of paths no route matches and of static files.
std::vector<squall::web::URLSpec> sync_routes();
std::vector<squall::web::URLSpec> async_routes();
squall::web::HandlerFactory not_found_handler();
squall::web::HandlerFactory static_handler(const std::string& static_path);

}  // namespace parity
