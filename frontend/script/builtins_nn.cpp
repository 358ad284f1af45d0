// Keras-style built-ins: layers, Sequential models, optimizers, losses, callbacks and datasets,
// bound to frontend/nn and frontend/data with Keras's argument names.
#include <sstream>

#include "frontend/data/fashion_mnist.h"
#include "frontend/nn/callbacks.h"
#include "frontend/nn/layers.h"
#include "frontend/nn/model.h"
#include "frontend/nn/optimizers.h"
#include "frontend/script/builtins.h"
#include "frontend/script/interrupt.h"
#include "frontend/script/session.h"

namespace soma::script {

namespace {

Value float_list(const std::vector<double>& v) {
  std::vector<Value> out;
  for (double d : v) out.push_back(Value::number(d));
  return Value::list(std::move(out));
}

Value str_list(const std::vector<std::string>& v) {
  std::vector<Value> out;
  for (const std::string& s : v) out.push_back(Value::str(s));
  return Value::list(std::move(out));
}

Value shape_list(const Shape& s, bool batch_axis) {
  std::vector<Value> out;
  if (batch_axis) out.push_back(Value::none());
  for (int64_t d : s.dims()) out.push_back(Value::integer(d));
  return Value::list(std::move(out));
}

// An object whose attributes are a fixed table of getters (values and bound methods).
class TableObject : public Object {
 public:
  std::optional<Value> attr(const std::string& name) override {
    for (auto& [n, get] : attrs_) {
      if (n != name) continue;
      Value v = get();
      if (v.is_function()) {  // a method: keep this object alive as long as the method value
        auto f = std::make_shared<Function>(*v.as_function());
        f->keepalive = shared_from_this();
        return Value::function(f);
      }
      return v;
    }
    return std::nullopt;
  }
  std::vector<std::string> attr_names() const override {
    std::vector<std::string> out;
    for (auto& [n, get] : attrs_) out.push_back(n);
    return out;
  }

 protected:
  void value(const std::string& name, std::function<Value()> get) {
    attrs_.emplace_back(name, std::move(get));
  }
  void method(const std::string& signature, const std::string& doc,
              std::function<Value(Call&)> body) {
    FunctionPtr f = make_function(signature, doc, std::move(body));
    attrs_.emplace_back(f->name, [f] { return Value::function(f); });
  }

 private:
  std::vector<std::pair<std::string, std::function<Value()>>> attrs_;
};

// A one-element-per-name Logs as Keras returns it: one float, or a list of floats.
Value logs_value(const nn::Logs& logs) {
  if (logs.items().size() == 1) return Value::number(logs.items()[0].second);
  std::vector<Value> out;
  for (auto& [k, v] : logs.items()) out.push_back(Value::number(v));
  return Value::list(std::move(out));
}

// ---- optimizers, losses, callbacks
// -----------------------------------------------------------------

class OptimizerObject : public TableObject {
 public:
  explicit OptimizerObject(nn::OptimizerPtr opt) : opt_(std::move(opt)) {
    value("name", [this] { return Value::str(opt_->name()); });
    value("learning_rate", [this] { return Value::number(opt_->learning_rate()); });
    value("lr", [this] { return Value::number(opt_->learning_rate()); });
    method("set_learning_rate(lr)", "Sets the learning rate (applied from the next step).",
           [this](Call& c) {
             opt_->set_learning_rate(c.number("lr"));
             return Value::none();
           });
  }
  std::string type_name() const override { return opt_->name(); }
  std::string repr() const override {
    std::ostringstream os;
    os << "<" << opt_->name();
    for (auto& [k, v] : opt_->config()) os << " " << k << "=" << python_float(v);
    os << ">";
    return os.str();
  }
  const nn::OptimizerPtr& get() const { return opt_; }

 private:
  nn::OptimizerPtr opt_;
};

class LossObject : public TableObject {
 public:
  explicit LossObject(nn::LossPtr loss) : loss_(std::move(loss)) {
    value("name", [this] { return Value::str(loss_->name()); });
  }
  std::string type_name() const override { return "Loss"; }
  std::string repr() const override { return "<Loss " + loss_->name() + ">"; }
  const nn::LossPtr& get() const { return loss_; }

