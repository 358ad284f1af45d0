// Internal to the LLVM backend's code generator (codegen*.cpp): the KernelEmitter, which turns one
// kernel of kernel IR into one LLVM function. Its parts live in one file per construct:
//   codegen.cpp         the driver: function setup, the parallel domain, statements, cost model,
//                       generate_module();
//   codegen_expr.cpp    expressions: types, constants, loads, casts, unary/binary ops, intrinsics,
//                       libm calls, 32-bit word ops and seed words;
//   codegen_index.cpp   index arithmetic in i64 (scalar and per-lane);
//   codegen_reduce.cpp  reductions (vectorized with a deterministic order);
//   codegen_gemm.cpp    contraction kernels: the blocked GEMM (task grid, packing, epilogue);
//   codegen_micro.cpp   the GEMM's register micro-kernel.
//
// Each kernel becomes `void k(ptr buffers, i64 begin, i64 end, ptr scratch)`. An elementwise or
// row kernel loops over the chunk [begin, end) of its flattened parallel domain as rows (all axes
// but the last, decomposed once per row) times a counted inner loop over the last axis, which the
// loop vectorizer turns into vector code. Statements map one to one: Let binds an SSA value,
// Reduce and Loop become counted loops (Reduce accumulates in a stack slot that mem2reg promotes),
// Store writes memory. Expressions are emitted once per scope and reused (the kernel IR is
// hash-consed, so common subexpressions are shared); index arithmetic of loop variables is done
// in i64 without wrapping (buffers hold fewer than 2^31 elements), so that LLVM sees consecutive
// accesses; anything that involves loaded data keeps the IR's wrapping i32 semantics.
//
// Long reductions are vectorized here, not by LLVM (which may not reorder a float sum): see
// try_vector_reduce(). Contraction kernels become a packed, cache-blocked GEMM with a register
// micro-kernel: see emit_gemm(); tiny or skinny ones keep a direct loop (emit_contraction_point).
//
// Float semantics: f32 is computed in f32 (the reference rounds f64 results once; parity tests
// allow a few ulp), f32 sums accumulate in f64 unless fast math is on, max/min propagate NaN
// (llvm.maximum/minimum), f->i casts saturate with NaN -> 0 (llvm.fptosi.sat), integer ops wrap,
// f32 exp is inline polynomial code (below 1 ulp, vectorizes; see exp_of), f64 exp and
// log/sin/cos/pow are LLVM intrinsics and expm1/log1p/tanh/erf libm calls (resolved from the
// process), sigmoid uses one exp of -|x|.
//
// Includes LLVM headers: include it from backends/llvm/codegen*.cpp only.
#pragma once

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backends/llvm/codegen.h"
#include "graph/error.h"

namespace soma::jit::detail {

using kir::Axis;
using kir::BufferId;
using kir::ExprId;
using kir::ExprKind;
using kir::Stmt;
using kir::VarId;

// Throws BackendError: kernel `k` of `p` cannot be compiled because of `what`.
[[noreturn]] void unsupported(const kir::Program& p, const kir::Kernel& k, const std::string& what);

// An i32 index expression as a linear form over loop variables: c0 + sum of coef * var, plus
// terms coef * ((x // div) % mod) ("atoms"; mod 0: no modulo) that could not be resolved yet. The
// sums that lowering writes for reshapes, such as x // 784 * 784 + x // 28 % 28 * 28 + x % 28,
// recombine into x, so a flattened view is recognized as a plain strided access.
struct LinearIndex {
  struct Atom {
    ExprId x = -1;
    int64_t div = 1, mod = 0, coef = 0;
  };
  std::vector<std::pair<VarId, int64_t>> vars;  // (variable, coefficient), coefficients != 0
  std::vector<Atom> atoms;
  int64_t c0 = 0;
  bool divmod = false;  // written with // or %
  int64_t coef(VarId v) const {
    for (const auto& [w, c] : vars)
      if (w == v) return c;
    return 0;
  }
};

class KernelEmitter {
 public:
  // `k` is kernel `index` of `p`, its composite math expanded (graph/kernel_math.h).
  KernelEmitter(const kir::Program& p, const kir::Kernel& k, size_t index, llvm::Module& m,
                const CodegenTarget& target)
      : p_(p), k_(k), index_(index), m_(m), ctx_(m.getContext()), b_(ctx_), target_(target) {
    i1_ = llvm::Type::getInt1Ty(ctx_);
    i8_ = llvm::Type::getInt8Ty(ctx_);
    i32_ = llvm::Type::getInt32Ty(ctx_);
    i64_ = llvm::Type::getInt64Ty(ctx_);
    ptr_ = llvm::PointerType::get(ctx_, 0);
    if (target.fast_math) {
      llvm::FastMathFlags fmf;
      fmf.setAllowReassoc();
      fmf.setAllowContract();
      fmf.setApproxFunc();
      fmf.setAllowReciprocal();
      fmf.setNoSignedZeros();
      b_.setFastMathFlags(fmf);
    }
  }

