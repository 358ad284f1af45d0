#include "frontend/nn/layer.h"

#include "frontend/nn/config_util.h"

namespace soma::nn {

LayerConfig Layer::config() const {
  LayerConfig c;
  if (!name_.empty()) c["name"] = name_;
  if (seed_) c["seed"] = std::to_string(*seed_);
  return c;
}

std::shared_ptr<Layer> Layer::probe_copy() const {
  LayerConfig c = config();
  for (auto& [k, v] : c)
    if (k.find("initializer") != std::string::npos) v = "zeros";
  return layer_from_config(class_name(), c);
}

void Layer::build(const TensorType& input, uint64_t seed) {
  if (built_) return;
  if (name_.empty())
    SOMA_THROW(ValueError, class_name() << ": a layer needs a name before it is built (a model "
                                           "names its layers when they are added)");
  build_weights(input, seed);
  built_ = true;
}

void Layer::build_list(const std::vector<TensorType>& inputs, uint64_t seed) {
  if (!takes_list()) {
    if (inputs.size() != 1)
      SOMA_THROW(ValueError, class_name()
                                 << " layer '" << name_ << "' takes one input, got a list of "
                                 << inputs.size()
                                 << " (merge tensors first, e.g. with Concatenate or Add)");
    build(inputs[0], seed);
    return;
  }
  if (built_) return;
  if (name_.empty())
    SOMA_THROW(ValueError, class_name() << ": a layer needs a name before it is built (a model "
                                           "names its layers when they are added)");
  build_weights_list(inputs, seed);
  built_ = true;
}

Tensor Layer::call_list(const std::vector<Tensor>& xs, CallContext& ctx) {
  if (!takes_list()) {
    if (xs.size() != 1)
      SOMA_THROW(ValueError, class_name() << " layer '" << name_
                                          << "' takes one input, got a list of " << xs.size());
    return call(xs[0], ctx);
  }
  return call_list_impl(xs, ctx);
}

void Layer::build_weights_list(const std::vector<TensorType>& inputs, uint64_t seed) {
  SOMA_CHECK(inputs.size() == 1) << class_name() << ": build_weights_list of a one-input layer";
  build_weights(inputs[0], seed);
}

Tensor Layer::call_list_impl(const std::vector<Tensor>& xs, CallContext& ctx) {
  SOMA_CHECK(xs.size() == 1) << class_name() << ": call_list_impl of a one-input layer";
  return call(xs[0], ctx);
}

void Layer::unbuild() {
  built_ = false;
  weights_.clear();
}

std::vector<Weight> Layer::trainable_weights() const {
  std::vector<Weight> out;
  for (const Weight& w : weights_)
    if (w.trainable) out.push_back(w);
  return out;
}

std::vector<Weight> Layer::non_trainable_weights() const {
  std::vector<Weight> out;
  for (const Weight& w : weights_)
    if (!w.trainable) out.push_back(w);
  return out;
}

int64_t Layer::count_params() const {
  int64_t n = 0;
  for (const Weight& w : weights_) n += w.tensor.numel();
  return n;
}

void Layer::set_name(const std::string& name) {
  if (!detail::valid_name(name))
    SOMA_THROW(ValueError,
               "invalid layer name '" << name << "': use letters, digits, '_', '.' and '-'");
  if (name == name_) return;
  if (built_)
    SOMA_THROW(ValueError,
               "layer '" << name_ << "' is built; it cannot be renamed to '" << name << "'");
  name_ = name;
}

void Layer::set_owner(const void* owner) {
  if (owner && owner_ && owner_ != owner)
    SOMA_THROW(ValueError, class_name()
                               << " layer '" << name_
                               << "' already belongs to another model; layers cannot be "
                                  "shared between models (each model has its own weights)");
  owner_ = owner;
}

Tensor Layer::add_weight(const std::string& short_name, const Shape& shape, const std::string& init,
                         uint64_t seed, bool trainable) {
  std::string full = name_ + "/" + short_name;
  Tensor t = reuse_param(full, shape, init, detail::mix_seed(seed, short_name));
  weights_.push_back(Weight{full, t, trainable});
  return t;
}

}  // namespace soma::nn
