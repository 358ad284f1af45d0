// The constant-folding callback that the frontend hands to the graph passes: it evaluates a node
// with the reference interpreter, so that a folded constant holds exactly the value the node
// would have computed at run time.
#pragma once

#include "passes/fold_fn.h"

namespace soma {

// A FoldFn backed by the interpreter's eval_node; declines (nullopt) where evaluation throws.
FoldFn make_interp_fold_fn();

}  // namespace soma
