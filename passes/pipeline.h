// The compiler's pass pipeline: one ordered list, in pipeline.cpp, readable top to bottom.
#pragma once

#include <string>
#include <vector>

#include "graph/kernel_ir.h"
#include "graph/module.h"
#include "passes/pass_manager.h"

namespace soma {

// Runs the graph-level passes (after autodiff, before fusion) over `m` in place. Throws
// NameError when options.disabled names no pass of the pipeline, and IOError when a dump file
// cannot be written.
void optimize_graph(Module& m, const PipelineOptions& options);

// Fusion, lowering and memory planning (passes/fuse.h, lower.h, plan.h) of an optimized module
// into the kernel-IR program the code generators compile. SOMA_DISABLE_PASSES=fuse gives one
// kernel per node; SOMA_DEBUG=3 prints the program; SOMA_DUMP_DIR gets a `kernels` stage.
kir::Program lower_to_kernels(const Module& m, const PipelineOptions& options);

// The names of the pipeline's passes (what SOMA_DISABLE_PASSES accepts), in order, each once.
std::vector<std::string> pipeline_pass_names();

}  // namespace soma
