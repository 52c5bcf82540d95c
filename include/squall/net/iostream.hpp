#pragma once
/// \file
/// `IOStream`: non-blocking reads and writes on a socket or pipe, as Futures (Tornado's
/// `iostream`); `SSLIOStream`, the same over TLS, with `SSLOptions` and `SSLContext`.
///
/// Contract:
/// - One read at a time: `read_until`, `read_bytes`, `read_into` and `read_until_close` each return
///   a Future; starting another read while one is pending throws InvalidStateError. A read that
///   the buffered data satisfies is done at once (its Future is done when returned).
/// - Writes queue in order; `write` returns a Future that completes once that data (and all
///   before it) has been handed to the kernel, so a writer that awaits it gets backpressure.
///   `write_file` queues a piece of a file the same way, sent without a copy (sendfile(2)) where
///   the stream allows it.
/// - After the stream closes, pending and later reads and writes fail with StreamClosedError,
///   whose `real_error()` is what closed it (a reset connection, a full buffer...), if anything.
///   A pending `read_until_close`, or a partial read, first gets the data still buffered.
/// - The stream owns its descriptor and closes it (unless `start_tls` hands it on). Use it on its
///   loop's thread only. It is not movable: hold it by `std::unique_ptr`. Destroying it closes
///   it.

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "squall/core/concurrent.hpp"
#include "squall/core/detail/unique_function.hpp"
#include "squall/core/ioloop.hpp"
#include "squall/net/netutil.hpp"
#include "squall/util/error.hpp"

// OpenSSL's connection and context types (SSL, SSL_CTX), named without including OpenSSL.
struct ssl_st;
struct ssl_ctx_st;

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
  /// Most bytes held in memory for writing; past it `write` fails with StreamBufferFullError.
  /// What `write_file` queues is read from its file as it is sent, and does not count.
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

