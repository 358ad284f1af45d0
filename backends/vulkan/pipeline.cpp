// Compute pipelines and the pipeline caches (see pipeline.h).
#include "backends/vulkan/pipeline.h"

#include <cstdio>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "graph/error.h"
#include "runtime/disk_cache.h"
#include "runtime/sha256.h"

namespace soma::vulkan {

namespace {

struct State {
  std::mutex mu;
  // The in-memory cache: key -> pipeline and its place in `lru` (front: most recently used).
  std::map<std::string,
           std::pair<std::shared_ptr<const Pipeline>, std::list<std::string>::iterator>>
      pipelines;
  std::list<std::string> lru;
  size_t limit = 512;
  std::set<Pipeline*> alive;         // every pipeline that exists, cached or not
  VkDevice device = VK_NULL_HANDLE;  // the device they were made on; null after shutdown
  VkPipelineCache cache = VK_NULL_HANDLE;
  bool dirty = false;
  std::string cache_dir;  // empty: no disk cache
  CacheKey cache_key;     // the device's pipeline cache entry
  PipelineStats stats;
};

State& state() {
  static State* s = new State();  // pipelines live as long as the context
  return *s;
}

// The pipeline cache's key: the device and driver it was made by (the driver also checks its own
// header, but a damaged or foreign blob must never reach it).
CacheKey pipeline_cache_key(const Context& ctx) {
  char id[128];
  std::snprintf(id, sizeof id, "vendor %08x device %08x driver %08x uuid ", ctx.props.vendorID,
                ctx.props.deviceID, ctx.props.driverVersion);
  std::string key = id;
  for (uint8_t b : ctx.props.pipelineCacheUUID) {
    char h[3];
    std::snprintf(h, sizeof h, "%02x", b);
    key += h;
  }
  return CacheKey{"vk-pipeline-cache", "soma-pipelines-v1", key + " " + ctx.name()};
}

void init_cache(State& s, Context& ctx) {
  if (s.cache) return;
  std::string data;
  s.cache_dir = vulkan_cache_dir();
  s.cache_key = pipeline_cache_key(ctx);
  CacheLookup hit = read_cache_entry(s.cache_dir, s.cache_key);
  if (hit.status == CacheLookup::Status::Hit) data = std::move(hit.payload);
  VkPipelineCacheCreateInfo info{};
  info.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO;
  info.initialDataSize = data.size();
  info.pInitialData = data.empty() ? nullptr : data.data();
  if (vk.vkCreatePipelineCache(ctx.device, &info, nullptr, &s.cache) != VK_SUCCESS) {
    info.initialDataSize = 0;
    info.pInitialData = nullptr;
    Context::check(vk.vkCreatePipelineCache(ctx.device, &info, nullptr, &s.cache),
                   "vkCreatePipelineCache");
  }
}

}  // namespace

Pipeline::~Pipeline() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.alive.erase(this);
  if (s.device == VK_NULL_HANDLE) return;  // shutdown destroyed the objects already
  if (pipeline) vk.vkDestroyPipeline(s.device, pipeline, nullptr);
  if (layout) vk.vkDestroyPipelineLayout(s.device, layout, nullptr);
  if (set_layout) vk.vkDestroyDescriptorSetLayout(s.device, set_layout, nullptr);
}

void set_pipeline_cache_limit(size_t n) {
  State& s = state();
  std::vector<std::shared_ptr<const Pipeline>> evicted;  // released after the lock
  std::lock_guard<std::mutex> lock(s.mu);
  s.limit = std::max<size_t>(n, 1);
  while (s.pipelines.size() > s.limit) {
    auto it = s.pipelines.find(s.lru.back());
    evicted.push_back(std::move(it->second.first));
    s.pipelines.erase(it);
    s.lru.pop_back();
  }
}

