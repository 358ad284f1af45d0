#include "frontend/script/nn_objects.h"

#include <algorithm>
#include <sstream>

#include "frontend/script/array_format.h"
#include "frontend/script/session.h"

namespace soma::script {

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

Value logs_value(const nn::Logs& logs) {
  if (logs.items().size() == 1) return Value::number(logs.items()[0].second);
  std::vector<Value> out;
  for (auto& [k, v] : logs.items()) out.push_back(Value::number(v));
  return Value::list(std::move(out));
}

namespace {

class LogsObject : public TableObject {
 public:
  explicit LogsObject(nn::Logs logs) : logs_(std::move(logs)) {
    method("keys()", "The names logged: loss, the metrics, val_... .", [this](Call&) {
      std::vector<std::string> k;
      for (auto& [n, v] : logs_.items()) k.push_back(n);
      return str_list(k);
    });
  }
  std::string type_name() const override { return "Logs"; }
  std::string repr() const override {
    std::string s = "{";
    for (auto& [n, v] : logs_.items())
      s += (s.size() > 1 ? ", '" : "'") + n + "': " + python_float(v);
    return s + "}";
  }
  std::optional<Value> index(const Value& key) override {
    if (!key.is_str()) return std::nullopt;
    return Value::number(logs_.at(key.as_str()));
  }

