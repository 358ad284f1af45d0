// Kernel IR -> LLVM IR: reductions (see codegen_internal.h). A Reduce statement becomes a counted
// loop into an accumulator; one whose innermost axis is long is vectorized here with several
// vector accumulators in a fixed order (deterministic for any thread count).
#include "backends/llvm/codegen_internal.h"

#include <cmath>
#include <functional>

namespace soma::jit::detail {

void KernelEmitter::reduce(const Stmt& s) {
  DType t = k_.vars.at(static_cast<size_t>(s.var)).dtype;
  bool is_max = s.reduce_op == Op::ReduceMax;
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

// t: the accumulation dtype (the result is bound in it; the caller converts).
bool KernelEmitter::try_vector_reduce(const Stmt& s, DType t, bool is_max) {
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
        llvm::Value* j0 = b_.CreateAdd(i64c(main_end), b_.CreateMul(tix, i64c(vf)), "", true, true);
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
    r = is_float(t) ? b_.CreateFAddReduce(constant(0, t), parts[0]) : b_.CreateAddReduce(parts[0]);
  bind_value(s.var, r);
  vvar_ = -1;
  return true;
}

void KernelEmitter::bind_vector_var(llvm::Value* j0) {
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
bool KernelEmitter::varying(ExprId id) {
  size_t i = expr_index(id);
  if (varying_[i] >= 0) return varying_[i];
  varying_[i] = 0;
  const kir::Expr& e = k_.exprs[i];
  bool r = false;
  if (e.kind == ExprKind::Var) {
    if (e.var == vvar_ ||
        (static_cast<size_t>(e.var) < vec_var_.size() && vec_var_[static_cast<size_t>(e.var)])) {
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
llvm::Value* KernelEmitter::vval(ExprId id) {
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
      v = binary_op(e.op, vval(e.a[0]), vval(e.a[1]), k_.expr(e.a[0]).dtype, k_.expr(e.a[1]).dtype);
      break;
    case ExprKind::IDiv:
    case ExprKind::IMod:
      v = idiv_op(vval(e.a[0]), vval(e.a[1]), e.kind == ExprKind::IMod);
      break;
    case ExprKind::Select:
      v = select_op(vval(e.a[0]), vval(e.a[1]), vval(e.a[2]), k_.expr(e.a[1]).dtype,
                    k_.expr(e.a[2]).dtype);
      break;
    case ExprKind::Word:
      v = word_op(e.word, vval(e.a[0]), vval(e.a[1]));
      break;
    case ExprKind::Seed:
    case ExprKind::Rand:  // a seed word is the same in every lane; a rand is expanded
      v = val(id);
      break;
    case ExprKind::Const:
      v = val(id);
      break;
  }
  if (!volatile_[i]) vvcache_[i] = v;
  return v;
}

llvm::Value* KernelEmitter::vload(const kir::Expr& e) {
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
    tag_access(v, e.buffer);
  } else {
    llvm::Value* ptrs = b_.CreateInBoundsGEP(et, base, vidx(e.a[0]));
    v = b_.CreateMaskedGather(vt, ptrs, align, m, llvm::PoisonValue::get(vt));
    tag_access(v, e.buffer);
  }
  if (buf.dtype == DType::boolean) v = b_.CreateICmpNE(v, cint(v, 0));
  v = convert(v, buf.dtype, e.dtype);
  if (mask) v = b_.CreateSelect(mask, v, b_.CreateVectorSplat(vf_, constant(e.value, e.dtype)));
  return v;
}

// ---- vectorized across the innermost parallel axis ----
//
// A row kernel whose reductions run along a strided axis (a column sum: the bias gradient of a
// dense layer, a mean over the batch) computes VF consecutive points of its innermost parallel
// axis at once instead: lane l is point j0 + l, every Let, Reduce and Store of the body becomes
// vector code, and each lane accumulates its reduction in the same order as the scalar code
// (same results, bit for bit).

// Whether the kernel's points should run VF at a time (see above).
bool KernelEmitter::column_vectorizable() {
  if (k_.is_contraction || k_.parallel.empty() || k_.sequential) return false;
  const Axis inner = k_.parallel.back();
  const unsigned vf = static_cast<unsigned>(target_.vector_bits / 32);
  if (vf < 4 || inner.extent < static_cast<int64_t>(vf)) return false;
  // Loads strided along `v` (a gather per vector along v) and contiguous ones.
  auto loads_along = [&](ExprId id, VarId v, int& strided, int& contiguous) {
    std::vector<char> seen(k_.exprs.size(), 0);
    std::function<void(ExprId)> walk = [&](ExprId x) {
      if (x < 0 || seen[static_cast<size_t>(x)]) return;
      seen[static_cast<size_t>(x)] = 1;
      const kir::Expr& e = k_.expr(x);
      if (e.kind == ExprKind::Load) {
        LinearIndex f;
        if (!linear_index(e.a[0], f) || !f.atoms.empty())
          ++strided;
        else if (std::abs(f.coef(v)) == 1)
          ++contiguous;
        else if (f.coef(v) != 0)
          ++strided;
      }
      for (ExprId a : e.a) walk(a);
      if (e.kind == ExprKind::Var && let_expr_[static_cast<size_t>(e.var)] >= 0)
        walk(let_expr_[static_cast<size_t>(e.var)]);
    };
    walk(id);
  };
  bool any_reduce = false;
  int strided_j = 0, contiguous_j = 0;
  for (const Stmt& st : k_.body) {
    if (st.kind == Stmt::Kind::Loop) return false;
    if (st.kind == Stmt::Kind::Let || st.kind == Stmt::Kind::Store) {
      loads_along(st.value, inner.var, strided_j, contiguous_j);
      continue;
    }
    // A reduction: worth it only when its own axis is strided (no contiguous load along it).
    any_reduce = true;
    DType t = k_.vars.at(static_cast<size_t>(st.var)).dtype;
    if (!(is_float(t) || t == DType::i32) || st.axes.empty()) return false;
    if (st.reduce_op != Op::ReduceSum && st.reduce_op != Op::ReduceMax) return false;
    int strided_r = 0, contiguous_r = 0;
    for (const Stmt& let : st.body) {
      if (let.kind != Stmt::Kind::Let) return false;
      loads_along(let.value, st.axes.back().var, strided_r, contiguous_r);
      loads_along(let.value, inner.var, strided_j, contiguous_j);
    }
    loads_along(st.value, st.axes.back().var, strided_r, contiguous_r);
    loads_along(st.value, inner.var, strided_j, contiguous_j);
    if (contiguous_r > 0) return false;
  }
  return any_reduce && contiguous_j > 0 && strided_j == 0;
}

// The body for points j0 .. j0 + VF - 1 of the innermost parallel axis (the outer axes bound).
void KernelEmitter::emit_points_vector(llvm::Value* j0) {
  const Axis inner = k_.parallel.back();
  const unsigned vf = static_cast<unsigned>(target_.vector_bits / 32);
  vvar_ = inner.var;
  vf_ = vf;
  varying_.assign(k_.exprs.size(), -1);
  body_lets_.clear();
  vec_var_.assign(k_.vars.size(), 0);
  for (const Stmt& st : k_.body) {
    if (st.kind == Stmt::Kind::Let) body_lets_.push_back(st.var);
    if (st.kind == Stmt::Kind::Reduce) {
      vec_var_[static_cast<size_t>(st.var)] = 1;
      for (const Stmt& let : st.body) body_lets_.push_back(let.var);
    }
  }
  bind_vector_var(j0);
  auto splat = [&](llvm::Value* v) {
    return v->getType()->isVectorTy() ? v : b_.CreateVectorSplat(vf, v);
  };
  for (const Stmt& st : k_.body) {
    switch (st.kind) {
      case Stmt::Kind::Let:
        bind_value(st.var, vval(st.value));
        break;
      case Stmt::Kind::Reduce: {
        DType t = k_.vars.at(static_cast<size_t>(st.var)).dtype;
        const bool is_max = st.reduce_op == Op::ReduceMax;
        const DType t_var = t;
        if (t == DType::f32 && !is_max && !target_.fast_math) t = DType::f64;  // as reduce()
        auto* vt = llvm::FixedVectorType::get(type(t), vf);
        llvm::Value* init = is_max ? (is_float(t) ? constant(-INFINITY, t)
                                                  : llvm::ConstantInt::get(i32_, 0x80000000u))
                                   : constant(0, t);
        llvm::AllocaInst* acc = entry_alloca(vt, "cacc");
        b_.CreateStore(b_.CreateVectorSplat(vf, init), acc);
        Saved sv = push();
        for_axes(st.axes, 0, [&] {
          Saved it = push();
          for (const Stmt& let : st.body) bind_value(let.var, vval(let.value));
          llvm::Value* v = splat(convert(vval(st.value), k_.expr(st.value).dtype, t));
          llvm::Value* a = b_.CreateLoad(vt, acc);
          llvm::Value* r;
          if (is_max)
            r = is_float(t) ? b_.CreateMaximum(a, v)
                            : b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, a, v);
          else
            r = is_float(t) ? b_.CreateFAdd(a, v) : b_.CreateAdd(a, v);
          b_.CreateStore(r, acc);
          pop(it);
        });
        pop(sv);
        bind_value(st.var, convert(b_.CreateLoad(vt, acc), t, t_var));
        break;
      }
      case Stmt::Kind::Store: {
        const kir::Buffer& buf = p_.buffers[static_cast<size_t>(st.buffer)];
        llvm::Value* v = splat(convert(vval(st.value), k_.expr(st.value).dtype, buf.dtype));
        if (buf.dtype == DType::boolean) v = b_.CreateZExt(v, llvm::FixedVectorType::get(i8_, vf));
        llvm::Type* et = mem_type(buf.dtype);
        llvm::Align align(dtype_size(buf.dtype));
        llvm::Value* base = base_[static_cast<size_t>(st.buffer)];
        int64_t stride = 0;
        if (pure(st.index) && affine(st.index, stride) && stride == 1) {
          tag_access(b_.CreateAlignedStore(v, b_.CreateInBoundsGEP(et, base, idx(st.index)), align),
                     st.buffer);
        } else {
          llvm::Value* ptrs = b_.CreateInBoundsGEP(et, base, vidx(st.index));
          tag_access(b_.CreateMaskedScatter(v, ptrs, align, lane_mask(vf, vf)), st.buffer);
        }
        break;
      }
      case Stmt::Kind::Loop:
        unsupported(p_, k_, "a loop in a kernel vectorized across points");
    }
  }
  vvar_ = -1;
  vec_var_.assign(k_.vars.size(), 0);
}

}  // namespace soma::jit::detail
