// Context: the graph that tensors are built into, and the values of its parameters. Tensors of
// one model share a context; every executable compiled from it shares its ParamStore.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include <memory>

#include "graph/builder.h"
#include "graph/graph.h"
#include "runtime/param_store.h"

namespace soma {

// Where a tensor's node is: a tensor and its copies share one NodeRef, which `collect` renumbers.
struct NodeRef {
  NodeId id = -1;
};

class Context {
 public:
  Context() : params_(std::make_shared<ParamStore>()) {}
  Graph& graph() { return graph_; }
  const Graph& graph() const { return graph_; }
  Builder builder() { return Builder(graph_); }
  ParamStore& params() { return *params_; }
  const std::shared_ptr<ParamStore>& params_ptr() const { return params_; }

  // A reference to node `id` that follows it through `collect` (tensors hold one).
  std::shared_ptr<NodeRef> track(NodeId id);
  // Drops every node that no tensor of this context refers to, directly or through its inputs,
  // and renumbers the rest in their order; returns the nodes kept. Node ids held outside tensors
  // (a NodeId variable, a key made of ids) are stale afterwards: call it only where there are
  // none (the script session calls it between statements, once its graph has doubled).
  int collect();

  // The context new tensors go into on this thread (created on first use).
  static std::shared_ptr<Context> current();
  // Makes `ctx` current on this thread; returns the previous one.
  static std::shared_ptr<Context> set_current(std::shared_ptr<Context> ctx);

 private:
  Graph graph_;
  std::shared_ptr<ParamStore> params_;
  std::mutex refs_mu_;                        // tensors may be copied and dropped on any thread
  std::vector<std::weak_ptr<NodeRef>> refs_;  // every tracked reference (dead ones pruned)
  size_t prune_at_ = 1024;                    // refs_ size that prunes the dead ones
};

// Makes a context current for the lifetime of the scope.
class ContextScope {
 public:
  explicit ContextScope(std::shared_ptr<Context> ctx)
      : previous_(Context::set_current(std::move(ctx))) {}
  ~ContextScope() { Context::set_current(previous_); }
  ContextScope(const ContextScope&) = delete;
  ContextScope& operator=(const ContextScope&) = delete;

 private:
  std::shared_ptr<Context> previous_;
};

}  // namespace soma
