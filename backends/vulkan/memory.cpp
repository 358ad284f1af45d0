// The device-memory sub-allocator and buffers (see memory.h).
#include "backends/vulkan/memory.h"

#include <cstdio>
#include <cstdlib>

#include "graph/error.h"
#include "runtime/env.h"

namespace soma::vulkan {

namespace {

VkDeviceSize align_up(VkDeviceSize x, VkDeviceSize a) {
  return (x + a - 1) / a * a;
}

}  // namespace

Allocator*& Allocator::instance_ptr() {
  static Allocator* a = nullptr;
  return a;
}

Allocator& Allocator::get() {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  Allocator*& a = instance_ptr();
  if (!a) a = new Allocator(Context::get());  // lives as long as the context
  return *a;
}

void shutdown_memory() {
  Allocator* a = Allocator::instance_ptr();
  if (!a) return;
  a->release_all();
  delete a;
  Allocator::instance_ptr() = nullptr;
}

void Allocator::release_all() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& b : blocks_) {
    if (!b) continue;
    if (b->mapped) vk.vkUnmapMemory(ctx_.device, b->memory);
    vk.vkFreeMemory(ctx_.device, b->memory, nullptr);
  }
  blocks_.clear();
}

Allocator::Allocator(Context& ctx) : ctx_(ctx) {
  heap_used_.assign(ctx.memory.memoryHeapCount, 0);
  uint32_t t = choose_type(MemoryUse::Device, ~0u);
  VkMemoryPropertyFlags f = ctx.memory.memoryTypes[t].propertyFlags;
  device_mappable_ =
      (f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) && (f & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
  // Tests: take the staging paths of discrete GPUs on a unified-memory device.
  if (env_flag("SOMA_VULKAN_FORCE_STAGING", false)) device_mappable_ = false;
}

uint32_t Allocator::choose_type(MemoryUse use, uint32_t type_bits) const {
  const VkPhysicalDeviceMemoryProperties& m = ctx_.memory;
  constexpr VkMemoryPropertyFlags kLocal = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
  constexpr VkMemoryPropertyFlags kHost =
      VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  std::vector<std::pair<VkMemoryPropertyFlags, VkMemoryPropertyFlags>> prefs;  // (need, avoid)
  switch (use) {
    case MemoryUse::Device:
      // Unified memory (CPU devices, integrated GPUs): device-local and mappable, no staging.
      // Discrete GPUs: plain device-local (their host-visible device memory is small or slow).
      if (!ctx_.is_discrete()) prefs.push_back({kLocal | kHost, 0});
      prefs.push_back({kLocal, kHost});
      prefs.push_back({kLocal, 0});
      prefs.push_back({0, 0});
      break;
    case MemoryUse::Upload:
      prefs.push_back({kHost, kLocal});
      prefs.push_back({kHost, 0});
      break;
    case MemoryUse::Readback:
      prefs.push_back({kHost | VK_MEMORY_PROPERTY_HOST_CACHED_BIT, 0});
      prefs.push_back({kHost, 0});
      break;
  }
  for (auto [need, avoid] : prefs)
    for (uint32_t i = 0; i < m.memoryTypeCount; ++i) {
      VkMemoryPropertyFlags f = m.memoryTypes[i].propertyFlags;
      if ((type_bits & (1u << i)) && (f & need) == need && !(f & avoid)) return i;
    }
  SOMA_THROW(BackendError, "vulkan: the device "
                               << ctx_.name() << " has no suitable memory type for "
                               << (use == MemoryUse::Device ? "buffers" : "staging"));
}

Allocation Allocator::allocate(const VkMemoryRequirements& req, MemoryUse use,
                               const std::string& label) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint32_t type = choose_type(use, req.memoryTypeBits);
  const uint32_t heap = ctx_.memory.memoryTypes[type].heapIndex;
  const VkDeviceSize heap_size = ctx_.memory.memoryHeaps[heap].size;
  auto out_of_memory = [&](const std::string& why) {
    SOMA_THROW(BackendError,
               "vulkan: out of device memory: "
                   << label << " needs " << format_bytes(static_cast<int64_t>(req.size))
                   << ", but heap " << heap << " of " << ctx_.name() << " holds "
                   << format_bytes(static_cast<int64_t>(heap_size)) << " (soma holds "
                   << format_bytes(static_cast<int64_t>(heap_used_[heap])) << ")" << why
                   << "; use smaller batches or "
                      "another backend");
  };
  if (req.size > heap_size) out_of_memory("");

  // First fit in an existing block of this type.
  for (size_t bi = 0; bi < blocks_.size(); ++bi) {
    Block* b = blocks_[bi].get();
    if (!b || b->type != type || b->dedicated) continue;
    for (auto it = b->free.begin(); it != b->free.end(); ++it) {
      VkDeviceSize start = align_up(it->first, req.alignment), end = it->first + it->second;
      if (start + req.size > end) continue;
      VkDeviceSize fstart = it->first;
      b->free.erase(it);
      if (start > fstart) b->free[fstart] = start - fstart;
      if (end > start + req.size) b->free[start + req.size] = end - (start + req.size);
      b->used += req.size;
      Allocation a;
      a.memory = b->memory;
      a.offset = start;
      a.size = req.size;
      a.block = static_cast<int>(bi);
      a.mapped = b->mapped ? static_cast<std::byte*>(b->mapped) + start : nullptr;
      return a;
    }
  }

  // A new block: a shared one, or one of its own for large requests.
  const bool dedicated = req.size > kBlockBytes / 4;
  VkDeviceSize size = dedicated ? align_up(req.size, 4096) : kBlockBytes;
  if (!dedicated && heap_used_[heap] + size > heap_size) size = align_up(req.size, 4096);
  if (heap_used_[heap] + size > heap_size) out_of_memory(" and the rest is in use");
  VkMemoryAllocateInfo info{};
  info.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO;
  info.allocationSize = size;
  info.memoryTypeIndex = type;
  auto block = std::make_unique<Block>();
  VkResult r = vk.vkAllocateMemory(ctx_.device, &info, nullptr, &block->memory);
  if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY ||
      r == VK_ERROR_TOO_MANY_OBJECTS)
    out_of_memory(std::string(" and the driver refused (") + result_name(r) + ")");
  Context::check(r, "vkAllocateMemory");
  block->size = size;
  block->type = type;
  block->dedicated = dedicated;
  if (ctx_.memory.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) {
    r = vk.vkMapMemory(ctx_.device, block->memory, 0, VK_WHOLE_SIZE, 0, &block->mapped);
    if (r != VK_SUCCESS) {
      vk.vkFreeMemory(ctx_.device, block->memory, nullptr);
      Context::check(r, "vkMapMemory");
    }
  }
  heap_used_[heap] += size;
  block->used = req.size;
  if (size > req.size) block->free[req.size] = size - req.size;
  Allocation a;
  a.memory = block->memory;
  a.offset = 0;
  a.size = req.size;
  a.mapped = block->mapped;
  size_t slot = blocks_.size();
  for (size_t i = 0; i < blocks_.size(); ++i)
    if (!blocks_[i]) {
      slot = i;
      break;
    }
  a.block = static_cast<int>(slot);
  if (slot == blocks_.size())
    blocks_.push_back(std::move(block));
  else
    blocks_[slot] = std::move(block);
  return a;
}

