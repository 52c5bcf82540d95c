// websocket_bench: the WebSocket benchmark of issue 7, a driver that starts the echo server as a
// child process and measures it from outside.
//
// 1. Throughput: 100 connections, each keeping a window of 64-byte masked text messages in
//    flight (one by default: send, await the echo, send the next); every echo is checked byte
//    for byte. After a warm-up, several runs of a fixed duration; prints each run, then the
//    medians: `messages_per_second=N` (echoes received per second), the server's CPU share
//    (utime + stime from /proc/<pid>/stat over the run's wall time) and messages per second of
//    server CPU.
// 2. Memory: a fresh server, warmed by a short echo run on 100 connections that are then closed
//    with a close handshake; its VmRSS once settled; then 10,000 connections opened and
//    handshaken (a window of them in flight at a time) and left idle; VmRSS once settled again.
//    Prints `kib_per_idle_connection=X` = growth / connections. Then every idle connection
//    echoes one message, to show they were all really open.
//
// The server runs pinned to CPU 0 and this driver to CPU 1 (when the machine has two). The client
// side is the raw-socket epoll client of websocket_raw_client.hpp (not squall's
// websocket_connect), so that it costs the measurement little CPU and memory.
//
// Usage: websocket_bench [--quick] [--peer squall|tornado] [--server PATH] [--python PATH]
//                        [--connections N] [--window W] [--warmup S] [--duration S] [--runs N]
//                        [--idle N] [--no-throughput] [--no-memory]
// The last lines are `messages_per_second=N`, `kib_per_idle_connection=X` and
// `websocket_bench: ok`; any failed handshake, wrong echo or lost connection exits with 1.

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "websocket_raw_client.hpp"

#ifndef WEBSOCKET_BENCH_SOURCE_DIR
#define WEBSOCKET_BENCH_SOURCE_DIR "bench"
#endif

namespace {

using squall::bench::ws::Client;
using squall::bench::ws::fail;
using squall::bench::ws::kPayloadSize;
using Clock = std::chrono::steady_clock;

constexpr int kServerCpu = 0;
constexpr int kDriverCpu = 1;

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

struct Options {
  bool quick = false;
  std::string peer = "squall";
  std::string server;  // the server program (squall) or script (tornado)
  std::string python = "/usr/bin/python3";
  std::size_t connections = 100;
  std::size_t window = 1;
  double warmup = 2;
  double duration = 5;
  int runs = 5;
  std::size_t idle = 10000;
  std::size_t handshakes_in_flight = 64;
  bool throughput = true;
  bool memory = true;
};

// --- /proc -----------------------------------------------------------------------------------

long read_rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  fail("cannot read VmRSS of process " + std::to_string(pid));
}

// A process's CPU time in user space and in the kernel, in clock ticks.
struct CpuTicks {
  long long user = 0;
  long long system = 0;
};

CpuTicks read_cpu_ticks(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  std::size_t close = stat.rfind(')');
  if (close == std::string::npos) fail("cannot read /proc/" + std::to_string(pid) + "/stat");
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  CpuTicks ticks;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) ticks.user = std::stoll(field);
    if (i == 15) ticks.system = std::stoll(field);
  }
  return ticks;
}

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Resident KiB by kind of mapping ("[heap]", "anonymous", "[stack]", "files"), from smaps: says
// where a growth of RSS lies.
std::map<std::string, long> rss_by_mapping(pid_t pid) {
  std::ifstream smaps("/proc/" + std::to_string(pid) + "/smaps");
  std::map<std::string, long> result;
  std::string line, kind = "anonymous";
  while (std::getline(smaps, line)) {
    if (line.empty()) continue;
    if (std::isxdigit(static_cast<unsigned char>(line[0])) && line.find('-') < line.find(' ')) {
      // "start-end perms offset dev inode   path": the path is the sixth field, if any.
      std::istringstream fields(line);
      std::string skip, path;
      for (int i = 0; i < 5; ++i) fields >> skip;
      std::getline(fields >> std::ws, path);
      kind = path.empty() ? "anonymous" : path.starts_with('[') ? path : "files";
    } else if (line.starts_with("Rss:")) {
      result[kind] += std::strtol(line.c_str() + 4, nullptr, 10);
    }
  }
  return result;
}

