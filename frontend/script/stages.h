// The stages a tensor expression goes through on its way to machine code, as `soma emit STAGE`
// and `:emit STAGE NAME` show them: the target-independent stages, then the code stages each
// registered backend offers (Backend::code_stages). Every stage is made by the pipeline compile()
// runs, with the same switches and the backend's own limits, so it shows the program that runs.
#pragma once

#include <string>
#include <vector>

#include "backends/backend.h"
#include "frontend/tensor.h"
#include "graph/kernel_ir.h"

namespace soma::script {

struct EmitStage {
  std::string name;         // "graph"
  std::string description;  // one line, for --help and :help
  std::string backend;      // the backend whose code this stage shows ("" : target-independent)
};

const std::vector<EmitStage>& emit_stages();

// The text of stage `stage` for the value `t` (compiled as compile() would, with `options`; the
// target-independent stages for options.backend, else the default backend). Throws ValueError
// for an unknown stage (listing the stages).
std::string emit_stage(const std::string& stage, const Tensor& t,
                       const CompileOptions& options = {});

// The text of a stage after lowering (kernel, llvm, asm, glsl, spirv) for a kernel program, e.g.
// one read from a `.kir` dump. Throws ValueError for a stage before lowering.
std::string emit_program_stage(const std::string& stage, const kir::Program& p,
                               const CompileOptions& options = {});

}  // namespace soma::script
