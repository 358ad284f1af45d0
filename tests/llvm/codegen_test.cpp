// The llvm backend against hand-computed values: every expression kind and statement kind.
#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <functional>
#include <limits>

#include "backends/llvm/llvm_backend.h"
#include "graph/philox.h"
#include "tests/llvm/llvm_test_util.h"
#include "tests/sanitizer.h"

namespace soma::test {
namespace {

using kir::ExprId;
using kir::Kernel;

// y[i] = f(x[i]) over a 1-D input.
kir::Program map_program(DType in, DType out, int64_t n,
                         const std::function<ExprId(Kernel&, ExprId)>& f) {
  ProgramBuilder b;
  auto x = b.input("x", in, Shape{n});
  auto y = b.output(out, Shape{n});
  Kernel& k = b.kernel("map");
  ExprId i = parallel_axis(k, n);
  k.reads.push_back(x);
  store(k, y, i, f(k, k.load(x, in, i)));
  return b.p;
}

// y[i] = f(x[i], z[i]).
kir::Program zip_program(DType in, DType out, int64_t n,
                         const std::function<ExprId(Kernel&, ExprId, ExprId)>& f) {
  ProgramBuilder b;
  auto x = b.input("x", in, Shape{n});
  auto z = b.input("z", in, Shape{n});
  auto y = b.output(out, Shape{n});
  Kernel& k = b.kernel("zip");
  ExprId i = parallel_axis(k, n);
  k.reads = {x, z};
  store(k, y, i, f(k, k.load(x, in, i), k.load(z, in, i)));
  return b.p;
}

const std::vector<double> kUnaryInputs = {-3.5, -1,  -0.25, -0.0, 0,    0.5,  2,    10,
                                          30,   -30, 88,    -100, kNaN, kInf, -kInf};

double sigmoid_ref(double x) {
  return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
}
double sign_ref(double x) {
  return std::isnan(x) ? x : (x > 0) - (x < 0);
}

struct UnaryCase {
  Op op;
  double (*ref)(double);
};
const UnaryCase kUnary[] = {
    {Op::Neg, [](double x) { return -x; }},
    {Op::Abs, [](double x) { return std::fabs(x); }},
    {Op::Sign, sign_ref},
    {Op::Floor, [](double x) { return std::floor(x); }},
    {Op::Exp, [](double x) { return std::exp(x); }},
    {Op::Expm1, [](double x) { return std::expm1(x); }},
    {Op::Log, [](double x) { return std::log(x); }},
    {Op::Log1p, [](double x) { return std::log1p(x); }},
    {Op::Sqrt, [](double x) { return std::sqrt(x); }},
    {Op::Rsqrt, [](double x) { return 1.0 / std::sqrt(x); }},
    {Op::Sin, [](double x) { return std::sin(x); }},
    {Op::Cos, [](double x) { return std::cos(x); }},
    {Op::Tanh, [](double x) { return std::tanh(x); }},
    {Op::Sigmoid, sigmoid_ref},
    {Op::Erf, [](double x) { return std::erf(x); }},
};

TEST(LlvmCodegen, EveryUnaryFloatOp) {
  for (DType t : {DType::f32, DType::f64}) {
    for (const UnaryCase& c : kUnary) {
      SCOPED_TRACE(std::string(op_name(c.op)) + " " + dtype_name(t));
      int64_t n = static_cast<int64_t>(kUnaryInputs.size());
      auto p = map_program(t, t, n, [&](Kernel& k, ExprId x) { return k.unary(c.op, x); });
      Array x = Array::from_doubles(t, Shape{n}, kUnaryInputs);
      auto out = run_llvm(p, {{"x", x}});
      std::vector<double> want;
      for (int64_t i = 0; i < n; ++i) {
        double v = c.ref(x.get(i));  // the input as stored (rounded to t)
        want.push_back(t == DType::f32 ? static_cast<float>(v) : v);
      }
      // f32 transcendental functions: within a few ulp of the correctly rounded result.
      expect_values(out[0], want, t == DType::f32 ? 4e-7 : 1e-15);
      expect_matches_kernel_eval(p, {{"x", x}}, {}, t == DType::f32 ? 4e-7 : 1e-15);
    }
  }
}

TEST(LlvmCodegen, SigmoidIsStableForLargeInputs) {
  auto p = map_program(DType::f32, DType::f32, 4,
                       [](Kernel& k, ExprId x) { return k.unary(Op::Sigmoid, x); });
  auto out =
      run_llvm(p, {{"x", Array::from_f32(Shape{4}, std::vector<float>{-200, -90, 90, 200})}});
  EXPECT_EQ(out[0].get(0), 0.0);
  EXPECT_GT(out[0].get(1), 0.0);  // exp(-90) ~ 8e-40: a denormal, not 0/0
  EXPECT_EQ(out[0].get(2), 1.0);
  EXPECT_EQ(out[0].get(3), 1.0);
}

TEST(LlvmCodegen, BinaryFloatOps) {
  const std::vector<double> xs = {1.5, -2, 0, 3, kNaN, 2, kInf, -0.5};
  const std::vector<double> zs = {2, 4, -1, kNaN, 1, 0.5, 1, 3};
  int64_t n = static_cast<int64_t>(xs.size());
  struct Case {
    Op op;
    std::function<double(double, double)> ref;
  };
  auto max_nan = [](double a, double b) {
    return std::isnan(a) || std::isnan(b) ? kNaN : a > b ? a : b;
  };
  auto min_nan = [](double a, double b) {
    return std::isnan(a) || std::isnan(b) ? kNaN : a < b ? a : b;
  };
  std::vector<Case> cases = {
      {Op::Add, [](double a, double b) { return a + b; }},
      {Op::Sub, [](double a, double b) { return a - b; }},
      {Op::Mul, [](double a, double b) { return a * b; }},
      {Op::Div, [](double a, double b) { return a / b; }},
      {Op::Pow, [](double a, double b) { return std::pow(a, b); }},
      {Op::Max, max_nan},
      {Op::Min, min_nan},
  };
  for (DType t : {DType::f32, DType::f64}) {
    Array x = Array::from_doubles(t, Shape{n}, xs), z = Array::from_doubles(t, Shape{n}, zs);
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(op_name(c.op)) + " " + dtype_name(t));
      auto p =
          zip_program(t, t, n, [&](Kernel& k, ExprId a, ExprId b) { return k.binary(c.op, a, b); });
      auto out = run_llvm(p, {{"x", x}, {"z", z}});
      std::vector<double> want;
      for (size_t i = 0; i < xs.size(); ++i) want.push_back(c.ref(xs[i], zs[i]));
      expect_values(out[0], want);
    }
  }
}

