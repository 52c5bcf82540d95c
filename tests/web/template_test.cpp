// template: Tornado's template language on JSON values. Expected outputs follow Tornado's
// documentation and tornado/test/template_test.py; Python's own semantics where the language
// borrows them (str() of numbers, truthiness, slicing, % formatting).
#include "squall/web/template.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>

#include "squall/util/error.hpp"
#include "squall/util/json.hpp"

namespace squall::web {
namespace {

using Templates = std::unordered_map<std::string, std::string>;

// Settings built field by field: GCC 12 warns about designated initializers that omit members.
TemplateSettings autoescape(std::string function) {
  TemplateSettings settings;
  settings.autoescape = std::move(function);
  return settings;
}

TemplateSettings whitespace(std::string mode) {
  TemplateSettings settings;
  settings.whitespace = std::move(mode);
  return settings;
}

TemplateSettings limits(std::uint64_t max_steps, std::size_t max_size) {
  TemplateSettings settings;
  settings.max_steps = max_steps;
  settings.max_size = max_size;
  return settings;
}

std::string render(std::string_view source, const json& values = json::object(),
                   TemplateSettings settings = {}, std::string name = "<string>") {
  return Template(source, std::move(name), std::move(settings)).generate(values);
}

// Expects `fn` to throw E whose filename and line are `filename`:`line` and whose message
// contains `fragment`.
template <typename E, typename Fn>
void expect_error(Fn&& fn, std::string_view fragment, std::string_view filename, int line) {
  try {
    fn();
    ADD_FAILURE() << "no exception; expected one mentioning \"" << fragment << "\"";
  } catch (const E& e) {
    EXPECT_NE(e.message().find(fragment), std::string::npos) << e.what();
    EXPECT_EQ(e.filename(), filename) << e.what();
    EXPECT_EQ(e.lineno(), line) << e.what();
  }
}

template <typename Fn>
void expect_parse_error(Fn&& fn, std::string_view fragment, std::string_view filename = "<string>",
                        int line = 1) {
  expect_error<ParseError>(std::forward<Fn>(fn), fragment, filename, line);
}

void expect_render_error(std::string_view source, const json& values, std::string_view fragment,
                         int line = 1) {
  expect_error<RenderError>([&] { render(source, values); }, fragment, "<string>", line);
}

// --- output ---

TEST(Template, SubstitutesExpressions) {
  EXPECT_EQ(render("Hello {{ name }}!", {{"name", "Ben"}}), "Hello Ben!");
  EXPECT_EQ(render("2 + 2 = {{ 2 + 2 }}"), "2 + 2 = 4");
  EXPECT_EQ(render("\xc3\xa9{{ \"\xc3\xa9\" }}"), "\xc3\xa9\xc3\xa9");
}

TEST(Template, WritesValuesAsPythonStrDoes) {
  json values = {{"i", 3},       {"u", 7u},          {"f", 2.5},
                 {"whole", 2.0}, {"big", 1e16},      {"t", true},
                 {"n", nullptr}, {"list", {1, "a"}}, {"dict", {{"k", 1}}}};
  EXPECT_EQ(render("{{ i }} {{ u }} {{ f }} {{ whole }} {{ big }} {{ t }} {{ n }}", values),
            "3 7 2.5 2.0 1e+16 True None");
  EXPECT_EQ(render("{{ 0.1 + 0.2 }} {{ 1e-5 }} {{ 0.0001 }} {{ -0.0 }}"),
            "0.30000000000000004 1e-05 0.0001 -0.0");
  // Lists and dicts are written as compact JSON (then escaped).
  EXPECT_EQ(render("{% raw list %} {% raw dict %}", values), "[1,\"a\"] {\"k\":1}");
}

TEST(Template, CommentsAreRemoved) {
  EXPECT_EQ(render("Hello{# TODO i18n #} {{ name }}!", {{"name", "Ben"}}), "Hello Ben!");
  EXPECT_EQ(render("{% comment blah blah %}foo"), "foo");
}

TEST(Template, BangWritesTheBracesThemselves) {
  EXPECT_EQ(render("{{!"), "{{");
  EXPECT_EQ(render("{%!"), "{%");
  EXPECT_EQ(render("{#!"), "{#");
  EXPECT_EQ(render("{{ 'expr' }} {{!jquery expr}}"), "expr {{jquery expr}}");
}

TEST(Template, InnermostBracesStartAnExpression) {
  EXPECT_EQ(render("{{{ 1 }}}"), "{1}");
  EXPECT_EQ(render("a { b } {c"), "a { b } {c");
}

// --- autoescape ---

TEST(Template, EscapesOutputByDefault) {
  json values = {{"name", "Bobby <table>s"}};
  EXPECT_EQ(render("{{ name }}", values), "Bobby &lt;table&gt;s");
  EXPECT_EQ(render("{{ 1 < 2 }} {{ '\"&\\'' }}"), "True &quot;&amp;&#39;");
}

TEST(Template, RawAndAutoescapeNoneWriteAsIs) {
  json values = {{"name", "<>&\""}};
  EXPECT_EQ(render("expr: {{ name }}\nraw: {% raw name %}", values),
            "expr: &lt;&gt;&amp;&quot;\nraw: <>&\"");
  EXPECT_EQ(render("{% autoescape None %}{{ name }}", values), "<>&\"");
  EXPECT_EQ(render("{{ name }}", values, autoescape("")), "<>&\"");
  EXPECT_EQ(render("{% autoescape xhtml_escape %}{{ name }}", values, autoescape("")),
            "&lt;&gt;&amp;&quot;");
}

TEST(Template, AutoescapeDirectiveAppliesToTheWholeFileAsInTornado) {
  EXPECT_EQ(render("{{ '<b>' }}{% autoescape None %}{{ '<i>' }}"), "<b><i>");
}

TEST(Template, AutoescapesWithACustomFunction) {
  TemplateFunctions functions{{"py_escape", [](std::span<const json> args) -> json {
                                 std::string quoted = "'";
                                 return quoted.append(args[0].get<std::string>()).append("'");
                               }}};
  Template t("{% autoescape py_escape %}s = {{ name }}\n", "foo.py");
  EXPECT_EQ(t.generate({{"name", "<html>"}}, &functions), "s = '<html>'\n");
  // Non-strings reach the function as their str().
  EXPECT_EQ(t.generate({{"name", json::array({"not a string"})}}, &functions),
            "s = '[\"not a string\"]'\n");
}

TEST(Template, AutoescapeFollowsEachFileThroughIncludesAndBlocks) {
  Templates templates = {
      {"escaped.html", "{% autoescape xhtml_escape %}{{ name }}"},
      {"unescaped.html", "{% autoescape None %}{{ name }}"},
      {"default.html", "{{ name }}"},
      {"include.html",
       "escaped: {% include 'escaped.html' %}\nunescaped: {% include 'unescaped.html' %}\n"
       "default: {% include 'default.html' %}\n"},
      {"escaped_block.html",
       "{% autoescape xhtml_escape %}{% block name %}base: {{ name }}{% end %}"},
      {"unescaped_block.html", "{% autoescape None %}{% block name %}base: {{ name }}{% end %}"},
      {"escaped_extends_unescaped.html",
       "{% autoescape xhtml_escape %}{% extends \"unescaped_block.html\" %}"},
      {"escaped_overrides_unescaped.html",
       "{% autoescape xhtml_escape %}{% extends \"unescaped_block.html\" %}"
       "{% block name %}extended: {{ name }}{% end %}"},
      {"unescaped_extends_escaped.html",
       "{% autoescape None %}{% extends \"escaped_block.html\" %}"},
      {"unescaped_overrides_escaped.html",
       "{% autoescape None %}{% extends \"escaped_block.html\" %}"
       "{% block name %}extended: {{ name }}{% end %}"},
  };
  json bobby = {{"name", "Bobby <table>s"}};
  DictLoader off(templates, autoescape(""));
  EXPECT_EQ(off.load("include.html").generate(bobby),
            "escaped: Bobby &lt;table&gt;s\nunescaped: Bobby <table>s\ndefault: Bobby <table>s\n");
  DictLoader on(templates);
  EXPECT_EQ(on.load("include.html").generate(bobby),
            "escaped: Bobby &lt;table&gt;s\nunescaped: Bobby <table>s\n"
            "default: Bobby &lt;table&gt;s\n");
  json script = {{"name", "<script>"}};
  EXPECT_EQ(on.load("escaped_extends_unescaped.html").generate(script), "base: <script>");
  EXPECT_EQ(on.load("escaped_overrides_unescaped.html").generate(script),
            "extended: &lt;script&gt;");
  EXPECT_EQ(on.load("unescaped_extends_escaped.html").generate(script), "base: &lt;script&gt;");
  EXPECT_EQ(on.load("unescaped_overrides_escaped.html").generate(script), "extended: <script>");
}

// --- control flow ---

TEST(Template, IfElifElse) {
  std::string source = "{% if x > 4 %}big{% elif x > 2 %}mid{% else %}small{% end %}";
  EXPECT_EQ(render(source, {{"x", 5}}), "big");
  EXPECT_EQ(render(source, {{"x", 3}}), "mid");
  EXPECT_EQ(render(source, {{"x", 1}}), "small");
  EXPECT_EQ(render("{% if True %}{% else %}{% end %}"), "");
}

TEST(Template, ConditionsUsePythonTruthiness) {
  std::string source = "{% if v %}T{% else %}F{% end %}";
  for (const json& falsy :
       {json(nullptr), json(false), json(0), json(0.0), json(""), json::array(), json::object()}) {
    EXPECT_EQ(render(source, {{"v", falsy}}), "F") << falsy.dump();
  }
  for (const json& truthy : {json(true), json(-1), json(0.5), json(" "), json::array({0}),
                             json::object({{"a", nullptr}})}) {
    EXPECT_EQ(render(source, {{"v", truthy}}), "T") << truthy.dump();
  }
}

TEST(Template, ForWalksListsDictKeysAndCharacters) {
  EXPECT_EQ(render("{% for x in xs %}[{{ x }}]{% end %}", {{"xs", {1, "a", 2.0}}}), "[1][a][2.0]");
  EXPECT_EQ(render("{% for k in d %}{{ k }};{% end %}", {{"d", {{"b", 1}, {"a", 2}}}}), "a;b;");
  EXPECT_EQ(render("{% for c in 'h\xc3\xa9!' %}<{{ c }}>{% end %}"), "<h><\xc3\xa9><!>");
  expect_render_error("{% for x in 5 %}{% end %}", json::object(), "'int' object is not iterable");
}

TEST(Template, ForUnpacksPairs) {
  json values = {{"d", {{"a", 1}, {"b", {1, 2}}}}};
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={% raw v %};{% end %}", values),
            "a=1;b=[1,2];");
  EXPECT_EQ(render("{% for (i, x) in enumerate(['a', 'b'], 1) %}{{ i }}{{ x }}{% end %}"), "1a2b");
  EXPECT_EQ(render("{% for pair in d.items() %}{% raw pair %}{% end %}", values),
            "[\"a\",1][\"b\",[1,2]]");
  expect_render_error("{% for a, b in [[1, 2, 3]] %}{% end %}", json::object(),
                      "too many values to unpack (expected 2)");
}

TEST(Template, BreakContinueAndForElse) {
  std::string source =
      "{% for i in range(10) %}\n"
      "    {% if i == 2 %}\n        {% continue %}\n    {% end %}\n"
      "    {{ i }}\n"
      "    {% if i == 6 %}\n        {% break %}\n    {% end %}\n"
      "{% end %}";
  std::string result = render(source);
  std::erase_if(result, [](char c) { return c == ' ' || c == '\n'; });
  EXPECT_EQ(result, "013456");
  std::string with_else =
      "{% for x in xs %}{% if x == 9 %}{% break %}{% end %}{% else %}done{% end %}";
  EXPECT_EQ(render(with_else, {{"xs", {1, 2}}}), "done");
  EXPECT_EQ(render(with_else, {{"xs", {1, 9}}}), "");
}

TEST(Template, WhileLoops) {
  EXPECT_EQ(render("{% set n = 0 %}{% while n < 3 %}{{ n }}{% set n += 1 %}{% end %}"), "012");
  EXPECT_EQ(render("{% set n = 0 %}{% while True %}{% set n += 1 %}{% if n > 4 %}{% break %}"
                   "{% end %}{% end %}{{ n }}"),
            "5");
}

TEST(Template, SetAssignsForTheRestOfTheTemplate) {
  EXPECT_EQ(render("{% set x = 5 %}{% set x += 1 %}{{ x }}"), "6");
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{% set a, b = b, a %}{{ a }}{{ b }}"), "21");
  EXPECT_EQ(render("{% if True %}{% set y = 'in' %}{% end %}{{ y }}"), "in");
  // The loop variable stays bound after the loop, as in Python.
  EXPECT_EQ(render("{% for x in [1, 2] %}{% end %}{{ x }}"), "2");
  // A set name shadows a value.
  EXPECT_EQ(render("{{ v }}{% set v = 'local' %}{{ v }}", {{"v", "value"}}), "valuelocal");
}

TEST(Template, SetCopiesSoLaterChangesDoNotLeak) {
  EXPECT_EQ(render("{% set a = [[1], [2]] %}{% set b = a[0] %}{% set a = 0 %}{% raw b %}"), "[1]");
  EXPECT_EQ(render("{% set xs = [1, 2] %}{% for x in xs %}{% set xs = [] %}{{ x }}{% end %}"),
            "12");
}

TEST(Template, TryExceptElseFinally) {
  std::string source =
      "{% try %}\ntry{% set y = 1/x %}\n{% except %}-except\n{% else %}-else\n"
      "{% finally %}-finally\n{% end %}";
  EXPECT_EQ(render(source, {{"x", 1}}), "\ntry\n-else\n-finally\n");
  EXPECT_EQ(render(source, {{"x", 0}}), "\ntry-except\n-finally\n");
  // Without except, the error goes on after finally runs.
  expect_render_error("{% try %}{{ 1/0 }}{% finally %}f{% end %}", json::object(),
                      "division by zero");
}

TEST(Template, ApplyPassesTheBlockOutputThroughAFunction) {
  TemplateFunctions functions{{"upper", [](std::span<const json> args) -> json {
                                 std::string s = args[0];
                                 for (char& c : s) c = static_cast<char>(std::toupper(c));
                                 return s;
                               }}};
  EXPECT_EQ(Template("{% apply upper %}foo {{ x }}{% end %}").generate({{"x", "<b>"}}, &functions),
            "FOO &LT;B&GT;");
  EXPECT_EQ(render("{% apply linkify %}see http://x.com{% end %}"),
            "see <a href=\"http://x.com\">http://x.com</a>");
  expect_render_error("{% apply nosuch %}x{% end %}", json::object(),
                      "name 'nosuch' is not defined");
}

// --- whitespace ---

TEST(Template, WhitespaceDependsOnTheFileName) {
  DictLoader loader(Templates{{"foo.html", "   \n\t\n asdf\t   "},
                              {"bar.js", " \n\n\n\t qwer     "},
                              {"baz.txt", "\t    zxcv\n\n"},
                              {"include.html", "  {% include baz.txt %} \n "},
                              {"include.txt", "\t\t{% include foo.html %}    "}});
  EXPECT_EQ(loader.load("foo.html").generate(), "\nasdf ");
  EXPECT_EQ(loader.load("bar.js").generate(), "\nqwer ");
  EXPECT_EQ(loader.load("baz.txt").generate(), "\t    zxcv\n\n");
  // Each file keeps its own mode when included in another.
  EXPECT_EQ(loader.load("include.html").generate(), " \t    zxcv\n\n\n");
  EXPECT_EQ(loader.load("include.txt").generate(), "\t\t\nasdf     ");
}

TEST(Template, WhitespaceFromTheSettings) {
  Templates templates = {{"foo.html", "\t\tfoo\n\n"}, {"bar.txt", "\t\tbar\n\n"}};
  DictLoader all(templates, whitespace("all"));
  EXPECT_EQ(all.load("foo.html").generate(), "\t\tfoo\n\n");
  DictLoader single(templates, whitespace("single"));
  EXPECT_EQ(single.load("bar.txt").generate(), " bar\n");
  DictLoader oneline(templates, whitespace("oneline"));
  EXPECT_EQ(oneline.load("foo.html").generate(), " foo ");
  EXPECT_THROW(Template("x", "x", whitespace("some")), ValueError);
}

TEST(Template, WhitespaceDirectiveChangesTheModeForTheRest) {
  std::string source =
      "{% whitespace oneline %}\n    {% for i in range(3) %}\n        {{ i }}\n    {% end %}\n"
      "{% whitespace all %}\n    pre\tformatted\n";
  EXPECT_EQ(render(source, json::object(), {}, "foo.html"), "  0  1  2  \n    pre\tformatted\n");
  expect_parse_error([] { render("{% whitespace some %}"); }, "invalid whitespace mode some");
}

TEST(Template, TextWithPreIsKept) {
  EXPECT_EQ(render("<pre>  a\n\n  b</pre>", json::object(), {}, "x.html"), "<pre>  a\n\n  b</pre>");
}

TEST(Template, WhitespaceInsideTagsIsAllowed) {
  std::string source =
      "{% for i in items\n  %}{% if i > 0 %}, {% end %}{#\n  #}{{i\n  }}{% end\n%}";
  EXPECT_EQ(render(source, {{"items", {0, 1, 2, 3, 4}}}, {}, "foo.txt"), "0, 1, 2, 3, 4");
}

TEST(FilterWhitespace, AppliesTheThreeModes) {
  EXPECT_EQ(filter_whitespace("all", " a \n\n b "), " a \n\n b ");
  EXPECT_EQ(filter_whitespace("single", " a \t \n\n b  c"), " a\nb c");
  EXPECT_EQ(filter_whitespace("oneline", " a \t \n\n b  c"), " a b c");
  EXPECT_THROW(filter_whitespace("none", ""), ValueError);
}

// --- expressions ---

TEST(TemplateExpressions, Arithmetic) {
  EXPECT_EQ(render("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ -2 * -3 }} {{ 10 - 2 - 3 }}"), "7 9 6 5");
  EXPECT_EQ(render("{{ 7 / 2 }} {{ 6 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }}"),
            "3.5 3.0 3 -4 2 -2");
  EXPECT_EQ(render("{{ 7.0 // 2 }} {{ -7.5 % 2 }} {{ 1 + 0.5 }} {{ True + 1 }}"), "3.0 0.5 1.5 2");
  EXPECT_EQ(render("{{ 'ab' + 'c' }} {{ 'ab' * 3 }} {{ 2 * 'x' }} {{ 'x' * -1 }}|"),
            "abc ababab xx |");
  EXPECT_EQ(render("{% raw [1] + [2, 3] %} {% raw [0] * 3 %}"), "[1,2,3] [0,0,0]");
  EXPECT_EQ(render("{{ 2 ** 10 }} {{ -2 ** 2 }} {{ 2 ** -1 }} {{ 2 ** 3 ** 2 }} {{ 2.0 ** 0.5 }}"),
            "1024 -4 0.5 512 1.4142135623730951");
  expect_render_error("{{ 2 ** 64 }}", json::object(), "integer overflow");
  expect_render_error("{{ 1 / 0 }}", json::object(), "division by zero");
  expect_render_error("{{ 1 % 0 }}", json::object(), "modulo by zero");
  expect_render_error("{{ 1 + 'a' }}", json::object(),
                      "unsupported operand type(s) for +: 'int' and 'str'");
  expect_render_error("{{ 9223372036854775807 + 1 }}", json::object(), "integer overflow");
}

TEST(TemplateExpressions, ComparisonsChainAndTestMembership) {
  EXPECT_EQ(render("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ 'a' != 'b' }}"),
            "True False True True");
  EXPECT_EQ(render("{{ 'ab' < 'b' }} {{ [1, 2] < [1, 3] }} {{ [1] == [1] }}"), "True True True");
  EXPECT_EQ(render("{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in d }} {{ 'z' not in d }}",
                   {{"d", {{"k", 1}}}}),
            "True True True True");
  EXPECT_EQ(
      render("{{ x is None }} {{ y is not None }} {{ 0 is None }}", {{"x", nullptr}, {"y", 0}}),
      "True True False");
  expect_render_error("{{ 1 < 'a' }}", json::object(),
                      "'<' not supported between instances of 'int' and 'str'");
}

TEST(TemplateExpressions, AndOrReturnOperandsAndShortCircuit) {
  EXPECT_EQ(
      render("{{ 0 or 'x' }} {{ 1 and 0 }} {{ '' or [] or 'last' }} {{ not 1 }} {{ not '' }}"),
      "x 0 last False True");
  // The right side is not evaluated, so the undefined name is no error.
  EXPECT_EQ(render("{{ 1 or undefined }} {{ 0 and undefined }}"), "1 0");
}

TEST(TemplateExpressions, ConditionalExpression) {
  EXPECT_EQ(render("{{ 'yes' if n > 1 else 'no' }}", {{"n", 2}}), "yes");
  EXPECT_EQ(render("{{ 'yes' if n > 1 else 'no' }}", {{"n", 1}}), "no");
}

TEST(TemplateExpressions, MemberIndexAndSliceAccess) {
  json values = {{"user", {{"name", "Ann"}, {"tags", {"a", "b", "c"}}}}, {"s", "h\xc3\xa9llo"}};
  EXPECT_EQ(
      render("{{ user.name }} {{ user['name'] }} {{ user.tags[0] }} {{ user.tags[-1] }}", values),
      "Ann Ann a c");
  EXPECT_EQ(
      render("{% raw user.tags[1:] %} {% raw user.tags[::-1] %} {% raw user.tags[:-1] %}", values),
      "[\"b\",\"c\"] [\"c\",\"b\",\"a\"] [\"a\",\"b\"]");
  EXPECT_EQ(render("{{ s[1] }} {{ s[1:3] }} {{ s[::-1] }} {{ len(s) }}", values),
            "\xc3\xa9 \xc3\xa9l oll\xc3\xa9h 5");
  expect_render_error("{{ user.age }}", values, "'dict' object has no attribute 'age'");
  expect_render_error("{{ user['age'] }}", values, "KeyError: 'age'");
  expect_render_error("{{ user.tags[3] }}", values, "list index out of range");
  expect_render_error("{{ user.name.first }}", values, "'str' object has no attribute 'first'");
  expect_render_error("{{ 5[0] }}", values, "'int' object is not subscriptable");
}

TEST(TemplateExpressions, Literals) {
  EXPECT_EQ(render("{% raw [1, 2.5, 'a', \"b\", True, None, {'k': [1]}] %}"),
            "[1,2.5,\"a\",\"b\",true,null,{\"k\":[1]}]");
  EXPECT_EQ(render("{% raw 'tab\\there' %}|{% raw 'a' 'b' %}|{% raw '\\u00e9\\x41' %}"),
            "tab\there|ab|\xc3\xa9"
            "A");
  EXPECT_EQ(render("{% raw (1, 2) %} {% raw () %} {% raw (1,) %} {% raw (3) %}"), "[1,2] [] [1] 3");
}

TEST(TemplateExpressions, Methods) {
  json values = {{"d", {{"a", 1}, {"b", 2}}}, {"s", "  Hello World  "}};
  EXPECT_EQ(render("{% raw d.keys() %} {% raw d.values() %} {% raw d.items() %}", values),
            "[\"a\",\"b\"] [1,2] [[\"a\",1],[\"b\",2]]");
  EXPECT_EQ(render("{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 0) }}", values), "1 None 0");
  EXPECT_EQ(render("{{ s.strip() }}|{{ s.upper() }}|{{ s.lower() }}|{{ s.lstrip() }}|", values),
            "Hello World|  HELLO WORLD  |  hello world  |Hello World  |");
  EXPECT_EQ(render("{{ s.strip().startswith('He') }} {{ s.strip().endswith('x') }}", values),
            "True False");
  EXPECT_EQ(
      render("{{ s.strip().replace('o', '0') }} {% raw s.split() %} {% raw 'a,b'.split(',') %}",
             values),
      "Hell0 W0rld [\"Hello\",\"World\"] [\"a\",\"b\"]");
  EXPECT_EQ(render("{{ ', '.join(['a', 'b']) }} {{ '-'.join('xyz') }}"), "a, b x-y-z");
  expect_render_error("{{ ','.join([1]) }}", values, "sequence item 0: expected str instance");
  expect_render_error("{{ s.nosuch() }}", values, "'str' object has no attribute 'nosuch'");
}

TEST(TemplateExpressions, BuiltinFunctions) {
  EXPECT_EQ(
      render("{{ len([1, 2]) }} {{ len({'a': 1}) }} {{ str(1.5) + '!' }} {{ int('42') + 1 }}"),
      "2 1 1.5! 43");
  EXPECT_EQ(render("{{ int(2.9) }} {{ float('1.5') }} {{ float(2) }} {{ bool([]) }} {{ abs(-3) }}"),
            "2 1.5 2.0 False 3");
  EXPECT_EQ(render("{% raw range(3) %} {% raw range(1, 10, 4) %} {% raw range(3, 0, -1) %}"),
            "[0,1,2] [1,5,9] [3,2,1]");
  EXPECT_EQ(render("{% raw sorted([3, 1, 2]) %} {{ min(3, 1, 2) }} {{ max([3, 1, 2]) }} "
                   "{{ sum([1, 2, 3]) }} {% raw reversed('ab') %} {% raw list('ab') %}"),
            "[1,2,3] 1 3 6 [\"b\",\"a\"] [\"a\",\"b\"]");
  EXPECT_EQ(render("{{ json_encode({'a': '</b>'}) }}"), "{&quot;a&quot;:&quot;&lt;\\/b&gt;&quot;}");
  EXPECT_EQ(
      render("{{ url_escape('a b&c') }} {{ squeeze('  a   b ') }} {{ xhtml_unescape('&lt;') }}"),
      "a+b%26c a b &lt;");
  EXPECT_EQ(render("{% raw escape('<a>') %} {% raw linkify('www.x.com', False, 'rel=\"x\"') %}"),
            "&lt;a&gt; <a href=\"http://www.x.com\" rel=\"x\">www.x.com</a>");
  expect_render_error("{{ int('x') }}", json::object(), "invalid literal for int()");
  expect_render_error("{{ len(5) }}", json::object(), "object of type 'int' has no len()");
  expect_render_error("{{ range() }}", json::object(), "range() takes at least 1 argument");
}

TEST(TemplateExpressions, PercentFormatting) {
  EXPECT_EQ(render("{{ '%s-%05.1f' % ('a', 3.14159) }}"), "a-003.1");
  EXPECT_EQ(render("{{ '%d items' % n }} {{ '%x|%-4d|%+d|%%' % (255, 7, 3) }}", {{"n", 3}}),
            "3 items ff|7   |+3|%");
  EXPECT_EQ(render("{{ '%(a)s=%(b)r' % {'a': 'k', 'b': 'v'} }}"), "k=&#39;v&#39;");
  expect_render_error("{{ '%s %s' % ('a',) }}", json::object(), "not enough arguments");
  expect_render_error("{{ '%s' % ('a', 'b') }}", json::object(), "not all arguments converted");
}

// --- functions ---

TEST(TemplateFunctions, ExtraFunctionsComeFirstThenSettingsThenBuiltins) {
  TemplateSettings settings;
  settings.functions["inc"] = [](std::span<const json> args) -> json {
    return args[0].get<int>() + 1;
  };
  settings.functions["len"] = [](std::span<const json>) -> json { return "settings len"; };
  Template t("{{ inc(5) }} {{ len([1]) }} {{ static_url('a.css') }}", "<string>", settings);
  TemplateFunctions extra{{"static_url",
                           [](std::span<const json> args) -> json {
                             return "/static/" + args[0].get<std::string>() + "?v=1";
                           }},
                          {"inc", [](std::span<const json>) -> json { return "extra inc"; }}};
  EXPECT_EQ(t.generate(json::object(), &extra), "extra inc settings len /static/a.css?v=1");
  expect_error<RenderError>([&] { t.generate(); }, "name 'static_url' is not defined", "<string>",
                            1);
}

TEST(TemplateFunctions, AValueOfTheSameNameIsNotCallable) {
  expect_render_error("{{ len([]) }}", {{"len", 3}}, "'int' object is not callable");
  expect_render_error("{{ len }}", json::object(), "'len' is a function");
}

TEST(TemplateFunctions, ExceptionsBecomeRenderErrorsWithTheCauseNested) {
  TemplateFunctions extra{
      {"fail", [](std::span<const json>) -> json { throw std::logic_error("boom"); }}};
  Template t("line one\n{{ fail() }}", "page.html");
  try {
    t.generate(json::object(), &extra);
    FAIL() << "no RenderError";
  } catch (const RenderError& e) {
    EXPECT_EQ(e.filename(), "page.html");
    EXPECT_EQ(e.lineno(), 2);
    EXPECT_NE(e.message().find("boom"), std::string::npos);
    try {
      std::rethrow_if_nested(e);
      FAIL() << "no nested exception";
    } catch (const std::logic_error& cause) {
      EXPECT_STREQ(cause.what(), "boom");
    }
  }
}

// --- errors ---

TEST(TemplateErrors, ParseErrorsNameTheTemplateAndLine) {
  expect_parse_error(
      [] {
        DictLoader(Templates{{"foo.html", "\n\n{{"}}).load("foo.html");
      },
      "Missing end expression }}", "foo.html", 3);
  try {
    DictLoader(Templates{{"foo.html", "\n\n{{"}}).load("foo.html");
  } catch (const ParseError& e) {
    EXPECT_STREQ(e.what(), "Missing end expression }} at foo.html:3");
  }
  expect_parse_error([] { render("{%"); }, "Missing end block %}");
  expect_parse_error([] { render("a{# x"); }, "Missing end comment #}");
  expect_parse_error([] { render("{{ }}"); }, "Empty expression");
  expect_parse_error([] { render("{% %}"); }, "Empty block tag");
  expect_parse_error([] { render("x\n{% if a %}\nyes\n"); }, "Missing {% end %} block for if",
                     "<string>", 2);
  expect_parse_error([] { render("{% end %}"); }, "Extra {% end %} block");
  expect_parse_error([] { render("\n{% frobnicate %}"); }, "unknown operator: 'frobnicate'",
                     "<string>", 2);
  expect_parse_error([] { render("a\nb\n{{ 1 + }}"); }, "unexpected end of expression", "<string>",
                     3);
  expect_parse_error([] { render("{{ f(x=1) }}"); }, "keyword arguments are not supported");
  expect_parse_error([] { render("{{ 'abc }}"); }, "unterminated string");
}

TEST(TemplateErrors, MisplacedTagsAreParseErrors) {
  expect_parse_error([] { render("{% break %}"); }, "break outside for or while block");
  // apply's body is a function of its own in Tornado, so break cannot leave it.
  expect_parse_error(
      [] { render("{% for i in [] %}{% apply foo %}{% break %}{% end %}{% end %}"); },
      "break outside");
  expect_parse_error([] { render("{% else %}"); }, "else outside");
  expect_parse_error([] { render("{% for x in y %}{% elif z %}{% end %}"); },
                     "elif block cannot be attached to for block");
  expect_parse_error([] { render("{% if a %}{% else %}{% elif b %}{% end %}"); },
                     "no more intermediate blocks");
  expect_parse_error([] { render("{% try %}x{% end %}"); }, "try needs an except or finally");
  expect_parse_error([] { render("{% import os %}"); }, "not supported");
  expect_parse_error([] { render("{% module Template('x') %}"); }, "not supported");
  expect_parse_error([] { render("{% extends 'base.html' %}"); },
                     "{% extends %} block found, but no template loader");
  expect_parse_error([] { render("x\n{% include 'a.html' %}"); },
                     "{% include %} block found, but no template loader", "<string>", 2);
  DictLoader loader(Templates{{"base.html", ""},
                              {"late.html", "text\n{% extends 'base.html' %}"},
                              {"twice.html", "{% extends 'base.html' %}{% extends 'base.html' %}"},
                              {"nested.html", "{% block a %}{% extends 'base.html' %}{% end %}"},
                              {"child.html", "{% extends 'base.html' %}"},
                              {"includes_child.html", "\n{% include 'child.html' %}"}});
  expect_parse_error([&] { loader.load("late.html"); }, "must come before any other content",
                     "late.html", 2);
  expect_parse_error([&] { loader.load("twice.html"); }, "only one {% extends %}", "twice.html");
  expect_parse_error([&] { loader.load("nested.html"); }, "must be at the top level",
                     "nested.html");
  expect_parse_error([&] { loader.load("includes_child.html"); },
                     "included template 'child.html' uses {% extends %}", "includes_child.html", 2);
}

TEST(TemplateErrors, RenderErrorsNameTheTemplateAndLine) {
  DictLoader loader(
      Templates{{"test.html", "one\ntwo{{1/0}}\nthree\n"},
                {"directive.html", "one\ntwo{%if 1/0%}\nthree{%end%}\n"},
                {"base.html", "{% include 'sub.html' %}"},
                {"sub.html", "{{1/0}}"},
                {"block_base.html", "{% block 'block' %}{% end %}"},
                {"block_sub.html",
                 "\n{% extends 'block_base.html' %}\n{% block 'block' %}\n{{1/0}}\n{% end %}\n"},
                {"undefined.html", "\n\n{{ nobody }}"}});
  auto generate = [&](const char* name) {
    return [&loader, name] { loader.load(name).generate(); };
  };
  expect_error<RenderError>(generate("test.html"), "division by zero", "test.html", 2);
  expect_error<RenderError>(generate("directive.html"), "division by zero", "directive.html", 2);
  expect_error<RenderError>(generate("base.html"), "division by zero", "sub.html", 1);
  expect_error<RenderError>(generate("block_sub.html"), "division by zero", "block_sub.html", 4);
  expect_error<RenderError>(generate("undefined.html"), "name 'nobody' is not defined",
                            "undefined.html", 3);
}

TEST(TemplateErrors, ValuesMustBeAnObject) {
  Template t("x");
  EXPECT_THROW(t.generate(json::array()), ValueError);
  json text = "text";
  EXPECT_THROW(t.generate(json::object(), nullptr, &text), ValueError);
  EXPECT_EQ(t.generate(nullptr), "x");
}

TEST(TemplateErrors, HostileNestingIsRefusedWithoutCrashing) {
  std::string ifs;
  for (int i = 0; i < 5000; ++i) ifs += "{% if 1 %}";
  expect_parse_error([&] { render(ifs); }, "nested too deeply");
  expect_parse_error([] { render("{{ " + std::string(100000, '(') + " }}"); }, "nested too deeply");
  expect_parse_error([] { render("{{ " + std::string(100000, '[') + " }}"); }, "nested too deeply");
  std::string nots = "{{ ";
  for (int i = 0; i < 10000; ++i) nots += "not ";
  expect_parse_error([&] { render(nots + "1 }}"); }, "nested too deeply");
  std::string sum = "{{ 1";
  for (int i = 0; i < 10000; ++i) sum += " + 1";
  expect_parse_error([&] { render(sum + " }}"); }, "nested too deeply");
  std::string minus = "{{ " + std::string(100000, '-') + "1 }}";
  expect_parse_error([&] { render(minus); }, "nested too deeply");
  // Within the limits, deep nesting works.
  std::string ok;
  for (int i = 0; i < 50; ++i) ok += "{% if 1 %}";
  ok += "deep";
  for (int i = 0; i < 50; ++i) ok += "{% end %}";
  EXPECT_EQ(render(ok), "deep");
}

TEST(TemplateErrors, IncludeCyclesAndLongChainsAreParseErrors) {
  DictLoader loader(Templates{{"self.html", "{% include 'self.html' %}"},
                              {"a.html", "{% extends 'b.html' %}"},
                              {"b.html", "\n{% include 'a.html' %}"}});
  expect_parse_error([&] { loader.load("self.html"); }, "cycle", "self.html", 1);
  expect_parse_error([&] { loader.load("a.html"); }, "cycle", "b.html", 2);
  Templates chain;
  for (int i = 0; i < 150; ++i) {
    std::string include = "{% include 't";
    chain[std::string("t").append(std::to_string(i))] =
        include.append(std::to_string(i + 1)).append("' %}");
  }
  chain["t150"] = "end";
  DictLoader long_chain(chain);
  expect_parse_error([&] { long_chain.load("t0"); }, "more than 100 levels", "t99", 1);
  EXPECT_EQ(long_chain.load("t60").generate(), "end");
}

TEST(TemplateErrors, LimitsStopRunawayTemplates) {
  TemplateSettings steps = limits(1000, 0);
  expect_error<RenderError>([&] { render("{% while True %}{% end %}", json::object(), steps); },
                            "max_steps", "<string>", 1);
  // {% try %} does not swallow a limit.
  expect_error<RenderError>(
      [&] {
        render("{% try %}{% while True %}x{% end %}{% except %}caught{% end %}", json::object(),
               steps);
      },
      "max_steps", "<string>", 1);
  TemplateSettings size = limits(0, 1000);
  expect_error<RenderError>([&] { render("{{ 'x' * 100000000000 }}", json::object(), size); },
                            "max_size", "<string>", 1);
  expect_error<RenderError>(
      [&] { render("{{ len(range(1000000000000)) }}", json::object(), size); }, "max_size",
      "<string>", 1);
  expect_error<RenderError>(
      [&] { render("{% for i in range(999) %}{{ i }}{% end %}", json::object(), size); },
      "max_size", "<string>", 1);
  EXPECT_EQ(render("{{ len('x' * 1000) }}", json::object(), size), "1000");
}

// --- inheritance and loading ---

TEST(TemplateInheritance, ChildBlocksReplaceTheParentsAcrossLevels) {
  DictLoader loader(Templates{
      {"base.html",
       "<title>{% block title %}default title{% end %}</title>\n"
       "<body>{% block body %}default body{% end %}</body>\n"
       "<footer>{% block footer %}default footer{% end %}</footer>\n"},
      {"middle.html",
       "{% extends \"base.html\" %}\n{% block body %}middle body "
       "[{% block inner %}middle inner{% end %}]{% end %}\n"
       "{% block footer %}middle footer{% end %}"},
      {"page.html",
       "{% extends \"middle.html\" %}\nignored text\n{% block title %}page title{% end %}\n"
       "{% block inner %}page inner {{ x }}{% end %}"},
  });
  EXPECT_EQ(loader.load("page.html").generate({{"x", 1}}),
            "<title>page title</title>\n<body>middle body [page inner 1]</body>\n"
            "<footer>middle footer</footer>\n");
  EXPECT_EQ(loader.load("middle.html").generate(),
            "<title>default title</title>\n<body>middle body [middle inner]</body>\n"
            "<footer>middle footer</footer>\n");
  EXPECT_EQ(loader.load("base.html").generate(),
            "<title>default title</title>\n<body>default body</body>\n"
            "<footer>default footer</footer>\n");
}

TEST(TemplateInheritance, IncludeSharesTheNamespace) {
  DictLoader loader(Templates{{"index.html", "{% include \"header.html\" %}\nbody text {{ who }}"},
                              {"header.html", "header text{% set who = 'set in header' %}"}});
  EXPECT_EQ(loader.load("index.html").generate(), "header text\nbody text set in header");
}

TEST(TemplateInheritance, BlocksInIncludedTemplatesCanBeOverridden) {
  DictLoader loader(
      Templates{{"base.html", "[{% include 'part.html' %}]"},
                {"part.html", "{% block part %}part{% end %}"},
                {"page.html", "{% extends 'base.html' %}{% block part %}page part{% end %}"}});
  EXPECT_EQ(loader.load("page.html").generate(), "[page part]");
}

TEST(TemplateLoader, ResolvesNamesRelativeToTheIncludingTemplate) {
  DictLoader loader(Templates{{"a/1.html", "{% include '2.html' %}"},
                              {"a/2.html", "{% include '../b/3.html' %}"},
                              {"b/3.html", "ok {% include '/top.html' %}"},
                              {"top.html", "top"}});
  EXPECT_EQ(loader.load("a/1.html").generate(), "ok top");
  EXPECT_EQ(loader.resolve_path("2.html", "a/1.html"), "a/2.html");
  EXPECT_EQ(loader.resolve_path("./x/../y.html"), "y.html");
  EXPECT_EQ(loader.resolve_path("/y.html", "a/1.html"), "y.html");
}

TEST(TemplateLoader, NamesLeavingTheRootAreRefused) {
  DictLoader loader(Templates{{"a/esc.html", "{% include '../../secret' %}"}});
  EXPECT_THROW(loader.resolve_path("../secret"), TemplateError);
  EXPECT_THROW(loader.resolve_path(std::string("a.html\0", 7)), TemplateError);
  EXPECT_THROW(loader.load("a/../../secret"), TemplateError);
  expect_parse_error([&] { loader.load("a/esc.html"); }, "leaves the template root", "a/esc.html",
                     1);
}

TEST(TemplateLoader, LoadCachesAndResetReloads) {
  DictLoader loader(Templates{{"t.html", "{{ 1 }}"}});
  const Template& first = loader.load("t.html");
  EXPECT_EQ(&loader.load("./t.html"), &first);
  EXPECT_EQ(first.name(), "t.html");
  EXPECT_THROW(loader.load("missing.html"), OSError);
}

class TemplateDirectory : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "squall-template-XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::system_error(errno, std::generic_category());
    root_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  void write(const std::string& name, const std::string& text) {
    std::filesystem::create_directories((root_ / name).parent_path());
    std::ofstream(root_ / name, std::ios::binary) << text;
  }

