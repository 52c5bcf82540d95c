#include "websocket_raw_client.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

namespace squall::bench::ws {

namespace {

using Clock = std::chrono::steady_clock;

std::string base64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  return out;
}

std::string accept_for(std::string_view key) {
  std::string text(key);
  text.append("258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return base64(digest, sizeof digest);
}

std::uint64_t random_seed() {
  std::uint64_t seed = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof seed) != 1 || seed == 0) {
    seed = 0x9e3779b97f4a7c15ULL;
  }
  return seed;
}

// The message `seq` of connection `conn`: printable ASCII (valid UTF-8), different for every
// message, so an echo out of order or of another connection is seen.
void payload_for(std::uint32_t conn, std::uint64_t seq, char* out) {
  int n = std::snprintf(out, kPayloadSize + 1, "%08x:%016llx:", conn,
                        static_cast<unsigned long long>(seq));
  for (std::size_t i = static_cast<std::size_t>(n); i < kPayloadSize; ++i) {
    out[i] = static_cast<char>('a' + (seq + i) % 26);
  }
}

}  // namespace

void fail(const std::string& what) {
  // The server child dies with us (PR_SET_PDEATHSIG).
  std::cout << std::flush;
  std::cerr << "websocket_bench: " << what << "\n";
  std::exit(1);
}

Client::Client(std::uint16_t port) : port_(port), rng_(random_seed()) {
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0) fail("epoll_create1: " + std::string(std::strerror(errno)));
}

Client::~Client() {
  abort_all();
  close(epoll_);
}

void Client::open(std::size_t count, std::size_t in_flight, double timeout_s) {
  std::size_t first = conns_.size(), next = first, end = first + count;
  conns_.resize(end);
  auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (opened_ < end) {
    while (next < end && next - opened_ < in_flight) start_connect(next++);
    poll_once(100);
    if (Clock::now() > deadline) {
      fail("only " + std::to_string(opened_ - first) + " of " + std::to_string(count) +
           " connections opened within " + std::to_string(timeout_s) + " s");
    }
  }
}

void Client::send_messages(std::size_t i, std::size_t count) {
  std::string out;
  for (std::size_t k = 0; k < count; ++k) append_message(i, out);
  send_on(i, out);
}

