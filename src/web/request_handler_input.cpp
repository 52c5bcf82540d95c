// RequestHandler: arguments, cookies (plain and signed), XSRF, users and their guards, URLs.

#include <nlohmann/json.hpp>

#include "squall/util/escape.hpp"
#include "squall/web/application.hpp"
#include "squall/web/request_handler.hpp"
#include "squall/web/static_file_handler.hpp"
#include "util/utf8.hpp"
#include "web/response_state.hpp"
#include "web/xsrf.hpp"

namespace squall::web {
namespace {

constexpr std::string_view kXsrfCookieName = "_xsrf";

bool is_removed_control(unsigned char c) {
  return c <= 0x08 || (c >= 0x0e && c <= 0x1f);
}

// The length of the white space (as Python's str.isspace) starting at `s[i]`, or 0: ASCII
// white space and the separators \x1c-\x1f, and, UTF-8 encoded, U+0085, U+00A0, U+1680,
// U+2000-U+200A, U+2028, U+2029, U+202F, U+205F and U+3000.
std::size_t space_at(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) {
    return k < s.size() ? static_cast<unsigned char>(s[k]) : 0u;
  };
  const unsigned c = byte(i);
  if (c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f)) return 1;
  if (c == 0xc2 && (byte(i + 1) == 0x85 || byte(i + 1) == 0xa0)) return 2;
  if (c == 0xe1 && byte(i + 1) == 0x9a && byte(i + 2) == 0x80) return 3;
  if (c == 0xe2 && byte(i + 1) == 0x80) {
    const unsigned d = byte(i + 2);
    if (d <= 0x8a || d == 0xa8 || d == 0xa9 || d == 0xaf) return 3;
  }
  if (c == 0xe2 && byte(i + 1) == 0x81 && byte(i + 2) == 0x9f) return 3;
  if (c == 0xe3 && byte(i + 1) == 0x80 && byte(i + 2) == 0x80) return 3;
  return 0;
}

// The length of the white space ending just before `s[end]`, or 0.
std::size_t space_before(std::string_view s, std::size_t end) {
  for (std::size_t n = 1; n <= 3 && n <= end; ++n) {
    if (space_at(s, end - n) == n) return n;
  }
  return 0;
}

// Tornado's argument cleaning: UTF-8 checked (a 400 otherwise), control characters other than
// white space replaced by a space, and surrounding white space stripped if asked (as Python's
// str.strip(), Unicode white space included).
std::string clean_argument(std::string_view name, std::string_view value, bool strip) {
  if (!squall::detail::is_valid_utf8(value)) {
    throw HTTPError(
        400, "Invalid unicode in " + std::string(name) + ": " + std::string(value.substr(0, 40)));
  }
  std::string out(value);
  for (char& c : out) {
    if (is_removed_control(static_cast<unsigned char>(c))) c = ' ';
  }
  if (strip) {
    std::size_t begin = 0;
    while (std::size_t n = space_at(out, begin)) begin += n;
    std::size_t end = out.size();
    while (end > begin) {
      std::size_t n = space_before(out, end);
      if (n == 0) break;
      end -= n;
    }
    out = out.substr(begin, end - begin);
  }
  return out;
}

}  // namespace

// --- Arguments ----------------------------------------------------------------------------------

std::vector<std::string> RequestHandler::argument_values(const Arguments& arguments,
                                                         std::string_view name, bool strip) const {
  std::vector<std::string> values;
  auto it = arguments.find(std::string(name));
  if (it == arguments.end()) return values;
  values.reserve(it->second.size());
  for (const std::string& value : it->second) values.push_back(clean_argument(name, value, strip));
  return values;
}

std::string RequestHandler::one_argument(const Arguments& arguments, std::string_view name,
                                         std::optional<std::string_view> default_value,
                                         bool strip) const {
  auto it = arguments.find(std::string(name));
  if (it == arguments.end() || it->second.empty()) {
    if (!default_value) throw MissingArgumentError(std::string(name));
    return std::string(*default_value);
  }
  return clean_argument(name, it->second.back(), strip);
}

std::string RequestHandler::get_argument(std::string_view name,
                                         std::optional<std::string_view> default_value,
                                         bool strip) {
  return one_argument(request_->arguments, name, default_value, strip);
}

std::vector<std::string> RequestHandler::get_arguments(std::string_view name, bool strip) {
  return argument_values(request_->arguments, name, strip);
}

std::string RequestHandler::get_query_argument(std::string_view name,
                                               std::optional<std::string_view> default_value,
                                               bool strip) {
  return one_argument(request_->query_arguments, name, default_value, strip);
}

