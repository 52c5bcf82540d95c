#pragma once
// A strict HTTP/1.1 response parser and a raw-socket client, for testing HTTP servers over real
// loopback sockets.
//
// `parse_response` reads one response off the front of a byte stream and throws
// HttpProtocolError for anything malformed: a status line other than `HTTP/1.1 DDD reason`, a
// header line that is not `token ":" OWS value OWS` ended by CRLF, a bare CR or LF, obs-fold, a
// control character in a value, a Content-Length that is not plain digits or appears twice,
// Content-Length with Transfer-Encoding, a Transfer-Encoding other than `chunked`, malformed
// chunked framing, Content-Length or Transfer-Encoding on a 1xx, 204 or 304 response, or a message
// cut by the end of the stream. Framing follows RFC 9112 §6.3: no body for 1xx, 204, 304 and
// answers to HEAD; then chunked, then Content-Length, else the body runs to the close.
//
// `RawClient` sends raw bytes on a non-blocking socket watched by the current IOLoop, and reads
// responses with that parser. Every wait has a deadline: nothing it does can hang a test.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "squall/core/concurrent.hpp"
#include "squall/core/ioloop.hpp"

namespace squall::test_support {

/// A response that breaks HTTP/1.1 (or is cut short by the end of the stream).
class HttpProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A wait of RawClient passed its deadline.
class ClientTimeout : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The server closed the connection before the first byte of the awaited response.
class PeerClosed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// How a response's body was delimited.
enum class BodyFraming { kNone, kContentLength, kChunked, kUntilClose };

/// One parsed response: 1xx interim responses are responses of their own.
struct HttpResponse {
  std::string version;
  int status = 0;
  std::string reason;
  /// The header fields as received (name case kept), in order.
  std::vector<std::pair<std::string, std::string>> headers;
  /// The trailer fields of a chunked body.
  std::vector<std::pair<std::string, std::string>> trailers;
  std::string body;
  BodyFraming framing = BodyFraming::kNone;
  /// Bytes the response took on the wire.
  std::size_t size = 0;

  bool interim() const noexcept { return status >= 100 && status < 200; }

