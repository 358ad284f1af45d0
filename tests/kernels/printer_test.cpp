// The kernel-IR printer against golden text, and the evaluator on the same program.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "backends/interp/kernel_eval.h"
#include "graph/kernel_ir.h"
#include "kernels/kir_build.h"

namespace soma {
namespace {

using namespace kir;
using namespace kir::test;

// Three kernels over every kind of buffer: a padded scale into a planned temp, a reduce whose body
// has a let, and an in-place update with floor index arithmetic.
Program small_program() {
  Program p;
  BufferId x = input(p, "x", {4});
  BufferId w = param(p, "w", {4});
  BufferId s = constant(p, "s", {}, {0.5});
  BufferId c = constant(p, "c", {3}, {1, -2, 3}, DType::i32);
  BufferId t = temp(p, "t", {2, 3}, 0);
  BufferId y = output(p, {2});
  p.arena_bytes = 24;
  p.unplanned_bytes = 24;
  p.updates = {{w, w}};
  {
    Kernel k;
    k.name = "pad_scale";
    VarId i = k.new_var(DType::i32, "i"), j = k.new_var(DType::i32, "j");
    k.parallel = {{i, 2}, {j, 3}};
    ExprId n = linear(k, {{i, 3}, {j, 1}});
    ExprId mask = k.binary(Op::And, k.binary(Op::Ge, n, k.index_const(1)),
                           k.binary(Op::Lt, n, k.index_const(5)));
    ExprId xv = k.load(x, DType::f32, k.binary(Op::Sub, n, k.index_const(1)), mask, 0);
    ExprId cv = k.cast(k.load(c, DType::i32, k.var_ref(j)), DType::f32);
    k.body = {store(
        t, n,
        k.binary(Op::Mul, k.binary(Op::Add, xv, cv), k.load(s, DType::f32, k.index_const(0))))};
    k.reads = {x, c, s};
    k.writes = {t};
    p.kernels.push_back(k);
  }
  {
    Kernel k;
    k.name = "row_max_relu";
    VarId i = k.new_var(DType::i32, "i"), j = k.new_var(DType::i32, "j");
    VarId v = k.new_var(DType::f32, "v"), m = k.new_var(DType::f32, "v");
    k.parallel = {{i, 2}};
    ExprId tv = k.load(t, DType::f32, linear(k, {{i, 3}, {j, 1}}));
    ExprId zero = k.constant(0, DType::f32);
    k.body = {
        reduce(m, Op::ReduceMax, {{j, 3}}, k.var_ref(v),
               {let(v, k.select(k.binary(Op::Gt, tv, zero), tv, zero))}),
        store(y, k.var_ref(i),
              k.binary(Op::Sub, k.var_ref(m),
                       k.binary(Op::Sub, zero, k.load(t, DType::f32, linear(k, {{i, 3}}, 2)))))};
    k.reads = {t};
    k.writes = {y};
    p.kernels.push_back(k);
  }
  {
    Kernel k;
    k.name = "sgd";
    VarId n = k.new_var(DType::i32, "n");
    k.parallel = {{n, 4}};
    ExprId nv = k.var_ref(n);
    ExprId src = k.binary(Op::Add, k.idiv(nv, 2), k.imod(nv, 2));
    k.body = {store(
        w, nv,
        k.binary(Op::Sub, k.load(w, DType::f32, nv),
                 k.binary(Op::Mul, k.load(t, DType::f32, src), k.constant(0.1, DType::f32))))};
    k.reads = {w, t};
    k.writes = {w};
    p.kernels.push_back(k);
  }
  return p;
}

TEST(KernelPrinter, Program) {
  // Infix with only the parentheses the tree needs (a - (b - c) keeps its own), masked loads as
  // (load b[i] if mask else other), i32 floor division as //, constants' values, in/out/inout
  // buffers.
  const std::string want = R"(program {
  buffers:
    x: input f32[4]
    w: param f32[4]
    s: const f32[] = 0.5
    c: const i32[3] = [1, -2, 3]
    t: temp f32[2,3] @0
    out0: output f32[2]
  outputs: out0
  update w <- w (in place)
  arena: 24 bytes (24 without reuse)
}
kernel pad_scale(x: f32[4], c: i32[3], s: f32[], out t: f32[2,3]) {
  parallel i0 in 0..2, j1 in 0..3
    store t[i0*3 + j1] = ((load x[i0*3 + j1 - 1] if i0*3 + j1 >= 1 && i0*3 + j1 < 5 else 0.0) + f32(load c[j1]))*load s[0]
}
kernel row_max_relu(t: f32[2,3], out out0: f32[2]) {
  parallel i0 in 0..2
    v3 = reduce max j1 in 0..3 {
      v2 = load t[i0*3 + j1] > 0.0 ? load t[i0*3 + j1] : 0.0
      yield v2
    }
    store out0[i0] = v3 - (0.0 - load t[i0*3 + 2])
}
kernel sgd(t: f32[2,3], inout w: f32[4]) {
  parallel n0 in 0..4
    store w[n0] = load w[n0] - load t[n0 % 2 + n0 // 2]*0.1
}
)";
  EXPECT_EQ(print_program(small_program()), want);
}

// The example at the top of graph/kernel_ir.h is this program's printed kernel.
TEST(KernelPrinter, SoftmaxKernelAsInTheHeader) {
  Program p = softmax_rows_program(64, 10);
  EXPECT_EQ(print_kernel(p, p.kernels[0]),
            R"(kernel softmax_rows(x: f32[64,10], out y: f32[64,10]) {
  parallel i0 in 0..64
    v2 = reduce max j1 in 0..10 of load x[i0*10 + j1]
    v4 = reduce sum j3 in 0..10 of exp(load x[i0*10 + j3] - v2)
    for j5 in 0..10:
      store y[i0*10 + j5] = exp(load x[i0*10 + j5] - v2) / v4
}
)");
}

