#include "squall/net/process.hpp"

#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <unordered_map>
#include <utility>

#include "squall/core/ioloop.hpp"
#include "squall/util/log.hpp"

extern char**
    environ;  // NOLINT(readability-redundant-declaration): unistd.h hides it without _GNU_SOURCE

namespace squall {

namespace detail {

/// What a Subprocess and the SIGCHLD handler's registry share about one child.
struct SubprocessState {
  struct Waiter {
    Future<int> future;
    bool raise;
  };

  pid_t pid = -1;
  std::string cmd;
  std::optional<int> returncode;
  Subprocess::ExitCallback exit_callback;
  std::vector<Waiter> waiters;
};

}  // namespace detail

namespace {

using detail::SubprocessState;

// ---- the SIGCHLD handler and its registry -----------------------------------------------------

/// Where the SIGCHLD handler is installed. `generation` names the installation, so that the
/// destruction of an older handler (replaced, or dropped with its closed loop) does not reset a
/// newer one.
struct HandlerPlace {
  IOLoop* loop = nullptr;
  std::uint64_t generation = 0;
  std::uint64_t last_generation = 0;
};

HandlerPlace& handler_place() noexcept {
  static HandlerPlace place;
  return place;
}

/// The children not reaped yet, by pid. Never destroyed, so that a loop closed during static
/// destruction may still drop its handler safely.
std::unordered_map<pid_t, std::shared_ptr<SubprocessState>>& registry() {
  static auto* children = new std::unordered_map<pid_t, std::shared_ptr<SubprocessState>>;
  return *children;
}

/// Resolves the pending `wait_for_exit` Futures of an exited child.
void resolve_waiters(SubprocessState& state) {
  int returncode = *state.returncode;
  std::vector<SubprocessState::Waiter> waiters = std::move(state.waiters);
  for (auto& waiter : waiters) {
    if (waiter.future.done()) continue;  // cancelled by its holder
    if (returncode != 0 && waiter.raise) {
      waiter.future.set_exception(CalledProcessError(returncode, state.cmd));
    } else {
      waiter.future.set_result(returncode);
    }
  }
}

/// Queues the exit callback of an exited child, if it has one.
void queue_exit_callback(SubprocessState& state) {
  if (!state.exit_callback) return;
  IOLoop::current().add_callback(
      [callback = std::move(state.exit_callback), returncode = *state.returncode]() mutable {
        callback(returncode);
      });
  state.exit_callback = nullptr;
}

/// Records that `state`'s child exited with wait status `status`, and tells whoever waits.
void finish(SubprocessState& state, int status) {
  state.returncode = WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
  resolve_waiters(state);
  queue_exit_callback(state);
}

/// Reaps `pid` if it has exited; true if it did.
bool try_reap(pid_t pid) {
  int status = 0;
  pid_t done = ::waitpid(pid, &status, WNOHANG);
  // ECHILD: someone else reaped it (a waitpid(-1), SIGCHLD ignored). As in Tornado, the entry
  // stays; there is no status to report.
  if (done != pid) return false;
  auto it = registry().find(pid);
  if (it == registry().end()) return true;
  std::shared_ptr<SubprocessState> state = std::move(it->second);
  registry().erase(it);
  finish(*state, status);
  return true;
}

/// Signals coalesce, so every SIGCHLD checks every child.
void reap_all() {
  std::vector<pid_t> pids;
  pids.reserve(registry().size());
  for (const auto& entry : registry()) pids.push_back(entry.first);
  for (pid_t pid : pids) try_reap(pid);
}

/// Forgets the handler's place when the handler is destroyed: by `uninitialize`, by a new SIGCHLD
/// handler replacing it, or by its loop closing.
class HandlerToken {
 public:
  explicit HandlerToken(std::uint64_t generation) noexcept : generation_(generation) {}
  HandlerToken(HandlerToken&& other) noexcept : generation_(std::exchange(other.generation_, 0)) {}
  HandlerToken& operator=(HandlerToken&&) = delete;
  ~HandlerToken() {
    HandlerPlace& place = handler_place();
    if (generation_ != 0 && place.generation == generation_) {
      place.loop = nullptr;
      place.generation = 0;
    }
  }

