// IOLoop: fd handlers (pipes and socket pairs) and signals.
#include "squall/core/ioloop.hpp"

#include "squall/core/gen.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "squall/core/concurrent.hpp"
#include "squall/testing/testing.hpp"
#include "squall/util/log.hpp"
#include "support/loop_helpers.hpp"

namespace squall {
namespace {

using namespace std::chrono_literals;
using squall::testing::ExpectLog;
using namespace squall::test_support;

class IOLoopTest : public testing::AsyncTest {};

// ---- fd handlers -----------------------------------------------------------------------------

TEST_F(IOLoopTest, AReadHandlerRunsWhenAPipeHasData) {
  Pipe pipe;
  std::string received;
  std::uint32_t seen_events = 0;
  auto data = io_loop().run_sync([&] {
    Future<std::string> got;
    io_loop().add_handler(pipe.read_fd, IOLoop::READ, [&, got](int fd, std::uint32_t events) {
      EXPECT_EQ(fd, pipe.read_fd);
      seen_events = events;
      io_loop().remove_handler(fd);
      got.set_result(pipe.read_available());
    });
    pipe.write("ping");
    return got;
  });
  EXPECT_EQ(data, "ping");
  EXPECT_TRUE(seen_events & IOLoop::READ);
  EXPECT_FALSE(seen_events & IOLoop::WRITE);
}

TEST_F(IOLoopTest, AWriteHandlerRunsWhenAPipeHasRoom) {
  Pipe pipe;
  auto events = io_loop().run_sync([&] {
    Future<std::uint32_t> got;
    io_loop().add_handler(pipe.write_fd, IOLoop::WRITE, [&, got](int fd, std::uint32_t ev) {
      io_loop().remove_handler(fd);
      got.set_result(ev);
    });
    return got;
  });
  EXPECT_TRUE(events & IOLoop::WRITE);
  EXPECT_FALSE(events & IOLoop::READ);
}

TEST_F(IOLoopTest, UpdateHandlerChangesTheEventsWatched) {
  SocketPair pair;
  std::vector<std::uint32_t> seen;
  io_loop().run_sync([&]() -> Future<void> {
    Future<void> wrote;
    Future<void> readable;
    io_loop().add_handler(pair.a, IOLoop::NONE, [&](int fd, std::uint32_t events) {
      seen.push_back(events);
      if (events & IOLoop::WRITE) {
        io_loop().update_handler(fd, IOLoop::READ);
        wrote.set_result();
      } else if (events & IOLoop::READ) {
        char c;
        EXPECT_EQ(::read(fd, &c, 1), 1);
        io_loop().update_handler(fd, IOLoop::NONE);
        readable.set_result();
      }
    });
    co_await iterations(3);
    EXPECT_TRUE(seen.empty()) << "a handler watching nothing was called";
    io_loop().update_handler(pair.a, IOLoop::WRITE);
    co_await wrote;
    EXPECT_EQ(::write(pair.b, "x", 1), 1);
    co_await readable;
    co_await iterations(3);
    io_loop().remove_handler(pair.a);
  });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen[0] & IOLoop::WRITE);
  EXPECT_TRUE(seen[1] & IOLoop::READ);
}

TEST_F(IOLoopTest, HandlersAreLevelTriggered) {
  Pipe pipe;
  int calls = 0;
  io_loop().run_sync([&] {
    Future<void> third;
    io_loop().add_handler(pipe.read_fd, IOLoop::READ, [&, third](int fd, std::uint32_t) {
      if (++calls == 3) {
        io_loop().remove_handler(fd);
        third.set_result();
      }
    });
    pipe.write("unread");
    return third;
  });
  EXPECT_EQ(calls, 3);
}

TEST_F(IOLoopTest, AHangUpIsReportedAsErrorEvenWhenNotWatched) {
  Pipe pipe;
  auto events = io_loop().run_sync([&] {
    Future<std::uint32_t> got;
    io_loop().add_handler(pipe.read_fd, IOLoop::NONE, [&, got](int fd, std::uint32_t ev) {
      io_loop().remove_handler(fd);
      got.set_result(ev);
    });
    pipe.close_write();
    return got;
  });
  EXPECT_NE(events & IOLoop::ERROR, 0u);
}

TEST_F(IOLoopTest, APeerClosingASocketIsReportedToTheReadHandler) {
  SocketPair pair;
  auto events = io_loop().run_sync([&] {
    Future<std::uint32_t> got;
    io_loop().add_handler(pair.a, IOLoop::READ, [&, got](int fd, std::uint32_t ev) {
      io_loop().remove_handler(fd);
      got.set_result(ev);
    });
    ::shutdown(pair.b, SHUT_RDWR);
    return got;
  });
  EXPECT_NE(events & (IOLoop::READ | IOLoop::ERROR), 0u);
  char c;
  EXPECT_EQ(::read(pair.a, &c, 1), 0) << "the handler ran before end of file";
}

TEST_F(IOLoopTest, AHandlerCanRemoveItselfFromItsOwnCallback) {
  Pipe pipe;
  int calls = 0;
  auto token = std::make_shared<int>(0);
  io_loop().run_sync([&]() -> Future<void> {
    io_loop().add_handler(pipe.read_fd, IOLoop::READ, [&, token](int fd, std::uint32_t) {
      ++calls;
      io_loop().remove_handler(fd);
      EXPECT_EQ(token.use_count(), 2) << "the running handler was destroyed under itself";
    });
    pipe.write("stays unread");
    while (calls == 0) co_await next_iteration();
    co_await iterations(5);  // the data is still there: a live handler would run again
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(token.use_count(), 1) << "the removed handler was not destroyed";
}

TEST_F(IOLoopTest, AHandlerCanRemoveAndReAddItsFd) {
  Pipe pipe;
  std::vector<std::string> calls;
  io_loop().run_sync([&] {
    Future<void> done;
    io_loop().add_handler(pipe.read_fd, IOLoop::READ, [&, done](int fd, std::uint32_t) {
      calls.push_back("first");
      io_loop().remove_handler(fd);
      io_loop().add_handler(fd, IOLoop::READ, [&, done](int fd2, std::uint32_t) {
        calls.push_back("second");
        pipe.read_available();
        io_loop().remove_handler(fd2);
        done.set_result();
      });
    });
    pipe.write("x");
    return done;
  });
  EXPECT_EQ(calls, (std::vector<std::string>{"first", "second"}));
}

TEST_F(IOLoopTest, AHandlerRemovedByAnotherHandlerInTheSameBatchDoesNotRun) {
  Pipe first;
  Pipe second;
  int calls = 0;
  io_loop().run_sync([&]() -> Future<void> {
    auto handler = [&](int fd, std::uint32_t) {
      ++calls;
      io_loop().remove_handler(first.read_fd);
      io_loop().remove_handler(second.read_fd);
    };
    io_loop().add_handler(first.read_fd, IOLoop::READ, handler);
    io_loop().add_handler(second.read_fd, IOLoop::READ, handler);
    first.write("a");
    second.write("b");
    co_await iterations(5);
  });
  EXPECT_EQ(calls, 1);
}

TEST_F(IOLoopTest, AddingTheSameFdTwiceThrowsInvalidStateError) {
  Pipe pipe;
  io_loop().add_handler(pipe.read_fd, IOLoop::READ, [](int, std::uint32_t) {});
  EXPECT_THROW(io_loop().add_handler(pipe.read_fd, IOLoop::WRITE, [](int, std::uint32_t) {}),
               InvalidStateError);
  io_loop().remove_handler(pipe.read_fd);
  EXPECT_NO_THROW(io_loop().add_handler(pipe.read_fd, IOLoop::READ, [](int, std::uint32_t) {}));
  io_loop().remove_handler(pipe.read_fd);
}

TEST_F(IOLoopTest, AddHandlerWithANegativeFdThrows) {
  EXPECT_THROW(io_loop().add_handler(-1, IOLoop::READ, [](int, std::uint32_t) {}), ValueError);
}

TEST_F(IOLoopTest, AddHandlerOnADescriptorEpollRefusesThrowsError) {
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_THROW(io_loop().add_handler(fd, IOLoop::READ, [](int, std::uint32_t) {}), Error);
  ::close(fd);
}

TEST_F(IOLoopTest, UpdateHandlerOnAnFdWithoutAHandlerThrowsInvalidStateError) {
  Pipe pipe;
  EXPECT_THROW(io_loop().update_handler(pipe.read_fd, IOLoop::READ), InvalidStateError);
  EXPECT_THROW(io_loop().update_handler(-1, IOLoop::READ), InvalidStateError);
  EXPECT_THROW(io_loop().update_handler(100000, IOLoop::READ), InvalidStateError);
}

TEST_F(IOLoopTest, RemoveHandlerOnAnFdWithoutAHandlerDoesNothing) {
  Pipe pipe;
  EXPECT_NO_THROW(io_loop().remove_handler(pipe.read_fd));
  EXPECT_NO_THROW(io_loop().remove_handler(-1));
  EXPECT_NO_THROW(io_loop().remove_handler(100000));
  EXPECT_TRUE(fd_is_open(pipe.read_fd));
}

TEST_F(IOLoopTest, AnExceptionInAHandlerIsLoggedAndTheLoopGoesOn) {
  ExpectLog logged(log::app_log(), "Exception in callback .*handler boom");
  Pipe pipe;
  int calls = 0;
  io_loop().run_sync([&]() -> Future<void> {
    io_loop().add_handler(pipe.read_fd, IOLoop::READ, [&](int fd, std::uint32_t) {
      if (++calls == 2) io_loop().remove_handler(fd);
      throw std::runtime_error("handler boom");
    });
    pipe.write("x");
    while (calls < 2) co_await next_iteration();
  });
  EXPECT_EQ(calls, 2) << "the handler stayed registered after throwing";
  EXPECT_EQ(logged.matched(), 2);
}

// ---- signals -------------------------------------------------------------------------------

TEST_F(IOLoopTest, ASignalHandlerRunsOnTheLoopAfterRaise) {
  int signum = io_loop().run_sync([&] {
    Future<int> got;
    io_loop().add_signal_handler(SIGUSR1, [&, got](int sig) {
      EXPECT_TRUE(io_loop().running());
      got.set_result(sig);
    });
    ::raise(SIGUSR1);
    return got;
  });
  EXPECT_EQ(signum, SIGUSR1);
  EXPECT_TRUE(io_loop().remove_signal_handler(SIGUSR1));
}

TEST_F(IOLoopTest, ASignalSentToTheProcessReachesTheHandler) {
  int signum = io_loop().run_sync([&] {
    Future<int> got;
    io_loop().add_signal_handler(SIGUSR2, [got](int sig) { got.set_result(sig); });
    ::kill(::getpid(), SIGUSR2);
    return got;
  });
  EXPECT_EQ(signum, SIGUSR2);
  EXPECT_TRUE(io_loop().remove_signal_handler(SIGUSR2));
}

TEST_F(IOLoopTest, SignalsAreDeliveredEachTimeTheyAreRaised) {
  int deliveries = 0;
  io_loop().run_sync([&]() -> Future<void> {
    for (int round = 1; round <= 3; ++round) {
      Future<void> got;
      io_loop().add_signal_handler(SIGUSR1, [&, got](int) {
        ++deliveries;
        got.set_result();
      });
      ::raise(SIGUSR1);
      co_await got;
    }
  });
  EXPECT_EQ(deliveries, 3);
  EXPECT_TRUE(io_loop().remove_signal_handler(SIGUSR1));
}

TEST_F(IOLoopTest, AddSignalHandlerReplacesTheEarlierHandler) {
  std::vector<std::string> calls;
  io_loop().run_sync([&] {
    Future<void> got;
    io_loop().add_signal_handler(SIGUSR1, [&](int) { calls.push_back("old"); });
    io_loop().add_signal_handler(SIGUSR1, [&, got](int) {
      calls.push_back("new");
      got.set_result();
    });
    ::raise(SIGUSR1);
    return got;
  });
  EXPECT_EQ(calls, (std::vector<std::string>{"new"}));
  io_loop().remove_signal_handler(SIGUSR1);
}

TEST_F(IOLoopTest, RemoveSignalHandlerReturnsWhetherAHandlerWasSet) {
  EXPECT_FALSE(io_loop().remove_signal_handler(SIGUSR1));
  io_loop().add_signal_handler(SIGUSR1, [](int) {});
  EXPECT_TRUE(io_loop().remove_signal_handler(SIGUSR1));
  EXPECT_FALSE(io_loop().remove_signal_handler(SIGUSR1));
}

TEST_F(IOLoopTest, RemoveSignalHandlerUnblocksTheSignal) {
  io_loop().add_signal_handler(SIGUSR1, [](int) {});
  sigset_t mask;
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, nullptr, &mask), 0);
  EXPECT_TRUE(sigismember(&mask, SIGUSR1));
  io_loop().remove_signal_handler(SIGUSR1);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, nullptr, &mask), 0);
  EXPECT_FALSE(sigismember(&mask, SIGUSR1));
}

TEST_F(IOLoopTest, AnExceptionInASignalHandlerIsLogged) {
  ExpectLog logged(log::app_log(), "Exception in callback .*signal boom");
  io_loop().run_sync([&]() -> Future<void> {
    bool ran = false;
    io_loop().add_signal_handler(SIGUSR1, [&](int) {
      ran = true;
      throw std::runtime_error("signal boom");
    });
    ::raise(SIGUSR1);
    while (!ran) co_await next_iteration();
  });
  io_loop().remove_signal_handler(SIGUSR1);
}

}  // namespace
}  // namespace squall
