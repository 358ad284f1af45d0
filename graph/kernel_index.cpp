// Index arithmetic of the kernel IR: i32 sums, products, floor divisions and modulos built by the
// lowering (reshapes, permutes, windows) are kept in a canonical, simplified form.
//
// An index is normalized to a sum of terms coef * atom + constant (atoms: vars, divisions,
// modulos, loads); terms are ordered by decreasing |coef|. Floor division and modulo by a
// positive constant d use identities that hold for all integers (floor semantics):
//   (d*q + r) // d = q + r // d          (d*q + r) % d = r % d
//   (x // a) // b  = x // (a*b)           (x % (a*b)) // a = (x // a) % b      (x % (a*b)) % a = x
//   % a x // d = (x // g) // (d/g) = S/g // (d/g)   when x = S + R, g | d, g | every coef of S and
//                                               0 <= R < g (so R // g = 0)
//   x % d = g * (S/g % (d/g)) + R              under the same conditions
// and, in sums, c*(x % a) + c*a*(x // a) = c*x and c*(x % a) + c*a*((x // a) % b) = c*(x % (a*b)).
// Ranges come from the extents of loop vars: x // d = 0 and x % d = x when 0 <= x < d, and
// comparisons that a range decides fold to constants (dropping masks that always hold).
// Every rewrite is exact for every value the loop vars can take, so the kernel means the same.
#include <algorithm>
#include <limits>
#include <numeric>

#include "graph/error.h"
#include "graph/kernel_ir.h"

namespace soma::kir {

namespace {

constexpr int64_t kBig = int64_t{1} << 40;  // beyond any i32 index: treated as unbounded

struct Term {
  ExprId atom;
  int64_t coef;
};

struct Affine {
  std::vector<Term> terms;
  int64_t c = 0;
};

ExprId raw_binary(Kernel& k, Op op, ExprId x, ExprId y) {
  Expr e;
  e.kind = ExprKind::Binary;
  e.op = op;
  e.dtype = k.expr(x).dtype;
  e.a[0] = x;
  e.a[1] = y;
  return k.add(e);
}

ExprId raw_divmod(Kernel& k, ExprKind kind, ExprId x, int64_t d) {
  Expr e;
  e.kind = kind;
  e.dtype = DType::i32;
  e.a[0] = x;
  e.a[1] = k.index_const(d);
  return k.add(e);
}

bool const_of(const Kernel& k, ExprId x, int64_t& v) {
  const Expr& e = k.expr(x);
  if (e.kind != ExprKind::Const) return false;
  v = static_cast<int64_t>(e.value);
  return true;
}

void add_term(Affine& a, ExprId atom, int64_t coef) {
  if (coef == 0) return;
  for (auto it = a.terms.begin(); it != a.terms.end(); ++it)
    if (it->atom == atom) {
      it->coef += coef;
      if (it->coef == 0) a.terms.erase(it);
      return;
    }
  a.terms.push_back({atom, coef});
}

// x * scale, flattened into `a`.
void collect(const Kernel& k, ExprId x, int64_t scale, Affine& a) {
  const Expr& e = k.expr(x);
  int64_t v = 0;
  if (e.kind == ExprKind::Const) {
    a.c += static_cast<int64_t>(e.value) * scale;
    return;
  }
  if (e.kind == ExprKind::Binary && e.dtype == DType::i32) {
    if (e.op == Op::Add) {
      collect(k, e.a[0], scale, a);
      collect(k, e.a[1], scale, a);
      return;
    }
    if (e.op == Op::Sub) {
      collect(k, e.a[0], scale, a);
      collect(k, e.a[1], -scale, a);
      return;
    }
    if (e.op == Op::Mul && const_of(k, e.a[1], v)) {
      collect(k, e.a[0], scale * v, a);
      return;
    }
    if (e.op == Op::Mul && const_of(k, e.a[0], v)) {
      collect(k, e.a[1], scale * v, a);
      return;
    }
  }
  add_term(a, x, scale);
}

bool is_divmod(const Kernel& k, ExprId x, ExprKind kind, ExprId& of, int64_t& d) {
  const Expr& e = k.expr(x);
  if (e.kind != kind) return false;
  of = e.a[0];
  return const_of(k, e.a[1], d);
}

// Merges c*(x % a) with c*a*(x // a) or c*a*((x // a) % b); repeats until nothing merges.
void recombine(Kernel& k, Affine& a) {
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t p = 0; p < a.terms.size() && !changed; ++p) {
      ExprId x = -1;
      int64_t m = 0;
      if (!is_divmod(k, a.terms[p].atom, ExprKind::IMod, x, m)) continue;
      const int64_t c = a.terms[p].coef;
      for (size_t q = 0; q < a.terms.size() && !changed; ++q) {
        if (q == p || a.terms[q].coef != c * m) continue;
        ExprId y = -1, z = -1;
        int64_t d = 0, b = 0;
        if (is_divmod(k, a.terms[q].atom, ExprKind::IDiv, y, d) && y == x && d == m) {
          a.terms.erase(a.terms.begin() + static_cast<long>(std::max(p, q)));
          a.terms.erase(a.terms.begin() + static_cast<long>(std::min(p, q)));
          collect(k, x, c, a);
          changed = true;
        } else if (is_divmod(k, a.terms[q].atom, ExprKind::IMod, y, b) &&
                   is_divmod(k, y, ExprKind::IDiv, z, d) && z == x && d == m) {
          a.terms.erase(a.terms.begin() + static_cast<long>(std::max(p, q)));
          a.terms.erase(a.terms.begin() + static_cast<long>(std::min(p, q)));
          add_term(a, k.imod(x, m * b), c);
          changed = true;
        }
      }
    }
  }
}

