// The renderer: runs a parsed template's nodes against the values and functions of one call.
//
// Names resolve as in Tornado's generated Python: local variables ({% set %}, loop variables,
// shared with included templates and blocks), then the values passed to generate (and its
// defaults), then the functions (the call's extra ones, the settings', the built-ins). Lookups
// borrow the JSON they find rather than copy it (see Value).
#include "web/template_render.hpp"

#include <cstdint>
#include <exception>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "squall/util/escape.hpp"
#include "web/template_builtins.hpp"
#include "web/template_value.hpp"

namespace squall::web::detail {
namespace {

// Bodies, includes and blocks nested deeper than this while rendering fail, well before the stack
// could run out (parsing already bounds each template to kMaxNesting levels).
constexpr int kMaxRenderDepth = 4 * kMaxNesting;

enum class Flow { kNormal, kBreak, kContinue };

// A function found by name: one registered from C++, or a built-in.
struct Callable {
  const TemplateFunction* user = nullptr;
  BuiltinFunction builtin = nullptr;
  explicit operator bool() const { return user != nullptr || builtin != nullptr; }
};

struct Local {
  std::string_view name;
  Value value;  // owned, or a borrow that lasts the render (never a borrow of another local)
};

class Renderer {
 public:
  Renderer(std::string& out, const json& values, const TemplateFunctions* extra,
           const json* defaults, const TemplateImpl& self)
      : out_(&out),
        values_(values.is_object() ? &values : nullptr),
        defaults_(defaults != nullptr && defaults->is_object() ? defaults : nullptr),
        extra_(extra),
        functions_(&self.settings->functions),
        blocks_(&self.blocks),
        max_steps_(self.settings->max_steps),
        context_{self.settings->max_size} {}

  void run(const TemplateImpl& root) {
    current_ = &root;
    exec_body(root.body);
  }

 private:
  // Switches the current template (for autoescape and error locations) and counts depth.
  class Enter {
   public:
    Enter(Renderer& renderer, const TemplateImpl* entered, int line)
        : renderer_(renderer), saved_(renderer.current_) {
      if (++renderer_.depth_ > kMaxRenderDepth) {
        --renderer_.depth_;
        throw RenderLimitError("templates nested too deeply", saved_->name, line);
      }
      renderer_.current_ = entered;
    }
    ~Enter() {
      renderer_.current_ = saved_;
      --renderer_.depth_;
    }
    Enter(const Enter&) = delete;
    Enter& operator=(const Enter&) = delete;

   private:
    Renderer& renderer_;
    const TemplateImpl* saved_;
  };

  void step(int line) {
    if (max_steps_ != 0 && ++steps_ > max_steps_) {
      throw RenderLimitError("rendering passed max_steps", current_->name, line);
    }
  }

  void check_output(int line) {
    if (context_.max_size != 0 && out_->size() > context_.max_size) {
      throw RenderLimitError("output passed max_size", current_->name, line);
    }
  }

  // --- statements ---

  Flow exec_body(const Body& body) {
    for (const auto& node : body) {
      Flow flow = exec_node(*node);
      if (flow != Flow::kNormal) return flow;
    }
    return Flow::kNormal;
  }

  Flow exec_node(const Node& node) {
    step(node.line);
    try {
      return dispatch(node);
    } catch (const RenderError&) {
      throw;
    } catch (const EvalError& e) {
      throw RenderError(e.what(), current_->name, node.line);
    } catch (const std::exception& e) {
      // A C++ function failed: keep its exception as the nested one.
      std::throw_with_nested(RenderError(e.what(), current_->name, node.line));
    } catch (...) {
      std::throw_with_nested(RenderError("unknown exception", current_->name, node.line));
    }
  }

