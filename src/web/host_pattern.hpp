#pragma once
// Host patterns of Application, compiled by routing.cpp with the same PCRE2 rules as paths.

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include <memory>
#include <string>
#include <string_view>

namespace squall::web::detail {

/// Compiles `pattern` anchored at both ends, without regard to case. Throws ValueError.
std::shared_ptr<pcre2_code> compile_host_pattern(const std::string& pattern);

/// Whether `subject` matches the whole of `code`.
bool matches(const pcre2_code* code, std::string_view subject);

}  // namespace squall::web::detail
