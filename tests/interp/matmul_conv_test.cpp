// matmul (numpy semantics incl. vectors and batch broadcasting), the window/unwindow primitives,
// conv2d (NCHW/OIHW) and pooling: small cases computed by hand, and a random conv2d against a
// direct nested-loop reference.
#include <cmath>
#include <cstdint>

#include "interp/expect.h"

namespace soma {
namespace {

using namespace soma::test;

using MatMul = OpTest;
using Window = OpTest;
using Conv = OpTest;
using Pool = OpTest;

std::vector<double> iota_values(int n, double start = 0) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(start + i);
  return v;
}

TEST_F(MatMul, TwoD) {
  Tensor a = input("a", {2, 3}), b = input("b", {3, 2});
  Feeds f{{"a", f32({2, 3}, {1, 2, 3, 4, 5, 6})}, {"b", f32({3, 2}, {7, 8, 9, 10, 11, 12})}};
  EXPECT_TRUE(ArrayIs(run(matmul(a, b), f), DType::f32, {2, 2}, {58, 64, 139, 154}));
  EXPECT_TRUE(
      ArrayIs(run(matmul(b, a), f), DType::f32, {3, 3}, {39, 54, 69, 49, 68, 87, 59, 82, 105}));
}

TEST_F(MatMul, Vectors) {
  Tensor v = cf32({1, 2, 3}, {3}), u = cf32({4, 5, 6}, {3});
  Tensor m = cf32({7, 8, 9, 10, 11, 12}, {3, 2});
  Tensor a = cf32({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_TRUE(ArrayIs(run(matmul(v, m)), DType::f32, {2}, {58, 64}));
  EXPECT_TRUE(ArrayIs(run(matmul(a, cf32({1, 0, -1}, {3}))), DType::f32, {2}, {-2, -2}));
  // vector . vector is rank 0.
  EXPECT_TRUE(ArrayIs(run(matmul(v, u)), DType::f32, {}, {32}));
  // A vector against a batch of matrices: [3] @ [2,3,2] -> [2,2].
  Tensor bm = cf32(iota_values(12), {2, 3, 2});
  EXPECT_TRUE(ArrayIs(run(matmul(v, bm)), DType::f32, {2, 2}, {16, 22, 52, 58}));
  // A batch of matrices against a vector: [2,2,3] @ [3] -> [2,2].
  Tensor ba = cf32(iota_values(12), {2, 2, 3});
  EXPECT_TRUE(ArrayIs(run(matmul(ba, v)), DType::f32, {2, 2}, {8, 26, 44, 62}));
}

TEST_F(MatMul, BatchBroadcasting) {
  // [2,1,3,4] @ [5,4,2] -> [2,5,3,2]; a = arange(24) - 10, b = arange(40) % 7 - 3.
  std::vector<double> av = iota_values(24, -10), bv;
  for (int i = 0; i < 40; ++i) bv.push_back(i % 7 - 3);
  Tensor a = cf32(av, {2, 1, 3, 4}), b = cf32(bv, {5, 4, 2});
  EXPECT_TRUE(ArrayIs(run(matmul(a, b)), DType::f32, {2, 5, 3, 2},
                      {10,  25,  10,  13,  10,  1,   25,  -9,  13,  -5,  1,   -1,  -9, 13,  -5,
                       5,   -1,  -3,  13,  -21, 5,   -13, -3,  -5,  -21, 8,   -13, 4,  -5,  0,
                       10,  -11, 10,  -23, 10,  -35, -11, 3,   -23, 7,   -35, 11,  3,  -11, 7,
                       -19, 11,  -27, -11, 3,   -19, 11,  -27, 19,  3,   -4,  11,  -8, 19,  -12}));
}

TEST_F(MatMul, F64AndEmptyContraction) {
  Tensor a = cf64({0.1, 0.2}, {1, 2}), b = cf64({3, 4}, {2, 1});
  // 0.1 * 3 + 0.2 * 4 in f64.
  EXPECT_TRUE(ArrayIs(run(matmul(a, b)), DType::f64, {1, 1}, {1.1}, 1e-15));
  // K = 0 gives zeros, as numpy does.
  Tensor e = input("e", {2, 0}), g = input("g", {0, 3});
  Array r = run(matmul(e, g), {{"e", Array(DType::f32, {2, 0})}, {"g", Array(DType::f32, {0, 3})}});
  EXPECT_TRUE(ArrayIs(r, DType::f32, {2, 3}, {0, 0, 0, 0, 0, 0}));
}

TEST_F(MatMul, IntegersComputeInFloat) {
  Tensor a = ci32({1, 2, 3, 4}, {2, 2}), b = ci32({5, 6, 7, 8}, {2, 2});
  Array r = run(matmul(a, b));
  EXPECT_TRUE(ArrayIs(r, r.dtype(), {2, 2}, {19, 22, 43, 50}));
}

TEST_F(MatMul, NaNAndInfPropagate) {
  Tensor a = cf32({1, kNaN, 0, 1}, {2, 2}), b = cf32({kInf, 1, 1, 1}, {2, 2});
  // row 0: [1*inf + NaN*1, 1 + NaN] ; row 1: [0*inf + 1, 0 + 1] -> 0*inf is NaN.
  EXPECT_TRUE(ArrayIs(run(matmul(a, b)), DType::f32, {2, 2}, {kNaN, kNaN, kNaN, 1}));
}

TEST_F(Window, OneAxisWithStridePaddingAndDilation) {
  auto ctx = Context::current();
  Builder b = ctx->builder();
  Tensor x = cf32({1, 2, 3, 4, 5}, {5});
  Tensor w1(ctx, b.window(x.id(), {2}, {2}, {1}, {1}, {1}, -1));
  EXPECT_TRUE(ArrayIs(run(w1), DType::f32, {3, 2}, {-1, 1, 2, 3, 4, 5}));
  Tensor w2(ctx, b.window(x.id(), {2}, {1}, {3}, {0}, {0}, 0));
  EXPECT_TRUE(ArrayIs(run(w2), DType::f32, {2, 2}, {1, 4, 2, 5}));
  // Two window axes over a [1,3,3] tensor: 2x2 windows, stride 1 -> [1,2,2,2,2].
  Tensor m = cf32(iota_values(9, 1), {1, 3, 3});
  Tensor w3(ctx, b.window(m.id(), {2, 2}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, 0));
  EXPECT_TRUE(ArrayIs(run(w3), DType::f32, {1, 2, 2, 2, 2},
                      {1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9}));
}

TEST_F(Window, UnwindowSumsTapsBack) {
  auto ctx = Context::current();
  Builder b = ctx->builder();
  Tensor x = cf32({0, 0, 0}, {3});
  NodeId win = b.window(x.id(), {3}, {1}, {1}, {1}, {1}, 0);  // [3] -> [3,3]
  Tensor g = cf32(iota_values(9, 1), {3, 3});
  Tensor back(ctx, b.unwindow(g.id(), x.type(), ctx->graph().node(win).attrs));
  // position p receives g[o, t] with o - 1 + t == p; taps reading padding are dropped.
  EXPECT_TRUE(ArrayIs(run(back), DType::f32, {3}, {6, 15, 14}));
  // Counting: ones through a kernel-3 window over 5 elements.
  Tensor y = cf32({0, 0, 0, 0, 0}, {5});
  NodeId win2 = b.window(y.id(), {3}, {1}, {1}, {0}, {0}, 0);
  Tensor ones3 = ones({3, 3});
  Tensor cnt(ctx, b.unwindow(ones3.id(), y.type(), ctx->graph().node(win2).attrs));
  EXPECT_TRUE(ArrayIs(run(cnt), DType::f32, {5}, {1, 2, 3, 2, 1}));
}

TEST_F(Conv, ValidTwoByTwo) {
  Tensor x = input("x", {1, 1, 3, 3});
  Tensor w = cf32({1, 2, 3, 4}, {1, 1, 2, 2});
  Feeds f{{"x", f32({1, 1, 3, 3}, iota_values(9, 1))}};
  EXPECT_TRUE(ArrayIs(run(conv2d(x, w), f), DType::f32, {1, 1, 2, 2}, {37, 47, 67, 77}));
  EXPECT_TRUE(ArrayIs(run(conv2d(x, w, std::nullopt, {1, 1}, "valid"), f), DType::f32, {1, 1, 2, 2},
                      {37, 47, 67, 77}));
}

TEST_F(Conv, StrideAndPadding) {
  Tensor x = cf32(iota_values(16, 1), {1, 1, 4, 4});
  Tensor w = ones({1, 1, 3, 3});
  EXPECT_TRUE(ArrayIs(run(conv2d(x, w, std::nullopt, {2, 2}, {1, 1})), DType::f32, {1, 1, 2, 2},
                      {14, 30, 57, 99}));
  // Different stride and padding per axis on 5x5: stride (2,1), padding (1,0).
  Tensor x5 = cf32(iota_values(25, 1), {1, 1, 5, 5});
  Tensor w2 = cf32({1, 2, 3, 4}, {1, 1, 2, 2});
  EXPECT_TRUE(ArrayIs(run(conv2d(x5, w2, std::nullopt, {2, 1}, {1, 0})), DType::f32, {1, 1, 3, 4},
                      {11, 18, 25, 32, 101, 111, 121, 131, 201, 211, 221, 231}));
}

TEST_F(Conv, Dilation) {
  Tensor x5 = cf32(iota_values(25, 1), {1, 1, 5, 5});
  Tensor w2 = cf32({1, 2, 3, 4}, {1, 1, 2, 2});
  EXPECT_TRUE(ArrayIs(run(conv2d(x5, w2, std::nullopt, {1, 1}, {0, 0}, {2, 2})), DType::f32,
                      {1, 1, 3, 3}, {92, 102, 112, 142, 152, 162, 192, 202, 212}));
}

TEST_F(Conv, ChannelsAndBias) {
  // Pointwise 2 -> 2 channels: out0 = x0 + 2 x1 + 1, out1 = -x0 + 0.5 x1 - 1.
  Tensor x = cf32(iota_values(18), {1, 2, 3, 3});
  Tensor w = cf32({1, 2, -1, 0.5}, {2, 2, 1, 1});
  Tensor bias = cf32({1, -1}, {2});
  EXPECT_TRUE(ArrayIs(run(conv2d(x, w, bias)), DType::f32, {1, 2, 3, 3},
                      {19, 22, 25, 28, 31, 34, 37, 40, 43, 3.5, 3, 2.5, 2, 1.5, 1, 0.5, 0, -0.5}));
}

TEST_F(Conv, SamePadding) {
  Tensor x3 = cf32(iota_values(9, 1), {1, 1, 3, 3});
  // Odd kernel: one pixel on each side.
  Tensor w3 = cf32(iota_values(9, 1), {1, 1, 3, 3});
  EXPECT_TRUE(ArrayIs(run(conv2d(x3, w3, std::nullopt, {1, 1}, "same")), DType::f32, {1, 1, 3, 3},
                      {94, 154, 106, 186, 285, 186, 106, 154, 94}));
  // Even kernel 2x2: the extra padding goes after (bottom/right), as in PyTorch and Keras.
  EXPECT_TRUE(ArrayIs(run(conv2d(x3, ones({1, 1, 2, 2}), std::nullopt, {1, 1}, "same")), DType::f32,
                      {1, 1, 3, 3}, {12, 16, 9, 24, 28, 15, 15, 17, 9}));
  // Even kernel 4x4 on 4x4: padding 1 before, 2 after.
  Tensor x4 = cf32(iota_values(16, 1), {1, 1, 4, 4});
  Tensor w4 = cf32(iota_values(16), {1, 1, 4, 4});
  EXPECT_TRUE(
      ArrayIs(run(conv2d(x4, w4, std::nullopt, {1, 1}, "same")), DType::f32, {1, 1, 4, 4},
              {642, 884, 669, 448, 1016, 1360, 1004, 656, 642, 836, 597, 376, 316, 392, 262, 152}));
}

// A tiny deterministic generator of values in [-1, 1).
struct Lcg {
  uint64_t s;
  double next() {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(s >> 40) / static_cast<double>(1ULL << 24) * 2.0 - 1.0;
  }
  std::vector<double> values(int n) {
    std::vector<double> v;
    for (int i = 0; i < n; ++i) v.push_back(static_cast<float>(next()));
    return v;
  }
};

TEST_F(Conv, RandomCaseMatchesNestedLoops) {
  const int N = 2, C = 3, H = 7, W = 6, O = 4, KH = 3, KW = 2;
  const int SH = 2, SW = 1, PH = 1, PW = 2, DH = 1, DW = 2;
  Lcg rng{12345};
  std::vector<double> xv = rng.values(N * C * H * W), wv = rng.values(O * C * KH * KW),
                      bv = rng.values(O);
  Tensor x = input("x", {N, C, H, W});
  Tensor w = param("w", f32({O, C, KH, KW}, wv));
  Tensor b = cf32(bv, {O});
  Array got = run(conv2d(x, w, b, {SH, SW}, {PH, PW}, {DH, DW}), {{"x", f32({N, C, H, W}, xv)}});
  const int OH = (H + 2 * PH - DH * (KH - 1) - 1) / SH + 1;
  const int OW = (W + 2 * PW - DW * (KW - 1) - 1) / SW + 1;
  ASSERT_EQ(got.shape(), (Shape{N, O, OH, OW}));
  int64_t k = 0;
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < O; ++o)
      for (int i = 0; i < OH; ++i)
        for (int j = 0; j < OW; ++j, ++k) {
          double s = bv[static_cast<size_t>(o)], mag = std::fabs(s);
          for (int c = 0; c < C; ++c)
            for (int p = 0; p < KH; ++p)
              for (int q = 0; q < KW; ++q) {
                int h = i * SH - PH + p * DH, v = j * SW - PW + q * DW;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                double t = xv[static_cast<size_t>(((n * C + c) * H + h) * W + v)] *
                           wv[static_cast<size_t>(((o * C + c) * KH + p) * KW + q)];
                s += t;
                mag += std::fabs(t);
              }
          // The result is rounded to f32 once; allow f32 rounding of the sum of magnitudes.
          EXPECT_NEAR(got.get(k), s, kF32Rel * mag)
              << "at " << n << "," << o << "," << i << "," << j;
        }
}

TEST_F(Pool, MaxPool) {
  Tensor x = cf32(iota_values(16, 1), {1, 1, 4, 4});
  EXPECT_TRUE(ArrayIs(run(max_pool2d(x, {2, 2})), DType::f32, {1, 1, 2, 2}, {6, 8, 14, 16}));
  Tensor x3 = cf32(iota_values(9, 1), {1, 1, 3, 3});
  EXPECT_TRUE(ArrayIs(run(max_pool2d(x3, {2, 2}, {1, 1})), DType::f32, {1, 1, 2, 2}, {5, 6, 8, 9}));
  // Padding never wins: it reads -inf.
  Tensor neg = cf32(iota_values(16, -20), {1, 1, 4, 4});
  EXPECT_TRUE(ArrayIs(run(max_pool2d(neg, {3, 3}, {2, 2}, {1, 1})), DType::f32, {1, 1, 2, 2},
                      {-15, -13, -7, -5}));
  // Rectangular windows, CHW input, NaN propagates.
  Tensor chw = cf32({1, kNaN, 3, 4, 5, 6, 7, 8}, {1, 2, 4});
  EXPECT_TRUE(ArrayIs(run(max_pool2d(chw, {2, 2})), DType::f32, {1, 1, 2}, {kNaN, 8}));
  EXPECT_TRUE(ArrayIs(run(max_pool2d(chw, {1, 2})), DType::f32, {1, 2, 2}, {kNaN, 4, 6, 8}));
  // Integers stay integers.
  Tensor n = ci32({-5, -7, -1, -9}, {1, 1, 2, 2});
  EXPECT_TRUE(ArrayIs(run(max_pool2d(n, {2, 2})), DType::i32, {1, 1, 1, 1}, {-1}));
  EXPECT_TRUE(ArrayIs(run(max_pool2d(n, {2, 2}, {2, 2}, {1, 1})), DType::i32, {1, 1, 2, 2},
                      {-5, -7, -1, -9}));
}

TEST_F(Pool, AvgPoolCountsPadding) {
  Tensor x = cf32(iota_values(16, 1), {1, 1, 4, 4});
  EXPECT_TRUE(
      ArrayIs(run(avg_pool2d(x, {2, 2})), DType::f32, {1, 1, 2, 2}, {3.5, 5.5, 11.5, 13.5}));
  // kernel 3, stride 2, padding 1: every window divides by 9 (PyTorch's count_include_pad).
  EXPECT_TRUE(ArrayIs(run(avg_pool2d(x, {3, 3}, {2, 2}, {1, 1})), DType::f32, {1, 1, 2, 2},
                      {14.0 / 9, 30.0 / 9, 57.0 / 9, 11}));
  Tensor x3 = cf32(iota_values(9, 1), {1, 1, 3, 3});
  EXPECT_TRUE(ArrayIs(run(avg_pool2d(x3, {2, 2}, {1, 1})), DType::f32, {1, 1, 2, 2}, {3, 4, 6, 7}));
  // Integers average in f32.
  Tensor n = ci32({1, 2, 3, 5}, {1, 1, 2, 2});
  EXPECT_TRUE(ArrayIs(run(avg_pool2d(n, {2, 2})), DType::f32, {1, 1, 1, 1}, {2.75}));
  // Multiple channels and batch entries pool independently.
  Tensor m = cf32(iota_values(16), {2, 2, 2, 2});
  EXPECT_TRUE(ArrayIs(run(avg_pool2d(m, {2, 2})), DType::f32, {2, 2, 1, 1}, {1.5, 5.5, 9.5, 13.5}));
  EXPECT_TRUE(ArrayIs(run(max_pool2d(m, {2, 2})), DType::f32, {2, 2, 1, 1}, {3, 7, 11, 15}));
}

}  // namespace
}  // namespace soma
