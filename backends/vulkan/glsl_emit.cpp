// The GLSL emitter (see glsl_emit.h).
//
// Expressions are a hash-consed DAG; the emitter prints each node used by a statement once as a
// local (`float t12 = ...;`) in the innermost scope where it is first needed, and reuses it while
// that scope is open. A store invalidates every cached node that contains a load, as the kernel
// evaluator's memo does, so a later read sees the stored value. A masked load computes its index
// and touches memory only inside `if (mask)`.
#include "backends/vulkan/glsl_emit.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <unordered_map>

#include "backends/vulkan/glsl_lib.h"
#include "graph/error.h"

namespace soma::vulkan {

using kir::Axis;
using kir::BufferId;
using kir::Expr;
using kir::ExprId;
using kir::ExprKind;
using kir::Kernel;
using kir::Program;
using kir::Stmt;
using kir::VarId;

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

namespace {

// Workgroup reductions pay when a point's reduction is long and there are few points.
constexpr uint64_t kWgReduceMinExtent = 256;
constexpr uint64_t kWgReduceMaxPoints = 8192;
constexpr uint32_t kWgSize = 256;

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

char type_suffix(DType t) {
  return t == DType::f64 ? 'd' : 'f';
}

std::string int_lit(int64_t v) {
  if (v == INT32_MIN) return "(-2147483647 - 1)";
  if (v < 0) return "(" + std::to_string(v) + ")";
  return std::to_string(v);
}

std::string uint_lit(uint64_t v) {
  return std::to_string(v) + "u";
}

class Emitter {
 public:
  Emitter(const Program& p, const Kernel& k, const ShaderFeatures& f) : p_(p), k_(k), f_(f) {}

