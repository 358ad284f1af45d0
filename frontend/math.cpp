// Elementwise math: primitives and their stable composites.
#include <cmath>

#include "frontend/tensor.h"
#include "frontend/tensor_util.h"

namespace soma {

using detail::build;

namespace {
Tensor unary(Op op, const Tensor& x) {
  return build(x, op_name(op), [&](Builder& b) { return b.unary(op, x.id()); });
}
Tensor binary(Op op, const Tensor& a, const Tensor& c) {
  const auto& ctx = detail::ctx_of(a, c, op_name(op));
  return Tensor(ctx, ctx->builder().binary(op, a.id(), c.id()));
}
}  // namespace

Tensor pow(const Tensor& a, const Tensor& b) {
  return binary(Op::Pow, a, b);
}
Tensor pow(const Tensor& a, double b) {
  return build(a, "pow", [&](Builder& bb) { return bb.binary_scalar(Op::Pow, a.id(), b); });
}
Tensor pow(double a, const Tensor& b) {
  return build(b, "pow", [&](Builder& bb) { return bb.scalar_binary(Op::Pow, a, b.id()); });
}
// The OP_FN rows of graph/ops.def.
#define OP(name, mnemonic, arity, traits)
#define OP_FN(name, function, traits, help) \
  Tensor function(const Tensor& x) {        \
    return unary(Op::name, x);              \
  }
#include "graph/ops.def"
#undef OP_FN
#undef OP
Tensor stop_gradient(const Tensor& x) {
  return unary(Op::StopGradient, x);
}
Tensor square(const Tensor& x) {
  return x * x;
}
Tensor maximum(const Tensor& a, const Tensor& b) {
  return binary(Op::Max, a, b);
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return binary(Op::Min, a, b);
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  const auto& c = detail::ctx_of(cond, a, "where");
  detail::ctx_of(a, b, "where");
  return Tensor(c, c->builder().select(cond.id(), a.id(), b.id()));
}

Tensor cast(const Tensor& x, DType dtype) {
  return build(x, "cast", [&](Builder& b) { return b.cast(x.id(), dtype); });
}

namespace {
// A scalar constant of x's (float) dtype in x's context.
Tensor like(const Tensor& x, double v) {
  DType t = is_float(x.dtype()) ? x.dtype() : DType::f32;
  return build(x, "constant", [&](Builder& b) { return b.scalar(v, t); });
}
}  // namespace

// relu(x) = x where x > 0, else 0: relu'(0) = 0 as in PyTorch, and NaN propagates.
Tensor relu(const Tensor& x) {
  Tensor zero = build(x, "relu", [&](Builder& b) { return b.scalar(0, x.dtype()); });
  return where(x <= 0.0, zero, x);
}

Tensor leaky_relu(const Tensor& x, double alpha) {
  return where(x > 0.0, x, x * alpha);
}

// The negative branch sees min(x, 0) so that its gradient is never inf * 0 for large x.
Tensor elu(const Tensor& x, double alpha) {
  return where(x > 0.0, x, expm1(minimum(x, like(x, 0))) * alpha);
}

Tensor gelu(const Tensor& x, bool tanh_approximation) {
  if (tanh_approximation) {
    const double k = std::sqrt(2.0 / M_PI);
    return 0.5 * x * (1.0 + tanh(k * (x + 0.044715 * x * x * x)));
  }
  return 0.5 * x * (1.0 + erf(x * M_SQRT1_2));
}

// log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): no overflow for large |x|.
Tensor softplus(const Tensor& x) {
  return maximum(x, like(x, 0)) + log1p(exp(-abs(x)));
}

// Bounds pass the gradient to x (torch.clamp's convention), and NaN propagates.
Tensor clip(const Tensor& x, double lo, double hi) {
  if (lo > hi) SOMA_THROW(ValueError, "clip: lo (" << lo << ") must not exceed hi (" << hi << ")");
  Tensor l = like(x, lo), h = like(x, hi);
  if (!is_float(x.dtype())) {
    l = cast(l, x.dtype());
    h = cast(h, x.dtype());
  }
  return where(x < l, l, where(x > h, h, x));
}

}  // namespace soma
