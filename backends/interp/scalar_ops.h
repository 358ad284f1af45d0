// The scalar meaning of soma's elementwise ops, shared by the graph interpreter (elementwise.cpp)
// and the kernel-IR evaluator (kernel_eval.cpp), so the two cannot drift apart. Floats are
// computed in f64 (the caller rounds to the result dtype); i32 is computed in 64-bit and wrapped.
#pragma once

#include <cstdint>

#include "graph/dtype.h"
#include "graph/op.h"

namespace soma::interp {

// neg abs sign floor exp expm1 log log1p sqrt rsqrt sin cos tanh sigmoid erf.
double unary_float(Op op, double x);
// neg abs sign.
int64_t unary_int(Op op, int64_t x);
// add sub mul div pow max min; max/min propagate NaN.
double binary_float(Op op, double a, double b);
// add sub mul max min.
int64_t binary_int(Op op, int64_t a, int64_t b);
// lt le gt ge eq ne.
bool compare(Op op, double a, double b);
// Two's complement wrap-around to 32 bits.
int32_t wrap32(int64_t v);
// `v` converted to `t` as Array::set stores it: rounded to f32; truncated toward zero for i32
// (NaN -> 0, saturating); != 0 for bool.
double convert_to(DType t, double v);

}  // namespace soma::interp
