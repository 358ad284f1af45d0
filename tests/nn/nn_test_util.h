// Helpers of the nn tests: running one layer on its own, and a finite-difference check of the
// gradients of a layer's weights.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "frontend/compile.h"
#include "frontend/nn/layers.h"
#include "frontend/nn/model.h"

namespace soma::nn::testing {

inline Array f32(Shape shape, std::vector<float> v) {
  return Array::from_f32(std::move(shape), v);
}
inline Array i32(Shape shape, std::vector<int32_t> v) {
  return Array::from_i32(std::move(shape), v);
}

inline Array random_array(const Shape& shape, double lo, double hi, uint64_t seed,
                          DType dtype = DType::f32) {
  Array a(dtype, shape);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  for (int64_t i = 0; i < a.numel(); ++i) a.set(i, d(rng));
  return a;
}

inline void expect_values(const Array& a, const std::vector<double>& want, double tol = 1e-5) {
  ASSERT_EQ(a.numel(), static_cast<int64_t>(want.size())) << a.type_str();
  for (int64_t i = 0; i < a.numel(); ++i)
    EXPECT_NEAR(a.get(i), want[static_cast<size_t>(i)], tol) << "element " << i;
}

// A layer built and called on its own context (batch axis included in `in`).
struct LayerRun {
  std::shared_ptr<Context> ctx = std::make_shared<Context>();
  LayerPtr layer;
  Tensor x, step, y;
  CallContext cc;

  LayerRun(LayerPtr l, const TensorType& in, bool training = false, uint64_t seed = 1)
      : layer(std::move(l)) {
    ContextScope scope(ctx);
    if (layer->name().empty()) layer->set_name("l");
    layer->build(in, seed);
    x = input("x", in.shape, in.dtype);
    step = input("step", {}, DType::i32);
    cc.training = training;
    cc.step = step;
    y = layer->call(x, cc);
  }
  ParamStore& params() { return ctx->params(); }
  void set(const std::string& weight, const Array& value) {
    params().assign(layer->name() + "/" + weight, value);
  }
  // Runs the layer (and, in training mode, its state updates).
  Array run(const Array& xv, int step_value = 0) {
    Compiled c = compile({y}, {}, cc.state_updates);
    return c.run({{"x", xv}, {"step", Array::scalar(DType::i32, step_value)}}).at(0);
  }
};

// Checks d(sum(v * layer(x)))/dW for every trainable weight W against central differences of
// the f32 graph (step h; the layers are linear or smooth in their weights, so loose tolerances
// still catch a wrong rule).
inline void check_weight_grads(const std::function<LayerPtr()>& make, const TensorType& in,
                               bool training = false, double h = 1e-2, double atol = 5e-3,
                               double rtol = 2e-2) {
  LayerRun r(make(), in, training);
  ContextScope scope(r.ctx);
  Array v = random_array(r.y.shape(), 0.5, 1.5, 99);
  Tensor loss = sum(r.y * constant(v));
  std::vector<Weight> ws = r.layer->trainable_weights();
  ASSERT_FALSE(ws.empty());
  std::vector<Tensor> params;
  for (const Weight& w : ws) params.push_back(w.tensor);
  std::vector<Tensor> gs = grad(loss, params);
  Array xv = in.dtype == DType::i32 ? Array(DType::i32, in.shape)
                                    : random_array(in.shape, -1, 1, 7, in.dtype);
  if (in.dtype == DType::i32)
    for (int64_t i = 0; i < xv.numel(); ++i) xv.set(i, i % 3);
  Feeds feeds{{"x", xv}, {"step", Array::scalar(DType::i32, 0)}};
  std::vector<Array> analytic = compile(gs).run(feeds);
  Compiled lf = compile({loss});
  for (size_t k = 0; k < ws.size(); ++k) {
    Array base = r.params().get(ws[k].name).clone();
    for (int64_t e = 0; e < base.numel(); ++e) {
      Array p = base.clone();
      p.set(e, base.get(e) + h);
      r.params().assign(ws[k].name, p);
      double lp = lf.run(feeds).at(0).get(0);
      p.set(e, base.get(e) - h);
      r.params().assign(ws[k].name, p);
      double lm = lf.run(feeds).at(0).get(0);
      r.params().assign(ws[k].name, base);
      double numeric = (lp - lm) / (2 * h);
      double a = analytic[k].get(e);
      EXPECT_NEAR(a, numeric, atol + rtol * std::fabs(numeric)) << ws[k].name << "[" << e << "]";
    }
  }
}

}  // namespace soma::nn::testing