TEST(LlvmCodegen, ComparisonsAndLogic) {
  const std::vector<double> xs = {1, 2, 3, kNaN, -1, 0};
  const std::vector<double> zs = {2, 2, 1, kNaN, -1, kNaN};
  int64_t n = 6;
  struct Case {
    Op op;
    std::function<bool(double, double)> ref;
  };
  std::vector<Case> cases = {
      {Op::Lt, [](double a, double b) { return a < b; }},
      {Op::Le, [](double a, double b) { return a <= b; }},
      {Op::Gt, [](double a, double b) { return a > b; }},
      {Op::Ge, [](double a, double b) { return a >= b; }},
      {Op::Eq, [](double a, double b) { return a == b; }},
      {Op::Ne, [](double a, double b) { return a != b; }},
  };
  for (DType t : {DType::f32, DType::f64, DType::i32}) {
    Array x = Array::from_doubles(t, Shape{n}, xs), z = Array::from_doubles(t, Shape{n}, zs);
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(op_name(c.op)) + " " + dtype_name(t));
      auto p = zip_program(t, DType::boolean, n,
                           [&](Kernel& k, ExprId a, ExprId b) { return k.binary(c.op, a, b); });
      auto out = run_llvm(p, {{"x", x}, {"z", z}});
      ASSERT_EQ(out[0].dtype(), DType::boolean);
      for (int64_t i = 0; i < n; ++i)
        EXPECT_EQ(out[0].get(i), c.ref(x.get(i), z.get(i)) ? 1.0 : 0.0) << "element " << i;
    }
  }
  // bool and/or/not, bool eq
  Array a = Array::from_doubles(DType::boolean, Shape{4}, std::vector<double>{0, 0, 1, 1});
  Array b = Array::from_doubles(DType::boolean, Shape{4}, std::vector<double>{0, 1, 0, 1});
  auto p_and = zip_program(DType::boolean, DType::boolean, 4,
                           [](Kernel& k, ExprId x, ExprId y) { return k.binary(Op::And, x, y); });
  expect_values(run_llvm(p_and, {{"x", a}, {"z", b}})[0], {0, 0, 0, 1});
  auto p_or = zip_program(DType::boolean, DType::boolean, 4,
                          [](Kernel& k, ExprId x, ExprId y) { return k.binary(Op::Or, x, y); });
  expect_values(run_llvm(p_or, {{"x", a}, {"z", b}})[0], {0, 1, 1, 1});
  auto p_eq = zip_program(DType::boolean, DType::boolean, 4,
                          [](Kernel& k, ExprId x, ExprId y) { return k.binary(Op::Eq, x, y); });
  expect_values(run_llvm(p_eq, {{"x", a}, {"z", b}})[0], {1, 0, 0, 1});
  auto p_not = map_program(DType::boolean, DType::boolean, 4,
                           [](Kernel& k, ExprId x) { return k.unary(Op::Not, x); });
  expect_values(run_llvm(p_not, {{"x", a}})[0], {1, 1, 0, 0});
}

TEST(LlvmCodegen, IntegerOpsWrap) {
  const double big = 2147483647, small = -2147483648.0;
  const std::vector<double> xs = {big, small, -7, 7, 0, -1};
  const std::vector<double> zs = {1, -1, 3, -3, 5, small};
  int64_t n = 6;
  auto wrap = [](int64_t v) {
    return static_cast<double>(static_cast<int32_t>(static_cast<uint32_t>(v)));
  };
  struct Case {
    Op op;
    std::function<int64_t(int64_t, int64_t)> ref;
  };
  std::vector<Case> cases = {
      {Op::Add, [](int64_t a, int64_t b) { return a + b; }},
      {Op::Sub, [](int64_t a, int64_t b) { return a - b; }},
      {Op::Mul, [](int64_t a, int64_t b) { return a * b; }},
      {Op::Max, [](int64_t a, int64_t b) { return std::max(a, b); }},
      {Op::Min, [](int64_t a, int64_t b) { return std::min(a, b); }},
  };
  Array x = Array::from_doubles(DType::i32, Shape{n}, xs),
        z = Array::from_doubles(DType::i32, Shape{n}, zs);
  for (const Case& c : cases) {
    SCOPED_TRACE(op_name(c.op));
    auto p = zip_program(DType::i32, DType::i32, n,
                         [&](Kernel& k, ExprId a, ExprId b) { return k.binary(c.op, a, b); });
    auto out = run_llvm(p, {{"x", x}, {"z", z}});
    std::vector<double> want;
    for (size_t i = 0; i < xs.size(); ++i)
      want.push_back(wrap(c.ref(static_cast<int64_t>(xs[i]), static_cast<int64_t>(zs[i]))));
    expect_values(out[0], want);
    expect_matches_kernel_eval(p, {{"x", x}, {"z", z}});
  }
  // Unary: neg (INT_MIN wraps to itself), abs, sign.
  auto neg = map_program(DType::i32, DType::i32, n,
                         [](Kernel& k, ExprId a) { return k.unary(Op::Neg, a); });
  expect_values(run_llvm(neg, {{"x", x}})[0], {-big, small, 7, -7, 0, 1});
  auto abs = map_program(DType::i32, DType::i32, n,
                         [](Kernel& k, ExprId a) { return k.unary(Op::Abs, a); });
  expect_values(run_llvm(abs, {{"x", x}})[0], {big, small, 7, 7, 0, 1});
  auto sign = map_program(DType::i32, DType::i32, n,
                          [](Kernel& k, ExprId a) { return k.unary(Op::Sign, a); });
  expect_values(run_llvm(sign, {{"x", x}})[0], {1, -1, -1, 1, 0, -1});
}

TEST(LlvmCodegen, FloorDivisionAndModulo) {
  const std::vector<double> xs = {-7, -6, -1, 0, 1, 5, 6, 7, -2147483648.0, 2147483647};
  int64_t n = static_cast<int64_t>(xs.size());
  Array x = Array::from_doubles(DType::i32, Shape{n}, xs);
  auto q = map_program(DType::i32, DType::i32, n, [](Kernel& k, ExprId a) { return k.idiv(a, 3); });
  auto r = map_program(DType::i32, DType::i32, n, [](Kernel& k, ExprId a) { return k.imod(a, 3); });
  std::vector<double> wq, wr;
  for (double v : xs) {
    wq.push_back(std::floor(v / 3));
    wr.push_back(v - 3 * std::floor(v / 3));
  }
  expect_values(run_llvm(q, {{"x", x}})[0], wq);
  expect_values(run_llvm(r, {{"x", x}})[0], wr);
}

TEST(LlvmCodegen, IndexArithmeticOfLoopVariables) {
  // y[i] = x[(i % 4) * 3 + i / 4] (a transpose through div/mod) + x[(i - 5) mod 12]
  //        + float((i - 5) floordiv 2)
  ProgramBuilder b;
  auto x = b.input("x", DType::f32, Shape{12});
  auto y = b.output(DType::f32, Shape{12});
  Kernel& k = b.kernel("index");
  ExprId i = parallel_axis(k, 12);
  k.reads.push_back(x);
  ExprId t = k.binary(Op::Add, k.binary(Op::Mul, k.imod(i, 4), i32c(k, 3)), k.idiv(i, 4));
  ExprId shifted = k.binary(Op::Sub, i, i32c(k, 5));
  ExprId v =
      k.binary(Op::Add, k.load(x, DType::f32, t), k.load(x, DType::f32, k.imod(shifted, 12)));
  v = k.binary(Op::Add, v, k.cast(k.idiv(shifted, 2), DType::f32));
  store(k, y, i, v);
  std::vector<float> xv(12);
  for (int j = 0; j < 12; ++j) xv[static_cast<size_t>(j)] = static_cast<float>(j * j);
  auto out = run_llvm(b.p, {{"x", Array::from_f32(Shape{12}, xv)}});
  std::vector<double> want;
  for (int j = 0; j < 12; ++j) {
    int tt = (j % 4) * 3 + j / 4, m = (((j - 5) % 12) + 12) % 12;
    want.push_back(xv[static_cast<size_t>(tt)] + xv[static_cast<size_t>(m)] +
                   std::floor((j - 5) / 2.0));
  }
  expect_values(out[0], want);
}

