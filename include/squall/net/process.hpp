#pragma once
/// \file
/// Processes (Tornado's `process`): `process::fork_processes` runs a program in several worker
/// processes, `process::task_id` tells a worker its number, `process::cpu_count` counts the CPUs,
/// and `Subprocess` starts a child program whose exit is a Future and whose standard streams can
/// be IOStreams.
///
/// A Subprocess learns that its child exited through one SIGCHLD handler per process, installed
/// on an IOLoop by `Subprocess::initialize()` (or lazily, by the first `wait_for_exit` or
/// `set_exit_callback`). The handler reaps only the children of live Subprocess objects (by pid,
/// never `waitpid(-1)`), so other code may wait for its own children.

#include <sys/types.h>

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "squall/core/concurrent.hpp"
#include "squall/core/detail/unique_function.hpp"
#include "squall/net/iostream.hpp"
#include "squall/util/error.hpp"

namespace squall {

namespace detail {
struct SubprocessState;
}  // namespace detail

/// A child process ended with a non-zero exit status, or was killed by a signal, and the caller
/// asked for an exception (`Subprocess::wait_for_exit(true)`); Python's `CalledProcessError`,
/// which Tornado raises.
class CalledProcessError : public Error {
 public:
  /// `returncode` as `Subprocess::returncode()` gives it (-N for signal N); `cmd` the argv,
  /// joined by spaces.
  CalledProcessError(int returncode, std::string cmd);
  /// The exit status, or -N if the child was killed by signal N.
  int returncode() const noexcept { return returncode_; }
  /// The command that failed.
  const std::string& cmd() const noexcept { return cmd_; }

 private:
  int returncode_;
  std::string cmd_;
};

/// Where one of a child's standard streams goes: inherited from the parent (the default),
/// `Subprocess::STREAM`, `Subprocess::STDOUT` (stderr only), or a descriptor of the parent.
class SubprocessStdio {
 public:
  /// Which of the four redirections this is.
  enum class Kind : unsigned char { kInherit, kStream, kStdout, kFd };

  /// The parent's own descriptor is inherited.
  constexpr SubprocessStdio() noexcept = default;
  /// The child's stream is a copy of the parent's descriptor `fd`. The parent keeps `fd` (it is
  /// neither closed nor taken); it must stay open until the Subprocess constructor returns.
  static constexpr SubprocessStdio fd(int descriptor) noexcept { return {Kind::kFd, descriptor}; }

  /// Which redirection this is.
  constexpr Kind kind() const noexcept { return kind_; }
  /// The descriptor of a `kFd` redirection, -1 otherwise.
  constexpr int descriptor() const noexcept { return fd_; }

 private:
  friend class Subprocess;
  constexpr SubprocessStdio(Kind kind, int fd) noexcept : kind_(kind), fd_(fd) {}

  Kind kind_ = Kind::kInherit;
  int fd_ = -1;
};

/// How a Subprocess starts its child (besides its argv).
struct SubprocessOptions {
  /// The child's standard input: inherited unless set. (Not named `stdin`, which may be a macro.)
  SubprocessStdio stdin_mode;
  /// The child's standard output: inherited unless set.
  SubprocessStdio stdout_mode;
  /// The child's standard error: inherited unless set; `Subprocess::STDOUT` joins it to stdout.
  SubprocessStdio stderr_mode;
  /// The child's whole environment; the parent's when unset.
  std::optional<std::map<std::string, std::string>> env;
  /// The directory the child starts in; the parent's when unset.
  std::optional<std::string> cwd;
};

/// A child process (Tornado's `Subprocess`, which wraps `subprocess.Popen`): its exit is a Future
/// (`wait_for_exit`) or a callback (`set_exit_callback`), and each standard stream given as
/// `Subprocess::STREAM` is a pipe whose parent end is an IOStream on the current loop.
///
/// The child runs `argv` (searched in the parent's PATH when `argv[0]` has no slash) with an
/// empty signal mask (the parent blocks the signals its loop handles), SIGPIPE and SIGXFSZ back to
/// their default action, and only descriptors 0, 1 and 2 open (as Python's `close_fds`).
///
/// Destroying a Subprocess does not kill the child: its pending `wait_for_exit` Futures are
/// cancelled and its exit callback dropped, and the SIGCHLD handler still reaps the child when it
/// exits, so it does not linger as a zombie. If something else reaps the child first (a
/// `waitpid(-1)`, SIGCHLD set to SIG_IGN), its exit is never reported. Use a Subprocess on the
/// thread of the loop that runs the SIGCHLD handler.
class Subprocess {
 public:
  using Stdio = SubprocessStdio;
  /// Runs once with the child's return code (see `returncode()`).
  using ExitCallback = detail::UniqueFunction<void(int returncode)>;

