// The async core's micro-anchors in ../shared/bench/micro_bench.sh's protocol, to compare with
// Boost.Asio and Tornado in one run:
//   ../shared/bench/micro_bench.sh --name squall -- build/release/bench/micro_squall
// Usage: micro_squall [N=1000000] [m1|m2|m3 ...]   (run pinned: taskset -c 0)
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core_workloads.hpp"

int main(int argc, char** argv) {
  long n = 1'000'000;
  int arg = 1;
  if (argc > 1 && std::isdigit(static_cast<unsigned char>(argv[1][0]))) {
    n = std::atol(argv[1]);
    arg = 2;
  }
  std::vector<std::string> modes(argv + arg, argv + argc);
  if (modes.empty()) modes = {"m1", "m2", "m3"};
  std::printf("# squall n=%ld\n", n);
  for (const auto& mode : modes) {
    if (mode == "m1") {
      double s = squall::bench::await_scheduled_futures(n);
      std::printf("m1 ns_per_op=%.1f wall_s=%.3f\n", s / n * 1e9, s);
    } else if (mode == "m2") {
      double s = squall::bench::spawn_coroutines(n);
      std::printf("m2 ns_per_op=%.1f wall_s=%.3f\n", s / n * 1e9, s);
    } else if (mode == "m3") {
      auto f = squall::bench::run_timers(n);
      std::printf(
          "m3 ns_per_timer_cpu=%.1f ns_per_timer_wall=%.1f schedule_ns_per_timer=%.1f "
          "wall_s=%.3f peak_rss_kib=%ld rss_growth_kib=%ld\n",
          f.cpu_seconds / n * 1e9, f.wall_seconds / n * 1e9, f.schedule_seconds / n * 1e9,
          f.wall_seconds, f.peak_rss_kib, f.rss_growth_kib);
    } else {
      std::fprintf(stderr, "unknown mode %s (m1, m2, m3)\n", mode.c_str());
      return 2;
    }
    std::fflush(stdout);
  }
  return 0;
}
