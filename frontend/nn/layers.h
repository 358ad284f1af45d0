// The Keras layers: Dense, Conv2D, MaxPool2D, AvgPool2D, Flatten, Reshape, Dropout, BatchNorm,
// Activation, Embedding. Arguments use Keras's names and defaults; options come in a struct per
// layer so that C++ reads like Keras's keyword arguments:
//
//   auto d = std::make_shared<nn::Dense>(128, nn::DenseOptions{.activation = "relu"});
//
// (GCC before 14 warns under -Wextra about the fields such designated initializers leave out,
// GCC bug 96868: add -Wno-missing-field-initializers, or set the fields one by one.)
//
// Differences from Keras: images are NCHW (Keras's channels_first) unless a layer's data_format is
// "channels_last", and conv kernels are OIHW in either layout. Channels first is soma's default
// because its convolution is one GEMM per layer whose output rows are channels: NCHW is the
// layout it computes in, channels_last costs a transpose on the way in and out. A layer left at
// the default that is given an image that looks channels-last ([N, H, H, C], C != H) throws a
// ShapeError naming the layout it assumed instead of reading rows as channels.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "frontend/nn/layer.h"

namespace soma::nn {

using Pair = std::pair<int64_t, int64_t>;

// ---- Dense: activation(x @ kernel + bias) over the last axis; kernel [in, units] ---------------

struct DenseOptions {
  std::string activation;  // "" = linear
  bool use_bias = true;
  std::string kernel_initializer = "glorot_uniform";
  std::string bias_initializer = "zeros";
  std::string name;
  std::optional<uint64_t> seed;
};

class Dense : public Layer {
 public:
  explicit Dense(int64_t units, DenseOptions options = {});
  std::string class_name() const override { return "Dense"; }
  LayerConfig config() const override;
  Tensor call(const Tensor& x, CallContext& ctx) override;
  int64_t units() const { return units_; }
  const DenseOptions& options() const { return options_; }

 protected:
  void build_weights(const TensorType& input, uint64_t seed) override;

 private:
  int64_t units_;
  DenseOptions options_;
  Tensor kernel_, bias_;
};

// ---- Conv2D: NCHW (or NHWC) input, OIHW kernel [filters, C, kh, kw], bias [filters] -------------

struct Conv2DOptions {
  std::string data_format;  // "channels_first" (NCHW), "channels_last" (NHWC); "" = channels_first
                            // with the check for channels-last looking inputs
  Pair strides{1, 1};
  std::string padding = "valid";  // "valid" or "same" (TensorFlow's: output = ceil(size / stride))
  Pair dilation_rate{1, 1};
  std::string activation;
  bool use_bias = true;
  std::string kernel_initializer = "glorot_uniform";
  std::string bias_initializer = "zeros";
  std::string name;
  std::optional<uint64_t> seed;
};

class Conv2D : public Layer {
 public:
  Conv2D(int64_t filters, Pair kernel_size, Conv2DOptions options = {});
  Conv2D(int64_t filters, int64_t kernel_size, Conv2DOptions options = {})
      : Conv2D(filters, Pair{kernel_size, kernel_size}, std::move(options)) {}
  std::string class_name() const override { return "Conv2D"; }
  LayerConfig config() const override;
  Tensor call(const Tensor& x, CallContext& ctx) override;

 protected:
  void build_weights(const TensorType& input, uint64_t seed) override;

 private:
  int64_t filters_;
  Pair kernel_size_;
  Conv2DOptions options_;
  Tensor kernel_, bias_;
};

// ---- MaxPool2D / AvgPool2D on NCHW (or NHWC) ---------------------------------------------------

struct Pool2DOptions {
  std::string data_format;        // as Conv2D's
  std::optional<Pair> strides;    // default: the pool size
  std::string padding = "valid";  // "valid" or "same"; AvgPool2D's "same" averages valid pixels
  std::string name;
};

// MaxPool2D and AvgPool2D: one layer, told apart by the reduction.
class Pool2D : public Layer {
 public:
  LayerConfig config() const override;
  Tensor call(const Tensor& x, CallContext& ctx) override;

 protected:
  Pool2D(bool is_max, Pair pool_size, Pool2DOptions options);
  void build_weights(const TensorType& input, uint64_t seed) override;

 private:
  bool is_max_;
  Pair pool_size_;
  Pool2DOptions options_;
};

class MaxPool2D : public Pool2D {
 public:
  explicit MaxPool2D(Pair pool_size = {2, 2}, Pool2DOptions options = {})
      : Pool2D(true, pool_size, std::move(options)) {}
  explicit MaxPool2D(int64_t pool_size, Pool2DOptions options = {})
      : MaxPool2D(Pair{pool_size, pool_size}, std::move(options)) {}
  std::string class_name() const override { return "MaxPool2D"; }
};

class AvgPool2D : public Pool2D {
 public:
  explicit AvgPool2D(Pair pool_size = {2, 2}, Pool2DOptions options = {})
      : Pool2D(false, pool_size, std::move(options)) {}
  explicit AvgPool2D(int64_t pool_size, Pool2DOptions options = {})
      : AvgPool2D(Pair{pool_size, pool_size}, std::move(options)) {}
  std::string class_name() const override { return "AvgPool2D"; }
};

// ---- Flatten: [N, d1, d2, ...] -> [N, d1*d2*...] ------------------------------------------------

class Flatten : public Layer {
 public:
  explicit Flatten(std::string name = "") : Layer(std::move(name)) {}
  std::string class_name() const override { return "Flatten"; }
  Tensor call(const Tensor& x, CallContext& ctx) override;

