#include "squall/net/tcpclient.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <exception>
#include <map>
#include <utility>
#include <vector>

#include "squall/core/gen.hpp"
#include "squall/util/error.hpp"

namespace squall {
namespace {

/// Happy Eyeballs over resolved addresses (Tornado's `_Connector`): the addresses of the first
/// address's family are tried one at a time; the other family's start once a primary attempt
/// fails or the initial timeout passes, also one at a time. The first attempt to connect wins and
/// the others are closed; when every attempt has failed, the last error is raised.
///
/// Owned by the `connect` coroutine while it awaits; the callbacks of attempts and timers hold
/// weak references, so a connector whose coroutine is gone (its loop closed) just vanishes, and
/// closes the attempts still open as it goes.
class Connector : public std::enable_shared_from_this<Connector> {
 public:
  Connector(std::vector<SocketAddress> addresses, StreamFactory factory,
            std::optional<SocketAddress> source_ip, IOStreamOptions options)
      : loop_(&IOLoop::current()),
        factory_(std::move(factory)),
        source_ip_(source_ip),
        options_(options),
        remaining_(addresses.size()) {
    const int primary_family = addresses.front().family();
    for (SocketAddress& address : addresses) {
      queues_[address.family() == primary_family ? kPrimary : kSecondary].addresses.push_back(
          address);
    }
  }

  /// Starts the primary family and the timers; the Future gives the winning stream.
  Future<std::unique_ptr<IOStream>> start(IOLoop::duration initial_timeout,
                                          std::optional<IOLoop::time_point> deadline) {
    try_connect(kPrimary);
    std::weak_ptr<Connector> weak = weak_from_this();
    timeout_ = loop_->call_later(initial_timeout, [weak] {
      if (auto self = weak.lock()) self->on_timeout();
    });
    if (deadline) {
      connect_timeout_ = loop_->call_at(*deadline, [weak] {
        if (auto self = weak.lock()) self->on_connect_timeout();
      });
    }
    return future_;
  }

 private:
  enum Queue : std::size_t { kPrimary = 0, kSecondary = 1 };
  struct Addresses {
    std::vector<SocketAddress> addresses;
    std::size_t next = 0;  // the next one to try
  };

  /// Starts an attempt on the next address of `queue`; when it has none left and no attempt is
  /// pending, fails with the last error.
  void try_connect(Queue queue) {
    Addresses& pending = queues_[queue];
    if (pending.next == pending.addresses.size()) {
      // The other queue may still be working: fail only once every attempt has ended.
      if (remaining_ == 0 && !future_.done()) {
        clear_timeouts();
        future_.set_exception(last_error_ ? last_error_
                                          : std::make_exception_ptr(Error("connection failed")));
      }
      return;
    }
    const SocketAddress& address = pending.addresses[pending.next++];
    ConnectAttempt attempt;
    try {
      attempt = factory_(address, source_ip_, options_);
      if (!attempt.stream) throw ValueError("TCPClient: the stream factory gave no stream");
    } catch (...) {
      // As a failed connect: reported through the loop like any other, never re-entrantly.
      attempt.stream.reset();
      attempt.connected = make_exceptional_future<void>(std::current_exception());
    }
    const std::uint64_t id = next_id_++;
    streams_.emplace(id, std::move(attempt.stream));
    attempt.connected.add_done_callback(
        [weak = weak_from_this(), queue, id](const Future<void>& done) {
          if (auto self = weak.lock()) {
            self->on_connect_done(queue, id, done);
          } else {
            static_cast<void>(done.exception());  // abandoned (timed out): its error is moot
          }
        });
  }

  void on_connect_done(Queue queue, std::uint64_t id, const Future<void>& done) {
    --remaining_;
    std::unique_ptr<IOStream> stream;
    if (auto it = streams_.find(id); it != streams_.end()) {
      stream = std::move(it->second);
      streams_.erase(it);
    }
    std::exception_ptr error;
    try {
      done.result();
    } catch (...) {
      error = std::current_exception();
    }
    // Only close_streams() takes a stream away, once the result is decided: not a winner.
    if (!error && !stream) error = std::make_exception_ptr(StreamClosedError());
    if (error) {
      if (future_.done()) return;
      last_error_ = error;  // raised in the end if nothing succeeds
      try_connect(queue);
      if (timeout_) {
        // A failure need not wait for the timeout to try the secondary family.
        loop_->remove_timeout(std::exchange(timeout_, {}));
        on_timeout();
      }
      return;
    }
    clear_timeouts();
    if (future_.done()) {
      stream->close();  // a late arrival
      return;
    }
    future_.set_result(std::move(stream));
    close_streams();
  }

