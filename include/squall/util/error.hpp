#pragma once
/// \file
/// The root of squall's exceptions, and the errors every layer shares.

#include <stdexcept>
#include <string>

namespace squall {

/// Base of every exception squall throws on purpose. Catch `squall::Error` to handle all of them.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An operation did not complete before its deadline (`with_timeout`, `run_sync`, queue and lock
/// waits).
class TimeoutError : public Error {
 public:
  using Error::Error;
  TimeoutError() : Error("Timeout") {}
};

/// Raised by `Future::result()` when the Future was cancelled.
class CancelledError : public Error {
 public:
  using Error::Error;
  CancelledError() : Error("Future was cancelled") {}
};

/// An argument has the right type but a value the call cannot take: a negative Semaphore value,
/// a non-positive period, a negative file descriptor (Python's ValueError, as Tornado raises it).
class ValueError : public Error {
 public:
  using Error::Error;
};

/// A system call failed: `code()` is its errno (Python's OSError). The message names the call.
class OSError : public Error {
 public:
  OSError(int code, const std::string& what);
  int code() const noexcept { return code_; }

 private:
  int code_;
};

/// A Future or other object was used in a state that does not allow the call: `result()` on a
/// pending Future, `set_result()` on a done one, a loop started twice, a closed loop used.
class InvalidStateError : public Error {
 public:
  using Error::Error;
};

}  // namespace squall
