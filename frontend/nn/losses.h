// Keras losses as graph functions: each maps (y_true, y_pred) of a batch to a scalar, the mean
// over the batch.
//
// from_logits: nullopt ("auto", the default) treats a model output that is not the result of
// the matching squashing activation as logits — soma's convention, as PyTorch's cross_entropy,
// so `Dense(10)` + "sparse_categorical_crossentropy" trains — and an output of softmax (sigmoid
// for binary cross-entropy) as probabilities, whose logits the model hands over so that the
// loss is computed from them, stably (as Keras does). true/false force logits/probabilities
// (probabilities are clipped to [1e-7, 1 - 1e-7] like Keras's epsilon).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "frontend/tensor.h"

namespace soma::nn {

class Loss {
 public:
  virtual ~Loss() = default;
  // Keras's name: "mean_squared_error", "binary_crossentropy", ...
  virtual std::string name() const = 0;
  // y_true as fed (its dtype is checked by check_labels), y_pred the model's output. `logits`:
  // when the output is softmax/sigmoid(logits), the logits (see CallContext::logits), and
  // `logits_activation` the activation that was applied.
  virtual Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits = {},
                         const std::string& logits_activation = "") const = 0;
  // Checks labels of `labels` (batch axis first) against model outputs of `output`; throws
  // TypeError for a wrong dtype (e.g. float labels for a sparse loss) and ShapeError for a wrong
  // shape, saying what is expected.
  virtual void check_labels(const TensorType& labels, const TensorType& output) const = 0;
  // The dtype labels are fed as (i32 for sparse losses, else f32).
  virtual DType label_dtype() const { return DType::f32; }
  // The accuracy metric that "accuracy" means with this loss: "sparse_categorical_accuracy",
  // "categorical_accuracy" or "binary_accuracy".
  virtual std::string default_accuracy() const { return "binary_accuracy"; }
  // Whether outputs are logits: nullopt is "auto" (see above); MSE says false.
  virtual std::optional<bool> from_logits() const { return std::nullopt; }
};

using LossPtr = std::shared_ptr<Loss>;

// mean((y_pred - y_true)^2); labels of the output's shape (any numeric dtype, cast to f32).
class MeanSquaredError : public Loss {
 public:
  std::string name() const override { return "mean_squared_error"; }
  Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits = {},
                 const std::string& logits_activation = "") const override;
  void check_labels(const TensorType& labels, const TensorType& output) const override;
  std::optional<bool> from_logits() const override { return false; }
};

// Labels of the output's shape in [0, 1] (any numeric dtype). From logits z:
// mean(max(z, 0) - z * t + log1p(exp(-|z|))).
class BinaryCrossentropy : public Loss {
 public:
  explicit BinaryCrossentropy(std::optional<bool> from_logits = std::nullopt)
      : from_logits_(from_logits) {}
  std::string name() const override { return "binary_crossentropy"; }
  Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits = {},
                 const std::string& logits_activation = "") const override;
  void check_labels(const TensorType& labels, const TensorType& output) const override;
  std::optional<bool> from_logits() const override { return from_logits_; }

 private:
  std::optional<bool> from_logits_;
};

// i32 class indices [N] (or [N, d...]) for outputs [N, C] (or [N, d..., C]: the class axis is
// last, as in Keras). From logits: mean(logsumexp(z) - z[label]).
class SparseCategoricalCrossentropy : public Loss {
 public:
  explicit SparseCategoricalCrossentropy(std::optional<bool> from_logits = std::nullopt)
      : from_logits_(from_logits) {}
  std::string name() const override { return "sparse_categorical_crossentropy"; }
  Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits = {},
                 const std::string& logits_activation = "") const override;
  void check_labels(const TensorType& labels, const TensorType& output) const override;
  DType label_dtype() const override { return DType::i32; }
  std::string default_accuracy() const override { return "sparse_categorical_accuracy"; }
  std::optional<bool> from_logits() const override { return from_logits_; }

 private:
  std::optional<bool> from_logits_;
};

// One-hot (or any probability) labels of the output's shape [N, C] (class axis last), f32.
class CategoricalCrossentropy : public Loss {
 public:
  explicit CategoricalCrossentropy(std::optional<bool> from_logits = std::nullopt)
      : from_logits_(from_logits) {}
  std::string name() const override { return "categorical_crossentropy"; }
  Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits = {},
                 const std::string& logits_activation = "") const override;
  void check_labels(const TensorType& labels, const TensorType& output) const override;
  std::string default_accuracy() const override { return "categorical_accuracy"; }
  std::optional<bool> from_logits() const override { return from_logits_; }

 private:
  std::optional<bool> from_logits_;
};

// By name: "mse" / "mean_squared_error", "binary_crossentropy" / "bce",
// "sparse_categorical_crossentropy", "categorical_crossentropy" (from_logits "auto"). Throws
// NameError listing the known names.
LossPtr get_loss(const std::string& name);
std::vector<std::string> loss_names();

}  // namespace soma::nn
