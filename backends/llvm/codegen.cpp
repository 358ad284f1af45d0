// Kernel IR -> LLVM IR: the driver (see codegen_internal.h for the whole code generator). One
// module per program, one function per kernel: the function's setup, the loop over the kernel's
// chunk of the parallel domain, statements, and the cost estimate the launcher splits work by.
#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include <cctype>
#include <functional>

#include "backends/llvm/codegen_internal.h"
#include "graph/kernel_math.h"
#include "graph/kernel_verify.h"

namespace soma::jit {

namespace detail {

void unsupported(const kir::Program& p, const kir::Kernel& k, const std::string& what) {
  SOMA_THROW(BackendError, "llvm backend: cannot compile kernel '" << k.name << "': " << what
                                                                   << "\n"
                                                                   << kir::print_kernel(p, k));
}

KernelInfo KernelEmitter::emit(const std::string& symbol) {
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
    // In the launcher's units (about an instruction each; the micro-kernel retires 2 vector
    // multiply-adds a cycle): a product runs inline below some 20 us of work.
    info.cost_per_task = static_cast<int64_t>(2 * gemm.task_cycles) + 1;
    info.grain = 1;
    info.scratch_bytes = gemm.a_bytes + gemm.b_bytes + gemm.c_bytes;
  }

  auto* fty = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx_), {ptr_, i64_, i64_, ptr_}, false);
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

// ---- setup ----

