// The expression parser: a tokenizer and a recursive-descent parser for a Python subset, with
// Python's precedence (lowest first): `x if c else y`, or, and, not, comparisons, + -, * / // %,
// unary - +, **, then postfix `.name`, `[index]`, `[a:b:c]`, `(args)`.
#include "web/template_expr.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "util/utf8.hpp"
#include "web/template_builtins.hpp"

namespace squall::web::detail {
namespace {

enum class TokenKind : std::uint8_t { kName, kInteger, kFloat, kString, kOperator, kEnd };

struct Token {
  TokenKind kind;
  std::string_view text;  // the source text (for kString, with its quotes)
  std::string value;      // kString: the decoded contents
};

bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_name_char(char c) {
  return is_name_start(c) || is_digit(c);
}

bool is_keyword(std::string_view name) {
  static constexpr std::string_view kKeywords[] = {
      "and", "or", "not", "in", "is", "if", "else", "True", "False", "None", "for", "lambda"};
  for (auto keyword : kKeywords) {
    if (name == keyword) return true;
  }
  return false;
}

using squall::detail::append_utf8;

class Parser {
 public:
  Parser(std::string_view text, const ParseLocation& location) : text_(text), location_(location) {
    tokenize();
  }

  ExprPtr parse_whole_expression() {
    ExprPtr expr = parse_expression_list();
    expect_end();
    return expr;
  }

  void parse_for(ForNode& node) {
    node.targets = parse_targets();
    if (!accept_keyword("in")) fail("expected 'in' in for");
    node.iterable = parse_expression_list();
    expect_end();
  }

  void parse_set(SetNode& node) {
    node.targets = parse_targets();
    const Token& token = peek();
    if (token.kind != TokenKind::kOperator) fail("expected '=' in set");
    if (token.text == "+=") {
      node.augmented = BinaryOp::kAdd;
    } else if (token.text == "-=") {
      node.augmented = BinaryOp::kSubtract;
    } else if (token.text == "*=") {
      node.augmented = BinaryOp::kMultiply;
    } else if (token.text == "/=") {
      node.augmented = BinaryOp::kDivide;
    } else if (token.text != "=") {
      fail("expected '=' in set");
    }
    if (node.augmented && node.targets.size() != 1) fail("augmented assignment to several names");
    ++position_;
    node.value = parse_expression_list();
    expect_end();
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    throw ParseError(message + " in expression '" + std::string(text_) + "'",
                     std::string(location_.template_name), location_.line);
  }

  // --- tokens ---

  void tokenize() {
    std::size_t i = 0;
    while (i < text_.size()) {
      char c = text_[i];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        ++i;
      } else if (is_name_start(c)) {
        std::size_t start = i;
        while (i < text_.size() && is_name_char(text_[i])) ++i;
        tokens_.push_back({TokenKind::kName, text_.substr(start, i - start), {}});
      } else if (is_digit(c) || (c == '.' && i + 1 < text_.size() && is_digit(text_[i + 1]))) {
        i = read_number(i);
      } else if (c == '\'' || c == '"') {
        i = read_string(i);
      } else {
        static constexpr std::string_view kTwoCharOperators[] = {
            "**", "//", "==", "!=", "<=", ">=", "+=", "-=", "*=", "/="};
        std::string_view two = text_.substr(i, 2);
        std::size_t length = 0;
        for (auto op : kTwoCharOperators) {
          if (two == op) length = 2;
        }
        if (length == 0 &&
            std::string_view("()[]{},:.+-*/%<>=").find(c) != std::string_view::npos) {
          length = 1;
        }
        if (length == 0) fail("unexpected character '" + std::string(1, c) + "'");
        tokens_.push_back({TokenKind::kOperator, text_.substr(i, length), {}});
        i += length;
      }
    }
    tokens_.push_back({TokenKind::kEnd, {}, {}});
  }

  std::size_t read_number(std::size_t start) {
    std::size_t i = start;
    bool is_float = false;
    while (i < text_.size() && is_digit(text_[i])) ++i;
    if (i < text_.size() && text_[i] == '.') {
      is_float = true;
      ++i;
      while (i < text_.size() && is_digit(text_[i])) ++i;
    }
    if (i < text_.size() && (text_[i] == 'e' || text_[i] == 'E')) {
      std::size_t exponent = i + 1;
      if (exponent < text_.size() && (text_[exponent] == '+' || text_[exponent] == '-')) {
        ++exponent;
      }
      if (exponent < text_.size() && is_digit(text_[exponent])) {
        is_float = true;
        i = exponent;
        while (i < text_.size() && is_digit(text_[i])) ++i;
      }
    }
    if (i < text_.size() && is_name_char(text_[i])) {
      fail("invalid number '" + std::string(text_.substr(start, i + 1 - start)) + "'");
    }
    tokens_.push_back(
        {is_float ? TokenKind::kFloat : TokenKind::kInteger, text_.substr(start, i - start), {}});
    return i;
  }

