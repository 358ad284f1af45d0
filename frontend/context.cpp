#include "frontend/context.h"

#include <algorithm>

namespace soma {

namespace {
thread_local std::shared_ptr<Context> g_current;
}

std::shared_ptr<NodeRef> Context::track(NodeId id) {
  auto ref = std::make_shared<NodeRef>(NodeRef{id});
  std::lock_guard<std::mutex> lock(refs_mu_);
  if (refs_.size() >= prune_at_) {  // amortized: the live ones at least double the size again
    std::erase_if(refs_, [](const std::weak_ptr<NodeRef>& w) { return w.expired(); });
    prune_at_ = std::max<size_t>(1024, 2 * refs_.size());
  }
  refs_.push_back(ref);
  return ref;
}

int Context::collect() {
  std::lock_guard<std::mutex> lock(refs_mu_);
  std::vector<std::shared_ptr<NodeRef>> live;
  std::vector<NodeId> roots;
  for (const std::weak_ptr<NodeRef>& w : refs_)
    if (auto r = w.lock()) {
      live.push_back(r);
      if (graph_.valid(r->id)) roots.push_back(r->id);
    }
  std::vector<NodeId> map;
  Graph kept = extract(graph_, roots, &map);
  for (const auto& r : live)
    if (graph_.valid(r->id)) r->id = map[static_cast<size_t>(r->id)];
  graph_ = std::move(kept);
  refs_.assign(live.begin(), live.end());
  prune_at_ = std::max<size_t>(1024, 2 * refs_.size());
  return graph_.size();
}

std::shared_ptr<Context> Context::current() {
  if (!g_current) g_current = std::make_shared<Context>();
  return g_current;
}

std::shared_ptr<Context> Context::set_current(std::shared_ptr<Context> ctx) {
  std::swap(g_current, ctx);
  return ctx;
}

}  // namespace soma
