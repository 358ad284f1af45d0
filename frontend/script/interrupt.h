// Ctrl-C during a long evaluation: the REPL's SIGINT handler calls request_interrupt(); loops,
// fit and bench call check_interrupt() between steps, which throws Interrupted.
#pragma once

namespace soma::script {

// Async-signal-safe: only sets a flag.
void request_interrupt();
bool interrupt_requested();
void clear_interrupt();
// Throws Interrupted (and clears the flag) when an interrupt was requested.
void check_interrupt();

}  // namespace soma::script
