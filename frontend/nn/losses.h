// Keras losses as graph functions: each maps (y_true, y_pred) of a batch to a scalar, the mean
// over the batch.
//
// from_logits, as in Keras: false (the default, and what a loss named by a string means) reads
// the model's output as probabilities, whatever layer comes last (clipped to [1e-7, 1 - 1e-7],
// Keras's epsilon); true reads it as logits. Where the output is softmax(z) (sigmoid(z) for
// binary cross-entropy) — the last activating layer's, moved by Reshape/Flatten at most — the
// model hands z over and the loss computes the same value from it in the stable logits form.
// An output that comes straight from a layer with no activation (unbounded) with from_logits
// false is an error naming both fixes, rather than training silently wrong.
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
  // Whether the loss reads outputs as logits (see above).
  virtual bool from_logits() const { return false; }
  // A loss of the user's own (a script function): a saved model records its name, and loading
  // the model gives it back uncompiled, to be compiled with the function again.
  virtual bool is_custom() const { return false; }
};

using LossPtr = std::shared_ptr<Loss>;

// mean((y_pred - y_true)^2); labels of the output's shape (any numeric dtype, cast to f32).
class MeanSquaredError : public Loss {
 public:
  std::string name() const override { return "mean_squared_error"; }
  Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits = {},
                 const std::string& logits_activation = "") const override;
  void check_labels(const TensorType& labels, const TensorType& output) const override;
};

// mean(|y_pred - y_true|); labels as for MeanSquaredError.
class MeanAbsoluteError : public Loss {
 public:
  std::string name() const override { return "mean_absolute_error"; }
  Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits = {},
                 const std::string& logits_activation = "") const override;
  void check_labels(const TensorType& labels, const TensorType& output) const override;
};

// Keras's Huber loss: with e = y_pred - y_true, the mean of e^2 / 2 where |e| <= delta and
// delta * (|e| - delta / 2) elsewhere (quadratic near 0, linear beyond delta; delta > 0).
class Huber : public Loss {
 public:
  explicit Huber(double delta = 1.0);
  std::string name() const override { return "huber_loss"; }
  Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits = {},
                 const std::string& logits_activation = "") const override;
  void check_labels(const TensorType& labels, const TensorType& output) const override;
  double delta() const { return delta_; }

 private:
  double delta_ = 1.0;
};

// Kullback-Leibler divergence of the predicted from the true distribution (class axis last), as
// Keras computes it: both clipped to [1e-7, 1], sum(t * log(t / p)) over the last axis, the mean
// over the other axes. Labels of the output's shape (floats).
class KLDivergence : public Loss {
 public:
  std::string name() const override { return "kl_divergence"; }
  Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits = {},
                 const std::string& logits_activation = "") const override;
  void check_labels(const TensorType& labels, const TensorType& output) const override;
};

// Keras's cosine similarity loss: -sum(normalize(t) * normalize(p)) over the last axis (each
// vector divided by max(its L2 norm, 1e-6)), the mean over the other axes: -1 when prediction
// and label point the same way, 0 when orthogonal (or either is zero). Labels of the output's
// shape.
class CosineSimilarity : public Loss {
 public:
  std::string name() const override { return "cosine_similarity"; }
  Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits = {},
                 const std::string& logits_activation = "") const override;
  void check_labels(const TensorType& labels, const TensorType& output) const override;
};

// Labels of the output's shape in [0, 1] (any numeric dtype). From logits z:
// mean(max(z, 0) - z * t + log1p(exp(-|z|))).
class BinaryCrossentropy : public Loss {
 public:
  explicit BinaryCrossentropy(bool from_logits = false) : from_logits_(from_logits) {}
  std::string name() const override { return "binary_crossentropy"; }
  Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits = {},
                 const std::string& logits_activation = "") const override;
  void check_labels(const TensorType& labels, const TensorType& output) const override;
  bool from_logits() const override { return from_logits_; }

 private:
  bool from_logits_ = false;
};

// i32 class indices [N] (or [N, d...]) for outputs [N, C] (or [N, d..., C]: the class axis is
// last, as in Keras). From logits: mean(logsumexp(z) - z[label]).
class SparseCategoricalCrossentropy : public Loss {
 public:
  explicit SparseCategoricalCrossentropy(bool from_logits = false) : from_logits_(from_logits) {}
  std::string name() const override { return "sparse_categorical_crossentropy"; }
  Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits = {},
                 const std::string& logits_activation = "") const override;
  void check_labels(const TensorType& labels, const TensorType& output) const override;
  DType label_dtype() const override { return DType::i32; }
  std::string default_accuracy() const override { return "sparse_categorical_accuracy"; }
  bool from_logits() const override { return from_logits_; }

 private:
  bool from_logits_ = false;
};

// One-hot (or any probability) labels of the output's shape [N, C] (class axis last), f32.
class CategoricalCrossentropy : public Loss {
 public:
  explicit CategoricalCrossentropy(bool from_logits = false) : from_logits_(from_logits) {}
  std::string name() const override { return "categorical_crossentropy"; }
  Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits = {},
                 const std::string& logits_activation = "") const override;
  void check_labels(const TensorType& labels, const TensorType& output) const override;
  std::string default_accuracy() const override { return "categorical_accuracy"; }
  bool from_logits() const override { return from_logits_; }

 private:
  bool from_logits_ = false;
};

// By name: "mse" / "mean_squared_error", "mae" / "mean_absolute_error", "huber" / "huber_loss"
// (delta 1), "kld" / "kl_divergence" / "kullback_leibler_divergence", "cosine_similarity",
// "binary_crossentropy" / "bce", "sparse_categorical_crossentropy", "categorical_crossentropy"
// (from_logits false); case and underscores as Keras's class names allow ("MeanAbsoluteError").
// Throws NameError listing the known names.
LossPtr get_loss(const std::string& name);
std::vector<std::string> loss_names();

}  // namespace soma::nn