  void on_timeout() {
    timeout_ = {};
    if (!future_.done()) try_connect(kSecondary);
  }

  void on_connect_timeout() {
    connect_timeout_ = {};
    if (!future_.done()) future_.set_exception(TimeoutError("Timed out while connecting"));
    clear_timeouts();
    close_streams();
  }

  void clear_timeouts() {
    if (timeout_) loop_->remove_timeout(std::exchange(timeout_, {}));
    if (connect_timeout_) loop_->remove_timeout(std::exchange(connect_timeout_, {}));
  }

  /// Closes every attempt in progress; their Futures fail, and their callbacks find the result
  /// decided.
  void close_streams() { streams_.clear(); }

  IOLoop* loop_;
  StreamFactory factory_;
  std::optional<SocketAddress> source_ip_;
  IOStreamOptions options_;
  Future<std::unique_ptr<IOStream>> future_;
  TimeoutHandle timeout_;          // the initial connect timeout, while pending
  TimeoutHandle connect_timeout_;  // the caller's deadline, while pending
  std::exception_ptr last_error_;
  std::size_t remaining_;  // attempts not ended yet, counting those not started
  std::array<Addresses, 2> queues_;
  std::map<std::uint64_t, std::unique_ptr<IOStream>> streams_;  // attempts in progress, by id
  std::uint64_t next_id_ = 0;
};

/// The body of TCPClient::connect. Takes everything by value, so it needs nothing from the client.
Future<std::unique_ptr<IOStream>> connect_to(std::shared_ptr<Resolver> resolver,
                                             TCPClientOptions options, std::string host,
                                             std::uint16_t port, int family,
                                             std::optional<IOLoop::duration> timeout,
                                             std::optional<SocketAddress> source_ip,
                                             std::optional<SSLOptions> ssl_options) {
  std::optional<IOLoop::time_point> deadline;
  if (timeout) deadline = IOLoop::current().time() + *timeout;
  std::vector<SocketAddress> addresses;
  if (deadline) {
    addresses = co_await gen::with_timeout(*deadline, resolver->resolve(host, port, family));
  } else {
    addresses = co_await resolver->resolve(host, port, family);
  }
  if (addresses.empty()) throw Error("Cannot connect to '" + host + "': no address to try");
  if (!options.stream_factory) options.stream_factory = &TCPClient::create_stream;
  auto connector = std::make_shared<Connector>(
      std::move(addresses), std::move(options.stream_factory), source_ip, options.stream_options);
  std::unique_ptr<IOStream> stream =
      co_await connector->start(options.initial_connect_timeout, deadline);
  if (!ssl_options) co_return stream;
  Future<std::unique_ptr<SSLIOStream>> handshake =
      stream->start_tls(false, *ssl_options, std::move(host));
  if (deadline) co_return co_await gen::with_timeout(*deadline, handshake);
  co_return co_await std::move(handshake);
}

}  // namespace

TCPClient::TCPClient(std::shared_ptr<Resolver> resolver, TCPClientOptions options)
    : resolver_(resolver ? std::move(resolver) : Resolver::default_resolver()),
      options_(std::move(options)) {}

Future<std::unique_ptr<IOStream>> TCPClient::connect(std::string host, std::uint16_t port,
                                                     int family,
                                                     std::optional<IOLoop::duration> timeout,
                                                     std::optional<SocketAddress> source_ip,
                                                     std::optional<SSLOptions> ssl_options) {
  return connect_to(resolver_, options_, std::move(host), port, family, timeout, source_ip,
                    std::move(ssl_options));
}

ConnectAttempt TCPClient::create_stream(const SocketAddress& address,
                                        const std::optional<SocketAddress>& source_ip,
                                        const IOStreamOptions& options) {
  int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw OSError(errno, "socket for " + address.to_string());
  if (source_ip && ::bind(fd, source_ip->get(), source_ip->length()) != 0) {
    int error = errno;
    ::close(fd);
    throw OSError(error, "bind to source address " + source_ip->to_string());
  }
  std::unique_ptr<IOStream> stream;
  try {
    stream = std::make_unique<IOStream>(fd, options);
  } catch (...) {
    ::close(fd);  // the stream never took it
    throw;
  }
  Future<void> connected = stream->connect(address);
  return ConnectAttempt{std::move(stream), std::move(connected)};
}

}  // namespace squall
