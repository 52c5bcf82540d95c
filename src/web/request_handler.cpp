// RequestHandler: the request's flow (prepare, method, finish), errors, and the response output.

#include "squall/web/request_handler.hpp"

// SHA1_Init and friends are deprecated in OpenSSL 3 in favour of EVP, which is far slower for
// the small bodies ETags are computed over.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <cerrno>

#include <nlohmann/json.hpp>

#include "http/http1_parser.hpp"
#include "squall/net/iostream.hpp"
#include "squall/util/escape.hpp"
#include "squall/util/log.hpp"
#include "squall/web/application.hpp"
#include "util/utf8.hpp"
#include "web/gzip_transform.hpp"
#include "web/handler_access.hpp"
#include "web/response_state.hpp"

namespace squall::web {
namespace {

constexpr std::string_view kServerHeader = "squall/0.1";
constexpr std::string_view kDefaultContentType = "text/html; charset=UTF-8";

enum class Method { kGet, kHead, kPost, kDelete, kPatch, kPut, kOptions, kOther };

Method method_of(std::string_view name) {
  switch (name.size()) {
    case 3:
      if (name == "GET") return Method::kGet;
      if (name == "PUT") return Method::kPut;
      break;
    case 4:
      if (name == "HEAD") return Method::kHead;
      if (name == "POST") return Method::kPost;
      break;
    case 5:
      if (name == "PATCH") return Method::kPatch;
      break;
    case 6:
      if (name == "DELETE") return Method::kDelete;
      break;
    case 7:
      if (name == "OPTIONS") return Method::kOptions;
      break;
  }
  return Method::kOther;
}

Future<void> method_not_allowed() {
  throw HTTPError(405);
}

// A Future already failed with StreamClosedError, marked as seen so that dropping it unawaited
// logs nothing (the client left; there is nobody to tell).
Future<void> closed_future() {
  auto future = make_exceptional_future<void>(std::make_exception_ptr(StreamClosedError()));
  static_cast<void>(future.exception());
  return future;
}

std::string request_summary(const HTTPServerRequest& request) {
  std::string summary = request.method;
  summary.append(" ").append(request.uri).append(" (").append(request.remote_ip).append(")");
  return summary;
}

}  // namespace

RequestHandler::RequestHandler() {
  clear();
}

void RequestHandler::renew_response() {
  response_.reset(new ResponseState);  // not `()`: that would zero it all before construction
}

RequestHandler::~RequestHandler() {
  if (dispatcher_) detail::dispatcher_handler_gone(*dispatcher_);
}

const Settings& RequestHandler::settings() const noexcept {
  return application_->settings();
}

// --- The flow -----------------------------------------------------------------------------------

Future<void> RequestHandler::prepare() {
  return make_ready_future();
}
Future<void> RequestHandler::get() {
  return method_not_allowed();
}
Future<void> RequestHandler::head() {
  return method_not_allowed();
}
Future<void> RequestHandler::post() {
  return method_not_allowed();
}
Future<void> RequestHandler::delete_() {
  return method_not_allowed();
}
Future<void> RequestHandler::patch() {
  return method_not_allowed();
}
Future<void> RequestHandler::put() {
  return method_not_allowed();
}
Future<void> RequestHandler::options() {
  return method_not_allowed();
}

Future<void> RequestHandler::data_received(std::string_view) {
  throw HTTPError(500, "a streaming handler must override data_received");
}

const std::vector<std::string>& RequestHandler::path_args() const noexcept {
  static const std::vector<std::string> kNone;
  return path_ ? path_->args : kNone;
}

const std::map<std::string, std::string, std::less<>>& RequestHandler::path_kwargs()
    const noexcept {
  static const std::map<std::string, std::string, std::less<>> kNone;
  return path_ ? path_->kwargs : kNone;
}

Future<void> RequestHandler::run_method() {
  switch (method_of(request_->method)) {
    case Method::kGet:
      return get();
    case Method::kHead:
      return head();
    case Method::kPost:
      return post();
    case Method::kDelete:
      return delete_();
    case Method::kPatch:
      return patch();
    case Method::kPut:
      return put();
    case Method::kOptions:
      return options();
    case Method::kOther:
      break;
  }
  throw HTTPError(405);
}

Future<void> RequestHandler::execute(std::unique_ptr<RequestHandler> owned) {
  RequestHandler& self = *owned;
  try {
    const Method method = method_of(self.request_->method);
    if (method == Method::kOther) throw HTTPError(405);
    for (const std::string& arg : self.path_args()) {
      if (!squall::detail::is_valid_utf8(arg))
        throw HTTPError(400, "Invalid unicode in path: " + arg);
    }
    for (const auto& [name, arg] : self.path_kwargs()) {
      if (!squall::detail::is_valid_utf8(arg))
        throw HTTPError(400, "Invalid unicode in path: " + arg);
    }
    if (self.settings().xsrf_cookies && method != Method::kGet && method != Method::kHead &&
        method != Method::kOptions) {
      self.check_xsrf_cookie();
    }
    Future<void> prepared = self.prepare();
    co_await prepared;
    if (self.response_ && self.response_->prepared && !self.response_->prepared->done()) {
      self.response_->prepared->set_result();
    }
    if (self.finished_) co_return;
    if (self.response_ && self.response_->body_done) co_await *self.response_->body_done;
    Future<void> method_done = self.run_method();
    co_await method_done;
    if (!self.finished_) self.finish_response();
  } catch (...) {
    self.handle_exception(std::current_exception());
  }
  // A streaming request's body must not wait for a prepare() that never completed.
  if (self.response_ && self.response_->prepared && !self.response_->prepared->done()) {
    self.response_->prepared->set_result();
  }
  self.retain(owned);
}

void RequestHandler::handle_exception(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const Finish&) {
    if (!finished_) {
      try {
        finish_response();
      } catch (...) {
        log::app_log().error("Cannot finish {}: {}", request_summary(*request_),
                             log::describe(std::current_exception()));
      }
    }
    return;
  } catch (...) {
  }
  if (connection_closed_) {
    // Nobody is left to read an error page: log what matters and stop.
    try {
      std::rethrow_exception(error);
    } catch (const StreamClosedError&) {
      return;
    } catch (...) {
    }
  }
  log_exception(error);
  if (finished_ || connection_closed_) return;
  int status = 500;
  try {
    std::rethrow_exception(error);
  } catch (const HTTPError& e) {
    status = e.status_code();
  } catch (...) {
  }
  try {
    send_error(status, error);
  } catch (...) {
    log::app_log().error("Exception in send_error for {}: {}", request_summary(*request_),
                         log::describe(std::current_exception()));
  }
}

