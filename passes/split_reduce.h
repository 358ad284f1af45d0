// Split-reduce: a reduction longer than the target can run in one serial loop becomes a tree of
// shorter ones (XLA's tree reduction rewrite). The reduced axes are moved last and flattened, the
// flat axis is padded with the reduction's identity to S chunks of C elements (C <= max_extent),
// each chunk is reduced, then the S partial results, again split while S > max_extent:
//   reduce_sum(x[M, E], axis 1)  ->  reduce_sum(reduce_sum(pad(x)[M, S, C], axis 2), axis 1)
// Sums of i32 wrap as before; max keeps NaN propagation (the padding is -inf / INT32_MIN). A
// target without a serial limit (max_extent 0) is left alone. The partial sums are added in a
// fixed order, so results stay deterministic; float sums round differently from one long sum
// (more accurately: a two-level sum).
#pragma once

#include <cstdint>

#include "graph/module.h"

namespace soma {

// Rewrites every reduce_sum / reduce_max whose reduced extent exceeds max_extent (> 1); returns
// whether anything changed. max_extent <= 0: no limit, nothing changes.
bool split_reduce(Module& m, int64_t max_extent);

}  // namespace soma
