#include "demo_support.hpp"

#include <squall/util/options.hpp>

#include <csignal>
#include <iostream>
#include <memory>
#include <system_error>
#include <utility>

namespace demo {
namespace {

/// The first file of `needed` missing from `dir`, or nullopt if it holds them all.
std::optional<std::string_view> first_missing(const std::filesystem::path& dir,
                                              std::initializer_list<std::string_view> needed) {
  for (std::string_view file : needed) {
    std::error_code error;  // an unreadable folder holds nothing
    if (!std::filesystem::is_regular_file(dir / file, error)) return file;
  }
  return std::nullopt;
}

}  // namespace

bool parse_options_only(int argc, char** argv) {
  if (squall::options::parse_command_line(argc, argv).empty()) return true;
  std::cerr << argv[0] << ": takes no arguments besides its options (see --help)\n";
  return false;
}

std::optional<std::filesystem::path> find_resource_root(
    const char* program, std::string_view override_root, std::string_view source_dir,
    std::initializer_list<std::string_view> needed) {
  std::optional<std::string_view> missing;
  if (!override_root.empty()) {
    missing = first_missing(override_root, needed);
    if (!missing) return std::filesystem::absolute(override_root);
  } else {
    std::error_code error;
    const std::filesystem::path own = std::filesystem::read_symlink("/proc/self/exe", error);
    if (!error && !first_missing(own.parent_path(), needed)) return own.parent_path();
    if (!source_dir.empty()) {
      missing = first_missing(source_dir, needed);
      if (!missing) return std::filesystem::path(source_dir);
    }
  }
  if (!missing && needed.size() != 0) missing = *needed.begin();
  std::cerr << program << ": no " << missing.value_or("files") << " in ";
  if (override_root.empty()) {
    std::cerr << "the program's folder or " << source_dir;
  } else {
    std::cerr << override_root;
  }
  std::cerr << " (use --root=DIR)\n";
  return std::nullopt;
}

std::optional<WebDemoOptions> parse_web_demo_options(
    int argc, char** argv, std::string_view source_dir,
    std::initializer_list<std::string_view> needed) {
  squall::options::define<int>("port", 8888, "run on the given port");
  squall::options::define<std::string>("address", "127.0.0.1", "listen on this address");
  squall::options::define<std::string>(
      "root", "",
      "the folder holding templates/ and static/ (default: beside the program, then the source "
      "folder)");
  squall::options::parse_command_line(argc, argv);
  const auto root_option = squall::options::get<std::string>("root");
  std::optional<std::filesystem::path> root =
      find_resource_root(argv[0], root_option, source_dir, needed);
  if (!root) return std::nullopt;
  return WebDemoOptions{squall::options::get<int>("port"),
                        squall::options::get<std::string>("address"), std::move(*root)};
}

squall::HTTPServer* listen(const char* program, squall::web::Application& application, int port,
                           const std::string& address, squall::HTTPServerOptions options) {
  squall::HTTPServer* server = nullptr;
  try {
    server = &application.listen(port, address, std::move(options));
  } catch (const std::exception& e) {
    std::cerr << program << ": cannot listen on " << address << ":" << port << ": " << e.what()
              << "\n";
    return nullptr;
  }
  for (const squall::SocketAddress& bound : server->addresses()) {
    std::cout << "Listening on http://" << bound.to_string() << "/" << std::endl;
  }
  return server;
}

void shutdown_on_signals(squall::HTTPServer& server, std::chrono::steady_clock::duration timeout) {
  server.shutdown_on_signal(SIGTERM, timeout);
  server.shutdown_on_signal(SIGINT, timeout);
}

void stop_on_signals(squall::IOLoop& loop, std::function<squall::Future<void>(int signum)> stop) {
  // Shared by the two handlers, so that whichever signal comes first is the only one acted on.
  auto stopping = std::make_shared<bool>(false);
  auto shared_stop = std::make_shared<std::function<squall::Future<void>(int)>>(std::move(stop));
  for (int signum : {SIGTERM, SIGINT}) {
    loop.add_signal_handler(signum, [&loop, stopping, shared_stop](int received) {
      if (*stopping) return;
      *stopping = true;
      (*shared_stop)(received).add_done_callback([&loop] { loop.stop(); });
    });
  }
}

}  // namespace demo
