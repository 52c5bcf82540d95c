#include "core_workloads.hpp"

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <thread>
#include <vector>

#include "squall/core/gen.hpp"
#include "squall/core/ioloop.hpp"

namespace squall::bench {
namespace {

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

long rss_kib() {
  long value = 0;
  if (FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
      if (std::strncmp(line, "VmRSS:", 6) == 0) value = std::atol(line + 6);
    }
    std::fclose(f);
  }
  return value;
}

long peak_rss_kib() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

Future<void> await_loop(long n, double& seconds) {
  IOLoop& loop = IOLoop::current();
  double start = wall_seconds();
  for (long i = 0; i < n; ++i) {
    Future<void> future;
    loop.add_callback([future] { future.set_result(); });
    co_await future;
  }
  seconds = wall_seconds() - start;
}

Future<void> complete_at_once(long& done) {
  ++done;
  co_return;
}

Future<void> spawn_loop(long n, double& seconds) {
  constexpr long kBatch = 10'000;
  long done = 0;
  long spawned = 0;
  double start = wall_seconds();
  while (spawned < n) {
    long batch = std::min(kBatch, n - spawned);
    for (long i = 0; i < batch; ++i) static_cast<void>(complete_at_once(done));
    spawned += batch;
    while (done < spawned) co_await gen::moment;
  }
  seconds = wall_seconds() - start;
}

/// Runs `workload(n, seconds)` on a fresh loop; returns the seconds it measured itself.
double on_fresh_loop(Future<void> (*workload)(long, double&), long n) {
  IOLoop loop;
  loop.make_current();
  double seconds = 0;
  loop.run_sync([&] { return workload(n, seconds); });
  return seconds;
}

}  // namespace

double await_scheduled_futures(long n) {
  return on_fresh_loop(await_loop, n);
}

double spawn_coroutines(long n) {
  return on_fresh_loop(spawn_loop, n);
}

TimerFigures run_timers(long n) {
  IOLoop loop;
  loop.make_current();
  long left = n;
  long rss_before = rss_kib();
  double cpu_start = 0, wall_start = 0, schedule = 0, wall_end = 0;
  loop.add_callback([&] {
    cpu_start = cpu_seconds();
    wall_start = wall_seconds();
    for (long i = 0; i < n; ++i) {
      auto delay = std::chrono::microseconds(static_cast<long>((i * 7919L) % n * 100000.0 / n));
      loop.call_later(delay, [&left, &wall_end, &loop] {
        if (--left == 0) {
          wall_end = wall_seconds();
          loop.stop();
        }
      });
    }
    schedule = wall_seconds() - wall_start;
  });
  loop.start();
  TimerFigures figures{};
  figures.cpu_seconds = cpu_seconds() - cpu_start;
  figures.wall_seconds = wall_end - wall_start;
  figures.schedule_seconds = schedule;
  figures.peak_rss_kib = peak_rss_kib();
  figures.rss_growth_kib = figures.peak_rss_kib - rss_before;
  return figures;
}

double add_and_cancel_timers(long n) {
  IOLoop loop;
  loop.make_current();
  std::vector<TimeoutHandle> handles;
  handles.reserve(static_cast<std::size_t>(n));
  double start = wall_seconds();
  for (long i = 0; i < n; ++i) {
    auto delay = std::chrono::microseconds((i * 7919L) % n * 60'000'000L / n);
    handles.push_back(loop.call_later(delay, [] {}));
  }
  for (TimeoutHandle handle : handles) loop.remove_timeout(handle);
  return wall_seconds() - start;
}

double add_callback_cross_thread(long n) {
  IOLoop loop;
  loop.make_current();
  long received = 0;
  double start = 0, end = 0;
  std::atomic<bool> go{false};
  std::thread producer([&] {
    while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
    for (long i = 0; i < n; ++i) {
      loop.add_callback([&received, &end, &loop, n] {
        if (++received == n) {
          end = wall_seconds();
          loop.stop();
        }
      });
    }
  });
  loop.add_callback([&] {
    start = wall_seconds();
    go.store(true, std::memory_order_release);
  });
  loop.start();
  producer.join();
  return end - start;
}

}  // namespace squall::bench