/// A first-in first-out queue that holds no memory while empty (std::deque allocates a block
/// as soon as it is made: over a kilobyte for an idle stream's two queues).
template <class T>
class Fifo {
 public:
  bool empty() const noexcept { return head_ == items_.size(); }
  std::size_t size() const noexcept { return items_.size() - head_; }
  T& front() noexcept { return items_[head_]; }
  T& back() noexcept { return items_.back(); }
  void push_back(T&& item) { items_.push_back(std::move(item)); }
  void pop_front() {
    { T discard = std::move(items_[head_]); }  // frees what the item owned now
    if (++head_ == items_.size()) {
      clear();
    } else if (head_ >= 32 && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  void clear() noexcept {
    items_ = std::vector<T>();
    head_ = 0;
  }
  auto begin() noexcept { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() noexcept { return items_.end(); }

 private:
  std::vector<T> items_;
  std::size_t head_ = 0;
};
}  // namespace detail

class SSLContext;
class SSLIOStream;
struct SSLOptions;

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

  /// Zero-copy reading, for parsers that work in place (the HTTP/1.1 and WebSocket codecs):
  /// waits until at least `min_bytes` are buffered, and gives the count buffered, leaving the
  /// data in the buffer: read it through `buffered()` and drop what was used with `consume`.
  /// Done at once if the buffer holds enough. On a closed stream (or one that closes first) it
  /// fails with StreamClosedError, even if some bytes are buffered; `buffered()` still shows
  /// them. `min_bytes` past `max_buffer_size` closes the stream with StreamBufferFullError.
  Future<std::size_t> fill_buffer(std::size_t min_bytes = 1);
  /// What `wait_buffered` gives: an awaitable for squall coroutines (defined below).
  class BufferWait;
  /// As `fill_buffer`, for a squall coroutine that owns the stream: `co_await
  /// stream.wait_buffered(n)` resumes it (from the loop) once `n` bytes are buffered, with no
  /// Future in between; the HTTP/1.1 server's read loop waits so for every request. Throws
  /// StreamClosedError if the stream closed with fewer than `n` bytes buffered. One read at a
  /// time, as for the other reads.
  BufferWait wait_buffered(std::size_t min_bytes = 1) noexcept;
  /// The bytes buffered for reading. The view is valid until the next read or `consume`.
  std::string_view buffered() const noexcept { return read_buffer_.view(); }
  /// Drops the first `n` buffered bytes (at most `read_buffer_size()`). Throws InvalidStateError
  /// while a read is pending (it owns the buffer's front).
  void consume(std::size_t n);

  /// Queues `data`; the Future completes once it is handed to the kernel. Fails with
  /// StreamClosedError on a closed stream, StreamBufferFullError past max_write_buffer_size.
  Future<void> write(std::string_view data);
  /// As above, taking the string's storage instead of copying it.
  Future<void> write(std::string&& data);
  Future<void> write(const char* data) { return write(std::string_view(data)); }
  /// Queues `data` without copying it: the caller keeps it alive and unchanged until the Future
  /// is done (the contract of read_into's buffer). For large buffers sent again and again.
  Future<void> write_borrowed(std::span<const char> data);
  /// Queues `count` bytes of the file `fd` from `offset`, in order with the other writes; the
  /// Future completes once the last of them is handed to the kernel (backpressure, as `write`).
  /// A plain stream sends them with sendfile(2), never through user space; a TLS stream (and a
  /// file sendfile refuses, such as one of procfs) reads them in 64 KiB pieces through one
  /// buffer. Memory stays bounded either way, whatever `count`. The stream sends from its own
  /// duplicate of `fd` (made when the data cannot all go at once), so the caller may close `fd`
  /// as soon as the call returns; the file's own offset is neither used nor moved. A file that
  /// ends before `offset + count` (truncated meanwhile), or fails to read, closes the stream
  /// with an Error saying so: what went out can no longer be framed. Throws ValueError for a
  /// negative `fd` or a range past the largest file offset. Fails with StreamClosedError on a
  /// closed stream, and with OSError if no descriptor is left for the duplicate (the stream is
  /// closed too if part of the file was sent already). SIGPIPE is ignored from the first call on
  /// a socket, as it is for pipes (sendfile has no MSG_NOSIGNAL), if its handler is the default.
  Future<void> write_file(int fd, std::uint64_t offset, std::uint64_t count);

  /// Connects the stream's socket to `address`; the Future completes once connected (an
  /// SSLIOStream's once its handshake has completed too).
  virtual Future<void> connect(const SocketAddress& address);

  /// Upgrades this plain stream to TLS (STARTTLS): hands the descriptor to a new SSLIOStream
  /// (server or client side, made from `options`; a client gives the `server_hostname` to send
  /// and verify), which gets the close callback too, and gives it once its handshake completes.
  /// This stream ends closed without closing the descriptor. Throws InvalidStateError unless the
  /// stream is idle (no pending read, write or connect, nothing buffered for reading), and what
  /// `ssl_options_to_context` or the SSLIOStream constructor throws, before touching the stream;
  /// on a closed stream, and if the handshake fails, the Future fails with StreamClosedError.
  Future<std::unique_ptr<SSLIOStream>> start_tls(bool server_side, const SSLOptions& options,
                                                 std::string server_hostname = {});
  /// As above, with a context made once for many streams (its side is the stream's side).
  Future<std::unique_ptr<SSLIOStream>> start_tls(std::shared_ptr<SSLContext> context,
                                                 std::string server_hostname = {});

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
  /// Bytes buffered for reading; bytes queued for writing (file bytes of `write_file` included).
  std::size_t read_buffer_size() const noexcept { return read_buffer_.size(); }
  std::size_t write_buffer_size() const noexcept { return write_buffer_size_; }
  /// Bytes of memory the read buffer holds: 0 while nothing is buffered (an idle stream).
  std::size_t read_buffer_capacity() const noexcept { return read_buffer_.capacity(); }

 protected:
  /// Reads at most `buffer.size()` bytes from the descriptor: the count, 0 at end of stream,
  /// or -1 with errno set (EAGAIN when nothing is there now).
  virtual ssize_t read_from_fd(std::span<char> buffer);
  /// Writes some of `iov`: the count, or -1 with errno set.
  virtual ssize_t write_to_fd(const iovec* iov, int count);
  /// Whether `write_file` may hand file bytes to the descriptor with sendfile(2), bypassing
  /// `write_to_fd`. A stream that overrides `write_to_fd` to transform the bytes (TLS) says no:
  /// its files are read into a buffer and written through `write_to_fd`.
  virtual bool can_sendfile() const noexcept { return true; }
  /// The events to watch, given those the pending reads, writes and connect need (`wanted`): a
  /// TLS stream adds what its handshake waits for, and drops WRITE while the handshake waits for
  /// the peer (a queued write would otherwise wake the loop again and again).
  virtual std::uint32_t events_to_watch(std::uint32_t wanted) const noexcept { return wanted; }
  /// Whether input may be waiting somewhere the loop cannot see (a TLS library's buffer): then
  /// a new read always tries the descriptor at once, even after a read found it drained.
  virtual bool input_may_be_buffered() const noexcept { return false; }
  /// Acts on the events the loop reported for the descriptor. A TLS stream drives its
  /// handshake here first.
  virtual void handle_events(std::uint32_t events);
  /// Closes the descriptor, as the stream closes (`error()` is set by then). A TLS stream sends
  /// its close_notify first.
  virtual void close_fd() noexcept;

  /// Re-evaluates the events watched, and whether the pending read is satisfied now.
  void update_events();
  IOLoop& io_loop() const noexcept { return *loop_; }

 private:
  enum class ReadKind : std::uint8_t { kNone, kDelimiter, kBytes, kInto, kUntilClose, kFill };

  /// For start_tls: throws InvalidStateError unless idle, else stops watching the descriptor
  /// and gives it and the close callback up; the stream ends closed without closing it.
  int release_fd(detail::UniqueFunction<void()>& close_callback);
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
  // wait_buffered's steps: register the suspended coroutine, check on its resumption, and let go
  // of it if its frame is destroyed first.
  void wait_fill(std::size_t min_bytes, detail::PromiseBase* waiter);
  void check_filled(std::size_t min_bytes) const;
  void forget_fill_waiter() noexcept;
  // Queues the coroutine waiting in wait_buffered for its resumption.
  void wake_fill_waiter() noexcept;
  /// What to do right after a read was requested: satisfy it from the buffer or the descriptor,
  /// else wait for the loop.
  void begin_read();
  void fail_pending(const std::exception_ptr& error);
  void finish_close();
  Future<void> queue_write(std::string&& data, std::span<const char> borrowed = {});
  /// Sends what it can of the file chunk at the front of the queue, popping it once all is sent;
  /// false while the descriptor takes no more, or if the stream closed.
  bool write_file_chunk();
  /// Writes what the descriptor takes of `data` now (nothing is queued); gives the count sent.
  /// Closes the stream on an error other than EAGAIN.
  std::size_t write_now(std::string_view data);

  IOLoop* loop_;
  int fd_;
  std::uint32_t watched_ = 0;
  IOStreamOptions options_;
  std::exception_ptr error_;

  detail::ReadBuffer read_buffer_;
  std::string delimiter_;
  std::size_t scan_from_ = 0;    // delimiter search resumes here
  std::size_t read_target_ = 0;  // read_bytes size, read_until max_bytes
  std::span<char> user_buffer_;
  std::size_t user_filled_ = 0;
  std::optional<Future<std::string>> string_read_;
  std::optional<Future<std::size_t>> into_read_;  // read_into and fill_buffer
  detail::PromiseBase* fill_waiter_ = nullptr;    // wait_buffered's coroutine

  struct PendingWrite {
    std::uint64_t end;  // the write is flushed once bytes_written_ reaches this
    Future<void> future;
  };
  /// A piece of a file queued by write_file (defined in iostream.cpp).
  struct FileSource;
  struct FileSourceFree {
    void operator()(FileSource* file) const noexcept;
  };
  /// Queued data: owned (`text`), borrowed from the caller (`borrowed`, while non-null), or read
  /// from a file as it is sent (`file`, while non-null; `data()` and `size()` do not apply).
  struct WriteChunk {
    std::string text;
    const char* borrowed = nullptr;
    std::size_t borrowed_size = 0;
    std::unique_ptr<FileSource, FileSourceFree> file;
    const char* data() const noexcept { return borrowed ? borrowed : text.data(); }
    std::size_t size() const noexcept { return borrowed ? borrowed_size : text.size(); }
  };
  detail::Fifo<WriteChunk> write_chunks_;
  std::size_t write_offset_ = 0;  // bytes of write_chunks_.front() already written
  std::size_t write_buffer_size_ = 0;
  std::uint64_t file_bytes_queued_ = 0;  // the part of write_buffer_size_ still in files
  std::uint64_t bytes_queued_ = 0;
  std::uint64_t bytes_written_ = 0;
  detail::Fifo<PendingWrite> pending_writes_;
  std::optional<Future<void>> connect_future_;

  detail::UniqueFunction<void()> close_callback_;
  // The flags together: a server holds thousands of streams.
  bool closed_ = false;
  bool handler_added_ = false;
  bool connecting_ = false;
  ReadKind read_kind_ = ReadKind::kNone;
  bool read_partial_ = false;
  bool is_socket_ = false;
  bool can_read_ = true;  // false for the write end of a pipe
  // The descriptor had nothing more to read at the last read, and the loop has not said
  // otherwise since: a new read waits for the loop instead of trying (and failing) at once.
  bool drained_ = false;
  // Data is buffered with no read pending and the loop reported more: READ is not watched until
  // the next read (backpressure). While a stream is simply between reads, READ stays watched,
  // which saves two epoll_ctl calls per request/response exchange.
  bool read_paused_ = false;
};

class IOStream::BufferWait {
 public:
  BufferWait(IOStream& stream, std::size_t min_bytes) noexcept
      : stream_(stream), min_bytes_(min_bytes) {}
  BufferWait(const BufferWait&) = delete;
  BufferWait& operator=(const BufferWait&) = delete;
  ~BufferWait() {
    if (waiting_) stream_.forget_fill_waiter();  // the frame went while suspended here
  }

