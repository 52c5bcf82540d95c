#include "squall/net/iostream.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <mutex>

#include "core/loop_impl.hpp"
#include "squall/util/log.hpp"

namespace squall {
namespace {

constexpr std::size_t kCoalesceBytes = 4096;  // small writes join the last queued chunk
constexpr int kMaxIovecs = 64;
constexpr std::size_t kFairShareChunks = 4;  // chunks read per event before others get a turn
// A stream releases its read buffer whenever it is emptied (an idle stream holds none), and
// reads into a small one first: most messages (requests, frames) fit, and a read that fills it
// grows the buffer to read_chunk_size. Small buffers are recycled through a per-thread pool, as
// request/response traffic would otherwise allocate and free one per message.
constexpr std::size_t kPooledBufferSize = 4096;
constexpr std::size_t kMaxPooledBuffers = 512;  // 2 MiB per thread at most
// write_file: the piece read at a time where sendfile cannot be used, and the most one sendfile
// call is asked for (Linux caps a call at 2 GiB anyway).
constexpr std::size_t kFileBufferSize = std::size_t{64} << 10;
constexpr std::size_t kMaxSendfileBytes = std::size_t{1} << 30;
constexpr std::uint64_t kMaxFileOffset = static_cast<std::uint64_t>(INT64_MAX);

std::vector<std::unique_ptr<char[]>>& buffer_pool() {
  thread_local std::vector<std::unique_ptr<char[]>> pool;
  return pool;
}

std::string closed_message(const std::exception_ptr& real_error) {
  if (!real_error) return "Stream is closed";
  return "Stream is closed: " + log::describe(real_error);
}

std::exception_ptr os_error(int code, const char* call) {
  return std::make_exception_ptr(OSError(code, call));
}

/// Writing to a pipe whose reader is gone raises SIGPIPE, which kills the process by default;
/// a stream reports EPIPE instead. Sockets use MSG_NOSIGNAL and need none of this.
void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      signal(SIGPIPE, SIG_IGN);
    }
  });
}

}  // namespace

StreamClosedError::StreamClosedError(std::exception_ptr real_error)
    : Error(closed_message(real_error)), real_error_(std::move(real_error)) {}

// ---- ReadBuffer ----------------------------------------------------------------------------

namespace detail {

std::span<char> ReadBuffer::reserve(std::size_t n) {
  if (capacity_ - end_ < n) {
    std::size_t used = size();
    // Compact only when what is moved is no more than what was consumed since the last move:
    // each byte then moves a bounded number of times, and reading stays linear.
    if (begin_ >= used && capacity_ - used >= n) {
      std::memmove(data_.get(), data_.get() + begin_, used);
    } else {
      std::size_t capacity = std::max({capacity_ * 2, used + n, std::size_t{4096}});
      std::unique_ptr<char[]> fresh;
      auto& pool = buffer_pool();
      if (capacity == kPooledBufferSize && !pool.empty()) {
        fresh = std::move(pool.back());
        pool.pop_back();
      } else {
        fresh = std::make_unique_for_overwrite<char[]>(capacity);
      }
      if (used) std::memcpy(fresh.get(), data_.get() + begin_, used);
      data_ = std::move(fresh);
      capacity_ = capacity;
    }
    begin_ = 0;
    end_ = used;
  }
  return {data_.get() + end_, capacity_ - end_};
}

void ReadBuffer::consume(std::size_t n) noexcept {
  begin_ += n;
  if (begin_ == end_) begin_ = end_ = 0;
}

std::string ReadBuffer::take(std::size_t n) {
  std::string out(data_.get() + begin_, n);
  consume(n);
  return out;
}

void ReadBuffer::release_if_empty() noexcept {
  if (empty() && data_) {
    auto& pool = buffer_pool();
    if (capacity_ == kPooledBufferSize && pool.size() < kMaxPooledBuffers) {
      pool.push_back(std::move(data_));
    }
    data_.reset();
    capacity_ = begin_ = end_ = 0;
  }
}

}  // namespace detail

