#pragma once
// The loop's timers, kept in exact (deadline, insertion order) order with O(1) insertion and
// cancellation, and pops that stay in cache however many timers are pending.
//
// Deadlines are grouped into ticks of 2^20 ns (about 1 ms). Pending ticks live in a hierarchical
// timing wheel in radix form: a timer whose tick differs from the current tick first in base-64
// digit L sits in level L, slot = that digit. The earliest timers are always in the lowest
// non-empty level's lowest occupied slot; when the near timers run out, that slot is pulled: at
// level 0 it holds one tick, which is sorted once and then read in order; at a higher level its
// timers are spread over the lower levels from the slot's first tick. Timers added for the
// current tick or earlier go to a small binary heap beside the sorted run; the earlier of the
// two fronts is next. The current tick never passes the real one: a slot is pulled only once
// its first tick has come, and until then each slot's earliest deadline (a lower bound after
// cancellations) answers next_deadline, so timers added later still land in the wheel. Callbacks
// live in a slab of slots (fixed-size chunks, so growing never moves one); the wheel and the heap
// hold 16-byte entries. Cancelling drops the slot's callback; its entry is skipped when reached,
// and when cancelled entries outnumber live ones, everything is filtered once.

#include <algorithm>
#include <array>
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
  ~TimerQueue() { clear(); }

  /// Adds a timer due at `when` (nanoseconds on the loop's clock).
  Handle add(std::int64_t when, Callback&& cb);
  /// Tells the queue the time; with nothing pending, the wheel moves there, so the timers added
  /// next are filed in its low levels.
  void observe(std::int64_t now) noexcept {
    now_tick_ = std::max(now_tick_, tick_of(now));
    if (size_ == 0) current_tick_ = std::max(current_tick_, now_tick_);
  }
  bool empty() const noexcept { return size_ == 0; }
  /// Cancels a pending timer; returns false for a stale handle.
  bool cancel(Handle handle) noexcept;
  /// When to look again: the earliest pending deadline, or a lower bound of it (never later);
  /// false when no timer is pending.
  bool next_deadline(std::int64_t& when) noexcept;
  /// Takes the earliest timer due at `now` into `out`; false when none is due.
  bool pop_due(std::int64_t now, Callback& out) noexcept;
  /// Drops every timer without running it.
  void clear() noexcept;
  std::size_t size() const noexcept { return size_ - cancelled_; }

 private:
  static constexpr std::uint32_t kChunkBits = 12;
  static constexpr std::uint32_t kChunkSize = 1u << kChunkBits;
  static constexpr std::uint32_t kNoSlot = UINT32_MAX;
  static constexpr int kTickShift = 20;  // a tick is 2^20 ns, about 1 ms
  static constexpr int kDigitBits = 6;   // 64 slots a level
  static constexpr int kLevels = 8;      // 48 bits of ticks: every int64 deadline fits
  static constexpr std::size_t kSlots = std::size_t{1} << kDigitBits;

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
  struct Level {
    std::uint64_t occupied = 0;  // bit s: slots[s] holds entries
    std::array<std::vector<Entry>, kSlots> slots;
    std::array<std::int64_t, kSlots> earliest;  // per slot: no entry is due before this
  };

  static bool earlier(const Entry& a, const Entry& b) noexcept {
    if (a.when != b.when) return a.when < b.when;
    return static_cast<std::int32_t>(a.sequence - b.sequence) < 0;
  }
  /// The std::*_heap comparator for a min-heap.
  static bool later(const Entry& a, const Entry& b) noexcept { return earlier(b, a); }
  static std::uint64_t tick_of(std::int64_t when) noexcept {
    return when <= 0 ? 0 : static_cast<std::uint64_t>(when) >> kTickShift;
  }

  Slot& slot(std::uint32_t index) noexcept {
    return chunks_[index >> kChunkBits][index & (kChunkSize - 1)];
  }
  bool is_cancelled(const Entry& e) noexcept { return !slot(e.slot).callback; }
  std::uint32_t allocate_slot();
  void free_slot(std::uint32_t index) noexcept;
  /// Files an entry by its tick: the near heap, or a wheel slot.
  void place(const Entry& e);
  /// The earliest near entry (sorted run or late heap), or nullptr when both are empty.
  const Entry* near_front() const noexcept;
  /// Removes the entry near_front() gave.
  void pop_near() noexcept;
  /// Drops cancelled entries from the near front.
  void drop_cancelled_front() noexcept;
  /// The lowest level holding entries, or kLevels; `index` gets its lowest occupied slot.
  int earliest_slot(std::size_t& index) const noexcept;
  /// Pulls the earliest wheel slot if its first tick is at or before `now_tick`; false if not.
  bool pull_started(std::uint64_t now_tick);
  void compact() noexcept;

  std::vector<Entry> run_;  // the pulled tick, sorted; entries before run_next_ are done
  std::size_t run_next_ = 0;
  std::vector<Entry> late_;  // min-heap (std::push_heap with `later`): added at or before
                             // the current tick
  std::unique_ptr<Level[]> levels_ = std::make_unique<Level[]>(kLevels);
  std::uint64_t current_tick_ = 0;  // never after the latest `now` seen
  std::uint64_t now_tick_ = 0;      // the tick of the latest `now` given to pop_due
  std::vector<std::unique_ptr<Slot[]>> chunks_;
  std::uint32_t slot_count_ = 0;
  std::uint32_t free_head_ = kNoSlot;
  std::uint32_t next_sequence_ = 0;
  std::size_t size_ = 0;  // entries held, cancelled ones included
  std::size_t cancelled_ = 0;
};

}  // namespace squall::detail