  KernelInfo emit(const std::string& symbol);

 private:
  // ---- setup, the parallel domain, statements, cost model: codegen.cpp ----

  void set_function_attributes(llvm::Function* f);

  // Variable kinds, let definitions, and which expressions depend on memory this kernel writes.
  void analyze();

  void mark_axis(const Axis& a);

  void load_buffer_pointers();
  // Marks a load or store of buffer b as touching b only (the alias scopes of
  // load_buffer_pointers()).
  void tag_access(llvm::Value* access, BufferId b);

  // ---- types and constants (codegen_expr.cpp) ----

  llvm::Type* type(DType t);
  llvm::Type* mem_type(DType t) { return t == DType::boolean ? i8_ : type(t); }

  llvm::Value* constant(double v, DType t);
  llvm::Value* i64c(int64_t v) {
    return llvm::ConstantInt::get(i64_, static_cast<uint64_t>(v), true);
  }

  // ---- scopes ----

  struct Binding {
    llvm::Value* value = nullptr;  // the variable's value in its dtype
    llvm::Value* index = nullptr;  // loop axes: the counter as i64
  };
  struct Saved {
    std::vector<Binding> vars;
    std::vector<llvm::Value*> vcache, icache, vvcache;
  };
  Saved push() { return Saved{vars_, vcache_, icache_, vvcache_}; }
  void pop(Saved& s) {
    vars_ = std::move(s.vars);
    vcache_ = std::move(s.vcache);
    icache_ = std::move(s.icache);
    vvcache_ = std::move(s.vvcache);
  }

  void bind_axis(VarId v, llvm::Value* counter) {
    Binding& bd = vars_[static_cast<size_t>(v)];
    bd.index = counter;
    bd.value = b_.CreateTrunc(counter, type(k_.vars[static_cast<size_t>(v)].dtype));
  }
  void bind_value(VarId v, llvm::Value* value) {
    vars_[static_cast<size_t>(v)] = Binding{value, nullptr};
  }

  llvm::AllocaInst* entry_alloca(llvm::Type* t, const char* name) {
    llvm::IRBuilder<> tmp(entry_, entry_->begin());
    return tmp.CreateAlloca(t, nullptr, name);
  }

