#include "backends/vulkan/loader.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <vector>

#include "runtime/env.h"

namespace soma::vulkan {

Api vk;

std::string load_vulkan() {
  static std::once_flag once;
  static std::string error;
  std::call_once(once, [] {
    void* lib = nullptr;
    std::string tried;
    // SOMA_VULKAN_LOADER names a loader library explicitly (an unpacked libvulkan1 on a machine
    // without one installed).
    std::optional<std::string> chosen = env_value("SOMA_VULKAN_LOADER");
    std::vector<std::string> names;
    if (chosen)
      names = {*chosen};
    else
      names = {"libvulkan.so.1", "libvulkan.so"};
    for (const std::string& name : names) {
      lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (lib) break;
      const char* why = dlerror();
      tried += "\n  " + name + ": " + (why ? why : "not found");
    }
    if (!lib) {
      error =
          "the Vulkan loader could not be opened; install libvulkan1 (and "
          "mesa-vulkan-drivers for a CPU Vulkan device), or point SOMA_VULKAN_LOADER at "
          "libvulkan.so.1:" +
          tried;
      return;
    }
    vk.vkGetInstanceProcAddr =
        reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(lib, "vkGetInstanceProcAddr"));
    if (!vk.vkGetInstanceProcAddr) {
      error = "the Vulkan loader has no vkGetInstanceProcAddr";
      return;
    }
#define SOMA_VK_LOAD(name) \
  vk.name = reinterpret_cast<PFN_##name>(vk.vkGetInstanceProcAddr(nullptr, #name));
    SOMA_VK_GLOBAL_FNS(SOMA_VK_LOAD)
#undef SOMA_VK_LOAD
    if (!vk.vkCreateInstance) error = "the Vulkan loader has no vkCreateInstance";
  });
  return error;
}

void load_instance(VkInstance instance, bool debug_utils) {
#define SOMA_VK_LOAD(name) \
  vk.name = reinterpret_cast<PFN_##name>(vk.vkGetInstanceProcAddr(instance, #name));
  SOMA_VK_INSTANCE_FNS(SOMA_VK_LOAD)
  if (debug_utils) {
    SOMA_VK_DEBUG_FNS(SOMA_VK_LOAD)
  }
#undef SOMA_VK_LOAD
}

void load_device(VkDevice device) {
#define SOMA_VK_LOAD(name) \
  vk.name = reinterpret_cast<PFN_##name>(vk.vkGetDeviceProcAddr(device, #name));
  SOMA_VK_DEVICE_FNS(SOMA_VK_LOAD)
#undef SOMA_VK_LOAD
}

const char* result_name(VkResult r) {
  switch (r) {
#define SOMA_CASE(x) \
  case x:            \
    return #x;
    SOMA_CASE(VK_SUCCESS)
    SOMA_CASE(VK_NOT_READY)
    SOMA_CASE(VK_TIMEOUT)
    SOMA_CASE(VK_INCOMPLETE)
    SOMA_CASE(VK_ERROR_OUT_OF_HOST_MEMORY)
    SOMA_CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    SOMA_CASE(VK_ERROR_INITIALIZATION_FAILED)
    SOMA_CASE(VK_ERROR_DEVICE_LOST)
    SOMA_CASE(VK_ERROR_MEMORY_MAP_FAILED)
    SOMA_CASE(VK_ERROR_LAYER_NOT_PRESENT)
    SOMA_CASE(VK_ERROR_EXTENSION_NOT_PRESENT)
    SOMA_CASE(VK_ERROR_FEATURE_NOT_PRESENT)
    SOMA_CASE(VK_ERROR_INCOMPATIBLE_DRIVER)
    SOMA_CASE(VK_ERROR_TOO_MANY_OBJECTS)
    SOMA_CASE(VK_ERROR_FORMAT_NOT_SUPPORTED)
    SOMA_CASE(VK_ERROR_FRAGMENTED_POOL)
    SOMA_CASE(VK_ERROR_UNKNOWN)
    SOMA_CASE(VK_ERROR_OUT_OF_POOL_MEMORY)
    SOMA_CASE(VK_ERROR_INVALID_SHADER_NV)
#undef SOMA_CASE
    default:
      return "VK_ERROR (unknown code)";
  }
}

}  // namespace soma::vulkan
