#include "passes/cse.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <functional>
#include <unordered_map>

namespace soma {

namespace {

// Attributes equal bit for bit: Attrs::operator== compares floats by value, which would merge a
// const -0.0 with a const 0.0 (and never a NaN with itself).
bool identical(const AttrValue& a, const AttrValue& b) {
  if (a.index() != b.index()) return false;
  if (auto* x = std::get_if<double>(&a))
    return std::bit_cast<uint64_t>(*x) == std::bit_cast<uint64_t>(std::get<double>(b));
  if (auto* x = std::get_if<std::vector<double>>(&a)) {
    const auto& y = std::get<std::vector<double>>(b);
    if (x->size() != y.size()) return false;
    for (size_t i = 0; i < x->size(); ++i)
      if (std::bit_cast<uint64_t>((*x)[i]) != std::bit_cast<uint64_t>(y[i])) return false;
    return true;
  }
  return a == b;
}

bool identical(const Attrs& a, const Attrs& b) {
  const auto &x = a.items(), &y = b.items();
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i)
    if (x[i].first != y[i].first || !identical(x[i].second, y[i].second)) return false;
  return true;
}

// A node's identity: op, type, inputs in the new graph (sorted for commutative ops), attributes.
struct Key {
  Op op;
  TensorType type;
  std::vector<NodeId> inputs;
  Attrs attrs;
  bool operator==(const Key& o) const {
    return op == o.op && type == o.type && inputs == o.inputs && identical(attrs, o.attrs);
  }
};

struct KeyHash {
  size_t operator()(const Key& k) const {
    size_t h = std::hash<int>()(static_cast<int>(k.op));
    auto mix = [&h](size_t v) { h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2); };
    mix(static_cast<size_t>(k.type.dtype));
    for (int64_t d : k.type.shape.dims()) mix(std::hash<int64_t>()(d));
    for (NodeId i : k.inputs) mix(std::hash<NodeId>()(i));
    mix(k.attrs.hash());
    return h;
  }
};

}  // namespace

bool cse(Module& m) {
  const Graph& old = m.graph;
  Graph g;
  std::vector<NodeId> map(static_cast<size_t>(old.size()), -1);
  std::unordered_map<Key, NodeId, KeyHash> seen;
  bool merged = false;
  for (NodeId id = 0; id < old.size(); ++id) {
    const Node& n = old.node(id);
    std::vector<NodeId> inputs;
    for (NodeId i : n.inputs) inputs.push_back(map[static_cast<size_t>(i)]);
    Key key{n.op, n.type, inputs, n.attrs};
    if (has_trait(n.op, Comm)) std::sort(key.inputs.begin(), key.inputs.end());
    auto it = seen.find(key);
    if (it != seen.end()) {
      map[static_cast<size_t>(id)] = it->second;
      merged = true;
      continue;
    }
    NodeId nid = g.add(n.op, std::move(inputs), n.attrs, n.type);
    map[static_cast<size_t>(id)] = nid;
    seen.emplace(std::move(key), nid);
  }
  if (!merged) return false;
  for (NodeId& o : m.outputs) o = map[static_cast<size_t>(o)];
  for (auto& [p, v] : m.updates) {
    p = map[static_cast<size_t>(p)];
    v = map[static_cast<size_t>(v)];
  }
  m.graph = std::move(g);
  return true;
}

}  // namespace soma
