#include "graph/kernel_verify.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <vector>

namespace soma::kir {

namespace {

// Stops the walk after the first problem when only one is wanted.
struct Stop {};

class Checker {
 public:
  Checker(const Program& p, std::function<bool(const std::string&)> report)
      : p_(p), report_(std::move(report)) {}

  void run() {
    check_buffers();
    for (const Kernel& k : p_.kernels) check_kernel(k);
  }

 private:
  const Program& p_;
  std::function<bool(const std::string&)> report_;
  const Kernel* k_ = nullptr;
  // Per kernel: which vars are bound on the current path, and a visit stamp per expression for
  // the scope walk of one statement.
  std::vector<uint8_t> bound_;
  std::vector<uint32_t> seen_;
  uint32_t stamp_ = 0;

  void problem(const std::string& what) {
    std::string msg = "kernel-IR verifier: ";
    if (k_) msg += "kernel " + k_->name + ": ";
    if (!report_(msg + what)) throw Stop{};
  }

  bool valid_buffer(BufferId b) const {
    return b >= 0 && static_cast<size_t>(b) < p_.buffers.size();
  }
  const Buffer& buffer(BufferId b) const { return p_.buffers[static_cast<size_t>(b)]; }
  std::string buffer_text(BufferId b) const {
    return valid_buffer(b) ? buffer(b).name : "buffer #" + std::to_string(b);
  }
  bool valid_var(VarId v) const { return v >= 0 && static_cast<size_t>(v) < k_->vars.size(); }
  std::string var_text(VarId v) const {
    return valid_var(v) ? k_->vars[static_cast<size_t>(v)].name : "var #" + std::to_string(v);
  }
  bool valid_expr(ExprId e) const { return e >= 0 && static_cast<size_t>(e) < k_->exprs.size(); }
  DType type(ExprId e) const { return k_->expr(e).dtype; }

  // ---- the program's buffers, outputs and updates ----

  void check_buffers() {
    bool any_planned = false, any_unplanned = false;
    for (const Buffer& b : p_.buffers) {
      const std::string at = "buffer " + b.name + ": ";
      if (static_cast<int>(b.dtype) > static_cast<int>(DType::boolean))
        problem(at + "dtype code " + std::to_string(static_cast<int>(b.dtype)));
      for (int64_t d : b.shape.dims())
        if (d < 0) problem(at + "negative dimension in " + b.shape.str());
      if (b.kind == Buffer::Kind::Constant) {
        const size_t n = static_cast<size_t>(std::max<int64_t>(b.numel(), 0));
        if (b.data.size() != 1 && b.data.size() != n)
          problem(at + "a constant of " + std::to_string(n) + " elements holds " +
                  std::to_string(b.data.size()) + " values (one, or one per element)");
        for (double v : b.data)
          if (!representable(v, b.dtype)) {
            problem(at + "value " + std::to_string(v) + " is not a " + dtype_name(b.dtype));
            break;
          }
      } else if (!b.data.empty()) {
        problem(at + "a " + std::string(kind_name(b.kind)) + " buffer holds data");
      }
      if (b.kind == Buffer::Kind::Temp) {
        (b.offset >= 0 ? any_planned : any_unplanned) = true;
        if (b.offset >= 0 && b.offset % static_cast<int64_t>(dtype_size(b.dtype)) != 0)
          problem(at + "arena offset " + std::to_string(b.offset) + " is not a multiple of " +
                  std::to_string(dtype_size(b.dtype)));
        if (b.offset >= 0 && b.offset + b.bytes() > p_.arena_bytes)
          problem(at + "bytes [" + std::to_string(b.offset) + ", " +
                  std::to_string(b.offset + b.bytes()) + ") lie outside the arena of " +
                  std::to_string(p_.arena_bytes) + " bytes");
      } else if (b.offset != -1) {
        problem(at + "only temps have an arena offset");
      }
    }
    if (any_planned && any_unplanned) {
      // Once the arena is planned, every temp a kernel touches has its place in it (a temp
      // that lowering left unused, e.g. one an in-place update replaced, has none).
      std::vector<uint8_t> used(p_.buffers.size(), 0);
      for (const Kernel& k : p_.kernels)
        for (const auto* list : {&k.reads, &k.writes})
          for (BufferId b : *list)
            if (valid_buffer(b)) used[static_cast<size_t>(b)] = 1;
      for (size_t i = 0; i < p_.buffers.size(); ++i) {
        const Buffer& b = p_.buffers[i];
        if (used[i] && b.kind == Buffer::Kind::Temp && b.offset < 0)
          problem("buffer " + b.name +
                  ": a temp that kernels use has no place in the planned arena");
      }
    }
    if (p_.arena_bytes < 0) problem("negative arena size");
    for (BufferId b : p_.outputs)
      if (!valid_buffer(b)) problem("output " + buffer_text(b) + " does not exist");
    for (auto& [pb, vb] : p_.updates) {
      if (!valid_buffer(pb) || !valid_buffer(vb)) {
        problem("update " + buffer_text(pb) + " <- " + buffer_text(vb) + " names no buffer");
        continue;
      }
      const Buffer &param = buffer(pb), &value = buffer(vb);
      if (param.kind != Buffer::Kind::Param)
        problem("update target " + param.name + " is a " + kind_name(param.kind) +
                " buffer, not a param");
      if (param.dtype != value.dtype || param.numel() != value.numel())
        problem("update " + param.name + " (" + dtype_name(param.dtype) + param.shape.str() +
                ") <- " + value.name + " (" + dtype_name(value.dtype) + value.shape.str() + ")");
    }
  }

