#include "passes/grad.h"

#include "graph/builder.h"
#include "graph/error.h"
#include "passes/grad_rules.h"

namespace soma {

GradKind grad_kind(Op op) {
  return grad_detail::grad_entry(op).kind;
}

std::vector<NodeId> vjp(Graph& g, NodeId y, const std::vector<NodeId>& xs, NodeId seed) {
  Builder b(g);
  if (!g.valid(y) || !g.valid(seed)) SOMA_THROW(ValueError, "vjp: unknown node");
  if (!is_float(b.dtype(y)))
    SOMA_THROW(TypeError, "grad: cannot differentiate " << b.type(y).str()
                                                        << ": the output must be floating-point");
  if (b.type(seed) != b.type(y))
    SOMA_THROW(ShapeError, "vjp: the seed cotangent " << b.type(seed).str()
                                                      << " must have the output's type "
                                                      << b.type(y).str());
  for (NodeId x : xs) {
    if (!g.valid(x)) SOMA_THROW(ValueError, "grad: unknown node %" << x);
    if (!is_float(b.dtype(x)))
      SOMA_THROW(TypeError, "grad: cannot differentiate with respect to a "
                                << b.type(x).str() << " tensor (" << op_name(g.node(x).op)
                                << "): only f32 and f64 values have gradients");
  }

  // depends[n]: n lies downstream of a requested node through float values.
  const size_t n0 = static_cast<size_t>(g.size());
  std::vector<char> depends(n0, 0);
  for (NodeId x : xs) depends[static_cast<size_t>(x)] = 1;
  for (NodeId id = 0; id <= y; ++id) {
    const Node& n = g.node(id);
    if (depends[static_cast<size_t>(id)] || !is_float(n.type.dtype)) continue;
    for (NodeId i : n.inputs)
      if (depends[static_cast<size_t>(i)]) {
        depends[static_cast<size_t>(id)] = 1;
        break;
      }
  }

  // Walk back from y, accumulating cotangents only for nodes that depend on a requested node.
  std::vector<NodeId> adj(n0, -1);
  auto accumulate = [&](NodeId target, NodeId ct) {
    NodeId& a = adj[static_cast<size_t>(target)];
    a = a < 0 ? ct : b.add(a, ct);
  };
  if (depends[static_cast<size_t>(y)]) adj[static_cast<size_t>(y)] = seed;
  std::vector<char> requested(n0, 0);
  for (NodeId x : xs) requested[static_cast<size_t>(x)] = 1;
  for (NodeId id = y; id >= 0; --id) {
    NodeId ct = adj[static_cast<size_t>(id)];
    if (ct < 0) continue;
    const Node node = g.node(id);  // a copy: the rule appends nodes to g
    bool any = false;
    std::vector<bool> wanted(node.inputs.size(), false);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      NodeId in = node.inputs[i];
      wanted[i] = depends[static_cast<size_t>(in)] && is_float(g.node(in).type.dtype);
      any |= wanted[i];
    }
    if (!any) continue;
    const auto& entry = grad_detail::grad_entry(node.op);
    SOMA_CHECK(entry.kind != GradKind::Missing) << "no gradient rule for " << op_name(node.op);
    if (entry.kind != GradKind::Rule) continue;  // zero or no gradient: nothing flows back
    grad_detail::VjpContext c{b, id, node, ct, wanted, {}};
    entry.rule(c);
    for (auto& [i, v] : c.emitted) {
      NodeId in = node.inputs[static_cast<size_t>(i)];
      SOMA_CHECK(b.type(v) == g.node(in).type)
          << "gradient rule of " << op_name(node.op) << " gave " << b.type(v).str()
          << " for an input of type " << g.node(in).type.str();
      accumulate(in, v);
    }
  }

  std::vector<NodeId> out;
  for (NodeId x : xs) {
    NodeId a = adj[static_cast<size_t>(x)];
    out.push_back(a >= 0 ? a : b.fill(0.0, b.type(x)));
  }
  return out;
}

std::vector<NodeId> grad(Graph& g, NodeId y, const std::vector<NodeId>& xs) {
  Builder b(g);
  if (!g.valid(y)) SOMA_THROW(ValueError, "grad: unknown node");
  if (b.shape(y).numel() != 1)
    SOMA_THROW(ShapeError, "grad: the output "
                               << b.type(y).str()
                               << " is not a scalar; use vjp with a seed cotangent "
                                  "of the same shape, or reduce it first (e.g. sum)");
  if (!is_float(b.dtype(y)))
    SOMA_THROW(TypeError, "grad: cannot differentiate " << b.type(y).str()
                                                        << ": the output must be floating-point");
  return vjp(g, y, xs, b.fill(1.0, b.type(y)));
}

}  // namespace soma
