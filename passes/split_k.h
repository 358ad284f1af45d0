// Split-K: a matmul with a small output and a long contraction (a convolution's weight
// gradient: [O, N*H*W] @ [N*H*W, C*KH*KW]) has too few output tiles to keep every core (or GPU
// workgroup) busy. It becomes S independent partial products over slices of k, summed:
//   A[M, K] @ B[K, N]  ->  reduce_sum over s of  A'[s, M, K/S] @ B'[s, K/S, N]
// where A' and B' are views (reshape/permute) of A and B. The partial sums are added in a fixed
// order, so results stay deterministic; they round differently from one long sum (within the
// matmul's tolerance).
//
// A target that cannot run long serial loops (max_k > 0) also gets every matmul, batched or not,
// whose k exceeds max_k split into slices of at most max_k (k padded with zeros to a multiple of
// the slice length when no slice count divides it).
#pragma once

#include <cstdint>

#include "graph/module.h"

namespace soma {

// The number of k-slices chosen for an [M, K] @ [K, N] product; 1 = not split.
int64_t split_k_slices(int64_t m, int64_t k, int64_t n);

// Rewrites every rank-2 floating-point matmul for which split_k_slices() > 1, and with max_k > 0
// every matmul whose k exceeds max_k. Returns whether anything changed.
bool split_k(Module& m, int64_t max_k = 0);

}  // namespace soma
