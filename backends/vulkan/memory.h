// Device memory: a sub-allocator over large VkDeviceMemory blocks (64 MiB; bigger requests get a
// block of their own), and Buffer, a VkBuffer bound to a piece of a block.
//
// Memory kinds: Device (tensors; device-local, and also host-visible on devices with unified
// memory such as lavapipe and integrated GPUs, which then need no staging), Upload and Readback
// (host-visible staging for discrete GPUs). Requests beyond a heap's size, or that the driver
// refuses, throw a BackendError that says how much was asked for and how much the heap holds.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/vulkan/context.h"
#include "runtime/host_memory.h"

namespace soma::vulkan {

enum class MemoryUse { Device, Upload, Readback };

struct Allocation {
  VkDeviceMemory memory = VK_NULL_HANDLE;
  VkDeviceSize offset = 0, size = 0;
  void* mapped = nullptr;  // host address of `offset` when the memory is host-visible
  int block = -1;
};

class Allocator {
 public:
  static Allocator& get();  // for Context::get()'s device
  Allocation allocate(const VkMemoryRequirements& req, MemoryUse use, const std::string& label);
  void free(const Allocation& a);
  // Whether MemoryUse::Device memory is host-visible and coherent (no staging needed);
  // SOMA_VULKAN_FORCE_STAGING=1 says no (tests of the discrete-GPU paths).
  bool device_memory_mappable() const { return device_mappable_; }
  // Bytes of VkDeviceMemory held (blocks), and in use by buffers.
  int64_t reserved_bytes();
  int64_t used_bytes();
  static constexpr VkDeviceSize kBlockBytes = VkDeviceSize{64} << 20;

 private:
  explicit Allocator(Context& ctx);
  friend void shutdown_memory();
  static Allocator*& instance_ptr();
  void release_all();
  struct Block {
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkDeviceSize size = 0, used = 0;
    uint32_t type = 0;
    bool dedicated = false;
    void* mapped = nullptr;
    std::map<VkDeviceSize, VkDeviceSize> free;  // offset -> size
  };
  uint32_t choose_type(MemoryUse use, uint32_t type_bits) const;
  Context& ctx_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Block>> blocks_;  // null: released
  std::vector<VkDeviceSize> heap_used_;
  bool device_mappable_ = false;
};

// A VkBuffer (storage, transfer source and destination) with its memory. Move-only.
class Buffer {
 public:
  Buffer() = default;
  Buffer(VkDeviceSize bytes, MemoryUse use, const std::string& label);
  Buffer(Buffer&& o) noexcept { *this = std::move(o); }
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { reset(); }

  VkBuffer handle() const { return buffer_; }
  VkDeviceSize size() const { return size_; }
  // Host address of the buffer's first byte, or null when it is not host-visible.
  std::byte* mapped() const { return static_cast<std::byte*>(alloc_.mapped); }
  explicit operator bool() const { return buffer_ != VK_NULL_HANDLE; }
  void reset();

 private:
  VkBuffer buffer_ = VK_NULL_HANDLE;
  VkDeviceSize size_ = 0;
  Allocation alloc_;
};

}  // namespace soma::vulkan
