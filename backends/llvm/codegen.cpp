// Kernel IR -> LLVM IR.
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
// exp/log/sin/cos/pow are LLVM intrinsics and expm1/log1p/tanh/erf libm calls (resolved from the
// process), sigmoid uses one exp of -|x|.
#include "backends/llvm/codegen.h"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include <cctype>
#include <cmath>
#include <functional>
#include <limits>

#include "graph/error.h"

namespace soma::jit {

namespace {

using kir::Axis;
using kir::BufferId;
using kir::ExprId;
using kir::ExprKind;
using kir::Stmt;
using kir::VarId;

[[noreturn]] void unsupported(const kir::Program& p, const kir::Kernel& k,
                              const std::string& what) {
  SOMA_THROW(BackendError, "llvm backend: cannot compile kernel '" << k.name << "': " << what
                                                                   << "\n"
                                                                   << kir::print_kernel(p, k));
}

class KernelEmitter {
 public:
  KernelEmitter(const kir::Program& p, const kir::Kernel& k, llvm::Module& m,
                const CodegenTarget& target)
      : p_(p), k_(k), m_(m), ctx_(m.getContext()), b_(ctx_), target_(target) {
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

  KernelInfo emit(const std::string& symbol) {
    analyze();
    KernelInfo info;
    info.symbol = symbol;
    info.sequential = k_.sequential;
    info.tasks = 1;
    for (const Axis& a : k_.parallel) info.tasks *= a.extent;
    info.cost_per_task = std::max<int64_t>(1, estimate_cost());
    int64_t inner = k_.parallel.empty() ? 1 : k_.parallel.back().extent;
    info.grain = inner >= 1 && inner <= 256 ? inner : 64;
    Gemm gemm;
    const bool use_gemm = plan_gemm(gemm);
    if (use_gemm) {
      info.tasks = gemm.batch * gemm.mb * gemm.nb;
      info.cost_per_task = info.cost_per_task * gemm.MC * gemm.NC;
      info.grain = 1;
      info.scratch_bytes = gemm.a_bytes + gemm.b_bytes + gemm.c_bytes;
    }

    auto* fty =
        llvm::FunctionType::get(llvm::Type::getVoidTy(ctx_), {ptr_, i64_, i64_, ptr_}, false);
    fn_ = llvm::Function::Create(fty, llvm::Function::ExternalLinkage, symbol, m_);
    set_function_attributes(fn_);
    fn_->addParamAttr(0, llvm::Attribute::NoAlias);
    fn_->addParamAttr(0, llvm::Attribute::ReadOnly);
    fn_->addParamAttr(3, llvm::Attribute::NoAlias);
    args_ = fn_->getArg(0);
    begin_ = fn_->getArg(1);
    end_ = fn_->getArg(2);
    scratch_ = fn_->getArg(3);
    args_->setName("buffers");
    begin_->setName("begin");
    end_->setName("end");
    scratch_->setName("scratch");

    entry_ = llvm::BasicBlock::Create(ctx_, "entry", fn_);
    b_.SetInsertPoint(entry_);
    load_buffer_pointers();
    if (info.tasks > 0) {
      if (use_gemm)
        emit_gemm(gemm);
      else
        emit_domain();
    }
    b_.CreateRetVoid();

    std::string err;
    llvm::raw_string_ostream os(err);
    if (llvm::verifyFunction(*fn_, &os)) {
      os.flush();
      SOMA_CHECK(false) << "llvm backend generated invalid IR for kernel " << k_.name << ": " << err
                        << "\n"
                        << kir::print_kernel(p_, k_);
    }
    return info;
  }

 private:
  // ---- setup ----

  void set_function_attributes(llvm::Function* f) {
    f->addFnAttr(llvm::Attribute::NoUnwind);
    if (!target_.cpu.empty()) f->addFnAttr("target-cpu", target_.cpu);
    if (!target_.features.empty()) f->addFnAttr("target-features", target_.features);
    if (target_.vector_bits >= 512) f->addFnAttr("prefer-vector-width", "512");
    if (target_.fast_math) {
      f->addFnAttr("unsafe-fp-math", "true");
      f->addFnAttr("no-signed-zeros-fp-math", "true");
      f->addFnAttr("approx-func-fp-math", "true");
    }
  }

  // Variable kinds, let definitions, and which expressions depend on memory this kernel writes.
  void analyze() {
    size_t nv = k_.vars.size(), ne = k_.exprs.size();
    vars_.assign(nv, Binding{});
    let_expr_.assign(nv, -1);
    is_axis_.assign(nv, 0);
    vcache_.assign(ne, nullptr);
    icache_.assign(ne, nullptr);
    vvcache_.assign(ne, nullptr);
    pure_.assign(ne, -1);
    nonneg_.assign(ne, -1);
    volatile_.assign(ne, 0);
    for (const Axis& a : k_.parallel) mark_axis(a.var);
    if (k_.is_contraction) {
      for (const Axis& a : k_.contraction.batch) mark_axis(a.var);
      mark_axis(k_.contraction.k.var);
    }
    std::function<void(const std::vector<Stmt>&)> scan = [&](const std::vector<Stmt>& body) {
      for (const Stmt& s : body) {
        if (s.kind == Stmt::Kind::Let) let_expr_.at(static_cast<size_t>(s.var)) = s.value;
        for (const Axis& a : s.axes) mark_axis(a.var);
        if (s.kind == Stmt::Kind::Store) written_.push_back(s.buffer);
        scan(s.body);
      }
    };
    scan(k_.body);
    for (BufferId w : k_.writes) written_.push_back(w);
    // Expressions are in topological order (operands first).
    for (size_t i = 0; i < ne; ++i) {
      const kir::Expr& e = k_.exprs[i];
      bool v = false;
      if (e.kind == ExprKind::Load)
        for (BufferId w : written_) v = v || w == e.buffer;
      for (ExprId a : e.a)
        if (a >= 0) v = v || volatile_[static_cast<size_t>(a)];
      volatile_[i] = v;
    }
  }

  void mark_axis(VarId v) {
    if (v < 0 || static_cast<size_t>(v) >= k_.vars.size()) unsupported(p_, k_, "bad loop variable");
    is_axis_[static_cast<size_t>(v)] = 1;
  }

  void load_buffer_pointers() {
    base_.assign(p_.buffers.size(), nullptr);
    std::vector<char> used(p_.buffers.size(), 0);
    auto use = [&](BufferId b) {
      if (b < 0 || static_cast<size_t>(b) >= p_.buffers.size())
        unsupported(p_, k_, "buffer id " + std::to_string(b) + " out of range");
      used[static_cast<size_t>(b)] = 1;
    };
    for (const kir::Expr& e : k_.exprs)
      if (e.kind == ExprKind::Load) use(e.buffer);
    for (BufferId b : written_) use(b);
    llvm::MDNode* empty = llvm::MDNode::get(ctx_, {});
    for (size_t b = 0; b < used.size(); ++b) {
      if (!used[b]) continue;
      llvm::Value* slot = b_.CreateConstInBoundsGEP1_64(ptr_, args_, b);
      auto* ld = b_.CreateAlignedLoad(ptr_, slot, llvm::Align(8),
                                      p_.buffers[b].name.empty() ? "buf" : p_.buffers[b].name);
      ld->setMetadata(llvm::LLVMContext::MD_invariant_load, empty);
      ld->setMetadata(llvm::LLVMContext::MD_nonnull, empty);
      base_[b] = ld;
    }
  }

  // ---- types and constants ----

  llvm::Type* type(DType t) {
    switch (t) {
      case DType::f32:
        return llvm::Type::getFloatTy(ctx_);
      case DType::f64:
        return llvm::Type::getDoubleTy(ctx_);
      case DType::i32:
        return i32_;
      case DType::boolean:
        return i1_;
    }
    return nullptr;
  }
  llvm::Type* mem_type(DType t) { return t == DType::boolean ? i8_ : type(t); }

  llvm::Value* constant(double v, DType t) {
    switch (t) {
      case DType::f32:
      case DType::f64:
        return llvm::ConstantFP::get(type(t), v);
      case DType::i32: {
        int64_t iv = 0;
        if (std::isnan(v))
          iv = 0;
        else if (v >= 9.2e18)
          iv = std::numeric_limits<int64_t>::max();
        else if (v <= -9.2e18)
          iv = std::numeric_limits<int64_t>::min();
        else
          iv = static_cast<int64_t>(v);
        return llvm::ConstantInt::get(i32_, static_cast<uint64_t>(iv), true);
      }
      case DType::boolean:
        return llvm::ConstantInt::get(i1_, v != 0 ? 1 : 0);
    }
    return nullptr;
  }
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
    if (v < 0 || static_cast<size_t>(v) >= vars_.size()) unsupported(p_, k_, "bad variable id");
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
  llvm::MDNode* plain_loop_md() {
    llvm::Metadata* no_vec[] = {llvm::MDString::get(ctx_, "llvm.loop.vectorize.enable"),
                                llvm::ConstantAsMetadata::get(llvm::ConstantInt::getFalse(ctx_))};
    llvm::Metadata* no_unroll[] = {llvm::MDString::get(ctx_, "llvm.loop.unroll.disable")};
    llvm::Metadata* ops[] = {nullptr, llvm::MDNode::get(ctx_, no_vec),
                             llvm::MDNode::get(ctx_, no_unroll)};
    llvm::MDNode* md = llvm::MDNode::getDistinct(ctx_, ops);
    md->replaceOperandWith(0, md);
    return md;
  }
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

  // ---- the parallel domain ----

  void emit_domain() {
    const auto& ax = k_.parallel;
    if (ax.empty()) {
      auto* run = llvm::BasicBlock::Create(ctx_, "point", fn_);
      auto* done = llvm::BasicBlock::Create(ctx_, "done", fn_);
      b_.CreateCondBr(b_.CreateICmpSLT(begin_, end_), run, done);
      b_.SetInsertPoint(run);
      Saved s = push();
      emit_point();
      pop(s);
      b_.CreateBr(done);
      b_.SetInsertPoint(done);
      return;
    }
    const int64_t inner = ax.back().extent;
    llvm::Value* r0 = b_.CreateUDiv(begin_, i64c(inner), "row0");
    llvm::Value* r1 = b_.CreateUDiv(b_.CreateAdd(end_, i64c(inner - 1)), i64c(inner), "row1");
    for_range(r0, r1, "row", [&](llvm::Value* r) {
      llvm::Value* base = b_.CreateMul(r, i64c(inner), "", true, true);
      llvm::Value* j0 =
          b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, b_.CreateSub(begin_, base), i64c(0));
      llvm::Value* j1 =
          b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, b_.CreateSub(end_, base), i64c(inner));
      Saved s = push();
      llvm::Value* rem = r;
      for (size_t d = ax.size() - 1; d-- > 0;) {
        int64_t e = ax[d].extent;
        bind_axis(ax[d].var, d == 0 ? rem : b_.CreateURem(rem, i64c(e)));
        if (d > 0) rem = b_.CreateUDiv(rem, i64c(e));
      }
      for_range(j0, j1, "col", [&](llvm::Value* j) {
        Saved s2 = push();
        bind_axis(ax.back().var, j);
        emit_point();
        pop(s2);
      });
      pop(s);
    });
  }

