#include "passes/lower.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <tuple>

#include "graph/error.h"
#include "passes/fuse.h"
#include "passes/plan.h"

namespace soma {

namespace {

using kir::BufferId;
using kir::ExprId;
using kir::Kernel;
using kir::Stmt;
using kir::VarId;

// Thrown inside lowering when a fused reduction cannot be placed without duplicating work.
struct Unfusable {
  NodeId node;
};
// Thrown out of try_lower: realize these nodes and fuse again.
struct Refusion {
  std::set<NodeId> nodes;
};

std::vector<int64_t> strides_of(const Shape& s) {
  return s.strides();
}

class GroupLowering {
 public:
  GroupLowering(const Graph& g, const Fusion& f, kir::Program& p, std::vector<BufferId>& buf_of,
                NodeId root)
      : g_(g), f_(f), p_(p), buf_of_(buf_of), root_(root) {}

  Kernel lower() {
    const Node& r = g_.node(root_);
    k_.name = std::string(op_name(r.op)) + "_" + std::to_string(root_);
    if (r.op == Op::ScatterAdd) return lower_scatter();
    NodeId contraction = find_contraction();
    const Shape shape = r.type.shape;
    if (contraction >= 0) return lower_contraction(contraction);

    // Row axes: the reduced axes of a fused reduction whose input has the root's shape.
    std::set<int> row_axes = find_row_axes(shape);
    std::vector<ExprId> idx(static_cast<size_t>(shape.rank()));
    for (int a = 0; a < shape.rank(); ++a) {
      if (row_axes.count(a)) continue;
      if (shape[a] == 1) {  // no loop for a size-1 axis (keepdims): the code generators
        idx[static_cast<size_t>(a)] = k_.index_const(0);  // vectorize the innermost real one
        continue;
      }
      VarId v = k_.new_var(DType::i32, "i", shape[a]);
      k_.parallel.push_back({v, shape[a]});
      parallel_vars_.insert(v);
      idx[static_cast<size_t>(a)] = k_.var_ref(v);
    }
    scopes_.push_back({&k_.body, parallel_vars_, {}});
    if (!row_axes.empty()) {
      Stmt loop = Stmt::loop({});
      std::set<VarId> loop_vars;
      for (int a : row_axes) {
        VarId v = k_.new_var(DType::i32, "j", shape[a]);
        loop.axes.push_back({v, shape[a]});
        loop_vars.insert(v);
        idx[static_cast<size_t>(a)] = k_.var_ref(v);
      }
      scopes_.push_back({&loop.body, loop_vars, {}});
      emit_store(idx);
      scopes_.pop_back();
      k_.body.push_back(std::move(loop));
    } else {
      emit_store(idx);
    }
    finish();
    return std::move(k_);
  }

 private:
  struct Scope {
    std::vector<Stmt>* stmts;
    std::set<VarId> vars;
    std::map<std::pair<NodeId, std::vector<ExprId>>, VarId> reduced;  // memoized reductions
  };

  bool inlined(NodeId n) const {
    if (n == root_) return true;
    if (f_.realized[static_cast<size_t>(n)]) return false;
    return true;  // fused into this group, or always-inline
  }

  void emit_store(const std::vector<ExprId>& idx) {
    const Node& r = g_.node(root_);
    ExprId value = emit(root_, idx, -1);
    scopes_.back().stmts->push_back(
        Stmt::store(buffer(root_), linear(idx, r.type.shape), k_.cast(value, r.type.dtype)));
    add_write(buffer(root_));
  }

  void finish() {}

  BufferId buffer(NodeId n) { return buf_of_[static_cast<size_t>(n)]; }
  void add_read(BufferId b) {
    if (std::find(k_.reads.begin(), k_.reads.end(), b) == k_.reads.end()) k_.reads.push_back(b);
  }
  void add_write(BufferId b) {
    if (std::find(k_.writes.begin(), k_.writes.end(), b) == k_.writes.end()) k_.writes.push_back(b);
  }