  static bool representable(double v, DType t) {
    switch (t) {
      case DType::boolean:
        return v == 0 || v == 1;
      case DType::i32:
        return v == std::floor(v) && v >= -2147483648.0 && v <= 2147483647.0;
      case DType::f32:
      case DType::f64:
        return true;
    }
    return false;
  }

  // ---- one kernel ----

  void check_kernel(const Kernel& k) {
    k_ = &k;
    bound_.assign(k.vars.size(), 0);
    seen_.assign(k.exprs.size(), 0);
    stamp_ = 0;
    check_vars();
    check_access_lists();
    for (size_t i = 0; i < k.exprs.size(); ++i) check_expr(static_cast<ExprId>(i));
    check_draws();
    if (k.is_contraction) check_contraction_shape();
    bind_axes(k.parallel, "the parallel domain");
    if (k.is_contraction) {
      const Contraction& c = k.contraction;
      bind_axes({c.k}, "the contracted axis");
      use(c.a, "the contraction's a");
      use(c.b, "the contraction's b");
      unbind_axes({c.k});
      if (valid_var(c.acc)) {
        if (valid_expr(c.a) && k.vars[static_cast<size_t>(c.acc)].dtype != type(c.a))
          problem("the accumulator " + var_text(c.acc) + " is " +
                  dtype_name(k.vars[static_cast<size_t>(c.acc)].dtype) + ", its products " +
                  dtype_name(type(c.a)));
        if (valid_expr(c.a) && valid_expr(c.b) && type(c.a) != type(c.b))
          problem("the contraction's a and b have different dtypes");
        bind(c.acc, "the accumulator");
      } else {
        problem("the accumulator is " + var_text(c.acc));
      }
    }
    std::vector<VarId> scope;
    stmts(k.body, scope);
    k_ = nullptr;
  }

  // A kernel's random draws are its rand expressions or, once expanded, the seeds its Seed
  // expressions name: draws 0..n-1, each with one seed (kernel_seeds).
  void check_draws() {
    bool rands = false;
    std::vector<std::optional<int64_t>> seeds;
    for (const Expr& e : k_->exprs) {
      if (e.kind == ExprKind::Rand) rands = true;
      if (e.kind != ExprKind::Seed || e.var < 0) continue;
      auto draw = static_cast<size_t>(e.var);
      if (seeds.size() <= draw) seeds.resize(draw + 1);
      if (seeds[draw] && *seeds[draw] != e.seed)
        problem("random draw " + std::to_string(draw) + " has two seeds");
      seeds[draw] = e.seed;
    }
    if (rands && !seeds.empty())
      problem("has both rand expressions and expanded draws (seed words)");
    for (size_t d = 0; d < seeds.size(); ++d)
      if (!seeds[d])
        problem("names random draw " + std::to_string(seeds.size() - 1) + " but not draw " +
                std::to_string(d));
  }

  void check_vars() {
    for (size_t i = 0; i < k_->vars.size(); ++i) {
      const Var& v = k_->vars[i];
      if (v.name.empty()) problem("var #" + std::to_string(i) + " has no name");
      for (size_t j = 0; j < i; ++j)
        if (k_->vars[j].name == v.name) problem("two vars are named " + v.name);
    }
  }

