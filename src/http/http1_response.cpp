#include "http/http1_response.hpp"
#include "http/text.hpp"

#include <algorithm>

namespace squall::http1 {
namespace {

using http_text::for_each_element;
using http_text::iequals;
using http_text::trim;

constexpr std::string_view kCrlf = "\r\n";

bool fail(ParseError& error, std::string_view message) {
  error.status = 502;  // what a proxy would answer for it
  error.message.assign(message);
  return false;
}

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

/// `HTTP/1.x DDD reason`, the reason optional (with or without the space before it).
bool parse_status_line(std::string_view line, ResponseHead& head, ParseError& error) {
  if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || !is_digit(line[5]) || line[6] != '.' ||
      !is_digit(line[7]) || line[8] != ' ') {
    return fail(error, "malformed status line");
  }
  if (line[5] != '1') return fail(error, "unsupported HTTP version in the status line");
  head.version_minor = line[7] == '0' ? 0 : 1;
  if (line[9] < '1' || line[9] > '9' || !is_digit(line[10]) || !is_digit(line[11])) {
    return fail(error, "malformed status code");
  }
  head.code = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  std::string_view rest = line.substr(12);
  if (!rest.empty()) {
    if (rest.front() != ' ') return fail(error, "malformed status code");
    rest.remove_prefix(1);
  }
  // reason-phrase = *( HTAB / SP / VCHAR / obs-text ): no control character, CR, LF or NUL.
  for (char c : rest) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return fail(error, "control character in the reason");
  }
  head.reason = rest;
  return true;
}

bool parse_header_line(std::string_view line, std::vector<HeaderField>& headers,
                       ParseError& error) {
  if (line.front() == ' ' || line.front() == '\t') {
    return fail(error, "obsolete line folding or white space before a header");
  }
  std::size_t colon = 0;
  while (colon < line.size() && is_token_char(line[colon])) ++colon;
  if (colon == line.size()) return fail(error, "header line without a colon");
  if (line[colon] != ':' || colon == 0) return fail(error, "malformed header name");
  std::string_view value = trim(line.substr(colon + 1));
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) {
      return fail(error, "control character in a header value");
    }
  }
  headers.push_back(HeaderField{line.substr(0, colon), value});
  return true;
}

/// Works out the body's framing and keep-alive from the status and the fields (RFC 9112 §6.3).
bool apply_headers(ResponseHead& head, bool head_request, ParseError& error) {
  bool has_length = false;
  bool has_transfer_encoding = false;
  bool close = false;
  bool keep_alive = false;
  int codings = 0;
  bool chunked_last = false;
  bool chunked_seen = false;
  for (const HeaderField& field : head.headers) {
    if (field.name.size() == 14 && iequals(field.name, "content-length")) {
      std::uint64_t length = 0;
      if (!parse_content_length(field.value, length)) return fail(error, "invalid Content-Length");
      if (has_length && length != head.content_length) {
        return fail(error, "conflicting Content-Length headers");
      }
      has_length = true;
      head.content_length = length;
    } else if (field.name.size() == 17 && iequals(field.name, "transfer-encoding")) {
      has_transfer_encoding = true;
      for_each_element(field.value, [&](std::string_view coding) {
        ++codings;
        chunked_last = iequals(coding, "chunked");
        chunked_seen = chunked_seen || chunked_last;
      });
    } else if (field.name.size() == 10 && iequals(field.name, "connection")) {
      for_each_element(field.value, [&](std::string_view option) {
        if (iequals(option, "close")) close = true;
        if (iequals(option, "keep-alive")) keep_alive = true;
      });
    }
  }
  if (has_transfer_encoding) {
    if (has_length) return fail(error, "both Content-Length and Transfer-Encoding");
    // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means the framing is faulty.
    if (head.version_minor == 0) return fail(error, "Transfer-Encoding in an HTTP/1.0 response");
    // Only chunked is decoded: any other coding (before it, or instead of it, which would
    // leave the body running to the close in a coding nobody here can undo) is refused.
    if (codings != 1 || !chunked_last) return fail(error, "unsupported transfer coding");
  }
  const int code = head.code;
  const bool bodiless = head_request || (code >= 100 && code < 200) || code == 204 || code == 304;
  if (bodiless) {
    head.framing = ResponseFraming::kNone;
  } else if (has_transfer_encoding) {
    head.framing = ResponseFraming::kChunked;
  } else if (has_length) {
    head.framing =
        head.content_length > 0 ? ResponseFraming::kContentLength : ResponseFraming::kNone;
  } else {
    head.framing = ResponseFraming::kUntilClose;
  }
  head.keep_alive = head.version_minor >= 1 ? !close : (keep_alive && !close);
  if (head.framing == ResponseFraming::kUntilClose || code == 101) head.keep_alive = false;
  return true;
}

}  // namespace