  // for (i = lo; i < hi; ++i) body(i), with an i64 counter.
  template <typename F>
  void for_range(llvm::Value* lo, llvm::Value* hi, const char* name, F&& body) {
    llvm::BasicBlock* pre = b_.GetInsertBlock();
    auto* head = llvm::BasicBlock::Create(ctx_, std::string(name) + ".head", fn_);
    auto* loop = llvm::BasicBlock::Create(ctx_, std::string(name) + ".body", fn_);
    auto* exit = llvm::BasicBlock::Create(ctx_, std::string(name) + ".exit", fn_);
    b_.CreateBr(head);
    b_.SetInsertPoint(head);
    llvm::PHINode* i = b_.CreatePHI(i64_, 2, name);
    i->addIncoming(lo, pre);
    b_.CreateCondBr(b_.CreateICmpSLT(i, hi), loop, exit);
    b_.SetInsertPoint(loop);
    body(static_cast<llvm::Value*>(i));
    llvm::Value* next = b_.CreateAdd(i, i64c(1), "", true, true);
    i->addIncoming(next, b_.GetInsertBlock());
    llvm::BranchInst* back = b_.CreateBr(head);
    if (plain_loops_) back->setMetadata(llvm::LLVMContext::MD_loop, plain_loop_md());
    b_.SetInsertPoint(exit);
  }

  // Loop metadata that keeps a loop as written: neither vectorized nor unrolled (packing loops,
  // whose transformed copies would cost compile time for little gain).
  llvm::MDNode* plain_loop_md();
  // While set, loops emitted by for_range carry plain_loop_md().
  bool plain_loops_ = false;
  struct PlainLoops {
    KernelEmitter& e;
    bool saved;
    PlainLoops(KernelEmitter& em, bool on) : e(em), saved(em.plain_loops_) { e.plain_loops_ = on; }
    ~PlainLoops() { e.plain_loops_ = saved; }
  };

  // Nested counted loops over `axes` (outermost first), binding each axis variable.
  template <typename F>
  void for_axes(const std::vector<Axis>& axes, size_t d, F&& body) {
    if (d == axes.size()) {
      body();
      return;
    }
    for_range(i64c(0), i64c(axes[d].extent), "ax", [&](llvm::Value* i) {
      bind_axis(axes[d].var, i);
      for_axes(axes, d + 1, body);
    });
  }

  // ---- the parallel domain (codegen.cpp) ----

  void emit_domain();
  // The rows' visiting order, outermost axis first (indices into k_.parallel).
  std::vector<size_t> row_order();

  // One point of the parallel domain.
  void emit_point();

  // Phase-1 contraction: acc = sum over k of a * b (fused multiply-add, in the acc dtype), then
  // the epilogue statements with acc bound.
  void emit_contraction_point();

  // ---- GEMM (contraction kernels): codegen_gemm.cpp ----

  struct Gemm {
    DType t = DType::f32;
    llvm::Type* et = nullptr;
    int64_t esz = 4, batch = 1, M = 0, N = 0, K = 0;
    int64_t vf = 16, MR = 12, NR = 32;       // micro-kernel: MR rows x NR columns (two vectors)
    int64_t KC = 256, nkb = 1;               // k-slices
    int64_t MT = 0, mb = 1, NT = 0, nb = 1;  // a task's block (MT x NT) and the task grid
    int64_t MC = 0;                          // rows of a C tile (within a task's block)
    bool b_whole = false;   // the packed B holds every k-slice (packed once per task)
    bool b_kmajor = false;  // B's source is contiguous along k (packed along k)
    bool a_direct = false;  // A read in place: a(i, k) = A[i * a_stride + k] (a_rows) or
    bool a_rows = false;    //   A[i + k * a_stride]
    int64_t a_stride = 0;
    bool a_rowpack = false;  // packed A slivers are row-major (MR rows of kc), else k-major
    int64_t a_bytes = 0, b_bytes = 0, c_bytes = 0;
    double task_cycles = 0;  // the plan's estimate of one task's time
    size_t batch_axes = 0;
    llvm::Function *micro_packed = nullptr, *micro_direct = nullptr;
  };

  static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
  static int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

  bool plan_gemm(Gemm& g);

  // for (i = lo; i < hi; ++i) { scope; body(i) }
  template <typename F>
  void scoped_range(llvm::Value* lo, llvm::Value* hi, const char* name, F&& body) {
    for_range(lo, hi, name, [&](llvm::Value* i) {
      Saved s = push();
      body(i);
      pop(s);
    });
  }

