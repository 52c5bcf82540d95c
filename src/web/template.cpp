// Template: parsing at construction, generating through the renderer; the template errors.
#include "squall/web/template.hpp"

#include <string>
#include <utility>

#include "web/template_ast.hpp"
#include "web/template_render.hpp"

namespace squall::web {

namespace {

std::string locate(const std::string& message, const std::string& filename, int lineno) {
  std::string out = message;
  out.append(" at ").append(filename).append(":").append(std::to_string(lineno));
  return out;
}

// The whitespace mode a template gets: the setting, or by file name as Tornado.
std::string_view whitespace_mode(const TemplateSettings& settings, std::string_view name) {
  if (!settings.whitespace.empty()) {
    const auto& mode = settings.whitespace;
    if (mode != "all" && mode != "single" && mode != "oneline") {
      throw ValueError("invalid whitespace mode " + mode);
    }
    return mode;
  }
  return name.ends_with(".html") || name.ends_with(".js") ? "single" : "all";
}

// The first include node in `body`, searching nested bodies too, or nullptr.
const detail::Node* find_include(detail::Body& body) {
  const detail::Node* found = nullptr;
  detail::for_each_include(body, [&found](const detail::IncludeNode& include) {
    if (found == nullptr) found = &include;
  });
  return found;
}

void parse_into(detail::TemplateImpl& impl, std::string_view source, std::string name,
                const TemplateSettings* settings) {
  impl.name = std::move(name);
  impl.settings = settings;
  impl.autoescape = settings->autoescape;
  detail::parse_template(impl, source, whitespace_mode(*settings, impl.name));
}

}  // namespace

TemplateError::TemplateError(std::string message, std::string filename, int lineno)
    : Error(locate(message, filename, lineno)),
      message_(std::move(message)),
      filename_(std::move(filename)),
      lineno_(lineno) {}

Template::Template(std::string_view source, std::string name, TemplateSettings settings)
    : impl_(std::make_unique<detail::TemplateImpl>()) {
  impl_->own_settings = std::move(settings);
  parse_into(*impl_, source, std::move(name), &impl_->own_settings);
  if (!impl_->extends.empty()) {
    throw ParseError("{% extends %} block found, but no template loader", impl_->name,
                     impl_->extends_line);
  }
  if (const detail::Node* include = find_include(impl_->body)) {
    throw ParseError("{% include %} block found, but no template loader", impl_->name,
                     include->line);
  }
  detail::collect_blocks(*impl_);
}

Template::Template(std::string_view source, std::string name,
                   const TemplateSettings* shared_settings)
    : impl_(std::make_unique<detail::TemplateImpl>()) {
  parse_into(*impl_, source, std::move(name), shared_settings);
}

Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

const std::string& Template::name() const noexcept {
  return impl_->name;
}

std::string Template::generate(const json& values, const TemplateFunctions* extra,
                               const json* defaults) const {
  std::string out;
  generate_to(out, values, extra, defaults);
  return out;
}

void Template::generate_to(std::string& out, const json& values, const TemplateFunctions* extra,
                           const json* defaults) const {
  for (const json* names : {&values, defaults}) {
    if (names != nullptr && !names->is_object() && !names->is_null()) {
      throw ValueError("template values must be a JSON object, not " +
                       std::string(names->type_name()));
    }
  }
  std::size_t start = out.size();
  out.reserve(start + impl_->size_hint.load(std::memory_order_relaxed));
  try {
    detail::render(*impl_, out, values, extra, defaults);
  } catch (...) {
    out.resize(start);
    throw;
  }
  impl_->size_hint.store(out.size() - start, std::memory_order_relaxed);
}

}  // namespace squall::web