  // Reads a quoted string with Python's backslash escapes; an unknown escape keeps its backslash.
  std::size_t read_string(std::size_t start) {
    char quote = text_[start];
    std::string value;
    std::size_t i = start + 1;
    while (true) {
      if (i >= text_.size()) fail("unterminated string");
      char c = text_[i];
      if (c == quote) break;
      if (c == '\n') fail("unterminated string");
      if (c != '\\') {
        value += c;
        ++i;
        continue;
      }
      if (i + 1 >= text_.size()) fail("unterminated string");
      char escape = text_[i + 1];
      i += 2;
      switch (escape) {
        case '\\':
          value += '\\';
          break;
        case '\'':
          value += '\'';
          break;
        case '"':
          value += '"';
          break;
        case 'n':
          value += '\n';
          break;
        case 't':
          value += '\t';
          break;
        case 'r':
          value += '\r';
          break;
        case '0':
          value += '\0';
          break;
        case 'a':
          value += '\a';
          break;
        case 'b':
          value += '\b';
          break;
        case 'f':
          value += '\f';
          break;
        case 'v':
          value += '\v';
          break;
        case '\n':
          break;  // a backslash-newline joins lines
        case 'x':
        case 'u':
        case 'U': {
          std::size_t digits = escape == 'x' ? 2 : escape == 'u' ? 4 : 8;
          if (i + digits > text_.size()) fail("truncated \\" + std::string(1, escape) + " escape");
          std::uint32_t code_point = 0;
          auto [end, error] =
              std::from_chars(text_.data() + i, text_.data() + i + digits, code_point, 16);
          if (error != std::errc() || end != text_.data() + i + digits || code_point > 0x10FFFF ||
              (code_point >= 0xD800 && code_point <= 0xDFFF)) {
            fail("invalid \\" + std::string(1, escape) + " escape");
          }
          append_utf8(value, code_point);
          i += digits;
          break;
        }
        default:
          value += '\\';
          value += escape;
      }
    }
    tokens_.push_back({TokenKind::kString, text_.substr(start, i + 1 - start), std::move(value)});
    return i + 1;
  }

  const Token& peek(std::size_t ahead = 0) const {
    std::size_t index = position_ + ahead;
    return index < tokens_.size() ? tokens_[index] : tokens_.back();
  }

  bool at_operator(std::string_view op, std::size_t ahead = 0) const {
    const Token& token = peek(ahead);
    return token.kind == TokenKind::kOperator && token.text == op;
  }

  bool at_keyword(std::string_view keyword, std::size_t ahead = 0) const {
    const Token& token = peek(ahead);
    return token.kind == TokenKind::kName && token.text == keyword;
  }

  bool accept_operator(std::string_view op) {
    if (!at_operator(op)) return false;
    ++position_;
    return true;
  }

  bool accept_keyword(std::string_view keyword) {
    if (!at_keyword(keyword)) return false;
    ++position_;
    return true;
  }

  void expect_operator(std::string_view op) {
    if (!accept_operator(op))
      fail("expected '" + std::string(op) + "' but found " + describe(peek()));
  }

  void expect_end() {
    if (peek().kind != TokenKind::kEnd) fail("unexpected " + describe(peek()));
  }

  static std::string describe(const Token& token) {
    if (token.kind == TokenKind::kEnd) return "end of expression";
    return "'" + std::string(token.text) + "'";
  }

  // --- tree building ---

  ExprPtr make(ExprKind kind, std::vector<ExprPtr> operands = {}) {
    auto expr = std::make_unique<Expr>(kind);
    for (const auto& operand : operands) {
      if (operand && operand->depth + 1 > expr->depth) expr->depth = operand->depth + 1;
    }
    if (expr->depth > kMaxNesting) fail("expression nested too deeply");
    expr->operands = std::move(operands);
    return expr;
  }

