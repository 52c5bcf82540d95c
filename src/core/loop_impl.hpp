#pragma once
// The private part of IOLoop: the phases of an iteration and what they work on.

#include <signal.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "core/loop_close_hook.hpp"
#include "core/ready_queue.hpp"
#include "core/timer_queue.hpp"
#include "squall/core/concurrent.hpp"
#include "squall/core/ioloop.hpp"

namespace squall::detail {

/// Queues a Future's waiter on the calling thread's loop, keeping `keepalive` (a reference the
/// caller added) until the waiter has run or been dropped.
void schedule_waiter(Callback&& cb, FutureStateBase* keepalive) noexcept;

/// The coroutines created on a loop and not finished yet.
class LiveCoroutines {
 public:
  LiveCoroutines() noexcept { head_.prev_ = head_.next_ = &head_; }
  void link(PromiseBase* promise) noexcept {
    CoroutineLink* node = promise;
    node->prev_ = head_.prev_;
    node->next_ = &head_;
    head_.prev_->next_ = node;
    head_.prev_ = node;
  }
  bool empty() const noexcept { return head_.next_ == &head_; }
  /// Destroys suspended frames until none is left (a destroyed frame may create others).
  void destroy_all() noexcept {
    while (!empty()) {
      auto* promise = static_cast<PromiseBase*>(head_.next_);
      promise->unlink();
      promise->handle().destroy();
    }
  }

 private:
  CoroutineLink head_;
};

/// Callbacks posted from other threads, and the eventfd that wakes the loop for them. Shared
/// with executors so a late result never touches a destroyed loop.
class RemoteQueue {
 public:
  explicit RemoteQueue(int event_fd) noexcept : event_fd_(event_fd) {}
  /// Queues `cb`; false (leaving `cb` with the caller) if the loop is closed.
  bool post(Callback& cb);
  /// Moves the queued callbacks into `out`; called on the loop's thread when the eventfd fires.
  void take(std::vector<Callback>& out);
  /// Refuses further posts and closes the eventfd; returns what was still queued.
  std::vector<Callback> close() noexcept;

 private:
  std::mutex mutex_;
  std::vector<Callback> items_;
  int event_fd_;
  bool wake_pending_ = false;
  bool closed_ = false;
};

class LoopImpl {
 public:
  explicit LoopImpl(IOLoop& owner);
  ~LoopImpl();

  IOLoop& owner() noexcept { return owner_; }
  LiveCoroutines& coroutines() noexcept { return coroutines_; }
  LoopCloseHooks& close_hooks() noexcept { return close_hooks_; }
  const std::shared_ptr<RemoteQueue>& remote() noexcept { return remote_; }

  /// Queues a callback to run in this or the next iteration (loop thread only).
  void schedule(Callback&& cb, FutureStateBase* keepalive = nullptr) noexcept;
  /// Thread-safe add_callback: on this loop's thread it queues directly, else it posts.
  void add_callback(Callback&& cb, const char* operation);
  TimeoutHandle add_timer(IOLoop::time_point when, Callback&& cb);
  void remove_timeout(TimeoutHandle handle) noexcept;

  void add_handler(int fd, std::uint32_t events, IOLoop::Handler handler);
  void update_handler(int fd, std::uint32_t events);
  void remove_handler(int fd) noexcept;

  void add_signal_handler(int signum, IOLoop::SignalHandler handler);
  bool remove_signal_handler(int signum) noexcept;

  void start();
  void stop() noexcept { stopping_ = true; }
  bool running() const noexcept { return running_; }
  void close(bool all_fds);
  bool closed() const noexcept { return closed_; }
  /// True once close() has begun: new work is dropped quietly, then refused.
  bool closing() const noexcept { return closing_; }

  void set_blocking_log_threshold(IOLoop::duration threshold) noexcept {
    blocking_threshold_ = threshold;
  }
  ThreadPoolExecutor& default_executor();

 private:
  struct Ready {
    Callback callback;
    FutureStateBase* keepalive;
  };
  struct FdEntry {
    IOLoop::Handler handler;
    std::uint32_t events = 0;
    std::uint32_t generation = 0;
    bool registered = false;
    bool internal = false;  // the loop's own eventfd and signalfd
  };

  void run_once();
  void poll(int timeout_ms);
  void run_timers();
  void mark_polled(std::int64_t coarse_now) noexcept {
    callbacks_since_poll_ = 0;
    last_poll_coarse_ = coarse_now;
  }
  void run_ready();
  /// Drops the queued callbacks without running them, releasing the Futures they keep alive.
  void drop_ready() noexcept;
  void drain_remote();
  void read_signals();
  /// Runs one callback: logs an escaping exception, and a run longer than the threshold.
  template <class Fn, class Describe>
  void run_guarded(Fn&& fn, const Describe& describe) noexcept;
  int poll_timeout_ms() noexcept;
  void check_open(const char* operation) const;
  void watch_internal(int fd, void (LoopImpl::*on_ready)());

  IOLoop& owner_;
  int epoll_fd_ = -1;
  int event_fd_ = -1;
  int signal_fd_ = -1;
  std::shared_ptr<RemoteQueue> remote_;
  ReadyQueue<Ready> ready_;
  TimerQueue timers_;
  std::vector<FdEntry> fds_;
  std::vector<Callback> remote_batch_;
  std::map<int, IOLoop::SignalHandler> signal_handlers_;
  sigset_t signal_mask_;
  LiveCoroutines coroutines_;
  LoopCloseHooks close_hooks_;
  IOLoop::duration blocking_threshold_{0};
  std::unique_ptr<ThreadPoolExecutor> default_executor_;
  std::size_t callbacks_since_poll_ = 0;
  std::int64_t last_poll_coarse_ = 0;
  bool running_ = false;
  bool stopping_ = false;
  bool closing_ = false;
  bool closed_ = false;
};

}  // namespace squall::detail
