// Compute pipelines: a descriptor set layout of N storage buffers, push constants (one int per
// binding: its element offset; a chunked sequential kernel adds its first point), the shader
// module, and the workgroup size as specialization
// constant 0. Pipelines are cached for the life of the process, keyed by SPIR-V digest, binding
// count and workgroup size; a VkPipelineCache makes the driver's own compile reusable across
// processes (saved next to the SPIR-V cache).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "backends/vulkan/context.h"
#include "backends/vulkan/spirv.h"

namespace soma::vulkan {

struct Pipeline {
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkPipeline pipeline = VK_NULL_HANDLE;
  uint32_t bindings = 0;
};

// `push_words`: 32-bit push constants; `local_size`: the value of specialization constant 0
// (ignored by shaders with a fixed size).
const Pipeline& get_pipeline(const Spirv& spirv, uint32_t bindings, uint32_t push_words,
                             uint32_t local_size, const std::string& name);

// Writes the VkPipelineCache to disk if pipelines were created since the last save.
void save_pipeline_cache();

struct PipelineStats {
  int64_t created = 0;
  int64_t hits = 0;
};
PipelineStats pipeline_stats();

}  // namespace soma::vulkan
