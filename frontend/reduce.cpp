// Reductions: sum and max are primitives; mean, min, var, logsumexp and argmax are built on them.
#include <cmath>
#include <limits>

#include "frontend/tensor.h"
#include "frontend/tensor_util.h"

namespace soma {

using detail::build;

namespace {

std::vector<int64_t> all_axes_if_empty(const Tensor& x, std::vector<int64_t> axes) {
  if (axes.empty())
    for (int i = 0; i < x.rank(); ++i) axes.push_back(i);
  return axes;
}

int64_t count(const Tensor& x, const std::vector<int64_t>& axes) {
  int64_t n = 1;
  for (int64_t a : axes) {
    auto k = normalize_axis(a, x.rank());
    if (!k)
      SOMA_THROW(ValueError, "axis " << a << " is out of range for shape " << x.shape().str());
    n *= x.shape()[*k];
  }
  return n;
}

}  // namespace

Tensor sum(const Tensor& x, std::vector<int64_t> axes, bool keepdims) {
  return build(x, "sum",
               [&](Builder& b) { return b.reduce(Op::ReduceSum, x.id(), axes, keepdims); });
}

Tensor mean(const Tensor& x, std::vector<int64_t> axes, bool keepdims) {
  axes = all_axes_if_empty(x, axes);
  Tensor xf = is_float(x.dtype()) ? x : cast(x, DType::f32);
  return sum(xf, axes, keepdims) / static_cast<double>(count(x, axes));
}

Tensor max(const Tensor& x, std::vector<int64_t> axes, bool keepdims) {
  return build(x, "max",
               [&](Builder& b) { return b.reduce(Op::ReduceMax, x.id(), axes, keepdims); });
}

namespace {
// An order-reversing map: -x for floats; -1 - x (that is, ~x) for integers, where -x would wrap
// the most negative value onto itself.
Tensor reversed_order(const Tensor& x) {
  return is_float(x.dtype()) ? -x : -1.0 - x;
}
}  // namespace

Tensor min(const Tensor& x, std::vector<int64_t> axes, bool keepdims) {
  Tensor xs = x.dtype() == DType::boolean ? cast(x, DType::i32) : x;
  return reversed_order(max(reversed_order(xs), axes, keepdims));
}

Tensor var(const Tensor& x, std::vector<int64_t> axes, bool keepdims, int correction) {
  axes = all_axes_if_empty(x, axes);
  Tensor xf = is_float(x.dtype()) ? x : cast(x, DType::f32);
  Tensor d = xf - mean(xf, axes, true);
  double n = static_cast<double>(count(x, axes) - correction);
  return sum(d * d, axes, keepdims) / n;
}

// m + log(sum(exp(x - m))) with m the (gradient-free) max, and m replaced by 0 where it is
// infinite so that rows of all -inf give -inf rather than NaN.
Tensor logsumexp(const Tensor& x, std::vector<int64_t> axes, bool keepdims) {
  axes = all_axes_if_empty(x, axes);
  count(x, axes);  // validates the axes
  Tensor xf = is_float(x.dtype()) ? x : cast(x, DType::f32);
  Tensor m = stop_gradient(max(xf, axes, true));
  Tensor zero = detail::scalar_like(xf, 0, xf.dtype());
  m = where(abs(m) == std::numeric_limits<double>::infinity(), zero, m);
  Tensor r = log(sum(exp(xf - m), axes, true)) + m;
  if (keepdims) return r;
  std::vector<int64_t> dims;
  std::vector<bool> drop(static_cast<size_t>(x.rank()), false);
  for (int64_t a : axes) drop[static_cast<size_t>(*normalize_axis(a, x.rank()))] = true;
  for (int i = 0; i < x.rank(); ++i)
    if (!drop[static_cast<size_t>(i)]) dims.push_back(x.shape()[i]);
  return reshape(r, dims);
}

namespace {
Tensor arg_extreme(const Tensor& x0, std::optional<int64_t> axis, bool keepdims, bool is_max) {
  const char* what = is_max ? "argmax" : "argmin";
  Tensor x = x0;
  const bool flat = !axis;
  if (flat) {
    x = reshape(x0, {-1});
    axis = 0;
  }
  auto ax = normalize_axis(*axis, x.rank());
  if (!ax)
    SOMA_THROW(ValueError,
               what << ": axis " << *axis << " out of range for shape " << x.shape().str());
  int64_t n = x.shape()[*ax];
  if (n == 0)
    SOMA_THROW(ShapeError, what << ": axis " << *axis << " is empty in " << x.shape().str());
  if (x.dtype() == DType::boolean) x = cast(x, DType::i32);
  Tensor v = is_max ? x : reversed_order(x);
  Tensor m = max(v, {*ax}, true);
  // Positions holding the extreme (NaN counts as the extreme, as in numpy); the first one wins.
  Tensor hit = (v == m) || (v != v);
  Tensor idx = build(x, what, [&](Builder& b) {
    return b.iota(TensorType{DType::i32, x.shape()}, static_cast<int>(*ax));
  });
  Tensor cand = where(hit, idx, detail::scalar_like(x, static_cast<double>(n), DType::i32));
  Tensor r = min(cand, {*ax}, keepdims);
  if (flat && keepdims) r = reshape(r, std::vector<int64_t>(static_cast<size_t>(x0.rank()), 1));
  return r;
}
}  // namespace

Tensor argmax(const Tensor& x, std::optional<int64_t> axis, bool keepdims) {
  return arg_extreme(x, axis, keepdims, true);
}
Tensor argmin(const Tensor& x, std::optional<int64_t> axis, bool keepdims) {
  return arg_extreme(x, axis, keepdims, false);
}

}  // namespace soma
