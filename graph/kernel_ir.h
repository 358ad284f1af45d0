// The kernel IR: the loop-level contract between the passes and the code generators.
//
// A Program is an ordered list of kernels over a set of buffers. A kernel runs its body once for
// every point of its parallel domain (the code generators split that domain across threads or
// workgroups); the body is a short list of statements over scalar expressions:
//
//   kernel softmax_rows(x: f32[64,10], out y: f32[64,10]) {
//     parallel i0 in 0..64
//       v2 = reduce max j1 in 0..10 of load x[i0*10 + j1]
//       v4 = reduce sum j3 in 0..10 of exp(load x[i0*10 + j3] - v2)
//       for j5 in 0..10:
//         store y[i0*10 + j5] = exp(load x[i0*10 + j5] - v2) / v4
//   }
//
// (that is print_kernel's output; tests/kernels checks it). Its meaning is defined by the kernel
// evaluator, backends/interp/kernel_eval.h.
//
// A contraction kernel (matmul) additionally states acc = sum over k of a(..k) * b(..k) for each
// point of its parallel domain [batch..., i, j]; the body is then its epilogue and reads `acc`.
// Code generators own the tiling (packing + register micro-kernels on the CPU, shared-memory
// tiles on the GPU): a and b are arbitrary expressions of the batch/i/k and batch/k/j vars
// (loads through strided or windowed views), evaluated once per element when packing.
//
// Buffers are flat, typed arrays. Indices are i32 expressions of loop variables (a buffer holds
// fewer than 2^31 elements); broadcasting is a zero stride, transposes are permuted strides, and
// padding is a masked load that reads `other` without touching memory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "graph/dtype.h"
#include "graph/op.h"
#include "graph/shape.h"

namespace soma::kir {

using ExprId = int32_t;
using VarId = int32_t;
using BufferId = int32_t;

enum class ExprKind : uint8_t {
  Const,   // value (in dtype)
  Var,     // a loop index (i32) or a let/reduce/acc variable
  Load,    // buffer[a0]; with a mask a1 (bool): `other` where the mask is false, memory untouched
  Unary,   // op in {neg abs sign floor exp expm1 log log1p sqrt rsqrt sin cos tanh sigmoid erf not}
  Cast,    // a0 converted to dtype (f->i truncates toward zero, NaN -> 0, saturates; ->bool: != 0)
  Binary,  // op in {add sub mul div pow max min lt le gt ge eq ne and or}; also on i32 for indices
  IDiv,    // i32 floor division a0 / a1 (a1 > 0)
  IMod,    // i32 a0 mod a1 (a1 > 0), result in [0, a1)
  Select,  // a0 ? a1 : a2
  Rand,    // U[0,1) of Philox(seed, counter a0 (i32 >= 0), offset a1 (i32)) in dtype
  Word,    // word op on a0, a1: i32 operands and result read as unsigned 32-bit words
  Seed,    // i32: word `value` (0 low, 1 high) of the seed of the kernel's random draw `var`
};

// Unsigned 32-bit arithmetic, modulo 2^32 (the operations of a counter-based random number
// generator; graph/kernel_math.cpp writes Philox with them): add, mul (low word of the
// product), mulhi (high word), xor, shr (logical shift right by a constant in [0, 31]).
enum class WordOp : uint8_t { Add, Mul, MulHi, Xor, Shr };
const char* word_op_name(WordOp op);  // "u32_add", "u32_mul", ...

struct Expr {
  ExprKind kind = ExprKind::Const;
  DType dtype = DType::f32;
  Op op = Op::Add;  // Unary / Binary
  ExprId a[3] = {-1, -1, -1};
  double value = 0;           // Const; Load: `other` for masked-off elements
  VarId var = -1;             // Var
  BufferId buffer = -1;       // Load
  int64_t seed = 0;           // Rand, Seed (the value the draw had when the program was built)
  WordOp word = WordOp::Add;  // Word
  bool operator==(const Expr& o) const;
};

struct Axis {
  VarId var;
  int64_t extent;
};

struct Stmt {
  enum class Kind : uint8_t {
    Let,     // var = value
    Reduce,  // var = reduce_op over axes of (body lets; value); reduce_op is ReduceSum/ReduceMax
    Loop,    // for axes[0]: body (sequential, inside one parallel point)
    Store,   // buffer[index] = value
  };
  Kind kind = Kind::Let;
  VarId var = -1;
  ExprId value = -1;
  Op reduce_op = Op::ReduceSum;
  std::vector<Axis> axes;
  std::vector<Stmt> body;
  BufferId buffer = -1;
  ExprId index = -1;

  // The statements, whole.
  static Stmt let(VarId var, ExprId value);
  static Stmt store(BufferId buffer, ExprId index, ExprId value);
  static Stmt reduce(VarId var, Op op, std::vector<Axis> axes, ExprId value,
                     std::vector<Stmt> body = {});
  static Stmt loop(std::vector<Axis> axes, std::vector<Stmt> body = {});
};

struct Contraction {
  std::vector<Axis> batch;  // batch axes; then i in 0..M, j in 0..N (the last two parallel axes)
  Axis k;                   // the contracted axis
  ExprId a = -1;            // a value of (batch..., i, k)
  ExprId b = -1;            // a value of (batch..., k, j)
  VarId acc = -1;           // sum over k of a * b, in the kernel's accumulation dtype
};

struct Var {
  DType dtype;
  std::string name;    // i0, j1, v2, acc ... (for printing)
  int64_t extent = 0;  // > 0: a loop index known to range over [0, extent)
};

// The values an i32 index expression can take: [lo, hi], inclusive.
struct IndexRange {
  int64_t lo, hi;
};

struct Kernel {
  std::string name;
  std::vector<Axis> parallel;  // the parallel domain; for a contraction: batch..., i, j
  std::vector<Stmt> body;
  bool is_contraction = false;
  Contraction contraction;
  // A scatter kernel runs its parallel domain sequentially in order (accumulating stores), so
  // results are deterministic: scatter_add lowers to one.
  bool sequential = false;
  std::vector<Expr> exprs;  // the expression arena
  std::vector<Var> vars;
  std::vector<BufferId> reads, writes;  // buffers the kernel loads from / stores to

