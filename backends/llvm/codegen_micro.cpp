// Kernel IR -> LLVM IR: the GEMM's register micro-kernel (see codegen_gemm.cpp for the blocking
// around it).
#include "backends/llvm/codegen_internal.h"

namespace soma::jit::detail {

// void micro(A, B panel, i64 kc, C tile, i64 ldc, i1 first):
//   C[r*ldc + 0..NR) = (first ? 0 : C[...]) + sum over k < kc of a(r, k) * B[k*NR + 0..NR)
// with a(r, k) = A[r * stride + k] (rows) or A[k * stride + r] (columns), the stride a constant
// (so that every A element is an immediate offset from one pointer). C rows are vector-aligned:
// ldc is a multiple of NR and the tile starts 64-byte aligned. The k loop runs kUnroll steps per
// iteration, then single steps; B is prefetched a few rows ahead (the panel streams from L2
// while the A sliver stays in L1). One per module, shape and A layout: every contraction kernel
// of the program shares them.
llvm::Function* KernelEmitter::emit_micro_kernel(const Gemm& g, bool rows, int64_t stride) {
  constexpr int64_t kUnroll = 4, kPrefetchRows = 8;
  std::string name = std::string("soma_micro_") + dtype_name(g.t) + "_" + std::to_string(g.MR) +
                     "x" + std::to_string(g.NR) + (rows ? "_r" : "_c") + std::to_string(stride);
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
  auto* loop = llvm::BasicBlock::Create(ctx_, "k4", f);
  auto* mid = llvm::BasicBlock::Create(ctx_, "rest", f);
  auto* tail = llvm::BasicBlock::Create(ctx_, "k1", f);
  auto* exit = llvm::BasicBlock::Create(ctx_, "store", f);
  auto* vt = llvm::FixedVectorType::get(g.et, static_cast<unsigned>(g.vf));
  const int nv = static_cast<int>(g.NR / g.vf), mr = static_cast<int>(g.MR);
  const size_t nacc = static_cast<size_t>(mr * nv);
  llvm::Align valign(static_cast<uint64_t>(g.vf * g.esz)), ealign(static_cast<uint64_t>(g.esz));

  // The loop state: k, the A and B pointers, the accumulators.
  struct State {
    llvm::Value *k, *a, *b;
    std::vector<llvm::Value*> acc;
  };
  auto phis = [&](const State& from, llvm::BasicBlock* pred) {
    State s;
    auto phi = [&](llvm::Value* v) {
      llvm::PHINode* p = mb.CreatePHI(v->getType(), 2);
      p->addIncoming(v, pred);
      return p;
    };
    s.k = phi(from.k);
    s.a = phi(from.a);
    s.b = phi(from.b);
    for (llvm::Value* v : from.acc) s.acc.push_back(phi(v));
    return s;
  };
  auto close = [&](const State& phi_state, const State& next, llvm::BasicBlock* pred) {
    llvm::cast<llvm::PHINode>(phi_state.k)->addIncoming(next.k, pred);
    llvm::cast<llvm::PHINode>(phi_state.a)->addIncoming(next.a, pred);
    llvm::cast<llvm::PHINode>(phi_state.b)->addIncoming(next.b, pred);
    for (size_t q = 0; q < nacc; ++q)
      llvm::cast<llvm::PHINode>(phi_state.acc[q])->addIncoming(next.acc[q], pred);
  };
  // One k step: two B vectors, MR broadcasts of A, MR x 2 multiply-adds.
  auto step = [&](State& s, bool prefetch) {
    if (prefetch)
      for (int64_t line = 0; line < g.NR * g.esz; line += 64)
        mb.CreateIntrinsic(
            llvm::Intrinsic::prefetch, {ptr_},
            {mb.CreateConstInBoundsGEP1_64(
                 i8_, s.b, static_cast<uint64_t>(kPrefetchRows * g.NR * g.esz + line)),
             mb.getInt32(0), mb.getInt32(3), mb.getInt32(1)});
    std::vector<llvm::Value*> bv(static_cast<size_t>(nv));
    for (int v = 0; v < nv; ++v)
      bv[static_cast<size_t>(v)] = mb.CreateAlignedLoad(
          vt, mb.CreateConstInBoundsGEP1_64(g.et, s.b, static_cast<uint64_t>(v * g.vf)), valign);
    for (int r = 0; r < mr; ++r) {
      const int64_t off = rows ? r * stride : r;
      llvm::Value* a =
          mb.CreateAlignedLoad(g.et, mb.CreateInBoundsGEP(g.et, s.a, i64c(off)), ealign);
      llvm::Value* splat = mb.CreateVectorSplat(static_cast<unsigned>(g.vf), a);
      for (int v = 0; v < nv; ++v) {
        size_t q = static_cast<size_t>(r * nv + v);
        s.acc[q] = mb.CreateIntrinsic(llvm::Intrinsic::fmuladd, {vt},
                                      {splat, bv[static_cast<size_t>(v)], s.acc[q]});
      }
    }
    s.k = mb.CreateAdd(s.k, i64c(1), "", true, true);
    s.a = mb.CreateInBoundsGEP(g.et, s.a, i64c(rows ? 1 : stride));
    s.b = mb.CreateConstInBoundsGEP1_64(g.et, s.b, static_cast<uint64_t>(g.NR));
  };

  mb.SetInsertPoint(entry);
  llvm::Value* zero = llvm::ConstantFP::get(vt, 0.0);
  State s0{i64c(0), A, B, {}};
  std::vector<llvm::Value*> cptr(nacc);
  for (int r = 0; r < mr; ++r)
    for (int v = 0; v < nv; ++v) {
      size_t q = static_cast<size_t>(r * nv + v);
      cptr[q] = mb.CreateInBoundsGEP(
          g.et, C, mb.CreateAdd(mb.CreateMul(ldc, i64c(r), "", true, true), i64c(v * g.vf)));
      s0.acc.push_back(mb.CreateSelect(first, zero, mb.CreateAlignedLoad(vt, cptr[q], valign)));
    }
  llvm::Value* kmain = mb.CreateAnd(kc, i64c(~(kUnroll - 1)));
  mb.CreateCondBr(mb.CreateICmpSGT(kmain, i64c(0)), loop, mid);

  mb.SetInsertPoint(loop);
  State l = phis(s0, entry);
  State ln = l;
  for (int64_t u = 0; u < kUnroll; ++u) step(ln, u % 2 == 0);  // a prefetch every 2 rows
  close(l, ln, loop);
  mb.CreateCondBr(mb.CreateICmpSLT(ln.k, kmain), loop, mid);

  mb.SetInsertPoint(mid);
  State m = phis(s0, entry);
  close(m, ln, loop);
  mb.CreateCondBr(mb.CreateICmpSLT(m.k, kc), tail, exit);

  mb.SetInsertPoint(tail);
  State t = phis(m, mid);
  State tn = t;
  step(tn, false);
  close(t, tn, tail);
  mb.CreateCondBr(mb.CreateICmpSLT(tn.k, kc), tail, exit);

  mb.SetInsertPoint(exit);
  std::vector<llvm::PHINode*> out(nacc);
  for (size_t q = 0; q < nacc; ++q) {
    out[q] = mb.CreatePHI(vt, 2);
    out[q]->addIncoming(m.acc[q], mid);
    out[q]->addIncoming(tn.acc[q], tail);
  }
  for (size_t q = 0; q < nacc; ++q) mb.CreateAlignedStore(out[q], cptr[q], valign);
  mb.CreateRetVoid();
  return f;
}

}  // namespace soma::jit::detail
