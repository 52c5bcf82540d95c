#pragma once
// The named character references of HTML 4, for xhtml_unescape.

#include <cstdint>
#include <optional>
#include <string_view>

namespace squall::escape {

/// The code point of the HTML 4 entity `name` ("amp", "eacute"; case-sensitive), or nullopt.
std::optional<std::uint32_t> html_entity_code_point(std::string_view name);

}  // namespace squall::escape
