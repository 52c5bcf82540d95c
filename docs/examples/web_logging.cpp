// Quoted by docs/web.md: logging. The logging options send squall's three loggers to a file; a
// request writes its access line there, an error its report, and the application its own lines.
// It parses a command line of its own, serves on a free loopback port, fetches two pages, reads
// the log file back, checks its lines and exits.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include <squall/util/log.hpp>
#include <squall/util/options.hpp>
#include <squall/web/application.hpp>
#include <squall/web/request_handler.hpp>

#include "web_example.hpp"

namespace fs = std::filesystem;

const fs::path log_file =
    fs::temp_directory_path() / ("squall-web-logging-" + std::to_string(::getpid()) + ".log");

// [own]
class OrderHandler : public squall::web::RequestHandler {
 public:
  squall::Future<void> get() override {
    // spdlog's macros record the file and line: the log line shows "web_logging:<line>".
    SPDLOG_LOGGER_INFO(&squall::log::app_log(), "order {} shipped", path_args().at(0));
    if (path_args().at(0) == "0") throw std::logic_error("order 0 does not exist");
    write("shipped");
    return squall::make_ready_future();
  }
};
// [own]

std::unique_ptr<squall::web::Application> make_app() {
  return std::make_unique<squall::web::Application>(std::vector<squall::web::URLSpec>{
      {"/orders/([0-9]+)", squall::web::handler<OrderHandler>()}});
}

squall::Future<void> test(web_example::Site& site) {
  web_example::check_equal(std::to_string((co_await site.fetch("/orders/7")).code), "200", "7");
  web_example::check_equal(std::to_string((co_await site.fetch("/orders/0")).code), "500", "0");
}

int main() {
  const std::string prefix = "--log_file_prefix=" + log_file.string();
  const char* argv[] = {"shop", prefix.c_str()};
  // The global options have Tornado's logging options; parsing them sets the loggers up.
  squall::options::parse_command_line(2, argv);
  if (int status = web_example::run(make_app, test); status != 0) return status;
  // [flush]
  // Info lines reach the file within a second; flush to read them back at once.
  squall::log::app_log().flush();
  // [flush]
  std::ifstream in(log_file);
  std::stringstream text;
  text << in.rdbuf();
  fs::remove(log_file);
  std::cout << text.str();
  // The format of each line: [level date time where] message.
  const std::vector<std::string> expected = {
      R"(\[I \d{6} \d\d:\d\d:\d\d web_logging:\d+\] order 7 shipped)",
      R"(\[I \d{6} \d\d:\d\d:\d\d application:\d+\] 200 GET /orders/7 \(127\.0\.0\.1\) \d+\.\d\dms)",
      R"(\[I \d{6} \d\d:\d\d:\d\d web_logging:\d+\] order 0 shipped)",
      R"(\[E \d{6} \d\d:\d\d:\d\d squall\.application\] Uncaught exception GET /orders/0 )"
      R"(\(127\.0\.0\.1\): std::logic_error: order 0 does not exist)",
      R"(\[E \d{6} \d\d:\d\d:\d\d application:\d+\] 500 GET /orders/0 \(127\.0\.0\.1\) \d+\.\d\dms)",
  };
  std::istringstream lines(text.str());
  std::string line;
  for (const std::string& pattern : expected) {
    if (!std::getline(lines, line) || !std::regex_match(line, std::regex(pattern))) {
      std::cerr << "log line does not match " << pattern << ": " << line << '\n';
      return 1;
    }
  }
  return 0;
}
