#pragma once
// Objects told when their loop closes. A coroutine suspended on a loop is destroyed when the loop
// closes, which lets go of what its frame held; a loop written with callbacks instead (a
// WebSocket's read loop, which keeps its connection alive through the callback of a pending
// read) registers a hook to let go of itself the same way.

namespace squall {
class IOLoop;
}  // namespace squall

namespace squall::detail {

class LoopCloseHooks;

class LoopCloseHook {
 public:
  LoopCloseHook() noexcept = default;
  LoopCloseHook(const LoopCloseHook&) = delete;
  LoopCloseHook& operator=(const LoopCloseHook&) = delete;

  /// Registers with `loop` (once; a registered hook stays with its first loop).
  void link_to(IOLoop& loop) noexcept;
  /// Unregisters; done by the destructor too.
  void unlink() noexcept;

  /// The loop is closing (its thread, before suspended coroutines are destroyed): drop what
  /// keeps this object alive. Unlinked already when called.
  virtual void on_loop_close() noexcept = 0;

 protected:
  ~LoopCloseHook() { unlink(); }

 private:
  friend class LoopCloseHooks;
  LoopCloseHook* prev_ = nullptr;
  LoopCloseHook* next_ = nullptr;
};

/// The hooks of one loop: a doubly linked list through the hooks (no allocation).
class LoopCloseHooks {
 public:
  LoopCloseHooks() noexcept { head_.prev_ = head_.next_ = &head_; }
  LoopCloseHooks(const LoopCloseHooks&) = delete;
  LoopCloseHooks& operator=(const LoopCloseHooks&) = delete;

  void link(LoopCloseHook& hook) noexcept {
    if (hook.next_ != nullptr) return;
    hook.prev_ = head_.prev_;
    hook.next_ = &head_;
    head_.prev_->next_ = &hook;
    head_.prev_ = &hook;
  }
  /// Tells every hook, first registered first, until none is left (a hook may register others).
  void run_all() noexcept {
    while (head_.next_ != &head_) {
      LoopCloseHook* hook = head_.next_;
      hook->unlink();
      hook->on_loop_close();
    }
  }

 private:
  struct Head final : LoopCloseHook {
    void on_loop_close() noexcept override {}
  };
  Head head_;
};

inline void LoopCloseHook::unlink() noexcept {
  if (next_ != nullptr) {
    prev_->next_ = next_;
    next_->prev_ = prev_;
    prev_ = next_ = nullptr;
  }
}

}  // namespace squall::detail
