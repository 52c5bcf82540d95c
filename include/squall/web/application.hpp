#pragma once
/// \file
/// `Application` (Tornado's `web.Application`): the routes and settings of a web application, and
/// the `HTTPServerConnectionDelegate` that serves them.
///
///     squall::web::Application app({{"/", squall::web::handler<MainHandler>()},
///                                   {"/story/([0-9]+)", squall::web::handler<StoryHandler>(),
///                                   "story"}},
///                                  {.cookie_secret = "...", .xsrf_cookies = true});
///     app.listen(8888);
///     squall::IOLoop::current().start();

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "squall/http/httpserver.hpp"
#include "squall/http/message.hpp"
#include "squall/web/cookies.hpp"
#include "squall/web/routing.hpp"
#include "squall/web/signed_value.hpp"
#include "squall/web/template.hpp"

namespace squall::web {

class RequestHandler;
class WebSocketHandler;

/// An application's settings (Tornado's keyword arguments to `Application`). Every field has
/// Tornado's default.
struct Settings {
  /// Development mode: `serve_traceback` and no template or static-hash caching (Tornado's debug
  /// also reloads code; C++ cannot).
  bool debug = false;
  /// The folder templates load from (for `render`).
  std::string template_path;
  /// Gzip responses of compressible types (text, JSON, JavaScript, XML...) of at least 1 KiB, or
  /// streamed with `flush()`, to clients that accept it; adds `Vary: Accept-Encoding`.
  bool compress_response = false;
  /// The key of signed cookies and XSRF-free signing (one secret or versioned keys).
  CookieSecret cookie_secret;
  /// Checks `_xsrf` on every POST, PUT, PATCH and DELETE (`check_xsrf_cookie`).
  bool xsrf_cookies = false;
  /// Attributes of the `_xsrf` cookie (path "/" unless set).
  CookieOptions xsrf_cookie_kwargs;
  /// The version of the XSRF token written (2, masked; or 1, plain hex).
  int xsrf_cookie_version = 2;
  /// Where `authenticated()` sends users who are not logged in.
  std::string login_url;
  /// The folder of static files: set, it adds the routes `static_url_prefix` + path,
  /// `/favicon.ico` and `/robots.txt` served by `static_handler_class`.
  std::string static_path;
  std::string static_url_prefix = "/static/";
  /// The handler of static files; StaticFileHandler if not set. It is made with
  /// `handler<H>(StaticFileOptions)`-style factories: see static_file_handler.hpp.
  HandlerFactory static_handler_class;
  /// Caches the version hashes of `static_url` (off in debug mode).
  std::optional<bool> static_hash_cache;
  /// Error pages show the exception (type and message) when on (on in debug mode).
  std::optional<bool> serve_traceback;
  /// Replaces the access log line written after each request.
  std::function<void(RequestHandler&)> log_function;
  /// The template function escaping `{{ }}` output ("xhtml_escape"); empty turns it off.
  std::string autoescape = "xhtml_escape";
  /// Extra functions templates can call.
  TemplateFunctions ui_methods;
  /// Compiled templates are cached (off in debug mode).
  std::optional<bool> compiled_template_cache;
  /// The host whose routes serve requests no host pattern matches (when not behind a proxy
  /// that sets X-Real-Ip).
  std::string default_host;
  /// The handler for paths no route matches (a 404 page if not set).
  HandlerFactory default_handler_class;
  /// WebSocket handlers: the interval of pings (none if zero), and how long a pong may take
  /// before the connection is closed (by default 3 intervals, at least 30 s).
  std::chrono::milliseconds websocket_ping_interval{0};
  std::chrono::milliseconds websocket_ping_timeout{0};
  /// Limits of the multipart bodies parsed for handlers (streaming handlers parse their own).
  BodyLimits body_limits;
  /// The largest WebSocket message accepted (10 MiB).
  std::uint64_t websocket_max_message_size = std::uint64_t{10} << 20;
  /// Anything else the application's handlers read (`settings().values["name"]`).
  nlohmann::json values = nlohmann::json::object();
};

/// A web application: its routes by host, its settings, and what handlers share (template
/// loaders, static-file version hashes). Use it on its loop's thread; it must outlive the
/// servers listening for it.
class Application : public HTTPServerConnectionDelegate {
 public:
  /// An application serving `rules` for every host. Throws ValueError for a pattern that does
  /// not compile or a setting that is invalid.
  explicit Application(std::vector<URLSpec> rules, Settings settings);
  /// An application with default settings.
  explicit Application(std::vector<URLSpec> rules = {});
  ~Application() override;
  Application(const Application&) = delete;
  Application& operator=(const Application&) = delete;