TEST(KernelPrinter, ContractionSequentialAndScalarKernels) {
  Program p;
  BufferId a = input(p, "a", {2, 3}), b = input(p, "b", {3, 2});
  BufferId y = output(p, {2, 2}), z = output(p, {});
  Kernel k;
  k.name = "mm";
  k.is_contraction = true;
  VarId i = k.new_var(DType::i32, "i"), j = k.new_var(DType::i32, "j");
  VarId kk = k.new_var(DType::i32, "k"), acc = k.new_var(DType::f32, "acc");
  k.parallel = {{i, 2}, {j, 2}};
  k.contraction.k = {kk, 3};
  // a's operand is a sum: it needs parentheses in `acc += a * b`.
  k.contraction.a = k.binary(Op::Add, k.load(a, DType::f32, linear(k, {{i, 3}, {kk, 1}})),
                             k.constant(1, DType::f32));
  k.contraction.b = k.load(b, DType::f32, linear(k, {{kk, 2}, {j, 1}}));
  k.contraction.acc = acc;
  k.body = {store(y, linear(k, {{i, 2}, {j, 1}}), k.unary(Op::Tanh, k.var_ref(acc)))};
  k.reads = {a, b};
  k.writes = {y};
  Kernel s;
  s.name = "first";
  s.sequential = true;
  s.body = {store(z, s.index_const(0), s.load(a, DType::f32, s.index_const(0)))};
  s.reads = {a};
  s.writes = {z};
  EXPECT_EQ(print_kernel(p, k), R"(kernel mm(a: f32[2,3], b: f32[3,2], out out0: f32[2,2]) {
  contract i0 in 0..2, j1 in 0..2, k2 in 0..3:  acc3 += (load a[i0*3 + k2] + 1.0) * load b[k2*2 + j1]
  epilogue:
    store out0[i0*2 + j1] = tanh(acc3)
}
)");
  EXPECT_EQ(print_kernel(p, s), R"(kernel first(a: f32[2,3], out out1: f32[]) {
  sequential (one point)
    store out1[0] = load a[0]
}
)");
  p.kernels = {k, s};
  ParamStore params;
  auto out = run_program(
      p,
      {{"a", Array::from_doubles(DType::f32, {2, 3}, std::vector<double>{1, 2, 3, 4, 5, 6})},
       {"b", Array::from_doubles(DType::f32, {3, 2}, std::vector<double>{1, 0, 0, 1, -1, 0})}},
      params, true);
  // (a + 1) @ b: rows [2,3,4] and [5,6,7].
  EXPECT_NEAR(out[0].get(0), std::tanh(-2.0), 1e-6);
  EXPECT_NEAR(out[0].get(1), std::tanh(3.0), 1e-6);
  EXPECT_NEAR(out[0].get(2), std::tanh(-2.0), 1e-6);
  EXPECT_NEAR(out[0].get(3), std::tanh(6.0), 1e-6);
  EXPECT_EQ(out[1].get(0), 1.0);
}

// The golden program runs: x = [1,2,3,4], c = [1,-2,3], s = 0.5, w = [1,1,1,1].
TEST(KernelPrinter, GoldenProgramRuns) {
  ParamStore params;
  params.set("w", Array::from_doubles(DType::f32, {4}, std::vector<double>{1, 1, 1, 1}));
  auto out = run_program(
      small_program(),
      {{"x", Array::from_doubles(DType::f32, {4}, std::vector<double>{1, 2, 3, 4})}}, params, true);
  // t = [0.5, -0.5, 2.5, 2, 1, 1.5]; y = max(relu(row)) + t[row, 2]
  EXPECT_EQ(out[0].get(0), 5.0);
  EXPECT_EQ(out[0].get(1), 3.5);
  const Array& w = params.get("w");
  std::vector<double> want = {0.95, 1.05, 1.05, 0.75};
  for (int64_t n = 0; n < 4; ++n) EXPECT_NEAR(w.get(n), want[static_cast<size_t>(n)], 1e-6) << n;
}

}  // namespace
}  // namespace soma
