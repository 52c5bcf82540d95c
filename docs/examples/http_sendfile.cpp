// Quoted by docs/httpserver.md: a response body written from a file with
// HTTPConnection::write_file. It writes a 2 MiB file to a temporary folder, serves it with the
// callback API on a free loopback port, fetches it, checks the bytes and exits.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include <squall/core/ioloop.hpp>
#include <squall/http/httpclient.hpp>
#include <squall/http/httpserver.hpp>

// [send_file]
// Answers with a file: Content-Length from its size, the body straight from the page cache.
void send_file(squall::HTTPServerRequest& request, int fd, std::uint64_t size) {
  squall::HTTPHeaders headers;
  headers.add("Content-Type", "application/octet-stream");
  headers.add("Content-Length", std::to_string(size));
  request.connection->write_headers(squall::ResponseStartLine{}, headers);
  request.connection->write_file(fd, 0, size);  // counted against Content-Length, like write
  request.connection->finish();
}
// [send_file]

int main() {
  const auto path = std::filesystem::temp_directory_path() /
                    ("squall-http-sendfile-" + std::to_string(::getpid()) + ".bin");
  std::string content;
  for (int i = 0; content.size() < (2u << 20); ++i) content += std::to_string(i) + '\n';
  std::ofstream(path, std::ios::binary) << content;

  squall::IOLoop loop;
  squall::HTTPServer server([&](const std::shared_ptr<squall::HTTPServerRequest>& request) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat info {};
    ::fstat(fd, &info);
    send_file(*request, fd, static_cast<std::uint64_t>(info.st_size));
    ::close(fd);  // the connection keeps what it needs
  });
  server.listen(0, "127.0.0.1");
  const std::string url =
      "http://127.0.0.1:" + std::to_string(server.addresses().front().port()) + "/file";
  squall::HTTPResponse response = loop.run_sync(
      [&]() -> squall::Future<squall::HTTPResponse> {
        squall::AsyncHTTPClient client(squall::AsyncHTTPClient::Defaults{});
        squall::HTTPResponse fetched = co_await client.fetch(url);
        client.close();
        co_return fetched;
      },
      std::chrono::seconds(10));
  std::filesystem::remove(path);
  std::cout << response.code << ", " << response.body.size() << " bytes\n";
  return response.code == 200 && response.body == content ? 0 : 1;
}
