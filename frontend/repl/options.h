// The soma tool's command line: subcommands, flags and the usage text. Bad flags throw
// UsageError, which main() reports with exit status 2.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace soma::tool {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Mode { Repl, Run, Bench, Emit, Cache, Help, HelpEnv, Version };

struct Options {
  Mode mode = Mode::Repl;
  std::string file;   // run, bench, emit
  std::string name;   // bench, emit: the variable (default: the last assigned); cache: info, clear
  std::string stage;  // emit
  std::string backend;                                       // --backend ("" : the default)
  std::vector<std::string> backends;                         // --backends (bench)
  std::vector<std::pair<std::string, std::string>> feeds;    // --feed NAME=FILE
  std::vector<std::pair<std::string, std::string>> fetches;  // --fetch NAME=FILE
  int runs = 10;
  int warmup = 2;
  bool json = false;
};

// Parses argv (without argv[0]). Throws UsageError.
Options parse_options(const std::vector<std::string>& args);

// The text of `soma --help`.
std::string usage_text();

}  // namespace soma::tool