  Flow dispatch(const Node& node) {
    switch (node.kind) {
      case NodeKind::kText:
        out_->append(static_cast<const TextNode&>(node).text);
        check_output(node.line);
        return Flow::kNormal;
      case NodeKind::kOutput: {
        const auto& output = static_cast<const OutputNode&>(node);
        write(eval(*output.expr), output.raw);
        check_output(node.line);
        return Flow::kNormal;
      }
      case NodeKind::kIf:
        return exec_if(static_cast<const IfNode&>(node));
      case NodeKind::kFor:
        return exec_for(static_cast<const ForNode&>(node));
      case NodeKind::kWhile:
        return exec_while(static_cast<const WhileNode&>(node));
      case NodeKind::kSet:
        exec_set(static_cast<const SetNode&>(node));
        return Flow::kNormal;
      case NodeKind::kBlock:
        return exec_block(static_cast<const BlockNode&>(node));
      case NodeKind::kInclude: {
        const auto& include = static_cast<const IncludeNode&>(node);
        Enter enter(*this, include.target, node.line);
        exec_body(include.target->body);
        return Flow::kNormal;
      }
      case NodeKind::kApply:
        exec_apply(static_cast<const ApplyNode&>(node));
        return Flow::kNormal;
      case NodeKind::kTry:
        return exec_try(static_cast<const TryNode&>(node));
      case NodeKind::kBreak:
        return Flow::kBreak;
      case NodeKind::kContinue:
        return Flow::kContinue;
    }
    return Flow::kNormal;
  }

  Flow exec_nested(const Body& body, int line) {
    Enter enter(*this, current_, line);
    return exec_body(body);
  }

  Flow exec_if(const IfNode& node) {
    for (std::size_t i = 0; i < node.conditions.size(); ++i) {
      if (truthy(eval(*node.conditions[i]).get())) return exec_nested(node.bodies[i], node.line);
    }
    if (node.bodies.size() > node.conditions.size()) {
      return exec_nested(node.bodies.back(), node.line);
    }
    return Flow::kNormal;
  }

  // Runs a loop body for one item; true if the loop must stop (break).
  bool loop_turn(const ForNode& node, Value&& item) {
    step(node.line);
    bind(node.targets, std::move(item));
    return exec_nested(node.body, node.line) == Flow::kBreak;
  }

  Flow exec_for(const ForNode& node) {
    bool broke = false;
    const Expr& iterable_expr = *node.iterable;
    // d.items(), d.keys() and d.values() are walked in place rather than copied to a list.
    if (iterable_expr.kind == ExprKind::kMethod && iterable_expr.operands.size() == 1 &&
        (iterable_expr.method == Method::kItems || iterable_expr.method == Method::kValues ||
         iterable_expr.method == Method::kKeys)) {
      Value dict = eval(*iterable_expr.operands[0]).stable();
      if (dict->is_object()) {
        broke = walk_dict(node, dict, iterable_expr.method);
        return broke ? Flow::kNormal : exec_else(node.else_body, node.line);
      }
      return walk(node, call_method(std::move(dict), iterable_expr.method, iterable_expr.name, {},
                                    context_));
    }
    return walk(node, eval(iterable_expr));
  }

  Flow walk(const ForNode& node, Value&& evaluated) {
    Value iterable = std::move(evaluated).stable();
    const json& value = iterable.get();
    bool broke = false;
    switch (value.type()) {
      case json::value_t::array:
        if (iterable.owned()) {
          for (auto& item : iterable.mutable_owned()) {
            if ((broke = loop_turn(node, Value(std::move(item))))) break;
          }
        } else {
          for (const auto& item : value) {
            if ((broke = loop_turn(node, Value::borrow(item, false)))) break;
          }
        }
        break;
      case json::value_t::object:
        for (auto it = value.begin(); it != value.end(); ++it) {
          if ((broke = loop_turn(node, Value(json(it.key()))))) break;
        }
        break;
      case json::value_t::string: {
        std::string_view text = value.get_ref<const std::string&>();
        for (std::size_t i = 0; i < text.size() && !broke;) {
          std::size_t end = i + 1;
          while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
          broke = loop_turn(node, Value(json(text.substr(i, end - i))));
          i = end;
        }
        break;
      }
      default:
        throw EvalError("'" + std::string(type_name(value)) + "' object is not iterable");
    }
    return broke ? Flow::kNormal : exec_else(node.else_body, node.line);
  }

  bool walk_dict(const ForNode& node, Value& dict, Method method) {
    if (dict.owned()) {
      json& owned = dict.mutable_owned();
      for (auto it = owned.begin(); it != owned.end(); ++it) {
        if (dict_turn(node, method, it.key(), Value(std::move(it.value())))) return true;
      }
      return false;
    }
    const json& value = dict.get();
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (dict_turn(node, method, it.key(), Value::borrow(it.value(), false))) return true;
    }
    return false;
  }

