#pragma once
/// \file
/// A per-thread cache of small blocks for Futures' shared states and coroutine frames: most are
/// freed on the thread that allocated them, soon after, so a free list per size class (16-byte
/// steps up to 512 bytes) serves them without malloc. Larger blocks go to operator new.

#include <cstddef>

namespace squall::detail {

void* small_allocate(std::size_t size);
void small_deallocate(void* block, std::size_t size) noexcept;

}  // namespace squall::detail