 private:
  std::uint64_t generation_;
};

struct SigchldHandler {
  HandlerToken token;
  void operator()(int) { reap_all(); }
  std::string describe() const { return "the Subprocess SIGCHLD handler"; }
};

/// Installs the handler on the current loop if there is none; throws InvalidStateError if it runs
/// on another loop, where the Futures of this thread's Subprocesses would be resolved.
void require_handler_here() {
  Subprocess::initialize();
  if (handler_place().loop != &IOLoop::current()) {
    throw InvalidStateError(
        "Subprocess: the SIGCHLD handler runs on another IOLoop; call "
        "Subprocess::uninitialize() on that loop's thread first");
  }
}

// ---- starting a child -------------------------------------------------------------------------

/// Descriptors closed when it goes out of scope.
class FdList {
 public:
  FdList() = default;
  FdList(const FdList&) = delete;
  FdList& operator=(const FdList&) = delete;
  ~FdList() {
    for (int fd : fds_) ::close(fd);
  }
  void add(int fd) { fds_.push_back(fd); }

 private:
  std::vector<int> fds_;
};

/// A close-on-exec copy of `fd` numbered 3 or more, so that the child's dup2 onto 0, 1 and 2 can
/// never overwrite a source it still needs.
int duplicate_high(int fd, const std::string& what) {
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) throw OSError(errno, what);
  return copy;
}

void check_spawn_call(int rc, const char* call) {
  if (rc != 0) throw OSError(rc, call);
}

class SpawnFileActions {
 public:
  SpawnFileActions() {
    check_spawn_call(::posix_spawn_file_actions_init(&actions_), "posix_spawn");
  }
  ~SpawnFileActions() { ::posix_spawn_file_actions_destroy(&actions_); }
  SpawnFileActions(const SpawnFileActions&) = delete;
  SpawnFileActions& operator=(const SpawnFileActions&) = delete;
  posix_spawn_file_actions_t* get() noexcept { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

class SpawnAttributes {
 public:
  SpawnAttributes() { check_spawn_call(::posix_spawnattr_init(&attributes_), "posix_spawn"); }
  ~SpawnAttributes() { ::posix_spawnattr_destroy(&attributes_); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  posix_spawnattr_t* get() noexcept { return &attributes_; }

 private:
  posix_spawnattr_t attributes_;
};

std::string join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& arg : argv) {
    if (!out.empty()) out += ' ';
    out += arg;
  }
  return out;
}

std::optional<int> g_task_id;

}  // namespace

// ---- CalledProcessError -------------------------------------------------------------------------

namespace {
std::string called_process_message(int returncode, const std::string& cmd) {
  if (returncode < 0) {
    return "Command '" + cmd + "' died with signal " + std::to_string(-returncode);
  }
  return "Command '" + cmd + "' returned non-zero exit status " + std::to_string(returncode);
}
}  // namespace

CalledProcessError::CalledProcessError(int returncode, std::string cmd)
    : Error(called_process_message(returncode, cmd)),
      returncode_(returncode),
      cmd_(std::move(cmd)) {}

// ---- Subprocess ---------------------------------------------------------------------------------

Subprocess::Subprocess(std::vector<std::string> argv, SubprocessOptions options) {
  if (argv.empty()) throw ValueError("Subprocess: argv is empty");
  if (options.stdin_mode.kind() == Stdio::Kind::kStdout ||
      options.stdout_mode.kind() == Stdio::Kind::kStdout) {
    throw ValueError("Subprocess: STDOUT is only for stderr_mode");
  }
  const Stdio* modes[3] = {&options.stdin_mode, &options.stdout_mode, &options.stderr_mode};
  std::unique_ptr<IOStream>* streams[3] = {&stdin_stream_, &stdout_stream_, &stderr_stream_};

  // What becomes the child's descriptor 0, 1 and 2; the parent closes its copies once the child
  // has started (or failed to).
  FdList child_ends;
  int sources[3] = {-1, -1, -1};
  for (int i = 0; i < 3; ++i) {
    switch (modes[i]->kind()) {
      case Stdio::Kind::kInherit:
      case Stdio::Kind::kStdout:
        break;
      case Stdio::Kind::kFd:
        if (modes[i]->descriptor() < 0) throw ValueError("Subprocess: negative descriptor");
        sources[i] = duplicate_high(modes[i]->descriptor(), "Subprocess: dup");
        child_ends.add(sources[i]);
        break;
      case Stdio::Kind::kStream: {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) throw OSError(errno, "Subprocess: pipe");
        int parent_end = i == 0 ? fds[1] : fds[0];
        int child_end = i == 0 ? fds[0] : fds[1];
        child_ends.add(child_end);
        if (child_end < 3) {
          child_end = duplicate_high(child_end, "Subprocess: dup");
          child_ends.add(child_end);
        }
        sources[i] = child_end;
        try {
          *streams[i] = std::make_unique<IOStream>(parent_end);
        } catch (...) {
          ::close(parent_end);
          throw;
        }
        break;
      }
    }
  }

