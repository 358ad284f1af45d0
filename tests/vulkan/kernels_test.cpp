// Kernel programs, written as text, on the vulkan backend against the kernel-IR evaluator: scalar
// semantics (NaN, saturation, floor division, wrap-around, Philox), masked loads, reductions,
// loops, scatter, contractions in every launch mode, arena offsets, bool buffers, large grids.
// (The programs under tests/kernels/kir run on vulkan too, in the conformance suite; these are
// the cases that sweep values, sizes or the device's launch modes.)
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/kir_files.h"
#include "tests/sanitizer.h"
#include "tests/vulkan/vk_test_util.h"

namespace soma::vktest {
namespace {

using kir::Program;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Sets an environment variable for the scope of a test.
struct EnvVar {
  std::string name;
  EnvVar(std::string n, const char* value) : name(std::move(n)) { setenv(name.c_str(), value, 1); }
  ~EnvVar() { unsetenv(name.c_str()); }
};

// `load x<i>[i0]`: element i0 of input i of an elementwise program.
std::string in(int i) {
  return "load x" + std::to_string(i) + "[i0]";
}

// out0[i0] = `value` over n points of inputs x0, x1, ... of dtypes `ins`; `value` is kernel-IR
// text over in(0), in(1), ...
Program elementwise(const std::vector<DType>& ins, DType out, int64_t n, const std::string& value) {
  std::string buffers, params;
  for (size_t i = 0; i < ins.size(); ++i) {
    const std::string name = "x" + std::to_string(i), ty = std::string(dtype_name(ins[i])) + "[$n]";
    buffers += "    " + name + ": input " + ty + "\n";
    params += name + ": " + ty + ", ";
  }
  const std::string ty = std::string(dtype_name(out)) + "[$n]";
  return kirtest::kir_with("program {\n  buffers:\n" + buffers + "    out0: output " + ty +
                               "\n  outputs: out0\n  arena: 0 bytes (0 without reuse)\n}\n"
                               "kernel ew(" +
                               params + "out out0: " + ty +
                               ") {\n  parallel i0 in 0..$n\n    store out0[i0] = " + value +
                               "\n}\n",
                           {{"n", std::to_string(n)}});
}

std::string call(Op op, const std::string& a) {
  return std::string(op_name(op)) + "(" + a + ")";
}
std::string call(Op op, const std::string& a, const std::string& b) {
  return std::string(op_name(op)) + "(" + a + ", " + b + ")";
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
      Program p = elementwise({t}, t, n, call(op, in(0)));
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
      Program p = elementwise({t}, t, n, call(op, in(0)));
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
      Program p = elementwise({t, t}, out, n, call(op, in(0), in(1)));
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
    Program p = elementwise({DType::i32, DType::i32}, out, n, call(op, in(0), in(1)));
    expect_matches_reference(p, {{"x0", values(DType::i32, a)}, {"x1", values(DType::i32, b)}});
  }
  for (Op op : {Op::Neg, Op::Abs, Op::Sign}) {
    Program p = elementwise({DType::i32}, DType::i32, n, call(op, in(0)));
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
      Program p = elementwise({from}, to, n, std::string(dtype_name(to)) + "(" + in(0) + ")");
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
    const std::string ds = std::to_string(d);
    Program p = elementwise({DType::i32}, DType::i32, n,
                            "(" + in(0) + " // " + ds + ")*1000 + " + in(0) + " % " + ds);
    expect_matches_reference(p, {{"x0", values(DType::i32, a)}});
  }
}

TEST_F(Kernels, SelectLogicAndBoolBuffers) {
  std::vector<double> a = {1, 0, 1, 0, 1, 1, 0, 0, 1}, b = {1, 1, 0, 0, 1, 0, 1, 0, 0};
  std::vector<double> x = {1, 2, 3, 4, 5, 6, 7, 8, 9}, y = {-1, -2, -3, -4, -5, -6, -7, -8, -9};
  const int64_t n = static_cast<int64_t>(a.size());
  Program p =
      elementwise({DType::boolean, DType::boolean, DType::f32, DType::f32}, DType::f32, n,
                  in(0) + " && " + in(1) + " || not(" + in(1) + ") ? " + in(2) + " : " + in(3));
  expect_matches_reference(p, {{"x0", values(DType::boolean, a)},
                               {"x1", values(DType::boolean, b)},
                               {"x2", values(DType::f32, x)},
                               {"x3", values(DType::f32, y)}});
  // A bool output written by neighbouring points (bytes that share a word).
  Program q = elementwise({DType::f32}, DType::boolean, n, in(0) + " > 4.5");
  expect_matches_reference(q, {{"x0", values(DType::f32, x)}});
}

TEST_F(Kernels, RandMatchesPhiloxExactly) {
  for (const char* t : {"f32", "f64"}) {
    SCOPED_TRACE(t);
    Program p = kirtest::kir_with(R"(program {
  buffers:
    out0: output $t[1000]
  outputs: out0
  arena: 0 bytes (0 without reuse)
}
kernel rand(out out0: $t[1000]) {
  parallel i0 in 0..1000
    store out0[i0] = rand(20015998343868, i0, 7, $t)
}
)",
                                  {{"t", t}});
    expect_matches_reference(p, {}, 0, 0);
  }
}