void KernelEmitter::set_function_attributes(llvm::Function* f) {
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
void KernelEmitter::analyze() {
  size_t nv = k_.vars.size(), ne = k_.exprs.size();
  vars_.assign(nv, Binding{});
  let_expr_.assign(nv, -1);
  is_axis_.assign(nv, 0);
  extent_.assign(nv, 0);
  vcache_.assign(ne, nullptr);
  icache_.assign(ne, nullptr);
  vvcache_.assign(ne, nullptr);
  pure_.assign(ne, -1);
  nonneg_.assign(ne, -1);
  volatile_.assign(ne, 0);
  lin_state_.assign(ne, -1);
  lin_.assign(ne, LinearIndex{});
  for (const Axis& a : k_.parallel) mark_axis(a);
  if (k_.is_contraction) {
    for (const Axis& a : k_.contraction.batch) mark_axis(a);
    mark_axis(k_.contraction.k);
  }
  std::function<void(const std::vector<Stmt>&)> scan = [&](const std::vector<Stmt>& body) {
    for (const Stmt& s : body) {
      if (s.kind == Stmt::Kind::Let) let_expr_.at(static_cast<size_t>(s.var)) = s.value;
      for (const Axis& a : s.axes) mark_axis(a);
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

void KernelEmitter::mark_axis(const Axis& a) {
  VarId v = a.var;
  is_axis_[static_cast<size_t>(v)] = 1;
  // The largest extent the variable runs over (a variable may name several axes).
  int64_t& e = extent_[static_cast<size_t>(v)];
  e = std::max(e, a.extent);
}

void KernelEmitter::load_buffer_pointers() {
  base_.assign(p_.buffers.size(), nullptr);
  std::vector<char> used(p_.buffers.size(), 0);
  auto use = [&](BufferId b) { used[static_cast<size_t>(b)] = 1; };
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
  // The seeds of this kernel's random draws, in the slots after the buffers' (jit.h).
  seed_.assign(kir::kernel_seeds(k_).size(), nullptr);
  int64_t slot = static_cast<int64_t>(p_.buffers.size()) + kir::first_seed_slot(p_, index_);
  for (size_t d = 0; d < seed_.size(); ++d) {
    llvm::Value* at = b_.CreateConstInBoundsGEP1_64(ptr_, args_, static_cast<uint64_t>(slot++));
    auto* ptr = b_.CreateAlignedLoad(ptr_, at, llvm::Align(8), "seed_ptr");
    ptr->setMetadata(llvm::LLVMContext::MD_invariant_load, empty);
    ptr->setMetadata(llvm::LLVMContext::MD_nonnull, empty);
    auto* seed = b_.CreateAlignedLoad(i64_, ptr, llvm::Align(8), "seed");
    seed->setMetadata(llvm::LLVMContext::MD_invariant_load, empty);
    seed_[d] = seed;
  }
  // Different buffers never overlap while a kernel runs (memory planning gives temporaries that
  // live at once disjoint arena ranges; an in-place update is one buffer): one alias scope per
  // buffer, so that LLVM needs no run-time overlap checks before vectorizing a loop.
  scope_.assign(p_.buffers.size(), nullptr);
  noalias_.assign(p_.buffers.size(), nullptr);
  llvm::MDBuilder mdb(ctx_);
  llvm::MDNode* domain = mdb.createAnonymousAliasScopeDomain("soma.buffers");
  std::vector<llvm::Metadata*> scopes(p_.buffers.size(), nullptr);
  for (size_t b = 0; b < used.size(); ++b)
    if (used[b]) scopes[b] = mdb.createAnonymousAliasScope(domain, p_.buffers[b].name);
  for (size_t b = 0; b < used.size(); ++b) {
    if (!used[b]) continue;
    std::vector<llvm::Metadata*> others;
    for (size_t o = 0; o < used.size(); ++o)
      if (used[o] && o != b) others.push_back(scopes[o]);
    scope_[b] = llvm::MDNode::get(ctx_, {scopes[b]});
    noalias_[b] = llvm::MDNode::get(ctx_, others);
  }
}

void KernelEmitter::tag_access(llvm::Value* access, BufferId b) {
  auto* inst = llvm::dyn_cast<llvm::Instruction>(access);
  if (!inst || b < 0 || static_cast<size_t>(b) >= scope_.size() || !scope_[static_cast<size_t>(b)])
    return;
  inst->setMetadata(llvm::LLVMContext::MD_alias_scope, scope_[static_cast<size_t>(b)]);
  inst->setMetadata(llvm::LLVMContext::MD_noalias, noalias_[static_cast<size_t>(b)]);
}

// Loop metadata that keeps a loop as written: neither vectorized nor unrolled (packing loops,
// whose transformed copies would cost compile time for little gain).
llvm::MDNode* KernelEmitter::plain_loop_md() {
  llvm::Metadata* no_vec[] = {llvm::MDString::get(ctx_, "llvm.loop.vectorize.enable"),
                              llvm::ConstantAsMetadata::get(llvm::ConstantInt::getFalse(ctx_))};
  llvm::Metadata* no_unroll[] = {llvm::MDString::get(ctx_, "llvm.loop.unroll.disable")};
  llvm::Metadata* ops[] = {nullptr, llvm::MDNode::get(ctx_, no_vec),
                           llvm::MDNode::get(ctx_, no_unroll)};
  llvm::MDNode* md = llvm::MDNode::getDistinct(ctx_, ops);
  md->replaceOperandWith(0, md);
  return md;
}

// ---- the parallel domain ----

void KernelEmitter::emit_domain() {
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
  const int64_t columns = column_vectorizable() ? target_.vector_bits / 32 : 0;
  const std::vector<size_t> order = row_order();
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
    for (size_t o = order.size(); o-- > 0;) {
      const Axis& a = ax[order[o]];
      bind_axis(a.var, o == 0 ? rem : b_.CreateURem(rem, i64c(a.extent)));
      if (o > 0) rem = b_.CreateUDiv(rem, i64c(a.extent));
    }
    llvm::Value* js = j0;  // the scalar points start here
    if (columns) {         // VF points at a time, then the rest one by one
      llvm::Value* blocks = b_.CreateUDiv(b_.CreateSub(j1, j0), i64c(columns));
      for_range(i64c(0), blocks, "colv", [&](llvm::Value* blk) {
        Saved s2 = push();
        emit_points_vector(b_.CreateAdd(j0, b_.CreateMul(blk, i64c(columns)), "", true, true));
        pop(s2);
      });
      js = b_.CreateAdd(j0, b_.CreateMul(blocks, i64c(columns)), "", true, true);
    }
    for_range(js, j1, "col", [&](llvm::Value* j) {
      Saved s2 = push();
      bind_axis(ax.back().var, j);
      emit_point();
      pop(s2);
    });
    pop(s);
  });
}

// The order in which rows (the points of the parallel axes but the innermost) are visited, as
// indices into k_.parallel, outermost first. The domain's points are independent, so the order
// is free: the axes are sorted by how far one step of each moves the kernel's memory accesses
// (the sum over loads and stores of the byte stride, a div/mod term counting its mean step, a
// store twice), the farthest outermost. Then consecutive rows touch neighboring memory: a pooling
// kernel reading a [C, N*H*W] GEMM output into [N, C, h, w] steps through it channel by channel
// instead of jumping a whole channel plane per point, which no prefetcher follows. A sequential
// kernel keeps its order.
std::vector<size_t> KernelEmitter::row_order() {
  const size_t rows = k_.parallel.size() - 1;
  std::vector<size_t> order(rows);
  for (size_t d = 0; d < rows; ++d) order[d] = d;
  // A contraction's traffic is in its operands, which the walk below does not see (one that is
  // no GEMM runs in its declared order).
  if (k_.sequential || k_.is_contraction || rows < 2) return order;
  std::vector<double> step(rows, 0.0);
  // A store counts twice: writing a line costs reading it first (and a line written in parts at
  // different times, twice that).
  auto account = [&](ExprId index, BufferId buffer, double weight) {
    LinearIndex f;
    if (!linear_index(index, f)) return;
    const double bytes =
        weight * static_cast<double>(dtype_size(p_.buffers[static_cast<size_t>(buffer)].dtype));
    for (size_t d = 0; d < rows; ++d) {
      const VarId v = k_.parallel[d].var;
      double s = std::abs(static_cast<double>(f.coef(v)));
      for (const LinearIndex::Atom& a : f.atoms) {
        LinearIndex x;
        if (linear_index(a.x, x) && x.coef(v) != 0)
          s += std::abs(static_cast<double>(a.coef) * static_cast<double>(x.coef(v)) /
                        static_cast<double>(a.div));
      }
      step[d] += s * bytes;
    }
  };
  std::vector<char> seen(k_.exprs.size(), 0);
  std::function<void(ExprId)> walk = [&](ExprId x) {
    if (x < 0 || seen[static_cast<size_t>(x)]) return;
    seen[static_cast<size_t>(x)] = 1;
    const kir::Expr& e = k_.expr(x);
    if (e.kind == ExprKind::Load) account(e.a[0], e.buffer, 1.0);
    for (ExprId a : e.a) walk(a);
    if (e.kind == ExprKind::Var && let_expr_[static_cast<size_t>(e.var)] >= 0)
      walk(let_expr_[static_cast<size_t>(e.var)]);
  };
  std::function<void(const std::vector<Stmt>&)> visit = [&](const std::vector<Stmt>& body) {
    for (const Stmt& st : body) {
      if (st.kind == Stmt::Kind::Store) account(st.index, st.buffer, 2.0);
      walk(st.value);
      walk(st.index);
      visit(st.body);
    }
  };
  visit(k_.body);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return step[x] > step[y]; });
  return order;
}

