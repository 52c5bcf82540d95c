#include "http/http1_parser.hpp"
#include "http/header_words.hpp"
#include "http/text.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace squall::http1 {
namespace {

using http_text::for_each_element;
using http_text::iequals;
using http_text::trim;

constexpr std::string_view kCrlf = "\r\n";
constexpr std::size_t kMaxChunkSizeLine = 4096;  // the size and its extensions
constexpr int kMaxChunkSizeDigits = 15;          // below 2^60: no overflow, and far past any limit

bool is_control(unsigned char c) noexcept {
  return c < 0x20 || c == 0x7f;
}

bool fail(ParseError& error, int status, std::string message) {
  error.status = status;
  error.message = std::move(message);
  return false;
}

/// A line (without its CRLF) holds no bare CR or LF and no NUL.
bool line_is_clean(std::string_view line) noexcept {
  for (char c : line) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

// No space (one per separator), no control character, no NUL: 8 bytes at a time while they are
// ASCII, as a target nearly always is.
bool target_is_clean(std::string_view target) noexcept {
  std::size_t i = 0;
  for (; i + 8 <= target.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, target.data() + i, 8);
    if ((word & header_words::kHighs) != 0) break;  // a byte past ASCII: checked one by one
    if (header_words::has_control_byte(word) || header_words::bytes_in_range(word, ' ', ' ') != 0) {
      return false;
    }
  }
  for (; i < target.size(); ++i) {
    const auto u = static_cast<unsigned char>(target[i]);
    if (u <= 0x20 || u == 0x7f) return false;
  }
  return true;
}

bool parse_request_line(std::string_view line, RequestHead& head, ParseError& error) {
  // Bare CR, LF and NUL fail the method, target and version checks below.
  std::size_t first = line.find(' ');
  // The usual line ends in " HTTP/1.1" (or 1.0), whose space is then the last one.
  const bool usual = line.size() >= 9 && line[line.size() - 9] == ' ' &&
                     line.substr(line.size() - 8, 7) == "HTTP/1." && line.back() >= '0' &&
                     line.back() <= '9';
  std::size_t last = usual ? line.size() - 9 : line.rfind(' ');
  if (first == std::string_view::npos || first == last) {
    return fail(error, 400, "malformed request line");
  }
  head.method = line.substr(0, first);
  head.target = line.substr(first + 1, last - first - 1);
  std::string_view version = line.substr(last + 1);
  if (head.method.empty() || !std::all_of(head.method.begin(), head.method.end(), is_token_char)) {
    return fail(error, 400, "malformed method");
  }
  if (head.target.empty() || !target_is_clean(head.target)) {
    return fail(error, 400, "malformed request target");
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return fail(error, 400, "malformed HTTP version");
  }
  if (version[5] != '1') {
    if (version[5] == '0') return fail(error, 400, "HTTP/0.x is not supported");
    return fail(error, 505, "HTTP version not supported");
  }
  head.version_minor = version[7] == '0' ? 0 : 1;  // 1.2 and later 1.x: served as 1.1
  return true;
}

bool parse_header_line(std::string_view line, std::vector<HeaderField>& headers,
                       ParseError& error) {
  // A bare CR, LF or NUL fails the name or value checks below.
  if (line.front() == ' ' || line.front() == '\t') {
    return fail(error, 400, "obsolete line folding or white space before a header");
  }
  // The name runs up to the first character that is not a token's; it must be the colon.
  std::size_t colon = 0;
  while (colon < line.size() && is_token_char(line[colon])) ++colon;
  if (colon == line.size()) return fail(error, 400, "header line without a colon");
  if (line[colon] != ':') {
    if (line.find(':', colon) == std::string_view::npos) {
      return fail(error, 400, "header line without a colon");
    }
    return fail(error, 400, "malformed header name");  // white space before the colon too
  }
  if (colon == 0) return fail(error, 400, "malformed header name");
  std::string_view name = line.substr(0, colon);
  std::string_view value = trim(line.substr(colon + 1));
  if (!header_words::value_is_clean(value)) {  // a control character, or maybe only a tab
    for (char c : value) {
      if (is_control(static_cast<unsigned char>(c)) && c != '\t') {
        return fail(error, 400, "control character in a header value");
      }
    }
  }
  headers.push_back(HeaderField{name, value});
  return true;
}

/// Works out the body framing, keep-alive and Expect from the headers.
bool apply_headers(RequestHead& head, ParseError& error) {
  bool has_length = false;
  bool has_transfer_encoding = false;
  bool close = false;
  bool keep_alive = false;
  bool chunked = false;
  int codings = 0;
  bool chunked_not_last = false;
  int hosts = 0;
  for (const HeaderField& field : head.headers) {
    // The names that matter differ in length: most fields are passed over on their length alone.
    const std::size_t size = field.name.size();
    if (size != 4 && size != 14 && size != 17 && size != 10 && size != 6) continue;
    if (iequals(field.name, "host")) {
      ++hosts;
    } else if (iequals(field.name, "content-length")) {
      std::uint64_t length = 0;
      if (!parse_content_length(field.value, length)) {
        return fail(error, 400, "invalid Content-Length");
      }
      if (has_length && length != head.content_length) {
        return fail(error, 400, "conflicting Content-Length headers");
      }
      has_length = true;
      head.content_length = length;
    } else if (iequals(field.name, "transfer-encoding")) {
      has_transfer_encoding = true;
      for_each_element(field.value, [&](std::string_view coding) {
        ++codings;
        if (chunked) chunked_not_last = true;  // anything after chunked, chunked twice included
        chunked = iequals(coding, "chunked");
      });
    } else if (iequals(field.name, "connection")) {
      for_each_element(field.value, [&](std::string_view option) {
        if (iequals(option, "close")) close = true;
        if (iequals(option, "keep-alive")) keep_alive = true;
      });
    } else if (iequals(field.name, "expect")) {
      if (iequals(field.value, "100-continue")) head.expect_continue = true;
    }
  }
  // RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host (HTTP/1.0 may have none).
  if (hosts > 1) return fail(error, 400, "more than one Host header");
  if (hosts == 0 && head.version_minor >= 1)
    return fail(error, 400, "HTTP/1.1 request without Host");
  if (has_transfer_encoding) {
    if (has_length) return fail(error, 400, "both Content-Length and Transfer-Encoding");
    if (codings == 0 || !chunked || chunked_not_last) {
      return fail(error, 400, "Transfer-Encoding without chunked as its final coding");
    }
    if (codings > 1) return fail(error, 501, "unsupported transfer coding");
    head.framing = BodyFraming::kChunked;
  } else if (has_length) {
    head.framing = head.content_length > 0 ? BodyFraming::kContentLength : BodyFraming::kNone;
  }
  head.keep_alive = head.version_minor >= 1 ? !close : (keep_alive && !close);
  if (head.version_minor == 0) head.expect_continue = false;  // HTTP/1.0 has no 100-continue
  return true;
}

}  // namespace

