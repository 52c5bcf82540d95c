// TLS for the net layer: SSLContext (Tornado's ssl_options_to_context), SSLIOStream (Tornado's
// SSLIOStream) and IOStream::start_tls, over OpenSSL 3.
//
// OpenSSL reads and writes the descriptor itself, through a small BIO of ours that uses
// send(MSG_NOSIGNAL) on sockets (OpenSSL's socket BIO would raise SIGPIPE on a closed peer).
// The IOStream machinery stays in charge of buffering and Futures: read_from_fd and write_to_fd
// are SSL_read and SSL_write, events_to_watch says what the handshake (or an SSL_read or
// SSL_write that must wait for the other direction) waits for, and handle_events drives the
// handshake before letting IOStream act on the events.

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "squall/net/iostream.hpp"
#include "squall/util/log.hpp"

namespace squall {
namespace {

// ---- OpenSSL's errors ----------------------------------------------------------------------

struct OpenSSLErrors {
  std::string text;            // every queued error's reason, oldest first, joined by "; "
  bool verify_failed = false;  // one of them is "certificate verify failed"
};

/// Takes this thread's queued OpenSSL errors (the queue is empty after).
OpenSSLErrors take_openssl_errors() {
  OpenSSLErrors errors;
  const char* data = nullptr;
  int flags = 0;
  while (unsigned long code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
    std::string item;
    if (ERR_SYSTEM_ERROR(code)) {
      item = std::strerror(ERR_GET_REASON(code));
    } else if (const char* reason = ERR_reason_error_string(code)) {
      item = reason;
    } else {
      char buffer[256];
      ERR_error_string_n(code, buffer, sizeof buffer);
      item = buffer;
    }
    if ((flags & ERR_TXT_STRING) && data && *data) item += std::string(" (") + data + ")";
    if (ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED)
      errors.verify_failed = true;
    if (errors.text.find(item) == std::string::npos) {
      if (!errors.text.empty()) errors.text += "; ";
      errors.text += item;
    }
  }
  return errors;
}

std::string openssl_reason() {
  std::string text = take_openssl_errors().text;
  return text.empty() ? "unknown OpenSSL error" : text;
}

// ---- the descriptor BIO --------------------------------------------------------------------

int bio_fd(BIO* bio) {
  return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio)));
}

template <bool kSocket>
int bio_write(BIO* bio, const char* data, int size) {
  BIO_clear_retry_flags(bio);
  ssize_t n;
  do {
    n = kSocket ? ::send(bio_fd(bio), data, static_cast<std::size_t>(size), MSG_NOSIGNAL)
                : ::write(bio_fd(bio), data, static_cast<std::size_t>(size));
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_write(bio);
  return static_cast<int>(n);
}

template <bool kSocket>
int bio_read(BIO* bio, char* data, int size) {
  BIO_clear_retry_flags(bio);
  ssize_t n;
  do {
    n = kSocket ? ::recv(bio_fd(bio), data, static_cast<std::size_t>(size), 0)
                : ::read(bio_fd(bio), data, static_cast<std::size_t>(size));
  } while (n < 0 && errno == EINTR);
  if (n == 0) BIO_set_flags(bio, BIO_FLAGS_IN_EOF);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_read(bio);
  return static_cast<int>(n);
}

long bio_ctrl(BIO* bio, int command, long, void*) {
  switch (command) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_EOF:  // OpenSSL tells an end of stream from an error by this
      return BIO_test_flags(bio, BIO_FLAGS_IN_EOF) != 0;
    default:
      return 0;
  }
}

template <bool kSocket>
BIO_METHOD* make_bio_method() {
  BIO_METHOD* method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                    kSocket ? "squall socket" : "squall fd");
  if (!method) throw SSLError("SSLIOStream: BIO_meth_new failed: " + openssl_reason());
  BIO_meth_set_write(method, bio_write<kSocket>);
  BIO_meth_set_read(method, bio_read<kSocket>);
  BIO_meth_set_ctrl(method, bio_ctrl);
  return method;
}

