// Metrics computed in the same graph as the loss: each gives one scalar per batch (the batch
// mean); fit/evaluate average them over an epoch weighted by batch size, as Keras does.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "frontend/nn/losses.h"

namespace soma::nn {

class Metric {
 public:
  virtual ~Metric() = default;
  // The key in logs and History: "accuracy" when the user asked for "accuracy" (or "acc"),
  // else the metric's own name.
  virtual std::string name() const = 0;
  // Scalar f32, the mean over the batch. `logits` as in Loss::compute.
  virtual Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits = {},
                         const std::string& logits_activation = "") const = 0;
};

using MetricPtr = std::shared_ptr<Metric>;

// The accuracies: a metric with the name it is reported under ("accuracy" when the user asked
// for "accuracy", else its own).
class Accuracy : public Metric {
 public:
  std::string name() const override { return name_; }

 protected:
  explicit Accuracy(std::string name) : name_(std::move(name)) {}

 private:
  std::string name_;
};

// mean(argmax(y_pred, -1) == y_true) for i32 class labels.
class SparseCategoricalAccuracy : public Accuracy {
 public:
  explicit SparseCategoricalAccuracy(std::string name = "sparse_categorical_accuracy")
      : Accuracy(std::move(name)) {}
  Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits = {},
                 const std::string& logits_activation = "") const override;
};

// mean(argmax(y_pred, -1) == argmax(y_true, -1)) for one-hot labels.
class CategoricalAccuracy : public Accuracy {
 public:
  explicit CategoricalAccuracy(std::string name = "categorical_accuracy")
      : Accuracy(std::move(name)) {}
  Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits = {},
                 const std::string& logits_activation = "") const override;
};

// mean((y_pred > threshold) == (y_true > 0.5)): the threshold is 0.5 for probabilities, 0 for
// logits (from_logits true, as the model's loss says).
class BinaryAccuracy : public Accuracy {
 public:
  explicit BinaryAccuracy(std::string name = "binary_accuracy", bool from_logits = false)
      : Accuracy(std::move(name)), from_logits_(from_logits) {}
  Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits = {},
                 const std::string& logits_activation = "") const override;

 private:
  bool from_logits_ = false;
};

// Whether the true class is among the k highest predictions (class axis last; a tie at the k-th
// place counts as in, as TensorFlow's in_top_k), averaged: labels are i32 class indices when
// `sparse`, else one-hot (their argmax).
class TopKCategoricalAccuracy : public Metric {
 public:
  TopKCategoricalAccuracy(std::string name, int k, bool sparse);
  std::string name() const override { return name_; }
  Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits = {},
                 const std::string& logits_activation = "") const override;

 private:
  std::string name_;
  int k_;
  bool sparse_;
};

// A loss reported as a metric ("mse", "mae", ... in metrics=[...]), under the name it was asked
// by, as Keras reports it.
class LossMetric : public Metric {
 public:
  LossMetric(std::string name, LossPtr loss) : name_(std::move(name)), loss_(std::move(loss)) {}
  std::string name() const override { return name_; }
  Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits = {},
                 const std::string& logits_activation = "") const override;

 private:
  std::string name_;
  LossPtr loss_;
};

// A metric by name for a model compiled with `loss`: "accuracy"/"acc" (the loss's kind of
// accuracy, reported as "accuracy"), "sparse_categorical_accuracy", "categorical_accuracy",
// "binary_accuracy", "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy" (k = 5),
// and the regression losses "mse"/"mean_squared_error", "mae"/"mean_absolute_error", reported
// under the name given. "loss" is always reported and is not a metric here. Throws NameError
// listing the known names.
MetricPtr get_metric(const std::string& name, const Loss& loss);

}  // namespace soma::nn