// ---- IOStream ------------------------------------------------------------------------------

struct IOStream::FileSource {
  FileSource(int fd, std::uint64_t offset, std::uint64_t count, bool use_pread)
      : fd(fd), use_pread(use_pread), offset(offset), remaining(count) {}
  ~FileSource() {
    if (owned) ::close(fd);
  }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  int fd;
  bool owned = false;       // fd is the stream's duplicate (else the caller's, during write_file)
  bool use_pread;           // sendfile cannot be used: pieces are read into `staging` and written
  std::uint64_t offset;     // the next byte of the file to send, or to read into `staging`
  std::uint64_t remaining;  // bytes not handed to the kernel yet (those staged included)
  std::unique_ptr<char[]> staging;
  std::size_t staged_begin = 0;
  std::size_t staged_end = 0;
};

void IOStream::FileSourceFree::operator()(FileSource* file) const noexcept {
  delete file;
}

IOStream::IOStream(int fd, IOStreamOptions options)
    : loop_(&IOLoop::current()), fd_(fd), options_(options) {
  if (fd < 0) throw ValueError("IOStream: negative file descriptor");
  if (options_.read_chunk_size == 0) throw ValueError("IOStream: read_chunk_size must be positive");
  int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0 || ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK) < 0) {
    throw OSError(errno, "IOStream: fcntl(O_NONBLOCK)");
  }
  struct stat info {};
  is_socket_ = ::fstat(fd_, &info) == 0 && S_ISSOCK(info.st_mode);
  can_read_ = (flags & O_ACCMODE) != O_WRONLY;
  if (!is_socket_) ignore_sigpipe_once();
}

IOStream::~IOStream() {
  close();
}

// ---- reads ---------------------------------------------------------------------------------

void IOStream::start_read(ReadKind kind) {
  if (reading()) throw InvalidStateError("IOStream: already reading");
  read_kind_ = kind;
  read_paused_ = false;
}

Future<std::string> IOStream::read_until(std::string_view delimiter, std::size_t max_bytes) {
  if (delimiter.empty()) throw ValueError("read_until: empty delimiter");
  start_read(ReadKind::kDelimiter);
  delimiter_.assign(delimiter);
  scan_from_ = 0;
  read_target_ = max_bytes;
  Future<std::string> future = string_read_.emplace();
  begin_read();
  return future;
}

Future<std::string> IOStream::read_bytes(std::size_t num_bytes, bool partial) {
  start_read(ReadKind::kBytes);
  read_target_ = num_bytes;
  read_partial_ = partial;
  Future<std::string> future = string_read_.emplace();
  begin_read();
  return future;
}

Future<std::size_t> IOStream::read_into(std::span<char> buffer, bool partial) {
  start_read(ReadKind::kInto);
  user_buffer_ = buffer;
  user_filled_ = 0;
  read_partial_ = partial;
  Future<std::size_t> future = into_read_.emplace();
  begin_read();
  return future;
}

Future<std::string> IOStream::read_until_close() {
  start_read(ReadKind::kUntilClose);
  Future<std::string> future = string_read_.emplace();
  if (closed_) {
    finish_close();  // the stream is closed already: the buffered data is the whole answer
  } else {
    begin_read();
  }
  return future;
}

Future<std::size_t> IOStream::fill_buffer(std::size_t min_bytes) {
  start_read(ReadKind::kFill);
  read_target_ = min_bytes;
  Future<std::size_t> future = into_read_.emplace();
  if (closed_) {
    fail_pending(error_);
  } else {
    begin_read();
  }
  return future;
}

void IOStream::wait_fill(std::size_t min_bytes, detail::PromiseBase* waiter) {
  start_read(ReadKind::kFill);
  read_target_ = min_bytes;
  fill_waiter_ = waiter;
  if (closed_) {
    fail_pending(error_);
  } else {
    begin_read();
  }
}

void IOStream::check_filled(std::size_t min_bytes) const {
  if (read_buffer_.size() < min_bytes) throw StreamClosedError(error_);
}

