#include "frontend/script/stages.h"

#include <functional>
#include <sstream>

#include "frontend/fold.h"
#include "frontend/pipeline_env.h"
#include "graph/kernel_ir.h"
#include "graph/module.h"
#include "graph/printer.h"
#include "passes/fuse.h"
#include "passes/grad.h"
#include "passes/pipeline.h"

#if __has_include("backends/llvm/llvm_backend.h")
#include "backends/llvm/llvm_backend.h"
#define SOMA_HAVE_LLVM_EMIT 1
#endif
#if __has_include("backends/vulkan/vulkan_backend.h")
#include "backends/vulkan/vulkan_backend.h"
#define SOMA_HAVE_VULKAN_EMIT 1
#endif

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

Module optimized(const Tensor& t) {
  Module m = module_of(t);
  PipelineOptions o = pipeline_options_from_env();
  o.fold = make_interp_fold_fn();
  optimize_graph(m, o);
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

std::string render_opt(const Tensor& t, const CompileOptions&) {
  return print_module(optimized(t));
}

// The optimized graph with each node's kernel: "# kernel %R" for a node computed in the kernel
// rooted at %R (the root stores it), "# buffer" for inputs, parameters and constant data.
std::string render_fused(const Tensor& t, const CompileOptions&) {
  Module m = optimized(t);
  Fusion f = fuse(m);
  std::ostringstream os;
  os << "# " << f.roots.size() << " kernel" << (f.roots.size() == 1 ? "" : "s") << "\n";
  std::vector<NodeId> live = reachable(m.graph, m.roots());
  for (NodeId id : live) {
    std::string line = print_node(m.graph, id);
    const Node& n = m.graph.node(id);
    NodeId g = static_cast<size_t>(id) < f.group.size() ? f.group[static_cast<size_t>(id)] : -1;
    std::string note;
    if (g == id)
      note = "kernel %" + std::to_string(id) + " (stored)";
    else if (g >= 0)
      note = "kernel %" + std::to_string(g);
    else if (n.op == Op::Input || n.op == Op::Param || n.op == Op::Const)
      note = always_inline(n) ? "inlined" : "buffer";
    else
      note = "inlined";
    if (line.size() < 56) line.append(56 - line.size(), ' ');
    os << line << "  # " << note << "\n";
  }
  os << "return";
  for (size_t i = 0; i < m.outputs.size(); ++i) os << (i ? ", %" : " %") << m.outputs[i];
  os << "\n";
  return os.str();
}

// The kernel program of `t`, made as compile() makes it: the same pipeline and switches
// (SOMA_DISABLE_PASSES, SOMA_DUMP_DIR).
kir::Program kernels_of(const Tensor& t) {
  Module m = module_of(t);
  PipelineOptions o = pipeline_options_from_env();
  o.fold = make_interp_fold_fn();
  optimize_graph(m, o);
  return lower_to_kernels(m, o);
}

std::string show_kernel(const kir::Program& p, const CompileOptions&) {
  return kir::print_program(p);
}

#ifdef SOMA_HAVE_LLVM_EMIT
std::string show_llvm(const kir::Program& p, const CompileOptions& options) {
  return emit_llvm_ir(p, options);
}
std::string show_asm(const kir::Program& p, const CompileOptions& options) {
  return emit_asm(p, options);
}
#endif

#ifdef SOMA_HAVE_VULKAN_EMIT
std::string show_glsl(const kir::Program& p, const CompileOptions&) {
  return emit_glsl(p);
}
std::string show_spirv(const kir::Program& p, const CompileOptions&) {
  return emit_spirv_text(p);
}
#endif

using Render = std::function<std::string(const Tensor&, const CompileOptions&)>;
using ProgramRender = std::function<std::string(const kir::Program&, const CompileOptions&)>;

struct StageEntry {
  EmitStage info;
  Render render;               // empty: not built yet
  ProgramRender from_program;  // the stages after lowering: from a kernel program
};

// A stage after lowering: shown from the program compile() would run.
StageEntry kernel_stage(EmitStage info, ProgramRender r) {
  StageEntry e{std::move(info), nullptr, r};
  if (r) e.render = [r](const Tensor& t, const CompileOptions& o) { return r(kernels_of(t), o); };
  return e;
}

const std::vector<StageEntry>& table() {
  static const std::vector<StageEntry> t = {
      {{"graph", "the tensor graph of the expression", "", true}, render_graph, nullptr},
      {{"grad", "the graph with the gradients a training step computes", "", true},
       render_grad,
       nullptr},
      {{"opt", "the graph after the optimization passes", "", true}, render_opt, nullptr},
      {{"fused", "the optimized graph grouped into kernels", "", true}, render_fused, nullptr},
      kernel_stage({"kernel", "the kernel IR (loop nests over planned buffers)", "", true},
                   show_kernel),
#ifdef SOMA_HAVE_LLVM_EMIT
      kernel_stage({"llvm", "the LLVM IR of the llvm backend", "llvm", true}, show_llvm),
      kernel_stage({"asm", "the host assembly of the llvm backend", "llvm", true}, show_asm),
#else
      kernel_stage({"llvm", "the LLVM IR of the llvm backend", "llvm", false}, nullptr),
      kernel_stage({"asm", "the host assembly of the llvm backend", "llvm", false}, nullptr),
#endif
#ifdef SOMA_HAVE_VULKAN_EMIT
      kernel_stage({"glsl", "the GLSL compute shaders of the vulkan backend", "vulkan", true},
                   show_glsl),
      kernel_stage({"spirv", "the SPIR-V of the vulkan backend (disassembled)", "vulkan", true},
                   show_spirv),
#else
      kernel_stage({"glsl", "the GLSL compute shaders of the vulkan backend", "vulkan", false},
                   nullptr),
      kernel_stage({"spirv", "the SPIR-V of the vulkan backend (disassembled)", "vulkan", false},
                   nullptr),
#endif
  };
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
  for (const StageEntry& e : table()) {
    if (e.info.name != stage) continue;
    if (!e.render)
      SOMA_THROW(BackendError, "stage '" << stage << "' needs the " << e.info.backend
                                         << " backend, which is not built yet");
    return e;
  }
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
