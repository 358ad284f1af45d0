// The interface every backend implements, and the registry of backends by name.
//
// A backend compiles a CompileRequest (a graph that the frontend has already optimized, with its
// outputs and parameter updates) into an Executable. Inputs are bound by name at run time;
// parameters live in a ParamStore shared by every executable of one model, and a run writes
// parameter updates back into the store in place.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "graph/graph.h"
#include "graph/kernel_ir.h"
#include "runtime/array.h"
#include "runtime/param_store.h"

namespace soma {

struct CompileOptions {
  std::string backend;     // empty: $SOMA_BACKEND, else the default ("llvm")
  bool fast_math = false;  // allow reassociation and approximate transcendental functions
  int threads = 0;         // 0: the runtime's default
};

struct CompileRequest {
  const Graph* graph = nullptr;
  std::vector<NodeId> outputs;
  // (param node, node with its new value): written into the parameter after the outputs are
  // computed, so every output sees the old parameter values.
  std::vector<std::pair<NodeId, NodeId>> updates;
  CompileOptions options;
  // The lowered program (fused kernels over planned buffers), for backends that generate code;
  // the interpreter runs the graph itself.
  const kir::Program* program = nullptr;
};

using Feeds = std::map<std::string, Array>;

class Executable {
 public:
  virtual ~Executable() = default;
  // Runs once: every input node's name must be in `feeds` with its exact dtype and shape (else
  // a soma::Error naming the input, the expected and the given type); feeds not used are ignored.
  virtual std::vector<Array> run(const Feeds& feeds) = 0;
  // Runs once and writes output i into outputs[i], an array the caller keeps (as numpy's out=:
  // its storage, and every array sharing it, holds the result; no output array is made). The
  // caller has checked that each has output i's dtype and shape. This default copies run()'s
  // results; a host backend computes straight into the arrays where they alias nothing the run
  // reads.
  virtual void run_into(const Feeds& feeds, std::vector<Array>& outputs);
};

// A kind of generated code a backend can show (`soma emit STAGE`).
struct CodeStage {
  std::string name;         // "llvm", "asm", "glsl", "spirv"
  std::string description;  // one line
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // Whether compile() needs CompileRequest::program (code generators do; the graph
  // interpreter does not, and is spared the lowering).
  virtual bool needs_program() const { return true; }
  // The longest loop (a reduction's or a contraction's extent) one invocation of a generated
  // kernel may run; the graph passes split longer ones (split_reduce, split_k). 0: no limit.
  // Throws BackendError when the backend's device is unavailable.
  virtual int64_t max_serial_extent() const { return 0; }
  virtual std::unique_ptr<Executable> compile(const CompileRequest& request,
                                              std::shared_ptr<ParamStore> params) = 0;
  // The generated code this backend can show, and that code for a kernel program (made for
  // this backend, as compile() makes it). emit_code throws ValueError for a stage not listed.
  virtual std::vector<CodeStage> code_stages() const { return {}; }
  virtual std::string emit_code(const std::string& stage, const kir::Program& program,
                                const CompileOptions& options);
};

// The backend registered under `name`; throws BackendError listing the available ones.
Backend& get_backend(const std::string& name);
std::vector<std::string> backend_names();
// $SOMA_BACKEND if set, else the default backend's name.
std::string default_backend_name();

// Checks a feed against an input node's type; throws ValueError/TypeError/ShapeError.
void check_feed(const std::string& name, const TensorType& expected, const Feeds& feeds);

}  // namespace soma
