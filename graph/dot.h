// Renders a graph as Graphviz `dot` text, for looking at it: `dot -Tsvg g.dot -o g.svg`.
#pragma once

#include <string>
#include <vector>

#include "graph/graph.h"

namespace soma {

// One box per node labelled `%id op` (plus an input's or param's name) and its type, an edge from
// each input to its user (numbered when a node has several inputs), inputs, params and constants
// drawn in their own shapes and colours, and each output drawn bold and linked to an `out k` sink.
std::string to_dot(const Graph& g, const std::vector<NodeId>& outputs = {});

}  // namespace soma
