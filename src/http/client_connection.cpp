// One HTTP/1.1 exchange of the client: the request written in one piece where it can be, the
// response parsed in place from the stream's buffer, the body delivered as it arrives (inflated
// from gzip, counted against max_body_size after inflation).

#include "http/client_connection.hpp"

#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <string>

#include "http/client_url.hpp"
#include "http/http1_parser.hpp"
#include "http/text.hpp"
#include "squall/http/httputil.hpp"

namespace squall::httpclient_detail {
namespace {

using http_text::append_decimal;
using http_text::append_hex;
using http_text::iequals;
using http_text::lists_token;

using namespace std::string_view_literals;

// How long a request with `Expect: 100-continue` waits for the interim response before it sends
// its body anyway (curl's default).
constexpr auto kContinueTimeout = std::chrono::seconds(1);
// A body up to this size goes out with the head in one write; a larger one is written from the
// request without a copy.
constexpr std::size_t kCoalesceLimit = std::size_t{64} << 10;
// Bytes reserved for a body before it proves to be as long as its Content-Length says.
constexpr std::size_t kInitialBodyReserve = std::size_t{64} << 10;
// The largest piece an inflated body is delivered in.
constexpr std::size_t kInflateChunk = std::size_t{64} << 10;

/// A write's Future is kept by nobody: its failure (which closes the stream, and is seen there)
/// is retrieved so it is not logged.
void forget(const Future<void>& written) {
  if (written.done()) {
    static_cast<void>(written.exception());
  } else {
    written.add_done_callback([](const Future<void>& done) {
      if (!done.cancelled()) static_cast<void>(done.exception());
    });
  }
}

/// Inflates a gzip'ed body (RFC 1952; members one after another are one body, as gunzip reads
/// them), in pieces of at most kInflateChunk bytes.
class GzipInflater {
 public:
  GzipInflater() {
    if (inflateInit2(&stream_, 16 + MAX_WBITS) != Z_OK) throw Error("zlib: inflateInit2 failed");
  }
  ~GzipInflater() { inflateEnd(&stream_); }
  GzipInflater(const GzipInflater&) = delete;
  GzipInflater& operator=(const GzipInflater&) = delete;

  /// Inflates `input`, calling `sink` with each piece. Throws HTTPInputError for bytes that are
  /// not gzip.
  template <class Sink>
  void inflate_into(std::string_view input, Sink&& sink) {
    if (input.empty()) return;
    if (output_.size() < kInflateChunk) output_.resize(kInflateChunk);
    started_ = true;
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
    stream_.avail_in = static_cast<uInt>(input.size());
    while (stream_.avail_in > 0) {
      if (member_done_) {
        // Another member follows the one that ended.
        if (inflateReset(&stream_) != Z_OK) throw HTTPInputError("malformed gzip body");
        member_done_ = false;
      }
      stream_.next_out = reinterpret_cast<Bytef*>(output_.data());
      stream_.avail_out = static_cast<uInt>(kInflateChunk);
      int rc = inflate(&stream_, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
        throw HTTPInputError("malformed gzip body");
      }
      std::size_t produced = kInflateChunk - stream_.avail_out;
      if (produced > 0) sink(std::string_view(output_.data(), produced));
      if (rc == Z_STREAM_END) member_done_ = true;
      if (rc == Z_BUF_ERROR && produced == 0) break;
    }
  }
  /// The body so far is whole: nothing, or complete members only.
  bool complete() const noexcept { return !started_ || member_done_; }

 private:
  z_stream stream_{};
  std::string output_;
  bool started_ = false;
  bool member_done_ = false;
};

/// Where body pieces go: the streaming callback or the result's body, counted against the limit
/// (after inflation).
struct BodySink {
  ExchangeResult& result;
  const std::function<void(std::string_view)>* streaming;  // null: into result.body
  std::uint64_t max_body_size;
  std::uint64_t expected = 0;  // Content-Length, for the body's reservation
  std::uint64_t received = 0;
  GzipInflater* inflater = nullptr;
  bool discard = false;  // a redirect's body: counted, then dropped

  void deliver(std::string_view piece) {
    if (inflater) {
      inflater->inflate_into(piece, [this](std::string_view out) { accept(out); });
    } else {
      accept(piece);
    }
  }