  void check_access_lists() {
    for (const auto* list : {&k_->reads, &k_->writes}) {
      const char* what = list == &k_->reads ? "reads" : "writes";
      for (size_t i = 0; i < list->size(); ++i) {
        BufferId b = (*list)[i];
        if (!valid_buffer(b)) {
          problem(std::string(what) + " " + buffer_text(b) + ", which does not exist");
          continue;
        }
        if (std::find(list->begin(), list->begin() + static_cast<long>(i), b) !=
            list->begin() + static_cast<long>(i))
          problem(std::string(what) + " lists " + buffer(b).name + " twice");
      }
    }
    for (BufferId b : k_->writes) {
      if (!valid_buffer(b)) continue;
      const Buffer& buf = buffer(b);
      bool in_place =
          std::find(p_.updates.begin(), p_.updates.end(), std::make_pair(b, b)) != p_.updates.end();
      if (buf.kind == Buffer::Kind::Input || buf.kind == Buffer::Kind::Constant ||
          (buf.kind == Buffer::Kind::Param && !in_place))
        problem("writes " + buf.name + ", a " + kind_name(buf.kind) +
                " buffer that no kernel may write" +
                (buf.kind == Buffer::Kind::Param ? " (it is not updated in place)" : ""));
    }
  }

  bool declared(const std::vector<BufferId>& list, BufferId b) const {
    return std::find(list.begin(), list.end(), b) != list.end();
  }

  void expect(ExprId id, DType t, const std::string& what) {
    if (valid_expr(id) && type(id) != t)
      problem(what + " must be " + dtype_name(t) + ", not " + dtype_name(type(id)));
  }

