#include "frontend/check_numerics.h"

#include <cmath>
#include <set>
#include <sstream>

#include "backends/interp/interp.h"
#include "graph/error.h"
#include "graph/printer.h"
#include "runtime/env.h"

namespace soma {

namespace {

bool all_finite(const Array& a) {
  if (!is_float(a.dtype())) return true;
  for (int64_t i = 0; i < a.numel(); ++i)
    if (!std::isfinite(a.get(i))) return false;
  return true;
}

std::string index_of(int64_t flat, const Shape& s) {
  std::string at;
  for (int d = s.rank() - 1; d >= 0; --d) {
    at = std::to_string(s[d] ? flat % s[d] : 0) + (at.empty() ? "" : ", ") + at;
    flat = s[d] ? flat / s[d] : 0;
  }
  return "[" + at + "]";
}

class CheckedExecutable : public Executable {
 public:
  CheckedExecutable(std::unique_ptr<Executable> exe, std::shared_ptr<const Graph> graph,
                    std::vector<NodeId> outputs, std::vector<std::pair<NodeId, NodeId>> updates,
                    std::shared_ptr<ParamStore> params)
      : exe_(std::move(exe)),
        graph_(std::move(graph)),
        outputs_(std::move(outputs)),
        updates_(std::move(updates)),
        params_(std::move(params)) {
    for (const Node& n : graph_->nodes())
      if (n.op == Op::Param) names_.insert(n.attrs.get_str("name"));
  }

  std::vector<Array> run(const Feeds& feeds) override {
    std::vector<std::pair<std::string, Array>> before;
    for (const std::string& n : names_)
      if (params_->has(n)) before.emplace_back(n, params_->get(n).clone());
    std::vector<Array> out = exe_->run(feeds);
    bool finite = true;
    for (const Array& a : out) finite = finite && all_finite(a);
    for (auto& [p, v] : updates_)
      finite = finite && all_finite(params_->get(graph_->node(p).attrs.get_str("name")));
    if (finite) return out;
    // Undo the run's updates, then find where the value comes from on the interpreter.
    ParamStore old;
    for (auto& [n, a] : before) {
      params_->assign(n, a);
      old.set(n, a.clone());
    }
    NonFinite f = first_non_finite(*graph_, outputs_, updates_, feeds, old);
    std::ostringstream msg;
    msg << "SOMA_CHECK_NUMERICS: ";
    if (f.node < 0) {
      msg << "the compiled program produced NaN or infinity, but the reference interpreter does "
             "not (a numerics difference of the backend)";
    } else {
      const Node& n = graph_->node(f.node);
      msg << f.value << " at element " << index_of(f.element, n.type.shape) << " of\n  "
          << print_node(*graph_, f.node) << "\n";
      if (f.from_finite_inputs) {
        msg << "first appears there, from inputs that hold none:";
        for (NodeId i : n.inputs) msg << "\n  " << print_node(*graph_, i);
      } else {
        msg << (n.op == Op::Input   ? "an input"
                : n.op == Op::Param ? "a parameter"
                                    : "a constant")
            << " holds it";
      }
    }
    msg << "\n(the parameters are as they were before this run)";
    throw ValueError(msg.str());
  }

 private:
  std::unique_ptr<Executable> exe_;
  std::shared_ptr<const Graph> graph_;
  std::vector<NodeId> outputs_;
  std::vector<std::pair<NodeId, NodeId>> updates_;
  std::shared_ptr<ParamStore> params_;
  std::set<std::string> names_;
};

}  // namespace

bool check_numerics_enabled() {
  return env_flag("SOMA_CHECK_NUMERICS", false);
}

std::unique_ptr<Executable> check_numerics(std::unique_ptr<Executable> exe,
                                           std::shared_ptr<const Graph> graph,
                                           std::vector<NodeId> outputs,
                                           std::vector<std::pair<NodeId, NodeId>> updates,
                                           std::shared_ptr<ParamStore> params) {
  return std::make_unique<CheckedExecutable>(std::move(exe), std::move(graph), std::move(outputs),
                                             std::move(updates), std::move(params));
}

}  // namespace soma
