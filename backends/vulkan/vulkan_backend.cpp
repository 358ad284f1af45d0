// The vulkan Backend: compiles every kernel of a program to a pipeline and hands them to an
// executable (executable.h); also the tool's `emit glsl` / `emit spirv` and the device queries of
// vulkan_backend.h.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "backends/vulkan/context.h"
#include "backends/vulkan/executable.h"
#include "backends/vulkan/glsl_emit.h"
#include "backends/vulkan/memory.h"
#include "backends/vulkan/pipeline.h"
#include "backends/vulkan/spirv.h"
#include "backends/vulkan/vulkan_backend.h"
#include "graph/error.h"
#include "graph/kernel_verify.h"
#include "runtime/env.h"

namespace soma {

namespace {

std::string comment_lines(const std::string& text) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out += "// " + text.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return out;
}

std::string glsl_text(const kir::Program& program, const vulkan::ShaderFeatures& f) {
  kir::verify(program);
  std::string out;
  for (const kir::Kernel& k : program.kernels) {
    vulkan::KernelShader s = vulkan::emit_kernel(program, k, f);
    out += "// ---- kernel " + k.name + " (" + vulkan::launch_mode_name(s.mode) + ") ----\n";
    out += comment_lines(kir::print_kernel(program, k));
    out += "// bindings:";
    for (size_t i = 0; i < s.bindings.size(); ++i) {
      out += ' ';
      out += std::to_string(i);
      out += '=';
      out += program.buffers[static_cast<size_t>(s.bindings[i].buffer)].name;
    }
    out += '\n';
    out += s.glsl;
    out += '\n';
  }
  return out;
}

std::string spirv_text(const kir::Program& program, const vulkan::ShaderFeatures& f) {
  kir::verify(program);
  std::string out;
  for (const kir::Kernel& k : program.kernels) {
    vulkan::KernelShader s = vulkan::emit_kernel(program, k, f);
    auto spirv = vulkan::add_execution_modes(vulkan::compile_glsl(s.glsl, k.name), s.spirv_modes);
    out += "; ---- kernel " + k.name + " (" + vulkan::launch_mode_name(s.mode) + ", " +
           std::to_string(spirv->size()) + " words) ----\n";
    out += vulkan::disassemble(*spirv) + "\n";
  }
  return out;
}

}  // namespace

namespace vulkan {
namespace {

ShaderFeatures shader_features(const Context& ctx) {
  ShaderFeatures f;
  f.int8_storage = ctx.int8_storage;
  f.float64 = ctx.float64;
  f.subgroup_arithmetic = ctx.subgroup_arithmetic;
  f.nan_preserve_f32 = ctx.nan_preserve_f32;
  f.nan_preserve_f64 = ctx.nan_preserve_f64;
  f.denorm_preserve_f32 = ctx.denorm_preserve_f32;
  f.denorm_preserve_f64 = ctx.denorm_preserve_f64;
  // On a CPU device a workgroup runs on one thread: splitting a point's reduction over a
  // workgroup only adds barriers.
  f.workgroup_reduce = !ctx.is_cpu();
  f.tiled_matmul = true;
  f.max_shared_bytes = ctx.props.limits.maxComputeSharedMemorySize;
  f.loop_limit = ctx.loop_limit;
  f.max_push_words = ctx.props.limits.maxPushConstantsSize / 4;
  // A CPU device (lavapipe) runs a workgroup's invocations in SIMD lanes of one thread: bigger
  // register tiles and fewer, larger workgroups pay there (measured on lavapipe: 7.8 against 3.4
  // GFLOP/s for a 1024^2 sgemm).
  if (ctx.is_cpu()) f.tiles = MatmulTiles{128, 64, 32, 16, 8};
  for (const std::string& w : env_words(
           "SOMA_VULKAN_FORCE", {"workgroup_reduce", "tiled_matmul", "no_tiled", "no_subgroups"})) {
    if (w == "workgroup_reduce") f.force_workgroup_reduce = true;
    if (w == "tiled_matmul") f.force_tiled_matmul = true;
    if (w == "no_tiled") f.tiled_matmul = false;
    if (w == "no_subgroups") f.subgroup_arithmetic = false;
  }
  // Tuning: bm,bn,bk,tm,tn (register tiles must divide the block; at most 1024 invocations).
  if (std::vector<int64_t> t = env_ints("SOMA_VULKAN_TILES", 5, 1, 1024); !t.empty()) {
    MatmulTiles m{static_cast<int>(t[0]), static_cast<int>(t[1]), static_cast<int>(t[2]),
                  static_cast<int>(t[3]), static_cast<int>(t[4])};
    if (m.bm % m.tm != 0 || m.bn % m.tn != 0 || (m.bm / m.tm) * (m.bn / m.tn) > 1024)
      SOMA_THROW(ValueError,
                 "environment variable SOMA_VULKAN_TILES: tm must divide bm and tn "
                 "bn, with (bm/tm)*(bn/tn) <= 1024 invocations");
    f.tiles = m;
  }
  return f;
}

// On a device with a loop limit, the graph passes keep every reduction and contraction this
// short, so that a kernel with several of them (and a grid-stride loop) stays far below it.
constexpr int64_t kSerialExtentUnderLoopLimit = 2048;

// Refuses a kernel that would run more loop iterations in one invocation than the device allows
// (its loops would end early and the result would be wrong, with no error from the driver).
void check_loop_limit(const Context& ctx, const kir::Program& p, const kir::Kernel& k,
                      const CompiledKernel& ck) {
  if (!ctx.loop_limit) return;
  uint64_t units = 1;  // units of work (points, tiles) one invocation runs
  switch (ck.shader.mode) {
    case LaunchMode::Points: {
      const uint64_t invocations = uint64_t{ck.groups} * ck.groups_y * ck.local_size;
      units = invocations ? (ck.shader.work + invocations - 1) / invocations : 1;
      break;
    }
    case LaunchMode::Sequential:
      units = ck.shader.chunk ? ck.shader.chunk : ck.shader.points;
      break;
    case LaunchMode::WorkgroupReduce:
    case LaunchMode::TiledMatmul:
      units = ck.groups ? (ck.shader.work + ck.groups - 1) / ck.groups : 1;
      break;
  }
  const uint64_t total = sat_mul(units, ck.shader.loop_cost);
  if (total > ctx.loop_limit)
    SOMA_THROW(BackendError, "vulkan: kernel " << k.name << " would run up to " << total
                                               << " loop iterations in one shader invocation, "
                                                  "but "
                                               << ctx.name() << " ends a shader's loops after "
                                               << ctx.loop_limit
                                               << " (its loop limiter), which would give a wrong "
                                                  "result; run this model on the llvm backend or "
                                                  "a GPU\n"
                                               << kir::print_kernel(p, k));
}

class VulkanBackend : public Backend {
 public:
  std::string name() const override { return "vulkan"; }

