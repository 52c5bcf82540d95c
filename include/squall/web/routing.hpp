#pragma once
/// \file
/// Routing (Tornado's `routing`): a `URLSpec` maps a path pattern to the factory of the handler
/// that serves it. Patterns are Python regular expressions (PCRE2 with Python's syntax, so
/// `(?P<name>...)` names a group), matched against the whole request path, still percent-encoded.
/// The path's groups reach the handler percent-decoded: positional groups as `path_args()`, or,
/// when the pattern names any group, named ones as `path_kwargs()` (and then no positional ones),
/// as in Tornado.

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace squall::web {

class RequestHandler;

/// Makes a new handler object for each request. `handler<H>(args...)` builds one.
struct HandlerFactory {
  std::function<std::unique_ptr<RequestHandler>()> make;
  /// The handler takes the body as it arrives (`data_received`) instead of buffered whole:
  /// Tornado's `@stream_request_body`.
  bool stream_request_body = false;
  /// The HTTP methods the handler class implements, as bits of `method_bit` (zero: unknown):
  /// a 405 answer lists them in its `Allow` header (RFC 9110 §15.5.6).
  unsigned methods = 0;

  explicit operator bool() const noexcept { return static_cast<bool>(make); }
};

namespace detail {

/// The bit of each method in HandlerFactory::methods, in the order `Allow` lists them.
enum MethodBit : unsigned {
  kGetBit = 1u << 0,
  kHeadBit = 1u << 1,
  kPostBit = 1u << 2,
  kDeleteBit = 1u << 3,
  kPatchBit = 1u << 4,
  kPutBit = 1u << 5,
  kOptionsBit = 1u << 6,
};

/// The methods `H` overrides (found at compile time: `&H::get` names RequestHandler's own `get`
/// unless a class between them overrides it).
template <class H, class Base = RequestHandler>
constexpr unsigned implemented_methods() {
  unsigned methods = 0;
  if constexpr (!std::is_same_v<decltype(&H::get), decltype(&Base::get)>) methods |= kGetBit;
  if constexpr (!std::is_same_v<decltype(&H::head), decltype(&Base::head)>) methods |= kHeadBit;
  if constexpr (!std::is_same_v<decltype(&H::post), decltype(&Base::post)>) methods |= kPostBit;
  if constexpr (!std::is_same_v<decltype(&H::delete_), decltype(&Base::delete_)>) {
    methods |= kDeleteBit;
  }
  if constexpr (!std::is_same_v<decltype(&H::patch), decltype(&Base::patch)>) methods |= kPatchBit;
  if constexpr (!std::is_same_v<decltype(&H::put), decltype(&Base::put)>) methods |= kPutBit;
  if constexpr (!std::is_same_v<decltype(&H::options), decltype(&Base::options)>) {
    methods |= kOptionsBit;
  }
  return methods;
}

}  // namespace detail

/// The factory of handler class `H` (derived from RequestHandler and default-constructible).
/// Each new handler gets `initialize(args...)` called with copies of `args`, as Tornado passes a
/// route's keyword arguments to `initialize`. A class declaring
/// `static constexpr bool stream_request_body = true;` streams request bodies. The methods `H`
/// overrides are noted for the `Allow` header of its 405 answers.
template <class H, class... Args>
HandlerFactory handler(Args... args) {
  static_assert(std::is_base_of_v<RequestHandler, H>,
                "handler<H>: H must derive from RequestHandler");
  HandlerFactory factory;
  factory.make = [... args = std::move(args)]() -> std::unique_ptr<RequestHandler> {
    auto made = std::make_unique<H>();
    if constexpr (sizeof...(Args) > 0) made->initialize(args...);
    return made;
  };
  if constexpr (requires { H::stream_request_body; }) {
    factory.stream_request_body = H::stream_request_body;
  }
  factory.methods = detail::implemented_methods<H>();
  return factory;
}

/// The groups a route's pattern captured from a path, percent-decoded (a group that took no
/// part in the match is empty).
struct PathArguments {
  std::vector<std::string> args;
  std::map<std::string, std::string, std::less<>> kwargs;
};

/// One route: a path pattern, the factory of its handler, and an optional name for
/// `reverse_url`. Throws ValueError (naming the pattern and PCRE2's message) when the pattern
/// does not compile. Copies share the compiled pattern.
class URLSpec {
 public:
  URLSpec(std::string pattern, HandlerFactory factory, std::string name = {});
  ~URLSpec();
  URLSpec(const URLSpec&);
  URLSpec& operator=(const URLSpec&);
  URLSpec(URLSpec&&) noexcept;
  URLSpec& operator=(URLSpec&&) noexcept;

  const std::string& pattern() const noexcept { return pattern_; }
  const std::string& name() const noexcept { return name_; }
  const HandlerFactory& factory() const noexcept { return factory_; }

  /// Whether `path` matches the whole pattern; if so, fills `out` with the decoded groups.
  bool match(std::string_view path, PathArguments& out) const;

  /// The path this route serves for `args`, each percent-encoded (Tornado's `reverse`). Throws
  /// ValueError if the pattern is too complex to reverse (nested or non-capturing groups,
  /// character classes outside groups) or the number of arguments is not the number of groups.
  std::string reverse(std::span<const std::string> args) const;

 private:
  struct Compiled;
  static std::shared_ptr<const Compiled> compile(const std::string& pattern);
  std::string pattern_;
  HandlerFactory factory_;
  std::string name_;
  std::shared_ptr<const Compiled> compiled_;
};

/// A host pattern (a Python regular expression matched against the request's host name, without
/// the port, lower-cased) and the routes served for it.
struct HostRules {
  std::string host_pattern;
  std::vector<URLSpec> rules;
};

}  // namespace squall::web
