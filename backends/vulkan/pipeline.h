// Compute pipelines: a descriptor set layout of N storage buffers, push constants (one int per
// binding: its element offset; a chunked sequential kernel adds its first point), the shader
// module, and the workgroup size as specialization
// constant 0. Pipelines are cached in memory, keyed by SPIR-V digest, binding count and workgroup
// size, up to a bound (least recently used ones leave the cache first; an executable keeps the
// pipelines it uses alive); a VkPipelineCache makes the driver's own compile reusable across
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
  Pipeline() = default;
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;
  ~Pipeline();  // destroys its Vulkan objects (unless the device went first)
};

// `push_words`: 32-bit push constants; `local_size`: the value of specialization constant 0
// (ignored by shaders with a fixed size).
std::shared_ptr<const Pipeline> get_pipeline(const Spirv& spirv, uint32_t bindings,
                                             uint32_t push_words, uint32_t local_size,
                                             const std::string& name);

// Writes the VkPipelineCache to disk if pipelines were created since the last save.
void save_pipeline_cache();

struct PipelineStats {
  int64_t created = 0;
  int64_t hits = 0;
  int64_t cached = 0;  // in the in-memory cache now
  int64_t alive = 0;   // existing now (cached or held by an executable)
};
PipelineStats pipeline_stats();

// The most pipelines the in-memory cache keeps (default 512); for tests.
void set_pipeline_cache_limit(size_t n);

}  // namespace soma::vulkan
