// Memory planning for a lowered program: liveness-based placement of temporaries in one arena
// (a buffer's bytes are reused once its last reader has run), and in-place parameter updates
// (a kernel that computes a parameter's new value writes straight into the parameter when no
// later kernel reads the old value and the kernel itself reads it only at the element it writes;
// later kernels that read the new value then read it from the parameter).
#pragma once

#include "graph/kernel_ir.h"

namespace soma {

void plan_memory(kir::Program& p);

// The plan without reuse (SOMA_DISABLE_PASSES=plan, for bisecting a memory-planning bug): every
// temporary gets bytes of its own and parameters are updated after the program, never in place.
void place_without_reuse(kir::Program& p);

}  // namespace soma