  int64_t max_serial_extent() const override {
    return Context::get().loop_limit ? kSerialExtentUnderLoopLimit : 0;
  }

  std::vector<CodeStage> code_stages() const override {
    return {{"glsl", "the GLSL compute shaders of the vulkan backend"},
            {"spirv", "the SPIR-V of the vulkan backend (disassembled)"}};
  }

  // The shaders for this machine's device; without one, for a typical GPU (said in a comment).
  std::string emit_code(const std::string& stage, const kir::Program& p,
                        const CompileOptions& options) override {
    if (stage != "glsl" && stage != "spirv") return Backend::emit_code(stage, p, options);
    ShaderFeatures f;
    std::string note;
    try {
      f = shader_features(Context::get());
    } catch (const BackendError& e) {
      note = std::string(stage == "glsl" ? "//" : ";") +
             " no Vulkan device here: the shaders a typical GPU would get\n";
    }
    return note + (stage == "glsl" ? glsl_text(p, f) : spirv_text(p, f));
  }

  std::unique_ptr<Executable> compile(const CompileRequest& req,
                                      std::shared_ptr<ParamStore> params) override {
    if (!req.program)
      SOMA_THROW(BackendError,
                 "the vulkan backend compiles lowered kernel programs, but this request "
                 "carries none (CompileRequest::program is null); run the lowering "
                 "passes first or use the interp backend");
    Context& ctx = Context::get();
    const auto t0 = std::chrono::steady_clock::now();
    const kir::Program& p = *req.program;
    const ShaderFeatures features = shader_features(ctx);
    const VkPhysicalDeviceLimits& lim = ctx.props.limits;
    // Points kernels: the workgroup size, and a cap on the workgroups of their 2-D grid (the
    // shader's grid-stride loop covers the rest). SOMA_VULKAN_LOCAL_SIZE and
    // SOMA_VULKAN_MAX_GROUPS override them (tuning).
    const uint32_t local = std::min(
        static_cast<uint32_t>(env_int("SOMA_VULKAN_LOCAL_SIZE", ctx.is_cpu() ? 64 : 256, 1, 1024)),
        lim.maxComputeWorkGroupInvocations);
    const uint64_t max_groups =
        static_cast<uint64_t>(env_int("SOMA_VULKAN_MAX_GROUPS", 1 << 22, 1, int64_t{1} << 31));
    kir::verify(p);
    const auto before = spirv_stats();
    std::vector<CompiledKernel> kernels;
    kernels.reserve(p.kernels.size());
    const std::optional<std::string> dump_dir = env_value("SOMA_DUMP_DIR");
    for (const kir::Kernel& k : p.kernels) {
      CompiledKernel ck;
      ck.shader = emit_kernel(p, k, features);
      const size_t nbind = ck.shader.bindings.size();
      const size_t npush = nbind + ck.shader.seed_words + (ck.shader.chunk ? 1 : 0);
      if (nbind > lim.maxPerStageDescriptorStorageBuffers || npush * 4 > lim.maxPushConstantsSize)
        SOMA_THROW(BackendError, "vulkan: kernel "
                                     << k.name << " uses " << nbind
                                     << " buffers; the device allows "
                                     << std::min<uint32_t>(lim.maxPerStageDescriptorStorageBuffers,
                                                           lim.maxPushConstantsSize / 4));
      for (const ShaderBinding& b : ck.shader.bindings) {
        const kir::Buffer& buf = p.buffers[static_cast<size_t>(b.buffer)];
        if (static_cast<uint64_t>(buf.bytes()) > lim.maxStorageBufferRange)
          SOMA_THROW(BackendError,
                     "vulkan: buffer '"
                         << buf.name << "' (" << dtype_name(buf.dtype) << buf.shape.str() << ", "
                         << format_bytes(buf.bytes()) << ") of kernel " << k.name
                         << " is larger than the device's largest storage buffer "
                            "binding ("
                         << format_bytes(lim.maxStorageBufferRange) << " on " << ctx.name()
                         << "); use smaller tensors or another backend");
      }
      if (debug_level() >= 4)
        std::cerr << "soma: vulkan kernel " << k.name << " (" << launch_mode_name(ck.shader.mode)
                  << "):\n"
                  << ck.shader.glsl;
      if (dump_dir) {
        std::error_code ec;
        std::filesystem::create_directories(*dump_dir, ec);
        std::ofstream(*dump_dir + "/vulkan_" + k.name + ".comp") << ck.shader.glsl;
      }
      auto spirv = add_execution_modes(compile_glsl(ck.shader.glsl, k.name), ck.shader.spirv_modes);
      ck.local_size = ck.shader.fixed_local_size;
      if (!ck.local_size) {
        // Per kernel: the device's size, smaller for kernels with few points (down to a
        // subgroup), so tiny kernels do not launch mostly idle invocations.
        uint32_t floor = std::max<uint32_t>(ctx.subgroup_size, 8);
        ck.local_size = floor;
        while (ck.local_size < local && ck.local_size < ck.shader.work) ck.local_size *= 2;
        ck.local_size = std::min(ck.local_size, local);
      }
      ck.pipeline = get_pipeline(*spirv, static_cast<uint32_t>(nbind), static_cast<uint32_t>(npush),
                                 ck.local_size, k.name);
      if (ck.shader.mode == LaunchMode::Points) {
        // A 2-D grid: up to maxComputeWorkGroupCount[0] workgroups per row.
        uint64_t groups =
            std::min<uint64_t>((ck.shader.work + ck.local_size - 1) / ck.local_size, max_groups);
        ck.groups =
            static_cast<uint32_t>(std::min<uint64_t>(groups, lim.maxComputeWorkGroupCount[0]));
        if (ck.groups)
          ck.groups_y = static_cast<uint32_t>(std::min<uint64_t>(
              (groups + ck.groups - 1) / ck.groups, lim.maxComputeWorkGroupCount[1]));
      } else {
        ck.groups = static_cast<uint32_t>(
            std::min<uint64_t>(ck.shader.work, lim.maxComputeWorkGroupCount[0]));
      }
      check_loop_limit(ctx, p, k, ck);
      kernels.push_back(std::move(ck));
    }
    save_pipeline_cache();
    auto exe = make_executable(p, std::move(kernels), std::move(params));
    if (debug_level() >= 1) {
      auto after = spirv_stats();
      double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      std::cerr << "soma: vulkan: compiled " << p.kernels.size() << " kernels in " << ms
                << " ms (glslang " << after.compiles - before.compiles << ", disk cache "
                << after.disk_hits - before.disk_hits << ", memory cache "
                << after.memory_hits - before.memory_hits << ") on " << ctx.describe() << "\n";
    }
    return exe;
  }
};

}  // namespace
}  // namespace vulkan

std::unique_ptr<Backend> make_vulkan_backend() {
  return std::make_unique<vulkan::VulkanBackend>();
}

std::string emit_glsl(const kir::Program& program) {
  return glsl_text(program, vulkan::ShaderFeatures{});
}

std::string emit_spirv_text(const kir::Program& program) {
  return spirv_text(program, vulkan::ShaderFeatures{});
}

namespace vulkan {

std::string device_description() {
  return Context::get().describe();
}

bool validation_enabled() {
  try {
    return Context::get().validation;
  } catch (const BackendError&) {
    return false;
  }
}

int64_t validation_error_count() {
  try {
    return Context::get().validation_errors.load();
  } catch (const BackendError&) {
    return 0;
  }
}

std::vector<std::string> validation_errors() {
  try {
    return Context::get().validation_messages();
  } catch (const BackendError&) {
    return {};
  }
}

}  // namespace vulkan

}  // namespace soma
