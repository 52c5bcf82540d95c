#pragma once
/// \file
/// A move-only, type-erased callable with inline storage for small closures. The loop's ready
/// queue, timers and fd handlers hold these, so scheduling a small lambda or resuming a coroutine
/// never allocates. Callables that are larger, over-aligned, or not nothrow-movable live on the
/// heap.

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace squall::detail {

std::string describe_callable_type(const std::type_info& type);

/// A callable may name itself for the loop's slow-callback and exception logs with a member
/// `std::string describe() const`; otherwise its demangled type name is used.
template <class F>
concept SelfDescribing = requires(const F& f) {
  { f.describe() } -> std::convertible_to<std::string>;
};

template <class Signature, std::size_t InlineSize = 32>
class UniqueFunction;

template <class R, class... Args, std::size_t InlineSize>
class UniqueFunction<R(Args...), InlineSize> {
 public:
  UniqueFunction() noexcept = default;
  UniqueFunction(std::nullptr_t) noexcept {}

  template <class F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, UniqueFunction> &&
           std::is_invocable_r_v<R, std::remove_cvref_t<F>&, Args...>)
      UniqueFunction(
          F&& f) {  // NOLINT(google-explicit-constructor): a function wrapper converts implicitly
    using Fn = std::remove_cvref_t<F>;
    if constexpr (stored_inline<Fn>) {
      ::new (static_cast<void*>(storage_)) Fn(std::forward<F>(f));
      ops_ = &kInlineOps<Fn>;
    } else {
      *reinterpret_cast<Fn**>(storage_) = new Fn(std::forward<F>(f));
      ops_ = &kHeapOps<Fn>;
    }
  }

  UniqueFunction(UniqueFunction&& other) noexcept : ops_(other.ops_) {
    if (ops_) {
      relocate_from(other);
      other.ops_ = nullptr;
    }
  }

  UniqueFunction& operator=(UniqueFunction&& other) noexcept {
    if (this != &other) {
      reset();
      ops_ = other.ops_;
      if (ops_) {
        relocate_from(other);
        other.ops_ = nullptr;
      }
    }
    return *this;
  }

  UniqueFunction(const UniqueFunction&) = delete;
  UniqueFunction& operator=(const UniqueFunction&) = delete;
  ~UniqueFunction() { reset(); }

  /// Destroys the held callable, leaving this empty.
  void reset() noexcept {
    if (ops_) {
      if (ops_->destroy) ops_->destroy(storage_);
      ops_ = nullptr;
    }
  }

  explicit operator bool() const noexcept { return ops_ != nullptr; }

  /// Calls the held callable; calling an empty UniqueFunction is undefined.
  R operator()(Args... args) { return ops_->invoke(storage_, std::forward<Args>(args)...); }

  /// The callable's name for logs (its `describe()`, or its demangled type).
  std::string describe() const { return ops_ ? ops_->describe(storage_) : std::string("<empty>"); }

 private:
  struct Ops {
    R (*invoke)(void*, Args&&...);
    void (*relocate)(void* dst, void* src) noexcept;  // null: a byte copy relocates it
    void (*destroy)(void*) noexcept;                  // null: nothing to destroy
    std::string (*describe)(const void*);
  };

  template <class Fn>
  static constexpr bool stored_inline =
      sizeof(Fn) <= InlineSize &&
      alignof(Fn) <= alignof(void*) && std::is_nothrow_move_constructible_v<Fn>;

  template <class Fn>
  static std::string describe_fn(const Fn& fn) {
    if constexpr (SelfDescribing<Fn>) {
      return fn.describe();
    } else {
      return describe_callable_type(typeid(Fn));
    }
  }

  template <class Fn>
  static constexpr Ops kInlineOps = {
      [](void* s, Args&&... args) -> R {
        return (*static_cast<Fn*>(s))(std::forward<Args>(args)...);
      },
      std::is_trivially_copyable_v<Fn> ? nullptr
                                       : +[](void* dst, void* src) noexcept {
                                           ::new (dst) Fn(std::move(*static_cast<Fn*>(src)));
                                           static_cast<Fn*>(src)->~Fn();
                                         },
      std::is_trivially_destructible_v<Fn> ? nullptr
                                           : +[](void* s) noexcept { static_cast<Fn*>(s)->~Fn(); },
      [](const void* s) { return describe_fn(*static_cast<const Fn*>(s)); },
  };

  template <class Fn>
  static constexpr Ops kHeapOps = {
      [](void* s, Args&&... args) -> R {
        return (**static_cast<Fn**>(s))(std::forward<Args>(args)...);
      },
      nullptr,
      [](void* s) noexcept { delete *static_cast<Fn**>(s); },
      [](const void* s) { return describe_fn(**static_cast<Fn* const*>(s)); },
  };

  void relocate_from(UniqueFunction& other) noexcept {
    if (ops_->relocate) {
      ops_->relocate(storage_, other.storage_);
    } else {
      std::memcpy(storage_, other.storage_, InlineSize);
    }
  }

  alignas(void*) unsigned char storage_[InlineSize];
  const Ops* ops_ = nullptr;
};

/// What the loop runs: a callback taking nothing and returning nothing.
using Callback = UniqueFunction<void()>;

}  // namespace squall::detail
