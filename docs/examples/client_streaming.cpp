// Quoted by docs/httpclient.md: a download read piece by piece (streaming_callback,
// header_callback) and an upload written piece by piece (body_producer). It starts an HTTPServer
// of its own on a free loopback port, streams 64 MiB each way, checks the counts and exits 0.
#include <cstdint>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <squall/core/ioloop.hpp>
#include <squall/http/httpclient.hpp>
#include <squall/http/httpserver.hpp>

using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t kPieces = 1024;
constexpr std::size_t kPieceSize = 64 * 1024;  // 1024 pieces of 64 KiB: 64 MiB

// GET /download: 64 MiB, chunked, written as the client reads. Writes and flushes on a
// coroutine, so the server never holds more than a piece.
squall::Future<void> send_download(std::shared_ptr<squall::HTTPServerRequest> request) {
  std::shared_ptr<squall::HTTPConnection> connection = request->connection;
  squall::HTTPHeaders headers;
  headers.add("Content-Type", "application/octet-stream");
  connection->write_headers(squall::ResponseStartLine{}, headers);
  const std::string piece(kPieceSize, 'd');
  for (std::uint64_t i = 0; i < kPieces; ++i) {
    connection->write(piece);
    co_await connection->flush();
  }
  connection->finish();
}

// PUT /upload: answers with the size of the body it received.
void route(std::shared_ptr<squall::HTTPServerRequest> request) {
  if (request->path == "/download") {
    squall::IOLoop::current().spawn_callback([request] { return send_download(request); });
    return;
  }
  std::string body = std::to_string(request->body.size());
  squall::HTTPHeaders headers;
  headers.add("Content-Length", std::to_string(body.size()));
  request->connection->write_headers(squall::ResponseStartLine{}, headers, body);
  request->connection->finish();
}

// [download]
// Counts a download's bytes as they arrive, without ever holding the body.
squall::Future<std::uint64_t> count_download(std::string url) {
  std::uint64_t bytes = 0;
  squall::HTTPRequest request(url);
  request.header_callback = [](std::string_view line) {
    if (line.starts_with("HTTP/")) std::cout << "status line: " << line;
  };
  request.streaming_callback = [&bytes](std::string_view chunk) { bytes += chunk.size(); };
  request.max_body_size = std::uint64_t{1} << 40;  // no limit worth the name: nothing is kept
  squall::AsyncHTTPClient client;
  squall::HTTPResponse response = co_await client.fetch(request);
  // `bytes` outlives the fetch: this coroutine's frame holds it until the response is here.
  std::cout << response.code << ", body kept: " << response.body.size()
            << " bytes, streamed: " << bytes << " bytes\n";
  co_return bytes;
}
// [download]

// [upload]
// Writes an upload piece by piece: each write's Future completes when the connection can take
// more, so the producer goes at the network's pace.
squall::Future<void> produce(squall::HTTPRequest::BodyWriter write) {
  const std::string piece(kPieceSize, 'u');
  for (std::uint64_t i = 0; i < kPieces; ++i) co_await write(piece);
}

squall::Future<std::string> upload(std::string url) {
  squall::HTTPRequest request(url, "PUT");
  request.body_producer = produce;  // sent chunked: the headers give no Content-Length
  squall::AsyncHTTPClient client;
  squall::HTTPResponse response = co_await client.fetch(request);
  co_return response.body;
}
// [upload]

}  // namespace

int main() {
  squall::IOLoop loop;
  squall::HTTPServerOptions options;
  options.max_body_size = std::uint64_t{1} << 30;
  squall::HTTPServer server(route, options);
  server.listen(0, "127.0.0.1");
  const std::string base = "http://127.0.0.1:" + std::to_string(server.addresses().front().port());
  auto run = [&]() -> squall::Future<bool> {
    std::uint64_t downloaded = co_await count_download(base + "/download");
    std::string uploaded = co_await upload(base + "/upload");
    std::cout << "the server received " << uploaded << " bytes\n";
    co_return downloaded == kPieces* kPieceSize&& uploaded == std::to_string(kPieces * kPieceSize);
  };
  try {
    return loop.run_sync(run, 60s) ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "client_streaming: " << e.what() << "\n";
    return 1;
  }
}