std::vector<std::string> RequestHandler::get_query_arguments(std::string_view name, bool strip) {
  return argument_values(request_->query_arguments, name, strip);
}

std::string RequestHandler::get_body_argument(std::string_view name,
                                              std::optional<std::string_view> default_value,
                                              bool strip) {
  return one_argument(request_->body_arguments, name, default_value, strip);
}

std::vector<std::string> RequestHandler::get_body_arguments(std::string_view name, bool strip) {
  return argument_values(request_->body_arguments, name, strip);
}

// --- Cookies ------------------------------------------------------------------------------------

const std::map<std::string, std::string>& RequestHandler::cookies() const {
  return request_->cookies();
}

std::optional<std::string> RequestHandler::get_cookie(std::string_view name) const {
  const auto& all = cookies();
  auto it = all.find(std::string(name));
  if (it == all.end()) return std::nullopt;
  return it->second;
}

namespace {

// Keeps the Set-Cookie value of cookie `name`, replacing one set earlier in this response (a
// browser would keep only the last anyway).
void remember_cookie(std::vector<std::pair<std::string, std::string>>& cookies,
                     std::string_view name, std::string header) {
  for (auto& [cookie, existing] : cookies) {
    if (cookie == name) {
      existing = std::move(header);
      return;
    }
  }
  cookies.emplace_back(std::string(name), std::move(header));
}

}  // namespace

void RequestHandler::set_cookie(std::string_view name, std::string_view value,
                                const CookieOptions& options) {
  remember_cookie(response().new_cookies, name, format_set_cookie(name, value, options));
}

void RequestHandler::clear_cookie(std::string_view name, const CookieOptions& options) {
  remember_cookie(response().new_cookies, name, format_clear_cookie(name, options));
}

void RequestHandler::clear_all_cookies(const CookieOptions& options) {
  for (const auto& [name, value] : cookies()) clear_cookie(name, options);
}

void RequestHandler::set_signed_cookie(std::string_view name, std::string_view value,
                                       std::optional<double> expires_days,
                                       const CookieOptions& options, int version) {
  CookieOptions with_expiry = options;
  if (!with_expiry.expires && !with_expiry.expires_days) with_expiry.expires_days = expires_days;
  set_cookie(name, create_signed_value(settings().cookie_secret, name, value, version),
             with_expiry);
}

std::optional<std::string> RequestHandler::get_signed_cookie(std::string_view name,
                                                             std::optional<std::string_view> value,
                                                             std::optional<double> max_age_days,
                                                             int min_version) {
  std::optional<std::string> cookie;
  if (!value) {
    cookie = get_cookie(name);
    if (!cookie) return std::nullopt;
    value = *cookie;
  }
  std::string_view signed_value = *value;
  if (signed_value.empty()) return std::nullopt;
  return decode_signed_value(settings().cookie_secret, name, signed_value, max_age_days,
                             min_version);
}

std::optional<int> RequestHandler::get_signed_cookie_key_version(
    std::string_view name, std::optional<std::string_view> value) {
  std::optional<std::string> cookie;
  if (!value) {
    cookie = get_cookie(name);
    if (!cookie) return std::nullopt;
    value = *cookie;
  }
  std::string_view signed_value = *value;
  if (signed_value.empty()) return std::nullopt;
  return get_signature_key_version(signed_value);
}

// --- XSRF ---------------------------------------------------------------------------------------

namespace {

// The raw token of the request's `_xsrf` cookie, or a new one (Tornado's _get_raw_xsrf_token).
RawXsrfToken raw_xsrf_token(const RequestHandler& handler) {
  if (auto cookie = handler.get_cookie(kXsrfCookieName)) {
    if (auto decoded = decode_xsrf_token(*cookie)) return *decoded;
  }
  return generate_xsrf_token();
}

}  // namespace

const std::string& RequestHandler::xsrf_token() {
  std::optional<std::string>& token = response().xsrf_token;
  if (token) return *token;
  RawXsrfToken raw = raw_xsrf_token(*this);
  token = encode_xsrf_token(raw.token, raw.timestamp, settings().xsrf_cookie_version);
  if (!raw.version) {
    CookieOptions options = settings().xsrf_cookie_kwargs;
    if (!current_user().is_null() && !options.expires_days && !options.expires) {
      options.expires_days = 30;
    }
    set_cookie(kXsrfCookieName, *token, options);
  }
  return *token;
}

