#include "graph/infer.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "graph/error.h"

// Attributes by op:
//   input, param       name: string                        (type declared)
//   const              value: floats (one value = splat)    (type declared)
//   iota               axis: int                            (type declared; values 0..n-1 along
//   axis) rand_uniform       seed: int; input: i32[] offset       (type declared, f32 or f64;
//   U[0,1)) cast, reshape, broadcast                                (type declared) reduce_* axes:
//   ints (sorted, unique; reduced axes keep size 1) permute            perm: ints slice start,
//   stop, step: ints per axis (0 <= start <= stop <= dim, step >= 1) pad                lo, hi,
//   interior: ints per axis (>= 0); value: float concat             axis: int flip axes: ints
//   window             kernel, stride, dilation, pad_lo, pad_hi: ints per window axis; value: float
//                      (x[..., D1..Dk] -> [..., O1..Ok, K1..Kk]; padding reads `value`)
//   unwindow           same as window (type declared: the window's input type); sums each window
//                      tap back to the position it was read from (the adjoint of window)
//   gather             table[V, ...], ids: i32[S...] -> [S..., ...]; ids outside [0, V) read 0
//   scatter_add        ids: i32[S...], updates[S..., ...] -> declared [V, ...]; zeros plus the
//                      updates added at their ids; ids outside [0, V) are dropped

namespace soma {

namespace {

std::string types_str(const std::vector<const TensorType*>& in) {
  std::string s;
  for (size_t i = 0; i < in.size(); ++i) {
    if (i) s += " and ";
    s += in[i]->str();
  }
  return s;
}

[[noreturn]] void fail_shape(Op op, const std::vector<const TensorType*>& in,
                             const std::string& rule) {
  SOMA_THROW(ShapeError,
             op_name(op) << ": " << (in.empty() ? "" : "inputs " + types_str(in) + ": ") << rule);
}

[[noreturn]] void fail_type(Op op, const std::vector<const TensorType*>& in,
                            const std::string& rule) {
  SOMA_THROW(TypeError,
             op_name(op) << ": " << (in.empty() ? "" : "inputs " + types_str(in) + ": ") << rule);
}

[[noreturn]] void fail_value(Op op, const std::string& msg) {
  SOMA_THROW(ValueError, op_name(op) << ": " << msg);
}

void check_rank(Op op, const Shape& s) {
  if (s.rank() > kMaxRank)
    SOMA_THROW(ShapeError, op_name(op) << ": rank " << s.rank() << " of " << s.str()
                                       << " exceeds soma's maximum rank " << kMaxRank);
  for (int64_t d : s.dims())
    if (d < 0) SOMA_THROW(ShapeError, op_name(op) << ": negative dimension in " << s.str());
  int64_t n = 1;  // in Shape::numel's order, so that it cannot overflow either
  for (int64_t d : s.dims())
    if (__builtin_mul_overflow(n, d, &n))
      SOMA_THROW(ShapeError, op_name(op)
                                 << ": " << s.str() << " has more elements than fit in 64 bits");
}

// Sizes come from attributes (user text) and may be huge: an int64 overflow is an error.
int64_t checked_add(Op op, int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) fail_value(op, "sizes overflow 64-bit integers");
  return r;
}
int64_t checked_mul(Op op, int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) fail_value(op, "sizes overflow 64-bit integers");
  return r;
}

std::vector<int64_t> ints_per_axis(Op op, const Attrs& a, const char* key, int n) {
  const auto& v = a.get_ints(key);
  if (static_cast<int>(v.size()) != n)
    fail_value(op, std::string("attribute '") + key + "' needs " + std::to_string(n) +
                       " entries, got " + std::to_string(v.size()));
  return v;
}

