#pragma once
/// \file
/// Synchronization primitives for coroutines (Tornado's `locks`): `Event`, `Condition`,
/// `Semaphore`, `BoundedSemaphore` and `Lock`.
///
/// Contract shared by every primitive here:
/// - They are single-threaded, like the loop: use them on the thread of the loop that runs the
///   coroutines waiting on them.
/// - Waiters are served in the order they started waiting. A wait takes an optional timeout (a
///   delay or a point on the loop's clock); a waiter whose timeout passed, or whose Future was
///   cancelled, is skipped and never consumes a notification, a release or an item.
/// - As with every Future, a waiter is woken on the loop's next iteration, never inside the call
///   that wakes it.
/// - Destroying a primitive cancels the Futures of its pending waiters: a coroutine awaiting one
///   gets CancelledError. Timers and callbacks never refer to the primitive itself, so they are
///   safe to outlive it.

#include <algorithm>
#include <cstddef>
#include <deque>
#include <optional>
#include <utility>

#include "squall/core/concurrent.hpp"
#include "squall/core/ioloop.hpp"

namespace squall {

namespace detail {

/// At `deadline`, fails `waiter` with TimeoutError unless it is done by then. The timer lives on
/// the current loop and is removed once `waiter` is done; it holds a reference to `waiter`'s
/// state, nothing else.
void fail_at(FutureStateBase& waiter, Deadline deadline);

/// `fail_at` when a timeout is given.
template <class T>
void set_timeout(const Future<T>& waiter, const std::optional<Deadline>& timeout) {
  if (timeout) fail_at(*FutureAccess::state(waiter), *timeout);
}

/// The Future of a waiter entry; entries of other types provide their own overload, found by ADL.
template <class T>
const Future<T>& waiter_future(const Future<T>& waiter) noexcept {
  return waiter;
}

/// The waiters of a lock or queue, first come first served. Waiters that are done already (timed
/// out or cancelled) are dropped when they reach the front, and the whole list is compacted
/// whenever it has doubled since the last compaction, so abandoned waiters cost amortized O(1)
/// and never pile up. Destroying the list cancels the waiters still pending.
template <class Entry>
class WaiterQueue {
 public:
  WaiterQueue() = default;
  WaiterQueue(const WaiterQueue&) = delete;
  WaiterQueue& operator=(const WaiterQueue&) = delete;
  ~WaiterQueue() { cancel_all(); }

  /// Appends a waiter.
  void push(Entry entry) {
    if (entries_.size() >= compact_at_) compact();
    entries_.push_back(std::move(entry));
  }

  /// Drops the done waiters at the front; true if a pending waiter is left for `pop()`.
  bool has_pending() noexcept {
    while (!entries_.empty() && waiter_future(entries_.front()).done()) entries_.pop_front();
    return !entries_.empty();
  }

  /// Removes and returns the first waiter. Call only after `has_pending()` returned true.
  Entry pop() {
    Entry entry = std::move(entries_.front());
    entries_.pop_front();
    return entry;
  }

  /// Removes and returns every waiter, pending or not.
  std::deque<Entry> take_all() { return std::exchange(entries_, {}); }

  /// How many waiters are held, counting done ones not dropped yet.
  std::size_t size() const noexcept { return entries_.size(); }

  /// Cancels every pending waiter and empties the list.
  void cancel_all() noexcept {
    for (auto& entry : entries_) waiter_future(entry).cancel();
    entries_.clear();
  }

 private:
  static constexpr std::size_t kMinCompactSize = 16;

  void compact() {
    std::erase_if(entries_, [](const Entry& entry) { return waiter_future(entry).done(); });
    compact_at_ = std::max(kMinCompactSize, 2 * entries_.size());
  }

  std::deque<Entry> entries_;
  std::size_t compact_at_ = kMinCompactSize;
};

}  // namespace detail

/// A flag coroutines can wait for (Tornado's `Event`, like `threading.Event`). It starts clear;
/// once set, `wait()` completes at once until `clear()` is called.
class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  /// Cancels the Futures of pending waiters.
  ~Event() = default;

  /// True while the flag is set.
  bool is_set() const noexcept { return value_; }
  /// Sets the flag and wakes every waiter. Does nothing if it is set already.
  void set();
  /// Clears the flag: later `wait()` calls block until `set()`. Waiters that `set()` woke
  /// already stay woken.
  void clear() noexcept { value_ = false; }
  /// A Future that completes once the flag is set (at once if it is). With a `timeout`, it fails
  /// with TimeoutError if the flag is still clear when the timeout passes.
  Future<void> wait(std::optional<Deadline> timeout = std::nullopt);

 private:
  bool value_ = false;
  detail::WaiterQueue<Future<void>> waiters_;
};

/// Lets coroutines wait until another one notifies them (Tornado's `Condition`). Unlike
/// `threading.Condition` it has no underlying lock: the loop runs one coroutine at a time.
class Condition {
 public:
  Condition() = default;
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;
  /// Cancels the Futures of pending waiters.
  ~Condition() = default;

