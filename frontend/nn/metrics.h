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
  // Scalar f32, the mean over the batch. `logits` as in Loss::compute. For a metric with
  // statistics (below): those statistics of the batch, any shape.
  virtual Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits = {},
                         const std::string& logits_activation = "") const = 0;
  // A metric whose value over several batches is not the mean of its batch values (AUC) has
  // statistics: compute gives them per batch, fit/evaluate add them up over the epoch, and
  // result turns the sums into the value (over the batches so far, as Keras shows it).
  virtual bool has_statistics() const { return false; }
  virtual double result(const std::vector<double>& sums) const { return sums.at(0); }
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

// Keras's AUC with its defaults: the area under the ROC curve, from true and false positive counts
// at num_thresholds thresholds (0 - 1e-7, i / (num_thresholds - 1) for i = 1 .. n - 2,
// 1 + 1e-7), added up over the epoch, integrated by the trapezoid rule. Every prediction and
// label is one binary case (multi_label false); a label is positive when it is not 0. With a
// from_logits loss the predictions are logits, read through a sigmoid (the threshold of
// BinaryAccuracy moves the same way), so the curve is the same as Keras's on probabilities.
class AUC : public Metric {
 public:
  explicit AUC(std::string name = "auc", int num_thresholds = 200, bool from_logits = false);
  std::string name() const override { return name_; }
  Tensor compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits = {},
                 const std::string& logits_activation = "") const override;
  bool has_statistics() const override { return true; }
  double result(const std::vector<double>& sums) const override;

 private:
  std::string name_;
  int num_thresholds_;
  bool from_logits_;
};

// A metric by name for a model compiled with `loss`: "accuracy"/"acc" (the loss's kind of
// accuracy, reported as "accuracy"), "sparse_categorical_accuracy", "categorical_accuracy",
// "binary_accuracy", "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy" (k = 5),
// the regression losses "mse"/"mean_squared_error", "mae"/"mean_absolute_error", reported
// under the name given, and "auc"/"AUC" (AUC(), logged as "auc"). "loss" is always reported and is
// not a metric here. Throws NameError listing the known names.
MetricPtr get_metric(const std::string& name, const Loss& loss);

}  // namespace soma::nn
