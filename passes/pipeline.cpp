// The pipeline. Each line is one pass and why it is where it is; SOMA_DEBUG=2 prints the IR after
// each pass that changed it, SOMA_DUMP_DIR writes every stage, SOMA_DISABLE_PASSES skips passes
// by name (see passes/pass_manager.h). The graph passes run first; then fuse, lower and plan
// turn the module into the kernel program, with the kernel verifier after each.
#include "passes/pipeline.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>

#include "graph/kernel_parser.h"
#include "graph/kernel_verify.h"

#include "passes/cse.h"
#include "passes/dce.h"
#include "passes/lower.h"
#include "passes/plan.h"
#include "passes/simplify.h"
#include "passes/split_k.h"
#include "passes/split_reduce.h"

namespace soma {

namespace {

std::vector<GraphPass> graph_passes(const PipelineOptions& options) {
  auto simplify_pass = [fold = options.fold](Module& m) { return simplify(m, fold); };
  const int64_t serial = options.max_serial_extent;
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
      // Matmuls with a small output and a long k (weight gradients of convolutions) become
      // independent partial products plus a sum, so that they run in parallel. On a target with
      // a serial-loop limit, so does every matmul whose k exceeds it.
      {"split_k", [serial](Module& m) { return split_k(m, serial); }},
      // On a target with a serial-loop limit (Mesa's lavapipe stops any shader loop after 65535
      // iterations), longer reductions become trees of shorter ones.
      {"split_reduce", [serial](Module& m) { return split_reduce(m, serial); }},
      // Leave no dead node for the backends, whichever passes above are disabled.
      {"dce", dce},
  };
}

}  // namespace

std::vector<std::string> pipeline_pass_names() {
  std::vector<std::string> names;
  for (const GraphPass& p : graph_passes(PipelineOptions{}))
    if (std::find(names.begin(), names.end(), p.name) == names.end()) names.push_back(p.name);
  for (const char* stage : {"fuse", "lower", "plan"}) names.push_back(stage);  // lower_to_kernels
  return names;
}

namespace {

// Runs one stage of lower_to_kernels, with SOMA_DEBUG=1's timing line.
template <typename F>
auto timed(const PipelineOptions& options, const char* name, F&& stage) {
  auto start = std::chrono::steady_clock::now();
  auto result = stage();
  std::chrono::duration<double, std::milli> ms = std::chrono::steady_clock::now() - start;
  if (options.debug_level >= 1 && options.log)
    *options.log << "soma: pass " << name << ": " << ms.count() << " ms\n";
  return result;
}

// The kernel verifier between the stages: a program a stage makes must be valid (an internal
// error otherwise, naming the stage, with the program).
void check_program(const kir::Program& p, const char* stage, const PipelineOptions& options) {
  if (!options.verify) return;
  try {
    kir::verify(p);
  } catch (const VerifyError& e) {
    SOMA_CHECK(false) << "'" << stage << "' made an invalid kernel program: " << e.what() << "\n"
                      << kir::print_program(p);
  }
}

// The final program's text must read back as the program (so that every dump is a replayable
// input).
void check_round_trip(const kir::Program& p, const PipelineOptions& options) {
  if (!options.verify) return;
  const std::string text = kir::print_program(p, /*all_data=*/true);
  std::optional<std::string> diff;
  try {
    diff = kir::difference(kir::parse_program(text), p);
  } catch (const ParseError& e) {
    diff = std::string("it does not parse: ") + e.what();
  }
  SOMA_CHECK(!diff) << "the kernel program's text does not read back as the program: " << *diff
                    << "\n"
                    << text;
}

}  // namespace

Fusion fuse_module(const Module& m, const PipelineOptions& options) {
  check_pass_names(options.disabled, pipeline_pass_names());
  const bool on = options.disabled.count("fuse") == 0;
  if (!on && options.debug_level >= 1 && options.log) *options.log << "soma: pass fuse: disabled\n";
  return fuse(m, on);
}

kir::Program lower_to_kernels(const Module& m, const PipelineOptions& options) {
  check_pass_names(options.disabled, pipeline_pass_names());
  if (options.disabled.count("lower"))
    SOMA_THROW(NameError,
               "SOMA_DISABLE_PASSES: 'lower' cannot be disabled (it turns the graph "
               "into kernels); 'fuse' gives one kernel per node, 'plan' no memory "
               "reuse");
  // Group nodes into kernels: each decision has its reason (passes/fuse.h).
  Fusion f = timed(options, "fuse", [&] { return fuse_module(m, options); });
  if (options.debug_level >= 2 && options.log)
    *options.log << "--- after fuse ---\n" << print_fusion(m, f);
  if (!options.dump_dir.empty())
    write_stage_dump(options.dump_dir, "fuse", print_fusion(m, f), ".soma-ir");
  // Each group becomes one kernel of loops; lowering builds what fusion decided.
  kir::Program p = timed(options, "lower", [&] { return lower_kernels(m, f); });
  check_program(p, "lower", options);
  if (!options.dump_dir.empty())
    write_stage_dump(options.dump_dir, "lower", kir::print_program(p, /*all_data=*/true), ".kir");
  // Temporaries share one arena by liveness; parameters are updated in place where safe.
  const bool plan = options.disabled.count("plan") == 0;
  timed(options, "plan", [&] {
    if (plan)
      plan_memory(p);
    else
      place_without_reuse(p);
    return 0;
  });
  check_program(p, "plan", options);
  check_round_trip(p, options);
  if (options.debug_level >= 3 && options.log)
    *options.log << "--- kernels (" << p.kernels.size() << ") ---\n" << kir::print_program(p);
  if (!options.dump_dir.empty())
    write_stage_dump(options.dump_dir, "plan", kir::print_program(p, /*all_data=*/true), ".kir");
  return p;
}

void optimize_graph(Module& m, const PipelineOptions& options) {
  check_pass_names(options.disabled, pipeline_pass_names());
  run_passes(m, graph_passes(options), options);
}

}  // namespace soma
