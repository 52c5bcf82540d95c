// The template parser: splits the source into text, {{ expressions }}, {% tags %} and {# comments
// #} as Tornado's _parse does, and builds the node tree. Control tags (if, for, while, try) are
// read with their intermediate tags (elif, else, except, finally) into one node.
#include <string>
#include <string_view>
#include <utility>

#include "squall/util/error.hpp"
#include "web/template_ast.hpp"
#include "web/template_expr.hpp"

namespace squall::web {

namespace {

bool is_python_space(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

}  // namespace

std::string filter_whitespace(std::string_view mode, std::string_view text) {
  if (mode == "all") return std::string(text);
  std::string out;
  out.reserve(text.size());
  if (mode == "oneline") {
    for (std::size_t i = 0; i < text.size();) {
      if (!is_python_space(text[i])) {
        out += text[i++];
        continue;
      }
      while (i < text.size() && is_python_space(text[i])) ++i;
      out += ' ';
    }
    return out;
  }
  if (mode != "single") throw ValueError("invalid whitespace mode " + std::string(mode));
  // A run of whitespace holding a newline becomes one newline; otherwise its spaces and tabs
  // collapse to one space (other whitespace, such as '\r' alone, is kept).
  for (std::size_t i = 0; i < text.size();) {
    if (!is_python_space(text[i])) {
      out += text[i++];
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && is_python_space(text[end])) ++end;
    std::string_view run = text.substr(i, end - i);
    if (run.find('\n') != std::string_view::npos) {
      out += '\n';
    } else {
      bool in_blanks = false;
      for (char c : run) {
        bool blank = c == ' ' || c == '\t';
        if (!blank) {
          out += c;
        } else if (!in_blanks) {
          out += ' ';
        }
        in_blanks = blank;
      }
    }
    i = end;
  }
  return out;
}

namespace detail {
namespace {

std::string_view strip(std::string_view s) {
  while (!s.empty() && is_python_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_python_space(s.back())) s.remove_suffix(1);
  return s;
}

// The path of an extends or include tag: the suffix without surrounding quotes, as Tornado.
std::string_view unquote(std::string_view s) {
  while (!s.empty() && s.front() == '"') s.remove_prefix(1);
  while (!s.empty() && s.back() == '"') s.remove_suffix(1);
  while (!s.empty() && s.front() == '\'') s.remove_prefix(1);
  while (!s.empty() && s.back() == '\'') s.remove_suffix(1);
  return s;
}

// What ended a parsed body: the end of input, {% end %}, or an intermediate tag.
struct Terminator {
  enum Kind { kEof, kEnd, kElse, kElif, kExcept, kFinally } kind = kEof;
  std::string_view suffix;
  int line = 0;
};

class TemplateParser {
 public:
  TemplateParser(TemplateImpl& impl, std::string_view source, std::string_view whitespace)
      : impl_(impl), text_(source), whitespace_(whitespace) {}

  void parse() {
    Terminator terminator;
    impl_.body = parse_body({}, 0, false, 0, terminator);
  }

 private:
  [[noreturn]] void fail(const std::string& message, int line) const {
    throw ParseError(message, impl_.name, line);
  }

  ParseLocation location(int line) const { return {impl_.name, line}; }

  // Consumes `count` bytes, counting lines.
  std::string_view consume(std::size_t count) {
    std::string_view taken = text_.substr(pos_, count);
    for (char c : taken) {
      if (c == '\n') ++line_;
    }
    pos_ += taken.size();
    return taken;
  }

  void add_text(Body& body, std::string_view text, int line) {
    if (text.empty()) return;
    std::string value = text.find("<pre>") == std::string_view::npos
                            ? filter_whitespace(whitespace_, text)
                            : std::string(text);
    if (!value.empty()) body.push_back(std::make_unique<TextNode>(line, std::move(value)));
  }

