// Each optimizer's update rule against hand-computed steps: the loss 0.5 * sum(w^2) has the
// gradient w, so every step is a closed-form function of the previous one.
#include <gtest/gtest.h>

#include <cmath>

#include "frontend/nn/optimizers.h"
#include "nn/nn_test_util.h"

namespace soma::nn {
namespace {

using namespace soma::nn::testing;

struct OneParam {
  std::shared_ptr<Context> ctx = std::make_shared<Context>();
  Compiled step_fn;
  explicit OneParam(const Optimizer& opt, std::vector<float> w0 = {1, -2, 3}) {
    ContextScope scope(ctx);
    Tensor w = param("w", f32({static_cast<int64_t>(w0.size())}, w0));
    Tensor loss = 0.5 * sum(w * w);
    Tensor lr = input("lr", {}, DType::f32);
    Tensor step = input("step", {}, DType::i32);
    Updates updates;
    opt.build_updates({w}, grad(loss, std::vector<Tensor>{w}), lr, step, updates);
    step_fn = compile({loss}, {}, updates);
  }
  // Runs step number `t` (0-based) with learning rate lr; returns w after it.
  std::vector<double> run(double lr, int t) {
    step_fn.run({{"lr", Array::scalar(DType::f32, lr)}, {"step", Array::scalar(DType::i32, t)}});
    return ctx->params().get("w").to_doubles();
  }
};

void expect_near(const std::vector<double>& got, const std::vector<double>& want,
                 double tol = 1e-5) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], tol * std::max(1.0, std::fabs(want[i]))) << "element " << i;
}

std::vector<double> scaled(double s) {
  return {1 * s, -2 * s, 3 * s};
}

TEST(SGD, PlainStepIsMinusLrTimesGradient) {
  OneParam s(SGD(0.1));
  EXPECT_TRUE(SGD(0.1).slot_names().empty());
  expect_near(s.run(0.1, 0), scaled(0.9));
  expect_near(s.run(0.1, 1), scaled(0.81));
  EXPECT_FALSE(s.ctx->params().has("w/momentum"));
}

TEST(SGD, LearningRateIsARuntimeInput) {
  OneParam s(SGD(0.1));
  expect_near(s.run(0.5, 0), scaled(0.5));
  expect_near(s.run(0.0, 1), scaled(0.5));  // lr 0: no change, same executable
  expect_near(s.run(0.1, 2), scaled(0.45));
}

TEST(SGD, Momentum) {
  OneParam s(SGD(0.1, 0.9));
  // v1 = -0.1 w0, w1 = 0.9 w0; v2 = 0.9 v1 - 0.1 w1 = -0.18 w0, w2 = 0.72 w0
  expect_near(s.run(0.1, 0), scaled(0.9));
  expect_near(s.ctx->params().get("w/momentum").to_doubles(), scaled(-0.1));
  expect_near(s.run(0.1, 1), scaled(0.72));
  expect_near(s.ctx->params().get("w/momentum").to_doubles(), scaled(-0.18));
  // v3 = 0.9 v2 - 0.1 w2 = -0.162 - 0.072 = -0.234; w3 = 0.72 - 0.234 = 0.486
  expect_near(s.run(0.1, 2), scaled(0.486));
}

TEST(SGD, Nesterov) {
  OneParam s(SGD(0.1, 0.9, true));
  // v1 = -0.1 w0; w1 = w0 + 0.9 v1 - 0.1 w0 = 0.81 w0
  expect_near(s.run(0.1, 0), scaled(0.81));
  // v2 = 0.9 v1 - 0.1 w1 = -0.171 w0; w2 = w1 + 0.9 v2 - 0.1 w1 = 0.5751 w0
  expect_near(s.run(0.1, 1), scaled(0.5751));
}

TEST(Adam, BiasCorrectedSteps) {
  const double lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-7;
  OneParam s(Adam(lr, b1, b2, eps));
  // Step 1: m = 0.1 g, v = 0.001 g^2, bias-corrected: a step of lr * g / |g| (nearly).
  std::vector<double> w1 = s.run(lr, 0);
  expect_near(w1, {0.9, -1.9, 2.9}, 1e-5);
  expect_near(s.ctx->params().get("w/m").to_doubles(), {0.1, -0.2, 0.3});
  expect_near(s.ctx->params().get("w/v").to_doubles(), {0.001, 0.004, 0.009});
  // Steps 2 and 3 by the formula, in double.
  std::vector<double> w = {1, -2, 3}, m(3, 0), v(3, 0);
  for (int t = 1; t <= 3; ++t) {
    for (size_t i = 0; i < 3; ++i) {
      double g = w[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      double alpha = lr * std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t));
      w[i] -= alpha * m[i] / (std::sqrt(v[i]) + eps);
    }
    if (t == 1) continue;
    expect_near(s.run(lr, t - 1), w, 2e-5);
  }
  EXPECT_NEAR(s.ctx->params().get("w/m").get(0), m[0], 1e-5);
  EXPECT_NEAR(s.ctx->params().get("w/v").get(2), v[2], 1e-5);
}

