// Losses with PyTorch's mean reduction: mse, binary_cross_entropy (logs clamped at -100) and
// cross_entropy with integer labels (class axis 1, as PyTorch) or class-probability targets.
#include <cmath>

#include "interp/expect.h"

namespace soma {
namespace {

using namespace soma::test;

using Losses = OpTest;

TEST_F(Losses, Mse) {
  EXPECT_TRUE(ArrayIs(run(mse(cf32({1, 2, 3}, {3}), cf32({1, 0, 5}, {3}))), DType::f32, {},
                      {2.6666666666666665}));
  // The target broadcasts against the prediction.
  EXPECT_TRUE(
      ArrayIs(run(mse(cf32({1, 2, 3, 4}, {2, 2}), cf32({1, -1}, {2}))), DType::f32, {}, {9.5}));
  EXPECT_TRUE(ArrayIs(run(mse(cf32({2}, {}), cf32({2}, {}))), DType::f32, {}, {0}));
}

TEST_F(Losses, BinaryCrossEntropy) {
  EXPECT_TRUE(ArrayIs(run(binary_cross_entropy(cf32({0.9, 0.2}, {2}), cf32({1, 0}, {2}))),
                      DType::f32, {}, {0.164252033486018}));
  // Soft targets.
  EXPECT_TRUE(ArrayIs(run(binary_cross_entropy(cf32({0.6}, {1}), cf32({0.7}, {1}))), DType::f32, {},
                      {0.63246515619844}));
  // Logs are clamped at -100: confident mistakes cost 100, confident hits 0; never inf or NaN.
  EXPECT_TRUE(ArrayIs(run(binary_cross_entropy(cf32({0, 1, 0, 1}, {4}), cf32({1, 0, 0, 1}, {4}))),
                      DType::f32, {}, {50}));
  EXPECT_TRUE(
      ArrayIs(run(binary_cross_entropy(cf32({0}, {1}), cf32({1}, {1}))), DType::f32, {}, {100}));
  // Integer targets are cast.
  EXPECT_TRUE(ArrayIs(run(binary_cross_entropy(cf32({0.9, 0.2}, {2}), ci32({1, 0}, {2}))),
                      DType::f32, {}, {0.164252033486018}));
}

// Where a probability is exactly 0 or 1 (sigmoid(20) and sigmoid(-104) in f32), the clamped logs
// still have finite gradients: a neuron trained for thousands of steps must not turn NaN.
TEST_F(Losses, BinaryCrossEntropyOfSaturatedSigmoidsHasFiniteGradients) {
  for (DType d : {DType::f32, DType::f64}) {
    for (double z0 : {20.0, 40.0, -20.0, -104.0, 0.5}) {
      for (double target : {0.0, 1.0}) {
        Tensor z = input("z", {1}, d);
        Tensor g = grad(binary_cross_entropy(sigmoid(z), full({1}, target, d)), z);
        Array zv = Array::from_doubles(d, {1}, std::vector<double>{z0});
        Array gv = run(g, {{"z", zv}});
        const double p = 1 / (1 + std::exp(-z0));
        EXPECT_TRUE(std::isfinite(gv.get(0))) << dtype_name(d) << " z=" << z0 << " t=" << target;
        // d/dz = p - t where p is not saturated (for a saturated p the gradient may be 0).
        if (p > 1e-6 && p < 1 - 1e-6) {
          EXPECT_NEAR(gv.get(0), p - target, 1e-5) << dtype_name(d) << " z=" << z0;
        }
      }
    }
  }
}

TEST_F(Losses, CrossEntropyWithIntegerLabels) {
  Tensor logits = input("logits", {2, 3});
  Tensor labels = input("labels", {2}, DType::i32);
  Array r = run(cross_entropy(logits, labels),
                {{"logits", f32({2, 3}, {1, 2, 3, 1, 1, 1})}, {"labels", i32({2}, {2, 0})}});
  // (-log_softmax([1,2,3])[2] + log 3) / 2
  EXPECT_TRUE(ArrayIs(r, DType::f32, {}, {0.753109126556245}));
  // Logits [C] with a scalar label.
  EXPECT_TRUE(ArrayIs(run(cross_entropy(cf32({1, 2, 3}, {3}), ci32({0}, {}))), DType::f32, {},
                      {2.4076059644443806}));
}

TEST_F(Losses, CrossEntropyOfLargeLogitsIsFinite) {
  Tensor logits = cf32({1000, 0, 1000, 0}, {2, 2});
  EXPECT_TRUE(ArrayIs(run(cross_entropy(logits, ci32({1, 1}, {2}))), DType::f32, {}, {1000}));
  EXPECT_TRUE(ArrayIs(run(cross_entropy(logits, ci32({0, 0}, {2}))), DType::f32, {}, {0}));
  EXPECT_TRUE(ArrayIs(run(cross_entropy(logits, ci32({0, 1}, {2}))), DType::f32, {}, {500}));
  // Large logits keep full precision: -log_softmax([1000, 999])[1].
  EXPECT_TRUE(ArrayIs(run(cross_entropy(cf32({1000, 999}, {1, 2}), ci32({1}, {1}))), DType::f32, {},
                      {1.3132616875182228}));
}

TEST_F(Losses, CrossEntropyWithMaskedLogits) {
  // A -inf logit at a class other than the label contributes nothing (PyTorch gives log 2).
  Tensor logits = cf32({-kInf, 0, 0}, {1, 3});
  EXPECT_TRUE(
      ArrayIs(run(cross_entropy(logits, ci32({1}, {1}))), DType::f32, {}, {0.6931471805599453}));
  EXPECT_TRUE(ArrayIs(run(cross_entropy(cf32({-kInf, 0, 0, 1, 2, 3}, {2, 3}), ci32({2, 2}, {2}))),
                      DType::f32, {}, {(0.6931471805599453 + 0.40760596444438035) / 2}));
}

TEST_F(Losses, CrossEntropyWithProbabilityTargets) {
  EXPECT_TRUE(ArrayIs(run(cross_entropy(cf32({1, 2, 3}, {1, 3}), cf32({0.2, 0.3, 0.5}, {1, 3}))),
                      DType::f32, {}, {1.1076059644443803}));
  Tensor logits = cf32({1, 2, 3, 0, 0, std::log(3.0)}, {2, 3});
  Tensor target = cf32({0.2, 0.3, 0.5, 1, 0, 0}, {2, 3});
  EXPECT_TRUE(ArrayIs(run(cross_entropy(logits, target)), DType::f32, {}, {1.3585219384392402}));
  // One-hot probability targets equal integer labels.
  EXPECT_TRUE(ArrayIs(
      run(cross_entropy(cf32({1, 2, 3, 1, 1, 1}, {2, 3}), cf32({0, 0, 1, 1, 0, 0}, {2, 3}))),
      DType::f32, {}, {0.753109126556245}));
}

TEST_F(Losses, CrossEntropyClassAxisIsOne) {
  // logits [N=2, C=3, L=2], labels [N, L]: the class axis is 1, as in PyTorch.
  Tensor logits =
      cf32({-1.5, -0.5, 0.5, 1.5, 2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -1.5, -0.5}, {2, 3, 2});
  Tensor labels = ci32({0, 2, 1, 1}, {2, 2});
  EXPECT_TRUE(ArrayIs(run(cross_entropy(logits, labels)), DType::f32, {}, {1.913117421792189}));
}

}  // namespace
}  // namespace soma