  bool await_ready() const noexcept {
    return stream_.closed() || stream_.read_buffer_size() >= min_bytes_;
  }
  template <class P>
  void await_suspend(std::coroutine_handle<P> handle) {
    static_assert(std::is_base_of_v<detail::PromiseBase, P>,
                  "IOStream::wait_buffered is for squall coroutines");
    stream_.wait_fill(min_bytes_, &handle.promise());
    waiting_ = true;
  }
  void await_resume() {
    waiting_ = false;
    stream_.check_filled(min_bytes_);
  }

 private:
  IOStream& stream_;
  std::size_t min_bytes_;
  bool waiting_ = false;
};

inline IOStream::BufferWait IOStream::wait_buffered(std::size_t min_bytes) noexcept {
  return BufferWait(*this, min_bytes);
}

// ---- TLS -----------------------------------------------------------------------------------

/// A TLS failure: a handshake that failed (OpenSSL's reason in the message, and for a rejected
/// certificate the verification error, such as "hostname mismatch"), or a certificate, key or CA
/// file that cannot be loaded (the message names the file).
class SSLError : public Error {
 public:
  using Error::Error;
};

/// TLS settings, as Tornado's `ssl_options` (the arguments of Python's `SSLContext`).
struct SSLOptions {
  /// How the peer's certificate is checked (Python's CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED):
  /// kOptional verifies a certificate the peer sends, and a server asks for one without
  /// requiring it.
  enum class VerifyMode : std::uint8_t { kNone, kOptional, kRequired };
  /// The oldest protocol version accepted.
  enum class TLSVersion : std::uint8_t { kTLS1_2, kTLS1_3 };

