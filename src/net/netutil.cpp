#include "squall/net/netutil.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>

#include <spdlog/spdlog.h>

#include "squall/core/ioloop.hpp"
#include "squall/util/error.hpp"
#include "squall/util/log.hpp"

namespace squall {

using netutil::AcceptCallback;
using netutil::is_valid_ip;
using netutil::kDefaultBacklog;

bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept {
  return a.length() == b.length() && std::memcmp(a.get(), b.get(), a.length()) == 0;
}

namespace {

using namespace std::chrono_literals;

/// How long an accept handler stops watching its socket after accept() failed for want of
/// descriptors or memory: long enough that the loop does not spin, short enough to recover soon.
constexpr auto kAcceptPause = 100ms;

struct AddrInfoDeleter {
  void operator()(addrinfo* list) const noexcept { ::freeaddrinfo(list); }
};
using AddrInfoList = std::unique_ptr<addrinfo, AddrInfoDeleter>;

/// getaddrinfo's message for `code` (EAI_SYSTEM leaves the reason in errno).
std::string gai_message(int code, int saved_errno) {
  if (code == EAI_SYSTEM) return std::generic_category().message(saved_errno);
  return ::gai_strerror(code);
}

/// Sockets made so far by bind_sockets: closed on destruction unless released to the caller.
class OpenSockets {
 public:
  OpenSockets() = default;
  OpenSockets(const OpenSockets&) = delete;
  OpenSockets& operator=(const OpenSockets&) = delete;
  ~OpenSockets() {
    for (int fd : fds_) ::close(fd);
  }

  void add(int fd) { fds_.push_back(fd); }
  void close_last() noexcept {
    ::close(fds_.back());
    fds_.pop_back();
  }
  bool empty() const noexcept { return fds_.empty(); }
  std::vector<int> release() noexcept { return std::exchange(fds_, {}); }

 private:
  std::vector<int> fds_;
};

/// One distinct result of getaddrinfo.
struct Candidate {
  int family;
  int socktype;
  int protocol;
  SocketAddress address;

  bool operator==(const Candidate&) const = default;
};

void set_port(SocketAddress& address, std::uint16_t port) noexcept {
  if (address.family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(address.get())->sin_port = htons(port);
  } else if (address.family() == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(address.get())->sin6_port = htons(port);
  }
}

void enable_option(int fd, int level, int name, const char* option_name,
                   const SocketAddress& address) {
  int on = 1;
  if (::setsockopt(fd, level, name, &on, sizeof on) != 0) {
    throw OSError(errno, std::string("bind_sockets: setsockopt(") + option_name + ") for " +
                             address.to_string());
  }
}

/// getaddrinfo's passive results for `address`, distinct, IPv4 before IPv6 (as Tornado sorts them).
std::vector<Candidate> passive_addresses(std::uint16_t port, std::string_view address, int family) {
  std::string host(address);
  if (host.find('\0') != std::string::npos) {
    throw ValueError("bind_sockets: address contains a NUL byte");
  }
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  // A literal IP is bound as given; AI_ADDRCONFIG would drop it on a host whose only address of
  // that family is a loopback one.
  const bool numeric = !host.empty() && is_valid_ip(host);
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | (numeric ? AI_NUMERICHOST : AI_ADDRCONFIG);
  const std::string service = std::to_string(port);
  const char* node = host.empty() ? nullptr : host.c_str();
  addrinfo* list = nullptr;
  int rc = ::getaddrinfo(node, service.c_str(), &hints, &list);
  if (rc == EAI_NONAME || rc == EAI_ADDRFAMILY || rc == EAI_NODATA) {
    if (!numeric) {
      // AI_ADDRCONFIG counts no loopback address: on a host with only loopback addresses (a
      // container without a network) it leaves nothing, even for "localhost". Ask without it.
      hints.ai_flags &= ~AI_ADDRCONFIG;
      rc = ::getaddrinfo(node, service.c_str(), &hints, &list);
    }
  }
  if (rc != 0) {
    throw Error("bind_sockets: cannot resolve '" + host + "': " + gai_message(rc, errno));
  }
  AddrInfoList owner(list);
  std::vector<Candidate> candidates;
  for (const addrinfo* info = list; info; info = info->ai_next) {
    Candidate candidate{info->ai_family, info->ai_socktype, info->ai_protocol,
                        SocketAddress(info->ai_addr, info->ai_addrlen)};
    if (std::find(candidates.begin(), candidates.end(), candidate) == candidates.end()) {
      candidates.push_back(candidate);
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) { return a.family < b.family; });
  return candidates;
}

// ---- accepting -------------------------------------------------------------------------------

/// What an accept handler, its pause timer and its remover share.
struct AcceptState {
  AcceptState(IOLoop& loop, int fd, AcceptCallback callback)
      : loop(&loop), fd(fd), callback(std::move(callback)) {}