namespace detail {
// tchar of RFC 9110 §5.6.2, as a table: the parser asks it of every byte of every header name.
constexpr std::array<bool, 256> make_token_table() {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
  return table;
}
const std::array<bool, 256> kTokenChars = make_token_table();
}  // namespace detail

HeadScan scan_head(std::string_view data, std::size_t start, std::size_t search_from) noexcept {
  // Each LF found is checked for CR LF CR before it (the blank line), or for no CR (bare LF).
  HeadScan scan;
  for (std::size_t from = search_from; from < data.size();) {
    const void* found = std::memchr(data.data() + from, '\n', data.size() - from);
    if (found == nullptr) break;
    const auto at = static_cast<std::size_t>(static_cast<const char*>(found) - data.data());
    if (at > start && data[at - 1] != '\r') {
      scan.bare_lf = true;
      return scan;
    }
    if (scan.first_line_end == std::string_view::npos && at > start) scan.first_line_end = at;
    if (at >= start + 3 && at >= search_from + 3 && data[at - 1] == '\r' && data[at - 2] == '\n' &&
        data[at - 3] == '\r') {
      scan.end = at - 3;
      return scan;
    }
    from = at + 1;
  }
  return scan;
}

bool parse_content_length(std::string_view value, std::uint64_t& length) noexcept {
  // The usual value: digits alone.
  if (!value.empty() && value.size() <= 18) {
    std::uint64_t n = 0;
    std::size_t i = 0;
    for (; i < value.size() && value[i] >= '0' && value[i] <= '9'; ++i) {
      n = n * 10 + static_cast<std::uint64_t>(value[i] - '0');
    }
    if (i == value.size()) {
      length = n;
      return true;
    }
  }
  bool seen = false;
  std::uint64_t first = 0;
  bool ok = true;
  for_each_element(value, [&](std::string_view element) {
    std::uint64_t n = 0;
    if (element.size() > 18) ok = false;  // past 10^18 - 1: an overflow waiting to happen
    for (char c : element) {
      if (c < '0' || c > '9') ok = false;
      n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (!ok) return;
    if (seen && n != first) ok = false;
    first = n;
    seen = true;
  });
  if (!ok || !seen) return false;
  length = first;
  return true;
}

RequestParser::Status RequestParser::parse(std::string_view data, RequestHead& head,
                                           ParseError& error) {
  // Empty lines before the request line are ignored (RFC 9112 §2.2).
  std::size_t start = 0;
  while (data.substr(start, 2) == kCrlf) start += 2;
  if (start + 1 == data.size() && data[start] == '\r') return Status::kIncomplete;
  if (start < data.size() && data[start] == '\n') {
    fail(error, 400, "bare LF before the request line");
    return Status::kError;
  }

  if (start < data.size() && !is_token_char(data[start]) && data[start] != '\r') {
    // Not the start of a method (TLS's handshake, binary junk): no need to wait for a line.
    fail(error, 400, "malformed request line");
    return Status::kError;
  }

  std::size_t search_from = std::max(scanned_, start);
  search_from = search_from >= 3 ? search_from - 3 : 0;  // "\r\n\r\n" may straddle reads
  const HeadScan scan = scan_head(data, start, search_from);
  if (scan.bare_lf) {
    fail(error, 400, "bare LF line ending");
    return Status::kError;
  }
  const std::size_t end = scan.end;
  const std::size_t first_line_end = scan.first_line_end;
  if (end == std::string_view::npos) {
    if (!line_checked_ && first_line_end != std::string_view::npos) {
      // The request line is complete but the head is not: a malformed line is refused now,
      // without waiting for headers that may never come.
      line_checked_ = true;
      if (!parse_request_line(data.substr(start, first_line_end - 1 - start), head, error)) {
        return Status::kError;
      }
    }
    if (data.size() - start > max_header_size_) {
      fail(error, 431, "request header section too large");
      return Status::kError;
    }
    scanned_ = data.size();
    return Status::kIncomplete;
  }
  if (end + 4 - start > max_header_size_) {
    fail(error, 431, "request header section too large");
    return Status::kError;
  }

  // Reset field by field: the header vector keeps its capacity across a connection's requests.
  head.headers.clear();
  head.framing = BodyFraming::kNone;
  head.content_length = 0;
  head.keep_alive = true;
  head.expect_continue = false;
  std::string_view block = data.substr(start, end - start + 2);  // each line ends with CRLF
  std::size_t line_end = block.find(kCrlf);
  if (!parse_request_line(block.substr(0, line_end), head, error)) return Status::kError;
  block.remove_prefix(line_end + 2);
  while (!block.empty()) {
    line_end = block.find(kCrlf);
    if (!parse_header_line(block.substr(0, line_end), head.headers, error)) {
      return Status::kError;
    }
    block.remove_prefix(line_end + 2);
  }
  if (!apply_headers(head, error)) return Status::kError;
  head.size = end + 4;
  scanned_ = 0;
  line_checked_ = false;
  return Status::kDone;
}

ChunkedDecoder::Status ChunkedDecoder::decode(std::string_view input, std::size_t& consumed,
                                              std::string_view& data, ParseError& error) {
  consumed = 0;
  for (;;) {
    std::string_view rest = input.substr(consumed);
    switch (state_) {
      case State::kSize: {
        std::size_t line_end = rest.find(kCrlf);
        if (line_end == std::string_view::npos) {
          // Refused early only when the line cannot end within the limit: k bytes so far make
          // a line of at least k - 1 bytes (if the last one is the CR).
          if (rest.size() > kMaxChunkSizeLine + 1) {
            fail(error, 400, "chunk size line too long");
            return Status::kError;
          }
          return Status::kNeedMore;
        }
        std::string_view line = rest.substr(0, line_end);
        if (line.size() > kMaxChunkSizeLine || !line_is_clean(line)) {
          fail(error, 400, "malformed chunk size line");
          return Status::kError;
        }
        std::uint64_t size = 0;
        std::size_t i = 0;
        for (; i < line.size(); ++i) {
          char c = line[i];
          int digit = c >= '0' && c <= '9'   ? c - '0'
                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                      : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                             : -1;
          if (digit < 0) break;
          if (i >= static_cast<std::size_t>(kMaxChunkSizeDigits)) {
            fail(error, 400, "chunk size too large");
            return Status::kError;
          }
          size = size * 16 + static_cast<std::uint64_t>(digit);
        }
        if (i == 0) {
          fail(error, 400, "missing or malformed chunk size");
          return Status::kError;
        }
        std::string_view after = line.substr(i);
        while (!after.empty() && (after.front() == ' ' || after.front() == '\t')) {
          after.remove_prefix(1);
        }
        if (!after.empty() && after.front() != ';') {
          fail(error, 400, "malformed chunk size");
          return Status::kError;
        }
        // Chunk extensions (after ';') are ignored; the line was checked for CR, LF and NUL.
        consumed += line_end + 2;
        chunk_size_ = size;
        if (size == 0) {
          state_ = State::kTrailer;
        } else {
          remaining_ = size;
          state_ = State::kData;
        }
        break;
      }
      case State::kData: {
        if (rest.empty()) return Status::kNeedMore;
        std::size_t take =
            static_cast<std::size_t>(std::min<std::uint64_t>(rest.size(), remaining_));
        data = rest.substr(0, take);
        consumed += take;
        remaining_ -= take;
        if (remaining_ == 0) state_ = State::kDataEnd;
        return Status::kData;
      }
      case State::kDataEnd:
        if (rest.size() < 2) {
          if (!rest.empty() && rest[0] != '\r') {
            fail(error, 400, "missing CRLF after chunk data");
            return Status::kError;
          }
          return Status::kNeedMore;
        }
        if (rest.substr(0, 2) != kCrlf) {
          fail(error, 400, "missing CRLF after chunk data");
          return Status::kError;
        }
        consumed += 2;
        state_ = State::kSize;
        break;
      case State::kTrailer: {
        std::size_t line_end = rest.find(kCrlf);
        if (line_end == std::string_view::npos) {
          // Refused early only when no completion fits: nothing yet, or a lone CR, may be the
          // blank line that ends the trailer (adding nothing); k bytes of a field line add at
          // least k + 1.
          if (!rest.empty() && rest != "\r" &&
              trailer_size_ + rest.size() + 1 > max_trailer_size_) {
            fail(error, 431, "chunked trailer too large");
            return Status::kError;
          }
          return Status::kNeedMore;
        }
        if (line_end == 0) {
          consumed += 2;
          state_ = State::kDone;
          return Status::kDone;
        }
        trailer_size_ += line_end + 2;
        std::vector<HeaderField> ignored;  // trailer fields are checked, then dropped
        if (trailer_size_ > max_trailer_size_ ||
            !parse_header_line(rest.substr(0, line_end), ignored, error)) {
          if (trailer_size_ > max_trailer_size_) fail(error, 431, "chunked trailer too large");
          return Status::kError;
        }
        consumed += line_end + 2;
        break;
      }
      case State::kDone:
        return Status::kDone;
    }
  }
}

}  // namespace squall::http1