void IOStream::forget_fill_waiter() noexcept {
  // (Woken already, the resumption is queued: a frame goes only when its loop closes, which
  // drops the queue too.)
  if (fill_waiter_ == nullptr) return;
  fill_waiter_ = nullptr;
  read_kind_ = ReadKind::kNone;
}

void IOStream::wake_fill_waiter() noexcept {
  detail::PromiseBase* waiter = std::exchange(fill_waiter_, nullptr);
  read_kind_ = ReadKind::kNone;
  detail::schedule_waiter(detail::ResumePromise{waiter}, nullptr);
}

void IOStream::consume(std::size_t n) {
  if (reading()) throw InvalidStateError("IOStream: consume while a read is pending");
  read_buffer_.consume(std::min(n, read_buffer_.size()));
  if (read_buffer_.empty()) {
    read_buffer_.release_if_empty();
    update_events();  // an empty buffer watches for the peer's close again
  }
}

void IOStream::begin_read() {
  // As Tornado: the buffer may satisfy the read at once; else try the descriptor now, which
  // saves a trip through the loop when the data is there already.
  if (try_finish_read()) {
    update_events();
    return;
  }
  if (closed_) {
    fail_pending(error_);
    return;
  }
  if (drained_ && !input_may_be_buffered()) {
    update_events();  // nothing to read yet: the loop says when there is
    return;
  }
  bool open = read_kind_ == ReadKind::kInto && read_buffer_.empty() ? read_into_user_buffer()
                                                                    : read_to_buffer();
  if (open) {
    try_finish_read();
    update_events();
  }
}

std::optional<std::size_t> IOStream::satisfiable_size() {
  const std::size_t buffered = read_buffer_.size();
  switch (read_kind_) {
    case ReadKind::kNone:
    case ReadKind::kUntilClose:
      return std::nullopt;
    case ReadKind::kFill:
      if (buffered >= read_target_) return buffered;
      return std::nullopt;
    case ReadKind::kBytes:
      if (buffered >= read_target_) return read_target_;
      if (read_partial_ && buffered > 0) return buffered;
      return std::nullopt;
    case ReadKind::kInto: {
      std::size_t wanted = user_buffer_.size() - user_filled_;
      if (buffered >= wanted) return wanted;
      if (read_partial_ && (buffered > 0 || user_filled_ > 0)) return buffered;
      return std::nullopt;
    }
    case ReadKind::kDelimiter: {
      std::string_view data = read_buffer_.view();
      std::size_t found = data.find(delimiter_, scan_from_);
      if (found != std::string_view::npos) return found + delimiter_.size();
      // Resume after what was searched, keeping room for a delimiter split across reads.
      scan_from_ = data.size() >= delimiter_.size() ? data.size() - delimiter_.size() + 1 : 0;
      return std::nullopt;
    }
  }
  return std::nullopt;
}

bool IOStream::try_finish_read() {
  if (!reading()) return false;
  std::optional<std::size_t> size = satisfiable_size();
  if (read_kind_ == ReadKind::kDelimiter) {
    std::size_t seen = size ? *size : read_buffer_.size();
    if (seen > read_target_) {
      close(std::make_exception_ptr(UnsatisfiableReadError(
          "read_until: delimiter not found within " + std::to_string(read_target_) + " bytes")));
      return true;
    }
  }
  if (!size) return false;
  if (fill_waiter_ != nullptr) {
    wake_fill_waiter();  // the data stays buffered for the coroutine
    return true;
  }
  ReadKind kind = std::exchange(read_kind_, ReadKind::kNone);
  if (kind == ReadKind::kFill) {
    Future<std::size_t> future = std::move(*into_read_);
    into_read_.reset();
    future.set_result(*size);
    return true;  // the data stays buffered for the caller
  }
  if (kind == ReadKind::kInto) {
    if (*size > 0) {  // an empty buffer may have no array at all
      std::memcpy(user_buffer_.data() + user_filled_, read_buffer_.view().data(), *size);
      read_buffer_.consume(*size);
    }
    Future<std::size_t> future = std::move(*into_read_);
    into_read_.reset();
    user_buffer_ = {};
    future.set_result(user_filled_ + *size);
  } else {
    Future<std::string> future = std::move(*string_read_);
    string_read_.reset();
    future.set_result(read_buffer_.take(*size));
  }
  read_buffer_.release_if_empty();  // an idle stream holds no buffer
  return true;
}

