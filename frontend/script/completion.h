// Tab completion for the REPL: what can follow the text before the cursor — variables and
// built-ins, attributes after `name.`, commands after ':', stages after ':emit ', backends after
// ':backend ', file names inside a string or after ':load '.
#pragma once

#include <string>
#include <vector>

namespace soma::script {

class Session;

struct Completion {
  size_t start = 0;                // where the word being completed begins in the line
  std::vector<std::string> items;  // full replacements for line[start, cursor), sorted
};

Completion complete(const Session& session, const std::string& line_before_cursor);

// The longest common prefix of the items ("" when there are none).
std::string common_prefix(const std::vector<std::string>& items);

}  // namespace soma::script
