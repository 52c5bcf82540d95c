// A fetch of AsyncHTTPClient, from its place in the queue to its response: the connection
// (from the pool, or made with TCPClient, TLS included), one exchange per redirect, the
// redirects' rules, and the timeouts.

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <string>
#include <utility>

#include "http/client_impl.hpp"
#include "http/http1_parser.hpp"
#include "squall/net/tcpclient.hpp"

namespace squall::httpclient_detail {
namespace {

using namespace std::string_view_literals;

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  auto byte = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(in[i]));
  };
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    std::uint32_t n = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  if (i + 1 == in.size()) {
    std::uint32_t n = byte(i) << 16;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.append("==");
  } else if (i + 2 == in.size()) {
    std::uint32_t n = (byte(i) << 16) | (byte(i + 1) << 8);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

std::string basic_authorization(std::string_view username, std::string_view password) {
  std::string credentials;
  credentials.reserve(username.size() + password.size() + 1);
  credentials.append(username).append(":").append(password);
  std::string out("Basic ");
  out.append(base64(credentials));
  return out;
}

std::string what_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

bool is_stream_closed(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const StreamClosedError&) {
    return true;
  } catch (...) {
    return false;
  }
}

/// One connection attempt of TCPClient for https: an SSLIOStream on a new socket, whose
/// connect completes once its handshake has.
ConnectAttempt tls_attempt(const SocketAddress& address,
                           const std::optional<SocketAddress>& source_ip,
                           const IOStreamOptions& options,
                           const std::shared_ptr<SSLContext>& context, const std::string& host) {
  int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw OSError(errno, "socket for " + address.to_string());
  if (source_ip && ::bind(fd, source_ip->get(), source_ip->length()) != 0) {
    int error = errno;
    ::close(fd);
    throw OSError(error, "bind to source address " + source_ip->to_string());
  }
  std::unique_ptr<SSLIOStream> stream;
  try {
    stream = std::make_unique<SSLIOStream>(fd, context, host, options);
  } catch (const ValueError&) {
    ::close(fd);  // refused before the stream took the descriptor
    throw;
  }
  Future<void> connected = stream->connect(address);
  // The failure of an attempt that ends after TCPClient gave up on it (its timeout closed it) is
  // seen by nobody else: retrieved here, so it is not logged as lost.
  connected.add_done_callback([](const Future<void>& done) {
    if (!done.cancelled()) static_cast<void>(done.exception());
  });
  return ConnectAttempt{std::move(stream), std::move(connected)};
}

/// The pool's key: scheme, host and port, and for https the TLS settings (a connection made
/// without verifying the certificate never serves a request that verifies it).
void build_pool_key(std::string& key, const URL& url, const HTTPRequest& request,
                    const Settings& settings) {
  key.clear();
  key.append(url.scheme).append("://").append(url.host).append(":");
  key.append(std::to_string(url.port));
  if (url.scheme == "https") {
    key.append(settings.validate_cert ? "\n1\n" : "\n0\n");
    key.append(request.ca_certs.value_or("")).append("\n");
    key.append(request.client_cert.value_or("")).append("\n");
    key.append(request.client_key.value_or(""));
  }
}

std::string& pool_key_scratch() {
  thread_local std::string key;
  return key;
}

/// Seconds of a duration, for response timings.
double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

/// Rewrites `request` to follow a redirect with `code` from `from` to `to` (`to_url`).
void apply_redirect(HTTPRequest& request, int code, const URL& from, const URL& to,
                    std::string to_url) {
  // 303 makes any method but HEAD a GET; 301 and 302 do the same for methods other than GET and
  // HEAD (as browsers do); 307 and 308 keep the method and the body.
  bool to_get = false;
  if (code == 303) {
    to_get = request.method != "HEAD";
  } else if (code == 301 || code == 302) {
    to_get = request.method != "GET" && request.method != "HEAD";
  }
  if (to_get) {
    request.method = "GET";
    request.body.reset();
    request.body_producer = nullptr;
    for (std::string_view name :
         {"Content-Length"sv, "Content-Type"sv, "Content-Encoding"sv, "Transfer-Encoding"sv}) {
      request.headers.erase(name);
    }
  }
  request.headers.erase("Host");
  if (!from.same_origin(to)) {
    // Credentials are for the origin they were given for.
    request.headers.erase("Authorization");
    request.headers.erase("Cookie");
    request.headers.erase("Proxy-Authorization");
    request.auth_username.reset();
    request.auth_password.reset();
  }
  request.url = std::move(to_url);
}

}  // namespace

