// The GLSL emitter (see glsl_emit.h): the whole shader of a kernel — its launch mode, extensions,
// bindings, helpers and main. The constructs are printed by the files listed in glsl_emitter.h.
#include "backends/vulkan/glsl_emit.h"

#include <algorithm>

#include "backends/vulkan/glsl_emitter.h"
#include "backends/vulkan/glsl_lib.h"
#include "graph/kernel_math.h"

namespace soma::vulkan {

using kir::Axis;
using kir::BufferId;
using kir::Expr;
using kir::ExprId;
using kir::ExprKind;
using kir::Stmt;

const char* launch_mode_name(LaunchMode m) {
  switch (m) {
    case LaunchMode::Points:
      return "points";
    case LaunchMode::Sequential:
      return "sequential";
    case LaunchMode::WorkgroupReduce:
      return "workgroup-reduce";
    case LaunchMode::TiledMatmul:
      return "tiled-matmul";
  }
  return "?";
}

std::string glsl_type(DType t) {
  switch (t) {
    case DType::f32:
      return "float";
    case DType::f64:
      return "double";
    case DType::i32:
      return "int";
    case DType::boolean:
      return "bool";
  }
  return "?";
}

std::string int_lit(int64_t v) {
  if (v == INT32_MIN) return "(-2147483647 - 1)";
  std::string s = std::to_string(v);
  return v < 0 ? "(" + s + ")" : s;
}

KernelShader Emitter::run() {
  KernelShader out;
  out.name = k_.name;
  check_types();
  collect_bindings();
  // The draws' seeds as push constants where they fit beside the offsets (and a chunk's start).
  const size_t draws = kir::kernel_seeds(k_).size();
  if (draws && bindings_.size() + 2 * draws + 1 <= f_.max_push_words)
    seed_words_ = static_cast<uint32_t>(2 * draws);
  out.seed_words = seed_words_;
  has_load_.assign(k_.exprs.size(), 0);
  for (size_t i = 0; i < k_.exprs.size(); ++i) {
    const Expr& e = k_.exprs[i];
    bool h = e.kind == ExprKind::Load;
    for (ExprId a : e.a)
      if (a >= 0 && static_cast<size_t>(a) < i) h = h || has_load_[static_cast<size_t>(a)];
    has_load_[i] = h;
  }
  uint64_t points = 1;
  for (const Axis& a : k_.parallel) points *= static_cast<uint64_t>(std::max<int64_t>(a.extent, 0));
  if (points >= (uint64_t{1} << 31))
    SOMA_THROW(BackendError, "vulkan: kernel " << k_.name << " has " << points
                                               << " parallel points; at most 2^31 - 1 are "
                                                  "supported");

  out.points = points;
  std::string body;
  if (k_.sequential) {
    out.mode = LaunchMode::Sequential;
    out.loop_cost = point_loop_cost();
    // On a device with a loop limit, the points run in chunks that stay under it, one dispatch
    // each (a point costing more than the limit is refused by the backend).
    if (f_.loop_limit && sat_mul(points, out.loop_cost) > f_.loop_limit &&
        out.loop_cost <= f_.loop_limit)
      out.chunk = f_.loop_limit / out.loop_cost;
    body = main_sequential(points, out.chunk);
    out.fixed_local_size = 1;
    out.work = 1;
  } else if (k_.is_contraction && use_tiled()) {
    out.mode = LaunchMode::TiledMatmul;
    uint64_t tiles = 0;
    body = main_tiled(tiles, out.loop_cost);
    out.fixed_local_size =
        static_cast<uint32_t>((f_.tiles.bm / f_.tiles.tm) * (f_.tiles.bn / f_.tiles.tn));
    out.work = tiles;
  } else if (!k_.is_contraction && use_workgroup_reduce(points)) {
    out.mode = LaunchMode::WorkgroupReduce;
    out.loop_cost = workgroup_reduce_loop_cost();
    body = main_workgroup_reduce(points);
    out.fixed_local_size = kWgSize;
    out.work = points;
  } else {
    out.mode = LaunchMode::Points;
    out.loop_cost = point_loop_cost();
    body = main_points(points);
    out.work = points;
  }

  std::string src = "#version 450\n";
  if (bool_buffers_ && f_.int8_storage) src += "#extension GL_EXT_shader_8bit_storage : require\n";
  // Float controls: ExecutionMode SignedZeroInfNanPreserve (4461) with its Capability (4466),
  // DenormPreserve (4459, 4464), per float width. GLSL declares a mode once (its first width,
  // with the capability and extension); the other width is added to the SPIR-V.
  std::string modes;
  auto mode = [&](bool f32, bool f64, int capability, int execution_mode) {
    if (!f32 && !f64) return;
    modes += "spirv_execution_mode(extensions = [\"SPV_KHR_float_controls\"], capabilities = [" +
             std::to_string(capability) + "], " + std::to_string(execution_mode) + ", " +
             (f32 ? "32" : "64") + ");\n";
    if (f32 && f64) out.spirv_modes.push_back({static_cast<uint32_t>(execution_mode), 64});
  };
  mode(f_.nan_preserve_f32, uses_f64_ && f_.nan_preserve_f64, 4466, 4461);
  mode(f_.denorm_preserve_f32, uses_f64_ && f_.denorm_preserve_f64, 4464, 4459);
  if (!modes.empty()) src += "#extension GL_EXT_spirv_intrinsics : require\n" + modes;
  if (uses_subgroups_)
    src +=
        "#extension GL_KHR_shader_subgroup_basic : require\n"
        "#extension GL_KHR_shader_subgroup_vote : require\n"
        "#extension GL_KHR_shader_subgroup_arithmetic : require\n";
  if (out.fixed_local_size)
    src += "layout(local_size_x = " + std::to_string(out.fixed_local_size) + ") in;\n";
  else
    src += "layout(local_size_x_id = 0) in;\n";
  src += bindings_text();
  src += glsl_helpers(helpers_);
  src += shared_;
  src += functions_;
  src += body;
  out.glsl = std::move(src);
  for (const Binding& b : bindings_) out.bindings.push_back({b.buffer, b.written});
  return out;
}

// Whether `body` holds an f32 sum (accumulated in f64 where the device has it).
bool Emitter::accumulates_f32_sum(const std::vector<Stmt>& body) const {
  for (const Stmt& s : body)
    if ((s.kind == Stmt::Kind::Reduce && s.reduce_op == Op::ReduceSum &&
         var_type(s.var) == DType::f32) ||
        accumulates_f32_sum(s.body))
      return true;
  return false;
}

void Emitter::check_types() {
  bool f64 = false;
  for (const Expr& e : k_.exprs) f64 = f64 || e.dtype == DType::f64;
  for (const kir::Var& v : k_.vars) f64 = f64 || v.dtype == DType::f64;
  for (BufferId b : k_.reads) f64 = f64 || buffer(b).dtype == DType::f64;
  for (BufferId b : k_.writes) f64 = f64 || buffer(b).dtype == DType::f64;
  uses_f64_ = f64 || (f_.float64 && accumulates_f32_sum(k_.body));
  if (f64 && !f_.float64)
    SOMA_THROW(BackendError, "vulkan: kernel " << k_.name
                                               << " computes in f64, but the Vulkan device has "
                                                  "no shaderFloat64; use f32, or the llvm or "
                                                  "interp backend for f64");
}

void Emitter::add_binding(BufferId b, bool written) {
  auto it = binding_of_.find(b);
  if (it == binding_of_.end()) {
    binding_of_[b] = static_cast<int>(bindings_.size());
    bindings_.push_back({b});
    it = binding_of_.find(b);
  }
  Binding& x = bindings_[static_cast<size_t>(it->second)];
  (written ? x.written : x.read) = true;
  if (buffer(b).dtype == DType::boolean) bool_buffers_ = true;
}

void Emitter::collect_stmt_bindings(const std::vector<Stmt>& body) {
  for (const Stmt& s : body) {
    if (s.kind == Stmt::Kind::Store) add_binding(s.buffer, true);
    collect_stmt_bindings(s.body);
  }
}

void Emitter::collect_bindings() {
  for (BufferId b : k_.reads) add_binding(b, false);
  for (BufferId b : k_.writes) add_binding(b, true);
  for (const Expr& e : k_.exprs)
    if (e.kind == ExprKind::Load) add_binding(e.buffer, false);
  collect_stmt_bindings(k_.body);
}

std::string Emitter::bindings_text() const {
  std::string s;
  for (size_t i = 0; i < bindings_.size(); ++i) {
    const Binding& b = bindings_[i];
    DType t = buffer(b.buffer).dtype;
    std::string elem = t == DType::boolean ? (f_.int8_storage ? "uint8_t" : "uint") : glsl_type(t);
    std::string n = std::to_string(i);
    s += "layout(std430, set = 0, binding = " + n + ") " + (b.written ? "" : "readonly ") +
         "buffer B" + n + " { " + elem + " d[]; } b" + n + ";\n";
  }
  if (const size_t words = bindings_.size() + seed_words_ + (chunked_ ? 1 : 0))
    s += "layout(push_constant) uniform PushConstants { int o[" + std::to_string(words) +
         "]; } pc;\n";
  return s;
}

KernelShader emit_kernel(const kir::Program& program, const kir::Kernel& kernel,
                         const ShaderFeatures& features) {
  // GLSL has none of the composite functions (and no f64 exp, log, sin, cos, pow): they are
  // expanded into the kernel IR's primitives first.
  const kir::Kernel expanded = kir::expand_math(kernel, kir::expandable_math());
  return Emitter(program, expanded, features).run();
}

}  // namespace soma::vulkan
