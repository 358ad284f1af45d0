#include <algorithm>

#include "graph/error.h"
#include "passes/lower_group.h"

namespace soma::lowering {

using kir::BufferId;
using kir::ExprId;
using kir::Kernel;
using kir::Stmt;
using kir::VarId;

// What a kernel loops over: its parallel axes (the root's, except the rows and size-1 axes);
// in a row kernel, a loop over the rows inside each parallel point; the store of the root.
Kernel GroupLowering::lower() {
  const Node& r = g_.node(root_);
  k_.name = std::string(op_name(r.op)) + "_" + std::to_string(root_);
  if (r.op == Op::ScatterAdd) return lower_scatter();
  if (NodeId contraction = find_contraction(); contraction >= 0)
    return lower_contraction(contraction);

  const Shape shape = r.type.shape;
  // Row axes: the reduced axes of a fused reduction whose input has the root's shape.
  std::set<int> row_axes = find_row_axes(shape);
  Index idx(static_cast<size_t>(shape.rank()));
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
  return std::move(k_);
}

bool GroupLowering::inlined(NodeId n) const {
  return n == root_ || !f_.realized[static_cast<size_t>(n)];  // fused here, or recomputed
}

void GroupLowering::emit_store(const Index& idx) {
  const Node& r = g_.node(root_);
  ExprId value = emit(root_, idx, -1);
  scopes_.back().stmts->push_back(
      Stmt::store(buffer(root_), linear(idx, r.type.shape), k_.cast(value, r.type.dtype)));
  add_write(buffer(root_));
}

void GroupLowering::add_read(BufferId b) {
  if (std::find(k_.reads.begin(), k_.reads.end(), b) == k_.reads.end()) k_.reads.push_back(b);
}

void GroupLowering::add_write(BufferId b) {
  if (std::find(k_.writes.begin(), k_.writes.end(), b) == k_.writes.end()) k_.writes.push_back(b);
}

ExprId GroupLowering::linear(const Index& idx, const Shape& s) {
  auto st = s.strides();
  ExprId acc = k_.index_const(0);
  for (int i = 0; i < s.rank(); ++i) {
    if (s[i] == 1) continue;
    acc = k_.binary(Op::Add, acc,
                    k_.binary(Op::Mul, idx[static_cast<size_t>(i)],
                              k_.index_const(st[static_cast<size_t>(i)])));
  }
  return acc;
}

ExprId GroupLowering::and_mask(ExprId a, ExprId b) {
  if (a < 0) return b;
  if (b < 0) return a;
  return k_.binary(Op::And, a, b);
}

ExprId GroupLowering::in_range(ExprId x, int64_t lo, int64_t hi) {
  return k_.binary(Op::And, k_.binary(Op::Ge, x, k_.index_const(lo)),
                   k_.binary(Op::Lt, x, k_.index_const(hi)));
}

void GroupLowering::vars_of(ExprId e, std::set<VarId>& out) {
  if (e < 0) return;
  const kir::Expr& x = k_.expr(e);
  if (x.kind == kir::ExprKind::Var) out.insert(x.var);
  for (ExprId a : x.a) vars_of(a, out);
}

// The innermost scope whose vars (or those of scopes inside it) cover `vars`.
size_t GroupLowering::scope_for(const std::set<VarId>& vars) {
  size_t best = 0;
  for (size_t s = 0; s < scopes_.size(); ++s)
    for (VarId v : vars)
      if (scopes_[s].vars.count(v)) best = std::max(best, s);
  return best;
}

int64_t GroupLowering::parallel_points() const {
  int64_t n = 1;
  for (const auto& a : k_.parallel) n *= a.extent;
  return n;
}

ExprId GroupLowering::emit(NodeId n, const Index& idx, ExprId mask) {
  EmitKey key{n, idx, mask};
  if (auto it = emitted_.find(key); it != emitted_.end()) return it->second;
  ExprId e = emit_uncached(n, idx, mask);
  emitted_.emplace(std::move(key), e);
  return e;
}

ExprId GroupLowering::emit_uncached(NodeId n, const Index& idx, ExprId mask) {
  const Node& node = g_.node(n);
  const DType t = node.type.dtype;
  if (n == acc_node_) {  // inside a contraction's epilogue the matmul is its accumulator
    SOMA_CHECK(idx == acc_index_) << "lowering: fusion put matmul %" << n << " into kernel %"
                                  << root_ << ", whose epilogue reads it at another index";
    return k_.var_ref(k_.contraction.acc);
  }
  SOMA_CHECK(node.op != Op::MatMul || n == root_ || !inlined(n))
      << "lowering: fusion put matmul %" << n << " into kernel %" << root_
      << " outside its contraction";
  if (!inlined(n)) {
    BufferId b = buffer(n);
    add_read(b);
    return k_.load(b, t, linear(idx, node.type.shape), mask, 0);
  }
  auto in = [&](int i) { return node.inputs[static_cast<size_t>(i)]; };
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
    case Op::ReduceSum:
    case Op::ReduceMax:
      return emit_reduce(n, idx, mask);
    default:
      return emit_movement(n, idx, mask);
  }
}