  std::filesystem::path root_;
};

TEST_F(TemplateDirectory, LoadsFilesUnderTheRoot) {
  write("page.html", "{% extends 'layout/base.html' %}{% block b %}H\xc3\xa9llo {{ n }}{% end %}");
  write("layout/base.html", "<p>{% block b %}{% end %}</p>{% include 'foot.html' %}");
  write("layout/foot.html", "<i>foot</i>");
  Loader loader(root_);
  EXPECT_EQ(loader.load("page.html").generate({{"n", 1}}), "<p>H\xc3\xa9llo 1</p><i>foot</i>");
  EXPECT_EQ(loader.root(), std::filesystem::absolute(root_).lexically_normal());
}

TEST_F(TemplateDirectory, ResetReadsEditedFilesAgain) {
  write("t.html", "old");
  Loader loader(root_);
  const Template* first = &loader.load("t.html");
  EXPECT_EQ(first->generate(), "old");
  write("t.html", "new");
  EXPECT_EQ(&loader.load("t.html"), first);
  EXPECT_EQ(loader.load("t.html").generate(), "old");
  loader.reset();
  EXPECT_EQ(loader.load("t.html").generate(), "new");
}

TEST_F(TemplateDirectory, MissingFilesAreOSErrorsOrParseErrorsWhereIncluded) {
  write("inc.html", "line\n{% include 'nothere.html' %}");
  Loader loader(root_);
  try {
    loader.load("nothere.html");
    FAIL() << "no OSError";
  } catch (const OSError& e) {
    EXPECT_EQ(e.code(), ENOENT);
  }
  expect_parse_error([&] { loader.load("inc.html"); }, "cannot load 'nothere.html'", "inc.html", 2);
}