  bool dict_turn(const ForNode& node, Method method, const std::string& key, Value&& value) {
    if (method == Method::kKeys) return loop_turn(node, Value(json(key)));
    if (method == Method::kValues) return loop_turn(node, std::move(value));
    if (node.targets.size() == 2) {
      step(node.line);
      set_local(node.targets[0], Value(json(key)));
      set_local(node.targets[1], std::move(value));
      return exec_nested(node.body, node.line) == Flow::kBreak;
    }
    return loop_turn(node, Value(json::array({key, std::move(value).take()})));
  }

  Flow exec_else(const Body& body, int line) {
    if (body.empty()) return Flow::kNormal;
    return exec_nested(body, line);
  }

  Flow exec_while(const WhileNode& node) {
    while (truthy(eval(*node.condition).get())) {
      step(node.line);
      if (exec_nested(node.body, node.line) == Flow::kBreak) return Flow::kNormal;
    }
    return exec_else(node.else_body, node.line);
  }

  void exec_set(const SetNode& node) {
    Value value = eval(*node.value);
    if (node.augmented) {
      value = binary(*node.augmented, lookup(node.targets[0]), std::move(value), context_.max_size);
    }
    bind(node.targets, std::move(value));
  }

  Flow exec_block(const BlockNode& node) {
    auto found = blocks_->find(node.name);
    const BlockNode& chosen = found != blocks_->end() ? *found->second : node;
    Enter enter(*this, chosen.owner, node.line);
    return exec_body(chosen.body);
  }

  void exec_apply(const ApplyNode& node) {
    Callable function = find_function(node.function);
    if (!function) throw EvalError("name '" + node.function + "' is not defined");
    std::string inner;
    std::string* saved = out_;
    out_ = &inner;
    try {
      exec_nested(node.body, node.line);
    } catch (...) {
      out_ = saved;
      throw;
    }
    out_ = saved;
    Value argument(json(std::move(inner)));
    append_str(*out_, call(function, std::span<Value>(&argument, 1)).get());
  }

  Flow exec_try(const TryNode& node) {
    Flow flow = Flow::kNormal;
    bool failed = false;
    try {
      flow = exec_nested(node.body, node.line);
    } catch (const RenderLimitError&) {
      throw;
    } catch (const RenderError&) {
      if (!node.has_except) {
        exec_nested(node.finally_body, node.line);
        throw;
      }
      failed = true;
    }
    try {
      if (failed) {
        flow = exec_nested(node.except_body, node.line);
      } else if (flow == Flow::kNormal) {
        flow = exec_else(node.else_body, node.line);
      }
    } catch (const RenderLimitError&) {
      throw;
    } catch (const RenderError&) {
      exec_nested(node.finally_body, node.line);
      throw;
    }
    Flow finally_flow = exec_else(node.finally_body, node.line);
    return finally_flow != Flow::kNormal ? finally_flow : flow;
  }

  // --- variables ---

  void set_local(std::string_view name, Value&& value) {
    Value stable = std::move(value).stable();
    for (auto& local : locals_) {
      if (local.name == name) {
        local.value = std::move(stable);
        return;
      }
    }
    locals_.push_back(Local{name, std::move(stable)});
  }

  // Assigns to one name, or unpacks a list into several (Python's tuple unpacking).
  void bind(const std::vector<std::string>& targets, Value&& value) {
    if (targets.size() == 1) {
      set_local(targets[0], std::move(value));
      return;
    }
    const json& items = value.get();
    if (!items.is_array()) {
      throw EvalError("cannot unpack non-sequence " + std::string(type_name(items)));
    }
    if (items.size() != targets.size()) {
      throw EvalError(
          items.size() > targets.size()
              ? "too many values to unpack (expected " + std::to_string(targets.size()) + ")"
              : "not enough values to unpack (expected " + std::to_string(targets.size()) +
                    ", got " + std::to_string(items.size()) + ")");
    }
    // Evaluate every element before assigning, so "a, b = b, a" swaps.
    std::vector<Value> parts;
    parts.reserve(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      parts.push_back(value.owned() ? Value(std::move(value.mutable_owned()[i]))
                                    : Value::borrow(items[i], value.borrows_local()).stable());
    }
    for (std::size_t i = 0; i < targets.size(); ++i) set_local(targets[i], std::move(parts[i]));
  }

