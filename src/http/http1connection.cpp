// The HTTP/1.1 server connection: a read loop over the stream's buffer (parsing in place), and a
// response writer that coalesces what a batch of requests writes into one write.

#include "squall/http/http1connection.hpp"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <ctime>
#include <string_view>
#include <vector>

#include "http/header_words.hpp"
#include "http/http1_parser.hpp"
#include "http/text.hpp"
#include "spdlog/spdlog.h"
#include "squall/core/detail/small_alloc.hpp"
#include "squall/util/log.hpp"

namespace squall {
namespace {

using http_text::append_decimal;
using http_text::append_hex;
using http_text::iequals;
using http_text::lists_token;

using namespace std::string_view_literals;
using Clock = std::chrono::steady_clock;

// Response bytes buffered before they are written even while a batch is being dispatched.
constexpr std::size_t kFlushThreshold = std::size_t{64} << 10;
// Bytes queued in the stream past which reading pipelined requests waits for the client to read.
constexpr std::size_t kMaxQueuedResponseBytes = std::size_t{1} << 20;
// Pieces of a file up to this size are copied into the response buffer: they go out with the
// head and the rest of the batch in one write, where sendfile would cost a call (and a packet)
// of its own.
constexpr std::uint64_t kInlineFileBytes = std::uint64_t{16} << 10;

// Reads `count` bytes of `fd` from `offset` into `into` (which has room): nullptr, or why not.
std::exception_ptr read_file_range(int fd, std::uint64_t offset, std::size_t count, char* into) {
  std::size_t got = 0;
  while (got < count) {
    ssize_t n = ::pread(fd, into + got, count - got, static_cast<off_t>(offset + got));
    if (n > 0) {
      got += static_cast<std::size_t>(n);
    } else if (n == 0) {
      return std::make_exception_ptr(
          Error("write_file: the file ended at byte " + std::to_string(offset + got) + ", " +
                std::to_string(count - got) + " bytes short of the range (truncated while sent?)"));
    } else if (errno != EINTR) {
      return std::make_exception_ptr(OSError(errno, "write_file: pread"));
    }
  }
  return nullptr;
}

// Throws ValueError for arguments IOStream::write_file would refuse.
void check_file_range(int fd, std::uint64_t offset, std::uint64_t count) {
  constexpr auto kMaxOffset = static_cast<std::uint64_t>(INT64_MAX);
  if (fd < 0) throw ValueError("write_file: negative file descriptor");
  if (offset > kMaxOffset || count > kMaxOffset - offset) {
    throw ValueError("write_file: the range ends past the largest file offset");
  }
}

bool has_forbidden_char(std::string_view s) noexcept {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return true;
  }
  return false;
}

// The Date header's value, formatted once per second per thread.
std::string_view http_date_now() {
  thread_local std::time_t cached_second = -1;
  thread_local std::string cached;
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME_COARSE, &now);
  if (now.tv_sec != cached_second) {
    cached_second = now.tv_sec;
    cached = httputil::format_timestamp(std::chrono::system_clock::from_time_t(now.tv_sec));
  }
  return cached;
}

// Output buffers of connections gone idle, for the next response on this thread.
std::vector<std::string>& output_stock() {
  thread_local std::vector<std::string> stock;
  return stock;
}

// Gives `out` (empty) a buffer of at least 512 bytes, from the stock if it has one.
void take_output_buffer(std::string& out) {
  std::vector<std::string>& stock = output_stock();
  if (!stock.empty() && out.empty()) {
    out.swap(stock.back());
    stock.pop_back();
    out.clear();
  }
  if (out.capacity() < 512) out.reserve(512);
}

http1::ParseError& thread_parse_error() {
  thread_local http1::ParseError error;
  return error;
}

http1::RequestHead& thread_request_head() {
  thread_local http1::RequestHead head;
  return head;
}

// A body too large for the request's limit (answered with 413).
struct BodyTooLarge {};

// Inflates a gzip'ed request body (RFC 1952), piece by piece.
class GzipInflater {
 public:
  GzipInflater() {
    if (inflateInit2(&stream_, 16 + MAX_WBITS) != Z_OK) throw Error("zlib: inflateInit2 failed");
  }
  ~GzipInflater() { inflateEnd(&stream_); }
  GzipInflater(const GzipInflater&) = delete;
  GzipInflater& operator=(const GzipInflater&) = delete;

  // Inflates `input`, calling `sink` with pieces of at most `chunk_size` bytes. Throws
  // HTTPInputError for data that is not gzip (or follows the end of the gzip stream).
  template <typename Sink>
  void inflate_into(std::string_view input, std::size_t chunk_size, Sink&& sink) {
    if (output_.size() < chunk_size) output_.resize(chunk_size);
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
    stream_.avail_in = static_cast<uInt>(input.size());
    while (stream_.avail_in > 0) {
      if (done_) throw HTTPInputError("data after the end of the gzip body");
      stream_.next_out = reinterpret_cast<Bytef*>(output_.data());
      stream_.avail_out = static_cast<uInt>(chunk_size);
      int rc = inflate(&stream_, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
        throw HTTPInputError("malformed gzip request body");
      }
      std::size_t produced = chunk_size - stream_.avail_out;
      if (produced > 0) sink(std::string_view(output_.data(), produced));
      if (rc == Z_STREAM_END) done_ = true;
      if (rc == Z_BUF_ERROR && produced == 0) break;
    }
  }
  bool done() const noexcept { return done_; }

