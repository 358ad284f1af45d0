// The GLSL emitter's state, shared by the files that print one construct each (internal to the
// vulkan backend; glsl_emit.h is the interface):
//
//   glsl_emit.cpp    the shader: launch mode choice, extensions, bindings, helpers, main
//   glsl_expr.cpp    literals, conversions, buffer loads and stores, expressions
//   glsl_stmt.cpp    statements and reductions; the Points, Sequential and WorkgroupReduce modes
//   glsl_matmul.cpp  the TiledMatmul mode
//
// Expressions are a hash-consed DAG; the emitter prints each node used by a statement once as a
// local (`float t12 = ...;`) in the innermost scope where it is first needed, and reuses it while
// that scope is open. A store invalidates every cached node that contains a load, as the kernel
// evaluator's memo does, so a later read sees the stored value. A masked load computes its index
// and touches memory only inside `if (mask)`.
#pragma once

#include <cctype>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "backends/vulkan/glsl_emit.h"
#include "graph/error.h"

namespace soma::vulkan {

// Workgroup reductions pay when a point's reduction is long and there are few points.
constexpr uint64_t kWgReduceMinExtent = 256;
constexpr uint64_t kWgReduceMaxPoints = 8192;
constexpr uint32_t kWgSize = 256;

std::string glsl_type(DType t);
inline char type_suffix(DType t) {
  return t == DType::f64 ? 'd' : 'f';
}
std::string int_lit(int64_t v);
inline std::string uint_lit(uint64_t v) {
  return std::to_string(v) + "u";
}

class Emitter {
 public:
  Emitter(const kir::Program& p, const kir::Kernel& k, const ShaderFeatures& f)
      : p_(p), k_(k), f_(f) {}

  KernelShader run();

 private:
  using Axis = kir::Axis;
  using BufferId = kir::BufferId;
  using Expr = kir::Expr;
  using ExprId = kir::ExprId;
  using Stmt = kir::Stmt;
  using VarId = kir::VarId;

  struct Binding {
    BufferId buffer;
    bool read = false, written = false;
  };

  // One function body under construction.
  struct Fn {
    std::string out;
    int indent = 1;
    std::vector<std::unordered_map<ExprId, std::string>> scopes;
  };

  const kir::Program& p_;
  const kir::Kernel& k_;
  const ShaderFeatures& f_;
  std::vector<Binding> bindings_;
  std::map<BufferId, int> binding_of_;
  std::set<std::string> helpers_;
  std::vector<uint8_t> has_load_;
  bool bool_buffers_ = false;
  bool uses_subgroups_ = false;
  bool uses_f64_ = false;
  bool chunked_ = false;     // the push constants end with the dispatch's first point
  uint32_t seed_words_ = 0;  // KernelShader::seed_words
  std::string shared_, functions_;
  Fn* fn_ = nullptr;
  int tmp_ = 0;

  const kir::Buffer& buffer(BufferId b) const { return p_.buffers[static_cast<size_t>(b)]; }
  DType var_type(VarId v) const { return k_.vars[static_cast<size_t>(v)].dtype; }
  const Expr& expr(ExprId e) const { return k_.expr(e); }

  std::string var_name(VarId v) const {
    std::string s = "v_";
    for (char c : k_.vars[static_cast<size_t>(v)].name)
      s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    return s + "_" + std::to_string(v);
  }

  [[noreturn]] void unsupported(const std::string& what) const {
    SOMA_THROW(BackendError, "vulkan: kernel " << k_.name << ": " << what
                                               << " is not supported by the GLSL emitter\n"
                                               << kir::print_kernel(p_, k_));
  }

  // ---- checks and bindings (glsl_emit.cpp) ----
  void check_types();
  bool accumulates_f32_sum(const std::vector<Stmt>& body) const;
  void add_binding(BufferId b, bool written);
  void collect_stmt_bindings(const std::vector<Stmt>& body);
  void collect_bindings();
  std::string bindings_text() const;

