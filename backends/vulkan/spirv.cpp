// glslang compilation and the SPIR-V caches (see spirv.h).
#include "backends/vulkan/spirv.h"

#include <glslang/Public/ResourceLimits.h>
#include <glslang/Public/ShaderLang.h>
#include <glslang/SPIRV/GlslangToSpv.h>
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

namespace soma::vulkan {

namespace {

// Bump when the compile settings change, so old disk entries are never reused.
constexpr const char* kCacheVersion = "soma-spirv-v1 glslang-12 spv1.3";

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
  const char* dir = std::getenv("SOMA_DUMP_DIR");
  if (!dir || !*dir) return;
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

uint64_t fnv1a(const std::string& s, uint64_t h) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

bool read_file(const std::string& path, Spirv& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (bytes.size() < 20 || bytes.size() % 4) return false;
  out.resize(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out[0] == 0x07230203u;  // the SPIR-V magic number
}

void write_file_atomically(const std::string& dir, const std::string& name, const void* data,
                           size_t bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return;
  std::string tmp = dir + "/." + name + "." + std::to_string(getpid()) + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) return;
    f.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
    if (!f) return;
  }
  std::filesystem::rename(tmp, dir + "/" + name, ec);
  if (ec) std::filesystem::remove(tmp, ec);
}

}  // namespace

std::string digest(const std::string& text) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx%016llx",
                static_cast<unsigned long long>(fnv1a(text, 14695981039346656037ull)),
                static_cast<unsigned long long>(fnv1a(text, 0x9e3779b97f4a7c15ull)));
  return buf;
}

std::string vulkan_cache_dir() {
  if (const char* off = std::getenv("SOMA_DISK_CACHE"); off && std::string(off) == "0") return "";
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x == '/')
    return std::string(x) + "/soma/vulkan";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/soma/vulkan";
  return "";
}

std::shared_ptr<const Spirv> compile_glsl(const std::string& glsl, const std::string& name) {
  const std::string key = digest(std::string(kCacheVersion) + "\n" + glsl);
  std::lock_guard<std::mutex> lock(mu());  // glslang 12 is not safe to run concurrently
  auto& cache = memory_cache();
  if (auto it = cache.find(key); it != cache.end()) {
    ++stats().memory_hits;
    return it->second;
  }
  const std::string dir = vulkan_cache_dir();
  auto spirv = std::make_shared<Spirv>();
  if (!dir.empty() && read_file(dir + "/" + key + ".spv", *spirv)) {
    ++stats().disk_hits;
  } else {
    *spirv = run_glslang(glsl, name);
    if (!dir.empty())
      write_file_atomically(dir, key + ".spv", spirv->data(), spirv->size() * sizeof(uint32_t));
  }
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