TEST(LlvmCodegen, Casts) {
  const std::vector<double> xs = {1e10, -1e10, kNaN, 2.7, -2.7, 0, kInf, -kInf, 0.4};
  int64_t n = static_cast<int64_t>(xs.size());
  for (DType t : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(t));
    Array x = Array::from_doubles(t, Shape{n}, xs);
    auto to_i =
        map_program(t, DType::i32, n, [](Kernel& k, ExprId a) { return k.cast(a, DType::i32); });
    expect_values(run_llvm(to_i, {{"x", x}})[0],
                  {2147483647, -2147483648.0, 0, 2, -2, 0, 2147483647, -2147483648.0, 0});
    auto to_b = map_program(t, DType::boolean, n,
                            [](Kernel& k, ExprId a) { return k.cast(a, DType::boolean); });
    expect_values(run_llvm(to_b, {{"x", x}})[0], {1, 1, 1, 1, 1, 0, 1, 1, 1});
  }
  Array x64 = Array::from_f64(Shape{3}, std::vector<double>{1.0 / 3, 1e300, -1e-300});
  auto narrow = map_program(DType::f64, DType::f32, 3,
                            [](Kernel& k, ExprId a) { return k.cast(a, DType::f32); });
  expect_values(run_llvm(narrow, {{"x", x64}})[0], {static_cast<float>(1.0 / 3), kInf, -0.0}, 0);
  Array xi = Array::from_i32(Shape{3}, std::vector<int32_t>{-5, 0, 16777217});
  auto widen = map_program(DType::i32, DType::f64, 3,
                           [](Kernel& k, ExprId a) { return k.cast(a, DType::f64); });
  expect_values(run_llvm(widen, {{"x", xi}})[0], {-5, 0, 16777217});
  auto i_to_b = map_program(DType::i32, DType::boolean, 3,
                            [](Kernel& k, ExprId a) { return k.cast(a, DType::boolean); });
  expect_values(run_llvm(i_to_b, {{"x", xi}})[0], {1, 0, 1});
  Array xb = Array::from_doubles(DType::boolean, Shape{2}, std::vector<double>{1, 0});
  auto b_to_f = map_program(DType::boolean, DType::f32, 2,
                            [](Kernel& k, ExprId a) { return k.cast(a, DType::f32); });
  expect_values(run_llvm(b_to_f, {{"x", xb}})[0], {1, 0});
  auto b_to_i = map_program(DType::boolean, DType::i32, 2,
                            [](Kernel& k, ExprId a) { return k.cast(a, DType::i32); });
  expect_values(run_llvm(b_to_i, {{"x", xb}})[0], {1, 0});
}

TEST(LlvmCodegen, SelectAndMaskedLoadPadding) {
  // y[i] = (1 <= i && i <= 4) ? x[i - 1] : -7   (pad 1 on each side), then where(y > 2, y, 0)
  ProgramBuilder b;
  auto x = b.input("x", DType::f32, Shape{4});
  auto y = b.output(DType::f32, Shape{6});
  auto z = b.output(DType::f32, Shape{6});
  Kernel& k = b.kernel("pad");
  ExprId i = parallel_axis(k, 6);
  k.reads.push_back(x);
  ExprId src = k.binary(Op::Sub, i, i32c(k, 1));
  ExprId ok =
      k.binary(Op::And, k.binary(Op::Ge, src, i32c(k, 0)), k.binary(Op::Lt, src, i32c(k, 4)));
  ExprId v = k.load(x, DType::f32, src, ok, -7);
  store(k, y, i, v);
  store(k, z, i,
        k.select(k.binary(Op::Gt, v, k.constant(2, DType::f32)), v, k.constant(0, DType::f32)));
  Feeds feeds{{"x", Array::from_f32(Shape{4}, std::vector<float>{1, 2, 3, 4})}};
  auto out = run_llvm(b.p, feeds);
  expect_values(out[0], {-7, 1, 2, 3, 4, -7});
  expect_values(out[1], {0, 0, 0, 3, 4, 0});
  expect_matches_kernel_eval(b.p, feeds);
}

TEST(LlvmCodegen, RandMatchesPhilox) {
  for (DType t : {DType::f32, DType::f64}) {
    ProgramBuilder b;
    auto off = b.input("offset", DType::i32, Shape{});
    auto y = b.output(t, Shape{1000});
    Kernel& k = b.kernel("rand");
    ExprId i = parallel_axis(k, 1000);
    k.reads.push_back(off);
    int64_t seed = 0x123456789abLL;
    store(k, y, i, k.rand(seed, i, k.load(off, DType::i32, i32c(k, 0)), t));
    auto out = run_llvm(b.p, {{"offset", Array::scalar(DType::i32, 7)}});
    for (int64_t j = 0; j < 1000; ++j)
      ASSERT_EQ(out[0].get(j),
                philox_uniform(static_cast<uint64_t>(seed), static_cast<uint64_t>(j), 7))
          << j;
  }
}

// Row softmax with a NaN row: two reductions and a loop, as in DESIGN.md.
TEST(LlvmCodegen, SoftmaxRowsReduceAndLoop) {
  const int64_t rows = 5, cols = 10;
  ProgramBuilder b;
  auto x = b.input("x", DType::f32, Shape{rows, cols});
  auto y = b.output(DType::f32, Shape{rows, cols});
  Kernel& k = b.kernel("softmax");
  ExprId i = parallel_axis(k, rows);
  k.reads.push_back(x);
  auto row_load = [&](kir::VarId j) {
    return k.load(x, DType::f32,
                  k.binary(Op::Add, k.binary(Op::Mul, i, i32c(k, cols)), k.var_ref(j)));
  };
  kir::Stmt mx;
  mx.kind = kir::Stmt::Kind::Reduce;
  mx.reduce_op = Op::ReduceMax;
  mx.var = k.new_var(DType::f32, "m");
  kir::VarId j0 = k.new_var(DType::i32, "j");
  mx.axes = {{j0, cols}};
  mx.value = row_load(j0);
  k.body.push_back(mx);
  ExprId m = k.var_ref(mx.var);
  kir::Stmt sum;
  sum.kind = kir::Stmt::Kind::Reduce;
  sum.reduce_op = Op::ReduceSum;
  sum.var = k.new_var(DType::f32, "s");
  kir::VarId j1 = k.new_var(DType::i32, "j");
  sum.axes = {{j1, cols}};
  sum.value = k.unary(Op::Exp, k.binary(Op::Sub, row_load(j1), m));
  k.body.push_back(sum);
  kir::Stmt loop;
  loop.kind = kir::Stmt::Kind::Loop;
  kir::VarId j2 = k.new_var(DType::i32, "j");
  loop.axes = {{j2, cols}};
  kir::Stmt st;
  st.kind = kir::Stmt::Kind::Store;
  st.buffer = y;
  st.index = k.binary(Op::Add, k.binary(Op::Mul, i, i32c(k, cols)), k.var_ref(j2));
  st.value =
      k.binary(Op::Div, k.unary(Op::Exp, k.binary(Op::Sub, row_load(j2), m)), k.var_ref(sum.var));
  loop.body.push_back(st);
  k.body.push_back(loop);
  k.writes.push_back(y);

  std::vector<double> xv(static_cast<size_t>(rows * cols));
  for (size_t e = 0; e < xv.size(); ++e) xv[e] = std::sin(static_cast<double>(e)) * 50;
  xv[3 * cols + 4] = kNaN;
  Array xa = Array::from_doubles(DType::f32, Shape{rows, cols}, xv);
  auto out = run_llvm(b.p, {{"x", xa}});
  for (int64_t r = 0; r < rows; ++r) {
    double mm = -kInf, s = 0;
    bool nan = false;
    for (int64_t c = 0; c < cols; ++c) {
      double v = xa.get(r * cols + c);
      nan = nan || std::isnan(v);
      mm = std::max(mm, v);
    }
    for (int64_t c = 0; c < cols; ++c) s += std::exp(xa.get(r * cols + c) - mm);
    for (int64_t c = 0; c < cols; ++c) {
      double want = nan ? kNaN : std::exp(xa.get(r * cols + c) - mm) / s;
      EXPECT_TRUE(near(out[0].get(r * cols + c), want, DType::f32, 1e-5)) << r << "," << c;
    }
  }
  expect_matches_kernel_eval(b.p, {{"x", xa}}, {}, 1e-5);
}

