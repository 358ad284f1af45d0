// Command sequences (see sequence.h).
#include "backends/vulkan/sequence.h"

#include <mutex>

#include "graph/error.h"

namespace soma::vulkan {

Sequence::Sequence() : ctx_(Context::get()) {
  // A pool of its own: recording needs no lock shared with other sequences.
  VkCommandPoolCreateInfo pci{};
  pci.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
  pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pci.queueFamilyIndex = ctx_.queue_family;
  Context::check(vk.vkCreateCommandPool(ctx_.device, &pci, nullptr, &pool_), "vkCreateCommandPool");
  VkCommandBufferAllocateInfo ai{};
  ai.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
  ai.commandPool = pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VkResult r = vk.vkAllocateCommandBuffers(ctx_.device, &ai, &cmd_);
  if (r != VK_SUCCESS) {
    vk.vkDestroyCommandPool(ctx_.device, pool_, nullptr);
    Context::check(r, "vkAllocateCommandBuffers");
  }
  VkFenceCreateInfo fi{};
  fi.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO;
  r = vk.vkCreateFence(ctx_.device, &fi, nullptr, &fence_);
  if (r != VK_SUCCESS) {
    vk.vkDestroyCommandPool(ctx_.device, pool_, nullptr);
    Context::check(r, "vkCreateFence");
  }
}

Sequence::~Sequence() {
  if (queries_) vk.vkDestroyQueryPool(ctx_.device, queries_, nullptr);
  vk.vkDestroyFence(ctx_.device, fence_, nullptr);
  vk.vkDestroyCommandPool(ctx_.device, pool_, nullptr);  // frees the command buffer
}

void Sequence::begin() {
  recorded_ = false;
  VkCommandBufferBeginInfo bi{};
  bi.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
  Context::check(vk.vkBeginCommandBuffer(cmd_, &bi), "vkBeginCommandBuffer");
  if (queries_) vk.vkCmdResetQueryPool(cmd_, queries_, 0, query_count_);
}

void Sequence::enable_timestamps(uint32_t n) {
  if (!ctx_.timestamps || n == 0 || queries_) return;
  VkQueryPoolCreateInfo qi{};
  qi.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO;
  qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
  qi.queryCount = n;
  Context::check(vk.vkCreateQueryPool(ctx_.device, &qi, nullptr, &queries_), "vkCreateQueryPool");
  query_count_ = n;
}

void Sequence::timestamp(uint32_t i) {
  if (queries_ && i < query_count_)
    vk.vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, i);
}

std::vector<double> Sequence::timestamps_ms() {
  if (!queries_) return {};
  std::vector<uint64_t> ticks(query_count_);
  VkResult r = vk.vkGetQueryPoolResults(ctx_.device, queries_, 0, query_count_,
                                        ticks.size() * sizeof(uint64_t), ticks.data(),
                                        sizeof(uint64_t), VK_QUERY_RESULT_64_BIT);
  if (r != VK_SUCCESS) return {};
  std::vector<double> ms;
  for (uint32_t i = 1; i < query_count_; ++i)
    ms.push_back(static_cast<double>(ticks[i] - ticks[0]) * ctx_.props.limits.timestampPeriod *
                 1e-6);
  return ms;
}

void Sequence::dispatch(const Pipeline& p, VkDescriptorSet set, const void* push,
                        uint32_t push_bytes, uint32_t groups_x, uint32_t groups_y) {
  vk.vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.pipeline);
  if (set)
    vk.vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout, 0, 1, &set, 0,
                               nullptr);
  if (push_bytes)
    vk.vkCmdPushConstants(cmd_, p.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes, push);
  vk.vkCmdDispatch(cmd_, groups_x, groups_y, 1);
}

void Sequence::copy(VkBuffer src, VkDeviceSize src_offset, VkBuffer dst, VkDeviceSize dst_offset,
                    VkDeviceSize bytes) {
  if (bytes == 0) return;
  VkBufferCopy region{src_offset, dst_offset, bytes};
  vk.vkCmdCopyBuffer(cmd_, src, dst, 1, &region);
}

void Sequence::barrier(VkPipelineStageFlags src_stage, VkAccessFlags src_access,
                       VkPipelineStageFlags dst_stage, VkAccessFlags dst_access) {
  VkMemoryBarrier b{};
  b.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER;
  b.srcAccessMask = src_access;
  b.dstAccessMask = dst_access;
  vk.vkCmdPipelineBarrier(cmd_, src_stage, dst_stage, 0, 1, &b, 0, nullptr, 0, nullptr);
}

void Sequence::end() {
  Context::check(vk.vkEndCommandBuffer(cmd_), "vkEndCommandBuffer");
  recorded_ = true;
}

void Sequence::run() {
  std::lock_guard<std::mutex> lock(ctx_.queue_mutex);
  VkSubmitInfo si{};
  si.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cmd_;
  Context::check(vk.vkResetFences(ctx_.device, 1, &fence_), "vkResetFences");
  Context::check(vk.vkQueueSubmit(ctx_.queue, 1, &si, fence_), "vkQueueSubmit");
  VkResult r = vk.vkWaitForFences(ctx_.device, 1, &fence_, VK_TRUE, UINT64_MAX);
  if (r == VK_ERROR_DEVICE_LOST)
    SOMA_THROW(BackendError,
               "vulkan: the device was lost while running a program (a kernel "
               "faulted or ran too long); the process must restart to use Vulkan");
  Context::check(r, "vkWaitForFences");
}

}  // namespace soma::vulkan
