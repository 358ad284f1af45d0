// Common-subexpression elimination by structural hashing.
//
// Two nodes are merged when they have the same op, type, attributes (floats compared bit for bit:
// a const -0.0 is not a const 0.0) and (already merged) inputs;
// the inputs of commutative ops (add, mul, max, min, eq, ne, and, or) match in either order. The
// attributes carry what makes sources distinct, so input and param nodes merge only when their
// names (and types) are equal, and rand_uniform nodes only when their seed, offset and type are
// equal (then they draw the same numbers). Every op is a pure function of its inputs and
// attributes, so merging never changes a value.
#pragma once

#include "graph/module.h"

namespace soma {

// Rebuilds `m` keeping the first of each set of equal nodes, and remaps the outputs and updates.
// Returns whether any node was merged.
bool cse(Module& m);

}  // namespace soma
