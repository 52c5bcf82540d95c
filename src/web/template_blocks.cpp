// Which definition of each {% block %} a template renders with (Tornado's find_named_blocks):
// walking its ancestors from the root down, then itself, through includes, the last definition
// of a name wins.
#include <cstddef>
#include <vector>

#include "web/template_ast.hpp"

namespace squall::web::detail {
namespace {

// Bodies nested deeper than this (through includes) are refused; each template is already bounded
// to kMaxNesting levels and include chains to kMaxNesting templates.
constexpr int kMaxDepth = 4 * kMaxNesting;

// The walk gives up after this many nodes: repeated includes can multiply them.
constexpr std::size_t kMaxVisits = 1'000'000;

class BlockCollector {
 public:
  explicit BlockCollector(TemplateImpl& impl) : impl_(impl) {}

  void collect() {
    std::vector<const TemplateImpl*> ancestors;
    for (const TemplateImpl* t = &impl_; t != nullptr; t = t->parent) ancestors.push_back(t);
    for (auto it = ancestors.rbegin(); it != ancestors.rend(); ++it) visit((*it)->body, 0);
  }

 private:
  void visit(const Body& body, int depth) {
    if (depth > kMaxDepth) throw ParseError("templates nested too deeply", impl_.name, 0);
    for (const auto& node : body) {
      if (++visits_ > kMaxVisits) {
        throw ParseError("too many blocks and includes to resolve", impl_.name, node->line);
      }
      if (node->kind == NodeKind::kBlock) {
        const auto& block = static_cast<const BlockNode&>(*node);
        impl_.blocks[block.name] = &block;
      } else if (node->kind == NodeKind::kInclude) {
        const auto& include = static_cast<const IncludeNode&>(*node);
        if (include.target != nullptr) visit(include.target->body, depth + 1);
      }
      for_each_child_body(*node, [&](const Body& child) { visit(child, depth + 1); });
    }
  }

  TemplateImpl& impl_;
  std::size_t visits_ = 0;
};

}  // namespace

void collect_blocks(TemplateImpl& impl) {
  impl.blocks.clear();
  BlockCollector(impl).collect();
}

}  // namespace squall::web::detail