  Callable find_function(std::string_view name) const {
    if (extra_ != nullptr) {
      auto found = extra_->find(name);
      if (found != extra_->end()) return Callable{&found->second, nullptr};
    }
    auto found = functions_->find(name);
    if (found != functions_->end()) return Callable{&found->second, nullptr};
    return Callable{nullptr, find_builtin(name)};
  }

  // A name's value, if it is a local or one of the values.
  const json* find_value(std::string_view name, bool& local) const {
    for (const auto& entry : locals_) {
      if (entry.name == name) {
        local = entry.value.owned();
        return &entry.value.get();
      }
    }
    local = false;
    for (const json* names : {values_, defaults_}) {
      if (names == nullptr) continue;
      auto found = names->find(name);
      if (found != names->end()) return &*found;
    }
    return nullptr;
  }

  Value lookup(std::string_view name) const {
    bool local = false;
    if (const json* value = find_value(name, local)) return Value::borrow(*value, local);
    if (find_function(name)) {
      throw EvalError("'" + std::string(name) + "' is a function; it can only be called");
    }
    throw EvalError("name '" + std::string(name) + "' is not defined");
  }

  // --- output ---

  void write(Value&& value, bool raw) {
    const std::string& escape_name = current_->autoescape;
    if (raw || escape_name.empty()) {
      append_str(*out_, value.get());
      return;
    }
    if (escape_for_ != &escape_name) {
      escape_function_ = find_function(escape_name);
      escape_for_ = &escape_name;
    }
    if (escape_function_.builtin != nullptr && is_builtin_xhtml_escape(escape_function_.builtin)) {
      if (value->is_string()) {
        escape::xhtml_escape_to(*out_, value->get_ref<const std::string&>());
      } else {
        escape::xhtml_escape_to(*out_, to_str(value.get()));
      }
      return;
    }
    if (!escape_function_) throw EvalError("name '" + escape_name + "' is not defined");
    Value text = value->is_string() ? std::move(value) : Value(json(to_str(value.get())));
    append_str(*out_, call(escape_function_, std::span<Value>(&text, 1)).get());
  }

  // --- expressions ---

  Value call(const Callable& function, std::span<Value> args) {
    if (function.builtin != nullptr) return function.builtin(args, context_);
    std::vector<json> values;
    values.reserve(args.size());
    for (auto& arg : args) values.push_back(std::move(arg).take());
    return Value((*function.user)(std::span<const json>(values)));
  }

  std::vector<Value> eval_arguments(const Expr& expr, std::size_t first) {
    std::vector<Value> args;
    args.reserve(expr.operands.size() - first);
    for (std::size_t i = first; i < expr.operands.size(); ++i)
      args.push_back(eval(*expr.operands[i]));
    return args;
  }

  Value eval_call(const Expr& expr) {
    bool local = false;
    if (const json* value = find_value(expr.name, local)) {
      throw EvalError("'" + std::string(type_name(*value)) + "' object is not callable");
    }
    Callable function = find_function(expr.name);
    if (!function) throw EvalError("name '" + expr.name + "' is not defined");
    std::vector<Value> args = eval_arguments(expr, 0);
    return call(function, args);
  }

  static Value child(Value& parent, const json& element) {
    if (parent.owned()) return Value(std::move(const_cast<json&>(element)));
    return Value::borrow(element, parent.borrows_local());
  }

  Value eval_attribute(const Expr& expr) {
    Value target = eval(*expr.operands[0]);
    const json& value = target.get();
    if (value.is_object()) {
      auto found = value.find(expr.name);
      if (found != value.end()) return child(target, *found);
    }
    throw EvalError("'" + std::string(type_name(value)) + "' object has no attribute '" +
                    expr.name + "'");
  }

  static std::int64_t normalize_index(std::int64_t index, std::size_t size, const char* what) {
    auto length = static_cast<std::int64_t>(size);
    if (index < 0) index += length;
    if (index < 0 || index >= length) throw EvalError(std::string(what) + " index out of range");
    return index;
  }

