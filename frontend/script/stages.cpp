#include "frontend/script/stages.h"

#include <functional>
#include <sstream>

#include "frontend/pipeline_env.h"
#include "graph/kernel_ir.h"
#include "graph/module.h"
#include "graph/printer.h"
#include "passes/fuse.h"
#include "passes/grad.h"
#include "passes/pipeline.h"

namespace soma::script {

namespace {

// The module of `t` alone: its graph extracted from the context, with `t` as the output.
Module module_of(const Tensor& t) {
  Module m;
  std::vector<NodeId> map;
  m.graph = extract(t.context().graph(), {t.id()}, &map);
  m.outputs = {map[static_cast<size_t>(t.id())]};
  return m;
}

// The first line of an error message (a device error may list details below it).
std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

// The pipeline options compile() uses for `backend`; where its device is unavailable, those
// without a device's loop limit (the program such a device would get is unknowable here), and
// a comment line saying so (`note`), which the stages print first.
PipelineOptions pipeline_for(const std::string& backend, std::string* note = nullptr) {
  try {
    return pipeline_options_for(&get_backend(backend));
  } catch (const BackendError& e) {
    if (note)
      *note = "# " + first_line(e.what()) +
              "\n# so this is the program without that device's loop limits\n";
    return pipeline_options_for(nullptr);
  }
}

std::string backend_of(const CompileOptions& o) {
  return o.backend.empty() ? default_backend_name() : o.backend;
}

Module optimized(const Tensor& t, const CompileOptions& options, std::string* note = nullptr) {
  Module m = module_of(t);
  optimize_graph(m, pipeline_for(backend_of(options), note));
  return m;
}

std::string render_graph(const Tensor& t, const CompileOptions&) {
  Module m = module_of(t);
  return print_graph(m.graph, m.outputs);
}

// The forward graph with the gradients of a one-element value with respect to every parameter
// it depends on (or, without parameters, every float input): what a training step computes.
// A value with more elements (e.g. a gradient already) prints as it is.
std::string render_grad(const Tensor& t, const CompileOptions& options) {
  Module m = module_of(t);
  NodeId y = m.outputs[0];
  const Node& out = m.graph.node(y);
  if (out.type.shape.numel() != 1 || !is_float(out.type.dtype)) return render_graph(t, options);
  std::vector<NodeId> params, inputs;
  for (NodeId i = 0; i < m.graph.size(); ++i) {
    const Node& n = m.graph.node(i);
    if (!is_float(n.type.dtype)) continue;
    if (n.op == Op::Param) params.push_back(i);
    if (n.op == Op::Input) inputs.push_back(i);
  }
  std::vector<NodeId> wrt = params.empty() ? inputs : params;
  if (wrt.empty()) return render_graph(t, options);
  std::vector<NodeId> grads = grad(m.graph, y, wrt);
  std::vector<NodeId> outs = {y};
  outs.insert(outs.end(), grads.begin(), grads.end());
  std::string text = print_graph(m.graph, outs);
  std::string legend = "# return: the value, then its gradient with respect to";
  for (NodeId w : wrt) legend += " " + m.graph.name_of(w);
  return legend + "\n" + text;
}

std::string render_opt(const Tensor& t, const CompileOptions& options) {
  std::string note;
  Module m = optimized(t, options, &note);
  return note + print_module(m);
}

// The optimized graph with each node's kernel and why each stored node is stored, as the
// pipeline fuses it (SOMA_DISABLE_PASSES=fuse included).
std::string render_fused(const Tensor& t, const CompileOptions& options) {
  std::string note;
  Module m = optimized(t, options, &note);
  return note + print_fusion(m, fuse_module(m, pipeline_for(backend_of(options))));
}

// The kernel program of `t` for `backend`, made as compile() makes it: the same pipeline, the
// same switches (SOMA_DISABLE_PASSES, SOMA_DUMP_DIR) and the backend's loop limit.
kir::Program kernels_of(const Tensor& t, const std::string& backend, std::string* note = nullptr) {
  Module m = module_of(t);
  PipelineOptions o = pipeline_for(backend, note);
  optimize_graph(m, o);
  return lower_to_kernels(m, o);
}

using Render = std::function<std::string(const Tensor&, const CompileOptions&)>;
using ProgramRender = std::function<std::string(const kir::Program&, const CompileOptions&)>;

struct StageEntry {
  EmitStage info;
  Render render;
  ProgramRender from_program;  // the stages after lowering: from a kernel program
};

// The target-independent stages, then each backend's code stages (Backend::code_stages).
const std::vector<StageEntry>& table() {
  static const std::vector<StageEntry> t = [] {
    std::vector<StageEntry> t = {
        {{"graph", "the tensor graph of the expression", ""}, render_graph, nullptr},
        {{"grad", "the graph with the gradients a training step computes", ""},
         render_grad,
         nullptr},
        {{"opt", "the graph after the optimization passes", ""}, render_opt, nullptr},
        {{"fused", "the optimized graph grouped into kernels", ""}, render_fused, nullptr},
        {{"kernel", "the kernel IR (loop nests over planned buffers)", ""},
         [](const Tensor& x, const CompileOptions& o) {
           std::string note;
           kir::Program p = kernels_of(x, backend_of(o), &note);
           return note + kir::print_program(p);
         },
         [](const kir::Program& p, const CompileOptions&) { return kir::print_program(p); }}};
    for (const std::string& name : backend_names()) {
      for (const CodeStage& cs : get_backend(name).code_stages()) {
        ProgramRender from_program = [name, stage = cs.name](const kir::Program& p,
                                                             const CompileOptions& o) {
          return get_backend(name).emit_code(stage, p, o);
        };
        Render render = [name, from_program](const Tensor& x, const CompileOptions& o) {
          return from_program(kernels_of(x, name), o);
        };
        t.push_back({{cs.name, cs.description, name}, render, from_program});
      }
    }
    return t;
  }();
  return t;
}

}  // namespace

const std::vector<EmitStage>& emit_stages() {
  static const std::vector<EmitStage> s = [] {
    std::vector<EmitStage> out;
    for (const StageEntry& e : table()) out.push_back(e.info);
    return out;
  }();
  return s;
}

namespace {

const StageEntry& entry(const std::string& stage) {
  for (const StageEntry& e : table())
    if (e.info.name == stage) return e;
  std::string names;
  for (const StageEntry& e : table()) names += (names.empty() ? "" : ", ") + e.info.name;
  SOMA_THROW(ValueError, "unknown stage '" << stage << "'; the stages are: " << names);
}

}  // namespace

std::string emit_stage(const std::string& stage, const Tensor& t, const CompileOptions& options) {
  return entry(stage).render(t, options);
}

std::string emit_program_stage(const std::string& stage, const kir::Program& p,
                               const CompileOptions& options) {
  const StageEntry& e = entry(stage);
  if (!e.from_program) {
    std::string names;
    for (const StageEntry& x : table())
      if (x.from_program) names += (names.empty() ? "" : ", ") + x.info.name;
    SOMA_THROW(ValueError, "stage '" << stage << "' shows a tensor graph, which a kernel program "
                                     << "does not have; from a kernel program: " << names);
  }
  return e.from_program(p, options);
}

}  // namespace soma::script