  /// Adds routes for hosts matching `host_pattern` (a regular expression on the host name
  /// without port, anchored, case-insensitive); hosts are tried in the order added, before the
  /// routes given to the constructor (which serve any host).
  void add_handlers(std::string host_pattern, std::vector<URLSpec> rules);

  /// Starts an HTTPServer for this application on `port` (all interfaces, or `address`), owned
  /// by the application, and returns it. Throws OSError if the port cannot be bound.
  HTTPServer& listen(int port, const std::string& address = "", HTTPServerOptions options = {});

  /// The path of the route named `name` for `args` (percent-encoded). Throws ValueError for an
  /// unknown name, a route that cannot be reversed, or the wrong number of arguments.
  std::string reverse_url(std::string_view name, const std::vector<std::string>& args = {}) const;

  const Settings& settings() const noexcept { return settings_; }

  /// Writes the access log line of a finished request (or calls the `log_function` setting):
  /// `200 GET /path (127.0.0.1) 0.52ms`, at info below 400, warning below 500, error above.
  void log_request(RequestHandler& handler) const;

  /// The template loader of folder `path`, made once and kept (cleared on each request in debug
  /// mode).
  Loader& template_loader(const std::string& path);

  /// The version hash of static file `path` (the MD5 of its content, hex), cached unless
  /// `static_hash_cache` is off; empty if the file cannot be read.
  std::string static_file_version(std::string_view path);

  // HTTPServerConnectionDelegate
  std::unique_ptr<HTTPMessageDelegate> start_request(
      HTTP1ServerConnection& server_conn, std::shared_ptr<HTTPConnection> request_conn) override;

  /// Finds the route of `request` (host, then path) and fills `path` with its groups: the
  /// matching route's factory, or the default handler's (null for a 404).
  const HandlerFactory* find_handler(const HTTPServerRequest& request, PathArguments& path) const;

  /// Starts the closing handshake of every open WebSocket of this application (as
  /// WebSocketHandler::close with `code` and `reason`) and completes once all of them have
  /// closed, each within its 5 s close timeout. For a graceful stop: a WebSocket is no longer an
  /// HTTP connection, so HTTPServer's `shutdown` and `close_all_connections` leave it alone.
  Future<void> close_websockets(int code = 1001, std::string_view reason = {});
  /// The number of open WebSockets of this application's handlers.
  std::size_t websocket_count() const noexcept { return websocket_count_; }

 private:
  struct Host;
  Settings settings_;
  std::vector<Host> hosts_;  // host patterns in order; the last one matches any host
  std::map<std::string, URLSpec, std::less<>> named_;
  std::vector<std::unique_ptr<HTTPServer>> servers_;
  std::map<std::string, std::unique_ptr<Loader>, std::less<>> loaders_;
  std::map<std::string, std::string, std::less<>> static_versions_;
  // The open WebSockets (their handlers register and unregister themselves).
  friend class WebSocketHandler;
  WebSocketHandler* websockets_ = nullptr;  // the first of a list linked through the handlers
  std::size_t websocket_count_ = 0;
};

}  // namespace squall::web