void RequestHandler::log_exception(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const HTTPError& e) {
    if (!e.log_message().empty()) {
      log::gen_log().warn("{} {}: {}", e.status_code(), request_summary(*request_),
                          e.log_message());
    }
  } catch (const StreamClosedError&) {
    // The client went away while the handler wrote: nothing is wrong with the application.
    if (connection_closed_) {
      log::gen_log().debug("Client closed the connection of {}", request_summary(*request_));
      return;
    }
    log::app_log().error("Uncaught exception {}: {}", request_summary(*request_),
                         log::describe(error));
  } catch (...) {
    log::app_log().error("Uncaught exception {}: {}", request_summary(*request_),
                         log::describe(error));
  }
}

// --- Output -------------------------------------------------------------------------------------

void RequestHandler::clear() {
  ResponseState& state = response();
  HTTPHeaders& headers = state.headers;
  headers.clear();
  // Constants known to be valid: no need to check them on every request.
  squall::detail::HTTPHeadersAccess::add_validated(headers, "Server", kServerHeader);
  squall::detail::HTTPHeadersAccess::add_validated(headers, "Content-Type", kDefaultContentType);
  state.write_buffer.clear();
  status_code_ = 200;
  state.reason.clear();
}

void RequestHandler::set_status(int status_code, std::string_view reason) {
  if (status_code < 100 || status_code > 599) {
    throw ValueError("bad HTTP status code " + std::to_string(status_code));
  }
  status_code_ = static_cast<std::uint16_t>(status_code);
  std::string& phrase = response().reason;
  if (!reason.empty()) {
    phrase.assign(reason);
  } else if (httputil::reason_phrase(status_code).empty()) {
    phrase = "Unknown";
  } else {
    phrase.clear();  // the standard phrase
  }
}

void RequestHandler::set_header(std::string_view name, std::string_view value) {
  response().headers.set(name, value);
}

void RequestHandler::set_header(std::string_view name,
                                std::chrono::system_clock::time_point value) {
  response().headers.set(name, httputil::format_timestamp(value));
}

void RequestHandler::add_header(std::string_view name, std::string_view value) {
  response().headers.add(name, value);
}

