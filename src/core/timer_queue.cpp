#include "core/timer_queue.hpp"

#include <algorithm>

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

TimerQueue::Handle TimerQueue::add(std::int64_t when, Callback cb) {
  std::uint32_t index = allocate_slot();
  Slot& s = slot(index);
  s.callback = std::move(cb);
  heap_.push_back(Entry{when, next_sequence_++, index});
  sift_up(heap_.size() - 1);
  return Handle{index, s.generation};
}

bool TimerQueue::cancel(Handle handle) noexcept {
  if (handle.slot >= slot_count_) return false;
  Slot& s = slot(handle.slot);
  if (s.generation != handle.generation || !s.callback) return false;
  s.callback.reset();
  ++cancelled_;
  if (cancelled_ > 512 && cancelled_ > heap_.size() / 2) compact();
  return true;
}

void TimerQueue::sift_up(std::size_t index) noexcept {
  Entry moving = heap_[index];
  while (index > 0) {
    std::size_t parent = (index - 1) / 4;
    if (!earlier(moving, heap_[parent])) break;
    heap_[index] = heap_[parent];
    index = parent;
  }
  heap_[index] = moving;
}

void TimerQueue::pop_top() noexcept {
  Entry last = heap_.back();
  heap_.pop_back();
  const std::size_t n = heap_.size();
  if (n == 0) return;
  std::size_t index = 0;
  for (;;) {
    std::size_t child = index * 4 + 1;
    if (child >= n) break;
    std::size_t best = child;
    std::size_t end = std::min(child + 4, n);
    for (std::size_t c = child + 1; c < end; ++c) {
      if (earlier(heap_[c], heap_[best])) best = c;
    }
    if (!earlier(heap_[best], last)) break;
    heap_[index] = heap_[best];
    index = best;
  }
  heap_[index] = last;
}

void TimerQueue::drop_cancelled_top() noexcept {
  while (!heap_.empty() && !slot(heap_.front().slot).callback) {
    free_slot(heap_.front().slot);
    pop_top();
    --cancelled_;
  }
}

bool TimerQueue::next_deadline(std::int64_t& when) noexcept {
  drop_cancelled_top();
  if (heap_.empty()) return false;
  when = heap_.front().when;
  return true;
}

bool TimerQueue::pop_due(std::int64_t now, Callback& out) noexcept {
  drop_cancelled_top();
  if (heap_.empty() || heap_.front().when > now) return false;
  std::uint32_t index = heap_.front().slot;
  out = std::move(slot(index).callback);
  free_slot(index);
  pop_top();
  return true;
}

void TimerQueue::compact() noexcept {
  auto live_end = std::partition(heap_.begin(), heap_.end(),
                                 [this](const Entry& e) { return bool(slot(e.slot).callback); });
  for (auto it = live_end; it != heap_.end(); ++it) free_slot(it->slot);
  heap_.erase(live_end, heap_.end());
  cancelled_ = 0;
  for (std::size_t i = 1; i < heap_.size(); ++i) sift_up(i);
}

void TimerQueue::clear() noexcept {
  // Callbacks may drop Futures whose destruction schedules more work; take them out first.
  std::vector<Entry> entries;
  entries.swap(heap_);
  cancelled_ = 0;
  for (const Entry& e : entries) free_slot(e.slot);
}

}  // namespace squall::detail