  // ---- text ----
  void line(const std::string& s) {
    fn_->out.append(static_cast<size_t>(fn_->indent) * 2, ' ');
    fn_->out += s;
    fn_->out += '\n';
  }
  void open(const std::string& head) {
    line(head + " {");
    ++fn_->indent;
    fn_->scopes.emplace_back();
  }
  void close() {
    fn_->scopes.pop_back();
    --fn_->indent;
    line("}");
  }
  std::string fresh(const char* prefix) { return prefix + std::to_string(tmp_++); }
  std::string finish(Fn& fn, const std::string& head) {
    fn_ = nullptr;
    return head + " {\n" + fn.out + "}\n";
  }

  // ---- values and expressions (glsl_expr.cpp) ----
  std::string literal(double v, DType t);
  // `x` (of dtype from) converted to dtype to, as the kernel evaluator converts.
  std::string convert(const std::string& x, DType from, DType to);
  std::string buffer_ref(int binding, const std::string& index);
  // The loaded value of buffer b at `index` (an int expression), as a GLSL expression.
  std::string load_text(BufferId b, const std::string& index);
  void store_text(BufferId b, const std::string& index, const std::string& value);
  const std::string* cached(ExprId id) const;
  void invalidate_loads();
  // The value of expression `id` as an operand: a literal, a variable, or a local holding it.
  std::string val(ExprId id);
  std::string call(const std::string& helper, const std::string& fn, const std::string& args);
  std::string unary(const Expr& e);
  std::string binary(const Expr& e);
  std::string int_binary(Op op, const std::string& x, const std::string& y);
  std::string rhs(const Expr& e);

  // ---- statements and reductions (glsl_stmt.cpp) ----
  // `for` headers over axes (one per axis), opened; returns how many to close.
  int open_loops(const std::vector<Axis>& axes);
  static bool empty_axes(const std::vector<Axis>& axes);
  static uint64_t extent_product(const std::vector<Axis>& axes);
  std::string reduce_init(const Stmt& s);
  // The dtype a reduction accumulates in: f64 for an f32 sum on a device with shaderFloat64 (the
  // kernel IR's meaning: sums accumulate in f64), else the var's dtype.
  DType accumulation_type(const Stmt& s) const;
  // A declaration's type: float and double values are `precise` (evaluated as written: no
  // reassociation, no contraction into fma).
  std::string decl_type(DType t) const;
  // acc combined with v (both of the accumulation dtype).
  std::string combine(const Stmt& s, const std::string& acc, const std::string& v);
  void reduce_stmt(const Stmt& s);
  void stmt(const Stmt& s);
  void stmts(const std::vector<Stmt>& body);
  // Declares the vars of `axes` from the linear index `p` (a uint expression), row-major.
  void decompose(const std::vector<Axis>& axes, const std::string& p);
  // One parallel point: the contraction's k loop (if any), then the body.
  void point_body();
  std::string main_points(uint64_t points);
  // chunk > 0: the dispatch runs `chunk` points from the one in its push constant.
  std::string main_sequential(uint64_t points, uint64_t chunk);

  // ---- workgroup reductions (glsl_stmt.cpp) ----
  bool use_workgroup_reduce(uint64_t points) const;
  void workgroup_reduce_stmt(const Stmt& s);
  std::string main_workgroup_reduce(uint64_t points);

  // ---- tiled contractions (glsl_matmul.cpp) ----
  void vars_of(ExprId id, std::set<VarId>& out, std::vector<uint8_t>& seen) const;
  bool use_tiled() const;
  // `T name(int batch..., int x, int y) { ... return value; }` for a or b.
  std::string value_function(const std::string& name, ExprId value, DType t,
                             const std::vector<VarId>& params);
  std::string main_tiled(uint64_t& tiles_out, uint64_t& loop_cost_out);

  // ---- loop cost (glsl_cost.cpp): loop iterations one invocation runs ----
  uint64_t stmts_loop_cost(const std::vector<Stmt>& body) const;
  // Nested loops over axes around a body costing `inner` per iteration.
  static uint64_t nest_cost(const std::vector<Axis>& axes, uint64_t inner);
  uint64_t point_loop_cost() const;             // Points and Sequential, per point
  uint64_t workgroup_reduce_loop_cost() const;  // WorkgroupReduce, per point, per invocation
};

}  // namespace soma::vulkan
