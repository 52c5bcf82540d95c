// AsyncHTTPClient: its handles (the loop's shared client, or one of its own), the queue of
// fetches (max_clients) and the keep-alive pool; HTTPResponse and HTTPClientError; and the
// blocking HTTPClient. A fetch itself is client_fetch.cpp's, its exchanges
// client_connection.cpp's.

#include "squall/http/httpclient.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "http/client_impl.hpp"
#include "http/text.hpp"

namespace squall {

using namespace httpclient_detail;  // NOLINT(google-build-using-namespace)

namespace {

using http_text::iequals;

using namespace std::string_view_literals;

/// Resolves IP literals at once (no trip through the resolver's thread pool); names through the
/// default resolver.
class LiteralResolver final : public Resolver {
 public:
  Future<std::vector<SocketAddress>> resolve(std::string host, std::uint16_t port,
                                             int family) override {
    if (netutil::is_valid_ip(host)) {
      SocketAddress address = SocketAddress::from_ip(host, port);
      if (family == AF_UNSPEC || family == address.family()) {
        std::vector<SocketAddress> addresses(1, address);
        return make_ready_future(std::move(addresses));
      }
    }
    return Resolver::default_resolver()->resolve(std::move(host), port, family);
  }
};

/// Ties a client to its loop: the frame lives until the client is closed (then it ends) or the
/// loop closes (then the loop destroys it, and the watch tells the client). For the loop's
/// shared client it also holds the client, which thus lives as long as the loop (as Tornado's).
struct LoopWatch {
  std::weak_ptr<AsyncHTTPClient::Impl> impl;
  ~LoopWatch() {
    if (auto client = impl.lock()) client->on_loop_gone();
  }
};

Future<void> keep_client(std::shared_ptr<AsyncHTTPClient::Impl> strong,
                         std::weak_ptr<AsyncHTTPClient::Impl> weak, Future<void> closed) {
  LoopWatch watch{std::move(weak)};
  co_await closed;
  watch.impl.reset();  // a normal end: the loop lives on
}

std::vector<std::pair<IOLoop*, std::weak_ptr<AsyncHTTPClient::Impl>>>& shared_clients() {
  thread_local std::vector<std::pair<IOLoop*, std::weak_ptr<AsyncHTTPClient::Impl>>> clients;
  return clients;
}

}  // namespace

// ---- HTTPResponse, HTTPClientError ---------------------------------------------------------

void HTTPResponse::rethrow() const {
  if (error) std::rethrow_exception(error);
}

namespace {
std::string client_error_message(int code, std::string_view message) {
  std::string text("HTTP ");
  text.append(std::to_string(code)).append(": ");
  if (!message.empty()) {
    text.append(message);
  } else {
    std::string_view phrase = httputil::reason_phrase(code);
    text.append(phrase.empty() ? "Unknown"sv : phrase);
  }
  return text;
}
}  // namespace

HTTPClientError::HTTPClientError(int code, std::string message,
                                 std::shared_ptr<const HTTPResponse> response,
                                 std::exception_ptr real_error)
    : Error(client_error_message(code, message)),
      code_(code),
      response_(std::move(response)),
      real_error_(std::move(real_error)) {}

// ---- the client's state --------------------------------------------------------------------

AsyncHTTPClient::Impl::Impl(IOLoop& l, Defaults d, bool is_shared)
    : loop(&l),
      defaults(std::move(d)),
      shared(is_shared),
      resolver(std::make_shared<LiteralResolver>()) {
  defaults.max_clients = std::max<std::size_t>(defaults.max_clients, 1);
}

std::shared_ptr<AsyncHTTPClient::Impl> AsyncHTTPClient::Impl::create(Defaults defaults,
                                                                     bool shared) {
  IOLoop& loop = IOLoop::current();
  auto impl = std::make_shared<Impl>(loop, std::move(defaults), shared);
  static_cast<void>(keep_client(shared ? impl : nullptr, impl, impl->closed_signal));
  return impl;
}

AsyncHTTPClient::Impl::~Impl() {
  if (loop_gone) return;  // everything on the loop went with it
  idle.clear();
  signal_keeper();
}

void AsyncHTTPClient::Impl::apply_defaults(HTTPRequest& r) const {
  const HTTPRequest& d = defaults.request;
  if (!d.headers.empty()) {
    std::vector<std::string> own;  // names the request sets itself: the defaults' do not apply
    for (auto [name, value] : r.headers) own.emplace_back(name);
    for (auto [name, value] : d.headers) {
      // (Named in the capture: clang 14 cannot capture a structured binding.)
      if (std::none_of(own.begin(), own.end(),
                       [&, &field = name](const std::string& n) { return iequals(n, field); })) {
        r.headers.add(name, value);
      }
    }
  }
  if (!r.auth_username && d.auth_username) {
    r.auth_username = d.auth_username;
    r.auth_password = d.auth_password;
  }
  if (!r.connect_timeout) r.connect_timeout = d.connect_timeout;
  if (!r.request_timeout) r.request_timeout = d.request_timeout;
  if (!r.if_modified_since) r.if_modified_since = d.if_modified_since;
  if (!r.follow_redirects) r.follow_redirects = d.follow_redirects;
  if (!r.max_redirects) r.max_redirects = d.max_redirects;
  if (!r.user_agent) r.user_agent = d.user_agent;
  if (!r.decompress_response) r.decompress_response = d.decompress_response;
  if (!r.streaming_callback) r.streaming_callback = d.streaming_callback;
  if (!r.header_callback) r.header_callback = d.header_callback;
  if (!r.validate_cert) r.validate_cert = d.validate_cert;
  if (!r.ca_certs) r.ca_certs = d.ca_certs;
  if (!r.client_cert) r.client_cert = d.client_cert;
  if (!r.client_key) r.client_key = d.client_key;
  r.allow_nonstandard_methods = r.allow_nonstandard_methods || d.allow_nonstandard_methods;
  r.expect_100_continue = r.expect_100_continue || d.expect_100_continue;
  if (!r.max_header_size) r.max_header_size = d.max_header_size;
  if (!r.max_body_size) r.max_body_size = d.max_body_size;
  if (!r.allow_insecure_redirects) r.allow_insecure_redirects = d.allow_insecure_redirects;
}

void AsyncHTTPClient::Impl::close() {
  if (closed) return;
  closed = true;
  idle.clear();
  auto error = std::make_exception_ptr(Error("the AsyncHTTPClient was closed"));
  for (ActiveFetch* fetch = fetches; fetch; fetch = fetch->next) fetch->control.abort(error);
  waiters.clear();
  signal_keeper();
}

void AsyncHTTPClient::Impl::on_loop_gone() noexcept {
  closed = true;
  idle.clear();  // the streams close while the loop can still take it
  waiters.clear();
  loop_gone = true;
}

void AsyncHTTPClient::Impl::release_slot() noexcept {
  if (!loop_gone) {
    while (!waiters.empty()) {
      Future<void> next = std::move(waiters.front());
      waiters.pop_front();
      if (!next.done()) {
        next.set_result();  // the slot passes to it: `active` stays
        return;
      }
    }
  }
  --active;
}

std::shared_ptr<ClientConnection> AsyncHTTPClient::Impl::take_idle(std::string_view key) {
  auto it = idle.find(key);
  if (it == idle.end()) return nullptr;
  auto& list = it->second;
  while (!list.empty()) {
    std::shared_ptr<ClientConnection> conn = std::move(list.back());  // the warmest first
    list.pop_back();
    conn->idle = false;
    // Its pending read stays, to be the response's first: a connection the server closed, or
    // wrote to unasked, while it was idle is dropped.
    if (conn->usable()) return conn;
  }
  return nullptr;
}

void AsyncHTTPClient::Impl::give_back(std::shared_ptr<ClientConnection> conn) {
  if (closed || loop_gone || defaults.max_idle_per_host == 0) return;
  auto it = idle.find(std::string_view(conn->key));
  if (it == idle.end()) it = idle.try_emplace(conn->key).first;
  auto& list = it->second;
  // Past the bound, a connection is still kept while fetches wait for a slot: one of them will
  // want it in a moment.
  if (list.size() >= defaults.max_idle_per_host &&
      (waiters.empty() || list.size() >= defaults.max_clients)) {
    return;
  }
  conn->watch_idle();
  if (!conn->usable()) return;
  conn->idle = true;
  conn->idle_since = loop->time();
  if (!conn->timer_armed) arm_idle_timer(conn, conn->idle_since + defaults.idle_timeout);
  list.push_back(std::move(conn));
}

void AsyncHTTPClient::Impl::arm_idle_timer(const std::shared_ptr<ClientConnection>& conn,
                                           IOLoop::time_point when) {
  // One timer per connection, re-armed lazily: a connection reused before it fires just gets a
  // later deadline, checked when it does.
  conn->timer_armed = true;
  conn->timer = loop->call_at(
      when, [weak_self = weak_from_this(), weak_conn = std::weak_ptr<ClientConnection>(conn)] {
        auto c = weak_conn.lock();
        if (!c) return;
        c->timer_armed = false;
        auto self = weak_self.lock();
        if (!self || !c->idle || self->loop_gone) return;
        IOLoop::time_point deadline = c->idle_since + self->defaults.idle_timeout;
        if (self->loop->time() >= deadline) {
          self->remove_idle(c.get());
        } else {
          self->arm_idle_timer(c, deadline);
        }
      });
}

void AsyncHTTPClient::Impl::remove_idle(const ClientConnection* conn) {
  auto it = idle.find(std::string_view(conn->key));
  if (it == idle.end()) return;
  auto& list = it->second;
  auto found =
      std::find_if(list.begin(), list.end(),
                   [&](const std::shared_ptr<ClientConnection>& c) { return c.get() == conn; });
  if (found != list.end()) list.erase(found);
  if (list.empty()) idle.erase(it);
}

// ---- AsyncHTTPClient -----------------------------------------------------------------------

AsyncHTTPClient::AsyncHTTPClient() {
  IOLoop& loop = IOLoop::current();
  auto& clients = shared_clients();
  for (auto it = clients.begin(); it != clients.end();) {
    std::shared_ptr<Impl> impl = it->second.lock();
    if (!impl || impl->closed || impl->loop_gone) {
      it = clients.erase(it);
      continue;
    }
    if (it->first == &loop) {
      impl_ = std::move(impl);
      return;
    }
    ++it;
  }
  impl_ = Impl::create(Defaults(), true);
  clients.emplace_back(&loop, impl_);
}

AsyncHTTPClient::AsyncHTTPClient(Defaults defaults)
    : impl_(Impl::create(std::move(defaults), false)) {}

AsyncHTTPClient::~AsyncHTTPClient() = default;
AsyncHTTPClient::AsyncHTTPClient(const AsyncHTTPClient&) = default;
AsyncHTTPClient& AsyncHTTPClient::operator=(const AsyncHTTPClient&) = default;

Future<HTTPResponse> AsyncHTTPClient::fetch(std::string url, bool raise_error) {
  return fetch(HTTPRequest(std::move(url)), raise_error);
}

Future<HTTPResponse> AsyncHTTPClient::fetch(HTTPRequest request, bool raise_error) {
  Impl& impl = *impl_;
  if (impl.closed) throw InvalidStateError("fetch() called on a closed AsyncHTTPClient");
  impl.apply_defaults(request);
  validate(request);
  URL url = httpclient_detail::parse_url(request.url);
  return run_fetch(impl_, std::move(request), std::move(url), raise_error);
}

void AsyncHTTPClient::close() {
  impl_->close();
}

std::uint64_t AsyncHTTPClient::connections_opened() const noexcept {
  return impl_->opened;
}

// ---- HTTPClient ----------------------------------------------------------------------------

HTTPClient::HTTPClient(AsyncHTTPClient::Defaults defaults) {
  IOLoop* previous = IOLoop::current_or_null();
  loop_ = std::make_unique<IOLoop>();
  loop_->make_current();  // the client belongs to the private loop
  client_ = std::make_unique<AsyncHTTPClient>(std::move(defaults));
  if (previous) previous->make_current();
}

HTTPClient::~HTTPClient() {
  IOLoop* previous = IOLoop::current_or_null();
  IOLoop* own = loop_.get();
  own->make_current();
  client_.reset();
  loop_.reset();  // closes the loop: what the client still had on it goes too
  if (previous && previous != own) previous->make_current();
}

HTTPResponse HTTPClient::fetch(std::string url, bool raise_error) {
  return fetch(HTTPRequest(std::move(url)), raise_error);
}

HTTPResponse HTTPClient::fetch(HTTPRequest request, bool raise_error) {
  HTTPResponse response;
  // The response is moved out of the fetch, not copied (run_sync would copy a result).
  auto run = [&]() -> Future<void> {
    response = co_await client_->fetch(std::move(request), raise_error);
  };
  loop_->run_sync(run);
  return response;
}

void HTTPClient::close() {
  client_->close();
}

}  // namespace squall
