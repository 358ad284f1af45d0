// Kernel IR -> LLVM IR: expressions (see codegen_internal.h). Types and constants, loads, casts,
// unary and binary ops as LLVM instructions, intrinsics and libm calls, 32-bit word ops. The
// op helpers work on scalars and vectors alike (the vectorized reductions reuse them).
#include "backends/llvm/codegen_internal.h"

#include <cmath>
#include <limits>

namespace soma::jit::detail {

// ---- types and constants ----

llvm::Type* KernelEmitter::type(DType t) {
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

llvm::Value* KernelEmitter::constant(double v, DType t) {
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

// ---- expressions ----
//
// The op helpers below work on scalars and on vectors alike: constants take the shape of an
// operand (ConstantFP/ConstantInt::get splat over vector types).

llvm::Value* KernelEmitter::val(ExprId id) {
  size_t i = expr_index(id);
  if (vcache_[i]) return vcache_[i];
  llvm::Value* v = val_uncached(id);
  if (!volatile_[i]) vcache_[i] = v;
  return v;
}

// The verifier (generate_module runs it first) guarantees what these functions assume of the
// program: ids in range, operands of the right kinds and dtypes, vars used only in their scopes.

llvm::Value* KernelEmitter::var_value(VarId var) {
  llvm::Value* v = vars_[static_cast<size_t>(var)].value;
  SOMA_CHECK(v) << "llvm backend: kernel " << k_.name << ": variable "
                << k_.vars[static_cast<size_t>(var)].name << " has no value where it is read";
  return v;
}

llvm::Value* KernelEmitter::val_uncached(ExprId id) {
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
    case ExprKind::Word:
      return word_op(e.word, val(e.a[0]), val(e.a[1]));
    case ExprKind::Seed:
      return seed_word(e);
    case ExprKind::Rand:  // expanded (llvm_math asks for the random draws)
      break;
  }
  unsupported(p_, k_, "an unexpanded rand expression");  // the verifier admits no other kind
}

llvm::Value* KernelEmitter::select_op(llvm::Value* c, llvm::Value* x, llvm::Value* y, DType tx,
                                      DType ty) {
  y = convert(y, ty, tx);
  match_shapes(x, y);
  match_shapes(c, x);
  match_shapes(c, y);
  return b_.CreateSelect(c, x, y);
}

llvm::Value* KernelEmitter::idiv_op(llvm::Value* a, llvm::Value* d, bool mod) {
  match_shapes(a, d);
  llvm::Value* scalar_d = d;
  if (auto* c = llvm::dyn_cast<llvm::Constant>(d))
    scalar_d = c->getSplatValue() ? c->getSplatValue() : d;
  if (!llvm::isa<llvm::ConstantInt>(scalar_d))  // a1 > 0 by contract; never trap on 0
    d = b_.CreateSelect(b_.CreateICmpSGT(d, cint(d, 0)), d, cint(d, 1));
  return floor_divmod(a, d, mod);
}

// Floor division / modulo for a positive divisor (any width, scalar or vector).
llvm::Value* KernelEmitter::floor_divmod(llvm::Value* a, llvm::Value* d, bool mod) {
  llvm::Value* q = b_.CreateSDiv(a, d);
  llvm::Value* r = b_.CreateSRem(a, d);
  llvm::Value* neg = b_.CreateICmpSLT(r, cint(a, 0));
  if (mod) return b_.CreateSelect(neg, b_.CreateAdd(r, d), r);
  return b_.CreateSelect(neg, b_.CreateSub(q, cint(a, 1)), q);
}

llvm::Value* KernelEmitter::load(const kir::Expr& e) {
  const kir::Buffer& buf = p_.buffers[static_cast<size_t>(e.buffer)];
  llvm::Value* index = idx(e.a[0]);
  llvm::Value* mask = nullptr;
  if (e.a[1] >= 0) {
    mask = val(e.a[1]);
    index = b_.CreateSelect(mask, index, i64c(0));  // masked-off lanes read element 0
  }
  llvm::Value* ptr =
      b_.CreateInBoundsGEP(mem_type(buf.dtype), base_[static_cast<size_t>(e.buffer)], index);
  llvm::Value* v =
      b_.CreateAlignedLoad(mem_type(buf.dtype), ptr, llvm::Align(dtype_size(buf.dtype)));
  tag_access(v, e.buffer);
  if (buf.dtype == DType::boolean) v = b_.CreateICmpNE(v, llvm::ConstantInt::get(i8_, 0));
  v = convert(v, buf.dtype, e.dtype);
  if (mask) v = b_.CreateSelect(mask, v, constant(e.value, e.dtype));
  return v;
}

llvm::Value* KernelEmitter::convert(llvm::Value* x, DType from, DType to) {
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

llvm::Value* KernelEmitter::call_libm(const char* f32_name, const char* f64_name, llvm::Value* x) {
  if (auto* vt = llvm::dyn_cast<llvm::FixedVectorType>(x->getType())) {  // one call per lane
    llvm::Value* out = llvm::PoisonValue::get(vt);
    for (unsigned l = 0; l < vt->getNumElements(); ++l)
      out = b_.CreateInsertElement(
          out, call_libm(f32_name, f64_name, b_.CreateExtractElement(x, uint64_t{l})), uint64_t{l});
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

// e^x. With fast math, f32 uses an inline approximation that vectorizes: x = n ln2 + r with
// |r| <= ln2/2 (Cody-Waite split of ln2), e^r by its degree-6 Taylor polynomial (about 2 ulp),
// times 2^n built in the exponent bits of two factors (so that every n from -150 to 128 is
// representable, subnormal results included). NaN and the overflow to inf are kept.
llvm::Value* KernelEmitter::exp_of(llvm::Value* x) {
  if (!x->getType()->getScalarType()->isFloatTy())
    return b_.CreateUnaryIntrinsic(llvm::Intrinsic::exp, x);
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
  llvm::Value* p = fconst(x, 1.0 / 5040);
  for (double k : {1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1.0, 1.0})
    p = fma(p, r, fconst(x, k));
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

llvm::Value* KernelEmitter::unary_op(Op op, llvm::Value* x, DType t) {
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
        return b_.CreateBinaryIntrinsic(llvm::Intrinsic::abs, x, llvm::ConstantInt::getFalse(ctx_));
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
    case Op::Expm1:  // f64 (f32 is expanded)
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
    case Op::Tanh:  // f64 (f32 is expanded: graph/kernel_math)
      return call_libm("tanhf", "tanh", x);
    case Op::Erf:
      return call_libm("erff", "erf", x);
    default:
      break;
  }
  unsupported(p_, k_, std::string("unary ") + op_name(op));
}

llvm::Value* KernelEmitter::binary_op(Op op, llvm::Value* x, llvm::Value* y, DType t, DType ty) {
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

// Unsigned 32-bit word arithmetic (kernel_ir.h): wrapping add and mul, the high word of the
// 64-bit product, xor, logical shift right.
llvm::Value* KernelEmitter::word_op(kir::WordOp op, llvm::Value* x, llvm::Value* y) {
  match_shapes(x, y);
  switch (op) {
    case kir::WordOp::Add:
      return b_.CreateAdd(x, y);
    case kir::WordOp::Mul:
      return b_.CreateMul(x, y);
    case kir::WordOp::MulHi: {
      llvm::Type* w64 = shaped(i64_, x);
      llvm::Value* p = b_.CreateMul(b_.CreateZExt(x, w64), b_.CreateZExt(y, w64));
      return b_.CreateTrunc(b_.CreateLShr(p, cint(p, 32)), x->getType());
    }
    case kir::WordOp::Xor:
      return b_.CreateXor(x, y);
    case kir::WordOp::Shr:
      return b_.CreateLShr(x, y);
  }
  __builtin_unreachable();  // the verifier admits no other word op
}

// A word of a draw's seed, read at the kernel's entry (a run-time value: programs that differ
// only in their seeds share this code).
llvm::Value* KernelEmitter::seed_word(const kir::Expr& e) {
  llvm::Value* seed = seed_[static_cast<size_t>(e.var)];
  if (e.value != 0) seed = b_.CreateLShr(seed, llvm::ConstantInt::get(i64_, 32));
  return b_.CreateTrunc(seed, i32_);
}

}  // namespace soma::jit::detail