  // One point of the parallel domain.
  void emit_point() {
    if (k_.is_contraction) emit_contraction_point();
    stmts(k_.body);
  }

  // Phase-1 contraction: acc = sum over k of a * b (fused multiply-add, in the acc dtype), then
  // the epilogue statements with acc bound.
  void emit_contraction_point() {
    const kir::Contraction& c = k_.contraction;
    size_t nb = c.batch.size();
    if (k_.parallel.size() != nb + 2)
      unsupported(p_, k_, "contraction domain is not batch..., i, j");
    for (size_t d = 0; d < nb; ++d)
      if (c.batch[d].var != k_.parallel[d].var)
        vars_[static_cast<size_t>(c.batch[d].var)] = vars_[static_cast<size_t>(k_.parallel[d].var)];
    DType at = k_.vars.at(static_cast<size_t>(c.acc)).dtype;
    if (at == DType::boolean) unsupported(p_, k_, "bool accumulator");
    llvm::AllocaInst* acc = entry_alloca(type(at), "acc");
    b_.CreateStore(constant(0, at), acc);
    Saved s = push();
    for_axes({c.k}, 0, [&] {
      llvm::Value* a = convert(val(c.a), k_.expr(c.a).dtype, at);
      llvm::Value* bv = convert(val(c.b), k_.expr(c.b).dtype, at);
      llvm::Value* old = b_.CreateLoad(type(at), acc);
      llvm::Value* sum = is_float(at) ? static_cast<llvm::Value*>(b_.CreateIntrinsic(
                                            llvm::Intrinsic::fmuladd, {type(at)}, {a, bv, old}))
                                      : b_.CreateAdd(b_.CreateMul(a, bv), old);
      b_.CreateStore(sum, acc);
    });
    pop(s);
    bind_value(c.acc, b_.CreateLoad(type(at), acc, "acc"));
  }

  // ---- GEMM (contraction kernels) ----
  //
  // acc[b, i, j] = sum_k a(b, i, k) * b(b, k, j) as a blocked GEMM. The task domain is the grid of
  // output blocks (batch x M-blocks x N-blocks); a task, for each KC-slice of k:
  //   - packs B's KC x NC block into NR-column panels (k-major, NR contiguous values per k) and A's
  //     MC x KC block into MR-row slivers (MR contiguous values per k), evaluating the kernel's
  //     a/b expressions once per element (any strided, transposed or masked loads); rows/columns
  //     past the edge are packed as zeros (the expression is evaluated at a clamped index);
  //   - runs the register-blocked micro-kernel (MR x NR accumulators: MR broadcasts of A times two
  //     VF-wide vectors of B per k, fused multiply-adds) over every (panel, sliver) pair, panel
  //     outermost so the panel stays in L1 while the slivers stream from L2, accumulating into
  //     the task's C tile in scratch memory;
  // then evaluates the epilogue (the kernel body, acc bound) for each (i, j) of the block.
  // Every acc element is one chain of multiply-adds in k order: the result does not depend on the
  // blocking or the thread count.

  struct Gemm {
    DType t = DType::f32;
    llvm::Type* et = nullptr;
    int64_t esz = 4, batch = 1, M = 0, N = 0, K = 0;
    int64_t vf = 16, MR = 12, NR = 32, KC = 256, MC = 0, NC = 0, mb = 1, nb = 1, nkb = 1;
    int64_t a_bytes = 0, b_bytes = 0, c_bytes = 0;
    size_t batch_axes = 0;
    llvm::Function* micro = nullptr;
  };

  static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
  static int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

  bool plan_gemm(Gemm& g) {
    if (!k_.is_contraction || target_.vector_bits < 256) return false;
    const kir::Contraction& c = k_.contraction;
    g.t = k_.vars.at(static_cast<size_t>(c.acc)).dtype;
    if (!is_float(g.t)) return false;
    g.batch_axes = c.batch.size();
    if (k_.parallel.size() != g.batch_axes + 2) return false;
    for (size_t d = 0; d < g.batch_axes; ++d) g.batch *= k_.parallel[d].extent;
    g.M = k_.parallel[g.batch_axes].extent;
    g.N = k_.parallel[g.batch_axes + 1].extent;
    g.K = c.k.extent;
    if (g.batch <= 0 || g.M <= 0 || g.N <= 0 || g.K < 0) return false;
    // Tiny or skinny products (matrix-vector) are left to the direct loop.
    if (g.N < 4 || g.batch * g.M * g.N * std::max<int64_t>(g.K, 1) < 16384) return false;
    g.et = type(g.t);
    g.esz = static_cast<int64_t>(dtype_size(g.t));
    g.vf = target_.vector_bits / (8 * g.esz);
    g.NR = 2 * g.vf;
    g.MR = target_.vector_bits >= 512 ? 12 : 6;
    g.KC = std::max<int64_t>(1, std::min<int64_t>(g.K, 256));
    g.nkb = g.K == 0 ? 1 : ceil_div(g.K, g.KC);
    int64_t mb = ceil_div(g.M, g.MR * 16), nb = ceil_div(g.N, g.NR * 16);
    const int64_t want = 2 * std::max(1, target_.parallelism);
    while (g.batch * mb * nb < want) {
      int64_t mc = ceil_div(g.M, mb), nc = ceil_div(g.N, nb);
      if (nc >= 2 * g.NR && (nc >= mc || mc < 2 * g.MR))
        ++nb;
      else if (mc >= 2 * g.MR)
        ++mb;
      else
        break;
    }
    g.MC = round_up(ceil_div(g.M, mb), g.MR);
    g.NC = round_up(ceil_div(g.N, nb), g.NR);
    g.mb = ceil_div(g.M, g.MC);
    g.nb = ceil_div(g.N, g.NC);
    g.a_bytes = round_up(g.MC * g.KC * g.esz, 64);
    g.b_bytes = round_up(g.KC * g.NC * g.esz, 64);
    g.c_bytes = round_up(g.MC * g.NC * g.esz, 64);
    return true;
  }

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

