#pragma once
/// \file
/// `TCPServer`: a non-blocking, single-threaded TCP server (Tornado's `tcpserver`).
///
/// Subclass it and override `handle_stream`, which gets each accepted connection as an IOStream:
///
///     class EchoServer : public squall::TCPServer {
///       squall::Future<void> handle_stream(std::unique_ptr<squall::IOStream> stream,
///                                          squall::SocketAddress) override {
///         for (;;) co_await stream->write(co_await stream->read_until("\n"));
///       }
///     };
///     EchoServer server;
///     server.listen(8888);
///     squall::IOLoop::current().start();
///
/// A server starts listening in one of three ways, as in Tornado: `listen` (bind and accept at
/// once); `add_sockets` with sockets made by `bind_sockets` or `bind_unix_socket` (before
/// `process::fork_processes`, say); or `bind` then `start`, which may fork worker processes.

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "squall/core/concurrent.hpp"
#include "squall/net/iostream.hpp"
#include "squall/net/netutil.hpp"

namespace squall {

/// Accepts connections on listening sockets and hands each to `handle_stream` as an IOStream.
///
/// The server watches its sockets on the loop that was current when they were added, and must be
/// used on that loop's thread and destroyed before that loop. Accepting is fair: each readiness
/// event of a socket accepts a bounded batch, and running out of descriptors (EMFILE) pauses that
/// socket briefly instead of spinning (see `add_accept_handler`). The server owns every listening
/// socket given to it and closes it in `stop()` or when destroyed.
class TCPServer {
 public:
  /// A server whose accepted streams get `stream_options` (max_buffer_size, read_chunk_size...).
  /// With `ssl_options`, they are server-side SSLIOStreams made from one SSLContext built here,
  /// so options that cannot work throw now rather than at the first connection (ValueError for a
  /// missing certfile, SSLError for a file that cannot be loaded), as Tornado checks them early.
  explicit TCPServer(std::optional<SSLOptions> ssl_options = std::nullopt,
                     IOStreamOptions stream_options = {});
  /// Stops listening (see `stop`).
  virtual ~TCPServer();
  TCPServer(const TCPServer&) = delete;
  TCPServer& operator=(const TCPServer&) = delete;

  /// Binds sockets as `bind_sockets` does and starts accepting on them at once; may be called
  /// again to listen on more ports. Throws what `bind_sockets` throws. The loop must run for
  /// connections to be accepted.
  void listen(std::uint16_t port, std::string_view address = "", int family = AF_UNSPEC,
              int backlog = netutil::kDefaultBacklog, bool reuse_port = false);

  /// Starts accepting on listening sockets `sockets` (from `bind_sockets`, `bind_unix_socket`,
  /// or made otherwise), on the current loop. The server owns them from now on, even if this
  /// throws (then those not yet watched are closed). Throws what `add_accept_handler` throws.
  void add_sockets(std::vector<int> sockets);
  /// `add_sockets` with one socket.
  void add_socket(int socket);

  /// Binds sockets as `bind_sockets` does, to be accepted on by `start`; at once if the server
  /// is started already. May be called more than once to listen on more addresses or ports.
  /// Throws what `bind_sockets` throws.
  void bind(std::uint16_t port, std::string_view address = "", int family = AF_UNSPEC,
            int backlog = netutil::kDefaultBacklog, bool reuse_port = false);

  /// Starts accepting on the sockets given to `bind`. With `num_processes` other than 1, first
  /// forks that many worker processes (one per CPU when 0 or less) with
  /// `process::fork_processes(num_processes, max_restarts)`, which returns only in the workers:
  /// each worker then accepts on the shared sockets. Forking requires that no IOLoop exists yet in
  /// the calling thread. Throws InvalidStateError if called twice, and what `fork_processes` and
  /// `add_sockets` throw.
  void start(int num_processes = 1, int max_restarts = 100);

  /// Stops accepting and closes the listening sockets (those `bind` left waiting for `start`
  /// too). Connections accepted already go on: their streams belong to `handle_stream`. Calling
  /// it again does nothing unless sockets were added since.
  void stop();

  /// The local addresses of the listening sockets (those waiting for `start` included), in the
  /// order they were added: how to learn the port `listen(0)` chose.
  std::vector<SocketAddress> addresses() const;

 protected:
  /// Called with each accepted connection, on the loop: `stream` (the server's stream options
  /// applied; an SSLIOStream with TLS, whose handshake may still be in progress: reads and writes
  /// wait for it, and `SSLIOStream::wait_for_handshake` awaits it) and the peer's `address`.
  /// Accepting goes on while the returned Future is pending; its exception, or one thrown at
  /// once, is logged on the application logger ("Error in connection callback") and the server
  /// keeps serving. Coroutines returned here may outlive `stop()`; an override whose coroutine
  /// uses the server's members requires the server to outlive it.
  virtual Future<void> handle_stream(std::unique_ptr<IOStream> stream, SocketAddress address) = 0;

 private:
  void handle_connection(int connection_fd, SocketAddress address);

  struct Listener {
    int fd;
    std::function<void()> remove_handler;  // add_accept_handler's remover
  };

  IOStreamOptions stream_options_;
  std::shared_ptr<SSLContext> ssl_context_;  // null without TLS
  std::vector<Listener> listeners_;          // in the order added
  std::vector<int> pending_sockets_;         // bound, waiting for start()
  bool started_ = false;
};

}  // namespace squall
