#include "core/timer_queue.hpp"

#include <algorithm>
#include <bit>

namespace squall::detail {

std::uint32_t TimerQueue::allocate_slot() {
  if (free_head_ != kNoSlot) {
    std::uint32_t index = free_head_;
    free_head_ = slot(index).next_free;
    return index;
  }
  if ((slot_count_ & (kChunkSize - 1)) == 0) {
    chunks_.push_back(std::make_unique<Slot[]>(kChunkSize));
  }
  return slot_count_++;
}

void TimerQueue::free_slot(std::uint32_t index) noexcept {
  Slot& s = slot(index);
  s.callback.reset();
  if (++s.generation == 0) s.generation = 1;  // 0 marks an empty handle
  s.next_free = free_head_;
  free_head_ = index;
}

void TimerQueue::place(const Entry& e) {
  std::uint64_t tick = tick_of(e.when);
  if (tick <= current_tick_) {
    late_.push_back(e);
    std::push_heap(late_.begin(), late_.end(), later);
    return;
  }
  int level = (63 - std::countl_zero(tick ^ current_tick_)) / kDigitBits;
  auto index = static_cast<std::size_t>((tick >> (level * kDigitBits)) & (kSlots - 1));
  Level& l = levels_[level];
  std::uint64_t bit = std::uint64_t{1} << index;
  if (!(l.occupied & bit)) l.earliest[index] = e.when;
  l.slots[index].push_back(e);
  l.occupied |= bit;
  l.earliest[index] = std::min(l.earliest[index], e.when);
}

TimerQueue::Handle TimerQueue::add(std::int64_t when, Callback&& cb) {
  std::uint32_t index = allocate_slot();
  Slot& s = slot(index);
  try {
    place(Entry{when, next_sequence_, index});
  } catch (...) {
    free_slot(index);
    throw;
  }
  ++next_sequence_;
  ++size_;
  s.callback = std::move(cb);
  return Handle{index, s.generation};
}

bool TimerQueue::cancel(Handle handle) noexcept {
  if (handle.slot >= slot_count_) return false;
  Slot& s = slot(handle.slot);
  if (s.generation != handle.generation || !s.callback) return false;
  s.callback.reset();
  ++cancelled_;
  if (cancelled_ > 512 && cancelled_ > size_ / 2) compact();
  return true;
}

int TimerQueue::earliest_slot(std::size_t& index) const noexcept {
  for (int level = 0; level < kLevels; ++level) {
    if (std::uint64_t occupied = levels_[level].occupied) {
      index = static_cast<std::size_t>(std::countr_zero(occupied));
      return level;
    }
  }
  return kLevels;
}

bool TimerQueue::pull_started(std::uint64_t now_tick) {
  std::size_t index = 0;
  int level = earliest_slot(index);
  if (level == kLevels) return false;
  // The slot's first tick: the current tick's higher digits, digit `level` = index, lower digits
  // zero. Every pending tick is at or after it.
  const int shift = level * kDigitBits;
  std::uint64_t high_mask =
      shift + kDigitBits >= 64 ? 0 : ~std::uint64_t{0} << (shift + kDigitBits);
  std::uint64_t first_tick = (current_tick_ & high_mask) | (std::uint64_t{index} << shift);
  if (first_tick > now_tick) return false;
  Level& l = levels_[level];
  l.occupied &= ~(std::uint64_t{1} << index);
  current_tick_ = first_tick;
  std::vector<Entry>& entries = l.slots[index];
  if (level == 0) {
    // One tick: sorted once, then read in order. The spent run's storage goes to the slot.
    run_.clear();
    run_.swap(entries);
    run_next_ = 0;
    std::sort(run_.begin(), run_.end(), earlier);
  } else {
    std::vector<Entry> spread;
    spread.swap(entries);
    for (const Entry& e : spread) {
      if (is_cancelled(e)) {
        free_slot(e.slot);
        --size_;
        --cancelled_;
      } else {
        place(e);
      }
    }
  }
  return true;
}

const TimerQueue::Entry* TimerQueue::near_front() const noexcept {
  const Entry* sorted = run_next_ < run_.size() ? &run_[run_next_] : nullptr;
  const Entry* heap = late_.empty() ? nullptr : &late_.front();
  if (!sorted) return heap;
  if (!heap) return sorted;
  return earlier(*heap, *sorted) ? heap : sorted;
}

void TimerQueue::pop_near() noexcept {
  const Entry* front = near_front();
  if (!late_.empty() && front == &late_.front()) {
    std::pop_heap(late_.begin(), late_.end(), later);
    late_.pop_back();
  } else {
    ++run_next_;
  }
  --size_;
}

void TimerQueue::drop_cancelled_front() noexcept {
  if (cancelled_ == 0) return;  // the common case: no slot lookup
  while (const Entry* front = near_front()) {
    if (!is_cancelled(*front)) return;
    free_slot(front->slot);
    pop_near();
    --cancelled_;
  }
}

bool TimerQueue::next_deadline(std::int64_t& when) noexcept {
  if (size() == 0) return false;
  drop_cancelled_front();
  if (const Entry* front = near_front()) {
    when = front->when;  // near entries precede every wheel entry
    return true;
  }
  std::size_t index = 0;
  int level = earliest_slot(index);
  if (level == kLevels) return false;
  when = levels_[level].earliest[index];
  return true;
}

bool TimerQueue::pop_due(std::int64_t now, Callback& out) noexcept {
  observe(now);
  for (;;) {
    drop_cancelled_front();
    if (const Entry* front = near_front()) {
      if (front->when > now) return false;
      std::uint32_t index = front->slot;
      pop_near();
      out = std::move(slot(index).callback);
      free_slot(index);
      // The next timer's slot is a cache miss away; overlap it with running this one.
      if (const Entry* next = near_front()) __builtin_prefetch(&slot(next->slot));
      return true;
    }
    try {
      if (!pull_started(now_tick_)) return false;
    } catch (const std::bad_alloc&) {
      return false;  // no memory to spread a slot now; the loop polls again soon
    }
  }
}

void TimerQueue::compact() noexcept {
  auto filter = [this](std::vector<Entry>& entries) {
    auto live_end = std::partition(entries.begin(), entries.end(),
                                   [this](const Entry& e) { return !is_cancelled(e); });
    for (auto it = live_end; it != entries.end(); ++it) free_slot(it->slot);
    size_ -= static_cast<std::size_t>(entries.end() - live_end);
    entries.erase(live_end, entries.end());
  };
  run_.erase(run_.begin(), run_.begin() + static_cast<std::ptrdiff_t>(run_next_));
  run_next_ = 0;
  filter(run_);
  std::stable_sort(run_.begin(), run_.end(), earlier);  // partition broke the order
  filter(late_);
  std::make_heap(late_.begin(), late_.end(), later);
  for (int level = 0; level < kLevels; ++level) {
    Level& l = levels_[level];
    for (std::uint64_t bits = l.occupied; bits != 0; bits &= bits - 1) {
      auto index = static_cast<std::size_t>(std::countr_zero(bits));
      std::vector<Entry>& entries = l.slots[index];
      filter(entries);
      if (entries.empty()) {
        l.occupied &= ~(std::uint64_t{1} << index);
      } else {
        l.earliest[index] = std::min_element(entries.begin(), entries.end(), earlier)->when;
      }
    }
  }
  cancelled_ = 0;
}

void TimerQueue::clear() noexcept {
  // Dropping a callback may drop Futures whose destruction schedules more work (refused while the
  // loop closes); take every entry out first so nothing sees a half-cleared queue.
  std::vector<std::vector<Entry>> taken;
  taken.reserve(2 + kLevels * kSlots);
  run_.erase(run_.begin(), run_.begin() + static_cast<std::ptrdiff_t>(run_next_));
  run_next_ = 0;
  taken.push_back(std::move(run_));
  run_.clear();
  taken.push_back(std::move(late_));
  late_.clear();
  for (int level = 0; level < kLevels; ++level) {
    Level& l = levels_[level];
    for (std::uint64_t bits = l.occupied; bits != 0; bits &= bits - 1) {
      taken.push_back(std::move(l.slots[static_cast<std::size_t>(std::countr_zero(bits))]));
    }
    for (auto& entries : l.slots) entries.clear();
    l.occupied = 0;
  }
  size_ = 0;
  cancelled_ = 0;
  for (auto& entries : taken) {
    for (const Entry& e : entries) free_slot(e.slot);
  }
}

}  // namespace squall::detail
