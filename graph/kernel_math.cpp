// Composite math as kernel IR (see kernel_math.h). Polynomial coefficients are computed here
// (Taylor series of exp, sin, cos, erf; the atanh series of log) rather than typed in; the only
// typed constants are the splits of ln 2 and pi/2 and the Abramowitz-Stegun 7.1.26 erf
// approximation used for f32.
#include "graph/kernel_math.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "graph/error.h"

namespace soma::kir {

bool MathSet::has(Op op, DType t) const {
  return std::find(fns.begin(), fns.end(), std::make_pair(op, t)) != fns.end();
}

const MathSet& expandable_math() {
  static const MathSet all = [] {
    MathSet s;
    for (Op op : {Op::Sigmoid, Op::Tanh, Op::Expm1, Op::Log1p, Op::Erf})
      for (DType t : {DType::f32, DType::f64}) s.fns.emplace_back(op, t);
    for (Op op : {Op::Exp, Op::Log, Op::Sin, Op::Cos, Op::Pow}) s.fns.emplace_back(op, DType::f64);
    s.rand = true;
    return s;
  }();
  return all;
}

namespace {

double factorial(int n) {
  double f = 1;
  for (int i = 2; i <= n; ++i) f *= i;
  return f;
}

// 2 atanh(s) = log((1 + s) / (1 - s)) = 2 s (1 + s^2/3 + s^4/5 + ...): the coefficients of z = s^2.
std::vector<double> atanh_series(int terms) {
  std::vector<double> c;
  for (int n = 0; n < terms; ++n) c.push_back(1.0 / (2 * n + 1));
  return c;
}

// ln 2 and pi/2 split so that k * hi is exact for the k that occur (fdlibm's splits).
constexpr double kLn2Hi = 6.93147180369123816490e-01;
constexpr double kLn2Lo = 1.90821492927058770002e-10;
constexpr double kPio2_1 = 1.57079632673412561417e+00;
constexpr double kPio2_2 = 6.07710050630396597660e-11;
constexpr double kPio2_3 = 2.02226624871116645580e-21;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

class Expander {
 public:
  Expander(Kernel& k, const MathSet& wanted) : k_(k), wanted_(wanted) {}

  ExprId unary(Op op, ExprId x) {
    switch (op) {
      case Op::Sigmoid:
        return sigmoid(x);
      case Op::Tanh:
        return tanh(x);
      case Op::Expm1:
        return expm1(x);
      case Op::Log1p:
        return log1p(x);
      case Op::Erf:
        return dt(x) == DType::f64 ? erf_f64(x) : erf_f32(x);
      case Op::Exp:
        return exp_f64(x);
      case Op::Log:
        return log_f64(x);
      case Op::Sin:
        return sincos_f64(x, 0);
      case Op::Cos:
        return sincos_f64(x, 1);
      default:
        break;
    }
    SOMA_CHECK(false) << "no kernel-IR expansion of " << op_name(op);
    return -1;
  }

  // Philox-4x32-10 (graph/philox.h) on counter (c0, c1 = 0, offset, 0) under the key of draw
  // `draw`'s seed, the top 24 bits of its first word scaled to [0, 1) (exact in f32 and f64).
  // The counter is an i32 >= 0, so its high word c1 is 0. Words known to be 0 are left out.
  ExprId philox(int64_t seed, int32_t draw, ExprId counter, ExprId offset, DType t) {
    auto w = [&](WordOp op, ExprId x, ExprId y) { return k_.word_op(op, x, y); };
    auto word = [&](uint32_t v) { return k_.index_const(static_cast<int32_t>(v)); };
    auto xor3 = [&](ExprId x, ExprId y, ExprId z) {  // y may be -1: a word known to be 0
      return w(WordOp::Xor, y < 0 ? x : w(WordOp::Xor, x, y), z);
    };
    ExprId c0 = counter, c1 = -1, c2 = offset, c3 = -1;
    ExprId k0 = k_.seed_word(seed, draw, 0), k1 = k_.seed_word(seed, draw, 1);
    for (int round = 0; round < 10; ++round) {
      ExprId hi0 = w(WordOp::MulHi, c0, word(0xD2511F53u)),
             lo0 = w(WordOp::Mul, c0, word(0xD2511F53u));
      ExprId hi1 = w(WordOp::MulHi, c2, word(0xCD9E8D57u)),
             lo1 = w(WordOp::Mul, c2, word(0xCD9E8D57u));
      c0 = xor3(hi1, c1, k0);
      c1 = lo1;
      c2 = xor3(hi0, c3, k1);
      c3 = lo0;
      if (round == 9) break;
      k0 = w(WordOp::Add, k0, word(0x9E3779B9u));
      k1 = w(WordOp::Add, k1, word(0xBB67AE85u));
    }
    ExprId bits = k_.cast(w(WordOp::Shr, c0, k_.index_const(8)), t);
    return mul(bits, c(1.0 / 16777216.0, t));
  }

