#pragma once
// The tree a template is parsed into: expressions (Expr) and nodes (Node subclasses), and the
// parsed template itself (TemplateImpl). The parser builds it once; the renderer only reads it.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "squall/web/template.hpp"

namespace squall::web::detail {

// Parsing refuses blocks or expressions nested deeper than this, and rendering refuses deeper
// chains of includes and blocks, so hostile input cannot exhaust the stack.
inline constexpr int kMaxNesting = 100;

enum class ExprKind : std::uint8_t {
  kLiteral,      // literal
  kName,         // name
  kAttribute,    // operands[0].name
  kIndex,        // operands[0][operands[1]]
  kSlice,        // operands[0][operands[1]:operands[2]:operands[3]], null when omitted
  kCall,         // name(operands...)
  kMethod,       // operands[0].name(operands[1...])
  kList,         // [operands...]
  kDict,         // {operands[0]: operands[1], ...}
  kNegate,       // -operands[0]
  kPlus,         // +operands[0]
  kNot,          // not operands[0]
  kBinary,       // operands[0] binary_op operands[1]
  kCompare,      // operands[0] compare_ops[0] operands[1] compare_ops[1] operands[2] ...
  kAnd,          // operands[0] and operands[1] and ...
  kOr,           // operands[0] or operands[1] or ...
  kConditional,  // operands[0] if operands[1] else operands[2]
};

enum class BinaryOp : std::uint8_t {
  kAdd,
  kSubtract,
  kMultiply,
  kDivide,
  kFloorDivide,
  kModulo,
  kPower,
};

enum class CompareOp : std::uint8_t {
  kEqual,
  kNotEqual,
  kLess,
  kLessEqual,
  kGreater,
  kGreaterEqual,
  kIn,
  kNotIn,
  kIs,
  kIsNot,
};

// The methods of strings and dicts, resolved when parsing so a call does not compare names.
enum class Method : std::uint8_t {
  kUnknown,  // fails when called
  kUpper,
  kLower,
  kCapitalize,
  kStrip,
  kLstrip,
  kRstrip,
  kStartswith,
  kEndswith,
  kReplace,
  kSplit,
  kJoin,
  kFind,
  kGet,
  kItems,
  kKeys,
  kValues,
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  explicit Expr(ExprKind kind) : kind(kind) {}

  ExprKind kind;
  BinaryOp binary_op = BinaryOp::kAdd;
  Method method = Method::kUnknown;  // kMethod
  int depth = 1;                     // of the subtree, bounded by kMaxNesting
  std::string name;
  json literal;
  std::vector<ExprPtr> operands;
  std::vector<CompareOp> compare_ops;
};

enum class NodeKind : std::uint8_t {
  kText,
  kOutput,
  kIf,
  kFor,
  kWhile,
  kSet,
  kBlock,
  kInclude,
  kApply,
  kTry,
  kBreak,
  kContinue,
};

struct Node {
  Node(NodeKind kind, int line) : kind(kind), line(line) {}
  virtual ~Node() = default;