 private:
  nn::Logs logs_;
};

}  // namespace

Value logs_object(const nn::Logs& logs) {
  return Value::object(std::make_shared<LogsObject>(logs));
}

// ---- TableObject --------------------------------------------------------------------------------

std::optional<Value> TableObject::attr(const std::string& name) {
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

bool TableObject::set_attr(const std::string& name, const Value& v) {
  for (auto& [n, set] : setters_)
    if (n == name) {
      set(v);
      return true;
    }
  return false;
}

std::vector<std::string> TableObject::settable_attrs() const {
  std::vector<std::string> out;
  for (auto& [n, set] : setters_) out.push_back(n);
  return out;
}

void TableObject::setter(const std::string& name, std::function<void(const Value&)> set) {
  setters_.emplace_back(name, std::move(set));
}

std::vector<std::string> TableObject::attr_names() const {
  std::vector<std::string> out;
  for (auto& [n, get] : attrs_)
    if (n.rfind("__", 0) != 0) out.push_back(n);
  return out;
}

void TableObject::value(const std::string& name, std::function<Value()> get) {
  attrs_.emplace_back(name, std::move(get));
}

void TableObject::method(const std::string& signature, const std::string& doc,
                         std::function<Value(Call&)> body) {
  FunctionPtr f = make_function(signature, doc, std::move(body));
  attrs_.emplace_back(f->name, [f] { return Value::function(f); });
}

// ---- optimizers, losses -------------------------------------------------------------------------

OptimizerObject::OptimizerObject(nn::OptimizerPtr opt) : opt_(std::move(opt)) {
  value("name", [this] { return Value::str(opt_->name()); });
  value("learning_rate", [this] { return Value::number(opt_->learning_rate()); });
  value("lr", [this] { return Value::number(opt_->learning_rate()); });
  for (const char* n : {"learning_rate", "lr"})
    setter(n, [this, n](const Value& v) {
      if (!v.is_number() || v.is_bool())
        SOMA_THROW(TypeError, n << " must be a number, got " << v.a_type_name());
      opt_->set_learning_rate(v.as_number());
    });
  method("set_learning_rate(lr)", "Sets the learning rate (applied from the next step).",
         [this](Call& c) {
           opt_->set_learning_rate(c.number("lr"));
           return Value::none();
         });
}

std::string OptimizerObject::repr() const {
  std::ostringstream os;
  os << "<" << opt_->name();
  for (auto& [k, v] : opt_->config()) os << " " << k << "=" << python_float(v);
  os << ">";
  return os.str();
}

LossObject::LossObject(nn::LossPtr loss) : loss_(std::move(loss)) {
  value("name", [this] { return Value::str(loss_->name()); });
}

// ---- layers -------------------------------------------------------------------------------------

LayerObject::LayerObject(nn::LayerPtr layer) : layer_(std::move(layer)) {
  value("name", [this] { return Value::str(layer_->name()); });
  value("class_name", [this] { return Value::str(layer_->class_name()); });
  value("built", [this] { return Value::boolean(layer_->built()); });
  value("weights", [this] { return weights(); });
  method("get_weights()", "The layer's weights as arrays (copies).",
         [this](Call&) { return weights(); });
  method("count_params()", "The number of weight elements.",
         [this](Call&) { return Value::integer(layer_->count_params()); });
  method("__call__(inputs)",
         "Calls the layer on Input(...) tensors (a list for merge layers): a functional model's "
         "step.",
         [this](Call& c) { return call_layer_symbolically(c, layer_); });
}

std::string LayerObject::repr() const {
  std::string s = std::string("<").append(layer_->class_name());
  if (!layer_->name().empty()) s += " '" + layer_->name() + "'";
  for (auto& [k, v] : layer_->config())  // the arguments that say what it computes
    if (k != "name" && k.find("initializer") == std::string::npos && k != "use_bias")
      s += " " + k + "=" + v;
  return s + ">";
}

Value LayerObject::weights() {
  std::vector<Value> out;
  for (const nn::Weight& w : layer_->weights())
    if (w.tensor.defined() && w.tensor.context().params().has(w.name))
      out.push_back(Value::array(w.tensor.context().params().get(w.name).clone()));
  return Value::list(std::move(out));
}

Value layer_value(nn::LayerPtr l) {
  return Value::object(std::make_shared<LayerObject>(std::move(l)));
}

// ---- argument conversions -----------------------------------------------------------------------

nn::OptimizerPtr optimizer_of(Call& c, const std::string& p) {
  const Value& v = c[p];
  if (v.is_str()) return nn::get_optimizer(v.as_str());
  if (v.is_object())
    if (auto* o = dynamic_cast<OptimizerObject*>(v.as_object().get())) return o->get();
  c.type_error(p, "an optimizer (SGD(...), Adam(...), RMSprop(...)) or its name");
}

namespace {

// f(y_true, y_pred) of a script function, called while the model builds its graph: a tensor
// (`what` names the role in errors).
class TensorFunction {
 public:
  TensorFunction(Session& s, FunctionPtr f, Location loc, std::string what)
      : s_(s), f_(std::move(f)), loc_(std::move(loc)), what_(std::move(what)) {}
  const std::string& name() const { return f_->name; }
  Tensor operator()(const Tensor& y_true, const Tensor& y_pred) const {
    return call({y_true, y_pred}, "y_true and y_pred");
  }
  Tensor operator()(const Tensor& x) const { return call({x}, "its argument"); }
  const Location& loc() const { return loc_; }

 private:
  Tensor call(const std::vector<Tensor>& args, const std::string& from) const {
    std::vector<Value> vs;
    for (const Tensor& t : args) vs.push_back(Value::tensor(t));
    Value v = s_.call_in_context(args.back().context_ptr(), f_, std::move(vs), loc_);
    if (!v.is_tensor())
      throw ScriptError(loc_, what_ + " " + f_->name + "() returned " + v.a_type_name() +
                                  ", not a tensor computed from " + from);
    return v.as_tensor();
  }

  Session& s_;
  FunctionPtr f_;
  Location loc_;
  std::string what_;
};

// A loss written as a script function: a per-sample result is averaged over the batch, as Keras
// does.
class ScriptLoss : public nn::Loss {
 public:
  ScriptLoss(Session& s, FunctionPtr f, Location loc)
      : f_(s, std::move(f), std::move(loc), "loss") {}
  std::string name() const override { return f_.name(); }
  bool is_custom() const override { return true; }
  Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor&,
                 const std::string&) const override {
    Tensor t = f_(y_true, y_pred);
    if (!is_float(t.dtype()))
      throw ScriptError(f_.loc(), "loss " + f_.name() + "() returned " + t.type().str() +
                                      "; a loss must be a float tensor");
    return t.rank() == 0 ? t : mean(t);
  }
  void check_labels(const TensorType&, const TensorType&) const override {}

 private:
  TensorFunction f_;
};

// A metric written as a script function, logged under the function's name: its batch value is
// the mean of what it returns, averaged over the epoch like Keras's.
class ScriptMetric : public nn::Metric {
 public:
  ScriptMetric(Session& s, FunctionPtr f, Location loc)
      : f_(s, std::move(f), std::move(loc), "metric") {}
  std::string name() const override { return f_.name(); }
  Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor&,
                 const std::string&) const override {
    Tensor t = f_(y_true, y_pred);
    if (t.dtype() != DType::f32) t = cast(t, DType::f32);
    return t.rank() == 0 ? t : mean(t);
  }

 private:
  TensorFunction f_;
};

}  // namespace

