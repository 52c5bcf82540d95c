#pragma once
/// \file
/// `RequestHandler`, the base of the classes that answer requests (Tornado's
/// `web.RequestHandler`). A new handler object serves each request: the application makes it
/// with the route's factory (`handler<H>(args...)`, which calls `initialize(args...)`), then runs
/// `prepare()`, then the method named by the request (`get()`, `post()`...), and finishes the
/// response when the method's Future completes, unless the handler finished it already.
///
///     class MainHandler : public squall::web::RequestHandler {
///      public:
///       squall::Future<> get() override {
///         write("Hello, " + get_argument("name", "world"));
///         return squall::make_ready_future();  // done: the method did not suspend
///       }
///     };
///
/// Output is buffered until `flush()` or `finish()`. An exception escaping `prepare` or the method
/// becomes an error page through `send_error` (`HTTPError` gives its status, anything else 500)
/// and is logged. A handler lives until its method's Future completes, even if the connection
/// closed meanwhile (then `on_connection_close()` runs, and `flush()` fails with
/// StreamClosedError).

#include <chrono>
#include <concepts>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "squall/core/concurrent.hpp"
#include "squall/http/httputil.hpp"
#include "squall/http/message.hpp"
#include "squall/web/cookies.hpp"
#include "squall/web/http_error.hpp"
#include "squall/web/routing.hpp"
#include "squall/web/signed_value.hpp"

namespace squall::web {

class Application;
struct Settings;

namespace detail {
struct HandlerAccess;
class Dispatcher;
class GzipTransform;
}  // namespace detail

class RequestHandler {
 public:
  RequestHandler();
  virtual ~RequestHandler();
  RequestHandler(const RequestHandler&) = delete;
  RequestHandler& operator=(const RequestHandler&) = delete;

  // --- The request's flow -------------------------------------------------------------------

  /// Called by the route's factory with its arguments (`handler<H>(args...)`): a subclass
  /// declares its own `initialize(...)` taking them. This one takes none and does nothing.
  void initialize() {}

  /// Runs before the method; may suspend. A handler that finishes the response here (or throws)
  /// skips the method.
  virtual Future<void> prepare();

  /// The HTTP methods. Each one not overridden answers 405 Method Not Allowed; a method squall
  /// does not know (not GET, HEAD, POST, DELETE, PATCH, PUT or OPTIONS) also gets 405.
  virtual Future<void> get();
  virtual Future<void> head();
  virtual Future<void> post();
  /// DELETE (`delete` is a C++ keyword).
  virtual Future<void> delete_();
  virtual Future<void> patch();
  virtual Future<void> put();
  virtual Future<void> options();

  /// Runs once the response is finished (for cleanup and logging); it must not write.
  virtual void on_finish() {}

  /// Runs if the client closes the connection before the response is finished (a long-polling
  /// handler cancels its wait here). Runs at most once.
  virtual void on_connection_close() {}

  /// With a streaming route (`stream_request_body`), each piece of the body as it arrives, after
  /// `prepare()` and before the method; the next piece waits for the returned Future. `chunk` is
  /// valid only during the call. The default throws HTTPError(500): a streaming handler must
  /// override it.
  virtual Future<void> data_received(std::string_view chunk);

  // --- The request --------------------------------------------------------------------------

  HTTPServerRequest& request() noexcept { return *request_; }
  const HTTPServerRequest& request() const noexcept { return *request_; }
  Application& application() noexcept { return *application_; }
  const Settings& settings() const noexcept;

  /// The route's positional groups, percent-decoded (when its pattern names no group).
  const std::vector<std::string>& path_args() const noexcept;
  /// The route's named groups, percent-decoded.
  const std::map<std::string, std::string, std::less<>>& path_kwargs() const noexcept;