Settings settings_of(const HTTPRequest& r) {
  Settings s;
  s.connect_timeout =
      std::max(r.connect_timeout.value_or(kDefaultConnectTimeout), Clock::duration{});
  s.request_timeout =
      std::max(r.request_timeout.value_or(kDefaultRequestTimeout), Clock::duration{});
  s.follow_redirects = r.follow_redirects.value_or(true);
  s.max_redirects = std::max(r.max_redirects.value_or(kDefaultMaxRedirects), 0);
  s.decompress = r.decompress_response.value_or(true);
  s.validate_cert = r.validate_cert.value_or(true);
  s.allow_insecure_redirects = r.allow_insecure_redirects.value_or(false);
  s.max_header_size = r.max_header_size.value_or(kDefaultMaxHeaderSize);
  s.max_body_size = r.max_body_size.value_or(kDefaultMaxBodySize);
  if (r.user_agent) s.user_agent = *r.user_agent;
  return s;
}

/// The request's method and body, checked as Tornado checks them (and the method as a token).
void validate(const HTTPRequest& request) {
  if (request.method.empty() ||
      !std::all_of(request.method.begin(), request.method.end(), http1::is_token_char)) {
    throw ValueError("invalid HTTP method '" + request.method + "'");
  }
  const bool body_present = request.body.has_value() || static_cast<bool>(request.body_producer);
  if (request.body && request.body_producer) {
    throw ValueError("a request cannot have both a body and a body_producer");
  }
  if (!request.allow_nonstandard_methods) {
    static constexpr std::string_view kMethods[] = {"GET",    "HEAD",  "POST",   "PUT",
                                                    "DELETE", "PATCH", "OPTIONS"};
    if (std::find(std::begin(kMethods), std::end(kMethods), request.method) == std::end(kMethods)) {
      throw ValueError("unsupported HTTP method " + request.method +
                       " (allow_nonstandard_methods allows it)");
    }
    const bool body_expected =
        request.method == "POST" || request.method == "PATCH" || request.method == "PUT";
    if (body_expected && !body_present) {
      throw ValueError("a body is required for method " + request.method +
                       " (unless allow_nonstandard_methods)");
    }
    if (!body_expected && body_present) {
      throw ValueError("a body is not allowed for method " + request.method +
                       " (unless allow_nonstandard_methods)");
    }
  }
  if (request.body_producer) {
    if (auto length = request.headers.get("Content-Length")) {
      std::uint64_t ignored = 0;
      if (!http1::parse_content_length(*length, ignored)) {
        throw ValueError("invalid Content-Length header '" + *length + "'");
      }
    }
  }
}

