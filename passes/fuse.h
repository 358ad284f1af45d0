// Fusion: groups the nodes of a module into kernels.
//
// Policy (documented here because the code generators rely on it):
//   - A node is *realized* (written to a buffer by the kernel it roots) when it is an output or a
//     parameter update, a scatter_add (a sequential kernel), a node whose consumers fall into
//     different kernels, or a node that its consumers' kernel cannot hold without running
//     expensive work more than once per value (passes/fuse_legality.h: fusion asks a model of
//     the kernel's loops, and lowering never refuses what fusion decided). Inputs and params are
//     buffers; constants with data are constant buffers; splat constants, iota and rand_uniform
//     are always recomputed inline (cheap and pure).
//   - Every other node is fused into the single kernel that consumes it: elementwise ops and
//     movement ops (which become index arithmetic: broadcast = stride 0, permute = strides,
//     slice/pad/window = affine maps with masks), reductions together with their producers and
//     their elementwise consumers (a row kernel: softmax, log-softmax, layer norm become one
//     kernel), and a matmul together with its elementwise epilogue (bias, activation, scaling);
//     a matmul's operands may be any fused elementwise/movement expression, evaluated once per
//     element when the code generator packs them (conv2d's window view becomes implicit GEMM).
//   - Expensive work is never duplicated: matmuls and reductions are computed once per output
//     element (a reduction is fused only where each parallel point of its kernel needs exactly one
//     of its values). Cheap elementwise work may be recomputed inside one kernel (softmax's exp
//     appears in its sum and in its store), which costs far less than a round trip to memory.
//   - Every decision has a reason (Fusion::why), which `soma emit fused` and the pipeline's
//     `fuse` dump print next to each node.
#pragma once

#include <string>
#include <vector>

#include "graph/module.h"
#include "passes/fuse_legality.h"

namespace soma {

struct Fusion {
  // group[n]: the node whose kernel computes n (n itself when realized), -1 when n is a buffer
  // source (input/param/constant data) or inlined everywhere (splat const, iota, rand) or unused.
  std::vector<NodeId> group;
  std::vector<char> realized;  // realized[n]: n is stored to a buffer
  std::vector<NodeId> roots;   // realized computed nodes, in topological order (kernel order)
  std::vector<std::vector<NodeId>> consumers;
  std::vector<FuseReason> why;  // why[n]: why n is where it is (Fused for a fused node)
};

// Groups nodes. With enabled = false every computed node gets a kernel of its own (for
// bisecting fusion bugs: SOMA_DISABLE_PASSES=fuse).
Fusion fuse(const Module& m, bool enabled = true);

// The module as text with each live node's kernel and, for a stored node, why it is stored:
// "# kernel %R" for a node computed in the kernel rooted at %R, "# kernel %R (stored: why)" for
// the root itself, "# buffer" for inputs, parameters and constant data. Parses with parse_graph.
std::string print_fusion(const Module& m, const Fusion& f);

// Whether a node is recomputed inline wherever it is used (never a buffer or a kernel).
bool always_inline(const Node& n);

}  // namespace soma
