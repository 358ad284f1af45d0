// The pass manager: runs an ordered list of graph passes over a Module, checking and logging each
// stage (Halide's Lower.cpp style). passes/pipeline.cpp holds the list itself.
//
// Debugging knobs (environment, read by the frontend's pipeline_options_from_env(): passes read
// no environment):
//   SOMA_DEBUG=N              1: one timing line per pass; 2: also the IR after every pass that
//                             changed the module (and the input IR first)
//   SOMA_DUMP_DIR=dir         writes every stage to dir/NN-<pass>.soma-ir (NN-input first); the
//                             files parse back with parse_graph (updates are `#` comments)
//   SOMA_DISABLE_PASSES=a,b   skips the passes of those names (for bisecting a miscompile)
#pragma once

#include <functional>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "graph/module.h"
#include "passes/fold_fn.h"

namespace soma {

// A graph pass: transforms the module in place and returns whether it changed anything.
struct GraphPass {
  std::string name;
  std::function<bool(Module&)> run;
};

struct PipelineOptions {
#ifdef NDEBUG
  bool verify = false;  // run the verifier after every pass (on in debug builds and tests)
#else
  bool verify = true;
#endif
  int debug_level = 0;             // SOMA_DEBUG
  std::string dump_dir;            // SOMA_DUMP_DIR; empty: no dumps
  std::set<std::string> disabled;  // SOMA_DISABLE_PASSES
  FoldFn fold;                     // constant folding (empty: no folding)
  std::ostream* log = &std::cerr;  // where debug output goes
  // The longest loop (reduction or contraction extent) the target runs serially in one
  // invocation; longer ones are split (split_k, split_reduce). 0: no limit. Set from the backend
  // (Backend::max_serial_extent), not from the environment.
  int64_t max_serial_extent = 0;
};

// Runs `passes` in order over `m`, skipping those named in options.disabled. When
// options.verify, the verifier checks the module before the first pass and after each pass (a
// failure is an internal bug: it aborts naming the pass, with the IR). After each pass come the
// debug log and the dump file. Throws IOError when a dump cannot be written.
void run_passes(Module& m, const std::vector<GraphPass>& passes, const PipelineOptions& options);

// Throws NameError when `disabled` names a pass that is not in `known`, listing the known names.
void check_pass_names(const std::set<std::string>& disabled, const std::vector<std::string>& known);

// Writes one stage's text to `<dir>/<NN>-<stage><extension>` (NN numbers stages across the
// process). Throws IOError naming the path when it cannot.
void write_stage_dump(const std::string& dir, const std::string& stage, const std::string& text,
                      const std::string& extension);

// The module as text: print_graph with the outputs, then one `# update %param <- %value` comment
// line per update (so the text still parses with parse_graph).
std::string print_module(const Module& m);

}  // namespace soma