  // pow with C's special cases: pow(x, 0) = pow(1, y) = 1 even for NaN; a negative x with a
  // non-integer y is NaN; signs follow odd integer exponents.
  ExprId pow(ExprId x, ExprId y) {
    const DType t = dt(x);
    ExprId ax = abs(x), zero = c(0, t), one = c(1, t), inf = c(kInf, t), nan = c(kNaN, t);
    ExprId yint = eq(floor(y), y);
    ExprId half = mul(y, c(0.5, t));
    ExprId odd = k_.binary(Op::And, yint, k_.binary(Op::Ne, floor(half), half));
    // x < 0 or x = -0 (1/x = -inf): the sign an odd exponent keeps.
    ExprId neg_x = lt(x, zero), y_pos = gt(y, zero);
    ExprId sign_x =
        k_.binary(Op::Or, neg_x, k_.binary(Op::And, eq(x, zero), lt(div(one, x), zero)));
    ExprId r = exp(mul(y, log(ax)));
    r = sel(eq(ax, zero), sel(y_pos, zero, inf), r);
    r = sel(k_.binary(Op::And, neg_x, k_.unary(Op::Not, yint)), nan, r);
    r = sel(eq(ax, inf), sel(y_pos, inf, zero), r);
    r = sel(k_.binary(Op::And, sign_x, odd), neg(r), r);
    ExprId r_yinf = sel(eq(ax, one), one, sel(k_.binary(Op::Eq, lt(ax, one), y_pos), zero, inf));
    r = sel(eq(abs(y), inf), r_yinf, r);
    r = sel(k_.binary(Op::Or, is_nan(x), is_nan(y)), nan, r);
    return sel(k_.binary(Op::Or, eq(y, zero), eq(x, one)), one, r);
  }

 private:
  DType dt(ExprId x) const { return k_.expr(x).dtype; }
  ExprId c(double v, DType t) { return k_.constant(v, t); }
  ExprId add(ExprId a, ExprId b) { return k_.binary(Op::Add, a, b); }
  ExprId sub(ExprId a, ExprId b) { return k_.binary(Op::Sub, a, b); }
  ExprId mul(ExprId a, ExprId b) { return k_.binary(Op::Mul, a, b); }
  ExprId div(ExprId a, ExprId b) { return k_.binary(Op::Div, a, b); }
  ExprId lt(ExprId a, ExprId b) { return k_.binary(Op::Lt, a, b); }
  ExprId gt(ExprId a, ExprId b) { return k_.binary(Op::Gt, a, b); }
  ExprId ge(ExprId a, ExprId b) { return k_.binary(Op::Ge, a, b); }
  ExprId eq(ExprId a, ExprId b) { return k_.binary(Op::Eq, a, b); }
  ExprId sel(ExprId cnd, ExprId a, ExprId b) { return k_.select(cnd, a, b); }
  ExprId abs(ExprId x) { return k_.unary(Op::Abs, x); }
  ExprId neg(ExprId x) { return k_.unary(Op::Neg, x); }
  ExprId floor(ExprId x) { return k_.unary(Op::Floor, x); }
  // x != x: the NaN test (code generators print it as their isnan).
  ExprId is_nan(ExprId x) { return k_.binary(Op::Ne, x, x); }
  // The sign of x on a non-negative r (r for x >= 0 and for NaN).
  ExprId with_sign(ExprId x, ExprId r) { return sel(lt(x, c(0, dt(x))), neg(r), r); }

