// Quoted by docs/web.md: options. Defining options, parsing a command line and a config file,
// reading the values, and the help. It parses a command line of its own (not its real argv),
// then a config file it writes to a temporary folder, checks the values and the help, and exits.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <squall/util/options.hpp>

#include "web_example.hpp"

using namespace std::chrono_literals;
using web_example::check;
using web_example::check_equal;

// [define]
namespace options = squall::options;

// Any file may define the options it needs; main parses them once.
void define_options() {
  options::define<std::uint16_t>("port", 8888, "listen on this port", "server");
  options::define<std::chrono::seconds>("idle_timeout", 60s, "close idle connections after this",
                                        "server");
  options::define<std::vector<std::string>>("memcache_hosts", {"127.0.0.1:11011"},
                                            "memcache servers", "server");
  options::define<bool>("debug", false, "development mode", "application");
}
// [define]

int run(int argc, const char* const* argv) {
  // [parse]
  define_options();
  // --name=value or --name value (a bool stands alone); options end at the first other argument.
  std::vector<std::string> files = options::parse_command_line(argc, argv);
  auto port = options::get<std::uint16_t>("port");
  auto idle = options::get<std::chrono::seconds>("idle_timeout");
  bool debug = options::get<bool>("debug");
  // [parse]
  check_equal(std::to_string(port) + " " + std::to_string(idle.count()) + " " +
                  (debug ? "debug" : "-") + " " + files.at(0),
              "8000 300 debug access.log", "the command line");
  check_equal(options::get<std::vector<std::string>>("memcache_hosts").at(1), "cache2:11011",
              "a list");

  const auto config = std::filesystem::temp_directory_path() /
                      ("squall-web-options-" + std::to_string(::getpid()) + ".conf");
  std::ofstream(config) << "# shop.conf\n"
                           "port = 8001\n"
                           "debug = False\n"
                           "memcache_hosts = ['cache1:11011',\n"
                           "                  'cache3:11011']\n";
  options::parse_config_file(config.string());  // name = value lines, Python's syntax
  std::filesystem::remove(config);
  check_equal(std::to_string(options::get<std::uint16_t>("port")), "8001", "the config file");
  check(!options::get<bool>("debug"), "debug = False");
  check_equal(options::get<std::vector<std::string>>("memcache_hosts").at(1), "cache3:11011",
              "a list in the config file");

  std::ostringstream help;
  options::print_help(help);
  check(help.str().starts_with("Usage: shop [OPTIONS]\n"), help.str());
  web_example::check_contains(help.str(),
                              "server options:\n\n"
                              "  --idle-timeout=DURATION          close idle connections after "
                              "this (default\n"
                              "                                   1m)\n"
                              "  --memcache-hosts=STR[,STR...]    memcache servers (default "
                              "127.0.0.1:11011)\n"
                              "  --port=INT                       listen on this port (default "
                              "8888)\n",
                              "the help");
  return 0;
}

int main() {
  const char* argv[] = {"shop",
                        "--port=8000",
                        "--idle-timeout=5m",
                        "--debug",
                        "--memcache_hosts=cache1:11011,cache2:11011",
                        "--logging=warning",
                        "access.log"};
  try {
    return run(static_cast<int>(std::size(argv)), argv);
  } catch (const std::exception& e) {
    std::cerr << e.what() << '\n';
    return 1;
  }
}
