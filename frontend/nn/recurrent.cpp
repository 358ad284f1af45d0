#include "frontend/nn/recurrent.h"

#include <vector>

#include "frontend/context.h"
#include "frontend/nn/activations.h"
#include "frontend/nn/config_util.h"
#include "frontend/nn/layer_registry.h"
#include "frontend/nn/model_util.h"

namespace soma::nn {

using namespace detail;

namespace {

// Columns [k * units, (k + 1) * units) of the last axis: gate k of a gate block.
Tensor gate(const Tensor& z, int k, int64_t units) {
  return index(z, {Ellipsis{}, Slice{k * units, (k + 1) * units, std::nullopt}});
}

// Checks x [N, T, F] and the weights of `gates` gate blocks; returns units.
int64_t check_shapes(const char* fn, const Tensor& x, const Tensor& kernel,
                     const Tensor& recurrent_kernel, const Tensor& bias, int gates,
                     const Shape& bias_shape_per_unit) {
  if (x.rank() != 3 || x.shape()[1] < 1)
    SOMA_THROW(ShapeError, fn << ": needs inputs [batch, time, features] with at least one time "
                                 "step, got "
                              << x.type().str());
  Shape ks = kernel.shape(), rs = recurrent_kernel.shape();
  if (rs.rank() != 2 || rs[1] != gates * rs[0])
    SOMA_THROW(ShapeError, fn << ": recurrent_kernel must be [units, " << gates << " * units], got "
                              << recurrent_kernel.type().str());
  int64_t units = rs[0];
  if (ks.rank() != 2 || ks[0] != x.shape()[2] || ks[1] != gates * units)
    SOMA_THROW(ShapeError, fn << ": kernel must be [" << x.shape()[2] << ", " << gates * units
                              << "] for inputs " << x.type().str() << " and " << units
                              << " units, got " << kernel.type().str());
  if (bias.defined()) {
    std::vector<int64_t> want = bias_shape_per_unit.dims();
    want.back() *= units;
    if (bias.shape() != Shape(want))
      SOMA_THROW(ShapeError,
                 fn << ": bias must be " << Shape(want).str() << ", got " << bias.type().str());
  }
  return units;
}

// x_t @ kernel (+ bias) for every step, in processing order (reversed for go_backwards): one
// matmul over all steps, then a slice per step.
std::vector<Tensor> project(const Tensor& x, const Tensor& kernel, const Tensor& bias,
                            bool backwards) {
  Tensor xw = matmul(x, kernel);
  if (bias.defined()) xw = xw + bias;
  int64_t steps = x.shape()[1];
  std::vector<Tensor> out;
  for (int64_t i = 0; i < steps; ++i)
    out.push_back(index(xw, {Slice{}, backwards ? steps - 1 - i : i}));
  return out;
}

Tensor finish(const std::vector<Tensor>& states, bool return_sequences) {
  return return_sequences ? stack(states, 1) : states.back();
}

}  // namespace

// ---- the recurrences ----------------------------------------------------------------------------

Tensor simple_rnn(const Tensor& x, const Tensor& kernel, const Tensor& recurrent_kernel,
                  const Tensor& bias, const RNNOptions& o) {
  check_shapes("simple_rnn", x, kernel, recurrent_kernel, bias, 1, Shape{1});
  std::vector<Tensor> xs = project(x, kernel, bias, o.go_backwards), hs;
  Tensor h;
  for (size_t t = 0; t < xs.size(); ++t) {
    // The state starts at zero, so the first step has no recurrent term.
    h = activation(o.activation, t == 0 ? xs[t] : xs[t] + matmul(h, recurrent_kernel));
    hs.push_back(h);
  }
  return finish(hs, o.return_sequences);
}

Tensor lstm(const Tensor& x, const Tensor& kernel, const Tensor& recurrent_kernel,
            const Tensor& bias, const RNNOptions& o) {
  int64_t u = check_shapes("lstm", x, kernel, recurrent_kernel, bias, 4, Shape{4});
  std::vector<Tensor> xs = project(x, kernel, bias, o.go_backwards), hs;
  const std::string &act = o.activation, &ract = o.recurrent_activation;
  Tensor h, c;
  for (size_t t = 0; t < xs.size(); ++t) {
    Tensor z = t == 0 ? xs[t] : xs[t] + matmul(h, recurrent_kernel);
    Tensor i = activation(ract, gate(z, 0, u));
    Tensor candidate = i * activation(act, gate(z, 2, u));
    c = t == 0 ? candidate : activation(ract, gate(z, 1, u)) * c + candidate;
    h = activation(ract, gate(z, 3, u)) * activation(act, c);
    hs.push_back(h);
  }
  return finish(hs, o.return_sequences);
}

Tensor gru(const Tensor& x, const Tensor& kernel, const Tensor& recurrent_kernel,
           const Tensor& bias, const RNNOptions& o) {
  int64_t u = check_shapes("gru", x, kernel, recurrent_kernel, bias, 3,
                           o.reset_after ? Shape{2, 3} : Shape{3});
  const std::string &act = o.activation, &ract = o.recurrent_activation;
  std::vector<Tensor> hs;
  Tensor h;
  if (o.reset_after) {
    // Separate input and recurrent biases: the reset gate scales (h @ U_h + b_rh).
    Tensor b_in, b_rec;
    if (bias.defined()) {
      b_in = index(bias, {int64_t{0}});
      b_rec = index(bias, {int64_t{1}});
    }
    std::vector<Tensor> xs = project(x, kernel, b_in, o.go_backwards);
    for (size_t t = 0; t < xs.size(); ++t) {
      Tensor rec = t == 0 ? b_rec
                          : (b_rec.defined() ? matmul(h, recurrent_kernel) + b_rec
                                             : matmul(h, recurrent_kernel));
      Tensor xz = gate(xs[t], 0, u), xr = gate(xs[t], 1, u), xh = gate(xs[t], 2, u);
      Tensor z = activation(ract, rec.defined() ? xz + gate(rec, 0, u) : xz);
      Tensor hh;
      if (rec.defined()) {
        Tensor r = activation(ract, xr + gate(rec, 1, u));
        hh = activation(act, xh + r * gate(rec, 2, u));
      } else {
        hh = activation(act, xh);  // h_0 = 0 and no bias: the reset gate scales zero
      }
      h = t == 0 ? (1.0 - z) * hh : z * h + (1.0 - z) * hh;
      hs.push_back(h);
    }
  } else {
    // One bias; the reset gate scales the state before the recurrent matmul of the h block.
    std::vector<Tensor> xs = project(x, kernel, bias, o.go_backwards);
    Tensor u_zr = index(recurrent_kernel, {Slice{}, Slice{0, 2 * u, std::nullopt}});
    Tensor u_h = gate(recurrent_kernel, 2, u);
    for (size_t t = 0; t < xs.size(); ++t) {
      Tensor xz = gate(xs[t], 0, u), xr = gate(xs[t], 1, u), xh = gate(xs[t], 2, u);
      if (t == 0) {
        Tensor z = activation(ract, xz);
        h = (1.0 - z) * activation(act, xh);
      } else {
        Tensor rz = matmul(h, u_zr);
        Tensor z = activation(ract, xz + gate(rz, 0, u));
        Tensor r = activation(ract, xr + gate(rz, 1, u));
        Tensor hh = activation(act, xh + matmul(r * h, u_h));
        h = z * h + (1.0 - z) * hh;
      }
      hs.push_back(h);
    }
  }
  return finish(hs, o.return_sequences);
}

// ---- the layers ---------------------------------------------------------------------------------

RecurrentLayer::RecurrentLayer(int64_t units, RNNOptions options, int gates, const std::string& cls)
    : Layer(options.name, options.seed),
      units_(units),
      options_(std::move(options)),
      gates_(gates) {
  if (units < 1) SOMA_THROW(ValueError, cls << ": units must be positive, got " << units);
  check_activation(options_.activation);
  if (gates > 1) check_activation(options_.recurrent_activation);
  if (!options_.name.empty()) set_name(options_.name);
}

LayerConfig RecurrentLayer::config() const {
  LayerConfig c = Layer::config();
  c["units"] = fmt_int(units_);
  c["activation"] = options_.activation;
  if (gates_ > 1) c["recurrent_activation"] = options_.recurrent_activation;
  c["use_bias"] = fmt_bool(options_.use_bias);
  c["kernel_initializer"] = options_.kernel_initializer;
  c["recurrent_initializer"] = options_.recurrent_initializer;
  c["bias_initializer"] = options_.bias_initializer;
  if (gates_ == 4) c["unit_forget_bias"] = fmt_bool(options_.unit_forget_bias);
  if (gates_ == 3) c["reset_after"] = fmt_bool(options_.reset_after);
  c["return_sequences"] = fmt_bool(options_.return_sequences);
  c["go_backwards"] = fmt_bool(options_.go_backwards);
  return c;
}

void RecurrentLayer::build_weights(const TensorType& input, uint64_t seed) {
  if (!is_float(input.dtype))
    SOMA_THROW(TypeError, class_name() << " layer '" << name() << "' needs float inputs, got "
                                       << dtype_name(input.dtype)
                                       << " (token ids go through an Embedding first)");
  if (input.shape.rank() != 3 || input.shape[1] < 1)
    SOMA_THROW(ShapeError, class_name()
                               << " layer '" << name()
                               << "' needs inputs [batch, time, features] with at least one "
                                  "time step, got inputs of shape "
                               << keras_shape(Shape(sample_dims(input.shape)))
                               << " (an Embedding gives [batch, time, output_dim]; "
                                  "Reshape([time, features]) shapes flat samples)");
  int64_t features = input.shape[2], k = gates_ * units_;
  kernel_ = add_weight("kernel", {features, k}, options_.kernel_initializer, seed);
  recurrent_kernel_ =
      add_weight("recurrent_kernel", {units_, k}, options_.recurrent_initializer, seed);
  if (!options_.use_bias) return;
  bool two_biases = gates_ == 3 && options_.reset_after;
  bias_ = add_weight("bias", two_biases ? Shape{2, k} : Shape{k}, options_.bias_initializer, seed);
  if (gates_ == 4 && options_.unit_forget_bias) {
    Array b = Context::current()->params().get(name() + "/bias").clone();
    for (int64_t i = units_; i < 2 * units_; ++i) b.set(i, 1.0);
    Context::current()->params().assign(name() + "/bias", b);
  }
}

SimpleRNN::SimpleRNN(int64_t units, RNNOptions options)
    : RecurrentLayer(units, std::move(options), 1, "SimpleRNN") {}

Tensor SimpleRNN::call(const Tensor& x, CallContext& ctx) {
  ctx.logits = Tensor();
  return simple_rnn(x, kernel_, recurrent_kernel_, bias_, options_);
}

LSTM::LSTM(int64_t units, RNNOptions options)
    : RecurrentLayer(units, std::move(options), 4, "LSTM") {}

Tensor LSTM::call(const Tensor& x, CallContext& ctx) {
  ctx.logits = Tensor();
  return lstm(x, kernel_, recurrent_kernel_, bias_, options_);
}

GRU::GRU(int64_t units, RNNOptions options) : RecurrentLayer(units, std::move(options), 3, "GRU") {}

Tensor GRU::call(const Tensor& x, CallContext& ctx) {
  ctx.logits = Tensor();
  return gru(x, kernel_, recurrent_kernel_, bias_, options_);
}

// ---- from config --------------------------------------------------------------------------------

namespace detail {

namespace {

LayerPtr recurrent_from_config(const std::string& cls, const LayerConfig& c) {
  std::vector<std::string> keys{"units",
                                "activation",
                                "use_bias",
                                "kernel_initializer",
                                "recurrent_initializer",
                                "bias_initializer",
                                "return_sequences",
                                "go_backwards"};
  if (cls != "SimpleRNN") keys.push_back("recurrent_activation");
  if (cls == "LSTM") keys.push_back("unit_forget_bias");
  if (cls == "GRU") keys.push_back("reset_after");
  cfg_check_keys(c, cls, keys);
  if (!c.count("units")) SOMA_THROW(ValueError, cls << ": missing argument 'units'");
  RNNOptions o;
  o.activation = cfg_str(c, "activation", o.activation);
  o.recurrent_activation = cfg_str(c, "recurrent_activation", o.recurrent_activation);
  o.use_bias = cfg_bool(c, cls, "use_bias", o.use_bias);
  o.kernel_initializer = cfg_str(c, "kernel_initializer", o.kernel_initializer);
  o.recurrent_initializer = cfg_str(c, "recurrent_initializer", o.recurrent_initializer);
  o.bias_initializer = cfg_str(c, "bias_initializer", o.bias_initializer);
  o.unit_forget_bias = cfg_bool(c, cls, "unit_forget_bias", o.unit_forget_bias);
  o.reset_after = cfg_bool(c, cls, "reset_after", o.reset_after);
  o.return_sequences = cfg_bool(c, cls, "return_sequences", o.return_sequences);
  o.go_backwards = cfg_bool(c, cls, "go_backwards", o.go_backwards);
  o.name = cfg_str(c, "name", "");
  o.seed = cfg_seed(c, cls);
  int64_t units = cfg_int(c, cls, "units", 0);
  if (cls == "SimpleRNN") return std::make_shared<SimpleRNN>(units, o);
  if (cls == "LSTM") return std::make_shared<LSTM>(units, o);
  return std::make_shared<GRU>(units, o);
}

}  // namespace

void add_recurrent_layers(std::vector<LayerKind>& kinds) {
  kinds.push_back({"SimpleRNN", {}, "simple_rnn", recurrent_from_config});
  kinds.push_back({"LSTM", {}, "lstm", recurrent_from_config});
  kinds.push_back({"GRU", {}, "gru", recurrent_from_config});
}

}  // namespace detail

}  // namespace soma::nn