 private:
  nn::LossPtr loss_;
};

class CallbackObject : public TableObject {
 public:
  CallbackObject(std::string name, nn::CallbackPtr cb)
      : name_(std::move(name)), cb_(std::move(cb)) {}
  std::string type_name() const override { return name_; }
  const nn::CallbackPtr& get() const { return cb_; }

 private:
  std::string name_;
  nn::CallbackPtr cb_;
};

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

// ---- layers and models --------------------------------------------------------------------------

class LayerObject : public TableObject {
 public:
  explicit LayerObject(nn::LayerPtr layer) : layer_(std::move(layer)) {
    value("name", [this] { return Value::str(layer_->name()); });
    value("class_name", [this] { return Value::str(layer_->class_name()); });
    value("built", [this] { return Value::boolean(layer_->built()); });
    value("weights", [this] { return weights(); });
    method("get_weights()", "The layer's weights as arrays (copies).",
           [this](Call&) { return weights(); });
    method("count_params()", "The number of weight elements.",
           [this](Call&) { return Value::integer(layer_->count_params()); });
  }
  std::string type_name() const override { return layer_->class_name(); }
  std::string repr() const override {
    std::string s = std::string("<").append(layer_->class_name());
    if (!layer_->name().empty()) s += " '" + layer_->name() + "'";
    for (auto& [k, v] : layer_->config())  // the arguments that say what it computes
      if (k != "name" && k.find("initializer") == std::string::npos && k != "use_bias")
        s += " " + k + "=" + v;
    return s + ">";
  }
  const nn::LayerPtr& get() const { return layer_; }

