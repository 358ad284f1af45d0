#include "frontend/nn/layer_registry.h"

#include <algorithm>

#include "graph/error.h"

namespace soma::nn {

const std::vector<LayerKind>& layer_kinds() {
  static const std::vector<LayerKind> kinds = [] {
    std::vector<LayerKind> k;
    detail::add_core_layers(k);
    detail::add_recurrent_layers(k);
    detail::add_merge_layers(k);
    detail::add_lambda_layer(k);
    return k;
  }();
  return kinds;
}

const LayerKind* find_layer_kind(const std::string& cls) {
  for (const LayerKind& k : layer_kinds()) {
    if (k.class_name == cls) return &k;
    if (std::find(k.aliases.begin(), k.aliases.end(), cls) != k.aliases.end()) return &k;
  }
  return nullptr;
}

LayerPtr layer_from_config(const std::string& cls, const LayerConfig& config) {
  if (const LayerKind* k = find_layer_kind(cls)) return k->from_config(cls, config);
  std::string known;
  for (const LayerKind& k : layer_kinds()) known += (known.empty() ? "" : ", ") + k.class_name;
  SOMA_THROW(NameError, "unknown layer class '" << cls << "'; known: " << known);
}

}  // namespace soma::nn