  // f64 exp and log are primitives unless the target wants them expanded.
  ExprId exp(ExprId x) { return wanted_.has(Op::Exp, dt(x)) ? exp_f64(x) : k_.unary(Op::Exp, x); }
  ExprId log(ExprId x) { return wanted_.has(Op::Log, dt(x)) ? log_f64(x) : k_.unary(Op::Log, x); }

  // sum c[i] * v^i by Horner's rule.
  ExprId horner(const std::vector<double>& coef, ExprId v) {
    const DType t = dt(v);
    ExprId p = c(coef.back(), t);
    for (size_t i = coef.size() - 1; i-- > 0;) p = add(mul(p, v), c(coef[i], t));
    return p;
  }

  // Stable: the exp of a non-positive number only; x >= 0: 1 / (1 + e^-x), x < 0: e^x / (1 + e^x).
  ExprId sigmoid(ExprId x) {
    const DType t = dt(x);
    ExprId e = exp(neg(abs(x)));
    return div(sel(ge(x, c(0, t)), c(1, t), e), add(c(1, t), e));
  }

  // Taylor series below 1/2 (no cancellation), e^x - 1 elsewhere.
  ExprId expm1(ExprId x) {
    const DType t = dt(x);
    std::vector<double> coef;
    for (int n = 1; n <= (t == DType::f64 ? 18 : 9); ++n) coef.push_back(1.0 / factorial(n));
    return sel(lt(abs(x), c(0.5, t)), mul(horner(coef, x), x), sub(exp(x), c(1, t)));
  }

  // log((1 + s) / (1 - s)) with s = x / (2 + x) below 1/2, log(1 + x) elsewhere (NaN below -1
  // as the target's log gives it).
  ExprId log1p(ExprId x) {
    const DType t = dt(x);
    ExprId s = div(x, add(c(2, t), x));
    ExprId near = mul(mul(c(2, t), s), horner(atanh_series(t == DType::f64 ? 17 : 8), mul(s, s)));
    return sel(lt(abs(x), c(0.5, t)), near, log(add(c(1, t), x)));
  }

  // (e^2|x| - 1) / (e^2|x| + 1) through expm1 (exact near 0), 1 where that rounds to 1.
  ExprId tanh(ExprId x) {
    const DType t = dt(x);
    ExprId ax = abs(x);
    ExprId e = expm1(mul(c(2, t), ax));
    ExprId r = sel(ge(ax, c(t == DType::f64 ? 22 : 9, t)), c(1, t), div(e, add(e, c(2, t))));
    return with_sign(x, r);
  }

  // The Taylor series below 1; Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7, a rational function
  // of 1 / (1 + p|x|) times e^-x^2) up to 4; 1 beyond.
  ExprId erf_f32(ExprId x) {
    const DType t = dt(x);
    std::vector<double> coef;
    for (int n = 0; n <= 10; ++n)
      coef.push_back((n % 2 ? -1.0 : 1.0) * 1.1283791670955126 / (factorial(n) * (2 * n + 1)));
    ExprId ax = abs(x);
    ExprId near = mul(x, horner(coef, mul(x, x)));
    ExprId u = div(c(1, t), add(c(1, t), mul(c(0.3275911, t), ax)));
    ExprId q =
        mul(horner({0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429}, u), u);
    ExprId mid = sub(c(1, t), mul(q, exp(neg(mul(ax, ax)))));
    ExprId far = with_sign(x, sel(ge(ax, c(4, t)), c(1, t), mid));
    return sel(ge(ax, c(1, t)), far, near);
  }