  void check_expr(ExprId i) {
    const Expr& e = k_->expr(i);
    const std::string at = "expression " + std::to_string(i) + " ";
    int arity = 0;
    switch (e.kind) {
      case ExprKind::Const:
        if (!representable(e.value, e.dtype))
          problem(at + "is the constant " + std::to_string(e.value) + ", not a " +
                  dtype_name(e.dtype));
        break;
      case ExprKind::Var:
        if (!valid_var(e.var)) {
          problem(at + "reads " + var_text(e.var));
        } else if (e.dtype != k_->vars[static_cast<size_t>(e.var)].dtype) {
          problem(at + "reads " + var_text(e.var) + " (" +
                  dtype_name(k_->vars[static_cast<size_t>(e.var)].dtype) + ") as " +
                  dtype_name(e.dtype));
        }
        break;
      case ExprKind::Load:
      case ExprKind::Binary:
      case ExprKind::IDiv:
      case ExprKind::IMod:
      case ExprKind::Rand:
      case ExprKind::Word:
        arity = 2;
        break;
      case ExprKind::Seed:
        if (e.dtype != DType::i32 || e.var < 0 || (e.value != 0 && e.value != 1))
          problem(at + "is a seed word that is not word 0 or 1 of a draw, in i32");
        break;
      case ExprKind::Unary:
      case ExprKind::Cast:
        arity = 1;
        break;
      case ExprKind::Select:
        arity = 3;
        break;
      default:
        problem(at + "has kind code " + std::to_string(static_cast<int>(e.kind)));
        return;
    }
    for (int j = 0; j < 3; ++j) {
      ExprId a = e.a[j];
      bool optional = e.kind == ExprKind::Load && j == 1 && a == -1;
      bool unused = j >= arity && a == -1;
      if (optional || unused) continue;
      if (j >= arity || a < 0 || a >= i) {
        problem(at + "has operand " + std::to_string(a) +
                " (operands must be earlier expressions)");
        return;
      }
    }
    auto type_of = [&](int j) { return type(e.a[j]); };
    switch (e.kind) {
      case ExprKind::Const:
      case ExprKind::Var:
      case ExprKind::Seed:
        break;
      case ExprKind::Word: {
        expect(i, DType::i32, at + "(" + word_op_name(e.word) + ")");
        expect(e.a[0], DType::i32, at + "(an operand of " + word_op_name(e.word) + ")");
        expect(e.a[1], DType::i32, at + "(an operand of " + word_op_name(e.word) + ")");
        if (e.word > WordOp::Shr)
          problem(at + "has word op code " + std::to_string(static_cast<int>(e.word)));
        const Expr& n = k_->expr(e.a[1]);
        if (e.word == WordOp::Shr && (n.kind != ExprKind::Const || n.value < 0 || n.value > 31))
          problem(at + "shifts by something other than a constant in [0, 31]");
        break;
      }
      case ExprKind::Load:
        if (!valid_buffer(e.buffer)) {
          problem(at + "loads " + buffer_text(e.buffer));
          break;
        }
        if (e.dtype != buffer(e.buffer).dtype)
          problem(at + "loads " + dtype_name(e.dtype) + " from " + buffer(e.buffer).name + " (" +
                  dtype_name(buffer(e.buffer).dtype) + ")");
        if (!declared(k_->reads, e.buffer) && !declared(k_->writes, e.buffer))
          problem(at + "loads from " + buffer(e.buffer).name +
                  ", which is not in the kernel's reads");
        expect(e.a[0], DType::i32, at + "(a load index)");
        if (e.a[1] >= 0) expect(e.a[1], DType::boolean, at + "(a load mask)");
        if (e.a[1] < 0 && e.value != 0) problem(at + "is an unmasked load with a masked value");
        break;
      case ExprKind::Unary:
        if (op_info(e.op).arity != 1) problem(at + "applies " + op_name(e.op) + " to one operand");
        if (e.op == Op::Not) {
          expect(e.a[0], DType::boolean, at + "(the operand of not)");
          expect(i, DType::boolean, at + "(not)");
        } else if (e.dtype != type_of(0)) {
          problem(at + ": " + op_name(e.op) + " changes the dtype");
        }
        break;
      case ExprKind::Cast:
        break;
      case ExprKind::Binary: {
        if (op_info(e.op).arity != 2) problem(at + "applies " + op_name(e.op) + " to two operands");
        if (type_of(0) != type_of(1)) {
          problem(at + "(" + op_name(e.op) + ") has operands of dtypes " + dtype_name(type_of(0)) +
                  " and " + dtype_name(type_of(1)));
          break;
        }
        bool logical = has_trait(e.op, Logic);
        if (logical) expect(e.a[0], DType::boolean, at + "(an operand of and/or)");
        DType want = is_comparison(e.op) || logical ? DType::boolean : type_of(0);
        if (e.dtype != want)
          problem(at + "(" + op_name(e.op) + ") has the result dtype " + dtype_name(e.dtype) +
                  ", not " + dtype_name(want));
        break;
      }
      case ExprKind::IDiv:
      case ExprKind::IMod: {
        expect(i, DType::i32, at + "(idiv/imod)");
        expect(e.a[0], DType::i32, at + "(an idiv/imod operand)");
        const Expr& d = k_->expr(e.a[1]);
        if (d.kind != ExprKind::Const || d.dtype != DType::i32 || d.value <= 0)
          problem(at + "divides by something other than a positive i32 constant");
        break;
      }
      case ExprKind::Select:
        expect(e.a[0], DType::boolean, at + "(a select condition)");
        if (type_of(1) != e.dtype || type_of(2) != e.dtype)
          problem(at + "is a " + dtype_name(e.dtype) + " select of " + dtype_name(type_of(1)) +
                  " and " + dtype_name(type_of(2)));
        break;
      case ExprKind::Rand:
        expect(e.a[0], DType::i32, at + "(a rand counter)");
        expect(e.a[1], DType::i32, at + "(a rand offset)");
        if (!is_float(e.dtype)) problem(at + "is a rand of dtype " + dtype_name(e.dtype));
        break;
    }
  }

  void check_contraction_shape() {
    const Contraction& c = k_->contraction;
    bool ok = k_->parallel.size() == c.batch.size() + 2;
    for (size_t i = 0; ok && i < c.batch.size(); ++i)
      ok = c.batch[i].var == k_->parallel[i].var && c.batch[i].extent == k_->parallel[i].extent;
    if (!ok) problem("a contraction's parallel axes must be its batch axes, then i and j");
  }

  // ---- scopes ----

  void bind(VarId v, const std::string& by) {
    if (!valid_var(v)) {
      problem(by + " binds " + var_text(v));
      return;
    }
    if (bound_[static_cast<size_t>(v)]) problem(by + " binds " + var_text(v) + ", already bound");
    bound_[static_cast<size_t>(v)] = 1;
  }
  void unbind(VarId v) {
    if (valid_var(v)) bound_[static_cast<size_t>(v)] = 0;
  }

  void bind_axes(const std::vector<Axis>& axes, const std::string& by) {
    for (const Axis& a : axes) {
      bind(a.var, by);
      if (valid_var(a.var) && k_->vars[static_cast<size_t>(a.var)].dtype != DType::i32)
        problem("axis " + var_text(a.var) + " must be i32");
      if (a.extent < 0) problem("axis " + var_text(a.var) + " has a negative extent");
    }
  }
  void unbind_axes(const std::vector<Axis>& axes) {
    for (const Axis& a : axes) unbind(a.var);
  }

