#pragma once
/// \file
/// `IOStream`: non-blocking reads and writes on a socket or pipe, as Futures (Tornado's
/// `iostream`).
///
/// Contract:
/// - One read at a time: `read_until`, `read_bytes`, `read_into` and `read_until_close` each return
///   a Future; starting another read while one is pending throws InvalidStateError. A read that
///   the buffered data satisfies is done at once (its Future is done when returned).
/// - Writes queue in order; `write` returns a Future that completes once that data (and all
///   before it) has been handed to the kernel, so a writer that awaits it gets backpressure.
/// - After the stream closes, pending and later reads and writes fail with StreamClosedError,
///   whose `real_error()` is what closed it (a reset connection, a full buffer...), if anything.
///   A pending `read_until_close`, or a partial read, first gets the data still buffered.
/// - The stream owns its descriptor and closes it. Use it on its loop's thread only. It is not
///   movable: hold it by `std::unique_ptr`. Destroying it closes it.

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "squall/core/concurrent.hpp"
#include "squall/core/detail/unique_function.hpp"
#include "squall/core/ioloop.hpp"
#include "squall/net/netutil.hpp"
#include "squall/util/error.hpp"

namespace squall {

/// A read or write on a closed stream; `real_error()` is what closed it, if anything did.
class StreamClosedError : public Error {
 public:
  explicit StreamClosedError(std::exception_ptr real_error = nullptr);
  const std::exception_ptr& real_error() const noexcept { return real_error_; }

 private:
  std::exception_ptr real_error_;
};

/// The read buffer grew past `max_buffer_size` (the stream is closed with it), or a write would
/// take the write buffer past `max_write_buffer_size`.
class StreamBufferFullError : public Error {
 public:
  using Error::Error;
};

/// `read_until` found no delimiter within `max_bytes`; the stream is closed with it.
class UnsatisfiableReadError : public Error {
 public:
  using Error::Error;
};

/// Limits of an IOStream.
struct IOStreamOptions {
  /// Most bytes the read buffer holds; past it the stream closes with StreamBufferFullError.
  std::size_t max_buffer_size = std::size_t{100} << 20;
  /// Bytes asked of the kernel per read.
  std::size_t read_chunk_size = std::size_t{64} << 10;
  /// Most bytes queued for writing; past it `write` fails with StreamBufferFullError.
  std::size_t max_write_buffer_size = SIZE_MAX;
};

namespace detail {
/// The read buffer: one array with a consumed head and a free tail; compacted or grown only
/// when its tail is short, so reading a stream in small pieces costs linear time.
class ReadBuffer {
 public:
  std::size_t size() const noexcept { return end_ - begin_; }
  bool empty() const noexcept { return begin_ == end_; }
  std::string_view view() const noexcept { return {data_.get() + begin_, size()}; }
  /// A tail of at least `n` free bytes to read into.
  std::span<char> reserve(std::size_t n);
  void commit(std::size_t n) noexcept { end_ += n; }
  void consume(std::size_t n) noexcept;
  /// The first `n` bytes as a string, consumed.
  std::string take(std::size_t n);
  /// Frees the array if nothing is buffered (an idle stream holds no buffer).
  void release_if_empty() noexcept;
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};
}  // namespace detail

/// A non-blocking stream over a connected socket or a pipe.
class IOStream {
 public:
  /// Takes `fd` (made non-blocking) on the current loop.
  explicit IOStream(int fd, IOStreamOptions options = {});
  /// Closes the stream (pending Futures fail with StreamClosedError).
  virtual ~IOStream();
  IOStream(const IOStream&) = delete;
  IOStream& operator=(const IOStream&) = delete;

  /// Reads up to and including `delimiter`. Fails with UnsatisfiableReadError (and closes) if
  /// `max_bytes` pass without one.
  Future<std::string> read_until(std::string_view delimiter, std::size_t max_bytes = SIZE_MAX);
  /// Reads `num_bytes`, or with `partial` as soon as at least one byte is there.
  Future<std::string> read_bytes(std::size_t num_bytes, bool partial = false);
  /// Reads into `buffer` (which must stay valid until the Future is done): all of it, or with
  /// `partial` whatever is there (at least one byte). Gives the count read.
  Future<std::size_t> read_into(std::span<char> buffer, bool partial = false);
  /// Reads everything until the peer closes.
  Future<std::string> read_until_close();

  /// Queues `data`; the Future completes once it is handed to the kernel. Fails with
  /// StreamClosedError on a closed stream, StreamBufferFullError past max_write_buffer_size.
  Future<void> write(std::string_view data);
  /// As above, taking the string's storage instead of copying it.
  Future<void> write(std::string&& data);
  Future<void> write(const char* data) { return write(std::string_view(data)); }
  /// Queues `data` without copying it: the caller keeps it alive and unchanged until the Future
  /// is done (the contract of read_into's buffer). For large buffers sent again and again.
  Future<void> write_borrowed(std::span<const char> data);