  void emit_gemm(Gemm& g) {
    const kir::Contraction& c = k_.contraction;
    g.micro = emit_micro_kernel(g);
    llvm::Value* ap = scratch_;
    llvm::Value* bp =
        b_.CreateConstInBoundsGEP1_64(i8_, scratch_, static_cast<uint64_t>(g.a_bytes));
    llvm::Value* cp =
        b_.CreateConstInBoundsGEP1_64(i8_, scratch_, static_cast<uint64_t>(g.a_bytes + g.b_bytes));
    const VarId iv = k_.parallel[g.batch_axes].var, jv = k_.parallel[g.batch_axes + 1].var;
    scoped_range(begin_, end_, "task", [&](llvm::Value* t) {
      PlainLoops plain(*this, true);
      llvm::Value* grid = i64c(g.mb * g.nb);
      llvm::Value* bi = b_.CreateUDiv(t, grid);
      llvm::Value* rest = b_.CreateURem(t, grid);
      llvm::Value* mi = b_.CreateUDiv(rest, i64c(g.nb));
      llvm::Value* nj = b_.CreateURem(rest, i64c(g.nb));
      llvm::Value* rem = bi;
      for (size_t d = g.batch_axes; d-- > 0;) {
        int64_t e = k_.parallel[d].extent;
        bind_axis(k_.parallel[d].var, d == 0 ? rem : b_.CreateURem(rem, i64c(e)));
        if (d > 0) rem = b_.CreateUDiv(rem, i64c(e));
      }
      for (size_t d = 0; d < g.batch_axes; ++d)
        if (c.batch[d].var != k_.parallel[d].var)
          vars_[static_cast<size_t>(c.batch[d].var)] =
              vars_[static_cast<size_t>(k_.parallel[d].var)];
      llvm::Value* ic = b_.CreateMul(mi, i64c(g.MC), "ic", true, true);
      llvm::Value* jc = b_.CreateMul(nj, i64c(g.NC), "jc", true, true);
      llvm::Value* mc = smin(i64c(g.MC), b_.CreateSub(i64c(g.M), ic));
      llvm::Value* nc = smin(i64c(g.NC), b_.CreateSub(i64c(g.N), jc));
      llvm::Value* slivers = b_.CreateUDiv(b_.CreateAdd(mc, i64c(g.MR - 1)), i64c(g.MR));
      llvm::Value* panels = b_.CreateUDiv(b_.CreateAdd(nc, i64c(g.NR - 1)), i64c(g.NR));
      scoped_range(i64c(0), i64c(g.nkb), "kblock", [&](llvm::Value* kb) {
        llvm::Value* pc = b_.CreateMul(kb, i64c(g.KC), "pc", true, true);
        llvm::Value* kc = smin(i64c(g.KC), b_.CreateSub(i64c(g.K), pc));
        pack_b(g, bp, jc, panels, pc, kc, jv);
        pack_a(g, ap, ic, slivers, pc, kc, iv);
        llvm::Value* first = b_.CreateICmpEQ(kb, i64c(0));
        for_range(i64c(0), panels, "panel", [&](llvm::Value* p) {
          llvm::Value* bpanel = elem_ptr(g.et, bp, b_.CreateMul(p, b_.CreateMul(kc, i64c(g.NR))));
          for_range(i64c(0), slivers, "sliver", [&](llvm::Value* s) {
            llvm::Value* asliver =
                elem_ptr(g.et, ap, b_.CreateMul(s, b_.CreateMul(kc, i64c(g.MR))));
            llvm::Value* ctile = elem_ptr(
                g.et, cp,
                b_.CreateAdd(b_.CreateMul(s, i64c(g.MR * g.NC)), b_.CreateMul(p, i64c(g.NR))));
            b_.CreateCall(g.micro, {asliver, bpanel, kc, ctile, i64c(g.NC), first});
          });
        });
      });
      // The epilogue: the kernel body for each (i, j) of the block, acc from the C tile; its
      // inner loop is left to the vectorizer.
      plain_loops_ = false;
      scoped_range(i64c(0), mc, "ei", [&](llvm::Value* ii) {
        bind_axis(iv, b_.CreateAdd(ic, ii, "", true, true));
        llvm::Value* crow = elem_ptr(g.et, cp, b_.CreateMul(ii, i64c(g.NC)));
        scoped_range(i64c(0), nc, "ej", [&](llvm::Value* jj) {
          bind_axis(jv, b_.CreateAdd(jc, jj, "", true, true));
          bind_value(c.acc, b_.CreateAlignedLoad(g.et, elem_ptr(g.et, crow, jj),
                                                 llvm::Align(static_cast<uint64_t>(g.esz))));
          stmts(k_.body);
        });
      });
    });
  }

  // B's [pc, pc + kc) x [jc, jc + NC) block into panels: panel p, row k at (p * kc + k) * NR.
  void pack_b(const Gemm& g, llvm::Value* bp, llvm::Value* jc, llvm::Value* panels, llvm::Value* pc,
              llvm::Value* kc, VarId jv) {
    const kir::Contraction& c = k_.contraction;
    DType bt = k_.expr(c.b).dtype;
    scoped_range(i64c(0), panels, "pb", [&](llvm::Value* p) {
      llvm::Value* j0 = b_.CreateAdd(jc, b_.CreateMul(p, i64c(g.NR)), "", true, true);
      llvm::Value* dst = elem_ptr(g.et, bp, b_.CreateMul(p, b_.CreateMul(kc, i64c(g.NR))));
      auto body = [&](bool edge) {
        PlainLoops plain(*this, true);
        scoped_range(i64c(0), kc, "pbk", [&](llvm::Value* k) {
          bind_axis(c.k.var, b_.CreateAdd(pc, k, "", true, true));
          llvm::Value* row = elem_ptr(g.et, dst, b_.CreateMul(k, i64c(g.NR)));
          PlainLoops inner(*this, edge);  // full panels: NR contiguous values, vectorized
          scoped_range(i64c(0), i64c(g.NR), "pbj", [&](llvm::Value* q) {
            llvm::Value* j = b_.CreateAdd(j0, q, "", true, true);
            bind_axis(jv, edge ? smin(j, i64c(g.N - 1)) : j);
            llvm::Value* v = convert(val(c.b), bt, g.t);
            if (edge) v = b_.CreateSelect(b_.CreateICmpSLT(j, i64c(g.N)), v, constant(0, g.t));
            b_.CreateStore(v, elem_ptr(g.et, row, q));
          });
        });
      };
      if_else(
          b_.CreateICmpSLE(b_.CreateAdd(j0, i64c(g.NR)), i64c(g.N)), [&] { body(false); },
          [&] { body(true); });
    });
  }

  // A's [ic, ic + MC) x [pc, pc + kc) block into slivers: sliver s, column k at (s * kc + k) * MR.
  void pack_a(const Gemm& g, llvm::Value* ap, llvm::Value* ic, llvm::Value* slivers,
              llvm::Value* pc, llvm::Value* kc, VarId iv) {
    const kir::Contraction& c = k_.contraction;
    DType at = k_.expr(c.a).dtype;
    PlainLoops plain(*this, true);
    scoped_range(i64c(0), slivers, "pa", [&](llvm::Value* s) {
      llvm::Value* i0 = b_.CreateAdd(ic, b_.CreateMul(s, i64c(g.MR)), "", true, true);
      llvm::Value* dst = elem_ptr(g.et, ap, b_.CreateMul(s, b_.CreateMul(kc, i64c(g.MR))));
      auto body = [&](bool edge) {
        scoped_range(i64c(0), i64c(g.MR), "par", [&](llvm::Value* r) {
          llvm::Value* i = b_.CreateAdd(i0, r, "", true, true);
          bind_axis(iv, edge ? smin(i, i64c(g.M - 1)) : i);
          scoped_range(i64c(0), kc, "pak", [&](llvm::Value* k) {
            bind_axis(c.k.var, b_.CreateAdd(pc, k, "", true, true));
            llvm::Value* v = convert(val(c.a), at, g.t);
            if (edge) v = b_.CreateSelect(b_.CreateICmpSLT(i, i64c(g.M)), v, constant(0, g.t));
            b_.CreateStore(v, elem_ptr(g.et, dst, b_.CreateAdd(b_.CreateMul(k, i64c(g.MR)), r)));
          });
        });
      };
      if_else(
          b_.CreateICmpSLE(b_.CreateAdd(i0, i64c(g.MR)), i64c(g.M)), [&] { body(false); },
          [&] { body(true); });
    });
  }