ResponseParser::Status ResponseParser::parse(std::string_view data, bool head_request,
                                             ResponseHead& head, ParseError& error) {
  // Empty lines before the status line are skipped, as Tornado does (some servers send a CRLF
  // after a body); a bare LF is refused.
  std::size_t start = skipped_;  // the empty lines seen at earlier calls are not read again
  while (data.substr(start, 2) == kCrlf) start += 2;
  skipped_ = start;
  if (start > max_header_size_) {
    fail(error, "response header section too large");
    return Status::kError;
  }
  if (start < data.size()) {
    // Not the start of "HTTP/" (a body longer than its Content-Length said, binary junk):
    // refused at once rather than after a head's worth of bytes.
    std::string_view prefix = data.substr(start, 5);
    if (prefix != std::string_view("HTTP/").substr(0, prefix.size()) &&
        !(prefix == "\r" && start + 1 == data.size())) {
      fail(error, "malformed status line");
      return Status::kError;
    }
  }

  std::size_t search_from = std::max(scanned_, start);
  search_from = search_from >= 3 ? search_from - 3 : 0;  // "\r\n\r\n" may straddle reads
  const HeadScan scan = scan_head(data, start, search_from);
  if (scan.bare_lf) {
    fail(error, "bare LF line ending");
    return Status::kError;
  }
  const std::size_t end = scan.end;
  const std::size_t first_line_end = scan.first_line_end;
  if (end == std::string_view::npos) {
    if (!line_checked_ && first_line_end != std::string_view::npos) {
      // The status line is complete but the head is not: a malformed one is refused now.
      line_checked_ = true;
      if (!parse_status_line(data.substr(start, first_line_end - 1 - start), head, error)) {
        return Status::kError;
      }
    }
    if (data.size() > max_header_size_) {
      fail(error, "response header section too large");
      return Status::kError;
    }
    scanned_ = data.size();
    return Status::kIncomplete;
  }
  if (end + 4 > max_header_size_) {
    fail(error, "response header section too large");
    return Status::kError;
  }

  head.headers.clear();
  head.framing = ResponseFraming::kNone;
  head.content_length = 0;
  head.keep_alive = true;
  std::string_view block = data.substr(start, end - start + 2);  // each line ends with CRLF
  std::size_t line_end = block.find(kCrlf);
  std::string_view line = block.substr(0, line_end);
  // A CR or NUL fails the fixed positions' checks or the reason's.
  if (!parse_status_line(line, head, error)) return Status::kError;
  head.status_line = block.substr(0, line_end + 2);
  block.remove_prefix(line_end + 2);
  while (!block.empty()) {
    line_end = block.find(kCrlf);
    line = block.substr(0, line_end);
    // A bare CR inside a line fails the name or value checks (CR is a control character).
    if (!parse_header_line(line, head.headers, error)) return Status::kError;
    block.remove_prefix(line_end + 2);
  }
  if (!apply_headers(head, head_request, error)) return Status::kError;
  head.size = end + 4;
  reset();
  return Status::kDone;
}

}  // namespace squall::http1
