// The script objects of the Keras-style built-ins, shared by builtins_nn.cpp (layers, optimizers,
// losses, callbacks, datasets) and builtins_models.cpp (models, symbolic tensors, histories).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "frontend/nn/callbacks.h"
#include "frontend/nn/lambda.h"
#include "frontend/nn/layer.h"
#include "frontend/nn/logs.h"
#include "frontend/nn/losses.h"
#include "frontend/nn/metrics.h"
#include "frontend/nn/optimizers.h"
#include "frontend/script/call.h"
#include "frontend/script/value.h"

namespace soma::script {

Value float_list(const std::vector<double>& v);
Value str_list(const std::vector<std::string>& v);
// [None, 28, 28] (batch_axis) or [28, 28].
Value shape_list(const Shape& s, bool batch_axis);
// A Logs as Keras returns it: one float, or a list of floats.
Value logs_value(const nn::Logs& logs);
// A Logs as callbacks see it: logs["loss"], logs["val_accuracy"], ...
Value logs_object(const nn::Logs& logs);

// An object whose attributes are a fixed table of getters (values and bound methods).
class TableObject : public Object {
 public:
  std::optional<Value> attr(const std::string& name) override;
  std::vector<std::string> attr_names() const override;
  bool set_attr(const std::string& name, const Value& v) override;
  std::vector<std::string> settable_attrs() const override;

 protected:
  void value(const std::string& name, std::function<Value()> get);
  // Makes attribute `name` settable by `obj.name = v`.
  void setter(const std::string& name, std::function<void(const Value&)> set);
  void method(const std::string& signature, const std::string& doc,
              std::function<Value(Call&)> body);

 private:
  std::vector<std::pair<std::string, std::function<Value()>>> attrs_;
  std::vector<std::pair<std::string, std::function<void(const Value&)>>> setters_;
};

class OptimizerObject : public TableObject {
 public:
  explicit OptimizerObject(nn::OptimizerPtr opt);
  std::string type_name() const override { return opt_->name(); }
  std::string repr() const override;
  const nn::OptimizerPtr& get() const { return opt_; }

 private:
  nn::OptimizerPtr opt_;
};

class LossObject : public TableObject {
 public:
  explicit LossObject(nn::LossPtr loss);
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

// A layer. Calling it on Input(...) tensors (or a list of them, for merge layers) records a
// call of a functional model: `h = Dense(64)(x)`.
class LayerObject : public TableObject {
 public:
  explicit LayerObject(nn::LayerPtr layer);
  std::string type_name() const override { return layer_->class_name(); }
  std::string repr() const override;
  const nn::LayerPtr& get() const { return layer_; }

 private:
  Value weights();
  nn::LayerPtr layer_;
};

Value layer_value(nn::LayerPtr l);
// Argument conversions of the model built-ins.
nn::OptimizerPtr optimizer_of(Call& c, const std::string& p);
nn::LossPtr loss_of(Call& c, const std::string& p);
// compile's metrics: a list of names and functions f(y_true, y_pred) (metrics named after them)
// for every output, or Keras's list of lists, one per output (an item may be a single metric or
// None). Names and functions listed twice for one output are an error here, before the model
// changes.
struct MetricLists {
  std::vector<std::vector<std::string>> names;  // per output
  std::vector<std::vector<nn::MetricPtr>> own;  // per output (flat form: in own[0], for all)
  bool per_output = false;
};
MetricLists metrics_of(Call& c, const std::string& p, size_t outputs);
nn::LayerPtr layer_of(Call& c, const std::string& p);
// A Lambda layer of the script function in argument `p` (f(x) -> a tensor built from x).
nn::LayerPtr lambda_of(Call& c, const std::string& p, const std::string& name);
// load_model's custom_objects=[f, g]: each function, by its name, as a Lambda layer's function
// and as a loss (whichever the saved model asks for).
nn::CustomObjects custom_objects_of(Call& c, const std::string& p);

// What builtins_models.cpp gives the layer objects: a symbolic tensor's script value for a layer
// call (`layer(x)`), or a ScriptError saying what the argument should be.
Value call_layer_symbolically(Call& c, const nn::LayerPtr& layer);

}  // namespace soma::script
