// Keras-style models in the script: Sequential, the functional Model (Input, layer calls,
// Model(inputs, outputs)), load_model, and the History that fit returns.
#include <set>

#include "frontend/nn/functional.h"
#include "frontend/nn/model.h"
#include "frontend/script/builtins.h"
#include "frontend/script/interrupt.h"
#include "frontend/script/nn_objects.h"
#include "frontend/script/session.h"

namespace soma::script {

namespace {

class HistoryObject : public TableObject {
 public:
  explicit HistoryObject(nn::History h) : h_(std::move(h)) {
    value("history", [this] { return Value::object(shared_from_this()); });
    value("epoch", [this] {
      std::vector<Value> out;
      for (int e : h_.epochs()) out.push_back(Value::integer(e));
      return Value::list(std::move(out));
    });
    method("keys()", "The logged names: loss, accuracy, val_loss, ...",
           [this](Call&) { return str_list(h_.keys()); });
    method("to_csv(path)", "Writes the history as CSV (epoch,loss,...).", [this](Call& c) {
      h_.write_csv(c.str("path"));
      return Value::none();
    });
  }
  std::string type_name() const override { return "History"; }
  std::optional<Value> attr(const std::string& name) override {
    if (auto v = TableObject::attr(name)) return v;
    if (h_.has(name)) return float_list(h_[name]);
    return std::nullopt;
  }
  std::vector<std::string> attr_names() const override {
    std::vector<std::string> out = TableObject::attr_names();
    out.insert(out.end(), h_.keys().begin(), h_.keys().end());
    return out;
  }
  std::optional<Value> index(const Value& key) override {
    if (!key.is_str()) return std::nullopt;
    return float_list(h_[key.as_str()]);  // throws NameError listing the keys
  }
  std::optional<int64_t> length() const override { return static_cast<int64_t>(h_.size()); }
  Value item(int64_t i) override { return Value::integer(h_.epochs()[static_cast<size_t>(i)]); }
  std::string repr() const override {
    std::string keys;
    for (const std::string& k : h_.keys()) keys += (keys.empty() ? "" : ", ") + k;
    return "<History: " + std::to_string(h_.size()) + " epoch" + (h_.size() == 1 ? "" : "s") +
           (keys.empty() ? "" : " of " + keys) + ">";
  }

 private:
  nn::History h_;
};

Value history_value(nn::History h) {
  return Value::object(std::make_shared<HistoryObject>(std::move(h)));
}

// Stops fit at the next batch when Ctrl-C was pressed (or, pressed while a step compiled, before
// that step runs).
nn::CallbackPtr interrupt_callback() {
  auto cb = std::make_shared<nn::LambdaCallback>();
  cb->batch_end = [](nn::Model&, int64_t, const nn::Logs&) { check_interrupt(); };
  cb->step_compiled = [](nn::Model&) { check_interrupt(); };  // before a slow compile's step
  return cb;
}

// A symbolic tensor of a functional model: Input(...) or a layer call's output.
class SymbolicObject : public TableObject {
 public:
  explicit SymbolicObject(nn::SymbolicTensor t) : t_(std::move(t)) {
    value("shape", [this] {
      auto type = t_.type();
      return type ? shape_list(type->shape, true) : Value::none();
    });
    value("dtype", [this] {
      auto type = t_.type();
      return type ? Value::str(dtype_name(type->dtype)) : Value::none();
    });
    value("name", [this] {
      if (t_.is_input()) return Value::str(t_.input_name());
      return Value::str(t_.layer()->name());
    });
  }
  std::string type_name() const override { return "SymbolicTensor"; }
  std::string repr() const override {
    std::string s = "<SymbolicTensor " + t_.str();
    if (auto type = t_.type()) s += std::string(" ") + dtype_name(type->dtype);
    if (t_.is_input())
      s += t_.input_name().empty() ? " from Input" : " from Input '" + t_.input_name() + "'";
    else
      s += " from " + t_.layer()->class_name() +
           (t_.layer()->name().empty() ? "" : " '" + t_.layer()->name() + "'");
    return s + ">";
  }
  const nn::SymbolicTensor& get() const { return t_; }

