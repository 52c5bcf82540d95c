#pragma once
/// \file
/// Socket helpers (Tornado's `netutil`): `SocketAddress`, `bind_sockets`, `bind_unix_socket`,
/// `add_accept_handler`, `Resolver` and `is_valid_ip`.
///
/// Descriptors are plain `int`s, as Tornado's are socket objects: whoever receives one (from
/// `bind_sockets`, `bind_unix_socket`, or an accept callback) owns it and closes it. Every
/// descriptor made here is non-blocking and close-on-exec.

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "squall/core/concurrent.hpp"

namespace squall {

/// An IPv4, IPv6 or Unix-domain socket address (a `sockaddr_storage` and its length).
class SocketAddress {
 public:
  SocketAddress() noexcept = default;
  /// Copies `length` bytes of `address`; throws ValueError if they do not fit.
  SocketAddress(const sockaddr* address, socklen_t length);

  /// An IPv4 or IPv6 address from its text (no name lookup); throws ValueError if `ip` is not one.
  static SocketAddress from_ip(std::string_view ip, std::uint16_t port);
  /// A Unix-domain socket path; throws ValueError if it is too long.
  static SocketAddress from_unix_path(std::string_view path);

  /// AF_INET, AF_INET6, AF_UNIX, or AF_UNSPEC when empty.
  int family() const noexcept { return storage_.ss_family; }
  /// The port of an IP address (0 for other families).
  std::uint16_t port() const noexcept;
  /// The address without the port: "127.0.0.1", "::1", or a Unix path.
  std::string ip() const;
  /// "127.0.0.1:8888", "[::1]:8888", or a Unix path.
  std::string to_string() const;

  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* get() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t length() const noexcept { return length_; }
  /// For filling by accept() or getsockname(): set the length the call returned.
  void set_length(socklen_t length) noexcept { length_ = length; }
  static constexpr socklen_t capacity() noexcept { return sizeof(sockaddr_storage); }

  /// Equal when both hold the same bytes: same family, address, port (and IPv6 flow and scope).
  friend bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept;

 private:
  sockaddr_storage storage_{};
  socklen_t length_ = 0;
};

/// Module functions, as Tornado's `tornado.netutil.*`.
namespace netutil {

/// True if `ip` is an IPv4 or IPv6 address in text form (no name lookup).
bool is_valid_ip(std::string_view ip) noexcept;

/// The listen backlog `bind_sockets` and `bind_unix_socket` use unless told otherwise, and the
/// most connections an accept handler takes per readiness event (Tornado's `_DEFAULT_BACKLOG`).
inline constexpr int kDefaultBacklog = 128;

/// Creates listening sockets bound to `port` on every address `address` resolves to (getaddrinfo
/// with AI_PASSIVE | AI_ADDRCONFIG, and without AI_ADDRCONFIG if that leaves nothing, as on a host
/// with only loopback addresses; a numeric IP is taken as it is), and returns their
/// descriptors, which the caller owns. An empty `address` means every interface; a host name
/// such as "localhost" gives a socket per address (IPv4 and IPv6). `family` (AF_INET, AF_INET6)
/// restricts the families. Each socket has SO_REUSEADDR, IPV6_V6ONLY if IPv6 (so IPv4 and IPv6
/// need separate sockets, as on every platform), SO_REUSEPORT with `reuse_port`, and listens with
/// `backlog`. With `port` 0 the first socket's port, chosen by the system, is used for the others,
/// so all share one port (read it with `socket_address_of`). Addresses of a family the system
/// cannot create are skipped, and so is "::1" for "localhost" when IPv6 is half disabled
/// (EADDRNOTAVAIL), as Tornado does. Throws ValueError if `address` holds a NUL byte, Error if it
/// does not resolve or nothing could be bound, and OSError (naming the address) if a socket fails
/// to bind or listen; the sockets already made are closed first.
std::vector<int> bind_sockets(std::uint16_t port, std::string_view address = "",
                              int family = AF_UNSPEC, int backlog = kDefaultBacklog,
                              bool reuse_port = false);

/// The local address of socket `fd` (getsockname): the port `bind_sockets(0, ...)` chose, or a
/// Unix socket's path. Throws OSError if `fd` is not a socket.
SocketAddress socket_address_of(int fd);

/// Creates a listening Unix-domain stream socket at `path` and returns its descriptor, which the
/// caller owns. A socket file already at `path` (a stale one, or one still in use) is removed
/// first; any other kind of file there makes it throw ValueError and leaves the file alone. The
/// file gets permissions `mode`. Throws ValueError if `path` is empty, too long or holds a NUL
/// byte, OSError if a system call fails (the socket is closed first).
int bind_unix_socket(std::string_view path, int mode = 0600, int backlog = kDefaultBacklog);

/// Called with each accepted connection: its descriptor (non-blocking, close-on-exec, now owned
/// by the callback) and the peer's address (an unnamed Unix-domain peer's has an empty path).
using AcceptCallback = std::function<void(int connection_fd, SocketAddress address)>;

/// Watches the listening socket `listen_fd` on the current IOLoop and calls `callback` for each
/// connection accepted. Each readiness event accepts at most `kDefaultBacklog` connections, so a
/// flood of clients cannot starve the rest of the loop. Connections aborted before they were
/// accepted are skipped silently. When the process or system is out of descriptors or memory
/// (EMFILE, ENFILE, ENOBUFS, ENOMEM) or accept fails unexpectedly, the error is logged on the
/// application logger and the socket is not watched for 100 ms, so the loop does not spin on a
/// backlog it cannot take; it then resumes by itself. An exception from `callback` is logged by
/// the loop, and accepting goes on at the next event.
///
/// Returns a function that stops accepting (Tornado's returned `remove_handler`): it may be called
/// from `callback`, more than once, and must be called on the loop's thread while that loop
/// exists. It does not close `listen_fd`; close it after. Throws what `IOLoop::add_handler`
/// throws (InvalidStateError if `listen_fd` has a handler already).
std::function<void()> add_accept_handler(int listen_fd, AcceptCallback callback);

}  // namespace netutil

/// Resolves host names to addresses, asynchronously (Tornado's `Resolver`). TCPClient uses
/// `Resolver::default_resolver()` unless given one.
class Resolver {
 public:
  virtual ~Resolver() = default;

