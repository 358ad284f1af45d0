// Device copies of parameters and the lazy sync with the ParamStore (see param_mirror.h).
#include "backends/vulkan/param_mirror.h"

#include <atomic>
#include <cstring>
#include <mutex>

#include "backends/vulkan/sequence.h"
#include "backends/vulkan/vulkan_backend.h"

namespace soma::vulkan {

namespace {

struct Counters {
  std::atomic<int64_t> uploads{0}, downloads{0}, upload_bytes{0}, download_bytes{0};
};

Counters& counters() {
  static Counters c;
  return c;
}

}  // namespace

DeviceParam::DeviceParam(VkDeviceSize bytes, DType dtype_, int64_t numel_, const std::string& label)
    : dtype(dtype_), numel(numel_) {
  buffer = vulkan::Buffer(bytes, MemoryUse::Device, label);
  // A device copy may outlive every executable (a stale mark in a store owns it): the device
  // stays up at exit while one exists.
  ++Context::live_objects;
}

DeviceParam::~DeviceParam() {
  buffer.reset();
  --Context::live_objects;
}

std::shared_ptr<DeviceParams> device_params_for(const std::shared_ptr<ParamStore>& store) {
  struct Entry {
    std::weak_ptr<ParamStore> store;
    std::weak_ptr<DeviceParams> mirror;
  };
  static std::mutex mu;
  static std::map<const ParamStore*, Entry> registry;
  std::lock_guard<std::mutex> lock(mu);
  for (auto it = registry.begin(); it != registry.end();)
    it = it->second.store.expired() || it->second.mirror.expired() ? registry.erase(it)
                                                                   : std::next(it);
  auto it = registry.find(store.get());
  if (it != registry.end()) return it->second.mirror.lock();
  auto m = std::make_shared<DeviceParams>();
  registry[store.get()] = {store, m};
  return m;
}

void upload(const vulkan::Buffer& dst, VkDeviceSize offset, const void* src, size_t bytes) {
  if (!bytes) return;
  if (Allocator::get().device_memory_mappable()) {
    std::memcpy(dst.mapped() + offset, src, bytes);
    return;
  }
  vulkan::Buffer staging(bytes, MemoryUse::Upload, "an upload staging buffer");
  std::memcpy(staging.mapped(), src, bytes);
  Sequence seq;
  seq.begin();
  seq.copy(staging.handle(), 0, dst.handle(), offset, bytes);
  seq.barrier(VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
              VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
              VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT);
  seq.end();
  seq.run();
}

void download(const vulkan::Buffer& src, VkDeviceSize offset, void* dst, size_t bytes) {
  if (!bytes) return;
  if (Allocator::get().device_memory_mappable()) {
    // The run that wrote it made its writes visible to the host before its fence signalled.
    std::memcpy(dst, src.mapped() + offset, bytes);
    return;
  }
  vulkan::Buffer staging(bytes, MemoryUse::Readback, "a readback staging buffer");
  Sequence seq;
  seq.begin();
  seq.barrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
              VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
              VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT);
  seq.copy(src.handle(), offset, staging.handle(), 0, bytes);
  seq.barrier(VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
              VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
  seq.end();
  seq.run();
  std::memcpy(dst, staging.mapped(), bytes);
}

ParamStore::Fetch fetch_from(std::shared_ptr<DeviceParam> param) {
  return [param = std::move(param)](Array& host) {
    const size_t bytes = host.nbytes();
    download(param->buffer, 0, host.raw(), bytes);
    Counters& c = counters();
    c.downloads.fetch_add(1, std::memory_order_relaxed);
    c.download_bytes.fetch_add(static_cast<int64_t>(bytes), std::memory_order_relaxed);
  };
}

void upload_param(DeviceParam& param, const Array& host) {
  upload(param.buffer, 0, host.raw(), host.nbytes());
  Counters& c = counters();
  c.uploads.fetch_add(1, std::memory_order_relaxed);
  c.upload_bytes.fetch_add(static_cast<int64_t>(host.nbytes()), std::memory_order_relaxed);
}

ParamTransfers param_transfers() {
  Counters& c = counters();
  return {c.uploads.load(), c.downloads.load(), c.upload_bytes.load(), c.download_bytes.load()};
}

}  // namespace soma::vulkan
