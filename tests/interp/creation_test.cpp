// Creation: inputs, params, constants, zeros/ones/full/scalar, arange, the iota primitive, and
// rand/randn (Philox: a known-answer value, range, moments, determinism per seed and offset).
#include <cmath>

#include "interp/expect.h"

namespace soma {
namespace {

using namespace soma::test;

using Creation = OpTest;

TEST_F(Creation, InputsOfEveryDtype) {
  Tensor a = input("a", {2}), b = input("b", {2}, DType::f64), c = input("c", {2}, DType::i32),
         d = input("d", {2}, DType::boolean);
  auto out = compile_interp({a, b, c, d})
                 .run({{"a", f32({2}, {1.5, -2})},
                       {"b", f64({2}, {0.1, 1e300})},
                       {"c", i32({2}, {-7, 2147483647})},
                       {"d", boolean({2}, {1, 0})}});
  EXPECT_TRUE(ArrayIs(out[0], DType::f32, {2}, {1.5, -2}));
  EXPECT_TRUE(ArrayIs(out[1], DType::f64, {2}, {0.1, 1e300}, 0, 0));
  EXPECT_TRUE(ArrayIs(out[2], DType::i32, {2}, {-7, 2147483647}));
  EXPECT_TRUE(ArrayIs(out[3], DType::boolean, {2}, {1, 0}));
}

TEST_F(Creation, ConstantsAndFills) {
  EXPECT_TRUE(ArrayIs(run(zeros({2, 3})), DType::f32, {2, 3}, {0, 0, 0, 0, 0, 0}));
  EXPECT_TRUE(ArrayIs(run(ones({2}, DType::i32)), DType::i32, {2}, {1, 1}));
  EXPECT_TRUE(ArrayIs(run(full({3}, 2.5)), DType::f32, {3}, {2.5, 2.5, 2.5}));
  EXPECT_TRUE(ArrayIs(run(full({2}, -3, DType::i32)), DType::i32, {2}, {-3, -3}));
  EXPECT_TRUE(ArrayIs(run(full({2}, kNaN, DType::f64)), DType::f64, {2}, {kNaN, kNaN}));
  EXPECT_TRUE(ArrayIs(run(full({0, 4}, 1)), DType::f32, {0, 4}, {}));
  EXPECT_TRUE(ArrayIs(run(scalar(4.25)), DType::f32, {}, {4.25}));
  EXPECT_TRUE(ArrayIs(run(scalar(1, DType::boolean)), DType::boolean, {}, {1}));
  EXPECT_TRUE(
      ArrayIs(run(constant({1, 2, 3, 4}, {2, 2}, DType::f64)), DType::f64, {2, 2}, {1, 2, 3, 4}));
  // A constant rounds to its dtype: 0.1 -> 0.1f, 2.7 -> 2 (i32 truncates).
  EXPECT_TRUE(ArrayIs(run(constant({0.1, -kInf}, {2})), DType::f32, {2},
                      {0.10000000149011612, -kInf}, 0, 0));
  EXPECT_TRUE(ArrayIs(run(constant({2.7, -2.7}, {2}, DType::i32)), DType::i32, {2}, {2, -2}));
  // From an Array, keeping its dtype.
  EXPECT_TRUE(ArrayIs(run(constant(i32({3}, {5, 6, 7}))), DType::i32, {3}, {5, 6, 7}));
  EXPECT_TRUE(ArrayIs(run(constant(boolean({2}, {0, 1}))), DType::boolean, {2}, {0, 1}));
}

TEST_F(Creation, Params) {
  Tensor w = param("w", f32({2, 2}, {1, 2, 3, 4}));
  EXPECT_TRUE(ArrayIs(run(w * 2.0), DType::f32, {2, 2}, {2, 4, 6, 8}));
  Tensor z = param("z", {3}, "zeros");
  Tensor o = param("o", {2, 1}, "ones", 0, DType::f64);
  EXPECT_TRUE(ArrayIs(run(z), DType::f32, {3}, {0, 0, 0}));
  EXPECT_TRUE(ArrayIs(run(o), DType::f64, {2, 1}, {1, 1}));
  // glorot_uniform: U(-l, l) with l = sqrt(6 / (fan_in + fan_out)) = sqrt(6 / 50).
  Array g = run(param("g", {30, 20}, "glorot_uniform", 1));
  const double limit = 0.34641016151377546;
  double sum = 0;
  for (int64_t i = 0; i < g.numel(); ++i) {
    ASSERT_LE(std::fabs(g.get(i)), limit * (1 + kF32Rel));  // l itself is rounded to f32
    sum += g.get(i);
  }
  EXPECT_NEAR(sum / 600, 0, 0.04);  // standard deviation of the mean: 0.2 / sqrt(600) = 0.008
  // A param keeps its value across evaluations. Declaring its name again is an error, whatever
  // the shape: the old values would ignore the new init, new ones would change the tensors built
  // on the old (w * 2.0 above). reuse_param is the explicit way to continue with the values.
  EXPECT_THROW(param("g", {30, 20}, "glorot_uniform", 99), NameError);
  EXPECT_THROW(param("g", {5}, "zeros"), NameError);
  EXPECT_THROW(param("w", f32({2, 2}, {0, 0, 0, 0})), NameError);
  try {
    param("w", {3});
  } catch (const NameError& e) {
    EXPECT_NE(std::string(e.what()).find("'w' already exists (f32[2,2])"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("reuse_param"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(ArrayIs(run(w * 2.0), DType::f32, {2, 2}, {2, 4, 6, 8}));  // unchanged
  Array g2 = run(reuse_param("g", {30, 20}, "glorot_uniform", 99));
  for (int64_t i = 0; i < g.numel(); ++i) ASSERT_EQ(g.get(i), g2.get(i));
  EXPECT_THROW(reuse_param("g", {20, 30}), ShapeError);
  EXPECT_THROW(reuse_param("g", {30, 20}, "zeros", 0, DType::f64), TypeError);
  EXPECT_TRUE(ArrayIs(run(reuse_param("fresh", {2}, "ones")), DType::f32, {2}, {1, 1}));
}

TEST_F(Creation, ArangeIntegers) {
  EXPECT_TRUE(ArrayIs(run(arange(5)), DType::i32, {5}, {0, 1, 2, 3, 4}));
  EXPECT_TRUE(ArrayIs(run(arange(2, 11, 3)), DType::i32, {3}, {2, 5, 8}));
  EXPECT_TRUE(ArrayIs(run(arange(5, 1, -1)), DType::i32, {4}, {5, 4, 3, 2}));
  EXPECT_TRUE(ArrayIs(run(arange(-3, 3, 2)), DType::i32, {3}, {-3, -1, 1}));
  EXPECT_TRUE(ArrayIs(run(arange(3, 3)), DType::i32, {0}, {}));
  EXPECT_TRUE(ArrayIs(run(arange(3, 0)), DType::i32, {0}, {}));
  EXPECT_TRUE(ArrayIs(run(arange(0)), DType::i32, {0}, {}));
}

TEST_F(Creation, ArangeFloats) {
  EXPECT_TRUE(ArrayIs(run(arange(0, 1, 0.25)), DType::f32, {4}, {0, 0.25, 0.5, 0.75}));
  EXPECT_TRUE(ArrayIs(run(arange(0.5, 3)), DType::f32, {3}, {0.5, 1.5, 2.5}));
  EXPECT_TRUE(ArrayIs(run(arange(1, 0, -0.5)), DType::f32, {2}, {1, 0.5}));
  EXPECT_TRUE(ArrayIs(run(arange(2.5)), DType::f32, {3}, {0, 1, 2}));
  // numpy: np.arange(0, 1, 0.1) has 10 elements.
  EXPECT_TRUE(ArrayIs(run(arange(0, 1, 0.1)), DType::f32, {10},
                      {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}));
}

TEST_F(Creation, IotaPrimitive) {
  auto ctx = Context::current();
  Builder b = ctx->builder();
  Tensor t1(ctx, b.iota(TensorType{DType::i32, Shape{2, 3}}, 1));
  EXPECT_TRUE(ArrayIs(run(t1), DType::i32, {2, 3}, {0, 1, 2, 0, 1, 2}));
  Tensor t0(ctx, b.iota(TensorType{DType::f32, Shape{2, 3}}, 0));
  EXPECT_TRUE(ArrayIs(run(t0), DType::f32, {2, 3}, {0, 0, 0, 1, 1, 1}));
}

TEST_F(Creation, RandKnownAnswer) {
  // Philox-4x32-10 with key 0 and counter 0 gives 0x6627e8d5 first (the Random123 test vector);
  // the uniform is its top 24 bits / 2^24.
  Array r = run(rand({3}, 0));
  EXPECT_EQ(r.get(0), static_cast<double>(0x6627e8) / 16777216.0);
  EXPECT_EQ(r.get(0), 0.3990464210510254);
}

TEST_F(Creation, RandRangeMomentsAndDeterminism) {
  const int n = 10000;
  Tensor off = input("off", {}, DType::i32);
  auto out = compile_interp({rand({100, 100}, 1), rand({100, 100}, 1), rand({100, 100}, 2),
                             rand({100, 100}, 1, off)})
                 .run({{"off", i32({}, {5})}});
  ASSERT_EQ(out[0].shape(), (Shape{100, 100}));
  ASSERT_EQ(out[0].dtype(), DType::f32);
  double s = 0, s2 = 0;
  int diff_seed = 0, diff_offset = 0;
  for (int i = 0; i < n; ++i) {
    double u = out[0].get(i);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    s += u;
    s2 += u * u;
    ASSERT_EQ(out[1].get(i), u);  // same seed: same stream
    diff_seed += out[2].get(i) != u;
    diff_offset += out[3].get(i) != u;
  }
  double mean = s / n, var = s2 / n - mean * mean;
  EXPECT_NEAR(mean, 0.5, 0.015);      // 5 standard deviations (0.0029)
  EXPECT_NEAR(var, 1.0 / 12, 0.005);  // 1/12 = 0.0833
  EXPECT_GT(diff_seed, n * 9 / 10);
  EXPECT_GT(diff_offset, n * 9 / 10);
  // The same seed in a fresh context gives the same values.
  ContextScope other(std::make_shared<Context>());
  Array again = run(rand({100, 100}, 1));
  for (int i = 0; i < n; ++i) ASSERT_EQ(again.get(i), out[0].get(i));
}

TEST_F(Creation, RandnMoments) {
  const int n = 10000;
  Tensor off = input("off", {}, DType::i32);
  auto out = compile_interp({randn({n}, 7), randn({n}, 7), randn({n}, 8), randn({n}, 7, off)})
                 .run({{"off", i32({}, {1})}});
  ASSERT_EQ(out[0].dtype(), DType::f32);
  double s = 0, s2 = 0, s4 = 0;
  int diff = 0, diff_offset = 0;
  for (int i = 0; i < n; ++i) {
    double z = out[0].get(i);
    diff_offset += out[3].get(i) != z;
    ASSERT_TRUE(std::isfinite(z));
    s += z;
    s2 += z * z;
    s4 += z * z * z * z;
    ASSERT_EQ(out[1].get(i), z);
    diff += out[2].get(i) != z;
  }
  double mean = s / n, var = s2 / n - mean * mean;
  EXPECT_NEAR(mean, 0, 0.05);   // standard deviation of the mean: 0.01
  EXPECT_NEAR(var, 1, 0.07);    // of the variance: sqrt(2 / n) = 0.014
  EXPECT_NEAR(s4 / n, 3, 0.3);  // normal kurtosis (a uniform would give 1.8)
  EXPECT_GT(diff, n * 9 / 10);
  EXPECT_GT(diff_offset, n * 9 / 10);
}

}  // namespace
}  // namespace soma
