#include "frontend/compile.h"

#include <map>

#include "frontend/check_numerics.h"

#include "frontend/pipeline_env.h"
#include "frontend/tensor_util.h"
#include "passes/pipeline.h"

namespace soma {

std::vector<Array> Compiled::run(const Feeds& feeds) const {
  if (!exe_) SOMA_THROW(ValueError, "run: this executable was not compiled");
  return exe_->run(feeds);
}

void Compiled::run(const Feeds& feeds, std::vector<Array>& outputs) const {
  if (!exe_) SOMA_THROW(ValueError, "run: this executable was not compiled");
  if (outputs.size() != outputs_.size())
    SOMA_THROW(ValueError, "run: " << outputs.size() << " output arrays given for "
                                   << outputs_.size() << " outputs");
  for (size_t i = 0; i < outputs.size(); ++i) {
    const TensorType& t = graph_->node(outputs_[i]).type;
    const TensorType given{outputs[i].dtype(), outputs[i].shape()};
    if (given != t)
      SOMA_THROW(TypeError, "run: output " << i << " is " << t.str()
                                           << " but the array given for it is " << given.str());
  }
  exe_->run_into(feeds, outputs);
}

Compiled compile(const std::vector<Tensor>& outputs, const CompileOptions& options,
                 const std::vector<std::pair<Tensor, Tensor>>& updates) {
  if (outputs.empty() && updates.empty())
    SOMA_THROW(ValueError, "compile: nothing to compute (no outputs and no updates)");
  const Tensor& first = outputs.empty() ? updates[0].first : outputs[0];
  std::shared_ptr<Context> ctx = detail::ctx_of(first, "compile");
  std::vector<NodeId> roots;
  for (const Tensor& t : outputs)
    roots.push_back(detail::ctx_of(first, t, "compile") == ctx ? t.id() : -1);
  for (auto& [p, v] : updates) {
    detail::ctx_of(first, p, "compile");
    detail::ctx_of(first, v, "compile");
    if (p.node().op != Op::Param)
      SOMA_THROW(ValueError, "compile: an update target must be a parameter, got a "
                                 << op_name(p.node().op) << " node");
    if (p.type() != v.type())
      SOMA_THROW(TypeError, "compile: parameter '" << p.node().attrs.get_str("name") << "' is "
                                                   << p.type().str() << " but its update is "
                                                   << v.type().str());
    roots.push_back(p.id());
    roots.push_back(v.id());
  }

  std::vector<NodeId> map;
  auto graph = std::make_shared<Graph>(extract(ctx->graph(), roots, &map));

  Compiled c;
  std::map<std::string, TensorType> seen_inputs, seen_params;
  for (const Node& n : graph->nodes()) {
    if (n.op != Op::Input && n.op != Op::Param) continue;
    auto& seen = n.op == Op::Input ? seen_inputs : seen_params;
    const std::string& name = n.attrs.get_str("name");
    auto [it, fresh] = seen.emplace(name, n.type);
    if (!fresh && it->second != n.type)
      SOMA_THROW(ValueError, "compile: " << op_name(n.op) << " '" << name
                                         << "' is declared twice with different types, "
                                         << it->second.str() << " and " << n.type.str());
    if (fresh && n.op == Op::Input) c.inputs_.emplace_back(name, n.type);
  }

  // The graph passes (passes/pipeline.cpp) run on the extracted module before the backend sees it.
  Module module;
  module.graph = std::move(*graph);
  for (const Tensor& t : outputs) module.outputs.push_back(map[static_cast<size_t>(t.id())]);
  for (auto& [p, v] : updates)
    module.updates.emplace_back(map[static_cast<size_t>(p.id())], map[static_cast<size_t>(v.id())]);
  std::string backend = options.backend.empty() ? default_backend_name() : options.backend;
  Backend& be = get_backend(backend);
  PipelineOptions pipeline = pipeline_options_for(&be);
  optimize_graph(module, pipeline);

  CompileRequest req;
  req.outputs = module.outputs;
  req.updates = module.updates;
  req.options = options;
  kir::Program program;
  if (be.needs_program()) {
    program = lower_to_kernels(module, pipeline);
    req.program = &program;
  }
  *graph = std::move(module.graph);
  req.graph = graph.get();
  std::unique_ptr<Executable> exe = be.compile(req, ctx->params_ptr());
  if (check_numerics_enabled())
    exe = check_numerics(std::move(exe), graph, req.outputs, req.updates, ctx->params_ptr());
  c.exe_ = std::move(exe);
  c.graph_ = graph;
  c.outputs_ = req.outputs;
  c.backend_ = backend;
  return c;
}

Array eval(const Tensor& t, const Feeds& feeds, const CompileOptions& options) {
  return compile({t}, options).run(feeds).at(0);
}

}  // namespace soma
