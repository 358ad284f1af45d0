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

Tensor MeanAbsoluteError::compute(const Tensor& y_true, const Tensor& y_pred, const Tensor&,
                                  const std::string&) const {
  Tensor p = as_f32(y_pred);
  Tensor t = as_f32(y_true);
  if (t.shape() != p.shape()) t = reshape(t, p.shape().dims());
  return mean(abs(p - t));
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
  if (name == "mae" || name == "mean_absolute_error") return std::make_shared<MeanAbsoluteError>();
  SOMA_THROW(NameError, "unknown metric '"
                            << name
                            << "'; known: accuracy (acc), sparse_categorical_accuracy, "
                               "categorical_accuracy, binary_accuracy, mae (mean_absolute_error)");
}

}  // namespace soma::nn
