// The Vulkan device context (see context.h).
#include "backends/vulkan/context.h"

#include <dlfcn.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>

#include "graph/error.h"
#include "runtime/env.h"

namespace soma::vulkan {

namespace {

constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";
constexpr const char* kUnavailable = "backend 'vulkan' is unavailable: ";
// Below this much free space, Mesa's own shader cache is turned off (see below).
constexpr uint64_t kMesaCacheMinFree = uint64_t{256} << 20;

VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                          VkDebugUtilsMessageTypeFlagsEXT,
                                          const VkDebugUtilsMessengerCallbackDataEXT* data,
                                          void* user) {
  if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
    auto* ctx = static_cast<Context*>(user);
    std::string m = data && data->pMessage ? data->pMessage : "(no message)";
    ctx->add_validation_message(m);
    std::cerr << "soma: vulkan validation error: " << m << "\n";
  } else if (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
    if (debug_level() >= 1 && data && data->pMessage)
      std::cerr << "soma: vulkan validation warning: " << data->pMessage << "\n";
  }
  return VK_FALSE;
}

const char* type_name(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return "CPU";
    default:
      return "other";
  }
}

int type_rank(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return 3;
    default:
      return 4;
  }
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool has_extension(const std::vector<VkExtensionProperties>& list, const char* name) {
  for (const auto& e : list)
    if (std::strcmp(e.extensionName, name) == 0) return true;
  return false;
}

std::vector<VkExtensionProperties> instance_extensions(const char* layer) {
  uint32_t n = 0;
  if (vk.vkEnumerateInstanceExtensionProperties(layer, &n, nullptr) != VK_SUCCESS) return {};
  std::vector<VkExtensionProperties> out(n);
  if (vk.vkEnumerateInstanceExtensionProperties(layer, &n, out.data()) != VK_SUCCESS) return {};
  out.resize(n);
  return out;
}

std::string version_str(uint32_t v) {
  return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) +
         "." + std::to_string(VK_API_VERSION_PATCH(v));
}

}  // namespace

std::atomic<int64_t> Context::live_objects{0};

void Context::check(VkResult r, const char* what) {
  if (r == VK_SUCCESS) return;
  SOMA_THROW(BackendError, "vulkan: " << what << " failed: " << result_name(r));
}

void Context::add_validation_message(const std::string& m) {
  std::lock_guard<std::mutex> lock(messages_mutex_);
  ++validation_errors;
  if (messages_.size() < 100) messages_.push_back(m);
}

std::vector<std::string> Context::validation_messages() {
  std::lock_guard<std::mutex> lock(messages_mutex_);
  return messages_;
}

std::string Context::describe() const {
  return std::string(props.deviceName) + ", " + type_name(props.deviceType) + ", Vulkan " +
         version_str(props.apiVersion);
}

void Context::shutdown_at_exit() {
  Context* c = instance_ptr();
  if (!c) return;
  if (live_objects.load() > 0) {
    if (debug_level() >= 1)
      std::cerr << "soma: vulkan: " << live_objects.load()
                << " executables outlive the process; the device is left to the OS\n";
    return;
  }
  vk.vkDeviceWaitIdle(c->device);
  shutdown_pipelines();
  shutdown_memory();
  vk.vkDestroyDevice(c->device, nullptr);
  if (c->messenger_) vk.vkDestroyDebugUtilsMessengerEXT(c->instance, c->messenger_, nullptr);
  vk.vkDestroyInstance(c->instance, nullptr);
  c->device = VK_NULL_HANDLE;
  c->instance = VK_NULL_HANDLE;
}

Context*& Context::instance_ptr() {
  static Context* ctx = nullptr;
  return ctx;
}

