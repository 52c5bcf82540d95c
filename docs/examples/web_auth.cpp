// Quoted by docs/web.md: users, authenticated(), XSRF protection and addslash(). A login form
// with its _xsrf field, a signed "user" cookie, a page for logged-in users only. It serves on a
// free loopback port, plays the browser through the login, checks each step and exits.
#include <memory>
#include <string>
#include <vector>

#include <squall/http/httputil.hpp>
#include <squall/util/escape.hpp>
#include <squall/util/json.hpp>
#include <squall/web/application.hpp>
#include <squall/web/request_handler.hpp>

#include "web_example.hpp"

using squall::web::handler;

// [user]
// The application's handlers derive from this one: the logged-in user is the signed "user"
// cookie, null if there is none or it does not verify.
class BaseHandler : public squall::web::RequestHandler {
 public:
  squall::json get_current_user() override {
    std::optional<std::string> name = get_signed_cookie("user");
    return name ? squall::json(*name) : squall::json();
  }
};

class ProfileHandler : public BaseHandler {
 public:
  squall::Future<void> get() override {
    authenticated();  // not logged in: redirected to login_url?next=/profile, and the call throws
    write("Hello, " + current_user().get<std::string>());
    return squall::make_ready_future();
  }
};
// [user]

// [login]
class LoginHandler : public BaseHandler {
 public:
  squall::Future<void> get() override {
    // xsrf_form_html() is the hidden _xsrf field; it also sets the _xsrf cookie.
    write("<form method=\"post\">" + xsrf_form_html() + "<input name=\"name\"></form>");
    return squall::make_ready_future();
  }

  // Reached only with a valid _xsrf: xsrf_cookies checks every POST before prepare().
  squall::Future<void> post() override {
    set_signed_cookie("user", get_argument("name"));
    redirect(get_argument("next", "/"));
    return squall::make_ready_future();
  }
};
// [login]

// [slash]
// Serves /docs/ for both /docs and /docs/: addslash() redirects the first to the second.
class DocsHandler : public BaseHandler {
 public:
  squall::Future<void> get() override {
    addslash();  // without the slash: 301 to the path with it, and the call throws Finish
    write("the docs");
    return squall::make_ready_future();
  }
};
// [slash]

std::unique_ptr<squall::web::Application> make_app() {
  // [settings]
  squall::web::Settings settings;
  settings.cookie_secret = "a long random secret, read from a file in real life";
  settings.login_url = "/login";
  settings.xsrf_cookies = true;
  auto app = std::make_unique<squall::web::Application>(
      std::vector<squall::web::URLSpec>{
          {"/login", handler<LoginHandler>()},
          {"/profile", handler<ProfileHandler>()},
          {"/docs/?", handler<DocsHandler>()},
      },
      std::move(settings));
  // [settings]
  return app;
}

// The part of `header` (a Set-Cookie value) before its attributes: "name=value".
std::string name_value(const std::string& header) {
  return header.substr(0, header.find(';'));
}

squall::Future<void> test(web_example::Site& site) {
  using web_example::check;
  using web_example::check_equal;
  auto anonymous = co_await site.fetch("/profile");
  check_equal(std::to_string(anonymous.code) + " " + anonymous.headers.get("Location", ""),
              "302 /login?next=%2Fprofile", "authenticated() redirects a GET");

  auto form = co_await site.fetch("/login?next=%2Fprofile");
  const std::string xsrf_cookie = name_value(form.headers.get("Set-Cookie", ""));
  check(xsrf_cookie.starts_with("_xsrf="), "the _xsrf cookie: " + xsrf_cookie);
  const std::string marker = "name=\"_xsrf\" value=\"";
  std::size_t at = form.body.find(marker);
  check(at != std::string::npos, "the form's _xsrf field: " + form.body);
  std::string token = form.body.substr(at + marker.size());
  token = squall::escape::xhtml_unescape(token.substr(0, token.find('"')));

  squall::HTTPRequest forged;  // another site's form: it cannot know the token
  forged.method = "POST";
  forged.body = "name=mallory";
  forged.headers.add("Cookie", xsrf_cookie);
  check_equal(std::to_string((co_await site.fetch("/login?next=%2Fprofile", forged)).code), "403",
              "a POST without the token");

  squall::HTTPRequest login;
  login.method = "POST";
  login.body = "name=ann&_xsrf=" + squall::escape::url_escape(token);
  login.headers.add("Cookie", xsrf_cookie);
  auto logged_in = co_await site.fetch("/login?next=%2Fprofile", login);
  check_equal(std::to_string(logged_in.code) + " " + logged_in.headers.get("Location", ""),
              "302 /profile", "login");
  std::string user_cookie;
  for (const std::string& header : logged_in.headers.get_list("Set-Cookie")) {
    if (header.starts_with("user=")) user_cookie = name_value(header);
  }

  squall::HTTPRequest back;
  back.headers.add("Cookie", user_cookie);
  check_equal((co_await site.fetch("/profile", back)).body, "Hello, ann", "logged in");

  auto docs = co_await site.fetch("/docs?page=2");
  check_equal(std::to_string(docs.code) + " " + docs.headers.get("Location", ""),
              "301 /docs/?page=2", "addslash");
  check_equal((co_await site.fetch("/docs/")).body, "the docs", "with the slash");
}

int main() {
  return web_example::run(make_app, test);
}
