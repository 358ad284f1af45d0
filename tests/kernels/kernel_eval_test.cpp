// The kernel-IR evaluator on hand-built programs: each construct of the IR against hand-computed
// values (there is no lowering pass behind these tests).
#include "backends/interp/kernel_eval.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "graph/error.h"
#include "graph/philox.h"
#include "kernels/kir_build.h"

namespace soma {
namespace {

using namespace kir;
using namespace kir::test;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

Array f32(Shape s, std::vector<double> v) {
  return Array::from_doubles(DType::f32, std::move(s), v);
}
Array i32(Shape s, std::vector<double> v) {
  return Array::from_doubles(DType::i32, std::move(s), v);
}

std::vector<Array> run(const Program& p, const Feeds& feeds = {}) {
  ParamStore params;
  return run_program(p, feeds, params, true);
}

// NaN and infinities must match exactly; finite values within `rel` (relative, at least 1
// absolute).
void expect_values(const Array& a, const std::vector<double>& want, double rel = 1e-6) {
  ASSERT_EQ(a.numel(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    double got = a.get(static_cast<int64_t>(i)), w = want[i];
    if (std::isnan(w))
      EXPECT_TRUE(std::isnan(got)) << "element " << i << " is " << got;
    else if (std::isinf(w))
      EXPECT_EQ(got, w) << "element " << i;
    else
      EXPECT_NEAR(got, w, rel * std::max(1.0, std::fabs(w))) << "element " << i;
  }
}

ExprId f32c(Kernel& k, double v) {
  return k.constant(v, DType::f32);
}
ExprId ld(Kernel& k, BufferId b, ExprId index, DType t = DType::f32) {
  return k.load(b, t, index);
}

// ---- elementwise, views ----

TEST(KernelEval, ElementwiseWithBroadcastLoads) {
  Program p;
  BufferId x = input(p, "x", {2, 3}), b = input(p, "b", {3}), c = input(p, "c", {2, 1});
  BufferId y = output(p, {2, 3});
  Kernel k;
  k.name = "bcast";
  VarId i = k.new_var(DType::i32, "i"), j = k.new_var(DType::i32, "j");
  k.parallel = {{i, 2}, {j, 3}};
  // b is read as a [2,3] view with strides [0,1], c as one with strides [1,0].
  ExprId xv = ld(k, x, linear(k, {{i, 3}, {j, 1}}));
  ExprId bv = ld(k, b, linear(k, {{i, 0}, {j, 1}}));
  ExprId cv = ld(k, c, linear(k, {{i, 1}, {j, 0}}));
  k.body = {
      store(y, linear(k, {{i, 3}, {j, 1}}), k.binary(Op::Add, k.binary(Op::Mul, xv, cv), bv))};
  k.reads = {x, b, c};
  k.writes = {y};
  p.kernels.push_back(k);
  auto out = run(p, {{"x", f32({2, 3}, {1, 2, 3, 4, 5, 6})},
                     {"b", f32({3}, {10, 20, 30})},
                     {"c", f32({2, 1}, {2, -1})}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type_str(), "f32[2,3]");
  expect_values(out[0], {12, 24, 36, 6, 15, 24});
}

TEST(KernelEval, TransposedLoad) {
  Program p;
  BufferId x = input(p, "x", {2, 3});
  BufferId y = output(p, {3, 2});
  Kernel k;
  k.name = "transpose";
  VarId i = k.new_var(DType::i32, "i"), j = k.new_var(DType::i32, "j");
  k.parallel = {{i, 3}, {j, 2}};
  k.body = {store(y, linear(k, {{i, 2}, {j, 1}}), ld(k, x, linear(k, {{j, 3}, {i, 1}})))};
  k.reads = {x};
  k.writes = {y};
  p.kernels.push_back(k);
  expect_values(run(p, {{"x", f32({2, 3}, {1, 2, 3, 4, 5, 6})}})[0], {1, 4, 2, 5, 3, 6});
}

// pad(x, lo 1, hi 2, value -1.5): the masked-off taps would index x[-1], x[4] and x[5], so this
// also checks that a masked-off load never touches memory (else: an out-of-bounds abort).
TEST(KernelEval, MaskedLoadPads) {
  Program p;
  BufferId x = input(p, "x", {4});
  BufferId y = output(p, {7});
  Kernel k;
  k.name = "pad";
  VarId i = k.new_var(DType::i32, "i");
  k.parallel = {{i, 7}};
  ExprId iv = k.var_ref(i);
  ExprId mask = k.binary(Op::And, k.binary(Op::Ge, iv, k.index_const(1)),
                         k.binary(Op::Lt, iv, k.index_const(5)));
  k.body = {
      store(y, iv, k.load(x, DType::f32, k.binary(Op::Sub, iv, k.index_const(1)), mask, -1.5))};
  k.reads = {x};
  k.writes = {y};
  p.kernels.push_back(k);
  expect_values(run(p, {{"x", f32({4}, {1, 2, 3, 4})}})[0], {-1.5, 1, 2, 3, 4, -1.5, -1.5});
}

// ---- reductions ----

TEST(KernelEval, RowSoftmax) {
  const int64_t rows = 64, cols = 10;
  Program p = softmax_rows_program(rows, cols);
  std::vector<double> xv(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      xv[static_cast<size_t>(r * cols + c)] =
          r == 5 ? 1000.0 + static_cast<double>(c)  // needs the max shift
                 : 3 * std::sin(0.37 * static_cast<double>(r) + 1.3 * static_cast<double>(c));
  Array x = f32({rows, cols}, xv);
  std::vector<double> want(xv.size());
  for (int64_t r = 0; r < rows; ++r) {
    double m = -kInf, s = 0;
    for (int64_t c = 0; c < cols; ++c) m = std::max(m, x.get(r * cols + c));
    for (int64_t c = 0; c < cols; ++c) s += std::exp(x.get(r * cols + c) - m);
    for (int64_t c = 0; c < cols; ++c)
      want[static_cast<size_t>(r * cols + c)] = std::exp(x.get(r * cols + c) - m) / s;
  }
  auto out = run(p, {{"x", x}});
  expect_values(out[0], want, 2e-6);
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0;
    for (int64_t c = 0; c < cols; ++c) s += out[0].get(r * cols + c);
    EXPECT_NEAR(s, 1.0, 1e-5) << "row " << r;
  }
}

// sum over axis 1 of x: f32[2,3,4] with keepdims -> f32[2,1,4]; max over axis 2 -> f32[2,3,1];
// one NaN in x propagates through both.
TEST(KernelEval, ReductionsWithKeepdimsAndNaN) {
  Program p;
  BufferId x = input(p, "x", {2, 3, 4});
  BufferId ysum = output(p, {2, 1, 4}), zmax = output(p, {2, 3, 1});
  {
    Kernel k;
    k.name = "sum_axis1";
    VarId i = k.new_var(DType::i32, "i"), l = k.new_var(DType::i32, "l");
    VarId j = k.new_var(DType::i32, "j"), v = k.new_var(DType::f32, "v");
    k.parallel = {{i, 2}, {l, 4}};
    k.body = {reduce(v, Op::ReduceSum, {{j, 3}}, ld(k, x, linear(k, {{i, 12}, {j, 4}, {l, 1}}))),
              store(ysum, linear(k, {{i, 4}, {l, 1}}), k.var_ref(v))};
    k.reads = {x};
    k.writes = {ysum};
    p.kernels.push_back(k);
  }
  {
    Kernel k;
    k.name = "max_axis2";
    VarId i = k.new_var(DType::i32, "i"), j = k.new_var(DType::i32, "j");
    VarId l = k.new_var(DType::i32, "l"), v = k.new_var(DType::f32, "v");
    k.parallel = {{i, 2}, {j, 3}};
    k.body = {reduce(v, Op::ReduceMax, {{l, 4}}, ld(k, x, linear(k, {{i, 12}, {j, 4}, {l, 1}}))),
              store(zmax, linear(k, {{i, 3}, {j, 1}}), k.var_ref(v))};
    k.reads = {x};
    k.writes = {zmax};
    p.kernels.push_back(k);
  }
  std::vector<double> xv(24);
  for (size_t n = 0; n < xv.size(); ++n) xv[n] = 0.5 * static_cast<double>(n) - 3 * (n % 3 == 0);
  xv[5] = kNaN;  // (0, 1, 1)
  std::vector<double> sum(8, 0.0), mx(6, -kInf);
  for (size_t a = 0; a < 2; ++a)
    for (size_t b = 0; b < 3; ++b)
      for (size_t c = 0; c < 4; ++c) {
        double v = xv[a * 12 + b * 4 + c];
        sum[a * 4 + c] += v;
        mx[a * 3 + b] =
            std::isnan(v) || std::isnan(mx[a * 3 + b]) ? kNaN : std::max(mx[a * 3 + b], v);
      }
  auto out = run(p, {{"x", f32({2, 3, 4}, xv)}});
  EXPECT_EQ(out[0].type_str(), "f32[2,1,4]");
  EXPECT_EQ(out[1].type_str(), "f32[2,3,1]");
  expect_values(out[0], sum);
  expect_values(out[1], mx);
  EXPECT_TRUE(std::isnan(out[0].get(1)));
  EXPECT_TRUE(std::isnan(out[1].get(1)));
}

TEST(KernelEval, EmptyReductionsGiveTheirInitialValues) {
  Program p;
  BufferId x = input(p, "x", {2, 0});
  BufferId y = output(p, {2}), z = output(p, {2});
  Kernel k;
  k.name = "empty";
  VarId i = k.new_var(DType::i32, "i"), j = k.new_var(DType::i32, "j");
  VarId s = k.new_var(DType::f32, "s"), m = k.new_var(DType::f32, "m");
  k.parallel = {{i, 2}};
  ExprId xv = ld(k, x, linear(k, {{i, 0}, {j, 1}}));
  k.body = {reduce(s, Op::ReduceSum, {{j, 0}}, xv), reduce(m, Op::ReduceMax, {{j, 0}}, xv),
            store(y, k.var_ref(i), k.var_ref(s)), store(z, k.var_ref(i), k.var_ref(m))};
  k.reads = {x};
  k.writes = {y, z};
  p.kernels.push_back(k);
  auto out = run(p, {{"x", Array(DType::f32, Shape{2, 0})}});
  expect_values(out[0], {0, 0});
  expect_values(out[1], {-kInf, -kInf});
}

// A reduce whose body binds lets (sum of squares), and a multi-axis reduce (row-major).
TEST(KernelEval, ReduceWithBodyLetsAndSeveralAxes) {
  Program p;
  BufferId x = input(p, "x", {2, 3});
  BufferId y = output(p, {});
  Kernel k;
  k.name = "sum_squares";
  VarId i = k.new_var(DType::i32, "i"), j = k.new_var(DType::i32, "j");
  VarId v = k.new_var(DType::f32, "v"), s = k.new_var(DType::f32, "s");
  ExprId vv = k.var_ref(v);
  k.body = {reduce(s, Op::ReduceSum, {{i, 2}, {j, 3}}, k.binary(Op::Mul, vv, vv),
                   {let(v, ld(k, x, linear(k, {{i, 3}, {j, 1}})))}),
            store(y, k.index_const(0), k.var_ref(s))};
  k.reads = {x};
  k.writes = {y};
  p.kernels.push_back(k);
  expect_values(run(p, {{"x", f32({2, 3}, {1, -2, 3, 0.5, 2, -1})}})[0], {19.25});
}

// Sums accumulate in f64 whatever the value dtype: 1e8 + 1 - 1e8 is 1, not the f32 answer 0.
TEST(KernelEval, SumsAccumulateInDouble) {
  Program p;
  BufferId x = input(p, "x", {3});
  BufferId y = output(p, {});
  Kernel k;
  k.name = "sum";
  VarId j = k.new_var(DType::i32, "j"), s = k.new_var(DType::f32, "s");
  k.body = {reduce(s, Op::ReduceSum, {{j, 3}}, ld(k, x, k.var_ref(j))),
            store(y, k.index_const(0), k.var_ref(s))};
  k.reads = {x};
  k.writes = {y};
  p.kernels.push_back(k);
  EXPECT_EQ(run(p, {{"x", f32({3}, {1e8, 1, -1e8})}})[0].get(0), 1.0);
}

// ---- contractions ----

TEST(KernelEval, ContractionWithBiasReluEpilogue) {
  Program p;
  BufferId x = input(p, "x", {3, 4}), w = input(p, "w", {4, 2}), b = input(p, "b", {2});
  BufferId y = output(p, {3, 2});
  Kernel k;
  k.name = "dense_relu";
  k.is_contraction = true;
  VarId i = k.new_var(DType::i32, "i"), j = k.new_var(DType::i32, "j");
  VarId kk = k.new_var(DType::i32, "k"), acc = k.new_var(DType::f32, "acc");
  k.parallel = {{i, 3}, {j, 2}};
  k.contraction.k = {kk, 4};
  k.contraction.a = ld(k, x, linear(k, {{i, 4}, {kk, 1}}));
  k.contraction.b = ld(k, w, linear(k, {{kk, 2}, {j, 1}}));
  k.contraction.acc = acc;
  k.body = {store(
      y, linear(k, {{i, 2}, {j, 1}}),
      k.binary(Op::Max, k.binary(Op::Add, k.var_ref(acc), ld(k, b, k.var_ref(j))), f32c(k, 0)))};
  k.reads = {x, w, b};
  k.writes = {y};
  p.kernels.push_back(k);
  std::vector<double> xv = {1, 2, 3, 4, -1, 0.5, 2, -3, 0, 1, -1, 2};
  std::vector<double> wv = {0.5, -1, 1, 2, -2, 0.25, 1.5, -0.5};
  std::vector<double> bv = {0.25, -4};
  std::vector<double> want(6);
  for (size_t r = 0; r < 3; ++r)
    for (size_t c = 0; c < 2; ++c) {
      double s = bv[c];
      for (size_t q = 0; q < 4; ++q) s += xv[r * 4 + q] * wv[q * 2 + c];
      want[r * 2 + c] = std::max(s, 0.0);
    }
  auto out = run(p, {{"x", f32({3, 4}, xv)}, {"w", f32({4, 2}, wv)}, {"b", f32({2}, bv)}});
  expect_values(out[0], want);
  // Both signs occur, so the relu is exercised.
  EXPECT_GT(*std::max_element(want.begin(), want.end()), 0);
  EXPECT_EQ(*std::min_element(want.begin(), want.end()), 0);
}

// [2,3,4] @ [2,4,5] where the right operand is stored transposed, as [2,5,4].
TEST(KernelEval, BatchedContraction) {
  Program p;
  BufferId a = input(p, "a", {2, 3, 4}), bt = input(p, "bt", {2, 5, 4});
  BufferId y = output(p, {2, 3, 5});
  Kernel k;
  k.name = "bmm";
  k.is_contraction = true;
  VarId bb = k.new_var(DType::i32, "b"), i = k.new_var(DType::i32, "i");
  VarId j = k.new_var(DType::i32, "j"), kk = k.new_var(DType::i32, "k");
  VarId acc = k.new_var(DType::f32, "acc");
  k.parallel = {{bb, 2}, {i, 3}, {j, 5}};
  k.contraction.batch = {{bb, 2}};
  k.contraction.k = {kk, 4};
  k.contraction.a = ld(k, a, linear(k, {{bb, 12}, {i, 4}, {kk, 1}}));
  k.contraction.b = ld(k, bt, linear(k, {{bb, 20}, {j, 4}, {kk, 1}}));
  k.contraction.acc = acc;
  k.body = {store(y, linear(k, {{bb, 15}, {i, 5}, {j, 1}}), k.var_ref(acc))};
  k.reads = {a, bt};
  k.writes = {y};
  p.kernels.push_back(k);
  std::vector<double> av(24), bv(40), want(30, 0.0);
  for (size_t n = 0; n < av.size(); ++n) av[n] = std::cos(static_cast<double>(n));
  for (size_t n = 0; n < bv.size(); ++n) bv[n] = 0.25 * static_cast<double>(n % 7) - 0.5;
  Array aa = f32({2, 3, 4}, av), ba = f32({2, 5, 4}, bv);
  for (int64_t q = 0; q < 2; ++q)
    for (int64_t r = 0; r < 3; ++r)
      for (int64_t c = 0; c < 5; ++c)
        for (int64_t t = 0; t < 4; ++t)
          want[static_cast<size_t>(q * 15 + r * 5 + c)] +=
              aa.get(q * 12 + r * 4 + t) * ba.get(q * 20 + c * 4 + t);
  expect_values(run(p, {{"a", aa}, {"bt", ba}})[0], want);
}

// ---- scatter ----

// scatter_add(ids, updates) into f32[4,2]: a parallel kernel zeroes the output, then a sequential
// kernel accumulates row by row; the repeated id 1 accumulates, the out-of-range id 7 is dropped
// (its row is clamped and it adds zero: stores cannot be masked).
Program scatter_program(bool sequential) {
  Program p;
  BufferId ids = input(p, "ids", {6}, DType::i32), upd = input(p, "upd", {6, 2});
  BufferId y = output(p, {4, 2});
  {
    Kernel k;
    k.name = "zero";
    VarId r = k.new_var(DType::i32, "r");
    k.parallel = {{r, 8}};
    k.body = {store(y, k.var_ref(r), f32c(k, 0))};
    k.writes = {y};
    p.kernels.push_back(k);
  }
  Kernel k;
  k.name = "scatter_add";
  k.sequential = sequential;
  VarId n = k.new_var(DType::i32, "n"), id = k.new_var(DType::i32, "id");
  VarId ok = k.new_var(DType::boolean, "ok"), row = k.new_var(DType::i32, "row");
  VarId c = k.new_var(DType::i32, "c");
  k.parallel = {{n, 6}};
  ExprId idv = k.var_ref(id);
  ExprId at = linear(k, {{row, 2}, {c, 1}});
  k.body = {
      let(id, k.load(ids, DType::i32, k.var_ref(n))),
      let(ok, k.binary(Op::And, k.binary(Op::Ge, idv, k.index_const(0)),
                       k.binary(Op::Lt, idv, k.index_const(4)))),
      let(row, k.select(k.var_ref(ok), idv, k.index_const(0))),
      loop({{c, 2}},
           {store(y, at,
                  k.binary(Op::Add, ld(k, y, at),
                           k.select(k.var_ref(ok), ld(k, upd, linear(k, {{n, 2}, {c, 1}})),
                                    f32c(k, 0))))}),
  };
  k.reads = {ids, upd, y};
  k.writes = {y};
  p.kernels.push_back(k);
  return p;
}

TEST(KernelEval, SequentialScatterAddWithRepeatedIds) {
  Program p = scatter_program(true);
  std::vector<double> idv = {1, 3, 1, 0, 1, 7};
  std::vector<double> uv = {1, 2, 10, 20, 100, 200, 0.5, 0.25, 1000, 2000, 7, 7};
  std::vector<double> want(8, 0.0);
  for (size_t n = 0; n < 6; ++n)
    if (idv[n] < 4)
      for (size_t c = 0; c < 2; ++c) want[static_cast<size_t>(idv[n]) * 2 + c] += uv[n * 2 + c];
  auto out = run(p, {{"ids", i32({6}, idv)}, {"upd", f32({6, 2}, uv)}});
  expect_values(out[0], want);
  expect_values(out[0], {0.5, 0.25, 1101, 2202, 0, 0, 10, 20});
}

// ---- random numbers, index arithmetic, lets ----

TEST(KernelEval, RandMatchesPhilox) {
  Program p;
  BufferId off = input(p, "offset", {}, DType::i32);
  BufferId y = output(p, {8}), z = output(p, {8}, DType::f64);
  Kernel k;
  k.name = "rand";
  VarId n = k.new_var(DType::i32, "n");
  k.parallel = {{n, 8}};
  ExprId o = k.load(off, DType::i32, k.index_const(0));
  k.body = {store(y, k.var_ref(n), k.rand(42, k.var_ref(n), o, DType::f32)),
            store(z, k.var_ref(n), k.rand(7, k.var_ref(n), o, DType::f64))};
  k.reads = {off};
  k.writes = {y, z};
  p.kernels.push_back(k);
  auto out = run(p, {{"offset", Array::scalar(DType::i32, 3)}});
  for (int64_t i = 0; i < 8; ++i) {
    double u = philox_uniform(42, static_cast<uint64_t>(i), 3);
    EXPECT_EQ(out[0].get(i), static_cast<double>(static_cast<float>(u))) << i;
    EXPECT_EQ(out[1].get(i), philox_uniform(7, static_cast<uint64_t>(i), 3)) << i;
    EXPECT_GE(out[0].get(i), 0.0);
    EXPECT_LT(out[0].get(i), 1.0);
  }
}

// permute(x: f32[2,3,4], [2,0,1]) -> f32[4,2,3], over one flat parallel axis: the output's
// multi-index is recovered with // and %.
TEST(KernelEval, IndexArithmeticTransposition) {
  Program p;
  BufferId x = input(p, "x", {2, 3, 4});
  BufferId y = output(p, {4, 2, 3});
  Kernel k;
  k.name = "permute";
  VarId n = k.new_var(DType::i32, "n");
  k.parallel = {{n, 24}};
  ExprId nv = k.var_ref(n);
  ExprId c = k.idiv(nv, 6), a = k.imod(k.idiv(nv, 3), 2), b = k.imod(nv, 3);
  ExprId src = k.binary(Op::Add,
                        k.binary(Op::Add, k.binary(Op::Mul, a, k.index_const(12)),
                                 k.binary(Op::Mul, b, k.index_const(4))),
                        c);
  k.body = {store(y, nv, ld(k, x, src))};
  k.reads = {x};
  k.writes = {y};
  p.kernels.push_back(k);
  std::vector<double> xv(24), want(24);
  for (size_t q = 0; q < 24; ++q) xv[q] = static_cast<double>(q);
  for (size_t c2 = 0; c2 < 4; ++c2)
    for (size_t a2 = 0; a2 < 2; ++a2)
      for (size_t b2 = 0; b2 < 3; ++b2) want[c2 * 6 + a2 * 3 + b2] = xv[a2 * 12 + b2 * 4 + c2];
  expect_values(run(p, {{"x", f32({2, 3, 4}, xv)}})[0], want);
}

TEST(KernelEval, IDivAndIModFloorNegativeOperands) {
  Program p;
  BufferId q = output(p, {5}, DType::i32), r = output(p, {5}, DType::i32);
  Kernel k;
  k.name = "floor_div_mod";
  VarId n = k.new_var(DType::i32, "n");
  k.parallel = {{n, 5}};
  ExprId m = k.binary(Op::Sub, k.var_ref(n), k.index_const(3));  // -3..1
  k.body = {store(q, k.var_ref(n), k.idiv(m, 2)), store(r, k.var_ref(n), k.imod(m, 2))};
  k.writes = {q, r};
  p.kernels.push_back(k);
  auto out = run(p);
  EXPECT_EQ(out[0].type_str(), "i32[5]");
  expect_values(out[0], {-2, -1, -1, 0, 0});
  expect_values(out[1], {1, 0, 1, 0, 1});
}

TEST(KernelEval, LetChain) {
  Program p;
  BufferId x = input(p, "x", {3});
  BufferId y = output(p, {3});
  Kernel k;
  k.name = "lets";
  VarId n = k.new_var(DType::i32, "n");
  VarId v1 = k.new_var(DType::f32, "v"), v2 = k.new_var(DType::f32, "v");
  VarId v3 = k.new_var(DType::f32, "v");
  k.parallel = {{n, 3}};
  k.body = {let(v1, k.binary(Op::Mul, ld(k, x, k.var_ref(n)), f32c(k, 2))),
            let(v2, k.binary(Op::Add, k.var_ref(v1), f32c(k, 1))),
            let(v3, k.binary(Op::Mul, k.var_ref(v2), k.var_ref(v2))),
            store(y, k.var_ref(n), k.binary(Op::Sub, k.var_ref(v3), k.var_ref(v1)))};
  k.reads = {x};
  k.writes = {y};
  p.kernels.push_back(k);
  expect_values(run(p, {{"x", f32({3}, {0.5, -1, 3})}})[0], {3, 3, 43});
}

// Hash-consing shares subexpressions: x doubled 60 times by v + v is a DAG of 60 nodes, which
// must be evaluated as such (plain recursion would take 2^60 steps).
TEST(KernelEval, SharedSubexpressionsAreEvaluatedOnce) {
  Program p;
  BufferId x = input(p, "x", {2});
  BufferId y = output(p, {2});
  Kernel k;
  k.name = "doublings";
  VarId n = k.new_var(DType::i32, "n");
  k.parallel = {{n, 2}};
  ExprId v = ld(k, x, k.var_ref(n));
  for (int i = 0; i < 60; ++i) v = k.binary(Op::Add, v, v);
  k.body = {store(y, k.var_ref(n), v)};
  k.reads = {x};
  k.writes = {y};
  p.kernels.push_back(k);
  expect_values(run(p, {{"x", f32({2}, {1, -0.5})}})[0],
                {std::ldexp(1.0, 60), -std::ldexp(1.0, 59)});
}

// Every node rounds to its dtype: in f32, (2^24 + 1) - 2^24 is 0; in f64 it is 1. i32 wraps.
TEST(KernelEval, EveryNodeRoundsToItsDtype) {
  Program p;
  BufferId x = input(p, "x", {1}), a = input(p, "a", {2}, DType::i32);
  BufferId y = output(p, {1}), z = output(p, {1}, DType::f64), w = output(p, {2}, DType::i32);
  BufferId c = output(p, {2}, DType::i32), t = output(p, {2});
  Kernel k;
  k.name = "rounding";
  VarId n = k.new_var(DType::i32, "n");
  k.parallel = {{n, 1}};
  ExprId xv = ld(k, x, k.index_const(0));
  ExprId xd = k.cast(xv, DType::f64);
  ExprId zero = k.index_const(0), one = k.index_const(1);
  ExprId a0 = k.load(a, DType::i32, zero), a1 = k.load(a, DType::i32, one);
  k.body = {
      store(y, zero, k.binary(Op::Sub, k.binary(Op::Add, xv, f32c(k, 1)), xv)),
      store(z, zero, k.binary(Op::Sub, k.binary(Op::Add, xd, k.constant(1, DType::f64)), xd)),
      store(w, zero, k.binary(Op::Add, a0, one)),  // INT32_MAX + 1 wraps
      store(w, one, k.binary(Op::Mul, a1, a1)),    // 65536^2 wraps to 0
      // Casts: f -> i truncates toward zero and saturates; -> bool is != 0.
      store(c, zero, k.cast(k.constant(-2.75, DType::f32), DType::i32)),
      store(c, one, k.cast(k.constant(1e10, DType::f32), DType::i32)),
      // Stores convert to the buffer's dtype (here a bool value into f32).
      store(t, zero, k.cast(k.constant(-0.5, DType::f32), DType::boolean)),
      store(t, one, k.cast(k.constant(0, DType::f32), DType::boolean)),
  };
  k.reads = {x, a};
  k.writes = {y, z, w, c, t};
  p.kernels.push_back(k);
  auto out = run(p, {{"x", f32({1}, {16777216.0})}, {"a", i32({2}, {2147483647.0, 65536})}});
  EXPECT_EQ(out[0].get(0), 0.0);
  EXPECT_EQ(out[1].get(0), 1.0);
  EXPECT_EQ(out[2].get(0), -2147483648.0);
  EXPECT_EQ(out[2].get(1), 0.0);
  EXPECT_EQ(out[3].get(0), -2.0);
  EXPECT_EQ(out[3].get(1), 2147483647.0);
  EXPECT_EQ(out[4].get(0), 1.0);
  EXPECT_EQ(out[4].get(1), 0.0);
}

// max/min propagate NaN (like the graph interpreter), comparisons with NaN are false.
TEST(KernelEval, NaNSemanticsOfMaxMinAndComparisons) {
  Program p;
  BufferId x = input(p, "x", {3});
  BufferId mx = output(p, {3}), mn = output(p, {3}), lt = output(p, {3}, DType::boolean);
  Kernel k;
  k.name = "nan";
  VarId n = k.new_var(DType::i32, "n");
  k.parallel = {{n, 3}};
  ExprId xv = ld(k, x, k.var_ref(n)), one = f32c(k, 1);
  k.body = {store(mx, k.var_ref(n), k.binary(Op::Max, xv, one)),
            store(mn, k.var_ref(n), k.binary(Op::Min, one, xv)),
            store(lt, k.var_ref(n), k.binary(Op::Lt, xv, one))};
  k.reads = {x};
  k.writes = {mx, mn, lt};
  p.kernels.push_back(k);
  auto out = run(p, {{"x", f32({3}, {kNaN, 0, 2})}});
  expect_values(out[0], {kNaN, 1, 2});
  expect_values(out[1], {kNaN, 0, 1});
  expect_values(out[2], {0, 1, 0});
}

// ---- parameters and updates ----

// Kernel 1 reads w (the old value) into out0; kernel 2 updates w in place: w -= 0.5 * g.
Program sgd_in_place_program() {
  Program p;
  BufferId w = param(p, "w", {4}), g = input(p, "g", {4});
  BufferId y = output(p, {4});
  {
    Kernel k;
    k.name = "twice";
    VarId n = k.new_var(DType::i32, "n");
    k.parallel = {{n, 4}};
    k.body = {store(y, k.var_ref(n), k.binary(Op::Mul, ld(k, w, k.var_ref(n)), f32c(k, 2)))};
    k.reads = {w};
    k.writes = {y};
    p.kernels.push_back(k);
  }
  Kernel k;
  k.name = "sgd";
  VarId n = k.new_var(DType::i32, "n");
  k.parallel = {{n, 4}};
  ExprId step = k.binary(Op::Mul, ld(k, g, k.var_ref(n)), f32c(k, 0.5));
  k.body = {store(w, k.var_ref(n), k.binary(Op::Sub, ld(k, w, k.var_ref(n)), step))};
  k.reads = {w, g};
  k.writes = {w};
  p.kernels.push_back(k);
  p.updates = {{w, w}};
  return p;
}

TEST(KernelEval, InPlaceParameterUpdateWritesTheStoreStorage) {
  Program p = sgd_in_place_program();
  ParamStore params;
  params.set("w", f32({4}, {1, 2, 3, 4}));
  Array held = params.get("w");  // shares the store's storage
  uint64_t version = params.version();
  Feeds feeds = {{"g", f32({4}, {2, 2, -2, 0})}};

  auto out = run_program(p, feeds, params, true);
  expect_values(out[0], {2, 4, 6, 8});  // the old w
  expect_values(params.get("w"), {0, 1, 4, 4});
  EXPECT_TRUE(params.get("w").shares_storage(held));
  expect_values(held, {0, 1, 4, 4});
  EXPECT_GT(params.version(), version);
  EXPECT_FALSE(out[0].shares_storage(held));

  // Without write_updates the store is left alone (the in-place kernel writes a private copy).
  version = params.version();
  out = run_program(p, feeds, params, false);
  expect_values(out[0], {0, 2, 8, 8});
  expect_values(params.get("w"), {0, 1, 4, 4});
  EXPECT_EQ(params.version(), version);
}

TEST(KernelEval, CopiedParameterUpdateAndParamAsOutput) {
  Program p;
  BufferId w = param(p, "w", {3});
  BufferId t = temp(p, "t", {3});
  p.outputs.push_back(w);  // the parameter itself is an output: its value before the update
  Kernel k;
  k.name = "inc";
  VarId n = k.new_var(DType::i32, "n");
  k.parallel = {{n, 3}};
  k.body = {store(t, k.var_ref(n), k.binary(Op::Add, ld(k, w, k.var_ref(n)), f32c(k, 1)))};
  k.reads = {w};
  k.writes = {t};
  p.kernels.push_back(k);
  p.updates = {{w, t}};

  ParamStore params;
  params.set("w", f32({3}, {1, 2, 3}));
  Array held = params.get("w");
  auto out = run_program(p, {}, params, true);
  expect_values(out[0], {1, 2, 3});
  expect_values(held, {2, 3, 4});  // assigned into the same storage
  EXPECT_FALSE(out[0].shares_storage(held));
  out = run_program(p, {}, params, true);
  expect_values(out[0], {2, 3, 4});
  expect_values(params.get("w"), {3, 4, 5});
  out = run_program(p, {}, params, false);
  expect_values(params.get("w"), {3, 4, 5});
}

// Updates see the old parameters: a <- b and b <- a swap.
TEST(KernelEval, UpdatesAreSimultaneous) {
  Program p;
  BufferId a = param(p, "a", {2}), b = param(p, "b", {2});
  p.updates = {{a, b}, {b, a}};
  ParamStore params;
  params.set("a", f32({2}, {1, 2}));
  params.set("b", f32({2}, {3, 4}));
  run_program(p, {}, params, true);
  expect_values(params.get("a"), {3, 4});
  expect_values(params.get("b"), {1, 2});
}

// ---- memory planning ----

// x -> t0 = 2x -> t1 = t0 + 1 -> t2 = 3 t1 -> y = t2 + t1, with t2 placed over t0 (dead by then).
Program chain_program(int64_t t2_offset) {
  Program p;
  BufferId x = input(p, "x", {4});
  BufferId t0 = temp(p, "t0", {4}, 0), t1 = temp(p, "t1", {4}, 16);
  BufferId t2 = temp(p, "t2", {4}, t2_offset);
  BufferId y = output(p, {4});
  p.arena_bytes = 32;
  p.unplanned_bytes = 48;
  auto ew = [&](const char* name, BufferId out, std::vector<BufferId> ins, auto body) {
    Kernel k;
    k.name = name;
    VarId n = k.new_var(DType::i32, "n");
    k.parallel = {{n, 4}};
    std::vector<ExprId> v;
    for (BufferId b : ins) v.push_back(ld(k, b, k.var_ref(n)));
    k.body = {store(out, k.var_ref(n), body(k, v))};
    k.reads = ins;
    k.writes = {out};
    p.kernels.push_back(k);
  };
  ew("double", t0, {x}, [](Kernel& k, auto& v) { return k.binary(Op::Mul, v[0], f32c(k, 2)); });
  ew("inc", t1, {t0}, [](Kernel& k, auto& v) { return k.binary(Op::Add, v[0], f32c(k, 1)); });
  ew("triple", t2, {t1}, [](Kernel& k, auto& v) { return k.binary(Op::Mul, v[0], f32c(k, 3)); });
  ew("sum", y, {t2, t1}, [](Kernel& k, auto& v) { return k.binary(Op::Add, v[0], v[1]); });
  return p;
}

TEST(KernelEval, PlannedTempsShareTheArena) {
  Feeds feeds = {{"x", f32({4}, {1, 2, 3, 4})}};
  expect_values(run(chain_program(0), feeds)[0], {12, 20, 28, 36});
  // A bad plan puts t2 over t1 while t1 is still live: the result is visibly wrong (2 * t2).
  expect_values(run(chain_program(16), feeds)[0], {18, 30, 42, 54});
}

// Temps and outputs start as NaN: reading what no kernel wrote shows up in the results.
TEST(KernelEval, UnwrittenMemoryReadsAsNaN) {
  Program p;
  BufferId t = temp(p, "t", {2});
  BufferId y = output(p, {2});
  output(p, {2});  // never written at all
  Kernel k;
  k.name = "copy";
  VarId n = k.new_var(DType::i32, "n");
  k.parallel = {{n, 2}};
  k.body = {store(y, k.var_ref(n), ld(k, t, k.var_ref(n)))};
  k.reads = {t};
  k.writes = {y};
  p.kernels.push_back(k);
  auto out = run(p);
  expect_values(out[0], {kNaN, kNaN});
  expect_values(out[1], {kNaN, kNaN});
}

// ---- constants ----

TEST(KernelEval, SplatAndFullConstants) {
  Program p;
  BufferId x = input(p, "x", {4});
  BufferId s = constant(p, "s", {4}, {2.5}), c = constant(p, "c", {4}, {1, 2, 3, 4});
  BufferId e = constant(p, "e", {2}, {7, -3}, DType::i32);
  BufferId y = output(p, {4}), z = output(p, {2}, DType::i32);
  Kernel k;
  k.name = "affine";
  VarId n = k.new_var(DType::i32, "n");
  k.parallel = {{n, 4}};
  ExprId nv = k.var_ref(n);
  k.body = {
      store(y, nv, k.binary(Op::Add, k.binary(Op::Mul, ld(k, x, nv), ld(k, s, nv)), ld(k, c, nv)))};
  k.reads = {x, s, c};
  k.writes = {y};
  p.kernels.push_back(k);
  Kernel k2;
  k2.name = "ints";
  VarId m = k2.new_var(DType::i32, "m");
  k2.parallel = {{m, 2}};
  k2.body = {store(z, k2.var_ref(m),
                   k2.binary(Op::Mul, k2.load(e, DType::i32, k2.var_ref(m)), k2.index_const(2)))};
  k2.reads = {e};
  k2.writes = {z};
  p.kernels.push_back(k2);
  auto out = run(p, {{"x", f32({4}, {1, -1, 0, 2})}});
  expect_values(out[0], {3.5, -0.5, 3, 9});
  expect_values(out[1], {14, -6});
}

// ---- user errors (soma::Error, not aborts) ----

TEST(KernelEval, FeedAndParameterErrors) {
  Program p = sgd_in_place_program();
  ParamStore params;
  Feeds good = {{"g", f32({4}, {0, 0, 0, 0})}};
  EXPECT_THROW(run_program(p, good, params, true), NameError);  // no parameter w
  params.set("w", f32({3}, {0, 0, 0}));
  EXPECT_THROW(run_program(p, good, params, true), ShapeError);
  params.set("w", f32({4}, {0, 0, 0, 0}));
  EXPECT_THROW(run_program(p, {}, params, true), ValueError);
  EXPECT_THROW(run_program(p, {{"g", i32({4}, {0, 0, 0, 0})}}, params, true), TypeError);
  EXPECT_THROW(run_program(p, {{"g", f32({2, 2}, {0, 0, 0, 0})}}, params, true), ShapeError);
  EXPECT_NO_THROW(run_program(p, good, params, true));
}

// ---- the backend ----

TEST(KernelEval, InterpKernelsBackend) {
  auto names = backend_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "interp-kernels"), names.end());
  Backend& backend = get_backend("interp-kernels");
  EXPECT_EQ(backend.name(), "interp-kernels");
  auto params = std::make_shared<ParamStore>();
  params->set("w", f32({4}, {1, 2, 3, 4}));

  CompileRequest req;
  try {
    backend.compile(req, params);
    ADD_FAILURE() << "compiled without a program";
  } catch (const BackendError& e) {
    EXPECT_NE(std::string(e.what()).find("the interp-kernels backend needs a lowered program"),
              std::string::npos)
        << e.what();
  }

  std::unique_ptr<Executable> exe;
  {
    Program p = sgd_in_place_program();
    req.program = &p;
    exe = backend.compile(req, params);
  }  // the executable holds its own copy of the program
  auto out = exe->run({{"g", f32({4}, {1, 1, 1, 1})}});
  expect_values(out[0], {2, 4, 6, 8});
  expect_values(params->get("w"), {0.5, 1.5, 2.5, 3.5});
  out = exe->run({{"g", f32({4}, {1, 1, 1, 1})}});
  expect_values(out[0], {1, 3, 5, 7});
  expect_values(params->get("w"), {0, 1, 2, 3});
}

// ---- internal bugs abort with the kernel printed ----

TEST(KernelEvalDeathTest, OutOfBoundsLoadAbortsWithTheKernel) {
  Program p;
  BufferId x = input(p, "x", {4});
  BufferId y = output(p, {4});
  Kernel k;
  k.name = "shift";
  VarId n = k.new_var(DType::i32, "n");
  k.parallel = {{n, 4}};
  k.body = {store(y, k.var_ref(n), ld(k, x, k.binary(Op::Add, k.var_ref(n), k.index_const(1))))};
  k.reads = {x};
  k.writes = {y};
  p.kernels.push_back(k);
  Feeds feeds = {{"x", f32({4}, {1, 2, 3, 4})}};
  EXPECT_DEATH(
      run(p, feeds),
      "kernel shift: load x\\[4\\] is out of bounds(.|\n)*where n0=3(.|\n)*kernel shift\\(");
}

// A select evaluates both arms (as branch-free code does): it cannot guard a load.
TEST(KernelEvalDeathTest, SelectDoesNotGuardALoad) {
  Program p;
  BufferId x = input(p, "x", {4});
  BufferId y = output(p, {4});
  Kernel k;
  k.name = "guarded";
  VarId n = k.new_var(DType::i32, "n");
  k.parallel = {{n, 4}};
  ExprId n1 = k.binary(Op::Add, k.var_ref(n), k.index_const(1));
  k.body = {store(y, k.var_ref(n),
                  k.select(k.binary(Op::Lt, n1, k.index_const(4)), ld(k, x, n1), f32c(k, 0)))};
  k.reads = {x};
  k.writes = {y};
  p.kernels.push_back(k);
  Feeds feeds = {{"x", f32({4}, {1, 2, 3, 4})}};
  EXPECT_DEATH(run(p, feeds), "load x\\[4\\] is out of bounds");
}

TEST(KernelEvalDeathTest, ScatterInAParallelKernelIsARace) {
  Program p = scatter_program(false);
  Feeds feeds = {{"ids", i32({6}, {1, 3, 1, 0, 1, 7})},
                 {"upd", f32({6, 2}, std::vector<double>(12, 1.0))}};
  EXPECT_DEATH(run(p, feeds),
               "data race: point \\(n0=2\\) reads out0\\[2\\], which point \\(n0=0\\) wrote");
}

TEST(KernelEvalDeathTest, TwoPointsWritingOneElementIsARace) {
  Program p;
  BufferId y = output(p, {1});
  Kernel k;
  k.name = "collide";
  VarId n = k.new_var(DType::i32, "n");
  k.parallel = {{n, 3}};
  k.body = {store(y, k.index_const(0), k.cast(k.var_ref(n), DType::f32))};
  k.writes = {y};
  p.kernels.push_back(k);
  EXPECT_DEATH(run(p), "data race: points \\(n0=0\\) and \\(n0=1\\) both write out0\\[0\\]");
  p.kernels[0].sequential = true;  // in order, the last write wins
  EXPECT_EQ(run(p)[0].get(0), 2.0);
}

TEST(KernelEvalDeathTest, MalformedKernel) {
  Program p;
  BufferId y = output(p, {1});
  Kernel k;
  k.name = "malformed";
  k.body = {store(y, k.index_const(0), k.constant(1, DType::f32))};
  k.writes = {y};
  Expr bad;
  bad.kind = ExprKind::Unary;
  bad.op = Op::Neg;
  bad.a[0] = 7;  // not an earlier expression
  k.exprs.push_back(bad);
  p.kernels.push_back(k);
  EXPECT_DEATH(run(p), "kernel malformed: expression 2 has operand 7");
}

TEST(KernelEvalDeathTest, IllegalWritesAndScopes) {
  {
    Program p;
    BufferId x = input(p, "x", {4});
    Kernel k;
    k.name = "clobber";
    VarId n = k.new_var(DType::i32, "n");
    k.parallel = {{n, 4}};
    k.body = {store(x, k.var_ref(n), f32c(k, 0))};
    k.writes = {x};
    p.kernels.push_back(k);
    EXPECT_DEATH(run(p, {{"x", f32({4}, {1, 2, 3, 4})}}),
                 "kernel clobber: writes x, a input buffer that no kernel may write");
  }
  {
    Program p;
    BufferId y = output(p, {4});
    Kernel k;
    k.name = "undeclared";
    VarId n = k.new_var(DType::i32, "n");
    k.parallel = {{n, 4}};
    k.body = {store(y, k.var_ref(n), f32c(k, 0))};
    p.kernels.push_back(k);
    EXPECT_DEATH(run(p), "stores to out0, which is not in the kernel's writes");
  }
  {
    Program p;
    BufferId y = output(p, {4});
    Kernel k;
    k.name = "scope";
    VarId n = k.new_var(DType::i32, "n"), j = k.new_var(DType::i32, "j");
    VarId s = k.new_var(DType::i32, "s");
    k.parallel = {{n, 4}};
    k.body = {reduce(s, Op::ReduceSum, {{j, 2}}, k.var_ref(j)),
              store(y, k.var_ref(n), k.cast(k.var_ref(j), DType::f32))};  // j is out of scope
    k.writes = {y};
    p.kernels.push_back(k);
    EXPECT_DEATH(run(p), "reads j1 outside its scope");
  }
  {
    Program p;
    BufferId x = input(p, "x", {4});
    BufferId y = output(p, {4});
    Kernel k;
    k.name = "types";
    VarId n = k.new_var(DType::i32, "n");
    k.parallel = {{n, 4}};
    k.body = {store(y, k.var_ref(n), k.load(x, DType::f64, k.var_ref(n)))};
    k.reads = {x};
    k.writes = {y};
    p.kernels.push_back(k);
    EXPECT_DEATH(run(p, {{"x", f32({4}, {1, 2, 3, 4})}}), "loads f64 from x \\(f32\\)");
  }
}

}  // namespace
}  // namespace soma