/// A BIO over `fd` that never closes it.
BIO* make_fd_bio(int fd) {
  // Made once per process and kept: every BIO made from them refers to them.
  static BIO_METHOD* const socket_method = make_bio_method<true>();
  static BIO_METHOD* const fd_method = make_bio_method<false>();
  struct stat info {};
  bool is_socket = ::fstat(fd, &info) == 0 && S_ISSOCK(info.st_mode);
  BIO* bio = BIO_new(is_socket ? socket_method : fd_method);
  if (!bio) throw SSLError("SSLIOStream: BIO_new failed: " + openssl_reason());
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
  BIO_set_init(bio, 1);
  return bio;
}

// ---- helpers -------------------------------------------------------------------------------

/// A server's ALPN choice: the first of its own protocols that the client offers.
int select_alpn(SSL*, const unsigned char** out, unsigned char* out_length,
                const unsigned char* offered, unsigned int offered_length, void* arg) {
  const auto* wire = static_cast<const std::string*>(arg);
  unsigned char* selected = nullptr;
  unsigned char selected_length = 0;
  int result = SSL_select_next_proto(
      &selected, &selected_length, reinterpret_cast<const unsigned char*>(wire->data()),
      static_cast<unsigned int>(wire->size()), offered, offered_length);
  if (result != OPENSSL_NPN_NEGOTIATED) return SSL_TLSEXT_ERR_NOACK;
  *out = selected;
  *out_length = selected_length;
  return SSL_TLSEXT_ERR_OK;
}

/// The checks an SSLIOStream makes before it takes its descriptor; gives `fd` back.
int checked_fd(int fd, const std::shared_ptr<SSLContext>& context, const std::string& hostname) {
  if (!context) throw ValueError("SSLIOStream: null SSLContext");
  if (!context->server_side() && context->check_hostname() && hostname.empty()) {
    throw ValueError("SSLIOStream: check_hostname requires a server_hostname");
  }
  return fd;
}

std::string peer_name(int fd) {
  SocketAddress peer;
  socklen_t length = SocketAddress::capacity();
  if (::getpeername(fd, peer.get(), &length) != 0) return "(not connected)";
  peer.set_length(length);
  std::string name = peer.to_string();
  return name.empty() ? "(unnamed peer)" : name;
}

Future<std::unique_ptr<SSLIOStream>> await_handshake(std::unique_ptr<SSLIOStream> stream) {
  // The coroutine owns the stream until its handshake is done, then hands it to the caller; if
  // the handshake fails, the stream is destroyed with the frame.
  co_await stream->wait_for_handshake();
  co_return std::move(stream);
}

}  // namespace

// ---- SSLContext ----------------------------------------------------------------------------

void SSLContext::Free::operator()(ssl_ctx_st* context) const noexcept {
  SSL_CTX_free(context);
}

