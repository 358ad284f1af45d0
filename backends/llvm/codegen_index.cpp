// Kernel IR -> LLVM IR: index arithmetic (see codegen_internal.h). Index expressions of loop
// counters and constants are computed in i64 without wrapping, so that LLVM sees consecutive
// accesses; per-lane indices serve the vectorized reductions.
#include "backends/llvm/codegen_internal.h"

#include <algorithm>
#include <functional>

namespace soma::jit::detail {

namespace {

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
int64_t floor_mod(int64_t a, int64_t b) {
  return a - floor_div(a, b) * b;
}

// Coefficients and constants stay far from overflow (indices are below 2^31).
constexpr int64_t kLinearLimit = int64_t{1} << 40;

void scale_form(LinearIndex& f, int64_t m) {
  for (auto& vc : f.vars) vc.second *= m;
  for (auto& a : f.atoms) a.coef *= m;
  f.c0 *= m;
}

// f += g
void add_form(LinearIndex& f, const LinearIndex& g) {
  f.vars.insert(f.vars.end(), g.vars.begin(), g.vars.end());
  f.atoms.insert(f.atoms.end(), g.atoms.begin(), g.atoms.end());
  f.c0 += g.c0;
  f.divmod = f.divmod || g.divmod;
}

bool in_limits(const LinearIndex& f) {
  auto ok = [](int64_t v) { return v > -kLinearLimit && v < kLinearLimit; };
  for (const auto& vc : f.vars)
    if (!ok(vc.second)) return false;
  for (const auto& a : f.atoms)
    if (!ok(a.coef) || !ok(a.div) || !ok(a.mod)) return false;
  return ok(f.c0);
}

}  // namespace

// `id` (a pure index) as base + stride * lane, when it is affine in the vectorized variable.
bool KernelEmitter::affine(ExprId id, int64_t& stride) {
  const kir::Expr& e = k_.expr(id);
  if (!varying(id)) {
    stride = 0;
    return true;
  }
  switch (e.kind) {
    case ExprKind::Var:
      if (e.var == vvar_) {
        stride = 1;
        return true;
      }
      return let_expr_[static_cast<size_t>(e.var)] >= 0 &&
             affine(let_expr_[static_cast<size_t>(e.var)], stride);
    case ExprKind::Binary: {
      int64_t s0 = 0, s1 = 0;
      if (e.op != Op::Add && e.op != Op::Sub && e.op != Op::Mul) return false;
      if (!affine(e.a[0], s0) || !affine(e.a[1], s1)) return false;
      if (e.op == Op::Add) stride = s0 + s1;
      if (e.op == Op::Sub) stride = s0 - s1;
      if (e.op == Op::Mul) {
        const kir::Expr &x = k_.expr(e.a[0]), &y = k_.expr(e.a[1]);
        if (s1 == 0 && y.kind == ExprKind::Const)
          stride = s0 * static_cast<int64_t>(y.value);
        else if (s0 == 0 && x.kind == ExprKind::Const)
          stride = s1 * static_cast<int64_t>(x.value);
        else
          return false;
      }
      return true;
    }
    default:
      return false;
  }
}

// Per-lane indices of a varying index expression, as i32 (a gather's offsets): the kernel IR's
// index type, and a buffer holds fewer than 2^31 elements, so i32 arithmetic (wrapping, as the IR
// defines it) gives every valid index exactly. Vector division by a constant is a multiply-high
// in i32 lanes but scalar code in i64 lanes, which no x86 vector unit has.
llvm::Value* KernelEmitter::vidx(ExprId id) {
  auto* vt = llvm::FixedVectorType::get(i32_, vf_);
  if (!varying(id)) return b_.CreateVectorSplat(vf_, b_.CreateTrunc(idx(id), i32_));
  const kir::Expr& e = k_.expr(id);
  if (!pure(id)) return b_.CreateSExtOrTrunc(vval(id), vt);
  switch (e.kind) {
    case ExprKind::Var:
      if (e.var == vvar_) return jvec32_;
      return vidx(let_expr_[static_cast<size_t>(e.var)]);
    case ExprKind::Binary: {
      if (e.op == Op::Add || e.op == Op::Sub) return vidx_sum(id);
      llvm::Value *x = vidx(e.a[0]), *y = vidx(e.a[1]);
      switch (e.op) {
        case Op::Mul:
          return b_.CreateMul(x, y);
        case Op::Max:
          return b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, x, y);
        default:
          return b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, x, y);
      }
    }
    case ExprKind::IDiv:
    case ExprKind::IMod: {
      bool mod = e.kind == ExprKind::IMod;
      llvm::Value* x = vidx(e.a[0]);
      llvm::Value* d = cint(x, static_cast<int64_t>(k_.expr(e.a[1]).value));
      if (nonneg(e.a[0])) return mod ? b_.CreateURem(x, d) : b_.CreateUDiv(x, d);
      return floor_divmod(x, d, mod);
    }
    case ExprKind::Select: {
      llvm::Value *c = vval(e.a[0]), *x = vidx(e.a[1]), *y = vidx(e.a[2]);
      match_shapes(c, x);
      return b_.CreateSelect(c, x, y);
    }
    default:
      break;
  }
  unsupported(p_, k_, "bad vector index expression");
}

