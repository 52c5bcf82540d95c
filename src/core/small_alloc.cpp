#include "squall/core/detail/small_alloc.hpp"

#include <new>

namespace squall::detail {

constinit thread_local SmallBlockCache tls_small_blocks{};

namespace {

constexpr std::size_t kGranule = SmallBlockCache::kGranule;
constexpr std::size_t kClasses = SmallBlockCache::kClasses;
constexpr std::uint32_t kMaxCached = 1024;  // blocks kept per class and thread (up to 512 bytes)
constexpr std::uint32_t kMaxCachedLarge = 256;  // and above: at most ~4 MiB cached in all

constexpr std::uint32_t max_cached(std::size_t c) {
  return c < 32 ? kMaxCached : kMaxCachedLarge;
}

// Empties the cache at thread exit, and sets the limits to zero: frees after that (from other
// thread-local destructors) go straight to operator delete.
struct CacheReleaser {
  ~CacheReleaser() {
    SmallBlockCache& cache = tls_small_blocks;
    for (std::size_t c = 0; c < kClasses; ++c) {
      cache.limit[c] = 0;
      while (SmallBlockCache::FreeBlock* block = cache.head[c]) {
        cache.head[c] = block->next;
        ::operator delete(block);
      }
      cache.count[c] = 0;
    }
    released = true;
  }
  static thread_local bool released;
};
thread_local bool CacheReleaser::released = false;

// Registers the releaser on the thread's first free, which opens the cache (its limits).
void open_cache() {
  static thread_local CacheReleaser releaser;
  static_cast<void>(releaser);
  SmallBlockCache& cache = tls_small_blocks;
  for (std::size_t c = 0; c < kClasses; ++c) cache.limit[c] = max_cached(c);
}

}  // namespace

void* small_allocate_slow(std::size_t size) {
  const std::size_t c = (size - 1) / kGranule;
  if (c >= kClasses) return ::operator new(size);
  return ::operator new((c + 1) * kGranule);  // the class's full size: blocks are interchangeable
}

void small_deallocate_slow(void* block, std::size_t size) noexcept {
  const std::size_t c = (size - 1) / kGranule;
  SmallBlockCache& cache = tls_small_blocks;
  if (c >= kClasses || CacheReleaser::released || cache.limit[c] != 0) {
    ::operator delete(block);  // too large, the thread is exiting, or the class is full
    return;
  }
  open_cache();  // the thread's first free
  auto* free_block = static_cast<SmallBlockCache::FreeBlock*>(block);
  free_block->next = cache.head[c];
  cache.head[c] = free_block;
  ++cache.count[c];
}

}  // namespace squall::detail