SSLContext::SSLContext(const SSLOptions& options, bool server_side) : server_side_(server_side) {
  using VerifyMode = SSLOptions::VerifyMode;
  if (server_side && options.certfile.empty()) {
    throw ValueError("SSLContext: a server needs a certfile");
  }
  for (const std::string& protocol : options.alpn_protocols) {
    if (protocol.empty() || protocol.size() > 255) {
      throw ValueError("SSLContext: an ALPN protocol name takes 1 to 255 bytes, not " +
                       std::to_string(protocol.size()));
    }
    alpn_wire_ += static_cast<char>(protocol.size());
    alpn_wire_ += protocol;
  }

  ERR_clear_error();
  context_.reset(SSL_CTX_new(server_side ? TLS_server_method() : TLS_client_method()));
  if (!context_) throw SSLError("SSLContext: SSL_CTX_new failed: " + openssl_reason());
  SSL_CTX* ctx = context_.get();
  SSL_CTX_set_min_proto_version(ctx, options.minimum_version == SSLOptions::TLSVersion::kTLS1_3
                                         ? TLS1_3_VERSION
                                         : TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               (server_side ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
  // Partial writes and a moving buffer: IOStream hands SSL_write the head of its queue, which
  // may be reallocated (small writes are appended to it) before a write that must be retried.
  // Released buffers: an idle connection holds no record buffers.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);

  if (!options.certfile.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, options.certfile.c_str()) != 1) {
      throw SSLError("SSLContext: cannot load the certificate chain from '" + options.certfile +
                     "': " + openssl_reason());
    }
    const std::string& keyfile = options.keyfile.empty() ? options.certfile : options.keyfile;
    if (SSL_CTX_use_PrivateKey_file(ctx, keyfile.c_str(), SSL_FILETYPE_PEM) != 1) {
      throw SSLError("SSLContext: cannot load the private key from '" + keyfile +
                     "': " + openssl_reason());
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      throw SSLError("SSLContext: the private key in '" + keyfile +
                     "' does not match the certificate in '" + options.certfile +
                     "': " + openssl_reason());
    }
  }

  VerifyMode verify =
      options.verify_mode.value_or(server_side ? VerifyMode::kNone : VerifyMode::kRequired);
  if (!options.ca_certs.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, options.ca_certs.c_str(), nullptr) != 1) {
      throw SSLError("SSLContext: cannot load the CA certificates from '" + options.ca_certs +
                     "': " + openssl_reason());
    }
    if (server_side) {
      // The CAs a server names when it asks for a client certificate.
      if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.ca_certs.c_str())) {
        SSL_CTX_set_client_CA_list(ctx, names);
      }
    }
  } else if (!server_side && verify != VerifyMode::kNone) {
    // Without them every server fails verification, which then says why.
    SSL_CTX_set_default_verify_paths(ctx);
  }
  int mode = SSL_VERIFY_NONE;
  if (verify == VerifyMode::kOptional) mode = SSL_VERIFY_PEER;
  if (verify == VerifyMode::kRequired) mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  SSL_CTX_set_verify(ctx, mode, nullptr);
  check_hostname_ = !server_side && verify != VerifyMode::kNone && options.check_hostname;

  if (!options.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, options.ciphers.c_str()) != 1) {
    throw SSLError("SSLContext: no cipher matches '" + options.ciphers + "': " + openssl_reason());
  }
  if (!alpn_wire_.empty()) {
    if (server_side) {
      SSL_CTX_set_alpn_select_cb(ctx, select_alpn, &alpn_wire_);
    } else if (SSL_CTX_set_alpn_protos(ctx,
                                       reinterpret_cast<const unsigned char*>(alpn_wire_.data()),
                                       static_cast<unsigned int>(alpn_wire_.size())) != 0) {
      throw SSLError("SSLContext: cannot set the ALPN protocols: " + openssl_reason());
    }
  }
  if (server_side) {
    // Needed for session resumption once client certificates are verified.
    static constexpr unsigned char kSessionContext[] = "squall";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  }
  ERR_clear_error();  // what the optional steps left
}

SSLContext::~SSLContext() = default;

std::shared_ptr<SSLContext> ssl_options_to_context(const SSLOptions& options, bool server_side) {
  return std::make_shared<SSLContext>(options, server_side);
}

// ---- SSLIOStream ---------------------------------------------------------------------------

void SSLIOStream::Free::operator()(ssl_st* ssl) const noexcept {
  SSL_free(ssl);
}

SSLIOStream::SSLIOStream(int fd, std::shared_ptr<SSLContext> context, std::string server_hostname,
                         IOStreamOptions options)
    : IOStream(checked_fd(fd, context, server_hostname), options),
      context_(std::move(context)),
      server_hostname_(context_->server_side() ? std::string() : std::move(server_hostname)) {
  ERR_clear_error();
  ssl_.reset(SSL_new(context_->native_handle()));
  if (!ssl_) throw SSLError("SSLIOStream: SSL_new failed: " + openssl_reason());
  SSL* ssl = ssl_.get();
  BIO* bio = make_fd_bio(fd);
  SSL_set_bio(ssl, bio, bio);  // one reference, for both directions
  if (context_->server_side()) {
    SSL_set_accept_state(ssl);
  } else {
    SSL_set_connect_state(ssl);
    if (!server_hostname_.empty()) {
      bool is_ip = netutil::is_valid_ip(server_hostname_);
      // RFC 6066: SNI carries host names only.
      if (!is_ip && SSL_set_tlsext_host_name(ssl, server_hostname_.c_str()) != 1) {
        throw SSLError("SSLIOStream: cannot send the server name '" + server_hostname_ +
                       "': " + openssl_reason());
      }
      if (context_->check_hostname()) {
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, server_hostname_.c_str())
                       : X509_VERIFY_PARAM_set1_host(param, server_hostname_.c_str(), 0);
        if (ok != 1) {
          throw SSLError("SSLIOStream: cannot verify the name '" + server_hostname_ +
                         "': " + openssl_reason());
        }
      }
    }
  }
  // An unconnected socket waits for connect(); anything else handshakes now.
  struct stat info {};
  sockaddr_storage peer{};
  socklen_t length = sizeof peer;
  bool is_socket = ::fstat(fd, &info) == 0 && S_ISSOCK(info.st_mode);
  if (!is_socket || ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) == 0) {
    start_handshake();
  }
}