// The canonical expression of `a`: terms by decreasing |coef| (then by id), the constant last.
ExprId build(Kernel& k, Affine a) {
  std::stable_sort(a.terms.begin(), a.terms.end(), [](const Term& x, const Term& y) {
    int64_t ax = x.coef < 0 ? -x.coef : x.coef, ay = y.coef < 0 ? -y.coef : y.coef;
    if (ax != ay) return ax > ay;
    return x.atom < y.atom;
  });
  ExprId acc = -1;
  for (const Term& t : a.terms) {
    int64_t mag = t.coef < 0 ? -t.coef : t.coef;
    ExprId term = mag == 1 ? t.atom : raw_binary(k, Op::Mul, t.atom, k.index_const(mag));
    if (acc < 0)
      acc = t.coef < 0 ? raw_binary(k, Op::Sub, k.index_const(0), term) : term;
    else
      acc = raw_binary(k, t.coef < 0 ? Op::Sub : Op::Add, acc, term);
  }
  if (acc < 0) return k.index_const(a.c);
  if (a.c > 0) acc = raw_binary(k, Op::Add, acc, k.index_const(a.c));
  if (a.c < 0) acc = raw_binary(k, Op::Sub, acc, k.index_const(-a.c));
  return acc;
}

int64_t floor_div(int64_t a, int64_t d) {
  return a >= 0 ? a / d : -((-a + d - 1) / d);
}

std::optional<IndexRange> affine_range(const Kernel& k, const std::vector<Term>& terms, size_t from,
                                       int64_t c) {
  int64_t lo = c, hi = c;
  for (size_t i = from; i < terms.size(); ++i) {
    auto r = k.index_range(terms[i].atom);
    if (!r) return std::nullopt;
    int64_t a = r->lo * terms[i].coef, b = r->hi * terms[i].coef;
    lo += std::min(a, b);
    hi += std::max(a, b);
    if (lo < -kBig || hi > kBig) return std::nullopt;
  }
  return IndexRange{lo, hi};
}

// A split x = S + R (S: the terms of largest |coef|) with g | d, g | coefs of S, 0 <= R < g.
// Returns g (> 1) and leaves S in `s`, R in `r`; 0 when there is none.
int64_t split(const Kernel& k, const Affine& a, int64_t d, Affine& s, Affine& r) {
  std::vector<Term> t = a.terms;
  std::stable_sort(t.begin(), t.end(), [](const Term& x, const Term& y) {
    return std::abs(x.coef) > std::abs(y.coef);
  });
  int64_t g = d;
  for (size_t n = 1; n <= t.size(); ++n) {
    g = std::gcd(g, std::abs(t[n - 1].coef));
    if (g <= 1) return 0;
    auto rr = affine_range(k, t, n, a.c);
    if (rr && rr->lo >= 0 && rr->hi < g) {
      s.terms.assign(t.begin(), t.begin() + static_cast<long>(n));
      s.c = 0;
      r.terms.assign(t.begin() + static_cast<long>(n), t.end());
      r.c = a.c;
      return g;
    }
  }
  return 0;
}

}  // namespace

