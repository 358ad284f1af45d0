#include "graph/graph.h"

#include "graph/error.h"
#include "graph/infer.h"

namespace soma {

NodeId Graph::add(Op op, std::vector<NodeId> inputs, Attrs attrs,
                  std::optional<TensorType> declared) {
  std::vector<const TensorType*> in;
  in.reserve(inputs.size());
  for (NodeId i : inputs) {
    if (!valid(i)) SOMA_THROW(ValueError, op_name(op) << ": input %" << i << " does not exist");
    in.push_back(&nodes_[static_cast<size_t>(i)].type);
  }
  TensorType t = infer_type(op, in, attrs, declared);
  if (declared && *declared != t)
    SOMA_THROW(ShapeError, op_name(op) << ": declared type " << declared->str()
                                       << " differs from the type its inputs give, " << t.str());
  nodes_.push_back(Node{op, std::move(t), std::move(inputs), std::move(attrs)});
  return size() - 1;
}

NodeId Graph::add_unchecked(Node n) {
  nodes_.push_back(std::move(n));
  return size() - 1;
}

const Node& Graph::node(NodeId id) const {
  SOMA_CHECK(valid(id)) << "node %" << id << " out of range (graph has " << size() << ")";
  return nodes_[static_cast<size_t>(id)];
}

const std::string& Graph::name_of(NodeId id) const {
  return node(id).attrs.get_str("name");
}

std::vector<NodeId> reachable(const Graph& g, const std::vector<NodeId>& roots) {
  std::vector<char> seen(static_cast<size_t>(g.size()), 0);
  std::vector<NodeId> stack;
  for (NodeId r : roots) {
    SOMA_CHECK(g.valid(r)) << "root %" << r;
    if (!seen[static_cast<size_t>(r)]) {
      seen[static_cast<size_t>(r)] = 1;
      stack.push_back(r);
    }
  }
  while (!stack.empty()) {
    NodeId n = stack.back();
    stack.pop_back();
    for (NodeId i : g.node(n).inputs)
      if (!seen[static_cast<size_t>(i)]) {
        seen[static_cast<size_t>(i)] = 1;
        stack.push_back(i);
      }
  }
  std::vector<NodeId> out;
  for (NodeId i = 0; i < g.size(); ++i)
    if (seen[static_cast<size_t>(i)]) out.push_back(i);
  return out;
}

Graph extract(const Graph& g, const std::vector<NodeId>& roots, std::vector<NodeId>* map) {
  std::vector<NodeId> m(static_cast<size_t>(g.size()), -1);
  Graph out;
  for (NodeId id : reachable(g, roots)) {
    Node n = g.node(id);
    for (NodeId& i : n.inputs) i = m[static_cast<size_t>(i)];
    m[static_cast<size_t>(id)] = out.add_unchecked(std::move(n));
  }
  if (map) *map = std::move(m);
  return out;
}

}  // namespace soma
