// The process's Vulkan device: instance (with the Khronos validation layer and a debug-utils
// messenger when SOMA_VULKAN_VALIDATION=1), the physical device (discrete GPU first, then
// integrated, virtual, CPU — lavapipe; SOMA_VULKAN_DEVICE=index|name-substring overrides), the
// logical device with one compute queue, and what the device supports. Created on first use and
// kept for the life of the process.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "backends/vulkan/loader.h"

namespace soma::vulkan {

// Exit-time teardown of the other layers (pipeline.cpp, memory.cpp).
void shutdown_pipelines();
void shutdown_memory();

class Context {
 public:
  // The device; throws BackendError ("backend 'vulkan' is unavailable: ...") when there is no
  // loader or no device. A failure is remembered: later calls throw the same error.
  static Context& get();

  VkInstance instance = VK_NULL_HANDLE;
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkDevice device = VK_NULL_HANDLE;
  VkQueue queue = VK_NULL_HANDLE;
  uint32_t queue_family = 0;
  VkPhysicalDeviceProperties props{};
  VkPhysicalDeviceMemoryProperties memory{};
  uint32_t api_version = 0;

  // Features enabled on the device.
  bool int8_storage = false;
  bool float64 = false;
  bool subgroup_arithmetic = false;
  bool nan_preserve_f32 = false;  // shaderSignedZeroInfNanPreserveFloat32
  bool nan_preserve_f64 = false;
  bool denorm_preserve_f32 = false;  // shaderDenormPreserveFloat32 (lavapipe: no, it flushes)
  bool denorm_preserve_f64 = false;
  uint32_t subgroup_size = 0;
  bool timestamps = false;
  // The most loop iterations (back edges, over all loops) one invocation may run before the
  // driver silently ends its loops; 0: no such limit. Mesa's llvmpipe (lavapipe) has one: 65535
  // per invocation (gallivm's loop limiter), so longer loops must be split across invocations.
  uint64_t loop_limit = 0;

  bool is_cpu() const { return props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU; }
  bool is_discrete() const { return props.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU; }
  std::string name() const { return props.deviceName; }
  std::string describe() const;  // "llvmpipe (LLVM 15.0.6, 256 bits), cpu, Vulkan 1.3.230"

  // Serializes queue submissions.
  std::mutex queue_mutex;
  // Serializes runs of executables: they share the device mirrors of parameter stores.
  std::mutex run_mutex;

  // Validation (SOMA_VULKAN_VALIDATION=1).
  bool validation = false;
  std::atomic<int64_t> validation_errors{0};
  std::vector<std::string> validation_messages();  // errors so far
  void add_validation_message(const std::string& m);

  // Throws BackendError "vulkan: <what> failed: VK_ERROR_..." unless r is VK_SUCCESS.
  static void check(VkResult r, const char* what);

  // Objects that hold device resources (executables) count themselves here. At process exit,
  // when none is left, every device object is destroyed in order (pipelines, memory, device,
  // instance), so drivers and leak checkers see a clean shutdown; with live objects the device
  // is left to the operating system.
  static std::atomic<int64_t> live_objects;

 private:
  Context() = default;
  void init();
  static Context*& instance_ptr();
  static void shutdown_at_exit();
  std::mutex messages_mutex_;
  std::vector<std::string> messages_;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
};

}  // namespace soma::vulkan
