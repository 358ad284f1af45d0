// The kernel IR's index simplification (graph/kernel_index.cpp): every rewrite must keep the
// value of the expression for every value its loop vars can take. Checked by exhaustive
// evaluation of random index expressions over small var ranges, and on the shapes the lowering
// produces (reshapes of reshapes, windows, pooling gradients).
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <random>

#include "graph/kernel_ir.h"

namespace soma::kir {
namespace {

int64_t floor_div(int64_t a, int64_t d) {
  return a >= 0 ? a / d : -((-a + d - 1) / d);
}
int64_t floor_mod(int64_t a, int64_t d) {
  return a - floor_div(a, d) * d;
}

// Evaluates an i32/bool expression of the kernel at the given var values (no simplification).
int64_t eval(const Kernel& k, ExprId id, const std::vector<int64_t>& vars) {
  const Expr& e = k.expr(id);
  auto a = [&](int i) { return eval(k, e.a[i], vars); };
  switch (e.kind) {
    case ExprKind::Const:
      return static_cast<int64_t>(e.value);
    case ExprKind::Var:
      return vars[static_cast<size_t>(e.var)];
    case ExprKind::IDiv:
      return floor_div(a(0), a(1));
    case ExprKind::IMod:
      return floor_mod(a(0), a(1));
    case ExprKind::Select:
      return a(0) ? a(1) : a(2);
    case ExprKind::Binary:
      switch (e.op) {
        case Op::Add:
          return a(0) + a(1);
        case Op::Sub:
          return a(0) - a(1);
        case Op::Mul:
          return a(0) * a(1);
        case Op::Max:
          return std::max(a(0), a(1));
        case Op::Min:
          return std::min(a(0), a(1));
        case Op::Lt:
          return a(0) < a(1);
        case Op::Le:
          return a(0) <= a(1);
        case Op::Gt:
          return a(0) > a(1);
        case Op::Ge:
          return a(0) >= a(1);
        case Op::Eq:
          return a(0) == a(1);
        case Op::Ne:
          return a(0) != a(1);
        case Op::And:
          return a(0) && a(1);
        case Op::Or:
          return a(0) || a(1);
        default:
          break;
      }
      break;
    default:
      break;
  }
  ADD_FAILURE() << "unexpected expression kind";
  return 0;
}

// A random index expression, built twice: through the Kernel API (simplified) and as a closure
// computing the exact value.
struct Gen {
  std::mt19937 rng;
  Kernel& k;
  std::vector<VarId> vars;
  using Fn = std::function<int64_t(const std::vector<int64_t>&)>;

  int64_t pick(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  }