VarId Kernel::new_var(DType t, const std::string& prefix, int64_t extent) {
  vars.push_back(Var{t, prefix + std::to_string(vars.size()), extent});
  return static_cast<VarId>(vars.size() - 1);
}

std::optional<IndexRange> Kernel::index_range(ExprId x) const {
  const Expr& e = expr(x);
  int64_t v = 0;
  switch (e.kind) {
    case ExprKind::Const:
      if (e.dtype != DType::i32 && e.dtype != DType::boolean) return std::nullopt;
      v = static_cast<int64_t>(e.value);
      return IndexRange{v, v};
    case ExprKind::Var: {
      const Var& var = vars[static_cast<size_t>(e.var)];
      if (var.extent > 0) return IndexRange{0, var.extent - 1};
      return std::nullopt;
    }
    case ExprKind::Binary: {
      if (e.dtype != DType::i32) return std::nullopt;
      auto a = index_range(e.a[0]);
      if (!a) return std::nullopt;
      auto b = index_range(e.a[1]);
      if (!b) return std::nullopt;
      switch (e.op) {
        case Op::Add:
          return IndexRange{a->lo + b->lo, a->hi + b->hi};
        case Op::Sub:
          return IndexRange{a->lo - b->hi, a->hi - b->lo};
        case Op::Mul: {
          if (std::max({std::abs(a->lo), std::abs(a->hi), std::abs(b->lo), std::abs(b->hi)}) >
              kBig >> 20)
            return std::nullopt;
          int64_t p[4] = {a->lo * b->lo, a->lo * b->hi, a->hi * b->lo, a->hi * b->hi};
          return IndexRange{*std::min_element(p, p + 4), *std::max_element(p, p + 4)};
        }
        case Op::Max:
          return IndexRange{std::max(a->lo, b->lo), std::max(a->hi, b->hi)};
        case Op::Min:
          return IndexRange{std::min(a->lo, b->lo), std::min(a->hi, b->hi)};
        default:
          return std::nullopt;
      }
    }
    case ExprKind::IDiv: {
      int64_t d = 0;
      auto a = index_range(e.a[0]);
      if (!a || !const_of(*this, e.a[1], d) || d <= 0) return std::nullopt;
      return IndexRange{floor_div(a->lo, d), floor_div(a->hi, d)};
    }
    case ExprKind::IMod: {
      int64_t d = 0;
      if (!const_of(*this, e.a[1], d) || d <= 0) return std::nullopt;
      auto a = index_range(e.a[0]);
      if (a && floor_div(a->lo, d) == floor_div(a->hi, d))
        return IndexRange{a->lo - floor_div(a->lo, d) * d, a->hi - floor_div(a->lo, d) * d};
      return IndexRange{0, d - 1};
    }
    case ExprKind::Select: {
      if (e.dtype != DType::i32) return std::nullopt;
      auto a = index_range(e.a[1]);
      auto b = index_range(e.a[2]);
      if (!a || !b) return std::nullopt;
      return IndexRange{std::min(a->lo, b->lo), std::max(a->hi, b->hi)};
    }
    default:
      return std::nullopt;
  }
}