  /// Resolves `host` (a name or a literal IP address) to the addresses to connect to on `port`,
  /// restricted to `family` unless AF_UNSPEC. The Future, completed on the current loop, gives
  /// them in getaddrinfo's order without duplicates, or fails with Error if `host` does not
  /// resolve.
  virtual Future<std::vector<SocketAddress>> resolve(std::string host, std::uint16_t port,
                                                     int family = AF_UNSPEC) = 0;

  /// Frees what the resolver holds; it must not be used after. The default does nothing.
  virtual void close() {}

  /// The process-wide resolver: a DefaultResolver unless `set_default` gave another.
  static std::shared_ptr<Resolver> default_resolver();
  /// Replaces the process-wide resolver (nullptr restores a DefaultResolver). Meant for
  /// configuration at start-up on the main thread, before loops on other threads resolve names;
  /// it is thread-safe, but a resolution already started keeps the resolver it began with. The
  /// resolver given is shared by every loop and thread, so it must be usable from any of them.
  static void set_default(std::shared_ptr<Resolver> resolver);
};

/// Runs the blocking getaddrinfo (SOCK_STREAM) on the current loop's default executor. Holds no
/// state, so one instance serves every loop and thread. The Future fails with Error carrying
/// getaddrinfo's message ("Name or service not known"...) for a host that does not resolve.
class DefaultResolver final : public Resolver {
 public:
  /// Throws InvalidStateError if the current loop is closed or its executor shut down.
  Future<std::vector<SocketAddress>> resolve(std::string host, std::uint16_t port,
                                             int family = AF_UNSPEC) override;
};

/// Wraps a resolver with a table of overrides, to redirect names locally (in tests, say) without
/// touching system settings (Tornado's `OverrideResolver`). A lookup tries the most specific key
/// first: (host, port, family), then (host, port), then host alone; the first match replaces the
/// host, and the port when the replacement has one. The family passes through unchanged.
class OverrideResolver final : public Resolver {
 public:
  /// What a mapping entry matches: a host, a host and port, or a host, port and family.
  struct Key {
    /// Matches `host` on any port, in any family.
    Key(std::string host) : host(std::move(host)) {}  // NOLINT(google-explicit-constructor)
    Key(const char* host) : host(host) {}             // NOLINT(google-explicit-constructor)
    /// Matches `host` on `port`, in any family.
    Key(std::string host, std::uint16_t port) : host(std::move(host)), port(port) {}
    /// Matches `host` on `port` in `family` only (AF_UNSPEC matches only requests for AF_UNSPEC).
    Key(std::string host, std::uint16_t port, int family)
        : host(std::move(host)), port(port), family(family) {}
    friend auto operator<=>(const Key&, const Key&) = default;

    std::string host;
    std::optional<std::uint16_t> port;
    std::optional<int> family;
  };
  /// What a match resolves instead: another host, and another port if given.
  struct Target {
    /// Resolve `host` instead, on the port asked.
    Target(std::string host) : host(std::move(host)) {}  // NOLINT(google-explicit-constructor)
    Target(const char* host) : host(host) {}             // NOLINT(google-explicit-constructor)
    /// Resolve `host` on `port` instead.
    Target(std::string host, std::uint16_t port) : host(std::move(host)), port(port) {}

    std::string host;
    std::optional<std::uint16_t> port;
  };
  using Mapping = std::map<Key, Target>;

  /// Delegates to `resolver` (which must not be null: throws ValueError) after applying `mapping`,
  /// e.g. `{{"example.com", "127.0.0.1"}, {{"example.com", 443}, {"localhost", 8443}}}`.
  OverrideResolver(std::shared_ptr<Resolver> resolver, Mapping mapping);

  /// Applies the mapping, then resolves with the wrapped resolver.
  Future<std::vector<SocketAddress>> resolve(std::string host, std::uint16_t port,
                                             int family = AF_UNSPEC) override;
  /// Closes the wrapped resolver, as Tornado does.
  void close() override;

 private:
  std::shared_ptr<Resolver> resolver_;
  Mapping mapping_;
};

}  // namespace squall
