// The pipeline. Each line is one pass and why it is where it is; SOMA_DEBUG=2 prints the IR after
// each pass that changed it, SOMA_DUMP_DIR writes every stage, SOMA_DISABLE_PASSES skips passes
// by name (see passes/pass_manager.h). Later stages (fusion, lowering, memory planning) append
// their lines here.
#include "passes/pipeline.h"

#include <algorithm>
#include <functional>
#include <optional>

#include "graph/kernel_parser.h"
#include "graph/kernel_verify.h"

#include "passes/cse.h"
#include "passes/dce.h"
#include "passes/lower.h"
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
  names.push_back("fuse");  // lower_to_kernels
  return names;
}

namespace {

// The number of expression nodes the printed form of `p` writes: expressions are trees in the
// text, so a DAG of shared subexpressions (x = x * x + x, 128 deep) prints exponentially large.
// Saturates at `cap`.
int64_t printed_nodes(const kir::Program& p, int64_t cap) {
  int64_t total = 0;
  for (const kir::Kernel& k : p.kernels) {
    std::vector<int64_t> size(k.exprs.size(), 1);
    for (size_t i = 0; i < k.exprs.size(); ++i)
      for (kir::ExprId a : k.exprs[i].a)
        if (a >= 0) size[i] = std::min(cap, size[i] + size[static_cast<size_t>(a)]);
    auto add = [&](kir::ExprId e) {
      if (e >= 0) total = std::min(cap, total + size[static_cast<size_t>(e)]);
    };
    std::function<void(const std::vector<kir::Stmt>&)> walk = [&](const auto& body) {
      for (const kir::Stmt& s : body) {
        add(s.index);
        add(s.value);
        walk(s.body);
      }
    };
    walk(k.body);
    if (k.is_contraction) {
      add(k.contraction.a);
      add(k.contraction.b);
    }
  }
  return total;
}

}  // namespace

kir::Program lower_to_kernels(const Module& m, const PipelineOptions& options) {
  check_pass_names(options.disabled, pipeline_pass_names());
  // Group nodes into kernels, lower each group to loops, then plan the arena and in-place updates.
  kir::Program p = lower_module(m, /*fuse=*/options.disabled.count("fuse") == 0);
  if (options.verify) {
    // A program lowering makes must be valid, and its text must read back as the same program
    // (so that every dump is a replayable input).
    try {
      kir::verify(p);
    } catch (const VerifyError& e) {
      SOMA_CHECK(false) << "lowering made an invalid kernel program: " << e.what() << "\n"
                        << kir::print_program(p);
    }
    // (Checked up to a size: a program whose shared subexpressions print exponentially large
    // is not printed here.)
    constexpr int64_t kMaxCheckedNodes = 1 << 20;
    if (printed_nodes(p, kMaxCheckedNodes) < kMaxCheckedNodes) {
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
  }
  if (options.debug_level >= 3 && options.log)
    *options.log << "--- kernels (" << p.kernels.size() << ") ---\n" << kir::print_program(p);
  if (!options.dump_dir.empty())
    write_stage_dump(options.dump_dir, "kernels", kir::print_program(p, /*all_data=*/true), ".kir");
  return p;
}

void optimize_graph(Module& m, const PipelineOptions& options) {
  check_pass_names(options.disabled, pipeline_pass_names());
  run_passes(m, graph_passes(options), options);
}

}  // namespace soma