TEST(Adam, TheStepInputIsTheBiasCorrectionsT) {
  // The same state fed as step 0 and as step 1000 moves by different amounts.
  OneParam a(Adam(0.1)), b(Adam(0.1));
  double wa = a.run(0.1, 0)[0], wb = b.run(0.1, 1000)[0];
  EXPECT_NEAR(wa, 0.9, 1e-5);
  // t = 1001: alpha = lr * sqrt(1 - 0.999^1001) / (1 - 0.9^1001), step = alpha * 0.1 / sqrt(0.001)
  double alpha = 0.1 * std::sqrt(1 - std::pow(0.999, 1001));
  EXPECT_NEAR(wb, 1 - alpha * 0.1 / std::sqrt(0.001), 1e-4);
}

TEST(RMSprop, Steps) {
  const double lr = 0.01, rho = 0.9, eps = 1e-7;
  OneParam s(RMSprop(lr, rho, 0.0, eps));
  // a1 = 0.1 g^2; w1 = w0 - lr * g / (sqrt(0.1) |g|) = w0 - 0.0316228 sign(g)
  double d = lr / std::sqrt(0.1);
  expect_near(s.run(lr, 0), {1 - d, -2 + d, 3 - d}, 1e-5);
  EXPECT_TRUE(s.ctx->params().has("w/velocity"));
  std::vector<double> w = {1 - d, -2 + d, 3 - d}, a = {0.1, 0.4, 0.9};
  for (size_t i = 0; i < 3; ++i) {
    a[i] = rho * a[i] + (1 - rho) * w[i] * w[i];
    w[i] -= lr * w[i] / (std::sqrt(a[i]) + eps);
  }
  expect_near(s.run(lr, 1), w, 1e-5);
}

TEST(RMSprop, Momentum) {
  const double lr = 0.01, rho = 0.9, mom = 0.5;
  OneParam s(RMSprop(lr, rho, mom));
  std::vector<double> w = {1, -2, 3}, a(3, 0), mo(3, 0);
  for (int t = 0; t < 3; ++t) {
    for (size_t i = 0; i < 3; ++i) {
      a[i] = rho * a[i] + (1 - rho) * w[i] * w[i];
      mo[i] = mom * mo[i] + lr * w[i] / (std::sqrt(a[i]) + 1e-7);
      w[i] -= mo[i];
    }
    expect_near(s.run(lr, t), w, 1e-5);
  }
  EXPECT_TRUE(s.ctx->params().has("w/momentum"));
}

TEST(Optimizers, ByNameAndConfig) {
  EXPECT_EQ(get_optimizer("adam")->name(), "Adam");
  EXPECT_EQ(get_optimizer("SGD")->name(), "SGD");
  EXPECT_EQ(get_optimizer("RMSprop")->name(), "RMSprop");
  EXPECT_DOUBLE_EQ(get_optimizer("adam")->learning_rate(), 0.001);
  EXPECT_DOUBLE_EQ(get_optimizer("sgd")->learning_rate(), 0.01);
  EXPECT_THROW(get_optimizer("adamw"), NameError);
  auto o = optimizer_from_config("SGD", SGD(0.3, 0.8, true).config());
  auto* sgd = dynamic_cast<SGD*>(o.get());
  ASSERT_NE(sgd, nullptr);
  EXPECT_DOUBLE_EQ(sgd->learning_rate(), 0.3);
  EXPECT_DOUBLE_EQ(sgd->momentum(), 0.8);
  EXPECT_TRUE(sgd->nesterov());
  EXPECT_THROW(optimizer_from_config("Adam", {{"rho", 0.9}}), ValueError);
}

TEST(Optimizers, Errors) {
  EXPECT_THROW(SGD(-0.1), ValueError);
  EXPECT_THROW(SGD(0.1, 1.5), ValueError);
  EXPECT_THROW(Adam(0.1, 1.0), ValueError);
  EXPECT_THROW(SGD().set_learning_rate(NAN), ValueError);
  ContextScope scope(std::make_shared<Context>());
  Tensor w = param("w", f32({2}, {1, 2}));
  Tensor x = input("x", {2});
  Tensor lr = input("lr", {}), step = input("step", {}, DType::i32);
  Updates u;
  EXPECT_THROW(SGD().build_updates({w}, {}, lr, step, u), ValueError);
  EXPECT_THROW(SGD().build_updates({x}, {x}, lr, step, u), ValueError);
}

}  // namespace
}  // namespace soma::nn
