// Quoted by docs/networking.md: a child process with its output read through an IOStream.
#include <iostream>
#include <string>

#include <squall/core/ioloop.hpp>
#include <squall/net/process.hpp>

int main() {
  squall::IOLoop loop;
  // [subprocess]
  int code = loop.run_sync([]() -> squall::Future<int> {
    squall::SubprocessOptions options;
    options.stdout_mode = squall::Subprocess::STREAM;
    squall::Subprocess child({"/bin/sh", "-c", "echo counted $(seq 3 | wc -l) lines"}, options);
    std::string output = co_await child.stdout_stream()->read_until_close();
    std::cout << "child said: " << output;
    co_return co_await child.wait_for_exit();  // the exit code; non-zero would raise
  });
  // [subprocess]
  std::cout << "exit code " << code << '\n';
  return code;
}