void Client::poll_once(int timeout_ms) {
  epoll_event events[512];
  int n = epoll_wait(epoll_, events, 512, timeout_ms);
  if (n < 0 && errno != EINTR) fail("epoll_wait: " + std::string(std::strerror(errno)));
  for (int k = 0; k < n; ++k) {
    std::size_t i = events[k].data.u32;
    Conn& conn = conns_[i];
    if (conn.state == Conn::kConnecting) {
      on_connected(i, events[k].events);
      continue;
    }
    if ((events[k].events & EPOLLOUT) && conn.want_write) flush_pending(i);
    if (events[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(i);
  }
}

std::uint64_t Client::outstanding(std::size_t first, std::size_t last) const {
  std::uint64_t total = 0;
  for (std::size_t i = first; i < last; ++i) total += conns_[i].sent - conns_[i].received;
  return total;
}

void Client::drain(std::size_t first, std::size_t last, double timeout_s) {
  auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (outstanding(first, last) > 0) {
    if (Clock::now() > deadline) {
      fail(std::to_string(outstanding(first, last)) + " messages not echoed within " +
           std::to_string(timeout_s) + " s");
    }
    poll_once(50);
  }
}

void Client::close_politely(std::size_t first, std::size_t last, double timeout_s) {
  for (std::size_t i = first; i < last; ++i) {
    std::string frame;
    append_frame(frame, 0x8, "\x03\xe8");  // 1000, normal closure
    conns_[i].state = Conn::kClosing;
    send_on(i, frame);
  }
  auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  auto all_closed = [&] {
    for (std::size_t i = first; i < last; ++i) {
      if (conns_[i].state != Conn::kClosed) return false;
    }
    return true;
  };
  while (!all_closed()) {
    if (Clock::now() > deadline) fail("the server did not close connections after close frames");
    poll_once(50);
  }
}

void Client::abort_all() {
  for (Conn& conn : conns_) {
    if (conn.fd < 0) continue;
    linger hard{1, 0};
    setsockopt(conn.fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    close(conn.fd);
    conn.fd = -1;
    conn.state = Conn::kClosed;
  }
}

void Client::start_connect(std::size_t i) {
  Conn& conn = conns_[i];
  conn.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (conn.fd < 0) fail("socket: " + std::string(std::strerror(errno)));
  int one = 1;
  setsockopt(conn.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port_);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(conn.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 &&
      errno != EINPROGRESS) {
    fail("connect: " + std::string(std::strerror(errno)));
  }
  conn.state = Conn::kConnecting;
  epoll_event event{};
  event.events = EPOLLOUT;
  event.data.u32 = static_cast<std::uint32_t>(i);
  epoll_ctl(epoll_, EPOLL_CTL_ADD, conn.fd, &event);
}

void Client::on_connected(std::size_t i, std::uint32_t events) {
  Conn& conn = conns_[i];
  int error = 0;
  socklen_t size = sizeof error;
  getsockopt(conn.fd, SOL_SOCKET, SO_ERROR, &error, &size);
  if (error != 0 || (events & EPOLLERR)) fail("connect: " + std::string(std::strerror(error)));
  unsigned char nonce[16];
  for (std::size_t k = 0; k < sizeof nonce; ++k)
    nonce[k] = static_cast<unsigned char>(next_random());
  std::string key = base64(nonce, sizeof nonce);
  conn.expected_accept = accept_for(key);
  std::string request = "GET /echo HTTP/1.1\r\nHost: 127.0.0.1:";
  request.append(std::to_string(port_));
  request.append(
      "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: ");
  request.append(key);
  request.append("\r\n\r\n");
  conn.state = Conn::kHandshaking;
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u32 = static_cast<std::uint32_t>(i);
  epoll_ctl(epoll_, EPOLL_CTL_MOD, conn.fd, &event);
  send_on(i, request);
}

// Checks the 101 response head; returns the bytes after it (frames already sent, if any).
std::string_view Client::check_handshake(std::size_t i, std::string_view head) {
  Conn& conn = conns_[i];
  std::size_t end = head.find("\r\n\r\n");
  if (!head.starts_with("HTTP/1.1 101 ")) {
    fail("handshake refused: " + std::string(head.substr(0, head.find('\r'))));
  }
  std::string lower(head.substr(0, end));
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::size_t at = lower.find("\r\nsec-websocket-accept:");
  if (at == std::string::npos) fail("101 without Sec-WebSocket-Accept");
  std::size_t value = head.find_first_not_of(' ', at + 23);
  std::string_view accept = head.substr(value, head.find("\r\n", value) - value);
  while (!accept.empty() && accept.back() == ' ') accept.remove_suffix(1);
  if (accept != conn.expected_accept) fail("wrong Sec-WebSocket-Accept: " + std::string(accept));
  if (lower.find("\r\nsec-websocket-extensions:") != std::string::npos) {
    fail("the server answered with an extension none was offered");
  }
  std::string().swap(conn.expected_accept);
  conn.state = Conn::kOpen;
  ++opened_;
  return head.substr(end + 4);
}

void Client::on_readable(std::size_t i) {
  Conn& conn = conns_[i];
  ssize_t n = recv(conn.fd, scratch_, sizeof scratch_, 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    if (conn.state == Conn::kClosing) return close_conn(i);
    fail("connection " + std::to_string(i) + ": recv: " + std::strerror(errno));
  }
  if (n == 0) {
    if (conn.state == Conn::kClosing) return close_conn(i);
    fail("the server closed connection " + std::to_string(i) + " unasked");
  }
  std::string_view data(scratch_, static_cast<std::size_t>(n));
  if (!conn.partial.empty()) {
    conn.partial.append(data);
    data = conn.partial;
  }
  if (conn.state == Conn::kHandshaking) {
    if (data.find("\r\n\r\n") == std::string_view::npos) {
      if (data.size() > 8192) fail("a handshake response head over 8 KiB");
      if (conn.partial.empty()) conn.partial.assign(data);
      return;
    }
    data = check_handshake(i, data);
  }
  std::string out;
  std::size_t used = parse_frames(i, data, out);
  if (conn.state == Conn::kClosed) {
    std::string().swap(conn.partial);
    return close_conn(i);
  }
  // Keep what is not a whole frame yet (`data` may point into `partial` itself).
  std::string rest(data.substr(used));
  conn.partial.swap(rest);
  if (!out.empty()) send_on(i, out);
}

// Handles the whole frames at the start of `data`; returns the bytes they take.
std::size_t Client::parse_frames(std::size_t i, std::string_view data, std::string& out) {
  Conn& conn = conns_[i];
  std::size_t at = 0;
  while (data.size() - at >= 2) {
    auto byte0 = static_cast<unsigned char>(data[at]);
    auto byte1 = static_cast<unsigned char>(data[at + 1]);
    if (byte1 & 0x80) fail("a masked frame from the server");
    std::uint64_t length = byte1 & 0x7f;
    std::size_t header = 2;
    if (length == 126 || length == 127) {
      header += length == 126 ? 2 : 8;
      if (data.size() - at < header) break;
      length = 0;
      for (std::size_t k = 2; k < header; ++k) {
        length = (length << 8) | static_cast<unsigned char>(data[at + k]);
      }
    }
    if (data.size() - at < header + length) break;
    std::string_view payload = data.substr(at + header, length);
    at += header + length;
    int opcode = byte0 & 0x0f;
    if (opcode == 0x1 && (byte0 & 0x80)) {
      char expected[kPayloadSize + 1];
      payload_for(static_cast<std::uint32_t>(i), conn.received, expected);
      if (conn.received >= conn.sent || payload != std::string_view(expected, kPayloadSize)) {
        fail("connection " + std::to_string(i) + ": wrong echo of message " +
             std::to_string(conn.received));
      }
      ++conn.received;
      ++echoes_;
      if (resend_ && conn.state == Conn::kOpen) append_message(i, out);
    } else if (opcode == 0x8) {
      if (conn.state != Conn::kClosing) {
        fail("connection " + std::to_string(i) + ": the server sent a close frame");
      }
      // The closing handshake is complete: nothing more will come.
      conn.state = Conn::kClosed;
      return at;
    } else if (opcode == 0x9) {
      append_frame(out, 0xA, payload);
    } else if (opcode != 0xA) {
      fail("connection " + std::to_string(i) + ": unexpected frame, first byte " +
           std::to_string(byte0));
    }
  }
  return at;
}

void Client::append_message(std::size_t i, std::string& out) {
  char payload[kPayloadSize + 1];
  payload_for(static_cast<std::uint32_t>(i), conns_[i].sent++, payload);
  append_frame(out, 0x1, std::string_view(payload, kPayloadSize));
}

// A final, masked frame (payloads below 126 bytes only: all this client sends).
void Client::append_frame(std::string& out, int opcode, std::string_view payload) {
  std::uint32_t mask = static_cast<std::uint32_t>(next_random());
  unsigned char key[4];
  std::memcpy(key, &mask, 4);
  out.push_back(static_cast<char>(0x80 | opcode));
  out.push_back(static_cast<char>(0x80 | payload.size()));
  out.append(reinterpret_cast<const char*>(key), 4);
  std::size_t start = out.size();
  out.append(payload);
  for (std::size_t k = 0; k < payload.size(); ++k) out[start + k] ^= static_cast<char>(key[k % 4]);
}

void Client::send_on(std::size_t i, std::string_view data) {
  Conn& conn = conns_[i];
  if (!conn.pending.empty()) {
    conn.pending.append(data);
    return;
  }
  ssize_t n = send(conn.fd, data.data(), data.size(), MSG_NOSIGNAL);
  if (n < 0) {
    if (errno != EAGAIN)
      fail("connection " + std::to_string(i) + ": send: " + std::strerror(errno));
    n = 0;
  }
  if (static_cast<std::size_t>(n) < data.size()) {
    conn.pending.assign(data.substr(static_cast<std::size_t>(n)));
    watch_write(i, true);
  }
}

void Client::flush_pending(std::size_t i) {
  Conn& conn = conns_[i];
  ssize_t n = send(conn.fd, conn.pending.data(), conn.pending.size(), MSG_NOSIGNAL);
  if (n < 0) {
    if (errno == EAGAIN) return;
    fail("connection " + std::to_string(i) + ": send: " + std::strerror(errno));
  }
  conn.pending.erase(0, static_cast<std::size_t>(n));
  if (conn.pending.empty()) {
    std::string().swap(conn.pending);
    watch_write(i, false);
  }
}

void Client::watch_write(std::size_t i, bool on) {
  conns_[i].want_write = on;
  epoll_event event{};
  event.events = EPOLLIN | (on ? EPOLLOUT : 0u);
  event.data.u32 = static_cast<std::uint32_t>(i);
  epoll_ctl(epoll_, EPOLL_CTL_MOD, conns_[i].fd, &event);
}

void Client::close_conn(std::size_t i) {
  Conn& conn = conns_[i];
  close(conn.fd);  // closes its epoll registration too
  conn.fd = -1;
  conn.state = Conn::kClosed;
}

std::uint64_t Client::next_random() {
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  return rng_;
}
}  // namespace squall::bench::ws
