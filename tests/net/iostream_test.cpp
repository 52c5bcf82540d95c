#include "squall/net/iostream.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "squall/core/gen.hpp"
#include "squall/testing/testing.hpp"
#include "support/loop_helpers.hpp"

#if defined(__SANITIZE_ADDRESS__)
// The sanitizer runtime's count of live heap bytes (GCC ships no header declaring it).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace squall {
namespace {

using namespace std::chrono_literals;

class IOStreamTest : public testing::AsyncTest {};

/// Two connected IOStreams over a Unix-domain socket pair.
struct StreamPair {
  std::unique_ptr<IOStream> a;
  std::unique_ptr<IOStream> b;
};

StreamPair make_pair(IOStreamOptions a_options = {}, IOStreamOptions b_options = {}) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    throw OSError(errno, "socketpair");
  return {std::make_unique<IOStream>(fds[0], a_options),
          std::make_unique<IOStream>(fds[1], b_options)};
}

std::string sha256(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return std::string(reinterpret_cast<char*>(digest), sizeof digest);
}

TEST_F(IOStreamTest, ReadBytesGetsExactlyTheCount) {
  auto [a, b] = make_pair();
  run_sync([&]() -> Future<void> {
    co_await a->write("hello world");
    EXPECT_EQ(co_await b->read_bytes(5), "hello");
    EXPECT_EQ(co_await b->read_bytes(6), " world");
  });
}

TEST_F(IOStreamTest, APartialReadGivesWhatIsThere) {
  auto [a, b] = make_pair();
  run_sync([&]() -> Future<void> {
    co_await a->write("abc");
    std::string got = co_await b->read_bytes(100, true);
    EXPECT_EQ(got, "abc");
  });
}

