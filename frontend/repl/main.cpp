// soma: the command-line tool — the REPL, `run`, `bench` and `emit` (see options.cpp's usage
// text and docs/script.md).
#include <iostream>
#include <string>
#include <vector>

#include "frontend/repl/options.h"
#include "frontend/repl/subcommands.h"
#include "frontend/script/batch.h"

#ifndef SOMA_VERSION
#define SOMA_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  using namespace soma::tool;
  std::ios::sync_with_stdio(true);
  Options o;
  try {
    o = parse_options(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const UsageError& e) {
    std::cerr << "soma: " << e.what() << "\n(soma --help for the usage)\n";
    return 2;
  }
  try {
    switch (o.mode) {
      case Mode::Help:
        std::cout << usage_text();
        return 0;
      case Mode::Version:
        std::cout << "soma " << SOMA_VERSION << "\n";
        return 0;
      case Mode::Run:
        return cmd_run(o);
      case Mode::Bench:
        return cmd_bench(o);
      case Mode::Emit:
        return cmd_emit(o);
      case Mode::Repl:
        return cmd_repl(o);
    }
  } catch (...) {
    soma::script::report_exception(std::cerr);
    return 1;
  }
  return 0;
}
