// Hand-built kernel programs on the vulkan backend against the kernel-IR evaluator: scalar
// semantics (NaN, saturation, floor division, wrap-around, Philox), masked loads, reductions,
// loops, scatter, contractions in every launch mode, arena offsets, bool buffers, large grids.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "tests/vulkan/vk_test_util.h"
#include "tests/sanitizer.h"

namespace soma::vktest {
namespace {

using kir::BufferId;
using kir::ExprId;
using kir::Kernel;
using kir::Program;
using kir::VarId;
namespace kb = kir::test;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Sets an environment variable for the scope of a test.
struct EnvVar {
  std::string name;
  EnvVar(std::string n, const char* value) : name(std::move(n)) { setenv(name.c_str(), value, 1); }
  ~EnvVar() { unsetenv(name.c_str()); }
};

// out0[i] = f(load in0[i], load in1[i], ...) over n points.
Program elementwise(const std::vector<DType>& ins, DType out, int64_t n,
                    const std::function<ExprId(Kernel&, const std::vector<ExprId>&)>& f) {
  Program p;
  std::vector<BufferId> bufs;
  for (size_t i = 0; i < ins.size(); ++i)
    bufs.push_back(kb::input(p, "x" + std::to_string(i), {n}, ins[i]));
  BufferId o = kb::output(p, {n}, out);
  Kernel k;
  k.name = "ew";
  VarId i = k.new_var(DType::i32, "i");
  k.parallel = {{i, n}};
  std::vector<ExprId> loads;
  for (size_t j = 0; j < ins.size(); ++j) loads.push_back(k.load(bufs[j], ins[j], k.var_ref(i)));
  k.body = {kb::store(o, k.var_ref(i), f(k, loads))};
  k.reads = bufs;
  k.writes = {o};
  p.kernels.push_back(std::move(k));
  return p;
}

Array values(DType t, const std::vector<double>& v) {
  return Array::from_doubles(t, Shape{static_cast<int64_t>(v.size())}, v);
}

const std::vector<double> kSpecial = {-50,  -20,  -3.7, -1,   -0.5,  -1e-3,     -1e-7,     0,  -0.0,
                                      1e-7, 1e-3, 0.3,  0.5,  0.7,   1,         2.5,       10, 30,
                                      88,   700,  kNaN, kInf, -kInf, 3.1415926, 1.5707963, 5.9};

class Kernels : public VulkanTest {};

TEST_F(Kernels, UnaryOps) {
  const Op ops[] = {Op::Neg,   Op::Abs, Op::Sign,  Op::Floor,   Op::Exp,
                    Op::Expm1, Op::Log, Op::Log1p, Op::Sqrt,    Op::Rsqrt,
                    Op::Sin,   Op::Cos, Op::Tanh,  Op::Sigmoid, Op::Erf};
  for (DType t : {DType::f32, DType::f64})
    for (Op op : ops) {
      SCOPED_TRACE(std::string(op_name(op)) + " " + dtype_name(t));
      int64_t n = static_cast<int64_t>(kSpecial.size());
      Program p = elementwise({t}, t, n, [&](Kernel& k, auto& x) { return k.unary(op, x[0]); });
      Feeds feeds{{"x0", values(t, kSpecial)}};
      bool f64 = t == DType::f64;
      // f32: GLSL's builtins are within a few ulp; f64: soma's own functions, near 1 ulp.
      double rtol = f64 ? 1e-14 : 4e-6, atol = f64 ? 1e-15 : 1e-6;
      if ((op == Op::Sin || op == Op::Cos) && !f64) atol = 2e-5;  // large |x| reduction
      expect_matches_reference(p, feeds, rtol, atol);
    }
}

TEST_F(Kernels, TranscendentalsOnADenseRange) {
  std::vector<double> xs;
  for (int i = -4000; i <= 4000; ++i) xs.push_back(i * 0.0025);  // [-10, 10]
  const int64_t n = static_cast<int64_t>(xs.size());
  for (Op op : {Op::Exp, Op::Expm1, Op::Log1p, Op::Sin, Op::Cos, Op::Tanh, Op::Sigmoid, Op::Erf})
    for (DType t : {DType::f32, DType::f64}) {
      SCOPED_TRACE(std::string(op_name(op)) + " " + dtype_name(t));
      Program p = elementwise({t}, t, n, [&](Kernel& k, auto& x) { return k.unary(op, x[0]); });
      bool f64 = t == DType::f64;
      expect_matches_reference(p, {{"x0", values(t, xs)}}, f64 ? 1e-13 : 1e-5, f64 ? 1e-15 : 1e-6);
    }
}

TEST_F(Kernels, BinaryOpsWithNaNAndInf) {
  std::vector<double> a, b;
  const std::vector<double> v = {-3, -1, -0.5, 0, 0.5, 1, 2, 3, kNaN, kInf, -kInf};
  for (double x : v)
    for (double y : v) a.push_back(x), b.push_back(y);
  const int64_t n = static_cast<int64_t>(a.size());
  for (DType t : {DType::f32, DType::f64})
    for (Op op : {Op::Add, Op::Sub, Op::Mul, Op::Div, Op::Pow, Op::Max, Op::Min, Op::Lt, Op::Le,
                  Op::Gt, Op::Ge, Op::Eq, Op::Ne}) {
      SCOPED_TRACE(std::string(op_name(op)) + " " + dtype_name(t));
      DType out = is_comparison(op) ? DType::boolean : t;
      Program p =
          elementwise({t, t}, out, n, [&](Kernel& k, auto& x) { return k.binary(op, x[0], x[1]); });
      expect_matches_reference(p, {{"x0", values(t, a)}, {"x1", values(t, b)}}, 1e-6, 1e-7);
    }
}

TEST_F(Kernels, IntegerArithmeticWraps) {
  std::vector<double> a = {2147483647, -2147483648.0, 123456789, -7, 0, 65536, -1};
  std::vector<double> b = {1, -1, 1000, 3, 0, 65536, -2147483648.0};
  const int64_t n = static_cast<int64_t>(a.size());
  for (Op op : {Op::Add, Op::Sub, Op::Mul, Op::Max, Op::Min, Op::Lt, Op::Eq}) {
    SCOPED_TRACE(op_name(op));
    DType out = is_comparison(op) ? DType::boolean : DType::i32;
    Program p = elementwise({DType::i32, DType::i32}, out, n,
                            [&](Kernel& k, auto& x) { return k.binary(op, x[0], x[1]); });
    expect_matches_reference(p, {{"x0", values(DType::i32, a)}, {"x1", values(DType::i32, b)}});
  }
  for (Op op : {Op::Neg, Op::Abs, Op::Sign}) {
    Program p = elementwise({DType::i32}, DType::i32, n,
                            [&](Kernel& k, auto& x) { return k.unary(op, x[0]); });
    expect_matches_reference(p, {{"x0", values(DType::i32, a)}});
  }
}

TEST_F(Kernels, CastsSaturateAndMapNaNToZero) {
  const std::vector<double> v = {0.5,          -0.5,          1.9,  -1.9, 3e9,   -3e9,
                                 2147483647.0, -2147483648.0, kNaN, kInf, -kInf, 0,
                                 1e-40,        16777217,      0.1};
  const int64_t n = static_cast<int64_t>(v.size());
  for (DType from : {DType::f32, DType::f64, DType::i32, DType::boolean})
    for (DType to : {DType::f32, DType::f64, DType::i32, DType::boolean}) {
      if (from == to) continue;
      SCOPED_TRACE(std::string(dtype_name(from)) + " -> " + dtype_name(to));
      Program p = elementwise({from}, to, n, [&](Kernel& k, auto& x) { return k.cast(x[0], to); });
      expect_matches_reference(p, {{"x0", values(from, v)}}, 0, 0);
    }
}

TEST_F(Kernels, FloorDivisionAndModulo) {
  std::vector<double> a;
  for (int i = -40; i <= 40; ++i) a.push_back(i);
  a.push_back(-2147483648.0);
  a.push_back(2147483647.0);
  const int64_t n = static_cast<int64_t>(a.size());
  for (int64_t d : {2, 3, 7, 64}) {
    Program p = elementwise({DType::i32}, DType::i32, n, [&](Kernel& k, auto& x) {
      return k.binary(Op::Add, k.binary(Op::Mul, k.idiv(x[0], d), k.index_const(1000)),
                      k.imod(x[0], d));
    });
    expect_matches_reference(p, {{"x0", values(DType::i32, a)}});
  }
}

TEST_F(Kernels, SelectLogicAndBoolBuffers) {
  std::vector<double> a = {1, 0, 1, 0, 1, 1, 0, 0, 1}, b = {1, 1, 0, 0, 1, 0, 1, 0, 0};
  std::vector<double> x = {1, 2, 3, 4, 5, 6, 7, 8, 9}, y = {-1, -2, -3, -4, -5, -6, -7, -8, -9};
  const int64_t n = static_cast<int64_t>(a.size());
  Program p = elementwise({DType::boolean, DType::boolean, DType::f32, DType::f32}, DType::f32, n,
                          [&](Kernel& k, auto& v) {
                            ExprId c = k.binary(Op::Or, k.binary(Op::And, v[0], v[1]),
                                                k.unary(Op::Not, v[1]));
                            return k.select(c, v[2], v[3]);
                          });
  expect_matches_reference(p, {{"x0", values(DType::boolean, a)},
                               {"x1", values(DType::boolean, b)},
                               {"x2", values(DType::f32, x)},
                               {"x3", values(DType::f32, y)}});
  // A bool output written by neighbouring points (bytes that share a word).
  Program q = elementwise({DType::f32}, DType::boolean, n, [&](Kernel& k, auto& v) {
    return k.binary(Op::Gt, v[0], k.constant(4.5, DType::f32));
  });
  expect_matches_reference(q, {{"x0", values(DType::f32, x)}});
}

TEST_F(Kernels, RandMatchesPhiloxExactly) {
  for (DType t : {DType::f32, DType::f64}) {
    const int64_t n = 1000;
    Program p;
    BufferId o = kb::output(p, {n}, t);
    Kernel k;
    k.name = "rand";
    VarId i = k.new_var(DType::i32, "i");
    k.parallel = {{i, n}};
    ExprId r = k.rand(int64_t{0x123456789abcLL}, k.var_ref(i), k.index_const(7), t);
    k.body = {kb::store(o, k.var_ref(i), r)};
    k.writes = {o};
    p.kernels.push_back(std::move(k));
    expect_matches_reference(p, {}, 0, 0);
  }
}

// out[i] = (0 <= i-2 < n ? x[i-2] : -1), and a gather through an i32 index buffer.
TEST_F(Kernels, MaskedLoadsTouchNoMemoryAndGather) {
  const int64_t n = 10;
  Program p;
  BufferId x = kb::input(p, "x", {n});
  BufferId idx = kb::input(p, "idx", {n + 4}, DType::i32);
  BufferId o = kb::output(p, {n + 4});
  BufferId g = kb::output(p, {n + 4});
  Kernel k;
  k.name = "shift";
  VarId i = k.new_var(DType::i32, "i");
  k.parallel = {{i, n + 4}};
  ExprId j = k.binary(Op::Sub, k.var_ref(i), k.index_const(2));
  ExprId m = k.binary(Op::And, k.binary(Op::Ge, j, k.index_const(0)),
                      k.binary(Op::Lt, j, k.index_const(n)));
  ExprId gi = k.load(idx, DType::i32, k.var_ref(i));
  ExprId gm = k.binary(Op::Lt, gi, k.index_const(n));
  k.body = {kb::store(o, k.var_ref(i), k.load(x, DType::f32, j, m, -1.0)),
            kb::store(g, k.var_ref(i), k.load(x, DType::f32, gi, gm, 42.0))};
  k.reads = {x, idx};
  k.writes = {o, g};
  p.kernels.push_back(std::move(k));
  std::vector<double> xv, iv = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 1000000, 2000000000, 7, 0};
  for (int64_t t = 0; t < n; ++t) xv.push_back(static_cast<double>(t) * 1.5);
  expect_matches_reference(p, {{"x", values(DType::f32, xv)}, {"idx", values(DType::i32, iv)}});
}

TEST_F(Kernels, SoftmaxRowsReductionsAndLoops) {
  Program p = kb::softmax_rows_program(64, 10);
  std::vector<double> xv;
  for (int i = 0; i < 640; ++i) xv.push_back(std::sin(i * 0.37) * 4);
  xv[15] = kNaN;  // row 1 becomes NaN (max propagates NaN)
  Feeds f{{"x", Array::from_doubles(DType::f32, Shape{64, 10}, xv)}};
  expect_matches_reference(p, f, 1e-5, 1e-7);
  EnvVar force("SOMA_VULKAN_FORCE", "workgroup_reduce");
  expect_matches_reference(p, f, 1e-5, 1e-7);
}

// sum and max over long rows (f32, f64, i32), and over empty axes.
Program row_reductions(DType t, int64_t rows, int64_t cols) {
  Program p;
  BufferId x = kb::input(p, "x", {rows, cols}, t);
  BufferId s = kb::output(p, {rows}, t);
  BufferId m = kb::output(p, {rows}, t);
  BufferId e1 = kb::output(p, {rows}, t);
  BufferId e2 = kb::output(p, {rows}, t);
  Kernel k;
  k.name = "rows";
  VarId i = k.new_var(DType::i32, "i");
  VarId j = k.new_var(DType::i32, "j"), j2 = k.new_var(DType::i32, "j"),
        j3 = k.new_var(DType::i32, "j"), j4 = k.new_var(DType::i32, "j");
  VarId vs = k.new_var(t, "s"), vm = k.new_var(t, "m"), ve1 = k.new_var(t, "e"),
        ve2 = k.new_var(t, "e");
  k.parallel = {{i, rows}};
  auto at = [&](VarId jj) { return k.load(x, t, kb::linear(k, {{i, cols}, {jj, 1}})); };
  k.body = {kb::reduce(vs, Op::ReduceSum, {{j, cols}}, at(j)),
            kb::reduce(vm, Op::ReduceMax, {{j2, cols}}, at(j2)),
            kb::reduce(ve1, Op::ReduceSum, {{j3, 0}}, k.constant(1, t)),
            kb::reduce(ve2, Op::ReduceMax, {{j4, 0}}, k.constant(1, t)),
            kb::store(s, k.var_ref(i), k.var_ref(vs)),
            kb::store(m, k.var_ref(i), k.var_ref(vm)),
            kb::store(e1, k.var_ref(i), k.var_ref(ve1)),
            kb::store(e2, k.var_ref(i), k.var_ref(ve2))};
  k.reads = {x};
  k.writes = {s, m, e1, e2};
  p.kernels.push_back(std::move(k));
  return p;
}

TEST_F(Kernels, LongReductionsInBothModes) {
  const int64_t rows = 5, cols = 3000;
  for (DType t : {DType::f32, DType::f64, DType::i32}) {
    SCOPED_TRACE(dtype_name(t));
    std::vector<double> xv;
    for (int64_t i = 0; i < rows * cols; ++i)
      xv.push_back(t == DType::i32 ? static_cast<double>((i * 7919) % 2001 - 1000) * 1e6
                                   : std::cos(static_cast<double>(i)));
    if (t != DType::i32) xv[static_cast<size_t>(2 * cols + 17)] = kNaN;
    Program p = row_reductions(t, rows, cols);
    Feeds f{{"x", Array::from_doubles(t, Shape{rows, cols}, xv)}};
    double rtol = t == DType::f32 ? 1e-4 : 1e-12;
    expect_matches_reference(p, f, rtol, rtol);
    {
      EnvVar force("SOMA_VULKAN_FORCE", "workgroup_reduce");  // subgroup operations
      expect_matches_reference(p, f, rtol, rtol);
    }
    EnvVar force("SOMA_VULKAN_FORCE", "workgroup_reduce,no_subgroups");  // shared memory only
    expect_matches_reference(p, f, rtol, rtol);
  }
}

// A sequential scatter: out = 0, then out[idx[i]] += v[i] in order (duplicates accumulate).
TEST_F(Kernels, SequentialScatterAccumulates) {
  const int64_t n = 300, m = 17;
  Program p;
  BufferId idx = kb::input(p, "idx", {n}, DType::i32);
  BufferId v = kb::input(p, "v", {n});
  BufferId o = kb::output(p, {m});
  {
    Kernel k;
    k.name = "zero";
    VarId i = k.new_var(DType::i32, "i");
    k.parallel = {{i, m}};
    k.body = {kb::store(o, k.var_ref(i), k.constant(0, DType::f32))};
    k.writes = {o};
    p.kernels.push_back(std::move(k));
  }
  {
    Kernel k;
    k.name = "scatter";
    k.sequential = true;
    VarId i = k.new_var(DType::i32, "i");
    k.parallel = {{i, n}};
    ExprId at = k.load(idx, DType::i32, k.var_ref(i));
    k.body = {kb::store(
        o, at, k.binary(Op::Add, k.load(o, DType::f32, at), k.load(v, DType::f32, k.var_ref(i))))};
    k.reads = {idx, v, o};
    k.writes = {o};
    p.kernels.push_back(std::move(k));
  }
  std::vector<double> iv, vv;
  for (int64_t i = 0; i < n; ++i) {
    iv.push_back(static_cast<double>((i * 5) % m));
    vv.push_back(static_cast<double>(i) * 0.25);
  }
  expect_matches_reference(p, {{"idx", values(DType::i32, iv)}, {"v", values(DType::f32, vv)}});
}

// batch x [m, k] @ [k, n] + bias, relu: a contraction with a fused epilogue.
Program matmul_program(DType t, int64_t batch, int64_t m, int64_t n, int64_t kk) {
  Program p;
  BufferId a = kb::input(p, "a", {batch, m, kk}, t);
  BufferId b = kb::input(p, "b", {kk, n}, t);
  BufferId bias = kb::input(p, "bias", {n}, t);
  BufferId o = kb::output(p, {batch, m, n}, t);
  Kernel k;
  k.name = "dense";
  VarId vb = k.new_var(DType::i32, "b"), vi = k.new_var(DType::i32, "i"),
        vj = k.new_var(DType::i32, "j"), vk = k.new_var(DType::i32, "k");
  VarId acc = k.new_var(t, "acc");
  k.is_contraction = true;
  k.parallel = {{vb, batch}, {vi, m}, {vj, n}};
  k.contraction.batch = {{vb, batch}};
  k.contraction.k = {vk, kk};
  k.contraction.a = k.load(a, t, kb::linear(k, {{vb, m * kk}, {vi, kk}, {vk, 1}}));
  k.contraction.b = k.load(b, t, kb::linear(k, {{vk, n}, {vj, 1}}));
  k.contraction.acc = acc;
  ExprId y = k.binary(Op::Add, k.var_ref(acc), k.load(bias, t, k.var_ref(vj)));
  k.body = {kb::store(o, kb::linear(k, {{vb, m * n}, {vi, n}, {vj, 1}}),
                      k.binary(Op::Max, y, k.constant(0, t)))};
  k.reads = {a, b, bias};
  k.writes = {o};
  p.kernels.push_back(std::move(k));
  return p;
}

TEST_F(Kernels, ContractionsPointwiseAndTiled) {
  for (DType t : {DType::f32, DType::f64, DType::i32}) {
    SCOPED_TRACE(dtype_name(t));
    const int64_t batch = 2, m = 70, n = 45, kk = 33;
    Program p = matmul_program(t, batch, m, n, kk);
    auto fill = [&](int64_t count, double scale) {
      std::vector<double> v;
      for (int64_t i = 0; i < count; ++i)
        v.push_back(t == DType::i32 ? static_cast<double>((i * 37) % 11 - 5)
                                    : std::sin(static_cast<double>(i) * scale));
      return v;
    };
    Feeds f{{"a", Array::from_doubles(t, Shape{batch, m, kk}, fill(batch * m * kk, 0.7))},
            {"b", Array::from_doubles(t, Shape{kk, n}, fill(kk * n, 1.3))},
            {"bias", Array::from_doubles(t, Shape{n}, fill(n, 0.1))}};
    double tol = t == DType::f32 ? 1e-5 : 1e-12;
    {
      EnvVar mode("SOMA_VULKAN_FORCE", "no_tiled");
      expect_matches_reference(p, f, tol, tol);
    }
    EnvVar mode("SOMA_VULKAN_FORCE", "tiled_matmul");
    expect_matches_reference(p, f, tol, tol);  // the device's tiles
    // The GPU default (64x64, 4x4 per invocation) and an odd blocking.
    for (const char* tiles : {"64,64,16,4,4", "32,16,8,2,4"}) {
      SCOPED_TRACE(tiles);
      EnvVar blocking("SOMA_VULKAN_TILES", tiles);
      expect_matches_reference(p, f, tol, tol);
    }
  }
}

// Temporaries at arena offsets that descriptor offsets cannot express (not multiples of
// minStorageBufferOffsetAlignment), of every dtype, across kernels.
TEST_F(Kernels, ArenaTemporariesAtOddOffsets) {
  const int64_t n = 13;
  Program p;
  BufferId x = kb::input(p, "x", {n});
  BufferId t1 = kb::temp(p, "t1", {n}, 4);                               // f32 at 4
  BufferId t2 = kb::temp(p, "t2", {n}, 64, DType::f64);                  // f64 at 64
  BufferId t3 = kb::temp(p, "t3", {n}, 64 + 8 * n + 3, DType::boolean);  // bool at an odd byte
  BufferId t4 = kb::temp(p, "t4", {n}, 200, DType::i32);
  p.arena_bytes = 256;
  BufferId o = kb::output(p, {n});
  auto kernel = [&](const char* name, BufferId in, DType tin, BufferId out, DType tout,
                    const std::function<ExprId(Kernel&, ExprId)>& f) {
    Kernel k;
    k.name = name;
    VarId i = k.new_var(DType::i32, "i");
    k.parallel = {{i, n}};
    k.body = {kb::store(out, k.var_ref(i), f(k, k.load(in, tin, k.var_ref(i))))};
    k.reads = {in};
    k.writes = {out};
    (void)tout;
    p.kernels.push_back(std::move(k));
  };
  kernel("k1", x, DType::f32, t1, DType::f32,
         [](Kernel& k, ExprId v) { return k.binary(Op::Mul, v, k.constant(3, DType::f32)); });
  kernel("k2", t1, DType::f32, t2, DType::f64, [](Kernel& k, ExprId v) {
    return k.binary(Op::Add, k.cast(v, DType::f64), k.constant(0.25, DType::f64));
  });
  kernel("k3", t2, DType::f64, t3, DType::boolean,
         [](Kernel& k, ExprId v) { return k.binary(Op::Gt, v, k.constant(10, DType::f64)); });
  kernel("k4", t3, DType::boolean, t4, DType::i32,
         [](Kernel& k, ExprId v) { return k.select(v, k.index_const(7), k.index_const(-7)); });
  kernel("k5", t4, DType::i32, o, DType::f32,
         [](Kernel& k, ExprId v) { return k.cast(v, DType::f32); });
  std::vector<double> xv;
  for (int64_t i = 0; i < n; ++i) xv.push_back(static_cast<double>(i));
  expect_matches_reference(p, {{"x", values(DType::f32, xv)}});
}

// More points than 65535 workgroups of any size can cover without a grid-stride loop.
TEST_F(Kernels, LargeGridStride) {
  if (soma::testing::kSanitized) GTEST_SKIP() << "2^24 elements: the release run";
  const int64_t n = (int64_t{1} << 24) + 77;
  Program p = elementwise({DType::f32}, DType::f32, n, [](Kernel& k, auto& x) {
    return k.binary(Op::Add, k.binary(Op::Mul, x[0], k.constant(2, DType::f32)),
                    k.constant(1, DType::f32));
  });
  Array x(DType::f32, Shape{n});
  float* xp = x.data<float>();
  for (int64_t i = 0; i < n; ++i) xp[i] = static_cast<float>(i % 1000);
  auto out = run_vulkan(p, {{"x0", x}});
  const float* o = out[0].data<float>();
  int64_t bad = 0;
  for (int64_t i = 0; i < n; ++i) bad += o[i] != static_cast<float>(i % 1000) * 2 + 1;
  EXPECT_EQ(bad, 0);
}

// Two executables over one ParamStore share the device copies of parameters: the training-like
// program updates w (copy) and v (in place); a host assignment is uploaded on the next run; a host
// read of the store after a run sees the device's values.
TEST_F(Kernels, ParametersStayOnDeviceAndSyncWithTheStore) {
  const int64_t n = 37;
  Program p;
  BufferId x = kb::input(p, "x", {n});
  BufferId w = kb::param(p, "w", {n});
  BufferId v = kb::param(p, "v", {n});
  BufferId t = kb::temp(p, "t", {n}, 0);
  p.arena_bytes = n * 4;
  BufferId o = kb::output(p, {n});
  {
    Kernel k;
    k.name = "forward";
    VarId i = k.new_var(DType::i32, "i");
    k.parallel = {{i, n}};
    ExprId y = k.binary(
        Op::Add,
        k.binary(Op::Mul, k.load(x, DType::f32, k.var_ref(i)), k.load(w, DType::f32, k.var_ref(i))),
        k.load(v, DType::f32, k.var_ref(i)));
    k.body = {kb::store(o, k.var_ref(i), y),
              kb::store(t, k.var_ref(i),
                        k.binary(Op::Sub, k.load(w, DType::f32, k.var_ref(i)),
                                 k.constant(0.5, DType::f32)))};
    k.reads = {x, w, v};
    k.writes = {o, t};
    p.kernels.push_back(std::move(k));
  }
  {
    Kernel k;
    k.name = "momentum";
    VarId i = k.new_var(DType::i32, "i");
    k.parallel = {{i, n}};
    k.body = {kb::store(
        v, k.var_ref(i),
        k.binary(Op::Mul, k.load(v, DType::f32, k.var_ref(i)), k.constant(0.5, DType::f32)))};
    k.reads = {v};
    k.writes = {v};
    p.kernels.push_back(std::move(k));
  }
  p.outputs.push_back(w);  // a parameter output sees the value before the update
  p.updates = {{v, v}, {w, t}};

  auto make_store = [&] {
    auto s = std::make_shared<ParamStore>();
    std::vector<double> wv, vv;
    for (int64_t i = 0; i < n; ++i) wv.push_back(1.0 - i * 0.1), vv.push_back(8.0 + i);
    s->set("w", values(DType::f32, wv));
    s->set("v", values(DType::f32, vv));
    return s;
  };
  auto store = make_store();
  ParamStore ref;
  for (const auto& name : store->names()) ref.set(name, store->get(name).clone());
  Array w_host = store->get("w");  // shares storage with the store: sees what reads download
  std::vector<double> xv;
  for (int64_t i = 0; i < n; ++i) xv.push_back(i * 0.3);
  Feeds feeds{{"x", values(DType::f32, xv)}};

  auto exe = compile_vulkan(p, store);
  auto exe2 = compile_vulkan(p, store);  // another executable over the same store
  for (int step = 0; step < 3; ++step) {
    auto& e = step == 1 ? exe2 : exe;
    auto got = e->run(feeds);
    auto want = run_program(p, feeds, ref, true);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) expect_close(got[i], want[i]);
    expect_close(store->get("w"), ref.get("w"), 0, 0, "w");
    expect_close(store->get("v"), ref.get("v"), 0, 0, "v");
    expect_close(w_host, ref.get("w"), 0, 0, "w (a holder of the store's array)");
  }
  // The host changes a parameter: the next run uploads it.
  Array nv = values(DType::f32, std::vector<double>(static_cast<size_t>(n), 3.0));
  store->assign("v", nv);
  ref.assign("v", nv);
  auto got = exe->run(feeds);
  auto want = run_program(p, feeds, ref, true);
  for (size_t i = 0; i < got.size(); ++i) expect_close(got[i], want[i]);
  expect_close(store->get("v"), ref.get("v"), 0, 0, "v after a host assignment");
}

