#include "squall/util/error.hpp"

#include <system_error>

namespace squall {

namespace {
// Appends rather than chains operator+, which GCC 12 flags with a false -Wrestrict.
std::string os_error_message(int code, const std::string& what) {
  std::string message = what;
  message += ": ";
  message += std::generic_category().message(code);
  return message;
}
}  // namespace

OSError::OSError(int code, const std::string& what)
    : Error(os_error_message(code, what)), code_(code) {}

}  // namespace squall
