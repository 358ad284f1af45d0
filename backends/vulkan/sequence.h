// A Sequence: one command buffer that records a whole program (uploads, every kernel's dispatch,
// readback and parameter-update copies, with the barriers between them) once, and is submitted
// on every run; a fence waits for it.
#pragma once

#include <cstdint>
#include <vector>

#include "backends/vulkan/context.h"
#include "backends/vulkan/pipeline.h"

namespace soma::vulkan {

class Sequence {
 public:
  Sequence();
  ~Sequence();
  Sequence(const Sequence&) = delete;
  Sequence& operator=(const Sequence&) = delete;

  void begin();  // resets and starts recording (one-time submit: false; it is reused)
  void dispatch(const Pipeline& p, VkDescriptorSet set, const void* push, uint32_t push_bytes,
                uint32_t groups_x, uint32_t groups_y = 1);
  void copy(VkBuffer src, VkDeviceSize src_offset, VkBuffer dst, VkDeviceSize dst_offset,
            VkDeviceSize bytes);
  // A global memory barrier from the given stages/accesses to the given stages/accesses.
  void barrier(VkPipelineStageFlags src_stage, VkAccessFlags src_access,
               VkPipelineStageFlags dst_stage, VkAccessFlags dst_access);
  // Timestamps: enable_timestamps(n) before begin() makes room for n; timestamp(i) records one
  // after the work recorded so far; timestamps_ms() gives the milliseconds from timestamp 0 to
  // each later one, after run(). No-ops on devices without compute timestamps.
  void enable_timestamps(uint32_t n);
  void timestamp(uint32_t i);
  std::vector<double> timestamps_ms();
  void end();
  // Submits and waits (under the context's queue mutex).
  void run();
  bool recorded() const { return recorded_; }
  VkCommandBuffer handle() const { return cmd_; }

 private:
  Context& ctx_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  VkQueryPool queries_ = VK_NULL_HANDLE;
  uint32_t query_count_ = 0;
  bool recorded_ = false;
};

}  // namespace soma::vulkan
