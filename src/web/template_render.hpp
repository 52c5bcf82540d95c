#pragma once
// Generating a parsed template: walks the node tree, evaluates expressions and appends the output.

#include <string>

#include "web/template_ast.hpp"

namespace squall::web::detail {

// A limit of TemplateSettings (max_steps, max_size) was passed, or rendering nested too deeply.
// {% try %} does not catch it.
class RenderLimitError final : public RenderError {
 public:
  using RenderError::RenderError;
};

// Appends the output of `self` (rendered from its root ancestor, with self's blocks) to `out`.
// Names resolve in `values`, then `defaults` (may be null). Throws RenderError.
void render(const TemplateImpl& self, std::string& out, const json& values,
            const TemplateFunctions* extra, const json* defaults);

}  // namespace squall::web::detail
