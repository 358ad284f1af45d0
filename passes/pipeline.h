// The compiler's pass pipeline: one ordered list, in pipeline.cpp, readable top to bottom.
#pragma once

#include <string>
#include <vector>

#include "graph/kernel_ir.h"
#include "graph/module.h"
#include "passes/fuse.h"
#include "passes/pass_manager.h"

namespace soma {

// Runs the graph-level passes (after autodiff, before fusion) over `m` in place. Throws
// NameError when options.disabled names no pass of the pipeline, and IOError when a dump file
// cannot be written.
void optimize_graph(Module& m, const PipelineOptions& options);

// Fusion as the pipeline runs it (SOMA_DISABLE_PASSES=fuse gives one kernel per node).
Fusion fuse_module(const Module& m, const PipelineOptions& options);

// The three stages after the graph passes, each timed (SOMA_DEBUG=1), dumped (SOMA_DUMP_DIR:
// NN-fuse.soma-ir, NN-lower.kir, NN-plan.kir) and followed by the kernel verifier when
// options.verify: `fuse` groups nodes into kernels (passes/fuse.h; SOMA_DEBUG=2 prints each
// node's kernel and why), `lower` makes one kernel of loops per group (passes/lower.h), `plan`
// places temporaries in one arena and updates parameters in place (passes/plan.h;
// SOMA_DISABLE_PASSES=plan gives every temporary its own bytes). SOMA_DEBUG=3 prints the
// final program, which is what the code generators compile.
kir::Program lower_to_kernels(const Module& m, const PipelineOptions& options);

// The names of the pipeline's passes (what SOMA_DISABLE_PASSES accepts), in order, each once.
std::vector<std::string> pipeline_pass_names();

}  // namespace soma