// Sorted, unique, in-range axes.
void check_axes(Op op, const std::vector<int64_t>& axes, int rank, const char* key) {
  for (size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] < 0 || axes[i] >= rank)
      fail_value(op, std::string("axis ") + std::to_string(axes[i]) + " in '" + key +
                         "' is out of range for rank " + std::to_string(rank));
    if (i && axes[i] <= axes[i - 1])
      fail_value(op, std::string("'") + key + "' must be sorted and unique");
  }
}

TensorType need_declared(Op op, const std::optional<TensorType>& declared) {
  if (!declared) fail_value(op, "the output type must be declared");
  check_rank(op, declared->shape);
  return *declared;
}

TensorType infer_elementwise(Op op, const std::vector<const TensorType*>& in,
                             const std::optional<TensorType>& declared) {
  for (size_t i = 1; i < in.size(); ++i)
    if (in[i]->shape != in[0]->shape)
      fail_shape(op, in,
                 "elementwise ops need equal shapes (numpy broadcasting inserts explicit "
                 "broadcasts first)");
  const TensorType& x = *in[0];
  switch (op) {
    case Op::Cast: {
      TensorType t = need_declared(op, declared);
      if (t.shape != x.shape) fail_shape(op, in, "cast keeps the shape, declared " + t.str());
      return t;
    }
    case Op::StopGradient:
      return x;
    case Op::Not:
      if (x.dtype != DType::boolean) fail_type(op, in, "not needs a bool input");
      return x;
    case Op::And:
    case Op::Or:
      if (in[0]->dtype != DType::boolean || in[1]->dtype != DType::boolean)
        fail_type(op, in, "logical ops need bool inputs");
      return x;
    case Op::Select:
      if (in[0]->dtype != DType::boolean) fail_type(op, in, "select's condition must be bool");
      if (in[1]->dtype != in[2]->dtype) fail_type(op, in, "select's two branches need one dtype");
      return *in[1];
    default:
      break;
  }
  if (in.size() == 2 && in[0]->dtype != in[1]->dtype)
    fail_type(op, in, "binary ops need equal dtypes (promote with cast first)");
  if (is_comparison(op)) return TensorType{DType::boolean, x.shape};
  if (x.dtype == DType::boolean) fail_type(op, in, "arithmetic on bool is not defined; cast first");
  if (has_trait(op, Float) && !is_float(x.dtype))
    fail_type(op, in, std::string(op_name(op)) + " needs a floating-point input (f32 or f64)");
  return x;
}

}  // namespace

int64_t window_out_size(int64_t size, int64_t kernel, int64_t stride, int64_t dilation,
                        int64_t pad_lo, int64_t pad_hi) {
  // In 128 bits, so that a huge dilation or padding cannot overflow.
  __int128 span = static_cast<__int128>(dilation) * (static_cast<__int128>(kernel) - 1) + 1;
  __int128 avail = static_cast<__int128>(size) + pad_lo + pad_hi - span;
  if (avail < 0) return 0;
  return static_cast<int64_t>(avail / stride + 1);
}

