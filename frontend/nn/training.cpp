#include "frontend/nn/training.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>
#include <limits>
#include <optional>
#include <set>

#include "frontend/data/dataset.h"
#include "frontend/nn/model_util.h"
#include "frontend/nn/progress.h"

namespace soma::nn {

using namespace detail;

namespace {

// Batches of several arrays (the model's inputs and labels) that share one row order: a batch
// iterator over the row numbers (so shuffling is the dataset's, seeded the same way) whose rows
// are then gathered from every array. The arrays given to get() are reused from batch to batch:
// nothing is allocated per step once the first (and the last, partial) batch has been gathered.
class Batches {
 public:
  Batches(const Arrays& xs, const Arrays* ys, int64_t rows, int64_t batch_size,
          bool shuffle = false, uint64_t seed = 0, bool drop_remainder = false, int64_t begin = 0,
          int64_t end = -1)
      : xs_(xs), ys_(ys), it_(rows, batch_size, shuffle, seed, drop_remainder, begin, end) {}
  int64_t num_batches() const { return it_.num_batches(); }
  void start_epoch(int epoch) { it_.start_epoch(epoch); }
  // Batch b into x and y (y left empty without labels), overwriting their arrays in place when
  // they have the batch's shape; returns its size.
  int64_t get(int64_t b, std::vector<Array>& x, std::vector<Array>& y) {
    it_.batch_rows(b, rows_);
    x.resize(xs_.size());
    for (size_t i = 0; i < xs_.size(); ++i) data::gather_rows_into(xs_[i], rows_, x[i]);
    y.resize(ys_ ? ys_->size() : 0);
    for (size_t j = 0; j < y.size(); ++j) data::gather_rows_into((*ys_)[j], rows_, y[j]);
    return static_cast<int64_t>(rows_.size());
  }

