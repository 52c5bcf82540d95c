// websocket_connect: the client's handshake (RFC 6455 §4.1) and WebSocketClientConnection, a
// handle on the connection with a queue for read_message.

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <nlohmann/json.hpp>

#include <array>
#include <deque>

#include "http/client_url.hpp"
#include "http/http1_response.hpp"
#include "http/text.hpp"
#include "squall/net/tcpclient.hpp"
#include "squall/web/websocket.hpp"
#include "web/websocket_connection.hpp"

namespace squall::web {

using namespace std::string_view_literals;

struct WebSocketClientConnection::State final
    : detail::WebSocketEvents,
      std::enable_shared_from_this<WebSocketClientConnection::State> {
  ~State() override {
    // The read loop may be waiting for the queue to be read, and a read for a message: neither
    // will happen now.
    if (drained) drained->set_result();
    if (reader) reader->set_result(std::nullopt);
    if (connection) {
      connection->set_events(nullptr);
      connection->close(std::nullopt, {});
    }
  }

  Future<void> on_message(WebSocketMessage message) override {
    if (callback) {
      auto alive = shared_from_this();  // the callback may drop the last handle
      callback(std::move(message));
      return make_ready_future();
    }
    if (reader) {
      Future<std::optional<WebSocketMessage>> waiting = std::move(*reader);
      reader.reset();
      waiting.set_result(std::move(message));
      return make_ready_future();
    }
    // Nobody is reading: keep it, and read no more from the peer until it is taken.
    queue.push_back(std::move(message));
    if (!drained) drained.emplace();
    return *drained;
  }
  void on_ping(std::string_view) override {}
  void on_pong(std::string_view) override {}
  void on_close() override {
    closed = true;
    if (reader) {
      Future<std::optional<WebSocketMessage>> waiting = std::move(*reader);
      reader.reset();
      waiting.set_result(std::nullopt);
    }
    if (drained) {
      drained->set_result();
      drained.reset();
    }
    if (callback) {
      auto alive = shared_from_this();
      callback(std::nullopt);
    }
  }

  std::shared_ptr<detail::WebSocketConnection> connection;
  HTTPHeaders headers;
  std::optional<std::string> subprotocol;
  std::function<void(std::optional<WebSocketMessage>)> callback;
  std::deque<WebSocketMessage> queue;
  std::optional<Future<std::optional<WebSocketMessage>>> reader;  // a read_message waiting
  std::optional<Future<void>> drained;  // the read loop waits for the queue to be read
  bool closed = false;
};

namespace {

std::string base64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return http_text::iequals(a, b);
}

// ws:// and wss:// as the HTTP client's http:// and https://.
std::string http_url(std::string_view url) {
  auto starts = [&](std::string_view prefix) {
    return url.size() >= prefix.size() && iequals(url.substr(0, prefix.size()), prefix);
  };
  if (starts("ws://")) return std::string("http://").append(url.substr(5));
  if (starts("wss://")) return std::string("https://").append(url.substr(6));
  if (starts("http://") || starts("https://")) return std::string(url);
  throw ValueError("websocket_connect: the URL must start with ws:// or wss://, not \"" +
                   std::string(url) + "\"");
}

// Headers the handshake writes itself; the request's own values of these are not sent.
bool handshake_header(std::string_view name) {
  for (std::string_view own :
       {"Host"sv, "Upgrade"sv, "Connection"sv, "Sec-WebSocket-Key"sv, "Sec-WebSocket-Version"sv,
        "Sec-WebSocket-Extensions"sv, "Content-Length"sv, "Transfer-Encoding"sv}) {
    if (iequals(name, own)) return true;
  }
  return false;
}

std::string handshake_request(const httpclient_detail::URL& url, const HTTPRequest& request,
                              const WebSocketClientOptions& options, std::string_view key,
                              const detail::DeflateParameters& offered) {
  std::string out;
  out.append("GET ").append(url.target).append(" HTTP/1.1\r\nHost: ").append(url.netloc);
  out.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
  out.append(key).append("\r\nSec-WebSocket-Version: 13\r\n");
  if (!options.subprotocols.empty()) {
    out.append("Sec-WebSocket-Protocol: ");
    for (std::size_t i = 0; i < options.subprotocols.size(); ++i) {
      if (i > 0) out.append(", ");
      out.append(options.subprotocols[i]);
    }
    out.append("\r\n");
  }
  if (options.compression) {
    out.append("Sec-WebSocket-Extensions: ").append(detail::deflate_offer(offered)).append("\r\n");
  }
  std::optional<std::string> username = request.auth_username;
  std::optional<std::string> password = request.auth_password;
  if (!username && url.username) {
    username = url.username;
    password = url.password;
  }
  if (username && !request.headers.contains("Authorization")) {
    std::string credentials = *username + ":" + password.value_or("");
    out.append("Authorization: Basic ")
        .append(
            base64(reinterpret_cast<const unsigned char*>(credentials.data()), credentials.size()))
        .append("\r\n");
  }
  for (const auto& [name, value] : request.headers) {
    if (handshake_header(name)) continue;
    out.append(name).append(": ").append(value).append("\r\n");
  }
  out.append("\r\n");
  return out;
}

std::exception_ptr handshake_error(std::string message) {
  return std::make_exception_ptr(Error("WebSocket handshake: " + message));
}

}  // namespace