 private:
  z_stream stream_{};
  std::string output_;
  bool done_ = false;
};

}  // namespace

// ---- the connection's state ----------------------------------------------------------------

class RequestConnection;

struct HTTP1ServerConnection::Core : std::enable_shared_from_this<Core> {
  Core(std::unique_ptr<IOStream> s, std::shared_ptr<const HTTP1ConnectionParameters> p,
       HTTP1ConnectionContext c)
      : stream(std::move(s)),
        shared_params(std::move(p)),
        params(*shared_params),
        context(std::move(c)),
        parser(params.max_header_size),
        loop(&IOLoop::current()) {}

  Future<void> serve(HTTPServerConnectionDelegate& server_delegate);
  // How serve_request left the exchange.
  enum class Served : std::uint8_t { kKeepAlive, kClose, kPending };
  // Serves one request whose head is parsed, as far as it can without waiting: a request without
  // a body whose response is written at once (the usual case) is over when this returns, without
  // a coroutine. kPending: the rest is for finish_request, with the Future to wait for first, if
  // any, in `wait`, and `finished` telling whether the delegate's finish() was called already.
  Served serve_request(HTTPServerConnectionDelegate& server_delegate,
                       std::optional<Future<void>>& wait, bool& finished);
  // The rest of a request serve_request left pending; false to close the connection.
  Future<bool> finish_request(std::optional<Future<void>> wait, bool finished);
  // Calls the delegate's finish(): false if it threw (logged).
  bool finish_delegate() noexcept;
  // The exchange is over once its response is: whether the connection goes on.
  bool complete_exchange();
  Future<bool> read_fixed_body(std::uint64_t length);
  Future<bool> read_chunked_body();
  // Gives a piece of body to the delegate (inflating it first with gzip); throws BodyTooLarge.
  std::optional<Future<void>> deliver(std::string_view piece);
  Future<void> deliver_inflated(std::string_view piece);
  // Refuses the request with `status`, closing after the answer.
  void refuse(int status, std::string_view why);

  void append(std::string_view bytes) {
    out.append(bytes);
    if (!dispatching) schedule_flush();
  }
  void schedule_flush();
  // Hands buffered response bytes to the stream.
  void flush_out() {
    if (out.empty()) return;
    if (!stream || stream->closed()) {
      out.clear();
      return;
    }
    track_write(stream->write(std::string_view(out)));  // sent now, or the rest copied
    out.clear();
    if (out.capacity() > kFlushThreshold) std::string().swap(out);  // a big response's buffer
  }
  // Keeps the Future of the stream's latest write while it is pending (an idle connection holds
  // none). A write that failed without closing the stream (a file that could not be queued)
  // closes it: the response's framing is broken.
  void track_write(Future<void> written) {
    if (!written.done()) {
      last_write = std::move(written);
      return;
    }
    last_write.reset();
    if (std::exception_ptr error = written.exception(); error && !stream->closed()) {
      stream->close(error);
    }
  }
  // A connection waiting for its next request holds no output buffer (idle memory): the buffer
  // goes back to a small per-thread stock, where the next response on any connection finds it.
  void release_output() noexcept {
    if (!out.empty() || out.capacity() <= 15) return;  // (15: std::string's inline capacity)
    std::vector<std::string>& stock = output_stock();
    if (out.capacity() <= 4096 && stock.size() < 64) {
      try {
        stock.push_back(std::move(out));
      } catch (const std::bad_alloc&) {
      }
    }
    std::string().swap(out);  // (assigning an empty string would keep the allocation)
  }
  // Before the serve loop suspends: what was written so far goes out.
  void suspend() {
    flush_out();
    dispatching = false;
  }

  void response_finished();
  void on_stream_close();
  // Hands the stream over (a protocol switch): the response goes out first, and the serve loop
  // ends without touching the stream again.
  std::unique_ptr<IOStream> detach_stream();
  // Tells the delegate of an unfinished exchange that the connection is closing (once).
  void notify_connection_close();
  void end_exchange();

  // Deadlines: one loop timer, re-armed lazily (moving a deadline later costs no timer work).
  void set_deadline(std::optional<Clock::duration> timeout, const char* what);
  void clear_deadline() noexcept { deadline_what = nullptr; }
  void on_timer();

  std::unique_ptr<IOStream> stream;
  std::shared_ptr<const HTTP1ConnectionParameters> shared_params;  // a server's, for all
  const HTTP1ConnectionParameters& params;
  HTTP1ConnectionContext context;
  http1::RequestParser parser;
  // The parsed head lives only from the parse to the start of serve_request, with no suspension
  // in between: one per thread serves every connection (idle connections hold none).
  http1::RequestHead& head = thread_request_head();
  IOLoop* loop;
  HTTP1ServerConnection* owner = nullptr;

