// Rebuilding a module node by node: the common frame of passes that replace some nodes by small
// subgraphs (split_k, split_reduce). Graphs are append-only, so the pass copies every live node
// into a new graph, in topological order, letting `rewrite` build a replacement for the nodes it
// wants; outputs and updates follow the map.
#pragma once

#include <functional>
#include <vector>

#include "graph/builder.h"
#include "graph/module.h"

namespace soma {

// Returns the replacement of `n` (whose inputs are already mapped to `inputs` in the new graph),
// built with `b`; or -1 to copy the node unchanged.
using NodeRewrite =
    std::function<NodeId(Builder& b, const Node& n, const std::vector<NodeId>& inputs)>;

// Rebuilds `m` when `wanted` holds for some live node, calling `rewrite` on those nodes. Returns
// whether anything changed (false: `m` is untouched).
bool rewrite_module(Module& m, const std::function<bool(const Node&)>& wanted,
                    const NodeRewrite& rewrite);

}  // namespace soma