TensorType infer_type(Op op, const std::vector<const TensorType*>& in, const Attrs& a,
                      const std::optional<TensorType>& declared) {
  const OpInfo& info = op_info(op);
  if (info.arity >= 0 && static_cast<int>(in.size()) != info.arity)
    fail_value(
        op, "takes " + std::to_string(info.arity) + " input(s), got " + std::to_string(in.size()));
  if (info.arity < 0 && in.empty()) fail_value(op, "takes at least one input");

  if (has_trait(op, Ew)) return infer_elementwise(op, in, declared);

  switch (op) {
    case Op::Input:
    case Op::Param: {
      TensorType t = need_declared(op, declared);
      if (a.get_str("name").empty()) fail_value(op, "needs a non-empty name");
      return t;
    }
    case Op::Const: {
      TensorType t = need_declared(op, declared);
      size_t n = a.get_floats("value").size();
      if (n != 1 && static_cast<int64_t>(n) != t.shape.numel())
        fail_value(op, "has " + std::to_string(n) + " values for shape " + t.shape.str() +
                           " (give one value to fill, or exactly " +
                           std::to_string(t.shape.numel()) + ")");
      return t;
    }
    case Op::Iota: {
      TensorType t = need_declared(op, declared);
      if (t.dtype == DType::boolean) fail_value(op, "cannot produce bool");
      int64_t axis = a.get_int("axis");
      if (axis < 0 || axis >= t.shape.rank())
        fail_value(op, "axis " + std::to_string(axis) + " out of range for " + t.shape.str());
      return t;
    }
    case Op::RandUniform: {
      TensorType t = need_declared(op, declared);
      if (!is_float(t.dtype)) fail_value(op, "produces f32 or f64, not " + t.str());
      if (in[0]->dtype != DType::i32 || in[0]->shape.rank() != 0)
        fail_type(op, in, "the offset input must be an i32 scalar");
      (void)a.get_int("seed");
      return t;
    }
    case Op::ReduceSum:
    case Op::ReduceMax: {
      const TensorType& x = *in[0];
      if (x.dtype == DType::boolean) fail_type(op, in, "cannot reduce bool; cast first");
      const auto& axes = a.get_ints("axes");
      check_axes(op, axes, x.shape.rank(), "axes");
      Shape s = x.shape;
      for (int64_t ax : axes) {
        if (op == Op::ReduceMax && s[static_cast<int>(ax)] == 0)
          fail_shape(op, in, "max over an empty axis has no identity");
        s[static_cast<int>(ax)] = 1;
      }
      return TensorType{x.dtype, s};
    }
    case Op::Reshape: {
      TensorType t = need_declared(op, declared);
      if (t.dtype != in[0]->dtype) fail_type(op, in, "reshape keeps the dtype");
      if (t.shape.numel() != in[0]->shape.numel())
        fail_shape(op, in,
                   "cannot reshape to " + t.shape.str() + ": the element counts differ (" +
                       std::to_string(in[0]->shape.numel()) + " vs " +
                       std::to_string(t.shape.numel()) + ")");
      return t;
    }
    case Op::Broadcast: {
      TensorType t = need_declared(op, declared);
      const Shape& s = in[0]->shape;
      if (t.dtype != in[0]->dtype) fail_type(op, in, "broadcast keeps the dtype");
      if (s.rank() != t.shape.rank())
        fail_shape(op, in,
                   "broadcast to " + t.shape.str() +
                       " needs equal ranks (reshape to insert size-1 axes first)");
      for (int i = 0; i < s.rank(); ++i)
        if (s[i] != t.shape[i] && s[i] != 1)
          fail_shape(op, in,
                     "cannot broadcast to " + t.shape.str() + ": axis " + std::to_string(i) +
                         " has size " + std::to_string(s[i]) + ", which is neither 1 nor " +
                         std::to_string(t.shape[i]));
      return t;
    }
    case Op::Permute: {
      const Shape& s = in[0]->shape;
      auto perm = ints_per_axis(op, a, "perm", s.rank());
      std::vector<int64_t> sorted = perm;
      std::sort(sorted.begin(), sorted.end());
      for (int i = 0; i < s.rank(); ++i)
        if (sorted[static_cast<size_t>(i)] != i)
          fail_value(op, "perm must be a permutation of 0.." + std::to_string(s.rank() - 1));
      Shape o = s;
      for (int i = 0; i < s.rank(); ++i) o[i] = s[static_cast<int>(perm[static_cast<size_t>(i)])];
      return TensorType{in[0]->dtype, o};
    }
    case Op::Slice: {
      const Shape& s = in[0]->shape;
      auto start = ints_per_axis(op, a, "start", s.rank());
      auto stop = ints_per_axis(op, a, "stop", s.rank());
      auto step = ints_per_axis(op, a, "step", s.rank());
      Shape o = s;
      for (int i = 0; i < s.rank(); ++i) {
        size_t k = static_cast<size_t>(i);
        if (step[k] < 1) fail_value(op, "step must be >= 1 (use flip to reverse)");
        if (start[k] < 0 || start[k] > stop[k] || stop[k] > s[i])
          fail_shape(op, in,
                     "slice [" + std::to_string(start[k]) + ":" + std::to_string(stop[k]) +
                         "] is out of range for axis " + std::to_string(i) + " of size " +
                         std::to_string(s[i]));
        o[i] = stop[k] == start[k] ? 0 : (stop[k] - start[k] - 1) / step[k] + 1;
      }
      return TensorType{in[0]->dtype, o};
    }
    case Op::Pad: {
      const Shape& s = in[0]->shape;
      auto lo = ints_per_axis(op, a, "lo", s.rank());
      auto hi = ints_per_axis(op, a, "hi", s.rank());
      auto interior = ints_per_axis(op, a, "interior", s.rank());
      (void)a.get_float("value");
      Shape o = s;
      for (int i = 0; i < s.rank(); ++i) {
        size_t k = static_cast<size_t>(i);
        if (lo[k] < 0 || hi[k] < 0 || interior[k] < 0)
          fail_value(op, "padding must be >= 0 (use slice to crop)");
        int64_t inner = s[i] > 0 ? checked_mul(op, s[i] - 1, interior[k]) : 0;
        o[i] = checked_add(op, checked_add(op, checked_add(op, lo[k], hi[k]), s[i]), inner);
      }
      check_rank(op, o);
      return TensorType{in[0]->dtype, o};
    }
    case Op::Concat: {
      int r = in[0]->shape.rank();
      int64_t axis = a.get_int("axis");
      if (axis < 0 || axis >= r)
        fail_value(op,
                   "axis " + std::to_string(axis) + " out of range for rank " + std::to_string(r));
      Shape o = in[0]->shape;
      o[static_cast<int>(axis)] = 0;
      for (const TensorType* t : in) {
        if (t->dtype != in[0]->dtype) fail_type(op, in, "concat needs one dtype");
        if (t->shape.rank() != r) fail_shape(op, in, "concat needs equal ranks");
        for (int i = 0; i < r; ++i)
          if (i != axis && t->shape[i] != in[0]->shape[i])
            fail_shape(op, in,
                       "concat along axis " + std::to_string(axis) +
                           " needs equal sizes on the other axes (axis " + std::to_string(i) +
                           " differs)");
        o[static_cast<int>(axis)] =
            checked_add(op, o[static_cast<int>(axis)], t->shape[static_cast<int>(axis)]);
      }
      check_rank(op, o);
      return TensorType{in[0]->dtype, o};
    }
    case Op::Flip: {
      check_axes(op, a.get_ints("axes"), in[0]->shape.rank(), "axes");
      return *in[0];
    }
    case Op::MatMul: {
      const Shape &x = in[0]->shape, &y = in[1]->shape;
      if (!is_float(in[0]->dtype) || in[0]->dtype != in[1]->dtype)
        fail_type(op, in, "matmul needs two floating-point inputs of one dtype");
      if (x.rank() < 2 || y.rank() != x.rank())
        fail_shape(op, in,
                   "matmul needs [..., M, K] and [..., K, N] of equal rank >= 2 (the frontend "
                   "promotes vectors and broadcasts batch axes)");
      int r = x.rank();
      for (int i = 0; i < r - 2; ++i)
        if (x[i] != y[i]) fail_shape(op, in, "matmul's batch axes must be equal");
      if (x[r - 1] != y[r - 2])
        fail_shape(op, in,
                   "matmul contracts K: the last axis of the first (" + std::to_string(x[r - 1]) +
                       ") must equal the second-to-last axis of the second (" +
                       std::to_string(y[r - 2]) + ")");
      Shape o = x;
      o[r - 1] = y[r - 1];
      check_rank(op, o);
      return TensorType{in[0]->dtype, o};
    }
    case Op::Window:
    case Op::Unwindow: {
      int k = static_cast<int>(a.get_ints("kernel").size());
      auto kernel = ints_per_axis(op, a, "kernel", k);
      auto stride = ints_per_axis(op, a, "stride", k);
      auto dilation = ints_per_axis(op, a, "dilation", k);
      auto pad_lo = ints_per_axis(op, a, "pad_lo", k);
      auto pad_hi = ints_per_axis(op, a, "pad_hi", k);
      (void)a.get_float("value");
      // For unwindow, the window's input type is the declared type.
      TensorType x = op == Op::Window ? *in[0] : need_declared(op, declared);
      const Shape& s = x.shape;
      if (k < 1 || s.rank() < k || s.rank() + k > kMaxRank)
        fail_shape(op, in,
                   "a window over " + std::to_string(k) + " axes needs an input of rank " +
                       std::to_string(k) + " to " + std::to_string(kMaxRank - k));
      Shape o(std::vector<int64_t>(s.dims().begin(), s.dims().end() - k));
      for (int i = 0; i < k; ++i) {
        size_t j = static_cast<size_t>(i);
        if (kernel[j] < 1 || stride[j] < 1 || dilation[j] < 1 || pad_lo[j] < 0 || pad_hi[j] < 0)
          fail_value(op, "kernel, stride and dilation must be >= 1 and padding >= 0");
        checked_add(op, checked_add(op, s[s.rank() - k + i], pad_lo[j]), pad_hi[j]);
        int64_t os = window_out_size(s[s.rank() - k + i], kernel[j], stride[j], dilation[j],
                                     pad_lo[j], pad_hi[j]);
        if (os < 1)
          fail_shape(op, in,
                     "window of size " + std::to_string(kernel[j]) + " (dilation " +
                         std::to_string(dilation[j]) + ") does not fit axis " +
                         std::to_string(s.rank() - k + i) + " of size " +
                         std::to_string(s[s.rank() - k + i]) + " with padding " +
                         std::to_string(pad_lo[j]) + "+" + std::to_string(pad_hi[j]));
        o.dims().push_back(os);
      }
      for (int i = 0; i < k; ++i) o.dims().push_back(kernel[static_cast<size_t>(i)]);
      check_rank(op, o);
      if (op == Op::Window) return TensorType{x.dtype, o};
      if (in[0]->shape != o || in[0]->dtype != x.dtype)
        fail_shape(
            op, in,
            "unwindow to " + x.str() + " needs an input of type " + TensorType{x.dtype, o}.str());
      return x;
    }
    case Op::Gather: {
      const TensorType &table = *in[0], &ids = *in[1];
      if (ids.dtype != DType::i32) fail_type(op, in, "gather's ids must be i32");
      if (table.shape.rank() < 1) fail_shape(op, in, "gather's table must have rank >= 1");
      Shape o = ids.shape;
      for (int i = 1; i < table.shape.rank(); ++i) o.dims().push_back(table.shape[i]);
      check_rank(op, o);
      return TensorType{table.dtype, o};
    }
    case Op::ScatterAdd: {
      TensorType t = need_declared(op, declared);
      const TensorType &ids = *in[0], &upd = *in[1];
      if (ids.dtype != DType::i32) fail_type(op, in, "scatter_add's ids must be i32");
      if (upd.dtype != t.dtype || t.dtype == DType::boolean)
        fail_type(op, in, "scatter_add's updates must have the declared numeric dtype");
      if (t.shape.rank() < 1) fail_shape(op, in, "scatter_add's result must have rank >= 1");
      Shape expect = ids.shape;
      for (int i = 1; i < t.shape.rank(); ++i) expect.dims().push_back(t.shape[i]);
      if (upd.shape != expect)
        fail_shape(op, in,
                   "scatter_add into " + t.str() + " needs updates of shape " + expect.str());
      return t;
    }
    default:
      break;
  }
  SOMA_CHECK(false) << "no shape rule for op " << op_name(op);
  return {};
}

}  // namespace soma
