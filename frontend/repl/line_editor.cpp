#include "frontend/repl/line_editor.h"

#include <histedit.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "frontend/script/completion.h"
#include "frontend/script/session.h"
#include "runtime/env.h"

namespace soma::tool {

namespace {

std::string history_file() {
  if (auto h = env_raw("SOMA_HISTORY")) return *h;  // "" disables the history
  auto home = env_value("HOME");
  return home ? *home + "/.soma_history" : "";
}

}  // namespace

LineEditor* LineEditor::self(EditLine* el) {
  void* data = nullptr;
  el_get(el, EL_CLIENTDATA, &data);
  return static_cast<LineEditor*>(data);
}

char* LineEditor::prompt_fn(EditLine* el) {
  return self(el)->prompt_.data();
}

// Ctrl-C while editing: drop the line and start a fresh one (the terminal's ISIG is off while
// libedit reads, so ^C arrives here as a key instead of as SIGINT).
unsigned char LineEditor::cancel_fn(EditLine* el, int) {
  LineEditor* me = self(el);
  me->cancelled_ = true;
  std::fputs("^C\n", stdout);
  std::fflush(stdout);
  return CC_NEWLINE;
}

// Tab: complete the word before the cursor; with several candidates, insert their common prefix
// or list them.
unsigned char LineEditor::complete_fn(EditLine* el, int) {
  LineEditor* me = self(el);
  const LineInfo* li = el_line(el);
  std::string before(li->buffer, static_cast<size_t>(li->cursor - li->buffer));
  script::Completion c = script::complete(me->session_, before);
  if (c.items.empty()) return CC_ERROR;
  std::string typed = before.substr(std::min(c.start, before.size()));
  std::string common = script::common_prefix(c.items);
  if (common.size() > typed.size()) {
    el_insertstr(el, common.substr(typed.size()).c_str());
    return CC_REFRESH;
  }
  if (c.items.size() == 1) return CC_REFRESH;
  // List the candidates in columns.
  size_t width = 0;
  for (const std::string& s : c.items) width = std::max(width, s.size());
  width += 2;
  size_t cols = std::max<size_t>(1, 78 / width);
  std::fputc('\n', stdout);
  for (size_t i = 0; i < c.items.size(); ++i) {
    std::fprintf(stdout, "%-*s", static_cast<int>(width), c.items[i].c_str());
    if ((i + 1) % cols == 0 || i + 1 == c.items.size()) std::fputc('\n', stdout);
  }
  std::fflush(stdout);
  return CC_REDISPLAY;
}

LineEditor::LineEditor(script::Session& session)
    : session_(session), history_path_(history_file()) {
  hist_ = history_init();
  HistEvent ev;
  history(hist_, &ev, H_SETSIZE, 2000);
  history(hist_, &ev, H_SETUNIQUE, 1);
  if (!history_path_.empty()) history(hist_, &ev, H_LOAD, history_path_.c_str());

  el_ = el_init("soma", stdin, stdout, stderr);
  el_set(el_, EL_CLIENTDATA, static_cast<void*>(this));
  el_set(el_, EL_EDITOR, "emacs");
  el_set(el_, EL_PROMPT, &LineEditor::prompt_fn);
  el_set(el_, EL_HIST, history, hist_);
  el_set(el_, EL_ADDFN, "soma-complete", "complete a name, command or file",
         &LineEditor::complete_fn);
  el_set(el_, EL_BIND, "^I", "soma-complete", nullptr);
  el_set(el_, EL_ADDFN, "soma-cancel", "cancel the line", &LineEditor::cancel_fn);
  el_set(el_, EL_BIND, "^C", "soma-cancel", nullptr);
  // While editing, ^C is a key (bound above), not SIGINT.
  el_set(el_, EL_SETTY, "-d", "-isig", nullptr);
  el_source(el_, nullptr);  // ~/.editrc
}

LineEditor::~LineEditor() {
  if (el_) el_end(el_);
  if (hist_) {
    HistEvent ev;
    if (!history_path_.empty()) history(hist_, &ev, H_SAVE, history_path_.c_str());
    history_end(hist_);
  }
}

LineEditor::Status LineEditor::read(const std::string& prompt, std::string& line) {
  prompt_ = prompt;
  cancelled_ = false;
  int count = 0;
  errno = 0;
  const char* s = el_gets(el_, &count);
  if (cancelled_) return Status::Cancelled;
  if (!s || count <= 0) {
    if (errno == EINTR) {  // a SIGINT from outside the terminal
      std::fputc('\n', stdout);
      return Status::Cancelled;
    }
    return Status::Eof;
  }
  line.assign(s, static_cast<size_t>(count));
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return Status::Line;
}

void LineEditor::remember(const std::string& line) {
  if (line.find_first_not_of(" \t") == std::string::npos) return;
  HistEvent ev;
  history(hist_, &ev, H_ENTER, line.c_str());
  if (!history_path_.empty()) history(hist_, &ev, H_SAVE, history_path_.c_str());
}

}  // namespace soma::tool
