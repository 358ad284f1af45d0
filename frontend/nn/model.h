// Keras-style models: Sequential and the functional Model (functional.h) share this base:
// compile / fit / evaluate / predict, summary, checkpoints.
//
//   using namespace soma::nn;
//   auto model = std::make_shared<Sequential>(std::vector<LayerPtr>{
//       std::make_shared<Flatten>(),
//       std::make_shared<Dense>(128, DenseOptions{.activation = "relu"}),
//       std::make_shared<Dense>(10)});
//   model->compile(std::make_shared<SGD>(0.1, 0.9), get_loss("sparse_categorical_crossentropy"),
//                  {"accuracy"});
//   History h = model->fit(data.x_train, data.y_train, {.epochs = 5, .batch_size = 128,
//                                                        .validation_split = 0.1});
//   Logs test = model->evaluate(data.x_test, data.y_test);
//   Array logits = model->predict(data.x_test);
//   model->save("fmnist.soma-weights");
//
// Each model owns its own Context: every graph it builds (one training step per batch size,
// evaluation, prediction) goes there, and they all share its ParamStore, so weights, optimizer
// slots and BatchNorm statistics live in one set of persistent buffers updated in place.
//
// The training step is one compiled function with inputs "x" (the batch), "y" (labels), "lr"
// (f32 scalar: the learning rate) and "step" (i32 scalar: steps taken so far — Dropout's random
// stream offset and Adam's t - 1); its outputs are the loss and the metrics; its updates are
// every trainable weight, every optimizer slot and every BatchNorm statistic. It is compiled once
// per batch size (so the last, partial batch compiles a second step) and cached.
//
// Models of several inputs or outputs (functional.h) take one array per input and per output
// (Arrays below); their training step has inputs "x0", "x1", ... and "y0", "y1", ... and sums
// the outputs' losses (each times its loss weight). One-input models keep "x" and "y".
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "frontend/compile.h"
#include "frontend/nn/callbacks.h"
#include "frontend/nn/history.h"
#include "frontend/nn/lambda.h"
#include "frontend/nn/layer.h"
#include "frontend/nn/layers.h"
#include "frontend/nn/logs.h"
#include "frontend/nn/losses.h"
#include "frontend/nn/metrics.h"
#include "frontend/nn/optimizers.h"

namespace soma::nn {

// One array per model input (or output), in the model's order; a single Array converts, so
// one-input models take plain arrays.
class Arrays : public std::vector<Array> {
 public:
  Arrays() = default;
  Arrays(const Array& a) : std::vector<Array>{a} {}  // NOLINT: implicit on purpose
  Arrays(std::vector<Array> v) : std::vector<Array>(std::move(v)) {}
  Arrays(std::initializer_list<Array> l) : std::vector<Array>(l) {}
};

struct FitOptions {
  int epochs = 1;
  int64_t batch_size = 32;
  // Fraction of (x, y) held out for validation: the *last* samples, before shuffling (Keras).
  double validation_split = 0.0;
  // Explicit validation data (takes precedence over validation_split).
  std::optional<std::pair<Arrays, Arrays>> validation_data;
  bool shuffle = true;  // reshuffle the training samples every epoch
  uint64_t seed = 0;    // the shuffling's seed (epoch e uses a stream derived from seed and e)
  // Drop the last batch when it is smaller than batch_size (default: train on it too).
  bool drop_remainder = false;
  // 0: silent; 1: a progress bar per epoch on a terminal, one line per epoch otherwise;
  // 2: one line per epoch.
  int verbose = 1;
  std::vector<CallbackPtr> callbacks;
  int initial_epoch = 0;        // epochs are numbered from here (resuming)
  std::ostream* out = nullptr;  // progress output; nullptr: std::cout
  // Overrides the terminal detection of verbose 1 (nullopt: isatty on stdout).
  std::optional<bool> tty;
};

struct EvaluateOptions {
  int64_t batch_size = 32;
  // 0: silent; 1 (Keras's default): a bar on a terminal, else one line
  // "313/313 - 0.4s - loss: 0.4412 - accuracy: 0.8433".
  int verbose = 1;
  std::ostream* out = nullptr;
  std::optional<bool> tty;
};

struct PredictOptions {
  int64_t batch_size = 32;
};

// One output of a model's forward function: its value and, when the layer that produced it ended
// in softmax or sigmoid, the logits before it (see CallContext::logits).
struct ModelOutput {
  Tensor value, logits;
  std::string logits_activation;
};

// The behaviour shared by every model: Sequential below, Functional in functional.h.
class Model {
 public:
  explicit Model(std::string name, uint64_t seed = 0);
  virtual ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const std::string& name() const { return name_; }
  // The seed from which layers without their own seed draw their initial weights and masks.
  uint64_t seed() const { return seed_; }
  virtual std::string class_name() const = 0;

