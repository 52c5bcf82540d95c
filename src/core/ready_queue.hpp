#pragma once
// The loop's FIFO of ready callbacks: fixed blocks in a chain, so an element never moves once
// queued. The loop runs each callback where it lies, while that callback may queue more.

#include <cstddef>
#include <new>
#include <utility>

namespace squall::detail {

template <class T, std::size_t kBlockSize = 128>
class ReadyQueue {
 public:
  ReadyQueue() = default;
  ReadyQueue(const ReadyQueue&) = delete;
  ReadyQueue& operator=(const ReadyQueue&) = delete;
  ~ReadyQueue() {
    while (!empty()) pop_front();
    delete head_;
    delete spare_;
  }

  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

  /// Constructs an element at the back from `args` (braced, so aggregates work).
  template <class... A>
  void emplace_back(A&&... args) {
    if (!tail_) {
      head_ = tail_ = take_block();
      head_index_ = tail_index_ = 0;
    } else if (tail_index_ == kBlockSize) {
      Block* block = take_block();
      tail_->next = block;
      tail_ = block;
      tail_index_ = 0;
    }
    ::new (static_cast<void*>(tail_->at(tail_index_))) T{std::forward<A>(args)...};
    ++tail_index_;
    ++size_;
  }

  /// The oldest element; the queue must not be empty. It stays in place until pop_front().
  T& front() noexcept { return *head_->at(head_index_); }

  /// Destroys the oldest element.
  void pop_front() noexcept {
    head_->at(head_index_)->~T();
    ++head_index_;
    --size_;
    if (size_ == 0) {
      // Empty: keep one block and start it over.
      Block* rest = head_->next;
      head_->next = nullptr;
      release_chain(rest);
      tail_ = head_;
      head_index_ = tail_index_ = 0;
    } else if (head_index_ == kBlockSize) {
      Block* done = head_;
      head_ = head_->next;
      head_index_ = 0;
      done->next = nullptr;
      release_chain(done);
    }
  }

 private:
  struct Block {
    Block* next = nullptr;
    alignas(T) unsigned char storage[kBlockSize * sizeof(T)];
    T* at(std::size_t i) noexcept { return std::launder(reinterpret_cast<T*>(storage) + i); }
  };

  Block* take_block() {
    if (Block* block = std::exchange(spare_, nullptr)) return block;
    return new Block;
  }
  /// Keeps one spare block for reuse; frees the rest.
  void release_chain(Block* block) noexcept {
    while (block) {
      Block* next = std::exchange(block->next, nullptr);
      if (!spare_) {
        spare_ = block;
      } else {
        delete block;
      }
      block = next;
    }
  }

  Block* head_ = nullptr;
  Block* tail_ = nullptr;
  std::size_t head_index_ = 0;
  std::size_t tail_index_ = 0;
  std::size_t size_ = 0;
  Block* spare_ = nullptr;
};

}  // namespace squall::detail
