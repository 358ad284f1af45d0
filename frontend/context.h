// Context: the graph that tensors are built into, and the values of its parameters. Tensors of
// one model share a context; every executable compiled from it shares its ParamStore.
#pragma once

#include <memory>

#include "graph/builder.h"
#include "graph/graph.h"
#include "runtime/param_store.h"

namespace soma {

class Context {
 public:
  Context() : params_(std::make_shared<ParamStore>()) {}
  Graph& graph() { return graph_; }
  const Graph& graph() const { return graph_; }
  Builder builder() { return Builder(graph_); }
  ParamStore& params() { return *params_; }
  const std::shared_ptr<ParamStore>& params_ptr() const { return params_; }

  // The context new tensors go into on this thread (created on first use).
  static std::shared_ptr<Context> current();
  // Makes `ctx` current on this thread; returns the previous one.
  static std::shared_ptr<Context> set_current(std::shared_ptr<Context> ctx);

 private:
  Graph graph_;
  std::shared_ptr<ParamStore> params_;
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
