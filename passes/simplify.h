// Algebraic simplification and constant folding.
//
// Rebuilds the graph node by node (through Graph::add, so every rewrite is checked by the op's
// rule), rewriting each node in terms of its already simplified inputs, and repeats until nothing
// changes. Only the nodes the outputs and updates need are rebuilt. Every rewrite keeps the value
// of every element exactly (the interpreter gives the same bits before and after), except that
// dropping an added or subtracted zero (-0 + 0 is +0, -0 - -0 is +0) or a sum over size-1 axes
// may turn a -0.0 into +0.0, as XLA's and TVM's simplifiers do.
//
// "c" below is a splat constant: a const node whose elements all have one value, seen through
// reshapes and broadcasts of it.
//
//   constant folding   a node whose inputs are all consts becomes a const computed by the FoldFn
//                      when its output has at most 4096 elements; an elementwise node whose
//                      inputs are all splats becomes a splat of any size (computed on scalars)
//   splats             reshape, broadcast, permute, slice, flip, reduce_max of a splat (and pad
//                      with the splat's own value, concat of equal splats) -> a splat of the
//                      result type;
//                      a const whose values are all equal -> a one-value splat
//   identities         x+0, 0+x, x-0, x*1, 1*x, x/1 -> x;  x*-1, -1*x, x/-1 -> neg x;
//                      x*0, 0*x, x-x -> 0 for i32 only;  max(x,x), min(x,x) -> x;
//                      and(x,true), or(x,false), and(x,x), or(x,x) -> x;
//                      and(x,false) -> false;  or(x,true) -> true
//   involutions        neg(neg x), not(not x) -> x
//   sign folding       x + neg y -> x - y;  neg x + y -> y - x;  x - neg y -> x + y
//   select             select(c, x, x) -> x;  select(splat c, a, b) -> a or b;
//                      select(not c, a, b) -> select(c, b, a)
//   no-op movement     reshape, broadcast, slice, pad to the input's own type, permute by the
//                      identity, flip of size-1 axes, concat of one input, reduce over size-1
//                      axes -> x
//   movement chains    reshape(reshape x) -> reshape x;  broadcast(broadcast x) -> broadcast x;
//                      permute(permute x) -> one composed permute (none when it is the identity)
//   casts              cast to x's own dtype -> x;  cast(cast x) -> cast x when the inner cast
//                      keeps every value (bool -> any, i32 -> f64, f32 -> f64)
//   stop_gradient x    -> x: the pipeline runs after autodiff, on the copy compile() extracts, so
//                      nothing differentiates it again (the frontend's graph keeps its nodes)
//
// Deliberately not rewritten (not exact in floating point):
//   x*0 and 0*x for floats (inf*0 and nan*0 are NaN);  x-x for floats (inf-inf is NaN);
//   exp(log x) (NaN for x < 0, not x);  log(exp x) (exp overflows to inf for x > ~88 in f32);
//   0-x -> neg x (0-0 is +0, neg 0 is -0);  cast(cast x) through a narrower type (f64->f32->f64
//   rounds, f32->i32->f32 truncates);  x/c -> x*(1/c) (1/c rounds);  reassociation.
//
// Never folded or replaced: input, param, iota and rand_uniform nodes (param nodes stay the
// targets of their updates).
#pragma once

#include "graph/module.h"
#include "passes/fold_fn.h"

namespace soma {

// Simplifies `m` in place (outputs and updates remapped). With an empty `fold`, no constant
// folding. Returns whether the module changed.
bool simplify(Module& m, const FoldFn& fold);

}  // namespace soma