// out0[i] = (0 <= i-2 < n ? x[i-2] : -1), and a gather through an i32 index buffer.
TEST_F(Kernels, MaskedLoadsTouchNoMemoryAndGather) {
  const int64_t n = 10;
  Program p = kir::parse_program(R"(program {
  buffers:
    x: input f32[10]
    idx: input i32[14]
    out0: output f32[14]
    out1: output f32[14]
  outputs: out0 out1
  arena: 0 bytes (0 without reuse)
}
kernel shift(x: f32[10], idx: i32[14], out out0: f32[14], out out1: f32[14]) {
  parallel i0 in 0..14
    store out0[i0] = (load x[i0 - 2] if i0 - 2 >= 0 && i0 - 2 < 10 else -1.0)
    store out1[i0] = (load x[load idx[i0]] if load idx[i0] < 10 else 42.0)
}
)");
  std::vector<double> xv, iv = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 1000000, 2000000000, 7, 0};
  for (int64_t t = 0; t < n; ++t) xv.push_back(static_cast<double>(t) * 1.5);
  expect_matches_reference(p, {{"x", values(DType::f32, xv)}, {"idx", values(DType::i32, iv)}});
}

TEST_F(Kernels, SoftmaxRowsReductionsAndLoops) {
  Program p = kirtest::load_kir("softmax_rows.kir");
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
  return kirtest::kir_with(R"(program {
  buffers:
    x: input $t[$rows,$cols]
    out0: output $t[$rows]
    out1: output $t[$rows]
    out2: output $t[$rows]
    out3: output $t[$rows]
  outputs: out0 out1 out2 out3
  arena: 0 bytes (0 without reuse)
}
kernel rows(x: $t[$rows,$cols], out out0: $t[$rows], out out1: $t[$rows], out out2: $t[$rows], out out3: $t[$rows]) {
  parallel i0 in 0..$rows
    s1 = reduce sum j2 in 0..$cols of load x[i0*$cols + j2]
    m3 = reduce max j4 in 0..$cols of load x[i0*$cols + j4]
    e5 = reduce sum j6 in 0..0 of $one
    e7 = reduce max j8 in 0..0 of $one
    store out0[i0] = s1
    store out1[i0] = m3
    store out2[i0] = e5
    store out3[i0] = e7
}
)",
                           {{"t", dtype_name(t)},
                            {"rows", std::to_string(rows)},
                            {"cols", std::to_string(cols)},
                            {"one", kir::scalar_text(1, t)}});
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
  Program p = kir::parse_program(R"(program {
  buffers:
    idx: input i32[300]
    v: input f32[300]
    out0: output f32[17]
  outputs: out0
  arena: 0 bytes (0 without reuse)
}
kernel zero(out out0: f32[17]) {
  parallel i0 in 0..17
    store out0[i0] = 0.0
}
kernel scatter(idx: i32[300], v: f32[300], inout out0: f32[17]) {
  sequential i0 in 0..300
    store out0[load idx[i0]] = load out0[load idx[i0]] + load v[i0]
}
)");
  std::vector<double> iv, vv;
  for (int64_t i = 0; i < n; ++i) {
    iv.push_back(static_cast<double>((i * 5) % m));
    vv.push_back(static_cast<double>(i) * 0.25);
  }
  expect_matches_reference(p, {{"idx", values(DType::i32, iv)}, {"v", values(DType::f32, vv)}});
}

