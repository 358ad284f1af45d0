// The driver of lowering: a buffer per realized node, a kernel per fusion group (in topological
// order), copies for outputs that are buffers already, and the update pairs.
#include "passes/lower.h"

#include "graph/error.h"
#include "passes/lower_group.h"

namespace soma {

namespace {

using kir::BufferId;
using kir::Kernel;
using kir::Stmt;
using kir::VarId;

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

}  // namespace

kir::Program lower_kernels(const Module& m, const Fusion& f) {
  const Graph& g = m.graph;
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
    p.kernels.push_back(lowering::GroupLowering(g, f, buf_of, root).lower());
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

}  // namespace soma
