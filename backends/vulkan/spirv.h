// GLSL -> SPIR-V with glslang's C++ API, with an in-process cache keyed by a hash of the source and
// an on-disk cache (runtime/disk_cache.h: checked entries keyed by the full GLSL, in
// cache_dir("vulkan"); SOMA_DISK_CACHE=0 turns it off). No Vulkan device is needed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace soma::vulkan {

using Spirv = std::vector<uint32_t>;

// The SPIR-V (1.3, for Vulkan 1.1) of a compute shader. Throws BackendError with the GLSL and
// glslang's log when it does not compile; with SOMA_DUMP_DIR set, the GLSL and the log are also
// written there (vulkan_<name>.comp, vulkan_<name>.log).
std::shared_ptr<const Spirv> compile_glsl(const std::string& glsl, const std::string& name);

// SPIR-V as text (SPIRV-Tools' disassembler).
std::string disassemble(const Spirv& spirv);

// An OpExecutionMode of the entry point with one literal operand (a float width).
struct ExecutionMode {
  uint32_t mode = 0;
  uint32_t operand = 0;
};
// `spirv` with `modes` added after its execution modes (GLSL's spirv_execution_mode keeps one
// instance of a mode, so a mode wanted for 32- and 64-bit floats is declared once in the GLSL,
// which brings its capability and extension, and added again here for the other width).
std::shared_ptr<const Spirv> add_execution_modes(std::shared_ptr<const Spirv> spirv,
                                                 const std::vector<ExecutionMode>& modes);
// Whether SPIRV-Tools' validator accepts `spirv` for Vulkan 1.1; `why` gets its message.
bool valid_spirv(const Spirv& spirv, std::string* why = nullptr);

// The folder of the on-disk caches; empty when disabled.
std::string vulkan_cache_dir();

struct SpirvStats {
  int64_t compiles = 0;     // glslang runs
  int64_t memory_hits = 0;  // found in the in-process cache
  int64_t disk_hits = 0;    // found on disk
};
SpirvStats spirv_stats();
// Forgets the in-process cache (tests: the next lookup goes to disk).
void clear_spirv_memory_cache();

}  // namespace soma::vulkan
