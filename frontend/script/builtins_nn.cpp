// Keras-style built-ins: layers, optimizers, losses, callbacks and datasets, bound to frontend/nn
// and frontend/data with Keras's argument names (models: builtins_models.cpp).
#include "frontend/data/fashion_mnist.h"
#include "frontend/nn/callbacks.h"
#include "frontend/nn/layers.h"
#include "frontend/nn/merge.h"
#include "frontend/nn/recurrent.h"
#include "frontend/script/builtins.h"
#include "frontend/script/nn_objects.h"
#include "frontend/script/session.h"

namespace soma::script {

namespace {

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

double lr_arg(Call& c) {
  return c.is_none("learning_rate") ? c.number("lr") : c.number("learning_rate");
}
double alias(Call& c, const std::string& keras, const std::string& soma) {
  return c.is_none(keras) ? c.number(soma) : c.number(keras);
}

// A layer's built-in: Keras's input_shape= (without the batch axis) is accepted by every layer;
// on the first layer of a Sequential model it builds the model.
void add_layer(Registry& r, std::string signature, const std::string& doc,
               std::function<Value(Call&)> make) {
  signature.insert(signature.size() - 1, ", input_shape=None");
  add_builtin(r, signature, doc, [make = std::move(make)](Call& c) {
    Value v = make(c);
    if (!c.is_none("input_shape"))
      std::dynamic_pointer_cast<LayerObject>(v.as_object())
          ->get()
          ->set_input_shape(c.shape("input_shape"));
    return v;
  });
}

}  // namespace

void register_nn_builtins(Registry& r) {
  // ---- layers
  // --------------------------------------------------------------------------------------
  add_layer(r,
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
  add_layer(r,
            "Conv2D(filters, kernel_size, strides=1, padding='valid', data_format=None, "
            "activation=None, use_bias=True, dilation_rate=1, "
            "kernel_initializer='glorot_uniform', bias_initializer='zeros', name=None, "
            "seed=None)",
            "A 2-D convolution over NCHW images, or NHWC with data_format='channels_last' "
            "(OIHW kernel).",
            [](Call& c) {
              nn::Conv2DOptions o;
              o.strides = c.pair("strides");
              o.padding = c.str("padding");
              if (!c.is_none("data_format")) o.data_format = c.str("data_format");
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
    add_layer(r, n + "(pool_size=2, strides=None, padding='valid', data_format=None, name=None)",
              is_max ? "Max pooling over NCHW (or channels_last NHWC) images."
                     : "Average pooling over NCHW (or channels_last NHWC) images.",
              [is_max](Call& c) {
                nn::Pool2DOptions o;
                if (!c.is_none("strides")) o.strides = c.pair("strides");
                o.padding = c.str("padding");
                if (!c.is_none("data_format")) o.data_format = c.str("data_format");
                o.name = name_arg(c);
                if (is_max)
                  return layer_value(std::make_shared<nn::MaxPool2D>(c.pair("pool_size"), o));
                return layer_value(std::make_shared<nn::AvgPool2D>(c.pair("pool_size"), o));
              });
  }
  add_layer(r, "Flatten(name=None)", "[N, d1, d2, ...] -> [N, d1*d2*...].",
            [](Call& c) { return layer_value(std::make_shared<nn::Flatten>(name_arg(c))); });
  add_layer(
      r, "Reshape(target_shape, name=None)",
      "[N, ...] -> [N] + target_shape (without the batch axis; one -1 allowed).", [](Call& c) {
        return layer_value(std::make_shared<nn::Reshape>(c.ints("target_shape"), name_arg(c)));
      });
  add_layer(r, "Dropout(rate, seed=None, name=None)",
            "Drops a fraction `rate` of the inputs while training.", [](Call& c) {
              nn::DropoutOptions o;
              o.name = name_arg(c);
              o.seed = seed_arg(c);
              return layer_value(std::make_shared<nn::Dropout>(c.number("rate"), o));
            });
  for (const char* name : {"BatchNorm", "BatchNormalization"}) {
    add_layer(r,
              std::string(name) +
                  "(axis=None, momentum=0.99, epsilon=0.001, center=True, scale=True, "
                  "name=None)",
              "Batch normalization over every axis but `axis` (None: the channels of NCHW "
              "images, the last axis otherwise).",
              [](Call& c) {
                nn::BatchNormOptions o;
                if (!c.is_none("axis")) o.axis = c.integer("axis");
                o.momentum = c.number("momentum");
                o.epsilon = c.number("epsilon");
                o.center = c.boolean("center");
                o.scale = c.boolean("scale");
                o.name = name_arg(c);
                return layer_value(std::make_shared<nn::BatchNorm>(o));
              });
  }
  add_layer(
      r, "Activation(activation, name=None)", "Applies an activation function by name.",
      [](Call& c) {
        return layer_value(std::make_shared<nn::Activation>(c.str("activation"), name_arg(c)));
      });
  add_layer(r, "Rescaling(scale, offset=0.0, name=None)",
            "x * scale + offset: Rescaling(1 / 255) maps images in [0, 255] to [0, 1].",
            [](Call& c) {
              return layer_value(std::make_shared<nn::Rescaling>(c.number("scale"),
                                                                 c.number("offset"), name_arg(c)));
            });
  add_layer(r, "Lambda(function, name=None)",
            "A layer that applies function(x) (a def function of tensor operations; it holds "
            "no weights). A saved model records the function's name: pass the function to "
            "load_model(path, custom_objects=[function]).",
            [](Call& c) { return layer_value(lambda_of(c, "function", name_arg(c))); });
  add_layer(r,
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

  // ---- recurrent layers
  // ----------------------------------------------------------------------------
  auto rnn_options = [](Call& c, bool gates) {
    nn::RNNOptions o;
    o.activation = c.opt_str("activation").value_or("linear");
    if (gates) o.recurrent_activation = c.opt_str("recurrent_activation").value_or("linear");
    o.use_bias = c.boolean("use_bias");
    o.kernel_initializer = c.str("kernel_initializer");
    o.recurrent_initializer = c.str("recurrent_initializer");
    o.bias_initializer = c.str("bias_initializer");
    o.return_sequences = c.boolean("return_sequences");
    o.go_backwards = c.boolean("go_backwards");
    o.name = name_arg(c);
    o.seed = seed_arg(c);
    return o;
  };
  const std::string common =
      "use_bias=True, kernel_initializer='glorot_uniform', recurrent_initializer='orthogonal', "
      "bias_initializer='zeros', return_sequences=False, go_backwards=False, name=None, "
      "seed=None";
  add_layer(r, "SimpleRNN(units, activation='tanh', " + common + ")",
            "A fully connected recurrent layer over [batch, time, features]: h_t = "
            "activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias). Returns the last "
            "state [batch, units], or every state [batch, time, units] with "
            "return_sequences=True.",
            [rnn_options](Call& c) {
              return layer_value(
                  std::make_shared<nn::SimpleRNN>(c.integer("units"), rnn_options(c, false)));
            });
  add_layer(r,
            "LSTM(units, activation='tanh', recurrent_activation='sigmoid', " + common +
                ", unit_forget_bias=True)",
            "Long short-term memory over [batch, time, features] with Keras's gate order "
            "(i, f, c, o) and weight layout. Returns the last state [batch, units], or every "
            "state with return_sequences=True.",
            [rnn_options](Call& c) {
              nn::RNNOptions o = rnn_options(c, true);
              o.unit_forget_bias = c.boolean("unit_forget_bias");
              return layer_value(std::make_shared<nn::LSTM>(c.integer("units"), o));
            });
  add_layer(r,
            "GRU(units, activation='tanh', recurrent_activation='sigmoid', " + common +
                ", reset_after=True)",
            "A gated recurrent unit over [batch, time, features] with Keras's gate order "
            "(z, r, h) and weight layout (reset_after=True: separate input and recurrent "
            "biases).",
            [rnn_options](Call& c) {
              nn::RNNOptions o = rnn_options(c, true);
              o.reset_after = c.boolean("reset_after");
              return layer_value(std::make_shared<nn::GRU>(c.integer("units"), o));
            });

  // ---- merge layers (functional models)
  // ------------------------------------------------------------
  add_builtin(
      r, "Concatenate(axis=-1, name=None)",
      "Joins a list of tensors along `axis` (the last by default): Concatenate()([a, b]).",
      [](Call& c) {
        return layer_value(std::make_shared<nn::Concatenate>(c.integer("axis"), name_arg(c)));
      });
  for (const char* op : {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}) {
    std::string n = op;
    add_builtin(r, n + "(name=None)",
                "Combines a list of tensors of one shape elementwise: " + n + "()([a, b]).",
                [n](Call& c) {
                  return layer_value(std::make_shared<nn::ElementwiseMerge>(n, name_arg(c)));
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
  add_builtin(r, "MeanAbsoluteError()", "The mean absolute error loss.", [](Call&) {
    return Value::object(std::make_shared<LossObject>(std::make_shared<nn::MeanAbsoluteError>()));
  });
  add_builtin(r, "Huber(delta=1.0)",
              "Huber loss: e^2/2 where |e| <= delta, delta (|e| - delta/2) beyond (e = y_pred - "
              "y_true), the mean.",
              [](Call& c) {
                return Value::object(
                    std::make_shared<LossObject>(std::make_shared<nn::Huber>(c.number("delta"))));
              });
  add_builtin(
      r, "KLDivergence()",
      "Kullback-Leibler divergence of the predicted from the true distribution (last axis; "
      "both clipped to [1e-7, 1]).",
      [](Call&) {
        return Value::object(std::make_shared<LossObject>(std::make_shared<nn::KLDivergence>()));
      });
  add_builtin(r, "CosineSimilarity()",
              "Minus the cosine similarity of prediction and label over the last axis: -1 when "
              "they point the same way.",
              [](Call&) {
                return Value::object(
                    std::make_shared<LossObject>(std::make_shared<nn::CosineSimilarity>()));
              });
  auto from_logits = [](Call& c) -> bool { return c.boolean("from_logits"); };
  add_builtin(
      r, "BinaryCrossentropy(from_logits=False)", "Binary cross-entropy.", [from_logits](Call& c) {
        return Value::object(
            std::make_shared<LossObject>(std::make_shared<nn::BinaryCrossentropy>(from_logits(c))));
      });
  add_builtin(r, "SparseCategoricalCrossentropy(from_logits=False)",
              "Cross-entropy with integer class labels.", [from_logits](Call& c) {
                return Value::object(std::make_shared<LossObject>(
                    std::make_shared<nn::SparseCategoricalCrossentropy>(from_logits(c))));
              });
  add_builtin(r, "CategoricalCrossentropy(from_logits=False)",
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
  add_builtin(r,
              "ReduceLROnPlateau(monitor='val_loss', factor=0.1, patience=10, verbose=0, "
              "mode='auto', min_delta=0.0001, cooldown=0, min_lr=0.0)",
              "Multiplies the learning rate by `factor` when `monitor` stops improving for "
              "`patience` epochs (not below min_lr), then waits `cooldown` epochs.",
              [](Call& c) {
                auto cb = std::make_shared<nn::ReduceLROnPlateau>(
                    c.str("monitor"), c.number("factor"), static_cast<int>(c.integer("patience")),
                    c.str("mode"), c.number("min_delta"), static_cast<int>(c.integer("cooldown")),
                    c.number("min_lr"), c.integer("verbose") != 0, &c.session().out());
                return Value::object(std::make_shared<CallbackObject>("ReduceLROnPlateau", cb));
              });
  add_builtin(r,
              "ModelCheckpoint(filepath, monitor='val_loss', verbose=0, save_best_only=False, "
              "save_weights_only=False, mode='auto')",
              "Saves the model (or its weights) after each epoch to filepath, whose {epoch} and "
              "{<logged value>} fields are filled in ({epoch:02d}, {val_loss:.4f}); with "
              "save_best_only, only when `monitor` improved.",
              [](Call& c) {
                auto cb = std::make_shared<nn::ModelCheckpoint>(
                    c.str("filepath"), c.str("monitor"), c.boolean("save_best_only"),
                    c.boolean("save_weights_only"), c.str("mode"), c.integer("verbose") != 0,
                    &c.session().out());
                return Value::object(std::make_shared<CallbackObject>("ModelCheckpoint", cb));
              });
  add_builtin(r, "LearningRateScheduler(schedule, verbose=0)",
              "Sets the learning rate at the start of each epoch to schedule(epoch, lr), a "
              "function of the epoch (from 0) and the current rate.",
              [](Call& c) {
                const Value& f = c["schedule"];
                if (!f.is_function()) c.type_error("schedule", "a function schedule(epoch, lr)");
                Session* s = &c.session();
                FunctionPtr fn = f.as_function();
                Location loc = c.loc_of("schedule");
                bool verbose = c.integer("verbose") != 0;
                auto cb = std::make_shared<nn::LearningRateScheduler>([s, fn, loc, verbose](
                                                                          int epoch, double lr) {
                  Value v = s->call_function(fn, {Value::integer(epoch), Value::number(lr)}, loc);
                  if (!v.is_number() || v.is_bool())
                    throw ScriptError(loc, "schedule " + fn->name + "() returned " +
                                               v.a_type_name() + ", not a learning rate");
                  if (verbose)
                    s->out() << "Epoch " << epoch + 1
                             << ": LearningRateScheduler setting learning rate to " << v.as_number()
                             << ".\n";
                  return v.as_number();
                });
                return Value::object(std::make_shared<CallbackObject>("LearningRateScheduler", cb));
              });
  add_builtin(r, "LambdaCallback(on_epoch_begin=None, on_epoch_end=None, on_batch_end=None)",
              "Calls your functions during fit: on_epoch_begin(epoch), on_epoch_end(epoch, "
              "logs), on_batch_end(batch, logs); logs[\"loss\"] and the metrics' values.",
              [](Call& c) {
                Session* s = &c.session();
                auto fn = [&c](const char* p) -> FunctionPtr {
                  if (c.is_none(p)) return nullptr;
                  if (!c[p].is_function()) c.type_error(p, "a function");
                  return c[p].as_function();
                };
                auto cb = std::make_shared<nn::LambdaCallback>();
                Location loc = c.loc();
                if (FunctionPtr f = fn("on_epoch_begin"))
                  cb->epoch_begin = [s, f, loc](nn::Model&, int epoch) {
                    s->call_function(f, {Value::integer(epoch)}, loc);
                  };
                if (FunctionPtr f = fn("on_epoch_end"))
                  cb->epoch_end = [s, f, loc](nn::Model&, int epoch, const nn::Logs& logs) {
                    s->call_function(f, {Value::integer(epoch), logs_object(logs)}, loc);
                  };
                if (FunctionPtr f = fn("on_batch_end"))
                  cb->batch_end = [s, f, loc](nn::Model&, int64_t batch, const nn::Logs& logs) {
                    s->call_function(f, {Value::integer(batch), logs_object(logs)}, loc);
                  };
                return Value::object(std::make_shared<CallbackObject>("LambdaCallback", cb));
              });
  add_builtin(r, "CSVLogger(filename, separator=',', append=False)",
              "Writes each epoch's logs as a CSV row (epoch, loss, metrics, val_...).",
              [](Call& c) {
                auto cb = std::make_shared<nn::CSVLogger>(c.str("filename"), c.str("separator"),
                                                          c.boolean("append"));
                return Value::object(std::make_shared<CallbackObject>("CSVLogger", cb));
              });
  add_builtin(r, "TerminateOnNaN()",
              "Ends fit without an error at the first batch whose loss is NaN or infinite.",
              [](Call&) {
                auto cb = std::make_shared<nn::TerminateOnNaN>();
                return Value::object(std::make_shared<CallbackObject>("TerminateOnNaN", cb));
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
