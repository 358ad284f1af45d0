// soma's C++ tensor API: symbolic tensor expressions with numpy/PyTorch names and semantics.
//
//   auto x = soma::input("x", {64, 784});
//   auto w = soma::param("w", {784, 10}, "glorot_uniform", /*seed=*/1);
//   auto b = soma::param("b", {10}, "zeros");
//   auto y = soma::relu(soma::matmul(x, w) + b);
//   auto exe = soma::compile({y});
//   std::vector<soma::Array> out = exe.run({{"x", batch}});
//
// Every function adds primitive nodes to the tensors' Context (graph/ops.def); composites such as
// softmax or conv2d are written here in terms of primitives, in numerically stable forms.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "frontend/context.h"
#include "graph/error.h"
#include "runtime/array.h"

namespace soma {

class Tensor {
 public:
  Tensor() = default;
  Tensor(std::shared_ptr<Context> ctx, NodeId id)
      : ctx_(std::move(ctx)), ref_(ctx_ ? ctx_->track(id) : nullptr) {}

  bool defined() const { return ctx_ != nullptr; }
  // The tensor's node in its context's graph (Context::collect may renumber it).
  NodeId id() const { return ref_ ? ref_->id : -1; }
  Context& context() const;
  const std::shared_ptr<Context>& context_ptr() const { return ctx_; }
  const Node& node() const { return context().graph().node(id()); }  // valid until the next node
  // By value: building more nodes may move the graph's storage.
  TensorType type() const { return node().type; }
  DType dtype() const { return node().type.dtype; }
  Shape shape() const { return node().type.shape; }
  int rank() const { return shape().rank(); }
  int64_t numel() const { return shape().numel(); }

  Tensor T() const;  // reverses the axes, as numpy's x.T

 private:
  std::shared_ptr<Context> ctx_;
  std::shared_ptr<NodeRef> ref_;
};

// ---- creation -----------------------------------------------------------------------------

// A named placeholder fed at run time.
Tensor input(const std::string& name, const Shape& shape, DType dtype = DType::f32);
// A new trainable, persistent value, initialized in the context's ParamStore. init: zeros, ones,
// glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_normal, orthogonal, uniform
// (U[-0.05, 0.05]), normal (N(0, 0.05)). The name must be new to the context: declaring one that
// exists throws NameError (keeping the old values would ignore `init`; replacing them would
// change the tensors already built on it). reuse_param is the way to use an existing one.
Tensor param(const std::string& name, const Shape& shape,
             const std::string& init = "glorot_uniform", uint64_t seed = 0,
             DType dtype = DType::f32);
// A new parameter with an explicit initial value (same rule).
Tensor param(const std::string& name, const Array& value);
// The parameter `name` with its current values when the context has it (its dtype and shape must
// be these: TypeError or ShapeError otherwise), else a new one as param makes it.
Tensor reuse_param(const std::string& name, const Shape& shape,
                   const std::string& init = "glorot_uniform", uint64_t seed = 0,
                   DType dtype = DType::f32);
Tensor constant(const Array& value);
Tensor constant(const std::vector<double>& values, const Shape& shape, DType dtype = DType::f32);
Tensor scalar(double value, DType dtype = DType::f32);
Tensor zeros(const Shape& shape, DType dtype = DType::f32);
Tensor ones(const Shape& shape, DType dtype = DType::f32);
Tensor full(const Shape& shape, double value, DType dtype = DType::f32);
// numpy arange: i32 when start, stop and step are integers, else f32.
Tensor arange(double start, double stop, double step = 1.0);
Tensor arange(double stop);
// x[start:start+n] along axis 0, with `start` bound when the program runs rather than compiled
// in: a loop over mini-batches (start = i * n) compiles once. A gather of rows, so its gradient
// is a scatter_add. Needs 0 <= start and start + n <= x.shape[0].
Tensor dynamic_rows(const Tensor& x, int64_t start, int64_t n);
// U[0, 1) and N(0, 1) from soma's counter-based generator (same stream on every backend).
// `offset` (an i32 scalar tensor, e.g. a step counter) selects another stream for the same seed.
Tensor rand(const Shape& shape, uint64_t seed = 0, std::optional<Tensor> offset = std::nullopt);
Tensor randn(const Shape& shape, uint64_t seed = 0, std::optional<Tensor> offset = std::nullopt);

// ---- elementwise --------------------------------------------------------------------------

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, double b);
Tensor operator<=(const Tensor& a, double b);
Tensor operator>(const Tensor& a, double b);
Tensor operator>=(const Tensor& a, double b);
Tensor operator==(const Tensor& a, double b);
Tensor operator!=(const Tensor& a, double b);
Tensor operator&&(const Tensor& a, const Tensor& b);
Tensor operator||(const Tensor& a, const Tensor& b);
Tensor operator!(const Tensor& a);