  std::pair<ExprId, Fn> make(int depth) {
    int choice = depth <= 0 ? static_cast<int>(pick(0, 1)) : static_cast<int>(pick(0, 9));
    switch (choice) {
      case 0: {
        VarId v = vars[static_cast<size_t>(pick(0, static_cast<int64_t>(vars.size()) - 1))];
        return {k.var_ref(v), [v](const std::vector<int64_t>& x) { return x[size_t(v)]; }};
      }
      case 1: {
        int64_t c = pick(-7, 40);
        return {k.index_const(c), [c](const std::vector<int64_t>&) { return c; }};
      }
      case 2:
      case 3: {
        auto [x, fx] = make(depth - 1);
        auto [y, fy] = make(depth - 1);
        return {k.binary(Op::Add, x, y), [fx, fy](auto& v) { return fx(v) + fy(v); }};
      }
      case 4: {
        auto [x, fx] = make(depth - 1);
        auto [y, fy] = make(depth - 1);
        return {k.binary(Op::Sub, x, y), [fx, fy](auto& v) { return fx(v) - fy(v); }};
      }
      case 5: {
        auto [x, fx] = make(depth - 1);
        int64_t c = pick(-3, 12);
        return {k.binary(Op::Mul, x, k.index_const(c)), [fx, c](auto& v) { return fx(v) * c; }};
      }
      case 6: {
        auto [x, fx] = make(depth - 1);
        int64_t d = pick(1, 3) * pick(1, 6);
        return {k.idiv(x, d), [fx, d](auto& v) { return floor_div(fx(v), d); }};
      }
      case 7: {
        auto [x, fx] = make(depth - 1);
        int64_t d = pick(1, 3) * pick(1, 6);
        return {k.imod(x, d), [fx, d](auto& v) { return floor_mod(fx(v), d); }};
      }
      case 8: {  // the reshape round trip x // d * d + x % d
        auto [x, fx] = make(depth - 1);
        int64_t d = pick(2, 12);
        ExprId e =
            k.binary(Op::Add, k.binary(Op::Mul, k.idiv(x, d), k.index_const(d)), k.imod(x, d));
        return {e, fx};
      }
      default: {  // a scaled var plus a bounded remainder, divided (a reshape's split)
        VarId v = vars[static_cast<size_t>(pick(0, static_cast<int64_t>(vars.size()) - 1))];
        VarId w = vars[static_cast<size_t>(pick(0, static_cast<int64_t>(vars.size()) - 1))];
        int64_t ext = k.vars[size_t(w)].extent, c = ext * pick(1, 3), d = ext * pick(1, 4);
        ExprId x =
            k.binary(Op::Add, k.binary(Op::Mul, k.var_ref(v), k.index_const(c)), k.var_ref(w));
        Fn fx = [v, w, c](auto& s) { return s[size_t(v)] * c + s[size_t(w)]; };
        if (pick(0, 1)) return {k.idiv(x, d), [fx, d](auto& s) { return floor_div(fx(s), d); }};
        return {k.imod(x, d), [fx, d](auto& s) { return floor_mod(fx(s), d); }};
      }
    }
  }
};

void for_each_point(const Kernel& k, const std::vector<VarId>& vars,
                    const std::function<void(const std::vector<int64_t>&)>& f) {
  std::vector<int64_t> val(k.vars.size(), 0);
  std::function<void(size_t)> rec = [&](size_t i) {
    if (i == vars.size()) {
      f(val);
      return;
    }
    for (int64_t x = 0; x < k.vars[size_t(vars[i])].extent; ++x) {
      val[size_t(vars[i])] = x;
      rec(i + 1);
    }
  };
  rec(0);
}

TEST(IndexSimplify, RandomExpressionsKeepTheirValues) {
  for (int seed = 0; seed < 400; ++seed) {
    Kernel k;
    std::vector<VarId> vars{k.new_var(DType::i32, "i", 3 + seed % 5),
                            k.new_var(DType::i32, "j", 2 + seed % 7),
                            k.new_var(DType::i32, "k", 4)};
    Gen gen{std::mt19937(static_cast<unsigned>(seed)), k, vars};
    auto [e, f] = gen.make(4);
    for_each_point(k, vars, [&](const std::vector<int64_t>& v) {
      ASSERT_EQ(eval(k, e, v), f(v))
          << "seed " << seed << " at i=" << v[0] << " j=" << v[1] << " k=" << v[2];
    });
    // The range claimed for the expression holds too.
    if (auto r = k.index_range(e))
      for_each_point(k, vars, [&](const std::vector<int64_t>& v) {
        int64_t x = eval(k, e, v);
        ASSERT_TRUE(x >= r->lo && x <= r->hi)
            << "seed " << seed << ": " << x << " outside [" << r->lo << ", " << r->hi << "]";
      });
  }
}

TEST(IndexSimplify, RandomComparisonsKeepTheirValues) {
  for (int seed = 0; seed < 200; ++seed) {
    Kernel k;
    std::vector<VarId> vars{k.new_var(DType::i32, "i", 4), k.new_var(DType::i32, "j", 3),
                            k.new_var(DType::i32, "k", 5)};
    Gen gen{std::mt19937(static_cast<unsigned>(seed + 1000)), k, vars};
    auto [x, fx] = gen.make(3);
    auto [y, fy] = gen.make(2);
    const Op ops[] = {Op::Lt, Op::Le, Op::Gt, Op::Ge, Op::Eq, Op::Ne};
    Op op = ops[seed % 6];
    ExprId c = k.binary(Op::And, k.binary(op, x, y), k.binary(Op::Ge, x, k.index_const(-2)));
    for_each_point(k, vars, [&](const std::vector<int64_t>& v) {
      int64_t a = fx(v), b = fy(v);
      bool want = op == Op::Lt   ? a < b
                  : op == Op::Le ? a <= b
                  : op == Op::Gt ? a > b
                  : op == Op::Ge ? a >= b
                  : op == Op::Eq ? a == b
                                 : a != b;
      want = want && a >= -2;
      ASSERT_EQ(eval(k, c, v) != 0, want) << "seed " << seed;
    });
  }
}

// What the lowering builds for a reshape of a reshape: the flat index decomposed into the axes of
// [2, 3, 4] and recomposed must fold back to the flat index.
TEST(IndexSimplify, ReshapeRoundTripFolds) {
  Kernel k;
  VarId i = k.new_var(DType::i32, "i", 24);
  ExprId x = k.var_ref(i);
  ExprId a = k.idiv(x, 12), b = k.imod(k.idiv(x, 4), 3), c = k.imod(x, 4);
  ExprId flat = k.binary(Op::Add,
                         k.binary(Op::Add, k.binary(Op::Mul, a, k.index_const(12)),
                                  k.binary(Op::Mul, b, k.index_const(4))),
                         c);
  EXPECT_EQ(flat, x);
}

// im2col's view of a window: (row*288 + col) // 34848 with col < 288 is row // 121.
TEST(IndexSimplify, SplitsRowsFromColumns) {
  Kernel k;
  VarId i = k.new_var(DType::i32, "i", 15488), j = k.new_var(DType::i32, "j", 288);
  ExprId x = k.binary(Op::Add, k.binary(Op::Mul, k.var_ref(i), k.index_const(288)), k.var_ref(j));
  EXPECT_EQ(k.idiv(x, 34848), k.idiv(k.var_ref(i), 121));
  EXPECT_EQ(k.imod(k.idiv(x, 9), 32), k.idiv(k.var_ref(j), 9));
  EXPECT_EQ(k.imod(x, 288), k.var_ref(j));
  EXPECT_EQ(k.idiv(x, 288), k.var_ref(i));
}

// Masks that always hold vanish; loads under them lose their mask.
TEST(IndexSimplify, DecidedMasksFold) {
  Kernel k;
  VarId i = k.new_var(DType::i32, "i", 10);
  ExprId x = k.var_ref(i);
  ExprId in = k.binary(Op::And, k.binary(Op::Ge, x, k.index_const(0)),
                       k.binary(Op::Lt, x, k.index_const(10)));
  const Expr& e = k.expr(in);
  EXPECT_EQ(e.kind, ExprKind::Const);
  EXPECT_EQ(e.value, 1);
  ExprId ld = k.load(0, DType::f32, x, in, 0.0);
  EXPECT_EQ(k.expr(ld).a[1], -1);
  // A var without a declared extent is not bounded: nothing folds.
  VarId u = k.new_var(DType::i32, "u");
  ExprId ge = k.binary(Op::Ge, k.var_ref(u), k.index_const(0));
  EXPECT_EQ(k.expr(ge).kind, ExprKind::Binary);
  EXPECT_EQ(k.idiv(k.var_ref(u), 4), k.idiv(k.var_ref(u), 4));
  EXPECT_EQ(k.expr(k.idiv(k.var_ref(u), 4)).kind, ExprKind::IDiv);
}

}  // namespace
}  // namespace soma::kir