Context& Context::get() {
  static std::mutex mu;
  Context*& ctx = instance_ptr();
  static std::string error;
  std::lock_guard<std::mutex> lock(mu);
  if (ctx) return *ctx;
  if (!error.empty()) throw BackendError(error);
  // Never destroyed: executables and cached pipelines may outlive any static destructor order.
  auto* c = new Context();
  try {
    c->init();
  } catch (const BackendError& e) {
    error = e.what();
    if (c->device) vk.vkDestroyDevice(c->device, nullptr);
    if (c->instance) {
      if (c->messenger_) vk.vkDestroyDebugUtilsMessengerEXT(c->instance, c->messenger_, nullptr);
      vk.vkDestroyInstance(c->instance, nullptr);
    }
    delete c;
    throw;
  }
  ctx = c;
  std::atexit(shutdown_at_exit);
  return *ctx;
}

// Mesa's drivers keep their own shader cache (~/.cache/mesa_shader_cache) and write it from a
// thread that dies with SIGBUS when the disk is full. When the folder's file system has little
// room left and the user has not configured Mesa's cache, it is turned off for this process.
static void keep_mesa_cache_off_a_full_disk() {
  if (env_value("MESA_SHADER_CACHE_DISABLE") || env_value("MESA_SHADER_CACHE_DIR") ||
      env_value("MESA_DISK_CACHE_SINGLE_FILE"))
    return;
  std::string dir;
  if (auto x = env_value("XDG_CACHE_HOME"); x && (*x)[0] == '/')
    dir = *x;
  else if (auto h = env_value("HOME"))
    dir = *h;
  else
    return;
  struct statvfs fs;
  if (::statvfs(dir.c_str(), &fs) != 0) return;
  const uint64_t free_bytes = uint64_t{fs.f_bavail} * fs.f_frsize;
  if (free_bytes >= kMesaCacheMinFree) return;
  ::setenv("MESA_SHADER_CACHE_DISABLE", "true", 0);
  if (debug_level() >= 1)
    std::cerr << "soma: " << dir << " has " << (free_bytes >> 20)
              << " MiB free: Mesa's shader cache is off for this process\n";
}

#ifdef __SANITIZE_ADDRESS__
// Sanitizer builds: the Vulkan loader unloads drivers and layers when the instance goes away,
// and what a driver keeps in its globals for the life of the process (Mesa 22.3's lavapipe: 128
// bytes of once-initialized state) then looks to LeakSanitizer like a leak of an unknown module.
// Marked never-unloaded, their globals stay mapped and such blocks stay reachable, while soma's
// own leaks are still reported.
static void keep_drivers_loaded() {
  std::FILE* maps = std::fopen("/proc/self/maps", "r");
  if (!maps) return;
  char line[4096];
  while (std::fgets(line, sizeof line, maps)) {
    const char* path = std::strchr(line, '/');
    if (!path) continue;
    std::string p(path);
    while (!p.empty() && (p.back() == '\n' || p.back() == ' ')) p.pop_back();
    if (p.find("libvulkan_") == std::string::npos && p.find("libVkLayer") == std::string::npos)
      continue;
    ::dlopen(p.c_str(), RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);  // no new load: a flag only
  }
  std::fclose(maps);
}
#endif

