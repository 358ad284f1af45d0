// Device copies of parameters: one copy per (ParamStore, name), shared by every executable
// compiled against that store, so a training step and predict use one set of weights on the
// device.
//
// The lazy sync. A copy remembers the store version of the parameter it holds (synced). Before a
// run, a parameter whose version(name) differs is uploaded from get(name) — after a host write,
// or after another holder (another backend) changed it, in which case get() first fetches that
// holder's value. After a run, each updated parameter is marked stale on the host with
// mark_host_stale(name, fetch_from(copy)), and the copy records the new version: the device copy
// is the truth, later runs upload nothing, and the host downloads it only when it reads the
// parameter (ParamStore::get). A stale mark owns its copy, so the value survives the executables
// that computed it.
//
// Locking: a copy's `synced` is used under Context::run_mutex; a fetch takes no executable lock
// (it runs under the store's lock, and only the queue's lock where it submits a copy).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "backends/vulkan/memory.h"
#include "runtime/param_store.h"

namespace soma::vulkan {

struct DeviceParam {
  DeviceParam(VkDeviceSize bytes, DType dtype, int64_t numel, const std::string& label);
  ~DeviceParam();
  DeviceParam(const DeviceParam&) = delete;
  DeviceParam& operator=(const DeviceParam&) = delete;

  vulkan::Buffer buffer;
  DType dtype = DType::f32;
  int64_t numel = 0;
  // The store version of the parameter this copy holds (none: never synced).
  uint64_t synced = UINT64_MAX;
};

struct DeviceParams {
  std::map<std::string, std::shared_ptr<DeviceParam>> entries;
};

// The device copies of `store`'s parameters, shared by every executable compiled against it
// (entries are used under Context::run_mutex; the registry has its own lock).
std::shared_ptr<DeviceParams> device_params_for(const std::shared_ptr<ParamStore>& store);

// Host bytes into a device buffer, and back (a mapped memcpy, or a staging copy on devices
// without host-visible device memory).
void upload(const vulkan::Buffer& dst, VkDeviceSize offset, const void* src, size_t bytes);
void download(const vulkan::Buffer& src, VkDeviceSize offset, void* dst, size_t bytes);

// The ParamStore fetch that copies `param` into the host Array (it keeps `param` alive).
ParamStore::Fetch fetch_from(std::shared_ptr<DeviceParam> param);

// Copies `host` into `param` (counted as a parameter upload).
void upload_param(DeviceParam& param, const Array& host);

}  // namespace soma::vulkan
