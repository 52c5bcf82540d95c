// squall's WebSocketHandler against a real browser: headless Chromium (Debian's /usr/bin/chromium)
// opens a page squall serves, whose script echoes messages through a WebSocket, closes one
// socket itself and has the handler close another, and posts what it saw back to the server.
// A missing Chromium fails the tests (scripts/deps installs it).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "web/websocket_interop.hpp"

extern char** environ;

namespace squall::interop {
namespace {

constexpr const char* kChromium = "/usr/bin/chromium";

// The page Chromium runs (see BrowserTest): it echoes messages through the WebSocket at
// ?ws=PATH, closes one socket by asking the handler to and another itself, and posts what it saw
// to /result.
constexpr std::string_view kBrowserPage = R"HTML(<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>squall WebSocket interop</title></head>
<body><script>
"use strict";
// Echoes messages through the WebSocket at ?ws=PATH, then posts what it saw to /result.
function open(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ["chat.v1"]);
    ws.binaryType = "arraybuffer";
    ws.inbox = [];
    ws.waiting = null;
    ws.onmessage = (event) => {
      ws.inbox.push(event.data);
      if (ws.waiting) { const wake = ws.waiting; ws.waiting = null; wake(); }
    };
    ws.closed = new Promise((done) => {
      ws.onclose = (e) => done({code: e.code, reason: e.reason, wasClean: e.wasClean});
    });
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error("WebSocket error before open"));
  });
}
async function next(ws) {
  while (ws.inbox.length === 0) await new Promise((wake) => { ws.waiting = wake; });
  return ws.inbox.shift();
}
function sameBytes(a, b) {
  if (!(a instanceof ArrayBuffer) || a.byteLength !== b.length) return false;
  const view = new Uint8Array(a);
  for (let i = 0; i < b.length; ++i) if (view[i] !== b[i]) return false;
  return true;
}
async function run() {
  const path = new URLSearchParams(location.search).get("ws");
  const url = "ws://" + location.host + path;
  const result = {steps: []};
  try {
    const ws = await open(url);
    result.extensions = ws.extensions;
    result.protocol = ws.protocol;
    for (const text of ["hello", "h\u00e9llo w\u00f6rld \u2713 \u{1F680}", ""]) {
      ws.send(text);
      const got = await next(ws);
      result.steps.push({kind: "text", ok: got === text, length: got.length});
    }
    const bytes = new Uint8Array(256);
    for (let i = 0; i < 256; ++i) bytes[i] = i;
    ws.send(bytes.buffer);
    result.steps.push({kind: "binary", ok: sameBytes(await next(ws), bytes)});
    const lines = [];
    for (let i = 0; i < 60000; ++i) lines.push("line " + i + " \u00e9\u20ac\n");
    const large = lines.join("");
    ws.send(large);
    const echoed = await next(ws);
    result.steps.push({kind: "large", ok: echoed === large, length: echoed.length});
    ws.send('!{"close": 4005, "reason": "done \u2713"}');
    result.server_close = await ws.closed;
    const second = await open(url);
    second.close(4006, "browser leaves \u2713");
    result.browser_close = await second.closed;
  } catch (e) {
    result.error = String(e);
  }
  await fetch("/result", {method: "POST", body: JSON.stringify(result)});
  document.title = "done";
}
run();
</script></body></html>
)HTML";

class PageHandler : public web::RequestHandler {
 public:
  Future<void> get() override {
    set_header("Content-Type", "text/html; charset=UTF-8");
    write(kBrowserPage);
    co_return;
  }
};

class ResultHandler : public web::RequestHandler {
 public:
  void initialize(ServerLog* log) { log_ = log; }
  Future<void> post() override {
    if (!log_->browser_result.done()) log_->browser_result.set_result(request().body);
    write("thanks");
    co_return;
  }

 private:
  ServerLog* log_ = nullptr;
};

// ---- A real browser ---------------------------------------------------------------------------

