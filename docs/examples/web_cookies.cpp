// Quoted by docs/web.md: cookies. Plain cookies and their attributes, signed cookies, versioned
// keys, and signed values outside cookies. It serves on a free loopback port, plays the browser
// (sending back the cookies it was given), checks and exits.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <squall/web/application.hpp>
#include <squall/web/request_handler.hpp>
#include <squall/web/signed_value.hpp>

#include "web_example.hpp"

using squall::web::handler;

// [plain]
class ThemeHandler : public squall::web::RequestHandler {
 public:
  squall::Future<void> get() override {
    std::optional<std::string> theme = get_cookie("theme");  // from the request
    if (!theme) {
      theme = "light";
      set_cookie("theme", *theme, {.expires_days = 365, .httponly = true, .samesite = "Lax"});
    }
    write("theme: " + *theme);
    return squall::make_ready_future();
  }
};
// [plain]

// [signed]
// Counts a visitor's visits in a signed cookie: a client can read it but not forge it.
class VisitsHandler : public squall::web::RequestHandler {
 public:
  squall::Future<void> get() override {
    int visits = 0;
    if (std::optional<std::string> value = get_signed_cookie("visits")) {
      visits = std::stoi(*value);  // signed by us, so it is the number we wrote
    }
    set_signed_cookie("visits", std::to_string(visits + 1));  // expires in 30 days
    write("visit " + std::to_string(visits + 1));
    return squall::make_ready_future();
  }
};
// [signed]

std::unique_ptr<squall::web::Application> make_app() {
  // [keys]
  squall::web::Settings settings;
  // Values are signed with key 2 and carry its number; those signed with key 1 still verify.
  settings.cookie_secret = squall::web::CookieSecret(
      {{1, "an old secret, kept until its cookies expire"}, {2, "the current secret"}}, 2);
  // [keys]
  return std::make_unique<squall::web::Application>(
      std::vector<squall::web::URLSpec>{
          {"/theme", handler<ThemeHandler>()},
          {"/visits", handler<VisitsHandler>()},
      },
      std::move(settings));
}

// The cookie `name`'s value from a response's Set-Cookie headers ("" if none).
std::string cookie_value(const squall::HTTPResponse& response, const std::string& name) {
  for (const std::string& header : response.headers.get_list("Set-Cookie")) {
    if (header.starts_with(name + "=")) {
      return header.substr(name.size() + 1, header.find(';') - name.size() - 1);
    }
  }
  return "";
}

squall::Future<void> test(web_example::Site& site) {
  using web_example::check;
  using web_example::check_equal;
  auto first = co_await site.fetch("/theme");
  check_equal(first.body, "theme: light", "no cookie yet");
  const std::string set_cookie = first.headers.get("Set-Cookie", "");
  check(set_cookie.starts_with("theme=light; expires=") &&
            set_cookie.ends_with("; HttpOnly; Path=/; SameSite=Lax"),
        "Set-Cookie: " + set_cookie);
  squall::HTTPRequest with_theme;
  with_theme.headers.add("Cookie", "theme=dark");
  check_equal((co_await site.fetch("/theme", with_theme)).body, "theme: dark", "cookie read");

  auto visit = co_await site.fetch("/visits");
  check_equal(visit.body, "visit 1", "first visit");
  std::string signed_cookie = cookie_value(visit, "visits");
  // Quoted, as Python's http.cookies writes a value holding '=': a browser sends it back so.
  check(signed_cookie.starts_with("\"2|1:2|10:"), "version 2, key 2: " + signed_cookie);
  squall::HTTPRequest back;
  back.headers.add("Cookie", "visits=" + signed_cookie);
  check_equal((co_await site.fetch("/visits", back)).body, "visit 2", "signed cookie read");

  // A forged value does not verify: the count starts again.
  std::string forged = signed_cookie;
  char& digit = forged[forged.size() - 2];  // the signature's last digit, before the quote
  digit = digit == '0' ? '1' : '0';
  squall::HTTPRequest tampered;
  tampered.headers.add("Cookie", "visits=" + forged);
  check_equal((co_await site.fetch("/visits", tampered)).body, "visit 1", "forged cookie");

  // A cookie signed with the old key still verifies.
  squall::web::CookieSecret old_key({{1, "an old secret, kept until its cookies expire"}}, 1);
  squall::HTTPRequest old;
  old.headers.add("Cookie", "visits=" + squall::web::create_signed_value(old_key, "visits", "41"));
  check_equal((co_await site.fetch("/visits", old)).body, "visit 42", "an older key");
}

int main() {
  // [values]
  // Signed values outside cookies: a password-reset link valid for a day.
  std::string token = squall::web::create_signed_value("the secret", "reset", "user 42");
  std::optional<std::string> who =
      squall::web::decode_signed_value("the secret", "reset", token, /*max_age_days=*/1.0);
  // who == "user 42"; another name, key or a token older than a day gives nullopt
  // [values]
  if (who != "user 42" || squall::web::decode_signed_value("the secret", "login", token)) {
    return 1;
  }
  return web_example::run(make_app, test);
}
