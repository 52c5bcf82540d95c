// ErrorHandler and RedirectHandler.

#include "squall/web/handlers.hpp"

namespace squall::web {

Future<void> ErrorHandler::prepare() {
  throw HTTPError(status_code_to_send_);
}

Future<void> RedirectHandler::get() {
  // Tornado's str.format with the route's groups: {N} positional, {name} named.
  std::string url;
  const std::string& pattern = options_.url;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if ((c == '{' || c == '}') && i + 1 < pattern.size() && pattern[i + 1] == c) {
      url += c;  // "{{" and "}}" are literal braces
      ++i;
      continue;
    }
    if (c != '{') {
      url += c;
      continue;
    }
    std::size_t close = pattern.find('}', i);
    if (close == std::string::npos) throw ValueError("unclosed '{' in redirect URL " + pattern);
    std::string_view key(pattern.data() + i + 1, close - i - 1);
    bool numeric = !key.empty() && key.find_first_not_of("0123456789") == std::string_view::npos;
    if (numeric) {
      std::size_t index = std::stoul(std::string(key));
      if (index >= path_args().size()) {
        throw ValueError("redirect URL " + pattern + " uses group " + std::string(key) +
                         " the route does not have");
      }
      url += path_args()[index];
    } else {
      auto it = path_kwargs().find(key);
      if (it == path_kwargs().end()) {
        throw ValueError("redirect URL " + pattern + " uses group '" + std::string(key) +
                         "' the route does not have");
      }
      url += it->second;
    }
    i = close;
  }
  if (!request().query.empty()) {
    url += url.find('?') == std::string::npos ? '?' : '&';
    url += request().query;
  }
  std::optional<int> status;
  if (options_.status != 0) status = options_.status;
  redirect(url, options_.permanent, status);
  return make_ready_future();
}

}  // namespace squall::web