  /// How many fields are named `name` (without regard to case).
  std::size_t count(std::string_view name) const;
  bool has(std::string_view name) const { return count(name) > 0; }
  /// The value of the field `name`, nullopt if absent; throws HttpProtocolError if it appears
  /// more than once (a test asking for one value expects one field).
  std::optional<std::string> header(std::string_view name) const;
  /// `header(name)`, or "<absent>".
  std::string header_or_absent(std::string_view name) const {
    return header(name).value_or("<absent>");
  }
  /// Whether a field `name` lists `token` (comma-separated, without regard to case).
  bool lists(std::string_view name, std::string_view token) const;
};

namespace detail {

inline bool is_tchar(char c) noexcept {
  auto u = static_cast<unsigned char>(c);
  if (u >= '0' && u <= '9') return true;
  if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z')) return true;
  return c != '\0' && std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

/// VCHAR or obs-text (RFC 9110 §5.5's field-vchar).
inline bool is_field_vchar(char c) noexcept {
  auto u = static_cast<unsigned char>(c);
  return (u >= 0x21 && u <= 0x7e) || u >= 0x80;
}

inline bool is_hex(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

inline int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

inline char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
}

inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

inline std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// Shows bytes for an error message: printable ASCII as is, others as \xNN; cut at 200.
inline std::string printable(std::string_view s) {
  std::string out;
  const char* digits = "0123456789abcdef";
  for (std::size_t i = 0; i < s.size() && i < 200; ++i) {
    auto u = static_cast<unsigned char>(s[i]);
    if (s[i] == '\r') {
      out += "\\r";
    } else if (s[i] == '\n') {
      out += "\\n";
    } else if (u >= 0x20 && u < 0x7f) {
      out += s[i];
    } else {
      out += "\\x";
      out += digits[u >> 4];
      out += digits[u & 15];
    }
  }
  if (s.size() > 200) out += "...";
  return out;
}

[[noreturn]] inline void fail(const std::string& why, std::string_view where) {
  std::string message = "malformed response: ";
  message += why;
  message += " in \"";
  message += printable(where);
  message += "\"";
  throw HttpProtocolError(message);
}

/// Where the CRLF that ends the line starting at `pos` is, or npos if the data stops first.
/// A bare LF, or a CR followed by anything but LF, is an error.
inline std::size_t find_line_end(std::string_view data, std::size_t pos) {
  for (std::size_t i = pos; i < data.size(); ++i) {
    if (data[i] == '\n') fail("bare LF", data.substr(pos, i + 1 - pos));
    if (data[i] == '\r') {
      if (i + 1 == data.size()) return std::string_view::npos;
      if (data[i + 1] != '\n') fail("bare CR", data.substr(pos, i + 2 - pos));
      return i;
    }
  }
  return std::string_view::npos;
}

/// Checks a field line (`name: value`) and splits it.
inline std::pair<std::string, std::string> parse_field_line(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') fail("obs-fold or white space", line);
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) fail("field line without a colon", line);
  std::string_view name = line.substr(0, colon);
  if (name.empty()) fail("empty field name", line);
  for (char c : name) {
    if (!is_tchar(c)) fail("field name is not a token", line);
  }
  std::string_view value = trim_ows(line.substr(colon + 1));
  for (char c : value) {
    if (!is_field_vchar(c) && c != ' ' && c != '\t') fail("control character in a value", line);
  }
  return {std::string(name), std::string(value)};
}

/// Parses a Content-Length value: 1*DIGIT, at most 18 digits.
inline std::uint64_t parse_content_length(std::string_view value) {
  if (value.empty() || value.size() > 18) fail("invalid Content-Length", value);
  std::uint64_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') fail("invalid Content-Length", value);
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

/// Checks the chunk-ext after a chunk size: `*( ";" token [ "=" token ] )`.
inline void check_chunk_extensions(std::string_view ext, std::string_view line) {
  while (!ext.empty()) {
    if (ext.front() != ';') fail("junk after the chunk size", line);
    ext.remove_prefix(1);
    std::size_t n = 0;
    while (n < ext.size() && is_tchar(ext[n])) ++n;
    if (n == 0) fail("empty chunk extension", line);
    ext.remove_prefix(n);
    if (!ext.empty() && ext.front() == '=') {
      ext.remove_prefix(1);
      n = 0;
      while (n < ext.size() && is_tchar(ext[n])) ++n;
      if (n == 0) fail("empty chunk extension value", line);
      ext.remove_prefix(n);
    }
  }
}

constexpr std::size_t kMaxHead = std::size_t{1} << 20;

}  // namespace detail

inline std::size_t HttpResponse::count(std::string_view name) const {
  std::size_t n = 0;
  for (const auto& field : headers) {
    if (detail::iequals(field.first, name)) ++n;
  }
  return n;
}

inline std::optional<std::string> HttpResponse::header(std::string_view name) const {
  std::optional<std::string> found;
  for (const auto& field : headers) {
    if (!detail::iequals(field.first, name)) continue;
    if (found) throw HttpProtocolError("header " + std::string(name) + " appears more than once");
    found = field.second;
  }
  return found;
}

inline bool HttpResponse::lists(std::string_view name, std::string_view token) const {
  for (const auto& field : headers) {
    if (!detail::iequals(field.first, name)) continue;
    std::string_view list = field.second;
    while (!list.empty()) {
      std::size_t comma = list.find(',');
      if (detail::iequals(detail::trim_ows(list.substr(0, comma)), token)) return true;
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  return false;
}

/// Parses the response at the front of `data`, sent in answer to a `method` request. Returns
/// nullopt if more bytes are needed (`eof` false) and sets `used` to the bytes the response took
/// otherwise. Throws HttpProtocolError for a malformed response, or one that `eof` cuts short.
inline std::optional<HttpResponse> parse_response(std::string_view data, std::string_view method,
                                                  bool eof, std::size_t& used) {
  using detail::fail;
  bool in_head = true;
  auto need_more = [&]() -> std::optional<HttpResponse> {
    if (eof) fail("connection closed in the middle of a response", data);
    if (in_head && data.size() > detail::kMaxHead) fail("head over 1 MiB", data.substr(0, 64));
    return std::nullopt;
  };
  HttpResponse response;

  // The status line: HTTP-version SP 3DIGIT SP reason-phrase CRLF.
  std::size_t line_end = detail::find_line_end(data, 0);
  if (line_end == std::string_view::npos) {
    // Fail at once on a start that can never become "HTTP/1.1 ".
    std::string_view prefix = "HTTP/1.1 ";
    std::string_view start = data.substr(0, prefix.size());
    if (start != prefix.substr(0, start.size())) fail("status line is not HTTP/1.1", data);
    return need_more();
  }
  std::string_view status_line = data.substr(0, line_end);
  if (status_line.size() < 13 || status_line.substr(0, 9) != "HTTP/1.1 " ||
      status_line[12] != ' ') {
    fail("status line is not `HTTP/1.1 DDD reason`", status_line);
  }
  for (std::size_t i = 9; i < 12; ++i) {
    if (status_line[i] < '0' || status_line[i] > '9') fail("status code", status_line);
  }
  response.version = "HTTP/1.1";
  response.status =
      (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0');
  if (response.status < 100) fail("status code below 100", status_line);
  std::string_view reason = status_line.substr(13);
  for (char c : reason) {
    if (!detail::is_field_vchar(c) && c != ' ' && c != '\t') fail("control in reason", reason);
  }
  response.reason = std::string(reason);

  // Header fields, up to the empty line.
  std::size_t pos = line_end + 2;
  for (;;) {
    line_end = detail::find_line_end(data, pos);
    if (line_end == std::string_view::npos) return need_more();
    if (line_end == pos) break;
    response.headers.push_back(detail::parse_field_line(data.substr(pos, line_end - pos)));
    pos = line_end + 2;
  }
  pos = line_end + 2;
  in_head = false;

  // Framing.
  std::size_t lengths = response.count("Content-Length");
  std::size_t codings = response.count("Transfer-Encoding");
  if (lengths > 1) fail("more than one Content-Length", data.substr(0, pos));
  if (codings > 1) fail("more than one Transfer-Encoding", data.substr(0, pos));
  if (lengths && codings) fail("both Content-Length and Transfer-Encoding", data.substr(0, pos));
  std::optional<std::uint64_t> length;
  if (lengths) length = detail::parse_content_length(*response.header("Content-Length"));
  if (codings && !detail::iequals(*response.header("Transfer-Encoding"), "chunked")) {
    fail("Transfer-Encoding other than chunked", data.substr(0, pos));
  }
  const int status = response.status;
  if ((status < 200 || status == 204 || status == 304) && (lengths || codings)) {
    fail("Content-Length or Transfer-Encoding on a " + std::to_string(status) + " response",
         data.substr(0, pos));
  }

  if (status < 200 || status == 204 || status == 304 || detail::iequals(method, "HEAD")) {
    response.framing = BodyFraming::kNone;
  } else if (codings) {
    response.framing = BodyFraming::kChunked;
    for (;;) {
      line_end = detail::find_line_end(data, pos);
      if (line_end == std::string_view::npos) return need_more();
      std::string_view line = data.substr(pos, line_end - pos);
      std::size_t digits = 0;
      std::uint64_t size = 0;
      while (digits < line.size() && detail::is_hex(line[digits])) {
        if (digits == 15) fail("chunk size too long", line);
        size = size * 16 + static_cast<std::uint64_t>(detail::hex_value(line[digits]));
        ++digits;
      }
      if (digits == 0) fail("chunk size is not hex", line);
      detail::check_chunk_extensions(line.substr(digits), line);
      pos = line_end + 2;
      if (size == 0) break;
      if (data.size() - pos < size + 2) return need_more();
      response.body.append(data.substr(pos, size));
      if (data.substr(pos + size, 2) != "\r\n") fail("no CRLF after chunk data", data.substr(pos));
      pos += size + 2;
    }
    for (;;) {  // the trailer section
      line_end = detail::find_line_end(data, pos);
      if (line_end == std::string_view::npos) return need_more();
      if (line_end == pos) break;
      response.trailers.push_back(detail::parse_field_line(data.substr(pos, line_end - pos)));
      pos = line_end + 2;
    }
    pos = line_end + 2;
  } else if (length) {
    response.framing = BodyFraming::kContentLength;
    if (data.size() - pos < *length) return need_more();
    response.body = std::string(data.substr(pos, *length));
    pos += *length;
  } else {
    response.framing = BodyFraming::kUntilClose;
    if (!eof) return need_more();
    response.body = std::string(data.substr(pos));
    pos = data.size();
  }
  response.size = pos;
  used = pos;
  return response;
}

/// Parses a byte stream of responses, one after another.
class ResponseParser {
 public:
  void feed(std::string_view bytes) {
    if (start_ > 0 && start_ * 2 >= buffer_.size()) {
      buffer_.erase(0, start_);
      start_ = 0;
    }
    buffer_.append(bytes);
  }
  /// The stream ended.
  void feed_eof() noexcept { eof_ = true; }
  bool eof() const noexcept { return eof_; }
  /// Bytes received and not parsed yet.
  std::string_view pending() const noexcept { return std::string_view(buffer_).substr(start_); }

  /// The next response (to a `method` request) if it is complete; throws HttpProtocolError.
  std::optional<HttpResponse> next(std::string_view method) {
    if (pending().empty()) return std::nullopt;
    std::size_t used = 0;
    std::optional<HttpResponse> response = parse_response(pending(), method, eof_, used);
    if (response) start_ += used;
    return response;
  }

 private:
  std::string buffer_;
  std::size_t start_ = 0;
  bool eof_ = false;
};

/// Parses all of `data` as the responses to `methods` (one each, 1xx responses given too and
/// not counted); throws HttpProtocolError if anything is malformed or left over.
inline std::vector<HttpResponse> parse_responses(std::string_view data,
                                                 const std::vector<std::string>& methods) {
  ResponseParser parser;
  parser.feed(data);
  parser.feed_eof();
  std::vector<HttpResponse> out;
  for (const std::string& method : methods) {
    for (;;) {
      std::optional<HttpResponse> response = parser.next(method);
      if (!response) throw HttpProtocolError("missing response to a " + method + " request");
      bool interim = response->interim();
      out.push_back(std::move(*response));
      if (!interim) break;
    }
  }
  if (!parser.pending().empty()) {
    throw HttpProtocolError("bytes after the last response: " +
                            detail::printable(parser.pending()));
  }
  return out;
}

/// A client socket connected to a loopback server, driven by the current IOLoop. Every method
/// that waits takes a timeout (a deadline from the call) and throws ClientTimeout past it.
class RawClient {
 public:
  using duration = std::chrono::steady_clock::duration;
  static constexpr std::chrono::seconds kDefaultTimeout{3};

  /// Connects to `ip` (127.0.0.1 or ::1) and `port`.
  static Future<std::unique_ptr<RawClient>> connect(std::uint16_t port,
                                                    std::string ip = "127.0.0.1",
                                                    duration timeout = kDefaultTimeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    sockaddr_storage storage{};
    socklen_t length = 0;
    int family = ip.find(':') == std::string::npos ? AF_INET : AF_INET6;
    if (family == AF_INET) {
      auto* in = reinterpret_cast<sockaddr_in*>(&storage);
      in->sin_family = AF_INET;
      in->sin_port = htons(port);
      if (::inet_pton(AF_INET, ip.c_str(), &in->sin_addr) != 1) throw std::invalid_argument(ip);
      length = sizeof(sockaddr_in);
    } else {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(port);
      if (::inet_pton(AF_INET6, ip.c_str(), &in6->sin6_addr) != 1) {
        throw std::invalid_argument(ip);
      }
      length = sizeof(sockaddr_in6);
    }
    int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    auto client = std::unique_ptr<RawClient>(new RawClient(fd));
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) {
      if (errno != EINPROGRESS) {
        throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
      }
      if (!co_await client->wait_for(IOLoop::WRITE, deadline)) {
        throw ClientTimeout("connect timed out");
      }
      int error = 0;
      socklen_t size = sizeof error;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
      if (error != 0) throw std::runtime_error(std::string("connect: ") + std::strerror(error));
    }
    co_return client;
  }

  ~RawClient() {
    cancel_wait();
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  int fd() const noexcept { return fd_; }
  /// The server closed the connection (end of stream or reset) and every byte was read.
  bool eof() const noexcept { return parser_.eof(); }
  /// The connection ended with a reset (the server closed with unread data).
  bool was_reset() const noexcept { return reset_; }
  /// A send failed because the server had closed the connection.
  bool send_failed() const noexcept { return send_failed_; }
  /// Bytes received that no response has consumed.
  std::string_view pending() const noexcept { return parser_.pending(); }
  /// The interim (1xx) responses `final_response` skipped, in order.
  std::vector<HttpResponse> interim;

  /// Sends all of `data`; true once sent, false if the server closed the connection first.
  Future<bool> send(std::string data, duration timeout = kDefaultTimeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!co_await wait_for(IOLoop::WRITE, deadline)) throw ClientTimeout("send timed out");
      } else {
        send_failed_ = true;
        co_return false;
      }
    }
    co_return true;
  }

  /// Sends `data` in pieces of `piece` bytes, letting the loop run `yields` times after each
  /// (so the server reads the pieces separately); false if the server closed first.
  Future<bool> send_in_pieces(std::string data, std::size_t piece, int yields = 1,
                              duration timeout = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (std::size_t at = 0; at < data.size(); at += piece) {
      if (std::chrono::steady_clock::now() > deadline) throw ClientTimeout("send_in_pieces");
      if (!co_await send(data.substr(at, piece))) co_return false;
      for (int i = 0; i < yields; ++i) co_await next_loop_turn();
    }
    co_return true;
  }

  /// The next response, interim (1xx) ones included. Throws HttpProtocolError if it is
  /// malformed, PeerClosed if the connection ends before its first byte, ClientTimeout.
  Future<HttpResponse> response(std::string method = "GET", duration timeout = kDefaultTimeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (std::optional<HttpResponse> parsed = parser_.next(method)) co_return std::move(*parsed);
      if (parser_.eof()) {
        throw PeerClosed("the connection closed without a response to " + method);
      }
      if (!co_await read_more(deadline)) {
        throw ClientTimeout("no complete response to " + method + " in time; received \"" +
                            detail::printable(parser_.pending()) + "\"");
      }
    }
  }