// Updates whose values are other parameters read them before any update writes (a swap).
TEST_F(Kernels, ParameterSwapUpdates) {
  Program p;
  BufferId a = kb::param(p, "a", {4});
  BufferId b = kb::param(p, "b", {4});
  BufferId o = kb::output(p, {4});
  Kernel k;
  k.name = "sum";
  VarId i = k.new_var(DType::i32, "i");
  k.parallel = {{i, 4}};
  k.body = {kb::store(
      o, k.var_ref(i),
      k.binary(Op::Add, k.load(a, DType::f32, k.var_ref(i)), k.load(b, DType::f32, k.var_ref(i))))};
  k.reads = {a, b};
  k.writes = {o};
  p.kernels.push_back(std::move(k));
  p.updates = {{a, b}, {b, a}};
  auto store = std::make_shared<ParamStore>();
  store->set("a", values(DType::f32, {1, 2, 3, 4}));
  store->set("b", values(DType::f32, {10, 20, 30, 40}));
  auto exe = compile_vulkan(p, store);
  exe->run({});
  expect_close(store->get("a"), values(DType::f32, {10, 20, 30, 40}), 0, 0, "a");
  expect_close(store->get("b"), values(DType::f32, {1, 2, 3, 4}), 0, 0, "b");
  exe->run({});
  expect_close(store->get("a"), values(DType::f32, {1, 2, 3, 4}), 0, 0, "a");
}

