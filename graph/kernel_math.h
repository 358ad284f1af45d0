// Composite math as kernel IR: the functions a code generator may not have as one instruction
// (sigmoid, tanh, erf, expm1, log1p, and exp, log, sin, cos, pow in f64) written once, in the
// kernel IR's primitives (arithmetic, comparisons, selects, casts, integer division, floor, and
// exp/log/sin/cos in f32). Each code generator asks for the ones it lacks; the kernel evaluator
// checks every expansion against the functions of the C library (tests/kernels).
//
// The expansions evaluate every branch and choose with selects (no control flow, so nothing
// counts against a driver's loop limit); their comparisons are ordered so that a NaN operand
// reaches an arithmetic branch and comes out as NaN.
#pragma once

#include <utility>
#include <vector>

#include "graph/kernel_ir.h"

namespace soma::kir {

// Which (op, dtype) pairs a target wants expanded.
struct MathSet {
  std::vector<std::pair<Op, DType>> fns;
  bool has(Op op, DType t) const;
};

// Every (op, dtype) pair that has an expansion.
const MathSet& expandable_math();

// `k` with every unary (and, for pow, binary) expression whose (op, dtype) is in `wanted`
// replaced by its expansion; everything else, the statements included, is unchanged. Inside an
// expansion, composite functions other than f64 exp and log are always expanded; f64 exp and
// log are expanded where `wanted` has them.
Kernel expand_math(const Kernel& k, const MathSet& wanted);

}  // namespace soma::kir
