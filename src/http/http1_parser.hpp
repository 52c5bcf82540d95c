#pragma once
// The HTTP/1.1 request-head parser and chunked-body decoder of http1connection: strict by
// RFC 9112, zero-copy (every field is a view into the connection's buffer), and linear in the
// input however it arrives (a head split over many reads is scanned once).
//
// Strictness is the point: every place where two parsers could disagree about where a message
// ends (bare CR or LF, obs-fold, white space before a colon, Content-Length with
// Transfer-Encoding, two different Content-Lengths, a chunk size that is not plain hex) is an
// error, answered with the status in ParseError and the connection closed.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "squall/http/httputil.hpp"

namespace squall {
namespace detail {
/// Lets the codec add header fields that its parser has validated already, without checking
/// them a second time.
struct HTTPHeadersAccess {
  static void add_validated(HTTPHeaders& headers, std::string_view name, std::string_view value);
  /// Makes room for `fields` more fields of `bytes` bytes of names and values in all (a parsed
  /// head's count and size): one block for each, no spare room.
  static void reserve(HTTPHeaders& headers, std::size_t fields, std::size_t bytes);
  /// The first value of `name`, without a copy (valid until `headers` changes); nullopt if absent.
  static std::optional<std::string_view> first_value(const HTTPHeaders& headers,
                                                     std::string_view name) {
    const std::size_t found = headers.find(name);
    if (found == HTTPHeaders::kNotFound) return std::nullopt;
    return headers.value_of(headers.entries_[found]);
  }
  /// The value of `name` if it has exactly one (a view valid until `headers` changes); nullopt if
  /// it has none or several.
  static std::optional<std::string_view> only_value(const HTTPHeaders& headers,
                                                    std::string_view name) {
    const std::size_t found = headers.find(name);
    if (found == HTTPHeaders::kNotFound) return std::nullopt;
    const HTTPHeaders::Entry& entry = headers.entries_[found];
    if (entry.next != HTTPHeaders::kNone) return std::nullopt;
    return headers.value_of(entry);
  }
  /// The bytes of the fields written as "Name: value\r\n" lines (each value with its name).
  static std::size_t wire_size(const HTTPHeaders& headers) noexcept {
    std::size_t size = 0;
    const auto& entries = headers.entries_;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (entries[i].last != HTTPHeaders::kErased) {
        size += entries[i].name_size + entries[i].value_size + 4;
      }
    }
    return size;
  }
  /// Calls `fn(name, value)` for each field in iteration order, without the iterator's steps.
  template <class Fn>
  static void for_each_field(const HTTPHeaders& headers, Fn&& fn) {
    const auto& entries = headers.entries_;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (!entries[i].is_head()) continue;
      const std::string_view name = headers.name_of(entries[i]);
      for (auto v = static_cast<std::uint32_t>(i); v != HTTPHeaders::kNone; v = entries[v].next) {
        fn(name, headers.value_of(entries[v]));
      }
    }
  }
  /// The heap bytes `headers` holds (its blocks' capacities), for tests of its memory bounds.
  static std::size_t heap_bytes(const HTTPHeaders& headers);
};
}  // namespace detail
}  // namespace squall

namespace squall::http1 {

/// Why a message was refused: the status to answer with, and a message for the log.
struct ParseError {
  int status = 400;
  std::string message;
};

struct HeaderField {
  std::string_view name;
  std::string_view value;  // without surrounding white space
};

/// How a request's body is delimited.
enum class BodyFraming : std::uint8_t { kNone, kContentLength, kChunked };

/// A parsed request head. The views point into the buffer given to RequestParser::parse.
struct RequestHead {
  std::string_view method;
  std::string_view target;
  int version_minor = 1;  // HTTP/1.0 or HTTP/1.1 (a later 1.x is served as 1.1)
  std::vector<HeaderField> headers;
  BodyFraming framing = BodyFraming::kNone;
  std::uint64_t content_length = 0;
  bool keep_alive = true;        // by version and Connection
  bool expect_continue = false;  // Expect: 100-continue
  std::size_t size = 0;          // bytes of the head, from the buffer's start to its blank line
};

/// Parses request heads. One parser per connection; call `parse` with the buffered bytes each
/// time more arrive, until it answers kDone or kError; `reset` before the next request.
class RequestParser {
 public:
  enum class Status : std::uint8_t { kIncomplete, kDone, kError };

