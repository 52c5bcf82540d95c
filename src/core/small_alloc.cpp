#include "squall/core/detail/small_alloc.hpp"

#include <cstdint>
#include <new>

namespace squall::detail {
namespace {

constexpr std::size_t kGranule = 16;
constexpr std::size_t kClasses = 64;        // blocks of 16 to 1024 bytes
constexpr std::uint32_t kMaxCached = 1024;  // blocks kept per class and thread (up to 512 bytes)
constexpr std::uint32_t kMaxCachedLarge = 256;  // and above: at most ~4 MiB cached in all

constexpr std::uint32_t max_cached(std::size_t c) {
  return c < 32 ? kMaxCached : kMaxCachedLarge;
}

struct FreeBlock {
  FreeBlock* next;
};

// Trivially constructible and destructible, so the hot path needs no TLS init guard; the
// releaser below empties it at thread exit.
struct Cache {
  FreeBlock* head[kClasses];
  std::uint32_t count[kClasses];
  bool releaser_registered;
  bool released;  // the thread is exiting: free straight away
};
constinit thread_local Cache tls_cache{};

struct CacheReleaser {
  ~CacheReleaser() {
    for (std::size_t c = 0; c < kClasses; ++c) {
      while (FreeBlock* block = tls_cache.head[c]) {
        tls_cache.head[c] = block->next;
        ::operator delete(block);
      }
      tls_cache.count[c] = 0;
    }
    tls_cache.released = true;
    tls_cache.releaser_registered = false;
  }
};

void register_releaser() {
  static thread_local CacheReleaser releaser;
  static_cast<void>(releaser);
  tls_cache.releaser_registered = true;
}

}  // namespace

void* small_allocate(std::size_t size) {
  std::size_t c = (size - 1) / kGranule;
  if (c >= kClasses) return ::operator new(size);
  if (FreeBlock* block = tls_cache.head[c]) {
    tls_cache.head[c] = block->next;
    --tls_cache.count[c];
    return block;
  }
  return ::operator new((c + 1) * kGranule);  // the class's full size: blocks are interchangeable
}

namespace {

// The rare cases of small_deallocate, out of line so that its common path saves no registers:
// a block too large for the cache, a full class, the thread's first free (which registers the
// releaser) and frees during thread exit.
[[gnu::noinline, gnu::cold]] void deallocate_slow(void* block, std::size_t c) noexcept {
  if (c >= kClasses || tls_cache.released || tls_cache.count[c] >= max_cached(c)) {
    ::operator delete(block);
    return;
  }
  register_releaser();
  auto* free_block = static_cast<FreeBlock*>(block);
  free_block->next = tls_cache.head[c];
  tls_cache.head[c] = free_block;
  ++tls_cache.count[c];
}

}  // namespace

void small_deallocate(void* block, std::size_t size) noexcept {
  const std::size_t c = (size - 1) / kGranule;
  // (`releaser_registered` is false again once the thread exits, so frees then take the slow
  // path, which deletes.)
  if (c < kClasses && tls_cache.releaser_registered && tls_cache.count[c] < max_cached(c))
      [[likely]] {
    auto* free_block = static_cast<FreeBlock*>(block);
    free_block->next = tls_cache.head[c];
    tls_cache.head[c] = free_block;
    ++tls_cache.count[c];
    return;
  }
  deallocate_slow(block, c);
}

}  // namespace squall::detail
