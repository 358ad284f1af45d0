#include "frontend/nn/model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>

#include "frontend/data/dataset.h"
#include "frontend/nn/checkpoint.h"
#include "frontend/nn/config_util.h"
#include "frontend/nn/progress.h"

namespace soma::nn {

using detail::mix_seed;

namespace {

std::vector<int64_t> sample_dims(const Shape& s) {
  return std::vector<int64_t>(s.dims().begin() + 1, s.dims().end());
}

Shape with_batch(int64_t batch, const Shape& per_sample) {
  std::vector<int64_t> d{batch};
  d.insert(d.end(), per_sample.dims().begin(), per_sample.dims().end());
  return Shape(d);
}

// "(None, 28, 28)"
std::string keras_shape(const Shape& per_sample) {
  std::string s = "(None";
  for (int64_t d : per_sample.dims()) s += ", " + std::to_string(d);
  return s + ")";
}

Array convert(const Array& a, DType to) {
  if (a.dtype() == to) return a;
  Array out(to, a.shape());
  int64_t n = a.numel();
  if (to == DType::f32 && a.dtype() == DType::i32) {
    const int32_t* p = a.data<int32_t>();
    float* q = out.data<float>();
    for (int64_t i = 0; i < n; ++i) q[i] = static_cast<float>(p[i]);
    return out;
  }
  for (int64_t i = 0; i < n; ++i) out.set(i, a.get(i));
  return out;
}

std::string with_commas(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out = v < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string default_layer_name(const std::string& cls) {
  if (cls == "MaxPool2D") return "max_pooling2d";
  if (cls == "AvgPool2D") return "average_pooling2d";
  if (cls == "BatchNorm") return "batch_normalization";
  if (cls == "Conv2D") return "conv2d";
  std::string out;
  for (size_t i = 0; i < cls.size(); ++i) {
    char c = cls[i];
    if (c >= 'A' && c <= 'Z') {
      if (i > 0) out += '_';
      out += static_cast<char>(c - 'A' + 'a');
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<TensorType> parse_type(const std::string& s) {
  size_t b = s.find('[');
  if (b == std::string::npos || s.back() != ']') return std::nullopt;
  auto dt = parse_dtype(s.substr(0, b));
  if (!dt) return std::nullopt;
  LayerConfig c{{"t", s.substr(b)}};
  try {
    return TensorType{*dt, Shape(detail::cfg_list(c, "input", "t", {}))};
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace

// ---- compiled functions -----------------------------------------------------------------------

struct Model::Impl {
  std::map<std::string, Compiled> train, test, predict;

  static std::string key(int64_t batch, const TensorType& labels) {
    return std::to_string(batch) + "|" + labels.str();
  }

  void clear() {
    train.clear();
    test.clear();
    predict.clear();
  }

  // The batch's inputs checked against (or, for an unbuilt model, building) the model.
  static Array prepare_x(Model& m, const Array& x, const char* what) {
    if (x.shape().rank() < 1)
      SOMA_THROW(ShapeError, what << ": inputs need a batch axis, got " << x.type_str());
    Shape per(sample_dims(x.shape()));
    if (!m.built_) {
      DType dt = x.dtype() == DType::i32 ? DType::i32 : DType::f32;
      m.build(per, dt);
    }
    if (per != m.input_type_.shape)
      SOMA_THROW(ShapeError, what << ": model '" << m.name_ << "' expects inputs of shape "
                                  << keras_shape(m.input_type_.shape) << ", got " << x.type_str());
    if (m.input_type_.dtype == DType::i32 && x.dtype() != DType::i32)
      SOMA_THROW(TypeError, what << ": model '" << m.name_
                                 << "' expects i32 inputs (token ids), got " << x.type_str());
    return x;
  }

  // Checks labels against the loss and the model's outputs; returns the dtype they are fed as.
  static DType check_y(Model& m, const Array& y, int64_t rows, const char* what) {
    if (y.shape().rank() < 1 || y.shape()[0] != rows)
      SOMA_THROW(ShapeError,
                 what << ": inputs have " << rows << " samples but labels are " << y.type_str());
    DType fed = m.loss_->label_dtype() == DType::i32 ? y.dtype() : DType::f32;
    m.loss_->check_labels(TensorType{fed, y.shape()},
                          TensorType{m.output_type_.dtype, with_batch(rows, m.output_type_.shape)});
    if (m.loss_->label_dtype() == DType::i32 && m.output_type_.shape.rank() > 0) {
      int64_t classes = m.output_type_.shape[m.output_type_.shape.rank() - 1];
      const int32_t* p = y.data<int32_t>();
      for (int64_t i = 0; i < y.numel(); ++i)
        if (p[i] < 0 || p[i] >= classes)
          SOMA_THROW(ValueError, what << ": label " << p[i] << " (element " << i
                                      << ") is not a class index in 0.." << classes - 1
                                      << " (the model has " << classes << " outputs)");
    }
    return fed;
  }

  static void need_compiled(const Model& m, const char* what) {
    if (!m.optimizer_)
      SOMA_THROW(ValueError, what << ": model '" << m.name_
                                  << "' is not compiled; call compile(optimizer, loss, metrics) "
                                     "first");
  }

  // The inputs, the forward pass, the loss and the metrics of a batch.
  struct Graph {
    Tensor x, y, lr, step;
    std::vector<Tensor> outputs;  // loss, metrics
    CallContext cc;
  };

  static Graph build_loss_graph(Model& m, int64_t batch, const TensorType& labels, bool training) {
    Graph g;
    g.x = input("x", with_batch(batch, m.input_type_.shape), m.input_type_.dtype);
    g.y = input("y", labels.shape, labels.dtype);
    g.cc.training = training;
    if (training) {
      g.lr = input("lr", {}, DType::f32);
      g.step = input("step", {}, DType::i32);
      g.cc.step = g.step;
    }
    Tensor out = m.forward(g.x, g.cc);
    Tensor loss = m.loss_->compute(g.y, out, g.cc.logits, g.cc.logits_activation);
    if (loss.rank() != 0)
      SOMA_THROW(ShapeError,
                 "loss " << m.loss_->name() << " gave " << loss.type().str() << ", not a scalar");
    g.outputs.push_back(cast(loss, DType::f32));
    for (const MetricPtr& met : m.metrics_)
      g.outputs.push_back(
          cast(met->compute(g.y, out, g.cc.logits, g.cc.logits_activation), DType::f32));
    return g;
  }

  CompileOptions options(const Model& m) const {
    CompileOptions o = m.compile_options_;
    o.backend = m.backend_;
    return o;
  }

  Compiled& train_step(Model& m, int64_t batch, const TensorType& labels) {
    std::string k = key(batch, labels);
    auto it = train.find(k);
    if (it != train.end()) return it->second;
    ContextScope scope(m.ctx_);
    Graph g = build_loss_graph(m, batch, labels, true);
    std::vector<Tensor> params;
    for (const Weight& w : m.trainable_weights()) params.push_back(w.tensor);
    Updates updates;
    if (!params.empty()) {
      std::vector<Tensor> grads = grad(g.outputs[0], params);
      m.optimizer_->build_updates(params, grads, g.lr, g.step, updates);
    }
    for (auto& u : g.cc.state_updates) updates.push_back(u);
    return train.emplace(k, soma::compile(g.outputs, options(m), updates)).first->second;
  }

  Compiled& test_step(Model& m, int64_t batch, const TensorType& labels) {
    std::string k = key(batch, labels);
    auto it = test.find(k);
    if (it != test.end()) return it->second;
    ContextScope scope(m.ctx_);
    Graph g = build_loss_graph(m, batch, labels, false);
    return test.emplace(k, soma::compile(g.outputs, options(m))).first->second;
  }

  Compiled& predict_step(Model& m, int64_t batch) {
    std::string k = std::to_string(batch);
    auto it = predict.find(k);
    if (it != predict.end()) return it->second;
    ContextScope scope(m.ctx_);
    Tensor x = input("x", with_batch(batch, m.input_type_.shape), m.input_type_.dtype);
    CallContext cc;
    Tensor out = m.forward(x, cc);
    return predict.emplace(k, soma::compile({out}, options(m))).first->second;
  }

  Logs to_logs(const Model& m, const std::vector<Array>& outs) const {
    Logs logs;
    std::vector<std::string> names = m.metrics_names();
    for (size_t i = 0; i < names.size() && i < outs.size(); ++i) logs.set(names[i], outs[i].get(0));
    return logs;
  }

  // One training step on a prepared batch.
  Logs train_batch(Model& m, const Array& x, const Array& y, DType label_dtype) {
    Array xb = convert(x, m.input_type_.dtype);
    Array yb = convert(y, label_dtype);
    Compiled& fn = train_step(m, xb.shape()[0], TensorType{yb.dtype(), yb.shape()});
    Feeds feeds{{"x", xb},
                {"y", yb},
                {"lr", Array::scalar(DType::f32, m.optimizer_->learning_rate())},
                {"step", Array::scalar(DType::i32, static_cast<double>(m.iterations_))}};
    std::vector<Array> outs = fn.run(feeds);
    ++m.iterations_;
    return to_logs(m, outs);
  }

  Logs test_batch(Model& m, const Array& x, const Array& y, DType label_dtype) {
    Array xb = convert(x, m.input_type_.dtype);
    Array yb = convert(y, label_dtype);
    Compiled& fn = test_step(m, xb.shape()[0], TensorType{yb.dtype(), yb.shape()});
    return to_logs(m, fn.run({{"x", xb}, {"y", yb}}));
  }

  // Sample-weighted means of batch logs.
  struct Mean {
    std::vector<std::pair<std::string, double>> sums;
    int64_t count = 0;
    void add(const Logs& logs, int64_t n) {
      for (const auto& [k, v] : logs.items()) {
        auto it = std::find_if(sums.begin(), sums.end(), [&](auto& p) { return p.first == k; });
        if (it == sums.end())
          sums.emplace_back(k, v * static_cast<double>(n));
        else
          it->second += v * static_cast<double>(n);
      }
      count += n;
    }
    Logs result(const std::string& prefix = "") const {
      Logs l;
      for (const auto& [k, s] : sums)
        l.set(prefix + k, count ? s / static_cast<double>(count) : std::nan(""));
      return l;
    }
  };

  // Rows [begin, end) of (x, y) (end -1: all).
  Logs evaluate(Model& m, const Array& x, const Array& y, int64_t batch_size, int verbose,
                std::ostream& out, bool tty, int64_t begin = 0, int64_t end = -1) {
    prepare_x(m, x, "evaluate");
    DType ld = check_y(m, y, x.shape()[0], "evaluate");
    data::BatchIterator it(x, y, batch_size, false, 0, false, begin, end);
    std::optional<ProgressBar> bar;
    if (verbose > 0) bar.emplace(out, 0, 0, it.num_batches(), tty);
    Mean mean;
    for (int64_t b = 0; b < it.num_batches(); ++b) {
      data::Batch batch = it.batch(b);
      mean.add(test_batch(m, batch.x, *batch.y, ld), batch.size);
      if (bar) bar->update(b + 1, mean.result());
    }
    Logs logs = mean.result();
    if (logs.empty())
      for (const auto& n : m.metrics_names()) logs.set(n, std::nan(""));
    if (bar) bar->finish(logs);
    return logs;
  }
};

// ---- Model ------------------------------------------------------------------------------------

Model::Model(std::string name, uint64_t seed)
    : name_(std::move(name)),
      seed_(seed),
      ctx_(std::make_shared<Context>()),
      impl_(std::make_unique<Impl>()) {
  if (!detail::valid_name(name_))
    SOMA_THROW(ValueError,
               "invalid model name '" << name_ << "': use letters, digits, '_', '.' and '-'");
}

Model::~Model() = default;

void Model::build(const Shape& input_shape, DType input_dtype) {
  TensorType t{input_dtype, input_shape};
  if (built_) {
    if (t != input_type_)
      SOMA_THROW(ShapeError, "model '" << name_ << "' is built for inputs " << input_type_.str()
                                       << " (per sample); it cannot take " << t.str());
    return;
  }
  for (int64_t d : input_shape.dims())
    if (d < 1)
      SOMA_THROW(ShapeError, "build: input shape " << input_shape.str() << " has a size < 1");
  ContextScope scope(ctx_);
  build_layers(TensorType{input_dtype, with_batch(1, input_shape)});
  input_type_ = t;
  built_ = true;
}

const TensorType& Model::input_type() const {
  if (!built_)
    SOMA_THROW(ValueError, "model '" << name_
                                     << "' is not built yet: call build(input_shape) "
                                        "or fit/predict first");
  return input_type_;
}

const TensorType& Model::output_type() const {
  input_type();
  return output_type_;
}

void Model::compile(OptimizerPtr optimizer, LossPtr loss, const std::vector<std::string>& metrics,
                    const std::string& backend) {
  if (!optimizer) SOMA_THROW(ValueError, "compile: the optimizer is null");
  if (!loss) SOMA_THROW(ValueError, "compile: the loss is null");
  if (!backend.empty()) get_backend(backend);  // throws BackendError listing the backends
  std::vector<MetricPtr> ms;
  std::vector<std::string> requested;
  for (const std::string& name : metrics) {
    if (name == "loss") continue;
    MetricPtr met = get_metric(name, *loss);
    for (const MetricPtr& o : ms)
      if (o->name() == met->name())
        SOMA_THROW(ValueError, "compile: metric '" << name << "' is listed twice");
    ms.push_back(met);
    requested.push_back(name);
  }
  // A fresh optimizer: drop the slots of every parameter ("<weight>/<slot>").
  if (built_) {
    std::vector<std::string> names = ctx_->params().names();
    for (const Weight& w : weights())
      for (const std::string& n : names)
        if (n.rfind(w.name + "/", 0) == 0) ctx_->params().erase(n);
  }
  optimizer_ = std::move(optimizer);
  loss_ = std::move(loss);
  metrics_ = std::move(ms);
  metric_requests_ = std::move(requested);
  backend_ = backend;
  iterations_ = 0;
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

std::vector<std::string> Model::metrics_names() const {
  std::vector<std::string> n{"loss"};
  for (const MetricPtr& m : metrics_) n.push_back(m->name());
  return n;
}

History Model::fit(const Array& x, const Array& y, const FitOptions& o) {
  Impl::need_compiled(*this, "fit");
  if (o.epochs < 0) SOMA_THROW(ValueError, "fit: epochs must be >= 0, got " << o.epochs);
  if (o.batch_size < 1)
    SOMA_THROW(ValueError, "fit: batch_size must be positive, got " << o.batch_size);
  if (!(o.validation_split >= 0 && o.validation_split < 1))
    SOMA_THROW(ValueError, "fit: validation_split must be in [0, 1), got " << o.validation_split);
  Impl::prepare_x(*this, x, "fit");
  DType ld = Impl::check_y(*this, y, x.shape()[0], "fit");

  // Training rows [0, split_at); validation: validation_data, or rows [split_at, n) of (x, y).
  int64_t n = x.shape()[0], split_at = n;
  std::optional<std::pair<Array, Array>> val = o.validation_data;
  if (val) {
    Impl::prepare_x(*this, val->first, "fit (validation_data)");
    Impl::check_y(*this, val->second, val->first.shape()[0], "fit (validation_data)");
  } else if (o.validation_split > 0) {
    split_at =
        static_cast<int64_t>(std::floor(static_cast<double>(n) * (1.0 - o.validation_split)));
    if (split_at == n || split_at == 0)
      SOMA_THROW(ValueError,
                 "fit: validation_split=" << o.validation_split << " of " << n << " samples leaves "
                                          << (split_at == n ? "no validation" : "no training")
                                          << " samples");
  }
  bool validate = val || split_at < n;

  std::ostream& out = o.out ? *o.out : std::cout;
  bool tty = o.tty.value_or(&out == &std::cout && stdout_is_tty());
  if (o.verbose == 2) tty = false;
  data::BatchIterator it(x, y, o.batch_size, o.shuffle, o.seed, o.drop_remainder, 0, split_at);
  History history;
  stop_training_ = false;
  for (const CallbackPtr& cb : o.callbacks) cb->on_train_begin(*this);
  for (int e = o.initial_epoch; e < o.initial_epoch + o.epochs; ++e) {
    for (const CallbackPtr& cb : o.callbacks) cb->on_epoch_begin(*this, e);
    it.start_epoch(e);
    std::optional<ProgressBar> bar;
    if (o.verbose > 0) bar.emplace(out, e + 1, o.initial_epoch + o.epochs, it.num_batches(), tty);
    Impl::Mean mean;
    for (int64_t b = 0; b < it.num_batches(); ++b) {
      data::Batch batch = it.batch(b);
      Logs logs = impl_->train_batch(*this, batch.x, *batch.y, ld);
      mean.add(logs, batch.size);
      for (const CallbackPtr& cb : o.callbacks) cb->on_batch_end(*this, b, logs);
      if (bar) bar->update(b + 1, mean.result());
    }
    Logs epoch_logs = mean.result();
    if (validate) {
      Logs v = val ? impl_->evaluate(*this, val->first, val->second, o.batch_size, 0, out, false)
                   : impl_->evaluate(*this, x, y, o.batch_size, 0, out, false, split_at, n);
      for (const auto& [k, value] : v.items()) epoch_logs.set("val_" + k, value);
    }
    if (bar) bar->finish(epoch_logs);
    history.append(e, epoch_logs);
    for (const CallbackPtr& cb : o.callbacks) cb->on_epoch_end(*this, e, epoch_logs);
    if (stop_training_) break;
  }
  for (const CallbackPtr& cb : o.callbacks) cb->on_train_end(*this);
  return history;
}

Logs Model::evaluate(const Array& x, const Array& y, const EvaluateOptions& o) {
  Impl::need_compiled(*this, "evaluate");
  if (o.batch_size < 1)
    SOMA_THROW(ValueError, "evaluate: batch_size must be positive, got " << o.batch_size);
  std::ostream& out = o.out ? *o.out : std::cout;
  bool tty = o.tty.value_or(&out == &std::cout && stdout_is_tty());
  return impl_->evaluate(*this, x, y, o.batch_size, o.verbose, out, tty);
}

Array Model::predict(const Array& x, const PredictOptions& o) {
  if (o.batch_size < 1)
    SOMA_THROW(ValueError, "predict: batch_size must be positive, got " << o.batch_size);
  Impl::prepare_x(*this, x, "predict");
  int64_t n = x.shape()[0];
  Array result(output_type_.dtype, with_batch(n, output_type_.shape));
  size_t row = n ? result.nbytes() / static_cast<size_t>(n) : 0;
  data::BatchIterator it(x, std::nullopt, o.batch_size);
  for (int64_t b = 0; b < it.num_batches(); ++b) {
    data::Batch batch = it.batch(b);
    Array xb = convert(batch.x, input_type_.dtype);
    Array yb = impl_->predict_step(*this, batch.size).run({{"x", xb}}).at(0);
    std::memcpy(static_cast<char*>(result.raw()) + static_cast<size_t>(b * o.batch_size) * row,
                yb.raw(), yb.nbytes());
  }
  return result;
}

Logs Model::train_on_batch(const Array& x, const Array& y) {
  Impl::need_compiled(*this, "train_on_batch");
  Impl::prepare_x(*this, x, "train_on_batch");
  DType ld = Impl::check_y(*this, y, x.shape()[0], "train_on_batch");
  return impl_->train_batch(*this, x, y, ld);
}

Logs Model::test_on_batch(const Array& x, const Array& y) {
  Impl::need_compiled(*this, "test_on_batch");
  Impl::prepare_x(*this, x, "test_on_batch");
  DType ld = Impl::check_y(*this, y, x.shape()[0], "test_on_batch");
  return impl_->test_batch(*this, x, y, ld);
}

// ---- weights ----------------------------------------------------------------------------------

std::vector<Weight> Model::weights() const {
  std::vector<Weight> out;
  for (const LayerPtr& l : layers())
    for (const Weight& w : l->weights()) out.push_back(w);
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
  // Keras's columns (29, 26 and 10 wide), the first widened to fit long layer names.
  std::vector<LayerPtr> ls = layers();
  size_t first = 29;
  for (const LayerPtr& l : ls)
    first = std::max(first, l->name().size() + l->class_name().size() + 5);
  std::ostringstream os;
  const std::string rule(first + 36, '_'), double_rule(first + 36, '=');
  os << "Model: \"" << name_ << "\"\n" << rule << "\n";
  os << pad(" Layer (type)", first) << pad("Output Shape", 26) << "Param #\n"
     << double_rule << "\n";
  for (size_t i = 0; i < ls.size(); ++i) {
    os << pad(" " + ls[i]->name() + " (" + ls[i]->class_name() + ")", first)
       << pad(keras_shape(layer_output_shapes_[i]), 26) << ls[i]->count_params() << "\n";
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

// ---- checkpoints ------------------------------------------------------------------------------

namespace {

const char* kSlotPrefix = "optimizer/";

// Checks every model weight against the checkpoint, then assigns them all (or nothing).
void load_into(Model& m, const Checkpoint& ck, const std::string& path) {
  std::map<std::string, const Array*> found;
  for (const auto& [name, a] : ck.tensors)
    if (name.rfind(kSlotPrefix, 0) != 0) found[name] = &a;
  std::vector<Weight> ws = m.weights();
  for (const Weight& w : ws) {
    auto it = found.find(w.name);
    if (it == found.end()) {
      std::string have;
      for (const auto& [n, a] : found) have += (have.empty() ? "" : ", ") + n;
      SOMA_THROW(ValueError, "load_weights: checkpoint '"
                                 << path << "' has no weight '" << w.name
                                 << "' (it holds: " << (have.empty() ? "nothing" : have)
                                 << "); was it saved from another architecture?");
    }
    const Array& a = *it->second;
    if (a.dtype() != w.tensor.dtype())
      SOMA_THROW(TypeError, "load_weights: weight '" << w.name << "' is " << w.tensor.type().str()
                                                     << " in the model but " << a.type_str()
                                                     << " in checkpoint '" << path << "'");
    if (a.shape() != w.tensor.shape())
      SOMA_THROW(ShapeError, "load_weights: weight '"
                                 << w.name << "' is " << w.tensor.type().str()
                                 << " in the model but " << a.type_str() << " in checkpoint '"
                                 << path << "'; was it saved from another architecture?");
    found.erase(it);
  }
  if (!found.empty())
    SOMA_THROW(ValueError, "load_weights: checkpoint '"
                               << path << "' holds weight '" << found.begin()->first
                               << "' that model '" << m.name()
                               << "' does not have; was it saved from another architecture?");
  std::map<std::string, const Array*> all;
  for (const auto& [name, a] : ck.tensors) all[name] = &a;
  for (const Weight& w : ws) m.params().assign(w.name, *all.at(w.name));
}

std::string optimizer_config_text(const Optimizer& o) {
  std::string s;
  for (const auto& [k, v] : o.config())
    s += (s.empty() ? "" : ",") + k + "=" + detail::fmt_double(v);
  return s;
}

}  // namespace

void Model::save_weights(const std::string& path) const {
  input_type();  // requires built
  Checkpoint ck;
  ck.meta["model"] = name_;
  ck.meta["class"] = class_name();
  ck.meta["input"] = input_type_.str();
  for (const Weight& w : weights()) ck.tensors.emplace_back(w.name, ctx_->params().get(w.name));
  write_checkpoint(path, ck);
}

void Model::load_weights(const std::string& path) {
  Checkpoint ck = read_checkpoint(path);
  if (!built_) {
    auto it = ck.meta.find("input");
    std::optional<TensorType> t;
    if (it != ck.meta.end()) t = parse_type(it->second);
    if (!t)
      SOMA_THROW(ValueError, "load_weights: model '"
                                 << name_ << "' is not built and checkpoint '" << path
                                 << "' does not say the input type; call build(input_shape) "
                                    "first");
    build(t->shape, t->dtype);
  }
  load_into(*this, ck, path);
}

void Model::save(const std::string& path) const {
  input_type();
  Checkpoint ck;
  ck.meta["model"] = name_;
  ck.meta["class"] = class_name();
  ck.meta["input"] = input_type_.str();
  ck.architecture = architecture();
  for (const Weight& w : weights()) ck.tensors.emplace_back(w.name, ctx_->params().get(w.name));
  if (optimizer_) {
    ck.meta["optimizer"] = optimizer_->name();
    ck.meta["optimizer_config"] = optimizer_config_text(*optimizer_);
    ck.meta["loss"] = loss_->name();
    auto fl = loss_->from_logits();
    if (loss_->name() != "mean_squared_error")
      ck.meta["loss_from_logits"] = fl ? (*fl ? "true" : "false") : "auto";
    std::string ms;
    for (const auto& m : metric_requests_) ms += (ms.empty() ? "" : ",") + m;
    ck.meta["metrics"] = ms;
    ck.meta["iterations"] = std::to_string(iterations_);
    ck.meta["backend"] = backend_;
    for (const Weight& w : trainable_weights())
      for (const std::string& s : optimizer_->slot_names()) {
        std::string n = w.name + "/" + s;
        if (ctx_->params().has(n)) ck.tensors.emplace_back(kSlotPrefix + n, ctx_->params().get(n));
      }
  }
  write_checkpoint(path, ck);
}

// ---- Sequential ---------------------------------------------------------------------------------

Sequential::Sequential(std::vector<LayerPtr> layers, std::string name, uint64_t seed)
    : Model(name.empty() ? "sequential" : name, seed) {
  for (LayerPtr& l : layers) add(std::move(l));
}

Sequential::~Sequential() {
  for (const LayerPtr& l : layers_)
    if (!l->built()) l->set_owner(nullptr);
}

void Sequential::add(LayerPtr layer) {
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
  layers_.push_back(std::move(layer));
}

void Sequential::pop() {
  if (built_) SOMA_THROW(ValueError, "Sequential.pop: model '" << name_ << "' is already built");
  if (layers_.empty()) SOMA_THROW(ValueError, "Sequential.pop: the model has no layers");
  layers_.back()->set_owner(nullptr);
  layers_.pop_back();
}

void Sequential::build_layers(const TensorType& batch_input) {
  if (layers_.empty())
    SOMA_THROW(ValueError, "model '" << name_ << "' has no layers; add some before building");
  Tensor x = input("x", batch_input.shape, batch_input.dtype);
  CallContext cc;
  std::vector<Shape> shapes;
  for (const LayerPtr& l : layers_) {
    l->build(x.type(), l->seed() ? *l->seed() : mix_seed(seed_, l->name()));
    x = l->call(x, cc);
    shapes.emplace_back(sample_dims(x.shape()));
  }
  layer_output_shapes_ = shapes;
  output_type_ = TensorType{x.dtype(), Shape(sample_dims(x.shape()))};
}

Tensor Sequential::forward(const Tensor& x0, CallContext& ctx) {
  ContextScope scope(ctx_);
  Tensor x = x0;
  for (const LayerPtr& l : layers_) {
    ctx.logits = Tensor();
    ctx.logits_activation.clear();
    x = l->call(x, ctx);
  }
  return x;
}

std::string Sequential::architecture() const {
  std::ostringstream os;
  os << "Sequential " << name_ << " seed=" << seed_;
  if (built_) os << " input=" << input_type_.str();
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
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  auto fail = [&](const std::string& why) {
    SOMA_THROW(ValueError, "architecture line " << line_no << ": " << why);
  };
  if (!std::getline(in, line)) fail("empty architecture");
  ++line_no;
  std::istringstream head(line);
  std::string cls, name, item;
  head >> cls >> name;
  if (cls != "Sequential") fail("expected \"Sequential NAME ...\", got \"" + line + "\"");
  uint64_t seed = 0;
  std::optional<TensorType> input_type;
  while (head >> item) {
    if (item.rfind("seed=", 0) == 0) {
      LayerConfig c{{"seed", item.substr(5)}};
      seed = detail::cfg_seed(c, "Sequential").value_or(0);
    } else if (item.rfind("input=", 0) == 0) {
      input_type = parse_type(item.substr(6));
      if (!input_type) fail("bad input type '" + item.substr(6) + "'");
    } else {
      fail("unknown model setting '" + item + "'");
    }
  }
  std::vector<LayerPtr> layers;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    std::istringstream ls(line);
    std::string lcls;
    ls >> lcls;
    LayerConfig c;
    while (ls >> item) {
      size_t eq = item.find('=');
      if (eq == std::string::npos || eq == 0) fail("expected key=value, got '" + item + "'");
      c[item.substr(0, eq)] = item.substr(eq + 1);
    }
    layers.push_back(layer_from_config(lcls, c));
  }
  auto model = std::make_shared<Sequential>(layers, name, seed);
  if (input_type) model->build(input_type->shape, input_type->dtype);
  return model;
}

std::shared_ptr<Sequential> Sequential::load(const std::string& path, const std::string& backend) {
  Checkpoint ck = read_checkpoint(path);
  if (ck.architecture.empty())
    SOMA_THROW(IOError, "cannot load model '" << path
                                              << "': it holds weights only (saved by "
                                                 "save_weights); create the model in code and "
                                                 "call load_weights");
  std::shared_ptr<Sequential> m;
  try {
    m = from_architecture(ck.architecture);
  } catch (const Error& e) {
    SOMA_THROW(IOError, "cannot load model '" << path << "': " << e.what());
  }
  if (!m->built()) {
    auto it = ck.meta.find("input");
    std::optional<TensorType> t;
    if (it != ck.meta.end()) t = parse_type(it->second);
    if (!t) SOMA_THROW(IOError, "cannot load model '" << path << "': no input type");
    m->build(t->shape, t->dtype);
  }
  load_into(*m, ck, path);
  auto opt = ck.meta.find("optimizer");
  if (opt == ck.meta.end()) return m;
  std::map<std::string, double> cfg;
  std::stringstream ss(ck.meta["optimizer_config"]);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t eq = item.find('=');
    std::string key = item.substr(0, eq);
    LayerConfig c{{key, eq == std::string::npos ? "" : item.substr(eq + 1)}};
    cfg[key] = detail::cfg_double(c, "optimizer", key, 0);
  }
  std::string loss_name = ck.meta["loss"], fl = ck.meta["loss_from_logits"];
  std::optional<bool> from_logits;
  if (fl == "true") from_logits = true;
  if (fl == "false") from_logits = false;
  LossPtr loss;
  if (loss_name == "binary_crossentropy")
    loss = std::make_shared<BinaryCrossentropy>(from_logits);
  else if (loss_name == "sparse_categorical_crossentropy")
    loss = std::make_shared<SparseCategoricalCrossentropy>(from_logits);
  else if (loss_name == "categorical_crossentropy")
    loss = std::make_shared<CategoricalCrossentropy>(from_logits);
  else
    loss = get_loss(loss_name);
  std::vector<std::string> metrics;
  std::stringstream ms(ck.meta["metrics"]);
  while (std::getline(ms, item, ','))
    if (!item.empty()) metrics.push_back(item);
  m->compile(optimizer_from_config(opt->second, cfg), loss, metrics, backend);
  for (const auto& [name, a] : ck.tensors)
    if (name.rfind(kSlotPrefix, 0) == 0) m->params().set(name.substr(10), a.clone());
  LayerConfig it{{"i", ck.meta["iterations"]}};
  m->iterations_ = detail::cfg_int(it, "model", "i", 0);
  return m;
}

}  // namespace soma::nn
