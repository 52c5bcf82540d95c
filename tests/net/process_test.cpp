// process: cpu_count, Subprocess (exit codes, streams, redirections, SIGCHLD reaping) and
// fork_processes (run in a forked child of the test, so that the test runner survives it).
#include "squall/net/process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "squall/core/gen.hpp"
#include "squall/core/ioloop.hpp"
#include "squall/net/iostream.hpp"
#include "squall/testing/testing.hpp"
#include "squall/util/log.hpp"
#include "support/loop_helpers.hpp"

// GCC 12 warns about designated initializers that leave out members, even members with default
// initializers (which is how SubprocessOptions is meant to be used).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif

namespace squall {
namespace {

using namespace std::chrono_literals;
using namespace squall::test_support;

class ProcessTest : public testing::AsyncTest {};

/// Blocks until `pid` has exited, without reaping it (it stays a zombie for the handler to reap).
void wait_until_exited(pid_t pid) {
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT), 0);
}

// ---- cpu_count ---------------------------------------------------------------------------------

TEST_F(ProcessTest, CpuCountIsAtLeastOne) {
  EXPECT_GE(process::cpu_count(), 1u);
}

// ---- exit codes --------------------------------------------------------------------------------

TEST_F(ProcessTest, TrueExitsWithZero) {
  Subprocess proc({"/bin/true"});
  EXPECT_GT(proc.pid(), 0);
  EXPECT_FALSE(proc.returncode());
  EXPECT_EQ(run_sync([&] { return proc.wait_for_exit(); }), 0);
  EXPECT_EQ(proc.returncode(), 0);
}

TEST_F(ProcessTest, FalseExitsWithOneWhenNotRaising) {
  Subprocess proc({"/bin/false"});
  EXPECT_EQ(run_sync([&] { return proc.wait_for_exit(false); }), 1);
}

TEST_F(ProcessTest, FalseFailsWithCalledProcessErrorWhenRaising) {
  Subprocess proc({"/bin/false"});
  try {
    run_sync([&] { return proc.wait_for_exit(); });
    FAIL() << "no CalledProcessError";
  } catch (const CalledProcessError& e) {
    EXPECT_EQ(e.returncode(), 1);
    EXPECT_EQ(e.cmd(), "/bin/false");
    EXPECT_STREQ(e.what(), "Command '/bin/false' returned non-zero exit status 1");
  }
}

TEST_F(ProcessTest, AChildKilledBySignalReportsMinusTheSignal) {
  Subprocess proc({"/bin/sh", "-c", "kill -9 $$"});
  EXPECT_EQ(run_sync([&] { return proc.wait_for_exit(false); }), -9);
  // A second Future on an exited child is resolved at once, and raises as asked.
  auto raising = proc.wait_for_exit();
  ASSERT_TRUE(raising.done());
  try {
    raising.result();
    FAIL() << "no CalledProcessError";
  } catch (const CalledProcessError& e) {
    EXPECT_EQ(e.returncode(), -9);
    EXPECT_STREQ(e.what(), "Command '/bin/sh -c kill -9 $$' died with signal 9");
  }
}

TEST_F(ProcessTest, ExitCallbackAndWaitForExitBothGetTheReturnCode) {
  Subprocess proc({"/bin/sh", "-c", "exit 7"});
  Future<int> from_callback;
  proc.set_exit_callback([from_callback](int returncode) { from_callback.set_result(returncode); });
  EXPECT_EQ(run_sync([&] { return proc.wait_for_exit(false); }), 7);
  EXPECT_EQ(run_sync([&] { return from_callback; }), 7);
}

TEST_F(ProcessTest, AnExitCallbackSetAfterTheExitIsStillCalled) {
  Subprocess proc({"/bin/true"});
  EXPECT_EQ(run_sync([&] { return proc.wait_for_exit(); }), 0);
  Future<int> from_callback;
  proc.set_exit_callback([from_callback](int returncode) { from_callback.set_result(returncode); });
  EXPECT_FALSE(from_callback.done());  // queued on the loop, never run inside the call
  EXPECT_EQ(run_sync([&] { return from_callback; }), 0);
}

// ---- SIGCHLD handling --------------------------------------------------------------------------

