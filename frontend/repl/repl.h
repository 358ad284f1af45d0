// The interactive read-eval-print loop (a terminal, with line editing); script/batch.h runs
// statements read from stdin when it is not a terminal.
#pragma once

#include <iosfwd>
#include <string>

namespace soma::script {
class Session;
}

namespace soma::tool {

// Runs the interactive REPL until :quit or Ctrl-D; returns the exit status (0).
int run_interactive(script::Session& session, const std::string& banner);

}  // namespace soma::tool
