#pragma once
// A growable FIFO on one power-of-two array: the loop's ready queue. Push and pop are a move and
// an index update; growing moves the elements once into an array twice the size.

#include <cstddef>
#include <memory>
#include <new>
#include <utility>

namespace squall::detail {

template <class T>
class RingBuffer {
 public:
  RingBuffer() = default;
  RingBuffer(const RingBuffer&) = delete;
  RingBuffer& operator=(const RingBuffer&) = delete;
  ~RingBuffer() {
    clear();
    ::operator delete(data_);
  }

  bool empty() const noexcept { return head_ == tail_; }
  std::size_t size() const noexcept { return tail_ - head_; }

  void push_back(T&& value) { emplace_back(std::move(value)); }

  /// Constructs an element at the back from `args` (braced, so aggregates work).
  template <class... A>
  void emplace_back(A&&... args) {
    if (size() == capacity_) grow();
    ::new (static_cast<void*>(data_ + (tail_ & (capacity_ - 1)))) T{std::forward<A>(args)...};
    ++tail_;
  }

  /// Moves the front element out; the buffer must not be empty.
  T pop_front() noexcept {
    T* slot = data_ + (head_ & (capacity_ - 1));
    T value(std::move(*slot));
    slot->~T();
    ++head_;
    return value;
  }

  void clear() noexcept {
    while (!empty()) pop_front();
  }

 private:
  void grow() {
    std::size_t new_capacity = capacity_ ? capacity_ * 2 : 256;
    T* fresh = static_cast<T*>(::operator new(new_capacity * sizeof(T)));
    std::size_t n = size();
    for (std::size_t i = 0; i < n; ++i) {
      T* slot = data_ + ((head_ + i) & (capacity_ - 1));
      ::new (static_cast<void*>(fresh + i)) T(std::move(*slot));
      slot->~T();
    }
    ::operator delete(data_);
    data_ = fresh;
    capacity_ = new_capacity;
    head_ = 0;
    tail_ = n;
  }

  T* data_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
};

}  // namespace squall::detail
