// Dead-code elimination: keeps only the nodes that the module's outputs and updates need.
#pragma once

#include "graph/module.h"

namespace soma {

// Rebuilds `m` with the nodes reachable from m.roots(), in their original order (unused inputs
// and params go too; a program's inputs are bound by name, so a missing one is simply not read).
// Returns whether any node was removed.
bool dce(Module& m);

}  // namespace soma
