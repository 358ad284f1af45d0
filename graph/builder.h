// Builder: adds primitive nodes to a Graph with numpy semantics on top — dtype promotion
// (bool < i32 < f32 < f64) and broadcasting insert explicit cast/reshape/broadcast nodes, axes
// may be negative, and matmul promotes vectors and broadcasts batch axes. The frontend's tensor
// API and the autodiff pass both build through it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace soma {

class Builder {
 public:
  explicit Builder(Graph& g) : g_(g) {}
  Graph& graph() { return g_; }
  // By value: adding nodes may move the graph's storage.
  TensorType type(NodeId x) const { return g_.node(x).type; }
  Shape shape(NodeId x) const { return g_.node(x).type.shape; }
  DType dtype(NodeId x) const { return g_.node(x).type.dtype; }

  // Sources.
  NodeId input(const std::string& name, const TensorType& t);
  NodeId param(const std::string& name, const TensorType& t);
  NodeId constant(std::vector<double> values, const TensorType& t);
  // A scalar constant whose value is data, not code: the passes neither fold it nor inline it,
  // so programs that differ only in it (a slice start that moves every step) share their
  // compiled code (attribute runtime=1 on the const node).
  NodeId runtime_scalar(double value, DType t);
  NodeId fill(double value, const TensorType& t) { return constant({value}, t); }
  NodeId scalar(double value, DType dtype) { return fill(value, TensorType{dtype, Shape{}}); }
  NodeId iota(const TensorType& t, int axis);
  // U[0, 1) elements drawn by Philox from (element index, offset) under `seed`; `offset` is an
  // i32 scalar node (e.g. a step counter) or -1 for a constant 0.
  NodeId rand_uniform(const TensorType& t, int64_t seed, NodeId offset = -1);

  // Elementwise. Binary and select broadcast and promote; div and pow of integers give f32.
  NodeId unary(Op op, NodeId x);
  NodeId binary(Op op, NodeId a, NodeId b);
  NodeId select(NodeId cond, NodeId a, NodeId b);
  NodeId cast(NodeId x, DType to);  // no node when x already has that dtype
  NodeId add(NodeId a, NodeId b) { return binary(Op::Add, a, b); }
  NodeId sub(NodeId a, NodeId b) { return binary(Op::Sub, a, b); }
  NodeId mul(NodeId a, NodeId b) { return binary(Op::Mul, a, b); }
  NodeId div(NodeId a, NodeId b) { return binary(Op::Div, a, b); }
  NodeId neg(NodeId x) { return unary(Op::Neg, x); }
  // x op scalar, the scalar taking x's dtype (a Python-style "weak" scalar).
  NodeId binary_scalar(Op op, NodeId x, double s);
  NodeId scalar_binary(Op op, double s, NodeId x);

  // Reductions (axes may be negative, any order, duplicates rejected; empty = all axes).
  NodeId reduce(Op op, NodeId x, std::vector<int64_t> axes, bool keepdims);

  // Movement.
  NodeId reshape(NodeId x, const Shape& s);             // no node when the shape is unchanged
  NodeId broadcast_to(NodeId x, const Shape& s);        // numpy rules (prepends size-1 axes)
  NodeId permute(NodeId x, std::vector<int64_t> perm);  // perm entries may be negative
  NodeId transpose_last2(NodeId x);
  NodeId slice(NodeId x, std::vector<int64_t> start, std::vector<int64_t> stop,
               std::vector<int64_t> step);
  NodeId pad(NodeId x, std::vector<int64_t> lo, std::vector<int64_t> hi,
             std::vector<int64_t> interior, double value);
  NodeId concat(const std::vector<NodeId>& xs, int64_t axis);
  NodeId flip(NodeId x, std::vector<int64_t> axes);

  // numpy matmul: vectors are promoted (and the added axis removed after), batch axes broadcast.
  NodeId matmul(NodeId a, NodeId b);

  // Windows over the last kernel.size() axes; see graph/infer.cpp.
  NodeId window(NodeId x, std::vector<int64_t> kernel, std::vector<int64_t> stride,
                std::vector<int64_t> dilation, std::vector<int64_t> pad_lo,
                std::vector<int64_t> pad_hi, double value);
  NodeId unwindow(NodeId g, const TensorType& input_type, const Attrs& window_attrs);

  NodeId gather(NodeId table, NodeId ids);
  NodeId scatter_add(NodeId ids, NodeId updates, const TensorType& result);

  // Sums x over the axes that broadcasting to x's shape expanded from `target` (the adjoint of
  // broadcast_to); returns x when the shapes are equal.
  NodeId sum_to(NodeId x, const Shape& target);

  NodeId add_node(Op op, std::vector<NodeId> inputs, Attrs attrs = {},
                  std::optional<TensorType> declared = std::nullopt) {
    return g_.add(op, std::move(inputs), std::move(attrs), std::move(declared));
  }

 private:
  std::vector<int64_t> norm_axes(NodeId x, std::vector<int64_t> axes, const char* what) const;
  Graph& g_;
};

}  // namespace soma
