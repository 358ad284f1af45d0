// The Vulkan backend: kernel IR -> GLSL 450 compute shaders -> SPIR-V (glslang, at run time) ->
// compute pipelines on any Vulkan 1.1 device (a GPU of any vendor, or lavapipe on the CPU).
//
// compile() lowers every kernel of CompileRequest::program to a shader (glsl_emit.h), compiles it
// (spirv.h: in-process and on-disk caches), creates its pipeline (pipeline.h: in-process cache and
// a VkPipelineCache on disk), allocates the program's buffers from the sub-allocator (memory.h)
// and records the whole program into one command buffer (sequence.h). run() uploads the feeds,
// submits, waits, and reads back only the outputs.
//
// Parameters live on the device across runs, one copy per (ParamStore, name), shared by every
// executable compiled against the same store (a training step and predict see one set of
// weights). Updates run on the device and stay there: after a run the store's host copies of the
// updated parameters are marked stale, and the host downloads one only when it reads it through
// the store (ParamStore::get: a checkpoint, get_weights, another backend's executable). A copy is
// uploaded when the store's version of its parameter changed since the copy was last in sync (a
// host write, or another backend's update). See param_mirror.h.
//
// The backend can always be created (it is listed even on machines without Vulkan: the loader is
// opened with dlopen); compile() throws BackendError "backend 'vulkan' is unavailable: ..." when
// there is no loader or no device.
//
// Environment: SOMA_VULKAN_DEVICE=index|name selects a device; SOMA_VULKAN_PROFILE=1 times
// every kernel on the device (SOMA_PROFILE=1 too, and adds the times to the kernel profile
// printed at exit); SOMA_VULKAN_VALIDATION=1 enables the Khronos validation layer (=sync adds
// synchronization validation); SOMA_VULKAN_LOADER=path opens that loader library instead of
// libvulkan.so.1; VK_DRIVER_FILES selects Vulkan drivers (the loader's own variable).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace soma {

std::unique_ptr<Backend> make_vulkan_backend();

// The GLSL of every kernel of `program` as the vulkan backend generates it for a typical GPU
// (8-bit storage, f64), annotated with the kernel IR (the tool's `emit glsl`). Needs no device.
std::string emit_glsl(const kir::Program& program);
// The SPIR-V of every kernel, disassembled (the tool's `emit spirv`). Needs no device.
std::string emit_spirv_text(const kir::Program& program);

namespace vulkan {

// The device in use ("llvmpipe (LLVM 15.0.6, 256 bits), CPU, Vulkan 1.3.230"); throws
// BackendError when none is available.
std::string device_description();
bool validation_enabled();
// Validation-layer errors reported so far (0 when validation is off).
int64_t validation_error_count();
std::vector<std::string> validation_errors();

// Device times of each kernel of the last run, for executables compiled with
// SOMA_VULKAN_PROFILE=1, SOMA_PROFILE=1 or SOMA_DEBUG >= 1 (timestamp queries; SOMA_DEBUG >= 2
// also prints them; SOMA_PROFILE=1 adds them to the process's kernel profile, kernel_profile.h).
struct KernelTime {
  std::string kernel;
  double ms = 0;
};
std::vector<KernelTime> last_profile();

// Parameter copies between the host and the device since the process started: uploads of host
// values to device copies, and downloads of device copies into stale host copies.
struct ParamTransfers {
  int64_t uploads = 0, downloads = 0;
  int64_t upload_bytes = 0, download_bytes = 0;
};
ParamTransfers param_transfers();

}  // namespace vulkan

}  // namespace soma
