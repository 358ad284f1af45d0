// The vulkan backend's Executable: device buffers for a program (an arena of temporaries, inputs,
// outputs, constants, and the shared device copies of parameters, param_mirror.h), descriptor
// sets, and the whole program recorded once into one command sequence. run() uploads stale
// parameters and the feeds, submits, waits, reads back the outputs and marks the updated
// parameters stale on the host.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "backends/backend.h"
#include "backends/vulkan/glsl_emit.h"
#include "backends/vulkan/pipeline.h"

namespace soma::vulkan {

struct CompiledKernel {
  KernelShader shader;
  std::shared_ptr<const Pipeline> pipeline;
  uint32_t local_size = 0;
  uint32_t groups = 0;    // workgroups in x
  uint32_t groups_y = 1;  // and in y (Points kernels)
};

std::unique_ptr<Executable> make_executable(const kir::Program& program,
                                            std::vector<CompiledKernel> kernels,
                                            std::shared_ptr<ParamStore> params);

}  // namespace soma::vulkan