// A load after a store to the same element within one point sees the stored value (the emitter
// must not reuse the value it loaded before the store).
TEST_F(Kernels, LoadsAfterStoresSeeTheStoredValue) {
  const int64_t n = 8;
  Program p;
  BufferId x = kb::input(p, "x", {n});
  BufferId y = kb::output(p, {n});
  BufferId z = kb::output(p, {n});
  Kernel k;
  k.name = "store_then_load";
  VarId i = k.new_var(DType::i32, "i");
  k.parallel = {{i, n}};
  ExprId at = k.var_ref(i);
  ExprId yi = k.load(y, DType::f32, at);
  k.body = {kb::store(y, at, k.load(x, DType::f32, at)),
            kb::store(y, at, k.binary(Op::Mul, yi, k.constant(2, DType::f32))),
            kb::store(z, at, k.binary(Op::Add, yi, k.constant(1, DType::f32)))};
  k.reads = {x, y};
  k.writes = {y, z};
  p.kernels.push_back(std::move(k));
  expect_matches_reference(p, {{"x", values(DType::f32, {1, 2, 3, 4, 5, 6, 7, 8})}});
}

TEST_F(Kernels, FeedsAreChecked) {
  Program p = elementwise({DType::f32}, DType::f32, 4, [](Kernel&, auto& x) { return x[0]; });
  auto exe = compile_vulkan(p, std::make_shared<ParamStore>());
  EXPECT_THROW(exe->run({}), ValueError);
  EXPECT_THROW(exe->run({{"x0", values(DType::i32, {1, 2, 3, 4})}}), TypeError);
  EXPECT_THROW(exe->run({{"x0", values(DType::f32, {1, 2, 3})}}), ShapeError);
  auto out = exe->run({{"x0", values(DType::f32, {1, 2, 3, 4})}});
  expect_close(out[0], values(DType::f32, {1, 2, 3, 4}), 0, 0);
}

}  // namespace
}  // namespace soma::vktest
