// Lowering: turns a fused module into a kernel-IR program (graph/kernel_ir.h). Each realized
// node becomes one kernel that stores it; fused nodes become scalar expressions and statements
// inside that kernel (passes/lower_group.h). Lowering builds what fusion decided and never
// refuses it. Memory is planned afterwards (passes/plan.h); passes/pipeline.h runs all three.
#pragma once

#include "graph/kernel_ir.h"
#include "graph/module.h"
#include "passes/fuse.h"

namespace soma {

// Throws ShapeError for a tensor of 2^31 or more elements.
kir::Program lower_kernels(const Module& m, const Fusion& f);

}  // namespace soma
