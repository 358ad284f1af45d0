// Second derivatives and Hessian-vector products, against finite differences of gradients and
// against closed forms.
#include <gtest/gtest.h>

#include <cmath>

#include "autodiff/gradcheck.h"

namespace soma::testing {
namespace {

using Xs = const std::vector<Tensor>&;

double second_derivative(const std::function<Tensor(const Tensor&)>& f, double x0) {
  ContextScope scope(std::make_shared<Context>());
  Tensor x = input("x", {}, DType::f64);
  Tensor d2 = grad(grad(f(x), x), x);
  return eval(d2, {{"x", Array::scalar(DType::f64, x0)}}).get(0);
}

TEST(HigherOrder, SecondDerivativesOfUnaryFunctions) {
  const double x = 0.7;
  double t = std::tanh(x), s = 1 / (1 + std::exp(-x));
  EXPECT_NEAR(second_derivative([](const Tensor& v) { return tanh(v); }, x), -2 * t * (1 - t * t),
              1e-12);
  EXPECT_NEAR(second_derivative([](const Tensor& v) { return sigmoid(v); }, x),
              s * (1 - s) * (1 - 2 * s), 1e-12);
  EXPECT_NEAR(second_derivative([](const Tensor& v) { return exp(v); }, x), std::exp(x), 1e-12);
  EXPECT_NEAR(second_derivative([](const Tensor& v) { return log(v); }, x), -1 / (x * x), 1e-12);
  EXPECT_NEAR(second_derivative([](const Tensor& v) { return pow(v, 3.5); }, x),
              3.5 * 2.5 * std::pow(x, 1.5), 1e-12);
  EXPECT_NEAR(second_derivative([](const Tensor& v) { return pow(2.0, v); }, x),
              std::pow(2.0, x) * std::log(2.0) * std::log(2.0), 1e-12);
  EXPECT_NEAR(second_derivative([](const Tensor& v) { return sin(v); }, x), -std::sin(x), 1e-12);
  EXPECT_NEAR(second_derivative([](const Tensor& v) { return sqrt(v); }, x),
              -0.25 * std::pow(x, -1.5), 1e-12);
}

TEST(HigherOrder, ThirdDerivativeOfTanh) {
  ContextScope scope(std::make_shared<Context>());
  Tensor x = input("x", {}, DType::f64);
  Tensor d3 = grad(grad(grad(tanh(x), x), x), x);
  double v = 0.3, t = std::tanh(v);
  // d3/dx3 tanh = -2 (1 - t^2)(1 - 3 t^2)
  EXPECT_NEAR(eval(d3, {{"x", Array::scalar(DType::f64, v)}}).get(0),
              -2 * (1 - t * t) * (1 - 3 * t * t), 1e-12);
}

GradCase mlp_case() {
  // A 2-layer MLP's loss as a function of its first weight matrix (other inputs fixed).
  return GradCase{
      "mlp", {InputSpec{{4, 5}}, InputSpec{{3, 4}}, InputSpec{{5, 3}}, InputSpec{{5}}}, [](Xs x) {
        Tensor h = tanh(matmul(x[1], x[0]) + x[3]);
        return softmax(matmul(h, x[2]));
      }};
}

TEST(HigherOrder, HessianVectorProductOfMlp) {
  check_hvp(mlp_case());
}

TEST(HigherOrder, HessianVectorProductOfConvAndPool) {
  check_hvp(GradCase{"conv_pool", {InputSpec{{2, 2, 3, 3}}, InputSpec{{1, 2, 6, 6}}}, [](Xs x) {
                       return max_pool2d(tanh(conv2d(x[1], x[0])), {2, 2});
                     }});
}

TEST(HigherOrder, HessianVectorProductOfCrossEntropy) {
  InputSpec labels{{4}, 0, 2.999};
  labels.dtype = DType::i32;
  labels.differentiable = false;
  check_hvp(GradCase{
      "xent", {InputSpec{{4, 3}, -2, 2}, labels}, [](Xs x) { return cross_entropy(x[0], x[1]); }});
}

TEST(HigherOrder, MlpParameterGradients) {
  GradCase c = mlp_case();
  check_gradients(c);
}

}  // namespace
}  // namespace soma::testing
