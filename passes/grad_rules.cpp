// One VJP rule per primitive op (in the spirit of tinygrad's gradient.py). Each rule builds the
// cotangents of its inputs from the output cotangent `g` with ordinary graph nodes.
#include <array>
#include <cmath>

#include "graph/error.h"
#include "passes/grad_rules.h"

namespace soma::grad_detail {

namespace {

using C = VjpContext;

NodeId mul(C& c, NodeId a, NodeId b) {
  return c.b.mul(a, b);
}
NodeId scal(C& c, double v, NodeId like) {
  return c.b.scalar(v, c.b.dtype(like));
}

// ---- elementwise unary ----
void neg(C& c) {
  c.emit(0, c.b.neg(c.g));
}
void abs_(C& c) {
  c.emit(0, mul(c, c.g, c.b.unary(Op::Sign, c.in(0))));
}
void exp_(C& c) {
  c.emit(0, mul(c, c.g, c.out));
}
void expm1_(C& c) {
  c.emit(0, mul(c, c.g, c.b.binary_scalar(Op::Add, c.out, 1.0)));
}
void log_(C& c) {
  c.emit(0, c.b.div(c.g, c.in(0)));
}
void log1p_(C& c) {
  c.emit(0, c.b.div(c.g, c.b.binary_scalar(Op::Add, c.in(0), 1.0)));
}
void sqrt_(C& c) {
  c.emit(0, c.b.div(c.g, c.b.binary_scalar(Op::Mul, c.out, 2.0)));
}
void rsqrt_(C& c) {  // d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 out^3
  NodeId o3 = mul(c, mul(c, c.out, c.out), c.out);
  c.emit(0, mul(c, c.g, c.b.binary_scalar(Op::Mul, o3, -0.5)));
}
void sin_(C& c) {
  c.emit(0, mul(c, c.g, c.b.unary(Op::Cos, c.in(0))));
}
void cos_(C& c) {
  c.emit(0, c.b.neg(mul(c, c.g, c.b.unary(Op::Sin, c.in(0)))));
}
void tanh_(C& c) {
  NodeId one_minus = c.b.scalar_binary(Op::Sub, 1.0, mul(c, c.out, c.out));
  c.emit(0, mul(c, c.g, one_minus));
}
void sigmoid_(C& c) {
  NodeId d = mul(c, c.out, c.b.scalar_binary(Op::Sub, 1.0, c.out));
  c.emit(0, mul(c, c.g, d));
}
void erf_(C& c) {
  NodeId x = c.in(0);
  NodeId e = c.b.unary(Op::Exp, c.b.neg(mul(c, x, x)));
  c.emit(0, mul(c, c.g, c.b.binary_scalar(Op::Mul, e, 2.0 / std::sqrt(M_PI))));
}
void cast_(C& c) {
  c.emit(0, c.b.cast(c.g, c.b.dtype(c.in(0))));
}

// ---- elementwise binary ----
void add(C& c) {
  c.emit(0, c.g);
  c.emit(1, c.g);
}
void sub(C& c) {
  c.emit(0, c.g);
  c.emit(1, c.b.neg(c.g));
}
void mul_(C& c) {
  c.emit(0, mul(c, c.g, c.in(1)));
  c.emit(1, mul(c, c.g, c.in(0)));
}
void div_(C& c) {
  c.emit(0, c.b.div(c.g, c.in(1)));
  if (c.wants(1)) c.emit(1, c.b.neg(c.b.div(mul(c, c.g, c.out), c.in(1))));
}
void pow_(C& c) {
  NodeId x = c.in(0), y = c.in(1);
  if (c.wants(0)) {  // y * x^(y-1), and 0 where y == 0
    NodeId d = mul(c, y, c.b.binary(Op::Pow, x, c.b.binary_scalar(Op::Sub, y, 1.0)));
    NodeId zero = scal(c, 0, x);
    c.emit(0, mul(c, c.g, c.b.select(c.b.binary_scalar(Op::Eq, y, 0.0), zero, d)));
  }
  if (c.wants(1)) {  // out * log(x), and 0 where x == 0 and y >= 0
    NodeId d = mul(c, c.out, c.b.unary(Op::Log, x));
    NodeId cond =
        c.b.binary(Op::And, c.b.binary_scalar(Op::Eq, x, 0.0), c.b.binary_scalar(Op::Ge, y, 0.0));
    c.emit(1, mul(c, c.g, c.b.select(cond, scal(c, 0, x), d)));
  }
}
// Gradient share of the first input of max/min: 1 where it wins, 1/2 on ties, 0 where it loses.
NodeId extreme_share(C& c, NodeId a, NodeId b, Op wins) {
  NodeId half = scal(c, 0.5, a), one = scal(c, 1, a), zero = scal(c, 0, a);
  return c.b.select(c.b.binary(wins, a, b), one, c.b.select(c.b.binary(Op::Eq, a, b), half, zero));
}
void max_(C& c) {
  c.emit(0, mul(c, c.g, extreme_share(c, c.in(0), c.in(1), Op::Gt)));
  c.emit(1, mul(c, c.g, extreme_share(c, c.in(1), c.in(0), Op::Gt)));
}
void min_(C& c) {
  c.emit(0, mul(c, c.g, extreme_share(c, c.in(0), c.in(1), Op::Lt)));
  c.emit(1, mul(c, c.g, extreme_share(c, c.in(1), c.in(0), Op::Lt)));
}
void select_(C& c) {
  NodeId zero = scal(c, 0, c.g);
  c.emit(1, c.b.select(c.in(0), c.g, zero));
  c.emit(2, c.b.select(c.in(0), zero, c.g));
}

// ---- reductions ----
void reduce_sum(C& c) {
  c.emit(0, c.b.broadcast_to(c.g, c.b.shape(c.in(0))));
}
void reduce_max(C& c) {
  const Shape& s = c.b.shape(c.in(0));
  NodeId hit = c.b.cast(c.b.binary(Op::Eq, c.in(0), c.b.broadcast_to(c.out, s)), c.b.dtype(c.g));
  NodeId count = c.b.add_node(Op::ReduceSum, {hit}, c.node.attrs);
  NodeId share = c.b.div(c.g, count);
  c.emit(0, mul(c, c.b.broadcast_to(share, s), hit));
}

// ---- movement ----
void reshape_(C& c) {
  c.emit(0, c.b.reshape(c.g, c.b.shape(c.in(0))));
}
void broadcast_(C& c) {
  c.emit(0, c.b.sum_to(c.g, c.b.shape(c.in(0))));
}
void permute_(C& c) {
  const auto& perm = c.node.attrs.get_ints("perm");
  std::vector<int64_t> inv(perm.size());
  for (size_t i = 0; i < perm.size(); ++i)
    inv[static_cast<size_t>(perm[i])] = static_cast<int64_t>(i);
  c.emit(0, c.b.permute(c.g, inv));
}
void slice_(C& c) {
  const auto& start = c.node.attrs.get_ints("start");
  const auto& step = c.node.attrs.get_ints("step");
  const Shape& in = c.b.shape(c.in(0));
  const Shape& out = c.b.shape(c.out);
  std::vector<int64_t> lo, hi, interior;
  for (int i = 0; i < in.rank(); ++i) {
    size_t k = static_cast<size_t>(i);
    int64_t used = out[i] > 0 ? (out[i] - 1) * step[k] + 1 : 0;
    lo.push_back(start[k]);
    hi.push_back(in[i] - start[k] - used);
    interior.push_back(out[i] > 0 ? step[k] - 1 : 0);
  }
  c.emit(0, c.b.pad(c.g, lo, hi, interior, 0.0));
}
void pad_(C& c) {
  const auto& lo = c.node.attrs.get_ints("lo");
  const auto& interior = c.node.attrs.get_ints("interior");
  const Shape& in = c.b.shape(c.in(0));
  std::vector<int64_t> start, stop, step;
  for (int i = 0; i < in.rank(); ++i) {
    size_t k = static_cast<size_t>(i);
    start.push_back(lo[k]);
    stop.push_back(in[i] > 0 ? lo[k] + (in[i] - 1) * (interior[k] + 1) + 1 : lo[k]);
    step.push_back(interior[k] + 1);
  }
  c.emit(0, c.b.slice(c.g, start, stop, step));
}
void concat_(C& c) {
  int64_t axis = c.node.attrs.get_int("axis");
  const Shape& out = c.b.shape(c.out);
  int64_t offset = 0;
  for (size_t i = 0; i < c.node.inputs.size(); ++i) {
    int64_t len = c.b.shape(c.node.inputs[i])[static_cast<int>(axis)];
    if (c.wants(static_cast<int>(i))) {
      std::vector<int64_t> start(static_cast<size_t>(out.rank()), 0), stop = out.dims(),
                                                                      step(start.size(), 1);
      start[static_cast<size_t>(axis)] = offset;
      stop[static_cast<size_t>(axis)] = offset + len;
      c.emit(static_cast<int>(i), c.b.slice(c.g, start, stop, step));
    }
    offset += len;
  }
}
void flip_(C& c) {
  c.emit(0, c.b.flip(c.g, c.node.attrs.get_ints("axes")));
}

// ---- contraction, windows, indexing ----
void matmul_(C& c) {
  if (c.wants(0)) c.emit(0, c.b.add_node(Op::MatMul, {c.g, c.b.transpose_last2(c.in(1))}));
  if (c.wants(1)) c.emit(1, c.b.add_node(Op::MatMul, {c.b.transpose_last2(c.in(0)), c.g}));
}
void window_(C& c) {
  c.emit(0, c.b.unwindow(c.g, c.b.type(c.in(0)), c.node.attrs));
}
void unwindow_(C& c) {
  Attrs a = c.node.attrs;
  a.set("value", 0.0);
  c.emit(0, c.b.add_node(Op::Window, {c.g}, a));
}
void gather_(C& c) {
  c.emit(0, c.b.scatter_add(c.in(1), c.g, c.b.type(c.in(0))));
}
void scatter_add_(C& c) {
  c.emit(1, c.b.add_node(Op::Gather, {c.g, c.in(0)}));
}

std::array<GradEntry, kNumOps> make_table() {
  std::array<GradEntry, kNumOps> t{};
  auto rule = [&](Op op, VjpRule r) { t[static_cast<size_t>(op)] = {GradKind::Rule, r}; };
  auto zero = [&](Op op) { t[static_cast<size_t>(op)] = {GradKind::ZeroGradient, nullptr}; };
  auto none = [&](Op op) { t[static_cast<size_t>(op)] = {GradKind::NotDifferentiable, nullptr}; };
  for (Op op : {Op::Input, Op::Param, Op::Const, Op::Iota, Op::RandUniform}) none(op);
  for (Op op : {Op::Not, Op::Lt, Op::Le, Op::Gt, Op::Ge, Op::Eq, Op::Ne, Op::And, Op::Or}) none(op);
  for (Op op : {Op::Sign, Op::Floor, Op::StopGradient}) zero(op);
  rule(Op::Neg, neg);
  rule(Op::Abs, abs_);
  rule(Op::Exp, exp_);
  rule(Op::Expm1, expm1_);
  rule(Op::Log, log_);
  rule(Op::Log1p, log1p_);
  rule(Op::Sqrt, sqrt_);
  rule(Op::Rsqrt, rsqrt_);
  rule(Op::Sin, sin_);
  rule(Op::Cos, cos_);
  rule(Op::Tanh, tanh_);
  rule(Op::Sigmoid, sigmoid_);
  rule(Op::Erf, erf_);
  rule(Op::Cast, cast_);
  rule(Op::Add, add);
  rule(Op::Sub, sub);
  rule(Op::Mul, mul_);
  rule(Op::Div, div_);
  rule(Op::Pow, pow_);
  rule(Op::Max, max_);
  rule(Op::Min, min_);
  rule(Op::Select, select_);
  rule(Op::ReduceSum, reduce_sum);
  rule(Op::ReduceMax, reduce_max);
  rule(Op::Reshape, reshape_);
  rule(Op::Broadcast, broadcast_);
  rule(Op::Permute, permute_);
  rule(Op::Slice, slice_);
  rule(Op::Pad, pad_);
  rule(Op::Concat, concat_);
  rule(Op::Flip, flip_);
  rule(Op::MatMul, matmul_);
  rule(Op::Window, window_);
  rule(Op::Unwindow, unwindow_);
  rule(Op::Gather, gather_);
  rule(Op::ScatterAdd, scatter_add_);
  return t;
}

}  // namespace

const GradEntry& grad_entry(Op op) {
  static const std::array<GradEntry, kNumOps> table = make_table();
  return table[static_cast<size_t>(op)];
}

}  // namespace soma::grad_detail
