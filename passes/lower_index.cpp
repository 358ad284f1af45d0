// The index maps of the movement ops: each reads its input at another index of the kernel's
// vars, under a mask where the index may leave the input (pad, concat, window, gather); the
// unwindow (the transpose of window) sums the taps that reach each element.
#include <functional>

#include "graph/error.h"
#include "passes/lower_group.h"

namespace soma::lowering {

using kir::ExprId;
using kir::Stmt;
using kir::VarId;

ExprId GroupLowering::emit_movement(NodeId n, const Index& idx, ExprId mask) {
  const Node& node = g_.node(n);
  const NodeId in = node.inputs.empty() ? -1 : node.inputs[0];
  const Shape in0 = node.inputs.empty() ? Shape{} : g_.node(in).type.shape;
  switch (node.op) {
    case Op::Reshape:
      return emit(in, reshape_index(idx, node.type.shape, in0), mask);
    case Op::Broadcast: {
      Index j = idx;
      for (int a = 0; a < in0.rank(); ++a)
        if (in0[a] == 1) j[static_cast<size_t>(a)] = k_.index_const(0);
      return emit(in, j, mask);
    }
    case Op::Permute: {
      const auto& perm = node.attrs.get_ints("perm");
      Index j(idx.size());
      for (size_t a = 0; a < perm.size(); ++a) j[static_cast<size_t>(perm[a])] = idx[a];
      return emit(in, j, mask);
    }
    case Op::Slice: {
      const auto& start = node.attrs.get_ints("start");
      const auto& step = node.attrs.get_ints("step");
      Index j(idx.size());
      for (size_t a = 0; a < idx.size(); ++a)
        j[a] = k_.binary(Op::Add, k_.index_const(start[a]),
                         k_.binary(Op::Mul, idx[a], k_.index_const(step[a])));
      return emit(in, j, mask);
    }
    case Op::Flip: {
      Index j = idx;
      for (int64_t a : node.attrs.get_ints("axes")) {
        size_t k = static_cast<size_t>(a);
        j[k] = k_.binary(Op::Sub, k_.index_const(in0[static_cast<int>(a)] - 1), idx[k]);
      }
      return emit(in, j, mask);
    }
    case Op::Pad:
      return emit_pad(node, idx, mask);
    case Op::Concat:
      return emit_concat(node, idx, mask);
    case Op::Window:
      return emit_window(node, idx, mask);
    case Op::Unwindow:
      return emit_unwindow(n, idx, mask);
    case Op::Gather:
      return emit_gather(node, idx, mask);
    default:
      break;
  }
  SOMA_CHECK(false) << "lowering: cannot inline " << op_name(node.op) << " (%" << n << ")";
  return -1;
}

// Maps an index of shape `out` to the same element of shape `in` (equal element counts).
GroupLowering::Index GroupLowering::reshape_index(const Index& idx, const Shape& out,
                                                  const Shape& in) {
  // Fast path: the shapes differ only by size-1 axes.
  std::vector<int> out_nz, in_nz;
  for (int i = 0; i < out.rank(); ++i)
    if (out[i] != 1) out_nz.push_back(i);
  for (int i = 0; i < in.rank(); ++i)
    if (in[i] != 1) in_nz.push_back(i);
  Index j(static_cast<size_t>(in.rank()), k_.index_const(0));
  if (out_nz.size() == in_nz.size()) {
    bool same = true;
    for (size_t q = 0; q < out_nz.size(); ++q) same &= out[out_nz[q]] == in[in_nz[q]];
    if (same) {
      for (size_t q = 0; q < out_nz.size(); ++q)
        j[static_cast<size_t>(in_nz[q])] = idx[static_cast<size_t>(out_nz[q])];
      return j;
    }
  }
  ExprId flat = linear(idx, out);
  auto st = in.strides();
  for (int i = 0; i < in.rank(); ++i) {
    if (in[i] == 1) continue;
    ExprId q = k_.idiv(flat, st[static_cast<size_t>(i)]);
    j[static_cast<size_t>(i)] = i == 0 ? q : k_.imod(q, in[i]);
  }
  return j;
}

ExprId GroupLowering::emit_pad(const Node& node, const Index& idx, ExprId mask) {
  const Shape in0 = g_.node(node.inputs[0]).type.shape;
  const auto& lo = node.attrs.get_ints("lo");
  const auto& interior = node.attrs.get_ints("interior");
  Index j(idx.size());
  ExprId m = -1;
  for (size_t a = 0; a < idx.size(); ++a) {
    int64_t d = in0[static_cast<int>(a)], q = interior[a] + 1;
    if (lo[a] == 0 && q == 1 && d == node.type.shape[static_cast<int>(a)]) {
      j[a] = idx[a];
      continue;
    }
    ExprId p = k_.binary(Op::Sub, idx[a], k_.index_const(lo[a]));
    ExprId ok = in_range(p, 0, (d - 1) * q + 1);
    if (q > 1) ok = k_.binary(Op::And, ok, k_.binary(Op::Eq, k_.imod(p, q), k_.index_const(0)));
    m = and_mask(m, ok);
    j[a] = q > 1 ? k_.idiv(p, q) : p;
  }
  if (m < 0) return emit(node.inputs[0], j, mask);
  ExprId v = emit(node.inputs[0], j, and_mask(mask, m));
  return k_.select(m, v, k_.constant(node.attrs.get_float("value"), node.type.dtype));
}

ExprId GroupLowering::emit_concat(const Node& node, const Index& idx, ExprId mask) {
  int axis = static_cast<int>(node.attrs.get_int("axis"));
  size_t ax = static_cast<size_t>(axis);
  std::vector<int64_t> offsets{0};  // where each part starts along the axis, then the end
  for (NodeId part : node.inputs)
    offsets.push_back(offsets.back() + g_.node(part).type.shape[axis]);
  if (node.inputs.size() == 1) return emit(node.inputs[0], idx, mask);
  // A balanced tree of selects on the position along the axis (depth log2 of the parts, so
  // thousands of parts do not make a deep expression); each part's loads are masked to its own
  // range.
  std::function<ExprId(size_t, size_t)> part = [&](size_t lo, size_t hi) -> ExprId {
    if (hi - lo == 1) {
      Index j = idx;
      j[ax] = k_.binary(Op::Sub, idx[ax], k_.index_const(offsets[lo]));
      int64_t len = offsets[lo + 1] - offsets[lo];
      return emit(node.inputs[lo], j, and_mask(mask, in_range(j[ax], 0, len)));
    }
    size_t mid = (lo + hi) / 2;
    ExprId left = part(lo, mid), right = part(mid, hi);
    return k_.select(k_.binary(Op::Lt, idx[ax], k_.index_const(offsets[mid])), left, right);
  };
  return part(0, node.inputs.size());
}

// in[..., o*stride - pad_lo + t*dilation] for the window position o and tap t.
ExprId GroupLowering::emit_window(const Node& node, const Index& idx, ExprId mask) {
  const Shape in0 = g_.node(node.inputs[0]).type.shape;
  const auto& kernel = node.attrs.get_ints("kernel");
  const auto& stride = node.attrs.get_ints("stride");
  const auto& dil = node.attrs.get_ints("dilation");
  const auto& lo = node.attrs.get_ints("pad_lo");
  size_t kw = kernel.size(), lead = static_cast<size_t>(in0.rank()) - kw;
  Index j(idx.begin(), idx.begin() + static_cast<long>(lead));
  ExprId m = -1;
  for (size_t a = 0; a < kw; ++a) {
    ExprId o = idx[lead + a], tap = idx[lead + kw + a];
    ExprId p = k_.binary(
        Op::Add,
        k_.binary(Op::Sub, k_.binary(Op::Mul, o, k_.index_const(stride[a])), k_.index_const(lo[a])),
        k_.binary(Op::Mul, tap, k_.index_const(dil[a])));
    int64_t d = in0[static_cast<int>(lead + a)];
    bool may_leave = lo[a] > 0 || (node.type.shape[static_cast<int>(lead + a)] - 1) * stride[a] -
                                          lo[a] + (kernel[a] - 1) * dil[a] >=
                                      d;
    if (may_leave) m = and_mask(m, in_range(p, 0, d));
    j.push_back(p);
  }
  if (m < 0) return emit(node.inputs[0], j, mask);
  ExprId v = emit(node.inputs[0], j, and_mask(mask, m));
  return k_.select(m, v, k_.constant(node.attrs.get_float("value"), node.type.dtype));
}

// out[..., p] = sum over taps t of g[..., o, t] where p = o*stride - pad_lo + t*dilation.
//
// With dilation 1, the taps that reach p are t = r + stride*u for r = (p + pad_lo) % stride,
// from window o = (p + pad_lo) // stride - u: ceil(kernel / stride) of them per axis (one when
// the windows do not overlap, as in pooling: then no loop at all). Otherwise every tap is
// tried and the ones whose window position is not a multiple of the stride are masked off.
ExprId GroupLowering::emit_unwindow(NodeId n, const Index& idx, ExprId mask) {
  const Node& node = g_.node(n);
  const auto& kernel = node.attrs.get_ints("kernel");
  const auto& stride = node.attrs.get_ints("stride");
  const auto& dil = node.attrs.get_ints("dilation");
  const auto& lo = node.attrs.get_ints("pad_lo");
  const Shape gs = g_.node(node.inputs[0]).type.shape;
  size_t kw = kernel.size(), lead = idx.size() - kw;
  Stmt red = Stmt::reduce(-1, Op::ReduceSum, {}, -1);  // its var comes after its taps
  std::set<VarId> rvars;
  Index gi(idx.begin(), idx.begin() + static_cast<long>(lead)), taps;
  ExprId m = -1;
  auto loop_var = [&](int64_t extent) {
    VarId v = k_.new_var(DType::i32, "t", extent);
    red.axes.push_back({v, extent});
    rvars.insert(v);
    return k_.var_ref(v);
  };
  for (size_t a = 0; a < kw; ++a) {
    const int64_t s = stride[a], kk = kernel[a], o_n = gs[static_cast<int>(lead + a)];
    ExprId q = k_.binary(Op::Add, idx[lead + a], k_.index_const(lo[a]));  // p + pad_lo >= 0
    ExprId t, o;
    if (dil[a] == 1) {
      const int64_t taps_here = (kk + s - 1) / s;
      ExprId r = k_.imod(q, s), base = k_.idiv(q, s);
      if (taps_here == 1) {
        t = r;
        o = base;
      } else {
        ExprId u = loop_var(taps_here);
        t = k_.binary(Op::Add, r, k_.binary(Op::Mul, u, k_.index_const(s)));
        o = k_.binary(Op::Sub, base, u);
      }
      m = and_mask(
          m, k_.binary(Op::And, k_.binary(Op::Lt, t, k_.index_const(kk)), in_range(o, 0, o_n)));
    } else {
      // q - t*dilation must be a multiple of stride: o = (q - t*dilation) / stride in [0, O).
      t = loop_var(kk);
      ExprId w = k_.binary(Op::Sub, q, k_.binary(Op::Mul, t, k_.index_const(dil[a])));
      o = k_.idiv(w, s);
      ExprId ok = k_.binary(Op::And, in_range(o, 0, o_n), k_.binary(Op::Ge, w, k_.index_const(0)));
      if (s > 1) ok = k_.binary(Op::And, ok, k_.binary(Op::Eq, k_.imod(w, s), k_.index_const(0)));
      m = and_mask(m, ok);
    }
    gi.push_back(o);
    taps.push_back(t);
  }
  gi.insert(gi.end(), taps.begin(), taps.end());
  auto gather = [&] {
    ExprId v = emit(node.inputs[0], gi, and_mask(mask, m));
    return m < 0 ? v : k_.select(m, v, k_.constant(0, node.type.dtype));
  };
  if (red.axes.empty()) return gather();  // one tap per output element: a masked gather
  // A loop over taps runs once per parallel point (fusion admits it only there).
  SOMA_CHECK(n == root_ || (scopes_.size() == 1 && node.type.shape.numel() == parallel_points()))
      << "lowering: fusion put unwindow %" << n << " into kernel %" << root_
      << ", where its loop over taps would run more than once per value";
  red.var = k_.new_var(node.type.dtype, "v");
  scopes_.push_back({&red.body, rvars, {}});
  red.value = gather();
  scopes_.pop_back();
  VarId out = red.var;
  scopes_.back().stmts->push_back(std::move(red));
  return k_.var_ref(out);
}

// table[ids[...], ...], zero where an id is out of range.
ExprId GroupLowering::emit_gather(const Node& node, const Index& idx, ExprId mask) {
  const Shape in0 = g_.node(node.inputs[0]).type.shape;
  const Shape ids = g_.node(node.inputs[1]).type.shape;
  Index ii(idx.begin(), idx.begin() + ids.rank());
  ExprId id = emit(node.inputs[1], ii, mask);
  ExprId m = in_range(id, 0, in0[0]);
  Index j{id};
  j.insert(j.end(), idx.begin() + ids.rank(), idx.end());
  return k_.select(m, emit(node.inputs[0], j, and_mask(mask, m)), k_.constant(0, node.type.dtype));
}

}  // namespace soma::lowering