  // Guards the parser's own recursion (parentheses, unary operators) before any node exists.
  class Nesting {
   public:
    explicit Nesting(Parser& parser) : parser_(parser) {
      if (++parser_.nesting_ > kMaxNesting) parser_.fail("expression nested too deeply");
    }
    ~Nesting() { --parser_.nesting_; }
    Nesting(const Nesting&) = delete;
    Nesting& operator=(const Nesting&) = delete;

   private:
    Parser& parser_;
  };

  // --- grammar ---

  std::vector<std::string> parse_targets() {
    std::vector<std::string> targets;
    bool parenthesized = accept_operator("(");
    do {
      const Token& token = peek();
      if (token.kind != TokenKind::kName || is_keyword(token.text)) {
        fail("expected a name but found " + describe(token));
      }
      targets.emplace_back(token.text);
      ++position_;
    } while (accept_operator(",") && peek().kind == TokenKind::kName && !at_keyword("in"));
    if (parenthesized) expect_operator(")");
    return targets;
  }

  // An expression, or several separated by commas (a tuple, which becomes a list).
  ExprPtr parse_expression_list() {
    ExprPtr first = parse_test();
    if (!at_operator(",")) return first;
    std::vector<ExprPtr> items;
    items.push_back(std::move(first));
    while (accept_operator(",")) {
      if (peek().kind == TokenKind::kEnd || at_operator("=")) break;
      items.push_back(parse_test());
    }
    return make(ExprKind::kList, std::move(items));
  }

  ExprPtr parse_test() {
    Nesting nesting(*this);
    ExprPtr value = parse_or();
    if (!accept_keyword("if")) return value;
    ExprPtr condition = parse_or();
    if (!accept_keyword("else")) fail("expected 'else' in conditional expression");
    ExprPtr otherwise = parse_test();
    std::vector<ExprPtr> operands;
    operands.push_back(std::move(value));
    operands.push_back(std::move(condition));
    operands.push_back(std::move(otherwise));
    return make(ExprKind::kConditional, std::move(operands));
  }

  ExprPtr parse_or() {
    ExprPtr first = parse_and();
    if (!at_keyword("or")) return first;
    std::vector<ExprPtr> operands;
    operands.push_back(std::move(first));
    while (accept_keyword("or")) operands.push_back(parse_and());
    return make(ExprKind::kOr, std::move(operands));
  }

  ExprPtr parse_and() {
    ExprPtr first = parse_not();
    if (!at_keyword("and")) return first;
    std::vector<ExprPtr> operands;
    operands.push_back(std::move(first));
    while (accept_keyword("and")) operands.push_back(parse_not());
    return make(ExprKind::kAnd, std::move(operands));
  }

  ExprPtr parse_not() {
    if (!accept_keyword("not")) return parse_comparison();
    Nesting nesting(*this);
    std::vector<ExprPtr> operands;
    operands.push_back(parse_not());
    return make(ExprKind::kNot, std::move(operands));
  }

  bool accept_compare_op(CompareOp& op) {
    static constexpr std::pair<std::string_view, CompareOp> kOperators[] = {
        {"==", CompareOp::kEqual},  {"!=", CompareOp::kNotEqual},
        {"<", CompareOp::kLess},    {"<=", CompareOp::kLessEqual},
        {">", CompareOp::kGreater}, {">=", CompareOp::kGreaterEqual}};
    for (const auto& [text, value] : kOperators) {
      if (accept_operator(text)) {
        op = value;
        return true;
      }
    }
    if (accept_keyword("in")) {
      op = CompareOp::kIn;
      return true;
    }
    if (at_keyword("not") && at_keyword("in", 1)) {
      position_ += 2;
      op = CompareOp::kNotIn;
      return true;
    }
    if (accept_keyword("is")) {
      op = accept_keyword("not") ? CompareOp::kIsNot : CompareOp::kIs;
      return true;
    }
    return false;
  }

  ExprPtr parse_comparison() {
    ExprPtr first = parse_arithmetic();
    CompareOp op;
    if (!accept_compare_op(op)) return first;
    auto compare = std::vector<ExprPtr>();
    std::vector<CompareOp> ops;
    compare.push_back(std::move(first));
    do {
      ops.push_back(op);
      compare.push_back(parse_arithmetic());
    } while (accept_compare_op(op));
    ExprPtr expr = make(ExprKind::kCompare, std::move(compare));
    expr->compare_ops = std::move(ops);
    return expr;
  }