  // if (cond) then_body() else else_body()
  template <typename F, typename G>
  void if_else(llvm::Value* cond, F&& then_body, G&& else_body) {
    auto* tb = llvm::BasicBlock::Create(ctx_, "then", fn_);
    auto* eb = llvm::BasicBlock::Create(ctx_, "else", fn_);
    auto* done = llvm::BasicBlock::Create(ctx_, "endif", fn_);
    b_.CreateCondBr(cond, tb, eb);
    b_.SetInsertPoint(tb);
    {
      Saved s = push();
      then_body();
      pop(s);
    }
    b_.CreateBr(done);
    b_.SetInsertPoint(eb);
    {
      Saved s = push();
      else_body();
      pop(s);
    }
    b_.CreateBr(done);
    b_.SetInsertPoint(done);
  }

  llvm::Value* smin(llvm::Value* a, llvm::Value* b) {
    return b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, a, b);
  }
  llvm::Value* elem_ptr(llvm::Type* t, llvm::Value* base, llvm::Value* index) {
    return b_.CreateInBoundsGEP(t, base, index);
  }

  // The blocked GEMM of a contraction kernel (plan_gemm() chose the blocking).
  void emit_gemm(Gemm& g);
  // Operand `id` as a plain strided load (base + rs * r + cs * k) that can be read in place.
  bool direct_operand(ExprId id, DType t, VarId r, VarId kv, int64_t& rs, int64_t& cs);
  // Whether packing `id` vectorizes better along k than along r.
  bool pack_along_k(ExprId id, VarId r, VarId kv, bool tie);
  // Whether a sliver read in place spreads over the L1 sets.
  static bool sliver_spread(int64_t count, int64_t stride, int64_t bytes);
  // VF lanes of `id` along variable v from v0 (the first `lanes` only, 0: all).
  llvm::Value* lanes_along(ExprId id, VarId v, llvm::Value* v0, DType t, unsigned lanes = 0);
  llvm::Constant* lane_mask(unsigned n, unsigned lanes);
  // Transposes a square block of vectors (n vectors of n lanes).
  std::vector<llvm::Value*> transpose(std::vector<llvm::Value*> rows);
  // Packing of B's panels and of one A sliver for a k-slice.
  void pack_b(const Gemm& g, llvm::Value* bp, llvm::Value* n0, llvm::Value* panels, llvm::Value* pc,
              llvm::Value* kc, VarId jv);
  void pack_a(const Gemm& g, llvm::Value* ap, llvm::Value* i0, llvm::Value* pc, llvm::Value* kc,
              VarId iv);
  // The register micro-kernel for an A layout (codegen_micro.cpp).
  llvm::Function* emit_micro_kernel(const Gemm& g, bool rows, int64_t stride);

  // ---- statements (codegen.cpp; reduce() in codegen_reduce.cpp) ----

  void stmts(const std::vector<Stmt>& body);

  void reduce(const Stmt& s);

  void store(const Stmt& s);

  // ---- vectorized reductions: codegen_reduce.cpp ----
  //
  // A Reduce whose innermost axis is long enough runs that axis VF lanes at a time into U vector
  // accumulators (element j goes to accumulator (j / VF) % U, lane j % VF), finishes with masked
  // tail vectors into accumulator 0, then combines the accumulators pairwise and the lanes in
  // order. The order depends only on the code, never on threads or chunking, and f32 sums carry
  // U*VF partial sums (more accurate than one running sum).

  static constexpr unsigned kAccumulators = 4;

  // t: the accumulation dtype (the result is bound in it; the caller converts).
  bool try_vector_reduce(const Stmt& s, DType t, bool is_max);

  void bind_vector_var(llvm::Value* j0);