  /// The last value of argument `name` from the query and the body, with control characters
  /// other than white space replaced by spaces and, if `strip`, surrounding white space removed
  /// (Unicode's too, as Python's `str.strip()`). Without `default_value`, a missing
  /// argument throws MissingArgumentError (a 400 naming it). Invalid UTF-8 throws HTTPError(400).
  std::string get_argument(std::string_view name,
                           std::optional<std::string_view> default_value = std::nullopt,
                           bool strip = true);
  /// Every value of argument `name` (query first, then body), cleaned as `get_argument`.
  std::vector<std::string> get_arguments(std::string_view name, bool strip = true);
  /// As `get_argument`, from the query string only.
  std::string get_query_argument(std::string_view name,
                                 std::optional<std::string_view> default_value = std::nullopt,
                                 bool strip = true);
  std::vector<std::string> get_query_arguments(std::string_view name, bool strip = true);
  /// As `get_argument`, from the form-encoded or multipart body only.
  std::string get_body_argument(std::string_view name,
                                std::optional<std::string_view> default_value = std::nullopt,
                                bool strip = true);
  std::vector<std::string> get_body_arguments(std::string_view name, bool strip = true);

  // --- The response -------------------------------------------------------------------------

  /// Sets the status and its reason phrase (the standard one if empty; "Unknown" for a code
  /// without one). Throws ValueError for a code outside 100-599.
  void set_status(int status_code, std::string_view reason = {});
  int get_status() const noexcept { return status_code_; }

  /// Sets a response header, replacing any of that name. Throws HTTPOutputError for a value with
  /// CR, LF or NUL, or a name that is not a token.
  void set_header(std::string_view name, std::string_view value);
  /// Sets a header to a number.
  void set_header(std::string_view name, std::integral auto value) {
    set_header(name, std::string_view(std::to_string(value)));
  }
  /// Sets a header to an HTTP date.
  void set_header(std::string_view name, std::chrono::system_clock::time_point value);
  /// Adds a header without replacing those of the same name (as Set-Cookie needs).
  void add_header(std::string_view name, std::string_view value);
  /// Removes a header set before.
  void clear_header(std::string_view name);
  /// Resets the status to 200, the headers to the defaults (Server, Content-Type, Date) and drops
  /// the buffered output. Cookies set stay set.
  void clear();

  /// Buffers `chunk` for the response body. Throws InvalidStateError after `finish()`.
  void write(std::string_view chunk);
  void write(const char* chunk) { write(std::string_view(chunk)); }
  void write(const std::string& chunk) { write(std::string_view(chunk)); }
  /// Writes a JSON object and sets Content-Type to application/json, as Tornado. Throws
  /// ValueError for another JSON type (a top-level array is refused, as Tornado refuses lists).
  void write(const nlohmann::json& object);

  /// Sends the headers (the first time) and the buffered output. Completes once the data is
  /// handed to the kernel: await it for backpressure when streaming a large response.
  Future<void> flush();
  /// Sends the headers (the first time) and the buffered output, then `count` bytes of file `fd`
  /// from `offset` as more of the body, without copying them through memory where the connection
  /// allows (sendfile); with `compress_response` gzipping this response, the file is read in
  /// pieces and compressed instead. `fd` may be closed once the call returns. Completes as
  /// `flush()`. Throws InvalidStateError after `finish()`.
  Future<void> write_file(int fd, std::uint64_t offset, std::uint64_t count);
  /// Finishes the response: writes `chunk` and anything buffered, sets Content-Length and an
  /// automatic ETag (with 304 Not Modified for a matching If-None-Match) when nothing was flushed
  /// before, runs `on_finish()` and logs the request. Throws InvalidStateError when called twice.
  Future<void> finish(std::string_view chunk = {});
  /// Whether the response is finished.
  bool finished() const noexcept { return finished_; }