TEST_F(IOStreamTest, ReadUntilSpansPacketBoundaries) {
  auto [a, b] = make_pair();
  run_sync([&]() -> Future<void> {
    Future<std::string> line = b->read_until("\r\n\r\n");
    co_await a->write("GET / HTTP/1.1\r");
    co_await gen::sleep(1ms);
    EXPECT_FALSE(line.done());
    co_await a->write("\nHost: x\r\n\r");
    co_await gen::sleep(1ms);
    EXPECT_FALSE(line.done());
    co_await a->write("\nbody");
    EXPECT_EQ(co_await line, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(co_await b->read_bytes(4), "body");
  });
}

TEST_F(IOStreamTest, ABufferedReadIsDoneAtOnce) {
  auto [a, b] = make_pair();
  run_sync([&]() -> Future<void> {
    co_await a->write("one\ntwo\n");
    EXPECT_EQ(co_await b->read_until("\n"), "one\n");
    Future<std::string> second = b->read_until("\n");
    EXPECT_TRUE(second.done());  // served from the buffer, no trip through the loop
    EXPECT_EQ(second.result(), "two\n");
  });
}

TEST_F(IOStreamTest, ReadIntoFillsTheCallersBuffer) {
  auto [a, b] = make_pair();
  run_sync([&]() -> Future<void> {
    std::array<char, 8> buffer{};
    Future<std::size_t> read = b->read_into(buffer);
    co_await a->write("0123");
    co_await a->write("4567");
    EXPECT_EQ(co_await read, 8u);
    EXPECT_EQ(std::string(buffer.data(), 8), "01234567");
    co_await a->write("xy");
    EXPECT_EQ(co_await b->read_into(buffer, true), 2u);
    EXPECT_EQ(std::string(buffer.data(), 2), "xy");
  });
}

TEST_F(IOStreamTest, ReadUntilCloseGetsEverythingUntilThePeerCloses) {
  auto [a, b] = make_pair();
  run_sync([&]() -> Future<void> {
    Future<std::string> all = b->read_until_close();
    co_await a->write("first ");
    co_await a->write("second");
    a->close();
    EXPECT_EQ(co_await all, "first second");
    EXPECT_TRUE(b->closed());
    EXPECT_EQ(b->error(), nullptr);  // an orderly close
  });
}

TEST_F(IOStreamTest, ThePeerClosingMidReadFailsTheReadWithStreamClosedError) {
  auto [a, b] = make_pair();
  run_sync([&]() -> Future<void> {
    Future<std::string> read = b->read_bytes(10);
    co_await a->write("short");
    a->close();
    EXPECT_THROW(co_await read, StreamClosedError);
  });
}

TEST_F(IOStreamTest, FillBufferWaitsForTheCountAndLeavesTheBytesBuffered) {
  auto [a, b] = make_pair();
  run_sync([&]() -> Future<void> {
    Future<std::size_t> filled = b->fill_buffer(6);
    co_await a->write("abc");
    for (int i = 0; i < 5; ++i) co_await gen::moment;
    EXPECT_FALSE(filled.done()) << "done with 3 of the 6 bytes";
    co_await a->write("def");
    EXPECT_EQ(co_await filled, 6u);
    EXPECT_EQ(b->buffered(), "abcdef");
    b->consume(4);
    EXPECT_EQ(b->buffered(), "ef");
  });
}

TEST_F(IOStreamTest, WaitBufferedResumesTheCoroutineOnceTheBytesAreBuffered) {
  auto [a, b] = make_pair();
  run_sync([&]() -> Future<void> {
    bool resumed = false;
    auto wait = [&]() -> Future<void> {
      co_await b->wait_buffered(6);
      resumed = true;
    };
    Future<void> waiting = wait();
    co_await a->write("abc");
    for (int i = 0; i < 5; ++i) co_await gen::moment;
    EXPECT_FALSE(resumed) << "resumed with 3 of the 6 bytes";
    EXPECT_THROW(static_cast<void>(b->read_bytes(1)), InvalidStateError) << "one read at a time";
    co_await a->write("def");
    co_await waiting;
    EXPECT_TRUE(resumed);
    EXPECT_EQ(b->buffered(), "abcdef");
    co_await b->wait_buffered(3);  // enough is buffered: no wait
    EXPECT_EQ(b->buffered(), "abcdef");
    b->consume(6);
    EXPECT_EQ(co_await b->read_bytes(0), "") << "the stream takes another read";
  });
}

TEST_F(IOStreamTest, WaitBufferedThrowsStreamClosedErrorWhenThePeerClosesFirst) {
  auto [a, b] = make_pair();
  run_sync([&]() -> Future<void> {
    auto wait = [&]() -> Future<void> { co_await b->wait_buffered(10); };
    Future<void> waiting = wait();
    co_await a->write("short");
    a->close();
    EXPECT_THROW(co_await waiting, StreamClosedError);
    EXPECT_EQ(b->buffered(), "short") << "what arrived stays readable";
    EXPECT_THROW(co_await b->wait_buffered(10), StreamClosedError) << "closed already";
    co_await b->wait_buffered(5);  // but what is buffered is enough
  });
}

TEST_F(IOStreamTest, ALoopClosedWhileACoroutineWaitsInWaitBufferedLeavesTheStreamAlone) {
  auto [a, b] = make_pair();
  bool resumed = false;
  auto wait = [&]() -> Future<void> {
    co_await b->wait_buffered(4);
    resumed = true;
  };
  Future<void> waiting = wait();
  EXPECT_FALSE(waiting.done());
  EXPECT_TRUE(b->reading());
  io_loop().close();  // destroys the suspended frame, which lets go of the stream
  EXPECT_FALSE(resumed);
  EXPECT_FALSE(b->reading()) << "the stream still holds the destroyed coroutine";
  b->close();
  EXPECT_FALSE(resumed);
}

TEST_F(IOStreamTest, OnlyOneReadAtATime) {
  auto [a, b] = make_pair();
  Future<std::string> first = b->read_bytes(1);
  EXPECT_THROW(static_cast<void>(b->read_bytes(1)), InvalidStateError);
  a->close();
  run_sync([&]() -> Future<void> { EXPECT_THROW(co_await first, StreamClosedError); });
}

TEST_F(IOStreamTest, WriteOnAClosedStreamCarriesTheRealError) {
  auto [a, b] = make_pair();
  a->close(std::make_exception_ptr(OSError(ECONNRESET, "read")));
  run_sync([&]() -> Future<void> {
    try {
      co_await a->write("x");
      ADD_FAILURE() << "write on a closed stream succeeded";
    } catch (const StreamClosedError& e) {
      EXPECT_TRUE(e.real_error());
      if (e.real_error()) {
        EXPECT_THROW(std::rethrow_exception(e.real_error()), OSError);
      }
      EXPECT_NE(std::string(e.what()).find("reset"), std::string::npos) << e.what();
    }
  });
}

TEST_F(IOStreamTest, ReadUntilPastMaxBytesClosesWithUnsatisfiableReadError) {
  auto [a, b] = make_pair();
  run_sync([&]() -> Future<void> {
    co_await a->write(std::string(100, 'x'));
    try {
      co_await b->read_until("\n", 50);
      ADD_FAILURE() << "read_until ignored max_bytes";
    } catch (const StreamClosedError& e) {
      EXPECT_THROW(std::rethrow_exception(e.real_error()), UnsatisfiableReadError);
    }
    EXPECT_TRUE(b->closed());
  });
}

TEST_F(IOStreamTest, AReadPastTheBufferLimitClosesWithStreamBufferFullError) {
  IOStreamOptions small;
  small.max_buffer_size = 1024;
  small.read_chunk_size = 256;
  auto [a, b] = make_pair({}, small);
  run_sync([&]() -> Future<void> {
    Future<std::string> read = b->read_until("never");
    co_await a->write(std::string(4096, 'y'));
    try {
      co_await read;
      ADD_FAILURE() << "the buffer limit was not enforced";
    } catch (const StreamClosedError& e) {
      EXPECT_THROW(std::rethrow_exception(e.real_error()), StreamBufferFullError);
    }
  });
}

TEST_F(IOStreamTest, AWriteToAPeerThatStoppedReadingWaitsAndMemoryStaysBounded) {
  IOStreamOptions limited;
  limited.max_write_buffer_size = 8 << 20;
  auto [a, b] = make_pair(limited);
  run_sync([&]() -> Future<void> {
    std::string chunk(1 << 20, 'z');
    Future<void> last;
    int accepted = 0;
    // The peer reads nothing: the kernel's buffers fill, then ours up to the limit.
    for (int i = 0; i < 64; ++i) {
      last = a->write(chunk);
      if (last.done() && last.exception()) break;
      ++accepted;
    }
    EXPECT_LT(accepted, 64);
    EXPECT_LE(a->write_buffer_size(), limited.max_write_buffer_size);
    EXPECT_THROW(co_await a->write(chunk), StreamBufferFullError);
    // Once the peer reads, the queued writes complete.
    std::size_t total = 0;
    std::vector<char> sink(1 << 20);
    while (total < static_cast<std::size_t>(accepted) * chunk.size()) {
      total += co_await b->read_into(sink, true);
    }
    EXPECT_EQ(a->write_buffer_size(), 0u);
  });
}

TEST_F(IOStreamTest, OneHundredMebibytesArriveIntactBySha256) {
  auto [a, b] = make_pair();
  std::string data(100u << 20, '\0');
  std::mt19937_64 random(42);
  for (std::size_t i = 0; i + 8 <= data.size(); i += 8) {
    std::uint64_t word = random();
    std::memcpy(data.data() + i, &word, 8);
  }
  const std::string expected = sha256(data);
  std::string received;
  run_sync(
      [&]() -> Future<void> {
        // The writer sends in uneven pieces; the reader takes uneven pieces.
        auto writer = [](IOStream& out, const std::string& all) -> Future<void> {
          std::size_t offset = 0, step = 1;
          while (offset < all.size()) {
            std::size_t n = std::min(all.size() - offset, (step * 7919) % (3 << 20) + 1);
            co_await out.write(std::string_view(all).substr(offset, n));
            offset += n;
            ++step;
          }
          out.close();
        }(*a, data);
        received.reserve(data.size());
        while (true) {
          try {
            received += co_await b->read_bytes(1 << 16, true);
          } catch (const StreamClosedError&) {
            break;
          }
        }
        co_await writer;
      },
      60s);
  EXPECT_EQ(received.size(), data.size());
  EXPECT_TRUE(sha256(received) == expected);
}

TEST_F(IOStreamTest, ConnectReachesATcpListenerOnLoopback) {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  SocketAddress any = SocketAddress::from_ip("127.0.0.1", 0);
  ASSERT_EQ(::bind(listener, any.get(), any.length()), 0);
  ASSERT_EQ(::listen(listener, 8), 0);
  SocketAddress bound;
  socklen_t length = SocketAddress::capacity();
  ASSERT_EQ(::getsockname(listener, bound.get(), &length), 0);
  bound.set_length(length);

  run_sync([&]() -> Future<void> {
    auto client = std::make_unique<IOStream>(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    co_await client->connect(bound);
    client->set_nodelay(true);
    int accepted = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    EXPECT_GE(accepted, 0);
    IOStream server(accepted);
    co_await client->write("ping\n");
    EXPECT_EQ(co_await server.read_until("\n"), "ping\n");
    co_await server.write("pong\n");
    EXPECT_EQ(co_await client->read_until("\n"), "pong\n");
  });
  ::close(listener);
}

TEST_F(IOStreamTest, ConnectToAClosedPortFailsWithTheRealError) {
  // A port nobody listens on: bind one, learn its number, close it.
  int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  SocketAddress any = SocketAddress::from_ip("127.0.0.1", 0);
  ASSERT_EQ(::bind(probe, any.get(), any.length()), 0);
  SocketAddress bound;
  socklen_t length = SocketAddress::capacity();
  ::getsockname(probe, bound.get(), &length);
  bound.set_length(length);
  ::close(probe);
  run_sync([&]() -> Future<void> {
    IOStream client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    try {
      co_await client.connect(bound);
      ADD_FAILURE() << "connected to a closed port";
    } catch (const StreamClosedError& e) {
      try {
        std::rethrow_exception(e.real_error());
      } catch (const OSError& os) {
        EXPECT_EQ(os.code(), ECONNREFUSED) << os.what();
      }
    }
  });
}

TEST_F(IOStreamTest, PipesWorkInBothDirections) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  IOStream reader(fds[0]);
  IOStream writer(fds[1]);
  run_sync([&]() -> Future<void> {
    co_await writer.write("through the pipe\n");
    EXPECT_EQ(co_await reader.read_until("\n"), "through the pipe\n");
    writer.close();
    EXPECT_EQ(co_await reader.read_until_close(), "");
  });
}

TEST_F(IOStreamTest, WritingToAPipeWithoutAReaderFailsWithEpipe) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ::close(fds[0]);
  IOStream writer(fds[1]);
  run_sync([&]() -> Future<void> {
    EXPECT_THROW(co_await writer.write("nobody listens"), StreamClosedError);
    try {
      std::rethrow_exception(writer.error());
    } catch (const OSError& os) {
      EXPECT_EQ(os.code(), EPIPE);
    }
  });
}

