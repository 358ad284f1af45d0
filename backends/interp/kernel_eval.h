// The kernel-IR evaluator: the executable meaning of a lowered kir::Program, so that fusion and
// lowering are tested before (and independently of) any code generator:
//   interpret(graph) == run_program(lower(graph)) within tolerance.
//
// Semantics (what every code generator must reproduce):
//  - Kernels run in program order. A kernel runs its body once per point of its parallel domain,
//    in row-major order; `reduce` and `for` iterate their axes row-major.
//  - Every expression node is computed in f64 from its operands and rounded to its own dtype (f32
//    via float, i32 arithmetic wraps, bool is 0/1), so results track f32 code generators closely.
//    Sums (reduce sum, contraction acc) accumulate in f64 (i32: in 64-bit, wrapped at the end);
//    reduce max starts at -inf and propagates NaN.
//  - A masked load whose mask is false reads its `other` value without touching memory; any other
//    out-of-bounds access is an internal bug (SOMA_CHECK, with the kernel printed). Both arms of a
//    select are evaluated, as branch-free code generators do, so a select cannot guard an
//    out-of-bounds load: that takes a masked load.
//  - Stores convert to the buffer's dtype. Only Temp, Output and in-place-updated Param buffers
//    may be written.
//  - Temp and Output storage starts as NaN bytes (i32: -1): a kernel must write every element it
//    or a later kernel reads — no buffer is assumed to be zero. Planned temps (offset >= 0) live in
//    one arena of Program::arena_bytes at their offsets, so overlapping live temps give wrong
//    results.
//  - In a parallel (non-sequential) kernel, no element may be written by one point and read or
//    written by another (a data race on a threaded backend): checked, SOMA_CHECK. A sequential
//    kernel (scatter) runs its points in order and may accumulate.
//  - Updates: (param, value) with different buffers copy the value into the ParamStore after all
//    kernels; an in-place update (equal ids) writes the store's storage directly.
#pragma once

#include <memory>
#include <vector>

#include "backends/backend.h"
#include "graph/kernel_ir.h"
#include "runtime/array.h"
#include "runtime/param_store.h"

namespace soma {

// Runs `p` once: Input buffers are bound from `feeds` by name (checked like every backend's
// inputs), Param buffers to the storage of `params` by name. Returns the outputs as fresh arrays
// (never aliasing parameter storage). With write_updates, parameter updates land in `params`;
// without, `params` is left untouched (in-place updates then write a private copy).
std::vector<Array> run_program(const kir::Program& p, const Feeds& feeds, ParamStore& params,
                               bool write_updates);

// The "interp-kernels" backend: runs CompileRequest::program with run_program (a BackendError
// when the request carries no lowered program).
std::unique_ptr<Backend> make_kernel_interp_backend();

}  // namespace soma
