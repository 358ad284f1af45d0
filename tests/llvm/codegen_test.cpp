// Properties of the code the llvm backend generates, for kernel programs given as text: which
// loops are vectorized, when the GEMM is blocked, that results do not depend on the thread count,
// and what fast math changes. The values every construct must compute are conformance cases
// (tests/kernels/conformance_test.cpp), run on llvm as on every executor.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "backends/llvm/llvm_backend.h"
#include "graph/kernel_parser.h"
#include "kernels/kir_files.h"
#include "tests/llvm/llvm_test_util.h"
#include "tests/sanitizer.h"

namespace soma::test {
namespace {

using kirtest::load_kir;

// `p` with only its kernel `name` (the code of one kernel, on its own).
kir::Program only_kernel(const kir::Program& p, const std::string& name) {
  kir::Program one = p;
  one.kernels.clear();
  for (const kir::Kernel& k : p.kernels)
    if (k.name == name) one.kernels.push_back(k);
  EXPECT_EQ(one.kernels.size(), 1u) << name;
  return one;
}

// Values for every input of `p`: floats a sine pattern with one NaN, i32 a mix of large values
// that make sums wrap, bools alternating.
Feeds patterned_feeds(const kir::Program& p) {
  Feeds feeds;
  for (const kir::Buffer& b : p.buffers) {
    if (b.kind != kir::Buffer::Kind::Input) continue;
    std::vector<double> v(static_cast<size_t>(b.numel()));
    for (size_t e = 0; e < v.size(); ++e) {
      double x = static_cast<double>(e);
      v[e] = b.dtype == DType::i32       ? (e % 3 ? 1e9 : -7.0 * x)
             : b.dtype == DType::boolean ? static_cast<double>(e % 2)
                                         : std::sin(0.37 * x) * 3;
    }
    if (is_float(b.dtype) && v.size() > 3) v[3] = kNaN;
    feeds[b.name] = Array::from_doubles(b.dtype, b.shape, v);
  }
  return feeds;
}

// The same bits on one and on two threads.
void expect_same_on_1_and_2_threads(const kir::Program& p, const Feeds& feeds) {
  std::vector<Array> one = run_llvm(p, feeds, nullptr, RunOptions{1, false});
  std::vector<Array> two = run_llvm(p, feeds, nullptr, RunOptions{2, false});
  ASSERT_EQ(one.size(), two.size());
  for (size_t o = 0; o < one.size(); ++o)
    for (int64_t e = 0; e < one[o].numel(); ++e) {
      double x = one[o].get(e), y = two[o].get(e);
      ASSERT_TRUE(x == y || (std::isnan(x) && std::isnan(y)))
          << "output " << o << " element " << e << " differs between 1 and 2 threads";
    }
}

// The reductions of vector_reductions.kir (values: a conformance case) are vectorized.
TEST(LlvmCodegen, VectorizedReductions) {
  kir::Program p = load_kir("vector_reductions.kir");
  std::string ir = emit_llvm_ir(only_kernel(p, "reductions1000"), CompileOptions{});
  EXPECT_NE(ir.find("vector.reduce"), std::string::npos) << "no vectorized reduction";
}

// Reductions along a strided axis (column_reductions.kir): the points of the innermost parallel
// axis run a vector at a time (a scalar remainder when the extent is not a multiple), with the
// same bits on 1 and 2 threads.
TEST(LlvmCodegen, ColumnReductions) {
  kir::Program p = load_kir("column_reductions.kir");
  for (const char* kernel : {"colsums16", "colsums37", "colsums256"}) {
    std::string ir = emit_llvm_ir(only_kernel(p, kernel), CompileOptions{});
    EXPECT_NE(ir.find("colv"), std::string::npos) << kernel << ": columns not vectorized";
  }
  expect_same_on_1_and_2_threads(p, patterned_feeds(p));
}

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

// y[b, i, j] = relu(sum_k a[b, i, k] * b[b, k, j] + bias[j]) for a GemmCase, as program text.
std::string gemm_text(const GemmCase& gc) {
  const int64_t batch = gc.batch, M = gc.M, N = gc.N, K = gc.K;
  const int64_t ka = gc.window ? std::max<int64_t>(K - 3, 0) : K;  // A's real columns
  const std::string t = dtype_name(gc.t), zero = gc.t == DType::f64 ? "0.0d" : "0.0";
  auto n = [](int64_t v) { return std::to_string(v); };
  auto shape = [&](std::vector<int64_t> dims) {
    std::string s;
    for (int64_t d : dims) s += (s.empty() ? "" : ",") + n(d);
    return "[" + s + "]";
  };
  const std::string a_shape = t + shape({batch, M, ka}), b_shape = t + shape({batch, K, N});
  const std::string y_shape = "f32" + shape({batch, M, N});
  // A stored [batch, M, ka] or (transposed) [batch, ka, M].
  std::string a_at = gc.a_trans ? "b0*" + n(M * ka) + " + k3*" + n(M) + " + i1"
                                : "b0*" + n(M * ka) + " + i1*" + n(ka) + " + k3";
  if (gc.reshape)  // the same index through a view of A as [batch * ?, 6, 4]
    a_at = "(" + a_at + ") // 24*24 + (" + a_at + ") // 4 % 6*4 + (" + a_at + ") % 4";
  std::string a = "load a[" + a_at + "]";
  if (gc.window) a = "(" + a + " if k3 < " + n(ka) + " else " + zero + ")";
  if (gc.a_fused) a = "max(" + a + " + load abias[k3], " + zero + ")";
  std::string b_at = gc.b_trans ? "b0*" + n(K * N) + " + j2*" + n(K) + " + k3"
                                : "b0*" + n(K * N) + " + k3*" + n(N) + " + j2";
  std::string b = "load b[" + b_at + "]";
  if (gc.b_fused) b = "(load mask[" + b_at + "] > " + zero + " ? " + b + " : " + zero + ")";
  const std::string acc = gc.t == DType::f32 ? "acc4" : "f32(acc4)";
  return "program {\n  buffers:\n    a: input " + a_shape + "\n    b: input " + b_shape +
         "\n    bias: input f32[" + n(N) + "]\n    abias: input " + t + "[" + n(K) +
         "]\n    mask: input " + b_shape + "\n    out0: output " + y_shape +
         "\n  outputs: out0\n  arena: 0 bytes (0 without reuse)\n}\nkernel gemm(a: " + a_shape +
         ", b: " + b_shape + ", bias: f32[" + n(N) + "], abias: " + t + "[" + n(K) +
         "], mask: " + b_shape + ", out out0: " + y_shape + ") {\n  contract b0 in 0.." + n(batch) +
         ", i1 in 0.." + n(M) + ", j2 in 0.." + n(N) + ", k3 in 0.." + n(K) + ":  acc4 += " + a +
         " * " + b + "\n  epilogue:\n    store out0[b0*" + n(M * N) + " + i1*" + n(N) +
         " + j2] = max(" + acc + " + load bias[j2], 0.0)\n}\n";
}

// A GemmCase against the kernel evaluator (f64 sums) for shapes that hit every edge of the
// GEMM's blocking; the blocked GEMM is used exactly for the non-tiny products, and the results
// on 1 and 2 threads are identical.
void check_gemm(const GemmCase& gc) {
  const DType t = gc.t;
  const int64_t batch = gc.batch, M = gc.M, N = gc.N, K = gc.K;
  SCOPED_TRACE(std::string(dtype_name(t)) + " batch " + std::to_string(batch) + " M " +
               std::to_string(M) + " N " + std::to_string(N) + " K " + std::to_string(K) +
               (gc.a_trans ? " At" : "") + (gc.b_trans ? " Bt" : "") +
               (gc.window ? " window" : "") + (gc.a_fused ? " afused" : "") +
               (gc.b_fused ? " bfused" : "") + (gc.reshape ? " reshape" : ""));
  const int64_t ka = gc.window ? std::max<int64_t>(K - 3, 0) : K;
  kir::Program p = kir::parse_program(gemm_text(gc));
  std::vector<double> av(static_cast<size_t>(batch * M * ka)),
      bv(static_cast<size_t>(batch * K * N)), biasv(static_cast<size_t>(N)),
      abiasv(static_cast<size_t>(K)), maskv(bv.size());
  for (size_t e = 0; e < av.size(); ++e) av[e] = std::sin(0.1 * static_cast<double>(e) + 0.3);
  for (size_t e = 0; e < bv.size(); ++e) bv[e] = std::cos(0.07 * static_cast<double>(e));
  for (size_t e = 0; e < biasv.size(); ++e) biasv[e] = 0.01 * static_cast<double>(e) - 0.2;
  for (size_t e = 0; e < abiasv.size(); ++e) abiasv[e] = 0.02 * static_cast<double>(e % 17) - 0.1;
  for (size_t e = 0; e < maskv.size(); ++e) maskv[e] = std::sin(0.37 * static_cast<double>(e));
  Feeds feeds{{"a", Array::from_doubles(t, Shape{batch, M, ka}, av)},
              {"b", Array::from_doubles(t, Shape{batch, K, N}, bv)},
              {"bias", Array::from_doubles(DType::f32, Shape{N}, biasv)},
              {"abias", Array::from_doubles(t, Shape{K}, abiasv)},
              {"mask", Array::from_doubles(t, Shape{batch, K, N}, maskv)}};
  expect_matches_kernel_eval(p, feeds, {}, t == DType::f32 ? 2e-5 : 1e-12);
  bool blocked = emit_llvm_ir(p, CompileOptions{}).find("_micro") != std::string::npos;
  EXPECT_EQ(blocked, N >= 4 && batch * M * N * std::max<int64_t>(K, 1) >= 16384)
      << "the blocked GEMM is used exactly for the non-tiny products";
  expect_same_on_1_and_2_threads(p, feeds);
}

GemmCase gemm(int64_t M, int64_t N, int64_t K) {
  GemmCase g;
  g.M = M;
  g.N = N;
  g.K = K;
  return g;
}

TEST(LlvmCodegen, GemmShapesAndLayouts) {
  struct Layout {
    DType t;
    int64_t batch, M, N, K;
    bool a_trans, b_trans, window;
  };
  const Layout shapes[] = {
      {DType::f32, 1, 13, 33, 257, false, false, false},
      {DType::f32, 1, 100, 70, 513, true, false, false},
      {DType::f32, 1, 64, 96, 31, false, true, true},
      {DType::f32, 3, 25, 40, 30, true, true, false},
      {DType::f32, 1, 200, 300, 64, false, false, false},
      {DType::f32, 1, 130, 150, 0, false, false, false},  // K = 0: acc is 0
      {DType::f32, 2, 7, 3, 600, false, false, false},    // skinny: the direct loop
      {DType::f64, 1, 50, 45, 100, false, true, true},
  };
  for (const Layout& s : shapes) {
    GemmCase g = gemm(s.M, s.N, s.K);
    g.t = s.t;
    g.batch = s.batch;
    g.a_trans = s.a_trans;
    g.b_trans = s.b_trans;
    g.window = s.window;
    check_gemm(g);
  }
}

// The GEMM's packing and micro-kernel paths: operands read in place (row-major, transposed,
// through a reshaped view) or packed (fused expressions, masked loads, a leading dimension that
// would crowd the cache), B transposed in registers, the narrow micro-kernel (N <= a vector),
// partial slivers and panels of every size, several C tiles and k-slices per task.
TEST(LlvmCodegen, GemmPackingPaths) {
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

// out0[i] = `value` (of load x[i0]) over x: f32[n].
kir::Program map_f32(int64_t n, const std::string& value) {
  const std::string s = std::to_string(n);
  return kir::parse_program("program {\n  buffers:\n    x: input f32[" + s +
                            "]\n    out0: output f32[" + s +
                            "]\n  outputs: out0\n  arena: 0 bytes (0 without reuse)\n}\nkernel "
                            "map(x: f32[" +
                            s + "], out out0: f32[" + s + "]) {\n  parallel i0 in 0.." + s +
                            "\n    store out0[i0] = " + value + "\n}\n");
}

double sigmoid_ref(double x) {
  return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
}

// Fast math computes f32 exp (and sigmoid, tanh through it) inline, so those loops vectorize.
TEST(LlvmCodegen, FastMathExpSigmoidTanh) {
  std::vector<double> xs;
  for (double v = -100; v <= 100; v += 0.37) xs.push_back(v);
  for (double v :
       {0.0, -0.0, 1e-8, -1e-8, 88.5, 88.7, 89.0, -86.9, -87.5, -200.0, 200.0, kNaN, kInf, -kInf})
    xs.push_back(v);
  int64_t n = static_cast<int64_t>(xs.size());
  Array x = Array::from_doubles(DType::f32, Shape{n}, xs);
  for (const char* op : {"exp", "sigmoid", "tanh"}) {
    SCOPED_TRACE(op);
    kir::Program p = map_f32(n, std::string(op) + "(load x[i0])");
    auto out = run_llvm(p, {{"x", x}}, nullptr, RunOptions{0, true});
    const std::string o = op;
    for (int64_t i = 0; i < n; ++i) {
      double v = x.get(i), got = out[0].get(i);
      double want = o == "exp" ? std::exp(v) : o == "tanh" ? std::tanh(v) : sigmoid_ref(v);
      if (std::isnan(want) || std::isinf(want)) {
        EXPECT_TRUE(near(got, want, DType::f32)) << "x = " << v;
      } else if (o == "exp") {
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

TEST(LlvmCodegen, FastMathStaysClose) {
  kir::Program p = map_f32(1000, "exp(load x[i0]*0.01) + sqrt(abs(load x[i0]))");
  std::vector<float> xv(1000);
  for (size_t e = 0; e < xv.size(); ++e) xv[e] = static_cast<float>(e) - 500.f;
  Feeds feeds{{"x", Array::from_f32(Shape{1000}, xv)}};
  auto exact = run_llvm(p, feeds);
  auto fast = run_llvm(p, feeds, nullptr, RunOptions{0, true});
  expect_arrays_near(fast[0], exact[0], 1e-5);
}

}  // namespace
}  // namespace soma::test
