// The tool's subcommands: run, bench, emit, cache, and the REPL. Each returns the exit status (0
// success, 1 a user error reported on stderr, 2 a usage error).
#pragma once

#include "frontend/repl/options.h"

namespace soma::tool {

int cmd_run(const Options& o);
int cmd_bench(const Options& o);
int cmd_emit(const Options& o);
int cmd_repl(const Options& o);
int cmd_cache(const Options& o);  // cache_command.cpp

}  // namespace soma::tool