// A sum of index terms (an add/sub tree, through lets), regrouped: the terms that vary across
// the lanes are added as vectors, the others as one scalar added last. A packing loop's index is
// mostly such a sum of a part along its loop and a part along the lanes (an im2col's window
// offset and pixel offset); grouped, the lanes' part is loop-invariant and hoisted out.
llvm::Value* KernelEmitter::vidx_sum(ExprId id) {
  std::vector<std::pair<ExprId, bool>> terms;  // (term, negated)
  std::function<void(ExprId, bool)> collect = [&](ExprId x, bool neg) {
    const kir::Expr& e = k_.expr(x);
    if (e.kind == ExprKind::Binary && (e.op == Op::Add || e.op == Op::Sub)) {
      collect(e.a[0], neg);
      collect(e.a[1], e.op == Op::Sub ? !neg : neg);
      return;
    }
    if (e.kind == ExprKind::Var && !is_axis_[static_cast<size_t>(e.var)] &&
        let_expr_[static_cast<size_t>(e.var)] >= 0 && pure(let_expr_[static_cast<size_t>(e.var)])) {
      collect(let_expr_[static_cast<size_t>(e.var)], neg);
      return;
    }
    terms.push_back({x, neg});
  };
  collect(id, false);
  llvm::Value *vec = nullptr, *scalar = nullptr;
  for (const auto& [x, neg] : terms) {
    if (varying(x)) {
      llvm::Value* v = vidx(x);
      vec = !vec ? (neg ? b_.CreateNeg(v) : v) : neg ? b_.CreateSub(vec, v) : b_.CreateAdd(vec, v);
    } else {
      llvm::Value* v = idx(x);
      scalar = !scalar ? (neg ? b_.CreateNeg(v) : v)
               : neg   ? b_.CreateSub(scalar, v)
                       : b_.CreateAdd(scalar, v);
    }
  }
  if (!scalar) return vec;
  return b_.CreateAdd(vec, b_.CreateVectorSplat(vf_, b_.CreateTrunc(scalar, i32_)));
}

// ---- index arithmetic in i64 ----

// Whether `id` is i32 arithmetic of loop counters and constants only (never overflows for a
// valid program, so it can be computed in i64 without wrapping).
bool KernelEmitter::pure(ExprId id) {
  size_t i = expr_index(id);
  if (pure_[i] >= 0) return pure_[i];
  const kir::Expr& e = k_.exprs[i];
  pure_[i] = 0;  // guards against cycles in malformed IR
  bool r = false;
  if (e.dtype == DType::i32) {
    switch (e.kind) {
      case ExprKind::Const:
        r = true;
        break;
      case ExprKind::Var: {
        size_t v = static_cast<size_t>(e.var);
        if (v < is_axis_.size()) r = is_axis_[v] || (let_expr_[v] >= 0 && pure(let_expr_[v]));
        break;
      }
      case ExprKind::Binary:
        r = (e.op == Op::Add || e.op == Op::Sub || e.op == Op::Mul || e.op == Op::Max ||
             e.op == Op::Min) &&
            pure(e.a[0]) && pure(e.a[1]);
        break;
      case ExprKind::IDiv:
      case ExprKind::IMod:
        r = pure(e.a[0]) && k_.expr(e.a[1]).kind == ExprKind::Const && k_.expr(e.a[1]).value > 0;
        break;
      case ExprKind::Select:
        r = pure(e.a[1]) && pure(e.a[2]);
        break;
      default:
        break;
    }
  }
  pure_[i] = r;
  return r;
}