  std::string out;
  std::optional<Future<void>> last_write;
  bool dispatching = false;
  bool flush_scheduled = false;

  // The exchange in flight.
  std::shared_ptr<RequestConnection> current;
  std::unique_ptr<HTTPMessageDelegate> delegate;
  std::unique_ptr<GzipInflater> inflater;
  std::optional<Future<void>> response_wait;
  std::uint64_t body_bytes = 0;
  std::uint64_t content_length = 0;  // of the request in flight, with kContentLength framing
  http1::BodyFraming framing = http1::BodyFraming::kNone;
  bool expect_continue = false;
  bool in_flight = false;
  bool close_notified = false;
  bool started = false;
  bool body_done = false;
  bool reading_body = false;
  bool close_after = false;  // close once this response is written
  bool close_requested = false;

  Clock::time_point deadline{};
  const char* deadline_what = nullptr;  // null: no deadline
  Clock::time_point timer_at{};
  TimeoutHandle timer;
  bool timer_armed = false;

  std::optional<Future<void>> serving;  // serve()'s Future: done once the connection closed
  // Written by a failed parse and read at once by refuse(): one per thread.
  http1::ParseError& parse_error = thread_parse_error();
};

// The HTTPConnection of one request.
class RequestConnection final : public HTTPConnection {
 public:
  RequestConnection(std::shared_ptr<HTTP1ServerConnection::Core> core, bool http10, bool head,
                    bool keep_alive)
      : core_(std::move(core)),
        max_body_size_(core_->params.max_body_size),
        body_timeout_(core_->params.body_timeout),
        http10_(http10),
        head_request_(head),
        request_keep_alive_(keep_alive) {}

  void write_headers(const ResponseStartLine& start_line, const HTTPHeaders& headers,
                     std::string_view chunk) override;
  void write(std::string_view chunk) override;
  void write_file(int fd, std::uint64_t offset, std::uint64_t count) override;
  Future<void> flush() override;
  void finish() override;
  void set_max_body_size(std::uint64_t max_body_size) override { max_body_size_ = max_body_size; }
  void set_body_timeout(Clock::duration timeout) override {
    body_timeout_ = timeout;
    if (!detached_ && core_->reading_body) core_->set_deadline(timeout, "body");
  }
  void close() override {
    if (core_->stream) core_->stream->close();
  }
  bool closed() const noexcept override { return !core_->stream || core_->stream->closed(); }

  std::uint64_t max_body_size() const noexcept { return max_body_size_; }
  const std::optional<Clock::duration>& body_timeout() const noexcept { return body_timeout_; }
  bool headers_written() const noexcept { return headers_written_; }
  bool finished() const noexcept { return finished_; }
  // The exchange is over: the object no longer writes to the connection.
  void retire() noexcept { detached_ = true; }
  std::unique_ptr<IOStream> detach() override;

 private:
  void write_body(std::string_view chunk);

  std::shared_ptr<HTTP1ServerConnection::Core> core_;
  std::uint64_t max_body_size_;
  std::optional<Clock::duration> body_timeout_;
  bool detached_ = false;
  std::optional<std::uint64_t> expected_remaining_;  // unset: no Content-Length
  bool http10_;
  bool head_request_;
  bool request_keep_alive_;
  bool headers_written_ = false;
  bool finished_ = false;
  bool chunking_ = false;
};