  // Points of the innermost parallel axis VF at a time (column reductions).
  bool column_vectorizable();
  void emit_points_vector(llvm::Value* j0);

  // Whether `id` varies across the lanes of the vectorized axis.
  bool varying(ExprId id);

  // The value of `id` for the vf lanes: a vector, or a scalar when it is the same in every lane.
  llvm::Value* vval(ExprId id);

  llvm::Value* vload(const kir::Expr& e);

  // ---- expressions: codegen_expr.cpp ----
  //
  // The op helpers below work on scalars and on vectors alike: constants take the shape of an
  // operand (ConstantFP/ConstantInt::get splat over vector types).

  llvm::Value* val(ExprId id);

  // An expression id as an index into the kernel's arena (the verifier keeps ids in range).
  static size_t expr_index(ExprId id) { return static_cast<size_t>(id); }

  llvm::Value* var_value(VarId var);

  llvm::Value* val_uncached(ExprId id);

  // The type of dtype `t` in the shape of `like` (a vector of the same length, or a scalar).
  llvm::Type* shaped(DType t, llvm::Value* like) { return shaped(type(t), like); }
  llvm::Type* shaped(llvm::Type* scalar, llvm::Value* like) {
    if (auto* vt = llvm::dyn_cast<llvm::VectorType>(like->getType()))
      return llvm::VectorType::get(scalar, vt->getElementCount());
    return scalar;
  }
  llvm::Value* cint(llvm::Value* like, int64_t v) {
    return llvm::ConstantInt::get(like->getType(), static_cast<uint64_t>(v), true);
  }
  llvm::Value* fconst(llvm::Value* like, double v) {
    return llvm::ConstantFP::get(like->getType(), v);
  }
  // Makes x and y the same shape (a scalar operand is splatted to the other's vector length).
  void match_shapes(llvm::Value*& x, llvm::Value*& y) {
    auto* vx = llvm::dyn_cast<llvm::VectorType>(x->getType());
    auto* vy = llvm::dyn_cast<llvm::VectorType>(y->getType());
    if (vx && !vy) y = b_.CreateVectorSplat(vx->getElementCount(), y);
    if (vy && !vx) x = b_.CreateVectorSplat(vy->getElementCount(), x);
  }

  llvm::Value* select_op(llvm::Value* c, llvm::Value* x, llvm::Value* y, DType tx, DType ty);

  llvm::Value* idiv_op(llvm::Value* a, llvm::Value* d, bool mod);

  // Floor division / modulo for a positive divisor (any width, scalar or vector).
  llvm::Value* floor_divmod(llvm::Value* a, llvm::Value* d, bool mod);

  llvm::Value* load(const kir::Expr& e);

  llvm::Value* convert(llvm::Value* x, DType from, DType to);

  llvm::Value* call_libm(const char* f32_name, const char* f64_name, llvm::Value* x);

  // Whether fast math replaces this f32 function call by inline polynomial code.
  // e^x. f32 (in every mode) is computed inline, so that it vectorizes: x = n ln2 + r with
  // |r| <= ln2/2 (Cody-Waite split of ln2), e^r by its degree-7 Taylor polynomial in fused
  // multiply-adds (at most 0.94 ulp from e^x over every f32 input, checked exhaustively on a
  // 1/97 sample), times 2^n built in the exponent bits of two factors (so that every n from -150
  // to 128 is representable, subnormal results included). NaN and the overflow to inf are kept.
  // f64 calls the exp intrinsic (libm).
  llvm::Value* exp_of(llvm::Value* x);

  llvm::Value* unary_op(Op op, llvm::Value* x, DType t);

  llvm::Value* binary_op(Op op, llvm::Value* x, llvm::Value* y, DType t, DType ty);

  llvm::Value* word_op(kir::WordOp op, llvm::Value* x, llvm::Value* y);
  llvm::Value* seed_word(const kir::Expr& e);

