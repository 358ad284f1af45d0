#include "passes/dce.h"

namespace soma {

bool dce(Module& m) {
  std::vector<NodeId> map;
  Graph g = extract(m.graph, m.roots(), &map);
  // extract keeps the node order, so an equal size means nothing was removed.
  if (g.size() == m.graph.size()) return false;
  for (NodeId& o : m.outputs) o = map[static_cast<size_t>(o)];
  for (auto& [p, v] : m.updates) {
    p = map[static_cast<size_t>(p)];
    v = map[static_cast<size_t>(v)];
  }
  m.graph = std::move(g);
  return true;
}

}  // namespace soma
