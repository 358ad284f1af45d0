// Composite math as kernel IR: the functions a code generator may not have as one instruction
// (sigmoid, tanh, erf, expm1, log1p, and exp, log, sin, cos, pow in f64) and the random draws
// (Philox-4x32-10, graph/philox.h) written once, in the kernel IR's primitives (arithmetic,
// comparisons, selects, casts, integer division, floor, exp/log/sin/cos in f32, and the 32-bit
// word ops and seed words for Philox). Each code generator asks for the ones it lacks; the kernel
// evaluator checks every expansion against the functions of the C library (tests/kernels).
//
// The expansions evaluate every branch and choose with selects (no control flow, so nothing
// counts against a driver's loop limit); their comparisons are ordered so that a NaN operand
// reaches an arithmetic branch and comes out as NaN.
#pragma once

#include <utility>
#include <vector>

#include "graph/kernel_ir.h"

namespace soma::kir {

// Which (op, dtype) pairs a target wants expanded; `rand`: the random draws too (a draw then
// reads its seed through seed words, which a code generator may bind at run time).
struct MathSet {
  std::vector<std::pair<Op, DType>> fns;
  bool rand = false;
  bool has(Op op, DType t) const;
};

// Every (op, dtype) pair that has an expansion, and the random draws.
const MathSet& expandable_math();

// `k` with every unary (and, for pow, binary) expression whose (op, dtype) is in `wanted`
// replaced by its expansion (and, where `wanted.rand`, every rand expression: the kernel's draws
// keep their numbers, kernel_seeds); everything else, the statements included, is unchanged. Inside
// an expansion, composite functions other than f64 exp and log are always expanded; f64 exp and log
// are expanded where `wanted` has them.
Kernel expand_math(const Kernel& k, const MathSet& wanted);

}  // namespace soma::kir
