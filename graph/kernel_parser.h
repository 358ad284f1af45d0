// Parses the kernel IR's text form (print_program, graph/kernel_ir.h) back into a Program, so that
// a `.kir` dump (SOMA_DUMP_DIR) is a replayable input (`soma emit llvm file.kir`) and kernel tests
// can be written as text:
//
//   program {
//     buffers:
//       x: input f32[4]
//       out0: output f32[4]
//     outputs: out0
//     arena: 0 bytes (0 without reuse)
//   }
//   kernel twice(x: f32[4], out out0: f32[4]) {
//     parallel i0 in 0..4
//       store out0[i0] = load x[i0]*2.0
//   }
//
// Statements are one a line; a `for` body is the lines below it indented further, a reduce with
// lets is `v = reduce sum r in 0..n {` ... `yield value` `}`. Types follow from the text:
// integer literals are i32, literals with a '.' or exponent f32 (suffix d: f64), true/false bool,
// loads have their buffer's dtype, a var its definition's. Vars are named where they are bound
// (an axis, a let, a reduce, the contraction's accumulator) and keep their printed names; loop
// vars get their axis's extent. For every valid program p printed with all its data,
// parse_program(print_program(p, true)) equals p (kir::difference in kernel_ir.h is empty).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "graph/kernel_ir.h"

namespace soma::kir {

// Throws ParseError (line and column) for bad syntax, an unknown name, op, dtype or var, elided
// constant data, or a program the kernel-IR verifier rejects (its message is kept).
Program parse_program(std::string_view text);

}  // namespace soma::kir