bool IOStream::read_to_buffer() {
  for (std::size_t chunks = 0; chunks < kFairShareChunks; ++chunks) {
    if (read_buffer_.size() >= options_.max_buffer_size) {
      close(std::make_exception_ptr(StreamBufferFullError("Reached maximum read buffer size (" +
                                                          std::to_string(options_.max_buffer_size) +
                                                          " bytes)")));
      return false;
    }
    // Start small; the buffer doubles (up to read_chunk_size at a time) while reads fill it.
    std::span<char> tail = read_buffer_.reserve(
        std::min(options_.read_chunk_size, std::max(kPooledBufferSize, read_buffer_.capacity())));
    std::size_t ask = std::min(tail.size(), options_.read_chunk_size);
    ssize_t n = read_from_fd(tail.first(ask));
    if (n > 0) {
      read_buffer_.commit(static_cast<std::size_t>(n));
      if (static_cast<std::size_t>(n) < ask) {
        drained_ = true;
        break;
      }
      if (satisfiable_size()) break;
      continue;
    }
    if (n == 0) {
      close();  // end of stream
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      drained_ = true;
      break;
    }
    close(os_error(errno, "read"));
    return false;
  }
  read_buffer_.release_if_empty();
  return true;
}

bool IOStream::read_into_user_buffer() {
  while (user_filled_ < user_buffer_.size()) {
    ssize_t n = read_from_fd(user_buffer_.subspan(user_filled_));
    if (n > 0) {
      user_filled_ += static_cast<std::size_t>(n);
      if (read_partial_) break;
      continue;
    }
    if (n == 0) {
      close();
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      drained_ = true;
      break;
    }
    close(os_error(errno, "read"));
    return false;
  }
  return true;
}

ssize_t IOStream::read_from_fd(std::span<char> buffer) {
  return ::read(fd_, buffer.data(), buffer.size());
}

// ---- writes --------------------------------------------------------------------------------

Future<void> IOStream::write(std::string_view data) {
  if (!closed_ && write_chunks_.empty() && !connecting_ && !data.empty() &&
      data.size() <= options_.max_write_buffer_size) {
    std::size_t sent = write_now(data);
    if (closed_) {
      return make_exceptional_future<void>(std::make_exception_ptr(StreamClosedError(error_)));
    }
    if (sent == data.size()) return make_ready_future();
    data.remove_prefix(sent);  // the rest is copied and queued
  }
  return queue_write(std::string(data));
}

std::size_t IOStream::write_now(std::string_view data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    iovec iov{const_cast<char*>(data.data()) + sent, data.size() - sent};
    ssize_t n = write_to_fd(&iov, 1);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) close(os_error(errno, "write"));
    break;
  }
  bytes_queued_ += sent;
  bytes_written_ += sent;
  return sent;
}

Future<void> IOStream::write(std::string&& data) {
  return queue_write(std::move(data));
}

Future<void> IOStream::write_borrowed(std::span<const char> data) {
  if (data.size() <= kCoalesceBytes) return queue_write(std::string(data.data(), data.size()));
  return queue_write({}, data);
}

