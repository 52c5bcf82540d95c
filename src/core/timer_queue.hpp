#pragma once
// The loop's timers: a 4-ary min-heap of 16-byte entries ordered by (deadline, insertion order),
// over a slab of callback slots kept in fixed-size chunks (growing never moves a callback). The
// heap's array is cache-line aligned and shifted so the four children of a node share one line:
// a pop costs one cache miss per level.
// Cancelling is O(1): the slot's callback is dropped and its heap entry is skipped when it reaches
// the top; when cancelled entries outnumber live ones, the heap is rebuilt without them.

#include <cstdint>
#include <memory>
#include <vector>

#include "squall/core/detail/unique_function.hpp"

namespace squall::detail {

class TimerQueue {
 public:
  struct Handle {
    std::uint32_t slot;
    std::uint32_t generation;
  };

  TimerQueue() = default;
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  /// Adds a timer due at `when` (nanoseconds on the loop's clock).
  Handle add(std::int64_t when, Callback cb);
  /// Cancels a pending timer; returns false for a stale handle.
  bool cancel(Handle handle) noexcept;
  /// The earliest pending deadline; false when no timer is pending.
  bool next_deadline(std::int64_t& when) noexcept;
  /// Takes the earliest timer due at `now` into `out`; false when none is due.
  bool pop_due(std::int64_t now, Callback& out) noexcept;
  /// Drops every timer without running it.
  void clear() noexcept;
  std::size_t size() const noexcept { return size_ - cancelled_; }
  ~TimerQueue();

 private:
  static constexpr std::uint32_t kChunkBits = 12;
  static constexpr std::uint32_t kChunkSize = 1u << kChunkBits;
  static constexpr std::uint32_t kNoSlot = UINT32_MAX;

  struct Entry {
    std::int64_t when;
    std::uint32_t sequence;
    std::uint32_t slot;
  };
  struct Slot {
    Callback callback;  // empty once cancelled
    std::uint32_t generation = 1;
    std::uint32_t next_free = kNoSlot;
  };

  static bool earlier(const Entry& a, const Entry& b) noexcept {
    if (a.when != b.when) return a.when < b.when;
    return static_cast<std::int32_t>(a.sequence - b.sequence) < 0;
  }

  Slot& slot(std::uint32_t index) noexcept {
    return chunks_[index >> kChunkBits][index & (kChunkSize - 1)];
  }
  std::uint32_t allocate_slot();
  void free_slot(std::uint32_t index) noexcept;
  Entry& at(std::size_t index) noexcept { return heap_[index + kShift]; }
  void push_entry(const Entry& entry);
  void sift_up(std::size_t index) noexcept;
  void pop_top() noexcept;
  void drop_cancelled_top() noexcept;
  void compact() noexcept;

  // Entry i lives at heap_[i + kShift]: with 64-byte lines, children 4i+1..4i+4 share a line.
  static constexpr std::size_t kShift = 3;
  static constexpr std::size_t kArity = 4;
  Entry* heap_ = nullptr;  // 64-byte aligned, capacity_ + kShift entries
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  std::vector<std::unique_ptr<Slot[]>> chunks_;
  std::uint32_t slot_count_ = 0;
  std::uint32_t free_head_ = kNoSlot;
  std::uint32_t next_sequence_ = 0;
  std::size_t cancelled_ = 0;
};

}  // namespace squall::detail
