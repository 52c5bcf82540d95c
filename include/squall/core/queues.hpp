#pragma once
/// \file
/// Queues to coordinate producer and consumer coroutines (Tornado's `queues`): `Queue` (first in,
/// first out), `PriorityQueue` (smallest first) and `LifoQueue` (last in, first out), all one
/// `BasicQueue` with a different storage.
///
///     Queue<int> q(2);                     // at most two items
///     co_await q.put(1);                   // suspends while the queue is full
///     int item = co_await q.get();         // suspends while it is empty
///     q.task_done();                       // once the item is processed
///     co_await q.join();                   // until every item put is processed
///
/// Like the locks, queues are single-threaded (use them on their loop's thread; from another
/// thread, go through `IOLoop::add_callback`), serve waiters first come first served, skip
/// waiters that timed out or were cancelled, and never let a timer refer to the queue. Destroying
/// a queue cancels the Futures of its pending getters, putters and joiners, and destroys the items
/// it holds, including those of pending putters.

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "squall/core/concurrent.hpp"
#include "squall/core/ioloop.hpp"
#include "squall/core/locks.hpp"
#include "squall/util/error.hpp"

namespace squall {

/// Thrown by `put_nowait` on a queue at its maximum size.
class QueueFull : public Error {
 public:
  using Error::Error;
  QueueFull() : Error("Queue is full") {}
};

/// Thrown by `get_nowait` on a queue with no item.
class QueueEmpty : public Error {
 public:
  using Error::Error;
  QueueEmpty() : Error("Queue is empty") {}
};

/// What a queue keeps its items in, deciding which item `get` gives: `push(T&&)` adds one,
/// `pop()` removes and returns the next, `size()` counts them (Tornado's overridable `_put`,
/// `_get` and `_init`).
template <class S, class T>
concept QueueStorage = requires(S storage, const S& const_storage, T item) {
  storage.push(std::move(item));
  { storage.pop() } -> std::same_as<T>;
  { const_storage.size() } -> std::convertible_to<std::size_t>;
};

/// First in, first out: `Queue`'s storage.
template <class T>
class FifoStorage {
 public:
  void push(T item) { items_.push_back(std::move(item)); }
  T pop() {
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }
  std::size_t size() const noexcept { return items_.size(); }

 private:
  std::deque<T> items_;
};

/// Last in, first out: `LifoQueue`'s storage.
template <class T>
class LifoStorage {
 public:
  void push(T item) { items_.push_back(std::move(item)); }
  T pop() {
    T item = std::move(items_.back());
    items_.pop_back();
    return item;
  }
  std::size_t size() const noexcept { return items_.size(); }

 private:
  std::vector<T> items_;
};

/// A binary heap giving the smallest item by `Compare` first (like Python's `heapq`); items that
/// compare equal come out in no particular order. `PriorityQueue`'s storage.
template <class T, class Compare = std::less<T>>
class PriorityStorage {
 public:
  explicit PriorityStorage(Compare compare = Compare()) : greater_{std::move(compare)} {}
  void push(T item) {
    items_.push_back(std::move(item));
    std::push_heap(items_.begin(), items_.end(), greater_);
  }
  T pop() {
    std::pop_heap(items_.begin(), items_.end(), greater_);
    T item = std::move(items_.back());
    items_.pop_back();
    return item;
  }
  std::size_t size() const noexcept { return items_.size(); }

 private:
  // std::push_heap keeps the largest first; reversing the comparison keeps the smallest first.
  struct Greater {
    [[no_unique_address]] Compare less;
    bool operator()(const T& a, const T& b) const { return less(b, a); }
  };
  std::vector<T> items_;
  Greater greater_;
};

namespace detail {

/// A putter waiting for room: its item and its Future.
template <class T>
struct Putter {
  T item;
  Future<void> future;
};

template <class T>
const Future<void>& waiter_future(const Putter<T>& putter) noexcept {
  return putter.future;
}

}  // namespace detail

/// The queue itself (Tornado's `Queue`), with `Storage` choosing the order of the items. Use it
/// through `Queue`, `PriorityQueue` and `LifoQueue`. T may be move-only (`std::unique_ptr`):
/// items are moved in and out, never copied.
///
/// Every item put counts as an unfinished task until a `task_done()` matches it; `join()` waits
/// until none is left.
template <class T, class Storage>
requires QueueStorage<Storage, T>
class BasicQueue {
 public:
  using value_type = T;

  /// A queue holding at most `maxsize` items; 0 means no limit.
  explicit BasicQueue(std::size_t maxsize = 0, Storage storage = Storage())
      : maxsize_(maxsize), storage_(std::move(storage)) {
    finished_.set();
  }
  BasicQueue(const BasicQueue&) = delete;
  BasicQueue& operator=(const BasicQueue&) = delete;
  /// Cancels the Futures of pending getters, putters and joiners.
  ~BasicQueue() = default;

  /// The most items the queue holds; 0 for no limit.
  std::size_t maxsize() const noexcept { return maxsize_; }
  /// How many items the queue holds (not counting those of putters still waiting).
  std::size_t qsize() const noexcept { return storage_.size(); }
  /// True if the queue holds no item.
  bool empty() const noexcept { return qsize() == 0; }
  /// True if the queue holds `maxsize()` items (never, with no limit).
  bool full() const noexcept { return maxsize_ != 0 && qsize() >= maxsize_; }

