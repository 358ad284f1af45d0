// Layer: the base of Keras-style layers. A layer owns named weights (parameters in its model's
// Context) and maps one tensor to another (merge layers such as Concatenate map a list of tensors
// to one); the model calls it once per graph it builds (training step, evaluation, prediction),
// so `call` must only add nodes, never keep per-graph state.
//
// Called on symbolic model tensors (`(*dense)(x)` with x from Input(), functional.h), a layer
// records a call of a functional model instead: nothing is computed until a Model is made of
// them.
//
// Keras conventions: weights are created lazily by build() from the first input's type; their
// full names are "<layer name>/<weight>", e.g. "dense_1/kernel"; layer names are made unique
// per model ("dense", "dense_1", ...). Images are NCHW and conv kernels OIHW (SCRIPT.md).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "frontend/tensor.h"

namespace soma::nn {

class SymbolicTensor;  // functional.h

// A layer's constructor arguments as text, in Keras's names: what Model::save writes and
// layer_from_config reads back. Values are canonical text: integers, floats (shortest round-trip),
// true/false, names, lists "[1,28,28]"; an absent optional is an absent key.
using LayerConfig = std::map<std::string, std::string>;

// A weight of a layer: its parameter tensor in the model's context and whether the optimizer
// trains it (BatchNorm's moving statistics are not trainable; they are updated by the forward
// pass in training mode).
struct Weight {
  std::string name;  // full name, also the ParamStore key: "dense/kernel"
  Tensor tensor;
  bool trainable = true;
};

// What a layer's call sees of the graph being built.
struct CallContext {
  // Training graphs: Dropout drops, BatchNorm normalizes with the batch's statistics and updates
  // its moving statistics. Inference graphs (evaluate, predict): the identity and the moving
  // statistics.
  bool training = false;
  // The i32 scalar step counter of a training graph (undefined otherwise): the offset of
  // Dropout's random stream, so every step draws a new mask without recompiling.
  Tensor step;
  // Updates of non-trainable state (BatchNorm's moving statistics) that a training graph
  // applies together with the optimizer's updates.
  std::vector<std::pair<Tensor, Tensor>> state_updates;
  // Set by a layer with an activation: its name ("linear" for none), and for "softmax" or
  // "sigmoid" the logits z of its output; a layer that only moves elements (Reshape, Flatten)
  // passes its input's on, moved alike; every other layer leaves them empty. The model hands
  // them to the loss, which computes cross-entropies of squash(z) from z, stably (as Keras
  // does), and refuses to read a "linear" output as probabilities (losses.h).
  Tensor logits;
  std::string logits_activation;
  // What the layer's input came with (set by the model before each call).
  Tensor input_logits;
  std::string input_activation;
  // Index inputs that must lie in [0, bound) (an Embedding's token ids). Out-of-range ids would
  // read zeros; when such a tensor is a model input, the model checks its data before running
  // and reports the first bad id (as Keras does on the CPU).
  struct IdCheck {
    Tensor ids;
    int64_t bound = 0;
    std::string layer;  // "Embedding layer 'embedding'"
  };
  std::vector<IdCheck> id_checks;
};

class Layer : public std::enable_shared_from_this<Layer> {
 public:
  // `name` empty: the model names it after its class ("dense", "dense_1", ...).
  explicit Layer(std::string name = "", std::optional<uint64_t> seed = std::nullopt)
      : name_(std::move(name)), seed_(seed) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  // Keras's class name: "Dense", "Conv2D", ...
  virtual std::string class_name() const = 0;
  const std::string& name() const { return name_; }
  // The seed given to the layer (weights' initial values, Dropout's masks); when absent, the
  // model derives one from its own seed and the layer's position, so models are deterministic.
  const std::optional<uint64_t>& seed() const { return seed_; }
  // A layer's constructor arguments (see LayerConfig); "name" is included.
  virtual LayerConfig config() const;
  // A copy for working out the layer's output type before any model is made (the functional
  // form's shape probe): rebuilt from its config with every initializer "zeros", so that it
  // costs no random draws. A layer whose config does not say everything (a Lambda's function)
  // hands the copy the rest. Throws as layer_from_config does.
  virtual std::shared_ptr<Layer> probe_copy() const;

