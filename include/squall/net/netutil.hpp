#pragma once
/// \file
/// Socket helpers (Tornado's `netutil`): `SocketAddress`, `bind_sockets`, `bind_unix_socket`,
/// `add_accept_handler`, `Resolver` and `is_valid_ip`.

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

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

 private:
  sockaddr_storage storage_{};
  socklen_t length_ = 0;
};

/// True if `ip` is an IPv4 or IPv6 address in text form (no name lookup).
bool is_valid_ip(std::string_view ip) noexcept;

}  // namespace squall