  Value eval_index(const Expr& expr) {
    Value target = eval(*expr.operands[0]);
    Value key = eval(*expr.operands[1]);
    const json& value = target.get();
    const json& k = key.get();
    switch (value.type()) {
      case json::value_t::array: {
        auto index = normalize_index(to_integer(k, "list indices"), value.size(), "list");
        return child(target, value[static_cast<std::size_t>(index)]);
      }
      case json::value_t::object: {
        if (k.is_string()) {
          auto found = value.find(k.get_ref<const std::string&>());
          if (found != value.end()) return child(target, *found);
        }
        throw EvalError("KeyError: " +
                        (k.is_string() ? "'" + k.get<std::string>() + "'" : to_str(k)));
      }
      case json::value_t::string: {
        std::string_view text = value.get_ref<const std::string&>();
        auto index = normalize_index(to_integer(k, "string indices"), utf8_length(text), "string");
        std::size_t begin = utf8_offset(text, static_cast<std::size_t>(index));
        std::size_t end = utf8_offset(text, static_cast<std::size_t>(index) + 1);
        return Value(json(text.substr(begin, end - begin)));
      }
      default:
        throw EvalError("'" + std::string(type_name(value)) + "' object is not subscriptable");
    }
  }

  Value eval_slice(const Expr& expr) {
    Value target = eval(*expr.operands[0]);
    std::int64_t bounds[3] = {0, 0, 1};
    bool given[3] = {false, false, false};
    for (int i = 0; i < 3; ++i) {
      const auto& operand = expr.operands[static_cast<std::size_t>(i) + 1];
      if (!operand) continue;
      Value bound = eval(*operand);
      if (bound->is_null()) continue;
      bounds[i] = to_integer(bound.get(), "slice indices");
      given[i] = true;
    }
    std::int64_t step = bounds[2];
    if (step == 0) throw EvalError("slice step cannot be zero");
    const json& value = target.get();
    std::string_view text;
    std::vector<std::size_t> offsets;  // character starts of a string, and its end
    std::size_t length = 0;
    if (value.is_array()) {
      length = value.size();
    } else if (value.is_string()) {
      text = value.get_ref<const std::string&>();
      for (std::size_t i = 0; i < text.size(); ++i) {
        if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) offsets.push_back(i);
      }
      offsets.push_back(text.size());
      length = offsets.size() - 1;
    } else {
      throw EvalError("'" + std::string(type_name(value)) + "' object is not subscriptable");
    }
    // Python's slice.indices().
    auto n = static_cast<std::int64_t>(length);
    auto adjust = [&](std::int64_t index, bool is_given, std::int64_t fallback) {
      if (!is_given) return fallback;
      if (index < 0) {
        index += n;
        if (index < 0) index = step < 0 ? -1 : 0;
      } else if (index >= n) {
        index = step < 0 ? n - 1 : n;
      }
      return index;
    };
    std::int64_t start = adjust(bounds[0], given[0], step < 0 ? n - 1 : 0);
    std::int64_t stop = adjust(bounds[1], given[1], step < 0 ? -1 : n);
    if (value.is_array()) {
      json out = json::array();
      for (std::int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        out.push_back(value[static_cast<std::size_t>(i)]);
      }
      return Value(std::move(out));
    }
    std::string out;
    for (std::int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      auto index = static_cast<std::size_t>(i);
      out.append(text.substr(offsets[index], offsets[index + 1] - offsets[index]));
    }
    return Value(json(std::move(out)));
  }

  Value eval_unary(const Expr& expr) {
    Value operand = eval(*expr.operands[0]);
    auto number = to_number(operand.get());
    if (!number) {
      throw EvalError(std::string("bad operand type for unary ") +
                      (expr.kind == ExprKind::kNegate ? "-" : "+") + ": '" +
                      std::string(type_name(operand.get())) + "'");
    }
    if (number->is_float)
      return Value(json(expr.kind == ExprKind::kNegate ? -number->real : number->real));
    if (expr.kind == ExprKind::kPlus) return Value(json(number->integer));
    if (number->integer == std::numeric_limits<std::int64_t>::min())
      throw EvalError("integer overflow");
    return Value(json(-number->integer));
  }

