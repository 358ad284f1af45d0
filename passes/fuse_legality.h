// What lowering can build, asked by fusion before it fuses a node: a model of each kernel's
// loops (passes/lower_group.cpp builds them), kept while fusion grows a kernel from its root
// towards its inputs. Fusion decides with these predicates; lowering only asserts them.
//
// A kernel loops over the parallel axes of its root; a row kernel (softmax, layer norm) also
// loops over its rows inside each parallel point; a contraction kernel loops over its k axis
// while it packs the operands. Fused reductions and overlapping unwindows add loops of their own.
// Fusing must never put expensive work where it would run more than once per value:
//   - a fused reduction is computed once per parallel point: its index may depend on the
//     parallel vars only (not on rows, nor on another loop's vars), and it must have exactly one
//     value per parallel point;
//   - an unwindow with a loop over taps (overlapping windows) likewise, and outside every loop;
//   - a matmul is fused only as its kernel's contraction (one per kernel), read at the root's
//     own index through elementwise ops only (the epilogue); nothing with a loop sits inside a
//     contraction's operands;
//   - the reductions that make a row kernel all reduce the same axes of the root's shape.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "graph/graph.h"

namespace soma {

// Why a node is where fusion put it. The first four are not decisions to store.
enum class FuseReason : uint8_t {
  Fused,       // computed inside its consumers' kernel
  Recomputed,  // cheap: recomputed inline in every kernel that reads it
  Inline,      // a splat constant, iota or rand: always recomputed
  Buffer,      // an input, a parameter or constant data
  Output,      // a program output
  Update,      // a parameter's new value
  Scatter,     // scatter_add runs sequentially in a kernel of its own
  Shared,      // read by several kernels
  NoConsumer,  // read by nothing that fuses (recomputed nodes) and not an output
  ScatterOperand,
  TooDeep,             // the kernel's expression would grow deeper than fusion allows
  RecomputedTooLarge,  // its recomputed expression grew past the bound
  FusionOff,           // fusion disabled (SOMA_DISABLE_PASSES=fuse)
  // Legality: what the kernel's loops could not hold (see above).
  ReductionInOperand,
  ReductionRepeated,
  RowsDiffer,
  RowsBreakKernel,
  TapLoopRepeated,
  SecondContraction,
  NotEpilogue,
  ContractionBreaksKernel,
};

// One line saying why (for `soma emit fused`, the fuse dump and SOMA_DEBUG).
const char* describe(FuseReason why);

namespace fusion {

// Vars an index depends on: bit a for the root's axis a, kLoop for a var of a loop inside the
// kernel (a reduction's, an unwindow's taps, a contraction's k).
using Vars = uint8_t;
constexpr Vars kLoop = 0x80;
static_assert(kMaxRank <= 7, "one bit per root axis, and one for loops");

// How a node is read inside a kernel: the union over all its reads there.
struct Use {
  std::array<Vars, kMaxRank> index{};  // per axis of the node
  Vars mask = 0;                       // the vars of the masks its loads sit under
  bool in_loop = false;                // inside a reduction's or an unwindow's loop
  bool operand = false;                // inside a contraction's operands
  bool identity = true;                // read only at the root's own index, through elementwise ops
  void merge(const Use& o);
  Vars vars() const;
};

// How the root reads itself: every axis of size > 1 is a var.
Use root_use(const Node& root);

// How `consumer` (read as `use`) reads its input number `slot`.
Use input_use(const Graph& g, NodeId consumer, const Use& use, size_t slot);

// The state of one kernel while fusion grows it.
class KernelModel {
 public:
  KernelModel(const Graph& g, NodeId root);

  // Whether node `n`, read as `use` by its consumers in this kernel, can join it.
  FuseReason admit(NodeId n, const Use& use) const;
  // Records a node admit() accepted.
  void add(NodeId n, const Use& use);

 private:
  struct Loops {
    bool contraction = false;
    Vars rows = 0;  // the row axes of the root
  };
  struct Member {
    NodeId node;
    Use use;
  };
  FuseReason check(const Member& m, const Loops& loops) const;
  FuseReason check_all(const Loops& loops) const;
  Loops with(NodeId n) const;  // the loops once n joins
  int64_t parallel(const Loops& loops) const;

  const Graph& g_;
  NodeId root_;
  Loops loops_;
  std::vector<Member> looped_;  // the members (and root) that run loops of their own
};

// Whether an unwindow has a loop over taps (overlapping windows or a dilation).
bool has_tap_loop(const Node& unwindow);

}  // namespace fusion
}  // namespace soma
