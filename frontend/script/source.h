// Script sources, locations in them, and the errors that point at them.
//
// Every error a script can cause is reported as
//
//   model.soma:3:9: error: matmul: shapes [2,3] and [4,5] do not contract: 3 (last axis of the
//   first) != 4
//       3 | z = x @ y
//         |       ^
//
// (gcc's layout): the location, the message, the offending source line and a caret under the
// column. A Location keeps its Source alive, so an error can be formatted long after the text
// that caused it was parsed (the REPL keeps every chunk it has run).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "graph/error.h"

namespace soma::script {

// The largest script file `soma run` and `:load` read (a script is text; anything bigger is a
// mistake, such as a data file given by accident).
constexpr uint64_t kMaxScriptBytes = uint64_t{64} << 20;

// A named piece of script text: a file, or one chunk of REPL input. `first_line` numbers its
// first line, so that REPL chunks and statements read from stdin keep the input's line numbers.
class Source {
 public:
  Source(std::string name, std::string text, int first_line = 1);
  const std::string& name() const { return name_; }
  const std::string& text() const { return text_; }
  int first_line() const { return first_line_; }
  // The text of line `line` (numbered as in locations) without its newline; "" when out of range.
  std::string_view line_text(int line) const;
  // The byte offset of (line, col) in text(); text().size() when past the end.
  size_t offset(int line, int col) const;

 private:
  std::string name_, text_;
  int first_line_;
  std::vector<size_t> line_starts_;
};

using SourcePtr = std::shared_ptr<const Source>;

// A position in a Source: 1-based line (numbered from the source's first_line) and 1-based column
// in bytes. A default Location points nowhere (errors without a place, e.g. a bad --fetch).
struct Location {
  SourcePtr source;
  int line = 0;
  int col = 0;
  bool valid() const { return source != nullptr && line > 0; }
  // "file.soma:3:9" (or the file name alone, or "" when nothing is known).
  std::string str() const;
};

// A message attached to a location (the primary error, or a note such as "declared here").
struct Diagnostic {
  Location loc;
  std::string severity;  // "error", "note", "warning"
  std::string message;
};

// "FILE:LINE:COL: SEVERITY: MESSAGE" followed by the source line and a caret (when the location
// is known); ends with a newline.
std::string format_diagnostic(const Diagnostic& d);

// A user's mistake in a script, with where it happened. what() is the full formatted report
// (with notes), so that code which only knows soma::Error still prints something useful.
class ScriptError : public Error {
 public:
  ScriptError(Location loc, std::string message, std::vector<Diagnostic> notes = {});
  const Location& loc() const { return loc_; }
  const std::string& message() const { return message_; }
  const std::vector<Diagnostic>& notes() const { return notes_; }
  // The error and its notes, each formatted by format_diagnostic.
  std::string report() const;
  // Set by the lexer for text that is only unfinished (an open bracket at the end), so that the
  // REPL reads another line instead of reporting it.
  bool incomplete = false;

 private:
  Location loc_;
  std::string message_;
  std::vector<Diagnostic> notes_;
};

// Thrown when the user presses Ctrl-C during a long evaluation (a fit, a loop, a bench).
class Interrupted : public Error {
 public:
  Interrupted() : Error("interrupted") {}
};

// Thrown by :quit, exit() and quit(); the tool stops running statements and exits with
// `status` (exit(3): 3), or 1 when a statement failed before and the status is 0.
class QuitRequest : public std::exception {
 public:
  explicit QuitRequest(int status = 0) : status(status) {}
  const char* what() const noexcept override { return "quit"; }
  int status = 0;
};

}  // namespace soma::script