Future<WebSocketClientConnection> websocket_connect(std::string url,
                                                    WebSocketClientOptions options) {
  return websocket_connect(HTTPRequest(std::move(url)), std::move(options));
}

Future<WebSocketClientConnection> websocket_connect(HTTPRequest request,
                                                    WebSocketClientOptions options) {
  const httpclient_detail::URL url = httpclient_detail::parse_url(http_url(request.url));
  IOLoop& loop = IOLoop::current();
  std::optional<IOLoop::duration> timeout =
      request.connect_timeout.value_or(std::chrono::seconds(20));
  if (*timeout <= IOLoop::duration::zero()) timeout.reset();
  const std::optional<IOLoop::time_point> deadline =
      timeout ? std::optional(loop.time() + *timeout) : std::nullopt;

  std::optional<SSLOptions> ssl;
  if (url.scheme == "https") {
    SSLOptions tls;
    const bool validate = request.validate_cert.value_or(true);
    tls.verify_mode = validate ? SSLOptions::VerifyMode::kRequired : SSLOptions::VerifyMode::kNone;
    tls.check_hostname = validate;
    tls.ca_certs = request.ca_certs.value_or("");
    tls.certfile = request.client_cert.value_or("");
    tls.keyfile = request.client_key.value_or("");
    ssl = std::move(tls);
  }
  std::unique_ptr<IOStream> stream;
  try {
    TCPClient client;
    stream = co_await client.connect(url.host, url.port, AF_UNSPEC, timeout, std::nullopt, ssl);
  } catch (const StreamClosedError& e) {
    if (e.real_error()) std::rethrow_exception(e.real_error());
    throw;
  }
  stream->set_nodelay(true);

  std::array<unsigned char, 16> nonce{};
  if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) {
    throw Error("websocket_connect: no random bytes for Sec-WebSocket-Key");
  }
  const std::string key = base64(nonce.data(), nonce.size());
  detail::DeflateParameters offered;
  co_await stream->write(handshake_request(url, request, options, key, offered));

  // The response head, within what is left of the timeout: the timer closes the stream.
  bool timed_out = false;
  TimeoutHandle timer;
  if (deadline) {
    timer = loop.call_at(*deadline, [&timed_out, s = stream.get()] {
      timed_out = true;
      s->close();
    });
  }
  http1::ResponseParser parser(options.max_header_size);
  http1::ResponseHead head;
  http1::ParseError parse_error;
  std::exception_ptr failure;
  try {
    for (;;) {
      http1::ResponseParser::Status status =
          parser.parse(stream->buffered(), false, head, parse_error);
      if (status == http1::ResponseParser::Status::kDone) break;
      if (status == http1::ResponseParser::Status::kError) {
        failure = handshake_error("malformed response: " + parse_error.message);
        break;
      }
      co_await stream->fill_buffer(stream->read_buffer_size() + 1);
    }
  } catch (const StreamClosedError&) {
    failure = timed_out
                  ? std::make_exception_ptr(TimeoutError("Timeout during WebSocket handshake"))
                  : handshake_error("the server closed the connection");
  } catch (...) {
    failure = std::current_exception();  // (the timer must not outlive this frame)
  }
  if (deadline && !timed_out) loop.remove_timeout(timer);
  if (failure) std::rethrow_exception(failure);

  HTTPHeaders headers;
  for (const http1::HeaderField& field : head.headers) headers.add(field.name, field.value);
  if (head.code != 101) {
    throw HTTPClientError(head.code, "WebSocket handshake refused: " + std::to_string(head.code) +
                                         " " + std::string(head.reason));
  }
  stream->consume(head.size);
  if (!iequals(headers.get("Upgrade", ""), "websocket")) {
    throw Error("WebSocket handshake: the 101 response has no \"Upgrade: websocket\"");
  }
  bool connection_upgrade = false;
  for (const std::string& token : detail::split_header_list(headers.get("Connection", ""))) {
    connection_upgrade = connection_upgrade || iequals(token, "upgrade");
  }
  if (!connection_upgrade) {
    throw Error("WebSocket handshake: the 101 response has no \"Connection: Upgrade\"");
  }
  if (headers.get("Sec-WebSocket-Accept", "") != detail::websocket_accept_key(key)) {
    throw Error("WebSocket handshake: wrong Sec-WebSocket-Accept");
  }
  auto state = std::make_shared<WebSocketClientConnection::State>();
  if (std::optional<std::string> chosen = headers.get("Sec-WebSocket-Protocol")) {
    if (std::find(options.subprotocols.begin(), options.subprotocols.end(), *chosen) ==
        options.subprotocols.end()) {
      throw Error("WebSocket handshake: the server chose subprotocol \"" + *chosen +
                  "\", which was not offered");
    }
    state->subprotocol = std::move(chosen);
  }
  detail::WebSocketParams params;
  params.role = detail::Role::client;
  params.max_message_size = options.max_message_size;
  params.ping_interval = options.ping_interval;
  params.ping_timeout = options.ping_timeout;
  if (std::optional<std::string> extensions = headers.get("Sec-WebSocket-Extensions")) {
    if (!options.compression) {
      throw Error("WebSocket handshake: the server chose extensions that were not offered: " +
                  *extensions);
    }
    try {
      params.deflate = detail::accept_deflate_response(*extensions, offered);
    } catch (const ValueError& e) {
      throw Error(std::string("WebSocket handshake: ") + e.what());
    }
    params.compression = *options.compression;
  }
  state->headers = std::move(headers);
  state->callback = std::move(options.on_message_callback);
  state->connection =
      std::make_shared<detail::WebSocketConnection>(std::move(stream), std::move(params));
  state->connection->set_events(state.get());
  state->connection->run();
  co_return WebSocketClientConnection(std::move(state));
}