  // Every var `id` reads must be bound here.
  void use(ExprId id, const std::string& what) {
    if (!valid_expr(id)) {
      problem(what + " is expression " + std::to_string(id) + " of " +
              std::to_string(k_->exprs.size()));
      return;
    }
    ++stamp_;
    std::vector<ExprId> stack = {id};
    while (!stack.empty()) {
      ExprId e = stack.back();
      stack.pop_back();
      if (e < 0 || seen_[static_cast<size_t>(e)] == stamp_) continue;
      seen_[static_cast<size_t>(e)] = stamp_;
      const Expr& x = k_->expr(e);
      if (x.kind == ExprKind::Var && valid_var(x.var) && !bound_[static_cast<size_t>(x.var)]) {
        problem(what + " reads " + var_text(x.var) + " outside its scope");
        return;
      }
      for (ExprId a : x.a)
        if (a >= 0 && a < e) stack.push_back(a);
    }
  }

  void stmts(const std::vector<Stmt>& body, std::vector<VarId>& scope) {
    const size_t mark = scope.size();
    open_stmts(body, scope);
    unbind_to(scope, mark);
  }

  void unbind_to(std::vector<VarId>& scope, size_t mark) {
    while (scope.size() > mark) {
      unbind(scope.back());
      scope.pop_back();
    }
  }

  // The statements of `body`, leaving the lets and reduces they bind in `scope`.
  void open_stmts(const std::vector<Stmt>& body, std::vector<VarId>& scope) {
    for (const Stmt& s : body) {
      switch (s.kind) {
        case Stmt::Kind::Let:
          use(s.value, "let " + var_text(s.var));
          check_var_type(s.var, s.value, "let");
          bind(s.var, "let " + var_text(s.var));
          scope.push_back(s.var);
          break;
        case Stmt::Kind::Reduce: {
          if (s.reduce_op != Op::ReduceSum && s.reduce_op != Op::ReduceMax)
            problem(std::string("reduce with ") + op_name(s.reduce_op));
          // The body's lets are visible to the value the reduce yields.
          bind_axes(s.axes, "reduce " + var_text(s.var));
          const size_t inner = scope.size();
          open_stmts(s.body, scope);
          use(s.value, "reduce " + var_text(s.var));
          unbind_to(scope, inner);
          unbind_axes(s.axes);
          check_var_type(s.var, s.value, "reduce");
          bind(s.var, "reduce " + var_text(s.var));
          scope.push_back(s.var);
          break;
        }
        case Stmt::Kind::Loop:
          bind_axes(s.axes, "a loop");
          stmts(s.body, scope);
          unbind_axes(s.axes);
          break;
        case Stmt::Kind::Store:
          if (!valid_buffer(s.buffer)) {
            problem("store to " + buffer_text(s.buffer));
            break;
          }
          if (!declared(k_->writes, s.buffer))
            problem("stores to " + buffer(s.buffer).name + ", which is not in the kernel's writes");
          use(s.index, "the index of a store to " + buffer(s.buffer).name);
          use(s.value, "the value of a store to " + buffer(s.buffer).name);
          // (a stored value is converted to the buffer's dtype)
          expect(s.index, DType::i32, "the index of a store to " + buffer(s.buffer).name);
          break;
      }
      if (s.kind != Stmt::Kind::Reduce && s.kind != Stmt::Kind::Loop && !s.body.empty())
        problem("a let or store has a body");
    }
  }

  void check_var_type(VarId v, ExprId value, const char* what) {
    if (!valid_var(v) || !valid_expr(value)) return;
    DType vt = k_->vars[static_cast<size_t>(v)].dtype;
    if (vt != type(value))
      problem(std::string(what) + " " + var_text(v) + " (" + dtype_name(vt) + ") = a " +
              dtype_name(type(value)) + " value");
  }
};

}  // namespace

std::vector<std::string> verify_all(const Program& p) {
  std::vector<std::string> out;
  Checker(p, [&](const std::string& m) {
    out.push_back(m);
    return true;
  }).run();
  return out;
}

void verify(const Program& p) {
  std::string first;
  try {
    Checker(p, [&](const std::string& m) {
      first = m;
      return false;
    }).run();
  } catch (const Stop&) {
    throw VerifyError(first);
  }
}

}  // namespace soma::kir
