// Graph: an append-only list of nodes in SSA form. A node only refers to earlier nodes, so the
// node order is a topological order. Every node is checked by its op's rule when added.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "graph/node.h"

namespace soma {

class Graph {
 public:
  // Adds a node after checking it against its op's rule (graph/infer.h). Ops with the Decl trait
  // take their output type from `declared`. Throws ShapeError, TypeError or ValueError naming the
  // op, the input types and the rule broken.
  NodeId add(Op op, std::vector<NodeId> inputs, Attrs attrs = {},
             std::optional<TensorType> declared = std::nullopt);

  const Node& node(NodeId id) const;
  const Node& operator[](NodeId id) const { return node(id); }
  int size() const { return static_cast<int>(nodes_.size()); }
  const std::vector<Node>& nodes() const { return nodes_; }
  bool valid(NodeId id) const { return id >= 0 && id < size(); }

  // The name of an input or param node.
  const std::string& name_of(NodeId id) const;

  // Appends a node without checking it (for the parser and the verifier's tests; run verify()).
  NodeId add_unchecked(Node n);

 private:
  std::vector<Node> nodes_;
};

// Nodes reachable from `roots`, in increasing id order (a topological order).
std::vector<NodeId> reachable(const Graph& g, const std::vector<NodeId>& roots);

// Copies the nodes reachable from `roots` into a new dense graph; `map[old] = new` (-1 where not
// copied). Returns the new graph.
Graph extract(const Graph& g, const std::vector<NodeId>& roots, std::vector<NodeId>* map);

}  // namespace soma