// A reduction over two axes whose body has lets; i32 sum (wrapping) and i32 max.
TEST(LlvmCodegen, MultiAxisReductionsWithLets) {
  ProgramBuilder b;
  auto x = b.input("x", DType::f32, Shape{2, 3, 4});
  auto xi = b.input("xi", DType::i32, Shape{2, 3});
  auto y = b.output(DType::f32, Shape{2});
  auto si = b.output(DType::i32, Shape{1});
  auto mi = b.output(DType::i32, Shape{1});
  Kernel& k = b.kernel("sumsq");
  ExprId i = parallel_axis(k, 2);
  k.reads = {x};
  kir::Stmt red;
  red.kind = kir::Stmt::Kind::Reduce;
  red.reduce_op = Op::ReduceSum;
  red.var = k.new_var(DType::f32, "v");
  kir::VarId a = k.new_var(DType::i32, "a"), c = k.new_var(DType::i32, "c");
  red.axes = {{a, 3}, {c, 4}};
  kir::Stmt let;
  let.kind = kir::Stmt::Kind::Let;
  let.var = k.new_var(DType::f32, "t");
  ExprId flat =
      k.binary(Op::Add, k.binary(Op::Mul, i, i32c(k, 12)),
               k.binary(Op::Add, k.binary(Op::Mul, k.var_ref(a), i32c(k, 4)), k.var_ref(c)));
  let.value = k.load(x, DType::f32, flat);
  red.body.push_back(let);
  red.value = k.binary(Op::Mul, k.var_ref(let.var), k.var_ref(let.var));
  k.body.push_back(red);
  store(k, y, i, k.var_ref(red.var));

  Kernel& k2 = b.kernel("int_reduce");  // a kernel with an empty parallel domain (one point)
  k2.reads = {xi};
  for (Op op : {Op::ReduceSum, Op::ReduceMax}) {
    kir::Stmt r;
    r.kind = kir::Stmt::Kind::Reduce;
    r.reduce_op = op;
    r.var = k2.new_var(DType::i32, "r");
    kir::VarId u = k2.new_var(DType::i32, "u"), w = k2.new_var(DType::i32, "w");
    r.axes = {{u, 2}, {w, 3}};
    r.value =
        k2.load(xi, DType::i32,
                k2.binary(Op::Add, k2.binary(Op::Mul, k2.var_ref(u), i32c(k2, 3)), k2.var_ref(w)));
    k2.body.push_back(r);
    store(k2, op == Op::ReduceSum ? si : mi, i32c(k2, 0), k2.var_ref(r.var));
  }

  std::vector<float> xv(24);
  for (size_t e = 0; e < 24; ++e) xv[e] = static_cast<float>(e) - 10;
  Feeds feeds{
      {"x", Array::from_f32(Shape{2, 3, 4}, xv)},
      {"xi", Array::from_i32(Shape{2, 3}, std::vector<int32_t>{2147483647, 5, -3, 1, 9, -100})}};
  auto out = run_llvm(b.p, feeds);
  double s0 = 0, s1 = 0;
  for (int e = 0; e < 12; ++e) s0 += xv[static_cast<size_t>(e)] * xv[static_cast<size_t>(e)];
  for (int e = 12; e < 24; ++e) s1 += xv[static_cast<size_t>(e)] * xv[static_cast<size_t>(e)];
  expect_values(out[0], {s0, s1});
  int64_t isum = int64_t{2147483647} + 5 - 3 + 1 + 9 - 100;
  expect_values(out[1], {static_cast<double>(static_cast<int32_t>(static_cast<uint32_t>(isum)))});
  expect_values(out[2], {2147483647});
  expect_matches_kernel_eval(b.p, feeds);
}

// relu(A @ B + bias) with A windowed by a mask (a padded operand) and B read transposed.
TEST(LlvmCodegen, ContractionWithEpilogue) {
  const int64_t M = 5, N = 7, K = 6, KA = 4;  // A has KA real columns, padded to K with zeros
  ProgramBuilder b;
  auto A = b.input("a", DType::f32, Shape{M, KA});
  auto Bt = b.param("bt", DType::f32, Shape{N, K});  // B = Bt^T
  auto bias = b.constant(DType::f32, Shape{N}, {0.5, -1, 2, 0, -3, 1, 0.25});
  auto y = b.output(DType::f32, Shape{M, N});
  Kernel& k = b.kernel("dense");
  k.is_contraction = true;
  ExprId i = parallel_axis(k, M, "i");
  ExprId j = parallel_axis(k, N, "j");
  kir::VarId kv = k.new_var(DType::i32, "k");
  k.contraction.k = {kv, K};
  ExprId kk = k.var_ref(kv);
  ExprId in_a = k.binary(Op::Lt, kk, i32c(k, KA));
  k.contraction.a =
      k.load(A, DType::f32, k.binary(Op::Add, k.binary(Op::Mul, i, i32c(k, KA)), kk), in_a, 0);
  k.contraction.b = k.load(Bt, DType::f32, k.binary(Op::Add, k.binary(Op::Mul, j, i32c(k, K)), kk));
  k.contraction.acc = k.new_var(DType::f32, "acc");
  k.reads = {A, Bt, bias};
  ExprId v = k.binary(Op::Add, k.var_ref(k.contraction.acc), k.load(bias, DType::f32, j));
  store(k, y, k.binary(Op::Add, k.binary(Op::Mul, i, i32c(k, N)), j),
        k.binary(Op::Max, v, k.constant(0, DType::f32)));

  std::vector<double> av(M * KA), bv(N * K);
  for (size_t e = 0; e < av.size(); ++e) av[e] = std::cos(static_cast<double>(e)) * 2;
  for (size_t e = 0; e < bv.size(); ++e) bv[e] = std::sin(static_cast<double>(e) * 0.7);
  Array a = Array::from_doubles(DType::f32, Shape{M, KA}, av);
  auto params = std::make_shared<ParamStore>();
  params->set("bt", Array::from_doubles(DType::f32, Shape{N, K}, bv));
  auto out = run_llvm(b.p, {{"a", a}}, params);
  const std::vector<double> bias_v = {0.5, -1, 2, 0, -3, 1, 0.25};
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < N; ++c) {
      double acc = 0;
      for (int64_t q = 0; q < KA; ++q) acc += a.get(r * KA + q) * params->get("bt").get(c * K + q);
      double want = std::max(acc + bias_v[static_cast<size_t>(c)], 0.0);
      EXPECT_TRUE(near(out[0].get(r * N + c), want, DType::f32, 1e-5)) << r << "," << c;
    }
  expect_matches_kernel_eval(b.p, {{"a", a}}, *params, 1e-5);
}