  KernelShader run() {
    KernelShader out;
    out.name = k_.name;
    check_types();
    collect_bindings();
    has_load_.assign(k_.exprs.size(), 0);
    for (size_t i = 0; i < k_.exprs.size(); ++i) {
      const Expr& e = k_.exprs[i];
      bool h = e.kind == ExprKind::Load;
      for (ExprId a : e.a)
        if (a >= 0 && static_cast<size_t>(a) < i) h = h || has_load_[static_cast<size_t>(a)];
      has_load_[i] = h;
    }
    uint64_t points = 1;
    for (const Axis& a : k_.parallel)
      points *= static_cast<uint64_t>(std::max<int64_t>(a.extent, 0));
    if (points >= (uint64_t{1} << 31))
      SOMA_THROW(BackendError, "vulkan: kernel " << k_.name << " has " << points
                                                 << " parallel points; at most 2^31 - 1 are "
                                                    "supported");

    std::string body;
    if (k_.sequential) {
      out.mode = LaunchMode::Sequential;
      body = main_sequential(points);
      out.fixed_local_size = 1;
      out.work = 1;
    } else if (k_.is_contraction && use_tiled()) {
      out.mode = LaunchMode::TiledMatmul;
      uint64_t tiles = 0;
      body = main_tiled(tiles);
      out.fixed_local_size =
          static_cast<uint32_t>((f_.tiles.bm / f_.tiles.tm) * (f_.tiles.bn / f_.tiles.tn));
      out.work = tiles;
    } else if (!k_.is_contraction && use_workgroup_reduce(points)) {
      out.mode = LaunchMode::WorkgroupReduce;
      body = main_workgroup_reduce(points);
      out.fixed_local_size = kWgSize;
      out.work = points;
    } else {
      out.mode = LaunchMode::Points;
      body = main_points(points);
      out.work = points;
    }

    std::string src = "#version 450\n";
    if (bool_buffers_ && f_.int8_storage)
      src += "#extension GL_EXT_shader_8bit_storage : require\n";
    if (f_.nan_preserve_f32 || (uses_f64_ && f_.nan_preserve_f64)) {
      src += "#extension GL_EXT_spirv_intrinsics : require\n";
      // ExecutionMode SignedZeroInfNanPreserve (4461), Capability SignedZeroInfNanPreserve (4466).
      if (f_.nan_preserve_f32)
        src +=
            "spirv_execution_mode(extensions = [\"SPV_KHR_float_controls\"], capabilities = "
            "[4466], 4461, 32);\n";
      if (uses_f64_ && f_.nan_preserve_f64)
        src +=
            "spirv_execution_mode(extensions = [\"SPV_KHR_float_controls\"], capabilities = "
            "[4466], 4461, 64);\n";
    }
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

 private:
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

  const Program& p_;
  const Kernel& k_;
  const ShaderFeatures& f_;
  std::vector<Binding> bindings_;
  std::map<BufferId, int> binding_of_;
  std::set<std::string> helpers_;
  std::vector<uint8_t> has_load_;
  bool bool_buffers_ = false;
  bool uses_subgroups_ = false;
  bool uses_f64_ = false;
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

  // ---- checks and bindings ----

  void check_types() {
    bool f64 = false;
    for (const Expr& e : k_.exprs) f64 = f64 || e.dtype == DType::f64;
    for (const kir::Var& v : k_.vars) f64 = f64 || v.dtype == DType::f64;
    for (BufferId b : k_.reads) f64 = f64 || buffer(b).dtype == DType::f64;
    for (BufferId b : k_.writes) f64 = f64 || buffer(b).dtype == DType::f64;
    uses_f64_ = f64;
    if (f64 && !f_.float64)
      SOMA_THROW(BackendError, "vulkan: kernel " << k_.name
                                                 << " computes in f64, but the Vulkan device has "
                                                    "no shaderFloat64; use f32, or the llvm or "
                                                    "interp backend for f64");
  }

  void add_binding(BufferId b, bool written) {
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

  void collect_stmt_bindings(const std::vector<Stmt>& body) {
    for (const Stmt& s : body) {
      if (s.kind == Stmt::Kind::Store) add_binding(s.buffer, true);
      collect_stmt_bindings(s.body);
    }
  }

  void collect_bindings() {
    for (BufferId b : k_.reads) add_binding(b, false);
    for (BufferId b : k_.writes) add_binding(b, true);
    for (const Expr& e : k_.exprs)
      if (e.kind == ExprKind::Load) add_binding(e.buffer, false);
    collect_stmt_bindings(k_.body);
  }

  std::string bindings_text() const {
    std::string s;
    for (size_t i = 0; i < bindings_.size(); ++i) {
      const Binding& b = bindings_[i];
      DType t = buffer(b.buffer).dtype;
      std::string elem =
          t == DType::boolean ? (f_.int8_storage ? "uint8_t" : "uint") : glsl_type(t);
      std::string n = std::to_string(i);
      s += "layout(std430, set = 0, binding = " + n + ") " + (b.written ? "" : "readonly ") +
           "buffer B" + n + " { " + elem + " d[]; } b" + n + ";\n";
    }
    if (!bindings_.empty())
      s += "layout(push_constant) uniform PushConstants { int o[" +
           std::to_string(bindings_.size()) + "]; } pc;\n";
    return s;
  }

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

  std::string literal(double v, DType t) {
    switch (t) {
      case DType::boolean:
        return v != 0 ? "true" : "false";
      case DType::i32: {
        double c = std::isnan(v) ? 0 : std::clamp(std::trunc(v), -2147483648.0, 2147483647.0);
        return int_lit(static_cast<int64_t>(c));
      }
      case DType::f32:
      case DType::f64: {
        bool dbl = t == DType::f64;
        double x = dbl ? v : static_cast<double>(static_cast<float>(v));
        std::string sfx(1, type_suffix(t));
        if (std::isnan(x)) {
          helpers_.insert("nan_" + sfx);
          return "soma_nan_" + sfx + "()";
        }
        if (std::isinf(x)) {
          helpers_.insert("nan_" + sfx);
          return std::string(x < 0 ? "(-" : "(") + "soma_inf_" + sfx + "())";
        }
        char buf[64];
        std::snprintf(buf, sizeof buf, dbl ? "%.17g" : "%.9g", x);
        std::string s = buf;
        if (s.find_first_of(".e") == std::string::npos) s += ".0";
        if (dbl) s += "LF";
        return x < 0 || std::signbit(x) ? "(" + s + ")" : s;
      }
    }
    return "?";
  }

  // `x` (of dtype from) converted to dtype to, as the kernel evaluator converts.
  std::string convert(const std::string& x, DType from, DType to) {
    if (from == to) return x;
    if (to == DType::boolean) {
      if (from == DType::i32) return "(" + x + " != 0)";
      return "!(" + x + " == " + literal(0, from) + ")";  // NaN -> true
    }
    if (to == DType::i32) {
      if (from == DType::boolean) return "int(" + x + ")";
      std::string h = std::string("f2i_") + type_suffix(from);
      helpers_.insert(h);
      return "soma_" + h + "(" + x + ")";
    }
    return glsl_type(to) + "(" + x + ")";
  }

  std::string buffer_ref(int binding, const std::string& index) {
    std::string n = std::to_string(binding);
    return "b" + n + ".d[pc.o[" + n + "] + " + index + "]";
  }

  // The loaded value of buffer b at `index` (an int expression), as a GLSL expression.
  std::string load_text(BufferId b, const std::string& index) {
    int k = binding_of_.at(b);
    if (buffer(b).dtype != DType::boolean) return buffer_ref(k, index);
    if (f_.int8_storage) return "(uint(" + buffer_ref(k, index) + ") != 0u)";
    std::string q = fresh("q");
    std::string n = std::to_string(k);
    line("int " + q + " = pc.o[" + n + "] + " + index + ";");
    return "(((b" + n + ".d[" + q + " >> 2] >> (8u * uint(" + q + " & 3))) & 0xffu) != 0u)";
  }

  void store_text(BufferId b, const std::string& index, const std::string& value) {
    int k = binding_of_.at(b);
    if (buffer(b).dtype != DType::boolean) {
      line(buffer_ref(k, index) + " = " + value + ";");
    } else if (f_.int8_storage) {
      line(buffer_ref(k, index) + " = uint8_t(" + value + " ? 1u : 0u);");
    } else {
      // Four bools share a word: clear and set this byte atomically (neighbours belong to other
      // points).
      std::string n = std::to_string(k), q = fresh("q"), sh = fresh("sh");
      line("int " + q + " = pc.o[" + n + "] + " + index + ";");
      line("uint " + sh + " = 8u * uint(" + q + " & 3);");
      line("atomicAnd(b" + n + ".d[" + q + " >> 2], ~(0xffu << " + sh + "));");
      line("if (" + value + ") atomicOr(b" + n + ".d[" + q + " >> 2], 1u << " + sh + ");");
    }
  }

  std::string fresh(const char* prefix) { return prefix + std::to_string(tmp_++); }

  // ---- expressions ----

  const std::string* cached(ExprId id) const {
    for (size_t i = fn_->scopes.size(); i-- > 0;) {
      auto it = fn_->scopes[i].find(id);
      if (it != fn_->scopes[i].end()) return &it->second;
    }
    return nullptr;
  }

  void invalidate_loads() {
    for (auto& scope : fn_->scopes)
      for (auto it = scope.begin(); it != scope.end();)
        it = has_load_[static_cast<size_t>(it->first)] ? scope.erase(it) : std::next(it);
  }

  // The value of expression `id` as an operand: a literal, a variable, or a local holding it.
  std::string val(ExprId id) {
    const Expr& e = expr(id);
    if (e.kind == ExprKind::Const) return literal(e.value, e.dtype);
    if (e.kind == ExprKind::Var) return var_name(e.var);
    if (const std::string* c = cached(id)) return *c;
    std::string name = fresh("t");
    std::string T = glsl_type(e.dtype);
    if (e.kind == ExprKind::Load) {
      if (e.a[1] >= 0) {
        std::string m = val(e.a[1]);
        line(T + " " + name + " = " + literal(e.value, e.dtype) + ";");
        open("if (" + m + ")");
        std::string idx = val(e.a[0]);
        line(name + " = " + load_text(e.buffer, idx) + ";");
        close();
      } else {
        std::string idx = val(e.a[0]);
        line(T + " " + name + " = " + load_text(e.buffer, idx) + ";");
      }
    } else {
      line(T + " " + name + " = " + rhs(e) + ";");
    }
    fn_->scopes.back()[id] = name;
    return name;
  }

  std::string call(const std::string& helper, const std::string& fn, const std::string& args) {
    helpers_.insert(helper);
    return fn + "(" + args + ")";
  }

  std::string unary(const Expr& e) {
    std::string x = val(e.a[0]);
    DType t = e.dtype;
    if (e.op == Op::Not) return "!" + x;
    if (t == DType::i32) {
      switch (e.op) {
        case Op::Neg:
          return "-" + x;
        case Op::Abs:
          return "abs(" + x + ")";
        case Op::Sign:
          return "sign(" + x + ")";
        default:
          unsupported(std::string("i32 ") + op_name(e.op));
      }
    }
    if (!is_float(t)) unsupported(std::string(dtype_name(t)) + " " + op_name(e.op));
    const bool d = t == DType::f64;
    const std::string s = d ? "d" : "f";
    auto h = [&](const std::string& base) {
      return call(base + "_" + s, "soma_" + base + "_" + s, x);
    };
    switch (e.op) {
      case Op::Neg:
        return "-" + x;
      case Op::Abs:
        return "abs(" + x + ")";
      case Op::Sign:
        return h("sign");
      case Op::Floor:
        return "floor(" + x + ")";
      case Op::Exp:
        return d ? h("exp") : "exp(" + x + ")";
      case Op::Expm1:
        return h("expm1");
      case Op::Log:
        return h("log");
      case Op::Log1p:
        return h("log1p");
      case Op::Sqrt:
        return h("sqrt");
      case Op::Rsqrt:
        return literal(1, t) + " / " + h("sqrt");
      case Op::Sin:
        return d ? call("sincos_d", "soma_sin_d", x) : "sin(" + x + ")";
      case Op::Cos:
        return d ? call("sincos_d", "soma_cos_d", x) : "cos(" + x + ")";
      case Op::Tanh:
        return h("tanh");
      case Op::Sigmoid:
        return h("sigmoid");
      case Op::Erf:
        return h("erf");
      default:
        unsupported(std::string("unary ") + op_name(e.op));
    }
  }

  std::string binary(const Expr& e) {
    std::string x = val(e.a[0]), y = val(e.a[1]);
    DType t = expr(e.a[0]).dtype;
    if (e.op == Op::And) return "(" + x + " && " + y + ")";
    if (e.op == Op::Or) return "(" + x + " || " + y + ")";
    if (t == DType::boolean) {  // arithmetic on bools: as 0/1 ints, then != 0
      if (e.op == Op::Eq) return "(" + x + " == " + y + ")";
      if (e.op == Op::Ne) return "(" + x + " != " + y + ")";
      x = "int(" + x + ")";
      y = "int(" + y + ")";
      t = DType::i32;
      if (!is_comparison(e.op)) {
        std::string r = int_binary(e.op, x, y);
        return "(" + r + " != 0)";
      }
    }
    if (is_comparison(e.op)) {
      const char* sym = "";
      switch (e.op) {
        case Op::Lt:
          sym = " < ";
          break;
        case Op::Le:
          sym = " <= ";
          break;
        case Op::Gt:
          sym = " > ";
          break;
        case Op::Ge:
          sym = " >= ";
          break;
        case Op::Eq:
          sym = " == ";
          break;
        case Op::Ne:
          // !(x == y): true for NaN operands, whatever the compiler picks for !=.
          return "!(" + x + " == " + y + ")";
        default:
          break;
      }
      return "(" + x + sym + y + ")";
    }
    if (t == DType::i32) return int_binary(e.op, x, y);
    const std::string s = t == DType::f64 ? "d" : "f";
    switch (e.op) {
      case Op::Add:
        return "(" + x + " + " + y + ")";
      case Op::Sub:
        return "(" + x + " - " + y + ")";
      case Op::Mul:
        return "(" + x + " * " + y + ")";
      case Op::Div:
        return "(" + x + " / " + y + ")";
      case Op::Pow:
        return call("pow_" + s, "soma_pow_" + s, x + ", " + y);
      case Op::Max:
        return call("max_" + s, "soma_max_" + s, x + ", " + y);
      case Op::Min:
        return call("max_" + s, "soma_min_" + s, x + ", " + y);
      default:
        unsupported(std::string("binary ") + op_name(e.op));
    }
  }

  std::string int_binary(Op op, const std::string& x, const std::string& y) {
    switch (op) {
      case Op::Add:
        return "(" + x + " + " + y + ")";
      case Op::Sub:
        return "(" + x + " - " + y + ")";
      case Op::Mul:
        return "(" + x + " * " + y + ")";
      case Op::Max:
        return "max(" + x + ", " + y + ")";
      case Op::Min:
        return "min(" + x + ", " + y + ")";
      default:
        unsupported(std::string("i32 ") + op_name(op));
    }
  }

  std::string rhs(const Expr& e) {
    switch (e.kind) {
      case ExprKind::Unary:
        return unary(e);
      case ExprKind::Cast:
        return convert(val(e.a[0]), expr(e.a[0]).dtype, e.dtype);
      case ExprKind::Binary:
        return binary(e);
      case ExprKind::IDiv:
        return call("idiv", "soma_idiv", val(e.a[0]) + ", " + val(e.a[1]));
      case ExprKind::IMod:
        return call("idiv", "soma_imod", val(e.a[0]) + ", " + val(e.a[1]));
      case ExprKind::Select: {
        std::string c = val(e.a[0]), x = val(e.a[1]), y = val(e.a[2]);
        return "(" + c + " ? " + x + " : " + y + ")";
      }
      case ExprKind::Rand: {
        if (!is_float(e.dtype)) unsupported("a non-float rand");
        std::string s(1, type_suffix(e.dtype));
        auto seed = static_cast<uint64_t>(e.seed);
        std::string args = uint_lit(seed & 0xffffffffu) + ", " + uint_lit(seed >> 32) + ", " +
                           val(e.a[0]) + ", " + val(e.a[1]);
        return call("rand_" + s, "soma_rand_" + s, args);
      }
      default:
        break;
    }
    unsupported("an expression kind");
  }

  // ---- statements ----

  // `for` headers over axes (one per axis), opened; returns how many to close.
  int open_loops(const std::vector<Axis>& axes) {
    for (const Axis& a : axes) {
      std::string v = var_name(a.var);
      open("for (int " + v + " = 0; " + v + " < " + int_lit(a.extent) + "; ++" + v + ")");
    }
    return static_cast<int>(axes.size());
  }

  static bool empty_axes(const std::vector<Axis>& axes) {
    for (const Axis& a : axes)
      if (a.extent <= 0) return true;
    return false;
  }

  static uint64_t extent_product(const std::vector<Axis>& axes) {
    uint64_t n = 1;
    for (const Axis& a : axes) n *= static_cast<uint64_t>(std::max<int64_t>(a.extent, 0));
    return n;
  }

  std::string reduce_init(const Stmt& s) {
    DType t = var_type(s.var);
    bool sum = s.reduce_op == Op::ReduceSum;
    if (t == DType::boolean) return "false";
    if (t == DType::i32) return sum || empty_axes(s.axes) ? "0" : int_lit(INT32_MIN);
    if (sum) return literal(0, t);
    return literal(-INFINITY, t);
  }

  // acc combined with v (both of the var's dtype).
  std::string combine(const Stmt& s, const std::string& acc, const std::string& v) {
    DType t = var_type(s.var);
    bool sum = s.reduce_op == Op::ReduceSum;
    if (t == DType::boolean) return "(" + acc + " || " + v + ")";
    if (t == DType::i32) return sum ? "(" + acc + " + " + v + ")" : "max(" + acc + ", " + v + ")";
    if (sum) return "(" + acc + " + " + v + ")";
    std::string sfx(1, type_suffix(t));
    return call("max_" + sfx, "soma_max_" + sfx, acc + ", " + v);
  }

  void reduce_stmt(const Stmt& s) {
    if (s.reduce_op != Op::ReduceSum && s.reduce_op != Op::ReduceMax)
      unsupported(std::string("reduce ") + op_name(s.reduce_op));
    DType t = var_type(s.var);
    std::string v = var_name(s.var);
    line(glsl_type(t) + " " + v + " = " + reduce_init(s) + ";");
    if (empty_axes(s.axes)) return;
    int n = open_loops(s.axes);
    stmts(s.body);
    std::string x = convert(val(s.value), expr(s.value).dtype, t);
    line(v + " = " + combine(s, v, x) + ";");
    for (int i = 0; i < n; ++i) close();
  }

  void stmt(const Stmt& s) {
    switch (s.kind) {
      case Stmt::Kind::Let: {
        DType t = var_type(s.var);
        std::string x = convert(val(s.value), expr(s.value).dtype, t);
        line(glsl_type(t) + " " + var_name(s.var) + " = " + x + ";");
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

  void stmts(const std::vector<Stmt>& body) {
    for (const Stmt& s : body) stmt(s);
  }

  // Declares the vars of `axes` from the linear index `p` (a uint expression), row-major.
  void decompose(const std::vector<Axis>& axes, const std::string& p) {
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

  // One parallel point: the contraction's k loop (if any), then the body.
  void point_body() {
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

  std::string finish(Fn& fn, const std::string& head) {
    fn_ = nullptr;
    return head + " {\n" + fn.out + "}\n";
  }

  std::string main_points(uint64_t points) {
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

  std::string main_sequential(uint64_t points) {
    Fn fn;
    fn.scopes.emplace_back();
    fn_ = &fn;
    open("for (uint p = 0u; p < " + uint_lit(points) + "; ++p)");
    decompose(k_.parallel, "p");
    point_body();
    close();
    return finish(fn, "void main()");
  }

  // ---- workgroup reductions ----

  bool use_workgroup_reduce(uint64_t points) const {
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

  void workgroup_reduce_stmt(const Stmt& s) {
    DType t = var_type(s.var);
    std::string v = var_name(s.var);
    line(glsl_type(t) + " " + v + " = " + reduce_init(s) + ";");
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
        line(v + " = " + (s.reduce_op == Op::ReduceSum ? "subgroupAdd(" : "subgroupMax(") + v +
             ");");
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
  }

  std::string main_workgroup_reduce(uint64_t points) {
    Fn fn;
    fn.scopes.emplace_back();
    fn_ = &fn;
    line("uint lid = gl_LocalInvocationID.x;");
    open("for (uint p = gl_WorkGroupID.x; p < " + uint_lit(points) + "; p += gl_NumWorkGroups.x)");
    decompose(k_.parallel, "p");
    for (const Stmt& s : k_.body) {
      if (s.kind == Stmt::Kind::Reduce && var_type(s.var) != DType::boolean &&
          !empty_axes(s.axes)) {
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

  // ---- tiled contractions ----

  void vars_of(ExprId id, std::set<VarId>& out, std::vector<uint8_t>& seen) const {
    if (seen[static_cast<size_t>(id)]) return;
    seen[static_cast<size_t>(id)] = 1;
    const Expr& e = expr(id);
    if (e.kind == ExprKind::Var) out.insert(e.var);
    for (ExprId a : e.a)
      if (a >= 0) vars_of(a, out, seen);
  }

  bool use_tiled() const {
    if (!f_.tiled_matmul && !f_.force_tiled_matmul) return false;
    const kir::Contraction& c = k_.contraction;
    DType t = var_type(c.acc);
    if (t == DType::boolean) return false;
    size_t nb = c.batch.size();
    int64_t m = k_.parallel[nb].extent, n = k_.parallel[nb + 1].extent, kk = c.k.extent;
    if (m <= 0 || n <= 0 || kk <= 0) return false;
    // a may use batch, i, k; b batch, k, j.
    std::set<VarId> a_ok, b_ok;
    for (size_t i = 0; i < nb; ++i) a_ok.insert(c.batch[i].var), b_ok.insert(c.batch[i].var);
    a_ok.insert(k_.parallel[nb].var);
    a_ok.insert(c.k.var);
    b_ok.insert(k_.parallel[nb + 1].var);
    b_ok.insert(c.k.var);
    std::set<VarId> va, vb;
    std::vector<uint8_t> seen(k_.exprs.size(), 0);
    vars_of(c.a, va, seen);
    seen.assign(k_.exprs.size(), 0);
    vars_of(c.b, vb, seen);
    for (VarId v : va)
      if (!a_ok.count(v)) return false;
    for (VarId v : vb)
      if (!b_ok.count(v)) return false;
    if (f_.force_tiled_matmul) return true;
    return m >= 32 && n >= 32 && kk >= 16 && m * n * kk >= (int64_t{1} << 18);
  }

  // `T name(int batch..., int x, int y) { ... return value; }` for a or b.
  std::string value_function(const std::string& name, ExprId value, DType t,
                             const std::vector<VarId>& params) {
    Fn fn;
    fn.scopes.emplace_back();
    fn_ = &fn;
    std::string x = convert(val(value), expr(value).dtype, t);
    line("return " + x + ";");
    std::string head = glsl_type(t) + " " + name + "(";
    for (size_t i = 0; i < params.size(); ++i)
      head += (i ? ", int " : "int ") + var_name(params[i]);
    return finish(fn, head + ")");
  }

  std::string main_tiled(uint64_t& tiles_out) {
    const kir::Contraction& c = k_.contraction;
    const size_t nb = c.batch.size();
    const DType t = var_type(c.acc);
    const std::string T = glsl_type(t);
    const int64_t m = k_.parallel[nb].extent, n = k_.parallel[nb + 1].extent, kk = c.k.extent;
    const MatmulTiles& c_t = f_.tiles;
    const int kBM = c_t.bm, kBN = c_t.bn, kTM = c_t.tm, kTN = c_t.tn;
    int bk = c_t.bk;  // halved until both staged slices fit in shared memory
    while (bk > 1 && static_cast<uint64_t>(bk) * static_cast<uint64_t>(kBM + kBN) * dtype_size(t) >
                         f_.max_shared_bytes)
      bk /= 2;
    const int kBK = bk;
    const int kTX = kBN / kTN, kTY = kBM / kTM, kThreads = kTX * kTY;
    const VarId vi = k_.parallel[nb].var, vj = k_.parallel[nb + 1].var, vk = c.k.var;
    std::vector<VarId> batch;
    for (const Axis& a : c.batch) batch.push_back(a.var);
    std::vector<VarId> pa = batch, pb = batch, pe = batch;
    pa.push_back(vi);
    pa.push_back(vk);
    pb.push_back(vk);
    pb.push_back(vj);
    pe.push_back(vi);
    pe.push_back(vj);

    functions_ += value_function("soma_a", c.a, t, pa);
    functions_ += value_function("soma_b", c.b, t, pb);
    {
      Fn fn;
      fn.scopes.emplace_back();
      fn_ = &fn;
      stmts(k_.body);
      std::string head = "void soma_epilogue(";
      for (VarId v : pe) head += "int " + var_name(v) + ", ";
      head += T + " " + var_name(c.acc) + ")";
      functions_ += finish(fn, head);
    }
    shared_ += "shared " + T + " sa[" + std::to_string(kBK * kBM) + "];\n";
    shared_ += "shared " + T + " sb[" + std::to_string(kBK * kBN) + "];\n";

    const uint64_t tm = static_cast<uint64_t>((m + kBM - 1) / kBM);
    const uint64_t tn = static_cast<uint64_t>((n + kBN - 1) / kBN);
    const uint64_t tiles = extent_product(c.batch) * tm * tn;
    tiles_out = tiles;
    auto args = [&](const std::string& x, const std::string& y) {
      std::string s;
      for (VarId v : batch) s += var_name(v) + ", ";
      return s + x + ", " + y;
    };

    Fn fn;
    fn.scopes.emplace_back();
    fn_ = &fn;
    std::string zero = literal(0, t);
    line("uint lid = gl_LocalInvocationID.x;");
    line("int tx = int(lid % " + uint_lit(static_cast<uint64_t>(kTX)) + ");");
    line("int ty = int(lid / " + uint_lit(static_cast<uint64_t>(kTX)) + ");");
    open("for (uint tile = gl_WorkGroupID.x; tile < " + uint_lit(tiles) +
         "; tile += gl_NumWorkGroups.x)");
    line("uint rest = tile % " + uint_lit(tm * tn) + ";");
    line("int i0 = int(rest / " + uint_lit(tn) + ") * " + std::to_string(kBM) + ";");
    line("int j0 = int(rest % " + uint_lit(tn) + ") * " + std::to_string(kBN) + ";");
    decompose(c.batch, "(tile / " + uint_lit(tm * tn) + ")");
    for (int r = 0; r < kTM * kTN; ++r) line(T + " acc" + std::to_string(r) + " = " + zero + ";");
    open("for (int k0 = 0; k0 < " + int_lit(kk) + "; k0 += " + std::to_string(kBK) + ")");
    line("barrier();");
    open("for (int e = int(lid); e < " + std::to_string(kBK * kBM) +
         "; e += " + std::to_string(kThreads) + ")");
    line("int ka = k0 + e % " + std::to_string(kBK) + ";");
    line("int ia = i0 + e / " + std::to_string(kBK) + ";");
    line(T + " va = " + zero + ";");
    line("if (ia < " + int_lit(m) + " && ka < " + int_lit(kk) + ") va = soma_a(" +
         args("ia", "ka") + ");");
    line("sa[(e % " + std::to_string(kBK) + ") * " + std::to_string(kBM) + " + e / " +
         std::to_string(kBK) + "] = va;");
    close();
    open("for (int e = int(lid); e < " + std::to_string(kBK * kBN) +
         "; e += " + std::to_string(kThreads) + ")");
    line("int jb = j0 + e % " + std::to_string(kBN) + ";");
    line("int kb = k0 + e / " + std::to_string(kBN) + ";");
    line(T + " vb = " + zero + ";");
    line("if (jb < " + int_lit(n) + " && kb < " + int_lit(kk) + ") vb = soma_b(" +
         args("kb", "jb") + ");");
    line("sb[e] = vb;");
    close();
    line("barrier();");
    open("for (int q = 0; q < " + std::to_string(kBK) + "; ++q)");
    for (int r = 0; r < kTM; ++r)
      line(T + " ra" + std::to_string(r) + " = sa[q * " + std::to_string(kBM) + " + ty + " +
           std::to_string(kTY * r) + "];");
    for (int s = 0; s < kTN; ++s)
      line(T + " rb" + std::to_string(s) + " = sb[q * " + std::to_string(kBN) + " + tx + " +
           std::to_string(kTX * s) + "];");
    for (int r = 0; r < kTM; ++r)
      for (int s = 0; s < kTN; ++s) {
        std::string a = "acc" + std::to_string(r * kTN + s);
        line(a + " = " + a + " + ra" + std::to_string(r) + " * rb" + std::to_string(s) + ";");
      }
    close();
    close();
    for (int r = 0; r < kTM; ++r)
      for (int s = 0; s < kTN; ++s) {
        std::string gi = "i0 + ty + " + std::to_string(kTY * r),
                    gj = "j0 + tx + " + std::to_string(kTX * s);
        line("if (" + gi + " < " + int_lit(m) + " && " + gj + " < " + int_lit(n) +
             ") soma_epilogue(" + args(gi, gj) + ", acc" + std::to_string(r * kTN + s) + ");");
      }
    close();
    return finish(fn, "void main()");
  }
};

}  // namespace

KernelShader emit_kernel(const Program& program, const Kernel& kernel,
                         const ShaderFeatures& features) {
  return Emitter(program, kernel, features).run();
}

}  // namespace soma::vulkan
