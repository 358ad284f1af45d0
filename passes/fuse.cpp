#include "passes/fuse.h"

#include "graph/printer.h"

#include <algorithm>
#include <sstream>
#include <unordered_map>

namespace soma {

bool always_inline(const Node& n) {
  if (n.op == Op::Iota || n.op == Op::RandUniform) return true;
  return n.op == Op::Const && n.attrs.get_floats("value").size() == 1 && !n.attrs.has("runtime");
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

Fusion fuse(const Module& m, bool enabled) {
  const Graph& g = m.graph;
  const size_t n = static_cast<size_t>(g.size());
  Fusion f;
  f.group.assign(n, -1);
  f.realized.assign(n, 0);
  f.consumers.assign(n, {});
  f.why.assign(n, FuseReason::Fused);
  std::vector<char> live(n, 0);
  for (NodeId id : reachable(g, m.roots())) live[static_cast<size_t>(id)] = 1;
  for (NodeId id = 0; id < g.size(); ++id)
    if (live[static_cast<size_t>(id)])
      for (NodeId i : g.node(id).inputs) {
        auto& c = f.consumers[static_cast<size_t>(i)];
        if (std::find(c.begin(), c.end(), id) == c.end()) c.push_back(id);
      }

  std::vector<FuseReason> must(n, enabled ? FuseReason::Fused : FuseReason::FusionOff);
  for (auto& [p, v] : m.updates) must[static_cast<size_t>(v)] = FuseReason::Update;
  for (NodeId o : m.outputs) must[static_cast<size_t>(o)] = FuseReason::Output;

  std::vector<int> depth(n, 0);     // below the root of its kernel
  std::vector<fusion::Use> use(n);  // how each kernel's root and members are read in it
  std::unordered_map<NodeId, fusion::KernelModel> kernels;  // by root
  // Reverse topological order: every consumer is decided before its producers.
  for (NodeId id = g.size() - 1; id >= 0; --id) {
    size_t k = static_cast<size_t>(id);
    if (!live[k]) continue;
    const Node& node = g.node(id);
    if (is_buffer_source(node)) {
      f.realized[k] = 1;  // a buffer, but no kernel
      f.why[k] = FuseReason::Buffer;
      continue;
    }
    if (always_inline(node) && must[k] != FuseReason::Output && must[k] != FuseReason::Update) {
      f.why[k] = FuseReason::Inline;
      continue;
    }
    FuseReason why = node.op == Op::ScatterAdd ? FuseReason::Scatter : must[k];
    NodeId target = -1;
    if (why == FuseReason::Fused) {
      bool shared = false;      // used by several kernels (or by nodes recomputed everywhere)
      bool by_scatter = false;  // scatter_add reads its operands from buffers
      for (NodeId c : f.consumers[k]) {
        NodeId gc = f.group[static_cast<size_t>(c)];
        if (gc < 0 || (target >= 0 && gc != target)) shared = true;
        if (target < 0) target = gc;
        by_scatter |= g.node(c).op == Op::ScatterAdd;
      }
      if (shared && has_trait(node.op, Cheap) && !by_scatter) {
        f.why[k] = FuseReason::Recomputed;  // inline wherever it is used: group -1
        continue;
      }
      if (shared)
        why = FuseReason::Shared;
      else if (target < 0)
        why = FuseReason::NoConsumer;
    }
    // A scatter's inputs are evaluated in another shape of loop: nothing fuses into it.
    if (why == FuseReason::Fused && g.node(target).op == Op::ScatterAdd)
      why = FuseReason::ScatterOperand;
    if (why == FuseReason::Fused) {
      for (NodeId c : f.consumers[k])
        depth[k] = std::max(depth[k], depth[static_cast<size_t>(c)] + 1);
      if (depth[k] > kMaxFusedDepth) why = FuseReason::TooDeep;
    }
    if (why == FuseReason::Fused) {
      // How the kernel reads this node: through each of its consumers there.
      fusion::Use u;
      bool first = true;
      for (NodeId c : f.consumers[k]) {
        const Node& cn = g.node(c);
        for (size_t slot = 0; slot < cn.inputs.size(); ++slot) {
          if (cn.inputs[slot] != id) continue;
          fusion::Use r = fusion::input_use(g, c, use[static_cast<size_t>(c)], slot);
          if (first)
            u = r;
          else
            u.merge(r);
          first = false;
        }
      }
      fusion::KernelModel& kernel = kernels.at(target);
      why = kernel.admit(id, u);
      if (why == FuseReason::Fused) {
        kernel.add(id, u);
        use[k] = u;
        f.group[k] = target;
        continue;
      }
    }
    depth[k] = 0;
    f.realized[k] = 1;
    f.group[k] = id;
    f.why[k] = why;
    use[k] = fusion::root_use(node);
    kernels.emplace(id, fusion::KernelModel(g, id));
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
      f.why[k] = FuseReason::RecomputedTooLarge;
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

std::string print_fusion(const Module& m, const Fusion& f) {
  std::ostringstream os;
  os << "# " << f.roots.size() << " kernel" << (f.roots.size() == 1 ? "" : "s") << "\n";
  for (NodeId id : reachable(m.graph, m.roots())) {
    std::string line = print_node(m.graph, id);
    const size_t k = static_cast<size_t>(id);
    const NodeId g = k < f.group.size() ? f.group[k] : -1;
    std::string note;
    if (g == id)
      note = "kernel %" + std::to_string(id) + " (stored: " + describe(f.why[k]) + ")";
    else if (g >= 0)
      note = "kernel %" + std::to_string(g);
    else if (f.why[k] == FuseReason::Buffer)
      note = "buffer";
    else
      note = "inlined";
    if (line.size() < 56) line.append(56 - line.size(), ' ');
    os << line << "  # " << note << "\n";
  }
  os << "return";
  for (size_t i = 0; i < m.outputs.size(); ++i) os << (i ? ", %" : " %") << m.outputs[i];
  os << "\n";
  for (auto& [p, v] : m.updates) os << "# update %" << p << " <- %" << v << "\n";
  return os.str();
}

}  // namespace soma