  // 2/sqrt(pi) e^-x^2 sum_n (2x^2)^n x / (1*3*...*(2n+1)): positive terms, no cancellation.
  // Below 6 (where erf rounds to 1) the terms fall under 1e-17 of the sum within 98 terms; 120
  // are written out (later ones no longer change the sum).
  ExprId erf_f64(ExprId x) {
    const DType t = dt(x);
    ExprId ax = abs(x), z = mul(ax, ax);
    // e^-x^2 from x^2 = hi + lo exactly (hi: x rounded to 24 bits, squared without rounding), as
    // e^-hi e^-lo: the rounding of x^2 itself would cost up to x^2 ulps.
    ExprId xh = k_.cast(k_.cast(ax, DType::f32), t);
    ExprId lo = mul(sub(ax, xh), add(ax, xh));
    ExprId gauss = mul(exp(neg(mul(xh, xh))), exp(neg(lo)));
    ExprId z2 = mul(c(2, t), z);
    ExprId term = ax, sum = ax;
    for (int n = 1; n <= 120; ++n) {
      term = div(mul(term, z2), c(2 * n + 1, t));
      sum = add(sum, term);
    }
    ExprId r = k_.binary(Op::Min, mul(mul(c(1.1283791670955126, t), gauss), sum), c(1, t));
    return with_sign(x, sel(ge(ax, c(6, t)), c(1, t), r));
  }

  // 2^m for an i32 m with |m| <= 1023, exactly: the product of 2^(2^b) over the bits of |m|.
  ExprId pow2(ExprId m) {
    ExprId am = abs(m), f = c(1, DType::f64);
    for (int b = 0; b < 10; ++b) {
      ExprId bit = eq(k_.imod(k_.idiv(am, int64_t{1} << b), 2), k_.index_const(1));
      f = mul(f, sel(bit, c(std::ldexp(1.0, 1 << b), DType::f64), c(1, DType::f64)));
    }
    return sel(lt(m, k_.index_const(0)), div(c(1, DType::f64), f), f);
  }

  // x = k ln2 + r with |r| <= ln2/2 (Cody-Waite), e^r by its degree-13 Taylor polynomial, times
  // 2^k in two factors (so that subnormal results round once).
  ExprId exp_f64(ExprId x) {
    const DType t = DType::f64;
    ExprId xc = k_.binary(Op::Min, k_.binary(Op::Max, x, c(-746, t)), c(710, t));
    ExprId kf = floor(add(mul(xc, c(1.4426950408889634, t)), c(0.5, t)));
    ExprId r = sub(sub(xc, mul(kf, c(kLn2Hi, t))), mul(kf, c(kLn2Lo, t)));
    std::vector<double> coef;
    for (int n = 0; n <= 13; ++n) coef.push_back(1.0 / factorial(n));
    ExprId n = k_.cast(kf, DType::i32);
    ExprId h = k_.idiv(n, 2);
    ExprId e = mul(mul(horner(coef, r), pow2(h)), pow2(sub(n, h)));
    return sel(gt(x, c(709.782712893384, t)), c(kInf, t), sel(lt(x, c(-745.2, t)), c(0, t), e));
  }

  // x = m 2^e with m in [sqrt(1/2), sqrt(2)) (found by comparisons with powers of two, exact),
  // log m = 2 atanh((m - 1) / (m + 1)) by its series, e ln2 added in two parts.
  ExprId log_f64(ExprId x) {
    const DType t = DType::f64;
    ExprId small = lt(x, c(std::ldexp(1.0, -1000), t));  // subnormals first scaled up
    ExprId m = sel(small, mul(x, c(std::ldexp(1.0, 100), t)), x);
    ExprId e = sel(small, c(-100, t), c(0, t));
    for (int b = 9; b >= 0; --b) {  // m < 1: scale up while m 2^s stays below 2
      const int s = 1 << b;
      ExprId up = lt(m, c(std::ldexp(1.0, 1 - s), t));
      m = sel(up, mul(m, c(std::ldexp(1.0, s), t)), m);
      e = sel(up, sub(e, c(s, t)), e);
    }
    for (int b = 9; b >= 0; --b) {  // m >= 2: scale down while m 2^-s stays at least 1
      const int s = 1 << b;
      ExprId down = ge(m, c(std::ldexp(1.0, s), t));
      m = sel(down, mul(m, c(std::ldexp(1.0, -s), t)), m);
      e = sel(down, add(e, c(s, t)), e);
    }
    ExprId big = ge(m, c(1.4142135623730951, t));
    m = sel(big, mul(m, c(0.5, t)), m);
    e = sel(big, add(e, c(1, t)), e);
    ExprId f = sub(m, c(1, t));
    ExprId s = div(f, add(c(2, t), f));
    ExprId p = horner(atanh_series(12), mul(s, s));
    ExprId r = add(mul(e, c(kLn2Hi, t)), add(mul(mul(c(2, t), s), p), mul(e, c(kLn2Lo, t))));
    r = sel(lt(x, c(0, t)), c(kNaN, t), r);
    r = sel(eq(x, c(0, t)), c(-kInf, t), r);
    return sel(eq(x, c(kInf, t)), c(kInf, t), r);
  }

