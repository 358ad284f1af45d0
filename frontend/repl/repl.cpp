#include "frontend/repl/repl.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <iostream>

#include "frontend/repl/line_editor.h"
#include "frontend/script/batch.h"
#include "frontend/script/interrupt.h"
#include "frontend/script/parser.h"
#include "frontend/script/session.h"

namespace soma::tool {

namespace {

std::atomic<int> g_pending{0};

// SIGINT while a statement runs: ask it to stop at its next check (between loop iterations,
// training batches and bench runs). A third Ctrl-C before it stops ends the process: the escape
// hatch for a single step that runs too long.
void on_sigint(int) {
  script::request_interrupt();
  int n = ++g_pending;
  if (n == 1) {
    const char msg[] = "\n(interrupting at the next step; Ctrl-C twice more to quit soma)\n";
    ssize_t r = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)r;
  } else if (n >= 3) {
    const char msg[] = "\nsoma: interrupted three times; exiting\n";
    ssize_t r = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)r;
    _exit(130);
  }
}

}  // namespace

int run_interactive(script::Session& session, const std::string& banner) {
  struct sigaction sa = {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking read returns EINTR
  struct sigaction old = {};
  sigaction(SIGINT, &sa, &old);

  std::cout << banner << std::flush;
  LineEditor editor(session);
  int line_no = 0;
  bool failed = false;
  while (true) {
    std::string buffer, line;
    int first = line_no + 1;
    const char* prompt = ">>> ";
    bool eof = false, cancelled = false;
    while (true) {
      LineEditor::Status st = editor.read(prompt, line);
      if (st == LineEditor::Status::Eof) {
        eof = true;
        break;
      }
      if (st == LineEditor::Status::Cancelled) {
        cancelled = true;
        break;
      }
      ++line_no;
      editor.remember(line);
      buffer += (buffer.empty() ? "" : "\n") + line;
      if (script::input_status(buffer) != script::InputStatus::Incomplete) break;
      prompt = "... ";
    }
    if (eof) {
      std::cout << "\n";
      break;
    }
    if (cancelled || buffer.find_first_not_of(" \t") == std::string::npos) continue;
    auto src = std::make_shared<const script::Source>("<stdin>", buffer, first);
    g_pending = 0;
    if (!script::run_chunk(session, src, std::cerr, failed)) break;
  }
  sigaction(SIGINT, &old, nullptr);
  return session.exit_status();
}

}  // namespace soma::tool