void Context::init() {
  keep_mesa_cache_off_a_full_disk();
  if (std::string e = load_vulkan(); !e.empty()) throw BackendError(kUnavailable + e);

  uint32_t loader_version = VK_API_VERSION_1_0;
  if (vk.vkEnumerateInstanceVersion) vk.vkEnumerateInstanceVersion(&loader_version);
  if (loader_version < VK_API_VERSION_1_1)
    SOMA_THROW(BackendError, kUnavailable << "the Vulkan loader is version "
                                          << version_str(loader_version)
                                          << "; soma needs Vulkan 1.1 or newer");
  const uint32_t want = std::min<uint32_t>(loader_version, VK_API_VERSION_1_3);

  // Validation layer and messenger.
  std::vector<const char*> layers, extensions;
  // SOMA_VULKAN_VALIDATION: 1 (core checks), sync (also synchronization), 0 or unset: off.
  const std::string validation_mode = env_choice("SOMA_VULKAN_VALIDATION", "0", {"0", "1", "sync"});
  bool want_validation = validation_mode != "0";
  bool sync_validation = false;
  if (want_validation) {
    uint32_t n = 0;
    vk.vkEnumerateInstanceLayerProperties(&n, nullptr);
    std::vector<VkLayerProperties> props_list(n);
    vk.vkEnumerateInstanceLayerProperties(&n, props_list.data());
    bool found = false;
    for (uint32_t i = 0; i < n; ++i)
      found = found || std::strcmp(props_list[i].layerName, kValidationLayer) == 0;
    auto global = instance_extensions(nullptr), layer = instance_extensions(kValidationLayer);
    bool utils = has_extension(global, VK_EXT_DEBUG_UTILS_EXTENSION_NAME) ||
                 has_extension(layer, VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    if (found && utils) {
      layers.push_back(kValidationLayer);
      extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
      validation = true;
      if (has_extension(layer, VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME) &&
          validation_mode == "sync") {
        extensions.push_back(VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME);
        sync_validation = true;
      }
    } else {
      std::cerr << "soma: warning: SOMA_VULKAN_VALIDATION is set but the Khronos validation layer "
                   "(vulkan-validationlayers) or VK_EXT_debug_utils is missing; running without "
                   "validation\n";
    }
  }

  VkApplicationInfo app{};
  app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
  app.pApplicationName = "soma";
  app.pEngineName = "soma";
  app.apiVersion = want;
  VkInstanceCreateInfo ici{};
  ici.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
  ici.pApplicationInfo = &app;
  ici.enabledLayerCount = static_cast<uint32_t>(layers.size());
  ici.ppEnabledLayerNames = layers.data();
  ici.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  ici.ppEnabledExtensionNames = extensions.data();
  VkValidationFeatureEnableEXT sync_feature =
      VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
  VkValidationFeaturesEXT features_ext{};
  features_ext.sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT;
  features_ext.enabledValidationFeatureCount = 1;
  features_ext.pEnabledValidationFeatures = &sync_feature;
  VkDebugUtilsMessengerCreateInfoEXT mci{};
  mci.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT;
  mci.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                        VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  mci.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                    VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                    VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
  mci.pfnUserCallback = on_message;
  mci.pUserData = this;
  if (validation) {
    // Chained into instance creation too, so vkCreateInstance itself is validated.
    ici.pNext = &mci;
    if (sync_validation) mci.pNext = &features_ext;
  }
  VkResult r = vk.vkCreateInstance(&ici, nullptr, &instance);
#ifdef __SANITIZE_ADDRESS__
  keep_drivers_loaded();
#endif
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER || r == VK_ERROR_INITIALIZATION_FAILED)
    SOMA_THROW(BackendError,
               kUnavailable << "no Vulkan driver was found (vkCreateInstance: " << result_name(r)
                            << "); install mesa-vulkan-drivers for the CPU driver "
                               "(lavapipe), or a GPU's Vulkan driver");
  if (r != VK_SUCCESS)
    SOMA_THROW(BackendError, kUnavailable << "vkCreateInstance failed: " << result_name(r));
  load_instance(instance, validation);
  if (validation) {
    mci.pNext = nullptr;
    check(vk.vkCreateDebugUtilsMessengerEXT(instance, &mci, nullptr, &messenger_),
          "vkCreateDebugUtilsMessengerEXT");
  }

  // Physical devices.
  uint32_t count = 0;
  vk.vkEnumeratePhysicalDevices(instance, &count, nullptr);
  std::vector<VkPhysicalDevice> devices(count);
  if (count) vk.vkEnumeratePhysicalDevices(instance, &count, devices.data());
  devices.resize(count);
  if (devices.empty())
    SOMA_THROW(BackendError, kUnavailable << "no Vulkan device found; install mesa-vulkan-drivers "
                                             "for the CPU driver (lavapipe), or a GPU's Vulkan "
                                             "driver (VK_DRIVER_FILES selects driver manifests)");
  struct Candidate {
    VkPhysicalDevice dev;
    VkPhysicalDeviceProperties props;
    uint32_t family;
    size_t index;
  };
  std::vector<Candidate> usable;
  std::string listing;
  for (size_t i = 0; i < devices.size(); ++i) {
    VkPhysicalDeviceProperties p;
    vk.vkGetPhysicalDeviceProperties(devices[i], &p);
    uint32_t nf = 0;
    vk.vkGetPhysicalDeviceQueueFamilyProperties(devices[i], &nf, nullptr);
    std::vector<VkQueueFamilyProperties> fams(nf);
    vk.vkGetPhysicalDeviceQueueFamilyProperties(devices[i], &nf, fams.data());
    uint32_t family = UINT32_MAX;
    for (uint32_t f = 0; f < nf && family == UINT32_MAX; ++f)
      if (fams[f].queueFlags & VK_QUEUE_COMPUTE_BIT) family = f;
    listing += "\n  " + std::to_string(i) + ": " + p.deviceName + " (" + type_name(p.deviceType) +
               ", Vulkan " + version_str(p.apiVersion) + ")";
    if (family != UINT32_MAX && p.apiVersion >= VK_API_VERSION_1_1)
      usable.push_back({devices[i], p, family, i});
  }
  if (usable.empty())
    SOMA_THROW(BackendError,
               kUnavailable << "no Vulkan 1.1 device with a compute queue; devices:" << listing);
  std::stable_sort(usable.begin(), usable.end(), [](const Candidate& a, const Candidate& b) {
    return type_rank(a.props.deviceType) < type_rank(b.props.deviceType);
  });
  const Candidate* chosen = &usable[0];
  if (auto sel = env_value("SOMA_VULKAN_DEVICE")) {
    chosen = nullptr;
    std::string s = *sel;
    bool numeric = std::all_of(s.begin(), s.end(),
                               [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    // A number too large for any index matches nothing (reported below, with the devices).
    const int64_t index = numeric ? parse_int(s, 0, INT32_MAX).value_or(-1) : -1;
    for (const Candidate& c : usable)
      if (numeric ? static_cast<int64_t>(c.index) == index
                  : lower(c.props.deviceName).find(lower(s)) != std::string::npos) {
        chosen = &c;
        break;
      }
    if (!chosen)
      SOMA_THROW(BackendError, kUnavailable
                                   << "SOMA_VULKAN_DEVICE=" << s
                                   << " matches no usable Vulkan device; devices:" << listing);
  }
  physical = chosen->dev;
  props = chosen->props;
  queue_family = chosen->family;
  api_version = std::min(want, props.apiVersion);
  vk.vkGetPhysicalDeviceMemoryProperties(physical, &memory);

  // Features.
  uint32_t next = 0;
  vk.vkEnumerateDeviceExtensionProperties(physical, nullptr, &next, nullptr);
  std::vector<VkExtensionProperties> dev_ext(next);
  vk.vkEnumerateDeviceExtensionProperties(physical, nullptr, &next, dev_ext.data());
  dev_ext.resize(next);
  const bool core12 = api_version >= VK_API_VERSION_1_2;
  const bool ext8 = !core12 && has_extension(dev_ext, "VK_KHR_8bit_storage");
  VkPhysicalDevice8BitStorageFeatures s8{};
  s8.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES;
  VkPhysicalDeviceFeatures2 f2{};
  f2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
  if (core12 || ext8) f2.pNext = &s8;
  vk.vkGetPhysicalDeviceFeatures2(physical, &f2);
  int8_storage = (core12 || ext8) && s8.storageBuffer8BitAccess;
  float64 = f2.features.shaderFloat64;
  if (env_flag("SOMA_VULKAN_NO_INT8", false))
    int8_storage = false;  // exercise the packed-bool path

  VkPhysicalDeviceSubgroupProperties sg{};
  sg.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES;
  const bool ext_fc = !core12 && has_extension(dev_ext, "VK_KHR_shader_float_controls");
  VkPhysicalDeviceFloatControlsProperties fc{};
  fc.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FLOAT_CONTROLS_PROPERTIES;
  if (core12 || ext_fc) sg.pNext = &fc;
  VkPhysicalDeviceDriverProperties driver{};
  driver.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES;
  if (core12) fc.pNext = &driver;
  VkPhysicalDeviceProperties2 p2{};
  p2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2;
  p2.pNext = &sg;
  vk.vkGetPhysicalDeviceProperties2(physical, &p2);
  subgroup_size = sg.subgroupSize;
  const bool llvmpipe = (core12 && driver.driverID == VK_DRIVER_ID_MESA_LLVMPIPE) ||
                        std::string(props.deviceName).find("llvmpipe") != std::string::npos;
  loop_limit = llvmpipe ? 65535 : 0;
  nan_preserve_f32 = (core12 || ext_fc) && fc.shaderSignedZeroInfNanPreserveFloat32;
  nan_preserve_f64 = (core12 || ext_fc) && fc.shaderSignedZeroInfNanPreserveFloat64 && float64;
  denorm_preserve_f32 = (core12 || ext_fc) && fc.shaderDenormPreserveFloat32;
  denorm_preserve_f64 = (core12 || ext_fc) && fc.shaderDenormPreserveFloat64 && float64;
  constexpr VkSubgroupFeatureFlags kNeeded = VK_SUBGROUP_FEATURE_BASIC_BIT |
                                             VK_SUBGROUP_FEATURE_VOTE_BIT |
                                             VK_SUBGROUP_FEATURE_ARITHMETIC_BIT;
  subgroup_arithmetic = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                        (sg.supportedOperations & kNeeded) == kNeeded;

  uint32_t nf = 0;
  vk.vkGetPhysicalDeviceQueueFamilyProperties(physical, &nf, nullptr);
  std::vector<VkQueueFamilyProperties> fams(nf);
  vk.vkGetPhysicalDeviceQueueFamilyProperties(physical, &nf, fams.data());
  timestamps =
      props.limits.timestampComputeAndGraphics && fams[queue_family].timestampValidBits > 0;

  // The device.
  float priority = 1.0f;
  VkDeviceQueueCreateInfo qci{};
  qci.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
  qci.queueFamilyIndex = queue_family;
  qci.queueCount = 1;
  qci.pQueuePriorities = &priority;
  VkPhysicalDevice8BitStorageFeatures en8{};
  en8.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES;
  en8.storageBuffer8BitAccess = int8_storage ? VK_TRUE : VK_FALSE;
  VkPhysicalDeviceFeatures2 en{};
  en.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
  en.features.shaderFloat64 = float64 ? VK_TRUE : VK_FALSE;
  std::vector<const char*> dext;
  if (ext_fc &&
      (nan_preserve_f32 || nan_preserve_f64 || denorm_preserve_f32 || denorm_preserve_f64))
    dext.push_back("VK_KHR_shader_float_controls");
  if (int8_storage) {
    en.pNext = &en8;
    if (ext8) {
      dext.push_back("VK_KHR_8bit_storage");
      if (api_version < VK_API_VERSION_1_1) dext.push_back("VK_KHR_storage_buffer_storage_class");
    }
  }
  VkDeviceCreateInfo dci{};
  dci.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
  dci.pNext = &en;
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  dci.enabledExtensionCount = static_cast<uint32_t>(dext.size());
  dci.ppEnabledExtensionNames = dext.data();
  r = vk.vkCreateDevice(physical, &dci, nullptr, &device);
  if (r != VK_SUCCESS)
    SOMA_THROW(BackendError, kUnavailable << "vkCreateDevice on " << props.deviceName
                                          << " failed: " << result_name(r));
  load_device(device);
  vk.vkGetDeviceQueue(device, queue_family, 0, &queue);
#ifdef __SANITIZE_ADDRESS__
  keep_drivers_loaded();
#endif
  if (debug_level() >= 1)
    std::cerr << "soma: vulkan device: " << describe() << (validation ? " (validation on)" : "")
              << "\n";
}

}  // namespace soma::vulkan