void RequestConnection::write_headers(const ResponseStartLine& start_line,
                                      const HTTPHeaders& headers, std::string_view chunk) {
  if (headers_written_) throw HTTPOutputError("write_headers called twice");
  const int code = start_line.code;
  if (code < 100 || code > 999)
    throw HTTPOutputError("invalid status code " + std::to_string(code));
  if (has_forbidden_char(start_line.reason)) {
    throw HTTPOutputError("CR, LF or NUL in the reason phrase");
  }
  std::string_view reason = start_line.reason;
  if (reason.empty()) {
    reason = httputil::reason_phrase(code);
    if (reason.empty()) reason = "Unknown";
  }
  if (detached_) {
    // The exchange is over: nothing goes out, but the headers are checked as they would be.
    std::uint64_t length = 0;
    for (const std::string& value : headers.get_list("Content-Length")) {
      if (!http1::parse_content_length(value, length)) {
        throw HTTPOutputError("invalid Content-Length in the response headers");
      }
    }
    headers_written_ = true;
    return;
  }
  // The fields are written in one pass that also notes those shaping the framing; the lines
  // the framing adds follow them. (HTTPHeaders refuses unsafe names and values as they are
  // added, with HTTPOutputError, so they are written as they are.)
  constexpr std::string_view kDate = "Date: ";
  constexpr std::string_view kChunked = "Transfer-Encoding: chunked\r\n";
  constexpr std::string_view kKeepAlive = "Connection: keep-alive\r\n";
  constexpr std::string_view kClose = "Connection: close\r\n";
  const std::string_view date = http_date_now();
  // At most: the status line, the fields, a Date, the framing lines (Transfer-Encoding with
  // Connection: close or, for HTTP/1.0, Connection: keep-alive alone: the sum below is more than
  // either) and the blank line.
  const std::size_t most = 9 + 3 + 1 + reason.size() + 2 +
                           detail::HTTPHeadersAccess::wire_size(headers) + kDate.size() +
                           date.size() + 2 + kChunked.size() + kKeepAlive.size() + 2;
  std::string& out = core_->out;
  if (out.capacity() < 512) take_output_buffer(out);
  const std::size_t at = out.size();
  out.resize(at + most);
  char* p = out.data() + at;
  auto put = [&p](std::string_view piece) {
    header_words::copy_bytes(p, piece.data(), piece.size());
    p += piece.size();
  };
  // Pieces of a known size: copied as constants.
  auto put_fixed = [&p](std::string_view piece) {
    std::memcpy(p, piece.data(), piece.size());
    p += piece.size();
  };
  put_fixed("HTTP/1.1 "sv);
  *p++ = static_cast<char>('0' + code / 100);  // three digits: 100 to 999
  *p++ = static_cast<char>('0' + code / 10 % 10);
  *p++ = static_cast<char>('0' + code % 10);
  *p++ = ' ';
  put(reason);
  put_fixed("\r\n"sv);
  bool has_length = false;
  bool has_transfer_encoding = false;
  bool has_date = false;
  bool response_close = false;
  bool bad_length = false;
  std::uint64_t content_length = 0;
  detail::HTTPHeadersAccess::for_each_field(
      headers, [&](std::string_view name, std::string_view value) {
        switch (name.size()) {
          case 4:
            has_date = has_date || iequals(name, "Date");
            break;
          case 10:
            if (iequals(name, "Connection"))
              response_close = response_close || lists_token(value, "close");
            break;
          case 14:
            if (iequals(name, "Content-Length")) {
              bad_length = bad_length || !http1::parse_content_length(value, content_length);
              has_length = true;
            }
            break;
          case 17:
            has_transfer_encoding = has_transfer_encoding || iequals(name, "Transfer-Encoding");
            break;
          default:
            break;
        }
        put(name);
        put_fixed(": "sv);
        put(value);
        put_fixed("\r\n"sv);
      });
  if (bad_length) {
    out.resize(at);
    throw HTTPOutputError("invalid Content-Length in the response headers");
  }
  headers_written_ = true;

  const bool bodiless = head_request_ || code == 204 || code == 304 || code < 200;
  chunking_ = !http10_ && !bodiless && !has_length && !has_transfer_encoding;
  if (bodiless) {
    expected_remaining_ = 0;
  } else if (has_length) {
    expected_remaining_ = content_length;
  }
  // Keep-alive, as the request asked, the server allows, and the body's framing permits.
  const bool delimited = bodiless || has_length || chunking_;
  const bool keep = request_keep_alive_ && !core_->params.no_keep_alive &&
                    !core_->close_requested && !response_close && delimited;
  if (!keep) core_->close_after = true;
  if (!has_date) {
    put_fixed(kDate);
    put(date);
    put_fixed("\r\n"sv);
  }
  if (chunking_) put_fixed(kChunked);
  if (keep && http10_) put_fixed(kKeepAlive);
  if (!keep && !response_close && !http10_) put_fixed(kClose);
  put_fixed("\r\n"sv);
  out.resize(static_cast<std::size_t>(p - out.data()));
  if (!chunk.empty()) write_body(chunk);
  if (!core_->dispatching) core_->schedule_flush();
}

void RequestConnection::write(std::string_view chunk) {
  if (!headers_written_) throw HTTPOutputError("write before write_headers");
  if (finished_) throw HTTPOutputError("write after finish");
  write_body(chunk);
  if (!detached_ && !core_->dispatching) core_->schedule_flush();
}

void RequestConnection::write_body(std::string_view chunk) {
  if (chunk.empty()) return;
  if (expected_remaining_) {
    if (chunk.size() > *expected_remaining_) {
      throw HTTPOutputError("Tried to write more data than Content-Length");
    }
    *expected_remaining_ -= chunk.size();
  }
  if (detached_) return;
  std::string& out = core_->out;
  if (chunking_) {
    append_hex(out, chunk.size());
    out.append("\r\n"sv).append(chunk).append("\r\n"sv);
  } else {
    out.append(chunk);
  }
  if (out.size() >= kFlushThreshold) core_->flush_out();
}

void RequestConnection::write_file(int fd, std::uint64_t offset, std::uint64_t count) {
  if (!headers_written_) throw HTTPOutputError("write_file before write_headers");
  if (finished_) throw HTTPOutputError("write_file after finish");
  check_file_range(fd, offset, count);
  if (count == 0) return;
  if (expected_remaining_) {
    if (count > *expected_remaining_) {
      throw HTTPOutputError("Tried to write more data than Content-Length");
    }
    *expected_remaining_ -= count;
  }
  if (detached_ || core_->stream->closed()) return;  // dropped, as write's bytes would be
  std::string& out = core_->out;
  if (chunking_) {
    append_hex(out, count);
    out.append("\r\n"sv);
  }
  if (count <= kInlineFileBytes) {
    const std::size_t start = out.size();
    out.resize(start + static_cast<std::size_t>(count));
    if (std::exception_ptr error =
            read_file_range(fd, offset, static_cast<std::size_t>(count), out.data() + start)) {
      out.resize(start);
      core_->stream->close(error);  // the framing promised bytes that do not exist
      return;
    }
  } else {
    // What is buffered goes first; the file queues behind it, and what follows (the chunk's
    // end, pipelined responses) behind the file, all in the stream's order.
    core_->flush_out();
    core_->track_write(core_->stream->write_file(fd, offset, count));
  }
  if (chunking_) out.append("\r\n"sv);
  if (out.size() >= kFlushThreshold) core_->flush_out();
  if (!core_->dispatching) core_->schedule_flush();
}