Future<void> IOStream::queue_write(std::string&& text, std::span<const char> borrowed) {
  std::string_view data = borrowed.empty() ? std::string_view(text)
                                           : std::string_view(borrowed.data(), borrowed.size());
  if (closed_)
    return make_exceptional_future<void>(std::make_exception_ptr(StreamClosedError(error_)));
  if (data.size() > options_.max_write_buffer_size - (write_buffer_size_ - file_bytes_queued_)) {
    return make_exceptional_future<void>(std::make_exception_ptr(
        StreamBufferFullError("Reached maximum write buffer size (" +
                              std::to_string(options_.max_write_buffer_size) + " bytes)")));
  }
  if (write_chunks_.empty() && !connecting_ && !data.empty()) {
    // Nothing queued: hand the data to the kernel now, and keep only what it did not take.
    std::size_t sent = write_now(data);
    if (closed_) {
      return make_exceptional_future<void>(std::make_exception_ptr(StreamClosedError(error_)));
    }
    if (sent == data.size()) return make_ready_future();
    data.remove_prefix(sent);
    if (borrowed.empty()) {
      text.erase(0, sent);
      data = text;
    } else {
      borrowed = borrowed.subspan(sent);
    }
  }
  Future<void> future;
  if (data.empty() && write_chunks_.empty()) {
    future.set_result();
    return future;
  }
  std::size_t n = data.size();
  if (!borrowed.empty()) {
    write_chunks_.push_back(WriteChunk{{}, borrowed.data(), borrowed.size(), nullptr});
  } else if (!write_chunks_.empty() && !write_chunks_.back().borrowed &&
             !write_chunks_.back().file && write_chunks_.back().text.size() + n <= kCoalesceBytes) {
    write_chunks_.back().text.append(data);
  } else if (n > 0) {
    write_chunks_.push_back(WriteChunk{std::move(text), nullptr, 0, nullptr});
  }
  write_buffer_size_ += n;
  bytes_queued_ += n;
  pending_writes_.push_back(PendingWrite{bytes_queued_, future});
  if (!connecting_) handle_write();
  if (!closed_) update_events();
  return future;
}

ssize_t IOStream::write_to_fd(const iovec* iov, int count) {
  if (is_socket_ && count == 1) {
    // One buffer (the common case): send() skips sendmsg's copying in of a msghdr and iovec.
    return ::send(fd_, iov->iov_base, iov->iov_len, MSG_NOSIGNAL);
  }
  if (is_socket_) {
    msghdr message{};
    message.msg_iov = const_cast<iovec*>(iov);
    message.msg_iovlen = static_cast<std::size_t>(count);
    return ::sendmsg(fd_, &message, MSG_NOSIGNAL);
  }
  return ::writev(fd_, iov, count);
}

void IOStream::handle_write() {
  while (!write_chunks_.empty()) {
    if (write_chunks_.front().file) {
      if (!write_file_chunk()) break;
      continue;
    }
    iovec iov[kMaxIovecs];
    int count = 0;
    std::size_t attempted = 0;
    std::size_t offset = write_offset_;
    // Memory chunks up to the next file chunk go in one call.
    for (auto it = write_chunks_.begin();
         it != write_chunks_.end() && count < kMaxIovecs && !it->file; ++it) {
      iov[count].iov_base = const_cast<char*>(it->data()) + offset;
      iov[count].iov_len = it->size() - offset;
      attempted += iov[count].iov_len;
      offset = 0;
      ++count;
    }
    ssize_t n = write_to_fd(iov, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      close(os_error(errno, "write"));
      return;
    }
    auto written = static_cast<std::size_t>(n);
    bytes_written_ += written;
    write_buffer_size_ -= written;
    while (written > 0) {
      std::size_t available = write_chunks_.front().size() - write_offset_;
      if (written >= available) {
        written -= available;
        write_chunks_.pop_front();
        write_offset_ = 0;
      } else {
        write_offset_ += written;
        written = 0;
      }
    }
    if (static_cast<std::size_t>(n) < attempted) break;  // the kernel's buffer is full
  }
  while (!pending_writes_.empty() && pending_writes_.front().end <= bytes_written_) {
    Future<void> done = std::move(pending_writes_.front().future);
    pending_writes_.pop_front();
    done.set_result();
  }
}

// ---- files ---------------------------------------------------------------------------------

