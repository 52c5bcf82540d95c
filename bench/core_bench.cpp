// The async core's benchmarks. Each reports `ns_per_op` (per await, coroutine, timer, added and
// cancelled timer, callback); BM_Timers also `bytes_per_timer` and `peak_rss_mib`. Run pinned to
// one core: taskset -c 0 build/release/bench/core_bench
#include <benchmark/benchmark.h>

#include "core_workloads.hpp"

namespace {

constexpr long kOps = 1'000'000;

void BM_AwaitScheduledFuture(benchmark::State& state) {
  double seconds = 0;
  for (auto _ : state) seconds += squall::bench::await_scheduled_futures(kOps);
  state.counters["ns_per_op"] = seconds * 1e9 / (static_cast<double>(state.iterations()) * kOps);
}
BENCHMARK(BM_AwaitScheduledFuture)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_SpawnCoroutines(benchmark::State& state) {
  double seconds = 0;
  for (auto _ : state) seconds += squall::bench::spawn_coroutines(kOps);
  state.counters["ns_per_op"] = seconds * 1e9 / (static_cast<double>(state.iterations()) * kOps);
}
BENCHMARK(BM_SpawnCoroutines)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_Timers(benchmark::State& state) {
  double cpu = 0;
  long growth = 0, peak = 0;
  for (auto _ : state) {
    auto figures = squall::bench::run_timers(kOps);
    cpu += figures.cpu_seconds;
    growth = std::max(growth, figures.rss_growth_kib);
    peak = std::max(peak, figures.peak_rss_kib);
  }
  state.counters["ns_per_op"] = cpu * 1e9 / (static_cast<double>(state.iterations()) * kOps);
  state.counters["bytes_per_timer"] = static_cast<double>(growth) * 1024.0 / kOps;
  state.counters["peak_rss_mib"] = static_cast<double>(peak) / 1024.0;
}
// One iteration: the peak RSS of a process only grows, so later iterations cannot show theirs.
BENCHMARK(BM_Timers)->Unit(benchmark::kMillisecond)->Iterations(1);

void BM_TimerAddCancel(benchmark::State& state) {
  double seconds = 0;
  for (auto _ : state) seconds += squall::bench::add_and_cancel_timers(kOps);
  state.counters["ns_per_op"] = seconds * 1e9 / (static_cast<double>(state.iterations()) * kOps);
}
BENCHMARK(BM_TimerAddCancel)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_AddCallbackCrossThread(benchmark::State& state) {
  double seconds = 0;
  for (auto _ : state) seconds += squall::bench::add_callback_cross_thread(kOps);
  state.counters["ns_per_op"] = seconds * 1e9 / (static_cast<double>(state.iterations()) * kOps);
}
BENCHMARK(BM_AddCallbackCrossThread)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