  // ---- building -----------------------------------------------------------------------------

  // Creates every layer's weights for inputs of type `input` without the batch axis (e.g.
  // build({28, 28}) for f32 images, build({20}, DType::i32) for token ids). fit / evaluate /
  // predict build on first use from their data; calling it again with another input type throws
  // ShapeError. (Functional models are built when they are made; for them this only checks.)
  void build(const Shape& input_shape, DType input_dtype = DType::f32);
  bool built() const { return built_; }
  size_t num_inputs() const { return num_inputs_; }
  size_t num_outputs() const { return num_outputs_; }
  // Per-sample types (without the batch axis) of every input and output; require built().
  const std::vector<TensorType>& input_types() const;
  const std::vector<TensorType>& output_types() const;
  // The one input's / output's type; throw ValueError for a model of several.
  const TensorType& input_type() const;
  const TensorType& output_type() const;
  // Names of the inputs (Input names) and outputs (the producing layers' names): the prefixes
  // of per-output logs ("dense_1_loss").
  const std::vector<std::string>& input_names() const { return input_names_; }
  const std::vector<std::string>& output_names() const { return output_names_; }

  // ---- training configuration ----------------------------------------------------------------

  // One loss for every output (a model of several outputs sums them). metrics: names (see
  // get_metric; "accuracy" adapts to the loss), computed for every output. backend: "" for
  // $SOMA_BACKEND / the default. (Re-)compiling starts the optimizer afresh, as a new Keras
  // optimizer: its slots are zero and iterations() is 0; the weights are kept. Throws NameError
  // for an unknown metric.
  void compile(OptimizerPtr optimizer, LossPtr loss, const std::vector<std::string>& metrics = {},
               const std::string& backend = "");
  // A loss per output (in output order), and optionally a weight per loss (default 1): the
  // training loss is sum(weight_i * loss_i). Throws ValueError when the counts do not match the
  // outputs.
  void compile(OptimizerPtr optimizer, std::vector<LossPtr> losses,
               const std::vector<std::string>& metrics = {}, const std::string& backend = "",
               std::vector<double> loss_weights = {});
  // Keras's list of lists: output j gets the metrics named in per_output[j] (one list per
  // output; ValueError otherwise).
  struct OutputMetrics {
    explicit OutputMetrics(std::vector<std::vector<std::string>> lists)
        : per_output(std::move(lists)) {}
    std::vector<std::vector<std::string>> per_output;
  };
  void compile(OptimizerPtr optimizer, std::vector<LossPtr> losses, const OutputMetrics& metrics,
               const std::string& backend = "", std::vector<double> loss_weights = {});
  // By names: get_optimizer(optimizer), get_loss(loss).
  void compile(const std::string& optimizer, const std::string& loss,
               const std::vector<std::string>& metrics = {}, const std::string& backend = "");
  bool compiled() const { return optimizer_ != nullptr; }
  // Adds a metric object (one of the user's own, e.g. a script function) to the compiled model,
  // reported for every output (or only output `output`) after the metrics given by name. Not
  // saved by save(): a loaded model has the named metrics only. Throws ValueError before compile,
  // for a name in use or an output out of range.
  void add_metric(MetricPtr metric, std::optional<size_t> output = std::nullopt);
  // Extra options for every function the model compiles (fast_math, threads); backend is
  // taken from compile().
  void set_compile_options(const CompileOptions& options);
  const OptimizerPtr& optimizer() const { return optimizer_; }
  // The (first) output's loss, and every output's.
  const LossPtr& loss() const;
  const std::vector<LossPtr>& losses() const { return losses_; }
  const std::vector<double>& loss_weights() const { return loss_weights_; }
  // The names reported by fit/evaluate: "loss" then the metrics' names; for several outputs,
  // "loss" (the total), "<output>_loss" per output, then "<output>_<metric>".
  std::vector<std::string> metrics_names() const;