SSLIOStream::~SSLIOStream() {
  close();  // here, while close_fd is still this class's
  // A failed connect reaches its caller through the handshake's Future.
  if (connecting_ && connecting_->done()) static_cast<void>(connecting_->exception());
}

Future<void> SSLIOStream::wait_for_handshake() {
  if (handshake_ == Handshake::kDone) return make_ready_future();
  if (closed()) {
    return make_exceptional_future<void>(std::make_exception_ptr(StreamClosedError(error())));
  }
  if (!handshake_future_) handshake_future_.emplace();
  return *handshake_future_;
}

Future<void> SSLIOStream::connect(const SocketAddress& address) {
  if (closed()) {
    return make_exceptional_future<void>(std::make_exception_ptr(StreamClosedError(error())));
  }
  if (handshake_ != Handshake::kUnconnected) {
    throw InvalidStateError("SSLIOStream: connect on a stream that is connected or connecting");
  }
  Future<void> handshake = wait_for_handshake();
  handshake_ = Handshake::kConnecting;
  Future<void> connected = IOStream::connect(address);
  if (!connected.done()) {
    connecting_ = std::move(connected);  // handle_events starts the handshake once it is done
    return handshake;
  }
  static_cast<void>(connected.exception());  // a failure closed the stream, failing `handshake`
  if (!closed()) start_handshake();
  return handshake;
}

std::string SSLIOStream::selected_alpn_protocol() const {
  const unsigned char* data = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl_.get(), &data, &length);
  return data ? std::string(reinterpret_cast<const char*>(data), length) : std::string();
}

std::string SSLIOStream::version() const {
  return handshake_done() ? SSL_get_version(ssl_.get()) : std::string();
}

// ---- the handshake -------------------------------------------------------------------------

void SSLIOStream::start_handshake() {
  handshake_ = Handshake::kInProgress;
  if (do_handshake()) {
    resume_after_handshake(0);
  } else if (!closed()) {
    update_events();
  }
}

bool SSLIOStream::do_handshake() {
  ERR_clear_error();
  errno = 0;
  int rc = SSL_do_handshake(ssl_.get());
  if (rc == 1) {
    handshake_ = Handshake::kDone;
    handshake_wants_ = 0;
    if (handshake_future_) {
      Future<void> done = std::move(*handshake_future_);
      handshake_future_.reset();
      done.set_result();
    }
    return true;
  }
  int saved_errno = errno;
  int ssl_error = SSL_get_error(ssl_.get(), rc);
  if (ssl_error == SSL_ERROR_WANT_READ) {
    handshake_wants_ = IOLoop::READ;
    return false;
  }
  if (ssl_error == SSL_ERROR_WANT_WRITE) {
    handshake_wants_ = IOLoop::WRITE;
    return false;
  }
  if (ssl_error == SSL_ERROR_SYSCALL && saved_errno != 0 && ERR_peek_error() == 0) {
    // A reset connection, as on a plain stream: no log line (as Tornado).
    ERR_clear_error();
    fail(std::make_exception_ptr(OSError(saved_errno, "SSL handshake")));
    return false;
  }
  OpenSSLErrors errors = take_openssl_errors();
  std::string reason;
  long verify = SSL_get_verify_result(ssl_.get());
  if (errors.verify_failed && verify != X509_V_OK) {
    reason = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      reason += ", the certificate is not valid for '" + server_hostname_ + "'";
    }
  } else if (ssl_error == SSL_ERROR_ZERO_RETURN) {
    reason = "the peer closed the connection";
  } else if (errors.text.empty()) {
    reason = "unexpected end of stream";
  } else {
    reason = errors.text;
  }
  std::string message = "SSL handshake failed: " + reason;
  log::gen_log().warn("SSL Error on fd {} {}: {}", fileno(), peer_name(fileno()), message);
  fail(std::make_exception_ptr(SSLError(message)));
  return false;
}

