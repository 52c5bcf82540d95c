#pragma once
// What the WebSocket interoperability tests share (websocket_interop_test,
// websocket_interop_client_test, websocket_browser_test): the Python peers
// (tests/web/ws_peer_websockets.py and ws_peer_tornado.py, run with Debian's /usr/bin/python3 as
// child processes that print JSON of what they saw), the steps and frames they are given, and a
// squall server whose handler records what it saw. A missing python3 module fails the tests
// (scripts/deps installs python3-websockets and python3-tornado).

#include <openssl/evp.h>
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "squall/core/gen.hpp"
#include "squall/net/iostream.hpp"
#include "squall/net/process.hpp"
#include "squall/testing/testing.hpp"
#include "squall/web/application.hpp"
#include "squall/web/request_handler.hpp"
#include "squall/web/websocket.hpp"
#include "web/tornado_python.hpp"

namespace squall::interop {

using namespace std::chrono_literals;
using nlohmann::json;
using test_support::from_hex;
using test_support::to_hex;
using web::WebSocketClientConnection;
using web::WebSocketClientOptions;
using web::WebSocketCompressionOptions;
using web::WebSocketMessage;

constexpr const char* kPython = "/usr/bin/python3";
constexpr std::uint64_t kTenMiB = std::uint64_t{10} << 20;
// A run of a whole test body; the peers' own steps time out after 20 s.
constexpr auto kTestTimeout = 90s;
// Text that is not ASCII: two- three- and four-byte UTF-8 sequences.
constexpr std::string_view kUnicodeText = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xf0\x9f\x9a\x80";

inline std::string sha256_hex(std::string_view data) {
  unsigned char digest[32];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  return to_hex(std::string_view(reinterpret_cast<const char*>(digest), size));
}

inline std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

// `copies` copies of `size` random lowercase letters: compressible only through back-references
// `size` bytes long, which a smaller window than `size` cannot express.
inline std::string repeated_letters(std::size_t size, int copies, unsigned seed) {
  std::mt19937 rng(seed);
  std::string chunk(size, 'a');
  for (char& c : chunk) c = static_cast<char>('a' + rng() % 26);
  std::string out;
  for (int i = 0; i < copies; ++i) out.append(chunk);
  return out;
}

// ---- Python peers ---------------------------------------------------------------------------

inline std::string script_path(std::string_view name) {
  std::string path = SQUALL_TEST_SOURCE_DIR;
  path.append("/web/");
  path.append(name);
  return path;
}

// One run of a ws_peer_*.py script as a child process whose stdin and stdout are pipes; its
// stderr is ours, so a traceback shows in the test's output. `mode` is "client" or "server";
// `args` the script's JSON argument, or the string "-" when the JSON comes on stdin (`result`).
class PythonPeer {
 public:
  PythonPeer(std::string_view script, std::string_view mode, const json& args)
      : process_({kPython, script_path(script), std::string(mode),
                  args.is_string() ? args.get<std::string>() : args.dump()},
                 pipes()),
        script_(script) {}
  ~PythonPeer() {
    if (!process_.returncode()) ::kill(process_.pid(), SIGKILL);
  }
  PythonPeer(const PythonPeer&) = delete;
  PythonPeer& operator=(const PythonPeer&) = delete;

  // The next line the peer prints, parsed. The caller keeps the peer alive while awaiting.
  Future<json> read_line(Deadline deadline = 30s) {
    std::string line;
    bool closed = false;
    try {
      line = co_await gen::with_timeout(deadline,
                                        process_.stdout_stream()->read_until("\n", 64 << 20));
    } catch (const StreamClosedError&) {
      closed = true;  // the peer exited: say how (a co_await may not sit in a handler)
    }
    if (closed) co_await fail_on_exit();
    co_return json::parse(line);
  }

  // Gives the peer `input` on stdin, then returns everything it prints until it exits, parsed
  // as one JSON value; fails unless it exits with status 0.
  Future<json> result(std::string input, Deadline deadline = 60s) {
    try {
      co_await gen::with_timeout(deadline, process_.stdin_stream()->write(std::move(input)));
    } catch (const StreamClosedError&) {
      // The peer exited without reading (a missing module): its exit status says why.
    }
    process_.stdin_stream().reset();
    std::string output =
        co_await gen::with_timeout(deadline, process_.stdout_stream()->read_until_close());
    const int status = co_await gen::with_timeout(deadline, process_.wait_for_exit(false));
    if (status != 0) throw_exit_error(status);
    co_return json::parse(output);
  }