// Headless Chromium in a process group of its own, killed whole on destruction.
class Chromium {
 public:
  explicit Chromium(const std::string& url) {
    if (::access(kChromium, X_OK) != 0) {
      throw Error(std::string(kChromium) + " is missing: install chromium (scripts/deps)");
    }
    char dir_template[] = "/tmp/squall-chromium-XXXXXX";
    if (::mkdtemp(dir_template) == nullptr) throw Error("mkdtemp failed");
    profile_ = dir_template;
    log_path_ = profile_ + ".log";
    const std::string profile_flag = "--user-data-dir=" + profile_;
    std::vector<std::string> args = {kChromium,
                                     "--headless",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--disable-background-networking",
                                     "--disable-component-update",
                                     "--disable-sync",
                                     "--no-first-run",
                                     profile_flag,
                                     url};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);

    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // A group of its own (killed whole at the end), and the signal mask and dispositions of a
    // fresh process rather than the loop's blocked SIGCHLD.
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGCHLD);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    const int error = ::posix_spawn(&pid_, kChromium, &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (error != 0) {
      pid_ = -1;
      throw Error("cannot start " + std::string(kChromium) + ": " + std::strerror(error));
    }
  }
  ~Chromium() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
    std::error_code ignored;
    std::filesystem::remove_all(profile_, ignored);
    std::filesystem::remove(log_path_, ignored);
  }
  Chromium(const Chromium&) = delete;
  Chromium& operator=(const Chromium&) = delete;

  // What Chromium printed, for a failure's message.
  std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  pid_t pid_ = -1;
  std::string profile_;
  std::string log_path_;
};

// The large text the page sends: the same lines the page builds.
std::string browser_large_text() {
  std::string text;
  for (int i = 0; i < 60000; ++i) {
    text.append("line ");
    text.append(std::to_string(i));
    text.append(" \xc3\xa9\xe2\x82\xac\n");
  }
  return text;
}

class BrowserTest : public InteropTest {
 protected:
  std::vector<web::URLSpec> routes() override {
    std::vector<web::URLSpec> all = InteropTest::routes();
    all.push_back({"/page", web::handler<PageHandler>()});
    all.push_back({"/result", web::handler<ResultHandler>(&log_)});
    return all;
  }

  // Opens /page?ws=`path` in Chromium and returns the JSON the page posts back.
  json run_page(std::string_view path) {
    std::string url = get_url("/page?ws=");
    url.append(path);
    Chromium browser(url);
    try {
      const std::string body = run_sync(
          [&]() -> Future<std::string> {
            std::string result = co_await gen::with_timeout(60s, log_.browser_result);
            for (auto& connection : log_.connections) {
              co_await gen::with_timeout(10s, connection->closed);
            }
            co_return result;
          },
          kTestTimeout);
      return json::parse(body);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "the page did not report (" << e.what() << "); Chromium said:\n"
                    << browser.log();
      throw;
    }
  }

  void expect_echoes(json result) {
    ASSERT_FALSE(result.contains("error")) << result.dump();
    ASSERT_EQ(result["steps"].size(), 5u) << result.dump();
    for (const json& step : result["steps"]) EXPECT_TRUE(step["ok"]) << step.dump();
    EXPECT_EQ(result["protocol"], "chat.v1");
    // The socket the handler closed: the browser saw its code and reason.
    EXPECT_EQ(result["server_close"]["code"], 4005);
    EXPECT_EQ(result["server_close"]["reason"], "done \xe2\x9c\x93");
    EXPECT_TRUE(result["server_close"]["wasClean"]);
    // The socket the browser closed: the handler saw its code and reason.
    EXPECT_EQ(result["browser_close"]["code"], 4006);
    ASSERT_EQ(log_.connections.size(), 2u);
    const ConnectionRecord& first = *log_.connections[0];
    ASSERT_EQ(first.messages.size(), 6u);
    EXPECT_EQ(first.messages[0].data, "hello");
    EXPECT_EQ(first.messages[1].data, kUnicodeText);
    EXPECT_FALSE(first.messages[1].binary);
    std::string all_bytes;
    for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
    EXPECT_EQ(first.messages[3].data, all_bytes);
    EXPECT_TRUE(first.messages[3].binary);
    EXPECT_TRUE(first.messages[4].data == browser_large_text());
    EXPECT_EQ(first.close_code, 4005);  // the browser's answer to our close
    EXPECT_EQ(log_.connections[1]->close_code, 4006);
    EXPECT_EQ(log_.connections[1]->close_reason, "browser leaves \xe2\x9c\x93");
  }
};

TEST_F(BrowserTest, ChromiumEchoesThroughSquallWithDeflate) {
  json result = run_page("/deflate-chat");
  expect_echoes(result);
  // Chromium offers permessage-deflate; the handler agreed.
  EXPECT_EQ(result["extensions"], "permessage-deflate");
  EXPECT_EQ(log_.connections.at(0)->request_extensions,
            "permessage-deflate; client_max_window_bits");
}

TEST_F(BrowserTest, ChromiumEchoesThroughSquallWithoutCompression) {
  json result = run_page("/chat");
  expect_echoes(result);
  EXPECT_EQ(result["extensions"], "");
  // Chromium offered it anyway; the handler declined.
  EXPECT_EQ(log_.connections.at(0)->request_extensions,
            "permessage-deflate; client_max_window_bits");
}

}  // namespace
}  // namespace squall::interop
