#include "core/timer_queue.hpp"

#include <algorithm>
#include <cstring>
#include <new>

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

TimerQueue::~TimerQueue() {
  clear();
  ::operator delete (heap_, std::align_val_t{64});
}

void TimerQueue::push_entry(const Entry& entry) {
  if (size_ == capacity_) {
    std::size_t capacity = capacity_ ? capacity_ * 2 : 256;
    auto* fresh = static_cast<Entry*>(
        ::operator new ((capacity + kShift) * sizeof(Entry), std::align_val_t{64}));
    if (size_) std::memcpy(fresh + kShift, heap_ + kShift, size_ * sizeof(Entry));
    ::operator delete (heap_, std::align_val_t{64});
    heap_ = fresh;
    capacity_ = capacity;
  }
  at(size_++) = entry;
  sift_up(size_ - 1);
}

TimerQueue::Handle TimerQueue::add(std::int64_t when, Callback cb) {
  std::uint32_t index = allocate_slot();
  Slot& s = slot(index);
  push_entry(Entry{when, next_sequence_, index});
  ++next_sequence_;
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

void TimerQueue::sift_up(std::size_t index) noexcept {
  Entry moving = at(index);
  while (index > 0) {
    std::size_t parent = (index - 1) / kArity;
    if (!earlier(moving, at(parent))) break;
    at(index) = at(parent);
    index = parent;
  }
  at(index) = moving;
}

void TimerQueue::pop_top() noexcept {
  const Entry last = at(--size_);
  const std::size_t n = size_;
  if (n == 0) return;
  std::size_t index = 0;
  for (;;) {
    std::size_t child = index * kArity + 1;
    if (child >= n) break;
    std::size_t best = child;
    std::size_t end = std::min(child + kArity, n);
    for (std::size_t c = child + 1; c < end; ++c) {
      if (earlier(at(c), at(best))) best = c;
    }
    if (!earlier(at(best), last)) break;
    at(index) = at(best);
    index = best;
  }
  at(index) = last;
}

void TimerQueue::drop_cancelled_top() noexcept {
  if (cancelled_ == 0) return;  // the common case: no slot lookup
  while (size_ > 0 && !slot(at(0).slot).callback) {
    free_slot(at(0).slot);
    pop_top();
    --cancelled_;
  }
}

bool TimerQueue::next_deadline(std::int64_t& when) noexcept {
  drop_cancelled_top();
  if (size_ == 0) return false;
  when = at(0).when;
  return true;
}

bool TimerQueue::pop_due(std::int64_t now, Callback& out) noexcept {
  drop_cancelled_top();
  if (size_ == 0 || at(0).when > now) return false;
  std::uint32_t index = at(0).slot;
  out = std::move(slot(index).callback);
  free_slot(index);
  pop_top();
  // The next timer's slot is a cache miss away; overlap it with running this one.
  if (size_ > 0) __builtin_prefetch(&slot(at(0).slot));
  return true;
}

void TimerQueue::compact() noexcept {
  Entry* begin = heap_ + kShift;
  Entry* live_end = std::partition(begin, begin + size_,
                                   [this](const Entry& e) { return bool(slot(e.slot).callback); });
  for (Entry* it = live_end; it != begin + size_; ++it) free_slot(it->slot);
  size_ = static_cast<std::size_t>(live_end - begin);
  cancelled_ = 0;
  for (std::size_t i = 1; i < size_; ++i) sift_up(i);
}

void TimerQueue::clear() noexcept {
  // Dropping a callback may drop Futures whose destruction schedules more work (refused while the
  // loop closes); empty the heap first so nothing sees a half-cleared queue.
  std::size_t n = std::exchange(size_, 0);
  cancelled_ = 0;
  for (std::size_t i = 0; i < n; ++i) free_slot(heap_[i + kShift].slot);
}

}  // namespace squall::detail