ExprId Kernel::simplify_index(Op op, ExprId x, ExprId y) {
  const Expr &ex = expr(x), &ey = expr(y);
  if (ex.dtype == DType::i32 && (op == Op::Add || op == Op::Sub || op == Op::Mul)) {
    bool cx = ex.kind == ExprKind::Const, cy = ey.kind == ExprKind::Const;
    if (op == Op::Mul && !cx && !cy) return -1;  // a product of indices is an atom
    Affine a;
    if (op == Op::Mul) {
      collect(*this, cx ? y : x, static_cast<int64_t>(cx ? ex.value : ey.value), a);
    } else {
      collect(*this, x, 1, a);
      collect(*this, y, op == Op::Sub ? -1 : 1, a);
    }
    recombine(*this, a);
    return build(*this, std::move(a));
  }
  if (ex.dtype == DType::i32 && is_comparison(op)) {
    auto a = index_range(x), b = index_range(y);
    if (!a || !b) return -1;
    auto yes = [&] { return constant(1, DType::boolean); };
    auto no = [&] { return constant(0, DType::boolean); };
    switch (op) {
      case Op::Lt:
        if (a->hi < b->lo) return yes();
        if (a->lo >= b->hi) return no();
        break;
      case Op::Le:
        if (a->hi <= b->lo) return yes();
        if (a->lo > b->hi) return no();
        break;
      case Op::Gt:
        if (a->lo > b->hi) return yes();
        if (a->hi <= b->lo) return no();
        break;
      case Op::Ge:
        if (a->lo >= b->hi) return yes();
        if (a->hi < b->lo) return no();
        break;
      case Op::Eq:
        if (a->lo == a->hi && b->lo == b->hi && a->lo == b->lo) return yes();
        if (a->hi < b->lo || b->hi < a->lo) return no();
        break;
      case Op::Ne:
        if (a->hi < b->lo || b->hi < a->lo) return yes();
        if (a->lo == a->hi && b->lo == b->hi && a->lo == b->lo) return no();
        break;
      default:
        break;
    }
    return -1;
  }
  if (ex.dtype == DType::boolean && has_trait(op, Logic)) {
    for (int side = 0; side < 2; ++side) {
      const Expr& c = side == 0 ? ex : ey;
      ExprId other = side == 0 ? y : x;
      if (c.kind != ExprKind::Const) continue;
      bool v = c.value != 0;
      if (op == Op::And) return v ? other : constant(0, DType::boolean);
      return v ? constant(1, DType::boolean) : other;
    }
    if (x == y) return x;
  }
  return -1;
}

ExprId Kernel::idiv(ExprId x, int64_t d) {
  SOMA_CHECK(d > 0) << "idiv by " << d;
  if (d == 1) return x;
  if (auto r = index_range(x); r && floor_div(r->lo, d) == floor_div(r->hi, d))
    return index_const(floor_div(r->lo, d));
  ExprId y = -1;
  int64_t m = 0;
  if (is_divmod(*this, x, ExprKind::IDiv, y, m) && m <= kBig / d) return idiv(y, m * d);
  if (is_divmod(*this, x, ExprKind::IMod, y, m) && m % d == 0) return imod(idiv(y, d), m / d);
  Affine a;
  collect(*this, x, 1, a);
  Affine exact, rest;
  for (const Term& t : a.terms) (t.coef % d == 0 ? exact : rest).terms.push_back(t);
  if (a.c % d == 0)
    exact.c = a.c;
  else
    rest.c = a.c;
  if (!exact.terms.empty() || exact.c != 0) {
    for (Term& t : exact.terms) t.coef /= d;
    exact.c /= d;
    return binary(Op::Add, build(*this, exact), idiv(build(*this, rest), d));
  }
  Affine s, r;
  if (int64_t g = split(*this, a, d, s, r)) {
    for (Term& t : s.terms) t.coef /= g;
    return idiv(build(*this, s), d / g);
  }
  return raw_divmod(*this, ExprKind::IDiv, x, d);
}

ExprId Kernel::imod(ExprId x, int64_t d) {
  SOMA_CHECK(d > 0) << "imod by " << d;
  if (d == 1) return index_const(0);
  if (auto r = index_range(x); r && floor_div(r->lo, d) == floor_div(r->hi, d))
    return r->lo == r->hi ? index_const(r->lo - floor_div(r->lo, d) * d)
                          : binary(Op::Sub, x, index_const(floor_div(r->lo, d) * d));
  ExprId y = -1;
  int64_t m = 0;
  if (is_divmod(*this, x, ExprKind::IMod, y, m) && m % d == 0) return imod(y, d);
  Affine a;
  collect(*this, x, 1, a);
  Affine rest;
  bool dropped = false;
  for (const Term& t : a.terms) {
    if (t.coef % d == 0)
      dropped = true;
    else
      rest.terms.push_back(t);
  }
  rest.c = ((a.c % d) + d) % d;
  if (rest.c != a.c) dropped = true;
  if (dropped) return imod(build(*this, rest), d);
  Affine s, r;
  if (int64_t g = split(*this, a, d, s, r)) {
    for (Term& t : s.terms) t.coef /= g;
    ExprId hi = imod(build(*this, s), d / g);
    return binary(Op::Add, binary(Op::Mul, hi, index_const(g)), build(*this, r));
  }
  return raw_divmod(*this, ExprKind::IMod, x, d);
}

}  // namespace soma::kir
