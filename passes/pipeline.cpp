// The pipeline. Each line is one pass and why it is where it is; SOMA_DEBUG=2 prints the IR after
// each pass that changed it, SOMA_DUMP_DIR writes every stage, SOMA_DISABLE_PASSES skips passes
// by name (see passes/pass_manager.h). Later stages (fusion, lowering, memory planning) append
// their lines here.
#include "passes/pipeline.h"

#include <algorithm>

#include "passes/cse.h"
#include "passes/dce.h"
#include "passes/simplify.h"

namespace soma {

namespace {

std::vector<GraphPass> graph_passes(const PipelineOptions& options) {
  auto simplify_pass = [fold = options.fold](Module& m) { return simplify(m, fold); };
  return {
      // Drop what the outputs and updates do not need (the frontend's graph holds every tensor
      // ever built), so that the passes below see only live nodes.
      {"dce", dce},
      // Local rewrites and constant folding: removes what autodiff leaves behind (x*1, +0,
      // stop_gradient, broadcasts of scalar constants), collapses reshape/permute chains and
      // folds the parts that depend on constants only.
      {"simplify", simplify_pass},
      // Merge structurally equal nodes: constants the rewrites made equal, and values the
      // backward pass recomputes (transposes, masks, the forward activations it reuses).
      {"cse", cse},
      // CSE makes operands identical, which exposes more rewrites (select(c, x, x), max(x, x),
      // integer x - x).
      {"simplify", simplify_pass},
      // Leave no dead node for the backends, whichever passes above are disabled.
      {"dce", dce},
  };
}

}  // namespace

std::vector<std::string> pipeline_pass_names() {
  std::vector<std::string> names;
  for (const GraphPass& p : graph_passes(PipelineOptions{}))
    if (std::find(names.begin(), names.end(), p.name) == names.end()) names.push_back(p.name);
  return names;
}

void optimize_graph(Module& m, const PipelineOptions& options) {
  check_pass_names(options.disabled, pipeline_pass_names());
  run_passes(m, graph_passes(options), options);
}

}  // namespace soma