  /// A pipe to the child, whose parent end becomes `stdin_stream()`, `stdout_stream()` or
  /// `stderr_stream()`.
  static constexpr Stdio STREAM{Stdio::Kind::kStream, -1};
  /// For `stderr_mode`: the child's stderr goes where its stdout goes (Python's
  /// `subprocess.STDOUT`).
  static constexpr Stdio STDOUT{Stdio::Kind::kStdout, -1};

  /// Starts `argv[0]` with arguments `argv`. Throws ValueError if `argv` is empty or `STDOUT` is
  /// given for stdin or stdout, and OSError (naming the program, with the errno's message) if the
  /// program cannot be run: missing, not executable, a bad `cwd`, or out of resources.
  explicit Subprocess(std::vector<std::string> argv, SubprocessOptions options = {});
  /// Leaves the child running (see the class comment).
  ~Subprocess();
  /// Takes over `other`'s child and streams; `other` may then only be destroyed or assigned to.
  Subprocess(Subprocess&& other) noexcept;
  /// Lets go of the current child (as the destructor does), then takes over `other`'s.
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  /// The child's process id (-1 in a moved-from Subprocess).
  pid_t pid() const noexcept;
  /// The exit status once the child has exited and been reaped (-N if it was killed by signal N,
  /// as Python gives it); nothing before.
  std::optional<int> returncode() const noexcept;

  /// The parent end of the child's stdin pipe if `stdin_mode` was `STREAM`, else null. Closing
  /// or resetting it gives the child end of file. The caller may move it out and keep it.
  std::unique_ptr<IOStream>& stdin_stream() noexcept { return stdin_stream_; }
  /// The parent end of the child's stdout pipe if `stdout_mode` was `STREAM`, else null.
  std::unique_ptr<IOStream>& stdout_stream() noexcept { return stdout_stream_; }
  /// The parent end of the child's stderr pipe if `stderr_mode` was `STREAM`, else null.
  std::unique_ptr<IOStream>& stderr_stream() noexcept { return stderr_stream_; }

  /// A Future of the child's return code, done once the child exits. With `raise`, a non-zero
  /// return code fails it with CalledProcessError instead. Any number of Futures may be pending.
  /// Installs the SIGCHLD handler on the current loop if none is installed. Throws
  /// InvalidStateError if the handler runs on another loop than the current one, or if this
  /// Subprocess was moved from.
  Future<int> wait_for_exit(bool raise = true);
  /// Runs `callback(returncode)` on the loop once the child exits (queued at once if it has
  /// exited already), replacing an earlier exit callback; independent of `wait_for_exit`.
  /// Installs the SIGCHLD handler and throws as `wait_for_exit` does.
  void set_exit_callback(ExitCallback callback);

  /// Installs the process's SIGCHLD handler on the current loop (IOLoop::add_signal_handler, which
  /// blocks SIGCHLD in the calling thread; every other thread must block it too, as threads that
  /// squall starts do), then reaps the children that exited before. Does nothing if a handler is
  /// installed already, on any loop. The handler goes away with `uninitialize()` or when its loop
  /// closes. Throws what `add_signal_handler` throws.
  static void initialize();
  /// Removes the SIGCHLD handler (call it on the thread of the loop that has it); does nothing
  /// if none is installed.
  static void uninitialize() noexcept;

 private:
  void detach() noexcept;

  // Shared with the SIGCHLD handler's registry until the child is reaped.
  std::shared_ptr<detail::SubprocessState> state_;
  std::unique_ptr<IOStream> stdin_stream_;
  std::unique_ptr<IOStream> stdout_stream_;
  std::unique_ptr<IOStream> stderr_stream_;
};

namespace process {

/// The number of CPUs this process may run on (its affinity mask); if that cannot be read, the
/// number of CPUs online; at least 1.
std::size_t cpu_count();

/// Starts `num_processes` worker processes (`cpu_count()` of them when `num_processes <= 0`) by
/// forking, and returns, in each worker, its task id: 0 to num_processes - 1. The calling process
/// never returns: it waits for the workers, restarts one that exited with a non-zero status or
/// was killed by a signal (with the same task id, logged on the general logger), and calls
/// `std::exit(0)` once every worker has exited with status 0.
///
/// Call it before creating any IOLoop or thread: a forked child has only the forking thread, and
/// a loop's descriptors would be shared by every worker. Throws InvalidStateError if the calling
/// thread has a current IOLoop or if this process is itself a worker, OSError if fork or wait
/// fails, and Error ("Too many child restarts, giving up") once more than `max_restarts` workers
/// had to be restarted (workers still running are left running).
int fork_processes(int num_processes, int max_restarts = 100);

/// In a worker started by `fork_processes`, its task id; nothing in any other process.
std::optional<int> task_id() noexcept;

}  // namespace process

}  // namespace squall