  // ---- index arithmetic in i64: codegen_index.cpp ----

  // Whether `id` is i32 arithmetic of loop counters and constants only (never overflows for a
  // valid program, so it can be computed in i64 without wrapping).
  bool pure(ExprId id);

  bool nonneg(ExprId id);

  // The value of i32 expression `id` as an i64 index.
  llvm::Value* idx(ExprId id);

  llvm::Value* idx_pure(const kir::Expr& e);

  // The linear form of pure index expression `id` (see LinearIndex); false when it has none.
  // Exact for variables within their axes' extents.
  bool linear_index(ExprId id, LinearIndex& out);
  bool linear_index_uncached(ExprId id, LinearIndex& out);
  // (x // div) % mod for x with linear form lx, resolved to a linear form where the ranges of
  // the variables allow it, else kept as an atom.
  LinearIndex divmod_form(ExprId x, const LinearIndex& lx, int64_t div, int64_t mod);
  // Collects like terms and recombines atoms of the same x (see LinearIndex).
  void simplify_form(LinearIndex& f);
  // The smallest and largest value of an atom-free form (false when a variable's range is
  // unknown).
  bool form_range(const LinearIndex& f, int64_t& lo, int64_t& hi);
  // The value of an atom-free form for the current loop counters, as i64.
  llvm::Value* emit_linear(const LinearIndex& f);

  // `id` (a pure index) as base + stride * lane, when it is affine in the vectorized variable.
  bool affine(ExprId id, int64_t& stride);

  // Per-lane i32 indices of a varying index expression (a gather's offsets).
  llvm::Value* vidx(ExprId id);
  // vidx of an add/sub tree: the lanes' terms as vectors, the others as one scalar.
  llvm::Value* vidx_sum(ExprId id);

  // ---- cost model (codegen.cpp) ----

  int64_t expr_cost(ExprId id, std::vector<char>& seen);

  int64_t stmts_cost(const std::vector<Stmt>& body);

  int64_t estimate_cost();

  // ---- state ----

  const kir::Program& p_;
  const kir::Kernel& k_;
  size_t index_;
  llvm::Module& m_;
  llvm::LLVMContext& ctx_;
  llvm::IRBuilder<> b_;
  const CodegenTarget& target_;
  llvm::Type *i1_, *i8_, *i32_, *i64_;
  llvm::PointerType* ptr_;

  llvm::Function* fn_ = nullptr;
  llvm::BasicBlock* entry_ = nullptr;
  llvm::Value *args_ = nullptr, *begin_ = nullptr, *end_ = nullptr, *scratch_ = nullptr;
  std::vector<llvm::Value*> base_;
  std::vector<llvm::Value*> seed_;  // by draw: the i64 seed of the kernel's draw, read at entry
  std::vector<llvm::MDNode*> scope_, noalias_;  // per buffer: its alias scope, the others

  std::vector<Binding> vars_;
  std::vector<llvm::Value*> vcache_, icache_, vvcache_;
  // Vectorized reduction state: the lane variable, lanes, its per-lane values, the tail mask.
  VarId vvar_ = -1;
  unsigned vf_ = 0;
  llvm::Value *jvec64_ = nullptr, *jvec32_ = nullptr, *tail_mask_ = nullptr;
  std::vector<int8_t> varying_;
  std::vector<VarId> body_lets_;
  std::vector<char> vec_var_;  // points vectorized: reduction results held as vectors
  std::vector<ExprId> let_expr_;
  std::vector<char> is_axis_;
  std::vector<int64_t> extent_;    // loop variables: the extent of their axis
  std::vector<int8_t> lin_state_;  // linear_index() memo: -1 unknown, 0 not linear, 1 linear
  std::vector<LinearIndex> lin_;
  std::vector<int8_t> pure_, nonneg_;
  std::vector<char> volatile_;
  std::vector<BufferId> written_;
};

}  // namespace soma::jit::detail