  /// PEM file with this side's certificate chain, leaf first. Required on a server.
  std::string certfile;
  /// PEM file with the private key; empty: the key is in `certfile`.
  std::string keyfile;
  /// PEM file of CA certificates to verify the peer with; empty on a client: the system's.
  std::string ca_certs;
  /// Unset: kNone on a server, kRequired on a client (Python's defaults).
  std::optional<VerifyMode> verify_mode;
  /// A client that verifies the server also checks that the certificate is valid for the
  /// `server_hostname` given to the stream. Ignored on a server, and with VerifyMode::kNone.
  bool check_hostname = true;
  /// ALPN protocols (such as "h2", "http/1.1"), most preferred first. A server picks the first
  /// of its own that the client offers; with none in common, no protocol is selected.
  std::vector<std::string> alpn_protocols;
  /// OpenSSL cipher list for TLS 1.2 (TLS 1.3 keeps OpenSSL's suites); empty: OpenSSL's default.
  std::string ciphers;
  /// TLS 1.2 unless told otherwise; older versions are never offered.
  TLSVersion minimum_version = TLSVersion::kTLS1_2;
};

/// A TLS configuration for many streams (Python's `SSLContext`): certificates, key and CAs are
/// loaded once. Not copyable; share it with `std::shared_ptr`, as the streams made from it do.
/// Streams on several threads may share one (OpenSSL makes connections from an SSL_CTX
/// thread-safely); do not change it through `native_handle()` while streams use it.
class SSLContext {
 public:
  /// Builds the configuration of `options` for the server or the client side. Throws
  /// ValueError for options that cannot work (a server without a certfile, an empty or
  /// over-long ALPN name) and SSLError naming the file that cannot be loaded (or the cipher list
  /// that matches nothing), with OpenSSL's reason.
  SSLContext(const SSLOptions& options, bool server_side);
  /// Frees OpenSSL's context once no stream refers to it any more.
  ~SSLContext();
  SSLContext(const SSLContext&) = delete;
  SSLContext& operator=(const SSLContext&) = delete;

