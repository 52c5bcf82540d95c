#pragma once
/// \file
/// Everything squall offers, layer by layer.

#include "squall/core.hpp"  // IWYU pragma: export
#include "squall/http.hpp"  // IWYU pragma: export
#include "squall/net.hpp"   // IWYU pragma: export
#include "squall/util.hpp"  // IWYU pragma: export