  ExprId linear(const std::vector<ExprId>& idx, const Shape& s) {
    auto st = strides_of(s);
    ExprId acc = k_.index_const(0);
    for (int i = 0; i < s.rank(); ++i) {
      if (s[i] == 1) continue;
      acc = k_.binary(Op::Add, acc,
                      k_.binary(Op::Mul, idx[static_cast<size_t>(i)],
                                k_.index_const(st[static_cast<size_t>(i)])));
    }
    return acc;
  }

  ExprId and_mask(ExprId a, ExprId b) {
    if (a < 0) return b;
    if (b < 0) return a;
    return k_.binary(Op::And, a, b);
  }

  ExprId in_range(ExprId x, int64_t lo, int64_t hi) {  // lo <= x < hi
    return k_.binary(Op::And, k_.binary(Op::Ge, x, k_.index_const(lo)),
                     k_.binary(Op::Lt, x, k_.index_const(hi)));
  }

  // Vars referenced by an expression.
  void vars_of(ExprId e, std::set<VarId>& out) {
    if (e < 0) return;
    const kir::Expr& x = k_.expr(e);
    if (x.kind == kir::ExprKind::Var) out.insert(x.var);
    for (ExprId a : x.a) vars_of(a, out);
  }

  // The innermost scope whose vars (or those of scopes inside it) cover `vars`.
  size_t scope_for(const std::set<VarId>& vars) {
    size_t best = 0;
    for (size_t s = 0; s < scopes_.size(); ++s)
      for (VarId v : vars)
        if (scopes_[s].vars.count(v)) best = std::max(best, s);
    return best;
  }

  // The value of node n at index idx (under mask) as an expression of the kernel. Memoized: a
  // node read several times at one index (x * x, a diamond of fused nodes) is emitted once, so a
  // chain of such nodes costs linear, not exponential, time.
  ExprId emit(NodeId n, const std::vector<ExprId>& idx, ExprId mask) {
    EmitKey key{n, idx, mask};
    if (auto it = emitted_.find(key); it != emitted_.end()) return it->second;
    ExprId e = emit_uncached(n, idx, mask);
    emitted_.emplace(std::move(key), e);
    return e;
  }

