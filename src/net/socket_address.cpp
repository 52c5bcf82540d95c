#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>

#include "squall/net/netutil.hpp"
#include "squall/util/error.hpp"

namespace squall {

SocketAddress::SocketAddress(const sockaddr* address, socklen_t length) {
  if (length > sizeof storage_)
    throw ValueError("SocketAddress: address longer than sockaddr_storage");
  std::memcpy(&storage_, address, length);
  length_ = length;
}

SocketAddress SocketAddress::from_ip(std::string_view ip, std::uint16_t port) {
  std::string text(ip);
  if (text.find('\0') != std::string::npos)
    throw ValueError("not an IP address: contains a NUL byte");
  if (text.size() > 2 && text.front() == '[' && text.back() == ']')
    text = text.substr(1, text.size() - 2);
  SocketAddress address;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage_);
  if (::inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    address.length_ = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    address.length_ = sizeof(sockaddr_in6);
  } else {
    throw ValueError("not an IP address: '" + text + "'");
  }
  return address;
}

SocketAddress SocketAddress::from_unix_path(std::string_view path) {
  SocketAddress address;
  auto* un = reinterpret_cast<sockaddr_un*>(&address.storage_);
  if (path.size() >= sizeof un->sun_path) {
    throw ValueError("Unix socket path too long (" + std::to_string(path.size()) + " bytes)");
  }
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());
  un->sun_path[path.size()] = '\0';
  address.length_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return address;
}

std::uint16_t SocketAddress::port() const noexcept {
  switch (family()) {
    case AF_INET:
      return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
    case AF_INET6:
      return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
    default:
      return 0;
  }
}

std::string SocketAddress::ip() const {
  char text[INET6_ADDRSTRLEN] = {};
  switch (family()) {
    case AF_INET:
      ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, text,
                  sizeof text);
      return text;
    case AF_INET6:
      ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, text,
                  sizeof text);
      return text;
    case AF_UNIX: {
      const auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
      std::size_t max =
          length_ > offsetof(sockaddr_un, sun_path) ? length_ - offsetof(sockaddr_un, sun_path) : 0;
      return std::string(un->sun_path, strnlen(un->sun_path, max));
    }
    default:
      return "";
  }
}

std::string SocketAddress::to_string() const {
  std::string out;
  if (family() == AF_INET6) out += '[';
  out += ip();
  if (family() == AF_INET6) out += ']';
  if (family() == AF_INET || family() == AF_INET6) {
    out += ':';
    out += std::to_string(port());
  }
  return out;
}

namespace netutil {

bool is_valid_ip(std::string_view ip) noexcept {
  // inet_pton reads a C string: a NUL byte inside would cut the text short.
  if (ip.empty() || ip.size() >= INET6_ADDRSTRLEN + 8 || ip.find('\0') != ip.npos) return false;
  char text[INET6_ADDRSTRLEN + 8];
  std::memcpy(text, ip.data(), ip.size());
  text[ip.size()] = '\0';
  in6_addr buffer;
  return ::inet_pton(AF_INET, text, &buffer) == 1 || ::inet_pton(AF_INET6, text, &buffer) == 1;
}

}  // namespace netutil

}  // namespace squall