  // The offset (from pos_) of the next "{{", "{%" or "{#", or npos. Of more than two braces in a
  // row the innermost pair counts, as Tornado (for languages such as LaTeX that use braces).
  std::size_t find_directive() const {
    std::size_t curly = pos_;
    while (true) {
      curly = text_.find('{', curly);
      if (curly == std::string_view::npos || curly + 1 >= text_.size())
        return std::string_view::npos;
      char next = text_[curly + 1];
      if (next != '{' && next != '%' && next != '#') {
        ++curly;
        continue;
      }
      if (curly + 2 < text_.size() && next == '{' && text_[curly + 2] == '{') {
        ++curly;
        continue;
      }
      return curly - pos_;
    }
  }

  // Parses until EOF, {% end %} or an intermediate tag, which `terminator` reports. `in_block` is
  // the operator of the enclosing block, empty at the top level.
  Body parse_body(std::string_view in_block, int block_line, bool in_loop, int depth,
                  Terminator& terminator) {
    if (depth > kMaxNesting) fail("blocks nested too deeply", line_);
    Body body;
    while (true) {
      std::size_t curly = find_directive();
      if (curly == std::string_view::npos) {
        if (!in_block.empty()) {
          fail("Missing {% end %} block for " + std::string(in_block), block_line);
        }
        int line = line_;
        add_text(body, consume(text_.size() - pos_), line);
        terminator = {Terminator::kEof, {}, line_};
        return body;
      }
      if (curly > 0) {
        int line = line_;
        add_text(body, consume(curly), line);
      }
      std::string_view start_brace = consume(2);
      int line = line_;

      // "{{!", "{%!" and "{#!" write the braces themselves.
      if (pos_ < text_.size() && text_[pos_] == '!') {
        consume(1);
        body.push_back(std::make_unique<TextNode>(line, std::string(start_brace)));
        continue;
      }

      if (start_brace == "{#") {
        std::size_t end = text_.find("#}", pos_);
        if (end == std::string_view::npos) fail("Missing end comment #}", line);
        consume(end + 2 - pos_);
        continue;
      }

      if (start_brace == "{{") {
        std::size_t end = text_.find("}}", pos_);
        if (end == std::string_view::npos) fail("Missing end expression }}", line);
        std::string_view contents = strip(consume(end - pos_));
        consume(2);
        if (contents.empty()) fail("Empty expression", line);
        body.push_back(
            std::make_unique<OutputNode>(line, parse_expression(contents, location(line)), false));
        continue;
      }

      std::size_t end = text_.find("%}", pos_);
      if (end == std::string_view::npos) fail("Missing end block %}", line);
      std::string_view contents = strip(consume(end - pos_));
      consume(2);
      if (contents.empty()) fail("Empty block tag ({% %})", line);

      std::size_t space = 0;
      while (space < contents.size() && !is_python_space(contents[space])) ++space;
      std::string_view op = contents.substr(0, space);
      std::string_view suffix = strip(contents.substr(space));

      if (op == "else" || op == "elif" || op == "except" || op == "finally") {
        check_intermediate(op, in_block, line);
        Terminator::Kind kind = op == "else"     ? Terminator::kElse
                                : op == "elif"   ? Terminator::kElif
                                : op == "except" ? Terminator::kExcept
                                                 : Terminator::kFinally;
        terminator = {kind, suffix, line};
        return body;
      }
      if (op == "end") {
        if (in_block.empty()) fail("Extra {% end %} block", line);
        terminator = {Terminator::kEnd, suffix, line};
        return body;
      }
      if (op == "comment") continue;
      if (op == "extends") {
        parse_extends(body, suffix, depth, line);
      } else if (op == "include") {
        std::string_view path = unquote(suffix);
        if (path.empty()) fail("include missing file path", line);
        body.push_back(std::make_unique<IncludeNode>(line, std::string(path)));
      } else if (op == "set") {
        if (suffix.empty()) fail("set missing statement", line);
        auto node = std::make_unique<SetNode>(line);
        parse_set_statement(suffix, location(line), *node);
        body.push_back(std::move(node));
      } else if (op == "autoescape") {
        if (suffix == "None") {
          impl_.autoescape.clear();
        } else if (is_identifier(suffix)) {
          impl_.autoescape = suffix;
        } else {
          fail("autoescape needs a function name or None", line);
        }
      } else if (op == "whitespace") {
        if (suffix != "all" && suffix != "single" && suffix != "oneline") {
          fail("invalid whitespace mode " + std::string(suffix), line);
        }
        whitespace_ = suffix;
      } else if (op == "raw") {
        if (suffix.empty()) fail("raw missing expression", line);
        body.push_back(
            std::make_unique<OutputNode>(line, parse_expression(suffix, location(line)), true));
      } else if (op == "if") {
        body.push_back(parse_if(suffix, in_loop, depth, line));
      } else if (op == "for") {
        body.push_back(parse_for(suffix, in_loop, depth, line));
      } else if (op == "while") {
        body.push_back(parse_while(suffix, in_loop, depth, line));
      } else if (op == "try") {
        body.push_back(parse_try(in_loop, depth, line));
      } else if (op == "block") {
        if (suffix.empty()) fail("block missing name", line);
        auto node = std::make_unique<BlockNode>(line, std::string(suffix), &impl_);
        node->body = parse_closed_body("block", line, in_loop, depth);
        body.push_back(std::move(node));
      } else if (op == "apply") {
        if (suffix.empty()) fail("apply missing method name", line);
        if (!is_identifier(suffix)) fail("apply needs a function name", line);
        auto node = std::make_unique<ApplyNode>(line, std::string(suffix));
        // The body is a function of its own in Tornado, so break and continue cannot leave it.
        node->body = parse_closed_body("apply", line, false, depth);
        body.push_back(std::move(node));
      } else if (op == "break" || op == "continue") {
        if (!in_loop) fail(std::string(op) + " outside for or while block", line);
        body.push_back(
            std::make_unique<Node>(op == "break" ? NodeKind::kBreak : NodeKind::kContinue, line));
      } else if (op == "import" || op == "from" || op == "module") {
        fail("{% " + std::string(op) + " %} is not supported", line);
      } else {
        fail("unknown operator: '" + std::string(op) + "'", line);
      }
    }
  }