void RequestHandler::clear_header(std::string_view name) {
  response().headers.erase(name);
}

void RequestHandler::write(std::string_view chunk) {
  if (finished_) throw InvalidStateError("Cannot write() after finish()");
  response().write_buffer.append(chunk);
}

void RequestHandler::write(const nlohmann::json& object) {
  if (!object.is_object()) {
    throw ValueError(
        "write() takes JSON objects only (a top-level array can be read by other sites' scripts)");
  }
  write(escape::json_encode(object));
  set_header("Content-Type", "application/json; charset=UTF-8");
}

// Sends the headers (the first time) and the buffered output; false if the connection is gone.
bool RequestHandler::send_buffered(bool finishing) {
  const bool head = request_->method == "HEAD";
  ResponseState& state = response();
  std::string chunk;
  chunk.swap(state.write_buffer);
  HTTPConnection* connection = request_->connection.get();
  if (!connection || connection_closed_ || connection->closed()) return false;
  if (!headers_written_) {
    headers_written_ = true;
    if (settings().compress_response) {
      state.gzip = std::make_unique<detail::GzipTransform>(*request_);
      state.gzip->transform_first_chunk(status_code_, state.headers, chunk, finishing);
    }
    for (const auto& [name, value] : state.new_cookies) state.headers.add("Set-Cookie", value);
    if (head) chunk.clear();
    connection->write_headers(ResponseStartLine{"HTTP/1.1", status_code_, state.reason},
                              state.headers, chunk);
  } else {
    if (state.gzip) state.gzip->transform_chunk(chunk, finishing);
    if (!head && !chunk.empty()) connection->write(chunk);
  }
  return true;
}

Future<void> RequestHandler::write_file(int fd, std::uint64_t offset, std::uint64_t count) {
  if (finished_) throw InvalidStateError("Cannot write_file() after finish()");
  if (!send_buffered(false)) return closed_future();
  HTTPConnection& connection = *request_->connection;
  if (request_->method == "HEAD" || count == 0) return connection.flush();
  detail::GzipTransform* gzip = response().gzip.get();
  if (!gzip || !gzip->gzipping()) {
    connection.write_file(fd, offset, count);
    return connection.flush();
  }
  // Compressed: the bytes must pass through zlib, a bounded piece at a time.
  std::string piece;
  constexpr std::uint64_t kPiece = 64 * 1024;
  while (count > 0) {
    piece.resize(static_cast<std::size_t>(std::min(count, kPiece)));
    ssize_t got = ::pread(fd, piece.data(), piece.size(), static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      connection.close();
      throw OSError(got < 0 ? errno : EIO, "write_file: the file ended before its length");
    }
    piece.resize(static_cast<std::size_t>(got));
    gzip->transform_chunk(piece, false);
    connection.write(piece);
    offset += static_cast<std::uint64_t>(got);
    count -= static_cast<std::uint64_t>(got);
  }
  return connection.flush();
}

Future<void> RequestHandler::flush() {
  if (finished_) throw InvalidStateError("Cannot flush() after finish()");
  if (!send_buffered(false)) return closed_future();
  return request_->connection->flush();
}

void RequestHandler::finish_response() {
  if (finished_) throw InvalidStateError("finish() called twice");
  if (!headers_written_) {
    ResponseState& state = response();
    const bool get_or_head = request_->method == "GET" || request_->method == "HEAD";
    if (status_code_ == 200 && get_or_head && !state.headers.contains("Etag")) {
      set_etag_header();
      if (check_etag_header()) {
        state.write_buffer.clear();
        set_status(304);
      }
    }
    if (status_code_ == 204 || status_code_ == 304 || status_code_ < 200) {
      if (!state.write_buffer.empty()) {
        throw InvalidStateError("Cannot send a body with status " + std::to_string(status_code_));
      }
      // RFC 9110 §15.4.5: a 304 carries no representation headers.
      state.headers.erase("Content-Encoding");
      state.headers.erase("Content-Language");
      state.headers.erase("Content-Type");
    } else if (!state.headers.contains("Content-Length")) {
      state.headers.set("Content-Length", std::to_string(state.write_buffer.size()));
    }
  }
  // The finishing write needs no Future: finish() asks the connection for one if wanted.
  static_cast<void>(send_buffered(true));
  if (HTTPConnection* connection = request_->connection.get();
      connection && !connection_closed_ && !connection->closed()) {
    connection->finish();
  }
  finished_ = true;
  request_->finish_time = std::chrono::steady_clock::now();
  try {
    on_finish();
  } catch (...) {
    log::app_log().error("Exception in on_finish for {}: {}", request_summary(*request_),
                         log::describe(std::current_exception()));
  }
  application_->log_request(*this);
}

