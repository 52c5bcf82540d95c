// client_bench: AsyncHTTPClient's throughput. C fetch loops run concurrently on one IOLoop for S
// seconds, each fetching URL again as soon as its last fetch is done, through one client whose
// max_clients is C (so every loop has a connection of its own, kept alive). Prints the counts,
// then `requests_per_second=N` as its last line.
//
// Usage: client_bench --url URL [--concurrency C] [--duration S] [--expect-bytes N] [--stream]
//   --expect-bytes N  every body must be N bytes, else the run fails (exit 1)
//   --stream          count the body through streaming_callback instead of buffering it
//
// Measured against wrk on the same server in the same run by scripts/client_bench.sh.

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <squall/core/gen.hpp>
#include <squall/core/ioloop.hpp>
#include <squall/http/httpclient.hpp>

namespace {

struct Settings {
  std::string url;
  std::size_t concurrency = 64;
  double duration = 5;
  std::optional<std::uint64_t> expect_bytes;
  bool stream = false;
};

struct Totals {
  std::uint64_t requests = 0;
  std::uint64_t bytes = 0;
  std::uint64_t errors = 0;
  std::uint64_t wrong_sizes = 0;
  std::string first_error;
};

/// One fetch loop: fetches until `deadline`, adding to `totals` (which outlives the loop: main
/// awaits every loop before it returns).
squall::Future<void> fetch_loop(squall::AsyncHTTPClient client, const Settings& settings,
                                squall::IOLoop::time_point deadline, Totals& totals) {
  std::uint64_t streamed = 0;
  squall::HTTPRequest request(settings.url);
  request.max_body_size = std::uint64_t{1} << 40;
  request.request_timeout = std::chrono::seconds(60);
  if (settings.stream) {
    request.streaming_callback = [&streamed](std::string_view chunk) { streamed += chunk.size(); };
  }
  while (squall::IOLoop::current().time() < deadline) {
    streamed = 0;
    squall::HTTPResponse response = co_await client.fetch(request, false);
    if (response.code != 200) {
      if (totals.errors++ == 0) {
        totals.first_error = "code " + std::to_string(response.code);
        try {
          response.rethrow();
        } catch (const std::exception& e) {
          totals.first_error += ": " + std::string(e.what());
        }
      }
      continue;
    }
    std::uint64_t size = settings.stream ? streamed : response.body.size();
    if (settings.expect_bytes && size != *settings.expect_bytes) ++totals.wrong_sizes;
    ++totals.requests;
    totals.bytes += size;
  }
}

[[noreturn]] void usage(const char* program, int status) {
  (status == 0 ? std::cout : std::cerr)
      << "Usage: " << program
      << " --url URL [--concurrency C] [--duration S] [--expect-bytes N] [--stream]\n"
      << "Runs C concurrent fetch loops of URL on one loop for S seconds (default 64, 5) and\n"
      << "prints requests_per_second=N last. --expect-bytes checks every body's size;\n"
      << "--stream counts bodies through streaming_callback instead of buffering them.\n";
  std::exit(status);
}

bool parse_number(const std::string& text, double& out) {
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return !text.empty() && *end == '\0' && out > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(argv[0], 2);
      return argv[++i];
    };
    double number = 0;
    if (arg == "--help" || arg == "-h") {
      usage(argv[0], 0);
    } else if (arg == "--url") {
      settings.url = value();
    } else if (arg == "--concurrency" && parse_number(value(), number)) {
      settings.concurrency = static_cast<std::size_t>(number);
    } else if (arg == "--duration" && parse_number(value(), number)) {
      settings.duration = number;
    } else if (arg == "--expect-bytes" && parse_number(value(), number)) {
      settings.expect_bytes = static_cast<std::uint64_t>(number);
    } else if (arg == "--stream") {
      settings.stream = true;
    } else {
      std::cerr << argv[0] << ": bad option '" << arg << "'\n";
      usage(argv[0], 2);
    }
  }
  if (settings.url.empty() || settings.concurrency == 0) usage(argv[0], 2);

  squall::IOLoop loop;
  squall::AsyncHTTPClient::Defaults defaults;
  defaults.max_clients = settings.concurrency;
  defaults.max_idle_per_host = settings.concurrency;
  squall::AsyncHTTPClient client(defaults);
  Totals totals;
  std::chrono::duration<double> elapsed{};
  auto run = [&]() -> squall::Future<void> {
    auto started = loop.time();
    auto deadline = started + std::chrono::duration_cast<squall::IOLoop::duration>(
                                  std::chrono::duration<double>(settings.duration));
    std::vector<squall::Future<void>> loops;
    for (std::size_t i = 0; i < settings.concurrency; ++i) {
      loops.push_back(fetch_loop(client, settings, deadline, totals));
    }
    co_await squall::gen::multi(std::move(loops));
    elapsed = loop.time() - started;
  };
  loop.run_sync(run);
  client.close();

  const double seconds = elapsed.count();
  const double bytes_per_second = static_cast<double>(totals.bytes) / seconds;
  std::cout << std::fixed << std::setprecision(3);
  std::cout << "url=" << settings.url << "\n"
            << "concurrency=" << settings.concurrency << "\n"
            << "seconds=" << seconds << "\n"
            << "requests=" << totals.requests << "\n"
            << "errors=" << totals.errors << "\n"
            << "connections_opened=" << client.connections_opened() << "\n"
            << "bytes=" << totals.bytes << "\n"
            << "bytes_per_second=" << std::setprecision(0) << bytes_per_second << "\n"
            << "gib_per_second=" << std::setprecision(3) << bytes_per_second / (1 << 30) << "\n";
  if (totals.errors > 0) std::cerr << "first error: " << totals.first_error << "\n";
  if (totals.wrong_sizes > 0) {
    std::cerr << totals.wrong_sizes << " bodies were not " << *settings.expect_bytes << " bytes\n";
  }
  std::cout << "requests_per_second=" << std::setprecision(0)
            << static_cast<double>(totals.requests) / seconds << "\n";
  return totals.errors > 0 || totals.wrong_sizes > 0 || totals.requests == 0 ? 1 : 0;
}