  NodeKind kind;
  int line;
};

using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct TemplateImpl;

struct TextNode final : Node {
  TextNode(int line, std::string text) : Node(NodeKind::kText, line), text(std::move(text)) {}
  std::string text;
};

// {{ expr }} or {% raw expr %}.
struct OutputNode final : Node {
  OutputNode(int line, ExprPtr expr, bool raw)
      : Node(NodeKind::kOutput, line), expr(std::move(expr)), raw(raw) {}
  ExprPtr expr;
  bool raw;
};

// if/elif.../else: bodies[i] runs for the first true conditions[i]; a last extra body is the else.
struct IfNode final : Node {
  explicit IfNode(int line) : Node(NodeKind::kIf, line) {}
  std::vector<ExprPtr> conditions;
  std::vector<Body> bodies;
};

struct ForNode final : Node {
  explicit ForNode(int line) : Node(NodeKind::kFor, line) {}
  std::vector<std::string> targets;  // several: each item is unpacked
  ExprPtr iterable;
  Body body;
  Body else_body;  // runs when the loop ends without break
};

struct WhileNode final : Node {
  explicit WhileNode(int line) : Node(NodeKind::kWhile, line) {}
  ExprPtr condition;
  Body body;
  Body else_body;
};

struct SetNode final : Node {
  explicit SetNode(int line) : Node(NodeKind::kSet, line) {}
  std::vector<std::string> targets;
  std::optional<BinaryOp> augmented;  // x += y
  ExprPtr value;
};

struct BlockNode final : Node {
  BlockNode(int line, std::string name, const TemplateImpl* owner)
      : Node(NodeKind::kBlock, line), name(std::move(name)), owner(owner) {}
  std::string name;
  Body body;
  const TemplateImpl* owner;  // the template the body was written in (its autoescape applies)
};

struct IncludeNode final : Node {
  IncludeNode(int line, std::string path) : Node(NodeKind::kInclude, line), path(std::move(path)) {}
  std::string path;                      // as written
  const TemplateImpl* target = nullptr;  // set by the loader
};

struct ApplyNode final : Node {
  ApplyNode(int line, std::string function)
      : Node(NodeKind::kApply, line), function(std::move(function)) {}
  std::string function;
  Body body;
};

struct TryNode final : Node {
  explicit TryNode(int line) : Node(NodeKind::kTry, line) {}
  Body body;
  bool has_except = false;
  Body except_body;
  Body else_body;
  Body finally_body;
};

// A parsed template. Its address is stable (Template holds it by unique_ptr), so nodes and other
// templates point to it.
struct TemplateImpl {
  std::string name;
  std::string autoescape;  // function name; empty when off
  Body body;
  TemplateSettings own_settings;               // for a template built from text
  const TemplateSettings* settings = nullptr;  // own_settings or the loader's
  std::string extends;                         // the parent's name as written; empty if none
  int extends_line = 0;
  const TemplateImpl* parent = nullptr;  // set by the loader
  // The blocks this template renders with: its ancestors' and its own (the most derived wins),
  // including those in included templates.
  std::unordered_map<std::string_view, const BlockNode*> blocks;
  // The size of the last output, to reserve the next one in one allocation.
  mutable std::atomic<std::size_t> size_hint{0};
};

// Calls `visit(body)` for each body directly inside `node`: an if's branches, a loop's body and
// else body, a block's, apply's or try's parts. `NodeT` is Node or const Node.
template <typename NodeT, typename Visit>
void for_each_child_body(NodeT& node, Visit&& visit) {
  constexpr bool kConst = std::is_const_v<NodeT>;
  auto as = [&node]<typename T>(T*) -> std::conditional_t<kConst, const T&, T&> {
    return static_cast<std::conditional_t<kConst, const T&, T&>>(node);
  };
  switch (node.kind) {
    case NodeKind::kIf:
      for (auto& branch : as(static_cast<IfNode*>(nullptr)).bodies) visit(branch);
      break;
    case NodeKind::kFor: {
      auto& loop = as(static_cast<ForNode*>(nullptr));
      visit(loop.body);
      visit(loop.else_body);
      break;
    }
    case NodeKind::kWhile: {
      auto& loop = as(static_cast<WhileNode*>(nullptr));
      visit(loop.body);
      visit(loop.else_body);
      break;
    }
    case NodeKind::kBlock:
      visit(as(static_cast<BlockNode*>(nullptr)).body);
      break;
    case NodeKind::kApply:
      visit(as(static_cast<ApplyNode*>(nullptr)).body);
      break;
    case NodeKind::kTry: {
      auto& attempt = as(static_cast<TryNode*>(nullptr));
      visit(attempt.body);
      visit(attempt.except_body);
      visit(attempt.else_body);
      visit(attempt.finally_body);
      break;
    }
    default:
      break;
  }
}

// Calls `visit(IncludeNode&)` for every include tag in `body`, however deeply nested.
template <typename Visit>
void for_each_include(Body& body, Visit&& visit) {
  for (auto& node : body) {
    if (node->kind == NodeKind::kInclude) visit(static_cast<IncludeNode&>(*node));
    for_each_child_body(*node, [&visit](Body& child) { for_each_include(child, visit); });
  }
}

// Fills impl.blocks from impl's ancestors (root first) and impl itself, following includes, as
// Tornado's find_named_blocks: a later definition of a name replaces an earlier one. Throws
// ParseError if the templates hold an unreasonable number of blocks and includes.
void collect_blocks(TemplateImpl& impl);

// Parses `source` into impl.body, setting impl.autoescape and impl.extends. Throws ParseError.
void parse_template(TemplateImpl& impl, std::string_view source, std::string_view whitespace);

}  // namespace squall::web::detail
