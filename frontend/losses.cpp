// Losses with PyTorch's default mean reduction.
#include <cmath>
#include <limits>

#include "frontend/tensor.h"
#include "frontend/tensor_util.h"

namespace soma {

Tensor mse(const Tensor& pred, const Tensor& target) {
  Tensor d = pred - target;
  return mean(d * d);
}

Tensor binary_cross_entropy(const Tensor& p0, const Tensor& t0) {
  Tensor p = is_float(p0.dtype()) ? p0 : cast(p0, DType::f32);
  Tensor t = cast(t0, p.dtype());
  // Each log is PyTorch's, clamped at -100. Its gradient must stay finite where a probability is
  // 0 or tiny (p = sigmoid(20) is 1.0 in f32, so 1 - p is 0): the slope 1/q there is inf, and
  // 0 * inf = NaN even where the term has weight 0. So below the smallest normal number (whose
  // reciprocal is finite) the log's value is kept and its gradient is zero.
  const double least = p.dtype() == DType::f32
                           ? static_cast<double>(std::numeric_limits<float>::min())
                           : std::numeric_limits<double>::min();
  Tensor low = detail::scalar_like(p, least, p.dtype());
  Tensor floor_ = detail::scalar_like(p, -100.0, p.dtype());
  auto clamped_log = [&](const Tensor& q) {
    Tensor smooth = maximum(log(maximum(q, low)), floor_);
    return where(q >= low, smooth, stop_gradient(maximum(log(q), floor_)));
  };
  return -mean(t * clamped_log(p) + (1.0 - t) * clamped_log(1.0 - p));
}

Tensor cross_entropy(const Tensor& logits0, const Tensor& target) {
  Tensor logits = is_float(logits0.dtype()) ? logits0 : cast(logits0, DType::f32);
  if (logits.rank() < 1)
    SOMA_THROW(ShapeError,
               "cross_entropy: logits must have a class axis, got " << logits.shape().str());
  int64_t class_axis = logits.rank() == 1 ? 0 : 1;
  Tensor logp = log_softmax(logits, class_axis);
  if (is_float(target.dtype())) {
    if (target.shape() != logits.shape())
      SOMA_THROW(ShapeError, "cross_entropy: class-probability targets must have the logits' shape "
                                 << logits.shape().str() << ", got " << target.shape().str());
    Tensor per = -sum(cast(target, logp.dtype()) * logp, {class_axis});
    return mean(per);
  }
  // Integer class indices: the logits' shape without the class axis.
  std::vector<int64_t> expect = logits.shape().dims();
  int64_t classes = expect[static_cast<size_t>(class_axis)];
  expect.erase(expect.begin() + class_axis);
  if (target.shape().dims() != expect)
    SOMA_THROW(ShapeError, "cross_entropy: logits "
                               << logits.shape().str() << " need integer labels of shape "
                               << Shape(expect).str() << ", got " << target.type().str());
  Tensor oh = one_hot(target, classes);  // class axis last
  if (class_axis != logits.rank() - 1) {
    // one_hot put the class axis last: move it to class_axis.
    std::vector<int64_t> perm;
    for (int i = 0; i < logits.rank() - 1; ++i) perm.push_back(i);
    perm.insert(perm.begin() + class_axis, logits.rank() - 1);
    oh = transpose(oh, perm);
  }
  // Select rather than multiply, so that a -inf log-probability of another class gives 0, not
  // 0 * -inf = NaN (PyTorch picks the label's entry too).
  Tensor picked = where(oh == 1.0, logp, detail::scalar_like(logp, 0, logp.dtype()));
  return mean(-sum(picked, {class_axis}));
}

}  // namespace soma