Future<void> RequestHandler::finish(std::string_view chunk) {
  if (finished_) throw InvalidStateError("finish() called twice");
  if (!chunk.empty()) write(chunk);
  finish_response();
  HTTPConnection* connection = request_->connection.get();
  if (!connection || connection_closed_ || connection->closed()) return closed_future();
  return connection->flush();
}

void RequestHandler::redirect(std::string_view url, bool permanent, std::optional<int> status) {
  if (headers_written_) throw InvalidStateError("Cannot redirect after headers have been written");
  int code = status.value_or(permanent ? 301 : 302);
  if (code < 300 || code > 399)
    throw ValueError("redirect status must be 3xx, not " + std::to_string(code));
  set_status(code);
  set_header("Location", url);
  finish_response();
}

void RequestHandler::send_error(int status_code, std::exception_ptr error) {
  if (headers_written_) {
    log::gen_log().error("Cannot send error response after headers written: {}",
                         request_summary(*request_));
    if (!finished_) {
      // The response is cut short: close the connection so the client sees it incomplete
      // rather than a well-framed but truncated body.
      if (request_->connection) request_->connection->close();
      connection_closed_ = true;
      finished_ = true;
      try {
        on_finish();
      } catch (...) {
        log::app_log().error("Exception in on_finish for {}: {}", request_summary(*request_),
                             log::describe(std::current_exception()));
      }
      application_->log_request(*this);
    }
    return;
  }
  clear();
  std::string reason;
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const HTTPError& e) {
      reason = e.reason();
    } catch (...) {
    }
  }
  set_status(status_code, reason);
  if (status_code == 405 && allowed_methods_ != 0) {
    // RFC 9110 §15.5.6: a 405 lists the methods the resource supports (Tornado's does not).
    static constexpr std::pair<unsigned, std::string_view> kNames[] = {
        {detail::kGetBit, "GET"},        {detail::kHeadBit, "HEAD"},   {detail::kPostBit, "POST"},
        {detail::kDeleteBit, "DELETE"},  {detail::kPatchBit, "PATCH"}, {detail::kPutBit, "PUT"},
        {detail::kOptionsBit, "OPTIONS"}};
    std::string allow;
    for (const auto& [bit, name] : kNames) {
      if ((allowed_methods_ & bit) == 0) continue;
      if (!allow.empty()) allow.append(", ");
      allow.append(name);
    }
    squall::detail::HTTPHeadersAccess::add_validated(response().headers, "Allow", allow);
  }
  try {
    write_error(status_code, error);
  } catch (...) {
    log::app_log().error("Uncaught exception in write_error for {}: {}", request_summary(*request_),
                         log::describe(std::current_exception()));
  }
  if (!finished_) finish_response();
}

void RequestHandler::write_error(int status_code, const std::exception_ptr& error) {
  if (error && settings().serve_traceback.value_or(false)) {
    set_header("Content-Type", "text/plain; charset=UTF-8");
    write(log::describe(error));
    write("\n");
    finish_response();
    return;
  }
  const std::string& reason = response().reason;
  std::string message = reason.empty() ? std::string(httputil::reason_phrase(status_code)) : reason;
  message = escape::xhtml_escape(message);
  std::string page = "<html><title>";
  page.append(std::to_string(status_code)).append(": ").append(message);
  page.append("</title><body>").append(std::to_string(status_code)).append(": ");
  page.append(message).append("</body></html>");
  write(page);
  finish_response();
}

// --- ETags --------------------------------------------------------------------------------------

