#include "backends/interp/interp.h"

#include <cmath>

#include "backends/interp/eval_ops.h"
#include "graph/error.h"

namespace soma {

Array eval_node(const Node& n, const std::vector<const Array*>& in) {
  using namespace interp;
  if (has_trait(n.op, Ew)) return eval_elementwise(n, in);
  switch (n.op) {
    case Op::Const:
    case Op::Iota:
    case Op::RandUniform:
      return eval_source(n, in);
    case Op::ReduceSum:
    case Op::ReduceMax:
      return eval_reduce(n, *in[0]);
    case Op::Reshape:
    case Op::Broadcast:
    case Op::Permute:
    case Op::Slice:
    case Op::Pad:
    case Op::Concat:
    case Op::Flip:
      return eval_movement(n, in);
    case Op::MatMul:
      return eval_matmul(n, *in[0], *in[1]);
    case Op::Window:
      return eval_window(n, *in[0]);
    case Op::Unwindow:
      return eval_unwindow(n, *in[0]);
    case Op::Gather:
      return eval_gather(n, *in[0], *in[1]);
    case Op::ScatterAdd:
      return eval_scatter_add(n, *in[0], *in[1]);
    default:
      break;
  }
  SOMA_CHECK(false) << "eval_node: no evaluation for " << op_name(n.op);
  return {};
}

namespace {

// Evaluates nodes in id order, dropping each value after its last use.
std::vector<Array> run_graph(const Graph& g, const std::vector<NodeId>& outputs,
                             const std::vector<std::pair<NodeId, NodeId>>& updates,
                             const Feeds& feeds, ParamStore& params, bool write_updates) {
  std::vector<NodeId> roots = outputs;
  for (auto& [p, v] : updates) roots.push_back(v);
  std::vector<NodeId> order = reachable(g, roots);
  std::vector<int> last_use(static_cast<size_t>(g.size()), -1);
  for (NodeId id : order)
    for (NodeId i : g.node(id).inputs) last_use[static_cast<size_t>(i)] = id;
  for (NodeId r : roots) last_use[static_cast<size_t>(r)] = g.size();

  std::vector<Array> values(static_cast<size_t>(g.size()));
  std::vector<const Array*> ins;
  for (NodeId id : order) {
    const Node& n = g.node(id);
    if (n.op == Op::Input) {
      const std::string& name = n.attrs.get_str("name");
      check_feed(name, n.type, feeds);
      values[static_cast<size_t>(id)] = feeds.at(name);
    } else if (n.op == Op::Param) {
      const std::string& name = n.attrs.get_str("name");
      const Array& v = params.get(name);
      if (v.dtype() != n.type.dtype || v.shape() != n.type.shape)
        SOMA_THROW(ShapeError, "parameter '" << name << "' holds " << v.type_str()
                                             << " but the graph declares " << n.type.str());
      values[static_cast<size_t>(id)] = v;
    } else {
      ins.clear();
      for (NodeId i : n.inputs) ins.push_back(&values[static_cast<size_t>(i)]);
      values[static_cast<size_t>(id)] = eval_node(n, ins);
    }
    for (NodeId i : n.inputs)
      if (last_use[static_cast<size_t>(i)] == id) values[static_cast<size_t>(i)] = Array();
  }
  std::vector<Array> out;
  for (NodeId o : outputs) {
    // Outputs never alias parameter storage that an update may overwrite.
    const Array& v = values[static_cast<size_t>(o)];
    out.push_back(g.node(o).op == Op::Param || g.node(o).op == Op::Input ? v.clone() : v);
  }
  if (write_updates) {
    // Compute all new values first, then assign, so updates see the old parameters.
    for (auto& [p, v] : updates)
      params.assign(g.node(p).attrs.get_str("name"), values[static_cast<size_t>(v)]);
  }
  return out;
}

// The first non-finite element of a float array (-1: none).
int64_t first_non_finite_element(const Array& a) {
  if (!is_float(a.dtype())) return -1;
  for (int64_t i = 0; i < a.numel(); ++i)
    if (!std::isfinite(a.get(i))) return i;
  return -1;
}

class InterpExecutable : public Executable {
 public:
  InterpExecutable(const CompileRequest& req, std::shared_ptr<ParamStore> params)
      : graph_(*req.graph),
        outputs_(req.outputs),
        updates_(req.updates),
        params_(std::move(params)) {
    for (auto& [p, v] : updates_) {
      SOMA_CHECK(graph_.node(p).op == Op::Param) << "update target %" << p << " is not a param";
      if (graph_.node(p).type != graph_.node(v).type)
        SOMA_THROW(TypeError, "update of parameter '"
                                  << graph_.name_of(p) << "' (" << graph_.node(p).type.str()
                                  << ") with a value of type " << graph_.node(v).type.str());
    }
  }

