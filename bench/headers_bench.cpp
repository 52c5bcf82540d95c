// HTTPHeaders on the server's hot path, one request's worth per iteration:
//   BM_RequestHeaders   the codec's side: reserve, add_validated of the parsed fields, get("Host"),
//                       destruction
//   BM_ResponseHeaders  a handler's response (bench/http_bench_server.cpp): three add()s, the
//                       writer's for_each_field, destruction
//   BM_WebResponse      the web layer's: add_validated of Server and Content-Type, set() of
//                       Content-Length, for_each_field, destruction
//
// For instruction counts, run one sequence a fixed number of times without Google Benchmark and
// take the difference of two callgrind runs (it cancels start-up):
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null
//       build/release/bench/headers_bench --driver request 20000   (and 0)
// The sequence names are request, response and web.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <iterator>
#include <string_view>
#include <utility>

#include "http/http1_parser.hpp"
#include "squall/http/httputil.hpp"

namespace {

using squall::HTTPHeaders;
using squall::detail::HTTPHeadersAccess;

// A typical benchmark client's request head (wrk, ab, curl-like).
constexpr std::pair<std::string_view, std::string_view> kRequestFields[] = {
    {"Host", "127.0.0.1:8888"},
    {"User-Agent", "squall-bench/1.0"},
    {"Accept", "*/*"},
};

[[gnu::noinline]] std::size_t request_sequence() {
  HTTPHeaders headers;
  std::size_t bytes = 0;
  for (const auto& [name, value] : kRequestFields) bytes += name.size() + value.size();
  HTTPHeadersAccess::reserve(headers, std::size(kRequestFields), bytes);
  for (const auto& [name, value] : kRequestFields) {
    HTTPHeadersAccess::add_validated(headers, name, value);
  }
  const auto host = headers.get("Host");
  return host ? host->size() : 0;
}

std::size_t write_out(const HTTPHeaders& headers) {
  std::size_t total = 0;
  HTTPHeadersAccess::for_each_field(headers, [&](std::string_view name, std::string_view value) {
    benchmark::DoNotOptimize(name.data());
    benchmark::DoNotOptimize(value.data());
    total += name.size() + value.size();
  });
  return total;
}

[[gnu::noinline]] std::size_t response_sequence() {
  HTTPHeaders headers;
  headers.add("Server", "squall");
  headers.add("Content-Type", "text/plain");
  headers.add("Content-Length", "13");
  return write_out(headers);
}

[[gnu::noinline]] std::size_t web_sequence() {
  HTTPHeaders headers;
  HTTPHeadersAccess::add_validated(headers, "Server", "TornadoServer/6.2");
  HTTPHeadersAccess::add_validated(headers, "Content-Type", "text/html; charset=UTF-8");
  headers.set("Content-Length", "13");
  return write_out(headers);
}

void BM_RequestHeaders(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(request_sequence());
}
BENCHMARK(BM_RequestHeaders);

void BM_ResponseHeaders(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(response_sequence());
}
BENCHMARK(BM_ResponseHeaders);

void BM_WebResponse(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(web_sequence());
}
BENCHMARK(BM_WebResponse);

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--driver") == 0) {
    const std::string_view which = argv[2];
    const long count = std::strtol(argv[3], nullptr, 10);
    std::size_t (*sequence)() = which == "request"    ? request_sequence
                                : which == "response" ? response_sequence
                                : which == "web"      ? web_sequence
                                                      : nullptr;
    if (sequence == nullptr) {
      std::cerr << "headers_bench: --driver request|response|web COUNT\n";
      return 2;
    }
    std::size_t sink = 0;
    for (long i = 0; i < count; ++i) sink += sequence();
    std::cout << "sink " << sink << '\n';
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