Future<void> RequestConnection::flush() {
  if (!core_->stream) return make_ready_future();  // detached: the bytes went with the stream
  if (core_->stream->closed()) {
    return make_exceptional_future<void>(
        std::make_exception_ptr(StreamClosedError(core_->stream->error())));
  }
  if (detached_) return make_ready_future();  // this exchange's bytes are all out already
  core_->flush_out();
  if (core_->stream->write_buffer_size() == 0 || !core_->last_write) return make_ready_future();
  return *core_->last_write;
}

void RequestConnection::finish() {
  if (!headers_written_) throw HTTPOutputError("finish before write_headers");
  if (finished_) throw HTTPOutputError("finish called twice");
  finished_ = true;
  if (expected_remaining_ && *expected_remaining_ != 0) {
    std::uint64_t missing = *expected_remaining_;
    if (!detached_) {
      core_->close_after = true;
      core_->response_finished();
    }
    throw HTTPOutputError("Tried to write " + std::to_string(missing) +
                          " bytes less than Content-Length");
  }
  if (detached_) return;
  if (chunking_) core_->out.append("0\r\n\r\n"sv);
  core_->response_finished();
}

std::unique_ptr<IOStream> RequestConnection::detach() {
  if (detached_ || !core_->stream) throw InvalidStateError("detach: the exchange is over");
  if (!finished_) throw InvalidStateError("detach before the response is finished");
  if (!core_->body_done) throw InvalidStateError("detach before the request body was read");
  return core_->detach_stream();
}

std::unique_ptr<IOStream> HTTPConnection::detach() {
  throw InvalidStateError("this HTTP connection cannot hand over its stream");
}

// HTTPConnection's own write_file, for connections that have no better way: the file is read in
// pieces and written. (Defined here, beside the connection that overrides it.)
void HTTPConnection::write_file(int fd, std::uint64_t offset, std::uint64_t count) {
  check_file_range(fd, offset, count);
  std::string piece;
  while (count > 0) {
    auto n = static_cast<std::size_t>(std::min<std::uint64_t>(count, std::uint64_t{64} << 10));
    piece.resize(n);
    if (std::exception_ptr error = read_file_range(fd, offset, n, piece.data())) {
      close();
      std::rethrow_exception(error);
    }
    write(piece);
    offset += n;
    count -= n;
  }
}

// ---- Core ----------------------------------------------------------------------------------

void HTTP1ServerConnection::Core::schedule_flush() {
  if (flush_scheduled) return;
  flush_scheduled = true;
  loop->add_callback([self = shared_from_this()] {
    self->flush_scheduled = false;
    if (!self->dispatching) self->flush_out();
  });
}

void HTTP1ServerConnection::Core::response_finished() {
  // The response is complete once the request's body is read too: a response that ends first
  // leaves the connection at an unknown place in the body, so it closes.
  if (!body_done) close_after = true;
  if (!dispatching) schedule_flush();
  if (response_wait && !response_wait->done()) response_wait->set_result();
}

void HTTP1ServerConnection::Core::end_exchange() {
  if (current) {
    current->retire();
    current.reset();
  }
  delegate.reset();
  inflater.reset();
  response_wait.reset();
  in_flight = false;
  close_notified = false;
}

std::unique_ptr<IOStream> HTTP1ServerConnection::Core::detach_stream() {
  flush_out();
  stream->set_close_callback({});
  clear_deadline();
  if (timer_armed) {
    loop->remove_timeout(timer);
    timer_armed = false;
  }
  close_requested = true;
  return std::move(stream);
}

void HTTP1ServerConnection::Core::on_stream_close() {
  clear_deadline();
  if (timer_armed) {
    loop->remove_timeout(timer);
    timer_armed = false;
  }
  notify_connection_close();
  if (response_wait && !response_wait->done()) response_wait->set_result();
}

void HTTP1ServerConnection::Core::notify_connection_close() {
  if (!in_flight || !delegate || close_notified) return;
  if (current && current->finished()) return;  // the exchange completed
  close_notified = true;
  try {
    delegate->on_connection_close();
  } catch (...) {
    log::app_log().error("Uncaught exception in on_connection_close: {}",
                         log::describe(std::current_exception()));
  }
}