/// The body of a fetch. `self` keeps the client (its pool, queue and counters) alive until the
/// fetch ends; `request` lives in this frame for the whole fetch, so the exchanges it awaits
/// may borrow from it.
Future<HTTPResponse> run_fetch(std::shared_ptr<AsyncHTTPClient::Impl> self, HTTPRequest request,
                               URL url, bool raise_error) {
  AsyncHTTPClient::Impl& impl = *self;
  IOLoop& loop = *impl.loop;
  const IOLoop::time_point start = loop.time();
  const Settings settings = settings_of(request);
  ActiveFetch fetch(impl);
  FetchControl& control = fetch.control;
  if (settings.request_timeout > Clock::duration{}) {
    fetch.arm_request(start + settings.request_timeout);
  }

  HTTPResponse response;
  ExchangeResult result;
  std::exception_ptr failure;
  std::string refusal;  // why a redirect was not followed
  std::optional<IOLoop::time_point> dequeued, connected;
  try {
    if (impl.try_take_slot()) {
      fetch.slot = true;
    } else {
      // Wait for a slot, within the connect and request timeouts (as Tornado does).
      control.phase = "in request queue";
      control.waiter.emplace();
      impl.waiters.push_back(Future<void>(*control.waiter));
      if (settings.connect_timeout > Clock::duration{} &&
          (settings.request_timeout == Clock::duration{} ||
           settings.connect_timeout < settings.request_timeout)) {
        fetch.arm_phase(start + settings.connect_timeout);
      }
      co_await *control.waiter;
      fetch.slot = true;  // handed over by the fetch that released it
      fetch.disarm_phase();
      control.waiter.reset();
      control.phase = "during request";
    }
    dequeued = loop.time();

    for (int redirects = 0;;) {
      std::string authorization;
      if (request.auth_username) {
        authorization =
            basic_authorization(*request.auth_username, request.auth_password.value_or(""));
      } else if (url.username) {
        authorization = basic_authorization(*url.username, url.password.value_or(""));
      }
      ExchangeRequest ex;
      ex.request = &request;
      ex.target = url.target;
      ex.host = url.netloc;
      ex.authorization = authorization;
      ex.user_agent = settings.user_agent;
      ex.decompress = settings.decompress;
      ex.follow_redirects = settings.follow_redirects && redirects < settings.max_redirects;
      ex.url = request.url;
      ex.https = url.scheme == "https";
      ex.allow_insecure_redirects = settings.allow_insecure_redirects;
      ex.close_connection = impl.defaults.max_idle_per_host == 0;
      ex.max_header_size = settings.max_header_size;
      ex.max_body_size = settings.max_body_size;
      result = ExchangeResult();
      IOLoop::time_point hop_connected{};
      co_await impl.exchange(fetch, url, request, settings, ex, result, hop_connected);
      connected = hop_connected;

      const int code = result.code;
      if (settings.follow_redirects &&
          (code == 301 || code == 302 || code == 303 || code == 307 || code == 308) &&
          result.headers.contains("Location")) {
        if (redirects >= settings.max_redirects) {
          refusal = "too many redirects (more than max_redirects)";
        } else {
          std::string location = result.headers.get_list("Location").front();
          std::string next_url = httpclient_detail::resolve_url(request.url, location);
          std::optional<URL> next;
          try {
            next = httpclient_detail::parse_url(next_url);
          } catch (const ValueError& e) {
            refusal.assign("cannot follow the redirect: ").append(e.what());
          }
          if (next && url.scheme == "https" && next->scheme == "http" &&
              !settings.allow_insecure_redirects) {
            refusal = "refused a redirect from https to http (allow_insecure_redirects)";
            next.reset();
          }
          if (next) {
            apply_redirect(request, code, url, *next, std::move(next_url));
            url = std::move(*next);
            ++redirects;
            continue;
          }
        }
      }
      break;
    }
  } catch (...) {
    failure = control.abort_error ? control.abort_error : std::current_exception();
  }
  fetch.finish();  // the slot goes to the next fetch in the queue now

  const IOLoop::time_point end = loop.time();
  response.request_time = seconds(end - start);
  if (dequeued) response.time_info["queue"] = seconds(*dequeued - start);
  if (connected) response.time_info["connect"] = seconds(*connected - start);
  if (result.first_byte) response.time_info["firstbyte"] = seconds(*result.first_byte - start);
  response.time_info["total"] = response.request_time;
  response.effective_url = request.url;
  if (failure) {
    response.code = 599;
    response.reason = "Unknown";
    response.error = failure;
  } else {
    response.code = result.code;
    response.reason = std::move(result.reason);
    response.headers = std::move(result.headers);
    response.body = std::move(result.body);
  }
  const int code = response.code;
  const bool http_error = !failure && (code < 200 || code >= 300);
  response.request = std::move(request);
  if (raise_error && failure) throw HTTPClientError(599, what_of(failure), nullptr, failure);
  if (raise_error && http_error) {
    auto shared = std::make_shared<const HTTPResponse>(std::move(response));
    throw HTTPClientError(code, refusal, std::move(shared));
  }
  if (http_error) {
    response.error = std::make_exception_ptr(
        HTTPClientError(code, refusal, std::make_shared<const HTTPResponse>(response)));
  }
  co_return response;
}

}  // namespace squall::httpclient_detail