  /// Renders template `template_name` (from `get_template_path()`) with `values` and the
  /// handler's names (`request`, `current_user`, `static_url`, `xsrf_form_html`, `reverse_url`...),
  /// then finishes the response with it.
  Future<void> render(std::string_view template_name, const nlohmann::json& values);
  Future<void> render(std::string_view template_name);
  /// Renders a template to a string, with the same names as `render`.
  std::string render_string(std::string_view template_name, const nlohmann::json& values);

  /// Redirects to `url` (302, or 301 if `permanent`, or `status` if given, which must be 3xx)
  /// and finishes. Throws InvalidStateError if output was flushed already.
  void redirect(std::string_view url, bool permanent = false, std::optional<int> status = {});

  /// Sends an error page for `status_code`: clears the response, then `write_error`. Once
  /// headers were flushed, it can only log and close the connection.
  void send_error(int status_code = 500, std::exception_ptr error = nullptr);
  /// Writes the error page; override for custom pages. The default is Tornado's small HTML page,
  /// or the exception's type and message as plain text when the `serve_traceback` setting is on.
  virtual void write_error(int status_code, const std::exception_ptr& error);

  // --- Cookies ------------------------------------------------------------------------------

  /// The request's cookies by name.
  const std::map<std::string, std::string>& cookies() const;
  /// Cookie `name` from the request, or nullopt.
  std::optional<std::string> get_cookie(std::string_view name) const;
  /// Sets cookie `name` in the response. Throws ValueError (naming the cookie) for a name that is
  /// not a token, or a value or attribute with ';', CR, LF or other control characters.
  void set_cookie(std::string_view name, std::string_view value, const CookieOptions& options = {});
  /// Deletes cookie `name` on the client (an expired cookie with the same path and domain).
  void clear_cookie(std::string_view name, const CookieOptions& options = {});
  /// Deletes every cookie the request sent.
  void clear_all_cookies(const CookieOptions& options = {});
  /// Sets a cookie signed and timestamped with the `cookie_secret` setting (Tornado's format,
  /// readable by Tornado with the same secret). `expires_days` applies unless `options` sets an
  /// expiry. Throws ValueError without a `cookie_secret`.
  void set_signed_cookie(std::string_view name, std::string_view value,
                         std::optional<double> expires_days = 30.0,
                         const CookieOptions& options = {},
                         int version = kDefaultSignedValueVersion);
  /// The value of a signed cookie if it verifies and is younger than `max_age_days`; nullopt
  /// otherwise. `value` checks a given signed value instead of the request's cookie.
  std::optional<std::string> get_signed_cookie(std::string_view name,
                                               std::optional<std::string_view> value = {},
                                               std::optional<double> max_age_days = 31.0,
                                               int min_version = kDefaultSignedValueMinVersion);
  /// The key version of a signed cookie, without verifying it.
  std::optional<int> get_signed_cookie_key_version(std::string_view name,
                                                   std::optional<std::string_view> value = {});

  // --- XSRF ---------------------------------------------------------------------------------

  /// This session's XSRF token in Tornado's masked form (a new random mask for each request, so
  /// the page's bytes differ each time: no BREACH), setting the `_xsrf` cookie if the request had
  /// none. The same value within one request.
  const std::string& xsrf_token();
  /// `<input type="hidden" name="_xsrf" value="...">` for a form.
  std::string xsrf_form_html();
  /// With the `xsrf_cookies` setting, runs before `prepare` on every request but GET, HEAD and
  /// OPTIONS: the `_xsrf` argument (or X-XSRFToken / X-CSRFToken header) must carry the token of
  /// the `_xsrf` cookie, else HTTPError(403).
  virtual void check_xsrf_cookie();

  // --- Users --------------------------------------------------------------------------------