  /// Made for the server side (else the client side).
  bool server_side() const noexcept { return server_side_; }
  /// Client streams made from this context verify the server's hostname.
  bool check_hostname() const noexcept { return check_hostname_; }
  /// OpenSSL's SSL_CTX, for settings SSLOptions does not cover; this object owns it.
  ssl_ctx_st* native_handle() const noexcept { return context_.get(); }

 private:
  struct Free {
    void operator()(ssl_ctx_st* context) const noexcept;
  };
  std::unique_ptr<ssl_ctx_st, Free> context_;
  bool server_side_;
  bool check_hostname_ = false;
  std::string alpn_wire_;  // the server's ALPN list in wire format, for its selection callback
};

/// Makes the context of `options` for one side (Tornado's `ssl_options_to_context`); throws as
/// the SSLContext constructor.
std::shared_ptr<SSLContext> ssl_options_to_context(const SSLOptions& options, bool server_side);

/// An IOStream over TLS (Tornado's `SSLIOStream`), server or client side as its context.
///
/// The handshake starts at once on a connected descriptor (after `connect` on an unconnected
/// socket) and is driven by the loop. Reads and writes may be issued before it completes: they
/// proceed once it has. If it fails, the stream closes with the reason (StreamClosedError's
/// `real_error()` is an SSLError naming it, or an OSError for a failed system call), and every
/// pending and later read, write and `wait_for_handshake` fails. Closing a stream whose
/// handshake completed sends TLS's close_notify first when the socket takes it; an end of stream
/// without one ("unexpected eof") closes the stream with an SSLError.
class SSLIOStream : public IOStream {
 public:
  /// Takes `fd` (as IOStream) and starts TLS on it with `context`. A client sends
  /// `server_hostname` as SNI (unless it is an IP address) and, if the context checks hostnames,
  /// rejects a certificate not valid for it. Throws ValueError, leaving `fd` to the caller, for a
  /// null context or a client context that checks hostnames without a `server_hostname`; what
  /// IOStream's constructor throws; SSLError, with `fd` closed, if OpenSSL cannot make the
  /// connection.
  SSLIOStream(int fd, std::shared_ptr<SSLContext> context, std::string server_hostname = {},
              IOStreamOptions options = {});
  /// Closes the stream (sending close_notify if the handshake completed).
  ~SSLIOStream() override;

