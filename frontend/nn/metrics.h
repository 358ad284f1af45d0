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

// mean(|y_pred - y_true|).
class MeanAbsoluteError : public Metric {
 public:
  std::string name() const override { return "mean_absolute_error"; }
  Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits = {},
                 const std::string& logits_activation = "") const override;
};

// A metric by name for a model compiled with `loss`: "accuracy"/"acc" (the loss's kind of
// accuracy, reported as "accuracy"), "sparse_categorical_accuracy", "categorical_accuracy",
// "binary_accuracy", "mae"/"mean_absolute_error". "loss" is always reported and is not a metric
// here. Throws NameError listing the known names.
MetricPtr get_metric(const std::string& name, const Loss& loss);

}  // namespace soma::nn
