#include "passes/split_k.h"

#include <algorithm>

#include "graph/builder.h"

namespace soma {

namespace {
// A contraction this long, and this much longer than the output is wide, is split.
constexpr int64_t kMinSplitK = 4096;
constexpr int64_t kLengthOverWidth = 16;
// Each slice keeps at least this much of k (so the packing and micro-kernel still pay off).
constexpr int64_t kMinSliceK = 512;
}  // namespace

int64_t split_k_slices(int64_t m, int64_t k, int64_t n) {
  if (k < kMinSplitK || k < kLengthOverWidth * std::max(m, n)) return 1;
  for (int64_t s : {16, 8, 4, 2})
    if (k % s == 0 && k / s >= kMinSliceK) return s;
  return 1;
}

bool split_k(Module& m) {
  const Graph& old = m.graph;
  auto candidate = [&](NodeId id) {
    const Node& n = old.node(id);
    if (n.op != Op::MatMul || !is_float(n.type.dtype)) return int64_t{1};
    const Shape a = old.node(n.inputs[0]).type.shape, b = old.node(n.inputs[1]).type.shape;
    if (a.rank() != 2 || b.rank() != 2 || n.type.shape.rank() != 2) return int64_t{1};
    return split_k_slices(a[0], a[1], b[1]);
  };
  const std::vector<NodeId> live = reachable(old, m.roots());
  if (std::none_of(live.begin(), live.end(), [&](NodeId id) { return candidate(id) > 1; }))
    return false;

  Graph g;
  Builder b(g);
  std::vector<NodeId> map(static_cast<size_t>(old.size()), -1);
  for (NodeId id : live) {
    const Node& n = old.node(id);
    std::vector<NodeId> in;
    for (NodeId i : n.inputs) in.push_back(map[static_cast<size_t>(i)]);
    const int64_t s = candidate(id);
    if (s == 1) {
      map[static_cast<size_t>(id)] = g.add(n.op, std::move(in), n.attrs, n.type);
      continue;
    }
    const Shape as = b.shape(in[0]), bs = b.shape(in[1]);
    const int64_t rows = as[0], k = as[1], cols = bs[1];
    NodeId a3 = b.permute(b.reshape(in[0], Shape{rows, s, k / s}), {1, 0, 2});  // [s, M, K/s]
    NodeId b3 = b.reshape(in[1], Shape{s, k / s, cols});                        // [s, K/s, N]
    NodeId partial = b.matmul(a3, b3);                                          // [s, M, N]
    map[static_cast<size_t>(id)] = b.reduce(Op::ReduceSum, partial, {0}, false);
  }
  Module out;
  out.graph = std::move(g);
  for (NodeId o : m.outputs) out.outputs.push_back(map[static_cast<size_t>(o)]);
  for (auto& [p, v] : m.updates)
    out.updates.emplace_back(map[static_cast<size_t>(p)], map[static_cast<size_t>(v)]);
  m = std::move(out);
  return true;
}

}  // namespace soma
