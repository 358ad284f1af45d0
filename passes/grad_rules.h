// The VJP rule table used by passes/grad.cpp: one short rule per primitive op.
#pragma once

#include <vector>

#include "graph/builder.h"
#include "passes/grad.h"

namespace soma::grad_detail {

// What a rule sees: the node, its output (`out`), the cotangent `g` of the output, and which
// inputs need a cotangent. A rule calls emit(i, ct) for each input i it produces a gradient for.
struct VjpContext {
  Builder& b;
  NodeId out;
  const Node& node;
  NodeId g;
  std::vector<bool> wanted;
  std::vector<std::pair<int, NodeId>> emitted;

  NodeId in(int i) const { return node.inputs[static_cast<size_t>(i)]; }
  bool wants(int i) const { return wanted[static_cast<size_t>(i)]; }
  void emit(int i, NodeId ct) {
    if (wants(i)) emitted.emplace_back(i, ct);
  }
};

using VjpRule = void (*)(VjpContext&);

struct GradEntry {
  GradKind kind = GradKind::Missing;
  VjpRule rule = nullptr;
};

const GradEntry& grad_entry(Op op);

}  // namespace soma::grad_detail