namespace squall {

// The client's members below use the pieces above.
using namespace httpclient_detail;  // NOLINT(google-build-using-namespace)

std::shared_ptr<SSLContext> AsyncHTTPClient::Impl::ssl_context(const HTTPRequest& request,
                                                               const Settings& settings) {
  std::string key(settings.validate_cert ? "1\n" : "0\n");
  key.append(request.ca_certs.value_or("")).append("\n");
  key.append(request.client_cert.value_or("")).append("\n");
  key.append(request.client_key.value_or(""));
  if (auto it = ssl_contexts.find(key); it != ssl_contexts.end()) return it->second;
  SSLOptions options;
  options.verify_mode =
      settings.validate_cert ? SSLOptions::VerifyMode::kRequired : SSLOptions::VerifyMode::kNone;
  options.check_hostname = settings.validate_cert;
  options.ca_certs = request.ca_certs.value_or("");
  options.certfile = request.client_cert.value_or("");
  options.keyfile = request.client_key.value_or("");
  std::shared_ptr<SSLContext> context = ssl_options_to_context(options, false);
  ssl_contexts.emplace(std::move(key), context);
  return context;
}

Future<std::shared_ptr<ClientConnection>> AsyncHTTPClient::Impl::connect(ActiveFetch& fetch,
                                                                         const URL& url,
                                                                         const HTTPRequest& request,
                                                                         const Settings& settings,
                                                                         std::string key) {
  FetchControl& control = fetch.control;
  // TCPClient's own timeout bounds the connection and the TLS handshake (which is part of
  // each attempt, so an attempt given up is closed, handshake and all): the fetch's timeout
  // leaves the connect alone to end by itself, soon enough, before the fetch reports it.
  std::optional<IOLoop::duration> timeout;
  if (settings.connect_timeout > Clock::duration{}) timeout = settings.connect_timeout;
  if (fetch.deadline) {
    IOLoop::duration left = std::max(*fetch.deadline - loop->time(), IOLoop::duration::zero());
    timeout = timeout ? std::min(*timeout, left) : left;
  }
  TCPClientOptions options;
  if (url.scheme == "https") {
    std::shared_ptr<SSLContext> context = ssl_context(request, settings);
    options.stream_factory = [context, host = url.host](
                                 const SocketAddress& address,
                                 const std::optional<SocketAddress>& source_ip,
                                 const IOStreamOptions& stream_options) -> ConnectAttempt {
      return tls_attempt(address, source_ip, stream_options, context, host);
    };
  }
  TCPClient client(resolver, std::move(options));
  std::unique_ptr<IOStream> stream;
  std::exception_ptr error;
  control.timeouts_deferred = timeout.has_value();
  try {
    stream =
        co_await interruptible(control, client.connect(url.host, url.port, AF_UNSPEC, timeout));
  } catch (const StreamClosedError& e) {
    // What failed: a refused connection's OSError, a handshake's SSLError.
    error = e.real_error() ? e.real_error() : std::current_exception();
  } catch (const TimeoutError&) {
    error = std::make_exception_ptr(TimeoutError("Timeout while connecting"));
  } catch (...) {
    error = std::current_exception();
  }
  control.timeouts_deferred = false;
  if (control.abort_error) std::rethrow_exception(control.abort_error);
  if (error) std::rethrow_exception(error);
  stream->set_nodelay(true);  // a request's head and body go out at once
  ++opened;
  co_return std::make_shared<ClientConnection>(std::move(stream), std::move(key));
}

Future<void> AsyncHTTPClient::Impl::exchange(ActiveFetch& fetch, const URL& url,
                                             const HTTPRequest& request, const Settings& settings,
                                             const ExchangeRequest& ex, ExchangeResult& result,
                                             IOLoop::time_point& connected) {
  FetchControl& control = fetch.control;
  for (int attempt = 0;; ++attempt) {
    std::shared_ptr<ClientConnection> conn;
    std::string key;
    {
      std::string& scratch = pool_key_scratch();  // no suspension while it is used
      build_pool_key(scratch, url, request, settings);
      conn = take_idle(scratch);
      if (!conn) key = scratch;
    }
    if (!conn) {
      control.phase = "while connecting";
      conn = co_await connect(fetch, url, request, settings, std::move(key));
      control.phase = "during request";
    }
    control.check();
    connected = loop->time();
    control.stream = conn->stream.get();
    std::exception_ptr error;
    try {
      co_await httpclient_detail::run_exchange(*conn, ex, result, control);
    } catch (...) {
      error = std::current_exception();
    }
    control.stream = nullptr;
    if (!error) {
      if (result.reusable) give_back(std::move(conn));
      co_return;
    }
    const bool retry = attempt == 0 && conn->exchanges > 0 && !result.head_received &&
                       conn->stream->buffered().empty() && !control.abort_error &&
                       !request.body_producer && is_stream_closed(error);
    conn.reset();
    if (!retry) std::rethrow_exception(error);
    result = ExchangeResult();
  }
}

}  // namespace squall
