// Application: routes by host, settings, and the delegate that runs a handler for each request.

#include "squall/web/application.hpp"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>

#include "squall/core/detail/small_alloc.hpp"
#include "squall/http/http1connection.hpp"
#include "squall/util/log.hpp"
#include "squall/web/handlers.hpp"
#include "squall/web/request_handler.hpp"
#include "squall/web/static_file_handler.hpp"
#include "squall/web/websocket.hpp"
#include "web/handler_access.hpp"
#include "web/host_pattern.hpp"

namespace squall::web {

struct Application::Host {
  std::shared_ptr<pcre2_code> pattern;  // null: any host
  bool serves_default_host = false;     // the pattern matches the default_host setting
  std::vector<URLSpec> rules;
};

namespace detail {

// The HTTPMessageDelegate of one request: routes it at its head, collects its body (or streams it
// to a streaming handler), and runs the handler.
class Dispatcher final : public HTTPMessageDelegate, public squall::detail::SmallAllocated {
 public:
  Dispatcher(Application& application, HTTP1ServerConnection& server_conn,
             std::shared_ptr<HTTPConnection> request_conn)
      : application_(application),
        server_conn_(server_conn),
        request_conn_(std::move(request_conn)) {}

  ~Dispatcher() override {
    if (handler_) HandlerAccess::detach(*handler_);
  }

  // The handler, or null once it is destroyed (it clears this pointer).
  void handler_gone() noexcept { handler_ = nullptr; }

  std::optional<Future<void>> headers_received(const RequestStartLine& start_line,
                                               HTTPHeaders& headers) override {
    request_ = std::allocate_shared<HTTPServerRequest>(
        squall::detail::SmallAllocator<HTTPServerRequest>(), start_line, std::move(headers));
    const HTTP1ConnectionContext& context = server_conn_.context();
    request_->remote_ip = context.remote_ip;
    request_->protocol = context.protocol;
    request_->connection = request_conn_;
    factory_ = application_.find_handler(*request_, path_);
    streaming_ = factory_ && factory_->stream_request_body;
    if (!streaming_) return std::nullopt;
    start_handler();
    if (!handler_) return std::nullopt;
    const auto& prepared = HandlerAccess::prepared(*handler_);
    if (prepared && !prepared->done()) return *prepared;
    return std::nullopt;
  }

  std::optional<Future<void>> data_received(std::string_view chunk) override {
    if (!streaming_) {
      request_->body.append(chunk);
      return std::nullopt;
    }
    if (!handler_ || body_failed_) return std::nullopt;
    return HandlerAccess::receive(*handler_, chunk, body_failed_);
  }

  void finish() override {
    if (streaming_) {
      if (handler_) HandlerAccess::body_finished(*handler_);
      return;
    }
    if (!request_->body.empty()) {
      try {
        request_->parse_body(application_.settings().body_limits);
      } catch (const HTTPInputError& e) {
        log::gen_log().info("Malformed request body from {}: {}", request_->remote_ip, e.what());
        factory_ = nullptr;
        error_status_ = 400;
      }
    }
    start_handler();
  }

  void on_connection_close() override {
    if (handler_) HandlerAccess::connection_closed(*handler_);
  }

 private:
  void start_handler() {
    std::unique_ptr<RequestHandler> handler;
    unsigned methods = 0;
    try {
      if (factory_) {
        handler = factory_->make();
        methods = factory_->methods;
      } else if (const HandlerFactory& fallback = application_.settings().default_handler_class;
                 fallback && error_status_ == 0) {
        handler = fallback.make();
        methods = fallback.methods;
      } else {
        handler = std::make_unique<ErrorHandler>();
        static_cast<ErrorHandler&>(*handler).initialize(error_status_ ? error_status_ : 404);
      }
    } catch (...) {
      log::app_log().error("Cannot make the handler of {} {}: {}", request_->method, request_->uri,
                           log::describe(std::current_exception()));
      handler = std::make_unique<ErrorHandler>();
      static_cast<ErrorHandler&>(*handler).initialize(500);
    }
    handler_ = handler.get();
    HandlerAccess::attach(*handler, application_, request_, std::move(path_), streaming_, this,
                          methods);
    // The coroutine owns the handler until it completes; it never fails (errors become pages).
    static_cast<void>(HandlerAccess::execute(std::move(handler)));
  }