  explicit RequestParser(std::size_t max_header_size = 65536) noexcept
      : max_header_size_(max_header_size) {}

  /// Parses the head at the start of `data` (which must start at the same byte on every call
  /// for one request, and may grow between calls). kIncomplete: more bytes are needed (the part
  /// already searched is not searched again). kDone: `head` is filled. kError: `error` says why.
  Status parse(std::string_view data, RequestHead& head, ParseError& error);

  /// Forgets the scan position, for the next request.
  void reset() noexcept {
    scanned_ = 0;
    line_checked_ = false;
  }

 private:
  std::size_t max_header_size_;
  std::size_t scanned_ = 0;    // bytes of `data` known to hold no end of head
  bool line_checked_ = false;  // the request line was complete, and valid, at an earlier call
};

/// Decodes a chunked body piece by piece, without copying: each call consumes from the front of
/// the buffered bytes and may give a view of body data.
class ChunkedDecoder {
 public:
  enum class Status : std::uint8_t {
    kNeedMore,  // consumed what it could; wants more bytes
    kData,      // `data` is a piece of the body (a view into the input)
    kDone,      // the last chunk and the trailer are consumed
    kError,
  };

  /// `max_trailer_size` bounds the trailer section (after the last chunk).
  explicit ChunkedDecoder(std::size_t max_trailer_size = 65536) noexcept
      : max_trailer_size_(max_trailer_size) {}

  /// Consumes bytes from the front of `input`; `consumed` tells how many (the caller drops them
  /// from its buffer). With kData, `data` is the body piece (within the consumed bytes).
  Status decode(std::string_view input, std::size_t& consumed, std::string_view& data,
                ParseError& error);

  /// The size of the chunk being read, once its size line is parsed (for early limit checks).
  std::uint64_t current_chunk_size() const noexcept { return chunk_size_; }
  /// Bytes of the current chunk's data not given out yet (0 between chunks): with the bytes
  /// given so far, what the body will have reached at the end of this chunk.
  std::uint64_t pending_chunk_bytes() const noexcept {
    return state_ == State::kData ? remaining_ : 0;
  }

 private:
  enum class State : std::uint8_t { kSize, kData, kDataEnd, kTrailer, kDone };
  State state_ = State::kSize;
  std::uint64_t chunk_size_ = 0;
  std::uint64_t remaining_ = 0;
  std::size_t trailer_size_ = 0;
  std::size_t max_trailer_size_;
};

/// Where a message head ends in `data` (RFC 9112 §2.1), searched with one memchr per line from
/// `search_from`; `start` is where the head begins (after any empty lines that precede it).
struct HeadScan {
  std::size_t end = std::string_view::npos;             // the blank line's CR, if found
  std::size_t first_line_end = std::string_view::npos;  // the start line's LF, if found
  bool bare_lf = false;  // a line ended with LF alone: refused at once, not left to time out
};
HeadScan scan_head(std::string_view data, std::size_t start, std::size_t search_from) noexcept;

/// Parses a Content-Length value: digits only (a list of identical values is accepted, as RFC
/// 9110 allows); false for anything else or a value that overflows.
bool parse_content_length(std::string_view value, std::uint64_t& length) noexcept;

namespace detail {
extern const std::array<bool, 256> kTokenChars;
}

/// True for the characters of an HTTP token (RFC 9110 §5.6.2).
inline bool is_token_char(char c) noexcept {
  return detail::kTokenChars[static_cast<unsigned char>(c)];
}

}  // namespace squall::http1
