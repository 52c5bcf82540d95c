#pragma once
// The HTTP/1.1 response-head parser of the client: the counterpart of http1_parser's
// RequestParser, as strict and as cheap. Every field is a view into the buffer given to `parse`
// (the stream's read buffer), and the work is linear in the input however it arrives.
//
// The body's framing follows RFC 9112 §6.3: no body for an answer to HEAD, for 1xx, 204 and 304;
// then a Transfer-Encoding whose last coding is chunked; then Content-Length; else the body runs
// until the server closes. Where two parsers could disagree about where a response ends
// (Content-Length with Transfer-Encoding, two different Content-Lengths, a transfer coding other
// than chunked, bare CR or LF, obs-fold), the response is refused.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "http/http1_parser.hpp"

namespace squall::http1 {

/// How a response's body is delimited (BodyFraming, plus reading until the server closes).
enum class ResponseFraming : std::uint8_t { kNone, kContentLength, kChunked, kUntilClose };

/// A parsed response head. The views point into the buffer given to ResponseParser::parse.
struct ResponseHead {
  int version_minor = 1;  // HTTP/1.0 or HTTP/1.1 (a later 1.x is read as 1.1)
  int code = 0;
  std::string_view reason;       // may be empty
  std::string_view status_line;  // the status line with its CRLF, as received
  std::vector<HeaderField> headers;
  ResponseFraming framing = ResponseFraming::kNone;
  std::uint64_t content_length = 0;
  bool keep_alive = true;  // by version and Connection; false when the body runs to the close
  std::size_t size = 0;    // bytes of the head, from the buffer's start to its blank line

  /// A 1xx response other than 101: an interim response, followed by the final one.
  bool interim() const noexcept { return code >= 100 && code < 200 && code != 101; }
};

/// Parses response heads. One parser per connection; call `parse` with the buffered bytes each
/// time more arrive, until it answers kDone or kError; `reset` before the next head (an interim
/// response's final one included).
class ResponseParser {
 public:
  enum class Status : std::uint8_t { kIncomplete, kDone, kError };

  /// `max_header_size` bounds the head: status line, fields and blank line.
  explicit ResponseParser(std::size_t max_header_size = 65536) noexcept
      : max_header_size_(max_header_size) {}

  /// Parses the head at the start of `data` (which must start at the same byte on every call for
  /// one head, and may grow between calls); `head_request` says the request was HEAD (so the
  /// response has no body). kIncomplete: more bytes are needed (what was searched already is
  /// not searched again). kDone: `head` is filled. kError: `error.message` says why.
  Status parse(std::string_view data, bool head_request, ResponseHead& head, ParseError& error);

  /// Forgets the scan position, for the next head.
  void reset() noexcept {
    scanned_ = 0;
    skipped_ = 0;
    line_checked_ = false;
  }

  void set_max_header_size(std::size_t max_header_size) noexcept {
    max_header_size_ = max_header_size;
  }

 private:
  std::size_t max_header_size_;
  std::size_t scanned_ = 0;    // bytes of `data` known to hold no end of head
  std::size_t skipped_ = 0;    // empty lines before the status line, skipped already
  bool line_checked_ = false;  // the status line was complete, and valid, at an earlier call
};

}  // namespace squall::http1
