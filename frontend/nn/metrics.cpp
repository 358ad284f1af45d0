#include "frontend/nn/metrics.h"

#include "graph/error.h"

namespace soma::nn {

namespace {

Tensor as_f32(const Tensor& t) {
  return t.dtype() == DType::f32 ? t : cast(t, DType::f32);
}

Tensor fraction(const Tensor& cond) {
  return mean(cast(cond, DType::f32));
}

}  // namespace

Tensor SparseCategoricalAccuracy::compute(const Tensor& y_true, const Tensor& y_pred, const Tensor&,
                                          const std::string&) const {
  Tensor pred = argmax(y_pred, -1);
  Tensor labels = y_true.shape() == pred.shape() ? y_true : reshape(y_true, pred.shape().dims());
  return fraction(pred == cast(labels, DType::i32));
}

Tensor CategoricalAccuracy::compute(const Tensor& y_true, const Tensor& y_pred, const Tensor&,
                                    const std::string&) const {
  return fraction(argmax(y_pred, -1) == argmax(y_true, -1));
}

Tensor BinaryAccuracy::compute(const Tensor& y_true, const Tensor& y_pred, const Tensor&,
                               const std::string&) const {
  const bool logits = from_logits_;
  Tensor p = as_f32(y_pred);
  Tensor t = as_f32(y_true);
  if (t.shape() != p.shape()) t = reshape(t, p.shape().dims());
  return fraction((p > (logits ? 0.0 : 0.5)) == (t > 0.5));
}

TopKCategoricalAccuracy::TopKCategoricalAccuracy(std::string name, int k, bool sparse)
    : name_(std::move(name)), k_(k), sparse_(sparse) {
  if (k < 1) SOMA_THROW(ValueError, name_ << ": k must be at least 1, got " << k);
}

Tensor TopKCategoricalAccuracy::compute(const Tensor& y_true, const Tensor& y_pred, const Tensor&,
                                        const std::string&) const {
  Tensor p = as_f32(y_pred);
  const int64_t classes = p.shape()[p.rank() - 1];
  std::vector<int64_t> lead = p.shape().dims();
  lead.pop_back();
  Tensor labels = sparse_ ? cast(y_true, DType::i32) : argmax(y_true, -1);
  if (labels.shape().dims() != lead) labels = reshape(labels, lead);
  Tensor target = sum(one_hot(labels, classes) * p, {-1}, true);
  Tensor above = sum(cast(p > target, DType::f32), {-1});  // classes scored higher than the label
  return fraction(above < static_cast<double>(k_));
}

Tensor LossMetric::compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits,
                           const std::string& logits_activation) const {
  return loss_->compute(y_true, y_pred, logits, logits_activation);
}

AUC::AUC(std::string name, int num_thresholds, bool from_logits)
    : name_(std::move(name)), num_thresholds_(num_thresholds), from_logits_(from_logits) {
  if (num_thresholds < 2)
    SOMA_THROW(ValueError, name_ << ": num_thresholds must be at least 2, got " << num_thresholds);
}

// [2, T]: the true and false positive counts at each threshold, then the batch's positives and
// negatives (2 more).
Tensor AUC::compute(const Tensor& y_true, const Tensor& y_pred, const Tensor&,
                    const std::string&) const {
  Tensor p = reshape(as_f32(y_pred), {-1});
  if (from_logits_) p = sigmoid(p);
  Tensor pos = reshape(cast(y_true != 0.0, DType::f32), {-1});
  if (pos.shape() != p.shape())
    SOMA_THROW(ShapeError, name_ << ": labels " << y_true.type().str() << " do not match "
                                 << "predictions " << y_pred.type().str());
  const int t = num_thresholds_;
  std::vector<double> thr(static_cast<size_t>(t));
  constexpr double kEpsilon = 1e-7;
  thr[0] = -kEpsilon;
  for (int i = 1; i < t - 1; ++i) thr[static_cast<size_t>(i)] = i * 1.0 / (t - 1);
  thr[static_cast<size_t>(t - 1)] = 1.0 + kEpsilon;
  Tensor above = cast(reshape(p, {1, -1}) > constant(thr, Shape{t, 1}), DType::f32);  // [T, M]
  Tensor classes = stack({pos, 1.0 - pos}, 1);                                        // [M, 2]
  Tensor tp_fp = matmul(above, classes);                                              // [T, 2]
  Tensor totals = sum(classes, {0});                                                  // [2]
  return concat({reshape(tp_fp, {-1}), totals});
}

double AUC::result(const std::vector<double>& sums) const {
  const size_t t = static_cast<size_t>(num_thresholds_);
  double positives = sums.at(2 * t), negatives = sums.at(2 * t + 1);
  auto rate = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  double area = 0;
  for (size_t i = 0; i + 1 < t; ++i) {
    double fpr0 = rate(sums[2 * i + 1], negatives), fpr1 = rate(sums[2 * i + 3], negatives);
    double tpr0 = rate(sums[2 * i], positives), tpr1 = rate(sums[2 * i + 2], positives);
    area += (fpr0 - fpr1) * (tpr0 + tpr1) / 2;
  }
  return area;
}

MetricPtr get_metric(const std::string& name, const Loss& loss) {
  auto make = [&](const std::string& kind, const std::string& shown) -> MetricPtr {
    if (kind == "sparse_categorical_accuracy")
      return std::make_shared<SparseCategoricalAccuracy>(shown);
    if (kind == "categorical_accuracy") return std::make_shared<CategoricalAccuracy>(shown);
    return std::make_shared<BinaryAccuracy>(shown, loss.from_logits());
  };
  if (name == "accuracy" || name == "acc") return make(loss.default_accuracy(), "accuracy");
  if (name == "sparse_categorical_accuracy" || name == "categorical_accuracy" ||
      name == "binary_accuracy")
    return make(name, name);
  if (name == "top_k_categorical_accuracy" || name == "sparse_top_k_categorical_accuracy")
    return std::make_shared<TopKCategoricalAccuracy>(name, 5, name[0] == 's');
  if (name == "mae" || name == "mean_absolute_error" || name == "mse" ||
      name == "mean_squared_error")
    return std::make_shared<LossMetric>(name, get_loss(name));
  if (name == "auc" || name == "AUC") return std::make_shared<AUC>("auc", 200, loss.from_logits());
  SOMA_THROW(NameError, "unknown metric '"
                            << name
                            << "'; known: accuracy (acc), sparse_categorical_accuracy, "
                               "categorical_accuracy, binary_accuracy, top_k_categorical_accuracy, "
                               "sparse_top_k_categorical_accuracy, mse (mean_squared_error), mae "
                               "(mean_absolute_error), auc (AUC)");
}

}  // namespace soma::nn