  /// The next final (non-1xx) response; the interim ones before it go to `interim`.
  Future<HttpResponse> final_response(std::string method = "GET",
                                      duration timeout = kDefaultTimeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = deadline - std::chrono::steady_clock::now();
      HttpResponse r = co_await response(method, left > duration::zero() ? left : duration{1});
      if (!r.interim()) co_return r;
      interim.push_back(std::move(r));
    }
  }

  /// Sends `raw` and gives the final response (to a `method` request).
  Future<HttpResponse> request(std::string raw, std::string method = "GET",
                               duration timeout = kDefaultTimeout) {
    co_await send(std::move(raw), timeout);
    co_return co_await final_response(std::move(method), timeout);
  }

  /// Reads until the server closes the connection, and gives the bytes no response consumed
  /// (empty: nothing came after the responses read so far). Throws ClientTimeout if the
  /// connection is still open at the deadline.
  Future<std::string> read_until_close(duration timeout = kDefaultTimeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!parser_.eof()) {
      if (!co_await read_more(deadline)) {
        throw ClientTimeout("the connection is still open; received \"" +
                            detail::printable(parser_.pending()) + "\"");
      }
    }
    co_return std::string(parser_.pending());
  }

  /// True if, for all of `quiet`, nothing arrives and the connection stays open; false as soon
  /// as a byte or the end of the stream arrives.
  Future<bool> stays_open(duration quiet) {
    auto deadline = std::chrono::steady_clock::now() + quiet;
    std::size_t before = parser_.pending().size();
    while (!parser_.eof() && parser_.pending().size() == before) {
      if (!co_await read_more(deadline)) co_return true;
    }
    co_return false;
  }

  /// Closes the socket now (a client going away).
  void close() {
    cancel_wait();
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }

  /// Closes with a reset (SO_LINGER 0): the server sees ECONNRESET.
  void abort() {
    linger l{1, 0};
    if (fd_ >= 0) ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close();
  }

 private:
  explicit RawClient(int fd) noexcept : fd_(fd) {}

  /// A Future done after the loop's next poll of the descriptors: an iteration with only a
  /// zero-delay timer pending polls before running it (a plain callback would not).
  static Future<void> next_loop_turn() {
    Future<void> done;
    IOLoop::current().call_later(IOLoop::duration::zero(), [done] { done.set_result(); });
    return done;
  }

  /// Reads what is there (waiting until `deadline` for something); false on timeout. The end of
  /// the stream (or a reset) counts as something: the parser is told.
  Future<bool> read_more(std::chrono::steady_clock::time_point deadline) {
    char buffer[65536];
    for (;;) {
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n > 0) {
        parser_.feed(std::string_view(buffer, static_cast<std::size_t>(n)));
        co_return true;
      }
      if (n == 0) {
        parser_.feed_eof();
        co_return true;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!co_await wait_for(IOLoop::READ, deadline)) co_return false;
        continue;
      }
      if (errno == ECONNRESET || errno == EPIPE) {
        reset_ = true;
        parser_.feed_eof();
        co_return true;
      }
      throw std::runtime_error(std::string("recv: ") + std::strerror(errno));
    }
  }

  /// Completes with true once the socket has one of `events`, false at `deadline`.
  Future<bool> wait_for(std::uint32_t events, std::chrono::steady_clock::time_point deadline) {
    if (fd_ < 0) throw std::runtime_error("RawClient: the socket is closed");
    Future<bool> result;
    pollfd p{fd_, static_cast<short>(events == IOLoop::READ ? POLLIN : POLLOUT), 0};
    if (::poll(&p, 1, 0) > 0) {
      result.set_result(true);
      return result;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      result.set_result(false);
      return result;
    }
    IOLoop& loop = IOLoop::current();
    waiting_ = result;
    loop_ = &loop;
    loop.add_handler(fd_, events, [this](int, std::uint32_t) { end_wait(true); });
    timer_ = loop.call_at(deadline, [this] { end_wait(false); });
    return result;
  }

  void end_wait(bool ready) {
    if (!waiting_) return;
    Future<bool> result = std::move(*waiting_);
    waiting_.reset();
    loop_->remove_timeout(timer_);
    loop_->remove_handler(fd_);  // may destroy the handler calling us: touch nothing after
    result.set_result(ready);
  }

  void cancel_wait() noexcept {
    if (!waiting_) return;
    waiting_.reset();
    loop_->remove_timeout(timer_);
    loop_->remove_handler(fd_);
  }

  int fd_;
  ResponseParser parser_;
  bool reset_ = false;
  bool send_failed_ = false;
  std::optional<Future<bool>> waiting_;
  IOLoop* loop_ = nullptr;
  TimeoutHandle timer_;
};

}  // namespace squall::test_support
