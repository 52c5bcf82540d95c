// libFuzzer target: the template language (its parser, expression parser and renderer) and the
// escape functions templates call. The input is parsed as a template beside a few fixed ones it
// may extend or include, then generated with fixed values under step and size limits, so loops
// and repetition stay bounded. Checks: parsing and rendering fail only with squall's errors,
// rendering is deterministic, text without tags comes out unchanged, and escaping round-trips.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "squall/util/error.hpp"
#include "squall/util/escape.hpp"
#include "squall/util/json.hpp"
#include "squall/web/template.hpp"

namespace {

using namespace squall;
using namespace squall::web;

void check(bool ok) {
  if (!ok) std::abort();
}

const json& fixed_values() {
  static const json values = {
      {"name", "<b>Ann & \"Bob\"</b>"},
      {"n", 3},
      {"f", 2.5},
      {"items", {1, "two", 3.5, nullptr, true, {{"k", "v"}}}},
      {"user", {{"name", "ann"}, {"tags", {"a", "b"}}, {"url", "http://example.com/x?a=1&b=2"}}},
      {"empty", json::array()},
  };
  return values;
}

const TemplateFunctions& fixed_functions() {
  static const TemplateFunctions functions = {
      {"static_url",
       [](std::span<const json> args) -> json {
         std::string url = "/static/";
         if (!args.empty() && args[0].is_string()) url += args[0].get<std::string>();
         return url;
       }},
      {"fail", [](std::span<const json>) -> json { throw ValueError("fail() called"); }},
  };
  return functions;
}

TemplateSettings limited_settings() {
  TemplateSettings settings;
  settings.max_steps = 20000;
  settings.max_size = 1 << 16;
  return settings;
}

void fuzz_template(std::string_view source) {
  DictLoader loader(
      {
          {"fuzz.html", std::string(source)},
          {"base.html", "<h1>{% block title %}base{% end %}</h1>{% block body %}{% end %}"},
          {"part.html", "{% for x in items %}{{ x }}{% end %}{% set from_part = n * 2 %}"},
      },
      limited_settings());
  try {
    const Template& page = loader.load("fuzz.html");
    std::string first;
    try {
      first = page.generate(fixed_values(), &fixed_functions());
    } catch (const RenderError&) {
      return;
    }
    check(page.generate(fixed_values(), &fixed_functions()) == first);
  } catch (const Error&) {
    // ParseError, or an OSError for an include the loader does not have.
  }
}

void fuzz_text(std::string_view text) {
  if (text.find('{') != std::string_view::npos) return;
  Template plain(text, "fuzz.txt", limited_settings());
  check(plain.generate() == text);
}

void fuzz_escape(std::string_view text) {
  check(escape::xhtml_unescape(escape::xhtml_escape(text)) == text);
  check(escape::url_unescape(escape::url_escape(text, true), true) == text);
  check(escape::url_unescape(escape::url_escape(text, false), false) == text);
  escape::linkify(text, true, "rel=\"nofollow\"");
  escape::linkify(text, false, "", true, {"http", "https", "ftp"});
  escape::squeeze(text);
  try {
    json value = escape::json_decode(text);
    check(escape::json_decode(escape::json_encode(value)) == value);
  } catch (const ValueError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  fuzz_template(input);
  fuzz_text(input);
  fuzz_escape(input);
  return 0;
}
