// Elementwise ops on the reference interpreter: arithmetic, broadcasting, dtype promotion, i32
// wrap-around, unary math with NaN/Inf, activations, comparisons, logic, where, clip, cast.
#include <cstdint>

#include "interp/expect.h"

namespace soma {
namespace {

using namespace soma::test;

constexpr double kMaxI32 = 2147483647.0;
constexpr double kMinI32 = -2147483648.0;

using Elementwise = OpTest;

TEST_F(Elementwise, ArithmeticF32) {
  Tensor a = input("a", {4}), b = input("b", {4});
  Feeds f{{"a", f32({4}, {1.5, -2, 3, 0.25})}, {"b", f32({4}, {0.5, 4, -1.5, 2})}};
  auto out = compile_interp({a + b, a - b, a * b, a / b, -a}).run(f);
  EXPECT_TRUE(ArrayIs(out[0], DType::f32, {4}, {2, 2, 1.5, 2.25}));
  EXPECT_TRUE(ArrayIs(out[1], DType::f32, {4}, {1, -6, 4.5, -1.75}));
  EXPECT_TRUE(ArrayIs(out[2], DType::f32, {4}, {0.75, -8, -4.5, 0.5}));
  EXPECT_TRUE(ArrayIs(out[3], DType::f32, {4}, {3, -0.5, -2, 0.125}));
  EXPECT_TRUE(ArrayIs(out[4], DType::f32, {4}, {-1.5, 2, -3, -0.25}));
}

TEST_F(Elementwise, DivisionByZeroGivesInfAndNaN) {
  Tensor a = input("a", {4});
  Array r = run(a / 0.0, {{"a", f32({4}, {1, -1, 0, kNaN})}});
  EXPECT_TRUE(ArrayIs(r, DType::f32, {4}, {kInf, -kInf, kNaN, kNaN}));
}

TEST_F(Elementwise, BroadcastRank3WithRank2) {
  // [2,1,3] + [4,1] -> [2,4,3]: out[i,j,k] = a[i,0,k] + b[j,0]
  Tensor a = cf32({0, 1, 2, 3, 4, 5}, {2, 1, 3});
  Tensor b = input("b", {4, 1});
  Array r = run(a + b, {{"b", f32({4, 1}, {10, 20, 30, 40})}});
  EXPECT_TRUE(ArrayIs(r, DType::f32, {2, 4, 3}, {10, 11, 12, 20, 21, 22, 30, 31, 32, 40, 41, 42,
                                                 13, 14, 15, 23, 24, 25, 33, 34, 35, 43, 44, 45}));
  // The other operand order gives the same values.
  Array r2 = run(b - a, {{"b", f32({4, 1}, {10, 20, 30, 40})}});
  EXPECT_TRUE(ArrayIs(r2, DType::f32, {2, 4, 3}, {10, 9, 8, 20, 19, 18, 30, 29, 28, 40, 39, 38,
                                                  7,  6, 5, 17, 16, 15, 27, 26, 25, 37, 36, 35}));
}

TEST_F(Elementwise, BroadcastRowAndColumn) {
  Tensor col = cf32({1, 2}, {2, 1}), row = cf32({10, 20, 30}, {3});
  EXPECT_TRUE(ArrayIs(run(col * row), DType::f32, {2, 3}, {10, 20, 30, 20, 40, 60}));
}

TEST_F(Elementwise, RankZeroTensors) {
  Tensor s = input("s", {});
  Tensor x = input("x", {2, 2});
  Feeds f{{"s", f32({}, {10})}, {"x", f32({2, 2}, {1, 2, 3, 4})}};
  auto out = compile_interp({s + x, x - s, s * s, exp(s - 10.0)}).run(f);
  EXPECT_TRUE(ArrayIs(out[0], DType::f32, {2, 2}, {11, 12, 13, 14}));
  EXPECT_TRUE(ArrayIs(out[1], DType::f32, {2, 2}, {-9, -8, -7, -6}));
  EXPECT_TRUE(ArrayIs(out[2], DType::f32, {}, {100}));
  EXPECT_TRUE(ArrayIs(out[3], DType::f32, {}, {1}));
}

TEST_F(Elementwise, EmptyTensors) {
  Tensor x = input("x", {0, 3});
  Tensor y = exp(x) + cf32({1, 2, 3}, {3});
  Array r = run(y, {{"x", Array(DType::f32, {0, 3})}});
  EXPECT_TRUE(ArrayIs(r, DType::f32, {0, 3}, {}));
}

TEST_F(Elementwise, WeakScalarsKeepTheTensorDtype) {
  Tensor x = cf32({1, 2, 3}, {3});
  Tensor d = cf64({1, 2, 3}, {3});
  Tensor n = ci32({1, 2, 3}, {3});
  // f32 * 2.0 stays f32; f32 * 0.1 uses the f32 scalar 0.1f.
  EXPECT_TRUE(ArrayIs(run(x * 2.0), DType::f32, {3}, {2, 4, 6}));
  EXPECT_TRUE(ArrayIs(run(x * 0.1), DType::f32, {3},
                      {0.10000000149011612, 0.20000000298023224, 0.30000001192092896}));
  // f64 stays f64, and keeps the scalar in full precision (3 * 0.1 = 0.30000000000000004).
  EXPECT_TRUE(ArrayIs(run(d * 0.1), DType::f64, {3}, {0.1, 0.2, 0.30000000000000004}, 0, 0));
  // i32 * integral scalar stays i32; i32 * 2.5 becomes f32.
  EXPECT_TRUE(ArrayIs(run(n * 2.0), DType::i32, {3}, {2, 4, 6}));
  EXPECT_TRUE(ArrayIs(run(n + 1.0), DType::i32, {3}, {2, 3, 4}));
  EXPECT_TRUE(ArrayIs(run(n * 2.5), DType::f32, {3}, {2.5, 5, 7.5}));
  EXPECT_TRUE(ArrayIs(run(n - 0.5), DType::f32, {3}, {0.5, 1.5, 2.5}));
  // Scalars on the left.
  EXPECT_TRUE(ArrayIs(run(10.0 - x), DType::f32, {3}, {9, 8, 7}));
  EXPECT_TRUE(ArrayIs(run(3.0 / x), DType::f32, {3}, {3, 1.5, 1}));
  EXPECT_TRUE(ArrayIs(run(2.0 + n), DType::i32, {3}, {3, 4, 5}));
  EXPECT_TRUE(ArrayIs(run(0.5 * n), DType::f32, {3}, {0.5, 1, 1.5}));
  // Integer division (by a scalar, of a scalar, of two tensors) gives f32.
  EXPECT_TRUE(ArrayIs(run(n / 2.0), DType::f32, {3}, {0.5, 1, 1.5}));
  EXPECT_TRUE(ArrayIs(run(3.0 / n), DType::f32, {3}, {3, 1.5, 1}));
}

TEST_F(Elementwise, WeakScalarComparisonsUseTheTensorDtype) {
  // 0.1 compares as 0.1f against an f32 tensor (numpy NEP 50, PyTorch), as 0.1 against f64.
  EXPECT_TRUE(ArrayIs(run(cf32({0.1, 0.2}, {2}) == 0.1), DType::boolean, {2}, {1, 0}));
  EXPECT_TRUE(ArrayIs(run(cast(cf32({0.1}, {1}), DType::f64) == 0.1), DType::boolean, {1}, {0}));
  EXPECT_TRUE(ArrayIs(run(cf64({0.1}, {1}) == 0.1), DType::boolean, {1}, {1}));
}

TEST_F(Elementwise, F64MathIsFullPrecision) {
  Tensor x = cf64({0.5, -2, 1e-20, 30}, {4});
  EXPECT_TRUE(ArrayIs(run(exp(x)), DType::f64, {4},
                      {1.6487212707001282, 0.1353352832366127, 1, 10686474581524.463}));
  EXPECT_TRUE(ArrayIs(run(expm1(x)), DType::f64, {4},
                      {0.6487212707001282, -0.8646647167633873, 1e-20, 10686474581523.463}));
  EXPECT_TRUE(ArrayIs(run(sigmoid(x)), DType::f64, {4},
                      {0.6224593312018546, 0.11920292202211755, 0.5, 0.9999999999999065}));
  EXPECT_TRUE(
      ArrayIs(run(tanh(x)), DType::f64, {4}, {0.46211715726000974, -0.9640275800758169, 1e-20, 1}));
  EXPECT_TRUE(
      ArrayIs(run(softplus(x)), DType::f64, {4},
              {0.9740769841801067, 0.1269280110429725, 0.6931471805599453, 30.000000000000092}));
}

TEST_F(Elementwise, NonFiniteScalarsWithIntegers) {
  Tensor n = ci32({-5, 0, 7}, {3});
  EXPECT_TRUE(ArrayIs(run(n < kInf), DType::boolean, {3}, {1, 1, 1}));
  EXPECT_TRUE(ArrayIs(run(n > -kInf), DType::boolean, {3}, {1, 1, 1}));
  EXPECT_TRUE(ArrayIs(run(n * kNaN), DType::f32, {3}, {kNaN, kNaN, kNaN}));
  EXPECT_TRUE(ArrayIs(run(n + kInf), DType::f32, {3}, {kInf, kInf, kInf}));
  EXPECT_TRUE(ArrayIs(run(n == kNaN), DType::boolean, {3}, {0, 0, 0}));
}

TEST_F(Elementwise, TensorDtypePromotion) {
  Tensor b = cbool({1, 0, 1}, {3});
  Tensor n = ci32({4, -5, 6}, {3});
  Tensor x = cf32({0.5, 0.25, -1}, {3});
  Tensor d = cf64({0.1, 0.2, 0.3}, {3});
  EXPECT_TRUE(ArrayIs(run(b + n), DType::i32, {3}, {5, -5, 7}));
  EXPECT_TRUE(ArrayIs(run(n + x), DType::f32, {3}, {4.5, -4.75, 5}));
  EXPECT_TRUE(ArrayIs(run(x * b), DType::f32, {3}, {0.5, 0, -1}));
  // f32 + f64 -> f64 (the f32 values convert exactly).
  EXPECT_TRUE(ArrayIs(run(x + d), DType::f64, {3}, {0.6, 0.45, -0.7}));
  EXPECT_TRUE(ArrayIs(run(n * d), DType::f64, {3}, {0.4, -1.0, 1.7999999999999998}));
  // i32 / i32 -> f32.
  Tensor m = ci32({7, -7, 1}, {3});
  Tensor k = ci32({2, 2, 3}, {3});
  EXPECT_TRUE(ArrayIs(run(m / k), DType::f32, {3}, {3.5, -3.5, 0.3333333333333333}));
  // bool with a weak scalar counts as an integer.
  EXPECT_TRUE(ArrayIs(run(b + 1.0), DType::i32, {3}, {2, 1, 2}));
}

TEST_F(Elementwise, I32WrapsAround) {
  Tensor a = input("a", {5}, DType::i32), b = input("b", {5}, DType::i32);
  Feeds f{{"a", i32({5}, {kMaxI32, kMinI32, 65536, 46341, kMinI32})},
          {"b", i32({5}, {1, 1, 65536, 46341, kMinI32})}};
  auto out = compile_interp({a + b, a - b, a * b, -a, abs(a)}).run(f);
  EXPECT_TRUE(ArrayIs(out[0], DType::i32, {5}, {kMinI32, kMinI32 + 1, 131072, 92682, 0}));
  EXPECT_TRUE(ArrayIs(out[1], DType::i32, {5}, {kMaxI32 - 1, kMaxI32, 0, 0, 0}));
  // 65536^2 = 2^32 -> 0; 46341^2 = 2147488281 -> -2147479015; (-2^31)^2 = 2^62 -> 0.
  EXPECT_TRUE(ArrayIs(out[2], DType::i32, {5}, {kMaxI32, kMinI32, 0, -2147479015, 0}));
  // -(-2^31) and |-2^31| wrap to -2^31, as in numpy.
  EXPECT_TRUE(ArrayIs(out[3], DType::i32, {5}, {-kMaxI32, kMinI32, -65536, -46341, kMinI32}));
  EXPECT_TRUE(ArrayIs(out[4], DType::i32, {5}, {kMaxI32, kMinI32, 65536, 46341, kMinI32}));
}

TEST_F(Elementwise, UnaryMathF32) {
  Tensor x = input("x", {1});
  auto at = [&](Tensor y, double v) { return run(y, {{"x", f32({1}, {v})}}); };
  EXPECT_TRUE(ArrayIs(at(exp(x), 1), DType::f32, {1}, {2.718281828459045}));
  EXPECT_TRUE(ArrayIs(at(exp(x), -1), DType::f32, {1}, {0.36787944117144233}));
  EXPECT_TRUE(ArrayIs(at(log(x), 2), DType::f32, {1}, {0.6931471805599453}));
  EXPECT_TRUE(ArrayIs(at(log(x), 10), DType::f32, {1}, {2.302585092994046}));
  EXPECT_TRUE(ArrayIs(at(sqrt(x), 2), DType::f32, {1}, {1.4142135623730951}));
  EXPECT_TRUE(ArrayIs(at(rsqrt(x), 4), DType::f32, {1}, {0.5}));
  EXPECT_TRUE(ArrayIs(at(rsqrt(x), 2), DType::f32, {1}, {0.7071067811865475}));
  EXPECT_TRUE(ArrayIs(at(sin(x), 1), DType::f32, {1}, {0.8414709848078965}));
  EXPECT_TRUE(ArrayIs(at(cos(x), 1), DType::f32, {1}, {0.5403023058681398}));
  EXPECT_TRUE(ArrayIs(at(cos(x), 2), DType::f32, {1}, {-0.4161468365471424}));
  EXPECT_TRUE(ArrayIs(at(tanh(x), 0.5), DType::f32, {1}, {0.46211715726000974}));
  EXPECT_TRUE(ArrayIs(at(tanh(x), 1), DType::f32, {1}, {0.7615941559557649}));
  EXPECT_TRUE(ArrayIs(at(sigmoid(x), 0.5), DType::f32, {1}, {0.6224593312018546}));
  EXPECT_TRUE(ArrayIs(at(sigmoid(x), -2), DType::f32, {1}, {0.11920292202211755}));
  EXPECT_TRUE(ArrayIs(at(erf(x), 0.5), DType::f32, {1}, {0.5204998778130465}));
  EXPECT_TRUE(ArrayIs(at(erf(x), -1), DType::f32, {1}, {-0.8427007929497149}));
  // expm1/log1p keep full relative accuracy near 0, where exp(x) - 1 would give 0.
  EXPECT_TRUE(ArrayIs(at(expm1(x), 1e-10), DType::f32, {1}, {1.00000000005e-10}));
  EXPECT_TRUE(ArrayIs(at(expm1(x), 0.5), DType::f32, {1}, {0.6487212707001282}));
  EXPECT_TRUE(ArrayIs(at(log1p(x), 1e-10), DType::f32, {1}, {9.999999999500001e-11}));
  EXPECT_TRUE(ArrayIs(at(log1p(x), -0.5), DType::f32, {1}, {-0.6931471805599453}));
}

TEST_F(Elementwise, SimpleUnaryOps) {
  Tensor x = input("x", {6});
  Feeds f{{"x", f32({6}, {-2.5, -1, 0, 0.5, 2.7, kNaN})}};
  auto out =
      compile_interp({abs(x), neg(x), sign(x), floor(x), square(x), stop_gradient(x)}).run(f);
  EXPECT_TRUE(ArrayIs(out[0], DType::f32, {6}, {2.5, 1, 0, 0.5, 2.7, kNaN}));
  EXPECT_TRUE(ArrayIs(out[1], DType::f32, {6}, {2.5, 1, 0, -0.5, -2.7, kNaN}));
  EXPECT_TRUE(ArrayIs(out[2], DType::f32, {6}, {-1, -1, 0, 1, 1, kNaN}));
  EXPECT_TRUE(ArrayIs(out[3], DType::f32, {6}, {-3, -1, 0, 0, 2, kNaN}));
  EXPECT_TRUE(ArrayIs(out[4], DType::f32, {6}, {6.25, 1, 0, 0.25, 7.29, kNaN}));
  EXPECT_TRUE(ArrayIs(out[5], DType::f32, {6}, {-2.5, -1, 0, 0.5, 2.7, kNaN}));
  // sign(-0) and sign(+-inf).
  Array s = run(sign(cf32({-0.0, kInf, -kInf}, {3})));
  EXPECT_TRUE(ArrayIs(s, DType::f32, {3}, {0, 1, -1}));
}

TEST_F(Elementwise, IntegerUnaryOps) {
  Tensor n = ci32({-3, 0, 5}, {3});
  EXPECT_TRUE(ArrayIs(run(abs(n)), DType::i32, {3}, {3, 0, 5}));
  EXPECT_TRUE(ArrayIs(run(sign(n)), DType::i32, {3}, {-1, 0, 1}));
  EXPECT_TRUE(ArrayIs(run(square(n)), DType::i32, {3}, {9, 0, 25}));
  EXPECT_TRUE(ArrayIs(run(-n), DType::i32, {3}, {3, 0, -5}));
  // Float-only math on integers computes in f32, as numpy/PyTorch do.
  Tensor p = ci32({4, 9, 0}, {3});
  EXPECT_TRUE(ArrayIs(run(sqrt(p)), DType::f32, {3}, {2, 3, 0}));
  EXPECT_TRUE(
      ArrayIs(run(exp(p - 4.0)), DType::f32, {3}, {1, 148.4131591025766, 0.01831563888873418}));
  EXPECT_TRUE(ArrayIs(run(floor(p)), DType::f32, {3}, {4, 9, 0}));
}

TEST_F(Elementwise, NonFiniteInputsThroughUnaryMath) {
  Tensor x = input("x", {5});
  Feeds f{{"x", f32({5}, {kNaN, kInf, -kInf, 0, -1})}};
  auto out = compile_interp({exp(x), log(x), sqrt(x), tanh(x), sigmoid(x), rsqrt(x), log1p(x),
                             expm1(x), erf(x), sin(x)})
                 .run(f);
  EXPECT_TRUE(ArrayIs(out[0], DType::f32, {5}, {kNaN, kInf, 0, 1, 0.36787944117144233}));
  EXPECT_TRUE(ArrayIs(out[1], DType::f32, {5}, {kNaN, kInf, kNaN, -kInf, kNaN}));
  EXPECT_TRUE(ArrayIs(out[2], DType::f32, {5}, {kNaN, kInf, kNaN, 0, kNaN}));
  EXPECT_TRUE(ArrayIs(out[3], DType::f32, {5}, {kNaN, 1, -1, 0, -0.7615941559557649}));
  EXPECT_TRUE(ArrayIs(out[4], DType::f32, {5}, {kNaN, 1, 0, 0.5, 0.2689414213699951}));
  EXPECT_TRUE(ArrayIs(out[5], DType::f32, {5}, {kNaN, 0, kNaN, kInf, kNaN}));
  EXPECT_TRUE(ArrayIs(out[6], DType::f32, {5}, {kNaN, kInf, kNaN, 0, -kInf}));
  EXPECT_TRUE(ArrayIs(out[7], DType::f32, {5}, {kNaN, kInf, -1, 0, -0.6321205588285577}));
  EXPECT_TRUE(ArrayIs(out[8], DType::f32, {5}, {kNaN, 1, -1, 0, -0.8427007929497149}));
  EXPECT_TRUE(ArrayIs(out[9], DType::f32, {5}, {kNaN, kNaN, kNaN, 0, -0.8414709848078965}));
}

TEST_F(Elementwise, OverflowToInfInF32) {
  // exp(100) = 2.7e43 fits f64 but not f32: rounding once gives inf.
  Tensor x = cf32({100, 1000, -1000}, {3});
  EXPECT_TRUE(ArrayIs(run(exp(x)), DType::f32, {3}, {kInf, kInf, 0}));
  EXPECT_TRUE(
      ArrayIs(run(exp(cast(x, DType::f64))), DType::f64, {3}, {2.6881171418161356e+43, kInf, 0}));
}

TEST_F(Elementwise, SigmoidSaturatesWithoutNaN) {
  Tensor x = cf32({1000, -1000, 40, -40, 88, -88}, {6});
  // sigmoid(-40) = 4.248354255291589e-18 is representable in f32 and must not flush to 0.
  EXPECT_TRUE(ArrayIs(run(sigmoid(x)), DType::f32, {6},
                      {1, 0, 1, 4.248354255291589e-18, 1, 6.054601895401186e-39}));
}

TEST_F(Elementwise, Relu) {
  Tensor x = cf32({-1, 0, 2, kNaN, -kInf, kInf, -0.0}, {7});
  EXPECT_TRUE(ArrayIs(run(relu(x)), DType::f32, {7}, {0, 0, 2, kNaN, 0, kInf, 0}));
  EXPECT_TRUE(ArrayIs(run(relu(ci32({-3, 0, 4}, {3}))), DType::i32, {3}, {0, 0, 4}));
}

TEST_F(Elementwise, LeakyReluAndElu) {
  Tensor x = cf32({-2, 0, 3, kNaN}, {4});
  EXPECT_TRUE(ArrayIs(run(leaky_relu(x)), DType::f32, {4}, {-0.02, 0, 3, kNaN}));
  EXPECT_TRUE(ArrayIs(run(leaky_relu(x, 0.2)), DType::f32, {4}, {-0.4, 0, 3, kNaN}));
  Tensor e = cf32({-1, 0, 2, -1000, kNaN, -0.5}, {6});
  EXPECT_TRUE(ArrayIs(run(elu(e)), DType::f32, {6},
                      {-0.6321205588285577, 0, 2, -1, kNaN, -0.3934693402873666}));
  EXPECT_TRUE(ArrayIs(run(elu(e, 2.0)), DType::f32, {6},
                      {-1.2642411176571153, 0, 2, -2, kNaN, -0.7869386805747332}));
}

TEST_F(Elementwise, Gelu) {
  Tensor x = cf32({-1, 0, 1, 2}, {4});
  EXPECT_TRUE(ArrayIs(run(gelu(x)), DType::f32, {4},
                      {-0.15865525393145707, 0, 0.8413447460685429, 1.9544997361036416}));
  EXPECT_TRUE(ArrayIs(run(gelu(x, true)), DType::f32, {4},
                      {-0.15880800939172324, 0, 0.8411919906082768, 1.954597694087775}));
  // In f64 also where 1 + erf(x / sqrt 2) cancels.
  Tensor d = cf64({-3, 1}, {2});
  EXPECT_TRUE(
      ArrayIs(run(gelu(d)), DType::f64, {2}, {-0.00404969409489031, 0.8413447460685429}, 1e-10));
  EXPECT_TRUE(ArrayIs(run(gelu(d, true)), DType::f64, {2},
                      {-0.0036373920817729943, 0.8411919906082768}, 1e-10));
}

TEST_F(Elementwise, SoftplusIsStable) {
  Tensor x = cf32({0, 1, -1, 1000, -1000, 20, -20}, {7});
  Array r = run(softplus(x));
  EXPECT_TRUE(ArrayIs(r, DType::f32, {7},
                      {0.6931471805599453, 1.3132616875182228, 0.31326168751822286, 1000, 0,
                       20.000000002061153, 2.061153620314381e-09}));
}

TEST_F(Elementwise, MaximumMinimumPropagateNaN) {
  Tensor a = cf32({1, kNaN, 3, -kInf, 5}, {5});
  Tensor b = cf32({2, 1, kNaN, 0, 5}, {5});
  EXPECT_TRUE(ArrayIs(run(maximum(a, b)), DType::f32, {5}, {2, kNaN, kNaN, 0, 5}));
  EXPECT_TRUE(ArrayIs(run(minimum(a, b)), DType::f32, {5}, {1, kNaN, kNaN, -kInf, 5}));
  // Broadcast against a scalar; integers.
  EXPECT_TRUE(ArrayIs(run(maximum(a, cf32({2}, {}))), DType::f32, {5}, {2, kNaN, 3, 2, 5}));
  Tensor n = ci32({-4, 7}, {2}), m = ci32({3, 3}, {2});
  EXPECT_TRUE(ArrayIs(run(maximum(n, m)), DType::i32, {2}, {3, 7}));
  EXPECT_TRUE(ArrayIs(run(minimum(n, m)), DType::i32, {2}, {-4, 3}));
  EXPECT_TRUE(ArrayIs(run(minimum(n, cf32({0.5}, {1}))), DType::f32, {2}, {-4, 0.5}));
}

TEST_F(Elementwise, ComparisonsWithNaN) {
  Tensor a = cf32({1, 2, kNaN, 3, kNaN}, {5});
  Tensor b = cf32({2, 2, 1, kNaN, kNaN}, {5});
  auto out = compile_interp({a<b, a <= b, a> b, a >= b, a == b, a != b}).run();
  EXPECT_TRUE(ArrayIs(out[0], DType::boolean, {5}, {1, 0, 0, 0, 0}));
  EXPECT_TRUE(ArrayIs(out[1], DType::boolean, {5}, {1, 1, 0, 0, 0}));
  EXPECT_TRUE(ArrayIs(out[2], DType::boolean, {5}, {0, 0, 0, 0, 0}));
  EXPECT_TRUE(ArrayIs(out[3], DType::boolean, {5}, {0, 1, 0, 0, 0}));
  EXPECT_TRUE(ArrayIs(out[4], DType::boolean, {5}, {0, 1, 0, 0, 0}));
  EXPECT_TRUE(ArrayIs(out[5], DType::boolean, {5}, {1, 0, 1, 1, 1}));
}

TEST_F(Elementwise, ComparisonsWithScalarsAndMixedDtypes) {
  Tensor n = ci32({1, 2, 3}, {3});
  EXPECT_TRUE(ArrayIs(run(n < 2.5), DType::boolean, {3}, {1, 1, 0}));
  EXPECT_TRUE(ArrayIs(run(n <= 2.0), DType::boolean, {3}, {1, 1, 0}));
  EXPECT_TRUE(ArrayIs(run(n == 2.0), DType::boolean, {3}, {0, 1, 0}));
  EXPECT_TRUE(ArrayIs(run(n != 2.0), DType::boolean, {3}, {1, 0, 1}));
  EXPECT_TRUE(ArrayIs(run(n >= 2.0), DType::boolean, {3}, {0, 1, 1}));
  EXPECT_TRUE(ArrayIs(run(n > 2.0), DType::boolean, {3}, {0, 0, 1}));
  EXPECT_TRUE(ArrayIs(run(n < cf32({1.5}, {1})), DType::boolean, {3}, {1, 0, 0}));
  // Broadcast comparisons: [2,1] vs [3].
  Tensor c = cf32({1, 2}, {2, 1}), r = cf32({0, 1, 2}, {3});
  EXPECT_TRUE(ArrayIs(run(c > r), DType::boolean, {2, 3}, {1, 0, 0, 1, 1, 0}));
}

TEST_F(Elementwise, LogicalOps) {
  Tensor a = cbool({1, 1, 0, 0}, {4}), b = cbool({1, 0, 1, 0}, {4});
  EXPECT_TRUE(ArrayIs(run(a && b), DType::boolean, {4}, {1, 0, 0, 0}));
  EXPECT_TRUE(ArrayIs(run(a || b), DType::boolean, {4}, {1, 1, 1, 0}));
  EXPECT_TRUE(ArrayIs(run(!a), DType::boolean, {4}, {0, 0, 1, 1}));
  // Broadcasting with a bool scalar.
  EXPECT_TRUE(ArrayIs(run(a && cbool({1}, {})), DType::boolean, {4}, {1, 1, 0, 0}));
}

TEST_F(Elementwise, WhereBroadcastsAndPromotes) {
  Tensor cond = cbool({1, 0}, {2, 1});
  Tensor a = cf32({1, 2, 3}, {3});
  Tensor b = cf32({-1}, {});
  EXPECT_TRUE(ArrayIs(run(where(cond, a, b)), DType::f32, {2, 3}, {1, 2, 3, -1, -1, -1}));
  // i32 and f32 branches promote to f32; NaN in the unselected branch does not leak.
  Tensor n = ci32({7, 8, 9}, {3});
  Tensor x = cf32({kNaN, 0.5, kNaN}, {3});
  Tensor c2 = cbool({1, 0, 1}, {3});
  EXPECT_TRUE(ArrayIs(run(where(c2, n, x)), DType::f32, {3}, {7, 0.5, 9}));
  EXPECT_TRUE(ArrayIs(run(where(c2, n, n * 10.0)), DType::i32, {3}, {7, 80, 9}));
  // The condition from a comparison.
  Tensor v = cf32({-1, 2, -3}, {3});
  EXPECT_TRUE(ArrayIs(run(where(v > 0.0, v, 0.0 * v)), DType::f32, {3}, {0, 2, 0}));
}

TEST_F(Elementwise, ClipPropagatesNaN) {
  Tensor x = cf32({-2, 0.5, 3, kNaN, -kInf, kInf, 0, 1}, {8});
  EXPECT_TRUE(ArrayIs(run(clip(x, 0, 1)), DType::f32, {8}, {0, 0.5, 1, kNaN, 0, 1, 0, 1}));
  EXPECT_TRUE(ArrayIs(run(clip(ci32({-5, 3, 10}, {3}), 0, 5)), DType::i32, {3}, {0, 3, 5}));
  EXPECT_TRUE(ArrayIs(run(clip(x, -kInf, 0.25)), DType::f32, {8},
                      {-2, 0.25, 0.25, kNaN, -kInf, 0.25, 0, 0.25}));
}

TEST_F(Elementwise, Cast) {
  Tensor x = cf32({1.7, -1.7, -0.5, kNaN, 0, 2.5, -0.0}, {7});
  // f32 -> i32 truncates toward zero; NaN -> 0.
  EXPECT_TRUE(ArrayIs(run(cast(x, DType::i32)), DType::i32, {7}, {1, -1, 0, 0, 0, 2, 0}));
  // -> bool: nonzero (NaN is nonzero, as in numpy).
  EXPECT_TRUE(ArrayIs(run(cast(x, DType::boolean)), DType::boolean, {7}, {1, 1, 1, 1, 0, 1, 0}));
  EXPECT_TRUE(
      ArrayIs(run(cast(ci32({0, 3, -2}, {3}), DType::boolean)), DType::boolean, {3}, {0, 1, 1}));
  EXPECT_TRUE(ArrayIs(run(cast(cbool({1, 0}, {2}), DType::f32)), DType::f32, {2}, {1, 0}));
  EXPECT_TRUE(ArrayIs(run(cast(cbool({1, 0}, {2}), DType::i32)), DType::i32, {2}, {1, 0}));
  // f32 -> f64 is exact; f64 -> f32 rounds to nearest.
  EXPECT_TRUE(ArrayIs(run(cast(cf32({0.1}, {1}), DType::f64)), DType::f64, {1},
                      {0.10000000149011612}, 0, 0));
  EXPECT_TRUE(ArrayIs(run(cast(cf64({0.1, 16777217}, {2}), DType::f32)), DType::f32, {2},
                      {0.10000000149011612, 16777216}, 0, 0));
  // i32 -> f32 rounds 2^24 + 1 to even.
  EXPECT_TRUE(ArrayIs(run(cast(ci32({16777217, -7}, {2}), DType::f32)), DType::f32, {2},
                      {16777216, -7}, 0, 0));
  // Same dtype: the tensor itself.
  EXPECT_EQ(cast(x, DType::f32).id(), x.id());
}

TEST_F(Elementwise, Pow) {
  Tensor x = cf32({2, 4, 9, 0, -8}, {5});
  EXPECT_TRUE(ArrayIs(run(pow(x, 0.5)), DType::f32, {5}, {1.4142135623730951, 2, 3, 0, kNaN}));
  EXPECT_TRUE(ArrayIs(run(pow(x, 2.0)), DType::f32, {5}, {4, 16, 81, 0, 64}));
  EXPECT_TRUE(ArrayIs(run(pow(x, 0.0)), DType::f32, {5}, {1, 1, 1, 1, 1}));
  EXPECT_TRUE(ArrayIs(run(pow(2.0, cf32({1.5, -1, 3}, {3}))), DType::f32, {3},
                      {2.8284271247461903, 0.5, 8}));
  EXPECT_TRUE(ArrayIs(run(pow(cf32({0.5, 3}, {2}), cf32({3, -1}, {2}))), DType::f32, {2},
                      {0.125, 0.3333333333333333}));
  // Integer powers compute in f32.
  EXPECT_TRUE(ArrayIs(run(pow(ci32({2, 3}, {2}), 2.0)), DType::f32, {2}, {4, 9}));
}

}  // namespace
}  // namespace soma
