#pragma once
/// \file
/// Tornado's template language (`tornado.template`): `{{ expression }}` output, `{% tag %}`
/// directives (if/elif/else, for, while, set, try, extends and block, include, raw, autoescape,
/// apply, comment, whitespace) and `{# comments #}`. A `Template` is parsed once into a tree;
/// `generate` walks the tree with a JSON value as its namespace. A `Loader` reads templates from a
/// directory, resolves `{% extends %}` and `{% include %}` between them, and caches them.
///
/// Expressions are a Python subset on JSON values (squall::json): literals (`1`, `2.5`, `'s'`,
/// `"s"`, `True`, `False`, `None`, `[...]`, `{k: v}`), names, `a.b`, `a[i]`, `a[i:j]`, calls of
/// functions registered from C++, a few methods (`d.items()`, `d.get(k, default)`, `s.upper()`,
/// `", ".join(xs)`...), comparisons (chained, `in`, `not in`, `is None`), `and`/`or`/`not` with
/// Python's truthiness, `+ - * / // % **` (also string and list `+` and `*`, and `"%s" % x`
/// formatting), unary `-`, and `a if c else b`. docs/web.md lists the functions and methods.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "squall/util/error.hpp"
#include "squall/util/json.hpp"

namespace squall::web {

namespace detail {
struct TemplateImpl;
}  // namespace detail

class Loader;

/// Base of the template errors: `what()` is "<message> at <filename>:<lineno>", as Tornado's
/// `ParseError`; the parts are also available on their own.
class TemplateError : public Error {
 public:
  /// An error in template `filename` at line `lineno` (0 when no line applies).
  TemplateError(std::string message, std::string filename, int lineno);
  /// The message without the location.
  const std::string& message() const noexcept { return message_; }
  /// The name of the template the error is in (its loader path, or the name given to `Template`).
  const std::string& filename() const noexcept { return filename_; }
  /// The 1-based line of the tag or expression at fault.
  int lineno() const noexcept { return lineno_; }

 private:
  std::string message_;
  std::string filename_;
  int lineno_;
};

/// A template's syntax is wrong (unclosed or extra `{% end %}`, unknown tag, bad expression,
/// `{% extends %}` not first, blocks or expressions nested past 100 levels), or a template it
/// extends or includes cannot be loaded (a cycle, a chain past 100 templates, a missing file).
class ParseError : public TemplateError {
 public:
  using TemplateError::TemplateError;
};

/// A template failed while generating: an undefined name, an operation on the wrong types (`1 +
/// "a"`), a missing key or index, a division by zero, a call of something that is not a function,
/// or an exception thrown by a C++ function (then kept as the nested exception, see
/// `std::rethrow_if_nested`). The location is the innermost template and line.
class RenderError : public TemplateError {
 public:
  using TemplateError::TemplateError;
};

/// A function callable from templates: takes the positional arguments, returns a JSON value. An
/// exception it throws becomes a `RenderError` naming the template and line.
using TemplateFunction = std::function<json(std::span<const json> args)>;

/// Hashes template function names; lets `TemplateFunctions` be searched with a `std::string_view`.
struct TemplateFunctionHash {
  using is_transparent = void;
  /// The hash of `name`, the same for a std::string and a std::string_view.
  std::size_t operator()(std::string_view name) const noexcept {
    return std::hash<std::string_view>{}(name);
  }
};

/// Functions by name, as templates call them.
using TemplateFunctions =
    std::unordered_map<std::string, TemplateFunction, TemplateFunctionHash, std::equal_to<>>;

/// How templates are parsed and generated (Tornado's `Template`/`Loader` arguments).
struct TemplateSettings {
  /// The function applied to each `{{ }}` output, by name (looked up as a call would be); empty
  /// turns autoescaping off. A template's `{% autoescape name %}` or `{% autoescape None %}`
  /// overrides it for that file.
  std::string autoescape = "xhtml_escape";
  /// "all" keeps text as written, "single" collapses runs of spaces and tabs to one space and runs
  /// of whitespace with a newline to one newline, "oneline" collapses every run of whitespace to
  /// one space. Empty (the default) means "single" for names ending in ".html" or ".js" and "all"
  /// otherwise, as Tornado. Text containing `<pre>` is kept as written.
  std::string whitespace;
  /// Functions every template sees (Tornado's loader `namespace`), over the built-in ones.
  TemplateFunctions functions;
  /// Generating fails with a `RenderError` after this many steps (tags run, loop turns, outputs);
  /// 0 means no limit. For templates that are not trusted to terminate.
  std::uint64_t max_steps = 0;
  /// Generating fails with a `RenderError` when the output, or a string or list an expression
  /// builds (`"x" * n`, `range(n)`, `+`), passes this many bytes or elements; 0 means no limit.
  std::size_t max_size = 0;
};

/// A parsed template. Construct it from text, or get it from a `Loader` (needed for `{% extends %}`
/// and `{% include %}`). Generating does not parse again; `generate` is `const` and may run on
/// several threads at once.
class Template {
 public:
  /// Parses `source`. `name` appears in error messages and, when `settings.whitespace` is empty,
  /// chooses the whitespace mode. Throws `ParseError` for a syntax error or if the template uses
  /// `{% extends %}` or `{% include %}` (those need a `Loader`), `ValueError` for an unknown
  /// `settings.whitespace`.
  explicit Template(std::string_view source, std::string name = "<string>",
                    TemplateSettings settings = {});
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  /// Renders the template. `values` (a JSON object, or null for none) holds the names expressions
  /// see; `extra` (may be null) holds functions that take precedence over the settings' and the
  /// built-in ones for this call (a request's `static_url`, `xsrf_form_html`...); `defaults` (may
  /// be null; an object) holds names looked up after `values`, so a caller with a fixed namespace
  /// (a request handler's `request`, `current_user`...) need not copy it into `values`. All are
  /// only read, and must outlive the call. Throws `RenderError`, `ValueError` if `values` or
  /// `defaults` is neither an object nor null.
  std::string generate(const json& values = json::object(),
                       const TemplateFunctions* extra = nullptr,
                       const json* defaults = nullptr) const;