Tensor pow(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, double b);
Tensor pow(double a, const Tensor& b);
// neg, abs, sign, floor, exp, expm1, log, log1p, sqrt, rsqrt, sin, cos, tanh, sigmoid, erf: one
// function per OP_FN row of graph/ops.def.
#define OP(name, mnemonic, arity, traits)
#define OP_FN(name, function, traits, help) Tensor function(const Tensor& x);
#include "graph/ops.def"
#undef OP_FN
#undef OP
Tensor square(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double alpha = 0.01);
Tensor elu(const Tensor& x, double alpha = 1.0);
Tensor gelu(const Tensor& x, bool tanh_approximation = false);
Tensor softplus(const Tensor& x);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor clip(const Tensor& x, double lo, double hi);
Tensor cast(const Tensor& x, DType dtype);
Tensor stop_gradient(const Tensor& x);

// ---- reductions (axes: empty = all; negative axes count from the end) ----------------------

Tensor sum(const Tensor& x, std::vector<int64_t> axes = {}, bool keepdims = false);
Tensor mean(const Tensor& x, std::vector<int64_t> axes = {}, bool keepdims = false);
Tensor max(const Tensor& x, std::vector<int64_t> axes = {}, bool keepdims = false);
Tensor min(const Tensor& x, std::vector<int64_t> axes = {}, bool keepdims = false);
// Biased (correction 0) or unbiased (correction 1) variance.
Tensor var(const Tensor& x, std::vector<int64_t> axes = {}, bool keepdims = false,
           int correction = 0);
Tensor logsumexp(const Tensor& x, std::vector<int64_t> axes = {}, bool keepdims = false);
// Index of the first maximum (minimum) along `axis` (all elements, flattened, when nullopt); i32.
Tensor argmax(const Tensor& x, std::optional<int64_t> axis = std::nullopt, bool keepdims = false);
Tensor argmin(const Tensor& x, std::optional<int64_t> axis = std::nullopt, bool keepdims = false);

// ---- linear algebra and shape -------------------------------------------------------------

Tensor matmul(const Tensor& a, const Tensor& b);
// perm empty: reverse the axes.
Tensor transpose(const Tensor& x, std::vector<int64_t> perm = {});
// One -1 may stand for the remaining size.
Tensor reshape(const Tensor& x, std::vector<int64_t> shape);
Tensor flatten(const Tensor& x, int64_t start = 1, int64_t end = -1);
Tensor broadcast_to(const Tensor& x, const Shape& shape);
Tensor concat(const std::vector<Tensor>& xs, int64_t axis = 0);
Tensor stack(const std::vector<Tensor>& xs, int64_t axis = 0);
// numpy pad: one (before, after) pair per axis, or a single pair for all axes.
Tensor pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& widths,
           double value = 0.0);
