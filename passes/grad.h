// Reverse-mode automatic differentiation as a graph-to-graph transform.
//
// vjp() appends to the graph the nodes that compute the vector-Jacobian product of `y` with a
// seed cotangent, for each requested node, and returns them; the gradient is an ordinary graph,
// so it can be optimized, compiled and differentiated again (higher order).
//
// Conventions (PyTorch's where they matter):
//   - Only nodes on a path from a requested node to `y` get gradient nodes; a requested node that
//     `y` does not depend on gets zeros (as JAX does).
//   - Integer and bool values carry no gradient; requesting one is a TypeError.
//   - relu'(0) = 0 (relu is where(x <= 0, 0, x)); abs'(0) = 0; sign, floor, comparisons and
//     stop_gradient have zero gradient.
//   - Ties split the gradient evenly: maximum/minimum give half to each equal input, and
//     reduce_max shares it equally among the maximal elements (as PyTorch's amax does).
//   - pow: d/dx is 0 where the exponent is 0, and d/dexponent is 0 where x == 0 and the exponent
//     is >= 0 (no 0 * log(0) = NaN).
#pragma once

#include <vector>

#include "graph/graph.h"

namespace soma {

// d(sum(seed * y)) / d xs. `seed` must have y's type. Throws TypeError/ShapeError.
std::vector<NodeId> vjp(Graph& g, NodeId y, const std::vector<NodeId>& xs, NodeId seed);

// d y / d xs for a y with a single element (any rank); throws ShapeError otherwise.
std::vector<NodeId> grad(Graph& g, NodeId y, const std::vector<NodeId>& xs);

// How the gradient table treats an op (for the coverage test of graph/ops.def).
enum class GradKind {
  Missing,           // no entry: a bug (the coverage test fails)
  Rule,              // a VJP rule
  ZeroGradient,      // differentiable almost everywhere with derivative zero (sign, floor, ...)
  NotDifferentiable  // sources and bool/integer-valued ops
};
GradKind grad_kind(Op op);

}  // namespace soma
