#pragma once
// The async core's benchmark workloads, shared by core_bench (Google Benchmark) and micro_squall
// (the m1/m2/m3 protocol of ../shared/bench/micro_bench.sh, to compare with Asio and Tornado).

namespace squall::bench {

/// m1: one coroutine awaits `n` Futures, each resolved by a callback the loop runs. Wall seconds.
double await_scheduled_futures(long n);

/// m2: `n` coroutines that complete at once, started in batches of 10,000, all waited for.
double spawn_coroutines(long n);

struct TimerFigures {
  double cpu_seconds;       // process CPU time from the first call_later to the last firing
  double wall_seconds;      // wall time over the same span
  double schedule_seconds;  // wall time to arm the timers
  long peak_rss_kib;        // ru_maxrss at the end
  long rss_growth_kib;      // peak RSS less the RSS before arming
};
/// m3: `n` timers with delays spread over 0-100 ms in a scrambled order, run until all fired.
TimerFigures run_timers(long n);

/// `n` timers armed (delays spread over 0-60 s, like request timeouts) and then all removed
/// with remove_timeout, on a loop that is not running. Wall seconds for the whole.
double add_and_cancel_timers(long n);

/// `n` callbacks posted with add_callback from another thread to a running loop. Wall seconds.
double add_callback_cross_thread(long n);

}  // namespace squall::bench