TEST_F(ProcessTest, TwentySubprocessesExitingTogetherAreAllReaped) {
  // Their SIGCHLDs coalesce: the handler must check every child each time.
  std::vector<Subprocess> procs;
  procs.reserve(20);
  for (int i = 0; i < 20; ++i) {
    procs.emplace_back(std::vector<std::string>{"/bin/sh", "-c", "exit " + std::to_string(i)});
  }
  auto codes = run_sync([&] {
    std::vector<Future<int>> exits;
    exits.reserve(procs.size());
    for (auto& proc : procs) exits.push_back(proc.wait_for_exit(false));
    return gen::multi(std::move(exits));
  });
  ASSERT_EQ(codes.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(codes[i], i);
}

TEST_F(ProcessTest, AChildThatExitedBeforeTheHandlerWasInstalledIsReaped) {
  Subprocess::uninitialize();
  Subprocess proc({"/bin/sh", "-c", "exit 3"});
  wait_until_exited(proc.pid());  // its SIGCHLD came while nobody read it
  EXPECT_EQ(run_sync([&] { return proc.wait_for_exit(false); }), 3);
}

TEST_F(ProcessTest, ADestroyedSubprocessCancelsItsFuturesAndItsChildIsStillReaped) {
  Subprocess::initialize();
  pid_t pid;
  Future<int> exit;
  {
    // cat runs until its stdin closes, which destroying the Subprocess does.
    Subprocess proc({"/bin/cat"}, {.stdin_mode = Subprocess::STREAM});
    pid = proc.pid();
    exit = proc.wait_for_exit();
  }
  EXPECT_TRUE(exit.cancelled());
  wait_until_exited(pid);
  // Its SIGCHLD is pending on the loop's signalfd: a few polling iterations handle it.
  run_sync([] { return iterations(3); });
  int status;
  EXPECT_EQ(::waitpid(pid, &status, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  // Later children are reaped as usual (no dangling entry in the handler's registry).
  Subprocess next({"/bin/true"});
  EXPECT_EQ(run_sync([&] { return next.wait_for_exit(); }), 0);
}

TEST_F(ProcessTest, UninitializeRemovesTheHandlerAndWaitForExitInstallsItAgain) {
  Subprocess::initialize();
  Subprocess::uninitialize();
  EXPECT_FALSE(io_loop().remove_signal_handler(SIGCHLD));
  Subprocess proc({"/bin/true"});
  EXPECT_EQ(run_sync([&] { return proc.wait_for_exit(); }), 0);
  EXPECT_TRUE(io_loop().remove_signal_handler(SIGCHLD));
}

TEST_F(ProcessTest, WaitForExitOnAnotherLoopThanTheHandlersThrows) {
  Subprocess::initialize();
  Subprocess proc({"/bin/true"});
  {
    IOLoop other;
    other.make_current();
    EXPECT_THROW((void)proc.wait_for_exit(), InvalidStateError);
    io_loop().make_current();
  }
  EXPECT_EQ(run_sync([&] { return proc.wait_for_exit(); }), 0);
}

TEST_F(ProcessTest, AMovedSubprocessKeepsItsChild) {
  Subprocess first({"/bin/sh", "-c", "exit 5"});
  pid_t pid = first.pid();
  Subprocess second(std::move(first));
  EXPECT_EQ(second.pid(), pid);
  Subprocess third({"/bin/true"});
  EXPECT_EQ(run_sync([&] { return third.wait_for_exit(); }), 0);
  third = std::move(second);
  EXPECT_EQ(run_sync([&] { return third.wait_for_exit(false); }), 5);
}

// ---- starting ----------------------------------------------------------------------------------

TEST_F(ProcessTest, AMissingProgramThrowsOSErrorNamingIt) {
  try {
    Subprocess proc({"/nonexistent/squall-program"});
    FAIL() << "no error";
  } catch (const OSError& e) {
    EXPECT_EQ(e.code(), ENOENT);
    EXPECT_STREQ(e.what(), "Cannot run '/nonexistent/squall-program': No such file or directory");
  }
  // Searched in PATH.
  EXPECT_THROW(Subprocess({"squall-no-such-program"}), Error);
}

TEST_F(ProcessTest, AMissingWorkingDirectoryThrows) {
  EXPECT_THROW(Subprocess({"/bin/true"}, {.cwd = "/nonexistent/squall-dir"}), OSError);
}

TEST_F(ProcessTest, BadArgumentsThrowValueError) {
  EXPECT_THROW(Subprocess({}), ValueError);
  EXPECT_THROW(Subprocess({"/bin/true"}, {.stdout_mode = Subprocess::STDOUT}), ValueError);
  EXPECT_THROW(Subprocess({"/bin/true"}, {.stdin_mode = Subprocess::Stdio::fd(-1)}), ValueError);
}

TEST_F(ProcessTest, OutputGoesToAGivenDescriptor) {
  Pipe pipe;
  Subprocess proc({"/bin/echo", "to the pipe"},
                  {.stdout_mode = Subprocess::Stdio::fd(pipe.write_fd)});
  EXPECT_EQ(run_sync([&] { return proc.wait_for_exit(); }), 0);
  EXPECT_EQ(pipe.read_available(), "to the pipe\n");
}

TEST_F(ProcessTest, TheChildStartsWithNoBlockedSignals) {
  io_loop().add_signal_handler(SIGUSR1, [](int) {});  // blocks SIGUSR1 here
  Pipe pipe;
  // Found in PATH.
  Subprocess proc({"grep", "SigBlk", "/proc/self/status"},
                  {.stdout_mode = Subprocess::Stdio::fd(pipe.write_fd)});
  EXPECT_EQ(run_sync([&] { return proc.wait_for_exit(); }), 0);
  EXPECT_EQ(pipe.read_available(), "SigBlk:\t0000000000000000\n");
}

TEST_F(ProcessTest, OnlyTheStandardDescriptorsReachTheChild) {
  Pipe pipe;
  int inheritable = ::dup(pipe.read_fd);  // no close-on-exec
  ASSERT_GE(inheritable, 3);
  std::string fd = std::to_string(inheritable);
  Subprocess proc({"/bin/sh", "-c", "test -e /proc/self/fd/" + fd + " && exit 1; exit 0"});
  EXPECT_EQ(run_sync([&] { return proc.wait_for_exit(false); }), 0);
  ::close(inheritable);
}

// ---- streams -----------------------------------------------------------------------------------

TEST_F(ProcessTest, StdoutStreamCapturesTheOutput) {
  Subprocess proc({"/bin/echo", "hello"}, {.stdout_mode = Subprocess::STREAM});
  ASSERT_TRUE(proc.stdout_stream());
  EXPECT_FALSE(proc.stdin_stream());
  EXPECT_FALSE(proc.stderr_stream());
  auto output = run_sync([&]() -> Future<std::string> {
    std::string data = co_await proc.stdout_stream()->read_until_close();
    co_await proc.wait_for_exit();
    co_return data;
  });
  EXPECT_EQ(output, "hello\n");
}

TEST_F(ProcessTest, StdinRoundTripsThroughCat) {
  Subprocess proc({"/bin/cat"},
                  {.stdin_mode = Subprocess::STREAM, .stdout_mode = Subprocess::STREAM});
  auto output = run_sync([&]() -> Future<std::string> {
    co_await proc.stdin_stream()->write("line one\nline two\n");
    proc.stdin_stream()->close();
    std::string data = co_await proc.stdout_stream()->read_until_close();
    EXPECT_EQ(co_await proc.wait_for_exit(), 0);
    co_return data;
  });
  EXPECT_EQ(output, "line one\nline two\n");
}

TEST_F(ProcessTest, StderrCanFollowStdout) {
  Subprocess proc({"/bin/sh", "-c", "echo out; echo err >&2"},
                  {.stdout_mode = Subprocess::STREAM, .stderr_mode = Subprocess::STDOUT});
  EXPECT_FALSE(proc.stderr_stream());
  auto output = run_sync([&] { return proc.stdout_stream()->read_until_close(); });
  EXPECT_EQ(output, "out\nerr\n");
  EXPECT_EQ(run_sync([&] { return proc.wait_for_exit(); }), 0);
}

TEST_F(ProcessTest, StderrStreamIsSeparate) {
  Subprocess proc({"/bin/sh", "-c", "echo out; echo err >&2"},
                  {.stdout_mode = Subprocess::STREAM, .stderr_mode = Subprocess::STREAM});
  auto [out, err] = run_sync([&]() -> Future<std::pair<std::string, std::string>> {
    auto out_future = proc.stdout_stream()->read_until_close();
    std::string err = co_await proc.stderr_stream()->read_until_close();
    std::string out = co_await out_future;
    co_return std::pair(out, err);
  });
  EXPECT_EQ(out, "out\n");
  EXPECT_EQ(err, "err\n");
  EXPECT_EQ(run_sync([&] { return proc.wait_for_exit(); }), 0);
}

TEST_F(ProcessTest, EnvironmentAndWorkingDirectoryReachTheChild) {
  Subprocess proc({"/bin/sh", "-c", "echo \"$SQUALL_VALUE\"; pwd; echo \"${HOME-unset}\""},
                  {.stdout_mode = Subprocess::STREAM,
                   .env = std::map<std::string, std::string>{{"SQUALL_VALUE", "forty two"}},
                   .cwd = "/"});
  auto output = run_sync([&] { return proc.stdout_stream()->read_until_close(); });
  EXPECT_EQ(output, "forty two\n/\nunset\n");
  EXPECT_EQ(run_sync([&] { return proc.wait_for_exit(); }), 0);
}

// ---- fork_processes ----------------------------------------------------------------------------

TEST_F(ProcessTest, ThisProcessHasNoTaskId) {
  EXPECT_FALSE(process::task_id());
}

TEST_F(ProcessTest, ForkProcessesRefusesToRunWithACurrentLoop) {
  EXPECT_THROW(process::fork_processes(2), InvalidStateError);
}

/// Writes each log line to a descriptor, prefixed with "log ", one write per line.
class FdSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  explicit FdSink(int fd) : fd_(fd) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string line = "log " + std::string(msg.payload.data(), msg.payload.size()) + "\n";
    [[maybe_unused]] auto n = ::write(fd_, line.data(), line.size());
  }
  void flush_() override {}

 private:
  int fd_;
};

void write_line(int fd, const std::string& text) {
  std::string line = text + "\n";
  [[maybe_unused]] auto n = ::write(fd, line.data(), line.size());
}

struct ChildOutcome {
  std::vector<std::string> lines;
  int status = 0;
  bool timed_out = false;

  int count(const std::string& prefix) const {
    return static_cast<int>(std::count_if(
        lines.begin(), lines.end(), [&](const std::string& l) { return l.rfind(prefix, 0) == 0; }));
  }
  int count_exact(const std::string& text) const {
    return static_cast<int>(std::count(lines.begin(), lines.end(), text));
  }
  std::string all() const {
    std::string out;
    for (const auto& line : lines) out += line + "\n";
    return out;
  }
};

/// Runs `body(fd)` in a forked child of the test process, in a process group of its own, with the
/// general logger writing to `fd` too; the child exits with what `body` returns (unless it exits
/// by itself). Returns the lines written to `fd` by the child and its own children, read until
/// every one of them has closed it (or 5 s have passed: then the group is killed), and the
/// child's wait status.
template <class Body>
ChildOutcome run_in_child(Body body) {
  ChildOutcome outcome;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2";
    return outcome;
  }
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::close(fds[0]);
    int code = 100;
    try {
      log::gen_log().sinks() = {std::make_shared<FdSink>(fds[1])};
      log::gen_log().set_level(spdlog::level::info);
      if (IOLoop::current_or_null() != nullptr) {
        write_line(fds[1], "error: the test process has a current loop");
      } else {
        code = body(fds[1]);
      }
    } catch (const std::exception& e) {
      write_line(fds[1], std::string("exception ") + e.what());
      code = 101;
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  std::string data;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fds[0], POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) == 0) {
      outcome.timed_out = true;
      ::kill(-pid, SIGKILL);
      break;
    }
    char buffer[512];
    ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  ::waitpid(pid, &outcome.status, 0);
  std::istringstream in(data);
  for (std::string line; std::getline(in, line);) outcome.lines.push_back(line);
  return outcome;
}