Future<void> IOStream::write_file(int fd, std::uint64_t offset, std::uint64_t count) {
  if (fd < 0) throw ValueError("write_file: negative file descriptor");
  if (offset > kMaxFileOffset || count > kMaxFileOffset - offset) {
    throw ValueError("write_file: the range ends past the largest file offset");
  }
  if (closed_)
    return make_exceptional_future<void>(std::make_exception_ptr(StreamClosedError(error_)));
  if (count == 0) return queue_write(std::string());  // done in turn with the writes before it
  const bool sendfile = can_sendfile();
  if (sendfile && is_socket_) ignore_sigpipe_once();
  std::unique_ptr<FileSource, FileSourceFree> source(new FileSource(fd, offset, count, !sendfile));
  // With nothing queued the file is sent now from the caller's descriptor, and duplicated only
  // if some of it must wait: a file that fits in the socket's buffer costs no dup.
  const bool direct = write_chunks_.empty() && !connecting_;
  if (!direct) {
    int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) {
      return make_exceptional_future<void>(os_error(errno, "write_file: fcntl(F_DUPFD_CLOEXEC)"));
    }
    source->fd = copy;
    source->owned = true;
  }
  FileSource* queued = source.get();
  write_chunks_.push_back(WriteChunk{{}, nullptr, 0, std::move(source)});
  write_buffer_size_ += count;
  file_bytes_queued_ += count;
  bytes_queued_ += count;
  Future<void> future;
  pending_writes_.push_back(PendingWrite{bytes_queued_, future});
  if (direct) {
    handle_write();
    if (!closed_ && !write_chunks_.empty() && write_chunks_.back().file.get() == queued &&
        !queued->owned) {
      int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
      if (copy < 0) {
        close(os_error(errno, "write_file: fcntl(F_DUPFD_CLOEXEC)"));
        return future;
      }
      queued->fd = copy;
      queued->owned = true;
    }
  }
  if (!closed_) update_events();
  return future;
}

bool IOStream::write_file_chunk() {
  FileSource& file = *write_chunks_.front().file;
  auto account = [&](std::size_t n) {
    file.remaining -= n;
    bytes_written_ += n;
    write_buffer_size_ -= n;
    file_bytes_queued_ -= n;
  };
  auto truncated = [&] {
    return std::make_exception_ptr(Error(
        "write_file: the file ended at byte " + std::to_string(file.offset) + ", " +
        std::to_string(file.remaining) + " bytes short of the range (truncated while sent?)"));
  };
  while (file.remaining > 0) {
    if (!file.use_pread) {
      auto ask =
          static_cast<std::size_t>(std::min<std::uint64_t>(file.remaining, kMaxSendfileBytes));
      auto position = static_cast<off_t>(file.offset);
      ssize_t n = ::sendfile(fd_, file.fd, &position, ask);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
        if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
          file.use_pread = true;  // this pair of descriptors cannot splice: copy instead
          continue;
        }
        close(os_error(errno, "sendfile"));
        return false;
      }
      if (n == 0) {
        close(truncated());
        return false;
      }
      file.offset += static_cast<std::uint64_t>(n);
      account(static_cast<std::size_t>(n));
      // A short count: the socket's buffer is full (or the file ended, which the next call sees).
      if (static_cast<std::size_t>(n) < ask) return false;
      continue;
    }
    if (file.staged_begin == file.staged_end) {
      if (!file.staging) file.staging = std::make_unique_for_overwrite<char[]>(kFileBufferSize);
      auto ask = static_cast<std::size_t>(std::min<std::uint64_t>(file.remaining, kFileBufferSize));
      ssize_t n = ::pread(file.fd, file.staging.get(), ask, static_cast<off_t>(file.offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        close(os_error(errno, "write_file: pread"));
        return false;
      }
      if (n == 0) {
        close(truncated());
        return false;
      }
      file.offset += static_cast<std::uint64_t>(n);
      file.staged_begin = 0;
      file.staged_end = static_cast<std::size_t>(n);
    }
    // The staged bytes stay where they are until written: a TLS write that must be retried is
    // retried with the same bytes, as OpenSSL requires.
    iovec iov{file.staging.get() + file.staged_begin, file.staged_end - file.staged_begin};
    ssize_t n = write_to_fd(&iov, 1);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return false;  // (or write_to_fd closed it)
      close(os_error(errno, "write"));
      return false;
    }
    file.staged_begin += static_cast<std::size_t>(n);
    account(static_cast<std::size_t>(n));
    if (static_cast<std::size_t>(n) < iov.iov_len) return false;
  }
  write_chunks_.pop_front();  // closes the duplicate
  return true;
}