  // Adds an expression, reusing an identical one (hash-consing keeps the arena small and makes
  // common subexpressions shared).
  ExprId add(const Expr& e);
  // `extent` > 0 declares the var a loop index over [0, extent): index arithmetic on it is then
  // simplified with that range (kernel_index.cpp). Declare it before building expressions on it.
  VarId new_var(DType t, const std::string& prefix, int64_t extent = 0);
  const Expr& expr(ExprId id) const { return exprs[static_cast<size_t>(id)]; }

  // Helpers to build expressions.
  ExprId constant(double v, DType t);
  ExprId index_const(int64_t v) { return constant(static_cast<double>(v), DType::i32); }
  ExprId var_ref(VarId v);
  ExprId load(BufferId b, DType t, ExprId index, ExprId mask = -1, double other = 0);
  ExprId unary(Op op, ExprId x);
  ExprId binary(Op op, ExprId x, ExprId y);  // folds i32 index arithmetic on constants
  ExprId cast(ExprId x, DType t);
  ExprId select(ExprId c, ExprId x, ExprId y);
  // i32 floor division / modulo by a positive constant, simplified (kernel_index.cpp).
  ExprId idiv(ExprId x, int64_t d);
  ExprId imod(ExprId x, int64_t d);
  // The range of an i32 expression, from the extents of its loop vars; nullopt when unbounded.
  std::optional<IndexRange> index_range(ExprId x) const;
  // The simplified form of an i32 add/sub/mul, an i32 comparison or a boolean and/or; -1 when
  // there is none (binary() then builds the plain node).
  ExprId simplify_index(Op op, ExprId x, ExprId y);
  ExprId rand(int64_t seed, ExprId counter, ExprId offset, DType t);
  ExprId word_op(WordOp op, ExprId x, ExprId y);
  // Word 0 (low) or 1 (high) of the seed of random draw `draw` (see kernel_seeds).
  ExprId seed_word(int64_t seed, int32_t draw, int word);
};

struct Buffer {
  enum class Kind : uint8_t { Input, Param, Output, Temp, Constant };
  Kind kind = Kind::Temp;
  DType dtype = DType::f32;
  Shape shape;
  std::string name;          // input/param name; for outputs "out<i>"
  std::vector<double> data;  // Constant
  int64_t offset = -1;       // Temp: byte offset in the arena (memory planning)
  int64_t numel() const { return shape.numel(); }
  int64_t bytes() const { return numel() * static_cast<int64_t>(dtype_size(dtype)); }
};

struct Program {
  std::vector<Buffer> buffers;
  std::vector<Kernel> kernels;
  std::vector<BufferId> outputs;                       // one per compiled output, in order
  std::vector<std::pair<BufferId, BufferId>> updates;  // (param buffer, new value buffer);
                                                       // equal ids: updated in place
  int64_t arena_bytes = 0;      // planned size of the arena holding all Temp buffers
  int64_t unplanned_bytes = 0;  // what the temps would need without reuse (for reports)
};

// The first difference between two programs, or nullopt when they are equal: buffers, outputs,
// updates, the arena, and each kernel's axes, statements and expressions compared as trees
// (expression ids, unused expressions and vars, the order of a kernel's reads and writes and the
// extents recorded on vars do not count).
std::optional<std::string> difference(const Program& a, const Program& b);

// The seeds of a kernel's random draws, by draw: its rand expressions in id order, or, in a
// kernel whose rands were expanded into word arithmetic (kernel_math.h), the seeds its Seed
// expressions name, by their draw number. (A kernel holds one form or the other: the verifier
// checks it.)
std::vector<int64_t> kernel_seeds(const Kernel& k);
// The seeds of a program's random draws, in program order (the kernels in order, each kernel's
// draws in order). Code generators may read seeds at run time from these slots rather than build
// them into the code, so that programs differing only in their seeds (a loop over rand(...,
// seed=i)) share compiled code; `first_seed_slot` is the slot of kernel k's first draw.
std::vector<int64_t> rand_seeds(const Program& p);
int64_t first_seed_slot(const Program& p, size_t k);

// "input", "param", "output", "temp", "const": the words the printed form uses.
const char* kind_name(Buffer::Kind k);

std::string print_kernel(const Program& p, const Kernel& k);
// The program as text (the form parse_program reads, graph/kernel_parser.h). Constants with more
// than 8 values are elided unless `all_data`; an elided program does not parse back.
std::string print_program(const Program& p, bool all_data = false);

// A constant as the printed form writes it: true/false, i32 as an integer, f32 as a float with a
// '.' or an exponent (or nan, inf, -inf), f64 the same with the suffix d (0.5d, infd).
std::string scalar_text(double v, DType t);
// A buffer or kernel name as printed: as it is when it is made of letters, digits and _ . / -,
// else quoted with graph/printer.h's escapes.
std::string name_text(const std::string& name);

}  // namespace soma::kir