void Allocator::free(const Allocation& a) {
  if (a.block < 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  Block* b = blocks_[static_cast<size_t>(a.block)].get();
  b->used -= a.size;
  if (b->dedicated) {
    // A block of its own goes back to the driver; shared blocks stay for later buffers (fresh
    // memory is slow to fault in on CPU devices).
    if (b->mapped) vk.vkUnmapMemory(ctx_.device, b->memory);
    vk.vkFreeMemory(ctx_.device, b->memory, nullptr);
    heap_used_[ctx_.memory.memoryTypes[b->type].heapIndex] -= b->size;
    blocks_[static_cast<size_t>(a.block)].reset();
    return;
  }
  VkDeviceSize off = a.offset, size = a.size;
  auto next = b->free.lower_bound(off);
  if (next != b->free.end() && off + size == next->first) {
    size += next->second;
    next = b->free.erase(next);
  }
  if (next != b->free.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == off) {
      prev->second += size;
      return;
    }
  }
  b->free[off] = size;
}

int64_t Allocator::reserved_bytes() {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t n = 0;
  for (auto& b : blocks_)
    if (b) n += static_cast<int64_t>(b->size);
  return n;
}

int64_t Allocator::used_bytes() {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t n = 0;
  for (auto& b : blocks_)
    if (b) n += static_cast<int64_t>(b->used);
  return n;
}

Buffer::Buffer(VkDeviceSize bytes, MemoryUse use, const std::string& label) {
  Context& ctx = Context::get();
  size_ = std::max<VkDeviceSize>(align_up(bytes, 16), 16);
  VkBufferCreateInfo info{};
  info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
  info.size = size_;
  info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
               VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VkResult r = vk.vkCreateBuffer(ctx.device, &info, nullptr, &buffer_);
  if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
    SOMA_THROW(BackendError, "vulkan: out of device memory: creating "
                                 << label << " (" << format_bytes(static_cast<int64_t>(size_))
                                 << ") failed: " << result_name(r));
  Context::check(r, "vkCreateBuffer");
  VkMemoryRequirements req;
  vk.vkGetBufferMemoryRequirements(ctx.device, buffer_, &req);
  try {
    alloc_ = Allocator::get().allocate(req, use, label);
  } catch (...) {
    vk.vkDestroyBuffer(ctx.device, buffer_, nullptr);
    buffer_ = VK_NULL_HANDLE;
    throw;
  }
  Context::check(vk.vkBindBufferMemory(ctx.device, buffer_, alloc_.memory, alloc_.offset),
                 "vkBindBufferMemory");
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    reset();
    buffer_ = o.buffer_;
    size_ = o.size_;
    alloc_ = o.alloc_;
    o.buffer_ = VK_NULL_HANDLE;
    o.alloc_ = Allocation{};
    o.size_ = 0;
  }
  return *this;
}

void Buffer::reset() {
  if (buffer_ == VK_NULL_HANDLE) return;
  vk.vkDestroyBuffer(Context::get().device, buffer_, nullptr);
  Allocator::get().free(alloc_);
  buffer_ = VK_NULL_HANDLE;
  alloc_ = Allocation{};
  size_ = 0;
}

}  // namespace soma::vulkan