  // ---- training and inference ------------------------------------------------------------------

  // Trains on x [N, ...input] (f32, or i32 ids for an Embedding model) and labels y [N, ...]
  // (i32 class indices for sparse losses, f32 otherwise) — one array per input and per output.
  // Throws: ValueError before compile(), ShapeError for inputs of the wrong shape or arrays of
  // different lengths, TypeError for labels of the wrong dtype, ValueError for the wrong number
  // of arrays or bad options (epochs < 0, batch_size < 1, split outside [0, 1)). Sets
  // stop_training() false at the start.
  History fit(const Arrays& x, const Arrays& y, const FitOptions& options = {});
  // Loss and metrics on (x, y) in inference mode (averaged over all samples).
  Logs evaluate(const Arrays& x, const Arrays& y, const EvaluateOptions& options = {});
  // The model's output for x in inference mode, [N, ...output]; ValueError for a model of
  // several outputs (use predict_outputs).
  Array predict(const Arrays& x, const PredictOptions& options = {});
  // Every output, in output order.
  std::vector<Array> predict_outputs(const Arrays& x, const PredictOptions& options = {});
  // One training step on one batch (compiling the step for its batch size if needed); returns the
  // batch's loss and metrics. fit is built from this.
  Logs train_on_batch(const Arrays& x, const Arrays& y);
  // Loss and metrics of one batch in inference mode.
  Logs test_on_batch(const Arrays& x, const Arrays& y);

  // Callbacks set this to end fit after the current epoch.
  bool stop_training() const { return stop_training_; }
  void set_stop_training(bool stop) { stop_training_ = stop; }
  // Training steps taken so far (the "step" input of the next step); saved with Model::save.
  int64_t iterations() const { return iterations_; }

  // ---- weights ------------------------------------------------------------------------------

  // Every layer's weights in layer order (requires built()); a layer used twice counts once.
  std::vector<Weight> weights() const;
  std::vector<Weight> trainable_weights() const;
  std::vector<Weight> non_trainable_weights() const;
  int64_t count_params() const;
  // Current values (copies) in weights() order, and setting them back (shapes and dtypes checked
  // before anything is written).
  std::vector<Array> get_weights() const;
  void set_weights(const std::vector<Array>& values);

  // The Keras-like table: layer (type), output shape ("(None, 10)"), parameter count (and, for
  // functional models that are not a plain chain, what each layer is connected to), and
  // total / trainable / non-trainable counts. Requires built() (else ValueError saying to call
  // build or fit first).
  std::string summary() const;
  void summary(std::ostream& out) const;

  // ---- checkpoints (format: checkpoint.h) ------------------------------------------------------

  // The weights (trainable and not), with the model's input types in the metadata.
  void save_weights(const std::string& path) const;
  // Loads weights saved by save_weights or save. Builds an unbuilt model from the checkpoint's
  // input type. Every weight must be present with its dtype and shape; anything wrong (missing,
  // extra, mismatched, truncated or corrupt file) throws IOError/ValueError and leaves the
  // model unchanged.
  void load_weights(const std::string& path);
  // Architecture, weights, and (when compiled) the optimizer's config, slots and iterations.
  // load_model (below) reads it back.
  void save(const std::string& path) const;

  // ---- internals shared with the script bindings ------------------------------------------------

  const std::shared_ptr<Context>& context() const { return ctx_; }
  ParamStore& params() { return ctx_->params(); }
  // The model's function on batch tensors of the model's context (one per input), training or
  // inference; one ModelOutput per output.
  virtual std::vector<ModelOutput> forward(const std::vector<Tensor>& xs, CallContext& ctx) = 0;
  // The layers in order, each once.
  virtual std::vector<LayerPtr> layers() const = 0;
  // The architecture as text (Sequential::from_architecture, Functional::from_architecture).
  virtual std::string architecture() const = 0;