  IOLoop* loop;
  int fd;
  AcceptCallback callback;
  bool removed = false;
  bool in_callback = false;  // the callback may be running: it must not be destroyed now
  TimeoutHandle resume;      // set while paused
};

void pause_accepting(const std::shared_ptr<AcceptState>& state, int error);

/// Accepts a bounded batch of connections each time the listening socket is readable.
struct AcceptHandler {
  std::shared_ptr<AcceptState> state;

  void operator()(int, std::uint32_t) const {
    AcceptState& s = *state;  // `state` lives as long as this handler, which the loop keeps alive
    for (int i = 0; i < kDefaultBacklog && !s.removed; ++i) {
      SocketAddress peer;
      socklen_t length = SocketAddress::capacity();
      int connection = ::accept4(s.fd, peer.get(), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (connection < 0) {
        switch (errno) {
          case EAGAIN:
#if EWOULDBLOCK != EAGAIN
          case EWOULDBLOCK:
#endif
            return;  // accepted everything that was waiting
          // The connection went away while queued, or (Linux passes these on from the new
          // socket) failed on the network; the next one may be fine.
          case EINTR:
          case ECONNABORTED:
          case EPROTO:
          case EPERM:
          case ENETDOWN:
          case ENETUNREACH:
          case EHOSTDOWN:
          case EHOSTUNREACH:
          case ENONET:
          case ENOPROTOOPT:
          case EOPNOTSUPP:
            continue;
          default:
            pause_accepting(state, errno);
            return;
        }
      }
      peer.set_length(length);
      s.in_callback = true;
      struct Reset {
        AcceptState& s;
        ~Reset() {
          s.in_callback = false;
          // Removed from inside the callback: drop it now, which breaks a cycle if it holds
          // the remover.
          if (s.removed) s.callback = nullptr;
        }
      } reset{s};
      s.callback(connection, peer);
    }
  }

  std::string describe() const {
    return "accept handler of fd " + std::to_string(state->fd);
  }
};

void pause_accepting(const std::shared_ptr<AcceptState>& state, int error) {
  log::app_log().error("accept() on fd {} failed: {}; not accepting for {} ms", state->fd,
                       std::generic_category().message(error),
                       std::chrono::milliseconds(kAcceptPause).count());
  // Level-triggered: a backlog we cannot take would wake the loop again at once.
  state->loop->remove_handler(state->fd);
  state->resume = state->loop->call_later(kAcceptPause, [state] {
    state->resume = {};
    if (!state->removed) state->loop->add_handler(state->fd, IOLoop::READ, AcceptHandler{state});
  });
}

// ---- resolving -------------------------------------------------------------------------------

std::vector<SocketAddress> getaddrinfo_stream(const std::string& host, std::uint16_t port,
                                              int family) {
  if (host.find('\0') != std::string::npos) {
    throw Error("Cannot resolve a host name containing a NUL byte");
  }
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  const std::string service = std::to_string(port);
  addrinfo* list = nullptr;
  int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
  if (rc != 0) throw Error("Cannot resolve '" + host + "': " + gai_message(rc, errno));
  AddrInfoList owner(list);
  std::vector<SocketAddress> addresses;
  for (const addrinfo* info = list; info; info = info->ai_next) {
    if (info->ai_family != AF_INET && info->ai_family != AF_INET6) continue;
    SocketAddress address(info->ai_addr, info->ai_addrlen);
    if (std::find(addresses.begin(), addresses.end(), address) == addresses.end()) {
      addresses.push_back(address);
    }
  }
  return addresses;
}

struct DefaultSlot {
  std::mutex mutex;
  std::shared_ptr<Resolver> resolver;
};

DefaultSlot& default_slot() {
  static DefaultSlot slot;
  return slot;
}

}  // namespace

// ---- binding ---------------------------------------------------------------------------------

namespace netutil {

std::vector<int> bind_sockets(std::uint16_t port, std::string_view address, int family, int backlog,
                              bool reuse_port) {
  OpenSockets sockets;
  std::uint16_t bound_port = 0;
  for (Candidate& candidate : passive_addresses(port, address, family)) {
    int fd = ::socket(candidate.family, candidate.socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                      candidate.protocol);
    if (fd < 0) {
      if (errno == EAFNOSUPPORT) continue;  // e.g. IPv6 compiled out of the kernel
      throw OSError(errno, "bind_sockets: socket() for " + candidate.address.to_string());
    }
    sockets.add(fd);
    enable_option(fd, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR", candidate.address);
    if (candidate.family == AF_INET6) {
      // Linux lets an IPv6 socket take IPv4 too, which would keep "::" and "0.0.0.0" from both
      // being bound; other systems need one socket per family anyway. One rule everywhere.
      enable_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, "IPV6_V6ONLY", candidate.address);
    }
    if (reuse_port) enable_option(fd, SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT", candidate.address);
    if (port == 0 && bound_port != 0) set_port(candidate.address, bound_port);
    if (::bind(fd, candidate.address.get(), candidate.address.length()) != 0) {
      int error = errno;
      // Some systems (Docker's defaults) resolve "localhost" to ::1 yet refuse to bind it, with
      // IPv6 half disabled. Only that case is skipped: elsewhere the error may be a typo.
      if (error == EADDRNOTAVAIL && address == "localhost" && candidate.address.ip() == "::1") {
        sockets.close_last();
        continue;
      }
      throw OSError(error, "bind_sockets: cannot bind " + candidate.address.to_string());
    }
    if (bound_port == 0) bound_port = socket_address_of(fd).port();
    if (::listen(fd, backlog) != 0) {
      throw OSError(errno, "bind_sockets: cannot listen on " + candidate.address.to_string());
    }
  }
  if (sockets.empty()) {
    throw Error("bind_sockets: no address to bind for '" + std::string(address) + "'");
  }
  return sockets.release();
}

SocketAddress socket_address_of(int fd) {
  SocketAddress address;
  socklen_t length = SocketAddress::capacity();
  if (::getsockname(fd, address.get(), &length) != 0) {
    throw OSError(errno, "getsockname(fd " + std::to_string(fd) + ")");
  }
  address.set_length(length);
  return address;
}

int bind_unix_socket(std::string_view path, int mode, int backlog) {
  if (path.empty() || path.find('\0') != std::string_view::npos) {
    throw ValueError("bind_unix_socket: the path must be non-empty and without NUL bytes");
  }
  const SocketAddress address = SocketAddress::from_unix_path(path);
  const std::string file(path);
  struct stat status;
  if (::stat(file.c_str(), &status) == 0) {
    if (!S_ISSOCK(status.st_mode)) {
      throw ValueError("bind_unix_socket: " + file + " exists and is not a socket");
    }
    if (::unlink(file.c_str()) != 0 && errno != ENOENT) {
      throw OSError(errno, "bind_unix_socket: cannot remove the old socket " + file);
    }
  } else if (errno != ENOENT) {
    throw OSError(errno, "bind_unix_socket: stat " + file);
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw OSError(errno, "bind_unix_socket: socket()");
  if (::bind(fd, address.get(), address.length()) != 0) {
    int error = errno;
    ::close(fd);
    throw OSError(error, "bind_unix_socket: cannot bind " + file);
  }
  const char* failed = nullptr;
  if (::chmod(file.c_str(), static_cast<mode_t>(mode)) != 0) {
    failed = "chmod";
  } else if (::listen(fd, backlog) != 0) {
    failed = "listen";
  }
  if (failed) {
    int error = errno;
    ::close(fd);
    ::unlink(file.c_str());  // the file is ours: bind just made it
    throw OSError(error, std::string("bind_unix_socket: ") + failed + " " + file);
  }
  return fd;
}

std::function<void()> add_accept_handler(int listen_fd, AcceptCallback callback) {
  IOLoop& loop = IOLoop::current();
  auto state = std::make_shared<AcceptState>(loop, listen_fd, std::move(callback));
  loop.add_handler(listen_fd, IOLoop::READ, AcceptHandler{state});
  return [state = std::move(state)] {
    if (state->removed) return;
    state->removed = true;
    if (state->resume) {
      state->loop->remove_timeout(std::exchange(state->resume, {}));
    } else {
      state->loop->remove_handler(state->fd);
    }
    if (!state->in_callback) state->callback = nullptr;
  };
}

}  // namespace netutil

// ---- resolvers -------------------------------------------------------------------------------

std::shared_ptr<Resolver> Resolver::default_resolver() {
  DefaultSlot& slot = default_slot();
  std::lock_guard lock(slot.mutex);
  if (!slot.resolver) slot.resolver = std::make_shared<DefaultResolver>();
  return slot.resolver;
}

void Resolver::set_default(std::shared_ptr<Resolver> resolver) {
  DefaultSlot& slot = default_slot();
  std::shared_ptr<Resolver> previous;  // released outside the lock
  std::lock_guard lock(slot.mutex);
  previous = std::exchange(slot.resolver, std::move(resolver));
}

Future<std::vector<SocketAddress>> DefaultResolver::resolve(std::string host, std::uint16_t port,
                                                            int family) {
  return IOLoop::current().run_in_executor(nullptr, [host = std::move(host), port, family] {
    return getaddrinfo_stream(host, port, family);
  });
}

OverrideResolver::OverrideResolver(std::shared_ptr<Resolver> resolver, Mapping mapping)
    : resolver_(std::move(resolver)), mapping_(std::move(mapping)) {
  if (!resolver_) throw ValueError("OverrideResolver needs a resolver to delegate to");
}

Future<std::vector<SocketAddress>> OverrideResolver::resolve(std::string host, std::uint16_t port,
                                                             int family) {
  auto it = mapping_.find(Key(host, port, family));
  if (it == mapping_.end()) it = mapping_.find(Key(host, port));
  if (it == mapping_.end()) it = mapping_.find(Key(host));
  if (it != mapping_.end()) {
    host = it->second.host;
    if (it->second.port) port = *it->second.port;
  }
  return resolver_->resolve(std::move(host), port, family);
}

void OverrideResolver::close() {
  resolver_->close();
}

}  // namespace squall