  /// Connects the stream's socket to `address`; the Future completes once connected.
  Future<void> connect(const SocketAddress& address);

  /// Runs `callback` on the loop once the stream is closed (at once, if it is already).
  void set_close_callback(detail::UniqueFunction<void()> callback);
  /// Closes the stream, recording `error` as the reason (a StreamClosedError's real error).
  void close(std::exception_ptr error = nullptr);
  bool closed() const noexcept { return closed_; }
  /// What closed the stream, or nullptr (not closed, or closed without an error).
  std::exception_ptr error() const noexcept { return error_; }

  /// A read is pending.
  bool reading() const noexcept { return read_kind_ != ReadKind::kNone; }
  /// Data is queued for writing.
  bool writing() const noexcept { return !write_chunks_.empty(); }

  /// Sets TCP_NODELAY (for sockets; ignored on other descriptors).
  void set_nodelay(bool value);
  int fileno() const noexcept { return fd_; }
  const IOStreamOptions& options() const noexcept { return options_; }
  /// Bytes buffered for reading; bytes queued for writing.
  std::size_t read_buffer_size() const noexcept { return read_buffer_.size(); }
  std::size_t write_buffer_size() const noexcept { return write_buffer_size_; }

 protected:
  /// Reads at most `buffer.size()` bytes from the descriptor: the count, 0 at end of stream,
  /// or -1 with errno set (EAGAIN when nothing is there now).
  virtual ssize_t read_from_fd(std::span<char> buffer);
  /// Writes some of `iov`: the count, or -1 with errno set.
  virtual ssize_t write_to_fd(const iovec* iov, int count);
  /// The events to watch beyond what pending reads and writes need (a TLS handshake's).
  virtual std::uint32_t extra_events() const noexcept { return 0; }

  /// Re-evaluates the events watched, and whether the pending read is satisfied now.
  void update_events();
  IOLoop& io_loop() const noexcept { return *loop_; }

 private:
  enum class ReadKind : std::uint8_t { kNone, kDelimiter, kBytes, kInto, kUntilClose };

  void handle_events(std::uint32_t events);
  /// Reads from the descriptor into the buffer until it would block, the pending read can be
  /// satisfied, or a fair share was read; false if the stream closed.
  bool read_to_buffer();
  /// Reads straight into a pending read_into's buffer when nothing is buffered.
  bool read_into_user_buffer();
  void handle_write();
  /// Completes the pending read if the buffer satisfies it; true if it did.
  bool try_finish_read();
  /// The bytes the pending read would take from the buffer now, or nothing.
  std::optional<std::size_t> satisfiable_size();
  void start_read(ReadKind kind);
  /// What to do right after a read was requested: satisfy it from the buffer or the descriptor,
  /// else wait for the loop.
  void begin_read();
  void fail_pending(const std::exception_ptr& error);
  void finish_close();
  Future<void> queue_write(std::string&& data, std::span<const char> borrowed = {});

  IOLoop* loop_;
  int fd_;
  IOStreamOptions options_;
  bool closed_ = false;
  bool handler_added_ = false;
  bool connecting_ = false;
  std::uint32_t watched_ = 0;
  std::exception_ptr error_;

  detail::ReadBuffer read_buffer_;
  ReadKind read_kind_ = ReadKind::kNone;
  std::string delimiter_;
  std::size_t scan_from_ = 0;    // delimiter search resumes here
  std::size_t read_target_ = 0;  // read_bytes size, read_until max_bytes
  bool read_partial_ = false;
  std::span<char> user_buffer_;
  std::size_t user_filled_ = 0;
  std::optional<Future<std::string>> string_read_;
  std::optional<Future<std::size_t>> into_read_;

  struct PendingWrite {
    std::uint64_t end;  // the write is flushed once bytes_written_ reaches this
    Future<void> future;
  };
  /// Queued data: owned (`text`), or borrowed from the caller (`borrowed`, while non-null).
  struct WriteChunk {
    std::string text;
    const char* borrowed = nullptr;
    std::size_t borrowed_size = 0;
    const char* data() const noexcept { return borrowed ? borrowed : text.data(); }
    std::size_t size() const noexcept { return borrowed ? borrowed_size : text.size(); }
  };
  std::deque<WriteChunk> write_chunks_;
  std::size_t write_offset_ = 0;  // bytes of write_chunks_.front() already written
  std::size_t write_buffer_size_ = 0;
  std::uint64_t bytes_queued_ = 0;
  std::uint64_t bytes_written_ = 0;
  std::deque<PendingWrite> pending_writes_;
  std::optional<Future<void>> connect_future_;

  detail::UniqueFunction<void()> close_callback_;
  bool is_socket_ = false;
  bool can_read_ = true;  // false for the write end of a pipe
};

}  // namespace squall
