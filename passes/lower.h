// Lowering: turns a fused module into a kernel-IR program (graph/kernel_ir.h), then plans its
// memory (passes/plan.h). Each realized node becomes one kernel that stores it; fused nodes
// become scalar expressions and statements inside that kernel.
#pragma once

#include "graph/kernel_ir.h"
#include "graph/module.h"

namespace soma {

// Fuses (passes/fuse.h), lowers and plans. Where a fused reduction would be recomputed for many
// points of its kernel, lowering realizes it instead and fuses again, so the result never
// duplicates expensive work. Throws ShapeError for a tensor of 2^31 or more elements.
// With fuse = false every computed node gets its own kernel (for bisecting fusion bugs).
kir::Program lower_module(const Module& m, bool fuse = true);

}  // namespace soma
