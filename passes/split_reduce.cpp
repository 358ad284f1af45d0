#include "passes/split_reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "passes/rewrite.h"

namespace soma {

namespace {

int64_t reduced_extent(const Node& n, const Shape& in) {
  int64_t e = 1;
  for (int64_t a : n.attrs.get_ints("axes")) e *= in[static_cast<int>(a)];
  return e;
}

double identity(Op op, DType t) {
  if (op == Op::ReduceSum) return 0;
  if (t == DType::i32) return static_cast<double>(std::numeric_limits<int32_t>::min());
  return -std::numeric_limits<double>::infinity();
}

// Reduces x[K, E] over its last axis in chunks of at most max_extent: returns [K, 1].
NodeId reduce_rows(Builder& b, Op op, NodeId x, int64_t max_extent) {
  const int64_t k = b.shape(x)[0];
  int64_t e = b.shape(x)[1];
  while (e > max_extent) {
    const int64_t s = (e + max_extent - 1) / max_extent;  // chunks
    const int64_t c = (e + s - 1) / s;                    // balanced chunk length <= max_extent
    if (s * c > e) x = b.pad(x, {0, 0}, {0, s * c - e}, {0, 0}, identity(op, b.dtype(x)));
    x = b.reduce(op, b.reshape(x, Shape{k, s, c}), {2}, false);  // [K, S, 1]
    x = b.reshape(x, Shape{k, s});
    e = s;
  }
  return b.reduce(op, x, {1}, false);
}

}  // namespace

bool split_reduce(Module& m, int64_t max_extent) {
  if (max_extent <= 1) return false;
  const Graph& old = m.graph;
  auto wanted = [&](const Node& n) {
    if (n.op != Op::ReduceSum && n.op != Op::ReduceMax) return false;
    return reduced_extent(n, old.node(n.inputs[0]).type.shape) > max_extent;
  };
  auto rewrite = [&](Builder& b, const Node& n, const std::vector<NodeId>& in) {
    const Shape s = b.shape(in[0]);
    const auto& axes = n.attrs.get_ints("axes");
    std::vector<int64_t> perm;
    int64_t kept = 1, reduced = 1;
    for (int d = 0; d < s.rank(); ++d)
      if (std::find(axes.begin(), axes.end(), d) == axes.end()) {
        perm.push_back(d);
        kept *= s[d];
      }
    for (int d = 0; d < s.rank(); ++d)
      if (std::find(axes.begin(), axes.end(), d) != axes.end()) {
        perm.push_back(d);
        reduced *= s[d];
      }
    NodeId x = b.reshape(b.permute(in[0], perm), Shape{kept, reduced});
    return b.reshape(reduce_rows(b, n.op, x, max_extent), n.type.shape);
  };
  return rewrite_module(m, wanted, rewrite);
}

}  // namespace soma
