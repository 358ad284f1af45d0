#include "passes/fuse_legality.h"

#include <algorithm>

namespace soma {

const char* describe(FuseReason why) {
  switch (why) {
    case FuseReason::Fused:
      return "fused";
    case FuseReason::Recomputed:
      return "cheap: recomputed in every kernel that reads it";
    case FuseReason::Inline:
      return "recomputed wherever it is read";
    case FuseReason::Buffer:
      return "a buffer";
    case FuseReason::Output:
      return "an output";
    case FuseReason::Update:
      return "a parameter's new value";
    case FuseReason::Scatter:
      return "scatter_add runs sequentially, in a kernel of its own";
    case FuseReason::Shared:
      return "read by several kernels";
    case FuseReason::NoConsumer:
      return "read by no kernel";
    case FuseReason::ScatterOperand:
      return "an operand of scatter_add, whose kernel runs sequentially";
    case FuseReason::TooDeep:
      return "its kernel's expression would grow deeper than fusion allows";
    case FuseReason::RecomputedTooLarge:
      return "its recomputed expression grew past the bound";
    case FuseReason::FusionOff:
      return "fusion is disabled";
    case FuseReason::ReductionInOperand:
      return "a reduction inside a matmul's operands would run once per k step";
    case FuseReason::ReductionRepeated:
      return "fused, this reduction would run more than once per value (its kernel reads it at "
             "more points than it has values, or inside another loop)";
    case FuseReason::RowsDiffer:
      return "it reduces other axes than the rows of its kernel";
    case FuseReason::RowsBreakKernel:
      return "the rows it would give its kernel make another fused loop there run more than "
             "once per value";
    case FuseReason::TapLoopRepeated:
      return "fused, its loop over overlapping window taps would run more than once per value";
    case FuseReason::SecondContraction:
      return "its kernel already has a matmul";
    case FuseReason::NotEpilogue:
      return "a matmul fuses only into an elementwise epilogue that reads it at its own index";
    case FuseReason::ContractionBreaksKernel:
      return "as its kernel's contraction it would make another fused loop there run more than "
             "once per value";
  }
  return "?";
}

namespace fusion {

namespace {

Vars bit(int axis) {
  return static_cast<Vars>(1u << axis);
}

bool is_reduction(Op op) {
  return op == Op::ReduceSum || op == Op::ReduceMax;
}

// The row axes a fused reduction gives a kernel rooted at `root`: its reduced axes (of size > 1)
// when it reduces a tensor of the root's shape to a smaller one; none otherwise.
Vars row_axes(const Graph& g, const Node& reduction, const Node& root) {
  const Shape& in = g.node(reduction.inputs[0]).type.shape;
  if (in != root.type.shape || reduction.type.shape == root.type.shape) return 0;
  Vars rows = 0;
  for (int64_t a : reduction.attrs.get_ints("axes"))
    if (in[static_cast<int>(a)] != 1) rows |= bit(static_cast<int>(a));
  return rows;
}

}  // namespace

void Use::merge(const Use& o) {
  for (size_t a = 0; a < index.size(); ++a) index[a] |= o.index[a];
  mask |= o.mask;
  in_loop |= o.in_loop;
  operand |= o.operand;
  identity &= o.identity;
}

Vars Use::vars() const {
  Vars v = mask;
  for (Vars x : index) v |= x;
  return v;
}

Use root_use(const Node& root) {
  Use u;
  const Shape& s = root.type.shape;
  for (int a = 0; a < s.rank(); ++a)
    if (s[a] != 1) u.index[static_cast<size_t>(a)] = bit(a);
  return u;
}

bool has_tap_loop(const Node& unwindow) {
  const auto& kernel = unwindow.attrs.get_ints("kernel");
  const auto& stride = unwindow.attrs.get_ints("stride");
  const auto& dil = unwindow.attrs.get_ints("dilation");
  for (size_t a = 0; a < kernel.size(); ++a)
    if (dil[a] != 1 || (kernel[a] + stride[a] - 1) / stride[a] > 1) return true;
  return false;
}

// Mirrors GroupLowering::emit (passes/lower_group.cpp and lower_index.cpp): which vars each
// input's index and mask are built from.
Use input_use(const Graph& g, NodeId consumer, const Use& use, size_t slot) {
  const Node& node = g.node(consumer);
  const Shape& out = node.type.shape;
  const Shape& in = g.node(node.inputs[slot]).type.shape;
  Use r;
  r.mask = use.mask;
  r.in_loop = use.in_loop;
  r.operand = use.operand;
  r.identity = false;
  auto at = [&](int a) { return use.index[static_cast<size_t>(a)]; };
  auto set = [&](int a, Vars v) { r.index[static_cast<size_t>(a)] = v; };
  Vars all = 0;
  for (int a = 0; a < out.rank(); ++a) all |= at(a);
  if (has_trait(node.op, Ew)) {
    r.index = use.index;
    r.identity = use.identity;
    return r;
  }
  switch (node.op) {
    case Op::Reshape: {
      std::vector<int> out_nz, in_nz;
      for (int a = 0; a < out.rank(); ++a)
        if (out[a] != 1) out_nz.push_back(a);
      for (int a = 0; a < in.rank(); ++a)
        if (in[a] != 1) in_nz.push_back(a);
      bool same = out_nz.size() == in_nz.size();
      for (size_t q = 0; same && q < out_nz.size(); ++q) same = out[out_nz[q]] == in[in_nz[q]];
      for (size_t q = 0; q < in_nz.size(); ++q) set(in_nz[q], same ? at(out_nz[q]) : all);
      return r;
    }
    case Op::Broadcast:
      for (int a = 0; a < in.rank(); ++a) set(a, in[a] == 1 ? 0 : at(a));
      return r;
    case Op::Permute: {
      const auto& perm = node.attrs.get_ints("perm");
      for (size_t a = 0; a < perm.size(); ++a)
        set(static_cast<int>(perm[a]), at(static_cast<int>(a)));
      return r;
    }
    case Op::Slice:
    case Op::Flip:
      r.index = use.index;
      return r;
    case Op::Pad: {
      // Masked on the axes that move.
      const auto& lo = node.attrs.get_ints("lo");
      const auto& interior = node.attrs.get_ints("interior");
      r.index = use.index;
      for (int a = 0; a < out.rank(); ++a)
        if (lo[static_cast<size_t>(a)] != 0 || interior[static_cast<size_t>(a)] != 0 ||
            in[a] != out[a])
          r.mask |= at(a);
      return r;
    }
    case Op::Concat:
      // Each part is masked along the axis.
      r.index = use.index;
      if (node.inputs.size() > 1) r.mask |= at(static_cast<int>(node.attrs.get_int("axis")));
      return r;
    case Op::Window: {
      const size_t kw = node.attrs.get_ints("kernel").size();
      const size_t lead = static_cast<size_t>(in.rank()) - kw;
      for (size_t a = 0; a < lead; ++a) r.index[a] = use.index[a];
      const auto& kernel = node.attrs.get_ints("kernel");
      const auto& stride = node.attrs.get_ints("stride");
      const auto& dil = node.attrs.get_ints("dilation");
      const auto& lo = node.attrs.get_ints("pad_lo");
      for (size_t a = 0; a < kw; ++a) {
        r.index[lead + a] = use.index[lead + a] | use.index[lead + kw + a];
        // Masked where a window may reach outside the input.
        const int64_t last =
            (out[static_cast<int>(lead + a)] - 1) * stride[a] - lo[a] + (kernel[a] - 1) * dil[a];
        if (lo[a] > 0 || last >= in[static_cast<int>(lead + a)]) r.mask |= r.index[lead + a];
      }
      return r;
    }
    case Op::Unwindow: {
      const auto& kernel = node.attrs.get_ints("kernel");
      const auto& stride = node.attrs.get_ints("stride");
      const auto& dil = node.attrs.get_ints("dilation");
      const size_t kw = kernel.size(), lead = static_cast<size_t>(out.rank()) - kw;
      for (size_t a = 0; a < lead; ++a) r.index[a] = use.index[a];
      for (size_t a = 0; a < kw; ++a) {
        const bool loop = dil[a] != 1 || (kernel[a] + stride[a] - 1) / stride[a] > 1;
        const Vars v = static_cast<Vars>(use.index[lead + a] | (loop ? kLoop : 0));
        r.index[lead + a] = v;
        r.index[lead + kw + a] = v;
        r.mask |= v;
      }
      r.in_loop |= has_tap_loop(node);
      return r;
    }
    case Op::Gather: {
      const int ids = g.node(node.inputs[1]).type.shape.rank();
      if (slot == 1) {
        for (int a = 0; a < ids; ++a) set(a, at(a));
        return r;
      }
      Vars id = use.mask;  // the index read from the ids picks the row
      for (int a = 0; a < ids; ++a) id |= at(a);
      set(0, id);
      for (int a = ids; a < out.rank(); ++a) set(a - ids + 1, at(a));
      r.mask |= id;
      return r;
    }
    case Op::ReduceSum:
    case Op::ReduceMax:
      r.index = use.index;
      for (int64_t a : node.attrs.get_ints("axes")) set(static_cast<int>(a), kLoop);
      r.in_loop = true;
      return r;
    case Op::MatMul: {
      // a[..., i, k] and b[..., k, j] of c[..., i, j], packed while the k loop runs.
      const int rank = out.rank();
      r.operand = true;
      if (in.rank() != rank) break;
      for (int a = 0; a < rank - 2; ++a) set(a, at(a));
      if (slot == 0) {
        set(rank - 2, at(rank - 2));
        set(rank - 1, kLoop);
      } else {
        set(rank - 2, kLoop);
        set(rank - 1, at(rank - 1));
      }
      return r;
    }
    default:
      break;
  }
  // Anything else: every input axis may depend on every var.
  for (int a = 0; a < in.rank(); ++a) set(a, static_cast<Vars>(all | kLoop));
  r.in_loop = true;
  return r;
}

KernelModel::KernelModel(const Graph& g, NodeId root) : g_(g), root_(root) {
  const Node& r = g.node(root);
  loops_.contraction = r.op == Op::MatMul;
  if (is_reduction(r.op)) looped_.push_back({root, root_use(r)});
}

int64_t KernelModel::parallel(const Loops& loops) const {
  const Shape& s = g_.node(root_).type.shape;
  int64_t n = s.numel();
  if (!loops.contraction)
    for (int a = 0; a < s.rank(); ++a)
      if (loops.rows & bit(a)) n /= s[a];
  return n;
}

KernelModel::Loops KernelModel::with(NodeId n) const {
  Loops l = loops_;
  const Node& node = g_.node(n);
  if (node.op == Op::MatMul) {
    l.contraction = true;
  } else if (is_reduction(node.op) && !l.contraction && l.rows == 0) {
    l.rows = row_axes(g_, node, g_.node(root_));
  }
  return l;
}

FuseReason KernelModel::check(const Member& m, const Loops& loops) const {
  const Node& node = g_.node(m.node);
  const bool in_rows = !loops.contraction && loops.rows != 0;
  if (is_reduction(node.op)) {
    if (m.use.operand) return FuseReason::ReductionInOperand;
    const Vars outside = static_cast<Vars>(kLoop | (in_rows ? loops.rows : 0));
    if ((m.use.vars() & outside) != 0 || node.type.shape.numel() != parallel(loops))
      return FuseReason::ReductionRepeated;
  } else if (node.op == Op::Unwindow && m.node != root_ && has_tap_loop(node)) {
    if (m.use.in_loop || m.use.operand || in_rows || node.type.shape.numel() != parallel(loops))
      return FuseReason::TapLoopRepeated;
  }
  return FuseReason::Fused;
}

FuseReason KernelModel::check_all(const Loops& loops) const {
  for (const Member& m : looped_)
    if (FuseReason r = check(m, loops); r != FuseReason::Fused) return r;
  return FuseReason::Fused;
}

FuseReason KernelModel::admit(NodeId n, const Use& use) const {
  const Node& node = g_.node(n);
  if (node.op == Op::MatMul) {
    if (!use.identity) return FuseReason::NotEpilogue;
    if (loops_.contraction) return FuseReason::SecondContraction;
    if (check_all(with(n)) != FuseReason::Fused) return FuseReason::ContractionBreaksKernel;
    return FuseReason::Fused;
  }
  if (is_reduction(node.op)) {
    if (use.operand) return FuseReason::ReductionInOperand;
    if (!loops_.contraction && loops_.rows != 0) {
      Vars rows = row_axes(g_, node, g_.node(root_));
      if (rows != 0 && rows != loops_.rows) return FuseReason::RowsDiffer;
    }
    const Loops l = with(n);
    if (FuseReason r = check({n, use}, l); r != FuseReason::Fused) return r;
    if (l.rows != loops_.rows && check_all(l) != FuseReason::Fused)
      return FuseReason::RowsBreakKernel;
    return FuseReason::Fused;
  }
  if (node.op == Op::Unwindow) return check({n, use}, loops_);
  return FuseReason::Fused;
}

void KernelModel::add(NodeId n, const Use& use) {
  loops_ = with(n);
  const Node& node = g_.node(n);
  if (is_reduction(node.op) || (node.op == Op::Unwindow && has_tap_loop(node)))
    looped_.push_back({n, use});
}

}  // namespace fusion
}  // namespace soma
