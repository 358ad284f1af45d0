// The kernel-IR verifier: the rules every Program must keep, checked in one place (as
// graph/verifier.h does for the graph IR). Lowering's stages run it when verification is on, both
// code generators and the kernel evaluator run it on entry, and the kernel-IR parser on what it
// reads. The rules:
//
// - ids in range: buffers, vars and expressions named by kernels, statements, outputs, updates;
//   an expression's operands are earlier expressions of its kernel;
// - types: loads have their buffer's dtype and i32 indices, masks and conditions are bool,
//   binary operands share a dtype, comparisons and and/or/not give bool, idiv/imod are i32 and
//   divide by a positive i32 constant, rand is f32/f64; a let's, a reduce's and the
//   accumulator's var has its value's dtype (a store converts its value to the buffer's
//   dtype); axes are i32 vars with extents >= 0; constants are representable in their dtype
//   (bool 0/1, i32 integers in range);
// - scopes: a var is used only where it is bound (an axis inside its loop, reduce or parallel
//   domain; a let or reduce after its statement, within the list that holds it; the accumulator
//   in the epilogue), and no var is bound twice on one path;
// - access: loads read buffers the kernel declares in reads or writes, stores write buffers it
//   declares in writes; no kernel writes an input or a constant, and a param only when it is
//   updated in place;
// - program: a contraction's parallel axes are its batch axes, then i and j; outputs and update
//   pairs name buffers, an update's target is a param of its value's dtype and size; constants
//   hold one value or one per element; planned temps lie inside the arena, aligned to their
//   dtype.
#pragma once

#include <string>
#include <vector>

#include "graph/kernel_ir.h"
#include "graph/verifier.h"

namespace soma::kir {

// Throws VerifyError for the first problem found, naming the kernel and what is wrong, e.g.
// `kernel-IR verifier: kernel add_3: store to x, an input buffer`.
void verify(const Program& p);

// Every problem found, one message each; empty for a valid program.
std::vector<std::string> verify_all(const Program& p);

}  // namespace soma::kir
