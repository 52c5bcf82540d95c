// The per-thread small-block cache: blocks come back in LIFO order per size class, large blocks
// bypass it, and blocks freed on another thread or during its exit are not lost or reused wrongly.
#include "squall/core/detail/small_alloc.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

namespace squall::detail {
namespace {

TEST(SmallAllocTest, AFreedBlockIsTheNextOfItsClassToBeGivenOut) {
  void* first = small_allocate(40);
  small_deallocate(first, 40);  // the thread's first free may open the cache
  void* a = small_allocate(40);
  small_deallocate(a, 40);
  void* b = small_allocate(33);  // the same 48-byte class
  EXPECT_EQ(a, b);
  void* c = small_allocate(64);  // another class: not that block
  EXPECT_NE(c, b);
  small_deallocate(c, 64);
  small_deallocate(b, 33);
}

TEST(SmallAllocTest, BlocksOfAClassAreUsableToTheClassSize) {
  std::vector<void*> blocks;
  for (int i = 0; i < 100; ++i) {
    void* block = small_allocate(17);  // the 32-byte class
    std::memset(block, i, 32);         // AddressSanitizer checks the whole class size is ours
    blocks.push_back(block);
  }
  for (void* block : blocks) small_deallocate(block, 17);
}

TEST(SmallAllocTest, LargeBlocksBypassTheCache) {
  void* big = small_allocate(4096);
  std::memset(big, 0xab, 4096);
  small_deallocate(big, 4096);
  void* small = small_allocate(1024);  // the largest class
  std::memset(small, 0xcd, 1024);
  small_deallocate(small, 1024);
}

TEST(SmallAllocTest, AClassKeepsABoundedNumberOfBlocks) {
  // More frees than a class keeps: the surplus goes back to operator delete (LeakSanitizer and
  // the memory of the process tell if it did not).
  std::vector<void*> blocks;
  for (int i = 0; i < 5000; ++i) blocks.push_back(small_allocate(16));
  for (void* block : blocks) small_deallocate(block, 16);
  std::vector<void*> again;
  for (int i = 0; i < 5000; ++i) again.push_back(small_allocate(16));
  for (void* block : again) small_deallocate(block, 16);
}

TEST(SmallAllocTest, BlocksFreedOnAnotherThreadJoinThatThreadsCacheAndGoWithItsExit) {
  std::vector<void*> blocks;
  for (int i = 0; i < 64; ++i) blocks.push_back(small_allocate(200));
  std::thread other([&] {
    for (void* block : blocks) small_deallocate(block, 200);
    void* reused = small_allocate(200);  // from this thread's cache now
    EXPECT_EQ(reused, blocks.back());
    small_deallocate(reused, 200);
  });  // the thread's exit frees its cache
  other.join();
  void* mine = small_allocate(200);
  small_deallocate(mine, 200);
}

TEST(SmallAllocTest, AThreadThatOnlyFreesNeverAllocatesFromItsCacheAfterExit) {
  // A block freed by a thread-local destructor after the cache was emptied must be deleted, not
  // cached in a cache nobody empties again.
  struct FreesAtExit {
    void* block = nullptr;
    ~FreesAtExit() {
      if (block) small_deallocate(block, 48);
    }
  };
  std::thread other([] {
    thread_local FreesAtExit late;  // made first, so destroyed after the cache's releaser
    void* warm = small_allocate(48);
    small_deallocate(warm, 48);  // the cache opens, and its releaser is registered
    late.block = small_allocate(48);
  });
  other.join();
}

}  // namespace
}  // namespace squall::detail
