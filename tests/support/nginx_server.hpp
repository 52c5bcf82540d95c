#pragma once
// Debian's nginx as a child process of a test: a private prefix directory under /tmp, a
// configuration the test writes, ports found free on 127.0.0.1, stopped and cleaned up on
// destruction. nginx runs in the foreground as one process (`master_process off`), so it needs
// no privileges and keeps the test's user: no worker drops to another user that could not read
// the test's files.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace squall::test_support {

class NginxServer {
 public:
  static constexpr const char* kBinary = "/usr/sbin/nginx";

  /// Gives the body of the configuration's `http { }` block for the ports found free.
  using ConfigMaker = std::function<std::string(const std::vector<std::uint16_t>& ports)>;

  /// Makes the prefix directory (with nginx's temp directories). Throws std::runtime_error when
  /// nginx is not installed: scripts/deps installs it, so its absence is a failure, not a skip.
  NginxServer() {
    if (::access(kBinary, X_OK) != 0) {
      throw std::runtime_error(std::string(kBinary) +
                               " is missing: run scripts/deps (apt-get install nginx)");
    }
    char pattern[] = "/tmp/squall-nginx-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp");
    }
    dir_ = pattern;
    for (const char* sub : {"tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi",
                            "logs"}) {
      std::filesystem::create_directories(dir_ / sub);
    }
  }

  ~NginxServer() {
    stop();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  NginxServer(const NginxServer&) = delete;
  NginxServer& operator=(const NginxServer&) = delete;

  const std::filesystem::path& dir() const noexcept { return dir_; }
  const std::vector<std::uint16_t>& ports() const noexcept { return ports_; }
  pid_t pid() const noexcept { return pid_; }

  /// Starts nginx with `port_count` ports found free on 127.0.0.1 and the configuration
  /// `make_config` gives for them, and returns once every port accepts connections. A port taken
  /// by someone else between the check and nginx's bind() means another try with new ports (up
  /// to five). Throws std::runtime_error with nginx's own messages when it cannot start.
  void start(std::size_t port_count, const ConfigMaker& make_config) {
    std::string failure;
    for (int attempt = 0; attempt < 5; ++attempt) {
      ports_ = free_ports(port_count);
      write_config(make_config(ports_));
      spawn();
      failure = wait_until_listening();
      if (failure.empty()) return;
      stop();
      if (failure.find("Address already in use") == std::string::npos) break;
    }
    throw std::runtime_error("nginx did not start: " + failure);
  }

  /// Stops nginx (SIGTERM, then SIGKILL after 5 s) and reaps it; does nothing if not running.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
  }

  /// What nginx wrote to its standard error (its error_log) so far.
  std::string log() const {
    std::ifstream in(dir_ / "nginx.stderr", std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  /// Binds `count` sockets to 127.0.0.1 port 0 at once (so the ports differ), notes the ports,
  /// and closes them for nginx to take.
  static std::vector<std::uint16_t> free_ports(std::size_t count) {
    std::vector<int> fds;
    std::vector<std::uint16_t> ports;
    for (std::size_t i = 0; i < count; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
      fds.push_back(fd);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t length = sizeof address;
      if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
          ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        int error = errno;
        for (int open_fd : fds) ::close(open_fd);
        throw std::system_error(error, std::generic_category(), "bind 127.0.0.1:0");
      }
      ports.push_back(ntohs(address.sin_port));
    }
    for (int fd : fds) ::close(fd);
    return ports;
  }

  void write_config(const std::string& http_block) const {
    const std::string temp = (dir_ / "tmp").string();
    std::ofstream out(dir_ / "nginx.conf", std::ios::binary | std::ios::trunc);
    out << "master_process off;\n"
        << "events { worker_connections 4096; }\n"
        << "http {\n"
        << "  client_body_temp_path " << temp << "/body;\n"
        << "  proxy_temp_path " << temp << "/proxy;\n"
        << "  fastcgi_temp_path " << temp << "/fastcgi;\n"
        << "  uwsgi_temp_path " << temp << "/uwsgi;\n"
        << "  scgi_temp_path " << temp << "/scgi;\n"
        << "  access_log off;\n"
        << http_block << "}\n";
    if (!out) throw std::runtime_error("cannot write " + (dir_ / "nginx.conf").string());
  }

  void spawn() {
    const std::string prefix = dir_.string() + "/";
    const std::string config = (dir_ / "nginx.conf").string();
    const std::string globals =
        "daemon off; pid " + (dir_ / "nginx.pid").string() + "; error_log stderr;";
    const std::string stderr_path = (dir_ / "nginx.stderr").string();
    // Everything the child needs is made before fork(): after it, only async-signal-safe calls.
    std::vector<const char*> argv = {kBinary,        "-p", prefix.c_str(), "-c", config.c_str(),
                                     "-g",           globals.c_str(), nullptr};
    int log_fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log_fd < 0 || null_fd < 0) {
      int error = errno;
      if (log_fd >= 0) ::close(log_fd);
      if (null_fd >= 0) ::close(null_fd);
      throw std::system_error(error, std::generic_category(), "open " + stderr_path);
    }
    const pid_t parent = ::getpid();
    pid_t child = ::fork();
    if (child == 0) {
      // nginx dies with the test, even when the test is killed (a CTest timeout).
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(null_fd, STDIN_FILENO);
      ::dup2(log_fd, STDOUT_FILENO);
      ::dup2(log_fd, STDERR_FILENO);
      ::execv(kBinary, const_cast<char* const*>(argv.data()));
      ::_exit(127);
    }
    int fork_error = errno;
    ::close(log_fd);
    ::close(null_fd);
    if (child < 0) throw std::system_error(fork_error, std::generic_category(), "fork");
    pid_ = child;
  }

  static bool accepts(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return ok;
  }

  /// Empty once every port accepts; else why nginx is not serving (it exited, or 10 s passed).
  std::string wait_until_listening() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "nginx exited with status " + std::to_string(status) + ":\n" + log();
      }
      bool all = true;
      for (std::uint16_t port : ports_) all = all && accepts(port);
      if (all) return {};
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return "nginx did not listen within 10 s:\n" + log();
  }

  std::filesystem::path dir_;
  std::vector<std::uint16_t> ports_;
  pid_t pid_ = -1;
};

}  // namespace squall::test_support
