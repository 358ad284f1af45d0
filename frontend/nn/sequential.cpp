// Sequential: a model that applies its layers in order.
#include <sstream>

#include "frontend/nn/config_util.h"
#include "frontend/nn/model.h"
#include "frontend/nn/model_util.h"

namespace soma::nn {

using namespace detail;

Sequential::Sequential(std::vector<LayerPtr> layers, std::string name, uint64_t seed)
    : Model(name.empty() ? "sequential" : name, seed) {
  output_names_ = {"output"};
  for (LayerPtr& l : layers) add_unbuilt(std::move(l));
  build_declared();
}

void Sequential::build_declared() {
  if (built_ || layers_.empty() || !layers_[0]->input_type()) return;
  const TensorType& t = *layers_[0]->input_type();
  build(t.shape, t.dtype);
  built_from_declaration_ = true;
}

void Sequential::add(LayerPtr layer) {
  bool rebuild = built_ && built_from_declaration_ && !compiled();
  if (rebuild) unbuild_model();
  try {
    add_unbuilt(std::move(layer));
  } catch (...) {
    if (rebuild) build_declared();
    throw;
  }
  try {
    build_declared();
  } catch (...) {
    // The layer does not fit the declared input: the model stays as it was.
    pop();
    build_declared();
    throw;
  }
}

Sequential::~Sequential() {
  for (const LayerPtr& l : layers_)
    if (!l->built()) l->set_owner(nullptr);
}

void Sequential::add_unbuilt(LayerPtr layer) {
  if (!layer) SOMA_THROW(ValueError, "Sequential.add: the layer is null");
  if (built_)
    SOMA_THROW(ValueError, "Sequential.add: model '" << name_
                                                     << "' is already built; add layers before "
                                                        "building, fitting or predicting");
  for (const LayerPtr& l : layers_)
    if (l == layer)
      SOMA_THROW(ValueError,
                 "Sequential.add: layer '" << layer->name() << "' is already in the model");
  std::string name = layer->name();
  auto taken = [&](const std::string& n) {
    for (const LayerPtr& l : layers_)
      if (l->name() == n) return true;
    return false;
  };
  if (name.empty()) {
    std::string base = default_layer_name(layer->class_name());
    name = base;
    for (int i = 1; taken(name); ++i) name = base + "_" + std::to_string(i);
  } else if (taken(name)) {
    SOMA_THROW(ValueError, "Sequential.add: model '" << name_ << "' already has a layer named '"
                                                     << name << "'; layer names must be unique");
  }
  if (layer->built() && layer->owner() != this)
    SOMA_THROW(ValueError,
               "Sequential.add: layer '" << name << "' is already built in another model");
  layer->set_owner(this);
  layer->set_name(name);
  output_names_ = {name};
  layers_.push_back(std::move(layer));
}

void Sequential::pop() {
  if (built_) SOMA_THROW(ValueError, "Sequential.pop: model '" << name_ << "' is already built");
  if (layers_.empty()) SOMA_THROW(ValueError, "Sequential.pop: the model has no layers");
  layers_.back()->set_owner(nullptr);
  layers_.pop_back();
  output_names_ = {layers_.empty() ? "output" : layers_.back()->name()};
}

void Sequential::build_layers(const std::vector<TensorType>& batch_inputs) {
  if (layers_.empty())
    SOMA_THROW(ValueError, "model '" << name_ << "' has no layers; add some before building");
  Tensor x = input("x", batch_inputs.at(0).shape, batch_inputs[0].dtype);
  CallContext cc;
  std::vector<Shape> shapes;
  for (const LayerPtr& l : layers_) {
    x = build_and_call(*l, {x}, false, l->seed() ? *l->seed() : mix_seed(seed_, l->name()), cc);
    shapes.emplace_back(sample_dims(x.shape()));
  }
  layer_output_shapes_ = shapes;
  output_types_ = {TensorType{x.dtype(), Shape(sample_dims(x.shape()))}};
}

Tensor Sequential::forward(const Tensor& x0, CallContext& ctx) {
  ContextScope scope(ctx_);
  Tensor x = x0;
  for (const LayerPtr& l : layers_) {
    ctx.input_logits = std::move(ctx.logits);
    ctx.input_activation = std::move(ctx.logits_activation);
    ctx.logits = Tensor();
    ctx.logits_activation.clear();
    x = l->call(x, ctx);
  }
  return x;
}

std::vector<ModelOutput> Sequential::forward(const std::vector<Tensor>& xs, CallContext& ctx) {
  ModelOutput out;
  out.value = forward(xs.at(0), ctx);
  out.logits = ctx.logits;
  out.logits_activation = ctx.logits_activation;
  return {out};
}

std::vector<Model::SummaryRow> Sequential::summary_rows() const {
  std::vector<SummaryRow> rows;
  for (size_t i = 0; i < layers_.size(); ++i)
    rows.push_back(SummaryRow{layers_[i]->name() + " (" + layers_[i]->class_name() + ")",
                              keras_shape(layer_output_shapes_[i]), layers_[i]->count_params(),
                              ""});
  return rows;
}

std::string Sequential::architecture() const {
  std::ostringstream os;
  os << "Sequential " << name_ << " seed=" << seed_;
  if (built_) os << " input=" << input_types_.at(0).str();
  os << "\n";
  for (const LayerPtr& l : layers_) {
    os << l->class_name();
    for (const auto& [k, v] : l->config()) {
      SOMA_CHECK(v.find_first_of(" \n") == std::string::npos)
          << "config value with a space: " << k << "=" << v;
      os << " " << k << "=" << v;
    }
    os << "\n";
  }
  return os.str();
}

std::shared_ptr<Sequential> Sequential::from_architecture(const std::string& text) {
  detail::ArchitectureReader r(text, "Sequential");
  uint64_t seed = 0;
  std::optional<TensorType> input_type;
  for (const auto& [key, value] : r.settings()) {
    if (key == "seed") {
      seed = cfg_seed(LayerConfig{{"seed", value}}, "Sequential").value_or(0);
    } else if (key == "input") {
      input_type = parse_type(value);
      if (!input_type) r.fail("bad input type '" + value + "'");
    } else {
      r.fail("unknown model setting '" + key + "=" + value + "'");
    }
  }
  std::vector<LayerPtr> layers;
  for (std::istringstream ls; r.next(ls);) {
    std::string lcls;
    ls >> lcls;
    layers.push_back(layer_from_config(lcls, r.config(ls)));
  }
  auto model = std::make_shared<Sequential>(layers, r.name(), seed);
  if (input_type) model->build(input_type->shape, input_type->dtype);
  return model;
}

}  // namespace soma::nn
