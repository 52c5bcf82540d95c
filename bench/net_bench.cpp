// The net layer's benchmarks, over one TCP connection on loopback, all in one thread:
//   BM_PlainSocketThroughput  the baseline: non-blocking write() and read() in a plain loop
//   BM_IOStreamThroughput     the same bytes through two IOStreams: a writer coroutine awaiting
//                             write() and a reader coroutine awaiting read_into(partial)
//   BM_TCPEchoRoundTrip       64-byte request, 64-byte echo, awaited each time
// Each throughput benchmark reports `gib_per_s`; the round trips `round_trips_per_s`.
// Run pinned to one core: taskset -c 0 build/release/bench/net_bench
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "squall/core/ioloop.hpp"
#include "squall/net/iostream.hpp"

namespace {

using squall::Future;
using squall::IOLoop;
using squall::IOStream;

constexpr std::size_t kBytes = std::size_t{1} << 30;  // per iteration
constexpr std::size_t kChunk = std::size_t{256} << 10;

/// A connected TCP pair on 127.0.0.1 (client, server), both non-blocking.
std::pair<int, int> tcp_pair() {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto any = squall::SocketAddress::from_ip("127.0.0.1", 0);
  ::bind(listener, any.get(), any.length());
  ::listen(listener, 1);
  squall::SocketAddress bound;
  socklen_t length = squall::SocketAddress::capacity();
  ::getsockname(listener, bound.get(), &length);
  bound.set_length(length);
  int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ::connect(client, bound.get(), bound.length());
  int server = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  ::close(listener);
  int flags = 1;
  ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &flags, sizeof flags);
  ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &flags, sizeof flags);
  return {client, server};
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void report_throughput(benchmark::State& state, double seconds) {
  double bytes = static_cast<double>(kBytes) * static_cast<double>(state.iterations());
  state.counters["gib_per_s"] = bytes / seconds / static_cast<double>(std::size_t{1} << 30);
}

void BM_PlainSocketThroughput(benchmark::State& state) {
  auto [client, server] = tcp_pair();
  ::fcntl(client, F_SETFL, ::fcntl(client, F_GETFL) | O_NONBLOCK);
  std::vector<char> source(kChunk, 'x');
  std::vector<char> sink(kChunk);
  double seconds = 0;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    std::size_t sent = 0, received = 0;
    while (received < kBytes) {
      while (sent < kBytes) {
        ssize_t n = ::write(client, source.data(), std::min(kChunk, kBytes - sent));
        if (n <= 0) break;  // EAGAIN: the kernel's buffers are full
        sent += static_cast<std::size_t>(n);
      }
      for (;;) {
        ssize_t n = ::read(server, sink.data(), sink.size());
        if (n <= 0) break;
        received += static_cast<std::size_t>(n);
      }
    }
    seconds += seconds_since(start);
  }
  report_throughput(state, seconds);
  ::close(client);
  ::close(server);
}
BENCHMARK(BM_PlainSocketThroughput)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

Future<void> write_all(IOStream& out, std::size_t bytes) {
  const std::string chunk(kChunk, 'x');
  for (std::size_t sent = 0; sent < bytes; sent += kChunk) co_await out.write_borrowed(chunk);
}

Future<void> read_all(IOStream& in, std::size_t bytes) {
  std::vector<char> sink(kChunk);
  for (std::size_t received = 0; received < bytes;) received += co_await in.read_into(sink, true);
}

/// A loop, current, and the two ends of a loopback TCP connection as IOStreams.
struct LoopbackStreams {
  IOLoop loop;
  std::unique_ptr<IOStream> writer;
  std::unique_ptr<IOStream> reader;
  LoopbackStreams() {
    loop.make_current();
    auto [client, server] = tcp_pair();
    writer = std::make_unique<IOStream>(client);
    reader = std::make_unique<IOStream>(server);
  }
};

void BM_IOStreamThroughput(benchmark::State& state) {
  LoopbackStreams streams;
  double seconds = 0;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    streams.loop.run_sync([&]() -> Future<void> {
      Future<void> writing = write_all(*streams.writer, kBytes);
      co_await read_all(*streams.reader, kBytes);
      co_await writing;
    });
    seconds += seconds_since(start);
  }
  report_throughput(state, seconds);
}
BENCHMARK(BM_IOStreamThroughput)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

// Reading a stream in small pieces costs time linear in its length: ns_per_byte is the same for
// 64 MiB and for 1 GiB read 1 KiB at a time.
void BM_SmallReadsOfABigStream(benchmark::State& state) {
  const auto total = static_cast<std::size_t>(state.range(0));
  constexpr std::size_t kPiece = 1024;
  LoopbackStreams streams;
  double seconds = 0;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    streams.loop.run_sync([&]() -> Future<void> {
      Future<void> writing = write_all(*streams.writer, total);
      for (std::size_t received = 0; received < total; received += kPiece) {
        co_await streams.reader->read_bytes(kPiece);
      }
      co_await writing;
    });
    seconds += seconds_since(start);
  }
  state.counters["ns_per_byte"] =
      seconds * 1e9 / (static_cast<double>(total) * static_cast<double>(state.iterations()));
}
BENCHMARK(BM_SmallReadsOfABigStream)
    ->Arg(std::int64_t{64} << 20)
    ->Arg(std::int64_t{1} << 30)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1)
    ->UseRealTime();

Future<void> echo_server(IOStream& stream, long round_trips) {
  for (long i = 0; i < round_trips; ++i) co_await stream.write(co_await stream.read_bytes(64));
}

void BM_TCPEchoRoundTrip(benchmark::State& state) {
  constexpr long kRoundTrips = 100'000;
  IOLoop loop;
  loop.make_current();
  auto [client_fd, server_fd] = tcp_pair();
  auto client = std::make_unique<IOStream>(client_fd);
  auto server = std::make_unique<IOStream>(server_fd);
  const std::string request(64, 'r');
  double seconds = 0;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    loop.run_sync([&]() -> Future<void> {
      Future<void> serving = echo_server(*server, kRoundTrips);
      for (long i = 0; i < kRoundTrips; ++i) {
        co_await client->write(request);
        co_await client->read_bytes(64);
      }
      co_await serving;
    });
    seconds += seconds_since(start);
  }
  state.counters["round_trips_per_s"] =
      static_cast<double>(kRoundTrips) * static_cast<double>(state.iterations()) / seconds;
}
BENCHMARK(BM_TCPEchoRoundTrip)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