Future<std::optional<WebSocketMessage>> WebSocketClientConnection::read_message() {
  if (!state_) throw InvalidStateError("read_message on an empty WebSocketClientConnection");
  State& s = *state_;
  if (s.reader) throw InvalidStateError("read_message: the previous read has not completed");
  if (!s.queue.empty()) {
    WebSocketMessage message = std::move(s.queue.front());
    s.queue.pop_front();
    if (s.queue.empty() && s.drained) {
      s.drained->set_result();
      s.drained.reset();
    }
    return make_ready_future<std::optional<WebSocketMessage>>(std::move(message));
  }
  if (s.closed) return make_ready_future<std::optional<WebSocketMessage>>(std::nullopt);
  s.reader.emplace();
  return *s.reader;
}

Future<void> WebSocketClientConnection::write_message(std::string_view message, bool binary) {
  if (!state_) throw WebSocketClosedError();
  return state_->connection->write_message(message, binary);
}

Future<void> WebSocketClientConnection::write_message(const nlohmann::json& message) {
  return write_message(message.dump(), false);
}

void WebSocketClientConnection::ping(std::string_view data) {
  if (!state_) throw WebSocketClosedError();
  state_->connection->ping(data);
}

void WebSocketClientConnection::close(std::optional<int> code, std::string_view reason) {
  if (state_) state_->connection->close(code, reason);
}

std::optional<int> WebSocketClientConnection::close_code() const noexcept {
  return state_ ? state_->connection->close_code() : std::nullopt;
}

const std::string& WebSocketClientConnection::close_reason() const noexcept {
  static const std::string kEmpty;
  return state_ ? state_->connection->close_reason() : kEmpty;
}

const std::optional<std::string>& WebSocketClientConnection::selected_subprotocol() const noexcept {
  static const std::optional<std::string> kNone;
  return state_ ? state_->subprotocol : kNone;
}

const HTTPHeaders& WebSocketClientConnection::headers() const noexcept {
  static const HTTPHeaders kEmpty;
  return state_ ? state_->headers : kEmpty;
}

bool WebSocketClientConnection::is_closing() const noexcept {
  return !state_ || state_->connection->is_closing();
}

Future<void> WebSocketClientConnection::closed() const {
  if (!state_) return make_ready_future();
  return state_->connection->closed();
}

}  // namespace squall::web
