// Quoted by docs/networking.md: sending a file with IOStream::write_file. It writes a 3 MiB file
// to a temporary folder, sends it over a socket pair with the line-and-length protocol of
// net_iostream.cpp, checks that the bytes received are the file's, and exits.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include <squall/core/ioloop.hpp>
#include <squall/net/iostream.hpp>
#include <squall/util/error.hpp>

// [send_file]
// Sends a file whole: a length line, then the file's bytes, which never pass through this
// process on a plain stream (sendfile(2)).
squall::Future<void> send_file(squall::IOStream& out, const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw squall::OSError(errno, path);
  struct stat info {};
  ::fstat(fd, &info);
  auto size = static_cast<std::uint64_t>(info.st_size);
  squall::Future<void> head = out.write("LEN " + std::to_string(size) + "\r\n");
  squall::Future<void> body = out.write_file(fd, 0, size);
  ::close(fd);  // allowed at once: the stream keeps a duplicate if it still needs the file
  co_await head;
  co_await body;  // done once the kernel has taken the file's last byte
}
// [send_file]

squall::Future<std::string> receive_message(squall::IOStream& in) {
  std::string header = co_await in.read_until("\r\n", 64);
  std::size_t length = std::stoul(header.substr(4));
  co_return co_await in.read_bytes(length);
}

int main() {
  const auto path = std::filesystem::temp_directory_path() /
                    ("squall-net-sendfile-" + std::to_string(::getpid()) + ".bin");
  std::string content;
  for (int i = 0; content.size() < (3u << 20); ++i) content += std::to_string(i) + '\n';
  std::ofstream(path, std::ios::binary) << content;

  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return 1;
  squall::IOLoop loop;
  auto left = std::make_unique<squall::IOStream>(fds[0]);
  auto right = std::make_unique<squall::IOStream>(fds[1]);
  std::string got = loop.run_sync([&]() -> squall::Future<std::string> {
    squall::Future<void> sending = send_file(*left, path.string());
    std::string message = co_await receive_message(*right);
    co_await sending;
    co_return message;
  });
  std::filesystem::remove(path);
  std::cout << "received " << got.size() << " bytes\n";
  return got == content ? 0 : 1;
}