  // Closes the peer's stdin (a server script exits then) and waits for it to exit with 0.
  Future<void> stop(Deadline deadline = 30s) {
    process_.stdin_stream().reset();
    const int status = co_await gen::with_timeout(deadline, process_.wait_for_exit(false));
    if (status != 0) throw_exit_error(status);
  }

 private:
  static SubprocessOptions pipes() {
    SubprocessOptions options;
    options.stdin_mode = Subprocess::STREAM;
    options.stdout_mode = Subprocess::STREAM;
    return options;
  }
  Future<void> fail_on_exit() {
    const int status = co_await gen::with_timeout(10s, process_.wait_for_exit(false));
    throw_exit_error(status);
  }
  [[noreturn]] void throw_exit_error(int status) const {
    // Status 2 is the scripts' "a module is missing" (their message is on stderr above).
    const char* package = script_.find("tornado") != std::string::npos ? "python3-tornado 6.2"
                                                                       : "python3-websockets 10.4";
    throw Error(script_ + " exited with status " + std::to_string(status) +
                (status == 2 ? std::string(": ") + package +
                                   " is missing, or another version (scripts/deps installs it)"
                             : std::string(" (its stderr is above)")));
  }

  Subprocess process_;
  std::string script_;
};

inline json send_text(std::string_view text, int fragments = 1) {
  return {{"do", "send"}, {"hex", to_hex(text)}, {"binary", false}, {"fragments", fragments}};
}
inline json send_binary(std::string_view bytes, int fragments = 1) {
  return {{"do", "send"}, {"hex", to_hex(bytes)}, {"binary", true}, {"fragments", fragments}};
}
// `size` random bytes made by the peer from `seed`; as text, the hex of size/2 random bytes.
inline json send_random(std::uint64_t size, int seed, bool binary = true) {
  return {{"do", "send"}, {"size", size}, {"seed", seed}, {"binary", binary}};
}
inline json recv() {
  return {{"do", "recv"}};
}
// A frame as bytes on the wire: `first` is its FIN, RSV and opcode byte. A masked frame has a
// zero key, so its payload reads as is.
inline std::string wire_frame(unsigned first, std::string_view payload, bool masked = true) {
  std::string out(1, static_cast<char>(first));
  const unsigned mask_bit = masked ? 0x80 : 0;
  const std::size_t size = payload.size();
  if (size < 126) {
    out.push_back(static_cast<char>(mask_bit | size));
  } else if (size < 65536) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(size >> 8));
    out.push_back(static_cast<char>(size & 0xff));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(size >> shift));
  }
  if (masked) out.append(4, '\0');
  out.append(payload);
  return out;
}
inline json wire_bytes(std::string_view bytes) {
  return {{"do", "bytes"}, {"hex", to_hex(bytes)}};
}
inline json raw_frame(bool fin, int opcode, std::string_view bytes) {
  return {{"do", "raw"}, {"fin", fin}, {"opcode", opcode}, {"hex", to_hex(bytes)}};
}
// A command to the squall handler or to a Python server: "!" and JSON text.
inline std::string command(const json& what) {
  std::string text = "!";
  text.append(what.dump());
  return text;
}

// The received message of a step's report, in bytes.
inline std::string received_bytes(const json& step) {
  return from_hex(step.at("received").at("hex").get<std::string>());
}

// ---- The squall server ----------------------------------------------------------------------

// What the squall handler saw of one connection.
struct ConnectionRecord {
  std::vector<WebSocketMessage> messages;
  std::vector<std::string> pings;
  std::vector<std::string> pongs;
  std::optional<int> close_code;
  std::string close_reason;
  std::optional<std::string> request_extensions;
  std::optional<std::string> selected_subprotocol;
  int echoes_started = 0;  // echoes handed to write_message
  int echoes_written = 0;  // and whose Future completed
  Future<void> closed;
};

struct ServerLog {
  std::vector<std::shared_ptr<ConnectionRecord>> connections;
  Future<std::string> browser_result;
};

struct SocketConfig {
  std::optional<WebSocketCompressionOptions> compression;
  std::vector<std::string> subprotocols;  // those we speak, in the order we prefer
};

// Echoes every message; text that starts with "!" is a command (as the Python servers take):
// {"close": code, "reason": r}, {"ping": hex} (the pong is answered with "pong:" + hex),
// {"send": hex, "binary": b}.
class InteropSocket : public web::WebSocketHandler {
 public:
  void initialize(ServerLog* log, SocketConfig config) {
    log_ = log;
    config_ = std::move(config);
  }