bool KernelEmitter::nonneg(ExprId id) {
  size_t i = expr_index(id);
  if (nonneg_[i] >= 0) return nonneg_[i];
  const kir::Expr& e = k_.exprs[i];
  nonneg_[i] = 0;  // guards against cycles in malformed IR
  bool r = false;
  switch (e.kind) {
    case ExprKind::Const:
      r = e.value >= 0;
      break;
    case ExprKind::Var: {
      size_t v = static_cast<size_t>(e.var);
      r = v < is_axis_.size() && (is_axis_[v] || (let_expr_[v] >= 0 && nonneg(let_expr_[v])));
      break;
    }
    case ExprKind::Binary:
      if (e.op == Op::Add || e.op == Op::Mul || e.op == Op::Min)
        r = nonneg(e.a[0]) && nonneg(e.a[1]);
      else if (e.op == Op::Max)
        r = nonneg(e.a[0]) || nonneg(e.a[1]);
      break;
    case ExprKind::IMod:
      r = true;
      break;
    case ExprKind::IDiv:
      r = nonneg(e.a[0]);
      break;
    case ExprKind::Select:
      r = nonneg(e.a[1]) && nonneg(e.a[2]);
      break;
    default:
      break;
  }
  nonneg_[i] = r;
  return r;
}

// The value of i32 expression `id` as an i64 index.
llvm::Value* KernelEmitter::idx(ExprId id) {
  size_t i = expr_index(id);
  if (icache_[i]) return icache_[i];
  llvm::Value* v;
  if (!pure(id)) {
    v = b_.CreateSExt(val(id), i64_);
  } else if (LinearIndex f; linear_index(id, f) && f.divmod && f.atoms.empty()) {
    v = emit_linear(f);  // a reshaped view: plain strided arithmetic instead of div/mod
  } else {
    v = idx_pure(k_.exprs[i]);
  }
  if (!volatile_[i]) icache_[i] = v;
  return v;
}

llvm::Value* KernelEmitter::idx_pure(const kir::Expr& e) {
  switch (e.kind) {
    case ExprKind::Const:
      return i64c(static_cast<int64_t>(e.value));
    case ExprKind::Var: {
      size_t v = static_cast<size_t>(e.var);
      if (is_axis_[v]) {
        llvm::Value* c = vars_[v].index;
        SOMA_CHECK(c) << "llvm backend: kernel " << k_.name << ": loop variable " << k_.vars[v].name
                      << " has no counter where it is read";
        return c;
      }
      return idx(let_expr_[v]);
    }
    case ExprKind::Binary: {
      llvm::Value* x = idx(e.a[0]);
      llvm::Value* y = idx(e.a[1]);
      switch (e.op) {
        case Op::Add:
          return b_.CreateAdd(x, y, "", false, true);
        case Op::Sub:
          return b_.CreateSub(x, y, "", false, true);
        case Op::Mul:
          return b_.CreateMul(x, y, "", false, true);
        case Op::Max:
          return b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, x, y);
        default:
          return b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, x, y);
      }
    }
    case ExprKind::IDiv:
    case ExprKind::IMod: {
      bool mod = e.kind == ExprKind::IMod;
      llvm::Value* x = idx(e.a[0]);
      llvm::Value* d = i64c(static_cast<int64_t>(k_.expr(e.a[1]).value));
      if (nonneg(e.a[0])) return mod ? b_.CreateURem(x, d) : b_.CreateUDiv(x, d);
      return floor_divmod(x, d, mod);
    }
    case ExprKind::Select:
      return b_.CreateSelect(val(e.a[0]), idx(e.a[1]), idx(e.a[2]));
    default:
      break;
  }
  unsupported(p_, k_, "bad index expression");
}

// ---- linear forms of index expressions ----

