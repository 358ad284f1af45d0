#include "passes/rewrite.h"

#include <algorithm>

namespace soma {

bool rewrite_module(Module& m, const std::function<bool(const Node&)>& wanted,
                    const NodeRewrite& rewrite) {
  const Graph& old = m.graph;
  const std::vector<NodeId> live = reachable(old, m.roots());
  if (std::none_of(live.begin(), live.end(), [&](NodeId id) { return wanted(old.node(id)); }))
    return false;
  Graph g;
  Builder b(g);
  std::vector<NodeId> map(static_cast<size_t>(old.size()), -1);
  bool changed = false;
  for (NodeId id : live) {
    const Node& n = old.node(id);
    std::vector<NodeId> in;
    for (NodeId i : n.inputs) in.push_back(map[static_cast<size_t>(i)]);
    NodeId r = wanted(n) ? rewrite(b, n, in) : -1;
    if (r < 0) {
      r = g.add(n.op, std::move(in), n.attrs, n.type);
    } else {
      changed = true;
    }
    map[static_cast<size_t>(id)] = r;
  }
  if (!changed) return false;
  Module out;
  out.graph = std::move(g);
  for (NodeId o : m.outputs) out.outputs.push_back(map[static_cast<size_t>(o)]);
  for (auto& [p, v] : m.updates)
    out.updates.emplace_back(map[static_cast<size_t>(p)], map[static_cast<size_t>(v)]);
  m = std::move(out);
  return true;
}

}  // namespace soma