  Future<void> open() override {
    record_ = std::make_shared<ConnectionRecord>();
    record_->request_extensions = request().headers.get("Sec-WebSocket-Extensions");
    record_->selected_subprotocol = selected_subprotocol();
    log_->connections.push_back(record_);
    co_return;
  }

  Future<void> on_message(WebSocketMessage message) override {
    record_->messages.push_back(message);
    if (!message.binary && message.data.starts_with("!")) {
      const json what = json::parse(std::string_view(message.data).substr(1));
      if (what.contains("close")) {
        close(what["close"].get<int>(), what.value("reason", ""));
      } else if (what.contains("ping")) {
        ping(from_hex(what["ping"].get<std::string>()));
      } else if (what.contains("send")) {
        co_await write_message(std::string_view(from_hex(what["send"].get<std::string>())),
                               what.value("binary", false));
      }
      co_return;
    }
    ++record_->echoes_started;
    co_await write_message(std::string_view(message.data), message.binary);
    ++record_->echoes_written;
  }

  void on_ping(std::string_view data) override { record_->pings.emplace_back(data); }

  void on_pong(std::string_view data) override {
    record_->pongs.emplace_back(data);
    std::string answer = "pong:";
    answer.append(to_hex(data));
    // A failure of this write (the connection closing meanwhile) shows in the test's output.
    if (!is_closing()) pending_ = write_message(std::string_view(answer));
  }

  void on_close() override {
    if (!record_) return;
    record_->close_code = close_code();
    record_->close_reason = close_reason();
    record_->closed.set_result();
  }

  std::optional<std::string> select_subprotocol(const std::vector<std::string>& offered) override {
    // The client's order decides, among those we speak.
    for (const std::string& name : offered) {
      for (const std::string& ours : config_.subprotocols) {
        if (name == ours) return name;
      }
    }
    return std::nullopt;
  }

  std::optional<WebSocketCompressionOptions> get_compression_options() override {
    return config_.compression;
  }

 private:
  ServerLog* log_ = nullptr;
  SocketConfig config_;
  std::shared_ptr<ConnectionRecord> record_;
  Future<void> pending_;
};

class InteropTest : public testing::AsyncHTTPTestCase {
 protected:
  std::unique_ptr<web::Application> get_app() override {
    web::Settings settings;
    return std::make_unique<web::Application>(routes(), std::move(settings));
  }

  // The routes of the test's application: the handler at paths that differ in its settings.
  virtual std::vector<web::URLSpec> routes() {
    using web::handler;
    const SocketConfig plain{std::nullopt, {}};
    const SocketConfig deflate{WebSocketCompressionOptions{}, {}};
    const SocketConfig chat{std::nullopt, {"chat.v1", "chat.v2"}};
    const SocketConfig deflate_chat{WebSocketCompressionOptions{}, {"chat.v1", "chat.v2"}};
    return {
        {"/echo", handler<InteropSocket>(&log_, plain)},
        {"/deflate", handler<InteropSocket>(&log_, deflate)},
        {"/chat", handler<InteropSocket>(&log_, chat)},
        {"/deflate-chat", handler<InteropSocket>(&log_, deflate_chat)},
    };
  }

  std::string ws_url(std::string_view path) const {
    std::string url = "ws://127.0.0.1:" + std::to_string(get_http_port());
    url.append(path);
    return url;
  }

  // Runs a Python client against this server and returns its report, once the handler's
  // connection (if one opened) has closed too.
  json run_client(std::string_view script, json args) {
    return run_sync(
        [&]() -> Future<json> {
          PythonPeer peer(script, "client", "-");
          json report = co_await peer.result(args.dump());
          for (const json& step : report.value("steps", json::array())) {
            if (step.contains("timeout")) {
              std::string seen;
              for (auto& connection : log_.connections) {
                seen.append(" ")
                    .append(std::to_string(connection->messages.size()))
                    .append(" (echoes started ")
                    .append(std::to_string(connection->echoes_started))
                    .append(", written ")
                    .append(std::to_string(connection->echoes_written))
                    .append(")");
              }
              ADD_FAILURE() << "a step of the peer timed out (" << step.dump()
                            << "); the handler got messages:" << seen;
            }
          }
          for (auto& connection : log_.connections) {
            co_await gen::with_timeout(10s, connection->closed);
          }
          co_return report;
        },
        kTestTimeout);
  }

  // The only connection the handler saw.
  ConnectionRecord& connection() {
    EXPECT_EQ(log_.connections.size(), 1u);
    if (log_.connections.empty()) throw Error("no connection reached the handler");
    return *log_.connections.front();
  }

  ServerLog log_;
};

}  // namespace squall::interop
