// The pass pipeline's knobs from the environment (SOMA_DEBUG, SOMA_DUMP_DIR,
// SOMA_DISABLE_PASSES; runtime/env_knobs.def). The passes read no environment themselves: the
// frontend, which runs them, reads it here, through the one knob parser.
#pragma once

#include "backends/backend.h"
#include "passes/pass_manager.h"

namespace soma {

// verify, fold, log and max_serial_extent keep their defaults. Throws ValueError for a value a
// knob does not accept (a SOMA_DEBUG outside 0..4).
PipelineOptions pipeline_options_from_env();

// What compile() runs the passes with for `backend`: the environment's knobs, constant folding
// by the interpreter, and the backend's serial-loop limit (none when `backend` is null). Throws
// BackendError when the backend's device is unavailable. `soma emit` uses the same, so that it
// shows the program that runs.
PipelineOptions pipeline_options_for(const Backend* backend);

}  // namespace soma