  ExprId emit_uncached(NodeId n, const std::vector<ExprId>& idx, ExprId mask) {
    const Node& node = g_.node(n);
    const DType t = node.type.dtype;
    if (n == acc_node_) {  // inside a contraction's epilogue the matmul is its accumulator
      if (idx != acc_index_) throw Unfusable{n};
      return k_.var_ref(k_.contraction.acc);
    }
    if (node.op == Op::MatMul && n != root_ && inlined(n)) throw Unfusable{n};
    if (!inlined(n)) {
      BufferId b = buffer(n);
      add_read(b);
      return k_.load(b, t, linear(idx, node.type.shape), mask, 0);
    }
    auto in = [&](int i) { return node.inputs[static_cast<size_t>(i)]; };
    const Shape in0 = node.inputs.empty() ? Shape{} : g_.node(in(0)).type.shape;
    if (has_trait(node.op, Ew)) {
      switch (node.op) {
        case Op::Cast:
          return k_.cast(emit(in(0), idx, mask), t);
        case Op::StopGradient:
          return emit(in(0), idx, mask);
        case Op::Select:
          return k_.select(emit(in(0), idx, mask), emit(in(1), idx, mask), emit(in(2), idx, mask));
        default:
          break;
      }
      if (node.inputs.size() == 1) return k_.unary(node.op, emit(in(0), idx, mask));
      return k_.binary(node.op, emit(in(0), idx, mask), emit(in(1), idx, mask));
    }
    switch (node.op) {
      case Op::Const:
        return k_.constant(node.attrs.get_floats("value")[0], t);
      case Op::Iota:
        return k_.cast(idx[static_cast<size_t>(node.attrs.get_int("axis"))], t);
      case Op::RandUniform: {
        ExprId offset = emit(in(0), {}, -1);
        return k_.rand(node.attrs.get_int("seed"), linear(idx, node.type.shape), offset, t);
      }
      case Op::Reshape:
        return emit(in(0), reshape_index(idx, node.type.shape, in0), mask);
      case Op::Broadcast: {
        std::vector<ExprId> j = idx;
        for (int a = 0; a < in0.rank(); ++a)
          if (in0[a] == 1) j[static_cast<size_t>(a)] = k_.index_const(0);
        return emit(in(0), j, mask);
      }
      case Op::Permute: {
        const auto& perm = node.attrs.get_ints("perm");
        std::vector<ExprId> j(idx.size());
        for (size_t a = 0; a < perm.size(); ++a) j[static_cast<size_t>(perm[a])] = idx[a];
        return emit(in(0), j, mask);
      }
      case Op::Slice: {
        const auto& start = node.attrs.get_ints("start");
        const auto& step = node.attrs.get_ints("step");
        std::vector<ExprId> j(idx.size());
        for (size_t a = 0; a < idx.size(); ++a)
          j[a] = k_.binary(Op::Add, k_.index_const(start[a]),
                           k_.binary(Op::Mul, idx[a], k_.index_const(step[a])));
        return emit(in(0), j, mask);
      }
      case Op::Flip: {
        std::vector<ExprId> j = idx;
        for (int64_t a : node.attrs.get_ints("axes")) {
          size_t k = static_cast<size_t>(a);
          j[k] = k_.binary(Op::Sub, k_.index_const(in0[static_cast<int>(a)] - 1), idx[k]);
        }
        return emit(in(0), j, mask);
      }
      case Op::Pad: {
        const auto& lo = node.attrs.get_ints("lo");
        const auto& interior = node.attrs.get_ints("interior");
        std::vector<ExprId> j(idx.size());
        ExprId m = -1;
        for (size_t a = 0; a < idx.size(); ++a) {
          int64_t d = in0[static_cast<int>(a)], q = interior[a] + 1;
          if (lo[a] == 0 && q == 1 && d == node.type.shape[static_cast<int>(a)]) {
            j[a] = idx[a];
            continue;
          }
          ExprId p = k_.binary(Op::Sub, idx[a], k_.index_const(lo[a]));
          ExprId ok = in_range(p, 0, (d - 1) * q + 1);
          if (q > 1)
            ok = k_.binary(Op::And, ok, k_.binary(Op::Eq, k_.imod(p, q), k_.index_const(0)));
          m = and_mask(m, ok);
          j[a] = q > 1 ? k_.idiv(p, q) : p;
        }
        if (m < 0) return emit(in(0), j, mask);
        ExprId v = emit(in(0), j, and_mask(mask, m));
        return k_.select(m, v, k_.constant(node.attrs.get_float("value"), t));
      }
      case Op::Concat: {
        int axis = static_cast<int>(node.attrs.get_int("axis"));
        size_t ax = static_cast<size_t>(axis);
        std::vector<int64_t> offsets{0};  // where each part starts along the axis, then the end
        for (NodeId part : node.inputs)
          offsets.push_back(offsets.back() + g_.node(part).type.shape[axis]);
        if (node.inputs.size() == 1) return emit(in(0), idx, mask);
        // A balanced tree of selects on the position along the axis (depth log2 of the parts,
        // so thousands of parts do not make a deep expression); each part's loads are masked to
        // its own range.
        std::function<ExprId(size_t, size_t)> part = [&](size_t lo, size_t hi) -> ExprId {
          if (hi - lo == 1) {
            std::vector<ExprId> j = idx;
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
      case Op::Window: {
        const auto& kernel = node.attrs.get_ints("kernel");
        const auto& stride = node.attrs.get_ints("stride");
        const auto& dil = node.attrs.get_ints("dilation");
        const auto& lo = node.attrs.get_ints("pad_lo");
        size_t kw = kernel.size(), lead = static_cast<size_t>(in0.rank()) - kw;
        std::vector<ExprId> j(idx.begin(), idx.begin() + static_cast<long>(lead));
        ExprId m = -1;
        for (size_t a = 0; a < kw; ++a) {
          ExprId o = idx[lead + a], tap = idx[lead + kw + a];
          ExprId p = k_.binary(Op::Add,
                               k_.binary(Op::Sub, k_.binary(Op::Mul, o, k_.index_const(stride[a])),
                                         k_.index_const(lo[a])),
                               k_.binary(Op::Mul, tap, k_.index_const(dil[a])));
          int64_t d = in0[static_cast<int>(lead + a)];
          bool may_leave =
              lo[a] > 0 || (node.type.shape[static_cast<int>(lead + a)] - 1) * stride[a] - lo[a] +
                                   (kernel[a] - 1) * dil[a] >=
                               d;
          if (may_leave) m = and_mask(m, in_range(p, 0, d));
          j.push_back(p);
        }
        if (m < 0) return emit(in(0), j, mask);
        ExprId v = emit(in(0), j, and_mask(mask, m));
        return k_.select(m, v, k_.constant(node.attrs.get_float("value"), t));
      }
      case Op::Unwindow:
        return emit_unwindow(n, idx, mask);
      case Op::Gather: {
        const Shape ids = g_.node(in(1)).type.shape;
        std::vector<ExprId> ii(idx.begin(), idx.begin() + ids.rank());
        ExprId id = emit(in(1), ii, mask);
        ExprId m = in_range(id, 0, in0[0]);
        std::vector<ExprId> j{id};
        j.insert(j.end(), idx.begin() + ids.rank(), idx.end());
        return k_.select(m, emit(in(0), j, and_mask(mask, m)), k_.constant(0, t));
      }
      case Op::ReduceSum:
      case Op::ReduceMax:
        return emit_reduce(n, idx, mask);
      default:
        break;
    }
    SOMA_CHECK(false) << "lowering: cannot inline " << op_name(node.op) << " (%" << n << ")";
    return -1;
  }

  // Maps an index of shape `out` to the same element of shape `in` (equal element counts).
  std::vector<ExprId> reshape_index(const std::vector<ExprId>& idx, const Shape& out,
                                    const Shape& in) {
    // Fast path: the shapes differ only by size-1 axes.
    std::vector<int> out_nz, in_nz;
    for (int i = 0; i < out.rank(); ++i)
      if (out[i] != 1) out_nz.push_back(i);
    for (int i = 0; i < in.rank(); ++i)
      if (in[i] != 1) in_nz.push_back(i);
    std::vector<ExprId> j(static_cast<size_t>(in.rank()), k_.index_const(0));
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
    auto st = strides_of(in);
    for (int i = 0; i < in.rank(); ++i) {
      if (in[i] == 1) continue;
      ExprId q = k_.idiv(flat, st[static_cast<size_t>(i)]);
      j[static_cast<size_t>(i)] = i == 0 ? q : k_.imod(q, in[i]);
    }
    return j;
  }

  ExprId emit_reduce(NodeId n, const std::vector<ExprId>& idx, ExprId mask) {
    const Node& node = g_.node(n);
    const Shape in = g_.node(node.inputs[0]).type.shape;
    std::vector<ExprId> key = idx;
    key.push_back(mask);
    std::set<VarId> used;
    for (ExprId e : idx) vars_of(e, used);
    vars_of(mask, used);
    size_t s = scope_for(used);
    // A fused reduction is computed once per parallel point; anything else would recompute it.
    int64_t parallel = 1;
    for (auto& a : k_.parallel) parallel *= a.extent;
    if (s != 0 || node.type.shape.numel() != parallel) throw Unfusable{n};
    auto it = scopes_[s].reduced.find({n, key});
    if (it != scopes_[s].reduced.end()) return k_.var_ref(it->second);

    Stmt red = Stmt::reduce(k_.new_var(node.type.dtype, "v"), node.op, {}, -1);
    std::vector<ExprId> j = idx;
    std::set<VarId> rvars;
    for (int64_t a : node.attrs.get_ints("axes")) {
      VarId v = k_.new_var(DType::i32, "r", in[static_cast<int>(a)]);
      red.axes.push_back({v, in[static_cast<int>(a)]});
      rvars.insert(v);
      j[static_cast<size_t>(a)] = k_.var_ref(v);
    }
    scopes_.push_back({&red.body, rvars, {}});
    red.value = emit(node.inputs[0], j, mask);
    scopes_.pop_back();
    VarId out = red.var;
    scopes_[s].stmts->push_back(std::move(red));
    scopes_[s].reduced[{n, key}] = out;
    return k_.var_ref(out);
  }

  // out[..., p] = sum over taps t of g[..., o, t] where p = o*stride - pad_lo + t*dilation.
  //
  // With dilation 1, the taps that reach p are t = r + stride*u for r = (p + pad_lo) % stride,
  // from window o = (p + pad_lo) // stride - u: ceil(kernel / stride) of them per axis (one when
  // the windows do not overlap, as in pooling: then no loop at all). Otherwise every tap is
  // tried and the ones whose window position is not a multiple of the stride are masked off.
  ExprId emit_unwindow(NodeId n, const std::vector<ExprId>& idx, ExprId mask) {
    const Node& node = g_.node(n);
    const auto& kernel = node.attrs.get_ints("kernel");
    const auto& stride = node.attrs.get_ints("stride");
    const auto& dil = node.attrs.get_ints("dilation");
    const auto& lo = node.attrs.get_ints("pad_lo");
    const Shape gs = g_.node(node.inputs[0]).type.shape;
    size_t kw = kernel.size(), lead = idx.size() - kw;
    Stmt red = Stmt::reduce(-1, Op::ReduceSum, {}, -1);  // its var comes after its taps
    std::set<VarId> rvars;
    std::vector<ExprId> gi(idx.begin(), idx.begin() + static_cast<long>(lead)), taps;
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
        ExprId ok =
            k_.binary(Op::And, in_range(o, 0, o_n), k_.binary(Op::Ge, w, k_.index_const(0)));
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
    // A loop over taps is computed once per parallel point: fused into a consumer that reads
    // it several times (or inside another loop) it would be recomputed, so it is realized.
    int64_t parallel = 1;
    for (auto& ax : k_.parallel) parallel *= ax.extent;
    if (n != root_ && (scopes_.size() != 1 || node.type.shape.numel() != parallel))
      throw Unfusable{n};
    red.var = k_.new_var(node.type.dtype, "v");
    scopes_.push_back({&red.body, rvars, {}});
    red.value = gather();
    scopes_.pop_back();
    VarId out = red.var;
    scopes_.back().stmts->push_back(std::move(red));
    return k_.var_ref(out);
  }

  std::set<int> find_row_axes(const Shape& shape) {
    // Walk the fused members; a reduction whose input has the root's shape makes its axes rows.
    std::set<int> rows;
    for (NodeId id = root_; id >= 0; --id) {
      if (f_.group[static_cast<size_t>(id)] != root_ || f_.realized[static_cast<size_t>(id)])
        continue;
      const Node& n = g_.node(id);
      if ((n.op == Op::ReduceSum || n.op == Op::ReduceMax) &&
          g_.node(n.inputs[0]).type.shape == shape && n.type.shape != shape) {
        std::set<int> axes;
        for (int64_t a : n.attrs.get_ints("axes"))
          if (shape[static_cast<int>(a)] != 1) axes.insert(static_cast<int>(a));
        if (rows.empty())
          rows = axes;
        else if (rows != axes)
          throw Unfusable{id};
      }
    }
    return rows;
  }

  // The matmul this group is the epilogue of, if any (the root or a fused member).
  NodeId find_contraction() {
    for (NodeId id = root_; id >= 0; --id) {
      bool member = id == root_ || (f_.group[static_cast<size_t>(id)] == root_ &&
                                    !f_.realized[static_cast<size_t>(id)]);
      if (member && g_.node(id).op == Op::MatMul) return id;
    }
    return -1;
  }

  Kernel lower_contraction(NodeId mm) {
    const Node& m = g_.node(mm);
    const Node& r = g_.node(root_);
    if (r.type.shape != m.type.shape) throw Unfusable{mm};
    k_.is_contraction = true;
    const Shape s = m.type.shape;
    int rank = s.rank();
    std::vector<ExprId> idx;
    for (int a = 0; a < rank; ++a) {
      VarId v = k_.new_var(DType::i32, a == rank - 2 ? "i" : a == rank - 1 ? "j" : "b", s[a]);
      k_.parallel.push_back({v, s[a]});
      parallel_vars_.insert(v);
      idx.push_back(k_.var_ref(v));
      if (a < rank - 2) k_.contraction.batch.push_back({v, s[a]});
    }
    const Shape as = g_.node(m.inputs[0]).type.shape;
    VarId kv = k_.new_var(DType::i32, "k", as[rank - 1]);
    k_.contraction.k = {kv, as[rank - 1]};
    ExprId kk = k_.var_ref(kv);
    std::vector<ExprId> ai(idx.begin(), idx.end() - 1), bi(idx.begin(), idx.end() - 2);
    ai.push_back(kk);
    bi.push_back(kk);
    bi.push_back(idx.back());
    std::vector<Stmt> operand_scope;
    std::set<VarId> opvars = parallel_vars_;
    opvars.insert(kv);
    scopes_.push_back({&operand_scope, opvars, {}});
    // A narrow product (fewer columns than a vector register holds, e.g. the 10 logits of a
    // classifier or a 3x3 convolution's weight gradient) is computed transposed, C^T = B^T A^T:
    // the code generators tile rows by a few and columns by whole vectors. Only the roles of the
    // two axes change; the epilogue still stores C[i, j].
    const int64_t rows = s[rank - 2], cols = s[rank - 1];
    const bool swap = cols < 16 && rows > cols;
    if (swap)
      std::swap(k_.parallel[static_cast<size_t>(rank - 2)],
                k_.parallel[static_cast<size_t>(rank - 1)]);
    k_.contraction.a = emit(m.inputs[swap ? 1 : 0], swap ? bi : ai, -1);
    k_.contraction.b = emit(m.inputs[swap ? 0 : 1], swap ? ai : bi, -1);
    scopes_.pop_back();
    if (!operand_scope.empty()) throw Unfusable{m.inputs[0]};  // no reductions inside operands
    k_.contraction.acc = k_.new_var(m.type.dtype, "acc");
    acc_node_ = mm;
    acc_index_ = idx;
    scopes_.push_back({&k_.body, parallel_vars_, {}});
    emit_store_contraction(idx);
    scopes_.pop_back();
    return std::move(k_);
  }

  void emit_store_contraction(const std::vector<ExprId>& idx) {
    // Within the epilogue, the matmul node is the accumulator.
    const Node& r = g_.node(root_);
    ExprId value = emit(root_, idx, -1);
    k_.body.push_back(
        Stmt::store(buffer(root_), linear(idx, r.type.shape), k_.cast(value, r.type.dtype)));
    add_write(buffer(root_));
  }

  Kernel lower_scatter() {
    const Node& r = g_.node(root_);
    const Shape ids = g_.node(r.inputs[0]).type.shape;
    const Shape upd = g_.node(r.inputs[1]).type.shape;
    // Kernel 1 (emitted by the caller as a fill) zeroes the output; this kernel accumulates in
    // order.
    k_.sequential = true;
    std::vector<ExprId> ui;
    for (int a = 0; a < upd.rank(); ++a) {
      VarId v = k_.new_var(DType::i32, "s", upd[a]);
      k_.parallel.push_back({v, upd[a]});
      ui.push_back(k_.var_ref(v));
    }
    BufferId out = buffer(root_), idb = buffer(r.inputs[0]), ub = buffer(r.inputs[1]);
    add_read(idb);
    add_read(ub);
    add_read(out);
    std::vector<ExprId> ii(ui.begin(), ui.begin() + ids.rank());
    ExprId id = k_.load(idb, DType::i32, linear(ii, ids));
    int64_t rows = r.type.shape[0];
    ExprId ok = in_range(id, 0, rows);
    ExprId safe = k_.select(ok, id, k_.index_const(0));
    std::vector<ExprId> oi{safe};
    oi.insert(oi.end(), ui.begin() + ids.rank(), ui.end());
    ExprId at = linear(oi, r.type.shape);
    ExprId old = k_.load(out, r.type.dtype, at);
    ExprId add = k_.binary(Op::Add, old, k_.load(ub, r.type.dtype, linear(ui, upd)));
    k_.body.push_back(Stmt::store(out, at, k_.select(ok, add, old)));
    add_write(out);
    return std::move(k_);
  }

  const Graph& g_;
  const Fusion& f_;
  kir::Program& p_;
  std::vector<BufferId>& buf_of_;
  NodeId root_;
  Kernel k_;
  std::vector<Scope> scopes_;
  using EmitKey = std::tuple<NodeId, std::vector<ExprId>, ExprId>;
  std::map<EmitKey, ExprId> emitted_;
  std::set<VarId> parallel_vars_;
  NodeId acc_node_ = -1;
  std::vector<ExprId> acc_index_;
};

// A fill kernel: buffer[...] = value.
Kernel fill_kernel(kir::Program& p, BufferId b, double value, const std::string& name) {
  Kernel k;
  k.name = name;
  const kir::Buffer& buf = p.buffers[static_cast<size_t>(b)];
  VarId v = k.new_var(DType::i32, "i", buf.numel());
  k.parallel.push_back({v, buf.numel()});
  k.body.push_back(Stmt::store(b, k.var_ref(v), k.constant(value, buf.dtype)));
  k.writes.push_back(b);
  return k;
}

// A copy kernel: dst[i] = src[i].
Kernel copy_kernel(kir::Program& p, BufferId dst, BufferId src, const std::string& name) {
  Kernel k;
  k.name = name;
  const kir::Buffer& buf = p.buffers[static_cast<size_t>(dst)];
  VarId v = k.new_var(DType::i32, "i", buf.numel());
  k.parallel.push_back({v, buf.numel()});
  k.body.push_back(Stmt::store(dst, k.var_ref(v), k.load(src, buf.dtype, k.var_ref(v))));
  k.reads.push_back(src);
  k.writes.push_back(dst);
  return k;
}

// What to realize when the group of `root` could not be lowered because of `culprit`: the
// culprit itself when it is fused; otherwise (the culprit is the root, or already realized) the
// group's fused reductions and matmuls, and failing those every fused member, so that each retry
// realizes at least one more node and lowering converges.
std::set<NodeId> nodes_to_realize(const Graph& g, const Fusion& f, NodeId root, NodeId culprit) {
  if (!f.realized[static_cast<size_t>(culprit)] && culprit != root) return {culprit};
  std::set<NodeId> expensive, members;
  for (NodeId id = 0; id < root; ++id) {
    if (f.group[static_cast<size_t>(id)] != root || f.realized[static_cast<size_t>(id)]) continue;
    members.insert(id);
    if (has_trait(g.node(id).op, Heavy)) expensive.insert(id);
  }
  SOMA_CHECK(!members.empty()) << "lowering cannot lower the single node %" << root;
  return expensive.empty() ? members : expensive;
}

kir::Program try_lower(const Module& m, const std::set<NodeId>& force) {
  const Graph& g = m.graph;
  Fusion f = fuse(m, force);
  kir::Program p;
  std::vector<BufferId> buf_of(static_cast<size_t>(g.size()), -1);
  auto add_buffer = [&](kir::Buffer b) {
    if (b.shape.numel() >= (int64_t{1} << 31))
      SOMA_THROW(ShapeError, "tensor "
                                 << dtype_name(b.dtype) << b.shape.str()
                                 << " has 2^31 or more elements, more than soma's kernels index");
    p.buffers.push_back(std::move(b));
    return static_cast<BufferId>(p.buffers.size() - 1);
  };
  std::vector<char> is_output(static_cast<size_t>(g.size()), 0);
  for (NodeId o : m.outputs) is_output[static_cast<size_t>(o)] = 1;
  for (NodeId id = 0; id < g.size(); ++id) {
    const Node& n = g.node(id);
    if (!f.realized[static_cast<size_t>(id)]) continue;
    kir::Buffer b;
    b.dtype = n.type.dtype;
    b.shape = n.type.shape;
    if (n.op == Op::Input || n.op == Op::Param) {
      b.kind = n.op == Op::Input ? kir::Buffer::Kind::Input : kir::Buffer::Kind::Param;
      b.name = n.attrs.get_str("name");
    } else if (n.op == Op::Const) {
      b.kind = kir::Buffer::Kind::Constant;
      b.name = "c" + std::to_string(id);
      b.data = n.attrs.get_floats("value");
    } else {
      b.kind =
          is_output[static_cast<size_t>(id)] ? kir::Buffer::Kind::Output : kir::Buffer::Kind::Temp;
      b.name = (is_output[static_cast<size_t>(id)] ? "out" : "t") + std::to_string(id);
    }
    buf_of[static_cast<size_t>(id)] = add_buffer(std::move(b));
  }
  for (NodeId root : f.roots) {
    const Node& n = g.node(root);
    if (n.op == Op::Input || n.op == Op::Param || n.op == Op::Const) continue;
    if (n.op == Op::ScatterAdd)
      p.kernels.push_back(
          fill_kernel(p, buf_of[static_cast<size_t>(root)], 0.0, "zero_" + std::to_string(root)));
    GroupLowering gl(g, f, p, buf_of, root);
    try {
      p.kernels.push_back(gl.lower());
    } catch (const Unfusable& u) {
      throw Refusion{nodes_to_realize(g, f, root, u.node)};
    }
  }
  // Outputs: a buffer of kind Output; sources that are outputs get a copy.
  for (NodeId o : m.outputs) {
    BufferId b = buf_of[static_cast<size_t>(o)];
    if (p.buffers[static_cast<size_t>(b)].kind != kir::Buffer::Kind::Output) {
      kir::Buffer ob = p.buffers[static_cast<size_t>(b)];
      ob.kind = kir::Buffer::Kind::Output;
      ob.data.clear();
      ob.name = "out" + std::to_string(o) + "_" + std::to_string(p.outputs.size());
      BufferId nb = add_buffer(std::move(ob));
      p.kernels.push_back(copy_kernel(p, nb, b, "copy_" + std::to_string(o)));
      b = nb;
    }
    p.outputs.push_back(b);
  }
  for (auto& [param, value] : m.updates)
    p.updates.emplace_back(buf_of[static_cast<size_t>(param)], buf_of[static_cast<size_t>(value)]);
  return p;
}

}  // namespace

kir::Program lower_module(const Module& m, bool fuse) {
  std::set<NodeId> force;
  if (!fuse)
    for (NodeId id = 0; id < m.graph.size(); ++id)
      if (!always_inline(m.graph.node(id))) force.insert(id);
  for (int attempt = 0;; ++attempt) {
    try {
      kir::Program p = try_lower(m, force);
      plan_memory(p);
      return p;
    } catch (const Refusion& r) {
      size_t before = force.size();
      force.insert(r.nodes.begin(), r.nodes.end());
      SOMA_CHECK(force.size() > before && attempt <= m.graph.size()) << "lowering did not converge";
    }
  }
}

}  // namespace soma