  std::vector<Array> run(const Feeds& feeds) override {
    return run_graph(graph_, outputs_, updates_, feeds, *params_, true);
  }

 private:
  Graph graph_;
  std::vector<NodeId> outputs_;
  std::vector<std::pair<NodeId, NodeId>> updates_;
  std::shared_ptr<ParamStore> params_;
};

class InterpBackend : public Backend {
 public:
  std::string name() const override { return "interp"; }
  bool needs_program() const override { return false; }
  std::unique_ptr<Executable> compile(const CompileRequest& req,
                                      std::shared_ptr<ParamStore> params) override {
    return std::make_unique<InterpExecutable>(req, std::move(params));
  }
};

}  // namespace

std::unique_ptr<Backend> make_interp_backend() {
  return std::make_unique<InterpBackend>();
}

std::vector<Array> interpret(const Graph& g, const std::vector<NodeId>& outputs, const Feeds& feeds,
                             const ParamStore& params) {
  return run_graph(g, outputs, {}, feeds, const_cast<ParamStore&>(params), false);
}

NonFinite first_non_finite(const Graph& g, const std::vector<NodeId>& outputs,
                           const std::vector<std::pair<NodeId, NodeId>>& updates,
                           const Feeds& feeds, const ParamStore& params) {
  std::vector<NodeId> roots = outputs;
  for (auto& [p, v] : updates) roots.push_back(v);
  std::vector<NodeId> order = reachable(g, roots);
  std::vector<int> last_use(static_cast<size_t>(g.size()), -1);
  for (NodeId id : order)
    for (NodeId i : g.node(id).inputs) last_use[static_cast<size_t>(i)] = id;
  std::vector<Array> values(static_cast<size_t>(g.size()));
  // Per node: its first non-finite element and value (element -1: none).
  std::vector<std::pair<int64_t, double>> bad(static_cast<size_t>(g.size()), {-1, 0.0});
  std::vector<const Array*> ins;
  for (NodeId id : order) {
    const Node& n = g.node(id);
    Array v;
    if (n.op == Op::Input) {
      const std::string& name = n.attrs.get_str("name");
      check_feed(name, n.type, feeds);
      v = feeds.at(name);
    } else if (n.op == Op::Param) {
      v = params.get(n.attrs.get_str("name"));
    } else {
      ins.clear();
      for (NodeId i : n.inputs) ins.push_back(&values[static_cast<size_t>(i)]);
      v = eval_node(n, ins);
    }
    if (int64_t e = first_non_finite_element(v); e >= 0)
      bad[static_cast<size_t>(id)] = {e, v.get(e)};
    values[static_cast<size_t>(id)] = std::move(v);
    for (NodeId i : n.inputs)
      if (last_use[static_cast<size_t>(i)] == id) values[static_cast<size_t>(i)] = Array();
  }
  // From a root that holds one, back through inputs that hold one, to where it first appears
  // (values that hold one but never reach a root, such as -inf padding under a max, are not
  // followed).
  for (NodeId r : roots) {
    if (bad[static_cast<size_t>(r)].first < 0) continue;
    NodeId at = r;
    for (;;) {
      NodeId next = -1;
      for (NodeId i : g.node(at).inputs)
        if (bad[static_cast<size_t>(i)].first >= 0) {
          next = i;
          break;
        }
      if (next < 0) break;
      at = next;
    }
    const Op op = g.node(at).op;
    const bool source = op == Op::Input || op == Op::Param || op == Op::Const;
    return NonFinite{at, bad[static_cast<size_t>(at)].first, bad[static_cast<size_t>(at)].second,
                     !source};
  }
  return {};
}

}  // namespace soma