void SSLIOStream::resume_after_handshake(std::uint32_t events) {
  // Reads and writes issued during the handshake go now, without waiting for another event.
  if (reading()) events |= IOLoop::READ;
  if (writing()) events |= IOLoop::WRITE;
  IOStream::handle_events(events);
}

void SSLIOStream::fail(std::exception_ptr error) {
  fatal_ = true;  // OpenSSL forbids SSL_shutdown after a fatal error
  close(std::move(error));
}

// ---- reads and writes ----------------------------------------------------------------------

std::exception_ptr SSLIOStream::io_error(int ssl_error, int saved_errno, const char* operation) {
  if (ssl_error == SSL_ERROR_ZERO_RETURN) return nullptr;  // the peer's close_notify
  if (ssl_error == SSL_ERROR_SYSCALL && saved_errno != 0 && ERR_peek_error() == 0) {
    return std::make_exception_ptr(OSError(saved_errno, operation));
  }
  std::string reason = take_openssl_errors().text;
  if (reason.empty()) reason = "unexpected end of stream";
  return std::make_exception_ptr(SSLError(std::string("SSL error: ") + reason));
}

ssize_t SSLIOStream::read_from_fd(std::span<char> buffer) {
  if (handshake_ != Handshake::kDone) {
    // The handshake comes first; handle_events resumes the read after it. Before connect()
    // there is no connection to wait for, as on a plain stream.
    errno = handshake_ == Handshake::kUnconnected ? ENOTCONN : EAGAIN;
    return -1;
  }
  if (read_end_ != ReadEnd::kNone) {
    ReadEnd end = std::exchange(read_end_, ReadEnd::kNone);
    if (end == ReadEnd::kError) fail(std::exchange(read_error_, nullptr));
    return 0;
  }
  std::size_t total = 0;
  while (total < buffer.size()) {
    ERR_clear_error();
    errno = 0;
    std::size_t got = 0;
    int rc = SSL_read_ex(ssl_.get(), buffer.data() + total, buffer.size() - total, &got);
    if (rc == 1) {
      total += got;
      read_wants_write_ = false;
      continue;
    }
    int saved_errno = errno;
    int ssl_error = SSL_get_error(ssl_.get(), rc);
    if (ssl_error == SSL_ERROR_WANT_READ) break;
    if (ssl_error == SSL_ERROR_WANT_WRITE) {
      read_wants_write_ = true;
      break;
    }
    std::exception_ptr error = io_error(ssl_error, saved_errno, "SSL read");
    if (total > 0) {  // deliver the data first; the end follows on the next call
      read_end_ = error ? ReadEnd::kError : ReadEnd::kEndOfStream;
      read_error_ = std::move(error);
      break;
    }
    if (error) fail(std::move(error));
    return 0;
  }
  if (total == buffer.size() && SSL_pending(ssl_.get()) > 0) schedule_pending_read();
  if (total > 0) return static_cast<ssize_t>(total);
  errno = EAGAIN;
  return -1;
}

ssize_t SSLIOStream::write_to_fd(const iovec* iov, int count) {
  if (handshake_ != Handshake::kDone) {
    // The handshake comes first; handle_events resumes the write after it. Before connect()
    // there is no connection to wait for, as on a plain stream.
    errno = handshake_ == Handshake::kUnconnected ? ENOTCONN : EAGAIN;
    return -1;
  }
  // SSL_write takes one buffer: write the iovecs in turn. After SSL_write asked to be retried,
  // IOStream's next call starts with the same bytes (its queue keeps them; it only grows),
  // which is what OpenSSL requires.
  std::size_t total = 0;
  for (int i = 0; i < count; ++i) {
    if (iov[i].iov_len == 0) continue;
    ERR_clear_error();
    errno = 0;
    std::size_t written = 0;
    int rc = SSL_write_ex(ssl_.get(), iov[i].iov_base, iov[i].iov_len, &written);
    if (rc == 1) {
      write_wants_read_ = false;
      total += written;
      if (written < iov[i].iov_len) break;
      continue;
    }
    int saved_errno = errno;
    int ssl_error = SSL_get_error(ssl_.get(), rc);
    if (ssl_error == SSL_ERROR_WANT_WRITE || ssl_error == SSL_ERROR_WANT_READ) {
      write_wants_read_ = ssl_error == SSL_ERROR_WANT_READ;
      break;
    }
    std::exception_ptr error = io_error(ssl_error, saved_errno, "SSL write");
    fail(error ? std::move(error) : std::make_exception_ptr(OSError(EPIPE, "SSL write")));
    errno = EAGAIN;  // the stream is closed already
    return -1;
  }
  if (total > 0) return static_cast<ssize_t>(total);
  errno = EAGAIN;
  return -1;
}