 private:
  Value weights() {
    std::vector<Value> out;
    for (const nn::Weight& w : layer_->weights())
      if (w.tensor.defined() && w.tensor.context().params().has(w.name))
        out.push_back(Value::array(w.tensor.context().params().get(w.name).clone()));
    return Value::list(std::move(out));
  }
  nn::LayerPtr layer_;
};

nn::OptimizerPtr optimizer_of(Call& c, const std::string& p) {
  const Value& v = c[p];
  if (v.is_str()) return nn::get_optimizer(v.as_str());
  if (v.is_object())
    if (auto* o = dynamic_cast<OptimizerObject*>(v.as_object().get())) return o->get();
  c.type_error(p, "an optimizer (SGD(...), Adam(...), RMSprop(...)) or its name");
}

nn::LossPtr loss_of(Call& c, const std::string& p) {
  const Value& v = c[p];
  if (v.is_str()) return nn::get_loss(v.as_str());
  if (v.is_object())
    if (auto* o = dynamic_cast<LossObject*>(v.as_object().get())) return o->get();
  c.type_error(p, "a loss name (\"sparse_categorical_crossentropy\", \"mse\", ...) or a loss");
}

std::vector<std::string> strings_of(Call& c, const std::string& p) {
  std::vector<std::string> out;
  if (c.is_none(p)) return out;
  for (const Value& v : c.list(p)) {
    if (!v.is_str()) c.type_error(p, "a list of names");
    out.push_back(v.as_str());
  }
  return out;
}

// Stops fit at the next batch when Ctrl-C was pressed.
nn::CallbackPtr interrupt_callback() {
  auto cb = std::make_shared<nn::LambdaCallback>();
  cb->batch_end = [](nn::Model&, int64_t, const nn::Logs&) { check_interrupt(); };
  return cb;
}

class ModelObject : public TableObject {
 public:
  explicit ModelObject(std::shared_ptr<nn::Sequential> m) : m_(std::move(m)) {
    value("name", [this] { return Value::str(m_->name()); });
    value("built", [this] { return Value::boolean(m_->built()); });
    value("layers", [this] {
      std::vector<Value> out;
      for (const nn::LayerPtr& l : m_->layers())
        out.push_back(Value::object(std::make_shared<LayerObject>(l)));
      return Value::list(std::move(out));
    });
    value("input_shape", [this] {
      return m_->built() ? shape_list(m_->input_type().shape, true) : Value::none();
    });
    value("output_shape", [this] {
      return m_->built() ? shape_list(m_->output_type().shape, true) : Value::none();
    });
    value("metrics_names", [this] { return str_list(m_->metrics_names()); });
    value("iterations", [this] { return Value::integer(m_->iterations()); });
    value("optimizer", [this] {
      return m_->optimizer() ? Value::object(std::make_shared<OptimizerObject>(m_->optimizer()))
                             : Value::none();
    });
    value("weights", [this] { return arrays(m_->get_weights()); });
    method("compile(optimizer='rmsprop', loss=None, metrics=None, backend=None)",
           "Configures training: an optimizer (object or name), a loss (name or object) and "
           "metric names, e.g. metrics=[\"accuracy\"].",
           [this](Call& c) {
             if (c.is_none("loss")) c.value_error("loss", "a loss is required");
             std::string backend = c.opt_str("backend").value_or(c.session().backend());
             m_->compile(optimizer_of(c, "optimizer"), loss_of(c, "loss"), strings_of(c, "metrics"),
                         backend);
             return Value::none();
           });
    method(
        "fit(x, y, epochs=1, batch_size=32, validation_split=0.0, validation_data=None, "
        "shuffle=True, seed=0, verbose=1, callbacks=None, initial_epoch=0, "
        "drop_remainder=False, distributed=False)",
        "Trains on (x, y); shows a progress bar per epoch and returns the History. Ctrl-C "
        "stops it after the current batch.",
        [this](Call& c) {
          if (c.boolean("distributed"))
            c.value_error("distributed", "data-parallel training (under mpirun) is not built yet");
          Array x = c.array("x"), y = c.array("y");
          nn::FitOptions o;
          o.epochs = static_cast<int>(c.integer("epochs"));
          o.batch_size = c.integer("batch_size");
          o.validation_split = c.number("validation_split");
          if (!c.is_none("validation_data")) {
            std::vector<Value> vd = c.list("validation_data");
            if (vd.size() != 2) c.type_error("validation_data", "a list [x_val, y_val]");
            Session& s = c.session();
            o.validation_data =
                std::pair{s.to_array(vd[0], c.loc_of("validation_data"), "validation_data[0]"),
                          s.to_array(vd[1], c.loc_of("validation_data"), "validation_data[1]")};
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
    method("evaluate(x, y, batch_size=32, verbose=1)",
           "The loss and metrics on (x, y) in inference mode: prints them and returns a float "
           "(loss only) or a list [loss, metric, ...].",
           [this](Call& c) {
             Array x = c.array("x"), y = c.array("y");
             nn::EvaluateOptions o;
             o.batch_size = c.integer("batch_size");
             o.verbose = static_cast<int>(c.integer("verbose"));
             o.out = &c.session().out();
             o.tty = c.session().tty();
             return logs_value(m_->evaluate(x, y, o));
           });
    method("predict(x, batch_size=32)", "The model's outputs for x, as an array.", [this](Call& c) {
      Array x = c.array("x");
      nn::PredictOptions o;
      o.batch_size = c.integer("batch_size");
      return Value::array(m_->predict(x, o));
    });
    method("train_on_batch(x, y)",
           "One training step on one batch; returns its loss (and metrics).",
           [this](Call& c) { return logs_value(m_->train_on_batch(c.array("x"), c.array("y"))); });
    method("test_on_batch(x, y)", "The loss (and metrics) of one batch in inference mode.",
           [this](Call& c) { return logs_value(m_->test_on_batch(c.array("x"), c.array("y"))); });
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
    method("add(layer)", "Appends a layer (before the model is built).", [this](Call& c) {
      m_->add(layer_of(c, "layer"));
      return Value::none();
    });
    method("pop()", "Removes the last layer (before the model is built).", [this](Call&) {
      m_->pop();
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

  static nn::LayerPtr layer_of(Call& c, const std::string& p) {
    const Value& v = c[p];
    if (v.is_object())
      if (auto* l = dynamic_cast<LayerObject*>(v.as_object().get())) return l->get();
    c.type_error(p, "a layer (Dense(...), Conv2D(...), ...)");
  }

  std::string type_name() const override { return m_->class_name(); }
  std::string repr() const override {
    std::string s = std::string("<").append(m_->class_name()) + " '" + m_->name() +
                    "': " + std::to_string(m_->layers().size()) + " layer" +
                    (m_->layers().size() == 1 ? "" : "s");
    if (m_->built()) s += ", " + std::to_string(m_->count_params()) + " parameters";
    if (m_->compiled()) s += ", compiled";
    return s + ">";
  }

 private:
  static Value arrays(const std::vector<Array>& v) {
    std::vector<Value> out;
    for (const Array& a : v) out.push_back(Value::array(a));
    return Value::list(std::move(out));
  }
  std::shared_ptr<nn::Sequential> m_;
};

class DatasetObject : public TableObject {
 public:
  DatasetObject(std::string name, data::FashionMnist d) : name_(std::move(name)), d_(std::move(d)) {
    value("x_train", [this] { return Value::array(d_.x_train); });
    value("y_train", [this] { return Value::array(d_.y_train); });
    value("x_test", [this] { return Value::array(d_.x_test); });
    value("y_test", [this] { return Value::array(d_.y_test); });
    value("classes", [] {
      std::vector<std::string> c(data::kFashionMnistClasses.begin(),
                                 data::kFashionMnistClasses.end());
      return str_list(c);
    });
  }
  std::string type_name() const override { return "Dataset"; }
  std::string repr() const override {
    return "<Dataset " + name_ + ": x_train " + d_.x_train.type_str() + ", y_train " +
           d_.y_train.type_str() + ", x_test " + d_.x_test.type_str() + ", y_test " +
           d_.y_test.type_str() + ">";
  }

 private:
  std::string name_;
  data::FashionMnist d_;
};

// Layer helpers.
std::string name_arg(Call& c) {
  return c.opt_str("name").value_or("");
}
std::optional<uint64_t> seed_arg(Call& c) {
  auto s = c.opt_integer("seed");
  if (s && *s < 0) c.value_error("seed", "must not be negative");
  return s ? std::optional<uint64_t>(static_cast<uint64_t>(*s)) : std::nullopt;
}
std::string activation_arg(Call& c) {
  return c.opt_str("activation").value_or("");
}
Value layer_value(nn::LayerPtr l) {
  return Value::object(std::make_shared<LayerObject>(std::move(l)));
}

double lr_arg(Call& c) {
  return c.is_none("learning_rate") ? c.number("lr") : c.number("learning_rate");
}
double alias(Call& c, const std::string& keras, const std::string& soma) {
  return c.is_none(keras) ? c.number(soma) : c.number(keras);
}

}  // namespace

void register_nn_builtins(Registry& r) {
  // ---- models
  // --------------------------------------------------------------------------------------
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
        int64_t seed = c.integer("seed");
        if (seed < 0) c.value_error("seed", "must not be negative");
        auto m =
            std::make_shared<nn::Sequential>(layers, c.str("name"), static_cast<uint64_t>(seed));
        return Value::object(std::make_shared<ModelObject>(m));
      });
  std::const_pointer_cast<Function>(seq)->attrs.emplace_back(
      "load", make_function(
                  "load(path, backend=None)",
                  "A model saved by model.save, compiled again when it was compiled.", [](Call& c) {
                    std::string backend = c.opt_str("backend").value_or(c.session().backend());
                    return Value::object(std::make_shared<ModelObject>(
                        nn::Sequential::load(c.str("path"), backend)));
                  }));

  // ---- layers
  // --------------------------------------------------------------------------------------
  add_builtin(r,
              "Dense(units, activation=None, use_bias=True, kernel_initializer='glorot_uniform', "
              "bias_initializer='zeros', name=None, seed=None)",
              "A fully connected layer: activation(x @ kernel + bias).", [](Call& c) {
                nn::DenseOptions o;
                o.activation = activation_arg(c);
                o.use_bias = c.boolean("use_bias");
                o.kernel_initializer = c.str("kernel_initializer");
                o.bias_initializer = c.str("bias_initializer");
                o.name = name_arg(c);
                o.seed = seed_arg(c);
                return layer_value(std::make_shared<nn::Dense>(c.integer("units"), o));
              });
  add_builtin(r,
              "Conv2D(filters, kernel_size, strides=1, padding='valid', activation=None, "
              "use_bias=True, dilation_rate=1, kernel_initializer='glorot_uniform', "
              "bias_initializer='zeros', name=None, seed=None)",
              "A 2-D convolution over NCHW images (OIHW kernel).", [](Call& c) {
                nn::Conv2DOptions o;
                o.strides = c.pair("strides");
                o.padding = c.str("padding");
                o.activation = activation_arg(c);
                o.use_bias = c.boolean("use_bias");
                o.dilation_rate = c.pair("dilation_rate");
                o.kernel_initializer = c.str("kernel_initializer");
                o.bias_initializer = c.str("bias_initializer");
                o.name = name_arg(c);
                o.seed = seed_arg(c);
                return layer_value(
                    std::make_shared<nn::Conv2D>(c.integer("filters"), c.pair("kernel_size"), o));
              });
  for (const char* name : {"MaxPool2D", "MaxPooling2D", "AvgPool2D", "AveragePooling2D"}) {
    std::string n = name;
    bool is_max = n.rfind("Max", 0) == 0;
    add_builtin(r, n + "(pool_size=2, strides=None, padding='valid', name=None)",
                is_max ? "Max pooling over NCHW images." : "Average pooling over NCHW images.",
                [is_max](Call& c) {
                  nn::Pool2DOptions o;
                  if (!c.is_none("strides")) o.strides = c.pair("strides");
                  o.padding = c.str("padding");
                  o.name = name_arg(c);
                  if (is_max)
                    return layer_value(std::make_shared<nn::MaxPool2D>(c.pair("pool_size"), o));
                  return layer_value(std::make_shared<nn::AvgPool2D>(c.pair("pool_size"), o));
                });
  }
  add_builtin(r, "Flatten(name=None)", "[N, d1, d2, ...] -> [N, d1*d2*...].",
              [](Call& c) { return layer_value(std::make_shared<nn::Flatten>(name_arg(c))); });
  add_builtin(
      r, "Reshape(target_shape, name=None)",
      "[N, ...] -> [N] + target_shape (without the batch axis; one -1 allowed).", [](Call& c) {
        return layer_value(std::make_shared<nn::Reshape>(c.ints("target_shape"), name_arg(c)));
      });
  add_builtin(r, "Dropout(rate, seed=None, name=None)",
              "Drops a fraction `rate` of the inputs while training.", [](Call& c) {
                nn::DropoutOptions o;
                o.name = name_arg(c);
                o.seed = seed_arg(c);
                return layer_value(std::make_shared<nn::Dropout>(c.number("rate"), o));
              });
  for (const char* name : {"BatchNorm", "BatchNormalization"}) {
    add_builtin(r,
                std::string(name) +
                    "(axis=1, momentum=0.99, epsilon=0.001, center=True, scale=True, name=None)",
                "Batch normalization over every axis but `axis` (the channels of NCHW).",
                [](Call& c) {
                  nn::BatchNormOptions o;
                  o.axis = c.integer("axis");
                  o.momentum = c.number("momentum");
                  o.epsilon = c.number("epsilon");
                  o.center = c.boolean("center");
                  o.scale = c.boolean("scale");
                  o.name = name_arg(c);
                  return layer_value(std::make_shared<nn::BatchNorm>(o));
                });
  }
  add_builtin(
      r, "Activation(activation, name=None)", "Applies an activation function by name.",
      [](Call& c) {
        return layer_value(std::make_shared<nn::Activation>(c.str("activation"), name_arg(c)));
      });
  add_builtin(r,
              "Embedding(input_dim, output_dim, embeddings_initializer='uniform', name=None, "
              "seed=None)",
              "Looks up rows of a trainable [input_dim, output_dim] table by integer ids.",
              [](Call& c) {
                nn::EmbeddingOptions o;
                o.embeddings_initializer = c.str("embeddings_initializer");
                o.name = name_arg(c);
                o.seed = seed_arg(c);
                return layer_value(std::make_shared<nn::Embedding>(c.integer("input_dim"),
                                                                   c.integer("output_dim"), o));
              });
  for (const char* name : {"SimpleRNN", "LSTM"}) {
    std::string n = name;
    add_builtin(r, n + "(units, *rest)", "Not available yet.", [n](Call& c) -> Value {
      throw ScriptError(c.loc(), n + " is not available yet (the recurrent layers are not built)");
    });
  }

  // ---- optimizers
  // ----------------------------------------------------------------------------------
  add_builtin(r, "SGD(lr=0.01, momentum=0.0, nesterov=False, learning_rate=None)",
              "Stochastic gradient descent, with optional (Nesterov) momentum.", [](Call& c) {
                return Value::object(std::make_shared<OptimizerObject>(std::make_shared<nn::SGD>(
                    lr_arg(c), c.number("momentum"), c.boolean("nesterov"))));
              });
  add_builtin(r,
              "Adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-07, learning_rate=None, "
              "beta_1=None, beta_2=None, epsilon=None)",
              "Adam (Keras's form).", [](Call& c) {
                return Value::object(std::make_shared<OptimizerObject>(std::make_shared<nn::Adam>(
                    lr_arg(c), alias(c, "beta_1", "beta1"), alias(c, "beta_2", "beta2"),
                    alias(c, "epsilon", "eps"))));
              });
  add_builtin(
      r,
      "RMSprop(lr=0.001, rho=0.9, momentum=0.0, eps=1e-07, learning_rate=None, "
      "epsilon=None)",
      "RMSprop (Keras's form).", [](Call& c) {
        return Value::object(std::make_shared<OptimizerObject>(std::make_shared<nn::RMSprop>(
            lr_arg(c), c.number("rho"), c.number("momentum"), alias(c, "epsilon", "eps"))));
      });

  // ---- losses
  // --------------------------------------------------------------------------------------
  add_builtin(r, "MeanSquaredError()", "The mean squared error loss.", [](Call&) {
    return Value::object(std::make_shared<LossObject>(std::make_shared<nn::MeanSquaredError>()));
  });
  auto from_logits = [](Call& c) -> std::optional<bool> {
    if (c.is_none("from_logits")) return std::nullopt;
    return c.boolean("from_logits");
  };
  add_builtin(
      r, "BinaryCrossentropy(from_logits=None)", "Binary cross-entropy.", [from_logits](Call& c) {
        return Value::object(
            std::make_shared<LossObject>(std::make_shared<nn::BinaryCrossentropy>(from_logits(c))));
      });
  add_builtin(r, "SparseCategoricalCrossentropy(from_logits=None)",
              "Cross-entropy with integer class labels.", [from_logits](Call& c) {
                return Value::object(std::make_shared<LossObject>(
                    std::make_shared<nn::SparseCategoricalCrossentropy>(from_logits(c))));
              });
  add_builtin(r, "CategoricalCrossentropy(from_logits=None)",
              "Cross-entropy with one-hot (probability) labels.", [from_logits](Call& c) {
                return Value::object(std::make_shared<LossObject>(
                    std::make_shared<nn::CategoricalCrossentropy>(from_logits(c))));
              });

  // ---- callbacks
  // -----------------------------------------------------------------------------------
  add_builtin(r,
              "EarlyStopping(monitor='val_loss', patience=0, min_delta=0.0, mode='auto', "
              "restore_best_weights=False)",
              "Stops fit when `monitor` stops improving.", [](Call& c) {
                auto cb = std::make_shared<nn::EarlyStopping>(
                    c.str("monitor"), static_cast<int>(c.integer("patience")),
                    c.number("min_delta"), c.str("mode"), c.boolean("restore_best_weights"));
                return Value::object(std::make_shared<CallbackObject>("EarlyStopping", cb));
              });

  // ---- datasets
  // ------------------------------------------------------------------------------------
  add_builtin(r, "fashion_mnist(train_limit=None, test_limit=None, dir=None, normalize=True)",
              "Fashion-MNIST from the Debian package dataset-fashion-mnist: x_train f32 "
              "[60000, 28, 28] in [0, 1], y_train i32 [60000], x_test, y_test, classes.",
              [](Call& c) {
                data::FashionMnistOptions o;
                o.train_limit = c.opt_integer("train_limit").value_or(-1);
                o.test_limit = c.opt_integer("test_limit").value_or(-1);
                o.dir = c.opt_str("dir").value_or("");
                o.normalize = c.boolean("normalize");
                return Value::object(
                    std::make_shared<DatasetObject>("fashion_mnist", data::load_fashion_mnist(o)));
              });
}

}  // namespace soma::script
