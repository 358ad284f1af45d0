// Running script text statement by statement, REPL-style: each error is reported and the next
// statement runs with the session's state intact. Used by the REPL, `soma < file` and the golden
// tests.
#pragma once

#include <iosfwd>
#include <string>

#include "frontend/script/session.h"

namespace soma::script {

// Runs one chunk of input and reports an error on `err` (setting `failed`); returns false when
// the chunk ran :quit.
bool run_chunk(Session& session, const SourcePtr& source, std::ostream& err, bool& failed);

// Runs every top-level statement of `text` (named `name` in messages) in order; returns 1 if any
// failed, else 0. Stops at :quit.
int run_batch(Session& session, const std::string& name, const std::string& text,
              std::ostream& err);

// Prints the exception being handled the way the tool reports errors (call it in a catch block):
// a ScriptError with its source line and caret, "interrupted", or "error: ...".
void report_exception(std::ostream& err);

}  // namespace soma::script
