#pragma once
/// \file
/// A per-thread cache of small blocks for Futures' shared states, coroutine frames and the
/// per-request objects of the HTTP layer: most are freed on the thread that allocated them, soon
/// after, so a free list per size class (16-byte steps up to 1 KiB) serves them without malloc.
/// Larger blocks go to operator new. A block may be freed on another thread (it then joins that
/// thread's cache, or goes back to operator delete).

#include <cstddef>
#include <cstdint>

namespace squall::detail {

/// The per-thread cache: a free list per size class. Trivially constructible and destructible, so
/// reaching it needs no guard; a releaser registered on the thread's first free empties it at
/// thread exit.
struct SmallBlockCache {
  static constexpr std::size_t kGranule = 16;
  static constexpr std::size_t kClasses = 64;  // blocks of 16 to 1024 bytes
  struct FreeBlock {
    FreeBlock* next;
  };
  FreeBlock* head[kClasses];
  std::uint32_t count[kClasses];
  std::uint32_t limit[kClasses];  // blocks kept per class; 0 until the releaser is registered
};
extern constinit thread_local SmallBlockCache tls_small_blocks;

/// The rare cases, out of line: an empty class, a large block, the thread's first free.
void* small_allocate_slow(std::size_t size);
void small_deallocate_slow(void* block, std::size_t size) noexcept;

/// A block of at least `size` bytes (not zero): from the cache when it has one of its class.
inline void* small_allocate(std::size_t size) {
  const std::size_t c = (size - 1) / SmallBlockCache::kGranule;
  SmallBlockCache& cache = tls_small_blocks;
  if (c < SmallBlockCache::kClasses) [[likely]] {
    if (SmallBlockCache::FreeBlock* block = cache.head[c]) [[likely]] {
      cache.head[c] = block->next;
      --cache.count[c];
      return block;
    }
  }
  return small_allocate_slow(size);
}

/// Frees a block from small_allocate of the same `size`, into the cache while its class has room.
inline void small_deallocate(void* block, std::size_t size) noexcept {
  const std::size_t c = (size - 1) / SmallBlockCache::kGranule;
  SmallBlockCache& cache = tls_small_blocks;
  if (c < SmallBlockCache::kClasses && cache.count[c] < cache.limit[c]) [[likely]] {
    auto* free_block = static_cast<SmallBlockCache::FreeBlock*>(block);
    free_block->next = cache.head[c];
    cache.head[c] = free_block;
    ++cache.count[c];
    return;
  }
  small_deallocate_slow(block, size);
}

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