  ExprPtr make_binary(BinaryOp op, ExprPtr left, ExprPtr right) {
    std::vector<ExprPtr> operands;
    operands.push_back(std::move(left));
    operands.push_back(std::move(right));
    ExprPtr expr = make(ExprKind::kBinary, std::move(operands));
    expr->binary_op = op;
    return expr;
  }

  ExprPtr parse_arithmetic() {
    ExprPtr left = parse_term();
    while (true) {
      if (accept_operator("+")) {
        left = make_binary(BinaryOp::kAdd, std::move(left), parse_term());
      } else if (accept_operator("-")) {
        left = make_binary(BinaryOp::kSubtract, std::move(left), parse_term());
      } else {
        return left;
      }
    }
  }

  ExprPtr parse_term() {
    ExprPtr left = parse_unary();
    while (true) {
      BinaryOp op;
      if (accept_operator("*")) {
        op = BinaryOp::kMultiply;
      } else if (accept_operator("/")) {
        op = BinaryOp::kDivide;
      } else if (accept_operator("//")) {
        op = BinaryOp::kFloorDivide;
      } else if (accept_operator("%")) {
        op = BinaryOp::kModulo;
      } else {
        return left;
      }
      left = make_binary(op, std::move(left), parse_unary());
    }
  }

  ExprPtr parse_unary() {
    ExprKind kind;
    if (accept_operator("-")) {
      kind = ExprKind::kNegate;
    } else if (accept_operator("+")) {
      kind = ExprKind::kPlus;
    } else {
      return parse_power();
    }
    Nesting nesting(*this);
    ExprPtr operand = parse_unary();
    // Fold a negative number literal, so "-1" is a constant as in Python.
    if (kind == ExprKind::kNegate && operand->kind == ExprKind::kLiteral &&
        operand->literal.is_number_integer() && operand->literal.get<std::int64_t>() > 0) {
      operand->literal = -operand->literal.get<std::int64_t>();
      return operand;
    }
    std::vector<ExprPtr> operands;
    operands.push_back(std::move(operand));
    return make(kind, std::move(operands));
  }

  // base ** exponent binds tighter than a unary minus on its left and is right-associative, as
  // in Python: -2 ** 2 is -4, 2 ** -1 is 0.5, 2 ** 3 ** 2 is 512.
  ExprPtr parse_power() {
    ExprPtr base = parse_postfix();
    if (!accept_operator("**")) return base;
    Nesting nesting(*this);
    return make_binary(BinaryOp::kPower, std::move(base), parse_unary());
  }

  ExprPtr parse_postfix() {
    ExprPtr expr = parse_atom();
    while (true) {
      if (accept_operator(".")) {
        const Token& token = peek();
        if (token.kind != TokenKind::kName) fail("expected a name after '.'");
        std::string name(token.text);
        ++position_;
        if (at_operator("(")) {
          std::vector<ExprPtr> operands;
          operands.push_back(std::move(expr));
          parse_call_arguments(operands);
          expr = make(ExprKind::kMethod, std::move(operands));
          expr->method = find_method(name);
        } else {
          std::vector<ExprPtr> operands;
          operands.push_back(std::move(expr));
          expr = make(ExprKind::kAttribute, std::move(operands));
        }
        expr->name = std::move(name);
      } else if (accept_operator("[")) {
        expr = parse_subscript(std::move(expr));
      } else if (at_operator("(")) {
        if (expr->kind != ExprKind::kName) fail("only functions can be called, by name");
        std::string name = std::move(expr->name);
        std::vector<ExprPtr> operands;
        parse_call_arguments(operands);
        expr = make(ExprKind::kCall, std::move(operands));
        expr->name = std::move(name);
      } else {
        return expr;
      }
    }
  }