  void check_intermediate(std::string_view op, std::string_view in_block, int line) const {
    const char* parents = op == "else" ? "if, for, while or try" : op == "elif" ? "if" : "try";
    if (in_block.empty()) fail(std::string(op) + " outside " + parents + " block", line);
    bool allowed = op == "else"   ? (in_block == "if" || in_block == "for" || in_block == "while" ||
                                   in_block == "try")
                   : op == "elif" ? in_block == "if"
                                  : in_block == "try";
    if (!allowed) {
      fail(std::string(op) + " block cannot be attached to " + std::string(in_block) + " block",
           line);
    }
  }

  // A body that must end with {% end %}.
  Body parse_closed_body(std::string_view op, int line, bool in_loop, int depth) {
    Terminator terminator;
    Body body = parse_body(op, line, in_loop, depth + 1, terminator);
    return body;
  }

  void parse_extends(const Body& body, std::string_view suffix, int depth, int line) {
    std::string_view path = unquote(suffix);
    if (path.empty()) fail("extends missing file path", line);
    if (depth > 0) fail("{% extends %} must be at the top level", line);
    if (!impl_.extends.empty()) fail("only one {% extends %} is allowed", line);
    for (const auto& node : body) {
      if (node->kind != NodeKind::kText ||
          !strip(static_cast<const TextNode&>(*node).text).empty()) {
        fail("{% extends %} must come before any other content", line);
      }
    }
    impl_.extends = path;
    impl_.extends_line = line;
  }

