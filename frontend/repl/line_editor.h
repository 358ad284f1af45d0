// Line editing for the interactive REPL, on libedit (BSD editline): emacs key bindings, history
// kept between sessions (~/.soma_history, or $SOMA_HISTORY; empty disables it), tab completion
// from script/completion.h, and Ctrl-C that cancels the line being edited. The terminal handling
// is libedit's; this class only wires it to the session.
#pragma once

#include <string>

struct editline;
struct history;

namespace soma::script {
class Session;
}

namespace soma::tool {

class LineEditor {
 public:
  explicit LineEditor(script::Session& session);
  ~LineEditor();
  LineEditor(const LineEditor&) = delete;
  LineEditor& operator=(const LineEditor&) = delete;

  enum class Status { Line, Eof, Cancelled };
  // Reads one line (without its newline) after showing `prompt`.
  Status read(const std::string& prompt, std::string& line);
  // Adds a line to the history (and saves the history file).
  void remember(const std::string& line);

 private:
  static char* prompt_fn(editline* el);
  static unsigned char complete_fn(editline* el, int ch);
  static unsigned char cancel_fn(editline* el, int ch);
  static LineEditor* self(editline* el);

  script::Session& session_;
  editline* el_ = nullptr;
  history* hist_ = nullptr;
  std::string prompt_;
  std::string history_path_;
  bool cancelled_ = false;
};

}  // namespace soma::tool
