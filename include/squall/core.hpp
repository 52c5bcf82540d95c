#pragma once
/// \file
/// The async core: Future and coroutines, IOLoop, gen helpers, the thread pool, locks, queues.

#include "squall/core/concurrent.hpp"  // IWYU pragma: export
#include "squall/core/executor.hpp"    // IWYU pragma: export
#include "squall/core/gen.hpp"         // IWYU pragma: export
#include "squall/core/ioloop.hpp"      // IWYU pragma: export
#include "squall/core/locks.hpp"       // IWYU pragma: export
#include "squall/core/queues.hpp"      // IWYU pragma: export
#include "squall/util.hpp"             // IWYU pragma: export
