#pragma once
// The command line of the tcpecho programs: "--name value" or "--name=value" for each option a
// program takes, and --help.

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace tcpecho {

/// An option: its name without the dashes, its value (the default until parsed), and its help.
struct Flag {
  std::string name;
  std::string value;
  std::string help;
};

inline void print_usage(std::ostream& out, const char* program, std::string_view summary,
                        const std::vector<Flag>& flags) {
  out << "usage: " << program;
  for (const Flag& flag : flags) out << " [--" << flag.name << " " << flag.value << "]";
  out << " [--help]\n" << summary << "\n";
  for (const Flag& flag : flags) {
    out << "  --" << flag.name << " VALUE\t" << flag.help << " (default " << flag.value << ")\n";
  }
  out << "  --help\tshow this help and exit\n";
}

/// Sets the values of `flags` from argv. Prints the usage and exits 0 on --help; prints an error
/// and the usage and exits 2 on an unknown option or a missing value.
inline void parse_command_line(int argc, char** argv, std::string_view summary,
                               std::vector<Flag>& flags) {
  auto fail = [&](const std::string& message) {
    std::cerr << argv[0] << ": " << message << "\n";
    print_usage(std::cerr, argv[0], summary, flags);
    std::exit(2);
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      print_usage(std::cout, argv[0], summary, flags);
      std::exit(0);
    }
    if (arg.rfind("--", 0) != 0) fail("unexpected argument " + arg);
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    Flag* found = nullptr;
    for (Flag& flag : flags) {
      if (flag.name == name) found = &flag;
    }
    if (found == nullptr) fail("unknown option " + arg);
    if (!has_value) {
      if (i + 1 >= argc) fail("--" + name + " needs a value");
      value = argv[++i];
    }
    found->value = value;
  }
}

/// The value of a --port flag; exits 2 unless it is a number from 0 to 65535.
inline std::uint16_t port_from(const char* program, const std::string& value) {
  char* end = nullptr;
  long port = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || port < 0 || port > 65535) {
    std::cerr << program << ": --port needs a number from 0 to 65535, not '" << value << "'\n";
    std::exit(2);
  }
  return static_cast<std::uint16_t>(port);
}

}  // namespace tcpecho