 protected:
  // A row of summary(): "dense (Dense)", "(None, 10)", parameters, connections ("" if none).
  struct SummaryRow {
    std::string layer, shape;
    int64_t params = 0;
    std::string connected;
  };
  virtual std::vector<SummaryRow> summary_rows() const = 0;
  // Whether summary() shows the "Connected to" column.
  virtual bool summary_connections() const { return false; }
  // Builds the layers (in the model's context) for batches of `batch_inputs` (batch size 1),
  // setting output_types_. Called by build() once.
  virtual void build_layers(const std::vector<TensorType>& batch_inputs) = 0;
  // Restores the step counter (load_model).
  void set_iterations(int64_t n) { iterations_ = n; }
  // Builds the model for per-sample input types (or, once built, checks them: ShapeError).
  void build_types(const std::vector<TensorType>& per_sample);
  // Makes an uncompiled model unbuilt again, its compiled functions dropped; building it again
  // continues with the same weight values (parameters are reused by name).
  void unbuild_model();

  std::vector<TensorType> input_types_, output_types_;
  std::vector<std::string> input_names_{"input"}, output_names_{"output"};
  size_t num_inputs_ = 1, num_outputs_ = 1;
  bool built_ = false;
  std::string name_;
  uint64_t seed_;
  std::shared_ptr<Context> ctx_;

 private:
  struct Impl;  // the training core: training.h
  std::unique_ptr<Impl> impl_;
  OptimizerPtr optimizer_;
  std::vector<LossPtr> losses_;
  std::vector<double> loss_weights_;
  std::vector<std::vector<MetricPtr>> metrics_;            // per output
  std::vector<std::vector<std::string>> metric_requests_;  // per output, as given (for save)
  std::string backend_;
  CompileOptions compile_options_;
  bool stop_training_ = false;
  int64_t iterations_ = 0;
  friend std::shared_ptr<Model> load_model(const std::string&, const std::string&,
                                           const CustomObjects&);
};

class Sequential : public Model {
 public:
  // name "": "sequential". Layers without a name are named after their class, unique in the model.
  explicit Sequential(std::vector<LayerPtr> layers = {}, std::string name = "", uint64_t seed = 0);
  // Releases the layers that were never built, so that another model may take them.
  ~Sequential() override;
  std::string class_name() const override { return "Sequential"; }
  // Appends a layer (before the model is built). Throws ValueError for a duplicate name, a layer
  // of another model, or adding to a built model. A model built because its first layer has an
  // input shape (Layer::set_input_shape, Keras's input_shape=) is built again with the new layer,
  // as in Keras, until it is compiled.
  void add(LayerPtr layer);
  // Removes the last layer (before the model is built).
  void pop();
  std::vector<LayerPtr> layers() const override { return layers_; }
  std::vector<ModelOutput> forward(const std::vector<Tensor>& xs, CallContext& ctx) override;
  // The layers applied to one batch tensor (the one output's value).
  Tensor forward(const Tensor& x, CallContext& ctx);

  // A model saved by Model::save: architecture, weights, and (when it was compiled) the
  // optimizer, loss and metrics, compiled again for `backend`. Throws IOError for a bad file
  // (ValueError for a file that holds a functional model: use load_model).
  static std::shared_ptr<Sequential> load(const std::string& path, const std::string& backend = "",
                                          const CustomObjects& custom = {});
  // Rebuilds the (unbuilt) layers from architecture text as Model::save writes it:
  //   "Sequential NAME seed=SEED input=f32[28,28]" then one line per layer,
  //   "CLASS key=value key=value ...".
  static std::shared_ptr<Sequential> from_architecture(const std::string& text);
  std::string architecture() const override;

 protected:
  void build_layers(const std::vector<TensorType>& batch_inputs) override;
  std::vector<SummaryRow> summary_rows() const override;

 private:
  // Builds the model when its first layer declares an input shape.
  void build_declared();
  void add_unbuilt(LayerPtr layer);
  std::vector<LayerPtr> layers_;
  bool built_from_declaration_ = false;
  std::vector<Shape> layer_output_shapes_;  // per layer, without the batch axis (summary)
};

// Any model saved by Model::save (Sequential or Functional), with its weights and, when it was
// compiled, its optimizer state, compiled again for `backend`. Functions are code, which a file
// cannot hold: a Lambda layer's function comes from `custom` by name (IOError naming it when
// absent), and a loss of the user's own too — without it the model comes back uncompiled (fit
// says so). Throws IOError for a bad file.
std::shared_ptr<Model> load_model(const std::string& path, const std::string& backend = "",
                                  const CustomObjects& custom = {});

}  // namespace soma::nn
