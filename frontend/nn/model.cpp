#include "frontend/nn/model.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "frontend/nn/config_util.h"
#include "frontend/nn/model_util.h"
#include "frontend/nn/training.h"

namespace soma::nn {

using namespace detail;

Model::Model(std::string name, uint64_t seed)
    : name_(std::move(name)),
      seed_(seed),
      ctx_(std::make_shared<Context>()),
      impl_(std::make_unique<Impl>()) {
  if (!valid_name(name_))
    SOMA_THROW(ValueError,
               "invalid model name '" << name_ << "': use letters, digits, '_', '.' and '-'");
}

Model::~Model() = default;

// ---- building ---------------------------------------------------------------------------------

void Model::build(const Shape& input_shape, DType input_dtype) {
  if (num_inputs_ != 1)
    SOMA_THROW(ValueError, "build: model '" << name_ << "' has " << num_inputs_
                                            << " inputs; it was built when it was made");
  build_types({TensorType{input_dtype, input_shape}});
}

void Model::build_types(const std::vector<TensorType>& types) {
  if (built_) {
    if (types != input_types_) {
      std::string want, got;
      for (const TensorType& t : input_types_) want += (want.empty() ? "" : ", ") + t.str();
      for (const TensorType& t : types) got += (got.empty() ? "" : ", ") + t.str();
      SOMA_THROW(ShapeError, "model '" << name_ << "' is built for inputs " << want
                                       << " (per sample); it cannot take " << got);
    }
    return;
  }
  std::vector<TensorType> batch;
  for (const TensorType& t : types) {
    for (int64_t d : t.shape.dims())
      if (d < 1)
        SOMA_THROW(ShapeError, "build: input shape " << t.shape.str() << " has a size < 1");
    batch.push_back(TensorType{t.dtype, with_batch(1, t.shape)});
  }
  ContextScope scope(ctx_);
  try {
    build_layers(batch);
  } catch (...) {
    // The layers may be built again (for other inputs, or by another model).
    for (const LayerPtr& l : layers()) l->unbuild();
    throw;
  }
  input_types_ = types;
  built_ = true;
}

void Model::unbuild_model() {
  for (const LayerPtr& l : layers()) l->unbuild();
  built_ = false;
  input_types_.clear();
  output_types_.clear();
  impl_->clear();
}

const std::vector<TensorType>& Model::input_types() const {
  if (!built_)
    SOMA_THROW(ValueError, "model '" << name_
                                     << "' is not built yet: call build(input_shape) "
                                        "or fit/predict first");
  return input_types_;
}

const std::vector<TensorType>& Model::output_types() const {
  input_types();
  return output_types_;
}

const TensorType& Model::input_type() const {
  const auto& t = input_types();
  if (t.size() != 1)
    SOMA_THROW(ValueError,
               "model '" << name_ << "' has " << t.size() << " inputs; use input_types()");
  return t[0];
}

const TensorType& Model::output_type() const {
  const auto& t = output_types();
  if (t.size() != 1)
    SOMA_THROW(ValueError,
               "model '" << name_ << "' has " << t.size() << " outputs; use output_types()");
  return t[0];
}

// ---- training configuration -------------------------------------------------------------------

void Model::compile(OptimizerPtr optimizer, LossPtr loss, const std::vector<std::string>& metrics,
                    const std::string& backend) {
  if (!loss) SOMA_THROW(ValueError, "compile: the loss is null");
  compile(std::move(optimizer), std::vector<LossPtr>(num_outputs_, loss), metrics, backend);
}

void Model::compile(OptimizerPtr optimizer, std::vector<LossPtr> losses,
                    const std::vector<std::string>& metrics, const std::string& backend,
                    std::vector<double> loss_weights) {
  compile(std::move(optimizer), std::move(losses),
          OutputMetrics{std::vector<std::vector<std::string>>(num_outputs_, metrics)}, backend,
          std::move(loss_weights));
}

void Model::compile(OptimizerPtr optimizer, std::vector<LossPtr> losses,
                    const OutputMetrics& metrics, const std::string& backend,
                    std::vector<double> loss_weights) {
  if (!optimizer) SOMA_THROW(ValueError, "compile: the optimizer is null");
  if (losses.size() == 1 && num_outputs_ > 1) losses.assign(num_outputs_, losses[0]);
  if (losses.size() != num_outputs_)
    SOMA_THROW(ValueError, "compile: model '" << name_ << "' has " << num_outputs_ << " output"
                                              << (num_outputs_ == 1 ? "" : "s") << "; give one "
                                              << "loss for all or one per output, got "
                                              << losses.size());
  for (const LossPtr& l : losses)
    if (!l) SOMA_THROW(ValueError, "compile: a loss is null");
  if (loss_weights.empty()) loss_weights.assign(num_outputs_, 1.0);
  if (loss_weights.size() != num_outputs_)
    SOMA_THROW(ValueError, "compile: model '" << name_ << "' has " << num_outputs_
                                              << " outputs but " << loss_weights.size()
                                              << " loss weights");
  if (!backend.empty()) get_backend(backend);  // throws BackendError listing the backends
  if (metrics.per_output.size() != num_outputs_)
    SOMA_THROW(ValueError, "compile: model '" << name_ << "' has " << num_outputs_ << " output"
                                              << (num_outputs_ == 1 ? "" : "s") << " but "
                                              << metrics.per_output.size()
                                              << " lists of metrics (give one per output)");
  std::vector<std::vector<MetricPtr>> ms(num_outputs_);
  std::vector<std::vector<std::string>> requested(num_outputs_);
  for (size_t j = 0; j < num_outputs_; ++j)
    for (const std::string& name : metrics.per_output[j]) {
      if (name == "loss") continue;
      MetricPtr met = get_metric(name, *losses[j]);
      for (const MetricPtr& o : ms[j])
        if (o->name() == met->name())
          SOMA_THROW(ValueError, "compile: metric '" << name << "' is listed twice");
      ms[j].push_back(met);
      requested[j].push_back(name);
    }
  // A fresh optimizer: drop the slots of every parameter ("<weight>/<slot>").
  if (built_) {
    std::vector<std::string> names = ctx_->params().names();
    for (const Weight& w : weights())
      for (const std::string& n : names)
        if (n.rfind(w.name + "/", 0) == 0) ctx_->params().erase(n);
  }
  optimizer_ = std::move(optimizer);
  losses_ = std::move(losses);
  loss_weights_ = std::move(loss_weights);
  metrics_ = std::move(ms);
  metric_requests_ = std::move(requested);
  backend_ = backend;
  iterations_ = 0;
  impl_->clear();
}

void Model::add_metric(MetricPtr metric, std::optional<size_t> output) {
  if (!metric) SOMA_THROW(ValueError, "add_metric: the metric is null");
  if (!compiled())
    SOMA_THROW(ValueError, "add_metric: model '" << name_ << "' is not compiled yet");
  if (output && *output >= num_outputs_)
    SOMA_THROW(ValueError, "add_metric: model '" << name_ << "' has no output " << *output);
  for (size_t j = 0; j < num_outputs_; ++j)
    if (!output || *output == j)
      for (const MetricPtr& o : metrics_[j])
        if (o->name() == metric->name())
          SOMA_THROW(ValueError, "compile: metric '" << metric->name() << "' is listed twice");
  if (metric->name() == "loss") SOMA_THROW(ValueError, "compile: a metric cannot be named 'loss'");
  for (size_t j = 0; j < num_outputs_; ++j)
    if (!output || *output == j) metrics_[j].push_back(metric);
  impl_->clear();
}

void Model::compile(const std::string& optimizer, const std::string& loss,
                    const std::vector<std::string>& metrics, const std::string& backend) {
  compile(get_optimizer(optimizer), get_loss(loss), metrics, backend);
}

void Model::set_compile_options(const CompileOptions& options) {
  compile_options_ = options;
  impl_->clear();
}

const LossPtr& Model::loss() const {
  static const LossPtr none;
  return losses_.empty() ? none : losses_[0];
}

std::vector<std::string> Model::metrics_names() const {
  std::vector<std::string> n{"loss"};
  if (num_outputs_ > 1)
    for (const std::string& o : output_names_) n.push_back(o + "_loss");
  for (size_t j = 0; j < metrics_.size(); ++j)
    for (const MetricPtr& m : metrics_[j])
      n.push_back(num_outputs_ > 1 ? output_names_[j] + "_" + m->name() : m->name());
  return n;
}

// ---- weights ----------------------------------------------------------------------------------

std::vector<Weight> Model::weights() const {
  std::vector<Weight> out;
  std::set<std::string> seen;
  for (const LayerPtr& l : layers())
    for (const Weight& w : l->weights())
      if (seen.insert(w.name).second) out.push_back(w);
  return out;
}

std::vector<Weight> Model::trainable_weights() const {
  std::vector<Weight> out;
  for (const Weight& w : weights())
    if (w.trainable) out.push_back(w);
  return out;
}

std::vector<Weight> Model::non_trainable_weights() const {
  std::vector<Weight> out;
  for (const Weight& w : weights())
    if (!w.trainable) out.push_back(w);
  return out;
}

int64_t Model::count_params() const {
  int64_t n = 0;
  for (const Weight& w : weights()) n += w.tensor.numel();
  return n;
}

std::vector<Array> Model::get_weights() const {
  std::vector<Array> out;
  for (const Weight& w : weights()) out.push_back(ctx_->params().get(w.name).clone());
  return out;
}

void Model::set_weights(const std::vector<Array>& values) {
  std::vector<Weight> ws = weights();
  if (values.size() != ws.size())
    SOMA_THROW(ValueError, "set_weights: model '" << name_ << "' has " << ws.size()
                                                  << " weights, got " << values.size()
                                                  << " arrays");
  for (size_t i = 0; i < ws.size(); ++i)
    if (values[i].dtype() != ws[i].tensor.dtype() || values[i].shape() != ws[i].tensor.shape())
      SOMA_THROW(ShapeError, "set_weights: weight '" << ws[i].name << "' is "
                                                     << ws[i].tensor.type().str() << ", got "
                                                     << values[i].type_str());
  for (size_t i = 0; i < ws.size(); ++i) ctx_->params().assign(ws[i].name, values[i]);
}

// ---- summary ----------------------------------------------------------------------------------

std::string Model::summary() const {
  if (!built_)
    SOMA_THROW(ValueError, "summary: model '" << name_
                                              << "' is not built yet; call build(input_shape) "
                                                 "or fit/predict first (the output shapes "
                                                 "depend on the input)");
  auto pad = [](std::string s, size_t w) {
    if (s.size() + 1 > w) return s + " ";
    return s + std::string(w - s.size(), ' ');
  };
  std::vector<SummaryRow> rows = summary_rows();
  bool connections = summary_connections();
  // Keras's columns (29, 26 and 10 wide; with connections 31, 22, 12 and the rest), the first
  // widened to fit long layer names.
  size_t first = connections ? 31 : 29, second = connections ? 22 : 26, third = 10, last = 0;
  if (connections) third = 12;
  for (const SummaryRow& r : rows) {
    first = std::max(first, r.layer.size() + 2);
    second = std::max(second, r.shape.size() + 2);
    last = std::max(last, r.connected.size());
  }
  size_t width = first + second + third + (connections ? std::max<size_t>(last, 12) : 0);
  std::ostringstream os;
  const std::string rule(width, '_'), double_rule(width, '=');
  os << "Model: \"" << name_ << "\"\n" << rule << "\n";
  std::string head = pad(" Layer (type)", first) + pad("Output Shape", second);
  head += connections ? pad("Param #", third) + "Connected to" : "Param #";
  os << head << "\n" << double_rule << "\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string line = pad(" " + rows[i].layer, first) + pad(rows[i].shape, second);
    if (connections)
      line += pad(std::to_string(rows[i].params), third) + rows[i].connected;
    else
      line += std::to_string(rows[i].params);
    os << line << "\n";
    if (connections && i + 1 < rows.size()) os << "\n";
  }
  int64_t trainable = 0, other = 0;
  for (const Weight& w : weights()) (w.trainable ? trainable : other) += w.tensor.numel();
  os << double_rule << "\n";
  os << "Total params: " << with_commas(trainable + other) << "\n";
  os << "Trainable params: " << with_commas(trainable) << "\n";
  os << "Non-trainable params: " << with_commas(other) << "\n" << rule << "\n";
  return os.str();
}

void Model::summary(std::ostream& out) const {
  out << summary();
}

}  // namespace soma::nn
