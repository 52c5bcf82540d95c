// RequestHandler: templates (render, render_string) and the names they see.

#include <nlohmann/json.hpp>

#include "squall/web/application.hpp"
#include "squall/web/request_handler.hpp"
#include "squall/web/template.hpp"

namespace squall::web {

nlohmann::json RequestHandler::template_namespace() {
  const HTTPServerRequest& r = *request_;
  nlohmann::json request = {{"method", r.method},       {"uri", r.uri},
                            {"path", r.path},           {"query", r.query},
                            {"version", r.version},     {"host", r.host},
                            {"host_name", r.host_name}, {"remote_ip", r.remote_ip},
                            {"protocol", r.protocol},   {"arguments", r.arguments}};
  return {{"request", std::move(request)}, {"current_user", current_user()}};
}

std::string RequestHandler::render_string(std::string_view template_name,
                                          const nlohmann::json& values) {
  const std::string template_path = get_template_path();
  if (template_path.empty()) {
    require_setting("template_path", "render");
  }
  const Template& page = application_->template_loader(template_path).load(template_name);
  if (!values.is_object() && !values.is_null()) {
    throw ValueError("render: the template values must be a JSON object");
  }
  // The handler's names are looked up after `values`, without copying either.
  const nlohmann::json names = template_namespace();
  // Functions bound to this request; the application's ui_methods and the template built-ins
  // come from the loader's settings.
  TemplateFunctions functions;
  functions.emplace("static_url", [this](std::span<const nlohmann::json> args) -> nlohmann::json {
    if (args.empty() || !args[0].is_string()) {
      throw ValueError("static_url(path): path must be a string");
    }
    return static_url(args[0].get<std::string>(),
                      args.size() > 1 && args[1].is_boolean() && args[1].get<bool>());
  });
  functions.emplace("xsrf_form_html", [this](std::span<const nlohmann::json>) -> nlohmann::json {
    return xsrf_form_html();
  });
  functions.emplace("reverse_url", [this](std::span<const nlohmann::json> args) -> nlohmann::json {
    if (args.empty() || !args[0].is_string()) {
      throw ValueError("reverse_url(name, ...): name must be a string");
    }
    std::vector<std::string> parts;
    for (std::size_t i = 1; i < args.size(); ++i) {
      parts.push_back(args[i].is_string() ? args[i].get<std::string>() : args[i].dump());
    }
    return reverse_url(args[0].get<std::string>(), parts);
  });
  return page.generate(values, &functions, &names);
}

Future<void> RequestHandler::render(std::string_view template_name, const nlohmann::json& values) {
  std::string html = render_string(template_name, values);
  return finish(html);
}

Future<void> RequestHandler::render(std::string_view template_name) {
  return render(template_name, nlohmann::json::object());
}

}  // namespace squall::web