// Batched matmul [2,3,4] @ [2,4,5] in f64 and i32 (wrapping) accumulators.
TEST(LlvmCodegen, BatchedContraction) {
  for (DType t : {DType::f64, DType::i32}) {
    SCOPED_TRACE(dtype_name(t));
    const int64_t B = 2, M = 3, K = 4, N = 5;
    ProgramBuilder pb;
    auto A = pb.input("a", t, Shape{B, M, K});
    auto Bm = pb.input("b", t, Shape{B, K, N});
    auto y = pb.output(t, Shape{B, M, N});
    Kernel& k = pb.kernel("bmm");
    k.is_contraction = true;
    ExprId bi = parallel_axis(k, B, "b");
    k.contraction.batch = {k.parallel.back()};
    ExprId i = parallel_axis(k, M, "i");
    ExprId j = parallel_axis(k, N, "j");
    kir::VarId kv = k.new_var(DType::i32, "k");
    k.contraction.k = {kv, K};
    ExprId kk = k.var_ref(kv);
    auto lin3 = [&](ExprId x0, int64_t s0, ExprId x1, int64_t s1, ExprId x2) {
      return k.binary(
          Op::Add,
          k.binary(Op::Add, k.binary(Op::Mul, x0, i32c(k, s0)), k.binary(Op::Mul, x1, i32c(k, s1))),
          x2);
    };
    k.contraction.a = k.load(A, t, lin3(bi, M * K, i, K, kk));
    k.contraction.b = k.load(Bm, t, lin3(bi, K * N, kk, N, j));
    k.contraction.acc = k.new_var(t, "acc");
    k.reads = {A, Bm};
    store(k, y, lin3(bi, M * N, i, N, j), k.var_ref(k.contraction.acc));
    std::vector<double> av(B * M * K), bv(B * K * N);
    for (size_t e = 0; e < av.size(); ++e)
      av[e] = t == DType::i32 ? (e % 2 ? 1 << 20 : -3.0 * e) : 0.1 * e;
    for (size_t e = 0; e < bv.size(); ++e)
      bv[e] = t == DType::i32 ? (e % 3 ? 4096 : 7) : 1.0 - 0.05 * e;
    Array a = Array::from_doubles(t, Shape{B, M, K}, av),
          bb = Array::from_doubles(t, Shape{B, K, N}, bv);
    auto out = run_llvm(pb.p, {{"a", a}, {"b", bb}});
    for (int64_t q = 0; q < B; ++q)
      for (int64_t r = 0; r < M; ++r)
        for (int64_t c = 0; c < N; ++c) {
          double acc = 0;
          int64_t iacc = 0;
          for (int64_t x = 0; x < K; ++x) {
            acc += a.get((q * M + r) * K + x) * bb.get((q * K + x) * N + c);
            iacc += static_cast<int64_t>(a.get((q * M + r) * K + x)) *
                    static_cast<int64_t>(bb.get((q * K + x) * N + c));
          }
          double want = t == DType::i32
                            ? static_cast<double>(static_cast<int32_t>(static_cast<uint32_t>(iacc)))
                            : acc;
          EXPECT_TRUE(near(out[0].get((q * M + r) * N + c), want, t)) << q << "," << r << "," << c;
        }
    expect_matches_kernel_eval(pb.p, {{"a", a}, {"b", bb}});
  }
}

// scatter_add as lowering emits it: a fill kernel, then a sequential kernel accumulating in order;
// out-of-range ids are dropped.
TEST(LlvmCodegen, SequentialScatterAdd) {
  const int64_t rows = 4, width = 3, n = 6;
  ProgramBuilder b;
  auto ids = b.input("ids", DType::i32, Shape{n});
  auto upd = b.input("upd", DType::f32, Shape{n, width});
  auto out = b.output(DType::f32, Shape{rows, width});
  {
    Kernel& k = b.kernel("fill");
    ExprId i = parallel_axis(k, rows * width);
    store(k, out, i, k.constant(0, DType::f32));
  }
  Kernel& k = b.kernel("scatter");
  k.sequential = true;
  ExprId s = parallel_axis(k, n, "s");
  ExprId c = parallel_axis(k, width, "c");
  k.reads = {ids, upd, out};
  ExprId id = k.load(ids, DType::i32, s);
  ExprId ok =
      k.binary(Op::And, k.binary(Op::Ge, id, i32c(k, 0)), k.binary(Op::Lt, id, i32c(k, rows)));
  ExprId safe = k.select(ok, id, i32c(k, 0));
  ExprId at = k.binary(Op::Add, k.binary(Op::Mul, safe, i32c(k, width)), c);
  ExprId old = k.load(out, DType::f32, at);
  ExprId add =
      k.binary(Op::Add, old,
               k.load(upd, DType::f32, k.binary(Op::Add, k.binary(Op::Mul, s, i32c(k, width)), c)));
  store(k, out, at, k.select(ok, add, old));
  std::vector<int32_t> idv = {1, 3, 1, -1, 4, 0};
  std::vector<float> uv(n * width);
  for (size_t e = 0; e < uv.size(); ++e) uv[e] = static_cast<float>(e) + 0.5f;
  Feeds feeds{{"ids", Array::from_i32(Shape{n}, idv)},
              {"upd", Array::from_f32(Shape{n, width}, uv)}};
  auto res = run_llvm(b.p, feeds);
  std::vector<double> want(rows * width, 0.0);
  for (int64_t q = 0; q < n; ++q) {
    int32_t r = idv[static_cast<size_t>(q)];
    if (r < 0 || r >= rows) continue;
    for (int64_t w = 0; w < width; ++w)
      want[static_cast<size_t>(r * width + w)] += uv[static_cast<size_t>(q * width + w)];
  }
  expect_values(res[0], want);
  expect_matches_kernel_eval(b.p, feeds);
}

TEST(LlvmCodegen, FastMathStaysClose) {
  auto p = map_program(DType::f32, DType::f32, 1000, [](Kernel& k, ExprId x) {
    return k.binary(Op::Add, k.unary(Op::Exp, k.binary(Op::Mul, x, k.constant(0.01, DType::f32))),
                    k.unary(Op::Sqrt, k.unary(Op::Abs, x)));
  });
  std::vector<float> xv(1000);
  for (size_t e = 0; e < xv.size(); ++e) xv[e] = static_cast<float>(e) - 500.f;
  Feeds feeds{{"x", Array::from_f32(Shape{1000}, xv)}};
  auto exact = run_llvm(p, feeds);
  auto fast = run_llvm(p, feeds, nullptr, RunOptions{0, true});
  expect_arrays_near(fast[0], exact[0], 1e-5);
}

}  // namespace
}  // namespace soma::test

