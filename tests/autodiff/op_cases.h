// The op cases shared by the gradient checks (tests/autodiff) and the backend parity suite
// (tests/parity): every differentiable primitive and every composite of the tensor API, written
// once with input shapes and ranges that avoid kinks.
#pragma once

#include "autodiff/gradcheck.h"

namespace soma::testing {
namespace op_cases_detail {

using Xs = const std::vector<Tensor>&;

inline InputSpec in(Shape s, double lo = -1, double hi = 1) {
  return InputSpec{std::move(s), lo, hi};
}
inline InputSpec vals(Shape s, std::vector<double> v) {
  InputSpec r{std::move(s)};
  r.values = std::move(v);
  return r;
}
inline InputSpec labels(Shape s, int n) {
  InputSpec r{std::move(s), 0, static_cast<double>(n) - 1e-9};
  r.dtype = DType::i32;
  r.differentiable = false;
  return r;
}

inline std::vector<GradCase> cases() {
  std::vector<GradCase> c;
  auto add = [&](std::string name, std::vector<InputSpec> ins, std::function<Tensor(Xs)> fn) {
    c.push_back(GradCase{std::move(name), std::move(ins), std::move(fn)});
  };
  // Elementwise unary (ranges avoid kinks and poles).
  add("neg", {in({2, 3})}, [](Xs x) { return -x[0]; });
  add("abs", {vals({4}, {-2, -0.5, 0.7, 3})}, [](Xs x) { return abs(x[0]); });
  add("exp", {in({2, 3})}, [](Xs x) { return exp(x[0]); });
  add("expm1", {in({3})}, [](Xs x) { return expm1(x[0]); });
  add("log", {in({2, 3}, 0.2, 3)}, [](Xs x) { return log(x[0]); });
  add("log1p", {in({3}, -0.5, 3)}, [](Xs x) { return log1p(x[0]); });
  add("sqrt", {in({3}, 0.2, 3)}, [](Xs x) { return sqrt(x[0]); });
  add("rsqrt", {in({3}, 0.2, 3)}, [](Xs x) { return rsqrt(x[0]); });
  add("sin", {in({3}, -3, 3)}, [](Xs x) { return sin(x[0]); });
  add("cos", {in({3}, -3, 3)}, [](Xs x) { return cos(x[0]); });
  add("tanh", {in({3}, -2, 2)}, [](Xs x) { return tanh(x[0]); });
  add("sigmoid", {in({3}, -4, 4)}, [](Xs x) { return sigmoid(x[0]); });
  add("erf", {in({3}, -2, 2)}, [](Xs x) { return erf(x[0]); });
  add("square", {in({3})}, [](Xs x) { return square(x[0]); });
  add("relu", {vals({4}, {-1, -0.3, 0.4, 2})}, [](Xs x) { return relu(x[0]); });
  add("leaky_relu", {vals({4}, {-1, -0.3, 0.4, 2})}, [](Xs x) { return leaky_relu(x[0], 0.1); });
  add("elu", {vals({4}, {-1, -0.3, 0.4, 2})}, [](Xs x) { return elu(x[0]); });
  add("gelu", {in({4}, -3, 3)}, [](Xs x) { return gelu(x[0]); });
  add("gelu_tanh", {in({4}, -3, 3)}, [](Xs x) { return gelu(x[0], true); });
  add("softplus", {in({4}, -5, 5)}, [](Xs x) { return softplus(x[0]); });
  add("clip", {vals({4}, {-2, -0.3, 0.4, 2})}, [](Xs x) { return clip(x[0], -1, 1); });
  // Through f32 rounding: a linear function and a coarse step keep the differences exact enough.
  add("cast_f32_roundtrip", {in({3})},
      [](Xs x) { return cast(cast(x[0], DType::f32), DType::f64) * 3.0; });
  c.back().step = 1e-2;
  c.back().atol = 1e-4;
  // Binary with broadcasting.
  add("add_bcast", {in({2, 3}), in({3})}, [](Xs x) { return x[0] + x[1]; });
  add("sub_bcast", {in({2, 1}), in({1, 3})}, [](Xs x) { return x[0] - x[1]; });
  add("mul_bcast", {in({2, 3}), in({2, 1})}, [](Xs x) { return x[0] * x[1]; });
  add("div", {in({2, 3}), in({2, 3}, 0.5, 2)}, [](Xs x) { return x[0] / x[1]; });
  add("pow_tensor", {in({3}, 0.5, 2), in({3}, -1, 2)}, [](Xs x) { return pow(x[0], x[1]); });
  add("pow_scalar", {in({3}, 0.5, 2)}, [](Xs x) { return pow(x[0], 3.0); });
  add("maximum", {vals({4}, {1, -2, 3, 0.5}), vals({4}, {0, 1, 2, 4})},
      [](Xs x) { return maximum(x[0], x[1]); });
  add("minimum", {vals({4}, {1, -2, 3, 0.5}), vals({4}, {0, 1, 2, 4})},
      [](Xs x) { return minimum(x[0], x[1]); });
  add("where", {in({2, 3}), in({2, 3}), in({3})},
      [](Xs x) { return where(x[2] > 0.0, x[0] * 2.0, x[1] * x[1]); });
  // Reductions.
  add("sum_axes_keepdims", {in({2, 3, 4})}, [](Xs x) { return sum(x[0], {0, 2}, true); });
  add("sum_all", {in({2, 3})}, [](Xs x) { return sum(x[0]); });
  add("mean", {in({2, 3})}, [](Xs x) { return mean(x[0], {1}); });
  add("max_reduce", {vals({2, 3}, {1, 5, 2, -1, 0.5, 3})}, [](Xs x) { return max(x[0], {1}); });
  add("min_reduce", {vals({2, 3}, {1, 5, 2, -1, 0.5, 3})},
      [](Xs x) { return min(x[0], {0}, true); });
  add("var", {in({3, 4})}, [](Xs x) { return var(x[0], {1}, false, 1); });
  add("logsumexp", {in({3, 4}, -3, 3)}, [](Xs x) { return logsumexp(x[0], {1}); });
  // Movement.
  add("reshape", {in({2, 3})}, [](Xs x) { return reshape(x[0], {3, 2}) * reshape(x[0], {3, 2}); });
  add("transpose", {in({2, 3, 4})}, [](Xs x) { return transpose(x[0], {2, 0, 1}); });
  add("broadcast_to", {in({3, 1})}, [](Xs x) { return broadcast_to(x[0], {2, 3, 4}); });
  add("index_slices", {in({4, 5})}, [](Xs x) {
    return index(x[0], {Slice{1, 4, 2}, Slice{std::nullopt, std::nullopt, -2}});
  });
  add("index_int_ellipsis", {in({2, 3, 4})}, [](Xs x) {
    return index(x[0], {Ellipsis{}, int64_t{-1}});
  });
  add("pad", {in({2, 3})}, [](Xs x) { return pad(x[0], {{1, 0}, {2, 1}}, 5.0); });
  add("concat", {in({2, 3}), in({2, 2})}, [](Xs x) { return concat({x[0], x[1], x[0]}, 1); });
  add("stack", {in({2, 3}), in({2, 3})}, [](Xs x) { return stack({x[0], x[1]}, 1); });
  add("flip", {in({2, 3})}, [](Xs x) { return flip(x[0], {1}); });
  add("squeeze_unsqueeze", {in({2, 1, 3})}, [](Xs x) { return unsqueeze(squeeze(x[0]), 0); });
  // Contraction.
  add("matmul", {in({3, 4}), in({4, 2})}, [](Xs x) { return matmul(x[0], x[1]); });
  add("matmul_batch_bcast", {in({2, 1, 3, 4}), in({3, 4, 2})},
      [](Xs x) { return matmul(x[0], x[1]); });
  add("matmul_vec", {in({4}), in({4, 3})}, [](Xs x) { return matmul(x[0], x[1]); });
  add("matvec", {in({3, 4}), in({4})}, [](Xs x) { return matmul(x[0], x[1]); });
  add("conv2d", {in({2, 3, 5, 5}), in({4, 3, 3, 3}), in({4})},
      [](Xs x) { return conv2d(x[0], x[1], x[2]); });
  add("conv2d_stride_pad_dil", {in({1, 2, 6, 7}), in({3, 2, 3, 2})}, [](Xs x) {
    return conv2d(x[0], x[1], std::nullopt, {2, 1}, {1, 2}, {1, 2});
  });
  add("conv2d_same_even", {in({1, 2, 4, 4}), in({2, 2, 2, 2})}, [](Xs x) {
    return conv2d(x[0], x[1], std::nullopt, {1, 1}, std::string("same"));
  });
  add("max_pool2d", {in({1, 2, 4, 4})}, [](Xs x) { return max_pool2d(x[0], {2, 2}); });
  add("max_pool2d_overlap_pad", {in({1, 1, 5, 5})}, [](Xs x) {
    return max_pool2d(x[0], {3, 3}, {2, 2}, {1, 1});
  });
  add("avg_pool2d", {in({1, 2, 4, 6})}, [](Xs x) { return avg_pool2d(x[0], {2, 3}, {1, 2}); });
  add("embedding", {labels({2, 3}, 5), in({5, 4})}, [](Xs x) { return embedding(x[0], x[1]); });
  // Neural composites and losses.
  add("softmax", {in({3, 4}, -2, 2)}, [](Xs x) { return softmax(x[0]); });
  add("softmax_axis0", {in({3, 4}, -2, 2)}, [](Xs x) { return softmax(x[0], 0); });
  add("log_softmax", {in({3, 4}, -2, 2)}, [](Xs x) { return log_softmax(x[0]); });
  add("layer_norm", {in({2, 5})}, [](Xs x) { return layer_norm(x[0]); });
  add("mse", {in({4, 3}), in({4, 3})}, [](Xs x) { return mse(x[0], x[1]); });
  add("bce", {in({4}, 0.1, 0.9), in({4}, 0, 1)},
      [](Xs x) { return binary_cross_entropy(x[0], x[1]); });
  add("cross_entropy_labels", {in({4, 5}, -2, 2), labels({4}, 5)},
      [](Xs x) { return cross_entropy(x[0], x[1]); });
  add("cross_entropy_probs", {in({3, 4}, -2, 2), in({3, 4}, 0, 1)},
      [](Xs x) { return cross_entropy(x[0], softmax(x[1])); });
  add("cross_entropy_nd", {in({2, 3, 4}, -2, 2), labels({2, 4}, 3)},
      [](Xs x) { return cross_entropy(x[0], x[1]); });
  // Ops without a gradient of their own, inside differentiable cases (values away from their
  // steps): floor, the logical ops, a parameter and random numbers (fixed seed: constants in x).
  add("floor_steps", {vals({4}, {-0.9, -0.2, 0.4, 1.1})},
      [](Xs x) { return x[0] * floor(x[0] * 3.0); });
  add("logical_mask", {vals({4}, {-1, -0.3, 0.4, 2}), labels({4}, 4)},
      [](Xs x) { return where(!(x[0] > 1.0) || (x[1] != 2), x[0] * 2.0, x[0] * x[0]); });
  add("param_scale", {in({2, 3})}, [](Xs x) {
    return x[0] * param("scale", Array::from_f32({3}, std::vector<float>{0.5f, -1.f, 2.f}));
  });
  add("rand_scale", {in({2, 3})}, [](Xs x) { return x[0] * rand({2, 3}, 5); });
  add("dense_sigmoid_neuron", {in({5, 3}), in({3, 1}), in({1})},
      [](Xs x) { return sigmoid(matmul(x[0], x[1]) + x[2]); });
  return c;
}

}  // namespace op_cases_detail

inline std::vector<GradCase> op_cases() {
  return op_cases_detail::cases();
}

}  // namespace soma::testing