  /// A Future that resolves to true when a `notify` reaches this waiter, or to false once
  /// `timeout` passes first (it never fails with TimeoutError).
  Future<bool> wait(std::optional<Deadline> timeout = std::nullopt);
  /// Wakes the `n` longest-waiting pending waiters (fewer if fewer wait).
  void notify(std::size_t n = 1);
  /// Wakes every pending waiter.
  void notify_all();

 private:
  detail::WaiterQueue<Future<bool>> waiters_;
};

/// A counter of free slots for coroutines (Tornado's `Semaphore`): `acquire()` takes a slot,
/// waiting while there is none; `release()` gives one back, to the longest-waiting coroutine if
/// any. A Semaphore must outlive its guards, including Futures from `acquire()` that hold one.
///
///     Semaphore sem(2);
///     auto guard = co_await sem.acquire();   // released when `guard` goes out of scope
class Semaphore {
 public:
  /// Holds one acquired slot and releases it when destroyed (or by `release()`). Move-only; a
  /// moved-from or default-constructed Guard holds nothing.
  class Guard {
   public:
    Guard() noexcept = default;
    Guard(Guard&& other) noexcept : semaphore_(std::exchange(other.semaphore_, nullptr)) {}
    /// Releases what this holds, then takes over `other`'s slot.
    Guard& operator=(Guard&& other) noexcept;
    /// Releases the slot if still held. An error from the release (a BoundedSemaphore released
    /// too many times by hand) is logged on the general logger, not thrown.
    ~Guard();

    /// Releases the slot now; later calls do nothing. Throws InvalidStateError if the semaphore
    /// is a BoundedSemaphore that was released too many times already.
    void release();
    /// Gives up the slot without releasing it: the caller takes over the duty to call the
    /// semaphore's (or lock's) `release()`, Tornado's try/finally style.
    void dismiss() noexcept { semaphore_ = nullptr; }
    /// True while this holds a slot.
    bool owns() const noexcept { return semaphore_ != nullptr; }
    explicit operator bool() const noexcept { return owns(); }

   private:
    friend class Semaphore;
    explicit Guard(Semaphore* semaphore) noexcept : semaphore_(semaphore) {}
    void reset() noexcept;

    Semaphore* semaphore_ = nullptr;
  };

  /// A semaphore with `value` free slots. Throws squall::ValueError if `value` is negative.
  explicit Semaphore(int value = 1);
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;
  /// Cancels the Futures of pending waiters.
  virtual ~Semaphore();

  /// A Future of a Guard for one slot: done at once if a slot is free, else once a `release()`
  /// hands one over. With a `timeout`, it fails with TimeoutError if no slot came in time. If the
  /// Future is dropped unawaited after it got its Guard, the slot is released with it.
  Future<Guard> acquire(std::optional<Deadline> timeout = std::nullopt);
  /// Gives a slot back: to the first pending waiter if there is one, else to the counter. Throws
  /// InvalidStateError("Semaphore released too many times") from a BoundedSemaphore whose
  /// counter is at its initial value already.
  void release();
  /// The free slots: how many `acquire()` calls would succeed at once.
  int value() const noexcept { return value_; }

 protected:
  /// A semaphore that refuses to be released past `value` when `bounded`.
  Semaphore(int value, bool bounded);

 private:
  int value_;
  int initial_value_;
  bool bounded_;
  bool releasing_ = false;
  detail::WaiterQueue<Future<Guard>> waiters_;
};

/// A Semaphore that refuses to be released more times than it was acquired (Tornado's
/// `BoundedSemaphore`): such a release is a bug, reported by InvalidStateError.
class BoundedSemaphore : public Semaphore {
 public:
  /// A bounded semaphore with `value` free slots. Throws squall::Error if `value` is negative.
  explicit BoundedSemaphore(int value = 1);
};

/// A mutual-exclusion lock for coroutines (Tornado's `Lock`). It starts unlocked; `acquire()`
/// locks it, waiting while another coroutine holds it, and gives a Guard that unlocks it when
/// destroyed:
///
///     auto guard = co_await lock.acquire();   // unlocked when `guard` goes out of scope
///
/// A Lock must outlive its guards, including Futures from `acquire()` that hold one.
class Lock {
 public:
  /// Holds the lock and releases it when destroyed; see Semaphore::Guard.
  using Guard = Semaphore::Guard;

  Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;
  /// Cancels the Futures of pending waiters.
  ~Lock() = default;

  /// A Future of a Guard holding the lock: done at once if the lock is free, else once every
  /// earlier waiter has had it. With a `timeout`, it fails with TimeoutError if the lock did not
  /// come in time.
  Future<Guard> acquire(std::optional<Deadline> timeout = std::nullopt);
  /// Unlocks: the first pending waiter gets the lock. Throws InvalidStateError("release unlocked
  /// lock") if the lock is not locked. For a lock taken through a Guard, call the Guard's
  /// `release()` instead, or `dismiss()` it first, else it would release the lock again.
  void release();
  /// True while some coroutine holds the lock (or has been handed it and not resumed yet).
  bool locked() const noexcept { return block_.value() == 0; }

 private:
  BoundedSemaphore block_{1};
};

}  // namespace squall