Tensor unsqueeze(const Tensor& x, int64_t axis);
// Removes the given size-1 axis, or every size-1 axis when nullopt.
Tensor squeeze(const Tensor& x, std::optional<int64_t> axis = std::nullopt);
Tensor flip(const Tensor& x, std::vector<int64_t> axes);

// Basic indexing, numpy style: x[0], x[:, 1:3], x[..., -1], x[::-1], x[None].
struct Slice {
  std::optional<int64_t> start, stop, step;
};
struct Ellipsis {};
struct NewAxis {};
using Index = std::variant<int64_t, Slice, Ellipsis, NewAxis>;
Tensor index(const Tensor& x, const std::vector<Index>& items);

// ---- neural -------------------------------------------------------------------------------

Tensor softmax(const Tensor& x, int64_t axis = -1);
Tensor log_softmax(const Tensor& x, int64_t axis = -1);
// NCHW input, OIHW weight, optional bias [O]. padding: symmetric pixels per side.
Tensor conv2d(const Tensor& x, const Tensor& w, std::optional<Tensor> bias = std::nullopt,
              std::pair<int64_t, int64_t> stride = {1, 1},
              std::pair<int64_t, int64_t> padding = {0, 0},
              std::pair<int64_t, int64_t> dilation = {1, 1});
// padding "same" (stride 1 only) or "valid".
Tensor conv2d(const Tensor& x, const Tensor& w, std::optional<Tensor> bias,
              std::pair<int64_t, int64_t> stride, std::string_view padding);
// stride 0: the kernel size. avg_pool2d counts padding in the divisor, like PyTorch's default.
Tensor max_pool2d(const Tensor& x, std::pair<int64_t, int64_t> kernel,
                  std::pair<int64_t, int64_t> stride = {0, 0},
                  std::pair<int64_t, int64_t> padding = {0, 0});
Tensor avg_pool2d(const Tensor& x, std::pair<int64_t, int64_t> kernel,
                  std::pair<int64_t, int64_t> stride = {0, 0},
                  std::pair<int64_t, int64_t> padding = {0, 0});
// Inverted dropout: keeps each element with probability 1 - p and scales it by 1 / (1 - p).
Tensor dropout(const Tensor& x, double p, uint64_t seed = 0,
               std::optional<Tensor> offset = std::nullopt);
// f32 one-hot vectors along a new last axis; labels outside [0, n) give all zeros.
Tensor one_hot(const Tensor& labels, int64_t n);
Tensor embedding(const Tensor& ids, const Tensor& table);
// Normalizes over the last axes of `normalized_rank` (mean 0, variance 1), no affine part.
Tensor layer_norm(const Tensor& x, int normalized_rank = 1, double eps = 1e-5);

// ---- losses (mean over the batch, as PyTorch's default reduction) ----------------------------

Tensor mse(const Tensor& pred, const Tensor& target);
// p are probabilities; logs are clamped at -100 as in PyTorch. The gradient is finite where p
// is 0 or 1 (sigmoid(20) is 1.0 in f32): it is zero where a probability is below the smallest
// normal number.
Tensor binary_cross_entropy(const Tensor& p, const Tensor& target);
// logits [N, C] (or [C], or [N, C, d...]); target: integer class indices [N] (or [N, d...]), or
// class probabilities with the logits' shape.
Tensor cross_entropy(const Tensor& logits, const Tensor& target);

// ---- autodiff (reverse mode, graph to graph; see passes/grad.h for the conventions) ----------

// d y / d xs for a y with one element. Gradients are tensors, so they can be differentiated again.
std::vector<Tensor> grad(const Tensor& y, const std::vector<Tensor>& xs);
Tensor grad(const Tensor& y, const Tensor& x);
// Vector-Jacobian products d(sum(v * y)) / d xs, with v of y's shape.
std::vector<Tensor> vjp(const Tensor& y, const std::vector<Tensor>& xs, const Tensor& v);
Tensor vjp(const Tensor& y, const Tensor& x, const Tensor& v);

}  // namespace soma