  // Keras's input_shape= (without the batch axis): a Sequential model whose first layer has one
  // is built as soon as the layer is added, so that summary() and the weights exist before fit.
  // On other layers it is ignored, as in Keras.
  // The dtype defaults to the layer's usual input (i32 token ids for an Embedding, else f32).
  void set_input_shape(Shape sample_shape, std::optional<DType> dtype = std::nullopt) {
    input_type_ = TensorType{dtype.value_or(default_input_dtype()), std::move(sample_shape)};
  }
  const std::optional<TensorType>& input_type() const { return input_type_; }
  virtual DType default_input_dtype() const { return DType::f32; }

  bool built() const { return built_; }
  // Creates the weights for inputs of `input` (batch axis first, any batch size) in the current
  // Context, with initial values drawn deterministically from `seed` (the model passes the
  // layer's own seed when it has one). Called once by the model; throws ShapeError/TypeError for an
  // input the layer cannot take.
  void build(const TensorType& input, uint64_t seed);
  // The layer's function on a batch. Requires build().
  virtual Tensor call(const Tensor& x, CallContext& ctx) = 0;

  // Layers of several inputs (merge layers: Concatenate, Add, ...) return true and take lists:
  // build_list / call_list. For the others, a list of one tensor is that tensor.
  virtual bool takes_list() const { return false; }
  void build_list(const std::vector<TensorType>& inputs, uint64_t seed);
  Tensor call_list(const std::vector<Tensor>& xs, CallContext& ctx);

  // The functional form (functional.h): records a call of the layer on model tensors and
  // returns its symbolic output. Calling one layer object several times shares its weights.
  // The layer must be held by a shared_ptr (std::make_shared); throws ValueError otherwise, or
  // for a list given to a one-input layer.
  SymbolicTensor operator()(const SymbolicTensor& x);
  SymbolicTensor operator()(const std::vector<SymbolicTensor>& xs);

  // All weights in creation order, trainable ones and the rest.
  const std::vector<Weight>& weights() const { return weights_; }
  std::vector<Weight> trainable_weights() const;
  std::vector<Weight> non_trainable_weights() const;
  int64_t count_params() const;

  // Used by a model whose building failed: forgets the weights build() made, so the layer can
  // be built again (its parameters stay in that model's context, unused).
  void unbuild();
  // Used by models: the name it gets when added (throws ValueError once built under another).
  void set_name(const std::string& name);
  // The model (context) the layer belongs to; a layer belongs to at most one model
  // (set_owner(nullptr) releases it; another owner throws ValueError).
  const void* owner() const { return owner_; }
  void set_owner(const void* owner);

 protected:
  // Subclasses create their weights here (with add_weight) and check the input type.
  virtual void build_weights(const TensorType& input, uint64_t seed) = 0;
  // List-taking layers: the same for their inputs, and their function (the defaults are for
  // one-input layers and are not called).
  virtual void build_weights_list(const std::vector<TensorType>& inputs, uint64_t seed);
  virtual Tensor call_list_impl(const std::vector<Tensor>& xs, CallContext& ctx);
  // Creates parameter "<layer name>/<short_name>" in the current Context, initialized with
  // `init` (an initializer of frontend/init.h) from a seed derived from `seed` and the name.
  Tensor add_weight(const std::string& short_name, const Shape& shape, const std::string& init,
                    uint64_t seed, bool trainable = true);

 private:
  std::string name_;
  std::optional<uint64_t> seed_;
  bool built_ = false;
  std::optional<TensorType> input_type_;
  const void* owner_ = nullptr;
  std::vector<Weight> weights_;
};

using LayerPtr = std::shared_ptr<Layer>;

// Recreates a layer from its class name and config (as written by Model::save); throws
// NameError for an unknown class, ValueError for a bad or missing argument.
LayerPtr layer_from_config(const std::string& class_name, const LayerConfig& config);

}  // namespace soma::nn