void HTTP1ServerConnection::Core::set_deadline(std::optional<Clock::duration> timeout,
                                               const char* what) {
  if (!timeout) {
    deadline_what = nullptr;
    return;
  }
  // The coarse clock (a few milliseconds' resolution, a fraction of the precise clock's cost):
  // on_timer checks with the precise one before it closes anything.
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  deadline =
      Clock::time_point(std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec)) +
      *timeout;
  deadline_what = what;
  if (timer_armed && timer_at <= deadline) return;  // fires early, then re-arms
  if (timer_armed) loop->remove_timeout(timer);
  timer_at = deadline;
  timer_armed = true;
  timer = loop->call_at(deadline, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->on_timer();
  });
}

void HTTP1ServerConnection::Core::on_timer() {
  timer_armed = false;
  if (deadline_what == nullptr || !stream || stream->closed()) return;
  if (loop->time() < deadline) {
    timer_at = deadline;
    timer_armed = true;
    timer = loop->call_at(deadline, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->on_timer();
    });
    return;
  }
  log::gen_log().debug("Closing connection from {}: {} timeout", context.remote_ip, deadline_what);
  stream->close(std::make_exception_ptr(TimeoutError(std::string(deadline_what) + " timeout")));
}

void HTTP1ServerConnection::Core::refuse(int status, std::string_view why) {
  log::gen_log().info("Malformed HTTP request from {}: {}", context.remote_ip, why);
  close_after = true;
  if (current && current->headers_written()) return;  // the response is under way: just close
  std::string_view phrase = httputil::reason_phrase(status);
  out.append("HTTP/1.1 "sv);
  append_decimal(out, static_cast<std::uint64_t>(status));
  out.push_back(' ');
  out.append(phrase);
  out.append("\r\nContent-Length: 0\r\nConnection: close\r\nDate: "sv);
  out.append(http_date_now()).append("\r\n\r\n");
}

Future<void> HTTP1ServerConnection::Core::serve(HTTPServerConnectionDelegate& server_delegate) {
  auto self = shared_from_this();
  dispatching = true;
  try {
    while (stream && !stream->closed() && !close_requested) {
      parser.reset();
      http1::ParseError& error = parse_error;
      http1::RequestParser::Status status = http1::RequestParser::Status::kIncomplete;
      bool head_started = false;
      for (;;) {
        std::string_view data = stream->buffered();
        if (!data.empty()) {
          status = parser.parse(data, head, error);
          if (status != http1::RequestParser::Status::kIncomplete) break;
          if (!head_started) {
            head_started = true;
            set_deadline(params.header_timeout, "header");
          }
        } else if (!head_started) {
          if (close_requested) break;
          set_deadline(params.idle_connection_timeout, "idle");
          suspend();
          release_output();
          co_await stream->wait_buffered(stream->read_buffer_size() + 1);
          dispatching = true;
          continue;
        }
        suspend();
        co_await stream->wait_buffered(stream->read_buffer_size() + 1);
        dispatching = true;
      }
      if (status != http1::RequestParser::Status::kDone) {
        if (status == http1::RequestParser::Status::kError) refuse(error.status, error.message);
        break;
      }
      clear_deadline();
      std::optional<Future<void>> wait;
      bool finished = false;
      const Served served = serve_request(server_delegate, wait, finished);
      if (served == Served::kClose) break;
      if (served == Served::kPending && !co_await finish_request(std::move(wait), finished)) break;
      // Backpressure for pipelined requests: a client that does not read its responses stops
      // being read.
      if (out.size() >= kFlushThreshold) flush_out();
      if (stream->write_buffer_size() > kMaxQueuedResponseBytes && last_write) {
        suspend();
        co_await *last_write;
        dispatching = true;
      }
    }
  } catch (const StreamClosedError&) {
    // The peer went away, or a timeout closed the stream.
  } catch (...) {
    log::gen_log().error("Error in HTTP connection from {}: {}", context.remote_ip,
                         log::describe(std::current_exception()));
  }
  dispatching = false;
  flush_out();
  if (!stream) {
    // Detached (a protocol switch): the stream and its last write belong to someone else now.
    end_exchange();
    co_return;
  }
  if (!stream->closed() && last_write && !last_write->done()) {
    // Let the last response reach the client, within the idle timeout.
    set_deadline(params.idle_connection_timeout, "write");
    try {
      co_await *last_write;
    } catch (...) {
    }
  }
  stream->close();
  notify_connection_close();
  end_exchange();
  clear_deadline();
  if (timer_armed) {
    loop->remove_timeout(timer);
    timer_armed = false;
  }
  co_return;
}