// ---- connect -------------------------------------------------------------------------------

Future<void> IOStream::connect(const SocketAddress& address) {
  if (closed_)
    return make_exceptional_future<void>(std::make_exception_ptr(StreamClosedError(error_)));
  if (connecting_) throw InvalidStateError("IOStream: already connecting");
  Future<void> future = connect_future_.emplace();
  int rc;
  do {
    rc = ::connect(fd_, address.get(), address.length());
  } while (rc != 0 && errno == EINTR);
  if (rc == 0) {
    connect_future_.reset();
    future.set_result();
    if (writing()) handle_write();
  } else if (errno == EINPROGRESS) {
    connecting_ = true;
  } else {
    close(os_error(errno, ("connect to " + address.to_string()).c_str()));
    return future;
  }
  if (!closed_) update_events();
  return future;
}

// ---- events --------------------------------------------------------------------------------

void IOStream::update_events() {
  if (closed_) return;
  std::uint32_t want = 0;
  // Reading: a pending read, or an empty buffer (so a peer's close is noticed while idle). Data
  // buffered with no reader stops the reading: that is the backpressure on the peer.
  if (!connecting_ && can_read_ && (reading() || read_buffer_.empty() || !read_paused_)) {
    want |= IOLoop::READ;
  }
  if (connecting_ || writing()) want |= IOLoop::WRITE;
  want = events_to_watch(want);
  if (want == watched_ && (handler_added_ || want == 0)) return;
  if (want == 0) {
    // Watching nothing, errors included: a hung-up descriptor would otherwise wake the loop
    // again and again.
    loop_->remove_handler(fd_);
    handler_added_ = false;
  } else if (!handler_added_) {
    loop_->add_handler(fd_, want, [this](int, std::uint32_t events) { handle_events(events); });
    handler_added_ = true;
  } else {
    loop_->update_handler(fd_, want);
  }
  watched_ = want;
}

void IOStream::handle_events(std::uint32_t events) {
  if (connecting_ && (events & (IOLoop::WRITE | IOLoop::ERROR))) {
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
    if (error != 0 || (events & IOLoop::ERROR)) {
      close(os_error(error ? error : ECONNREFUSED, "connect"));
      return;
    }
    connecting_ = false;
    Future<void> connected = std::move(*connect_future_);
    connect_future_.reset();
    connected.set_result();
  }
  if (events & (IOLoop::READ | IOLoop::ERROR)) {
    drained_ = false;
    if (reading() || read_buffer_.empty() || (events & IOLoop::ERROR)) {
      bool open = read_kind_ == ReadKind::kInto && read_buffer_.empty() ? read_into_user_buffer()
                                                                        : read_to_buffer();
      if (!open) return;
      try_finish_read();
      if (closed_) return;
    } else {
      read_paused_ = true;  // data waits unread: stop watching until the next read
    }
  }
  if (events & (IOLoop::WRITE | IOLoop::ERROR)) {
    if (writing()) handle_write();
    if (closed_) return;
  }
  if (events & IOLoop::ERROR) {
    int error = 0;
    socklen_t length = sizeof error;
    if (is_socket_ && ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error) {
      close(os_error(error, "socket"));
      return;
    }
    if (!can_read_) {
      close();  // the write end of a pipe whose reader is gone
      return;
    }
    // A hang-up with no error: the peer is done, but what it sent may still be in the kernel.
    // Reading goes on (a fair share per event) until the end of the stream closes the stream.
  }
  update_events();
}

// ---- close ---------------------------------------------------------------------------------

