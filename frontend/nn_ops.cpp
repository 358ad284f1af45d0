// Neural-network functions built from primitives: softmax family, convolution and pooling (a
// `window` view followed by a matmul or a reduction), dropout, one_hot, embedding, layer norm.
#include <cmath>
#include <limits>

#include "frontend/tensor.h"
#include "frontend/tensor_util.h"

namespace soma {

using detail::build;

namespace {
int64_t axis_of(const Tensor& x, int64_t axis, const char* what) {
  auto a = normalize_axis(axis, x.rank());
  if (!a)
    SOMA_THROW(ValueError,
               what << ": axis " << axis << " out of range for shape " << x.shape().str());
  return *a;
}
Tensor as_float(const Tensor& x) {
  return is_float(x.dtype()) ? x : cast(x, DType::f32);
}
}  // namespace

// exp(x - m) / sum(exp(x - m)), m the gradient-free row max.
Tensor softmax(const Tensor& x0, int64_t axis) {
  Tensor x = as_float(x0);
  int64_t a = axis_of(x, axis, "softmax");
  Tensor e = exp(x - stop_gradient(max(x, {a}, true)));
  return e / sum(e, {a}, true);
}

// (x - m) - log(sum(exp(x - m))), m the gradient-free max (0 where infinite, as in logsumexp):
// the shifted logits are exact, so large logits keep full precision, which
// x - logsumexp(x) would round away at the magnitude of the logits.
Tensor log_softmax(const Tensor& x0, int64_t axis) {
  Tensor x = as_float(x0);
  int64_t a = axis_of(x, axis, "log_softmax");
  Tensor m = stop_gradient(max(x, {a}, true));
  m = where(abs(m) == std::numeric_limits<double>::infinity(), detail::scalar_like(x, 0, x.dtype()),
            m);
  Tensor d = x - m;
  return d - log(sum(exp(d), {a}, true));
}

namespace {

void check_nchw(const Tensor& x, const char* what) {
  if (x.rank() != 4)
    SOMA_THROW(ShapeError, what << ": expects an NCHW input of rank 4, got " << x.shape().str());
}

// The (dilated) kernel must fit the padded spatial axes, the last two of x.
void check_kernel_fits(const char* what, const Tensor& x, std::pair<int64_t, int64_t> k,
                       std::pair<int64_t, int64_t> pad, std::pair<int64_t, int64_t> dilation,
                       const std::string& kernel_desc) {
  int64_t h = x.shape()[x.rank() - 2], w = x.shape()[x.rank() - 1];
  int64_t kh = dilation.first * (k.first - 1) + 1, kw = dilation.second * (k.second - 1) + 1;
  if (h + 2 * pad.first < kh || w + 2 * pad.second < kw)
    SOMA_THROW(ShapeError, what << ": the " << kh << "x" << kw << " window of " << kernel_desc
                                << " does not fit input " << x.shape().str() << " padded by "
                                << pad.first << "x" << pad.second);
}

}  // namespace

Tensor conv2d(const Tensor& x0, const Tensor& w0, std::optional<Tensor> bias,
              std::pair<int64_t, int64_t> stride, std::pair<int64_t, int64_t> padding,
              std::pair<int64_t, int64_t> dilation) {
  check_nchw(x0, "conv2d");
  if (w0.rank() != 4)
    SOMA_THROW(ShapeError, "conv2d: expects an OIHW weight of rank 4, got " << w0.shape().str());
  Tensor x = as_float(x0), w = as_float(w0);
  int64_t n = x.shape()[0], c = x.shape()[1], o = w.shape()[0], kh = w.shape()[2],
          kw = w.shape()[3];
  if (w.shape()[1] != c)
    SOMA_THROW(ShapeError, "conv2d: input " << x.shape().str() << " has " << c
                                            << " channels but weight " << w.shape().str()
                                            << " expects " << w.shape()[1]);
  check_kernel_fits("conv2d", x, {kh, kw}, padding, dilation,
                    "weight " + w.shape().str() + " (dilation " + std::to_string(dilation.first) +
                        "x" + std::to_string(dilation.second) + ")");
  // [N, C, H, W] -> [N, C, OH, OW, KH, KW]
  Tensor cols = build(x, "conv2d", [&](Builder& b) {
    return b.window(x.id(), {kh, kw}, {stride.first, stride.second},
                    {dilation.first, dilation.second}, {padding.first, padding.second},
                    {padding.first, padding.second}, 0.0);
  });
  int64_t oh = cols.shape()[2], ow = cols.shape()[3];
  // [O, C*KH*KW] @ [C*KH*KW, N*OH*OW] -> [O, N, OH, OW] -> [N, O, OH, OW]: one GEMM whose rows
  // are output channels, so every channel's image is contiguous (consumers read rows of pixels,
  // and the weight gradient is one GEMM over all N*OH*OW positions).
  Tensor b = reshape(transpose(cols, {1, 4, 5, 0, 2, 3}), {c * kh * kw, n * oh * ow});
  Tensor y = matmul(reshape(w, {o, c * kh * kw}), b);
  y = transpose(reshape(y, {o, n, oh, ow}), {1, 0, 2, 3});
  if (bias) {
    if (bias->rank() != 1 || bias->shape()[0] != o)
      SOMA_THROW(ShapeError,
                 "conv2d: bias must have shape [" << o << "], got " << bias->shape().str());
    y = y + reshape(*bias, {1, o, 1, 1});
  }
  return y;
}

Tensor conv2d(const Tensor& x, const Tensor& w, std::optional<Tensor> bias,
              std::pair<int64_t, int64_t> stride, std::string_view padding) {
  if (padding == "valid") return conv2d(x, w, bias, stride, std::pair<int64_t, int64_t>{0, 0});
  if (padding != "same")
    SOMA_THROW(ValueError, "conv2d: padding must be \"valid\", \"same\" or a number, got \""
                               << padding << "\"");
  if (stride.first != 1 || stride.second != 1)
    SOMA_THROW(ValueError, "conv2d: padding=\"same\" needs stride 1");
  if (w.rank() != 4)
    SOMA_THROW(ShapeError, "conv2d: expects an OIHW weight, got " << w.shape().str());
  int64_t kh = w.shape()[2], kw = w.shape()[3];
  if (kh % 2 == 1 && kw % 2 == 1)
    return conv2d(x, w, bias, stride, std::pair<int64_t, int64_t>{kh / 2, kw / 2});
  // Even kernels: the extra row/column of padding goes after, as in Keras/PyTorch.
  Tensor xp = pad(x, {{0, 0}, {0, 0}, {(kh - 1) / 2, kh / 2}, {(kw - 1) / 2, kw / 2}});
  return conv2d(xp, w, bias, stride, std::pair<int64_t, int64_t>{0, 0});
}

namespace {
Tensor pool(const Tensor& x0, std::pair<int64_t, int64_t> k, std::pair<int64_t, int64_t> s,
            std::pair<int64_t, int64_t> p, bool is_max) {
  const char* what = is_max ? "max_pool2d" : "avg_pool2d";
  if (x0.rank() != 4 && x0.rank() != 3)
    SOMA_THROW(ShapeError, what << ": expects an NCHW (or CHW) input, got " << x0.shape().str());
  if (s.first == 0) s = k;
  if (p.first * 2 > k.first || p.second * 2 > k.second)
    SOMA_THROW(ValueError, what << ": padding must be at most half the kernel size");
  Tensor x = is_max ? x0 : as_float(x0);
  check_kernel_fits(what, x, k, p, {1, 1},
                    "kernel " + std::to_string(k.first) + "x" + std::to_string(k.second));
  double pad_value = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
  if (is_max && !is_float(x.dtype())) pad_value = -2147483648.0;
  Tensor win = build(x, what, [&](Builder& b) {
    return b.window(x.id(), {k.first, k.second}, {s.first, s.second}, {1, 1}, {p.first, p.second},
                    {p.first, p.second}, pad_value);
  });
  int r = win.rank();
  if (is_max) return max(win, {r - 2, r - 1});
  return sum(win, {r - 2, r - 1}) / static_cast<double>(k.first * k.second);
}
}  // namespace

Tensor max_pool2d(const Tensor& x, std::pair<int64_t, int64_t> kernel,
                  std::pair<int64_t, int64_t> stride, std::pair<int64_t, int64_t> padding) {
  return pool(x, kernel, stride, padding, true);
}

Tensor avg_pool2d(const Tensor& x, std::pair<int64_t, int64_t> kernel,
                  std::pair<int64_t, int64_t> stride, std::pair<int64_t, int64_t> padding) {
  return pool(x, kernel, stride, padding, false);
}

Tensor dropout(const Tensor& x, double p, uint64_t seed, std::optional<Tensor> offset) {
  if (!(p >= 0 && p < 1)) SOMA_THROW(ValueError, "dropout: p must be in [0, 1), got " << p);
  if (p == 0) return x;
  ContextScope scope(detail::ctx_of(x, "dropout"));  // rand() builds into the current context
  Tensor keep = rand(x.shape(), seed, offset) >= p;
  Tensor xf = as_float(x);
  return where(keep, xf * (1.0 / (1.0 - p)), detail::scalar_like(xf, 0, xf.dtype()));
}

Tensor one_hot(const Tensor& labels, int64_t n) {
  if (is_float(labels.dtype()) || labels.dtype() == DType::boolean)
    SOMA_THROW(TypeError, "one_hot: labels must be integers, got " << labels.type().str());
  if (n <= 0) SOMA_THROW(ValueError, "one_hot: the number of classes must be positive, got " << n);
  std::vector<int64_t> dims = labels.shape().dims();
  dims.push_back(n);
  Tensor classes = build(labels, "one_hot", [&](Builder& b) {
    return b.iota(TensorType{DType::i32, Shape(dims)}, static_cast<int>(dims.size() - 1));
  });
  return cast(unsqueeze(labels, -1) == classes, DType::f32);
}

Tensor embedding(const Tensor& ids, const Tensor& table) {
  const auto& c = detail::ctx_of(ids, table, "embedding");
  return Tensor(c, c->builder().gather(table.id(), ids.id()));
}

Tensor layer_norm(const Tensor& x0, int normalized_rank, double eps) {
  if (normalized_rank < 1 || normalized_rank > x0.rank())
    SOMA_THROW(ValueError, "layer_norm: cannot normalize " << normalized_rank << " axes of "
                                                           << x0.shape().str());
  Tensor x = as_float(x0);
  std::vector<int64_t> axes;
  for (int i = x.rank() - normalized_rank; i < x.rank(); ++i) axes.push_back(i);
  Tensor d = x - mean(x, axes, true);
  return d * rsqrt(mean(d * d, axes, true) + eps);
}

}  // namespace soma