// One point of the parallel domain.
void KernelEmitter::emit_point() {
  if (k_.is_contraction) emit_contraction_point();
  stmts(k_.body);
}

// Phase-1 contraction: acc = sum over k of a * b (fused multiply-add, in the acc dtype), then
// the epilogue statements with acc bound.
void KernelEmitter::emit_contraction_point() {
  const kir::Contraction& c = k_.contraction;
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

// ---- statements ----

void KernelEmitter::stmts(const std::vector<Stmt>& body) {
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

void KernelEmitter::store(const Stmt& s) {
  const kir::Buffer& buf = p_.buffers[static_cast<size_t>(s.buffer)];
  llvm::Value* v = convert(val(s.value), k_.expr(s.value).dtype, buf.dtype);
  if (buf.dtype == DType::boolean) v = b_.CreateZExt(v, i8_);
  llvm::Value* ptr =
      b_.CreateInBoundsGEP(mem_type(buf.dtype), base_[static_cast<size_t>(s.buffer)], idx(s.index));
  tag_access(b_.CreateAlignedStore(v, ptr, llvm::Align(dtype_size(buf.dtype))), s.buffer);
}

// ---- cost model ----

int64_t KernelEmitter::expr_cost(ExprId id, std::vector<char>& seen) {
  if (id < 0 || static_cast<size_t>(id) >= seen.size() || seen[static_cast<size_t>(id)]) return 0;
  seen[static_cast<size_t>(id)] = 1;
  const kir::Expr& e = k_.expr(id);
  int64_t c = 1;
  if (e.kind == ExprKind::Load) c = 2;
  if (e.kind == ExprKind::Unary && e.op != Op::Neg && e.op != Op::Abs && e.op != Op::Not &&
      e.op != Op::Sign && e.op != Op::Floor)
    c = 20;
  if (e.kind == ExprKind::Binary && e.op == Op::Pow) c = 40;
  for (ExprId a : e.a) c += expr_cost(a, seen);
  return c;
}

int64_t KernelEmitter::stmts_cost(const std::vector<Stmt>& body) {
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

int64_t KernelEmitter::estimate_cost() {
  int64_t c = stmts_cost(k_.body);
  if (k_.is_contraction) {
    std::vector<char> seen(k_.exprs.size(), 0);
    c += k_.contraction.k.extent *
         (2 + expr_cost(k_.contraction.a, seen) + expr_cost(k_.contraction.b, seen));
  }
  return c;
}

}  // namespace detail

namespace {

// The composite math this code generator takes from graph/kernel_math: sigmoid (around the
// vectorized exp), and f32 tanh and expm1 (within 2 ulps of the C library, measured by
// tests/kernels/math_expansion_test.cpp; made of exp, they vectorize, where tanhf and expm1f are
// a call per element). log1p (its expansion calls log), erf and the f64 functions stay calls of
// the C library (within an ulp). Random draws too: Philox as word arithmetic, which vectorizes;
// its seeds are read at the kernel's entry.
kir::MathSet llvm_math(const CodegenTarget&) {
  return {{{Op::Sigmoid, DType::f32},
           {Op::Sigmoid, DType::f64},
           {Op::Tanh, DType::f32},
           {Op::Expm1, DType::f32}},
          /*rand=*/true};
}

}  // namespace

std::string symbol_for(size_t index, const std::string& name) {
  std::string s = "soma_k" + std::to_string(index);
  if (!name.empty()) s += "_";
  for (char c : name) s += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  return s;
}

std::unique_ptr<llvm::Module> generate_module(const kir::Program& program,
                                              const CodegenTarget& target,
                                              llvm::LLVMContext& context,
                                              std::vector<KernelInfo>& info) {
  std::vector<size_t> all(program.kernels.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  return generate_module(program, all, target, context, info);
}

std::unique_ptr<llvm::Module> generate_module(const kir::Program& program,
                                              const std::vector<size_t>& kernels,
                                              const CodegenTarget& target,
                                              llvm::LLVMContext& context,
                                              std::vector<KernelInfo>& info) {
  kir::verify(program);
  auto m = std::make_unique<llvm::Module>("soma", context);
  if (!target.triple.empty()) m->setTargetTriple(target.triple);
  if (!target.data_layout.empty()) m->setDataLayout(target.data_layout);
  info.clear();
  for (size_t i : kernels) {
    SOMA_CHECK(i < program.kernels.size()) << "generate_module: no kernel " << i;
    const kir::Kernel k = kir::expand_math(program.kernels[i], llvm_math(target));
    detail::KernelEmitter em(program, k, i, *m, target);
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