  /// As `generate`, appending to `out`. If rendering fails, `out` is left as it was.
  void generate_to(std::string& out, const json& values, const TemplateFunctions* extra = nullptr,
                   const json* defaults = nullptr) const;

  /// The name given at construction (for a loaded template, its path relative to the loader's
  /// root).
  const std::string& name() const noexcept;

 private:
  friend class Loader;
  // A template of a Loader: parsed only; the Loader resolves its extends and includes.
  Template(std::string_view source, std::string name, const TemplateSettings* shared_settings);

  std::unique_ptr<detail::TemplateImpl> impl_;
};

/// Loads templates from a directory and caches them (Tornado's `Loader`). `load` parses a file
/// once and resolves its `{% extends %}` and `{% include %}` names (relative to the including
/// file's folder, as Tornado; a leading '/' means the root) by loading those too.
///
/// A Loader is used from one thread (an Application's, shared by all its requests): `load` and
/// `reset` are not synchronized. The Templates it returns may be generated from any thread while
/// no `load` or `reset` runs.
class Loader {
 public:
  /// A loader for the templates under `root_directory`, parsed with `settings`.
  explicit Loader(std::filesystem::path root_directory, TemplateSettings settings = {});
  virtual ~Loader();
  Loader(Loader&&) noexcept;
  Loader& operator=(Loader&&) noexcept;

  /// The template at `name` (resolved against `parent_path`, the name of the including template,
  /// if given), parsed on first use and cached after. The reference stays valid until `reset` or
  /// the Loader's destruction. Throws `ParseError` (in this template or one it extends or
  /// includes), `TemplateError` if the name leaves the root directory, `OSError` if the file
  /// cannot be read.
  const Template& load(std::string_view name, std::string_view parent_path = {});

  /// The cache key for `name` as included from `parent_path`: a path relative to the root, with
  /// "." and ".." segments resolved. Throws `TemplateError` if it would leave the root or holds a
  /// NUL byte.
  std::string resolve_path(std::string_view name, std::string_view parent_path = {}) const;

  /// Empties the cache, so templates are read again (Tornado's `reset`, for a development mode
  /// that picks up edits). Invalidates every reference `load` returned.
  void reset();

  /// The root directory, made absolute (empty for a `DictLoader`).
  const std::filesystem::path& root() const noexcept;

  /// The settings every template of this loader is parsed and generated with.
  const TemplateSettings& settings() const noexcept;

 protected:
  /// A loader that gets a template's text from `read(resolved_name)`, which throws `OSError` for
  /// a name it does not have.
  Loader(std::function<std::string(const std::string& name)> read, TemplateSettings settings);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// A `Loader` of templates held in memory by name (Tornado's `DictLoader`), for tests and
/// templates compiled into a program. Names resolve as for files; a name that is not in
/// `templates` fails as a missing file does (`OSError`, ENOENT).
class DictLoader final : public Loader {
 public:
  explicit DictLoader(std::unordered_map<std::string, std::string> templates,
                      TemplateSettings settings = {});
};

/// Applies a whitespace mode ("all", "single" or "oneline", see `TemplateSettings::whitespace`) to
/// `text`, as Tornado's `filter_whitespace`. Throws `ValueError` for another mode.
std::string filter_whitespace(std::string_view mode, std::string_view text);

}  // namespace squall::web