  // void micro(A sliver, B panel, i64 kc, C tile, i64 ldc, i1 first):
  //   C[r*ldc + 0..NR) = (first ? 0 : C[...]) + sum over k < kc of A[k*MR + r] * B[k*NR + 0..NR)
  // (C rows are vector-aligned: ldc is a multiple of NR and the tile starts 64-byte aligned).
  // One per module and shape: every contraction kernel of the program shares it.
  llvm::Function* emit_micro_kernel(const Gemm& g) {
    std::string name = std::string("soma_micro_") + dtype_name(g.t) + "_" + std::to_string(g.MR) +
                       "x" + std::to_string(g.NR);
    if (llvm::Function* f = m_.getFunction(name)) return f;
    auto* fty = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx_),
                                        {ptr_, ptr_, i64_, ptr_, i64_, i1_}, false);
    auto* f = llvm::Function::Create(fty, llvm::Function::InternalLinkage, name, m_);
    set_function_attributes(f);
    f->addFnAttr(llvm::Attribute::NoInline);
    for (unsigned a : {0u, 1u, 3u}) f->addParamAttr(a, llvm::Attribute::NoAlias);
    llvm::Value *A = f->getArg(0), *B = f->getArg(1), *kc = f->getArg(2), *C = f->getArg(3),
                *ldc = f->getArg(4), *first = f->getArg(5);
    llvm::IRBuilder<> mb(ctx_);
    mb.setFastMathFlags(b_.getFastMathFlags());
    auto* entry = llvm::BasicBlock::Create(ctx_, "entry", f);
    auto* loop = llvm::BasicBlock::Create(ctx_, "k", f);
    auto* exit = llvm::BasicBlock::Create(ctx_, "store", f);
    auto* vt = llvm::FixedVectorType::get(g.et, static_cast<unsigned>(g.vf));
    const int nv = static_cast<int>(g.NR / g.vf), mr = static_cast<int>(g.MR);
    llvm::Align valign(static_cast<uint64_t>(g.vf * g.esz)), ealign(static_cast<uint64_t>(g.esz));
    mb.SetInsertPoint(entry);
    llvm::Value* zero = llvm::ConstantFP::get(vt, 0.0);
    std::vector<llvm::Value*> init(static_cast<size_t>(mr * nv)), cptr(init.size());
    for (int r = 0; r < mr; ++r)
      for (int v = 0; v < nv; ++v) {
        size_t q = static_cast<size_t>(r * nv + v);
        cptr[q] = mb.CreateInBoundsGEP(
            g.et, C, mb.CreateAdd(mb.CreateMul(ldc, i64c(r), "", true, true), i64c(v * g.vf)));
        init[q] = mb.CreateSelect(first, zero, mb.CreateAlignedLoad(vt, cptr[q], valign));
      }
    mb.CreateCondBr(mb.CreateICmpSGT(kc, i64c(0)), loop, exit);
    mb.SetInsertPoint(loop);
    llvm::PHINode* k = mb.CreatePHI(i64_, 2, "k");
    k->addIncoming(i64c(0), entry);
    std::vector<llvm::PHINode*> acc(init.size());
    for (size_t q = 0; q < acc.size(); ++q) {
      acc[q] = mb.CreatePHI(vt, 2);
      acc[q]->addIncoming(init[q], entry);
    }
    llvm::Value* brow = mb.CreateInBoundsGEP(g.et, B, mb.CreateMul(k, i64c(g.NR), "", true, true));
    llvm::Value* arow = mb.CreateInBoundsGEP(g.et, A, mb.CreateMul(k, i64c(g.MR), "", true, true));
    std::vector<llvm::Value*> bv(static_cast<size_t>(nv));
    for (int v = 0; v < nv; ++v)
      bv[static_cast<size_t>(v)] = mb.CreateAlignedLoad(
          vt, mb.CreateConstInBoundsGEP1_64(g.et, brow, static_cast<uint64_t>(v * g.vf)), valign);
    std::vector<llvm::Value*> next(acc.size());
    for (int r = 0; r < mr; ++r) {
      llvm::Value* a = mb.CreateAlignedLoad(
          g.et, mb.CreateConstInBoundsGEP1_64(g.et, arow, static_cast<uint64_t>(r)), ealign);
      llvm::Value* as = mb.CreateVectorSplat(static_cast<unsigned>(g.vf), a);
      for (int v = 0; v < nv; ++v) {
        size_t q = static_cast<size_t>(r * nv + v);
        next[q] = mb.CreateIntrinsic(llvm::Intrinsic::fmuladd, {vt},
                                     {as, bv[static_cast<size_t>(v)], acc[q]});
      }
    }
    llvm::Value* k1 = mb.CreateAdd(k, i64c(1), "", true, true);
    k->addIncoming(k1, loop);
    for (size_t q = 0; q < acc.size(); ++q) acc[q]->addIncoming(next[q], loop);
    mb.CreateCondBr(mb.CreateICmpSLT(k1, kc), loop, exit);
    mb.SetInsertPoint(exit);
    std::vector<llvm::PHINode*> out(acc.size());
    for (size_t q = 0; q < acc.size(); ++q) {
      out[q] = mb.CreatePHI(vt, 2);
      out[q]->addIncoming(init[q], entry);
      out[q]->addIncoming(next[q], loop);
    }
    for (size_t q = 0; q < acc.size(); ++q) mb.CreateAlignedStore(out[q], cptr[q], valign);
    mb.CreateRetVoid();
    return f;
  }

  // ---- statements ----

  void stmts(const std::vector<Stmt>& body) {
    for (const Stmt& s : body) {
      switch (s.kind) {
        case Stmt::Kind::Let:
          bind_value(s.var, val(s.value));
          break;
        case Stmt::Kind::Reduce:
          reduce(s);
          break;
        case Stmt::Kind::Loop: {
          Saved sv = push();
          for_axes(s.axes, 0, [&] { stmts(s.body); });
          pop(sv);
          break;
        }
        case Stmt::Kind::Store:
          store(s);
          break;
      }
    }
  }

  void reduce(const Stmt& s) {
    DType t = k_.vars.at(static_cast<size_t>(s.var)).dtype;
    bool is_max = s.reduce_op == Op::ReduceMax;
    if (s.reduce_op != Op::ReduceSum && !is_max) unsupported(p_, k_, "unknown reduction");
    if (t == DType::boolean) unsupported(p_, k_, "reduction over bool");
    // f32 sums accumulate in f64, as the reference does: nearly independent of the summation
    // order (so of how lowering orders a batch), and free for memory-bound reductions. Fast math
    // keeps them in f32.
    const DType t_var = t;
    if (t == DType::f32 && !is_max && !target_.fast_math) t = DType::f64;
    if (try_vector_reduce(s, t, is_max)) {
      bind_value(s.var, convert(var_value(s.var), t, t_var));
      return;
    }
    llvm::Value* init =
        is_max ? (is_float(t) ? constant(-INFINITY, t) : llvm::ConstantInt::get(i32_, 0x80000000u))
               : constant(0, t);
    llvm::AllocaInst* acc = entry_alloca(type(t), "red");
    b_.CreateStore(init, acc);
    Saved sv = push();
    for_axes(s.axes, 0, [&] {
      stmts(s.body);
      llvm::Value* v = convert(val(s.value), k_.expr(s.value).dtype, t);
      llvm::Value* a = b_.CreateLoad(type(t), acc);
      llvm::Value* r;
      if (is_max)
        r = is_float(t) ? b_.CreateMaximum(a, v)
                        : b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, a, v);
      else
        r = is_float(t) ? b_.CreateFAdd(a, v) : b_.CreateAdd(a, v);
      b_.CreateStore(r, acc);
    });
    pop(sv);
    bind_value(s.var, convert(b_.CreateLoad(type(t), acc, k_.vars[static_cast<size_t>(s.var)].name),
                              t, t_var));
  }

  void store(const Stmt& s) {
    if (s.buffer < 0 || static_cast<size_t>(s.buffer) >= p_.buffers.size())
      unsupported(p_, k_, "store to a bad buffer id");
    const kir::Buffer& buf = p_.buffers[static_cast<size_t>(s.buffer)];
    llvm::Value* v = convert(val(s.value), k_.expr(s.value).dtype, buf.dtype);
    if (buf.dtype == DType::boolean) v = b_.CreateZExt(v, i8_);
    llvm::Value* ptr = b_.CreateInBoundsGEP(mem_type(buf.dtype),
                                            base_[static_cast<size_t>(s.buffer)], idx(s.index));
    b_.CreateAlignedStore(v, ptr, llvm::Align(dtype_size(buf.dtype)));
  }

  // ---- vectorized reductions ----
  //
  // A Reduce whose innermost axis is long enough runs that axis VF lanes at a time into U vector
  // accumulators (element j goes to accumulator (j / VF) % U, lane j % VF), finishes with masked
  // tail vectors into accumulator 0, then combines the accumulators pairwise and the lanes in
  // order. The order depends only on the code, never on threads or chunking, and f32 sums carry
  // U*VF partial sums (more accurate than one running sum).

  static constexpr unsigned kAccumulators = 4;

  // t: the accumulation dtype (the result is bound in it; the caller converts).
  bool try_vector_reduce(const Stmt& s, DType t, bool is_max) {
    if (s.axes.empty() || !(is_float(t) || t == DType::i32)) return false;
    for (const Stmt& st : s.body)
      if (st.kind != Stmt::Kind::Let) return false;
    const Axis inner = s.axes.back();
    // Lanes: one vector register of the reduced values (an f32 sum in f64 keeps 16 lanes, two
    // registers per accumulator).
    const size_t lane_bytes = std::max<size_t>(dtype_size(k_.expr(s.value).dtype), 4);
    const unsigned vf = static_cast<unsigned>(target_.vector_bits / (8 * lane_bytes));
    if (vf < 4 || inner.extent < 2 * static_cast<int64_t>(vf)) return false;

    vvar_ = inner.var;
    vf_ = vf;
    varying_.assign(k_.exprs.size(), -1);
    body_lets_.clear();
    for (const Stmt& st : s.body) body_lets_.push_back(st.var);

    llvm::Type* st = type(t);
    auto* vt = llvm::FixedVectorType::get(st, vf);
    llvm::Value* identity =
        is_max ? (is_float(t) ? constant(-INFINITY, t) : llvm::ConstantInt::get(i32_, 0x80000000u))
               : constant(0, t);
    llvm::Value* videntity = b_.CreateVectorSplat(vf, identity);
    const unsigned U = kAccumulators;
    std::vector<llvm::AllocaInst*> acc(U);
    for (unsigned u = 0; u < U; ++u) {
      acc[u] = entry_alloca(vt, "vacc");
      b_.CreateStore(videntity, acc[u]);
    }
    auto combine = [&](llvm::Value* a, llvm::Value* v) -> llvm::Value* {
      if (is_max)
        return is_float(t) ? b_.CreateMaximum(a, v)
                           : b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, a, v);
      return is_float(t) ? b_.CreateFAdd(a, v) : b_.CreateAdd(a, v);
    };
    // One vector of the reduced value for lanes j0 .. j0 + vf - 1 (the scope is the caller's).
    auto lanes_value = [&](llvm::Value* j0) {
      bind_vector_var(j0);
      for (const Stmt& let : s.body) bind_value(let.var, vval(let.value));
      llvm::Value* v = convert(vval(s.value), k_.expr(s.value).dtype, t);
      if (!v->getType()->isVectorTy()) v = b_.CreateVectorSplat(vf, v);
      return v;
    };

    const int64_t n = inner.extent, step = static_cast<int64_t>(U * vf);
    const int64_t blocks = n / step, main_end = blocks * step;
    const int64_t tails = (n - main_end + vf - 1) / vf;
    std::vector<Axis> outer(s.axes.begin(), s.axes.end() - 1);
    Saved sv = push();
    for_axes(outer, 0, [&] {
      for_range(i64c(0), i64c(blocks), "vred", [&](llvm::Value* blk) {
        llvm::Value* base = b_.CreateMul(blk, i64c(step), "", true, true);
        for (unsigned u = 0; u < U; ++u) {
          Saved it = push();
          llvm::Value* v = lanes_value(b_.CreateAdd(base, i64c(u * vf), "", true, true));
          b_.CreateStore(combine(b_.CreateLoad(vt, acc[u]), v), acc[u]);
          pop(it);
        }
      });
      if (tails > 0) {
        for_range(i64c(0), i64c(tails), "vtail", [&](llvm::Value* tix) {
          Saved it = push();
          llvm::Value* j0 =
              b_.CreateAdd(i64c(main_end), b_.CreateMul(tix, i64c(vf)), "", true, true);
          bind_vector_var(j0);
          tail_mask_ = b_.CreateICmpSLT(jvec64_, b_.CreateVectorSplat(vf, i64c(n)));
          llvm::Value* v = lanes_value(j0);
          llvm::Value* a = b_.CreateLoad(vt, acc[0]);
          b_.CreateStore(b_.CreateSelect(tail_mask_, combine(a, v), a), acc[0]);
          tail_mask_ = nullptr;
          pop(it);
        });
      }
    });
    pop(sv);
    std::vector<llvm::Value*> parts;
    for (unsigned u = 0; u < U; ++u) parts.push_back(b_.CreateLoad(vt, acc[u]));
    while (parts.size() > 1) {
      std::vector<llvm::Value*> next;
      for (size_t q = 0; q + 1 < parts.size(); q += 2)
        next.push_back(combine(parts[q], parts[q + 1]));
      if (parts.size() % 2) next.push_back(parts.back());
      parts = std::move(next);
    }
    llvm::Value* r;
    if (is_max)
      r = is_float(t) ? b_.CreateFPMaximumReduce(parts[0]) : b_.CreateIntMaxReduce(parts[0], true);
    else
      r = is_float(t) ? b_.CreateFAddReduce(constant(0, t), parts[0])
                      : b_.CreateAddReduce(parts[0]);
    bind_value(s.var, r);
    vvar_ = -1;
    return true;
  }

  void bind_vector_var(llvm::Value* j0) {
    bind_axis(vvar_, j0);  // lane 0, for affine address bases
    llvm::Value* lane = llvm::ConstantVector::get([&] {
      std::vector<llvm::Constant*> c;
      for (unsigned l = 0; l < vf_; ++l) c.push_back(llvm::ConstantInt::get(i64_, l));
      return c;
    }());
    jvec64_ = b_.CreateAdd(b_.CreateVectorSplat(vf_, j0), lane, "", true, true);
    jvec32_ = b_.CreateTrunc(jvec64_, llvm::FixedVectorType::get(i32_, vf_));
  }

  // Whether `id` varies across the lanes of the vectorized axis.
  bool varying(ExprId id) {
    size_t i = check_expr(id);
    if (varying_[i] >= 0) return varying_[i];
    varying_[i] = 0;
    const kir::Expr& e = k_.exprs[i];
    bool r = false;
    if (e.kind == ExprKind::Var) {
      if (e.var == vvar_) {
        r = true;
      } else {
        for (VarId v : body_lets_)
          if (v == e.var) r = varying(let_expr_[static_cast<size_t>(v)]);
      }
    } else {
      for (ExprId a : e.a)
        if (a >= 0) r = r || varying(a);
    }
    varying_[i] = r;
    return r;
  }

  // The value of `id` for the vf lanes: a vector, or a scalar when it is the same in every lane.
  llvm::Value* vval(ExprId id) {
    if (!varying(id)) return val(id);
    size_t i = static_cast<size_t>(id);
    if (vvcache_[i]) return vvcache_[i];
    const kir::Expr& e = k_.exprs[i];
    llvm::Value* v = nullptr;
    switch (e.kind) {
      case ExprKind::Var:
        v = e.var == vvar_ ? jvec32_ : var_value(e.var);
        break;
      case ExprKind::Load:
        v = vload(e);
        break;
      case ExprKind::Unary:
        v = unary_op(e.op, vval(e.a[0]), k_.expr(e.a[0]).dtype);
        break;
      case ExprKind::Cast:
        v = convert(vval(e.a[0]), k_.expr(e.a[0]).dtype, e.dtype);
        break;
      case ExprKind::Binary:
        v = binary_op(e.op, vval(e.a[0]), vval(e.a[1]), k_.expr(e.a[0]).dtype,
                      k_.expr(e.a[1]).dtype);
        break;
      case ExprKind::IDiv:
      case ExprKind::IMod:
        v = idiv_op(vval(e.a[0]), vval(e.a[1]), e.kind == ExprKind::IMod);
        break;
      case ExprKind::Select:
        v = select_op(vval(e.a[0]), vval(e.a[1]), vval(e.a[2]), k_.expr(e.a[1]).dtype,
                      k_.expr(e.a[2]).dtype);
        break;
      case ExprKind::Rand:
        v = philox_op(vval(e.a[0]), vval(e.a[1]), e.seed, e.dtype);
        break;
      case ExprKind::Const:
        v = val(id);
        break;
    }
    if (!volatile_[i]) vvcache_[i] = v;
    return v;
  }

  // `id` (a pure index) as base + stride * lane, when it is affine in the vectorized variable.
  bool affine(ExprId id, int64_t& stride) {
    const kir::Expr& e = k_.expr(id);
    if (!varying(id)) {
      stride = 0;
      return true;
    }
    switch (e.kind) {
      case ExprKind::Var:
        if (e.var == vvar_) {
          stride = 1;
          return true;
        }
        return let_expr_[static_cast<size_t>(e.var)] >= 0 &&
               affine(let_expr_[static_cast<size_t>(e.var)], stride);
      case ExprKind::Binary: {
        int64_t s0 = 0, s1 = 0;
        if (e.op != Op::Add && e.op != Op::Sub && e.op != Op::Mul) return false;
        if (!affine(e.a[0], s0) || !affine(e.a[1], s1)) return false;
        if (e.op == Op::Add) stride = s0 + s1;
        if (e.op == Op::Sub) stride = s0 - s1;
        if (e.op == Op::Mul) {
          const kir::Expr &x = k_.expr(e.a[0]), &y = k_.expr(e.a[1]);
          if (s1 == 0 && y.kind == ExprKind::Const)
            stride = s0 * static_cast<int64_t>(y.value);
          else if (s0 == 0 && x.kind == ExprKind::Const)
            stride = s1 * static_cast<int64_t>(x.value);
          else
            return false;
        }
        return true;
      }
      default:
        return false;
    }
  }

  // Per-lane i64 indices of a varying index expression.
  llvm::Value* vidx(ExprId id) {
    if (!varying(id)) return b_.CreateVectorSplat(vf_, idx(id));
    const kir::Expr& e = k_.expr(id);
    if (!pure(id)) return b_.CreateSExt(vval(id), llvm::FixedVectorType::get(i64_, vf_));
    switch (e.kind) {
      case ExprKind::Var:
        if (e.var == vvar_) return jvec64_;
        return vidx(let_expr_[static_cast<size_t>(e.var)]);
      case ExprKind::Binary: {
        llvm::Value *x = vidx(e.a[0]), *y = vidx(e.a[1]);
        switch (e.op) {
          case Op::Add:
            return b_.CreateAdd(x, y, "", false, true);
          case Op::Sub:
            return b_.CreateSub(x, y, "", false, true);
          case Op::Mul:
            return b_.CreateMul(x, y, "", false, true);
          case Op::Max:
            return b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, x, y);
          default:
            return b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, x, y);
        }
      }
      case ExprKind::IDiv:
      case ExprKind::IMod: {
        bool mod = e.kind == ExprKind::IMod;
        llvm::Value* x = vidx(e.a[0]);
        llvm::Value* d = cint(x, static_cast<int64_t>(k_.expr(e.a[1]).value));
        if (nonneg(e.a[0])) return mod ? b_.CreateURem(x, d) : b_.CreateUDiv(x, d);
        return floor_divmod(x, d, mod);
      }
      case ExprKind::Select: {
        llvm::Value *c = vval(e.a[0]), *x = vidx(e.a[1]), *y = vidx(e.a[2]);
        match_shapes(c, x);
        return b_.CreateSelect(c, x, y);
      }
      default:
        break;
    }
    unsupported(p_, k_, "bad vector index expression");
  }

  llvm::Value* vload(const kir::Expr& e) {
    const kir::Buffer& buf = p_.buffers[static_cast<size_t>(e.buffer)];
    llvm::Type* et = mem_type(buf.dtype);
    auto* vt = llvm::FixedVectorType::get(et, vf_);
    llvm::Align align(dtype_size(buf.dtype));
    llvm::Value* mask = nullptr;
    if (e.a[1] >= 0) {
      mask = vval(e.a[1]);
      if (!mask->getType()->isVectorTy()) mask = b_.CreateVectorSplat(vf_, mask);
    }
    llvm::Value* m = mask;
    if (tail_mask_) m = m ? b_.CreateAnd(m, tail_mask_) : tail_mask_;
    llvm::Value* base = base_[static_cast<size_t>(e.buffer)];
    llvm::Value* v;
    int64_t stride = 0;
    if (pure(e.a[0]) && affine(e.a[0], stride) && stride == 1) {
      llvm::Value* ptr = b_.CreateInBoundsGEP(et, base, idx(e.a[0]));
      if (m)
        v = b_.CreateMaskedLoad(vt, ptr, align, m, llvm::PoisonValue::get(vt));
      else
        v = b_.CreateAlignedLoad(vt, ptr, align);
    } else {
      llvm::Value* ptrs = b_.CreateInBoundsGEP(et, base, vidx(e.a[0]));
      v = b_.CreateMaskedGather(vt, ptrs, align, m, llvm::PoisonValue::get(vt));
    }
    if (buf.dtype == DType::boolean) v = b_.CreateICmpNE(v, cint(v, 0));
    v = convert(v, buf.dtype, e.dtype);
    if (mask) v = b_.CreateSelect(mask, v, b_.CreateVectorSplat(vf_, constant(e.value, e.dtype)));
    return v;
  }

  // ---- expressions ----
  //
  // The op helpers below work on scalars and on vectors alike: constants take the shape of an
  // operand (ConstantFP/ConstantInt::get splat over vector types).

  llvm::Value* val(ExprId id) {
    size_t i = check_expr(id);
    if (vcache_[i]) return vcache_[i];
    llvm::Value* v = val_uncached(id);
    if (!volatile_[i]) vcache_[i] = v;
    return v;
  }

  size_t check_expr(ExprId id) {
    if (id < 0 || static_cast<size_t>(id) >= k_.exprs.size())
      unsupported(p_, k_, "expression id " + std::to_string(id) + " out of range");
    return static_cast<size_t>(id);
  }

  llvm::Value* var_value(VarId var) {
    if (var < 0 || static_cast<size_t>(var) >= vars_.size()) unsupported(p_, k_, "bad variable id");
    llvm::Value* v = vars_[static_cast<size_t>(var)].value;
    if (!v)
      unsupported(p_, k_,
                  "variable " + k_.vars[static_cast<size_t>(var)].name + " used outside its scope");
    return v;
  }

  llvm::Value* val_uncached(ExprId id) {
    const kir::Expr& e = k_.expr(id);
    switch (e.kind) {
      case ExprKind::Const:
        return constant(e.value, e.dtype);
      case ExprKind::Var:
        return var_value(e.var);
      case ExprKind::Load:
        return load(e);
      case ExprKind::Unary:
        return unary_op(e.op, val(e.a[0]), k_.expr(e.a[0]).dtype);
      case ExprKind::Cast:
        return convert(val(e.a[0]), k_.expr(e.a[0]).dtype, e.dtype);
      case ExprKind::Binary:
        return binary_op(e.op, val(e.a[0]), val(e.a[1]), k_.expr(e.a[0]).dtype,
                         k_.expr(e.a[1]).dtype);
      case ExprKind::IDiv:
      case ExprKind::IMod:
        return idiv_op(val(e.a[0]), val(e.a[1]), e.kind == ExprKind::IMod);
      case ExprKind::Select:
        return select_op(val(e.a[0]), val(e.a[1]), val(e.a[2]), k_.expr(e.a[1]).dtype,
                         k_.expr(e.a[2]).dtype);
      case ExprKind::Rand:
        return philox_op(val(e.a[0]), val(e.a[1]), e.seed, e.dtype);
    }
    unsupported(p_, k_, "unknown expression kind");
  }

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

  llvm::Value* select_op(llvm::Value* c, llvm::Value* x, llvm::Value* y, DType tx, DType ty) {
    y = convert(y, ty, tx);
    match_shapes(x, y);
    match_shapes(c, x);
    match_shapes(c, y);
    return b_.CreateSelect(c, x, y);
  }

  llvm::Value* idiv_op(llvm::Value* a, llvm::Value* d, bool mod) {
    match_shapes(a, d);
    llvm::Value* scalar_d = d;
    if (auto* c = llvm::dyn_cast<llvm::Constant>(d))
      scalar_d = c->getSplatValue() ? c->getSplatValue() : d;
    if (!llvm::isa<llvm::ConstantInt>(scalar_d))  // a1 > 0 by contract; never trap on 0
      d = b_.CreateSelect(b_.CreateICmpSGT(d, cint(d, 0)), d, cint(d, 1));
    return floor_divmod(a, d, mod);
  }

  // Floor division / modulo for a positive divisor (any width, scalar or vector).
  llvm::Value* floor_divmod(llvm::Value* a, llvm::Value* d, bool mod) {
    llvm::Value* q = b_.CreateSDiv(a, d);
    llvm::Value* r = b_.CreateSRem(a, d);
    llvm::Value* neg = b_.CreateICmpSLT(r, cint(a, 0));
    if (mod) return b_.CreateSelect(neg, b_.CreateAdd(r, d), r);
    return b_.CreateSelect(neg, b_.CreateSub(q, cint(a, 1)), q);
  }

  llvm::Value* load(const kir::Expr& e) {
    if (e.buffer < 0 || static_cast<size_t>(e.buffer) >= p_.buffers.size())
      unsupported(p_, k_, "load from a bad buffer id");
    const kir::Buffer& buf = p_.buffers[static_cast<size_t>(e.buffer)];
    llvm::Value* index = idx(e.a[0]);
    llvm::Value* mask = nullptr;
    if (e.a[1] >= 0) {
      mask = val(e.a[1]);
      if (mask->getType() != i1_) unsupported(p_, k_, "load mask is not bool");
      index = b_.CreateSelect(mask, index, i64c(0));  // masked-off lanes read element 0
    }
    llvm::Value* ptr =
        b_.CreateInBoundsGEP(mem_type(buf.dtype), base_[static_cast<size_t>(e.buffer)], index);
    llvm::Value* v =
        b_.CreateAlignedLoad(mem_type(buf.dtype), ptr, llvm::Align(dtype_size(buf.dtype)));
    if (buf.dtype == DType::boolean) v = b_.CreateICmpNE(v, llvm::ConstantInt::get(i8_, 0));
    v = convert(v, buf.dtype, e.dtype);
    if (mask) v = b_.CreateSelect(mask, v, constant(e.value, e.dtype));
    return v;
  }

  llvm::Value* convert(llvm::Value* x, DType from, DType to) {
    if (from == to) return x;
    llvm::Type* t = shaped(to, x);
    if (to == DType::boolean) {
      if (is_float(from)) return b_.CreateFCmpUNE(x, fconst(x, 0.0));
      return b_.CreateICmpNE(x, cint(x, 0));
    }
    if (from == DType::boolean) return is_float(to) ? b_.CreateUIToFP(x, t) : b_.CreateZExt(x, t);
    if (is_float(from) && is_float(to))
      return to == DType::f64 ? b_.CreateFPExt(x, t) : b_.CreateFPTrunc(x, t);
    if (from == DType::i32) return b_.CreateSIToFP(x, t);  // to a float
    // float -> i32: truncate toward zero, saturate, NaN -> 0
    return b_.CreateIntrinsic(llvm::Intrinsic::fptosi_sat, {t, x->getType()}, {x});
  }

  llvm::Value* call_libm(const char* f32_name, const char* f64_name, llvm::Value* x) {
    if (auto* vt = llvm::dyn_cast<llvm::FixedVectorType>(x->getType())) {  // one call per lane
      llvm::Value* out = llvm::PoisonValue::get(vt);
      for (unsigned l = 0; l < vt->getNumElements(); ++l)
        out = b_.CreateInsertElement(
            out, call_libm(f32_name, f64_name, b_.CreateExtractElement(x, uint64_t{l})),
            uint64_t{l});
      return out;
    }
    bool single = x->getType()->isFloatTy();
    llvm::FunctionCallee f =
        m_.getOrInsertFunction(single ? f32_name : f64_name, x->getType(), x->getType());
    if (auto* fn = llvm::dyn_cast<llvm::Function>(f.getCallee())) {
      fn->setDoesNotAccessMemory();
      fn->setDoesNotThrow();
      fn->addFnAttr(llvm::Attribute::WillReturn);
    }
    llvm::CallInst* c = b_.CreateCall(f, {x});
    c->setDoesNotAccessMemory();
    c->setDoesNotThrow();
    return c;
  }

  // Whether fast math replaces this f32 function call by inline polynomial code.
  bool fast_f32(llvm::Value* x) {
    return target_.fast_math && x->getType()->getScalarType()->isFloatTy();
  }

  // e^x. With fast math, f32 uses an inline approximation that vectorizes: x = n ln2 + r with
  // |r| <= ln2/2 (Cody-Waite split of ln2), e^r by its degree-6 Taylor polynomial (about 2 ulp),
  // times 2^n built in the exponent bits of two factors (so that every n from -150 to 128 is
  // representable, subnormal results included). NaN and the overflow to inf are kept.
  llvm::Value* exp_of(llvm::Value* x) {
    if (!fast_f32(x)) return b_.CreateUnaryIntrinsic(llvm::Intrinsic::exp, x);
    // The scaling order matters (2^128 alone overflows): no reassociation inside.
    llvm::IRBuilderBase::FastMathFlagGuard guard(b_);
    b_.clearFastMathFlags();
    llvm::Value* c = b_.CreateMinNum(b_.CreateMaxNum(x, fconst(x, -104.0)), fconst(x, 88.72283));
    llvm::Value* n = b_.CreateUnaryIntrinsic(llvm::Intrinsic::rint,
                                             b_.CreateFMul(c, fconst(x, 1.4426950408889634)));
    auto fma = [&](llvm::Value* a, llvm::Value* b, llvm::Value* d) {
      return b_.CreateIntrinsic(llvm::Intrinsic::fma, {x->getType()}, {a, b, d});
    };
    llvm::Value* r = fma(n, fconst(x, -0.693145751953125), c);
    r = fma(n, fconst(x, -1.428606765330187e-06), r);
    llvm::Value* p = fconst(x, 1.0 / 720);
    for (double k : {1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1.0, 1.0}) p = fma(p, r, fconst(x, k));
    llvm::Type* it = shaped(i32_, x);
    llvm::Value* ni = b_.CreateFPToSI(n, it);
    llvm::Value* h = b_.CreateAShr(ni, llvm::ConstantInt::get(it, 1));
    auto pow2 = [&](llvm::Value* e) {
      return b_.CreateBitCast(b_.CreateShl(b_.CreateAdd(e, llvm::ConstantInt::get(it, 127)),
                                           llvm::ConstantInt::get(it, 23)),
                              x->getType());
    };
    llvm::Value* e = b_.CreateFMul(b_.CreateFMul(p, pow2(h)), pow2(b_.CreateSub(ni, h)));
    e = b_.CreateSelect(b_.CreateFCmpOGT(x, fconst(x, 88.72283)), fconst(x, INFINITY), e);
    return b_.CreateSelect(b_.CreateFCmpUNO(x, x), x, e);
  }

  llvm::Value* unary_op(Op op, llvm::Value* x, DType t) {
    auto intr = [&](llvm::Intrinsic::ID id) -> llvm::Value* {
      return b_.CreateUnaryIntrinsic(id, x);
    };
    if (op == Op::Not) {
      if (t != DType::boolean) x = convert(x, t, DType::boolean);
      return b_.CreateNot(x);
    }
    if (t == DType::i32) {
      llvm::Value* zero = cint(x, 0);
      switch (op) {
        case Op::Neg:
          return b_.CreateSub(zero, x);
        case Op::Abs:
          return b_.CreateBinaryIntrinsic(llvm::Intrinsic::abs, x,
                                          llvm::ConstantInt::getFalse(ctx_));
        case Op::Sign:
          return b_.CreateSub(b_.CreateZExt(b_.CreateICmpSGT(x, zero), x->getType()),
                              b_.CreateZExt(b_.CreateICmpSLT(x, zero), x->getType()));
        case Op::Floor:
          return x;
        default:
          break;
      }
      unsupported(p_, k_, std::string("unary ") + op_name(op) + " on i32");
    }
    if (!is_float(t)) unsupported(p_, k_, std::string("unary ") + op_name(op) + " on bool");
    switch (op) {
      case Op::Neg:
        return b_.CreateFNeg(x);
      case Op::Abs:
        return intr(llvm::Intrinsic::fabs);
      case Op::Sign: {
        llvm::Value* r =
            b_.CreateSelect(b_.CreateFCmpOGT(x, fconst(x, 0)), fconst(x, 1), fconst(x, 0));
        r = b_.CreateSelect(b_.CreateFCmpOLT(x, fconst(x, 0)), fconst(x, -1), r);
        return b_.CreateSelect(b_.CreateFCmpUNO(x, x), x, r);
      }
      case Op::Floor:
        return intr(llvm::Intrinsic::floor);
      case Op::Exp:
        return exp_of(x);
      case Op::Expm1:
        return call_libm("expm1f", "expm1", x);
      case Op::Log:
        return intr(llvm::Intrinsic::log);
      case Op::Log1p:
        return call_libm("log1pf", "log1p", x);
      case Op::Sqrt:
        return intr(llvm::Intrinsic::sqrt);
      case Op::Rsqrt:
        return b_.CreateFDiv(fconst(x, 1), intr(llvm::Intrinsic::sqrt));
      case Op::Sin:
        return intr(llvm::Intrinsic::sin);
      case Op::Cos:
        return intr(llvm::Intrinsic::cos);
      case Op::Tanh:
        if (fast_f32(x)) {  // sign(x) * (1 - 2 / (e^(2|x|) + 1))
          llvm::Value* ax = intr(llvm::Intrinsic::fabs);
          llvm::Value* e = exp_of(b_.CreateFAdd(ax, ax));
          llvm::Value* t = b_.CreateFSub(
              fconst(x, 1), b_.CreateFDiv(fconst(x, 2), b_.CreateFAdd(e, fconst(x, 1))));
          return b_.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, t, x);
        }
        return call_libm("tanhf", "tanh", x);
      case Op::Erf:
        return call_libm("erff", "erf", x);
      case Op::Sigmoid: {
        // x >= 0: 1 / (1 + e^-x); x < 0: e^x / (1 + e^x); one exp of -|x| serves both.
        llvm::Value* ex = exp_of(b_.CreateFNeg(intr(llvm::Intrinsic::fabs)));
        llvm::Value* den = b_.CreateFAdd(fconst(x, 1), ex);
        llvm::Value* num = b_.CreateSelect(b_.CreateFCmpOGE(x, fconst(x, 0)), fconst(x, 1), ex);
        return b_.CreateFDiv(num, den);
      }
      default:
        break;
    }
    unsupported(p_, k_, std::string("unary ") + op_name(op));
  }

  llvm::Value* binary_op(Op op, llvm::Value* x, llvm::Value* y, DType t, DType ty) {
    if (ty != t) y = convert(y, ty, t);
    match_shapes(x, y);
    auto to_bool = [&](llvm::Value* v) { return convert(v, t, DType::boolean); };
    if (is_float(t)) {
      switch (op) {
        case Op::Add:
          return b_.CreateFAdd(x, y);
        case Op::Sub:
          return b_.CreateFSub(x, y);
        case Op::Mul:
          return b_.CreateFMul(x, y);
        case Op::Div:
          return b_.CreateFDiv(x, y);
        case Op::Pow:
          return b_.CreateBinaryIntrinsic(llvm::Intrinsic::pow, x, y);
        case Op::Max:
          return b_.CreateMaximum(x, y);
        case Op::Min:
          return b_.CreateMinimum(x, y);
        case Op::Lt:
          return b_.CreateFCmpOLT(x, y);
        case Op::Le:
          return b_.CreateFCmpOLE(x, y);
        case Op::Gt:
          return b_.CreateFCmpOGT(x, y);
        case Op::Ge:
          return b_.CreateFCmpOGE(x, y);
        case Op::Eq:
          return b_.CreateFCmpOEQ(x, y);
        case Op::Ne:
          return b_.CreateFCmpUNE(x, y);
        case Op::And:
          return b_.CreateAnd(to_bool(x), to_bool(y));
        case Op::Or:
          return b_.CreateOr(to_bool(x), to_bool(y));
        default:
          break;
      }
    } else if (t == DType::i32) {
      switch (op) {
        case Op::Add:
          return b_.CreateAdd(x, y);
        case Op::Sub:
          return b_.CreateSub(x, y);
        case Op::Mul:
          return b_.CreateMul(x, y);
        case Op::Div: {
          // Floor division; a zero divisor gives 0 rather than a trap, INT_MIN / -1 wraps.
          llvm::Value* zero = cint(x, 0);
          llvm::Value* bad = b_.CreateICmpEQ(y, zero);
          llvm::Value* ovf =
              b_.CreateAnd(b_.CreateICmpEQ(y, cint(x, -1)), b_.CreateICmpEQ(x, cint(x, INT32_MIN)));
          llvm::Value* safe_y = b_.CreateSelect(b_.CreateOr(bad, ovf), cint(x, 1), y);
          llvm::Value* q = b_.CreateSDiv(x, safe_y);
          llvm::Value* r = b_.CreateSRem(x, safe_y);
          llvm::Value* adjust = b_.CreateAnd(
              b_.CreateICmpNE(r, zero),
              b_.CreateICmpNE(b_.CreateICmpSLT(r, zero), b_.CreateICmpSLT(safe_y, zero)));
          q = b_.CreateSelect(adjust, b_.CreateSub(q, cint(x, 1)), q);
          return b_.CreateSelect(bad, zero, q);
        }
        case Op::Max:
          return b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, x, y);
        case Op::Min:
          return b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, x, y);
        case Op::Lt:
          return b_.CreateICmpSLT(x, y);
        case Op::Le:
          return b_.CreateICmpSLE(x, y);
        case Op::Gt:
          return b_.CreateICmpSGT(x, y);
        case Op::Ge:
          return b_.CreateICmpSGE(x, y);
        case Op::Eq:
          return b_.CreateICmpEQ(x, y);
        case Op::Ne:
          return b_.CreateICmpNE(x, y);
        case Op::And:
          return b_.CreateAnd(to_bool(x), to_bool(y));
        case Op::Or:
          return b_.CreateOr(to_bool(x), to_bool(y));
        default:
          break;
      }
    } else {  // bool
      switch (op) {
        case Op::And:
        case Op::Min:
          return b_.CreateAnd(x, y);
        case Op::Or:
        case Op::Max:
          return b_.CreateOr(x, y);
        case Op::Eq:
          return b_.CreateICmpEQ(x, y);
        case Op::Ne:
          return b_.CreateICmpNE(x, y);
        case Op::Lt:
          return b_.CreateICmpULT(x, y);
        case Op::Le:
          return b_.CreateICmpULE(x, y);
        case Op::Gt:
          return b_.CreateICmpUGT(x, y);
        case Op::Ge:
          return b_.CreateICmpUGE(x, y);
        default:
          break;
      }
    }
    unsupported(p_, k_, std::string("binary ") + op_name(op) + " on " + dtype_name(t));
  }

  // Philox-4x32-10 (graph/philox.h), fully unrolled; the key schedule folds to constants.
  llvm::Value* philox_op(llvm::Value* counter, llvm::Value* offset, int64_t seed_value, DType t) {
    match_shapes(counter, offset);
    if (counter->getType()->getScalarType() != i32_ || offset->getType()->getScalarType() != i32_)
      unsupported(p_, k_, "rand counter/offset must be i32");
    if (!is_float(t)) unsupported(p_, k_, "rand must produce a float");
    llvm::Type* w64 = shaped(i64_, counter);
    llvm::Type* w32 = counter->getType();
    llvm::Value* index = b_.CreateSExt(counter, w64);
    llvm::Value* c0 = b_.CreateTrunc(index, w32);
    llvm::Value* c1 = b_.CreateTrunc(b_.CreateLShr(index, cint(index, 32)), w32);
    llvm::Value* c2 = offset;
    llvm::Value* c3 = cint(counter, 0);
    uint64_t seed = static_cast<uint64_t>(seed_value);
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      llvm::Value* p0 = b_.CreateMul(b_.CreateZExt(c0, w64), cint(index, 0xD2511F53));
      llvm::Value* p1 = b_.CreateMul(b_.CreateZExt(c2, w64), cint(index, 0xCD9E8D57));
      llvm::Value* hi0 = b_.CreateTrunc(b_.CreateLShr(p0, cint(index, 32)), w32);
      llvm::Value* lo0 = b_.CreateTrunc(p0, w32);
      llvm::Value* hi1 = b_.CreateTrunc(b_.CreateLShr(p1, cint(index, 32)), w32);
      llvm::Value* lo1 = b_.CreateTrunc(p1, w32);
      llvm::Value* n0 =
          b_.CreateXor(b_.CreateXor(hi1, c1), cint(counter, static_cast<int32_t>(k0)));
      llvm::Value* n2 =
          b_.CreateXor(b_.CreateXor(hi0, c3), cint(counter, static_cast<int32_t>(k1)));
      c0 = n0;
      c1 = lo1;
      c2 = n2;
      c3 = lo0;
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    llvm::Value* bits = b_.CreateLShr(c0, cint(c0, 8));
    llvm::Value* f = b_.CreateUIToFP(bits, shaped(t, c0));
    return b_.CreateFMul(f, fconst(f, 1.0 / 16777216.0));
  }

  // ---- index arithmetic in i64 ----

  // Whether `id` is i32 arithmetic of loop counters and constants only (never overflows for a
  // valid program, so it can be computed in i64 without wrapping).
  bool pure(ExprId id) {
    size_t i = check_expr(id);
    if (pure_[i] >= 0) return pure_[i];
    const kir::Expr& e = k_.exprs[i];
    pure_[i] = 0;  // guards against cycles in malformed IR
    bool r = false;
    if (e.dtype == DType::i32) {
      switch (e.kind) {
        case ExprKind::Const:
          r = true;
          break;
        case ExprKind::Var: {
          size_t v = static_cast<size_t>(e.var);
          if (v < is_axis_.size()) r = is_axis_[v] || (let_expr_[v] >= 0 && pure(let_expr_[v]));
          break;
        }
        case ExprKind::Binary:
          r = (e.op == Op::Add || e.op == Op::Sub || e.op == Op::Mul || e.op == Op::Max ||
               e.op == Op::Min) &&
              pure(e.a[0]) && pure(e.a[1]);
          break;
        case ExprKind::IDiv:
        case ExprKind::IMod:
          r = pure(e.a[0]) && k_.expr(e.a[1]).kind == ExprKind::Const && k_.expr(e.a[1]).value > 0;
          break;
        case ExprKind::Select:
          r = pure(e.a[1]) && pure(e.a[2]);
          break;
        default:
          break;
      }
    }
    pure_[i] = r;
    return r;
  }

  bool nonneg(ExprId id) {
    size_t i = check_expr(id);
    if (nonneg_[i] >= 0) return nonneg_[i];
    const kir::Expr& e = k_.exprs[i];
    nonneg_[i] = 0;  // guards against cycles in malformed IR
    bool r = false;
    switch (e.kind) {
      case ExprKind::Const:
        r = e.value >= 0;
        break;
      case ExprKind::Var: {
        size_t v = static_cast<size_t>(e.var);
        r = v < is_axis_.size() && (is_axis_[v] || (let_expr_[v] >= 0 && nonneg(let_expr_[v])));
        break;
      }
      case ExprKind::Binary:
        if (e.op == Op::Add || e.op == Op::Mul || e.op == Op::Min)
          r = nonneg(e.a[0]) && nonneg(e.a[1]);
        else if (e.op == Op::Max)
          r = nonneg(e.a[0]) || nonneg(e.a[1]);
        break;
      case ExprKind::IMod:
        r = true;
        break;
      case ExprKind::IDiv:
        r = nonneg(e.a[0]);
        break;
      case ExprKind::Select:
        r = nonneg(e.a[1]) && nonneg(e.a[2]);
        break;
      default:
        break;
    }
    nonneg_[i] = r;
    return r;
  }

  // The value of i32 expression `id` as an i64 index.
  llvm::Value* idx(ExprId id) {
    size_t i = check_expr(id);
    if (icache_[i]) return icache_[i];
    llvm::Value* v;
    if (!pure(id)) {
      llvm::Value* x = val(id);
      if (x->getType() != i32_) unsupported(p_, k_, "index expression is not i32");
      v = b_.CreateSExt(x, i64_);
    } else {
      v = idx_pure(k_.exprs[i]);
    }
    if (!volatile_[i]) icache_[i] = v;
    return v;
  }

  llvm::Value* idx_pure(const kir::Expr& e) {
    switch (e.kind) {
      case ExprKind::Const:
        return i64c(static_cast<int64_t>(e.value));
      case ExprKind::Var: {
        size_t v = static_cast<size_t>(e.var);
        if (is_axis_[v]) {
          llvm::Value* c = vars_[v].index;
          if (!c)
            unsupported(p_, k_, "loop variable " + k_.vars[v].name + " used outside its loop");
          return c;
        }
        return idx(let_expr_[v]);
      }
      case ExprKind::Binary: {
        llvm::Value* x = idx(e.a[0]);
        llvm::Value* y = idx(e.a[1]);
        switch (e.op) {
          case Op::Add:
            return b_.CreateAdd(x, y, "", false, true);
          case Op::Sub:
            return b_.CreateSub(x, y, "", false, true);
          case Op::Mul:
            return b_.CreateMul(x, y, "", false, true);
          case Op::Max:
            return b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, x, y);
          default:
            return b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, x, y);
        }
      }
      case ExprKind::IDiv:
      case ExprKind::IMod: {
        bool mod = e.kind == ExprKind::IMod;
        llvm::Value* x = idx(e.a[0]);
        llvm::Value* d = i64c(static_cast<int64_t>(k_.expr(e.a[1]).value));
        if (nonneg(e.a[0])) return mod ? b_.CreateURem(x, d) : b_.CreateUDiv(x, d);
        return floor_divmod(x, d, mod);
      }
      case ExprKind::Select:
        return b_.CreateSelect(val(e.a[0]), idx(e.a[1]), idx(e.a[2]));
      default:
        break;
    }
    unsupported(p_, k_, "bad index expression");
  }

  // ---- cost model ----

  int64_t expr_cost(ExprId id, std::vector<char>& seen) {
    if (id < 0 || static_cast<size_t>(id) >= seen.size() || seen[static_cast<size_t>(id)]) return 0;
    seen[static_cast<size_t>(id)] = 1;
    const kir::Expr& e = k_.expr(id);
    int64_t c = 1;
    if (e.kind == ExprKind::Load) c = 2;
    if (e.kind == ExprKind::Rand) c = 40;
    if (e.kind == ExprKind::Unary && e.op != Op::Neg && e.op != Op::Abs && e.op != Op::Not &&
        e.op != Op::Sign && e.op != Op::Floor)
      c = 20;
    if (e.kind == ExprKind::Binary && e.op == Op::Pow) c = 40;
    for (ExprId a : e.a) c += expr_cost(a, seen);
    return c;
  }

  int64_t stmts_cost(const std::vector<Stmt>& body) {
    std::vector<char> seen(k_.exprs.size(), 0);
    int64_t total = 0;
    for (const Stmt& s : body) {
      int64_t n = 1;
      for (const Axis& a : s.axes) n *= std::max<int64_t>(a.extent, 0);
      switch (s.kind) {
        case Stmt::Kind::Let:
          total += expr_cost(s.value, seen);
          break;
        case Stmt::Kind::Store:
          total += 1 + expr_cost(s.value, seen) + expr_cost(s.index, seen);
          break;
        case Stmt::Kind::Reduce: {
          std::vector<char> inner(k_.exprs.size(), 0);
          total += n * (stmts_cost(s.body) + expr_cost(s.value, inner) + 1);
          break;
        }
        case Stmt::Kind::Loop:
          total += n * stmts_cost(s.body);
          break;
      }
    }
    return total;
  }

  int64_t estimate_cost() {
    int64_t c = stmts_cost(k_.body);
    if (k_.is_contraction) {
      std::vector<char> seen(k_.exprs.size(), 0);
      c += k_.contraction.k.extent *
           (2 + expr_cost(k_.contraction.a, seen) + expr_cost(k_.contraction.b, seen));
    }
    return c;
  }

  const kir::Program& p_;
  const kir::Kernel& k_;
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

  std::vector<Binding> vars_;
  std::vector<llvm::Value*> vcache_, icache_, vvcache_;
  // Vectorized reduction state: the lane variable, lanes, its per-lane values, the tail mask.
  VarId vvar_ = -1;
  unsigned vf_ = 0;
  llvm::Value *jvec64_ = nullptr, *jvec32_ = nullptr, *tail_mask_ = nullptr;
  std::vector<int8_t> varying_;
  std::vector<VarId> body_lets_;
  std::vector<ExprId> let_expr_;
  std::vector<char> is_axis_;
  std::vector<int8_t> pure_, nonneg_;
  std::vector<char> volatile_;
  std::vector<BufferId> written_;
};

std::string symbol_for(size_t index, const std::string& name) {
  std::string s = "soma_k" + std::to_string(index);
  if (!name.empty()) s += "_";
  for (char c : name) s += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  return s;
}

}  // namespace

const char* codegen_stamp() {
  return __DATE__ " " __TIME__;
}

std::unique_ptr<llvm::Module> generate_module(const kir::Program& program,
                                              const CodegenTarget& target,
                                              llvm::LLVMContext& context,
                                              std::vector<KernelInfo>& info) {
  auto m = std::make_unique<llvm::Module>("soma", context);
  if (!target.triple.empty()) m->setTargetTriple(target.triple);
  if (!target.data_layout.empty()) m->setDataLayout(target.data_layout);
  info.clear();
  for (size_t i = 0; i < program.kernels.size(); ++i) {
    KernelEmitter em(program, program.kernels[i], *m, target);
    info.push_back(em.emit(symbol_for(i, program.kernels[i].name)));
  }
  std::string err;
  llvm::raw_string_ostream os(err);
  if (llvm::verifyModule(*m, &os)) {
    os.flush();
    SOMA_CHECK(false) << "llvm backend generated an invalid module: " << err << "\n"
                      << kir::print_program(program);
  }
  return m;
}

}  // namespace soma::jit