namespace soma::test {
namespace {

using kir::ExprId;
using kir::Kernel;

kir::Stmt reduce_stmt(Kernel& k, Op op, DType t, std::vector<kir::Axis> axes, ExprId value) {
  kir::Stmt r;
  r.kind = kir::Stmt::Kind::Reduce;
  r.reduce_op = op;
  r.var = k.new_var(t, "v");
  r.axes = std::move(axes);
  r.value = value;
  return r;
}

// Reductions long enough to be vectorized (with a masked tail), against the kernel evaluator:
// contiguous, strided (a gather), masked (padding), with lets and rand in the body, over two
// axes, i32 sums that wrap, and max with NaN in the tail.
TEST(LlvmCodegen, VectorizedReductions) {
  for (int64_t n : {31, 32, 33, 64, 100, 257, 1000}) {
    SCOPED_TRACE("extent " + std::to_string(n));
    const int64_t rows = 3;
    ProgramBuilder b;
    auto x = b.input("x", DType::f32, Shape{rows, n});
    auto xi = b.input("xi", DType::i32, Shape{rows, n});
    auto xd = b.input("xd", DType::f64, Shape{rows, n});
    std::vector<kir::BufferId> outs;
    for (int o = 0; o < 8; ++o)
      outs.push_back(b.output(o == 5 ? DType::i32 : o == 6 ? DType::f64 : DType::f32, Shape{rows}));
    Kernel& k = b.kernel("reductions");
    ExprId r = parallel_axis(k, rows, "r");
    k.reads = {x, xi, xd};
    auto at = [&](ExprId row, ExprId col) {
      return k.binary(Op::Add, k.binary(Op::Mul, row, i32c(k, n)), col);
    };
    auto axis = [&](const char* name, int64_t extent) {
      kir::VarId v = k.new_var(DType::i32, name);
      return std::make_pair(v, kir::Axis{v, extent});
    };
    std::vector<kir::Stmt> reds;
    {  // 0: sum of x[r, j] * 1.5 (contiguous)
      auto [j, ax] = axis("j", n);
      reds.push_back(reduce_stmt(k, Op::ReduceSum, DType::f32, {ax},
                                 k.binary(Op::Mul, k.load(x, DType::f32, at(r, k.var_ref(j))),
                                          k.constant(1.5, DType::f32))));
    }
    {  // 1: max of x[(j * 7) % rows, j] (a gather), with a let
      auto [j, ax] = axis("j", n);
      kir::Stmt let;
      let.kind = kir::Stmt::Kind::Let;
      let.var = k.new_var(DType::f32, "t");
      let.value =
          k.load(x, DType::f32,
                 at(k.imod(k.binary(Op::Mul, k.var_ref(j), i32c(k, 7)), rows), k.var_ref(j)));
      kir::Stmt red =
          reduce_stmt(k, Op::ReduceMax, DType::f32, {ax}, k.unary(Op::Exp, k.var_ref(let.var)));
      red.body.push_back(let);
      reds.push_back(red);
    }
    {  // 2: sum over a padded window: j - 3 in [0, n) ? x[r, j - 3] : 0.25
      auto [j, ax] = axis("j", n);
      ExprId src = k.binary(Op::Sub, k.var_ref(j), i32c(k, 3));
      ExprId ok =
          k.binary(Op::And, k.binary(Op::Ge, src, i32c(k, 0)), k.binary(Op::Lt, src, i32c(k, n)));
      reds.push_back(reduce_stmt(k, Op::ReduceSum, DType::f32, {ax},
                                 k.load(x, DType::f32, at(r, src), ok, 0.25)));
    }
    {  // 3: sum of rand(j) - 0.5 + x[r, j]
      auto [j, ax] = axis("j", n);
      ExprId v = k.binary(Op::Sub, k.rand(77, at(r, k.var_ref(j)), i32c(k, 1), DType::f32),
                          k.constant(0.5, DType::f32));
      reds.push_back(reduce_stmt(k, Op::ReduceSum, DType::f32, {ax},
                                 k.binary(Op::Add, v, k.load(x, DType::f32, at(r, k.var_ref(j))))));
    }
    {  // 4: sum over two axes (q in 0..rows outer, j inner) of x[q, j] * (r + 1)
      auto [q, aq] = axis("q", rows);
      auto [j, ax] = axis("j", n);
      ExprId scale = k.cast(k.binary(Op::Add, r, i32c(k, 1)), DType::f32);
      reds.push_back(reduce_stmt(
          k, Op::ReduceSum, DType::f32, {aq, ax},
          k.binary(Op::Mul, k.load(x, DType::f32, at(k.var_ref(q), k.var_ref(j))), scale)));
    }
    {  // 5: i32 sum (wraps)
      auto [j, ax] = axis("j", n);
      reds.push_back(reduce_stmt(k, Op::ReduceSum, DType::i32, {ax},
                                 k.load(xi, DType::i32, at(r, k.var_ref(j)))));
    }
    {  // 6: f64 sum of squares
      auto [j, ax] = axis("j", n);
      ExprId v = k.load(xd, DType::f64, at(r, k.var_ref(j)));
      reds.push_back(reduce_stmt(k, Op::ReduceSum, DType::f64, {ax}, k.binary(Op::Mul, v, v)));
    }
    {  // 7: max with a NaN (row 1 has one in the last element, i.e. in the tail)
      auto [j, ax] = axis("j", n);
      reds.push_back(reduce_stmt(k, Op::ReduceMax, DType::f32, {ax},
                                 k.load(x, DType::f32, at(r, k.var_ref(j)))));
    }
    for (size_t o = 0; o < reds.size(); ++o) {
      k.body.push_back(reds[o]);
      store(k, outs[o], r, k.var_ref(reds[o].var));
    }
    std::vector<double> xv(static_cast<size_t>(rows * n)), iv(xv.size()), dv(xv.size());
    for (size_t e = 0; e < xv.size(); ++e) {
      xv[e] = std::sin(0.37 * static_cast<double>(e)) * 3;
      iv[e] = e % 3 ? 1e9 : -7.0 * static_cast<double>(e);
      dv[e] = std::cos(static_cast<double>(e));
    }
    xv[static_cast<size_t>(2 * n - 1)] = kNaN;
    Feeds feeds{{"x", Array::from_doubles(DType::f32, Shape{rows, n}, xv)},
                {"xi", Array::from_doubles(DType::i32, Shape{rows, n}, iv)},
                {"xd", Array::from_doubles(DType::f64, Shape{rows, n}, dv)}};
    expect_matches_kernel_eval(b.p, feeds, {}, 2e-5);
    if (n == 1000) {
      std::string ir = emit_llvm_ir(b.p, CompileOptions{});
      EXPECT_NE(ir.find("vector.reduce"), std::string::npos) << "no vectorized reduction";
    }
  }
}

// Reductions along a strided axis (column sums, as a bias gradient): the points of the innermost
// parallel axis run a vector at a time (a scalar remainder when the extent is not a multiple),
// against the kernel evaluator, with the same bits on 1 and 2 threads. Sum of a fused ReLU
// gradient over the rows (f32 in f64), max over the rows (NaN propagates), an i32 sum that
// wraps, a let outside the reduction and one inside, a boolean store.
TEST(LlvmCodegen, ColumnReductions) {
  for (int64_t cols : {16, 37, 256}) {
    SCOPED_TRACE("columns " + std::to_string(cols));
    const int64_t rows = 67, batch = 2;
    ProgramBuilder b;
    auto g = b.input("g", DType::f32, Shape{batch, rows, cols});
    auto h = b.input("h", DType::f32, Shape{batch, rows, cols});
    auto bias = b.input("bias", DType::f32, Shape{cols});
    auto xi = b.input("xi", DType::i32, Shape{batch, rows, cols});
    auto sum = b.output(DType::f32, Shape{batch, cols});
    auto mx = b.output(DType::f32, Shape{batch, cols});
    auto isum = b.output(DType::i32, Shape{batch, cols});
    auto pos = b.output(DType::boolean, Shape{batch, cols});
    Kernel& k = b.kernel("colsums");
    ExprId bi = parallel_axis(k, batch, "b");
    ExprId j = parallel_axis(k, cols, "j");
    k.reads = {g, h, bias, xi};
    auto at = [&](ExprId r) {
      return k.binary(Op::Add,
                      k.binary(Op::Mul, k.binary(Op::Add, k.binary(Op::Mul, bi, i32c(k, rows)), r),
                               i32c(k, cols)),
                      j);
    };
    auto axis = [&](const char* name) {
      kir::VarId v = k.new_var(DType::i32, name);
      return std::make_pair(v, kir::Axis{v, rows});
    };
    kir::Stmt scale;  // a let outside the reductions: 1 + bias[j] * 0.5
    scale.kind = kir::Stmt::Kind::Let;
    scale.var = k.new_var(DType::f32, "s");
    scale.value =
        k.binary(Op::Add, k.constant(1, DType::f32),
                 k.binary(Op::Mul, k.load(bias, DType::f32, j), k.constant(0.5, DType::f32)));
    k.body.push_back(scale);
    {
      auto [r, ax] = axis("r");
      ExprId rr = k.var_ref(r);
      kir::Stmt let;  // inside: h + bias
      let.kind = kir::Stmt::Kind::Let;
      let.var = k.new_var(DType::f32, "t");
      let.value = k.binary(Op::Add, k.load(h, DType::f32, at(rr)), k.load(bias, DType::f32, j));
      ExprId zero = k.constant(0, DType::f32);
      kir::Stmt red = reduce_stmt(k, Op::ReduceSum, DType::f32, {ax},
                                  k.binary(Op::Mul,
                                           k.select(k.binary(Op::Le, k.var_ref(let.var), zero),
                                                    zero, k.load(g, DType::f32, at(rr))),
                                           k.var_ref(scale.var)));
      red.body.push_back(let);
      k.body.push_back(red);
      store(k, sum, k.binary(Op::Add, k.binary(Op::Mul, bi, i32c(k, cols)), j), k.var_ref(red.var));
      store(k, pos, k.binary(Op::Add, k.binary(Op::Mul, bi, i32c(k, cols)), j),
            k.binary(Op::Gt, k.var_ref(red.var), zero));
    }
    {
      auto [r, ax] = axis("r");
      kir::Stmt red =
          reduce_stmt(k, Op::ReduceMax, DType::f32, {ax}, k.load(g, DType::f32, at(k.var_ref(r))));
      k.body.push_back(red);
      store(k, mx, k.binary(Op::Add, k.binary(Op::Mul, bi, i32c(k, cols)), j), k.var_ref(red.var));
    }
    {
      auto [r, ax] = axis("r");
      kir::Stmt red =
          reduce_stmt(k, Op::ReduceSum, DType::i32, {ax}, k.load(xi, DType::i32, at(k.var_ref(r))));
      k.body.push_back(red);
      store(k, isum, k.binary(Op::Add, k.binary(Op::Mul, bi, i32c(k, cols)), j),
            k.var_ref(red.var));
    }
    const size_t n = static_cast<size_t>(batch * rows * cols);
    std::vector<double> gv(n), hv(n), iv(n), bv(static_cast<size_t>(cols));
    for (size_t e = 0; e < n; ++e) {
      gv[e] = std::sin(0.37 * static_cast<double>(e)) * 3;
      hv[e] = std::cos(0.11 * static_cast<double>(e));
      iv[e] = e % 3 ? 1e9 : -7.0 * static_cast<double>(e);
    }
    for (size_t e = 0; e < bv.size(); ++e) bv[e] = 0.05 * static_cast<double>(e % 7) - 0.1;
    gv[static_cast<size_t>(rows * cols + 3)] = kNaN;  // batch 1, row 0, column 3
    Feeds feeds{{"g", Array::from_doubles(DType::f32, Shape{batch, rows, cols}, gv)},
                {"h", Array::from_doubles(DType::f32, Shape{batch, rows, cols}, hv)},
                {"bias", Array::from_doubles(DType::f32, Shape{cols}, bv)},
                {"xi", Array::from_doubles(DType::i32, Shape{batch, rows, cols}, iv)}};
    expect_matches_kernel_eval(b.p, feeds, {}, 2e-6);
    std::string ir = emit_llvm_ir(b.p, CompileOptions{});
    EXPECT_NE(ir.find("colv"), std::string::npos) << "columns not vectorized";
    std::vector<Array> one = run_llvm(b.p, feeds, nullptr, RunOptions{1, false});
    std::vector<Array> two = run_llvm(b.p, feeds, nullptr, RunOptions{2, false});
    for (size_t o = 0; o < one.size(); ++o)
      for (int64_t e = 0; e < one[o].numel(); ++e) {
        double x = one[o].get(e), y = two[o].get(e);
        ASSERT_TRUE(x == y || (std::isnan(x) && std::isnan(y)))
            << "output " << o << " element " << e;
      }
  }
}

}  // namespace
}  // namespace soma::test

