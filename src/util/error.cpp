#include "squall/util/error.hpp"

#include <system_error>

namespace squall {

OSError::OSError(int code, const std::string& what)
    : Error(what + ": " + std::generic_category().message(code)), code_(code) {}

}  // namespace squall