TEST_F(TemplateDirectory, APathOutsideTheRootIsNeverRead) {
  write("secret", "secret");
  std::filesystem::path inner = root_ / "templates";
  std::filesystem::create_directories(inner);
  Loader loader(inner);
  EXPECT_THROW(loader.load("../secret"), TemplateError);
}

// --- generation ---

TEST(TemplateGenerate, RendersTheSameTwiceAndAppendsToAString) {
  Template t("{% set n = n + 1 %}{{ n }}");
  EXPECT_EQ(t.generate({{"n", 1}}), "2");
  EXPECT_EQ(t.generate({{"n", 1}}), "2");
  std::string out = "head:";
  t.generate_to(out, {{"n", 5}});
  EXPECT_EQ(out, "head:6");
}

TEST(TemplateGenerate, DefaultsAreLookedUpAfterTheValues) {
  json defaults = {{"user", "default user"}, {"site", "squall"}};
  Template t("{{ user }}@{{ site }}");
  EXPECT_EQ(t.generate({{"user", "ann"}}, nullptr, &defaults), "ann@squall");
  EXPECT_EQ(t.generate(json::object(), nullptr, &defaults), "default user@squall");
}

TEST(TemplateGenerate, AFailedRenderLeavesTheOutputAsItWas) {
  Template t("partial {{ 1/0 }}");
  std::string out = "head:";
  EXPECT_THROW(t.generate_to(out, json::object()), RenderError);
  EXPECT_EQ(out, "head:");
}

TEST(TemplateGenerate, LargeDataIsWalkedWithoutChangingTheValues) {
  json items = json::array();
  for (int i = 0; i < 1000; ++i) items.push_back({{"id", i}, {"name", "item" + std::to_string(i)}});
  json values = {{"items", items}};
  Template t(
      "{% for item in items %}{% if item.id % 100 == 0 %}{{ item.name }},{% end %}{% end %}");
  EXPECT_EQ(t.generate(values),
            "item0,item100,item200,item300,item400,item500,item600,item700,item800,item900,");
  EXPECT_EQ(values["items"], items);
}

}  // namespace
}  // namespace squall::web