namespace soma::test {
namespace {

using kir::ExprId;
using kir::Kernel;

// How a GEMM test case stores and computes its operands.
struct GemmCase {
  DType t = DType::f32;
  int64_t batch = 1, M = 1, N = 1, K = 1;
  bool a_trans = false, b_trans = false;
  bool window = false;   // A is a masked load: columns k >= K - 3 read 0
  bool a_fused = false;  // a = max(A + abias[k], 0) (a bias and ReLU fused into the operand)
  bool b_fused = false;  // b = mask > 0 ? B : 0 (a ReLU's gradient)
  bool reshape = false;  // A's index is written as a flattened view: x // d * d + x % d
};

// y[b, i, j] = epilogue(sum_k a[b, i, k] * b[b, k, j]) for a GemmCase, against the kernel
// evaluator (f64 sums) for shapes that hit every edge of the GEMM's blocking; and the results
// on 1 and 2 threads must be identical.
void check_gemm(const GemmCase& gc) {
  const DType t = gc.t;
  const int64_t batch = gc.batch, M = gc.M, N = gc.N, K = gc.K;
  SCOPED_TRACE(std::string(dtype_name(t)) + " batch " + std::to_string(batch) + " M " +
               std::to_string(M) + " N " + std::to_string(N) + " K " + std::to_string(K) +
               (gc.a_trans ? " At" : "") + (gc.b_trans ? " Bt" : "") +
               (gc.window ? " window" : "") + (gc.a_fused ? " afused" : "") +
               (gc.b_fused ? " bfused" : "") + (gc.reshape ? " reshape" : ""));
  const int64_t ka = gc.window ? std::max<int64_t>(K - 3, 0) : K;  // A's real columns
  ProgramBuilder pb;
  auto A = pb.input("a", t, Shape{batch, M, ka});
  auto B = pb.input("b", t, Shape{batch, K, N});
  auto bias = pb.input("bias", DType::f32, Shape{N});
  auto abias = pb.input("abias", t, Shape{K});
  auto mask = pb.input("mask", t, Shape{batch, K, N});
  auto y = pb.output(DType::f32, Shape{batch, M, N});
  Kernel& k = pb.kernel("gemm");
  k.is_contraction = true;
  ExprId bi = parallel_axis(k, batch, "b");
  k.contraction.batch = {k.parallel.back()};
  ExprId i = parallel_axis(k, M, "i");
  ExprId j = parallel_axis(k, N, "j");
  kir::VarId kv = k.new_var(DType::i32, "k");
  k.contraction.k = {kv, K};
  ExprId kk = k.var_ref(kv);
  auto c = [&](int64_t v) { return i32c(k, v); };
  auto add = [&](ExprId x, ExprId y) { return k.binary(Op::Add, x, y); };
  auto mul = [&](ExprId x, int64_t s) { return k.binary(Op::Mul, x, c(s)); };
  // A stored [batch, M, ka] or (transposed) [batch, ka, M].
  ExprId a_at = gc.a_trans ? add(mul(bi, M * ka), add(mul(kk, M), i))
                           : add(mul(bi, M * ka), add(mul(i, ka), kk));
  if (gc.reshape) {  // the same index through a view of A as [batch * ?, 6, 4] (or 3 x 2)
    const int64_t d1 = 4, d2 = 6;
    auto idiv = [&](ExprId x, int64_t d) { return k.idiv(x, d); };
    auto imod = [&](ExprId x, int64_t d) { return k.imod(x, d); };
    a_at = add(add(mul(idiv(a_at, d1 * d2), d1 * d2), mul(imod(idiv(a_at, d1), d2), d1)),
               imod(a_at, d1));
  }
  ExprId in_a = k.binary(Op::Lt, kk, c(ka));
  ExprId av = gc.window ? k.load(A, t, a_at, in_a, 0) : k.load(A, t, a_at);
  if (gc.a_fused) av = k.binary(Op::Max, add(av, k.load(abias, t, kk)), k.constant(0, t));
  k.contraction.a = av;
  ExprId b_at = gc.b_trans ? add(mul(bi, K * N), add(mul(j, K), kk))
                           : add(mul(bi, K * N), add(mul(kk, N), j));
  ExprId bv = k.load(B, t, b_at);
  if (gc.b_fused)
    bv = k.select(k.binary(Op::Gt, k.load(mask, t, b_at), k.constant(0, t)), bv, k.constant(0, t));
  k.contraction.b = bv;
  k.contraction.acc = k.new_var(t, "acc");
  k.reads = {A, B, bias, abias, mask};
  ExprId v = k.cast(k.var_ref(k.contraction.acc), DType::f32);
  v = k.binary(Op::Max, add(v, k.load(bias, DType::f32, j)), k.constant(0, DType::f32));
  store(k, y, add(mul(bi, M * N), add(mul(i, N), j)), v);
  std::vector<double> av_(static_cast<size_t>(batch * M * ka)),
      bv_(static_cast<size_t>(batch * K * N)), biasv(static_cast<size_t>(N)),
      abiasv(static_cast<size_t>(K)), maskv(bv_.size());
  for (size_t e = 0; e < av_.size(); ++e) av_[e] = std::sin(0.1 * static_cast<double>(e) + 0.3);
  for (size_t e = 0; e < bv_.size(); ++e) bv_[e] = std::cos(0.07 * static_cast<double>(e));
  for (size_t e = 0; e < biasv.size(); ++e) biasv[e] = 0.01 * static_cast<double>(e) - 0.2;
  for (size_t e = 0; e < abiasv.size(); ++e) abiasv[e] = 0.02 * static_cast<double>(e % 17) - 0.1;
  for (size_t e = 0; e < maskv.size(); ++e) maskv[e] = std::sin(0.37 * static_cast<double>(e));
  Feeds feeds{{"a", Array::from_doubles(t, Shape{batch, M, ka}, av_)},
              {"b", Array::from_doubles(t, Shape{batch, K, N}, bv_)},
              {"bias", Array::from_doubles(DType::f32, Shape{N}, biasv)},
              {"abias", Array::from_doubles(t, Shape{K}, abiasv)},
              {"mask", Array::from_doubles(t, Shape{batch, K, N}, maskv)}};
  expect_matches_kernel_eval(pb.p, feeds, {}, t == DType::f32 ? 2e-5 : 1e-12);
  bool blocked = emit_llvm_ir(pb.p, CompileOptions{}).find("_micro") != std::string::npos;
  EXPECT_EQ(blocked, N >= 4 && batch * M * N * std::max<int64_t>(K, 1) >= 16384)
      << "the blocked GEMM is used exactly for the non-tiny products";
  // Deterministic: the same bits on one and on two threads.
  std::vector<Array> one = run_llvm(pb.p, feeds, nullptr, RunOptions{1, false});
  std::vector<Array> two = run_llvm(pb.p, feeds, nullptr, RunOptions{2, false});
  ASSERT_EQ(one.size(), two.size());
  for (size_t o = 0; o < one.size(); ++o)
    for (int64_t e = 0; e < one[o].numel(); ++e)
      ASSERT_EQ(one[o].get(e), two[o].get(e))
          << "element " << e << " differs between 1 and 2 threads";
}

void check_gemm(DType t, int64_t batch, int64_t M, int64_t N, int64_t K, bool a_trans, bool b_trans,
                bool window) {
  GemmCase gc;
  gc.t = t;
  gc.batch = batch;
  gc.M = M;
  gc.N = N;
  gc.K = K;
  gc.a_trans = a_trans;
  gc.b_trans = b_trans;
  gc.window = window;
  check_gemm(gc);
}

TEST(LlvmCodegen, GemmShapesAndLayouts) {
  check_gemm(DType::f32, 1, 13, 33, 257, false, false, false);
  check_gemm(DType::f32, 1, 100, 70, 513, true, false, false);
  check_gemm(DType::f32, 1, 64, 96, 31, false, true, true);
  check_gemm(DType::f32, 3, 25, 40, 30, true, true, false);
  check_gemm(DType::f32, 1, 200, 300, 64, false, false, false);
  check_gemm(DType::f32, 1, 130, 150, 0, false, false, false);  // K = 0: acc is 0
  check_gemm(DType::f32, 2, 7, 3, 600, false, false, false);    // skinny: the direct loop
  check_gemm(DType::f64, 1, 50, 45, 100, false, true, true);
}

// The GEMM's packing and micro-kernel paths: operands read in place (row-major, transposed,
// through a reshaped view) or packed (fused expressions, masked loads, a leading dimension that
// would crowd the cache), B transposed in registers, the narrow micro-kernel (N <= a vector),
// partial slivers and panels of every size, several C tiles and k-slices per task.
TEST(LlvmCodegen, GemmPackingPaths) {
  auto gemm = [](int64_t M, int64_t N, int64_t K) {
    GemmCase g;
    g.M = M;
    g.N = N;
    g.K = K;
    return g;
  };
  std::vector<GemmCase> cases;
  for (int64_t M : {1, 11, 12, 13, 37}) cases.push_back(gemm(M, 45, 53));  // partial slivers
  for (int64_t N : {4, 10, 16, 17, 33, 64, 70}) cases.push_back(gemm(30, N, 40));  // panels
  for (bool at : {false, true})
    for (bool bt : {false, true})
      for (bool af : {false, true})
        for (bool bf : {false, true}) {
          GemmCase g = gemm(37, 70, 50);
          g.a_trans = at;
          g.b_trans = bt;
          g.a_fused = af;
          g.b_fused = bf;
          cases.push_back(g);
          g.M = 25;
          g.N = 10;  // narrow
          cases.push_back(g);
        }
  GemmCase r = gemm(26, 40, 56);
  r.reshape = true;
  cases.push_back(r);
  r.a_trans = true;
  cases.push_back(r);
  cases.push_back(gemm(30, 64, 1024));  // lda of 1024 floats: A packed, 3 k-slices
  cases.push_back(gemm(300, 70, 400));  // several C tiles, packed B reused across them
  GemmCase bt = gemm(130, 96, 161);
  bt.b_trans = true;
  bt.batch = 2;
  cases.push_back(bt);
  GemmCase d = gemm(40, 24, 37);
  d.t = DType::f64;
  d.b_trans = true;
  d.a_fused = true;
  cases.push_back(d);
  for (size_t i = 0; i < cases.size(); ++i)
    if (!soma::testing::kSanitized || i % 3 == 0) check_gemm(cases[i]);  // a third under sanitizers
}

}  // namespace
}  // namespace soma::test