class ForkProcessesTest : public ::testing::Test {};

std::string marker_path() {
  return ::testing::TempDir() + "squall_process_test_marker_" + std::to_string(::getpid());
}

TEST_F(ForkProcessesTest, AWorkerKilledByASignalIsRestartedWithItsTaskId) {
  std::string marker = marker_path();
  ::unlink(marker.c_str());
  auto outcome = run_in_child([&](int fd) {
    int id = process::fork_processes(2, 5);
    // In a worker from here on.
    bool same = process::task_id() == id;
    write_line(fd, "task " + std::to_string(id) + (same ? " ok" : " bad task_id"));
    if (id == 1) {
      int first = ::open(marker.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
      if (first >= 0) ::kill(::getpid(), SIGKILL);  // only the first time
    }
    ::_exit(0);
    return 0;
  });
  ::unlink(marker.c_str());
  ASSERT_FALSE(outcome.timed_out) << outcome.all();
  ASSERT_TRUE(WIFEXITED(outcome.status)) << outcome.all();
  EXPECT_EQ(WEXITSTATUS(outcome.status), 0) << outcome.all();  // std::exit(0) in the parent
  EXPECT_EQ(outcome.count("task 0 ok"), 1) << outcome.all();
  EXPECT_EQ(outcome.count("task 1 ok"), 2) << outcome.all();
  EXPECT_EQ(outcome.count("log Starting 2 processes"), 1) << outcome.all();
  EXPECT_EQ(outcome.count("log child 1 (pid "), 2) << outcome.all();
  EXPECT_EQ(outcome.count("log child 0 (pid "), 1) << outcome.all();
  bool restart_logged = std::any_of(outcome.lines.begin(), outcome.lines.end(), [](auto& line) {
    return line.find("killed by signal 9, restarting") != std::string::npos;
  });
  EXPECT_TRUE(restart_logged) << outcome.all();
  EXPECT_EQ(outcome.count("log "), 4) << outcome.all();  // Starting, killed, 2 x exited normally
}

TEST_F(ForkProcessesTest, TooManyRestartsMakeForkProcessesThrow) {
  auto outcome = run_in_child([](int fd) {
    int id = 0;
    try {
      id = process::fork_processes(1, 2);
    } catch (const InvalidStateError& e) {
      write_line(fd, std::string("wrong error ") + e.what());
      return 4;
    } catch (const Error& e) {
      write_line(fd, std::string("error ") + e.what());
      return 3;
    }
    write_line(fd, "task " + std::to_string(id));
    ::_exit(1);
    return 0;
  });
  ASSERT_FALSE(outcome.timed_out) << outcome.all();
  ASSERT_TRUE(WIFEXITED(outcome.status)) << outcome.all();
  EXPECT_EQ(WEXITSTATUS(outcome.status), 3) << outcome.all();
  EXPECT_EQ(outcome.count("task 0"), 3) << outcome.all();  // the first run and two restarts
  EXPECT_EQ(outcome.count("log child 0 (pid "), 3) << outcome.all();
  EXPECT_EQ(outcome.count("error Too many child restarts, giving up"), 1) << outcome.all();
}

TEST_F(ForkProcessesTest, NoCountMeansOneWorkerPerCpu) {
  auto outcome = run_in_child([](int fd) {
    int id = process::fork_processes(0);
    write_line(fd, "task " + std::to_string(id));
    ::_exit(0);
    return 0;
  });
  ASSERT_FALSE(outcome.timed_out) << outcome.all();
  ASSERT_TRUE(WIFEXITED(outcome.status)) << outcome.all();
  EXPECT_EQ(WEXITSTATUS(outcome.status), 0) << outcome.all();
  int cpus = static_cast<int>(process::cpu_count());
  EXPECT_EQ(outcome.count("task "), cpus) << outcome.all();
  for (int id = 0; id < cpus; ++id) {
    EXPECT_EQ(outcome.count_exact("task " + std::to_string(id)), 1) << outcome.all();
  }
}

TEST_F(ForkProcessesTest, AWorkerCannotForkProcessesAgain) {
  auto outcome = run_in_child([](int fd) {
    process::fork_processes(1);
    try {
      process::fork_processes(1);
      write_line(fd, "no error");
    } catch (const InvalidStateError&) {
      write_line(fd, "refused");
    }
    ::_exit(0);
    return 0;
  });
  ASSERT_FALSE(outcome.timed_out) << outcome.all();
  EXPECT_EQ(outcome.count("refused"), 1) << outcome.all();
}

}  // namespace
}  // namespace squall