TEST_F(IOStreamTest, TheCloseCallbackRunsOnTheLoopWhenThePeerCloses) {
  auto [a, b] = make_pair();
  bool called = false;
  Future<void> closed;
  b->set_close_callback([&called, closed] {
    called = true;
    closed.set_result();
  });
  a->close();
  run_sync([&]() -> Future<void> { co_await closed; });
  EXPECT_TRUE(called);
  EXPECT_TRUE(b->closed());
}

TEST_F(IOStreamTest, DestroyingAStreamFailsItsPendingRead) {
  auto [a, b] = make_pair();
  Future<std::string> read = b->read_bytes(4);
  b.reset();
  run_sync([&]() -> Future<void> { EXPECT_THROW(co_await read, StreamClosedError); });
}

TEST_F(IOStreamTest, ManySmallReadsOfABigStreamGiveEveryByteInOrder) {
  // 4 MiB of numbered lines read one line at a time: the read buffer is consumed from the
  // front many times, and compacted or grown only now and then.
  auto [a, b] = make_pair();
  constexpr int kLines = 200'000;
  run_sync(
      [&]() -> Future<void> {
        auto writer = [](IOStream& out) -> Future<void> {
          std::string batch;
          for (int i = 0; i < kLines; ++i) {
            batch += std::to_string(i);
            batch += '\n';
            if (batch.size() > 60'000) co_await out.write(std::exchange(batch, {}));
          }
          co_await out.write(std::move(batch));
        }(*a);
        for (int i = 0; i < kLines; ++i) {
          std::string line = co_await b->read_until("\n");
          if (line != std::to_string(i) + "\n") {
            ADD_FAILURE() << "line " << i << " was " << line;
            break;
          }
        }
        co_await writer;
      },
      60s);
}

// Regression: a hang-up reported while data was still in the kernel (the reader takes a fair
// share per event) closed the stream, and the rest of the data was lost.
TEST_F(IOStreamTest, AHangUpWithUnreadDataStillDeliversEveryByte) {
  IOStreamOptions small_chunks;
  small_chunks.read_chunk_size = 4096;
  auto [a, b] = make_pair({}, small_chunks);
  const std::string data(1 << 20, 'q');
  run_sync([&]() -> Future<void> {
    Future<void> written = a->write(data);
    Future<std::string> all = b->read_until_close();
    co_await written;
    a->close();  // hangs up with most of the data unread
    EXPECT_EQ((co_await all).size(), data.size());
  });
}

TEST_F(IOStreamTest, BorrowedWritesArriveInOrderWithCopiedOnes) {
  auto [a, b] = make_pair();
  const std::string big(1 << 20, 'B');  // borrowed: kept alive until its write is done
  run_sync([&]() -> Future<void> {
    Future<std::string> all = b->read_until_close();
    Future<void> first = a->write("head:");
    Future<void> second = a->write_borrowed(big);
    Future<void> third = a->write_borrowed(std::string_view(":tail"));  // small: copied
    co_await first;
    co_await second;
    co_await third;
    a->close();
    std::string got = co_await all;
    EXPECT_EQ(got, "head:" + big + ":tail");
  });
}

TEST_F(IOStreamTest, AnIdleStreamGivesItsReadBufferBack) {
  auto [a, b] = make_pair();
  run_sync([&]() -> Future<void> {
    co_await a->write(std::string(100'000, 'r'));
    Future<std::string> first = b->read_bytes(60'000);
    std::string got = co_await first;
    EXPECT_GT(b->read_buffer_capacity(), 0u);  // 40,000 bytes still buffered
    got = co_await b->read_bytes(40'000);
    EXPECT_EQ(b->read_buffer_size(), 0u);
    EXPECT_EQ(b->read_buffer_capacity(), 0u);  // nothing buffered: nothing held
  });
}

// ---- write_file ----------------------------------------------------------------------------

std::string random_bytes(std::size_t size, std::uint64_t seed) {
  std::string data(size, '\0');
  std::mt19937_64 random(seed);
  for (std::size_t i = 0; i + 8 <= data.size(); i += 8) {
    std::uint64_t word = random();
    std::memcpy(data.data() + i, &word, 8);
  }
  return data;
}

/// A temporary file holding `content`, already unlinked; its descriptor closes with it.
class TempFile {
 public:
  explicit TempFile(std::string_view content) {
    char path[] = "/tmp/squall-iostream-XXXXXX";
    fd_ = ::mkostemp(path, O_CLOEXEC);
    if (fd_ < 0) throw OSError(errno, "mkostemp");
    ::unlink(path);
    for (std::size_t done = 0; done < content.size();) {
      ssize_t n = ::write(fd_, content.data() + done, content.size() - done);
      if (n <= 0) throw OSError(errno, "write");
      done += static_cast<std::size_t>(n);
    }
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  int fd() const noexcept { return fd_; }
  /// Closes the descriptor early (the stream must have made its own copy).
  void close() {
    ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

/// Bytes the process holds allocated from the heap now.
std::size_t allocated_bytes() {
#if defined(__SANITIZE_ADDRESS__)
  return __sanitizer_get_current_allocated_bytes();
#else
  struct mallinfo2 info = ::mallinfo2();
  return info.uordblks + info.hblkhd;
#endif
}

/// Descriptors the process has open.
std::size_t open_descriptors() {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count;
}

/// The message of a StreamClosedError's real error ("" for anything else).
template <class T>
Future<std::string> closed_reason(Future<T> future) {
  try {
    co_await future;
  } catch (const StreamClosedError& e) {
    if (!e.real_error()) co_return "(closed without an error)";
    try {
      std::rethrow_exception(e.real_error());
    } catch (const std::exception& real) {
      co_return real.what();
    }
  } catch (...) {
  }
  co_return "";
}

TEST_F(IOStreamTest, WriteFileSendsRangesOfAFileInOrderWithOtherWrites) {
  auto [a, b] = make_pair();
  const std::string content = random_bytes(5u << 20, 11);
  TempFile file(content);
  run_sync([&]() -> Future<void> {
    Future<std::string> all = b->read_until_close();
    Future<void> head = a->write("head:");
    Future<void> body = a->write_file(file.fd(), 1000, 3u << 20);
    Future<void> middle = a->write(":middle:");
    Future<void> start = a->write_file(file.fd(), 0, 100);
    Future<void> tail = a->write(std::string(":tail"));
    file.close();  // the stream sends from its own descriptor
    EXPECT_FALSE(body.done());
    co_await head;
    co_await body;
    co_await middle;
    co_await start;
    co_await tail;
    EXPECT_EQ(a->write_buffer_size(), 0u);
    a->close();
    std::string got = co_await all;
    const std::string expected =
        "head:" + content.substr(1000, 3u << 20) + ":middle:" + content.substr(0, 100) + ":tail";
    EXPECT_EQ(got.size(), expected.size());
    EXPECT_TRUE(got == expected);
  });
}

TEST_F(IOStreamTest, AFileThatFitsTheSocketIsSentAtOnce) {
  auto [a, b] = make_pair();
  const std::string content = random_bytes(10'000, 12);
  TempFile file(content);
  const std::size_t descriptors = open_descriptors();
  Future<void> sent = a->write_file(file.fd(), 0, content.size());
  EXPECT_TRUE(sent.done());
  EXPECT_FALSE(a->writing());
  EXPECT_EQ(open_descriptors(), descriptors);  // nothing waited: no duplicate was made
  run_sync([&]() -> Future<void> { EXPECT_EQ(co_await b->read_bytes(content.size()), content); });
}

TEST_F(IOStreamTest, WriteFileToASlowReaderWaitsAndHoldsNoFileInMemory) {
  auto [a, b] = make_pair();
  const std::string content = random_bytes(32u << 20, 13);
  TempFile file(content);
  std::string received;
  received.reserve(content.size());
  run_sync(
      [&]() -> Future<void> {
        std::vector<char> piece(64 << 10);
        const std::size_t baseline = allocated_bytes();
        std::size_t peak = baseline;
        Future<void> sent = a->write_file(file.fd(), 0, content.size());
        co_await test_support::iterations(3);
        // The kernel took what its buffers hold; the rest waits for the reader.
        EXPECT_FALSE(sent.done());
        EXPECT_GT(a->write_buffer_size(), content.size() / 2);
        while (received.size() < content.size()) {
          std::size_t n = co_await b->read_into(piece, true);
          received.append(piece.data(), n);
          peak = std::max(peak, allocated_bytes());
          co_await test_support::next_iteration();  // a slow reader: one piece per iteration
        }
        co_await sent;
        EXPECT_LT(peak - baseline, std::size_t{256} << 10) << "the file went through memory";
      },
      60s);
  EXPECT_TRUE(received == content);
}

TEST_F(IOStreamTest, FileBytesDoNotCountAgainstTheWriteBufferLimit) {
  IOStreamOptions limited;
  limited.max_write_buffer_size = 64 << 10;
  auto [a, b] = make_pair(limited);
  const std::string content = random_bytes(8u << 20, 14);
  TempFile file(content);
  run_sync([&]() -> Future<void> {
    Future<void> sent = a->write_file(file.fd(), 0, content.size());
    EXPECT_FALSE(sent.done());
    EXPECT_GT(a->write_buffer_size(), limited.max_write_buffer_size);
    Future<void> after = a->write(std::string(1000, 'a'));  // memory: well within the limit
    EXPECT_FALSE(after.done());                             // queued behind the file, not refused
    std::string got = co_await b->read_bytes(content.size() + 1000);
    co_await after;
    EXPECT_TRUE(got == content + std::string(1000, 'a'));
  });
}

TEST_F(IOStreamTest, AFileTruncatedWhileItIsSentClosesTheStreamWithAnError) {
  auto [a, b] = make_pair();
  const std::string content = random_bytes(4u << 20, 15);
  TempFile file(content);
  run_sync([&]() -> Future<void> {
    Future<void> sent = a->write_file(file.fd(), 0, content.size());
    EXPECT_FALSE(sent.done());
    EXPECT_EQ(::ftruncate(file.fd(), 1 << 20), 0);
    Future<std::string> all = b->read_until_close();
    std::string reason = co_await closed_reason(sent);
    EXPECT_NE(reason.find("bytes short of the range"), std::string::npos) << reason;
    EXPECT_TRUE(a->closed());
    std::string got = co_await all;
    EXPECT_TRUE(got == content.substr(0, 1 << 20)) << got.size();
  });
}

TEST_F(IOStreamTest, ARangePastTheEndOfTheFileSendsWhatThereIsThenCloses) {
  auto [a, b] = make_pair();
  TempFile file("0123456789");
  run_sync([&]() -> Future<void> {
    Future<std::string> all = b->read_until_close();
    Future<void> sent = a->write_file(file.fd(), 4, 10);
    std::string reason = co_await closed_reason(sent);
    EXPECT_NE(reason.find("ended at byte 10, 4 bytes short"), std::string::npos) << reason;
    EXPECT_EQ(co_await all, "456789");
  });
}

TEST_F(IOStreamTest, WriteFileOnAClosedStreamFailsWithStreamClosedError) {
  auto [a, b] = make_pair();
  TempFile file("data");
  a->close();
  run_sync([&]() -> Future<void> {
    EXPECT_THROW(co_await a->write_file(file.fd(), 0, 4), StreamClosedError);
  });
}

TEST_F(IOStreamTest, AQueuedFileFailsAndItsDuplicateIsClosedWhenThePeerGoes) {
  auto [a, b] = make_pair();
  const std::string content = random_bytes(8u << 20, 16);
  TempFile file(content);
  const std::size_t descriptors = open_descriptors();
  run_sync([&]() -> Future<void> {
    Future<void> sent = a->write_file(file.fd(), 0, content.size());
    EXPECT_FALSE(sent.done());
    EXPECT_EQ(open_descriptors(), descriptors + 1);  // the stream's duplicate
    b->close();  // a sendfile now would meet EPIPE (SIGPIPE is ignored: the test lives on)
    EXPECT_THROW(co_await sent, StreamClosedError);
    EXPECT_TRUE(a->closed());
    EXPECT_EQ(open_descriptors(), descriptors - 2);  // both sockets and the duplicate are gone
  });
}

TEST_F(IOStreamTest, TheDuplicateIsClosedOnceTheFileIsSent) {
  auto [a, b] = make_pair();
  const std::string content = random_bytes(4u << 20, 17);
  TempFile file(content);
  const std::size_t descriptors = open_descriptors();
  run_sync([&]() -> Future<void> {
    Future<void> sent = a->write_file(file.fd(), 0, content.size());
    EXPECT_FALSE(sent.done());
    std::string got = co_await b->read_bytes(content.size());
    co_await sent;
    EXPECT_EQ(open_descriptors(), descriptors);
    EXPECT_TRUE(got == content);
  });
}

TEST_F(IOStreamTest, AnEmptyRangeCompletesInTurn) {
  auto [a, b] = make_pair();
  TempFile file("x");
  run_sync([&]() -> Future<void> {
    EXPECT_TRUE(a->write_file(file.fd(), 1, 0).done());  // nothing queued: done at once
    const std::string big(4 << 20, 'q');
    Future<void> first = a->write(big);
    Future<void> empty = a->write_file(file.fd(), 0, 0);
    EXPECT_FALSE(empty.done());  // after the write before it
    EXPECT_EQ((co_await b->read_bytes(big.size())).size(), big.size());
    co_await first;
    co_await empty;
  });
}

TEST_F(IOStreamTest, WriteFileRefusesABadDescriptorOrRange) {
  auto [a, b] = make_pair();
  TempFile file("x");
  EXPECT_THROW(static_cast<void>(a->write_file(-1, 0, 1)), ValueError);
  EXPECT_THROW(static_cast<void>(a->write_file(file.fd(), UINT64_MAX, 1)), ValueError);
  EXPECT_THROW(static_cast<void>(a->write_file(file.fd(), 1, INT64_MAX)), ValueError);
  EXPECT_FALSE(a->closed());
}

TEST_F(IOStreamTest, WriteFileThroughAPipeArrivesIntact) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  auto reader = std::make_unique<IOStream>(fds[0]);
  auto writer = std::make_unique<IOStream>(fds[1]);
  const std::string content = random_bytes(3u << 20, 18);
  TempFile file(content);
  run_sync([&]() -> Future<void> {
    Future<std::string> all = reader->read_until_close();
    co_await writer->write_file(file.fd(), 0, content.size());
    writer->close();
    EXPECT_TRUE(co_await all == content);
  });
}

// sendfile refuses some inputs (procfs files cannot be spliced): the stream reads them instead.
TEST_F(IOStreamTest, AFileSendfileRefusesIsReadInPiecesInstead) {
  int status = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(status, 0);
  char expected[5];
  ASSERT_EQ(::pread(status, expected, sizeof expected, 0), 5);  // "Name:"
  auto [a, b] = make_pair();
  run_sync([&]() -> Future<void> {
    co_await a->write_file(status, 0, sizeof expected);
    EXPECT_EQ(co_await b->read_bytes(sizeof expected), std::string(expected, sizeof expected));
  });
  ::close(status);
}

}  // namespace
}  // namespace squall