 private:
  const Arrays& xs_;
  const Arrays* ys_;
  data::BatchIterator it_;
  std::vector<int64_t> rows_;  // the current batch's row numbers
};

// Sample-weighted means of batch logs.
struct Mean {
  std::vector<std::pair<std::string, double>> sums;
  int64_t count = 0;
  // Values that already cover every batch so far (metrics with statistics): the latest is kept.
  std::set<std::string> running;
  void add(const Logs& logs, int64_t n) {
    for (const auto& [k, v] : logs.items()) {
      if (running.count(k)) {
        auto it = std::find_if(sums.begin(), sums.end(), [&](auto& p) { return p.first == k; });
        if (it == sums.end())
          sums.emplace_back(k, v);
        else
          it->second = v;
        continue;
      }
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
      l.set(prefix + k, running.count(k) ? s
                        : count          ? s / static_cast<double>(count)
                                         : std::nan(""));
    return l;
  }
};

std::string key(int64_t batch, const std::vector<TensorType>& labels) {
  std::string k = std::to_string(batch);
  for (const TensorType& t : labels) k += "|" + t.str();
  return k;
}

// The inputs, the forward pass, the loss and the metrics of a batch.
struct LossGraph {
  std::vector<Tensor> xs, ys;
  Tensor lr, step;
  std::vector<Tensor> outputs;  // total loss, per-output losses (several outputs), metrics
  CallContext cc;
};

}  // namespace

// ---- checks -------------------------------------------------------------------------------------

std::string Model::Impl::x_name(const Model& m, size_t i) {
  return m.num_inputs_ == 1 ? "x" : "x" + std::to_string(i);
}

std::string Model::Impl::y_name(const Model& m, size_t i) {
  return m.num_outputs_ == 1 ? "y" : "y" + std::to_string(i);
}

int64_t Model::Impl::prepare_x(Model& m, const Arrays& xs, const char* what) {
  size_t n_in = m.num_inputs_;
  auto which = [&](size_t i) {
    return n_in == 1 ? std::string() : "input '" + m.input_names_[i] + "': ";
  };
  if (xs.size() != n_in) {
    std::string names;
    for (const std::string& n : m.input_names_) names += (names.empty() ? "" : ", ") + n;
    SOMA_THROW(ValueError, what << ": model '" << m.name_ << "' has " << n_in << " input"
                                << (n_in == 1 ? "" : "s") << " (" << names << "), got " << xs.size()
                                << " arrays");
  }
  for (size_t i = 0; i < n_in; ++i)
    if (xs[i].shape().rank() < 1)
      SOMA_THROW(ShapeError,
                 what << ": " << which(i) << "inputs need a batch axis, got " << xs[i].type_str());
  int64_t rows = xs[0].shape()[0];
  for (size_t i = 1; i < n_in; ++i)
    if (xs[i].shape()[0] != rows)
      SOMA_THROW(ShapeError, what << ": the inputs have different numbers of samples: "
                                  << xs[0].type_str() << " for '" << m.input_names_[0] << "' and "
                                  << xs[i].type_str() << " for '" << m.input_names_[i] << "'");
  if (!m.built_) {
    // As in Keras, a model built from its data takes float32 inputs (integer or f64 data is
    // converted), unless its first layer reads token ids (an Embedding takes i32 as they are).
    const std::vector<LayerPtr> layers = m.layers();
    const DType first = layers.empty() ? DType::f32 : layers[0]->default_input_dtype();
    std::vector<TensorType> types;
    for (const Array& x : xs)
      types.push_back(
          TensorType{first == DType::i32 && x.dtype() == DType::i32 ? DType::i32 : DType::f32,
                     Shape(sample_dims(x.shape()))});
    m.build_types(types);
  }
  for (size_t i = 0; i < n_in; ++i) {
    const TensorType& want = m.input_types_[i];
    if (Shape(sample_dims(xs[i].shape())) != want.shape)
      SOMA_THROW(ShapeError, what << ": " << which(i) << "model '" << m.name_
                                  << "' expects inputs of shape " << keras_shape(want.shape)
                                  << ", got " << xs[i].type_str());
    if (want.dtype == DType::i32 && xs[i].dtype() != DType::i32)
      SOMA_THROW(TypeError, what << ": " << which(i) << "model '" << m.name_
                                 << "' expects i32 inputs (token ids), got " << xs[i].type_str());
  }
  check_ids(m, xs, what);
  return rows;
}

void Model::Impl::check_ids(Model& m, const Arrays& xs, const char* what) {
  Impl& impl = *m.impl_;
  if (!impl.id_bounds) {
    std::vector<std::vector<IdBound>> bounds(m.num_inputs_);
    ContextScope scope(m.ctx_);
    std::vector<Tensor> in;
    for (size_t i = 0; i < m.num_inputs_; ++i)
      in.push_back(
          input(x_name(m, i), with_batch(1, m.input_types_[i].shape), m.input_types_[i].dtype));
    CallContext cc;
    m.forward(in, cc);
    for (const CallContext::IdCheck& c : cc.id_checks)
      for (size_t i = 0; i < in.size(); ++i)
        if (c.ids.id() == in[i].id()) bounds[i].push_back({c.bound, c.layer});
    impl.id_bounds = std::move(bounds);
  }
  for (size_t i = 0; i < xs.size() && i < impl.id_bounds->size(); ++i) {
    if (xs[i].dtype() != DType::i32) continue;
    const int32_t* ids = xs[i].data<int32_t>();
    for (const IdBound& b : (*impl.id_bounds)[i]) {
      for (int64_t k = 0; k < xs[i].numel(); ++k) {
        if (ids[k] >= 0 && ids[k] < b.bound) continue;
        std::string at;
        int64_t rest = k;
        const Shape& s = xs[i].shape();
        for (int d = s.rank() - 1; d >= 0; --d) {
          at = std::to_string(rest % s[d]) + (at.empty() ? "" : ", ") + at;
          rest /= s[d];
        }
        SOMA_THROW(ValueError,
                   what << ": " << b.layer << " got id " << ids[k] << " at "
                        << (m.num_inputs_ == 1 ? "x" : "input '" + m.input_names_[i] + "'") << "["
                        << at << "]; its input_dim is " << b.bound << ", so ids must be in [0, "
                        << b.bound << ")");
      }
    }
  }
}

std::vector<DType> Model::Impl::check_y(Model& m, const Arrays& ys, int64_t rows,
                                        const char* what) {
  size_t n_out = m.num_outputs_;
  if (ys.size() != n_out) {
    std::string names;
    for (const std::string& n : m.output_names_) names += (names.empty() ? "" : ", ") + n;
    SOMA_THROW(ValueError, what << ": model '" << m.name_ << "' has " << n_out << " output"
                                << (n_out == 1 ? "" : "s") << " (" << names
                                << "); give one label array per output, got " << ys.size());
  }
  std::vector<DType> fed;
  for (size_t j = 0; j < n_out; ++j) {
    const Array& y = ys[j];
    const Loss& loss = *m.losses_[j];
    std::string which = n_out == 1 ? "" : "output '" + m.output_names_[j] + "': ";
    if (y.shape().rank() < 1 || y.shape()[0] != rows)
      SOMA_THROW(ShapeError, what << ": " << which << "inputs have " << rows
                                  << " samples but labels are " << y.type_str());
    DType dt = loss.label_dtype() == DType::i32 ? y.dtype() : DType::f32;
    const TensorType& out = m.output_types_[j];
    try {
      loss.check_labels(TensorType{dt, y.shape()},
                        TensorType{out.dtype, with_batch(rows, out.shape)});
    } catch (const ShapeError& e) {
      if (n_out == 1) throw;
      throw ShapeError(what + (": " + which) + e.what());
    } catch (const TypeError& e) {
      if (n_out == 1) throw;
      throw TypeError(what + (": " + which) + e.what());
    }
    if (loss.label_dtype() == DType::i32 && out.shape.rank() > 0) {
      int64_t classes = out.shape[out.shape.rank() - 1];
      const int32_t* p = y.data<int32_t>();
      for (int64_t i = 0; i < y.numel(); ++i)
        if (p[i] < 0 || p[i] >= classes)
          SOMA_THROW(ValueError, what << ": " << which << "label " << p[i] << " (element " << i
                                      << ") is not a class index in 0.." << classes - 1
                                      << " (the model has " << classes << " outputs)");
    }
    fed.push_back(dt);
  }
  return fed;
}

void Model::Impl::need_compiled(const Model& m, const char* what) {
  if (!m.optimizer_)
    SOMA_THROW(ValueError, what << ": model '" << m.name_
                                << "' is not compiled; call compile(optimizer, loss, metrics) "
                                   "first");
}

// ---- compiled functions -------------------------------------------------------------------------

namespace {

LossGraph build_loss_graph(Model& m, int64_t batch, const std::vector<TensorType>& labels,
                           bool training, const std::vector<LossPtr>& losses,
                           const std::vector<double>& weights,
                           const std::vector<std::vector<MetricPtr>>& metrics) {
  LossGraph g;
  for (size_t i = 0; i < m.num_inputs(); ++i)
    g.xs.push_back(input(m.num_inputs() == 1 ? "x" : "x" + std::to_string(i),
                         with_batch(batch, m.input_types()[i].shape), m.input_types()[i].dtype));
  for (size_t j = 0; j < labels.size(); ++j)
    g.ys.push_back(input(labels.size() == 1 ? "y" : "y" + std::to_string(j), labels[j].shape,
                         labels[j].dtype));
  g.cc.training = training;
  if (training) {
    g.lr = input("lr", {}, DType::f32);
    g.step = input("step", {}, DType::i32);
    g.cc.step = g.step;
  }
  std::vector<ModelOutput> outs = m.forward(g.xs, g.cc);
  SOMA_CHECK(outs.size() == labels.size()) << "model " << m.name() << " gave " << outs.size()
                                           << " outputs for " << labels.size() << " labels";
  Tensor total;
  std::vector<Tensor> per_output;
  for (size_t j = 0; j < outs.size(); ++j) {
    const ModelOutput& o = outs[j];
    Tensor l = losses[j]->compute(g.ys[j], o.value, o.logits, o.logits_activation);
    if (l.rank() != 0)
      SOMA_THROW(ShapeError,
                 "loss " << losses[j]->name() << " gave " << l.type().str() << ", not a scalar");
    l = cast(l, DType::f32);
    per_output.push_back(l);
    Tensor weighted = weights[j] == 1.0 ? l : l * weights[j];
    total = total.defined() ? total + weighted : weighted;
  }
  g.outputs.push_back(total);
  if (outs.size() > 1) g.outputs.insert(g.outputs.end(), per_output.begin(), per_output.end());
  for (size_t j = 0; j < outs.size(); ++j)
    for (const MetricPtr& met : metrics[j])
      g.outputs.push_back(
          cast(met->compute(g.ys[j], outs[j].value, outs[j].logits, outs[j].logits_activation),
               DType::f32));
  return g;
}

}  // namespace

Compiled& Model::Impl::train_step(Model& m, int64_t batch, const std::vector<TensorType>& labels) {
  std::string k = key(batch, labels);
  auto it = train.find(k);
  if (it != train.end()) return it->second;
  if (compile_begin) compile_begin();
  ContextScope scope(m.ctx_);
  LossGraph g = build_loss_graph(m, batch, labels, true, m.losses_, m.loss_weights_, m.metrics_);
  std::vector<Tensor> params;
  for (const Weight& w : m.trainable_weights()) params.push_back(w.tensor);
  Updates updates;
  if (!params.empty()) {
    std::vector<Tensor> grads = grad(g.outputs[0], params);
    m.optimizer_->build_updates(params, grads, g.lr, g.step, updates);
  }
  for (auto& u : g.cc.state_updates) updates.push_back(u);
  // A step whose loss is NaN or infinite changes nothing: every update (weights, optimizer slots,
  // moving statistics) keeps the old value, so one diverged batch never corrupts the model.
  Tensor finite = abs(g.outputs[0]) < std::numeric_limits<double>::infinity();
  for (auto& [p, v] : updates) v = where(finite, v, p);
  CompileOptions o = m.compile_options_;
  o.backend = m.backend_;
  Compiled& c = train.emplace(k, soma::compile(g.outputs, o, updates)).first->second;
  if (compile_end) compile_end();
  return c;
}

Compiled& Model::Impl::test_step(Model& m, int64_t batch, const std::vector<TensorType>& labels) {
  std::string k = key(batch, labels);
  auto it = test.find(k);
  if (it != test.end()) return it->second;
  if (compile_begin) compile_begin();
  ContextScope scope(m.ctx_);
  LossGraph g = build_loss_graph(m, batch, labels, false, m.losses_, m.loss_weights_, m.metrics_);
  CompileOptions o = m.compile_options_;
  o.backend = m.backend_;
  Compiled& c = test.emplace(k, soma::compile(g.outputs, o)).first->second;
  if (compile_end) compile_end();
  return c;
}

Compiled& Model::Impl::predict_step(Model& m, int64_t batch) {
  std::string k = std::to_string(batch);
  auto it = predict.find(k);
  if (it != predict.end()) return it->second;
  ContextScope scope(m.ctx_);
  std::vector<Tensor> xs;
  for (size_t i = 0; i < m.num_inputs_; ++i)
    xs.push_back(
        input(x_name(m, i), with_batch(batch, m.input_types_[i].shape), m.input_types_[i].dtype));
  CallContext cc;
  std::vector<Tensor> outs;
  for (const ModelOutput& o : m.forward(xs, cc)) outs.push_back(o.value);
  CompileOptions o = m.compile_options_;
  o.backend = m.backend_;
  return predict.emplace(k, soma::compile(outs, o)).first->second;
}

namespace {

// The metric behind each logged value (null for the losses), in metrics_names() order.
std::vector<const Metric*> logged_metrics(const Model& m, size_t outputs,
                                          const std::vector<std::vector<MetricPtr>>& metrics) {
  std::vector<const Metric*> out(outputs > 1 ? 1 + outputs : 1, nullptr);
  for (const auto& per_output : metrics)
    for (const MetricPtr& met : per_output) out.push_back(met.get());
  (void)m;
  return out;
}

}  // namespace

std::set<std::string> Model::Impl::running_names(const Model& m) {
  std::set<std::string> out;
  std::vector<std::string> names = m.metrics_names();
  std::vector<const Metric*> mets = logged_metrics(m, m.num_outputs_, m.metrics_);
  for (size_t i = 0; i < names.size() && i < mets.size(); ++i)
    if (mets[i] && mets[i]->has_statistics()) out.insert(names[i]);
  return out;
}

Logs Model::Impl::to_logs(const Model& m, const std::vector<Array>& outs) {
  Logs logs;
  std::vector<std::string> names = m.metrics_names();
  std::vector<const Metric*> mets = logged_metrics(m, m.num_outputs_, m.metrics_);
  for (size_t i = 0; i < names.size() && i < outs.size(); ++i) {
    if (i < mets.size() && mets[i] && mets[i]->has_statistics()) {
      std::vector<double> batch = outs[i].to_doubles();
      std::vector<double>& total = statistics[names[i]];
      if (total.size() != batch.size()) total.assign(batch.size(), 0.0);
      for (size_t k = 0; k < batch.size(); ++k) total[k] += batch[k];
      logs.set(names[i], mets[i]->result(total));
      continue;
    }
    logs.set(names[i], outs[i].get(0));
  }
  return logs;
}

namespace {}  // namespace

Logs Model::Impl::train_batch(Model& m, const std::vector<Array>& x, const std::vector<Array>& y,
                              const std::vector<DType>& label_dtypes) {
  Feeds feeds;
  std::vector<TensorType> labels;
  int64_t batch = x.at(0).shape()[0];
  for (size_t i = 0; i < x.size(); ++i)
    feeds.emplace(x_name(m, i), convert(x[i], m.input_types_[i].dtype));
  for (size_t j = 0; j < y.size(); ++j) {
    Array yb = convert(y[j], label_dtypes[j]);
    labels.push_back(TensorType{yb.dtype(), yb.shape()});
    feeds.emplace(y_name(m, j), yb);
  }
  feeds.emplace("lr", Array::scalar(DType::f32, m.optimizer_->learning_rate()));
  feeds.emplace("step", Array::scalar(DType::i32, static_cast<double>(m.iterations_)));
  std::vector<Array> outs = train_step(m, batch, labels).run(feeds);
  if (std::isfinite(outs.at(0).get(0))) ++m.iterations_;  // else the step was not applied
  return to_logs(m, outs);
}

Logs Model::Impl::test_batch(Model& m, const std::vector<Array>& x, const std::vector<Array>& y,
                             const std::vector<DType>& label_dtypes) {
  Feeds feeds;
  std::vector<TensorType> labels;
  int64_t batch = x.at(0).shape()[0];
  for (size_t i = 0; i < x.size(); ++i)
    feeds.emplace(x_name(m, i), convert(x[i], m.input_types_[i].dtype));
  for (size_t j = 0; j < y.size(); ++j) {
    Array yb = convert(y[j], label_dtypes[j]);
    labels.push_back(TensorType{yb.dtype(), yb.shape()});
    feeds.emplace(y_name(m, j), yb);
  }
  return to_logs(m, test_step(m, batch, labels).run(feeds));
}

Logs Model::Impl::evaluate(Model& m, const Arrays& x, const Arrays& y, int64_t batch_size,
                           int verbose, std::ostream& out, bool tty, int64_t begin, int64_t end) {
  int64_t rows = prepare_x(m, x, "evaluate");
  std::vector<DType> ld = check_y(m, y, rows, "evaluate");
  Batches it(x, &y, rows, batch_size, false, 0, false, begin, end);
  std::optional<ProgressBar> bar;
  if (verbose > 0) bar.emplace(out, 0, 0, it.num_batches(), tty);
  statistics.clear();
  Mean mean;
  mean.running = running_names(m);
  std::vector<Array> xb, yb;
  for (int64_t b = 0; b < it.num_batches(); ++b) {
    int64_t size = it.get(b, xb, yb);
    mean.add(test_batch(m, xb, yb, ld), size);
    if (bar) bar->update(b + 1, mean.result());
  }
  Logs logs = mean.result();
  if (logs.empty())
    for (const auto& n : m.metrics_names()) logs.set(n, std::nan(""));
  if (bar) bar->finish(logs);
  return logs;
}

// ---- Model: fit, evaluate, predict --------------------------------------------------------------

History Model::fit(const Arrays& x, const Arrays& y, const FitOptions& o) {
  Impl::need_compiled(*this, "fit");
  if (o.epochs < 0) SOMA_THROW(ValueError, "fit: epochs must be >= 0, got " << o.epochs);
  if (o.batch_size < 1)
    SOMA_THROW(ValueError, "fit: batch_size must be positive, got " << o.batch_size);
  if (!(o.validation_split >= 0 && o.validation_split < 1))
    SOMA_THROW(ValueError, "fit: validation_split must be in [0, 1), got " << o.validation_split);
  int64_t n = Impl::prepare_x(*this, x, "fit");
  std::vector<DType> ld = Impl::check_y(*this, y, n, "fit");

  // Training rows [0, split_at); validation: validation_data, or rows [split_at, n) of (x, y).
  int64_t split_at = n;
  const std::optional<std::pair<Arrays, Arrays>>& val = o.validation_data;
  if (val) {
    int64_t vn = Impl::prepare_x(*this, val->first, "fit (validation_data)");
    Impl::check_y(*this, val->second, vn, "fit (validation_data)");
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
  Batches it(x, &y, n, o.batch_size, o.shuffle, o.seed, o.drop_remainder, 0, split_at);
  History history;
  stop_training_ = false;
  std::vector<Array> xb, yb;
  for (const CallbackPtr& cb : o.callbacks) cb->on_train_begin(*this);
  bool diverged = false;
  for (int e = o.initial_epoch; e < o.initial_epoch + o.epochs && !diverged; ++e) {
    for (const CallbackPtr& cb : o.callbacks) cb->on_epoch_begin(*this, e);
    auto epoch_start = std::chrono::steady_clock::now();
    it.start_epoch(e);
    std::optional<ProgressBar> bar;
    if (o.verbose > 0) bar.emplace(out, e + 1, o.initial_epoch + o.epochs, it.num_batches(), tty);
    impl_->statistics.clear();
    Mean mean;
    mean.running = Impl::running_names(*this);
    int64_t step = 0;
    struct Hooks {
      Impl& impl;
      ~Hooks() { impl.compile_begin = impl.compile_end = nullptr; }
    } hooks{*impl_};
    impl_->compile_begin = [&] {
      if (bar) bar->compiling(step);
    };
    impl_->compile_end = [&] {
      for (const CallbackPtr& cb : o.callbacks) cb->on_step_compiled(*this);
    };
    for (int64_t b = 0; b < it.num_batches(); ++b) {
      int64_t size = it.get(b, xb, yb);
      step = b;
      Logs logs = impl_->train_batch(*this, xb, yb, ld);
      mean.add(logs, size);
      for (const CallbackPtr& cb : o.callbacks) cb->on_batch_end(*this, b, logs);
      if (bar) bar->update(b + 1, mean.result());
      // A step whose loss is not finite is not applied (train_step), so the weights stay usable
      // for predict, evaluate and checkpoints; training stops there.
      const double loss = logs.get("loss").value_or(0.0);
      if (std::isfinite(loss)) continue;
      if (bar) bar->finish(mean.result());
      if (!stop_training_) {
        for (const CallbackPtr& cb : o.callbacks) cb->on_train_end(*this);
        SOMA_THROW(ValueError, "fit: the loss became "
                                   << loss << " at epoch " << e + 1 << ", batch " << b + 1 << " of "
                                   << it.num_batches()
                                   << "; training stopped there, and the weights and the "
                                      "optimizer's state are those before that step (it "
                                      "was not applied). Usual causes: a learning rate "
                                      "too high, NaN or "
                                      "infinite values in the data, or a loss given "
                                      "values outside its domain. (TerminateOnNaN() in "
                                      "the callbacks stops without an error.)");
      }
      diverged = true;
      break;
    }
    if (diverged) break;
    Logs epoch_logs = mean.result();
    if (validate) {
      Logs v = val ? impl_->evaluate(*this, val->first, val->second, o.batch_size, 0, out, false)
                   : impl_->evaluate(*this, x, y, o.batch_size, 0, out, false, split_at, n);
      for (const auto& [k, value] : v.items()) epoch_logs.set("val_" + k, value);
    }
    if (bar) bar->finish(epoch_logs);
    history.append(
        e, epoch_logs,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count());
    for (const CallbackPtr& cb : o.callbacks) cb->on_epoch_end(*this, e, epoch_logs);
    if (stop_training_) break;
  }
  for (const CallbackPtr& cb : o.callbacks) cb->on_train_end(*this);
  return history;
}

Logs Model::evaluate(const Arrays& x, const Arrays& y, const EvaluateOptions& o) {
  Impl::need_compiled(*this, "evaluate");
  if (o.batch_size < 1)
    SOMA_THROW(ValueError, "evaluate: batch_size must be positive, got " << o.batch_size);
  std::ostream& out = o.out ? *o.out : std::cout;
  bool tty = o.tty.value_or(&out == &std::cout && stdout_is_tty());
  return impl_->evaluate(*this, x, y, o.batch_size, o.verbose, out, tty);
}

std::vector<Array> Model::predict_outputs(const Arrays& x, const PredictOptions& o) {
  if (o.batch_size < 1)
    SOMA_THROW(ValueError, "predict: batch_size must be positive, got " << o.batch_size);
  int64_t n = Impl::prepare_x(*this, x, "predict");
  std::vector<Array> results;
  std::vector<size_t> row_bytes;
  for (const TensorType& t : output_types_) {
    results.emplace_back(t.dtype, with_batch(n, t.shape));
    row_bytes.push_back(n ? results.back().nbytes() / static_cast<size_t>(n) : 0);
  }
  Batches it(x, nullptr, n, o.batch_size);
  std::vector<Array> xb, unused;
  for (int64_t b = 0; b < it.num_batches(); ++b) {
    int64_t size = it.get(b, xb, unused);
    Feeds feeds;
    for (size_t i = 0; i < xb.size(); ++i)
      feeds.emplace(Impl::x_name(*this, i), convert(xb[i], input_types_[i].dtype));
    std::vector<Array> outs = impl_->predict_step(*this, size).run(feeds);
    for (size_t j = 0; j < results.size(); ++j)
      std::memcpy(static_cast<char*>(results[j].raw()) +
                      static_cast<size_t>(b * o.batch_size) * row_bytes[j],
                  outs.at(j).raw(), outs[j].nbytes());
  }
  return results;
}

Array Model::predict(const Arrays& x, const PredictOptions& o) {
  if (num_outputs_ != 1)
    SOMA_THROW(ValueError, "predict: model '" << name_ << "' has " << num_outputs_
                                              << " outputs; use predict_outputs for all of them");
  return predict_outputs(x, o).at(0);
}

Logs Model::train_on_batch(const Arrays& x, const Arrays& y) {
  Impl::need_compiled(*this, "train_on_batch");
  int64_t n = Impl::prepare_x(*this, x, "train_on_batch");
  std::vector<DType> ld = Impl::check_y(*this, y, n, "train_on_batch");
  impl_->statistics.clear();  // the batch's own values, as Keras's reset_metrics=True
  return impl_->train_batch(*this, x, y, ld);
}

Logs Model::test_on_batch(const Arrays& x, const Arrays& y) {
  Impl::need_compiled(*this, "test_on_batch");
  int64_t n = Impl::prepare_x(*this, x, "test_on_batch");
  std::vector<DType> ld = Impl::check_y(*this, y, n, "test_on_batch");
  impl_->statistics.clear();
  return impl_->test_batch(*this, x, y, ld);
}

}  // namespace soma::nn