  NodePtr parse_if(std::string_view condition, bool in_loop, int depth, int line) {
    if (condition.empty()) fail("if missing condition", line);
    auto node = std::make_unique<IfNode>(line);
    node->conditions.push_back(parse_expression(condition, location(line)));
    Terminator terminator;
    node->bodies.push_back(parse_body("if", line, in_loop, depth + 1, terminator));
    while (terminator.kind == Terminator::kElif) {
      if (terminator.suffix.empty()) fail("elif missing condition", terminator.line);
      node->conditions.push_back(parse_expression(terminator.suffix, location(terminator.line)));
      node->bodies.push_back(parse_body("if", line, in_loop, depth + 1, terminator));
    }
    if (terminator.kind == Terminator::kElse) {
      node->bodies.push_back(parse_else(terminator, "if", line, in_loop, depth));
    }
    return node;
  }

  // The body after {% else %}, which must end with {% end %}.
  Body parse_else(Terminator& terminator, std::string_view op, int line, bool in_loop, int depth) {
    int else_line = terminator.line;
    if (!terminator.suffix.empty()) fail("else takes nothing after it", else_line);
    Body body = parse_body(op, line, in_loop, depth + 1, terminator);
    if (terminator.kind != Terminator::kEnd) {
      fail("no more intermediate blocks may follow {% else %}", terminator.line);
    }
    return body;
  }

  NodePtr parse_for(std::string_view header, bool in_loop, int depth, int line) {
    auto node = std::make_unique<ForNode>(line);
    parse_for_header(header, location(line), *node);
    Terminator terminator;
    node->body = parse_body("for", line, true, depth + 1, terminator);
    if (terminator.kind == Terminator::kElse) {
      // The else body is outside the loop: break there belongs to an enclosing loop, if any.
      node->else_body = parse_else(terminator, "for", line, in_loop, depth);
    }
    return node;
  }

  NodePtr parse_while(std::string_view condition, bool in_loop, int depth, int line) {
    if (condition.empty()) fail("while missing condition", line);
    auto node = std::make_unique<WhileNode>(line);
    node->condition = parse_expression(condition, location(line));
    Terminator terminator;
    node->body = parse_body("while", line, true, depth + 1, terminator);
    if (terminator.kind == Terminator::kElse) {
      node->else_body = parse_else(terminator, "while", line, in_loop, depth);
    }
    return node;
  }

  NodePtr parse_try(bool in_loop, int depth, int line) {
    auto node = std::make_unique<TryNode>(line);
    Terminator terminator;
    node->body = parse_body("try", line, in_loop, depth + 1, terminator);
    if (terminator.kind == Terminator::kExcept) {
      node->has_except = true;
      node->except_body = parse_body("try", line, in_loop, depth + 1, terminator);
      if (terminator.kind == Terminator::kExcept) {
        fail("only one {% except %} is supported", terminator.line);
      }
      if (terminator.kind == Terminator::kElse) {
        int else_line = terminator.line;
        if (!terminator.suffix.empty()) fail("else takes nothing after it", else_line);
        node->else_body = parse_body("try", line, in_loop, depth + 1, terminator);
        if (terminator.kind != Terminator::kFinally && terminator.kind != Terminator::kEnd) {
          fail("only {% finally %} may follow {% else %} in try", terminator.line);
        }
      }
    } else if (terminator.kind == Terminator::kElse) {
      fail("else in try needs an except before it", terminator.line);
    }
    if (terminator.kind == Terminator::kFinally) {
      node->finally_body = parse_body("try", line, in_loop, depth + 1, terminator);
      if (terminator.kind != Terminator::kEnd) {
        fail("nothing may follow {% finally %} but {% end %}", terminator.line);
      }
    } else if (!node->has_except) {
      fail("try needs an except or finally block", terminator.line);
    }
    return node;
  }

  TemplateImpl& impl_;
  std::string_view text_;
  std::string whitespace_;
  std::size_t pos_ = 0;
  int line_ = 1;
};

}  // namespace

void parse_template(TemplateImpl& impl, std::string_view source, std::string_view whitespace) {
  TemplateParser(impl, source, whitespace).parse();
}

}  // namespace detail
}  // namespace squall::web
