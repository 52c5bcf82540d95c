#include "bench_server.hpp"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <iostream>

namespace squall::bench {

namespace {

[[noreturn]] void print_usage(const char* program, const ServerUsage& usage, int status) {
  (status == 0 ? std::cout : std::cerr) << "Usage: " << program << " " << usage.synopsis << "\n"
                                        << usage.description;
  std::exit(status);
}

}  // namespace

ServerArgs parse_server_args(int argc, char** argv, long default_port,
                             std::initializer_list<std::string_view> switches,
                             const ServerUsage& usage) {
  ServerArgs args;
  args.port = default_port;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (auto eq = arg.find('='); eq != std::string_view::npos)
        return std::string(arg.substr(eq + 1));
      if (i + 1 >= argc) print_usage(argv[0], usage, 2);
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") print_usage(argv[0], usage, 0);
    if (arg.starts_with("--port")) {
      std::string text = value();
      char* end = nullptr;
      args.port = std::strtol(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || args.port < 0 || args.port > 65535) {
        std::cerr << argv[0] << ": invalid --port '" << text << "'\n";
        std::exit(2);
      }
    } else if (arg.starts_with("--address")) {
      args.address = value();
    } else if (std::find(switches.begin(), switches.end(), arg) != switches.end()) {
      args.switches.emplace(arg);
    } else {
      std::cerr << argv[0] << ": unknown option '" << arg << "'\n";
      print_usage(argv[0], usage, 2);
    }
  }
  return args;
}

bool listen_or_report(const char* program, const ServerArgs& args,
                      const std::function<void()>& listen) {
  try {
    listen();
    return true;
  } catch (const std::exception& e) {
    std::cerr << program << ": cannot listen on " << args.address << ":" << args.port << ": "
              << e.what() << "\n";
    return false;
  }
}

void serve_until_signal(HTTPServer& server, std::chrono::seconds grace) {
  server.shutdown_on_signal(SIGTERM, grace);
  server.shutdown_on_signal(SIGINT, grace);
  IOLoop::current().start();
}

}  // namespace squall::bench