// batch x [m, k] @ [k, n] + bias, relu: a contraction with a fused epilogue.
Program matmul_program(DType t, int64_t batch, int64_t m, int64_t n, int64_t kk) {
  return kirtest::kir_with(R"(program {
  buffers:
    a: input $t[$B,$M,$K]
    b: input $t[$K,$N]
    bias: input $t[$N]
    out0: output $t[$B,$M,$N]
  outputs: out0
  arena: 0 bytes (0 without reuse)
}
kernel dense(a: $t[$B,$M,$K], b: $t[$K,$N], bias: $t[$N], out out0: $t[$B,$M,$N]) {
  contract b0 in 0..$B, i1 in 0..$M, j2 in 0..$N, k3 in 0..$K:  acc4 += load a[b0*$MK + i1*$K + k3] * load b[k3*$N + j2]
  epilogue:
    store out0[b0*$MN + i1*$N + j2] = max(acc4 + load bias[j2], $zero)
}
)",
                           {{"t", dtype_name(t)},
                            {"B", std::to_string(batch)},
                            {"M", std::to_string(m)},
                            {"N", std::to_string(n)},
                            {"K", std::to_string(kk)},
                            {"MK", std::to_string(m * kk)},
                            {"MN", std::to_string(m * n)},
                            {"zero", kir::scalar_text(0, t)}});
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
// minStorageBufferOffsetAlignment), of every dtype, across kernels: f32 at 4, f64 at 64, bool at
// an odd byte, i32 at 200.
TEST_F(Kernels, ArenaTemporariesAtOddOffsets) {
  Program p = kir::parse_program(R"(program {
  buffers:
    x: input f32[13]
    t1: temp f32[13] @4
    t2: temp f64[13] @64
    t3: temp bool[13] @171
    t4: temp i32[13] @200
    out0: output f32[13]
  outputs: out0
  arena: 256 bytes (256 without reuse)
}
kernel k1(x: f32[13], out t1: f32[13]) {
  parallel i0 in 0..13
    store t1[i0] = load x[i0]*3.0
}
kernel k2(t1: f32[13], out t2: f64[13]) {
  parallel i0 in 0..13
    store t2[i0] = f64(load t1[i0]) + 0.25d
}
kernel k3(t2: f64[13], out t3: bool[13]) {
  parallel i0 in 0..13
    store t3[i0] = load t2[i0] > 10.0d
}
kernel k4(t3: bool[13], out t4: i32[13]) {
  parallel i0 in 0..13
    store t4[i0] = load t3[i0] ? 7 : -7
}
kernel k5(t4: i32[13], out out0: f32[13]) {
  parallel i0 in 0..13
    store out0[i0] = f32(load t4[i0])
}
)");
  std::vector<double> xv;
  for (int64_t i = 0; i < 13; ++i) xv.push_back(static_cast<double>(i));
  expect_matches_reference(p, {{"x", values(DType::f32, xv)}});
}

// More points than 65535 workgroups of any size can cover without a grid-stride loop.
TEST_F(Kernels, LargeGridStride) {
  if (soma::testing::kSanitized) GTEST_SKIP() << "2^24 elements: the release run";
  const int64_t n = (int64_t{1} << 24) + 77;
  Program p = elementwise({DType::f32}, DType::f32, n, in(0) + "*2.0 + 1.0");
  Array x0(DType::f32, Shape{n});
  float* xp = x0.data<float>();
  for (int64_t i = 0; i < n; ++i) xp[i] = static_cast<float>(i % 1000);
  auto out = run_vulkan(p, {{"x0", x0}});
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
  // out0 = x * w + v; w <- w - 0.5 (a copy update; out1 = w sees the value before it); v *= 0.5
  // in place.
  Program p = kir::parse_program(R"(program {
  buffers:
    x: input f32[37]
    w: param f32[37]
    v: param f32[37]
    t: temp f32[37] @0
    out0: output f32[37]
  outputs: out0 w
  update v <- v (in place)
  update w <- t
  arena: 148 bytes (148 without reuse)
}
kernel forward(x: f32[37], w: f32[37], v: f32[37], out out0: f32[37], out t: f32[37]) {
  parallel i0 in 0..37
    store out0[i0] = load x[i0]*load w[i0] + load v[i0]
    store t[i0] = load w[i0] - 0.5
}
kernel momentum(inout v: f32[37]) {
  parallel i0 in 0..37
    store v[i0] = load v[i0]*0.5
}
)");

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
  Program p = kir::parse_program(R"(program {
  buffers:
    a: param f32[4]
    b: param f32[4]
    out0: output f32[4]
  outputs: out0
  update a <- b
  update b <- a
  arena: 0 bytes (0 without reuse)
}
kernel sum(a: f32[4], b: f32[4], out out0: f32[4]) {
  parallel i0 in 0..4
    store out0[i0] = load a[i0] + load b[i0]
}
)");
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
  Program p = kir::parse_program(R"(program {
  buffers:
    x: input f32[8]
    out0: output f32[8]
    out1: output f32[8]
  outputs: out0 out1
  arena: 0 bytes (0 without reuse)
}
kernel store_then_load(x: f32[8], inout out0: f32[8], out out1: f32[8]) {
  parallel i0 in 0..8
    store out0[i0] = load x[i0]
    store out0[i0] = load out0[i0]*2.0
    store out1[i0] = load out0[i0] + 1.0
}
)");
  expect_matches_reference(p, {{"x", values(DType::f32, {1, 2, 3, 4, 5, 6, 7, 8})}});
}

TEST_F(Kernels, FeedsAreChecked) {
  Program p = elementwise({DType::f32}, DType::f32, 4, in(0));
  auto exe = compile_vulkan(p, std::make_shared<ParamStore>());
  EXPECT_THROW(exe->run({}), ValueError);
  EXPECT_THROW(exe->run({{"x0", values(DType::i32, {1, 2, 3, 4})}}), TypeError);
  EXPECT_THROW(exe->run({{"x0", values(DType::f32, {1, 2, 3})}}), ShapeError);
  auto out = exe->run({{"x0", values(DType::f32, {1, 2, 3, 4})}});
  expect_close(out[0], values(DType::f32, {1, 2, 3, 4}), 0, 0);
}

}  // namespace
}  // namespace soma::vktest
