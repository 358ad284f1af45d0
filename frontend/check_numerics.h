// SOMA_CHECK_NUMERICS=1: every run of a compiled program checks its outputs and the new values of
// its parameters for NaN and infinities. When one appears, the parameters are put back as they
// were before the run, the run is repeated on the reference interpreter to find where the value
// first appears, and a ValueError names that op (its line of the compiled graph, the element and
// the value) — or the input or parameter that already held it. Slow (a copy of the parameters
// before every run): a debugging aid.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "backends/backend.h"

namespace soma {

bool check_numerics_enabled();  // SOMA_CHECK_NUMERICS

std::unique_ptr<Executable> check_numerics(std::unique_ptr<Executable> exe,
                                           std::shared_ptr<const Graph> graph,
                                           std::vector<NodeId> outputs,
                                           std::vector<std::pair<NodeId, NodeId>> updates,
                                           std::shared_ptr<ParamStore> params);

}  // namespace soma
