// The REPL's ':' commands (also allowed in files): :help, :backend, :emit, :time, :bench, :dot,
// :vars, :load, :reset, :quit. One table entry per command.
#pragma once

#include <string>
#include <vector>

#include "frontend/script/source.h"

namespace soma::script {

class Session;

struct CommandInfo {
  std::string name;   // "emit"
  std::string usage;  // ":emit STAGE NAME"
  std::string help;   // one line
};

const std::vector<CommandInfo>& command_infos();

// Runs ":TEXT" (TEXT without the colon) found at `loc`. Throws ScriptError for an unknown
// command or a bad argument, QuitRequest for :quit.
void run_command(Session& session, const std::string& text, const Location& loc);

}  // namespace soma::script