  SpawnFileActions actions;
  for (int i = 0; i < 3; ++i) {
    if (sources[i] >= 0) {
      check_spawn_call(::posix_spawn_file_actions_adddup2(actions.get(), sources[i], i),
                       "posix_spawn");
    }
  }
  if (options.stderr_mode.kind() == Stdio::Kind::kStdout) {
    check_spawn_call(::posix_spawn_file_actions_adddup2(actions.get(), 1, 2), "posix_spawn");
  }
  if (options.cwd) {
    check_spawn_call(::posix_spawn_file_actions_addchdir_np(actions.get(), options.cwd->c_str()),
                     "posix_spawn");
  }
  check_spawn_call(::posix_spawn_file_actions_addclosefrom_np(actions.get(), 3), "posix_spawn");

  // The parent blocks the signals its loop reads through a signalfd; the child must not inherit
  // that mask. SIGPIPE and SIGXFSZ go back to their default action, as Python does.
  SpawnAttributes attributes;
  sigset_t empty;
  sigset_t defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGXFSZ);
  check_spawn_call(::posix_spawnattr_setsigmask(attributes.get(), &empty), "posix_spawn");
  check_spawn_call(::posix_spawnattr_setsigdefault(attributes.get(), &defaults), "posix_spawn");
  check_spawn_call(
      ::posix_spawnattr_setflags(attributes.get(), POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF),
      "posix_spawn");

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (auto& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  std::vector<char*> env;
  if (options.env) {
    env_strings.reserve(options.env->size());
    for (const auto& [name, value] : *options.env) {
      std::string& entry = env_strings.emplace_back(name);
      entry += '=';
      entry += value;
    }
    env.reserve(env_strings.size() + 1);
    for (auto& entry : env_strings) env.push_back(entry.data());
    env.push_back(nullptr);
  }
  char** envp = options.env ? env.data() : environ;

  auto state = std::make_shared<SubprocessState>();
  state->cmd = join(argv);

  // glibc's posix_spawn runs the child with CLONE_VM | CLONE_VFORK and returns the errno of a
  // failed exec or file action, so no error pipe of our own is needed.
  pid_t pid = -1;
  int rc = argv[0].find('/') != std::string::npos
               ? ::posix_spawn(&pid, args[0], actions.get(), attributes.get(), args.data(), envp)
               : ::posix_spawnp(&pid, args[0], actions.get(), attributes.get(), args.data(), envp);
  if (rc != 0) {
    std::string what = "Cannot run '" + argv[0] + "'";
    if (options.cwd) what += " in '" + *options.cwd + "'";
    throw OSError(rc, what);
  }
  state->pid = pid;
  registry().emplace(pid, state);
  state_ = std::move(state);
}

Subprocess::~Subprocess() {
  detach();
}

Subprocess::Subprocess(Subprocess&& other) noexcept
    : state_(std::move(other.state_)),
      stdin_stream_(std::move(other.stdin_stream_)),
      stdout_stream_(std::move(other.stdout_stream_)),
      stderr_stream_(std::move(other.stderr_stream_)) {}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    detach();
    state_ = std::move(other.state_);
    stdin_stream_ = std::move(other.stdin_stream_);
    stdout_stream_ = std::move(other.stdout_stream_);
    stderr_stream_ = std::move(other.stderr_stream_);
  }
  return *this;
}

void Subprocess::detach() noexcept {
  if (!state_) return;
  // The registry keeps the state (if the child is still running) only to reap the child.
  state_->exit_callback = nullptr;
  std::vector<detail::SubprocessState::Waiter> waiters = std::move(state_->waiters);
  for (auto& waiter : waiters) waiter.future.cancel();
  state_.reset();
}

