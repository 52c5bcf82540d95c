#pragma once
/// \file
/// The util layer: errors and loggers.

#include "squall/util/error.hpp"  // IWYU pragma: export
#include "squall/util/log.hpp"    // IWYU pragma: export
