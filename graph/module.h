// Module: what the compiler works on after the frontend — a graph with its outputs and the
// parameter updates (param node, node with its new value) that a run writes back. Graph passes
// transform a Module into a new one (graphs are append-only, so a pass rebuilds).
#pragma once

#include <utility>
#include <vector>

#include "graph/graph.h"

namespace soma {

struct Module {
  Graph graph;
  std::vector<NodeId> outputs;
  std::vector<std::pair<NodeId, NodeId>> updates;

  // Every node the outputs and updates need.
  std::vector<NodeId> roots() const {
    std::vector<NodeId> r = outputs;
    for (auto& [p, v] : updates) {
      r.push_back(p);
      r.push_back(v);
    }
    return r;
  }
};

}  // namespace soma