 private:
  nn::SymbolicTensor t_;
};

Value symbolic_value(nn::SymbolicTensor t) {
  return Value::object(std::make_shared<SymbolicObject>(std::move(t)));
}

const SymbolicObject* as_symbolic(const Value& v) {
  return v.is_object() ? dynamic_cast<const SymbolicObject*>(v.as_object().get()) : nullptr;
}

// One symbolic tensor or a list of them; `list` says which was given.
std::vector<nn::SymbolicTensor> symbolic_args(Call& c, const std::string& p, bool* list,
                                              const std::string& what) {
  const Value& v = c[p];
  std::vector<nn::SymbolicTensor> out;
  *list = v.is_list();
  if (const SymbolicObject* s = as_symbolic(v)) {
    out.push_back(s->get());
    return out;
  }
  if (v.is_list()) {
    for (const Value& item : v.as_list()) {
      const SymbolicObject* s = as_symbolic(item);
      if (!s) c.type_error(p, what);
      out.push_back(s->get());
    }
    if (!out.empty()) return out;
  }
  c.type_error(p, what);
}

// The arrays of a model's inputs (or outputs): one array for a one-input model (a list of one
// array too), else a list of one array per input.
// A dataset object (image_dataset_from_directory's ImageDataset): its x and y, as Keras's
// fit(dataset) takes both from the dataset; nullopt for any other value.
std::optional<std::pair<Value, Value>> dataset_of(const Value& v) {
  if (!v.is_object() || v.as_object()->type_name() != "ImageDataset") return std::nullopt;
  std::optional<Value> x = v.as_object()->attr("x"), y = v.as_object()->attr("y");
  if (!x || !y) return std::nullopt;
  return std::pair{*x, *y};
}

nn::Arrays arrays_of(Call& c, const std::string& p, size_t n, const std::vector<std::string>& names,
                     const char* what) {
  const Value& v = c[p];
  bool list_of_arrays = v.is_list() && !v.as_list().empty() &&
                        (v.as_list()[0].is_array() || v.as_list()[0].is_tensor());
  if (n == 1 && !list_of_arrays) return nn::Arrays(c.array(p));
  if (!v.is_list() || v.as_list().size() != n) {
    std::string list;
    for (const std::string& s : names) list += (list.empty() ? "" : ", ") + s;
    c.type_error(
        p, "a list of " + std::to_string(n) + " arrays, one per model " + what + " (" + list + ")");
  }
  nn::Arrays out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(
        c.session().to_array(v.as_list()[i], c.loc_of(p), p + "[" + std::to_string(i) + "]"));
  return out;
}

Value arrays(const std::vector<Array>& v) {
  std::vector<Value> out;
  for (const Array& a : v) out.push_back(Value::array(a));
  return Value::list(std::move(out));
}

Value shapes_value(const std::vector<TensorType>& types) {
  if (types.size() == 1) return shape_list(types[0].shape, true);
  std::vector<Value> out;
  for (const TensorType& t : types) out.push_back(shape_list(t.shape, true));
  return Value::list(std::move(out));
}

class ModelObject : public TableObject {
 public:
  explicit ModelObject(std::shared_ptr<nn::Model> m) : m_(std::move(m)) {
    value("name", [this] { return Value::str(m_->name()); });
    value("built", [this] { return Value::boolean(m_->built()); });
    value("layers", [this] {
      std::vector<Value> out;
      for (const nn::LayerPtr& l : m_->layers()) out.push_back(layer_value(l));
      return Value::list(std::move(out));
    });
    value("input_shape",
          [this] { return m_->built() ? shapes_value(m_->input_types()) : Value::none(); });
    value("output_shape",
          [this] { return m_->built() ? shapes_value(m_->output_types()) : Value::none(); });
    value("inputs", [this] { return symbolic_list(true); });
    value("outputs", [this] { return symbolic_list(false); });
    value("input_names", [this] { return str_list(m_->input_names()); });
    value("output_names", [this] { return str_list(m_->output_names()); });
    value("metrics_names", [this] { return str_list(m_->metrics_names()); });
    value("iterations", [this] { return Value::integer(m_->iterations()); });
    value("optimizer", [this] {
      return m_->optimizer() ? Value::object(std::make_shared<OptimizerObject>(m_->optimizer()))
                             : Value::none();
    });
    value("weights", [this] { return arrays(m_->get_weights()); });
    method(
        "compile(optimizer='rmsprop', loss=None, metrics=None, backend=None, "
        "loss_weights=None)",
        "Configures training: an optimizer (object or name), a loss (name or object; a list "
        "gives one per output, summed with loss_weights) and metrics (names or functions), e.g. "
        "metrics=[\"accuracy\"]; a list of lists gives each output its own.",
        [this](Call& c) {
          if (c.is_none("loss")) c.value_error("loss", "a loss is required");
          std::string backend = c.opt_str("backend").value_or(c.session().backend());
          std::vector<nn::LossPtr> losses;
          if (c["loss"].is_list()) {
            for (const Value& v : c["loss"].as_list()) {
              if (v.is_str()) {
                losses.push_back(nn::get_loss(v.as_str()));
              } else if (auto* o = v.is_object() ? dynamic_cast<LossObject*>(v.as_object().get())
                                                 : nullptr) {
                losses.push_back(o->get());
              } else {
                c.type_error("loss", "a loss, or a list of losses (names or objects)");
              }
            }
          } else {
            losses.push_back(loss_of(c, "loss"));
          }
          std::vector<double> weights;
          if (!c.is_none("loss_weights"))
            for (const Value& v : c.list("loss_weights")) {
              if (!v.is_number()) c.type_error("loss_weights", "a list of numbers");
              weights.push_back(v.as_number());
            }
          MetricLists ms = metrics_of(c, "metrics", m_->num_outputs());
          for (const auto& own : ms.own)
            for (const nn::MetricPtr& met : own)
              if (met->name() == "loss")
                c.value_error("metrics", "a metric function cannot be named 'loss'");
          m_->compile(optimizer_of(c, "optimizer"), losses, nn::Model::OutputMetrics{ms.names},
                      backend, weights);
          for (size_t j = 0; j < ms.own.size(); ++j)
            for (const nn::MetricPtr& met : ms.own[j])
              m_->add_metric(met, ms.per_output ? std::optional<size_t>(j) : std::nullopt);
          return Value::none();
        });
    method(
        "fit(x, y=None, epochs=1, batch_size=32, validation_split=0.0, validation_data=None, "
        "shuffle=True, seed=0, verbose=1, callbacks=None, initial_epoch=0, "
        "drop_remainder=False, distributed=False)",
        "Trains on (x, y) (lists of arrays for models of several inputs or outputs; or x an "
        "ImageDataset, whose labels are y; validation_data too); shows a "
        "progress bar per epoch and returns the History. Ctrl-C stops it after the current "
        "batch.",
        [this](Call& c) {
          if (c.boolean("distributed"))
            c.value_error("distributed", "data-parallel training (under mpirun) is not built yet");
          nn::Arrays x = xs(c, "x"), y = ys(c, "y");
          nn::FitOptions o;
          o.epochs = static_cast<int>(c.integer("epochs"));
          o.batch_size = c.integer("batch_size");
          o.validation_split = c.number("validation_split");
          if (auto d = dataset_of(c["validation_data"])) {
            if (d->second.is_none())
              c.value_error("validation_data", "this dataset has no labels (labels=None)");
            o.validation_data =
                std::pair{part(c, d->first, m_->num_inputs(), "validation_data.x"),
                          part(c, d->second, m_->num_outputs(), "validation_data.y")};
          } else if (!c.is_none("validation_data")) {
            std::vector<Value> vd = c.list("validation_data");
            if (vd.size() != 2) c.type_error("validation_data", "a list [x_val, y_val]");
            o.validation_data = std::pair{part(c, vd[0], m_->num_inputs(), "validation_data[0]"),
                                          part(c, vd[1], m_->num_outputs(), "validation_data[1]")};
          }
          o.shuffle = c.boolean("shuffle");
          int64_t seed = c.integer("seed");
          if (seed < 0) c.value_error("seed", "must not be negative");
          o.seed = static_cast<uint64_t>(seed);
          o.verbose = static_cast<int>(c.integer("verbose"));
          if (!c.is_none("callbacks"))
            for (const Value& v : c.list("callbacks")) {
              auto* cb =
                  v.is_object() ? dynamic_cast<CallbackObject*>(v.as_object().get()) : nullptr;
              if (!cb) c.type_error("callbacks", "a list of callbacks (EarlyStopping(...))");
              o.callbacks.push_back(cb->get());
            }
          o.callbacks.push_back(interrupt_callback());
          o.initial_epoch = static_cast<int>(c.integer("initial_epoch"));
          o.drop_remainder = c.boolean("drop_remainder");
          o.out = &c.session().out();
          o.tty = c.session().tty();
          return history_value(m_->fit(x, y, o));
        });
    method("evaluate(x, y=None, batch_size=32, verbose=1)",
           "The loss and metrics on (x, y) (or an ImageDataset x) in inference mode: prints them "
           "and returns a float (loss only) or a list [loss, metric, ...].",
           [this](Call& c) {
             nn::Arrays x = xs(c, "x"), y = ys(c, "y");
             nn::EvaluateOptions o;
             o.batch_size = c.integer("batch_size");
             o.verbose = static_cast<int>(c.integer("verbose"));
             o.out = &c.session().out();
             o.tty = c.session().tty();
             return logs_value(m_->evaluate(x, y, o));
           });
    method("predict(x, batch_size=32)",
           "The model's outputs for x: an array, or a list of arrays for several outputs.",
           [this](Call& c) {
             nn::Arrays x = xs(c, "x");
             nn::PredictOptions o;
             o.batch_size = c.integer("batch_size");
             std::vector<Array> outs = m_->predict_outputs(x, o);
             return outs.size() == 1 ? Value::array(outs[0]) : arrays(outs);
           });
    method("train_on_batch(x, y)",
           "One training step on one batch; returns its loss (and metrics).",
           [this](Call& c) { return logs_value(m_->train_on_batch(xs(c, "x"), ys(c, "y"))); });
    method("test_on_batch(x, y)", "The loss (and metrics) of one batch in inference mode.",
           [this](Call& c) { return logs_value(m_->test_on_batch(xs(c, "x"), ys(c, "y"))); });
    method("summary()", "Prints the layers, their output shapes and parameter counts.",
           [this](Call& c) {
             m_->summary(c.session().out());
             return Value::none();
           });
    method("build(input_shape, dtype='f32')",
           "Creates the weights for samples of `input_shape` (without the batch axis).",
           [this](Call& c) {
             m_->build(c.shape("input_shape"), c.dtype("dtype"));
             return Value::none();
           });
    method("add(layer)", "Appends a layer (before the model is built; Sequential only).",
           [this](Call& c) {
             sequential(c).add(layer_of(c, "layer"));
             return Value::none();
           });
    method("pop()", "Removes the last layer (before the model is built; Sequential only).",
           [this](Call& c) {
             sequential(c).pop();
             return Value::none();
           });
    method("count_params()", "The number of weight elements.",
           [this](Call&) { return Value::integer(m_->count_params()); });
    method("get_weights()", "Every weight as an array (copies), in layer order.",
           [this](Call&) { return arrays(m_->get_weights()); });
    method("set_weights(weights)", "Sets every weight from a list of arrays (as get_weights).",
           [this](Call& c) {
             std::vector<Array> w;
             for (const Value& v : c.list("weights"))
               w.push_back(c.session().to_array(v, c.loc_of("weights"), "set_weights()"));
             m_->set_weights(w);
             return Value::none();
           });
    method("save(path)", "Saves the architecture, weights and optimizer state.", [this](Call& c) {
      m_->save(c.str("path"));
      return Value::none();
    });
    method("save_weights(path)", "Saves the weights.", [this](Call& c) {
      m_->save_weights(c.str("path"));
      return Value::none();
    });
    method("load_weights(path)", "Loads weights saved by save or save_weights.", [this](Call& c) {
      m_->load_weights(c.str("path"));
      return Value::none();
    });
  }

