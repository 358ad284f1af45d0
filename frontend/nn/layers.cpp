#include "frontend/nn/layers.h"

#include <cmath>
#include <limits>

#include "frontend/nn/activations.h"
#include "frontend/nn/config_util.h"
#include "frontend/nn/layer_registry.h"

namespace soma::nn {

using namespace detail;

namespace {

// activation(z), recording the activation (and z, the logits of a softmax/sigmoid output) for
// the loss.
Tensor activate(const std::string& act, const Tensor& z, CallContext& ctx) {
  ctx.logits_activation = act.empty() || act == "none" ? "linear" : act;
  if (act == "softmax" || act == "sigmoid") ctx.logits = z;
  return activation(act, z);
}

// A layer that only moves elements passes its input's activation and logits on, moved as its
// output was: any move keeps sigmoid(z) elementwise; softmax's rows (the last axis) must stay
// whole.
Tensor moved(const Tensor& x, Tensor out, CallContext& ctx) {
  const std::string& act = ctx.input_activation;
  if (act.empty() || (act == "softmax" && out.shape()[out.rank() - 1] != x.shape()[x.rank() - 1]))
    return out;
  ctx.logits_activation = act;
  if (ctx.input_logits.defined()) ctx.logits = reshape(ctx.input_logits, out.shape().dims());
  return out;
}

void need_float(const TensorType& t, const std::string& cls, const std::string& name) {
  if (!is_float(t.dtype))
    SOMA_THROW(TypeError,
               cls << " layer '" << name << "' needs float inputs, got " << t.str()
                   << (cls == "Dense" ? " (token ids go through an Embedding first)" : ""));
}

void check_data_format(const std::string& f, const std::string& cls) {
  if (!f.empty() && f != "channels_first" && f != "channels_last")
    SOMA_THROW(ValueError, cls << ": data_format must be \"channels_first\" or \"channels_last\", "
                               << "got \"" << f << "\"");
}

bool is_channels_last(const std::string& f) {
  return f == "channels_last";
}

// [N, H, H, C] with C != H: square images with their channels last. Read as NCHW, its rows would
// be channels.
bool looks_channels_last(const Shape& s) {
  return s[1] == s[2] && s[2] != s[3];
}

// An image input of rank 4 in the layer's layout. A layer left at the default layout refuses an
// input that looks channels-last, saying what it assumed and how to say otherwise.
void need_images(const TensorType& t, const std::string& data_format, const std::string& cls,
                 const std::string& name) {
  bool last = is_channels_last(data_format);
  if (t.shape.rank() != 4)
    SOMA_THROW(ShapeError, cls << " layer '" << name << "' needs images of rank 4 ("
                               << (last ? "[N, H, W, C], data_format=\"channels_last\""
                                        : "[N, C, H, W], data_format=\"channels_first\"")
                               << "), got " << t.str() << " (add Reshape("
                               << (last ? "[H, W, C]" : "[C, H, W]") << ") before it)");
  if (data_format.empty() && looks_channels_last(t.shape))
    SOMA_THROW(ShapeError,
               cls << " layer '" << name << "': input " << t.str()
                   << " looks channels-last ([N, H, W, C] with C = " << t.shape[3]
                   << "), but the layer reads channels_first, soma's default ([N, C, H, W]: "
                   << t.shape[1] << " channels of " << t.shape[2] << "x" << t.shape[3]
                   << " images); pass data_format=\"channels_last\" (Keras's default) or, if "
                      "the input is NCHW, data_format=\"channels_first\"");
}

// The layer computes in NCHW: channels-last images go in and come out transposed.
Tensor to_nchw(const Tensor& x, const std::string& f) {
  return is_channels_last(f) ? transpose(x, {0, 3, 1, 2}) : x;
}
Tensor from_nchw(const Tensor& y, const std::string& f) {
  return is_channels_last(f) ? transpose(y, {0, 2, 3, 1}) : y;
}

// The input's shape as NCHW.
Shape nchw_shape(const Shape& s, const std::string& f) {
  return is_channels_last(f) ? Shape{s[0], s[3], s[1], s[2]} : s;
}

void check_padding(const std::string& p, const std::string& cls) {
  if (p != "valid" && p != "same")
    SOMA_THROW(ValueError, cls << ": padding must be \"valid\" or \"same\", got \"" << p << "\"");
}

void check_positive(Pair p, const std::string& cls, const char* what) {
  if (p.first < 1 || p.second < 1)
    SOMA_THROW(ValueError, cls << ": " << what << " must be positive, got [" << p.first << ", "
                               << p.second << "]");
}

// TensorFlow's "same" padding of one spatial axis: (before, after).
std::pair<int64_t, int64_t> same_pad(int64_t size, int64_t k, int64_t stride, int64_t dilation) {
  int64_t out = (size + stride - 1) / stride;
  int64_t eff = (k - 1) * dilation + 1;
  int64_t total = std::max<int64_t>((out - 1) * stride + eff - size, 0);
  return {total / 2, total - total / 2};
}

}  // namespace

// ---- Dense
// ----------------------------------------------------------------------------------------

Dense::Dense(int64_t units, DenseOptions options)
    : Layer(options.name, options.seed), units_(units), options_(std::move(options)) {
  if (units < 1) SOMA_THROW(ValueError, "Dense: units must be positive, got " << units);
  check_activation(options_.activation);
  if (!options_.name.empty()) set_name(options_.name);
}

LayerConfig Dense::config() const {
  LayerConfig c = Layer::config();
  c["units"] = fmt_int(units_);
  c["activation"] = options_.activation;
  c["use_bias"] = fmt_bool(options_.use_bias);
  c["kernel_initializer"] = options_.kernel_initializer;
  c["bias_initializer"] = options_.bias_initializer;
  return c;
}

void Dense::build_weights(const TensorType& input, uint64_t seed) {
  need_float(input, "Dense", name());
  if (input.shape.rank() < 2)
    SOMA_THROW(ShapeError, "Dense layer '" << name()
                                           << "' needs inputs [batch, ..., features], got "
                                           << input.str());
  int64_t in = input.shape[input.shape.rank() - 1];
  kernel_ = add_weight("kernel", {in, units_}, options_.kernel_initializer, seed);
  if (options_.use_bias) bias_ = add_weight("bias", {units_}, options_.bias_initializer, seed);
}

Tensor Dense::call(const Tensor& x, CallContext& ctx) {
  Tensor z = matmul(x, kernel_);
  if (options_.use_bias) z = z + bias_;
  return activate(options_.activation, z, ctx);
}

// ---- Conv2D
// ---------------------------------------------------------------------------------------

Conv2D::Conv2D(int64_t filters, Pair kernel_size, Conv2DOptions options)
    : Layer(options.name, options.seed),
      filters_(filters),
      kernel_size_(kernel_size),
      options_(std::move(options)) {
  if (filters < 1) SOMA_THROW(ValueError, "Conv2D: filters must be positive, got " << filters);
  check_positive(kernel_size, "Conv2D", "kernel_size");
  check_positive(options_.strides, "Conv2D", "strides");
  check_positive(options_.dilation_rate, "Conv2D", "dilation_rate");
  check_padding(options_.padding, "Conv2D");
  check_data_format(options_.data_format, "Conv2D");
  check_activation(options_.activation);
  if (!options_.name.empty()) set_name(options_.name);
}

LayerConfig Conv2D::config() const {
  LayerConfig c = Layer::config();
  c["filters"] = fmt_int(filters_);
  c["kernel_size"] = fmt_pair(kernel_size_);
  c["strides"] = fmt_pair(options_.strides);
  c["padding"] = options_.padding;
  if (!options_.data_format.empty()) c["data_format"] = options_.data_format;
  c["dilation_rate"] = fmt_pair(options_.dilation_rate);
  c["activation"] = options_.activation;
  c["use_bias"] = fmt_bool(options_.use_bias);
  c["kernel_initializer"] = options_.kernel_initializer;
  c["bias_initializer"] = options_.bias_initializer;
  return c;
}

void Conv2D::build_weights(const TensorType& input, uint64_t seed) {
  need_float(input, "Conv2D", name());
  need_images(input, options_.data_format, "Conv2D", name());
  Shape s = nchw_shape(input.shape, options_.data_format);
  int64_t c = s[1];
  if (options_.padding == "valid") {
    for (int a = 0; a < 2; ++a) {
      int64_t k = a == 0 ? kernel_size_.first : kernel_size_.second;
      int64_t d = a == 0 ? options_.dilation_rate.first : options_.dilation_rate.second;
      if ((k - 1) * d + 1 > s[2 + a])
        SOMA_THROW(ShapeError,
                   "Conv2D layer '"
                       << name() << "': kernel " << fmt_pair(kernel_size_) << " is larger than the "
                       << s[2] << "x" << s[3] << " images of the input " << input.str()
                       << " (read as "
                       << (is_channels_last(options_.data_format) ? "channels_last [N, H, W, C]"
                                                                  : "channels_first [N, C, H, W]")
                       << "; padding=\"same\" keeps the size)");
    }
  }
  kernel_ = add_weight("kernel", {filters_, c, kernel_size_.first, kernel_size_.second},
                       options_.kernel_initializer, seed);
  if (options_.use_bias) bias_ = add_weight("bias", {filters_}, options_.bias_initializer, seed);
}

Tensor Conv2D::call(const Tensor& x0, CallContext& ctx) {
  Tensor x = to_nchw(x0, options_.data_format);
  Pair pad_hw{0, 0};
  if (options_.padding == "same") {
    auto ph = same_pad(x.shape()[2], kernel_size_.first, options_.strides.first,
                       options_.dilation_rate.first);
    auto pw = same_pad(x.shape()[3], kernel_size_.second, options_.strides.second,
                       options_.dilation_rate.second);
    if (ph.first == ph.second && pw.first == pw.second) {
      pad_hw = {ph.first, pw.first};
    } else {
      x = pad(x, {{0, 0}, {0, 0}, ph, pw});
    }
  }
  std::optional<Tensor> bias;
  if (options_.use_bias) bias = bias_;
  Tensor z = from_nchw(conv2d(x, kernel_, bias, options_.strides, pad_hw, options_.dilation_rate),
                       options_.data_format);
  return activate(options_.activation, z, ctx);
}

// ---- pooling
// --------------------------------------------------------------------------------------

namespace {

LayerConfig pool_config(LayerConfig c, Pair pool, const Pool2DOptions& o) {
  c["pool_size"] = fmt_pair(pool);
  if (o.strides) c["strides"] = fmt_pair(*o.strides);
  c["padding"] = o.padding;
  if (!o.data_format.empty()) c["data_format"] = o.data_format;
  return c;
}

void pool_check(const TensorType& input, Pair pool, const Pool2DOptions& o, const std::string& cls,
                const std::string& name) {
  need_images(input, o.data_format, cls, name);
  Shape s = nchw_shape(input.shape, o.data_format);
  if (o.padding == "valid" && (pool.first > s[2] || pool.second > s[3]))
    SOMA_THROW(ShapeError, cls << " layer '" << name << "': pool size " << fmt_pair(pool)
                               << " is larger than the input " << input.str());
}

Tensor pool_nchw(const Tensor& x, Pair pool, const Pool2DOptions& o, bool is_max) {
  Pair s = o.strides.value_or(pool);
  if (o.padding == "valid") return is_max ? max_pool2d(x, pool, s) : avg_pool2d(x, pool, s);
  auto ph = same_pad(x.shape()[2], pool.first, s.first, 1);
  auto pw = same_pad(x.shape()[3], pool.second, s.second, 1);
  if (is_max) {
    Tensor xp = pad(x, {{0, 0}, {0, 0}, ph, pw}, -std::numeric_limits<double>::infinity());
    return max_pool2d(xp, pool, s);
  }
  // Average over the valid pixels only: sum of the window / number of valid pixels in it.
  Tensor xp = pad(x, {{0, 0}, {0, 0}, ph, pw});
  Tensor mask =
      pad(ones(Shape{1, 1, x.shape()[2], x.shape()[3]}, x.dtype()), {{0, 0}, {0, 0}, ph, pw});
  return avg_pool2d(xp, pool, s) / avg_pool2d(mask, pool, s);
}

Tensor pool_call(const Tensor& x, Pair pool, const Pool2DOptions& o, bool is_max) {
  return from_nchw(pool_nchw(to_nchw(x, o.data_format), pool, o, is_max), o.data_format);
}

}  // namespace

Pool2D::Pool2D(bool is_max, Pair pool_size, Pool2DOptions options)
    : Layer(options.name), is_max_(is_max), pool_size_(pool_size), options_(std::move(options)) {
  const char* cls = is_max ? "MaxPool2D" : "AvgPool2D";
  check_positive(pool_size, cls, "pool_size");
  if (options_.strides) check_positive(*options_.strides, cls, "strides");
  check_padding(options_.padding, cls);
  check_data_format(options_.data_format, cls);
  if (!options_.name.empty()) set_name(options_.name);
}

LayerConfig Pool2D::config() const {
  return pool_config(Layer::config(), pool_size_, options_);
}

void Pool2D::build_weights(const TensorType& input, uint64_t) {
  if (!is_max_) need_float(input, class_name(), name());
  pool_check(input, pool_size_, options_, class_name(), name());
}

Tensor Pool2D::call(const Tensor& x, CallContext&) {
  return pool_call(x, pool_size_, options_, is_max_);
}

// ---- Flatten, Reshape
// -----------------------------------------------------------------------------

void Flatten::build_weights(const TensorType& input, uint64_t) {
  if (input.shape.rank() < 1)
    SOMA_THROW(ShapeError,
               "Flatten layer '" << name() << "' needs a batch axis, got " << input.str());
}

Tensor Flatten::call(const Tensor& x, CallContext& ctx) {
  return moved(x, reshape(x, {x.shape()[0], -1}), ctx);
}

Reshape::Reshape(std::vector<int64_t> target_shape, std::string name)
    : Layer(name), target_shape_(std::move(target_shape)) {
  int unknown = 0;
  for (int64_t d : target_shape_) {
    if (d == -1) ++unknown;
    if (d < -1 || d == 0)
      SOMA_THROW(ValueError, "Reshape: target_shape " << fmt_list(target_shape_)
                                                      << " must have positive sizes (one -1 "
                                                         "allowed)");
  }
  if (unknown > 1)
    SOMA_THROW(ValueError,
               "Reshape: target_shape " << fmt_list(target_shape_) << " has more than one -1");
  if (!name.empty()) set_name(name);
}

LayerConfig Reshape::config() const {
  LayerConfig c = Layer::config();
  c["target_shape"] = fmt_list(target_shape_);
  return c;
}

void Reshape::build_weights(const TensorType& input, uint64_t) {
  if (input.shape.rank() < 1)
    SOMA_THROW(ShapeError,
               "Reshape layer '" << name() << "' needs a batch axis, got " << input.str());
  int64_t per_sample = 1, known = 1;
  bool has_unknown = false;
  for (int i = 1; i < input.shape.rank(); ++i) per_sample *= input.shape[i];
  for (int64_t d : target_shape_) {
    if (d == -1)
      has_unknown = true;
    else
      known *= d;
  }
  if (has_unknown ? per_sample % known != 0 : per_sample != known) {
    std::vector<int64_t> in(input.shape.dims().begin() + 1, input.shape.dims().end());
    SOMA_THROW(ShapeError, "Reshape layer '" << name() << "': cannot reshape samples of shape "
                                             << fmt_list(in) << " (" << per_sample
                                             << " elements) to " << fmt_list(target_shape_));
  }
}

Tensor Reshape::call(const Tensor& x, CallContext& ctx) {
  std::vector<int64_t> shape{x.shape()[0]};
  shape.insert(shape.end(), target_shape_.begin(), target_shape_.end());
  return moved(x, reshape(x, shape), ctx);
}

// ---- Dropout
// --------------------------------------------------------------------------------------

Dropout::Dropout(double rate, DropoutOptions options)
    : Layer(options.name, options.seed), rate_(rate) {
  if (!(rate >= 0 && rate < 1))
    SOMA_THROW(ValueError, "Dropout: rate must be in [0, 1), got " << rate);
  if (!options.name.empty()) set_name(options.name);
}

LayerConfig Dropout::config() const {
  LayerConfig c = Layer::config();
  c["rate"] = fmt_double(rate_);
  return c;
}

void Dropout::build_weights(const TensorType& input, uint64_t seed) {
  need_float(input, "Dropout", name());
  mask_seed_ = mix_seed(seed, "mask");
}

Tensor Dropout::call(const Tensor& x, CallContext& ctx) {
  if (!ctx.training || rate_ == 0) return x;
  std::optional<Tensor> offset;
  if (ctx.step.defined()) offset = ctx.step;
  return dropout(x, rate_, mask_seed_, offset);
}

// ---- BatchNorm
// ------------------------------------------------------------------------------------

BatchNorm::BatchNorm(BatchNormOptions options) : Layer(options.name), options_(std::move(options)) {
  if (!(options_.momentum >= 0 && options_.momentum <= 1))
    SOMA_THROW(ValueError, "BatchNorm: momentum must be in [0, 1], got " << options_.momentum);
  if (!(options_.epsilon > 0))
    SOMA_THROW(ValueError, "BatchNorm: epsilon must be positive, got " << options_.epsilon);
  if (!options_.name.empty()) set_name(options_.name);
}

LayerConfig BatchNorm::config() const {
  LayerConfig c = Layer::config();
  if (built() || options_.axis) c["axis"] = fmt_int(built() ? axis_ : *options_.axis);
  c["momentum"] = fmt_double(options_.momentum);
  c["epsilon"] = fmt_double(options_.epsilon);
  c["center"] = fmt_bool(options_.center);
  c["scale"] = fmt_bool(options_.scale);
  return c;
}

void BatchNorm::build_weights(const TensorType& input, uint64_t seed) {
  need_float(input, "BatchNorm", name());
  int rank = input.shape.rank();
  if (!options_.axis && rank == 4 && looks_channels_last(input.shape))
    SOMA_THROW(ShapeError, "BatchNorm layer '"
                               << name() << "': input " << input.str()
                               << " looks channels-last, but without an axis soma normalizes "
                                  "axis 1, the channels of NCHW images; pass axis=-1 for "
                                  "channels-last images (Keras's default) or axis=1 for NCHW");
  int64_t want = options_.axis.value_or(rank == 4 ? 1 : -1);
  auto a = normalize_axis(want, rank);
  if (!a || *a == 0)
    SOMA_THROW(ShapeError, "BatchNorm layer '" << name() << "': axis " << want
                                               << " is not a feature axis of " << input.str()
                                               << " (axis 0 is the batch)");
  axis_ = *a;
  int64_t c = input.shape[axis_];
  if (options_.scale) gamma_ = add_weight("gamma", {c}, "ones", seed);
  if (options_.center) beta_ = add_weight("beta", {c}, "zeros", seed);
  moving_mean_ = add_weight("moving_mean", {c}, "zeros", seed, false);
  moving_variance_ = add_weight("moving_variance", {c}, "ones", seed, false);
}

Tensor BatchNorm::call(const Tensor& x, CallContext& ctx) {
  int rank = x.rank();
  int64_t c = x.shape()[axis_];
  std::vector<int64_t> bshape(static_cast<size_t>(rank), 1);
  bshape[static_cast<size_t>(axis_)] = c;
  auto bc = [&](const Tensor& v) { return reshape(v, bshape); };
  Tensor mean_, var_;
  if (ctx.training) {
    std::vector<int64_t> axes;
    for (int i = 0; i < rank; ++i)
      if (i != axis_) axes.push_back(i);
    mean_ = mean(x, axes, true);
    var_ = mean(square(x - mean_), axes, true);
    double m = options_.momentum;
    Tensor bm = stop_gradient(reshape(mean_, {c})), bv = stop_gradient(reshape(var_, {c}));
    ctx.state_updates.emplace_back(moving_mean_, moving_mean_ * m + bm * (1.0 - m));
    ctx.state_updates.emplace_back(moving_variance_, moving_variance_ * m + bv * (1.0 - m));
  } else {
    mean_ = bc(moving_mean_);
    var_ = bc(moving_variance_);
  }
  Tensor y = (x - mean_) * rsqrt(var_ + options_.epsilon);
  if (options_.scale) y = y * bc(gamma_);
  if (options_.center) y = y + bc(beta_);
  return y;
}

// ---- Activation
// -----------------------------------------------------------------------------------

Activation::Activation(std::string activation, std::string name)
    : Layer(name), activation_(std::move(activation)) {
  check_activation(activation_);
  if (!name.empty()) set_name(name);
}

LayerConfig Activation::config() const {
  LayerConfig c = Layer::config();
  c["activation"] = activation_;
  return c;
}

void Activation::build_weights(const TensorType& input, uint64_t) {
  if (!activation_.empty() && activation_ != "linear" && activation_ != "none")
    need_float(input, "Activation", name());
}

Tensor Activation::call(const Tensor& x, CallContext& ctx) {
  return activate(activation_, x, ctx);
}

// ---- Rescaling
// ------------------------------------------------------------------------------------

Rescaling::Rescaling(double scale, double offset, std::string name)
    : Layer(name), scale_(scale), offset_(offset) {
  if (!std::isfinite(scale) || !std::isfinite(offset))
    SOMA_THROW(ValueError, "Rescaling: scale and offset must be finite numbers, not "
                               << scale << " and " << offset);
}

LayerConfig Rescaling::config() const {
  LayerConfig c = Layer::config();
  c["scale"] = fmt_double(scale_);
  c["offset"] = fmt_double(offset_);
  return c;
}

void Rescaling::build_weights(const TensorType& input, uint64_t) {
  need_float(input, "Rescaling", name());
}

Tensor Rescaling::call(const Tensor& x, CallContext&) {
  Tensor y = scale_ == 1 ? x : x * scale_;
  return offset_ == 0 ? y : y + offset_;
}

// ---- Embedding
// ------------------------------------------------------------------------------------

Embedding::Embedding(int64_t input_dim, int64_t output_dim, EmbeddingOptions options)
    : Layer(options.name, options.seed),
      input_dim_(input_dim),
      output_dim_(output_dim),
      options_(std::move(options)) {
  if (input_dim < 1 || output_dim < 1)
    SOMA_THROW(ValueError, "Embedding: input_dim and output_dim must be positive, got "
                               << input_dim << " and " << output_dim);
  if (!options_.name.empty()) set_name(options_.name);
}

LayerConfig Embedding::config() const {
  LayerConfig c = Layer::config();
  c["input_dim"] = fmt_int(input_dim_);
  c["output_dim"] = fmt_int(output_dim_);
  c["embeddings_initializer"] = options_.embeddings_initializer;
  return c;
}

void Embedding::build_weights(const TensorType& input, uint64_t seed) {
  if (input.dtype != DType::i32)
    SOMA_THROW(TypeError,
               "Embedding layer '" << name() << "' needs i32 token ids, got " << input.str());
  embeddings_ =
      add_weight("embeddings", {input_dim_, output_dim_}, options_.embeddings_initializer, seed);
}

Tensor Embedding::call(const Tensor& x, CallContext& ctx) {
  ctx.id_checks.push_back({x, input_dim_, "Embedding layer '" + name() + "'"});
  return embedding(x, embeddings_);
}

// ---- from config
// ----------------------------------------------------------------------------------

namespace {

Pool2DOptions pool_options(const std::string& cls, const LayerConfig& c) {
  Pool2DOptions o;
  if (c.count("strides")) o.strides = cfg_pair(c, cls, "strides", {1, 1});
  o.padding = cfg_str(c, "padding", "valid");
  o.data_format = cfg_str(c, "data_format", "");
  o.name = cfg_str(c, "name", "");
  return o;
}

template <class Pool>
LayerPtr pool_from_config(const std::string& cls, const LayerConfig& c) {
  cfg_check_keys(c, cls, {"pool_size", "strides", "padding", "data_format"});
  return std::make_shared<Pool>(cfg_pair(c, cls, "pool_size", {2, 2}), pool_options(cls, c));
}

// The options Dense and Conv2D share: activation, bias, initializers, name, seed.
template <class Options>
void read_kernel_options(Options& o, const std::string& cls, const LayerConfig& c) {
  o.activation = cfg_str(c, "activation", "");
  o.use_bias = cfg_bool(c, cls, "use_bias", true);
  o.kernel_initializer = cfg_str(c, "kernel_initializer", o.kernel_initializer);
  o.bias_initializer = cfg_str(c, "bias_initializer", o.bias_initializer);
  o.name = cfg_str(c, "name", "");
  o.seed = cfg_seed(c, cls);
}

LayerPtr dense_from_config(const std::string& cls, const LayerConfig& c) {
  cfg_check_keys(c, cls,
                 {"units", "activation", "use_bias", "kernel_initializer", "bias_initializer"});
  if (!c.count("units")) SOMA_THROW(ValueError, "Dense: missing argument 'units'");
  DenseOptions o;
  read_kernel_options(o, cls, c);
  return std::make_shared<Dense>(cfg_int(c, cls, "units", 0), o);
}

LayerPtr conv2d_from_config(const std::string& cls, const LayerConfig& c) {
  cfg_check_keys(c, cls,
                 {"filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
                  "activation", "use_bias", "kernel_initializer", "bias_initializer"});
  if (!c.count("filters") || !c.count("kernel_size"))
    SOMA_THROW(ValueError, "Conv2D: missing argument 'filters' or 'kernel_size'");
  Conv2DOptions o;
  o.strides = cfg_pair(c, cls, "strides", {1, 1});
  o.padding = cfg_str(c, "padding", "valid");
  o.data_format = cfg_str(c, "data_format", "");
  o.dilation_rate = cfg_pair(c, cls, "dilation_rate", {1, 1});
  read_kernel_options(o, cls, c);
  return std::make_shared<Conv2D>(cfg_int(c, cls, "filters", 0),
                                  cfg_pair(c, cls, "kernel_size", {1, 1}), o);
}

LayerPtr reshape_from_config(const std::string& cls, const LayerConfig& c) {
  cfg_check_keys(c, cls, {"target_shape"});
  if (!c.count("target_shape")) SOMA_THROW(ValueError, "Reshape: missing argument 'target_shape'");
  return std::make_shared<Reshape>(cfg_list(c, cls, "target_shape", {}), cfg_str(c, "name", ""));
}

LayerPtr dropout_from_config(const std::string& cls, const LayerConfig& c) {
  cfg_check_keys(c, cls, {"rate"});
  if (!c.count("rate")) SOMA_THROW(ValueError, "Dropout: missing argument 'rate'");
  return std::make_shared<Dropout>(cfg_double(c, cls, "rate", 0),
                                   DropoutOptions{cfg_str(c, "name", ""), cfg_seed(c, cls)});
}

LayerPtr batch_norm_from_config(const std::string& cls, const LayerConfig& c) {
  cfg_check_keys(c, cls, {"axis", "momentum", "epsilon", "center", "scale"});
  BatchNormOptions o;
  if (c.count("axis")) o.axis = cfg_int(c, cls, "axis", 1);
  o.momentum = cfg_double(c, cls, "momentum", o.momentum);
  o.epsilon = cfg_double(c, cls, "epsilon", o.epsilon);
  o.center = cfg_bool(c, cls, "center", o.center);
  o.scale = cfg_bool(c, cls, "scale", o.scale);
  o.name = cfg_str(c, "name", "");
  return std::make_shared<BatchNorm>(o);
}

LayerPtr embedding_from_config(const std::string& cls, const LayerConfig& c) {
  cfg_check_keys(c, cls, {"input_dim", "output_dim", "embeddings_initializer"});
  if (!c.count("input_dim") || !c.count("output_dim"))
    SOMA_THROW(ValueError, "Embedding: missing argument 'input_dim' or 'output_dim'");
  EmbeddingOptions o;
  o.embeddings_initializer = cfg_str(c, "embeddings_initializer", o.embeddings_initializer);
  o.name = cfg_str(c, "name", "");
  o.seed = cfg_seed(c, cls);
  return std::make_shared<Embedding>(cfg_int(c, cls, "input_dim", 0),
                                     cfg_int(c, cls, "output_dim", 0), o);
}

}  // namespace

namespace detail {

void add_core_layers(std::vector<LayerKind>& kinds) {
  kinds.push_back({"Dense", {}, "", dense_from_config});
  kinds.push_back({"Conv2D", {}, "conv2d", conv2d_from_config});
  kinds.push_back({"MaxPool2D", {"MaxPooling2D"}, "max_pooling2d", pool_from_config<MaxPool2D>});
  kinds.push_back(
      {"AvgPool2D", {"AveragePooling2D"}, "average_pooling2d", pool_from_config<AvgPool2D>});
  kinds.push_back({"Flatten", {}, "", [](const std::string& cls, const LayerConfig& c) -> LayerPtr {
                     cfg_check_keys(c, cls, {});
                     return std::make_shared<Flatten>(cfg_str(c, "name", ""));
                   }});
  kinds.push_back({"Reshape", {}, "", reshape_from_config});
  kinds.push_back({"Dropout", {}, "", dropout_from_config});
  kinds.push_back(
      {"BatchNorm", {"BatchNormalization"}, "batch_normalization", batch_norm_from_config});
  kinds.push_back(
      {"Activation", {}, "", [](const std::string& cls, const LayerConfig& c) -> LayerPtr {
         cfg_check_keys(c, cls, {"activation"});
         return std::make_shared<Activation>(cfg_str(c, "activation", ""), cfg_str(c, "name", ""));
       }});
  kinds.push_back({"Embedding", {}, "", embedding_from_config});
  kinds.push_back(
      {"Rescaling", {}, "", [](const std::string& cls, const LayerConfig& c) -> LayerPtr {
         cfg_check_keys(c, cls, {"scale", "offset"});
         if (!c.count("scale")) SOMA_THROW(ValueError, "Rescaling: missing argument 'scale'");
         return std::make_shared<Rescaling>(cfg_double(c, cls, "scale", 1),
                                            cfg_double(c, cls, "offset", 0),
                                            cfg_str(c, "name", ""));
       }});
}

}  // namespace detail

}  // namespace soma::nn