void SSLIOStream::schedule_pending_read() {
  if (pending_read_scheduled_) return;
  pending_read_scheduled_ = true;
  io_loop().add_callback([this, alive = std::weak_ptr<char>(alive_)] {
    if (alive.expired()) return;  // the stream is gone
    pending_read_scheduled_ = false;
    if (!closed() && reading() && SSL_pending(ssl_.get()) > 0) handle_events(IOLoop::READ);
  });
}

// ---- events and close ----------------------------------------------------------------------

std::uint32_t SSLIOStream::events_to_watch(std::uint32_t wanted) const noexcept {
  switch (handshake_) {
    case Handshake::kUnconnected:
    case Handshake::kConnecting:
    case Handshake::kFailed:
      return wanted;
    case Handshake::kInProgress:
      return (wanted & ~IOLoop::WRITE) | handshake_wants_;
    case Handshake::kDone:
      break;
  }
  if (write_wants_read_) wanted = (wanted & ~IOLoop::WRITE) | IOLoop::READ;
  if (read_wants_write_) wanted |= IOLoop::WRITE;
  return wanted;
}

void SSLIOStream::handle_events(std::uint32_t events) {
  if (handshake_ == Handshake::kInProgress) {
    // Whatever the event (the one awaited, an error, a hang-up), the handshake sees it first.
    if (do_handshake()) {
      resume_after_handshake(events);
    } else if (!closed()) {
      update_events();
    }
    return;
  }
  if (handshake_ == Handshake::kDone) {
    if (read_wants_write_ && (events & IOLoop::WRITE)) events |= IOLoop::READ;
    if (write_wants_read_ && (events & IOLoop::READ)) events |= IOLoop::WRITE;
  }
  IOStream::handle_events(events);
  if (connecting_ && connecting_->done()) {
    Future<void> connected = std::move(*connecting_);
    connecting_.reset();
    static_cast<void>(connected.exception());  // a failure closed the stream already
    if (!closed()) start_handshake();
  }
}

void SSLIOStream::close_fd() noexcept {
  if (handshake_ == Handshake::kDone && !fatal_) {
    // One try at close_notify; a full socket buffer or a gone peer just goes without.
    ERR_clear_error();
    SSL_shutdown(ssl_.get());
    ERR_clear_error();
  } else if (handshake_ != Handshake::kDone) {
    handshake_ = Handshake::kFailed;
  }
  if (handshake_future_) {
    Future<void> waiting = std::move(*handshake_future_);
    handshake_future_.reset();
    try {
      waiting.set_exception(std::make_exception_ptr(StreamClosedError(error())));
    } catch (...) {
      // Out of memory while closing: the waiter is dropped, as the stream's other state is.
    }
  }
  IOStream::close_fd();
}

// ---- IOStream::start_tls -------------------------------------------------------------------

Future<std::unique_ptr<SSLIOStream>> IOStream::start_tls(bool server_side,
                                                         const SSLOptions& options,
                                                         std::string server_hostname) {
  return start_tls(ssl_options_to_context(options, server_side), std::move(server_hostname));
}

Future<std::unique_ptr<SSLIOStream>> IOStream::start_tls(std::shared_ptr<SSLContext> context,
                                                         std::string server_hostname) {
  if (closed()) {
    return make_exceptional_future<std::unique_ptr<SSLIOStream>>(
        std::make_exception_ptr(StreamClosedError(error())));
  }
  checked_fd(fileno(), context, server_hostname);  // throws before the stream is touched
  detail::UniqueFunction<void()> close_callback;
  IOStreamOptions stream_options = options();
  int fd = release_fd(close_callback);
  auto stream = std::make_unique<SSLIOStream>(fd, std::move(context), std::move(server_hostname),
                                              stream_options);
  if (close_callback) stream->set_close_callback(std::move(close_callback));
  return await_handshake(std::move(stream));
}

}  // namespace squall
