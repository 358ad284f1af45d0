// The layer classes a saved model may name, in one table: each row is a class name, the other
// spellings accepted on load (Keras's "MaxPooling2D" for "MaxPool2D"), Keras's automatic name
// prefix and the reader that rebuilds the layer from its config. Each family of layers adds its
// rows beside its code (layers.cpp, recurrent.cpp, merge.cpp, lambda.cpp); layer_from_config, the
// automatic layer names and the "known:" list of an unknown-class error all read this table.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "frontend/nn/layer.h"

namespace soma::nn {

struct LayerKind {
  std::string class_name;            // as Layer::class_name() and Model::save write it
  std::vector<std::string> aliases;  // other spellings layer_from_config accepts
  std::string default_name;          // the automatic name prefix; "" for snake_case(class_name)
  // Rebuilds a layer; `cls` is the spelling the file used. Throws ValueError for a bad or
  // missing argument.
  std::function<LayerPtr(const std::string& cls, const LayerConfig& config)> from_config;
};

const std::vector<LayerKind>& layer_kinds();

// The row for a class name or alias; nullptr when none.
const LayerKind* find_layer_kind(const std::string& cls);

namespace detail {
// Each family's rows (called once, by layer_kinds()).
void add_core_layers(std::vector<LayerKind>& kinds);
void add_recurrent_layers(std::vector<LayerKind>& kinds);
void add_merge_layers(std::vector<LayerKind>& kinds);
void add_lambda_layer(std::vector<LayerKind>& kinds);
}  // namespace detail

}  // namespace soma::nn
