#include "passes/split_k.h"

#include <algorithm>

#include "passes/rewrite.h"

namespace soma {

namespace {
// A contraction this long, and this much longer than the output is wide, is split.
constexpr int64_t kMinSplitK = 4096;
constexpr int64_t kLengthOverWidth = 16;
// Each slice keeps at least this much of k (so the packing and micro-kernel still pay off).
constexpr int64_t kMinSliceK = 512;

// The slices of a matmul node: 1 = not split.
int64_t slices_of(const Graph& g, const Node& n, int64_t max_k) {
  if (n.op != Op::MatMul || !is_float(n.type.dtype)) return 1;
  const Shape a = g.node(n.inputs[0]).type.shape, b = g.node(n.inputs[1]).type.shape;
  const int r = a.rank();
  const int64_t k = a[r - 1];
  if (max_k > 0 && k > max_k) return (k + max_k - 1) / max_k;
  if (r != 2) return 1;
  return split_k_slices(a[0], k, b[1]);
}

// a[B..., M, K] @ b[B..., K, N] as s partial products over slices of k, summed in order.
NodeId split(Builder& bld, NodeId a, NodeId b, int64_t s, const Shape& out) {
  const Shape as = bld.shape(a), bs = bld.shape(b);
  const int r = as.rank();
  int64_t batch = 1;
  for (int d = 0; d < r - 2; ++d) batch *= as[d];
  const int64_t m = as[r - 2], k = as[r - 1], n = bs[r - 1];
  const int64_t c = (k + s - 1) / s;  // slice length; k padded to s * c
  if (r == 2) {
    if (s * c > k) {
      a = bld.pad(a, {0, 0}, {0, s * c - k}, {0, 0}, 0);
      b = bld.pad(b, {0, 0}, {s * c - k, 0}, {0, 0}, 0);
    }
    NodeId a3 = bld.permute(bld.reshape(a, Shape{m, s, c}), {1, 0, 2});  // [s, M, c]
    NodeId b3 = bld.reshape(b, Shape{s, c, n});                          // [s, c, N]
    return bld.reshape(bld.reduce(Op::ReduceSum, bld.matmul(a3, b3), {0}, false), out);
  }
  a = bld.reshape(a, Shape{batch, m, k});
  b = bld.reshape(b, Shape{batch, k, n});
  if (s * c > k) {
    a = bld.pad(a, {0, 0, 0}, {0, 0, s * c - k}, {0, 0, 0}, 0);
    b = bld.pad(b, {0, 0, 0}, {0, s * c - k, 0}, {0, 0, 0}, 0);
  }
  NodeId a4 = bld.permute(bld.reshape(a, Shape{batch, m, s, c}), {2, 0, 1, 3});  // [s, B, M, c]
  NodeId b4 = bld.permute(bld.reshape(b, Shape{batch, s, c, n}), {1, 0, 2, 3});  // [s, B, c, N]
  NodeId partial = bld.matmul(a4, b4);                                           // [s, B, M, N]
  return bld.reshape(bld.reduce(Op::ReduceSum, partial, {0}, false), out);
}

}  // namespace

int64_t split_k_slices(int64_t m, int64_t k, int64_t n) {
  if (k < kMinSplitK || k < kLengthOverWidth * std::max(m, n)) return 1;
  for (int64_t s : {16, 8, 4, 2})
    if (k % s == 0 && k / s >= kMinSliceK) return s;
  return 1;
}

bool split_k(Module& m, int64_t max_k) {
  const Graph& old = m.graph;
  auto wanted = [&](const Node& n) { return slices_of(old, n, max_k) > 1; };
  auto rewrite = [&](Builder& b, const Node& n, const std::vector<NodeId>& in) {
    return split(b, in[0], in[1], slices_of(old, n, max_k), n.type.shape);
  };
  return rewrite_module(m, wanted, rewrite);
}

}  // namespace soma
