#pragma once
/// \file
/// A per-thread cache of small blocks for Futures' shared states, coroutine frames and the
/// per-request objects of the HTTP layer: most are freed on the thread that allocated them, soon
/// after, so a free list per size class (16-byte steps up to 1 KiB) serves them without malloc.
/// Larger blocks go to operator new. A block may be freed on another thread (it then joins that
/// thread's cache, or goes back to operator delete).

#include <cstddef>

namespace squall::detail {

void* small_allocate(std::size_t size);
void small_deallocate(void* block, std::size_t size) noexcept;

/// A standard allocator over the cache, for `std::allocate_shared` of per-request objects.
template <class T>
struct SmallAllocator {
  using value_type = T;
  SmallAllocator() noexcept = default;
  template <class U>
  SmallAllocator(const SmallAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(small_allocate(n * sizeof(T))); }
  void deallocate(T* block, std::size_t n) noexcept { small_deallocate(block, n * sizeof(T)); }
  template <class U>
  friend bool operator==(const SmallAllocator&, const SmallAllocator<U>&) noexcept {
    return true;
  }
};

/// Gives a class allocated per request `new`/`delete` through the cache.
struct SmallAllocated {
  static void* operator new(std::size_t size) { return small_allocate(size); }
  static void operator delete(void* block, std::size_t size) noexcept {
    small_deallocate(block, size);
  }
};

}  // namespace squall::detail
