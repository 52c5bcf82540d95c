#pragma once
// Runs Python scripts with Debian's python3 and its Tornado 6.2 (python3-tornado), so that tests
// can check squall's output against Tornado's own code. A missing python3 or Tornado, or a
// failing script, throws: the interoperability tests fail rather than skip.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

extern char** environ;

namespace squall::test_support {

inline constexpr const char* kPython = "/usr/bin/python3";

// Imports every test script starts with: hex helpers (bytes travel as hex in JSON) and a Tornado
// RequestHandler built on a fake connection, the way Tornado's own tests make one.
inline constexpr std::string_view kTornadoPrelude = R"PY(
import binascii, json, logging, sys
from unittest import mock
import tornado.httputil
import tornado.web

assert tornado.version == "6.2", tornado.version
logging.disable(logging.WARNING)  # Tornado warns of each bad signature the tests make

def unhex(h):
    return binascii.unhexlify(h)

def tohex(b):
    return None if b is None else binascii.hexlify(b).decode()

def make_handler(uri="/", headers=None, settings=None):
    app = tornado.web.Application(**(settings or {}))
    connection = mock.Mock()
    request = tornado.httputil.HTTPServerRequest(
        method="POST", uri=uri, headers=tornado.httputil.HTTPHeaders(headers or {}),
        connection=connection)
    return tornado.web.RequestHandler(app, request)

args = json.loads(sys.argv[1])
)PY";

// Runs `script` after kTornadoPrelude with `args` as `args` and returns what the script printed
// with `print(json.dumps(...))`, parsed. Throws std::runtime_error if python3 cannot start, the
// script fails, or its output is not JSON.
inline nlohmann::json run_tornado_script(std::string_view script,
                                         const nlohmann::json& args = nlohmann::json::object()) {
  std::string program(kTornadoPrelude);
  program.append(script);
  const std::string args_text = args.dump();
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe2");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  std::vector<char*> argv = {const_cast<char*>(kPython), const_cast<char*>("-c"), program.data(),
                             const_cast<char*>(args_text.c_str()), nullptr};
  pid_t pid = 0;
  const int spawn_error = ::posix_spawn(&pid, kPython, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawn_error != 0) {
    ::close(pipe_fds[0]);
    throw std::system_error(spawn_error, std::generic_category(),
                            "cannot run /usr/bin/python3 (apt-get install python3-tornado)");
  }
  std::string output;
  char buffer[65536];
  while (true) {
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n > 0) {
      output.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("python3 with Tornado failed (status " + std::to_string(status) +
                             "; is python3-tornado 6.2 installed?); it printed: " + output);
  }
  try {
    return nlohmann::json::parse(output);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("python3 printed no JSON (") + e.what() + "): " + output);
  }
}

// Bytes as lowercase hex, the way scripts receive and return them.
inline std::string to_hex(std::string_view bytes) {
  constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    out += kDigits[byte >> 4];
    out += kDigits[byte & 0x0f];
  }
  return out;
}

// The bytes of lowercase or uppercase hex; throws std::invalid_argument on anything else.
inline std::string from_hex(std::string_view hex) {
  const auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::invalid_argument("not hex");
  };
  if (hex.size() % 2 != 0) throw std::invalid_argument("odd hex");
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    out += static_cast<char>(digit(hex[i]) * 16 + digit(hex[i + 1]));
  }
  return out;
}

}  // namespace squall::test_support
