#include "passes/fuse.h"

#include <algorithm>

namespace soma {

bool always_inline(const Node& n) {
  if (n.op == Op::Iota || n.op == Op::RandUniform) return true;
  return n.op == Op::Const && n.attrs.get_floats("value").size() == 1;
}

namespace {
// The most nodes a recomputed (inlined-everywhere) value may take, its recomputed inputs
// included.
constexpr int kMaxRecomputedSize = 16;
// The deepest a node may sit below its kernel's root in the kernel's expression: a longer chain
// of fused nodes (x = f(x) a hundred thousand times) is cut into kernels of this depth, so that
// no kernel's expression is deeper than this (every walker of the kernel IR recurses over it).
constexpr int kMaxFusedDepth = 128;

bool is_buffer_source(const Node& n) {
  return n.op == Op::Input || n.op == Op::Param || (n.op == Op::Const && !always_inline(n));
}
}  // namespace

Fusion fuse(const Module& m, const std::set<NodeId>& force_realize) {
  const Graph& g = m.graph;
  const size_t n = static_cast<size_t>(g.size());
  Fusion f;
  f.group.assign(n, -1);
  f.realized.assign(n, 0);
  f.consumers.assign(n, {});
  std::vector<char> live(n, 0);
  for (NodeId id : reachable(g, m.roots())) live[static_cast<size_t>(id)] = 1;
  for (NodeId id = 0; id < g.size(); ++id)
    if (live[static_cast<size_t>(id)])
      for (NodeId i : g.node(id).inputs) {
        auto& c = f.consumers[static_cast<size_t>(i)];
        if (std::find(c.begin(), c.end(), id) == c.end()) c.push_back(id);
      }

  std::vector<char> must(n, 0);
  for (NodeId o : m.outputs) must[static_cast<size_t>(o)] = 1;
  for (auto& [p, v] : m.updates) must[static_cast<size_t>(v)] = 1;
  for (NodeId id : force_realize) must[static_cast<size_t>(id)] = 1;

  std::vector<int> depth(n, 0);  // below the root of its kernel
  // Reverse topological order: every consumer is decided before its producers.
  for (NodeId id = g.size() - 1; id >= 0; --id) {
    size_t k = static_cast<size_t>(id);
    if (!live[k]) continue;
    const Node& node = g.node(id);
    if (is_buffer_source(node)) {
      f.realized[k] = 1;  // a buffer, but no kernel
      continue;
    }
    if (always_inline(node) && !must[k]) continue;
    bool realize = must[k] || node.op == Op::ScatterAdd;
    NodeId target = -1;
    if (!realize) {
      bool shared = false;  // used by several kernels (or by nodes recomputed everywhere)
      for (NodeId c : f.consumers[k]) {
        NodeId gc = f.group[static_cast<size_t>(c)];
        if (gc < 0 || (target >= 0 && gc != target)) shared = true;
        if (target < 0) target = gc;
      }
      if (shared && has_trait(node.op, Cheap) &&
          g.node(target < 0 ? id : target).op != Op::ScatterAdd) {
        continue;  // recomputed inline wherever it is used: group -1, not realized
      }
      if (shared || target < 0) realize = true;
    }
    // A scatter's inputs and a contraction's operands are evaluated in another shape of loop:
    // reductions never fuse into them.
    if (!realize && g.node(target).op == Op::ScatterAdd) realize = true;
    if (!realize) {
      for (NodeId c : f.consumers[k])
        depth[k] = std::max(depth[k], depth[static_cast<size_t>(c)] + 1);
      if (depth[k] > kMaxFusedDepth) realize = true;
    }
    if (realize) {
      depth[k] = 0;
      f.realized[k] = 1;
      f.group[k] = id;
    } else {
      f.group[k] = target;
    }
  }
  // A recomputed node is inlined into every kernel that uses it, with its recomputed inputs:
  // a chain of cheap ops across time steps (an LSTM's cell state c_t = f*c_{t-1} + i*g) would be
  // recomputed from its start in every step's kernel (quadratic work, and kernels reading ever
  // more buffers). Such a node is realized once its inlined expression grows past a bound.
  std::vector<int> inline_size(n, 0);
  for (NodeId id = 0; id < g.size(); ++id) {
    size_t k = static_cast<size_t>(id);
    if (!live[k] || f.realized[k] || f.group[k] >= 0 || always_inline(g.node(id))) continue;
    int size = 1;
    for (NodeId i : g.node(id).inputs) size += inline_size[static_cast<size_t>(i)];
    if (size > kMaxRecomputedSize) {
      f.realized[k] = 1;
      f.group[k] = id;
      size = 0;
    }
    inline_size[k] = size;
  }
  for (NodeId id = 0; id < g.size(); ++id) {
    size_t k = static_cast<size_t>(id);
    if (live[k] && f.realized[k] && f.group[k] == id) f.roots.push_back(id);
  }
  return f;
}

}  // namespace soma