pid_t Subprocess::pid() const noexcept {
  return state_ ? state_->pid : -1;
}

std::optional<int> Subprocess::returncode() const noexcept {
  return state_ ? state_->returncode : std::nullopt;
}

Future<int> Subprocess::wait_for_exit(bool raise) {
  if (!state_) throw InvalidStateError("wait_for_exit() on a moved-from Subprocess");
  require_handler_here();
  Future<int> future;
  state_->waiters.push_back({future, raise});
  if (state_->returncode) {
    resolve_waiters(*state_);
  } else {
    try_reap(state_->pid);
  }
  return future;
}

void Subprocess::set_exit_callback(ExitCallback callback) {
  if (!state_) throw InvalidStateError("set_exit_callback() on a moved-from Subprocess");
  require_handler_here();
  state_->exit_callback = std::move(callback);
  if (state_->returncode) {
    queue_exit_callback(*state_);
  } else {
    try_reap(state_->pid);
  }
}

void Subprocess::initialize() {
  HandlerPlace& place = handler_place();
  if (place.loop) return;
  IOLoop& loop = IOLoop::current();
  std::uint64_t generation = ++place.last_generation;
  loop.add_signal_handler(SIGCHLD, SigchldHandler{HandlerToken(generation)});
  place.loop = &loop;
  place.generation = generation;
  // A child that exited before SIGCHLD was blocked sent a signal nobody read.
  reap_all();
}

void Subprocess::uninitialize() noexcept {
  HandlerPlace& place = handler_place();
  IOLoop* loop = std::exchange(place.loop, nullptr);
  place.generation = 0;
  if (loop) loop->remove_signal_handler(SIGCHLD);
}

// ---- fork_processes ---------------------------------------------------------------------------

namespace process {

std::size_t cpu_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    int count = CPU_COUNT(&set);
    if (count > 0) return static_cast<std::size_t>(count);
  }
  long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (online > 0) return static_cast<std::size_t>(online);
  log::gen_log().error("Could not detect number of processors; assuming 1");
  return 1;
}

int fork_processes(int num_processes, int max_restarts) {
  if (g_task_id) throw InvalidStateError("fork_processes() called in a worker it started");
  if (IOLoop::current_or_null() != nullptr) {
    throw InvalidStateError(
        "Cannot run in multiple processes: an IOLoop has already been created; call "
        "fork_processes() before creating any IOLoop");
  }
  if (num_processes <= 0) num_processes = static_cast<int>(cpu_count());
  log::gen_log().info("Starting {} processes", num_processes);

  std::map<pid_t, int> children;  // pid -> task id
  // True in the new worker, which then returns its id.
  auto start_child = [&](int id) {
    std::fflush(nullptr);  // or each worker would write what the parent had buffered
    pid_t pid = ::fork();
    if (pid < 0) throw OSError(errno, "fork");
    if (pid == 0) {
      g_task_id = id;
      return true;
    }
    children.emplace(pid, id);
    return false;
  };

  for (int id = 0; id < num_processes; ++id) {
    if (start_child(id)) return id;
  }
  int num_restarts = 0;
  while (!children.empty()) {
    int status = 0;
    pid_t pid = ::wait(&status);
    if (pid < 0) {
      if (errno == EINTR) continue;
      throw OSError(errno, "wait");
    }
    auto it = children.find(pid);
    if (it == children.end()) continue;
    int id = it->second;
    children.erase(it);
    if (WIFSIGNALED(status)) {
      log::gen_log().warn("child {} (pid {}) killed by signal {}, restarting", id, pid,
                          WTERMSIG(status));
    } else if (WEXITSTATUS(status) != 0) {
      log::gen_log().warn("child {} (pid {}) exited with status {}, restarting", id, pid,
                          WEXITSTATUS(status));
    } else {
      log::gen_log().info("child {} (pid {}) exited normally", id, pid);
      continue;
    }
    if (++num_restarts > max_restarts) throw Error("Too many child restarts, giving up");
    if (start_child(id)) return id;
  }
  // Every worker exited cleanly: exiting here keeps the caller from going on to start a server
  // of its own after the call, as Tornado does.
  std::exit(0);
}

std::optional<int> task_id() noexcept {
  return g_task_id;
}

}  // namespace process

}  // namespace squall
