// Quoted by docs/web.md: templates and escaping. A handler rendering the files of
// docs/examples/templates/ (inheritance, include, a function from the ui_methods setting, the
// handler's own names), a Template made from a string, functions, errors, and squall::escape. It
// renders, serves on a free loopback port, fetches the page, checks everything and exits.
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <squall/util/escape.hpp>
#include <squall/util/json.hpp>
#include <squall/web/application.hpp>
#include <squall/web/request_handler.hpp>
#include <squall/web/template.hpp>

#include "web_example.hpp"

using squall::web::handler;
using web_example::check_equal;

// [money]
// A template function: positional JSON arguments in, a JSON value out. What it throws becomes a
// RenderError naming the template and line.
squall::json money(std::span<const squall::json> args) {
  if (args.size() != 1 || !args[0].is_number()) throw squall::ValueError("money(amount)");
  char text[32];
  std::snprintf(text, sizeof text, "$%.2f", args[0].get<double>());
  return text;
}
// [money]

// [handler]
class ProductsHandler : public squall::web::RequestHandler {
 public:
  squall::json get_current_user() override {
    std::string name = get_argument("as", "");  // for the example: the user is in the query
    return name.empty() ? squall::json() : squall::json(name);
  }

  squall::Future<void> get() override {
    // The values are a JSON object: its members are the names the template sees, besides the
    // handler's own (request, current_user, static_url, xsrf_form_html, reverse_url).
    return render("products.html", {{"title", "Tea & Coffee"},
                                    {"products",
                                     {{{"name", "Sencha"}, {"price", 7.5}, {"stock", 12}},
                                      {{"name", "<Mocha>"}, {"price", 9}, {"stock", 0}}}}});
  }
};
// [handler]

class ProductHandler : public squall::web::RequestHandler {};

std::unique_ptr<squall::web::Application> make_app() {
  // [settings]
  squall::web::Settings settings;
  settings.template_path = SQUALL_DOCS_DIR "/templates";  // where render() looks
  settings.ui_methods["money"] = money;                   // a function every template sees
  // [settings]
  return std::make_unique<squall::web::Application>(
      std::vector<squall::web::URLSpec>{
          {"/products", handler<ProductsHandler>()},
          {"/products/([0-9]+)", handler<ProductHandler>(), "product"},
      },
      std::move(settings));
}

squall::Future<void> test(web_example::Site& site) {
  auto page = co_await site.fetch("/products?as=ann");
  check_equal(page.body,
              "<!DOCTYPE html>\n"
              "<html>\n"
              "<head><title>Tea &amp; Coffee | Shop</title></head>\n"
              "<body>\n"
              "<h1>Tea &amp; Coffee</h1>\n"
              "<ul>\n"
              "<li>Sencha: $7.50</li>\n"
              "<li>&lt;Mocha&gt;: $9.00 (sold out)</li>\n"
              "</ul>\n"
              "<p>Signed in as ann.\n"
              "<a href=\"/products/7\">Today's offer</a></p>\n"
              "</body>\n"
              "</html>\n",
              "the rendered page");
  auto guest = co_await site.fetch("/products");
  web_example::check_contains(guest.body, "<p>Signed in as a guest.", "no current_user");
}

void standalone() {
  // [template]
  squall::web::Template greeting(
      "Hello, {{ name }}! You have {{ len(messages) }} new "
      "{{ 'message' if len(messages) == 1 else 'messages' }}.");
  std::string text = greeting.generate({{"name", "<Ann>"}, {"messages", {"hi"}}});
  // Hello, &lt;Ann&gt;! You have 1 new message.
  // [template]
  check_equal(text, "Hello, &lt;Ann&gt;! You have 1 new message.", "Template");

  // [functions]
  squall::web::TemplateSettings settings;
  settings.autoescape = "";  // plain text: no HTML escaping
  settings.functions["money"] = money;
  squall::web::Template receipt(
      "{% for item in items %}{{ '%-8s' % item.name }}{{ money(item.price) }}\n{% end %}"
      "Total:  {{ money(total) }}\n",
      "receipt.txt", settings);
  std::string printed = receipt.generate(
      {{"items", {{{"name", "Sencha"}, {"price", 7.5}}, {{"name", "Mocha"}, {"price", 9}}}},
       {"total", 16.5}});
  // [functions]
  check_equal(printed, "Sencha  $7.50\nMocha   $9.00\nTotal:  $16.50\n", "functions");

  // [errors]
  std::string message;
  try {
    squall::web::Template profile("<h1>Profile</h1>\n<p>{{ user.nmae }}</p>", "profile.html");
    profile.generate({{"user", {{"name", "ann"}}}});
  } catch (const squall::web::RenderError& e) {
    message = e.what();  // 'dict' object has no attribute 'nmae' at profile.html:2
  }
  // [errors]
  check_equal(message, "'dict' object has no attribute 'nmae' at profile.html:2", "RenderError");

  std::string parse_error;
  try {
    squall::web::Template broken("{% if x %}\nno end", "broken.html");
  } catch (const squall::web::ParseError& e) {
    parse_error = e.what();
  }
  check_equal(parse_error.empty() ? "no error" : "ParseError", "ParseError", "ParseError");
}

void escaping() {
  auto same = [](const std::string& got, const std::string& expected) {
    check_equal(got, expected, "escape");
  };
  // [escape]
  using namespace squall::escape;
  same(xhtml_escape("<a href='x'>Tom & Jerry</a>"),
       "&lt;a href=&#39;x&#39;&gt;Tom &amp; Jerry&lt;/a&gt;");
  same(xhtml_unescape("caf&eacute; &lt;3 &#x263A;"), "café <3 ☺");
  same(url_escape("a b/c?"), "a+b%2Fc%3F");         // for a query string
  same(url_escape("a b/c?", false), "a%20b/c%3F");  // for a path
  same(url_unescape("a+b%2Fc"), "a b/c");
  same(json_encode({{"html", "</script>"}, {"name", "café"}}),
       R"({"html":"<\/script>","name":"caf\u00e9"})");
  same(json_decode(R"({"n": [1, 2]})")["n"][1].dump(), "2");
  same(squeeze("  lots   of\n\tspace "), "lots of space");
  same(linkify("see http://example.com/docs, or www.example.org."),
       "see <a href=\"http://example.com/docs\">http://example.com/docs</a>, or "
       "<a href=\"http://www.example.org\">www.example.org</a>.");
  // [escape]
}

int main() {
  try {
    standalone();
    escaping();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return web_example::run(make_app, test);
}
