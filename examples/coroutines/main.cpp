// coroutines_demo: a tour of squall's core in about a second. It prints each step with the time
// since the start:
//   1. three coroutines sleep concurrently (300, 500 and 200 ms) and gen::multi gathers them;
//   2. a PeriodicCallback ticks every 250 ms throughout, showing that the loop never blocks;
//   3. a blocking computation runs on the thread pool through IOLoop::run_in_executor;
//   4. gen::with_timeout gives up on a slow coroutine, and the TimeoutError is caught;
//   5. the loop is closed, which destroys the coroutine still asleep, and the program exits 0.
//
// Usage: coroutines_demo [--port N] [--address A] [--help]
// Every squall example accepts --port and --address; this one does not listen yet.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <squall/core/gen.hpp>
#include <squall/core/ioloop.hpp>
#include <squall/util/error.hpp>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const Clock::time_point kStart = Clock::now();

/// Prints "[  0.123s] message" in one write, so lines from two threads never mix.
void say(std::string_view message) {
  double seconds = std::chrono::duration<double>(Clock::now() - kStart).count();
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "[%7.3fs] ", seconds);
  std::cout << (std::string(stamp) + std::string(message) + '\n') << std::flush;
}

struct Options {
  std::string address = "127.0.0.1";
  int port = 8888;
};

void print_usage(std::ostream& out, const char* program) {
  out << "usage: " << program << " [--port N] [--address A] [--help]\n"
      << "  --port N      port to listen on (default 8888; unused by this demo)\n"
      << "  --address A   address to listen on (default 127.0.0.1; unused by this demo)\n"
      << "  --help        show this help and exit\n";
}

/// Parses argv by hand: "--name value" or "--name=value". Exits with status 2 on a bad option.
Options parse_options(int argc, char** argv) {
  Options options;
  auto fail = [argv](const std::string& message) {
    std::cerr << argv[0] << ": " << message << "\n";
    print_usage(std::cerr, argv[0]);
    std::exit(2);
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      print_usage(std::cout, argv[0]);
      std::exit(0);
    }
    std::string name = arg;
    std::string value;
    bool has_value = false;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    if (name != "--port" && name != "--address") fail("unknown option " + arg);
    if (!has_value) {
      if (i + 1 >= argc) fail(name + " needs a value");
      value = argv[++i];
    }
    if (name == "--address") {
      options.address = value;
      continue;
    }
    char* end = nullptr;
    long port = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || port < 0 || port > 65535) {
      fail("--port needs a number from 0 to 65535, not '" + value + "'");
    }
    options.port = static_cast<int>(port);
  }
  return options;
}

/// One of the concurrent tasks: sleeps without blocking, then reports.
squall::Future<std::string> task(std::string name, std::chrono::milliseconds delay) {
  say("task " + name + ": started, sleeping " + std::to_string(delay.count()) + " ms");
  co_await squall::gen::sleep(delay);
  say("task " + name + ": woke up");
  co_return name;
}

/// A blocking computation: the number of primes below `limit`, by trial division. It runs on a
/// worker thread of the pool, so it may keep a CPU busy as long as it likes.
std::uint64_t count_primes(std::uint64_t limit) {
  std::ostringstream thread;
  thread << std::this_thread::get_id();
  say("count_primes: running on worker thread " + thread.str());
  std::uint64_t count = 0;
  for (std::uint64_t n = 2; n < limit; ++n) {
    bool prime = true;
    for (std::uint64_t d = 2; d * d <= n && prime; ++d) prime = n % d != 0;
    count += prime;
  }
  return count;
}

/// Prints when the loop destroys it: the frame of a coroutine still suspended at close().
struct FrameWatcher {
  ~FrameWatcher() { say("slow_answer: frame destroyed by close(), never resumed"); }
};

/// Too slow for the timeout below; still asleep when the loop closes.
squall::Future<int> slow_answer() {
  FrameWatcher watcher;
  co_await squall::gen::sleep(5s);
  co_return 42;
}

squall::Future<void> main_coroutine() {
  squall::IOLoop& loop = squall::IOLoop::current();

  // A heartbeat for the whole run: it keeps ticking while coroutines wait and while the pool
  // computes, because nothing here blocks the loop.
  int ticks = 0;
  squall::PeriodicCallback heartbeat([&ticks] { say("tick " + std::to_string(++ticks)); }, 250ms);
  heartbeat.start();

  say("step 1: three tasks at once, gathered with gen::multi");
  std::vector<squall::Future<std::string>> tasks;
  tasks.push_back(task("alpha", 300ms));
  tasks.push_back(task("beta", 500ms));
  tasks.push_back(task("gamma", 200ms));
  std::vector<std::string> names = co_await squall::gen::multi(std::move(tasks));
  say("step 1: all done (" + names[0] + ", " + names[1] + ", " + names[2] +
      ") after the longest sleep, not the sum");

  say("step 2: a blocking computation on the thread pool");
  std::uint64_t primes = co_await loop.run_in_executor(nullptr, count_primes, 1'500'000);
  say("step 2: " + std::to_string(primes) + " primes below 1500000, back on the loop thread");

  say("step 3: with_timeout gives slow_answer (5 s) 300 ms");
  try {
    int answer = co_await squall::gen::with_timeout(300ms, slow_answer());
    say("step 3: unexpected answer " + std::to_string(answer));
  } catch (const squall::TimeoutError& e) {
    say(std::string("step 3: caught TimeoutError (") + e.what() + "); slow_answer sleeps on");
  }

  heartbeat.stop();
  say("heartbeat stopped after " + std::to_string(ticks) + " ticks");
}

}  // namespace

int main(int argc, char** argv) {
  Options options = parse_options(argc, argv);
  say("coroutines_demo: address " + options.address + ", port " + std::to_string(options.port) +
      " (not used: this demo does not listen)");

  squall::IOLoop loop;  // this thread's loop (main has none before)
  try {
    loop.run_sync(main_coroutine);
  } catch (const std::exception& e) {
    say(std::string("failed: ") + e.what());
    return 1;
  }
  say("closing the loop");
  loop.close();
  say("done");
  return 0;
}
