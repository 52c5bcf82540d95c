// Quoted by docs/httpserver.md: a server with the streaming delegate API that counts the bytes of
// an upload as they arrive, at a limited rate, without keeping the body. The program serves on a
// free loopback port, uploads 256 KiB to itself with Expect: 100-continue through a raw IOStream
// client, checks the answer and exits.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>

#include <squall/core/gen.hpp>
#include <squall/core/ioloop.hpp>
#include <squall/http/httpserver.hpp>
#include <squall/net/tcpclient.hpp>

using namespace std::chrono_literals;

// [delegate]
// One upload, piece by piece. The body is never held whole: each piece is counted and dropped.
class UploadCounter : public squall::HTTPMessageDelegate {
 public:
  static constexpr std::uint64_t kBytesPerSecond = 1 << 20;

  explicit UploadCounter(std::shared_ptr<squall::HTTPConnection> connection)
      : connection_(std::move(connection)) {}

  std::optional<squall::Future<void>> headers_received(const squall::RequestStartLine& start_line,
                                                       squall::HTTPHeaders& headers) override {
    if (start_line.method != "PUT") {
      // Answered before the body: if there is one, the server closes the connection unread.
      squall::HTTPHeaders response;
      response.add("Allow", "PUT");
      response.add("Content-Length", "0");
      connection_->write_headers(squall::ResponseStartLine{"HTTP/1.1", 405, ""}, response);
      connection_->finish();
      answered_ = true;
      return std::nullopt;
    }
    connection_->set_max_body_size(std::uint64_t{1} << 30);  // this handler takes up to 1 GiB
    started_ = squall::IOLoop::current().time();
    return std::nullopt;
  }

  std::optional<squall::Future<void>> data_received(std::string_view chunk) override {
    bytes_ += chunk.size();  // `chunk` is valid during this call only
    // Flow control: ahead of the allowed rate, return a Future. Until it is done the server
    // reads no more of this body, and TCP makes the client wait.
    auto due = started_ + std::chrono::microseconds(bytes_ * 1'000'000 / kBytesPerSecond);
    auto now = squall::IOLoop::current().time();
    if (due > now) return squall::gen::sleep(due - now);
    return std::nullopt;
  }

  void finish() override {
    if (answered_) return;  // a bodiless request refused in headers_received
    std::string body = "received " + std::to_string(bytes_) + " bytes\n";
    squall::HTTPHeaders headers;
    headers.add("Content-Type", "text/plain; charset=UTF-8");
    headers.add("Content-Length", std::to_string(body.size()));
    connection_->write_headers(squall::ResponseStartLine{}, headers, body);
    connection_->finish();
  }

  void on_connection_close() override {
    std::cout << "upload cut short after " << bytes_ << " bytes\n";
  }

 private:
  std::shared_ptr<squall::HTTPConnection> connection_;
  std::uint64_t bytes_ = 0;
  bool answered_ = false;
  squall::IOLoop::time_point started_{};
};

// Starts an UploadCounter for each request of every connection.
class UploadServer : public squall::HTTPServerConnectionDelegate {
 public:
  std::unique_ptr<squall::HTTPMessageDelegate> start_request(
      squall::HTTP1ServerConnection& server_conn,
      std::shared_ptr<squall::HTTPConnection> request_conn) override {
    return std::make_unique<UploadCounter>(std::move(request_conn));
  }
};
// [delegate]

// The client: the head first, the body only once the server has said 100 Continue.
squall::Future<std::string> upload(std::uint16_t port, std::size_t size) {
  squall::TCPClient client;
  std::unique_ptr<squall::IOStream> stream = co_await client.connect("127.0.0.1", port);
  co_await stream->write(
      "PUT /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
      "Expect: 100-continue\r\nContent-Length: " +
      std::to_string(size) + "\r\n\r\n");
  std::string interim = co_await stream->read_until("\r\n\r\n");
  if (interim != "HTTP/1.1 100 Continue\r\n\r\n") co_return "unexpected: " + interim;
  co_await stream->write(std::string(size, 'x'));
  co_return co_await stream->read_until_close();
}

int main() {
  squall::IOLoop loop;
  // [server]
  UploadServer uploads;  // outlives the server
  squall::HTTPServerOptions options;
  options.max_body_size = 1 << 20;  // for every request, unless its delegate says otherwise
  options.body_timeout = 60s;       // however slowly the body comes, at most a minute
  squall::HTTPServer server(uploads, options);
  server.listen(0, "127.0.0.1");
  // [server]
  std::uint16_t port = server.addresses().front().port();
  constexpr std::size_t kSize = 256 << 10;
  auto started = std::chrono::steady_clock::now();
  std::string response = loop.run_sync([port] { return upload(port, kSize); }, 10s);
  auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << response << "(256 KiB at 1 MiB/s: " << (took >= 0.2 ? "about 0.25 s" : "too fast")
            << ")\n";
  return response.starts_with("HTTP/1.1 200 OK\r\n") &&
                 response.ends_with("\r\n\r\nreceived 262144 bytes\n") && took >= 0.2
             ? 0
             : 1;
}
