// The GLSL emitter: one kir::Kernel -> one GLSL 450 compute shader, plus what the runtime needs to
// launch it (its buffer bindings, workgroup size and grid).
//
// Launch modes:
//  - Points: one invocation per parallel point; a 2-D grid of workgroups (x up to
//    maxComputeWorkGroupCount[0], 65535 on lavapipe, then rows of y) with a grid-stride loop for
//    whatever a capped grid leaves over; reductions and loops run sequentially inside a point.
//    The workgroup size is a specialization constant (id 0) that the runtime picks.
//  - Sequential: a scatter kernel; one invocation runs every point in order (on a device with a
//    loop limit, in chunks of points, one dispatch each, in order).
//  - WorkgroupReduce: one workgroup per point; the point's top-level reductions are split over the
//    workgroup and combined in shared memory (or subgroup operations); the rest of the point runs
//    on invocation 0. For few points with long reductions, on GPUs.
//  - TiledMatmul: a contraction computed in output tiles per workgroup (64x64 by default) with
//    k slices staged in shared memory; each invocation keeps a register tile (4x4); the epilogue
//    is fused. The a/b expressions are evaluated once per element while staging.
//
// Every buffer access adds the binding's element offset from the push constants (temporaries sit
// at arena offsets that descriptor offsets cannot always express), so the GLSL does not depend on
// the device's alignment rules. The seeds of random draws are push constants too.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backends/vulkan/spirv.h"
#include "graph/kernel_ir.h"

namespace soma::vulkan {

// The TiledMatmul mode's blocking: bm x bn outputs per workgroup, bk-deep k slices staged in
// shared memory, a tm x tn register tile per invocation ((bm/tm) * (bn/tn) invocations).
struct MatmulTiles {
  int bm = 64, bn = 64, bk = 16, tm = 4, tn = 4;
};

// What the generated GLSL may use (from the device's features; emit_glsl's defaults describe a
// typical GPU).
struct ShaderFeatures {
  bool int8_storage =
      true;             // bool buffers as uint8_t (GL_EXT_shader_8bit_storage); else 4 per uint
  bool float64 = true;  // f64 kernels allowed
  bool subgroup_arithmetic = false;  // subgroupAdd in workgroup reductions
  // SignedZeroInfNanPreserve (SPV_KHR_float_controls): the driver may not assume away NaN and inf
  // (soma's max/min, isnan checks and casts depend on them).
  bool nan_preserve_f32 = true;
  bool nan_preserve_f64 = true;
  // DenormPreserve (SPV_KHR_float_controls): subnormal values are kept, as on the CPU (a device
  // without it may flush them to zero).
  bool denorm_preserve_f32 = true;
  bool denorm_preserve_f64 = true;
  bool workgroup_reduce = true;         // use the WorkgroupReduce mode where it pays
  bool tiled_matmul = true;             // use the TiledMatmul mode where it pays
  bool force_workgroup_reduce = false;  // tests: every eligible kernel in WorkgroupReduce
  bool force_tiled_matmul = false;      // tests: every contraction tiled
  MatmulTiles tiles;
  uint32_t max_shared_bytes = 32768;  // maxComputeSharedMemorySize (k slices shrink to fit)
  // The device's limit on loop iterations per invocation (Context::loop_limit); 0: none.
  uint64_t loop_limit = 0;
  // maxPushConstantsSize / 4 (Vulkan guarantees 128 bytes).
  uint32_t max_push_words = 32;
};

enum class LaunchMode { Points, Sequential, WorkgroupReduce, TiledMatmul };

struct ShaderBinding {
  kir::BufferId buffer = -1;
  bool written = false;
};

struct KernelShader {
  std::string name;
  std::string glsl;
  LaunchMode mode = LaunchMode::Points;
  std::vector<ShaderBinding> bindings;  // binding i, push-constant offset i
  // Points: invocations wanted (one per point); other modes: workgroups wanted.
  uint64_t work = 0;
  uint64_t points = 0;  // the kernel's parallel points
  // The workgroup size fixed in the source (0: the specialization constant decides).
  uint32_t fixed_local_size = 0;
  // Loop iterations (back edges of every loop, helpers' loops included) that one invocation runs
  // per unit of work — a point (Points, Sequential), a point of its workgroup (WorkgroupReduce),
  // a tile (TiledMatmul) — counting the work loop's own; an upper bound (saturating).
  uint64_t loop_cost = 0;
  // The push-constant words after the bindings' offsets that hold the seeds of the kernel's random
  // draws (low, high word per draw, kir::kernel_seeds order), so that kernels differing only in
  // their seeds share a shader; 0 when the kernel has no draws, or when they do not fit (the
  // seeds are then literals in the GLSL).
  uint32_t seed_words = 0;
  // Execution modes to add to the compiled SPIR-V (a mode wanted for two float widths; see
  // spirv.h's add_execution_modes).
  std::vector<ExecutionMode> spirv_modes;
  // Sequential: points per dispatch (the shader reads its first point from the push constant
  // after the seeds); 0: one dispatch runs them all.
  uint64_t chunk = 0;
};

// Throws BackendError for what the device cannot run (f64 without shaderFloat64, more points than
// 2^32, too many buffers).
KernelShader emit_kernel(const kir::Program& program, const kir::Kernel& kernel,
                         const ShaderFeatures& features);

const char* launch_mode_name(LaunchMode m);

// Saturating arithmetic for loop costs (glsl_cost.cpp).
uint64_t sat_add(uint64_t a, uint64_t b);
uint64_t sat_mul(uint64_t a, uint64_t b);

}  // namespace soma::vulkan