  /// The logged-in user: `get_current_user()`'s result, computed once, or what
  /// `set_current_user` set (in `prepare`, when finding it needs to suspend). Null if none.
  const nlohmann::json& current_user();
  void set_current_user(nlohmann::json user);
  /// Finds the logged-in user; override it (for example from a signed cookie). The default has
  /// none (null).
  virtual nlohmann::json get_current_user();
  /// The login page: the `login_url` setting by default. Throws ValueError without one.
  virtual std::string get_login_url();
  /// A guard for methods needing a logged-in user (Tornado's `@authenticated`): without one, a
  /// GET or HEAD is redirected to the login URL with `next` set to this page, anything else gets
  /// HTTPError(403); either way the call throws (Finish or HTTPError), ending the request.
  void authenticated();

  /// Guards as Tornado's `@addslash` / `@removeslash` decorators: a GET or HEAD whose path lacks
  /// (has) a trailing slash is redirected permanently to the path with (without) it and the
  /// call throws Finish; other methods get HTTPError(404).
  void addslash();
  void removeslash();

  // --- ETags --------------------------------------------------------------------------------

  /// The ETag of the buffered body: its SHA-1 in quotes. Override to compute it another way, or
  /// return nullopt for none.
  virtual std::optional<std::string> compute_etag();
  /// Sets the Etag header from `compute_etag()`.
  void set_etag_header();
  /// Whether the request's If-None-Match matches the response's Etag header (weak comparison,
  /// `*` matches any).
  bool check_etag_header() const;

  // --- URLs and templates -------------------------------------------------------------------

  /// The URL of static file `path` with a version hash of its content (`?v=...`), so it can be
  /// cached forever; `include_host` makes it absolute. Needs the `static_path` setting.
  std::string static_url(std::string_view path, bool include_host = false);
  /// The path of the route named `name` for `args` (Application::reverse_url).
  std::string reverse_url(std::string_view name, const std::vector<std::string>& args = {}) const;
  /// The folder templates load from: the `template_path` setting by default.
  virtual std::string get_template_path();
  /// Throws ValueError (naming `feature`) unless setting `name` is set.
  void require_setting(std::string_view name, std::string_view feature = "this feature") const;

 private:
  friend struct detail::HandlerAccess;
  struct ResponseState;  // src/web/response_state.hpp

  // Called once the method's Future completed: a handler that lives on (a WebSocket's, for its
  // connection) takes `owned`; by default the handler is destroyed.
  virtual void retain(std::unique_ptr<RequestHandler>& owned) { static_cast<void>(owned); }

  static Future<void> execute(std::unique_ptr<RequestHandler> owned);
  Future<void> run_method();
  void handle_exception(std::exception_ptr error);
  void finish_response();
  bool send_buffered(bool finishing);
  void log_exception(const std::exception_ptr& error);
  std::string_view header_value(std::string_view name) const;
  std::vector<std::string> argument_values(const Arguments& arguments, std::string_view name,
                                           bool strip) const;
  std::string one_argument(const Arguments& arguments, std::string_view name,
                           std::optional<std::string_view> default_value, bool strip) const;
  nlohmann::json template_namespace();
  // The response's state, made again (empty) if it was released.
  ResponseState& response();
  void renew_response();

  Application* application_ = nullptr;
  std::shared_ptr<HTTPServerRequest> request_;
  std::unique_ptr<PathArguments> path_;       // null when the route has no groups (most have none)
  detail::Dispatcher* dispatcher_ = nullptr;  // the request's delegate, while both live
  // What only the response in progress needs (headers, buffers, cookies to set, the streaming
  // body's Futures), apart so that a handler that lives on after its response (a WebSocket's)
  // frees it: see HandlerAccess::release_response.
  std::unique_ptr<ResponseState> response_;
  std::unique_ptr<nlohmann::json> current_user_;  // computed once
  std::uint16_t allowed_methods_ = 0;  // the route's HandlerFactory::methods, for Allow on a 405
  std::uint16_t status_code_ = 200;    // here, not in response_: get_status() outlives it
  bool headers_written_ = false;
  bool finished_ = false;
  bool connection_closed_ = false;
};

}  // namespace squall::web