 protected:
  void build_weights(const TensorType& input, uint64_t seed) override;
};

// ---- Reshape: [N, ...] -> [N] + target_shape (without the batch axis; one -1 allowed)
// ------------

class Reshape : public Layer {
 public:
  explicit Reshape(std::vector<int64_t> target_shape, std::string name = "");
  std::string class_name() const override { return "Reshape"; }
  LayerConfig config() const override;
  Tensor call(const Tensor& x, CallContext& ctx) override;

 protected:
  void build_weights(const TensorType& input, uint64_t seed) override;

 private:
  std::vector<int64_t> target_shape_;
};

// ---- Dropout: inverted dropout in training graphs (rate = fraction dropped), identity otherwise
// --

struct DropoutOptions {
  std::string name;
  std::optional<uint64_t> seed;  // the masks' random stream (offset by the step counter)
};

class Dropout : public Layer {
 public:
  explicit Dropout(double rate, DropoutOptions options = {});
  std::string class_name() const override { return "Dropout"; }
  LayerConfig config() const override;
  Tensor call(const Tensor& x, CallContext& ctx) override;
  double rate() const { return rate_; }

 protected:
  void build_weights(const TensorType& input, uint64_t seed) override;

 private:
  double rate_;
  uint64_t mask_seed_ = 0;  // set by build
};

// ---- BatchNorm (alias BatchNormalization)
// -------------------------------------------------------- Training: y = gamma * (x - mean_B) /
// sqrt(var_B + epsilon) + beta with the batch's mean and biased variance over every axis but
// `axis`, and moving_mean/moving_variance updated to momentum * moving + (1 - momentum) * batch
// (Keras's rule). Inference: the moving statistics. Weights: gamma (ones), beta (zeros) trainable;
// moving_mean (zeros), moving_variance (ones) not.

struct BatchNormOptions {
  // Negative counts from the end. Unset: the last axis (Keras's -1) except for images of rank 4,
  // where it is 1, the channels of NCHW; a rank-4 input that looks channels-last then throws,
  // asking for axis=-1 or axis=1.
  std::optional<int64_t> axis;
  double momentum = 0.99;
  double epsilon = 1e-3;
  bool center = true;  // beta
  bool scale = true;   // gamma
  std::string name;
};

class BatchNorm : public Layer {
 public:
  explicit BatchNorm(BatchNormOptions options = {});
  std::string class_name() const override { return "BatchNorm"; }
  LayerConfig config() const override;
  Tensor call(const Tensor& x, CallContext& ctx) override;

 protected:
  void build_weights(const TensorType& input, uint64_t seed) override;

 private:
  BatchNormOptions options_;
  int axis_ = 1;  // normalized by build
  Tensor gamma_, beta_, moving_mean_, moving_variance_;
};

// ---- Activation ---------------------------------------------------------------------------------

class Activation : public Layer {
 public:
  // Throws ValueError for an unknown activation name (see activations.h).
  explicit Activation(std::string activation, std::string name = "");
  std::string class_name() const override { return "Activation"; }
  LayerConfig config() const override;
  Tensor call(const Tensor& x, CallContext& ctx) override;

 protected:
  void build_weights(const TensorType& input, uint64_t seed) override;

 private:
  std::string activation_;
};

// ---- Rescaling: x * scale + offset (Keras's preprocessing layer: Rescaling(1 / 255) for images
// in [0, 255]) ---------------------------------------------------------------------------------

class Rescaling : public Layer {
 public:
  explicit Rescaling(double scale, double offset = 0, std::string name = "");
  std::string class_name() const override { return "Rescaling"; }
  LayerConfig config() const override;
  Tensor call(const Tensor& x, CallContext& ctx) override;

 protected:
  void build_weights(const TensorType& input, uint64_t seed) override;

 private:
  double scale_, offset_;
};

// ---- Embedding: i32 ids [N, ...] -> [N, ..., output_dim]; table [input_dim, output_dim]
// ----------

struct EmbeddingOptions {
  std::string embeddings_initializer = "uniform";  // Keras: U[-0.05, 0.05]
  std::string name;
  std::optional<uint64_t> seed;
};

class Embedding : public Layer {
 public:
  Embedding(int64_t input_dim, int64_t output_dim, EmbeddingOptions options = {});
  std::string class_name() const override { return "Embedding"; }
  DType default_input_dtype() const override { return DType::i32; }
  LayerConfig config() const override;
  Tensor call(const Tensor& x, CallContext& ctx) override;

 protected:
  void build_weights(const TensorType& input, uint64_t seed) override;

 private:
  int64_t input_dim_, output_dim_;
  EmbeddingOptions options_;
  Tensor embeddings_;
};

}  // namespace soma::nn
