// The reference interpreter: runs every op directly on host arrays, in the simplest obviously
// correct way. It defines what each op means and is the oracle of every other test.
#pragma once

#include <memory>
#include <vector>

#include "backends/backend.h"

namespace soma {

std::unique_ptr<Backend> make_interp_backend();

// Evaluates one node given its input values (the definition of the op's meaning). Float math is
// done in f64 and rounded once to the node's dtype; sums accumulate in f64; i32 arithmetic wraps.
Array eval_node(const Node& node, const std::vector<const Array*>& inputs);

// Evaluates `outputs` of `g`: inputs from `feeds` (checked), params from `params`.
std::vector<Array> interpret(const Graph& g, const std::vector<NodeId>& outputs, const Feeds& feeds,
                             const ParamStore& params);

// Where a NaN or an infinity that reaches one of `outputs` or the new values of `updates` comes
// from: walking back from that value through values that hold one, the node whose inputs hold
// none (or the input, parameter or constant that holds one). node -1 when every output and
// update is finite.
struct NonFinite {
  NodeId node = -1;     // -1: everything is finite
  int64_t element = 0;  // the first such element of its value (flat index)
  double value = 0;
  bool from_finite_inputs = false;  // false: a source (input or parameter) holds it
};
NonFinite first_non_finite(const Graph& g, const std::vector<NodeId>& outputs,
                           const std::vector<std::pair<NodeId, NodeId>>& updates,
                           const Feeds& feeds, const ParamStore& params);

}  // namespace soma
