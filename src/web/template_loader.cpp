// Loader: reads templates under a root directory, resolves their extends and include tags by
// loading those templates too, and caches every template by its path relative to the root.
#include <cerrno>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "squall/web/template.hpp"
#include "web/template_ast.hpp"

namespace squall::web {

struct Loader::State {
  std::filesystem::path root;
  std::function<std::string(const std::string& name)> read;
  TemplateSettings settings;
  std::unordered_map<std::string, std::unique_ptr<Template>> cache;
  std::vector<std::string> loading;  // the chain of templates being loaded, outermost first
};

namespace {

std::string read_file(const std::filesystem::path& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) throw OSError(errno, "cannot open template " + path.string());
  std::string contents;
  char buffer[16384];
  while (true) {
    std::size_t count = std::fread(buffer, 1, sizeof buffer, file);
    contents.append(buffer, count);
    if (count < sizeof buffer) break;
  }
  int error = std::ferror(file) ? errno : 0;
  std::fclose(file);
  if (error != 0) throw OSError(error, "cannot read template " + path.string());
  return contents;
}

}  // namespace

Loader::Loader(std::filesystem::path root_directory, TemplateSettings settings)
    : state_(std::make_unique<State>()) {
  state_->root = std::filesystem::absolute(root_directory).lexically_normal();
  state_->read = [root = state_->root](const std::string& name) { return read_file(root / name); };
  state_->settings = std::move(settings);
}

Loader::Loader(std::function<std::string(const std::string& name)> read, TemplateSettings settings)
    : state_(std::make_unique<State>()) {
  state_->read = std::move(read);
  state_->settings = std::move(settings);
}

DictLoader::DictLoader(std::unordered_map<std::string, std::string> templates,
                       TemplateSettings settings)
    : Loader(
          [templates = std::move(templates)](const std::string& name) {
            auto found = templates.find(name);
            if (found == templates.end()) throw OSError(ENOENT, "no template named " + name);
            return found->second;
          },
          std::move(settings)) {}

Loader::~Loader() = default;
Loader::Loader(Loader&&) noexcept = default;
Loader& Loader::operator=(Loader&&) noexcept = default;

const std::filesystem::path& Loader::root() const noexcept {
  return state_->root;
}

const TemplateSettings& Loader::settings() const noexcept {
  return state_->settings;
}

void Loader::reset() {
  state_->cache.clear();
}

std::string Loader::resolve_path(std::string_view name, std::string_view parent_path) const {
  // Relative to the including template's folder, as Tornado; a leading '/' means the root.
  std::string combined;
  if (!parent_path.empty() && parent_path.front() != '<' && parent_path.front() != '/' &&
      !name.starts_with('/')) {
    std::size_t slash = parent_path.rfind('/');
    if (slash != std::string_view::npos) combined.assign(parent_path.substr(0, slash + 1));
  }
  combined.append(name);
  if (combined.find('\0') != std::string::npos) {
    throw TemplateError("template path contains a NUL byte", std::string(parent_path), 0);
  }
  std::vector<std::string_view> parts;
  std::string_view rest(combined);
  while (!rest.empty()) {
    std::size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (parts.empty()) {
        throw TemplateError("template path '" + std::string(name) + "' leaves the template root",
                            parent_path.empty() ? std::string(name) : std::string(parent_path), 0);
      }
      parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  if (parts.empty()) throw TemplateError("empty template path", std::string(name), 0);
  std::string resolved;
  for (auto part : parts) {
    if (!resolved.empty()) resolved += '/';
    resolved.append(part);
  }
  return resolved;
}

const Template& Loader::load(std::string_view name, std::string_view parent_path) {
  std::string key = resolve_path(name, parent_path);
  auto found = state_->cache.find(key);
  if (found != state_->cache.end()) return *found->second;

  // The templates this one extends or includes are loaded first; a chain that comes back to a
  // template still loading is a cycle.
  for (const auto& loading : state_->loading) {
    if (loading == key) {
      std::string chain;
      for (const auto& link : state_->loading) chain.append(link).append(" -> ");
      throw TemplateError("templates extend or include each other in a cycle: " + chain + key, key,
                          0);
    }
  }
  if (static_cast<int>(state_->loading.size()) >= detail::kMaxNesting) {
    throw TemplateError("templates extend or include each other more than " +
                            std::to_string(detail::kMaxNesting) + " levels deep",
                        key, 0);
  }

  std::string source = state_->read(key);
  state_->loading.push_back(key);
  struct PopLoading {
    std::vector<std::string>& loading;
    ~PopLoading() { loading.pop_back(); }
  } pop{state_->loading};

  std::unique_ptr<Template> loaded(new Template(source, key, &state_->settings));
  detail::TemplateImpl& impl = *loaded->impl_;
  // Loads a template named in `impl` at `line`, with errors located there.
  auto load_dependency = [&](const std::string& path, int line) -> const detail::TemplateImpl* {
    try {
      return load(path, impl.name).impl_.get();
    } catch (const ParseError&) {
      throw;
    } catch (const TemplateError& e) {
      throw ParseError(e.message(), impl.name, line);
    } catch (const OSError& e) {
      throw ParseError(std::string("cannot load '") + path + "': " + e.what(), impl.name, line);
    }
  };
  if (!impl.extends.empty()) impl.parent = load_dependency(impl.extends, impl.extends_line);
  detail::for_each_include(impl.body, [&](detail::IncludeNode& include) {
    include.target = load_dependency(include.path, include.line);
    if (!include.target->extends.empty()) {
      throw ParseError("included template '" + include.target->name + "' uses {% extends %}",
                       impl.name, include.line);
    }
  });
  detail::collect_blocks(impl);
  return *state_->cache.emplace(std::move(key), std::move(loaded)).first->second;
}

}  // namespace squall::web