bool KernelEmitter::linear_index(ExprId id, LinearIndex& out) {
  size_t i = expr_index(id);
  if (lin_state_[i] < 0) {
    lin_state_[i] = 0;  // guards against cycles in malformed IR
    LinearIndex f;
    bool ok = pure(id) && linear_index_uncached(id, f) && in_limits(f);
    if (ok) lin_[i] = std::move(f);
    lin_state_[i] = ok ? 1 : 0;
  }
  if (lin_state_[i] == 0) return false;
  out = lin_[i];
  return true;
}

bool KernelEmitter::linear_index_uncached(ExprId id, LinearIndex& f) {
  const kir::Expr& e = k_.expr(id);
  switch (e.kind) {
    case ExprKind::Const:
      f.c0 = static_cast<int64_t>(e.value);
      return true;
    case ExprKind::Var: {
      size_t v = static_cast<size_t>(e.var);
      if (is_axis_[v]) {
        f.vars.push_back({e.var, 1});
        return true;
      }
      return let_expr_[v] >= 0 && linear_index(let_expr_[v], f);
    }
    case ExprKind::Binary: {
      LinearIndex x, y;
      if (!linear_index(e.a[0], x) || !linear_index(e.a[1], y)) return false;
      auto constant_only = [](const LinearIndex& g) { return g.vars.empty() && g.atoms.empty(); };
      if (e.op == Op::Add || e.op == Op::Sub) {
        if (e.op == Op::Sub) scale_form(y, -1);
        f = std::move(x);
        add_form(f, y);
      } else if (e.op == Op::Mul && (constant_only(x) || constant_only(y))) {
        const bool dm = x.divmod || y.divmod;
        const int64_t m = constant_only(x) ? x.c0 : y.c0;
        f = constant_only(x) ? std::move(y) : std::move(x);
        f.divmod = dm;
        scale_form(f, m);
      } else {
        return false;
      }
      if (!in_limits(f)) return false;
      simplify_form(f);
      return true;
    }
    case ExprKind::IDiv:
    case ExprKind::IMod: {
      const bool mod = e.kind == ExprKind::IMod;
      const int64_t d = static_cast<int64_t>(k_.expr(e.a[1]).value);  // > 0: the expr is pure
      LinearIndex lx;
      if (d <= 0 || d >= kLinearLimit || !linear_index(e.a[0], lx)) return false;
      if (lx.vars.empty() && lx.c0 == 0 && lx.atoms.size() == 1 && lx.atoms[0].coef == 1 &&
          lx.atoms[0].mod == 0) {
        // (y // a) // d = y // (a * d); (y // a) % d is an atom of y
        const LinearIndex::Atom a = lx.atoms[0];
        if (a.div >= kLinearLimit / d) return false;
        LinearIndex ly;
        if (!linear_index(a.x, ly)) return false;
        f = mod ? divmod_form(a.x, ly, a.div, d) : divmod_form(a.x, ly, a.div * d, 0);
        return true;
      }
      if (!lx.atoms.empty()) return false;
      f = mod ? divmod_form(e.a[0], lx, 1, d) : divmod_form(e.a[0], lx, d, 0);
      return true;
    }
    default:
      return false;
  }
}

LinearIndex KernelEmitter::divmod_form(ExprId x, const LinearIndex& lx, int64_t div, int64_t mod) {
  LinearIndex atom;
  atom.atoms.push_back({x, div, mod, 1});
  atom.divmod = true;
  // Splits g = m * Q + R, R holding the terms whose coefficient m does not divide and c0 mod m;
  // g // m = Q and g % m = R when 0 <= R < m.
  auto split = [&](const LinearIndex& g, int64_t m, LinearIndex& q, LinearIndex& r) {
    for (const auto& [v, c] : g.vars) {
      if (c % m == 0)
        q.vars.push_back({v, c / m});
      else
        r.vars.push_back({v, c});
    }
    q.c0 = floor_div(g.c0, m);
    r.c0 = floor_mod(g.c0, m);
    int64_t lo = 0, hi = 0;
    return form_range(r, lo, hi) && lo >= 0 && hi < m;
  };
  LinearIndex q = lx;
  if (div > 1) {
    LinearIndex qq, r;
    if (!split(lx, div, qq, r)) return atom;
    q = std::move(qq);
  }
  if (mod > 0) {
    LinearIndex qq, r;
    if (!split(q, mod, qq, r)) return atom;
    q = std::move(r);
  }
  q.divmod = true;
  return q;
}

