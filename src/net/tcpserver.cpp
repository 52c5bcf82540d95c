#include "squall/net/tcpserver.hpp"

#include <unistd.h>

#include <exception>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

#include "squall/net/process.hpp"
#include "squall/util/error.hpp"
#include "squall/util/log.hpp"

namespace squall {
namespace {

void log_connection_error(const std::string& peer, const std::exception_ptr& error) {
  log::app_log().error("Error in connection callback from {}: {}", peer, log::describe(error));
}

}  // namespace

TCPServer::TCPServer(std::optional<SSLOptions> ssl_options, IOStreamOptions stream_options)
    : stream_options_(stream_options),
      ssl_context_(ssl_options ? ssl_options_to_context(*ssl_options, true) : nullptr) {}

TCPServer::~TCPServer() {
  stop();
}

void TCPServer::listen(std::uint16_t port, std::string_view address, int family, int backlog,
                       bool reuse_port) {
  add_sockets(netutil::bind_sockets(port, address, family, backlog, reuse_port));
}

void TCPServer::add_sockets(std::vector<int> sockets) {
  listeners_.reserve(listeners_.size() + sockets.size());
  for (std::size_t i = 0; i < sockets.size(); ++i) {
    int fd = sockets[i];
    try {
      // The handler lives no longer than the server: stop(), run by the destructor, removes it.
      auto remover =
          netutil::add_accept_handler(fd, [this](int connection_fd, SocketAddress address) {
            handle_connection(connection_fd, address);
          });
      listeners_.push_back(Listener{fd, std::move(remover)});
    } catch (...) {
      for (std::size_t j = i; j < sockets.size(); ++j) ::close(sockets[j]);
      throw;
    }
  }
}

void TCPServer::add_socket(int socket) {
  add_sockets({socket});
}

void TCPServer::bind(std::uint16_t port, std::string_view address, int family, int backlog,
                     bool reuse_port) {
  std::vector<int> sockets = netutil::bind_sockets(port, address, family, backlog, reuse_port);
  if (started_) {
    add_sockets(std::move(sockets));
  } else {
    pending_sockets_.insert(pending_sockets_.end(), sockets.begin(), sockets.end());
  }
}

void TCPServer::start(int num_processes, int max_restarts) {
  if (started_) throw InvalidStateError("TCPServer::start() called twice");
  started_ = true;
  if (num_processes != 1) process::fork_processes(num_processes, max_restarts);
  add_sockets(std::exchange(pending_sockets_, {}));
}

void TCPServer::stop() {
  for (Listener& listener : std::exchange(listeners_, {})) {
    listener.remove_handler();
    ::close(listener.fd);
  }
  for (int fd : std::exchange(pending_sockets_, {})) ::close(fd);
}

std::vector<SocketAddress> TCPServer::addresses() const {
  std::vector<SocketAddress> out;
  out.reserve(listeners_.size() + pending_sockets_.size());
  for (const Listener& listener : listeners_)
    out.push_back(netutil::socket_address_of(listener.fd));
  for (int fd : pending_sockets_) out.push_back(netutil::socket_address_of(fd));
  return out;
}

void TCPServer::handle_connection(int connection_fd, SocketAddress address) {
  std::unique_ptr<IOStream> stream;
  try {
    if (ssl_context_) {
      stream = std::make_unique<SSLIOStream>(connection_fd, ssl_context_, std::string(),
                                             stream_options_);
    } else {
      stream = std::make_unique<IOStream>(connection_fd, stream_options_);
    }
  } catch (const SSLError&) {
    // OpenSSL could not take the connection; the stream closed the descriptor.
    log_connection_error(address.to_string(), std::current_exception());
    return;
  } catch (...) {
    ::close(connection_fd);  // the stream never took it
    log_connection_error(address.to_string(), std::current_exception());
    return;
  }
  try {
    Future<void> handled = handle_stream(std::move(stream), address);
    handled.add_done_callback([peer = address.to_string()](const Future<void>& done) {
      if (done.cancelled()) return;
      if (std::exception_ptr error = done.exception()) log_connection_error(peer, error);
    });
  } catch (...) {
    log_connection_error(address.to_string(), std::current_exception());
  }
}

}  // namespace squall