HTTP1ServerConnection::Core::Served HTTP1ServerConnection::Core::serve_request(
    HTTPServerConnectionDelegate& server_delegate, std::optional<Future<void>>& wait,
    bool& finished) {
  // Copy the head out of the stream's buffer before that buffer moves on.
  RequestStartLine start_line{std::string(head.method), std::string(head.target),
                              head.version_minor == 0 ? "HTTP/1.0" : "HTTP/1.1"};
  HTTPHeaders headers;
  std::size_t header_bytes = 0;
  for (const http1::HeaderField& field : head.headers) {
    header_bytes += field.name.size() + field.value.size();
  }
  detail::HTTPHeadersAccess::reserve(headers, head.headers.size(), header_bytes);
  for (const http1::HeaderField& field : head.headers) {
    detail::HTTPHeadersAccess::add_validated(headers, field.name, field.value);
  }
  framing = head.framing;
  content_length = head.content_length;
  expect_continue = head.expect_continue;
  const bool is_head = head.method == "HEAD";
  current = std::allocate_shared<RequestConnection>(detail::SmallAllocator<RequestConnection>(),
                                                    shared_from_this(), head.version_minor == 0,
                                                    is_head, head.keep_alive);
  stream->consume(head.size);
  head.headers.clear();
  in_flight = true;
  body_done = framing == http1::BodyFraming::kNone;
  body_bytes = 0;

  if (params.decompress && framing != http1::BodyFraming::kNone) {
    const auto& codings = headers.get_list("Content-Encoding");
    if (codings.size() == 1 && iequals(codings.front(), "gzip")) {
      headers.add("X-Consumed-Content-Encoding", codings.front());
      headers.erase("Content-Encoding");
      inflater = std::make_unique<GzipInflater>();
    }
  }

  try {
    delegate = server_delegate.start_request(*owner, current);
    wait = delegate->headers_received(start_line, headers);
  } catch (const StreamClosedError&) {
    throw;
  } catch (...) {
    log::app_log().error("Uncaught exception in headers_received: {}",
                         log::describe(std::current_exception()));
    return Served::kClose;
  }
  if (wait) return Served::kPending;
  if (!stream || stream->closed()) return Served::kClose;
  if (!body_done) return Served::kPending;
  finished = true;
  if (!finish_delegate()) return Served::kClose;
  if (!current->finished()) return Served::kPending;
  return complete_exchange() ? Served::kKeepAlive : Served::kClose;
}

bool HTTP1ServerConnection::Core::finish_delegate() noexcept {
  try {
    delegate->finish();
    return true;
  } catch (...) {
    log::app_log().error("Uncaught exception in finish: {}",
                         log::describe(std::current_exception()));
    return false;
  }
}

bool HTTP1ServerConnection::Core::complete_exchange() {
  const bool keep = !close_after;
  end_exchange();
  return keep && stream && !stream->closed();
}

Future<bool> HTTP1ServerConnection::Core::finish_request(std::optional<Future<void>> wait,
                                                         bool finished) {
  if (wait) {
    try {
      suspend();
      co_await *wait;
      dispatching = true;
    } catch (const StreamClosedError&) {
      throw;
    } catch (...) {
      log::app_log().error("Uncaught exception in headers_received: {}",
                           log::describe(std::current_exception()));
      co_return false;
    }
    if (!stream || stream->closed()) co_return false;
  }

  if (!body_done) {
    if (current->finished()) co_return false;  // answered before the body: cannot go on
    if (framing == http1::BodyFraming::kContentLength &&
        content_length > current->max_body_size()) {
      refuse(413, "Content-Length too long");
      co_return false;
    }
    if (expect_continue && !current->headers_written()) {
      out.append("HTTP/1.1 100 Continue\r\n\r\n"sv);
    }
    set_deadline(current->body_timeout(), "body");  // the request's own, if it set one
    reading_body = true;
    bool ok = false;
    try {
      ok = framing == http1::BodyFraming::kContentLength ? co_await read_fixed_body(content_length)
                                                         : co_await read_chunked_body();
      if (ok && inflater && !inflater->done()) {
        refuse(400, "truncated gzip request body");
        ok = false;
      }
    } catch (const BodyTooLarge&) {
      refuse(413, "request body too large");
    } catch (const HTTPInputError& e) {
      refuse(400, e.what());
    }
    reading_body = false;
    clear_deadline();
    if (!ok) co_return false;  // the serve loop tells the delegate as it closes
    body_done = true;
  }

  if (!finished && !finish_delegate()) co_return false;
  if (!current->finished()) {
    response_wait.emplace();
    suspend();
    co_await *response_wait;
    dispatching = true;
    if (!current || !current->finished()) co_return false;  // the connection closed first
  }
  co_return complete_exchange();
}

std::optional<Future<void>> HTTP1ServerConnection::Core::deliver(std::string_view piece) {
  if (inflater) return deliver_inflated(piece);
  body_bytes += piece.size();
  if (body_bytes > current->max_body_size()) throw BodyTooLarge{};
  return delegate->data_received(piece);
}

Future<void> HTTP1ServerConnection::Core::deliver_inflated(std::string_view piece) {
  // Inflated pieces are collected first (the delegate may suspend between them): at most
  // chunk_size each, and their total bounded by max_body_size.
  std::vector<std::string> pieces;
  inflater->inflate_into(piece, params.chunk_size, [&](std::string_view out_piece) {
    body_bytes += out_piece.size();
    if (body_bytes > current->max_body_size()) throw BodyTooLarge{};
    pieces.emplace_back(out_piece);
  });
  for (const std::string& p : pieces) {
    std::optional<Future<void>> wait = delegate->data_received(p);
    if (wait) co_await *wait;
  }
}

