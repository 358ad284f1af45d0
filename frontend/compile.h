// compile(): from tensors to an executable on a backend.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backends/backend.h"
#include "frontend/tensor.h"

namespace soma {

// A compiled set of outputs (and parameter updates) of one context, bound to one backend.
class Compiled {
 public:
  Compiled() = default;
  // Runs once. Inputs are bound by name; parameters come from the context's ParamStore, and
  // parameter updates are written back into it after the outputs are computed.
  std::vector<Array> run(const Feeds& feeds = {}) const;
  // Runs once and writes the outputs into arrays the caller keeps, as numpy's out=: outputs[i]
  // must have output i's dtype and shape (else a soma::Error naming the output, checked before
  // anything runs), and its storage, shared by every copy of the array, receives the values.
  // Where a backend can (llvm), the kernels write straight into the arrays: a loop that runs a
  // model on large outputs allocates no output per run. An array that shares memory with a feed
  // or another output is written last, after the parameter updates (which read the feeds as the
  // run did): it ends holding the output. (A parameter's own array is no place for an output:
  // the run's update writes it too.)
  void run(const Feeds& feeds, std::vector<Array>& outputs) const;
  const std::string& backend() const { return backend_; }
  // The names and types of the inputs that run() needs (those the outputs were built from; one
  // that the graph passes made unnecessary may still be listed and is then not read).
  const std::vector<std::pair<std::string, TensorType>>& inputs() const { return inputs_; }
  // The compiled graph (only the nodes the outputs and updates need, after the graph passes of
  // passes/pipeline.cpp) and its outputs.
  const Graph& graph() const { return *graph_; }
  const std::vector<NodeId>& outputs() const { return outputs_; }

 private:
  friend Compiled compile(const std::vector<Tensor>&, const CompileOptions&,
                          const std::vector<std::pair<Tensor, Tensor>>&);
  std::shared_ptr<Executable> exe_;
  std::shared_ptr<Graph> graph_;
  std::vector<NodeId> outputs_;
  std::vector<std::pair<std::string, TensorType>> inputs_;
  std::string backend_;
};

// Compiles `outputs` and, optionally, parameter updates (param tensor, its new value), all from
// one context. Throws soma::Error for tensors of different contexts, an update target that is not
// a parameter or a value of another type, two inputs of one name with different types, or an
// unknown backend.
Compiled compile(const std::vector<Tensor>& outputs, const CompileOptions& options = {},
                 const std::vector<std::pair<Tensor, Tensor>>& updates = {});

// Compiles and runs `t` once.
Array eval(const Tensor& t, const Feeds& feeds = {}, const CompileOptions& options = {});

}  // namespace soma
