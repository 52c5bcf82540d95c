#pragma once
/// \file
/// The util layer: errors, loggers, options, escaping and the JSON type.

#include "squall/util/error.hpp"    // IWYU pragma: export
#include "squall/util/escape.hpp"   // IWYU pragma: export
#include "squall/util/json.hpp"     // IWYU pragma: export
#include "squall/util/log.hpp"      // IWYU pragma: export
#include "squall/util/options.hpp"  // IWYU pragma: export