  // Cody-Waite reduction by pi/2 (accurate for |x| below about 1e6), then the Taylor
  // polynomials of sin and cos on [-pi/4, pi/4]; `q0` = 0 for sin, 1 for cos.
  ExprId sincos_f64(ExprId x, int q0) {
    const DType t = DType::f64;
    std::vector<double> sc, cc;
    for (int n = 0; n <= 8; ++n) {
      const double sg = n % 2 ? -1.0 : 1.0;
      sc.push_back(sg / factorial(2 * n + 1));
      cc.push_back(sg / factorial(2 * n));
    }
    ExprId kf = floor(add(mul(x, c(0.63661977236758134, t)), c(0.5, t)));
    ExprId r =
        sub(sub(sub(x, mul(kf, c(kPio2_1, t))), mul(kf, c(kPio2_2, t))), mul(kf, c(kPio2_3, t)));
    ExprId quarter = sub(kf, mul(c(4, t), floor(mul(kf, c(0.25, t)))));
    ExprId q = k_.imod(add(k_.cast(quarter, DType::i32), k_.index_const(q0)), 4);
    ExprId z = mul(r, r);
    ExprId v = sel(eq(k_.imod(q, 2), k_.index_const(0)), mul(r, horner(sc, z)), horner(cc, z));
    v = sel(ge(q, k_.index_const(2)), neg(v), v);
    return sel(eq(abs(x), c(kInf, t)), c(kNaN, t), v);
  }

  Kernel& k_;
  const MathSet& wanted_;
};

void remap(std::vector<Stmt>& body, const std::vector<ExprId>& map) {
  auto at = [&](ExprId& id) {
    if (id >= 0) id = map[static_cast<size_t>(id)];
  };
  for (Stmt& s : body) {
    at(s.value);
    at(s.index);
    remap(s.body, map);
  }
}

}  // namespace

Kernel expand_math(const Kernel& k, const MathSet& wanted) {
  auto expands = [&](const Expr& e) {
    if (e.kind == ExprKind::Rand) return wanted.rand;
    return (e.kind == ExprKind::Unary || (e.kind == ExprKind::Binary && e.op == Op::Pow)) &&
           wanted.has(e.op, e.dtype) && expandable_math().has(e.op, e.dtype);
  };
  if (std::none_of(k.exprs.begin(), k.exprs.end(), expands)) return k;
  Kernel out = k;
  out.exprs.clear();
  Expander ex(out, wanted);
  std::vector<ExprId> map(k.exprs.size(), -1);
  int32_t draws = 0;  // rand expressions are numbered by id, as kernel_seeds counts them
  for (size_t i = 0; i < k.exprs.size(); ++i) {
    Expr e = k.exprs[i];
    for (ExprId& a : e.a)
      if (a >= 0) a = map[static_cast<size_t>(a)];
    if (!expands(e)) {  // kept as it is (not merged with an equal one: rand slots count them)
      map[i] = static_cast<ExprId>(out.exprs.size());
      out.exprs.push_back(e);
    } else if (e.kind == ExprKind::Rand) {
      map[i] = ex.philox(e.seed, draws++, e.a[0], e.a[1], e.dtype);
    } else if (e.kind == ExprKind::Binary) {
      map[i] = ex.pow(e.a[0], e.a[1]);
    } else {
      map[i] = ex.unary(e.op, e.a[0]);
    }
  }
  remap(out.body, map);
  if (out.is_contraction) {
    for (ExprId* id : {&out.contraction.a, &out.contraction.b})
      if (*id >= 0) *id = map[static_cast<size_t>(*id)];
  }
  return out;
}

}  // namespace soma::kir