  /// Puts `item` in the queue, waiting while it is full: the Future completes once the item is in
  /// (at once if there is room). A getter waiting already gets the item directly. With a
  /// `timeout`, the Future fails with TimeoutError if no room came in time; the item is then
  /// dropped, never put.
  Future<void> put(T item, std::optional<Deadline> timeout = std::nullopt) {
    Future<void> future;
    if (try_put(item)) {
      future.set_result();
      return future;
    }
    putters_.push(detail::Putter<T>{std::move(item), future});
    detail::set_timeout(future, timeout);
    return future;
  }

  /// Puts `item` in the queue at once (or hands it to a waiting getter). Throws QueueFull if the
  /// queue is full; `item` is lost then.
  void put_nowait(T item) {
    if (!try_put(item)) throw QueueFull();
  }

  /// A Future of the next item, waiting while the queue is empty. Taking an item from a full
  /// queue first lets the first waiting putter's item in (so a PriorityQueue may give that item).
  /// With a `timeout`, the Future fails with TimeoutError if no item came in time.
  Future<T> get(std::optional<Deadline> timeout = std::nullopt) {
    Future<T> future;
    if (ready_to_get()) {
      future.set_result(take());
      return future;
    }
    getters_.push(future);
    detail::set_timeout(future, timeout);
    return future;
  }

  /// The next item, at once. Throws QueueEmpty if there is none.
  T get_nowait() {
    if (!ready_to_get()) throw QueueEmpty();
    return take();
  }

  /// Marks one item taken from the queue as processed: once every item put is matched by a
  /// `task_done()`, `join()` completes. Throws InvalidStateError("task_done() called too many
  /// times") when no task is unfinished.
  void task_done() {
    if (unfinished_tasks_ == 0) throw InvalidStateError("task_done() called too many times");
    if (--unfinished_tasks_ == 0) finished_.set();
  }

  /// A Future that completes once every item put has been marked done by `task_done()` (at once
  /// if none is unfinished). With a `timeout`, it fails with TimeoutError if tasks are still
  /// unfinished when the timeout passes.
  Future<void> join(std::optional<Deadline> timeout = std::nullopt) {
    return finished_.wait(timeout);
  }

 private:
  /// Puts `item` in (or hands it to the first waiting getter) unless the queue is full; `item` is
  /// moved from only when this returns true.
  bool try_put(T& item) {
    if (getters_.has_pending()) {
      // A getter waits only while the queue is empty, so the item is the next one out whatever
      // the storage: hand it over without the round trip through the storage.
      Future<T> getter = getters_.pop();
      getter.set_result(std::move(item));
      add_unfinished_task();
      return true;
    }
    if (full()) return false;
    storage_.push(std::move(item));
    add_unfinished_task();
    return true;
  }

  bool ready_to_get() noexcept { return qsize() != 0 || putters_.has_pending(); }

  /// The next item; call only when `ready_to_get()`. A putter waits only while the queue is full,
  /// so taking an item makes room for the first one. Its item goes in before one comes out, as in
  /// Tornado: a PriorityQueue or LifoQueue may give that very item.
  T take() {
    if (putters_.has_pending()) {
      detail::Putter<T> putter = putters_.pop();
      storage_.push(std::move(putter.item));
      add_unfinished_task();
      putter.future.set_result();
    }
    return storage_.pop();
  }

  void add_unfinished_task() noexcept {
    ++unfinished_tasks_;
    finished_.clear();
  }

  std::size_t maxsize_;
  Storage storage_;
  std::size_t unfinished_tasks_ = 0;
  Event finished_;
  detail::WaiterQueue<Future<T>> getters_;
  detail::WaiterQueue<detail::Putter<T>> putters_;
};

/// A first-in, first-out queue (Tornado's `Queue`).
template <class T>
class Queue : public BasicQueue<T, FifoStorage<T>> {
 public:
  /// A queue holding at most `maxsize` items; 0 means no limit.
  explicit Queue(std::size_t maxsize = 0) : BasicQueue<T, FifoStorage<T>>(maxsize) {}
};

/// A queue that gives the smallest item first, by `Compare` (Tornado's `PriorityQueue`).
/// Items are typically pairs like `{priority, data}`.
template <class T, class Compare = std::less<T>>
class PriorityQueue : public BasicQueue<T, PriorityStorage<T, Compare>> {
 public:
  /// A queue holding at most `maxsize` items (0 means no limit), ordered by `compare`.
  explicit PriorityQueue(std::size_t maxsize = 0, Compare compare = Compare())
      : BasicQueue<T, PriorityStorage<T, Compare>>(
            maxsize, PriorityStorage<T, Compare>(std::move(compare))) {}
};

/// A queue that gives the most recently put item first (Tornado's `LifoQueue`).
template <class T>
class LifoQueue : public BasicQueue<T, LifoStorage<T>> {
 public:
  /// A queue holding at most `maxsize` items; 0 means no limit.
  explicit LifoQueue(std::size_t maxsize = 0) : BasicQueue<T, LifoStorage<T>>(maxsize) {}
};

}  // namespace squall