// A fused reduction: a reduce statement in the scope its index needs (the kernel's body: fusion
// admits only reductions computed once per parallel point), memoized per index.
ExprId GroupLowering::emit_reduce(NodeId n, const Index& idx, ExprId mask) {
  const Node& node = g_.node(n);
  const Shape in = g_.node(node.inputs[0]).type.shape;
  Index key = idx;
  key.push_back(mask);
  std::set<VarId> used;
  for (ExprId e : idx) vars_of(e, used);
  vars_of(mask, used);
  size_t s = scope_for(used);
  SOMA_CHECK(s == 0 && node.type.shape.numel() == parallel_points())
      << "lowering: fusion put reduction %" << n << " into kernel %" << root_
      << ", where it would run more than once per value";
  auto it = scopes_[s].reduced.find({n, key});
  if (it != scopes_[s].reduced.end()) return k_.var_ref(it->second);

  Stmt red = Stmt::reduce(k_.new_var(node.type.dtype, "v"), node.op, {}, -1);
  Index j = idx;
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

std::set<int> GroupLowering::find_row_axes(const Shape& shape) {
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
      SOMA_CHECK(rows.empty() || axes.empty() || rows == axes)
          << "lowering: fusion put reduction %" << id << " into kernel %" << root_
          << ", whose rows are other axes";
      if (rows.empty()) rows = axes;
    }
  }
  return rows;
}

// scatter_add: the output is zeroed by a fill kernel first (the driver emits it); this kernel
// accumulates the updates in order.
Kernel GroupLowering::lower_scatter() {
  const Node& r = g_.node(root_);
  const Shape ids = g_.node(r.inputs[0]).type.shape;
  const Shape upd = g_.node(r.inputs[1]).type.shape;
  k_.sequential = true;
  Index ui;
  for (int a = 0; a < upd.rank(); ++a) {
    VarId v = k_.new_var(DType::i32, "s", upd[a]);
    k_.parallel.push_back({v, upd[a]});
    ui.push_back(k_.var_ref(v));
  }
  BufferId out = buffer(root_), idb = buffer(r.inputs[0]), ub = buffer(r.inputs[1]);
  add_read(idb);
  add_read(ub);
  add_read(out);
  Index ii(ui.begin(), ui.begin() + ids.rank());
  ExprId id = k_.load(idb, DType::i32, linear(ii, ids));
  int64_t rows = r.type.shape[0];
  ExprId ok = in_range(id, 0, rows);
  ExprId safe = k_.select(ok, id, k_.index_const(0));
  Index oi{safe};
  oi.insert(oi.end(), ui.begin() + ids.rank(), ui.end());
  ExprId at = linear(oi, r.type.shape);
  ExprId old = k_.load(out, r.type.dtype, at);
  ExprId add = k_.binary(Op::Add, old, k_.load(ub, r.type.dtype, linear(ui, upd)));
  k_.body.push_back(Stmt::store(out, at, k_.select(ok, add, old)));
  add_write(out);
  return std::move(k_);
}

}  // namespace soma::lowering
