#pragma once
// The expression parser of the template language: `{{ }}` contents, conditions, and the headers
// of {% for %} and {% set %}.

#include <string_view>

#include "web/template_ast.hpp"

namespace squall::web::detail {

// Where the text being parsed sits, for ParseError.
struct ParseLocation {
  std::string_view template_name;
  int line;
};

// Parses a whole expression. Throws ParseError.
ExprPtr parse_expression(std::string_view text, const ParseLocation& location);

// Parses "x in expr" or "k, v in expr" (optionally parenthesized targets) into node.
void parse_for_header(std::string_view text, const ParseLocation& location, ForNode& node);

// Parses "x = expr", "a, b = expr" or "x += expr" (also -=, *=, /=) into node.
void parse_set_statement(std::string_view text, const ParseLocation& location, SetNode& node);

// True for a Python identifier in ASCII: a letter or '_', then letters, digits and '_'.
bool is_identifier(std::string_view text);

}  // namespace squall::web::detail
