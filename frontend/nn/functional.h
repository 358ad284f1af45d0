// Functional models: a graph of layer calls on symbolic tensors, for models of several inputs or
// outputs, shared layers and branches (Keras's functional API):
//
//   using namespace soma::nn;
//   SymbolicTensor image = Input({784}), meta = Input({10}, DType::f32, "meta");
//   auto shared = std::make_shared<Dense>(64, DenseOptions{.activation = "relu"});
//   SymbolicTensor h = (*std::make_shared<Concatenate>())({(*shared)(image), meta});
//   SymbolicTensor digit = (*std::make_shared<Dense>(10))(h);
//   SymbolicTensor odd = (*std::make_shared<Dense>(1, DenseOptions{.name = "odd"}))(h);
//   auto model = std::make_shared<Functional>(std::vector{image, meta}, std::vector{digit, odd});
//   model->compile(std::make_shared<Adam>(), std::vector<LossPtr>{
//       get_loss("sparse_categorical_crossentropy"), get_loss("binary_crossentropy")});
//   model->fit({x_image, x_meta}, {y_digit, y_odd}, {.epochs = 3});
//
// Calling a layer on symbolic tensors records the call (and infers its output shape on a scratch
// copy of the layer); a Functional model is made of every call between its inputs and outputs,
// names its inputs and layers (unique in the model, as Sequential does), and builds them right
// away (the input shapes are known), so summary() works at once and a shape mismatch is reported
// when the model is made, naming the layer. Calling one
// layer object several times shares its weights. Everything else (compile, fit, evaluate,
// predict, summary, save, load_weights) is Model's (model.h); load_model reads a saved one back.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "frontend/nn/model.h"

namespace soma::nn {

namespace detail {
struct SymbolicNode;
}

// A symbolic tensor of a functional model: an Input, or the output of a layer call.
class SymbolicTensor {
 public:
  SymbolicTensor() = default;
  bool defined() const { return node_ != nullptr; }
  bool is_input() const;
  // An Input's name ("" when a model is to name it: "input_1", ...).
  const std::string& input_name() const;
  // The layer that produced it (null for an Input) and what it was called on.
  const LayerPtr& layer() const;
  const std::vector<SymbolicTensor>& inputs() const;
  // The per-sample type (without the batch axis): an Input's, or a layer output's (inferred
  // when the call is recorded; nullopt when that fails, e.g. for inputs that do not fit the
  // layer: making a model of it then says why).
  std::optional<TensorType> type() const;
  // "(None, 784)", or "(None, ?)" while unknown.
  std::string str() const;

  const std::shared_ptr<detail::SymbolicNode>& node() const { return node_; }
  explicit SymbolicTensor(std::shared_ptr<detail::SymbolicNode> node) : node_(std::move(node)) {}

 private:
  std::shared_ptr<detail::SymbolicNode> node_;
};

// A model input of per-sample shape `shape` (without the batch axis). `name` "" lets the model
// name it ("input_1", "input_2", ... in input order). Throws ValueError for a size < 1 or an
// invalid name.
SymbolicTensor Input(const Shape& shape, DType dtype = DType::f32, const std::string& name = "");

// One symbolic tensor or several: what Functional takes as inputs and outputs.
class SymbolicTensors : public std::vector<SymbolicTensor> {
 public:
  SymbolicTensors() = default;
  SymbolicTensors(const SymbolicTensor& t) : std::vector<SymbolicTensor>{t} {}  // NOLINT
  SymbolicTensors(std::vector<SymbolicTensor> v) : std::vector<SymbolicTensor>(std::move(v)) {}
  SymbolicTensors(std::initializer_list<SymbolicTensor> l) : std::vector<SymbolicTensor>(l) {}
};

class Functional : public Model {
 public:
  // Throws ValueError when an output depends on an Input that is not among `inputs` ("graph
  // disconnected"), when an input leads to no output, for an input given twice or that is not an
  // Input, for duplicate layer names, or a layer of another model; ShapeError/TypeError naming
  // the layer whose inputs do not fit it. name "": "model".
  Functional(SymbolicTensors inputs, SymbolicTensors outputs, std::string name = "",
             uint64_t seed = 0);
  std::string class_name() const override { return "Functional"; }
  std::vector<LayerPtr> layers() const override { return layers_; }
  std::vector<ModelOutput> forward(const std::vector<Tensor>& xs, CallContext& ctx) override;
  const std::vector<SymbolicTensor>& inputs() const { return inputs_; }
  const std::vector<SymbolicTensor>& outputs() const { return outputs_; }

  // The architecture as Model::save writes it:
  //   "Functional NAME seed=SEED", then
  //   "input NAME f32[784]"           per input, in input order
  //   "layer CLASS key=value ..."     per layer (as Sequential's lines)
  //   "call LAYER ARG ..."            per call in order; "call LAYER [ARG,ARG]" for a list; an ARG
  //                                   is an input's name or "LAYER:K", call K of that layer
  //   "outputs REF ..."
  std::string architecture() const override;
  static std::shared_ptr<Functional> from_architecture(const std::string& text);

 protected:
  void build_layers(const std::vector<TensorType>& batch_inputs) override;
  std::vector<SummaryRow> summary_rows() const override;
  bool summary_connections() const override;

 private:
  void connect();
  std::vector<SymbolicTensor> inputs_, outputs_;
  // Every node between the inputs and the outputs, in creation order (a topological order).
  std::vector<std::shared_ptr<detail::SymbolicNode>> nodes_;
  std::vector<std::vector<size_t>> args_;           // per node: its arguments' node indices
  std::vector<int> call_index_;                     // per node: which call of its layer (0, 1, ...)
  std::vector<size_t> input_nodes_, output_nodes_;  // node indices of the inputs and outputs
  std::vector<LayerPtr> layers_;                    // each once, in order of first call
  std::vector<Shape> node_shapes_;                  // per node: per-sample output shape
};

}  // namespace soma::nn
