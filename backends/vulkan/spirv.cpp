// glslang compilation and the SPIR-V caches (see spirv.h).
#include "backends/vulkan/spirv.h"

#include <glslang/Public/ResourceLimits.h>
#include <glslang/Public/ShaderLang.h>
#include <glslang/SPIRV/GlslangToSpv.h>
#include <glslang/build_info.h>
#include <unistd.h>
#include <spirv-tools/libspirv.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "graph/error.h"
#include "runtime/disk_cache.h"
#include "runtime/env.h"
#include "runtime/sha256.h"

namespace soma::vulkan {

namespace {

// The producer of disk cache entries: the glslang that compiles and its settings (bump v2 when
// run_glslang's settings change). The key is the GLSL itself, so an emitter change needs nothing.
#define SOMA_STR2(x) #x
#define SOMA_STR(x) SOMA_STR2(x)
constexpr const char* kCacheVersion =
    "soma-spirv-v2 glslang-" SOMA_STR(GLSLANG_VERSION_MAJOR) "." SOMA_STR(
        GLSLANG_VERSION_MINOR) "." SOMA_STR(GLSLANG_VERSION_PATCH) " spv1.3 vulkan1.1";
#undef SOMA_STR
#undef SOMA_STR2
// Shaders the in-process cache holds at most.
constexpr size_t kMemoryCacheShaders = 4096;

std::mutex& mu() {
  static std::mutex m;
  return m;
}
std::map<std::string, std::shared_ptr<const Spirv>>& memory_cache() {
  static std::map<std::string, std::shared_ptr<const Spirv>> c;
  return c;
}
SpirvStats& stats() {
  static SpirvStats s;
  return s;
}

void dump(const std::string& name, const std::string& glsl, const std::string& log) {
  const std::string dir = env_value("SOMA_DUMP_DIR").value_or("");
  if (dir.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::string base = std::string(dir) + "/vulkan_" + name;
  std::ofstream(base + ".comp") << glsl;
  std::ofstream(base + ".log") << log;
}

std::string numbered(const std::string& text) {
  std::istringstream in(text);
  std::ostringstream out;
  std::string l;
  for (int n = 1; std::getline(in, l); ++n) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%4d  ", n);
    out << buf << l << "\n";
  }
  return out.str();
}

Spirv run_glslang(const std::string& glsl, const std::string& name) {
  static bool initialized = [] { return glslang::InitializeProcess(); }();
  (void)initialized;
  glslang::TShader shader(EShLangCompute);
  const char* src = glsl.c_str();
  shader.setStrings(&src, 1);
  shader.setEnvInput(glslang::EShSourceGlsl, EShLangCompute, glslang::EShClientVulkan, 100);
  shader.setEnvClient(glslang::EShClientVulkan, glslang::EShTargetVulkan_1_1);
  shader.setEnvTarget(glslang::EShTargetSpv, glslang::EShTargetSpv_1_3);
  const auto messages = static_cast<EShMessages>(EShMsgSpvRules | EShMsgVulkanRules);
  bool ok = shader.parse(GetDefaultResources(), 450, false, messages);
  std::string log = std::string(shader.getInfoLog()) + shader.getInfoDebugLog();
  glslang::TProgram program;
  if (ok) {
    program.addShader(&shader);
    ok = program.link(messages);
    log += std::string(program.getInfoLog()) + program.getInfoDebugLog();
  }
  if (!ok) {
    dump(name, glsl, log);
    SOMA_THROW(BackendError, "vulkan: the GLSL of kernel " << name
                                                           << " does not compile (a bug "
                                                              "in soma's GLSL emitter):\n"
                                                           << log << "\n"
                                                           << numbered(glsl));
  }
  Spirv spirv;
  glslang::SpvOptions options;
  options.disableOptimizer = true;  // the driver optimizes; keeps compiles fast
  glslang::GlslangToSpv(*program.getIntermediate(EShLangCompute), spirv, &options);
  ++stats().compiles;
  return spirv;
}

// The disk cache's entry of a shader: its full GLSL is the key.
CacheKey spirv_key(const std::string& glsl) {
  return CacheKey{"spirv", kCacheVersion, glsl};
}

}  // namespace

std::shared_ptr<const Spirv> add_execution_modes(std::shared_ptr<const Spirv> spirv,
                                                 const std::vector<ExecutionMode>& modes) {
  if (modes.empty()) return spirv;
  constexpr uint32_t kOpEntryPoint = 15, kOpExecutionMode = 16, kOpExecutionModeId = 331;
  const Spirv& in = *spirv;
  uint32_t entry = 0;
  size_t insert_at = 0;
  for (size_t i = 5; i < in.size();) {  // after the header; each instruction: count << 16 | op
    const uint32_t op = in[i] & 0xffffu, count = in[i] >> 16;
    if (count == 0 || i + count > in.size()) break;
    if (op == kOpEntryPoint && count > 2) entry = in[i + 2];
    if (op == kOpEntryPoint || op == kOpExecutionMode || op == kOpExecutionModeId)
      insert_at = i + count;
    i += count;
  }
  SOMA_CHECK(entry != 0 && insert_at != 0) << "vulkan: a shader without an entry point";
  Spirv out(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(insert_at));
  for (const ExecutionMode& m : modes)
    out.insert(out.end(), {4u << 16 | kOpExecutionMode, entry, m.mode, m.operand});
  out.insert(out.end(), in.begin() + static_cast<std::ptrdiff_t>(insert_at), in.end());
  return std::make_shared<const Spirv>(std::move(out));
}

bool valid_spirv(const Spirv& spirv, std::string* why) {
  spvtools::SpirvTools tools(SPV_ENV_VULKAN_1_1);
  std::string message;
  tools.SetMessageConsumer([&](spv_message_level_t, const char*, const spv_position_t&,
                               const char* m) { message += std::string(m) + "\n"; });
  const bool ok = tools.Validate(spirv);
  if (why) *why = message;
  return ok;
}

std::string vulkan_cache_dir() {
  return cache_dir("vulkan");
}

std::shared_ptr<const Spirv> compile_glsl(const std::string& glsl, const std::string& name) {
  const std::string key = sha256_hex(std::string(kCacheVersion) + "\n" + glsl);
  std::lock_guard<std::mutex> lock(mu());  // glslang 12 is not safe to run concurrently
  auto& cache = memory_cache();
  if (auto it = cache.find(key); it != cache.end()) {
    ++stats().memory_hits;
    return it->second;
  }
  const std::string dir = vulkan_cache_dir();
  auto spirv = std::make_shared<Spirv>();
  const CacheKey disk_key = spirv_key(glsl);
  CacheLookup hit = read_cache_entry(dir, disk_key);
  if (hit.status == CacheLookup::Status::Hit && hit.payload.size() >= 20 &&
      hit.payload.size() % 4 == 0) {
    spirv->resize(hit.payload.size() / 4);
    std::memcpy(spirv->data(), hit.payload.data(), hit.payload.size());
  }
  if (!spirv->empty() && (*spirv)[0] == 0x07230203u) {  // the SPIR-V magic number
    ++stats().disk_hits;
  } else {
    *spirv = run_glslang(glsl, name);
    write_cache_entry(dir, disk_key,
                      std::string_view(reinterpret_cast<const char*>(spirv->data()),
                                       spirv->size() * sizeof(uint32_t)));
  }
  // A bound on the in-process cache: a program that keeps generating new shaders (a new random
  // seed every step) must not grow without end; the disk cache still has them.
  if (cache.size() >= kMemoryCacheShaders) cache.clear();
  cache[key] = spirv;
  return spirv;
}

std::string disassemble(const Spirv& spirv) {
  spvtools::SpirvTools tools(SPV_ENV_VULKAN_1_1);
  std::string text;
  if (!tools.Disassemble(
          spirv, &text,
          SPV_BINARY_TO_TEXT_OPTION_FRIENDLY_NAMES | SPV_BINARY_TO_TEXT_OPTION_INDENT))
    return "; (SPIRV-Tools could not disassemble this module: " + std::to_string(spirv.size()) +
           " words)\n";
  return text;
}

SpirvStats spirv_stats() {
  std::lock_guard<std::mutex> lock(mu());
  return stats();
}

void clear_spirv_memory_cache() {
  std::lock_guard<std::mutex> lock(mu());
  memory_cache().clear();
}

}  // namespace soma::vulkan
