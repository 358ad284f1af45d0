// Reductions: sum, mean, max, min, var, logsumexp, argmax, argmin — axes lists, negative axes,
// keepdims, integer inputs, empty axes, NaN and infinities.
#include "interp/expect.h"

namespace soma {
namespace {

using namespace soma::test;

constexpr double kMaxI32 = 2147483647.0;
constexpr double kMinI32 = -2147483648.0;

using Reduce = OpTest;

// arange(24) as f32 [2,3,4].
Tensor arange24() {
  std::vector<double> v;
  for (int i = 0; i < 24; ++i) v.push_back(i);
  return cf32(v, {2, 3, 4});
}

TEST_F(Reduce, SumAxesAndKeepdims) {
  Tensor x = input("x", {2, 3});
  Feeds f{{"x", f32({2, 3}, {1, 2, 3, 4, 5, 6})}};
  auto out =
      compile_interp({sum(x), sum(x, {0}), sum(x, {1}), sum(x, {-1}), sum(x, {0, 1}),
                      sum(x, {1}, true), sum(x, {}, true), sum(x, {-1, 0}), sum(x, {-2}, true)})
          .run(f);
  EXPECT_TRUE(ArrayIs(out[0], DType::f32, {}, {21}));
  EXPECT_TRUE(ArrayIs(out[1], DType::f32, {3}, {5, 7, 9}));
  EXPECT_TRUE(ArrayIs(out[2], DType::f32, {2}, {6, 15}));
  EXPECT_TRUE(ArrayIs(out[3], DType::f32, {2}, {6, 15}));
  EXPECT_TRUE(ArrayIs(out[4], DType::f32, {}, {21}));
  EXPECT_TRUE(ArrayIs(out[5], DType::f32, {2, 1}, {6, 15}));
  EXPECT_TRUE(ArrayIs(out[6], DType::f32, {1, 1}, {21}));
  EXPECT_TRUE(ArrayIs(out[7], DType::f32, {}, {21}));
  EXPECT_TRUE(ArrayIs(out[8], DType::f32, {1, 3}, {5, 7, 9}));
}

TEST_F(Reduce, SumRank3AxesLists) {
  Tensor x = arange24();
  EXPECT_TRUE(ArrayIs(run(sum(x, {0, 2})), DType::f32, {3}, {60, 92, 124}));
  EXPECT_TRUE(ArrayIs(run(sum(x, {2, 0}, true)), DType::f32, {1, 3, 1}, {60, 92, 124}));
  EXPECT_TRUE(ArrayIs(run(sum(x, {-1})), DType::f32, {2, 3}, {6, 22, 38, 54, 70, 86}));
  EXPECT_TRUE(ArrayIs(run(sum(x, {1, -1})), DType::f32, {2}, {66, 210}));
}

TEST_F(Reduce, SumOfIntegersAndBools) {
  Tensor n = ci32({1, -2, 3, 4}, {2, 2});
  EXPECT_TRUE(ArrayIs(run(sum(n)), DType::i32, {}, {6}));
  EXPECT_TRUE(ArrayIs(run(sum(n, {0})), DType::i32, {2}, {4, 2}));
  // bools count.
  EXPECT_TRUE(ArrayIs(run(sum(cbool({1, 0, 1, 1}, {4}))), DType::i32, {}, {3}));
  // i32 sums wrap.
  EXPECT_TRUE(ArrayIs(run(sum(ci32({kMaxI32, 1}, {2}))), DType::i32, {}, {kMinI32}));
}

TEST_F(Reduce, SumAccumulatesInDoublePrecision) {
  // 2^24 + 1 + 1 - 2^24 in f32 steps would lose the ones; the sum is rounded once.
  Tensor x = cf32({16777216, 1, 1, -16777216}, {4});
  EXPECT_TRUE(ArrayIs(run(sum(x)), DType::f32, {}, {2}, 0, 0));
}

TEST_F(Reduce, SumOverEmptyAxisIsZero) {
  Tensor x = input("x", {0, 3});
  Feeds f{{"x", Array(DType::f32, {0, 3})}};
  auto out = compile_interp({sum(x, {0}), sum(x), sum(x, {1}), max(x, {1})}).run(f);
  EXPECT_TRUE(ArrayIs(out[0], DType::f32, {3}, {0, 0, 0}));
  EXPECT_TRUE(ArrayIs(out[1], DType::f32, {}, {0}));
  EXPECT_TRUE(ArrayIs(out[2], DType::f32, {0}, {}));
  // max over a non-empty axis of an empty tensor is fine (and empty).
  EXPECT_TRUE(ArrayIs(out[3], DType::f32, {0}, {}));
}

TEST_F(Reduce, MaxOverEmptyAxisIsAShapeError) {
  Tensor x = input("x", {0, 3});
  EXPECT_TRUE(Throws<ShapeError>([&] { max(x, {0}); }, {"reduce_max", "[0,3]", "empty"}));
  EXPECT_TRUE(Throws<ShapeError>([&] { max(x); }, {"[0,3]"}));
  EXPECT_TRUE(Throws<ShapeError>([&] { min(x, {-2}); }, {"[0,3]"}));
  EXPECT_TRUE(Throws<ShapeError>([&] { argmax(x, 0); }, {"[0,3]"}));
  EXPECT_TRUE(Throws<ShapeError>([&] { argmin(x); }, {"[0]"}));
}

TEST_F(Reduce, MaxMin) {
  Tensor x = arange24();
  EXPECT_TRUE(ArrayIs(run(max(x, {0, 1})), DType::f32, {4}, {20, 21, 22, 23}));
  EXPECT_TRUE(ArrayIs(run(min(x, {1})), DType::f32, {2, 4}, {0, 1, 2, 3, 12, 13, 14, 15}));
  EXPECT_TRUE(ArrayIs(run(max(x)), DType::f32, {}, {23}));
  EXPECT_TRUE(ArrayIs(run(min(x, {}, true)), DType::f32, {1, 1, 1}, {0}));
  EXPECT_TRUE(ArrayIs(run(max(x, {-1}, true)), DType::f32, {2, 3, 1}, {3, 7, 11, 15, 19, 23}));
  Tensor y = cf32({-5, -kInf, -1, -kInf, -kInf, -kInf}, {2, 3});
  EXPECT_TRUE(ArrayIs(run(max(y, {1})), DType::f32, {2}, {-1, -kInf}));
  EXPECT_TRUE(ArrayIs(run(min(y, {1})), DType::f32, {2}, {-kInf, -kInf}));
}

TEST_F(Reduce, MaxMinPropagateNaN) {
  Tensor x = cf32({1, kNaN, 3, 4, 5, 6, kNaN, -kInf, kInf}, {3, 3});
  EXPECT_TRUE(ArrayIs(run(max(x, {1})), DType::f32, {3}, {kNaN, 6, kNaN}));
  EXPECT_TRUE(ArrayIs(run(min(x, {1})), DType::f32, {3}, {kNaN, 4, kNaN}));
  EXPECT_TRUE(ArrayIs(run(max(x, {0})), DType::f32, {3}, {kNaN, kNaN, kInf}));
  EXPECT_TRUE(ArrayIs(run(max(x)), DType::f32, {}, {kNaN}));
}

TEST_F(Reduce, MaxMinOfIntegers) {
  Tensor n = ci32({kMinI32, 0, 5, kMaxI32, -7, 3}, {2, 3});
  EXPECT_TRUE(ArrayIs(run(max(n, {1})), DType::i32, {2}, {5, kMaxI32}));
  EXPECT_TRUE(ArrayIs(run(min(n, {1})), DType::i32, {2}, {kMinI32, -7}));
  EXPECT_TRUE(ArrayIs(run(min(n)), DType::i32, {}, {kMinI32}));
  EXPECT_TRUE(ArrayIs(run(max(n, {0})), DType::i32, {3}, {kMaxI32, 0, 5}));
  EXPECT_TRUE(ArrayIs(run(min(n, {0})), DType::i32, {3}, {kMinI32, -7, 3}));
}

TEST_F(Reduce, Mean) {
  Tensor x = arange24();
  EXPECT_TRUE(ArrayIs(run(mean(x)), DType::f32, {}, {11.5}));
  EXPECT_TRUE(ArrayIs(run(mean(x, {0, 1})), DType::f32, {4}, {10, 11, 12, 13}));
  EXPECT_TRUE(ArrayIs(run(mean(x, {-1})), DType::f32, {2, 3}, {1.5, 5.5, 9.5, 13.5, 17.5, 21.5}));
  EXPECT_TRUE(
      ArrayIs(run(mean(x, {-1}, true)), DType::f32, {2, 3, 1}, {1.5, 5.5, 9.5, 13.5, 17.5, 21.5}));
  // Means of integers are f32.
  EXPECT_TRUE(ArrayIs(run(mean(ci32({1, 2}, {2}))), DType::f32, {}, {1.5}));
  EXPECT_TRUE(ArrayIs(run(mean(ci32({1, 2, 4, 4}, {2, 2}), {0})), DType::f32, {2}, {2.5, 3}));
  EXPECT_TRUE(ArrayIs(run(mean(cbool({1, 0, 0, 1}, {4}))), DType::f32, {}, {0.5}));
  // f64 stays f64.
  EXPECT_TRUE(ArrayIs(run(mean(cf64({0.1, 0.2}, {2}))), DType::f64, {}, {0.15000000000000002}));
}

TEST_F(Reduce, MeanOverEmptyAxisIsNaN) {
  Tensor x = input("x", {0, 2});
  Array r = run(mean(x, {0}), {{"x", Array(DType::f32, {0, 2})}});
  EXPECT_TRUE(ArrayIs(r, DType::f32, {2}, {kNaN, kNaN}));
}

TEST_F(Reduce, VarWithCorrection) {
  Tensor v = cf32({1, 2, 3, 4}, {4});
  EXPECT_TRUE(ArrayIs(run(var(v)), DType::f32, {}, {1.25}));
  EXPECT_TRUE(ArrayIs(run(var(v, {}, false, 1)), DType::f32, {}, {1.6666666666666667}));
  Tensor y = cf32({1, 5, 2, 8, 3, 3, 0, -1}, {2, 4});
  EXPECT_TRUE(ArrayIs(run(var(y, {1})), DType::f32, {2}, {7.5, 3.1875}));
  EXPECT_TRUE(ArrayIs(run(var(y, {-1}, true, 1)), DType::f32, {2, 1}, {10, 4.25}));
  EXPECT_TRUE(ArrayIs(run(var(y)), DType::f32, {}, {7.234375}));
  EXPECT_TRUE(ArrayIs(run(var(y, {0, 1}, false, 1)), DType::f32, {}, {8.267857142857142}));
  Tensor x = arange24();
  EXPECT_TRUE(ArrayIs(run(var(x, {2})), DType::f32, {2, 3}, {1.25, 1.25, 1.25, 1.25, 1.25, 1.25}));
  EXPECT_TRUE(ArrayIs(run(var(x, {0, 2}, false, 1)), DType::f32, {3},
                      {42.57142857142857, 42.57142857142857, 42.57142857142857}));
  // Integers give f32.
  EXPECT_TRUE(ArrayIs(run(var(ci32({1, 2, 3, 4}, {4}))), DType::f32, {}, {1.25}));
}

TEST_F(Reduce, LogSumExp) {
  EXPECT_TRUE(ArrayIs(run(logsumexp(cf32({1, 2, 3}, {3}))), DType::f32, {}, {3.40760596444438}));
  // Large values do not overflow.
  EXPECT_TRUE(
      ArrayIs(run(logsumexp(cf32({1000, 1000}, {2}))), DType::f32, {}, {1000.6931471805599}));
  // All -inf gives -inf (not NaN); +inf gives +inf; NaN propagates.
  EXPECT_TRUE(ArrayIs(run(logsumexp(cf32({-kInf, -kInf}, {2}))), DType::f32, {}, {-kInf}));
  EXPECT_TRUE(ArrayIs(run(logsumexp(cf32({kInf, 0}, {2}))), DType::f32, {}, {kInf}));
  EXPECT_TRUE(ArrayIs(run(logsumexp(cf32({-kInf, 0}, {2}))), DType::f32, {}, {0}));
  EXPECT_TRUE(ArrayIs(run(logsumexp(cf32({kNaN, 0}, {2}))), DType::f32, {}, {kNaN}));
  // Per row, with keepdims.
  Tensor m = cf32({0, 0, -kInf, -kInf, 1000, -1000, -1000, -1000}, {4, 2});
  EXPECT_TRUE(ArrayIs(run(logsumexp(m, {1})), DType::f32, {4},
                      {0.6931471805599453, -kInf, 1000, -999.3068528194401}));
  EXPECT_TRUE(ArrayIs(run(logsumexp(m, {-1}, true)), DType::f32, {4, 1},
                      {0.6931471805599453, -kInf, 1000, -999.3068528194401}));
  Tensor r = cf32({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_TRUE(ArrayIs(run(logsumexp(r, {0})), DType::f32, {3},
                      {4.048587351573742, 5.048587351573742, 6.048587351573742}));
  EXPECT_TRUE(
      ArrayIs(run(logsumexp(r, {1})), DType::f32, {2}, {3.40760596444438, 6.407605964444381}));
  EXPECT_TRUE(ArrayIs(run(logsumexp(r, {}, true)), DType::f32, {1, 1}, {6.456193316018123}));
  // Integers compute in f32.
  EXPECT_TRUE(ArrayIs(run(logsumexp(ci32({1, 2, 3}, {3}))), DType::f32, {}, {3.40760596444438}));
}

TEST_F(Reduce, ArgmaxArgminTiesTakeTheFirstIndex) {
  Tensor x = cf32({1, 3, 3, 2, 2, 0}, {2, 3});
  EXPECT_TRUE(ArrayIs(run(argmax(x, 1)), DType::i32, {2}, {1, 0}));
  EXPECT_TRUE(ArrayIs(run(argmin(x, 1)), DType::i32, {2}, {0, 2}));
  EXPECT_TRUE(ArrayIs(run(argmax(x, 0)), DType::i32, {3}, {1, 0, 0}));
  EXPECT_TRUE(ArrayIs(run(argmin(x, 0)), DType::i32, {3}, {0, 1, 1}));
  EXPECT_TRUE(ArrayIs(run(argmax(x, -1)), DType::i32, {2}, {1, 0}));
  EXPECT_TRUE(ArrayIs(run(argmax(x, 1, true)), DType::i32, {2, 1}, {1, 0}));
  EXPECT_TRUE(ArrayIs(run(argmin(x, -2, true)), DType::i32, {1, 3}, {0, 1, 1}));
}

TEST_F(Reduce, ArgmaxWithoutAxisFlattens) {
  Tensor x = cf32({1, 5, 5, 2, -3, 0}, {2, 3});
  EXPECT_TRUE(ArrayIs(run(argmax(x)), DType::i32, {}, {1}));
  EXPECT_TRUE(ArrayIs(run(argmin(x)), DType::i32, {}, {4}));
  EXPECT_TRUE(ArrayIs(run(argmax(x, std::nullopt, true)), DType::i32, {1, 1}, {1}));
  EXPECT_TRUE(ArrayIs(run(argmax(cf32({7}, {}))), DType::i32, {}, {0}));
}

TEST_F(Reduce, ArgmaxWithNaNAndInfinities) {
  // numpy: the first NaN wins for both argmax and argmin.
  Tensor x = cf32({1, kNaN, 3, kNaN}, {4});
  EXPECT_TRUE(ArrayIs(run(argmax(x)), DType::i32, {}, {1}));
  EXPECT_TRUE(ArrayIs(run(argmin(x)), DType::i32, {}, {1}));
  Tensor y = cf32({-kInf, -kInf, kInf, kInf, 2, kNaN}, {2, 3});
  EXPECT_TRUE(ArrayIs(run(argmax(y, 1)), DType::i32, {2}, {2, 2}));
  EXPECT_TRUE(ArrayIs(run(argmin(y, 1)), DType::i32, {2}, {0, 2}));
  EXPECT_TRUE(ArrayIs(run(argmax(cf32({-kInf, -kInf}, {2}))), DType::i32, {}, {0}));
}

TEST_F(Reduce, ArgmaxOfIntegersAndBools) {
  Tensor n = ci32({0, kMinI32, kMaxI32, kMinI32}, {4});
  EXPECT_TRUE(ArrayIs(run(argmax(n)), DType::i32, {}, {2}));
  EXPECT_TRUE(ArrayIs(run(argmin(n)), DType::i32, {}, {1}));
  Tensor b = cbool({0, 1, 1}, {3});
  EXPECT_TRUE(ArrayIs(run(argmax(b)), DType::i32, {}, {1}));
  EXPECT_TRUE(ArrayIs(run(argmin(b)), DType::i32, {}, {0}));
}

TEST_F(Reduce, RankZeroReductions) {
  Tensor s = cf32({4}, {});
  EXPECT_TRUE(ArrayIs(run(sum(s)), DType::f32, {}, {4}));
  EXPECT_TRUE(ArrayIs(run(max(s)), DType::f32, {}, {4}));
  EXPECT_TRUE(ArrayIs(run(mean(s)), DType::f32, {}, {4}));
  EXPECT_TRUE(ArrayIs(run(logsumexp(s)), DType::f32, {}, {4}));
}

}  // namespace
}  // namespace soma