std::optional<std::string> RequestHandler::compute_etag() {
  // SHA-1 as Tornado, through OpenSSL's direct SHA-1 functions: the EVP interface costs more
  // than hashing a small response (about 1,500 instructions of provider dispatch per call).
  const std::string& body = response().write_buffer;
  SHA_CTX context;
  unsigned char digest[SHA_DIGEST_LENGTH];
  if (SHA1_Init(&context) != 1 || SHA1_Update(&context, body.data(), body.size()) != 1 ||
      SHA1_Final(digest, &context) != 1) {
    return std::nullopt;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string etag(2 + 2 * SHA_DIGEST_LENGTH, '"');
  for (int i = 0; i < SHA_DIGEST_LENGTH; ++i) {
    etag[1 + 2 * i] = kHex[digest[i] >> 4];
    etag[2 + 2 * i] = kHex[digest[i] & 0xf];
  }
  return etag;
}

void RequestHandler::set_etag_header() {
  if (auto etag = compute_etag()) set_header("Etag", *etag);
}

bool RequestHandler::check_etag_header() const {
  // Released: the Etag header went with the response.
  if (!response_) return false;
  using squall::detail::HTTPHeadersAccess;
  // Most requests have no If-None-Match: look at it first, and at neither through a copy.
  if (!HTTPHeadersAccess::first_value(request_->headers, "If-None-Match")) return false;
  const std::optional<std::string_view> computed =
      HTTPHeadersAccess::first_value(response_->headers, "Etag");
  if (!computed || computed->empty()) return false;
  const std::optional<std::string> header = request_->headers.get("If-None-Match");  // all lines
  auto strip_weak = [](std::string_view tag) {
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    return tag;
  };
  const std::string_view mine = strip_weak(*computed);
  // The entity tags of the header (`*`, `"..."` or `W/"..."`), anything between them skipped,
  // as Tornado scans it.
  std::string_view rest = *header;
  bool first = true;
  while (!rest.empty()) {
    if (rest.front() == '*') {
      if (first) return true;
      rest.remove_prefix(1);
      first = false;
      continue;
    }
    std::size_t start =
        rest.starts_with("W/\"") ? 2 : (rest.front() == '"' ? 0 : std::string_view::npos);
    if (start == std::string_view::npos) {
      rest.remove_prefix(1);
      continue;
    }
    std::size_t close = rest.find('"', start + 1);
    if (close == std::string_view::npos) break;
    std::string_view tag = rest.substr(0, close + 1);
    if (strip_weak(tag) == mine) return true;
    rest.remove_prefix(close + 1);
    first = false;
  }
  return false;
}

// --- The dispatcher's access --------------------------------------------------------------------

namespace detail {

std::optional<Future<void>> HandlerAccess::receive(RequestHandler& handler, std::string_view chunk,
                                                   bool& failed) {
  if (handler.finished_) {
    failed = true;
    return std::nullopt;
  }
  Future<void> received = [&] {
    try {
      return handler.data_received(chunk);
    } catch (...) {
      return make_exceptional_future<void>(std::current_exception());
    }
  }();
  if (!received.done()) return received;
  if (auto error = received.exception()) {
    // The handler refused the body (e.g. HTTPError(413)): its error ends the request, and the
    // rest of the body is dropped.
    failed = true;
    if (const auto& state = handler.response_;
        state && state->body_done && !state->body_done->done()) {
      state->body_done->set_exception(error);
    }
  }
  return std::nullopt;
}

void HandlerAccess::expect_body(RequestHandler& handler) {
  RequestHandler::ResponseState& state = handler.response();
  state.prepared.emplace();
  state.body_done.emplace();
}

const std::optional<Future<void>>& HandlerAccess::prepared(RequestHandler& handler) noexcept {
  static const std::optional<Future<void>> none;
  return handler.response_ ? handler.response_->prepared : none;
}

const std::optional<Future<void>>& HandlerAccess::body_done(RequestHandler& handler) noexcept {
  static const std::optional<Future<void>> none;
  return handler.response_ ? handler.response_->body_done : none;
}

void HandlerAccess::body_finished(RequestHandler& handler) {
  if (const auto& state = handler.response_;
      state && state->body_done && !state->body_done->done()) {
    state->body_done->set_result();
  }
}

void HandlerAccess::release_response(RequestHandler& handler) noexcept {
  // The status and the finished flag stay with the handler, so its getters still answer.
  handler.response_.reset();
}

void HandlerAccess::connection_closed(RequestHandler& handler) {
  if (handler.connection_closed_) return;
  handler.connection_closed_ = true;
  if (const auto& state = handler.response_;
      state && state->body_done && !state->body_done->done()) {
    state->body_done->set_exception(StreamClosedError());
  }
  try {
    handler.on_connection_close();
  } catch (...) {
    log::app_log().error("Exception in on_connection_close for {}: {}",
                         request_summary(*handler.request_),
                         log::describe(std::current_exception()));
  }
}

}  // namespace detail

}  // namespace squall::web