  Application& application_;
  HTTP1ServerConnection& server_conn_;
  std::shared_ptr<HTTPConnection> request_conn_;
  std::shared_ptr<HTTPServerRequest> request_;
  const HandlerFactory* factory_ = nullptr;
  PathArguments path_;
  RequestHandler* handler_ = nullptr;
  int error_status_ = 0;
  bool streaming_ = false;
  bool body_failed_ = false;
};

void dispatcher_handler_gone(Dispatcher& dispatcher) noexcept {
  dispatcher.handler_gone();
}

}  // namespace detail

Application::Application(std::vector<URLSpec> rules, Settings settings)
    : settings_(std::move(settings)) {
  if (settings_.debug) {
    if (!settings_.serve_traceback) settings_.serve_traceback = true;
    if (!settings_.static_hash_cache) settings_.static_hash_cache = false;
    if (!settings_.compiled_template_cache) settings_.compiled_template_cache = false;
  }
  if (settings_.xsrf_cookie_version != 1 && settings_.xsrf_cookie_version != 2) {
    throw ValueError("unknown xsrf_cookie_version " +
                     std::to_string(settings_.xsrf_cookie_version));
  }
  if (!settings_.static_path.empty()) {
    HandlerFactory factory =
        settings_.static_handler_class
            ? settings_.static_handler_class
            : handler<StaticFileHandler>(StaticFileOptions{settings_.static_path});
    std::string prefix;
    for (char c : settings_.static_url_prefix) {
      if (std::string_view(".^$*+?{}[]\\|()").find(c) != std::string_view::npos) prefix += '\\';
      prefix += c;
    }
    rules.insert(rules.begin(),
                 {URLSpec(prefix + "(.*)", factory), URLSpec(R"(/(favicon\.ico))", factory),
                  URLSpec(R"(/(robots\.txt))", factory)});
  }
  hosts_.push_back(Host{nullptr, false, {}});
  for (URLSpec& rule : rules) {
    if (!rule.name().empty()) named_.insert_or_assign(rule.name(), rule);
    hosts_.back().rules.push_back(std::move(rule));
  }
}

Application::Application(std::vector<URLSpec> rules) : Application(std::move(rules), Settings{}) {}

Application::~Application() {
  // WebSockets may outlive the application: taken off its list now, they will not touch it later.
  while (websockets_ != nullptr) websockets_->unregister();
}

void Application::add_handlers(std::string host_pattern, std::vector<URLSpec> rules) {
  Host host{detail::compile_host_pattern(host_pattern), false, {}};
  host.serves_default_host = !settings_.default_host.empty() &&
                             detail::matches(host.pattern.get(), settings_.default_host);
  for (URLSpec& rule : rules) {
    if (!rule.name().empty()) named_.insert_or_assign(rule.name(), rule);
    host.rules.push_back(std::move(rule));
  }
  hosts_.insert(hosts_.end() - 1, std::move(host));  // before the routes of any host
}

HTTPServer& Application::listen(int port, const std::string& address, HTTPServerOptions options) {
  auto server = std::make_unique<HTTPServer>(static_cast<HTTPServerConnectionDelegate&>(*this),
                                             std::move(options));
  server->listen(port, address);
  servers_.push_back(std::move(server));
  return *servers_.back();
}

std::string Application::reverse_url(std::string_view name,
                                     const std::vector<std::string>& args) const {
  auto it = named_.find(name);
  if (it == named_.end()) throw ValueError("no route named '" + std::string(name) + "'");
  return it->second.reverse(args);
}

const HandlerFactory* Application::find_handler(const HTTPServerRequest& request,
                                                PathArguments& path) const {
  auto try_rules = [&](const Host& host) -> const HandlerFactory* {
    for (const URLSpec& rule : host.rules) {
      if (rule.match(request.path, path)) return &rule.factory();
    }
    return nullptr;
  };
  for (const Host& host : hosts_) {
    if (host.pattern && !detail::matches(host.pattern.get(), request.host_name)) continue;
    if (const HandlerFactory* found = try_rules(host)) return found;
  }
  // Tornado's default host: only when no proxy stands between (for debugging).
  if (!settings_.default_host.empty() && !request.headers.contains("X-Real-Ip")) {
    for (const Host& host : hosts_) {
      if (!host.serves_default_host) continue;
      if (const HandlerFactory* found = try_rules(host)) return found;
    }
  }
  return nullptr;
}

std::unique_ptr<HTTPMessageDelegate> Application::start_request(
    HTTP1ServerConnection& server_conn, std::shared_ptr<HTTPConnection> request_conn) {
  if (settings_.compiled_template_cache == false) {
    for (auto& [path, loader] : loaders_) loader->reset();
  }
  return std::make_unique<detail::Dispatcher>(*this, server_conn, std::move(request_conn));
}

void Application::log_request(RequestHandler& handler) const {
  if (settings_.log_function) {
    settings_.log_function(handler);
    return;
  }
  const HTTPServerRequest& request = handler.request();
  log::log_request_line(handler.get_status(), request.method, request.uri, request.remote_ip,
                        request.request_time() * 1000.0);
}

Loader& Application::template_loader(const std::string& path) {
  auto it = loaders_.find(path);
  if (it == loaders_.end()) {
    TemplateSettings template_settings;
    template_settings.autoescape = settings_.autoescape;
    template_settings.functions = settings_.ui_methods;
    it = loaders_.emplace(path, std::make_unique<Loader>(path, template_settings)).first;
  }
  return *it->second;
}

std::string Application::static_file_version(std::string_view path) {
  const bool cache = settings_.static_hash_cache.value_or(true);
  if (cache) {
    auto it = static_versions_.find(path);
    if (it != static_versions_.end()) return it->second;
  }
  std::string version = StaticFileHandler::get_content_version(
      StaticFileHandler::get_absolute_path(settings_.static_path, path));
  if (cache) static_versions_.emplace(std::string(path), version);
  return version;
}

}  // namespace squall::web