std::string RequestHandler::xsrf_form_html() {
  return R"(<input type="hidden" name="_xsrf" value=")" + escape::xhtml_escape(xsrf_token()) +
         R"("/>)";
}

void RequestHandler::check_xsrf_cookie() {
  std::string token = get_argument("_xsrf", "");
  if (token.empty()) token = request_->headers.get("X-Xsrftoken", "");
  if (token.empty()) token = request_->headers.get("X-Csrftoken", "");
  if (token.empty()) throw HTTPError(403, "'_xsrf' argument missing from POST");
  auto sent = decode_xsrf_token(token);
  if (!sent) throw HTTPError(403, "'_xsrf' argument has invalid format");
  RawXsrfToken expected = raw_xsrf_token(*this);
  if (!xsrf_tokens_equal(sent->token, expected.token)) {
    throw HTTPError(403, "XSRF cookie does not match POST argument");
  }
}

// --- Users and guards ---------------------------------------------------------------------------

const nlohmann::json& RequestHandler::current_user() {
  if (!current_user_) current_user_ = std::make_unique<nlohmann::json>(get_current_user());
  return *current_user_;
}

void RequestHandler::set_current_user(nlohmann::json user) {
  current_user_ = std::make_unique<nlohmann::json>(std::move(user));
}

nlohmann::json RequestHandler::get_current_user() {
  return nullptr;
}

std::string RequestHandler::get_login_url() {
  require_setting("login_url", "authenticated");
  return settings().login_url;
}

void RequestHandler::authenticated() {
  if (!current_user().is_null()) return;
  const std::string& method = request_->method;
  if (method == "GET" || method == "HEAD") {
    std::string url = get_login_url();
    if (url.find('?') == std::string::npos) {
      // An absolute login URL gets an absolute `next`, as Tornado.
      const bool absolute = url.find("://") != std::string::npos;
      std::string next = absolute ? request_->full_url() : request_->uri;
      url += "?next=" + escape::url_escape(next, true);
    }
    redirect(url);
    throw Finish();
  }
  throw HTTPError(403);
}

namespace {

// A redirect target made from the request's path must stay on this site: "//host" is a URL of
// another host to a browser.
std::string same_site(std::string path) {
  std::size_t slashes = 0;
  while (slashes < path.size() && path[slashes] == '/') ++slashes;
  if (slashes > 1) path.erase(0, slashes - 1);
  return path;
}

}  // namespace

void RequestHandler::removeslash() {
  const std::string& path = request_->path;
  if (path.empty() || path.back() != '/') return;
  const std::string& method = request_->method;
  if (method != "GET" && method != "HEAD") throw HTTPError(404);
  std::string uri = path;
  while (!uri.empty() && uri.back() == '/') uri.pop_back();
  if (uri.empty()) return;  // "/" stays "/"
  uri = same_site(std::move(uri));
  if (!request_->query.empty()) uri += "?" + request_->query;
  redirect(uri, true);
  throw Finish();
}

void RequestHandler::addslash() {
  const std::string& path = request_->path;
  if (!path.empty() && path.back() == '/') return;
  const std::string& method = request_->method;
  if (method != "GET" && method != "HEAD") throw HTTPError(404);
  std::string uri = same_site(path + "/");
  if (!request_->query.empty()) uri += "?" + request_->query;
  redirect(uri, true);
  throw Finish();
}

// --- URLs and settings --------------------------------------------------------------------------

std::string RequestHandler::static_url(std::string_view path, bool include_host) {
  require_setting("static_path", "static_url");
  std::string url;
  if (include_host) url = request_->protocol + "://" + request_->host;
  url += StaticFileHandler::make_static_url(*application_, path);
  return url;
}

std::string RequestHandler::reverse_url(std::string_view name,
                                        const std::vector<std::string>& args) const {
  return application_->reverse_url(name, args);
}

std::string RequestHandler::get_template_path() {
  return settings().template_path;
}

void RequestHandler::require_setting(std::string_view name, std::string_view feature) const {
  const Settings& s = settings();
  bool set = false;
  if (name == "cookie_secret") {
    set = !s.cookie_secret.empty();
  } else if (name == "login_url") {
    set = !s.login_url.empty();
  } else if (name == "static_path") {
    set = !s.static_path.empty();
  } else if (name == "template_path") {
    set = !s.template_path.empty();
  } else {
    set = s.values.contains(std::string(name));
  }
  if (!set) {
    throw ValueError("You must define the '" + std::string(name) +
                     "' setting in your application to use " + std::string(feature));
  }
}

}  // namespace squall::web
