#pragma once
/// \file
/// `squall::source_location`: `std::source_location` where the standard library provides it,
/// otherwise the same interface on the compiler's builtins (clang 14 with libstdc++ 12, which
/// the fuzz targets build with, lacks it).

#include <version>

#if defined(__cpp_lib_source_location)
#include <source_location>

namespace squall {
using source_location = std::source_location;
}  // namespace squall

#else

namespace squall {

/// Where a call was made: file, function and line (column unknown).
class source_location {
 public:
  static constexpr source_location current(const char* file = __builtin_FILE(),
                                           const char* function = __builtin_FUNCTION(),
                                           unsigned line = __builtin_LINE()) noexcept {
    source_location where;
    where.file_ = file;
    where.function_ = function;
    where.line_ = line;
    return where;
  }
  constexpr const char* file_name() const noexcept { return file_; }
  constexpr const char* function_name() const noexcept { return function_; }
  constexpr unsigned line() const noexcept { return line_; }
  constexpr unsigned column() const noexcept { return 0; }

 private:
  const char* file_ = "";
  const char* function_ = "";
  unsigned line_ = 0;
};

}  // namespace squall

#endif