  void parse_call_arguments(std::vector<ExprPtr>& operands) {
    Nesting nesting(*this);
    expect_operator("(");
    while (!accept_operator(")")) {
      if (peek().kind == TokenKind::kName && at_operator("=", 1)) {
        fail("keyword arguments are not supported");
      }
      operands.push_back(parse_test());
      if (!accept_operator(",")) {
        expect_operator(")");
        break;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr target) {
    Nesting nesting(*this);
    std::vector<ExprPtr> operands;
    operands.push_back(std::move(target));
    // a[i] or a[start:stop:step], each slice part optional.
    ExprPtr first = at_operator(":") ? nullptr : parse_test();
    if (accept_operator("]")) {
      if (!first) fail("empty index");
      operands.push_back(std::move(first));
      return make(ExprKind::kIndex, std::move(operands));
    }
    operands.push_back(std::move(first));
    expect_operator(":");
    operands.push_back(at_operator(":") || at_operator("]") ? nullptr : parse_test());
    if (accept_operator(":")) {
      operands.push_back(at_operator("]") ? nullptr : parse_test());
    } else {
      operands.push_back(nullptr);
    }
    expect_operator("]");
    return make(ExprKind::kSlice, std::move(operands));
  }

  ExprPtr literal(json value) {
    ExprPtr expr = make(ExprKind::kLiteral);
    expr->literal = std::move(value);
    return expr;
  }

  ExprPtr parse_atom() {
    const Token& token = peek();
    switch (token.kind) {
      case TokenKind::kEnd:
        fail("unexpected end of expression");
      case TokenKind::kInteger: {
        std::int64_t value = 0;
        auto [end, error] =
            std::from_chars(token.text.data(), token.text.data() + token.text.size(), value);
        if (error != std::errc()) fail("integer literal out of range");
        if (token.text.size() > 1 && token.text[0] == '0') {
          fail("leading zeros in an integer literal");
        }
        ++position_;
        return literal(value);
      }
      case TokenKind::kFloat: {
        double value = 0;
        std::from_chars(token.text.data(), token.text.data() + token.text.size(), value);
        ++position_;
        return literal(value);
      }
      case TokenKind::kString: {
        std::string value = token.value;
        ++position_;
        // Adjacent literals concatenate, as in Python.
        while (peek().kind == TokenKind::kString) {
          value += peek().value;
          ++position_;
        }
        return literal(std::move(value));
      }
      case TokenKind::kName: {
        std::string_view name = token.text;
        if (name == "True" || name == "False") {
          ++position_;
          return literal(name == "True");
        }
        if (name == "None") {
          ++position_;
          return literal(nullptr);
        }
        if (is_keyword(name)) fail("unexpected '" + std::string(name) + "'");
        ++position_;
        ExprPtr expr = make(ExprKind::kName);
        expr->name = name;
        return expr;
      }
      case TokenKind::kOperator:
        break;
    }
    if (accept_operator("(")) {
      Nesting nesting(*this);
      if (accept_operator(")")) return make(ExprKind::kList);
      ExprPtr first = parse_test();
      if (accept_operator(")")) return first;
      std::vector<ExprPtr> items;
      items.push_back(std::move(first));
      while (accept_operator(",")) {
        if (at_operator(")")) break;
        items.push_back(parse_test());
      }
      expect_operator(")");
      return make(ExprKind::kList, std::move(items));
    }
    if (accept_operator("[")) {
      Nesting nesting(*this);
      std::vector<ExprPtr> items;
      while (!accept_operator("]")) {
        items.push_back(parse_test());
        if (at_keyword("for")) fail("comprehensions are not supported");
        if (!accept_operator(",")) {
          expect_operator("]");
          break;
        }
      }
      return make(ExprKind::kList, std::move(items));
    }
    if (accept_operator("{")) {
      Nesting nesting(*this);
      std::vector<ExprPtr> items;
      while (!accept_operator("}")) {
        items.push_back(parse_test());
        expect_operator(":");
        items.push_back(parse_test());
        if (at_keyword("for")) fail("comprehensions are not supported");
        if (!accept_operator(",")) {
          expect_operator("}");
          break;
        }
      }
      return make(ExprKind::kDict, std::move(items));
    }
    fail("unexpected " + describe(token));
  }

  std::string_view text_;
  ParseLocation location_;
  std::vector<Token> tokens_;
  std::size_t position_ = 0;
  int nesting_ = 0;
};

}  // namespace

ExprPtr parse_expression(std::string_view text, const ParseLocation& location) {
  return Parser(text, location).parse_whole_expression();
}

void parse_for_header(std::string_view text, const ParseLocation& location, ForNode& node) {
  Parser(text, location).parse_for(node);
}

void parse_set_statement(std::string_view text, const ParseLocation& location, SetNode& node) {
  Parser(text, location).parse_set(node);
}

bool is_identifier(std::string_view text) {
  if (text.empty() || !is_name_start(text[0])) return false;
  for (char c : text) {
    if (!is_name_char(c)) return false;
  }
  return !is_keyword(text);
}

}  // namespace squall::web::detail