void IOStream::set_close_callback(detail::UniqueFunction<void()> callback) {
  if (closed_) {
    if (callback && !loop_->closed()) loop_->add_callback(std::move(callback));
    return;
  }
  close_callback_ = std::move(callback);
  update_events();
}

// The Futures a closing stream fails are marked retrieved (as Tornado does): a coroutine that
// awaits one still gets the error, but one that never will (its loop is closing) logs nothing.
void IOStream::fail_pending(const std::exception_ptr& error) {
  if (fill_waiter_ != nullptr) wake_fill_waiter();  // it finds the stream closed
  auto closed = std::make_exception_ptr(StreamClosedError(error));
  if (string_read_) {
    Future<std::string> future = std::move(*string_read_);
    string_read_.reset();
    read_kind_ = ReadKind::kNone;
    future.set_exception(closed);
    static_cast<void>(future.exception());  // retrieved: see fail_pending
  }
  if (into_read_) {
    Future<std::size_t> future = std::move(*into_read_);
    into_read_.reset();
    read_kind_ = ReadKind::kNone;
    user_buffer_ = {};
    future.set_exception(closed);
    static_cast<void>(future.exception());  // retrieved: see fail_pending
  }
}

void IOStream::finish_close() {
  // What the buffer can still give: the rest of the stream, or a partial read.
  if (read_kind_ == ReadKind::kUntilClose) {
    read_kind_ = ReadKind::kNone;
    Future<std::string> future = std::move(*string_read_);
    string_read_.reset();
    future.set_result(read_buffer_.take(read_buffer_.size()));
  } else if (reading()) {
    if (!try_finish_read() && read_kind_ == ReadKind::kInto && read_partial_ && user_filled_ > 0) {
      read_kind_ = ReadKind::kNone;
      Future<std::size_t> future = std::move(*into_read_);
      into_read_.reset();
      future.set_result(user_filled_);
    }
    if (reading()) fail_pending(error_);
  }
}

void IOStream::close(std::exception_ptr error) {
  if (closed_) return;
  closed_ = true;
  if (error) error_ = std::move(error);
  if (handler_added_) {
    loop_->remove_handler(fd_);
    handler_added_ = false;
  }
  close_fd();
  finish_close();
  auto closed = std::make_exception_ptr(StreamClosedError(error_));
  while (!pending_writes_.empty()) {
    Future<void> future = std::move(pending_writes_.front().future);
    pending_writes_.pop_front();
    future.set_exception(closed);
    static_cast<void>(future.exception());  // retrieved: see fail_pending
  }
  write_chunks_.clear();  // closes the duplicates of queued files
  write_buffer_size_ = 0;
  file_bytes_queued_ = 0;
  if (connect_future_) {
    Future<void> future = std::move(*connect_future_);
    connect_future_.reset();
    connecting_ = false;
    future.set_exception(closed);
    static_cast<void>(future.exception());  // retrieved: see fail_pending
  }
  if (close_callback_ && !loop_->closed()) {
    try {
      loop_->add_callback(std::move(close_callback_));
    } catch (...) {
      // The loop is closing: nothing will run, as for every other queued callback.
    }
  }
  read_buffer_.release_if_empty();
}

void IOStream::close_fd() noexcept {
  ::close(fd_);
}

int IOStream::release_fd(detail::UniqueFunction<void()>& close_callback) {
  if (closed_ || reading() || writing() || connecting_ || !read_buffer_.empty()) {
    throw InvalidStateError("IOStream is not idle; cannot convert to SSL");
  }
  if (handler_added_) {
    loop_->remove_handler(fd_);
    handler_added_ = false;
  }
  closed_ = true;
  close_callback = std::move(close_callback_);
  read_buffer_.release_if_empty();
  return std::exchange(fd_, -1);
}

void IOStream::set_nodelay(bool value) {
  if (!is_socket_ || closed_) return;
  int flag = value ? 1 : 0;
  // Fails harmlessly on sockets without TCP (Unix-domain).
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &flag, sizeof flag);
}

}  // namespace squall
