#include "graph/builder.h"

#include <algorithm>
#include <cmath>

#include "graph/error.h"

namespace soma {

NodeId Builder::input(const std::string& name, const TensorType& t) {
  return add_node(Op::Input, {}, Attrs{{"name", name}}, t);
}

NodeId Builder::param(const std::string& name, const TensorType& t) {
  return add_node(Op::Param, {}, Attrs{{"name", name}}, t);
}

NodeId Builder::constant(std::vector<double> values, const TensorType& t) {
  return add_node(Op::Const, {}, Attrs{{"value", std::move(values)}}, t);
}

NodeId Builder::runtime_scalar(double value, DType t) {
  return add_node(Op::Const, {},
                  Attrs{{"value", std::vector<double>{value}}, {"runtime", int64_t{1}}},
                  TensorType{t, Shape{}});
}

NodeId Builder::iota(const TensorType& t, int axis) {
  return add_node(Op::Iota, {}, Attrs{{"axis", int64_t{axis}}}, t);
}

NodeId Builder::rand_uniform(const TensorType& t, int64_t seed, NodeId offset) {
  if (offset < 0) offset = scalar(0, DType::i32);
  return add_node(Op::RandUniform, {offset}, Attrs{{"seed", seed}}, t);
}

NodeId Builder::cast(NodeId x, DType to) {
  if (dtype(x) == to) return x;
  return add_node(Op::Cast, {x}, {}, TensorType{to, shape(x)});
}

NodeId Builder::unary(Op op, NodeId x) {
  // Float-only math on integers promotes to f32, as numpy/PyTorch do for exp(int); arithmetic
  // on bools counts them (neg, abs, sign of an i32).
  if (has_trait(op, Float) && !is_float(dtype(x)))
    x = cast(x, DType::f32);
  else if (dtype(x) == DType::boolean && !has_trait(op, Logic) && op != Op::StopGradient)
    x = cast(x, DType::i32);
  return add_node(op, {x});
}

namespace {
// Whether a weak scalar keeps an integer tensor's dtype: finite and integral (NaN and +-inf
// promote to f32; checked without converting them to an integer, which is undefined behaviour).
bool is_integral(double s) {
  return std::isfinite(s) && std::trunc(s) == s;
}
}  // namespace

NodeId Builder::binary(Op op, NodeId a, NodeId b) {
  auto bs = broadcast_shapes(shape(a), shape(b));
  if (!bs)
    SOMA_THROW(ShapeError, op_name(op) << ": shapes " << shape(a).str() << " and " << shape(b).str()
                                       << " cannot be broadcast together (numpy rule: aligned from "
                                          "the right, sizes must be equal or 1)");
  DType t = promote(dtype(a), dtype(b));
  if (has_trait(op, Logic)) {
    if (t != DType::boolean)
      SOMA_THROW(TypeError, op_name(op) << ": logical ops need bool inputs, got " << type(a).str()
                                        << " and " << type(b).str());
  } else if (!is_comparison(op)) {
    if (has_trait(op, Float) && !is_float(t)) t = DType::f32;
    if (t == DType::boolean) t = DType::i32;  // arithmetic on bools counts them, as in numpy
  }
  a = broadcast_to(cast(a, t), *bs);
  b = broadcast_to(cast(b, t), *bs);
  return add_node(op, {a, b});
}

NodeId Builder::binary_scalar(Op op, NodeId x, double s) {
  DType t = dtype(x);
  if (!is_float(t) && (!is_integral(s) || has_trait(op, Float))) t = DType::f32;
  if (t == DType::boolean && !has_trait(op, Logic)) t = DType::i32;
  return binary(op, cast(x, t), scalar(s, t));
}

NodeId Builder::scalar_binary(Op op, double s, NodeId x) {
  DType t = dtype(x);
  if (!is_float(t) && (!is_integral(s) || has_trait(op, Float))) t = DType::f32;
  if (t == DType::boolean && !has_trait(op, Logic)) t = DType::i32;
  return binary(op, scalar(s, t), cast(x, t));
}

NodeId Builder::select(NodeId cond, NodeId a, NodeId b) {
  if (dtype(cond) != DType::boolean)
    SOMA_THROW(TypeError, "where: the condition must be bool, got " << type(cond).str());
  auto s1 = broadcast_shapes(shape(a), shape(b));
  auto s = s1 ? broadcast_shapes(shape(cond), *s1) : std::nullopt;
  if (!s)
    SOMA_THROW(ShapeError, "where: shapes " << shape(cond).str() << ", " << shape(a).str()
                                            << " and " << shape(b).str()
                                            << " cannot be broadcast together");
  DType t = promote(dtype(a), dtype(b));
  return add_node(Op::Select, {broadcast_to(cond, *s), broadcast_to(cast(a, t), *s),
                               broadcast_to(cast(b, t), *s)});
}

std::vector<int64_t> Builder::norm_axes(NodeId x, std::vector<int64_t> axes,
                                        const char* what) const {
  int r = shape(x).rank();
  for (int64_t& a : axes) {
    auto n = normalize_axis(a, r);
    if (!n)
      SOMA_THROW(ValueError, what << ": axis " << a << " is out of range for a tensor of shape "
                                  << shape(x).str());
    a = *n;
  }
  std::vector<int64_t> sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
    SOMA_THROW(ValueError, what << ": repeated axis");
  return axes;
}

NodeId Builder::reduce(Op op, NodeId x, std::vector<int64_t> axes, bool keepdims) {
  int r = shape(x).rank();
  if (axes.empty())
    for (int i = 0; i < r; ++i) axes.push_back(i);
  axes = norm_axes(x, axes, op_name(op));
  std::sort(axes.begin(), axes.end());
  if (dtype(x) == DType::boolean) x = cast(x, DType::i32);
  NodeId y = add_node(op, {x}, Attrs{{"axes", axes}});
  if (keepdims) return y;
  std::vector<int64_t> dims;
  for (int i = 0; i < r; ++i)
    if (!std::binary_search(axes.begin(), axes.end(), i)) dims.push_back(shape(x)[i]);
  return reshape(y, Shape(dims));
}

NodeId Builder::reshape(NodeId x, const Shape& s_ref) {
  const Shape s = s_ref;
  if (shape(x) == s) return x;
  return add_node(Op::Reshape, {x}, {}, TensorType{dtype(x), s});
}

NodeId Builder::broadcast_to(NodeId x, const Shape& s_ref) {
  const Shape s = s_ref;  // may refer into the graph, which add_node grows
  const Shape xs = shape(x);
  if (xs == s) return x;
  if (xs.rank() > s.rank())
    SOMA_THROW(ShapeError, "broadcast_to: cannot broadcast " << xs.str() << " to " << s.str()
                                                             << " (the target has lower rank)");
  std::vector<int64_t> dims(static_cast<size_t>(s.rank() - xs.rank()), 1);
  dims.insert(dims.end(), xs.dims().begin(), xs.dims().end());
  for (int i = 0; i < s.rank(); ++i)
    if (dims[static_cast<size_t>(i)] != 1 && dims[static_cast<size_t>(i)] != s[i])
      SOMA_THROW(ShapeError, "broadcast_to: cannot broadcast " << xs.str() << " to " << s.str()
                                                               << " (axis " << i << ")");
  NodeId r = reshape(x, Shape(dims));
  if (shape(r) == s) return r;
  return add_node(Op::Broadcast, {r}, {}, TensorType{dtype(x), s});
}

NodeId Builder::permute(NodeId x, std::vector<int64_t> perm) {
  if (static_cast<int>(perm.size()) != shape(x).rank())
    SOMA_THROW(ValueError, "transpose: perm has " << perm.size() << " entries for a tensor of rank "
                                                  << shape(x).rank());
  perm = norm_axes(x, perm, "transpose");
  bool identity = true;
  for (size_t i = 0; i < perm.size(); ++i) identity &= perm[i] == static_cast<int64_t>(i);
  if (identity) return x;
  return add_node(Op::Permute, {x}, Attrs{{"perm", perm}});
}

NodeId Builder::transpose_last2(NodeId x) {
  int r = shape(x).rank();
  std::vector<int64_t> perm;
  for (int i = 0; i < r; ++i) perm.push_back(i);
  if (r >= 2) std::swap(perm[static_cast<size_t>(r - 1)], perm[static_cast<size_t>(r - 2)]);
  return permute(x, perm);
}

NodeId Builder::slice(NodeId x, std::vector<int64_t> start, std::vector<int64_t> stop,
                      std::vector<int64_t> step) {
  bool identity = true;
  for (int i = 0; i < shape(x).rank() && i < static_cast<int>(start.size()); ++i) {
    size_t k = static_cast<size_t>(i);
    identity &= start[k] == 0 && stop.size() > k && stop[k] == shape(x)[i] && step.size() > k &&
                step[k] == 1;
  }
  if (identity && static_cast<int>(start.size()) == shape(x).rank() &&
      stop.size() == start.size() && step.size() == start.size())
    return x;
  return add_node(Op::Slice, {x}, Attrs{{"start", start}, {"stop", stop}, {"step", step}});
}

NodeId Builder::pad(NodeId x, std::vector<int64_t> lo, std::vector<int64_t> hi,
                    std::vector<int64_t> interior, double value) {
  return add_node(Op::Pad, {x},
                  Attrs{{"lo", lo}, {"hi", hi}, {"interior", interior}, {"value", value}});
}

NodeId Builder::concat(const std::vector<NodeId>& xs, int64_t axis) {
  if (xs.empty()) SOMA_THROW(ValueError, "concat: needs at least one tensor");
  auto a = normalize_axis(axis, shape(xs[0]).rank());
  if (!a)
    SOMA_THROW(ValueError,
               "concat: axis " << axis << " is out of range for rank " << shape(xs[0]).rank());
  if (xs.size() == 1) return xs[0];
  DType t = dtype(xs[0]);
  for (NodeId x : xs) t = promote(t, dtype(x));
  std::vector<NodeId> ins;
  for (NodeId x : xs) ins.push_back(cast(x, t));
  return add_node(Op::Concat, ins, Attrs{{"axis", int64_t{*a}}});
}

NodeId Builder::flip(NodeId x, std::vector<int64_t> axes) {
  axes = norm_axes(x, axes, "flip");
  std::sort(axes.begin(), axes.end());
  if (axes.empty()) return x;
  return add_node(Op::Flip, {x}, Attrs{{"axes", axes}});
}

NodeId Builder::matmul(NodeId a, NodeId b) {
  const Shape sa0 = shape(a), sb0 = shape(b);
  if (sa0.rank() == 0 || sb0.rank() == 0)
    SOMA_THROW(ShapeError,
               "matmul: operands must have rank >= 1, got " << sa0.str() << " and " << sb0.str());
  DType t = promote(dtype(a), dtype(b));
  if (!is_float(t)) t = DType::f32;
  a = cast(a, t);
  b = cast(b, t);
  bool va = sa0.rank() == 1, vb = sb0.rank() == 1;
  if (va) a = reshape(a, Shape{1, sa0[0]});
  if (vb) b = reshape(b, Shape{sb0[0], 1});
  Shape sa = shape(a), sb = shape(b);
  int64_t k1 = sa[sa.rank() - 1], k2 = sb[sb.rank() - 2];
  if (k1 != k2)
    SOMA_THROW(ShapeError, "matmul: shapes " << sa0.str() << " and " << sb0.str()
                                             << " do not contract: " << k1 << " (last axis of the "
                                             << "first) != " << k2
                                             << " (second-to-last axis of the second)");
  Shape ba(std::vector<int64_t>(sa.dims().begin(), sa.dims().end() - 2));
  Shape bb(std::vector<int64_t>(sb.dims().begin(), sb.dims().end() - 2));
  auto batch = broadcast_shapes(ba, bb);
  if (!batch)
    SOMA_THROW(ShapeError, "matmul: batch axes of " << sa0.str() << " and " << sb0.str()
                                                    << " cannot be broadcast together");
  auto full = [](const Shape& batch, int64_t r, int64_t c) {
    std::vector<int64_t> d = batch.dims();
    d.push_back(r);
    d.push_back(c);
    return Shape(d);
  };
  int64_t m = sa[sa.rank() - 2], n = sb[sb.rank() - 1];
  a = broadcast_to(a, full(*batch, m, k1));
  b = broadcast_to(b, full(*batch, k1, n));
  NodeId y = add_node(Op::MatMul, {a, b});
  std::vector<int64_t> out = batch->dims();
  if (!va) out.push_back(m);
  if (!vb) out.push_back(n);
  return reshape(y, Shape(out));
}

NodeId Builder::window(NodeId x, std::vector<int64_t> kernel, std::vector<int64_t> stride,
                       std::vector<int64_t> dilation, std::vector<int64_t> pad_lo,
                       std::vector<int64_t> pad_hi, double value) {
  return add_node(Op::Window, {x},
                  Attrs{{"kernel", kernel},
                        {"stride", stride},
                        {"dilation", dilation},
                        {"pad_lo", pad_lo},
                        {"pad_hi", pad_hi},
                        {"value", value}});
}

NodeId Builder::unwindow(NodeId g, const TensorType& input_type, const Attrs& window_attrs) {
  return add_node(Op::Unwindow, {g}, Attrs(window_attrs), TensorType(input_type));
}

NodeId Builder::gather(NodeId table, NodeId ids) {
  if (dtype(ids) == DType::boolean)
    SOMA_THROW(TypeError, "gather: ids must be integers, got " << type(ids).str());
  return add_node(Op::Gather, {table, cast(ids, DType::i32)});
}

NodeId Builder::scatter_add(NodeId ids, NodeId updates, const TensorType& result) {
  return add_node(Op::ScatterAdd, {ids, updates}, {}, TensorType(result));
}

NodeId Builder::sum_to(NodeId x, const Shape& target_ref) {
  const Shape target = target_ref;  // may refer into the graph, which add_node grows
  const Shape s = shape(x);
  if (s == target) return x;
  int lead = s.rank() - target.rank();
  SOMA_CHECK(lead >= 0) << "sum_to " << s.str() << " -> " << target.str();
  std::vector<int64_t> axes;
  for (int i = 0; i < s.rank(); ++i) {
    int ti = i - lead;
    if (ti < 0 || (target[ti] == 1 && s[i] != 1)) axes.push_back(i);
  }
  NodeId y = axes.empty() ? x : add_node(Op::ReduceSum, {x}, Attrs{{"axes", axes}});
  return reshape(y, target);
}

}  // namespace soma
