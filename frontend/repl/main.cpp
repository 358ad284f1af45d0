// soma: the command-line tool — the REPL, `run`, `bench`, `emit` and `cache` (see options.cpp's
// usage text and docs/script.md).
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "frontend/repl/options.h"
#include "frontend/repl/subcommands.h"
#include "frontend/script/batch.h"
#include "runtime/env.h"

#ifndef SOMA_VERSION
#define SOMA_VERSION "0.0.0"
#endif

namespace {

// Before main, the shared libraries' initializers run (LLVM's among them); under a tight memory
// limit one of them can fail and abort ("LLVM ERROR: out of memory"). Until main starts, an abort
// ends the process with one clear line and exit status 70 instead of a SIGABRT core.
extern "C" void abort_while_starting(int) {
  static const char msg[] =
      "soma: could not start: a library failed to initialize, most likely out of memory (is the "
      "memory limit, ulimit -v, too small?)\n";
  ssize_t ignored = ::write(2, msg, sizeof msg - 1);
  (void)ignored;
  ::_exit(70);
}

void catch_aborts_while_starting() {
  std::signal(SIGABRT, abort_while_starting);
}

// Run by the dynamic loader before any shared library's initializer.
__attribute__((section(".preinit_array"),
               used)) void (*const kPreinit)() = catch_aborts_while_starting;

// What the tool printed must all have reached stdout: a write error (a full disk, a closed pipe
// that does not kill us) fails the command instead of exiting 0 with a cut output.
int finish_output(int status) {
  std::cout.flush();
  errno = 0;
  const bool flushed = std::fflush(stdout) == 0;
  const int err = errno;
  if (flushed && !std::ferror(stdout) && std::cout.good()) return status;
  std::cerr << "soma: error: writing the output to stdout failed"
            << (err ? std::string(": ") + std::strerror(err) : std::string(" (disk full?)"))
            << "; the output is incomplete\n";
  return status ? status : 1;
}

int run_mode(const soma::tool::Options& o) {
  using namespace soma::tool;
  switch (o.mode) {
    case Mode::Help:
      std::cout << usage_text();
      return 0;
    case Mode::HelpEnv:
      std::cout << soma::env_help_text();
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
    case Mode::Cache:
      return cmd_cache(o);
    case Mode::Repl:
      return cmd_repl(o);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace soma::tool;
  std::signal(SIGABRT, SIG_DFL);  // started: an abort from now on is a bug, with its core
  std::ios::sync_with_stdio(true);
  Options o;
  try {
    o = parse_options(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const UsageError& e) {
    std::cerr << "soma: " << e.what() << "\n(soma --help for the usage)\n";
    return 2;
  }
  int status = 0;
  try {
    status = run_mode(o);
  } catch (...) {
    soma::script::report_exception(std::cerr);
    status = 1;
  }
  return finish_output(status);
}