  static bool is_same(const json& a, const json& b) {
    if (a.is_null() || b.is_null()) return a.is_null() && b.is_null();
    if (a.is_boolean() || b.is_boolean()) return a.is_boolean() && b.is_boolean() && a == b;
    return type_name(a) == type_name(b) && equal(a, b);
  }

  static bool compare(CompareOp op, const json& a, const json& b) {
    switch (op) {
      case CompareOp::kEqual:
        return equal(a, b);
      case CompareOp::kNotEqual:
        return !equal(a, b);
      case CompareOp::kIn:
        return contains(b, a);
      case CompareOp::kNotIn:
        return !contains(b, a);
      case CompareOp::kIs:
        return is_same(a, b);
      case CompareOp::kIsNot:
        return !is_same(a, b);
      default:
        return order(op, a, b);
    }
  }

  Value eval(const Expr& expr) {
    switch (expr.kind) {
      case ExprKind::kLiteral:
        return Value::borrow(expr.literal, false);
      case ExprKind::kName:
        return lookup(expr.name);
      case ExprKind::kAttribute:
        return eval_attribute(expr);
      case ExprKind::kIndex:
        return eval_index(expr);
      case ExprKind::kSlice:
        return eval_slice(expr);
      case ExprKind::kCall:
        return eval_call(expr);
      case ExprKind::kMethod: {
        Value receiver = eval(*expr.operands[0]);
        std::vector<Value> args = eval_arguments(expr, 1);
        return call_method(std::move(receiver), expr.method, expr.name, args, context_);
      }
      case ExprKind::kList: {
        check_size(expr.operands.size(), context_.max_size);
        json out = json::array();
        for (const auto& operand : expr.operands) out.push_back(eval(*operand).take());
        return Value(std::move(out));
      }
      case ExprKind::kDict: {
        json out = json::object();
        for (std::size_t i = 0; i + 1 < expr.operands.size(); i += 2) {
          Value key = eval(*expr.operands[i]);
          if (!key->is_string()) {
            throw EvalError("dict keys must be strings, not " + std::string(type_name(key.get())));
          }
          out[key->get<std::string>()] = eval(*expr.operands[i + 1]).take();
        }
        return Value(std::move(out));
      }
      case ExprKind::kNegate:
      case ExprKind::kPlus:
        return eval_unary(expr);
      case ExprKind::kNot:
        return Value(json(!truthy(eval(*expr.operands[0]).get())));
      case ExprKind::kBinary:
        return binary(expr.binary_op, eval(*expr.operands[0]), eval(*expr.operands[1]),
                      context_.max_size);
      case ExprKind::kCompare: {
        Value left = eval(*expr.operands[0]);
        for (std::size_t i = 0; i < expr.compare_ops.size(); ++i) {
          Value right = eval(*expr.operands[i + 1]);
          if (!compare(expr.compare_ops[i], left.get(), right.get())) return Value(json(false));
          left = std::move(right);
        }
        return Value(json(true));
      }
      case ExprKind::kAnd:
      case ExprKind::kOr: {
        bool stop_when = expr.kind == ExprKind::kOr;
        Value value;
        for (const auto& operand : expr.operands) {
          value = eval(*operand);
          if (truthy(value.get()) == stop_when) return value;
        }
        return value;
      }
      case ExprKind::kConditional:
        return truthy(eval(*expr.operands[1]).get()) ? eval(*expr.operands[0])
                                                     : eval(*expr.operands[2]);
    }
    return Value();
  }

  std::string* out_;
  const json* values_;
  const json* defaults_;
  const TemplateFunctions* extra_;
  const TemplateFunctions* functions_;
  const std::unordered_map<std::string_view, const BlockNode*>* blocks_;
  const TemplateImpl* current_ = nullptr;
  std::vector<Local> locals_;
  std::uint64_t steps_ = 0;
  std::uint64_t max_steps_;
  CallContext context_;
  int depth_ = 0;
  const std::string* escape_for_ = nullptr;  // the autoescape name escape_function_ resolves
  Callable escape_function_;
};

}  // namespace

void render(const TemplateImpl& self, std::string& out, const json& values,
            const TemplateFunctions* extra, const json* defaults) {
  const TemplateImpl* root = &self;
  while (root->parent != nullptr) root = root->parent;
  Renderer(out, values, extra, defaults, self).run(*root);
}

}  // namespace squall::web::detail