namespace soma::test {
namespace {

// Fast math computes f32 exp (and sigmoid, tanh through it) inline, so those loops vectorize.
TEST(LlvmCodegen, FastMathExpSigmoidTanh) {
  std::vector<double> xs;
  for (double v = -100; v <= 100; v += 0.37) xs.push_back(v);
  for (double v :
       {0.0, -0.0, 1e-8, -1e-8, 88.5, 88.7, 89.0, -86.9, -87.5, -200.0, 200.0, kNaN, kInf, -kInf})
    xs.push_back(v);
  int64_t n = static_cast<int64_t>(xs.size());
  Array x = Array::from_doubles(DType::f32, Shape{n}, xs);
  for (Op op : {Op::Exp, Op::Sigmoid, Op::Tanh}) {
    SCOPED_TRACE(op_name(op));
    auto p =
        map_program(DType::f32, DType::f32, n, [&](Kernel& k, ExprId v) { return k.unary(op, v); });
    auto out = run_llvm(p, {{"x", x}}, nullptr, RunOptions{0, true});
    for (int64_t i = 0; i < n; ++i) {
      double v = x.get(i), got = out[0].get(i);
      double want = op == Op::Exp ? std::exp(v) : op == Op::Tanh ? std::tanh(v) : sigmoid_ref(v);
      if (std::isnan(want) || std::isinf(want)) {
        EXPECT_TRUE(near(got, want, DType::f32)) << "x = " << v;
      } else if (op == Op::Exp) {
        if (want > 1.2e-38 && want < 3.4e38) {
          EXPECT_NEAR(got, want, 1e-6 * want) << "x = " << v;
        } else if (want <= 1.2e-38) {
          EXPECT_LE(got, 1.2e-38) << "x = " << v;  // below the normal range: may flush to 0
        }
      } else {
        EXPECT_NEAR(got, want, 1e-6) << "x = " << v;
      }
    }
    CompileOptions fast;
    fast.fast_math = true;
    std::string ir = emit_llvm_ir(p, fast);
    EXPECT_EQ(ir.find("@expf"), std::string::npos) << "fast exp still calls libm";
    EXPECT_EQ(ir.find("@tanhf"), std::string::npos) << "fast tanh still calls libm";
    EXPECT_NE(ir.find("x float>"), std::string::npos) << "not vectorized";
  }
}

}  // namespace
}  // namespace soma::test