nn::LayerPtr lambda_of(Call& c, const std::string& p, const std::string& name) {
  const Value& v = c[p];
  if (!v.is_function()) c.type_error(p, "a function f(x) that returns a tensor");
  TensorFunction f(c.session(), v.as_function(), c.loc_of(p), "Lambda function");
  return std::make_shared<nn::Lambda>([f](const Tensor& x) { return f(x); }, f.name(), name);
}

nn::CustomObjects custom_objects_of(Call& c, const std::string& p) {
  nn::CustomObjects out;
  if (c.is_none(p)) return out;
  for (const Value& v : c.list(p)) {
    if (!v.is_function()) c.type_error(p, "a list of functions (those the saved model names)");
    const FunctionPtr& f = v.as_function();
    TensorFunction tf(c.session(), f, c.loc_of(p), "Lambda function");
    out.functions[f->name] = [tf](const Tensor& x) { return tf(x); };
    out.losses[f->name] = std::make_shared<ScriptLoss>(c.session(), f, c.loc_of(p));
  }
  return out;
}

nn::LossPtr loss_of(Call& c, const std::string& p) {
  const Value& v = c[p];
  if (v.is_str()) return nn::get_loss(v.as_str());
  if (v.is_function())
    return std::make_shared<ScriptLoss>(c.session(), v.as_function(), c.loc_of(p));
  if (v.is_object())
    if (auto* o = dynamic_cast<LossObject*>(v.as_object().get())) return o->get();
  c.type_error(p,
               "a loss name (\"sparse_categorical_crossentropy\", \"mse\", ...), a loss or a "
               "function f(y_true, y_pred)");
}

MetricLists metrics_of(Call& c, const std::string& p, size_t outputs) {
  MetricLists out;
  out.names.resize(outputs);
  out.own.resize(outputs);
  if (c.is_none(p)) return out;
  std::vector<Value> items = c.list(p);
  out.per_output =
      std::any_of(items.begin(), items.end(), [](const Value& v) { return v.is_list(); });
  if (out.per_output && items.size() != outputs)
    c.value_error(p, "a list of lists gives each output its metrics: the model has " +
                         std::to_string(outputs) + " output" + (outputs == 1 ? "" : "s") +
                         ", the list " + std::to_string(items.size()));
  const std::string what = "a list of metric names and functions f(y_true, y_pred)" +
                           std::string(outputs > 1 ? ", or one such list per output" : "");
  auto add = [&](const Value& v, size_t j) {
    if (!v.is_str() && !v.is_function()) c.type_error(p, what);
    const std::string name = v.is_str() ? v.as_str() : v.as_function()->name;
    bool twice = std::find(out.names[j].begin(), out.names[j].end(), name) != out.names[j].end();
    for (const nn::MetricPtr& m : out.own[j]) twice = twice || m->name() == name;
    if (twice) c.value_error(p, "metric '" + name + "' is listed twice");
    if (v.is_str())
      out.names[j].push_back(name);
    else
      out.own[j].push_back(
          std::make_shared<ScriptMetric>(c.session(), v.as_function(), c.loc_of(p)));
  };
  for (size_t i = 0; i < items.size(); ++i) {
    if (!out.per_output) {
      add(items[i], 0);
      continue;
    }
    if (items[i].is_none()) continue;
    if (items[i].is_list()) {
      for (const Value& v : items[i].as_list()) add(v, i);
    } else {
      add(items[i], i);
    }
  }
  if (!out.per_output)
    for (size_t j = 1; j < outputs; ++j) out.names[j] = out.names[0];
  return out;
}

nn::LayerPtr layer_of(Call& c, const std::string& p) {
  const Value& v = c[p];
  if (v.is_object())
    if (auto* l = dynamic_cast<LayerObject*>(v.as_object().get())) return l->get();
  c.type_error(p, "a layer (Dense(...), Conv2D(...), ...)");
}

}  // namespace soma::script