std::size_t count_open_files(pid_t pid) {
  std::error_code error;
  std::filesystem::directory_iterator files("/proc/" + std::to_string(pid) + "/fd", error);
  return error ? 0 : static_cast<std::size_t>(std::distance(files, {}));
}

void pin_to_cpu(pid_t pid, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(pid, sizeof set, &set);
}

bool can_pin() {
  return std::thread::hardware_concurrency() >= 2;
}

// Raises the soft limit of open files to `needed` (and the hard one, which root may do).
void raise_nofile(rlim_t needed) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur >= needed) return;
  if (limit.rlim_max < needed) limit.rlim_max = needed;
  limit.rlim_cur = needed;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    fail("cannot raise the limit of open files to " + std::to_string(needed) + " (" +
         std::strerror(errno) + "); lower --idle or raise ulimit -n");
  }
}

// --- The server child ------------------------------------------------------------------------

class ServerProcess {
 public:
  ServerProcess(const std::vector<std::string>& argv, rlim_t nofile) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) fail("pipe2: " + std::string(std::strerror(errno)));
    pid_ = fork();
    if (pid_ < 0) fail("fork: " + std::string(std::strerror(errno)));
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      // A group of its own, so that stopping it stops what a wrapper (heaptrack...) started.
      setpgid(0, 0);
      if (can_pin()) pin_to_cpu(0, kServerCpu);
      rlimit limit{nofile, nofile};
      setrlimit(RLIMIT_NOFILE, &limit);
      dup2(out[1], STDOUT_FILENO);
      std::vector<char*> args;
      for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      std::fprintf(stderr, "websocket_bench: cannot run %s: %s\n", args[0], std::strerror(errno));
      _exit(127);
    }
    setpgid(pid_, pid_);  // as the child does: whichever runs first
    close(out[1]);
    // The server prints a line "port=N" once it listens (after whatever a wrapper, such as
    // heaptrack, prints first).
    std::string text;
    auto port_line = [&] {
      std::size_t at = text.starts_with("port=") ? 0 : text.find("\nport=");
      if (at == std::string::npos) return at;
      at = text.find('=', at) + 1;
      return text.find('\n', at) == std::string::npos ? std::string::npos : at;
    };
    auto deadline = Clock::now() + std::chrono::seconds(30);
    while (port_line() == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      pollfd pfd{out[0], POLLIN, 0};
      if (left.count() <= 0 || poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
        fail("the server did not print port=N within 30 s: " + argv[0]);
      }
      char buffer[256];
      ssize_t n = read(out[0], buffer, sizeof buffer);
      if (n <= 0) fail("the server exited before listening: " + argv[0]);
      text.append(buffer, static_cast<std::size_t>(n));
    }
    out_ = out[0];  // kept open: the server may print more, and must not get SIGPIPE
    port_ = static_cast<std::uint16_t>(std::strtoul(text.c_str() + port_line(), nullptr, 10));
    if (port_ == 0) fail("unexpected port line from the server: " + text);
  }

  ~ServerProcess() { stop(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  pid_t pid() const { return pid_; }
  std::uint16_t port() const { return port_; }

  // SIGTERM, then SIGKILL to its process group if it has not exited within 5 s.
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    auto deadline = Clock::now() + std::chrono::seconds(5);
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        kill(-pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    close(out_);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::uint16_t port_ = 0;
};

// --- The measurements ------------------------------------------------------------------------

// Resets the client's connections, then waits until the server has closed its side of them
// (its count of open files is back to `files_before`), so that it is stopped with nothing in
// progress: a sanitizer's leak report at its exit then shows real leaks only.
void close_clients(const ServerProcess& server, Client& client, std::size_t files_before) {
  client.abort_all();
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (count_open_files(server.pid()) > files_before) {
    if (Clock::now() > deadline) {
      std::cout << "note: the server still had " << count_open_files(server.pid()) - files_before
                << " files more than at its start 10 s after the connections were reset\n";
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

template <typename T>
T median(std::vector<T> values) {
  std::sort(values.begin(), values.end());
  std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::vector<std::string> server_command(const Options& options, std::uint16_t port = 0) {
  if (options.peer == "tornado") {
    return {options.python,       options.server, "--port",
            std::to_string(port), "--address",    "127.0.0.1"};
  }
  return {options.server, "--port", std::to_string(port), "--address", "127.0.0.1"};
}

struct ThroughputRun {
  double messages_per_second;
  double server_cpu_share;
  double server_user_share;  // of its CPU time, the part in user space
  double messages_per_server_cpu_second;
  double driver_cpu_share;
};

// Keeps `window` messages in flight on each connection until `seconds` have passed.
void echo_for(Client& client, double seconds) {
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  for (auto now = Clock::now(); now < end; now = Clock::now()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - now).count();
    client.poll_once(static_cast<int>(std::max<long long>(left, 1)));
  }
}

double measure_throughput(const Options& options, rlim_t nofile) {
  ServerProcess server(server_command(options), nofile);
  const std::size_t files_before = count_open_files(server.pid());
  Client client(server.port());
  client.open(options.connections, options.handshakes_in_flight, 30);
  client.set_resend(true);
  for (std::size_t i = 0; i < options.connections; ++i) client.send_messages(i, options.window);
  echo_for(client, options.warmup);

  const double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::vector<ThroughputRun> runs;
  for (int r = 0; r < options.runs; ++r) {
    auto start = Clock::now();
    std::uint64_t echoes = client.echoes();
    CpuTicks server_ticks = read_cpu_ticks(server.pid());
    double driver_cpu = process_cpu_seconds();
    echo_for(client, options.duration);
    double wall = seconds_between(start, Clock::now());
    CpuTicks server_end = read_cpu_ticks(server.pid());
    auto user = static_cast<double>(server_end.user - server_ticks.user);
    auto system = static_cast<double>(server_end.system - server_ticks.system);
    double server_cpu = (user + system) / ticks_per_second;
    ThroughputRun run{};
    run.messages_per_second = static_cast<double>(client.echoes() - echoes) / wall;
    run.server_cpu_share = server_cpu / wall;
    run.server_user_share = user + system > 0 ? user / (user + system) : 0;
    run.messages_per_server_cpu_second =
        server_cpu > 0 ? static_cast<double>(client.echoes() - echoes) / server_cpu : 0;
    run.driver_cpu_share = (process_cpu_seconds() - driver_cpu) / wall;
    runs.push_back(run);
    std::cout << "run " << r + 1 << ": " << std::fixed << std::setprecision(0)
              << run.messages_per_second << " messages/s, server CPU " << std::setprecision(1)
              << 100 * run.server_cpu_share << "% (" << 100 * run.server_user_share
              << "% of it in user space), " << std::setprecision(0)
              << run.messages_per_server_cpu_second
              << " messages per server CPU second, driver CPU " << std::setprecision(1)
              << 100 * run.driver_cpu_share << "%" << std::endl;
  }
  client.set_resend(false);
  client.drain(0, options.connections, 10);
  std::uint64_t total = client.echoes();
  close_clients(server, client, files_before);

  auto pick = [&](double ThroughputRun::*field) {
    std::vector<double> values;
    for (const ThroughputRun& run : runs) values.push_back(run.*field);
    return median(values);
  };
  double rate = pick(&ThroughputRun::messages_per_second);
  std::cout << std::fixed << std::setprecision(3)
            << "server_cpu_share=" << pick(&ThroughputRun::server_cpu_share) << "\n"
            << "server_user_share=" << pick(&ThroughputRun::server_user_share) << "\n"
            << "driver_cpu_share=" << pick(&ThroughputRun::driver_cpu_share) << "\n"
            << std::setprecision(0) << "messages_per_server_cpu_second="
            << pick(&ThroughputRun::messages_per_server_cpu_second) << "\n"
            << "echoes_checked=" << total << "\n";
  return rate;
}

// The server's VmRSS once it stops moving: samples every 100 ms (50 in --quick) until the last
// ten span at most 8 KiB, or `timeout_s` passed. Keeps handling the client's events meanwhile.
long settled_rss(Client& client, pid_t pid, const Options& options, double timeout_s) {
  int interval_ms = options.quick ? 50 : 100;
  auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  std::vector<long> samples;
  while (true) {
    client.poll_once(interval_ms);
    samples.push_back(read_rss_kib(pid));
    if (samples.size() >= 10) {
      auto last = samples.end() - 10;
      auto [low, high] = std::minmax_element(last, samples.end());
      if (*high - *low <= 8) return samples.back();
    }
    if (Clock::now() > deadline) {
      std::cout << "note: the server's RSS did not settle within " << timeout_s << " s\n";
      return samples.back();
    }
  }
}

double measure_memory(const Options& options, rlim_t nofile) {
  ServerProcess server(server_command(options), nofile);
  const std::size_t files_before = count_open_files(server.pid());
  Client client(server.port());
  // Warm-up: the code paths of a connection's life run once before the baseline.
  const std::size_t warm = std::min<std::size_t>(100, options.idle);
  client.open(warm, options.handshakes_in_flight, 30);
  client.set_resend(true);
  for (std::size_t i = 0; i < warm; ++i) client.send_messages(i, 1);
  echo_for(client, options.quick ? 0.2 : 0.5);
  client.set_resend(false);
  client.drain(0, warm, 10);
  client.close_politely(0, warm, 10);

  long before = settled_rss(client, server.pid(), options, 10);
  std::map<std::string, long> mappings_before = rss_by_mapping(server.pid());
  auto start = Clock::now();
  client.open(options.idle, options.handshakes_in_flight, 120);
  double open_seconds = seconds_between(start, Clock::now());
  long after = settled_rss(client, server.pid(), options, 30);
  std::map<std::string, long> mappings_after = rss_by_mapping(server.pid());

  // Every idle connection echoes one message: all of them are really open.
  for (std::size_t i = warm; i < warm + options.idle; ++i) client.send_messages(i, 1);
  client.drain(warm, warm + options.idle, 30);

  double per_connection = static_cast<double>(after - before) / static_cast<double>(options.idle);
  std::cout << std::fixed << std::setprecision(2) << "idle_connections=" << options.idle
            << " (opened in " << open_seconds << " s, each then echoed one message)\n"
            << "server_rss_before_kib=" << before << "\n"
            << "server_rss_after_kib=" << after << "\n"
            << "driver_rss_kib=" << read_rss_kib(getpid()) << "\n"
            << "growth by mapping (KiB):";
  for (const auto& [kind, kib] : mappings_after) {
    long growth = kib - mappings_before[kind];
    if (growth != 0) std::cout << " " << kind << " " << (growth > 0 ? "+" : "") << growth;
  }
  std::cout << "\n";
  close_clients(server, client, files_before);
  return per_connection;
}

[[noreturn]] void usage(const char* program, int status) {
  (status == 0 ? std::cout : std::cerr)
      << "Usage: " << program << " [options]\n"
      << "Echo throughput and idle-connection memory of a WebSocket echo server.\n"
      << "  --quick             short runs and 1,000 idle connections (a smoke test)\n"
      << "  --peer NAME         squall (default) or tornado\n"
      << "  --server PATH       the server program (squall) or script (tornado)\n"
      << "  --python PATH       the Python for --peer tornado (/usr/bin/python3)\n"
      << "  --connections N     connections of the throughput runs (100)\n"
      << "  --window W          messages in flight per connection (1)\n"
      << "  --warmup S          seconds of echo before the runs (2)\n"
      << "  --duration S        seconds per run (5)\n"
      << "  --runs N            runs; the median is printed (5)\n"
      << "  --idle N            idle connections of the memory measurement (10000)\n"
      << "  --no-throughput, --no-memory   skip one of the two\n";
  std::exit(status);
}

Options parse_options(int argc, char** argv) {
  Options options;
  bool explicit_idle = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (auto eq = arg.find('='); eq != std::string_view::npos) {
        return std::string(arg.substr(eq + 1));
      }
      if (i + 1 >= argc) usage(argv[0], 2);
      return argv[++i];
    };
    auto number = [&](double low) {
      std::string name(arg), text = value();
      char* end = nullptr;
      double result = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || !(result >= low)) {
        std::cerr << argv[0] << ": invalid " << name << " '" << text << "'\n";
        std::exit(2);
      }
      return result;
    };
    if (arg == "--help" || arg == "-h") usage(argv[0], 0);
    std::string_view name = arg.substr(0, arg.find('='));
    if (name == "--quick") {
      options.quick = true;
    } else if (name == "--peer") {
      options.peer = value();
      if (options.peer != "squall" && options.peer != "tornado") usage(argv[0], 2);
    } else if (name == "--server") {
      options.server = value();
    } else if (name == "--python") {
      options.python = value();
    } else if (name == "--connections") {
      options.connections = static_cast<std::size_t>(number(1));
    } else if (name == "--window") {
      options.window = static_cast<std::size_t>(number(1));
    } else if (name == "--warmup") {
      options.warmup = number(0);
    } else if (name == "--duration") {
      options.duration = number(0.01);
    } else if (name == "--runs") {
      options.runs = static_cast<int>(number(1));
    } else if (name == "--idle") {
      options.idle = static_cast<std::size_t>(number(1));
      explicit_idle = true;
    } else if (name == "--no-throughput") {
      options.throughput = false;
    } else if (name == "--no-memory") {
      options.memory = false;
    } else {
      std::cerr << argv[0] << ": unknown option '" << arg << "'\n";
      usage(argv[0], 2);
    }
  }
  if (options.quick) {
    options.warmup = std::min(options.warmup, 0.2);
    options.duration = std::min(options.duration, 0.5);
    options.runs = std::min(options.runs, 3);
    if (!explicit_idle) options.idle = 1000;
  }
  if (options.server.empty()) {
    if (options.peer == "tornado") {
      options.server = WEBSOCKET_BENCH_SOURCE_DIR "/websocket_tornado_echo.py";
    } else {
      // websocket_bench_server is built beside this program.
      std::string self(4096, '\0');
      ssize_t n = readlink("/proc/self/exe", self.data(), self.size());
      self.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
      options.server = self.substr(0, self.rfind('/') + 1) + "websocket_bench_server";
    }
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  Options options = parse_options(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  if (can_pin()) pin_to_cpu(0, kDriverCpu);
  // Both sides hold every connection, plus a few files of their own.
  const rlim_t nofile =
      static_cast<rlim_t>(std::max(options.idle + 100, options.connections) + 256);
  raise_nofile(nofile);

  std::cout << "peer=" << options.peer << " (" << options.server << ")\n"
            << "server_cpu=" << (can_pin() ? std::to_string(kServerCpu) : "any")
            << " driver_cpu=" << (can_pin() ? std::to_string(kDriverCpu) : "any") << std::endl;
  double rate = 0, per_connection = 0;
  if (options.throughput) {
    std::cout << "throughput: " << options.connections << " connections, " << options.window
              << " message(s) of " << kPayloadSize << " bytes in flight on each, " << options.runs
              << " runs of " << options.duration << " s after " << options.warmup << " s of warm-up"
              << std::endl;
    rate = measure_throughput(options, nofile);
  }
  if (options.memory) per_connection = measure_memory(options, nofile);
  // The results last, in the order the smoke test expects.
  if (options.throughput) {
    std::cout << std::fixed << std::setprecision(0) << "messages_per_second=" << rate << "\n";
  }
  if (options.memory) {
    std::cout << std::fixed << std::setprecision(2) << "kib_per_idle_connection=" << per_connection
              << "\n";
  }
  std::cout << "websocket_bench: ok" << std::endl;
  return 0;
}
