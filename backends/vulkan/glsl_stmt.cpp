// The GLSL emitter's statements (let, loop, store, reductions) and the launch modes of
// element-wise and reduction kernels: Points (one invocation per parallel point, a 2-D grid and a
// grid-stride loop), Sequential (one invocation runs every point in order) and WorkgroupReduce
// (one workgroup per point; its top-level reductions are split over the workgroup and combined
// with subgroup operations where the device has them, else in a shared-memory tree; the other
// statements run on invocation 0).
#include <algorithm>
#include <cmath>

#include "backends/vulkan/glsl_emitter.h"

namespace soma::vulkan {

using kir::Axis;
using kir::Stmt;

int Emitter::open_loops(const std::vector<Axis>& axes) {
  for (const Axis& a : axes) {
    std::string v = var_name(a.var);
    open("for (int " + v + " = 0; " + v + " < " + int_lit(a.extent) + "; ++" + v + ")");
  }
  return static_cast<int>(axes.size());
}

bool Emitter::empty_axes(const std::vector<Axis>& axes) {
  for (const Axis& a : axes)
    if (a.extent <= 0) return true;
  return false;
}

uint64_t Emitter::extent_product(const std::vector<Axis>& axes) {
  uint64_t n = 1;
  for (const Axis& a : axes) n *= static_cast<uint64_t>(std::max<int64_t>(a.extent, 0));
  return n;
}

DType Emitter::accumulation_type(const Stmt& s) const {
  const DType t = var_type(s.var);
  return s.reduce_op == Op::ReduceSum && t == DType::f32 && f_.float64 ? DType::f64 : t;
}

std::string Emitter::decl_type(DType t) const {
  return is_float(t) ? "precise " + glsl_type(t) : glsl_type(t);
}

std::string Emitter::reduce_init(const Stmt& s) {
  DType t = accumulation_type(s);
  bool sum = s.reduce_op == Op::ReduceSum;
  if (t == DType::boolean) return "false";
  if (t == DType::i32) return sum || empty_axes(s.axes) ? "0" : int_lit(INT32_MIN);
  if (sum) return literal(0, t);
  return literal(-INFINITY, t);
}

std::string Emitter::combine(const Stmt& s, const std::string& acc, const std::string& v) {
  DType t = accumulation_type(s);
  bool sum = s.reduce_op == Op::ReduceSum;
  if (t == DType::boolean) return "(" + acc + " || " + v + ")";
  if (t == DType::i32) return sum ? "(" + acc + " + " + v + ")" : "max(" + acc + ", " + v + ")";
  if (sum) return "(" + acc + " + " + v + ")";
  std::string sfx(1, type_suffix(t));
  return call("max_" + sfx, "soma_max_" + sfx, acc + ", " + v);
}

void Emitter::reduce_stmt(const Stmt& s) {
  if (s.reduce_op != Op::ReduceSum && s.reduce_op != Op::ReduceMax)
    unsupported(std::string("reduce ") + op_name(s.reduce_op));
  const DType t = var_type(s.var), at = accumulation_type(s);
  const std::string v = var_name(s.var), acc = at == t ? v : fresh("acc");
  line(decl_type(at) + " " + acc + " = " + reduce_init(s) + ";");
  if (!empty_axes(s.axes)) {
    int n = open_loops(s.axes);
    stmts(s.body);
    std::string x = convert(val(s.value), expr(s.value).dtype, at);
    line(acc + " = " + combine(s, acc, x) + ";");
    for (int i = 0; i < n; ++i) close();
  }
  if (acc != v) line(decl_type(t) + " " + v + " = " + convert(acc, at, t) + ";");
}

void Emitter::stmt(const Stmt& s) {
  switch (s.kind) {
    case Stmt::Kind::Let: {
      DType t = var_type(s.var);
      std::string x = convert(val(s.value), expr(s.value).dtype, t);
      line(decl_type(t) + " " + var_name(s.var) + " = " + x + ";");
      break;
    }
    case Stmt::Kind::Reduce:
      reduce_stmt(s);
      break;
    case Stmt::Kind::Loop: {
      if (empty_axes(s.axes)) break;
      int n = open_loops(s.axes);
      stmts(s.body);
      for (int i = 0; i < n; ++i) close();
      break;
    }
    case Stmt::Kind::Store: {
      std::string idx = val(s.index);
      std::string x = convert(val(s.value), expr(s.value).dtype, buffer(s.buffer).dtype);
      store_text(s.buffer, idx, x);
      invalidate_loads();
      break;
    }
  }
}

void Emitter::stmts(const std::vector<Stmt>& body) {
  for (const Stmt& s : body) stmt(s);
}

void Emitter::decompose(const std::vector<Axis>& axes, const std::string& p) {
  uint64_t inner = 1;
  for (size_t d = axes.size(); d-- > 0;) {
    std::string q = inner == 1 ? p : "(" + p + " / " + uint_lit(inner) + ")";
    std::string x =
        d == 0 ? q
               : "(" + q + " % " +
                     uint_lit(static_cast<uint64_t>(std::max<int64_t>(axes[d].extent, 1))) + ")";
    line("int " + var_name(axes[d].var) + " = int(" + x + ");");
    inner *= static_cast<uint64_t>(std::max<int64_t>(axes[d].extent, 1));
  }
}

void Emitter::point_body() {
  if (k_.is_contraction) {
    const kir::Contraction& c = k_.contraction;
    DType t = var_type(c.acc);
    std::string acc = var_name(c.acc);
    line(glsl_type(t) + " " + acc + " = " + literal(0, t) + ";");
    if (c.k.extent > 0) {
      int n = open_loops({c.k});
      std::string a = convert(val(c.a), expr(c.a).dtype, t);
      std::string b = convert(val(c.b), expr(c.b).dtype, t);
      if (t == DType::boolean)
        line(acc + " = " + acc + " || (" + a + " && " + b + ");");
      else
        line(acc + " = " + acc + " + " + a + " * " + b + ";");
      for (int i = 0; i < n; ++i) close();
    }
  }
  stmts(k_.body);
}

std::string Emitter::main_points(uint64_t points) {
  Fn fn;
  fn.scopes.emplace_back();
  fn_ = &fn;
  // A 2-D grid (x up to the device's limit); the loop covers what a capped grid leaves over.
  line("uint stride = gl_NumWorkGroups.x * gl_NumWorkGroups.y * gl_WorkGroupSize.x;");
  line(
      "uint first = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * "
      "gl_WorkGroupSize.x + gl_LocalInvocationID.x;");
  open("for (uint p = first; p < " + uint_lit(points) + "; p += stride)");
  decompose(k_.parallel, "p");
  point_body();
  close();
  return finish(fn, "void main()");
}

std::string Emitter::main_sequential(uint64_t points, uint64_t chunk) {
  Fn fn;
  fn.scopes.emplace_back();
  fn_ = &fn;
  if (chunk) {
    // This dispatch's points: [first, first + chunk), the first after the offsets and seeds.
    chunked_ = true;
    line("uint first = uint(pc.o[" + std::to_string(bindings_.size() + seed_words_) + "]);");
    line("uint last = min(first + " + uint_lit(chunk) + ", " + uint_lit(points) + ");");
    open("for (uint p = first; p < last; ++p)");
  } else {
    open("for (uint p = 0u; p < " + uint_lit(points) + "; ++p)");
  }
  decompose(k_.parallel, "p");
  point_body();
  close();
  return finish(fn, "void main()");
}

// ---- workgroup reductions ----

bool Emitter::use_workgroup_reduce(uint64_t points) const {
  if (!f_.workgroup_reduce && !f_.force_workgroup_reduce) return false;
  if (points == 0) return false;
  // Invocation 0 stores; a buffer that is read and written in one kernel would need coherent
  // memory between the invocations, so such kernels stay in Points mode.
  for (const Binding& b : bindings_)
    if (b.read && b.written) return false;
  uint64_t longest = 0;
  for (const Stmt& s : k_.body)
    if (s.kind == Stmt::Kind::Reduce && var_type(s.var) != DType::boolean)
      longest = std::max(longest, extent_product(s.axes));
  if (f_.force_workgroup_reduce) return longest > 1;
  return longest >= kWgReduceMinExtent && points <= kWgReduceMaxPoints;
}

void Emitter::workgroup_reduce_stmt(const Stmt& s) {
  const DType vt = var_type(s.var), t = accumulation_type(s);
  const std::string var = var_name(s.var), v = t == vt ? var : fresh("acc");
  line(decl_type(t) + " " + v + " = " + reduce_init(s) + ";");
  uint64_t n = extent_product(s.axes);
  open("for (uint q = lid; q < " + uint_lit(n) + "; q += " + uint_lit(kWgSize) + ")");
  decompose(s.axes, "q");
  stmts(s.body);
  std::string x = convert(val(s.value), expr(s.value).dtype, t);
  line(v + " = " + combine(s, v, x) + ";");
  close();
  std::string sh = std::string("s_") + glsl_type(t);
  if (shared_.find(sh + "[") == std::string::npos)
    shared_ += "shared " + glsl_type(t) + " " + sh + "[" + std::to_string(kWgSize) + "];\n";
  if (f_.subgroup_arithmetic) {
    // Each subgroup combines its values (subgroupMax ignores NaN: subgroupAny restores it),
    // then every invocation combines the subgroups' results.
    uses_subgroups_ = true;
    if (s.reduce_op == Op::ReduceSum || t == DType::i32) {
      line(v + " = " + (s.reduce_op == Op::ReduceSum ? "subgroupAdd(" : "subgroupMax(") + v + ");");
    } else {
      std::string nan = fresh("nan");
      line("bool " + nan + " = subgroupAny(isnan(" + v + "));");
      line(v + " = subgroupMax(" + v + ");");
      line("if (" + nan + ") " + v + " = " + literal(NAN, t) + ";");
    }
    line("if (subgroupElect()) " + sh + "[gl_SubgroupID] = " + v + ";");
    line("barrier();");
    line(v + " = " + sh + "[0];");
    open("for (uint w = 1u; w < gl_NumSubgroups; ++w)");
    line(v + " = " + combine(s, v, sh + "[w]") + ";");
    close();
    line("barrier();");
    if (v != var) line(decl_type(vt) + " " + var + " = " + convert(v, t, vt) + ";");
    return;
  }
  line(sh + "[lid] = " + v + ";");
  line("barrier();");
  open("for (uint w = " + uint_lit(kWgSize / 2) + "; w > 0u; w >>= 1u)");
  open("if (lid < w)");
  line(sh + "[lid] = " + combine(s, sh + "[lid]", sh + "[lid + w]") + ";");
  close();
  line("barrier();");
  close();
  line(v + " = " + sh + "[0];");
  line("barrier();");
  if (v != var) line(decl_type(vt) + " " + var + " = " + convert(v, t, vt) + ";");
}

std::string Emitter::main_workgroup_reduce(uint64_t points) {
  Fn fn;
  fn.scopes.emplace_back();
  fn_ = &fn;
  line("uint lid = gl_LocalInvocationID.x;");
  open("for (uint p = gl_WorkGroupID.x; p < " + uint_lit(points) + "; p += gl_NumWorkGroups.x)");
  decompose(k_.parallel, "p");
  for (const Stmt& s : k_.body) {
    if (s.kind == Stmt::Kind::Reduce && var_type(s.var) != DType::boolean && !empty_axes(s.axes)) {
      workgroup_reduce_stmt(s);
    } else if (s.kind == Stmt::Kind::Let || s.kind == Stmt::Kind::Reduce) {
      stmt(s);  // every invocation holds the value
    } else {
      open("if (lid == 0u)");
      stmt(s);
      close();
    }
  }
  close();
  return finish(fn, "void main()");
}

}  // namespace soma::vulkan