void KernelEmitter::simplify_form(LinearIndex& f) {
  auto collect = [&] {
    std::vector<std::pair<VarId, int64_t>> vars;
    for (const auto& [v, c] : f.vars) {
      auto it = std::find_if(vars.begin(), vars.end(), [&](const auto& w) { return w.first == v; });
      if (it == vars.end())
        vars.push_back({v, c});
      else
        it->second += c;
    }
    std::erase_if(vars, [](const auto& w) { return w.second == 0; });
    f.vars = std::move(vars);
    std::vector<LinearIndex::Atom> atoms;
    for (const LinearIndex::Atom& a : f.atoms) {
      auto it = std::find_if(atoms.begin(), atoms.end(), [&](const LinearIndex::Atom& b) {
        return b.x == a.x && b.div == a.div && b.mod == a.mod;
      });
      if (it == atoms.end())
        atoms.push_back(a);
      else
        it->coef += a.coef;
    }
    std::erase_if(atoms, [](const LinearIndex::Atom& a) { return a.coef == 0; });
    f.atoms = std::move(atoms);
  };
  collect();
  // c * ((x // d) % a) + c * a * ((x // (d * a)) % b) = c * ((x // d) % (a * b)), and with no
  // modulo b: = c * (x // d). Then the merged atom may resolve to a linear form.
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < f.atoms.size() && !changed; ++i) {
      const LinearIndex::Atom a1 = f.atoms[i];
      if (a1.mod <= 0) continue;
      for (size_t j = 0; j < f.atoms.size() && !changed; ++j) {
        const LinearIndex::Atom a2 = f.atoms[j];
        if (j == i || a2.x != a1.x || a2.div != a1.div * a1.mod || a2.coef != a1.coef * a1.mod)
          continue;
        if (a2.mod > 0 && a2.mod >= kLinearLimit / a1.mod) continue;
        LinearIndex lx;
        if (!linear_index(a1.x, lx)) continue;
        LinearIndex merged = divmod_form(a1.x, lx, a1.div, a2.mod > 0 ? a1.mod * a2.mod : 0);
        scale_form(merged, a1.coef);
        f.atoms.erase(f.atoms.begin() + static_cast<std::ptrdiff_t>(std::max(i, j)));
        f.atoms.erase(f.atoms.begin() + static_cast<std::ptrdiff_t>(std::min(i, j)));
        add_form(f, merged);
        collect();
        changed = true;
      }
    }
  }
}

bool KernelEmitter::form_range(const LinearIndex& f, int64_t& lo, int64_t& hi) {
  lo = hi = f.c0;
  for (const auto& [v, c] : f.vars) {
    int64_t e = extent_[static_cast<size_t>(v)];
    if (e <= 0) return false;
    lo += std::min<int64_t>(0, c * (e - 1));
    hi += std::max<int64_t>(0, c * (e - 1));
  }
  for (const LinearIndex::Atom& a : f.atoms) {
    if (a.mod <= 0) return false;
    lo += std::min<int64_t>(0, a.coef * (a.mod - 1));
    hi += std::max<int64_t>(0, a.coef * (a.mod - 1));
  }
  return true;
}

llvm::Value* KernelEmitter::emit_linear(const LinearIndex& f) {
  SOMA_CHECK(f.atoms.empty()) << "emit_linear of a form with atoms";
  llvm::Value* v = nullptr;
  for (const auto& [var, c] : f.vars) {
    llvm::Value* counter = vars_[static_cast<size_t>(var)].index;
    SOMA_CHECK(counter) << "llvm backend: kernel " << k_.name << ": loop variable "
                        << k_.vars[static_cast<size_t>(var)].name
                        << " has no counter where it is read";
    llvm::Value* t = c == 1 ? counter : b_.CreateMul(counter, i64c(c), "", false, true);
    v = v ? b_.CreateAdd(v, t, "", false, true) : t;
  }
  if (!v) return i64c(f.c0);
  return f.c0 ? b_.CreateAdd(v, i64c(f.c0), "", false, true) : v;
}

}  // namespace soma::jit::detail