std::shared_ptr<const Pipeline> get_pipeline(const Spirv& spirv, uint32_t bindings,
                                             uint32_t push_words, uint32_t local_size,
                                             const std::string& name) {
  Context& ctx = Context::get();
  State& s = state();
  std::string key(reinterpret_cast<const char*>(spirv.data()), spirv.size() * sizeof(uint32_t));
  key = sha256_hex(key) + "/" + std::to_string(bindings) + "/" + std::to_string(push_words) + "/" +
        std::to_string(local_size);
  // Declared before the lock: a pipeline evicted here is destroyed after it is released (its
  // destructor takes the lock).
  std::vector<std::shared_ptr<const Pipeline>> evicted;
  std::shared_ptr<Pipeline> p;
  std::lock_guard<std::mutex> lock(s.mu);
  if (auto it = s.pipelines.find(key); it != s.pipelines.end()) {
    ++s.stats.hits;
    s.lru.splice(s.lru.begin(), s.lru, it->second.second);
    return it->second.first;
  }
  init_cache(s, ctx);
  s.device = ctx.device;
  p = std::make_shared<Pipeline>();
  s.alive.insert(p.get());
  p->bindings = bindings;
  VkDevice dev = ctx.device;

  std::vector<VkDescriptorSetLayoutBinding> b(bindings);
  for (uint32_t i = 0; i < bindings; ++i) {
    b[i] = {};
    b[i].binding = i;
    b[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    b[i].descriptorCount = 1;
    b[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
  }
  VkDescriptorSetLayoutCreateInfo dl{};
  dl.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO;
  dl.bindingCount = bindings;
  dl.pBindings = b.data();
  Context::check(vk.vkCreateDescriptorSetLayout(dev, &dl, nullptr, &p->set_layout),
                 "vkCreateDescriptorSetLayout");
  VkPushConstantRange pc{};
  pc.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
  pc.size = push_words * 4;
  VkPipelineLayoutCreateInfo pl{};
  pl.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO;
  pl.setLayoutCount = 1;
  pl.pSetLayouts = &p->set_layout;
  pl.pushConstantRangeCount = push_words ? 1 : 0;
  pl.pPushConstantRanges = &pc;
  Context::check(vk.vkCreatePipelineLayout(dev, &pl, nullptr, &p->layout),
                 "vkCreatePipelineLayout");

  VkShaderModuleCreateInfo sm{};
  sm.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO;
  sm.codeSize = spirv.size() * sizeof(uint32_t);
  sm.pCode = spirv.data();
  VkShaderModule module = VK_NULL_HANDLE;
  Context::check(vk.vkCreateShaderModule(dev, &sm, nullptr, &module), "vkCreateShaderModule");

  VkSpecializationMapEntry entry{0, 0, sizeof(uint32_t)};
  VkSpecializationInfo spec{};
  spec.mapEntryCount = 1;
  spec.pMapEntries = &entry;
  spec.dataSize = sizeof(uint32_t);
  spec.pData = &local_size;
  VkComputePipelineCreateInfo ci{};
  ci.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO;
  ci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
  ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  ci.stage.module = module;
  ci.stage.pName = "main";
  ci.stage.pSpecializationInfo = &spec;
  ci.layout = p->layout;
  VkResult r = vk.vkCreateComputePipelines(dev, s.cache, 1, &ci, nullptr, &p->pipeline);
  vk.vkDestroyShaderModule(dev, module, nullptr);
  if (r != VK_SUCCESS)
    SOMA_THROW(BackendError,
               "vulkan: creating the pipeline of kernel " << name << " failed: " << result_name(r));
  ++s.stats.created;
  s.dirty = true;
  s.lru.push_front(key);
  s.pipelines[key] = {p, s.lru.begin()};
  while (s.pipelines.size() > s.limit) {
    auto it = s.pipelines.find(s.lru.back());
    evicted.push_back(std::move(it->second.first));
    s.pipelines.erase(it);
    s.lru.pop_back();
  }
  return p;
}

void save_pipeline_cache() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.dirty || !s.cache || s.cache_dir.empty()) return;
  VkDevice dev = Context::get().device;
  size_t size = 0;
  if (vk.vkGetPipelineCacheData(dev, s.cache, &size, nullptr) != VK_SUCCESS || size == 0) return;
  std::string data(size, '\0');
  if (vk.vkGetPipelineCacheData(dev, s.cache, &size, data.data()) != VK_SUCCESS) return;
  data.resize(size);
  write_cache_entry(s.cache_dir, s.cache_key, data);  // best effort
  s.dirty = false;
}

void shutdown_pipelines() {
  save_pipeline_cache();
  State& s = state();
  decltype(s.pipelines) cached;  // released after the lock
  std::lock_guard<std::mutex> lock(s.mu);
  VkDevice dev = Context::get().device;
  // Every pipeline that still exists (cached, or held by an executable that outlives the
  // device) loses its objects now; its destructor then has nothing left to do.
  for (Pipeline* p : s.alive) {
    vk.vkDestroyPipeline(dev, p->pipeline, nullptr);
    vk.vkDestroyPipelineLayout(dev, p->layout, nullptr);
    vk.vkDestroyDescriptorSetLayout(dev, p->set_layout, nullptr);
    p->pipeline = VK_NULL_HANDLE;
    p->layout = VK_NULL_HANDLE;
    p->set_layout = VK_NULL_HANDLE;
  }
  s.device = VK_NULL_HANDLE;
  cached.swap(s.pipelines);
  s.lru.clear();
  if (s.cache) vk.vkDestroyPipelineCache(dev, s.cache, nullptr);
  s.cache = VK_NULL_HANDLE;
}

PipelineStats pipeline_stats() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  PipelineStats st = s.stats;
  st.cached = static_cast<int64_t>(s.pipelines.size());
  st.alive = static_cast<int64_t>(s.alive.size());
  return st;
}

}  // namespace soma::vulkan