Future<bool> HTTP1ServerConnection::Core::read_fixed_body(std::uint64_t length) {
  std::uint64_t remaining = length;
  while (remaining > 0) {
    std::string_view data = stream->buffered();
    if (data.empty()) {
      suspend();
      co_await stream->wait_buffered(1);
      dispatching = true;
      continue;
    }
    std::size_t n = static_cast<std::size_t>(
        std::min<std::uint64_t>({remaining, data.size(), params.chunk_size}));
    std::optional<Future<void>> wait = deliver(data.substr(0, n));
    stream->consume(n);
    remaining -= n;
    if (wait) {
      suspend();
      co_await *wait;
      dispatching = true;
    }
    if (stream->closed()) co_return false;
  }
  co_return true;
}

Future<bool> HTTP1ServerConnection::Core::read_chunked_body() {
  http1::ChunkedDecoder decoder(params.max_header_size);
  http1::ParseError error;
  for (;;) {
    std::string_view input = stream->buffered();
    std::size_t consumed = 0;
    std::string_view data;
    http1::ChunkedDecoder::Status status = decoder.decode(input, consumed, data, error);
    switch (status) {
      case http1::ChunkedDecoder::Status::kData: {
        // Refuse as soon as the declared chunk passes the limit, before reading it.
        if (!inflater &&
            body_bytes + data.size() + decoder.pending_chunk_bytes() > current->max_body_size()) {
          throw BodyTooLarge{};
        }
        // One piece at a time: a delegate's Future holds back the next piece (flow control).
        // Nothing is consumed until the chunk is delivered, so offsets into the buffer stay
        // right even if the buffer moves while a delegate's Future is pending.
        std::size_t offset = static_cast<std::size_t>(data.data() - input.data());
        std::size_t left = data.size();
        while (left > 0) {
          std::size_t n = std::min(left, params.chunk_size);
          std::optional<Future<void>> wait = deliver(stream->buffered().substr(offset, n));
          offset += n;
          left -= n;
          if (wait) {
            suspend();
            co_await *wait;
            dispatching = true;
            if (stream->closed()) co_return false;
          }
        }
        stream->consume(consumed);
        if (stream->closed()) co_return false;
        break;
      }
      case http1::ChunkedDecoder::Status::kNeedMore:
        stream->consume(consumed);
        if (!inflater && body_bytes + decoder.pending_chunk_bytes() > current->max_body_size()) {
          throw BodyTooLarge{};
        }
        suspend();
        co_await stream->wait_buffered(stream->read_buffer_size() + 1);
        dispatching = true;
        break;
      case http1::ChunkedDecoder::Status::kDone:
        stream->consume(consumed);
        co_return true;
      case http1::ChunkedDecoder::Status::kError:
        refuse(error.status, error.message);
        co_return false;
    }
  }
}

// ---- HTTP1ServerConnection -----------------------------------------------------------------

HTTP1ServerConnection::HTTP1ServerConnection(std::unique_ptr<IOStream> stream,
                                             HTTP1ConnectionParameters params,
                                             HTTP1ConnectionContext context)
    : HTTP1ServerConnection(std::move(stream),
                            std::make_shared<const HTTP1ConnectionParameters>(std::move(params)),
                            std::move(context)) {}

HTTP1ServerConnection::HTTP1ServerConnection(
    std::unique_ptr<IOStream> stream, std::shared_ptr<const HTTP1ConnectionParameters> params,
    HTTP1ConnectionContext context) {
  if (!params) throw ValueError("HTTP1ServerConnection: null parameters");
  core_ = std::make_shared<Core>(std::move(stream), std::move(params), std::move(context));
  core_->owner = this;
  core_->stream->set_close_callback([weak = std::weak_ptr<Core>(core_)] {
    if (auto core = weak.lock()) core->on_stream_close();
  });
}

HTTP1ServerConnection::~HTTP1ServerConnection() {
  core_->owner = nullptr;
  if (core_->stream) core_->stream->close();
}

Future<void> HTTP1ServerConnection::start_serving(HTTPServerConnectionDelegate& delegate) {
  if (core_->started) throw InvalidStateError("HTTP1ServerConnection: start_serving called twice");
  core_->started = true;
  Future<void> serving = core_->serve(delegate);
  core_->serving = serving;
  return serving;
}

void HTTP1ServerConnection::close() {
  if (core_->stream) core_->stream->close();
}

void HTTP1ServerConnection::close_when_idle() {
  core_->close_requested = true;
  if (!core_->in_flight && core_->stream) core_->stream->close();
}

Future<void> HTTP1ServerConnection::closed_future() const {
  if (!core_->serving) throw InvalidStateError("HTTP1ServerConnection: not serving yet");
  return *core_->serving;
}

bool HTTP1ServerConnection::idle() const noexcept {
  return !core_->in_flight;
}

const HTTP1ConnectionContext& HTTP1ServerConnection::context() const noexcept {
  return core_->context;
}

const HTTP1ConnectionParameters& HTTP1ServerConnection::params() const noexcept {
  return core_->params;
}

HTTP1ConnectionContext& HTTP1ServerConnection::context() noexcept {
  return core_->context;
}

IOStream& HTTP1ServerConnection::stream() noexcept {
  return *core_->stream;
}

}  // namespace squall