  std::string type_name() const override {
    return m_->class_name() == "Functional" ? "Model" : m_->class_name();
  }
  std::string repr() const override {
    size_t n = m_->layers().size();
    std::string s = "<" + type_name() + " '" + m_->name() + "': " + std::to_string(n) + " layer" +
                    (n == 1 ? "" : "s");
    if (m_->num_inputs() > 1 || m_->num_outputs() > 1)
      s += ", " + std::to_string(m_->num_inputs()) + " inputs, " +
           std::to_string(m_->num_outputs()) + " outputs";
    if (m_->built()) s += ", " + std::to_string(m_->count_params()) + " parameters";
    if (m_->compiled()) s += ", compiled";
    return s + ">";
  }

 private:
  // A functional model's Input tensors or outputs (None for a Sequential model).
  Value symbolic_list(bool inputs) {
    auto* f = dynamic_cast<nn::Functional*>(m_.get());
    if (!f) return Value::none();
    std::vector<Value> out;
    for (const nn::SymbolicTensor& t : inputs ? f->inputs() : f->outputs())
      out.push_back(symbolic_value(t));
    return Value::list(std::move(out));
  }
  // x: arrays, or a dataset (its images).
  nn::Arrays xs(Call& c, const std::string& p) {
    if (auto d = dataset_of(c[p]))
      return nn::Arrays(c.session().to_array(d->first, c.loc_of(p), p));
    return arrays_of(c, p, m_->num_inputs(), m_->input_names(), "input");
  }
  // y: arrays, or, when x is a dataset, its labels (y must then be None, as in Keras).
  nn::Arrays ys(Call& c, const std::string& p, const std::string& x = "x") {
    if (auto d = dataset_of(c[x])) {
      if (!c.is_none(p))
        c.value_error(p, "must be None when x is a dataset: the labels come from the dataset");
      if (d->second.is_none())
        c.value_error(x, "this dataset has no labels (labels=None); fit and evaluate need them");
      return nn::Arrays(c.session().to_array(d->second, c.loc_of(x), x + ".y"));
    }
    if (c.is_none(p))
      c.value_error(p, "the labels are required (or pass a dataset with labels as x)");
    return arrays_of(c, p, m_->num_outputs(), m_->output_names(), "output");
  }
  // x_val or y_val of validation_data.
  nn::Arrays part(Call& c, const Value& v, size_t n, const std::string& what) {
    Session& s = c.session();
    Location loc = c.loc_of("validation_data");
    if (v.is_list() && !v.as_list().empty() &&
        (v.as_list()[0].is_array() || v.as_list()[0].is_tensor() || n > 1)) {
      if (v.as_list().size() != n)
        throw ScriptError(loc,
                          "fit: " + what + " must be a list of " + std::to_string(n) + " arrays");
      nn::Arrays out;
      for (size_t i = 0; i < n; ++i)
        out.push_back(s.to_array(v.as_list()[i], loc, what + "[" + std::to_string(i) + "]"));
      return out;
    }
    return nn::Arrays(s.to_array(v, loc, what));
  }
  nn::Sequential& sequential(Call& c) {
    auto* s = dynamic_cast<nn::Sequential*>(m_.get());
    if (!s)
      throw ScriptError(c.loc(), c.name() +
                                     ": only a Sequential model has layers added or "
                                     "removed; a functional Model is fixed when made");
    return *s;
  }
  std::shared_ptr<nn::Model> m_;
};

Value model_value(std::shared_ptr<nn::Model> m) {
  return Value::object(std::make_shared<ModelObject>(std::move(m)));
}

uint64_t seed_of(Call& c) {
  int64_t seed = c.integer("seed");
  if (seed < 0) c.value_error("seed", "must not be negative");
  return static_cast<uint64_t>(seed);
}

}  // namespace

Value call_layer_symbolically(Call& c, const nn::LayerPtr& layer) {
  const Value& v = c["inputs"];
  bool symbolic = as_symbolic(v) != nullptr;
  if (v.is_list() && !v.as_list().empty()) {
    symbolic = true;
    for (const Value& item : v.as_list()) symbolic = symbolic && as_symbolic(item);
  }
  if (!symbolic)
    throw ScriptError(c.loc_of("inputs"),
                      layer->class_name() + " called on " + v.a_type_name() +
                          ": a layer is called on Input(...) tensors or other layers' outputs "
                          "(a list of them for a merge layer) to make a functional model; to "
                          "run layers on data, put them in a model (Sequential([...]) or "
                          "Model(inputs, outputs)) and call its predict");
  bool list = false;
  std::vector<nn::SymbolicTensor> args = symbolic_args(c, "inputs", &list, "");
  return symbolic_value(list ? (*layer)(args) : (*layer)(args[0]));
}

void register_model_builtins(Registry& r) {
  FunctionPtr seq = add_builtin(
      r, "Sequential(layers=None, name='', seed=0)",
      "A model that applies its layers in order. Methods: compile, fit, evaluate, predict, "
      "summary, save, load_weights, ...",
      [](Call& c) {
        std::vector<nn::LayerPtr> layers;
        if (!c.is_none("layers")) {
          if (!c["layers"].is_list()) c.type_error("layers", "a list of layers");
          for (const Value& v : c["layers"].as_list()) {
            auto* l = v.is_object() ? dynamic_cast<LayerObject*>(v.as_object().get()) : nullptr;
            if (!l) c.type_error("layers", "a list of layers (Dense(...), Conv2D(...), ...)");
            layers.push_back(l->get());
          }
        }
        return model_value(std::make_shared<nn::Sequential>(layers, c.str("name"), seed_of(c)));
      });
  auto load = [](Call& c) {
    std::string backend = c.opt_str("backend").value_or(c.session().backend());
    return model_value(
        nn::load_model(c.str("path"), backend, custom_objects_of(c, "custom_objects")));
  };
  const std::string load_doc =
      "A model saved by model.save (Sequential or functional), with its weights, compiled "
      "again when it was compiled. custom_objects: the functions the model uses (Lambda "
      "layers', a loss of your own), found by name.";
  std::const_pointer_cast<Function>(seq)->attrs.emplace_back(
      "load", make_function("load(path, backend=None, custom_objects=None)", load_doc, [](Call& c) {
        std::string backend = c.opt_str("backend").value_or(c.session().backend());
        return model_value(
            nn::Sequential::load(c.str("path"), backend, custom_objects_of(c, "custom_objects")));
      }));
  add_builtin(r, "load_model(path, backend=None, custom_objects=None)", load_doc, load);

  add_builtin(r, "Input(shape, dtype='f32', name=None)",
              "A functional model's input of per-sample `shape` (without the batch axis); call "
              "layers on it and make a Model(inputs, outputs).",
              [](Call& c) {
                return symbolic_value(
                    nn::Input(c.shape("shape"), c.dtype("dtype"), c.opt_str("name").value_or("")));
              });
  FunctionPtr model = add_builtin(
      r, "Model(inputs, outputs, name='', seed=0)",
      "A functional model from Input(...) tensors to layer outputs (lists for several inputs or "
      "outputs): x = Input([784]); y = Dense(10)(Dense(64, activation=\"relu\")(x)); "
      "model = Model(inputs=x, outputs=y). Methods as Sequential's.",
      [](Call& c) {
        bool list = false;
        const std::string what = "an Input(...) tensor or a list of them";
        std::vector<nn::SymbolicTensor> in = symbolic_args(c, "inputs", &list, what);
        std::vector<nn::SymbolicTensor> out =
            symbolic_args(c, "outputs", &list, "a layer's output tensor or a list of them");
        return model_value(std::make_shared<nn::Functional>(in, out, c.str("name"), seed_of(c)));
      });
  std::const_pointer_cast<Function>(model)->attrs.emplace_back(
      "load", make_function("load(path, backend=None)", load_doc, load));
}

}  // namespace soma::script