  void accept(std::string_view piece) {
    received += piece.size();
    if (received > max_body_size) too_large();
    if (discard) return;
    if (streaming) {
      (*streaming)(piece);
      return;
    }
    std::string& body = result.body;
    if (body.size() + piece.size() > body.capacity() && expected > body.capacity()) {
      // The body has outgrown the first reservation: its Content-Length is believable now.
      body.reserve(static_cast<std::size_t>(expected));
    }
    body.append(piece);
  }

  [[noreturn]] void too_large() const {
    std::string message("response body larger than max_body_size (");
    append_decimal(message, max_body_size);
    message.append(" bytes)");
    throw HTTPInputError(message);
  }
};

/// What a body producer writes through: the stream while the body is being sent, framed in
/// chunks unless the request gave a Content-Length. Shared with the writer the producer holds,
/// which may outlive the exchange.
struct ProducerSink {
  IOStream* stream = nullptr;  // null once the body has ended
  bool chunked = true;
  std::uint64_t length = 0;  // the Content-Length, unless chunked
  std::uint64_t written = 0;
};

Future<void> produce_body(const HTTPRequest& request, IOStream& stream, FetchControl& control) {
  auto sink = std::make_shared<ProducerSink>();
  sink->stream = &stream;
  if (auto length = request.headers.get("Content-Length")) {
    sink->chunked = false;
    if (!http1::parse_content_length(*length, sink->length)) {
      throw ValueError("invalid Content-Length header for body_producer");
    }
  }
  HTTPRequest::BodyWriter writer = [sink](std::string_view chunk) -> Future<void> {
    if (!sink->stream) {
      return make_exceptional_future<void>(
          std::make_exception_ptr(HTTPOutputError("body_producer wrote after its body ended")));
    }
    if (chunk.empty()) return make_ready_future();
    if (!sink->chunked) {
      if (sink->written + chunk.size() > sink->length) {
        return make_exceptional_future<void>(std::make_exception_ptr(
            HTTPOutputError("body_producer wrote more than the Content-Length")));
      }
      sink->written += chunk.size();
      return sink->stream->write(chunk);
    }
    sink->written += chunk.size();
    std::string framed;
    framed.reserve(chunk.size() + 24);
    append_hex(framed, chunk.size());
    framed.append("\r\n"sv).append(chunk).append("\r\n"sv);
    return sink->stream->write(std::move(framed));
  };
  struct EndBody {  // the writer stops writing once the body is over, however it ends
    ProducerSink& sink;
    ~EndBody() { sink.stream = nullptr; }
  } end{*sink};
  Future<void> produced = request.body_producer(std::move(writer));
  co_await interruptible(control, std::move(produced));
  control.check();
  if (sink->chunked) {
    forget(stream.write("0\r\n\r\n"sv));
  } else if (sink->written != sink->length) {
    std::string message("body_producer wrote ");
    append_decimal(message, sink->written);
    message.append(" bytes of a Content-Length of ");
    append_decimal(message, sink->length);
    throw HTTPOutputError(message);
  }
}

/// Waits until the pending read of `conn` (started here if needed) completes, or `deadline`
/// passes; true if the read completed.
Future<bool> wait_for_data(ClientConnection& conn, IOLoop::time_point deadline) {
  if (!conn.pending_fill) {
    conn.pending_fill = conn.stream->fill_buffer(conn.stream->read_buffer_size() + 1);
  }
  if (conn.pending_fill->done()) co_return true;
  Future<void> wake;
  IOLoop& loop = IOLoop::current();
  TimeoutHandle timer = loop.call_at(deadline, [wake] {
    if (!wake.done()) wake.set_result();
  });
  conn.pending_fill->add_done_callback([wake] {
    if (!wake.done()) wake.set_result();
  });
  co_await wake;
  loop.remove_timeout(timer);
  co_return conn.pending_fill&& conn.pending_fill->done();
}

/// Whether the client may follow a redirect to `location` (the fetch decides the same way).
bool will_follow(const ExchangeRequest& ex, std::string_view location) {
  try {
    URL next = parse_url(resolve_url(ex.url, location));
    return !(ex.https && next.scheme == "http" && !ex.allow_insecure_redirects);
  } catch (const ValueError&) {
    return false;
  }
}

/// Writes the request line and the head into `out`.
void write_head(std::string& out, const ExchangeRequest& ex, bool expect_continue, bool chunked) {
  const HTTPRequest& request = *ex.request;
  const bool has_body = request.body.has_value();
  const bool producer = !has_body && static_cast<bool>(request.body_producer);
  out.clear();
  if (out.capacity() < 512) out.reserve(512);
  out.append(request.method).append(" "sv).append(ex.target).append(" HTTP/1.1\r\n"sv);
  bool has_host = false, has_agent = false, has_encoding = false, has_type = false;
  bool has_ims = false, has_connection = false;
  for (auto [name, value] : request.headers) {
    // The framing and credentials the client works out replace the request's own.
    if ((has_body || chunked) &&
        (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding"))) {
      continue;
    }
    if (producer && !chunked && iequals(name, "Transfer-Encoding")) continue;
    if (!ex.authorization.empty() && iequals(name, "Authorization")) continue;
    if (expect_continue && iequals(name, "Expect")) continue;
    if (iequals(name, "Host")) {
      has_host = true;
    } else if (iequals(name, "User-Agent")) {
      has_agent = true;
    } else if (iequals(name, "Accept-Encoding")) {
      has_encoding = true;
    } else if (iequals(name, "Content-Type")) {
      has_type = true;
    } else if (iequals(name, "If-Modified-Since")) {
      has_ims = true;
    } else if (iequals(name, "Connection")) {
      has_connection = true;
    }
    out.append(name).append(": "sv).append(value).append("\r\n"sv);
  }
  if (!has_host) out.append("Host: "sv).append(ex.host).append("\r\n"sv);
  if (!has_agent && !ex.user_agent.empty()) {
    out.append("User-Agent: "sv).append(ex.user_agent).append("\r\n"sv);
  }
  if (ex.decompress && !has_encoding) out.append("Accept-Encoding: gzip\r\n"sv);
  if (!ex.authorization.empty()) {
    out.append("Authorization: "sv).append(ex.authorization).append("\r\n"sv);
  }
  if (request.if_modified_since && !has_ims) {
    out.append("If-Modified-Since: "sv)
        .append(httputil::format_timestamp(*request.if_modified_since))
        .append("\r\n"sv);
  }
  if (request.method == "POST" && !has_type && (has_body || producer)) {
    // As Tornado: a form unless told otherwise.
    out.append("Content-Type: application/x-www-form-urlencoded\r\n"sv);
  }
  if (has_body) {
    out.append("Content-Length: "sv);
    append_decimal(out, request.body->size());
    out.append("\r\n"sv);
  } else if (chunked) {
    out.append("Transfer-Encoding: chunked\r\n"sv);
  }
  if (expect_continue) out.append("Expect: 100-continue\r\n"sv);
  if (ex.close_connection && !has_connection) out.append("Connection: close\r\n"sv);
  out.append("\r\n"sv);
}

}  // namespace

void FetchControl::abort(std::exception_ptr error, bool timeout) {
  if (!abort_error) abort_error = error;
  if (timeout && timeouts_deferred) return;  // the wait ends by itself, and then reports it
  if (aborted) return;
  aborted = true;
  if (stream) stream->close(abort_error);
  if (interrupt && !interrupt->done()) interrupt->set_exception(abort_error);
  if (waiter && !waiter->done()) waiter->set_exception(abort_error);
}

ClientConnection::~ClientConnection() {
  stream->close();  // fails a pending read now, so dropping it below needs no callback
  drop_pending_fill();
}

Future<std::size_t> ClientConnection::read_more() {
  if (pending_fill) {
    Future<std::size_t> fill = std::move(*pending_fill);
    pending_fill.reset();
    return fill;
  }
  return stream->fill_buffer(stream->read_buffer_size() + 1);
}

void ClientConnection::drop_pending_fill() noexcept {
  if (!pending_fill) return;
  if (pending_fill->done()) {
    if (!pending_fill->cancelled()) static_cast<void>(pending_fill->exception());
  } else {
    pending_fill->add_done_callback([](const Future<std::size_t>& done) {
      if (!done.cancelled()) static_cast<void>(done.exception());
    });
  }
  pending_fill.reset();
}

Future<void> run_exchange(ClientConnection& conn, const ExchangeRequest& ex, ExchangeResult& result,
                          FetchControl& control) {
  const HTTPRequest& request = *ex.request;
  IOStream& stream = *conn.stream;
  IOLoop& loop = IOLoop::current();
  const bool has_body = request.body.has_value();
  const bool producer = !has_body && static_cast<bool>(request.body_producer);
  const bool chunked = producer && !request.headers.contains("Content-Length");
  const bool expect_continue =
      request.expect_100_continue && (producer || (has_body && !request.body->empty()));
  const bool head_request = request.method == "HEAD";
  bool close_connection = ex.close_connection;
  if (!close_connection) {
    if (auto connection = request.headers.get("Connection")) {
      close_connection = lists_token(*connection, "close");
    }
  }

  // ---- the request ----
  write_head(conn.out, ex, expect_continue, chunked);
  bool body_sent = !has_body && !producer;
  if (has_body && !expect_continue && request.body->size() <= kCoalesceLimit) {
    conn.out.append(*request.body);
    body_sent = true;
  }
  forget(stream.write(std::string_view(conn.out)));  // sent now, or the rest copied
  if (conn.out.capacity() > 4 * kCoalesceLimit) std::string().swap(conn.out);
  // Sends the body (unless it went with the head). A borrowed body stays alive: the request
  // outlives the stream's use of it (a connection whose writes are pending is never pooled).
  auto send_body = [&]() -> Future<void> {
    if (has_body) {
      if (!request.body->empty()) {
        forget(stream.write_borrowed(
            std::span<const char>(request.body->data(), request.body->size())));
      }
      return make_ready_future();
    }
    return produce_body(request, stream, control);
  };
  if (!body_sent && !expect_continue) {
    co_await send_body();
    body_sent = true;
  }

  // ---- the response head (after any interim responses) ----
  conn.parser.set_max_header_size(ex.max_header_size);
  conn.parser.reset();
  http1::ParseError error;
  bool waiting_continue = expect_continue;
  const IOLoop::time_point continue_deadline = loop.time() + kContinueTimeout;
  for (;;) {
    std::string_view data = stream.buffered();
    if (!data.empty()) {
      if (!result.first_byte) result.first_byte = loop.time();
      auto status = conn.parser.parse(data, head_request, conn.head, error);
      if (status == http1::ResponseParser::Status::kError) throw HTTPInputError(error.message);
      if (status == http1::ResponseParser::Status::kDone) {
        if (!conn.head.interim()) break;
        const bool go_on = conn.head.code == 100 && waiting_continue;
        stream.consume(conn.head.size);
        conn.parser.reset();
        if (go_on) {
          waiting_continue = false;
          co_await send_body();
          body_sent = true;
        }
        continue;
      }
    }
    if (waiting_continue) {
      const bool arrived = co_await wait_for_data(conn, continue_deadline);
      if (!arrived) {
        // No answer in time: send the body anyway, as curl does.
        waiting_continue = false;
        co_await send_body();
        body_sent = true;
        continue;
      }
    }
    co_await conn.read_more();
  }

  // ---- the final head ----
  const http1::ResponseHead& head = conn.head;
  result.head_received = true;
  result.code = head.code;
  if (!head.reason.empty()) {
    result.reason.assign(head.reason);
  } else {
    std::string_view phrase = httputil::reason_phrase(head.code);
    result.reason.assign(phrase.empty() ? "Unknown"sv : phrase);
  }
  result.headers.clear();
  for (const http1::HeaderField& field : head.headers) {
    detail::HTTPHeadersAccess::add_validated(result.headers, field.name, field.value);
  }
  const int code = head.code;
  result.redirect = ex.follow_redirects &&
                    (code == 301 || code == 302 || code == 303 || code == 307 || code == 308) &&
                    result.headers.contains("Location") &&
                    will_follow(ex, result.headers.get_list("Location").front());
  if (request.header_callback && !result.redirect) {
    // The lines as received: each runs from its name to its CRLF, in the stream's buffer.
    std::string_view data = stream.buffered();
    request.header_callback(head.status_line);
    for (const http1::HeaderField& field : head.headers) {
      std::string_view rest(field.name.data(), static_cast<std::size_t>(data.data() + data.size() -
                                                                        field.name.data()));
      request.header_callback(rest.substr(0, rest.find("\r\n"sv) + 2));
    }
    request.header_callback("\r\n"sv);
  }
  const http1::ResponseFraming framing = head.framing;
  const std::uint64_t content_length = head.content_length;
  const bool keep_alive = head.keep_alive;
  stream.consume(head.size);

  // ---- the body ----
  std::optional<GzipInflater> inflater;
  if (ex.decompress && framing != http1::ResponseFraming::kNone && !result.redirect) {
    if (auto coding = result.headers.get("Content-Encoding")) {
      if (iequals(*coding, "gzip") || iequals(*coding, "x-gzip")) {
        // As Tornado: the body is given inflated, and the header says what was undone.
        result.headers.add("X-Consumed-Content-Encoding", *coding);
        result.headers.erase("Content-Encoding");
        inflater.emplace();
      }
    }
  }
  const std::function<void(std::string_view)>* streaming =
      request.streaming_callback ? &request.streaming_callback : nullptr;
  BodySink sink{result, streaming, ex.max_body_size};
  sink.discard = result.redirect;
  sink.inflater = inflater ? &*inflater : nullptr;
  result.body.clear();

  switch (framing) {
    case http1::ResponseFraming::kNone:
      break;
    case http1::ResponseFraming::kContentLength: {
      if (!inflater && content_length > ex.max_body_size) sink.too_large();
      if (!streaming && !sink.discard) {
        sink.expected = content_length;
        result.body.reserve(
            static_cast<std::size_t>(std::min<std::uint64_t>(content_length, kInitialBodyReserve)));
      }
      std::uint64_t remaining = content_length;
      while (remaining > 0) {
        std::string_view data = stream.buffered();
        if (data.empty()) {
          co_await conn.read_more();
          continue;
        }
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, data.size()));
        sink.deliver(data.substr(0, n));
        stream.consume(n);
        remaining -= n;
      }
      break;
    }
    case http1::ResponseFraming::kChunked: {
      http1::ChunkedDecoder decoder(ex.max_header_size);
      for (bool done = false; !done;) {
        std::string_view input = stream.buffered();
        std::size_t consumed = 0;
        std::string_view data;
        switch (decoder.decode(input, consumed, data, error)) {
          case http1::ChunkedDecoder::Status::kData:
            // Refused as soon as the declared chunk passes the limit, before reading it.
            if (!inflater &&
                sink.received + data.size() + decoder.pending_chunk_bytes() > ex.max_body_size) {
              sink.too_large();
            }
            sink.deliver(data);
            stream.consume(consumed);
            break;
          case http1::ChunkedDecoder::Status::kNeedMore:
            stream.consume(consumed);
            if (!inflater && sink.received + decoder.pending_chunk_bytes() > ex.max_body_size) {
              sink.too_large();
            }
            co_await conn.read_more();
            break;
          case http1::ChunkedDecoder::Status::kDone:
            stream.consume(consumed);
            done = true;
            break;
          case http1::ChunkedDecoder::Status::kError:
            throw HTTPInputError(error.message);
        }
      }
      break;
    }
    case http1::ResponseFraming::kUntilClose:
      for (;;) {
        std::string_view data = stream.buffered();
        if (!data.empty()) {
          sink.deliver(data);
          stream.consume(data.size());
        }
        bool closed = false;
        try {
          co_await conn.read_more();
        } catch (const StreamClosedError& e) {
          // The end of the body, unless something went wrong (a reset, a TLS stream cut without
          // close_notify, the fetch timing out).
          if (e.real_error() || control.abort_error) throw;
          closed = true;
        }
        if (closed) {
          data = stream.buffered();
          if (!data.empty()) {
            sink.deliver(data);
            stream.consume(data.size());
          }
          break;
        }
      }
      break;
  }
  if (inflater && !inflater->complete()) throw HTTPInputError("truncated gzip body");

  result.reusable = keep_alive && body_sent && !close_connection && !stream.closed() &&
                    stream.buffered().empty() && !stream.writing() && !control.abort_error;
  ++conn.exchanges;
}

}  // namespace squall::httpclient_detail