  /// A Future done once the handshake has completed (at once if it has); it fails with
  /// StreamClosedError, whose real error is the reason, if the stream closes first. May be
  /// called any number of times.
  Future<void> wait_for_handshake();
  /// Connects the unconnected socket to `address`, then handshakes; the Future completes once
  /// the handshake has, and fails as `wait_for_handshake`'s. Throws InvalidStateError if the
  /// stream was connected when made, or connected already.
  Future<void> connect(const SocketAddress& address) override;

  /// The handshake has completed.
  bool handshake_done() const noexcept { return handshake_ == Handshake::kDone; }
  /// The server side of the connection (the context's side).
  bool server_side() const noexcept { return context_->server_side(); }
  /// The name a client sends and verifies (empty on a server).
  const std::string& server_hostname() const noexcept { return server_hostname_; }
  /// The ALPN protocol the handshake selected, or an empty string (none, or not done yet).
  std::string selected_alpn_protocol() const;
  /// The negotiated protocol version ("TLSv1.3", "TLSv1.2"), empty before the handshake.
  std::string version() const;
  /// The context the stream was made with.
  const std::shared_ptr<SSLContext>& context() const noexcept { return context_; }

 protected:
  /// SSL_read, SSL_write, the handshake's events, and the handshake driven on any event; see
  /// IOStream for each contract. Reads and writes wait (EAGAIN) until the handshake is done.
  ssize_t read_from_fd(std::span<char> buffer) override;
  ssize_t write_to_fd(const iovec* iov, int count) override;
  /// Never: file bytes must be encrypted, so they go through SSL_write.
  bool can_sendfile() const noexcept override { return false; }
  std::uint32_t events_to_watch(std::uint32_t wanted) const noexcept override;
  void handle_events(std::uint32_t events) override;
  void close_fd() noexcept override;
  bool input_may_be_buffered() const noexcept override { return true; }

 private:
  /// kUnconnected: an unconnected socket, until connect() (then kConnecting) has connected it.
  enum class Handshake : std::uint8_t { kUnconnected, kConnecting, kInProgress, kDone, kFailed };
  struct Free {
    void operator()(ssl_st* ssl) const noexcept;
  };

  void start_handshake();
  /// One step of the handshake; true once it has completed. May close the stream.
  bool do_handshake();
  /// Runs the pending read or write the handshake held back, now that it has completed.
  void resume_after_handshake(std::uint32_t events);
  /// Closes the stream after an error that forbids any further TLS I/O.
  void fail(std::exception_ptr error);
  /// What a failed SSL_read or SSL_write (`ssl_error`, with errno `saved_errno`) means.
  std::exception_ptr io_error(int ssl_error, int saved_errno, const char* operation);
  /// Plaintext OpenSSL holds already does not wake the loop: a callback reads it.
  void schedule_pending_read();

  std::shared_ptr<SSLContext> context_;
  std::string server_hostname_;
  std::unique_ptr<ssl_st, Free> ssl_;
  Handshake handshake_ = Handshake::kUnconnected;
  std::uint32_t handshake_wants_ = 0;  // READ or WRITE: what the handshake waits for
  bool read_wants_write_ = false;      // SSL_read could not go on until the socket takes data
  bool write_wants_read_ = false;      // SSL_write could not go on until data arrives
  bool fatal_ = false;                 // a fatal TLS error: no close_notify
  bool pending_read_scheduled_ = false;
  // What ended the last SSL_read that gave data too, reported by the next read_from_fd.
  enum class ReadEnd : std::uint8_t { kNone, kEndOfStream, kError };
  ReadEnd read_end_ = ReadEnd::kNone;
  std::exception_ptr read_error_;
  std::optional<Future<void>> handshake_future_;
  std::optional<Future<void>> connecting_;  // IOStream::connect's, while it is pending
  // Callbacks queued on the loop hold a weak reference: a destroyed stream is not touched.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace squall
