#include "frontend/nn/losses.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "graph/error.h"

namespace soma::nn {

namespace {

constexpr double kEpsilon = 1e-7;  // Keras's backend epsilon: probabilities are clipped to it

// Floats stay as they are (f64 for gradient checks); integers and bools become f32.
Tensor as_f32(const Tensor& t) {
  return is_float(t.dtype()) ? t : cast(t, DType::f32);
}

// Labels with the output's element count per sample, reshaped to the output's shape.
Tensor like_output(const Tensor& y_true, const Tensor& y_pred) {
  Tensor t = y_true.dtype() == y_pred.dtype() ? y_true : cast(y_true, y_pred.dtype());
  return t.shape() == y_pred.shape() ? t : reshape(t, y_pred.shape().dims());
}

std::vector<int64_t> per_sample(const Shape& s) {
  return std::vector<int64_t>(s.dims().begin() + (s.rank() > 0 ? 1 : 0), s.dims().end());
}

int64_t numel(const std::vector<int64_t>& d) {
  int64_t n = 1;
  for (int64_t x : d) n *= x;
  return n;
}

void check_same_elements(const std::string& loss, const TensorType& labels,
                         const TensorType& output) {
  if (labels.dtype != DType::f32 && labels.dtype != DType::f64 && labels.dtype != DType::i32 &&
      labels.dtype != DType::boolean)
    SOMA_THROW(TypeError, loss << ": labels must be numeric, got " << labels.str());
  if (labels.shape.rank() < 1 || labels.shape[0] != output.shape[0] ||
      numel(per_sample(labels.shape)) != numel(per_sample(output.shape)))
    SOMA_THROW(ShapeError, loss << ": labels " << labels.str() << " do not fit model outputs "
                                << output.str()
                                << " (each sample needs as many label values as outputs)");
}

// What the loss reads and whether as logits: with from_logits, the output; an output that is
// squash(z) (the last activation, moved by Reshape/Flatten at most): z, the same value computed
// stably; an output straight from a layer with no activation: an error (unbounded values are not
// probabilities, and reading them as such trains silently wrong); else the output, as
// probabilities.
std::pair<Tensor, bool> choose(const Loss& loss, const char* cls, bool from_logits,
                               const Tensor& y_pred, const Tensor& logits,
                               const std::string& activation, const char* squash) {
  if (from_logits) return {y_pred, true};
  if (logits.defined() && activation == squash) return {logits, true};
  if (activation == "linear")
    SOMA_THROW(ValueError, loss.name()
                               << " reads the model's output as probabilities (from_logits=False, "
                                  "as in Keras), but the output comes from a layer with no "
                                  "activation: unbounded logits, not probabilities. End the model "
                                  "with activation=\""
                               << squash << "\", or use loss=" << cls << "(from_logits=True)");
  return {y_pred, false};
}

}  // namespace

// ---- MSE
// ------------------------------------------------------------------------------------------

Tensor MeanSquaredError::compute(const Tensor& y_true, const Tensor& y_pred, const Tensor&,
                                 const std::string&) const {
  Tensor d = as_f32(y_pred) - like_output(y_true, y_pred);
  return mean(d * d);
}

void MeanSquaredError::check_labels(const TensorType& labels, const TensorType& output) const {
  check_same_elements(name(), labels, output);
}

// ---- MAE, Huber
// -----------------------------------------------------------------------------------

Tensor MeanAbsoluteError::compute(const Tensor& y_true, const Tensor& y_pred, const Tensor&,
                                  const std::string&) const {
  return mean(abs(as_f32(y_pred) - like_output(y_true, as_f32(y_pred))));
}

void MeanAbsoluteError::check_labels(const TensorType& labels, const TensorType& output) const {
  check_same_elements(name(), labels, output);
}

Huber::Huber(double delta) : delta_(delta) {
  if (!(delta > 0) || !std::isfinite(delta))
    SOMA_THROW(ValueError, "Huber: delta must be a positive number, got " << delta);
}

Tensor Huber::compute(const Tensor& y_true, const Tensor& y_pred, const Tensor&,
                      const std::string&) const {
  Tensor p = as_f32(y_pred);
  Tensor e = abs(p - like_output(y_true, p));
  Tensor quadratic = 0.5 * e * e, linear = delta_ * e - 0.5 * delta_ * delta_;
  return mean(where(e <= delta_, quadratic, linear));
}

void Huber::check_labels(const TensorType& labels, const TensorType& output) const {
  check_same_elements(name(), labels, output);
}

// ---- KL divergence, cosine similarity
// -------------------------------------------------------------

namespace {

void check_same_shape_floats(const std::string& loss, const TensorType& labels,
                             const TensorType& output) {
  if (!is_float(labels.dtype))
    SOMA_THROW(TypeError, loss << ": labels must be floats, got " << labels.str());
  if (labels.shape != output.shape)
    SOMA_THROW(ShapeError, loss << ": labels must have the outputs' shape " << output.str()
                                << ", got " << labels.str());
}

}  // namespace

Tensor KLDivergence::compute(const Tensor& y_true, const Tensor& y_pred, const Tensor&,
                             const std::string&) const {
  Tensor p = clip(as_f32(y_pred), kEpsilon, 1.0);
  Tensor t = clip(like_output(y_true, p), kEpsilon, 1.0);
  return mean(sum(t * log(t / p), {-1}));
}

void KLDivergence::check_labels(const TensorType& labels, const TensorType& output) const {
  check_same_shape_floats(name(), labels, output);
}

Tensor CosineSimilarity::compute(const Tensor& y_true, const Tensor& y_pred, const Tensor&,
                                 const std::string&) const {
  auto normalized = [](const Tensor& x) {
    return x / sqrt(maximum(sum(x * x, {-1}, true), scalar(1e-12, x.dtype())));
  };
  Tensor p = as_f32(y_pred);
  return mean(-sum(normalized(like_output(y_true, p)) * normalized(p), {-1}));
}

void CosineSimilarity::check_labels(const TensorType& labels, const TensorType& output) const {
  check_same_shape_floats(name(), labels, output);
}

// ---- binary cross-entropy
// -------------------------------------------------------------------------

Tensor BinaryCrossentropy::compute(const Tensor& y_true, const Tensor& y_pred, const Tensor& logits,
                                   const std::string& logits_activation) const {
  auto [z, is_logits] = choose(*this, "BinaryCrossentropy", from_logits_, y_pred, logits,
                               logits_activation, "sigmoid");
  z = as_f32(z);
  Tensor t = like_output(y_true, z);
  if (is_logits) return mean(relu(z) - z * t + log1p(exp(-abs(z))));
  Tensor p = clip(z, kEpsilon, 1.0 - kEpsilon);
  return -mean(t * log(p) + (1.0 - t) * log(1.0 - p));
}

void BinaryCrossentropy::check_labels(const TensorType& labels, const TensorType& output) const {
  check_same_elements(name(), labels, output);
}

// ---- sparse categorical cross-entropy
// -------------------------------------------------------------

Tensor SparseCategoricalCrossentropy::compute(const Tensor& y_true, const Tensor& y_pred,
                                              const Tensor& logits,
                                              const std::string& logits_activation) const {
  auto [z, is_logits] = choose(*this, "SparseCategoricalCrossentropy", from_logits_, y_pred, logits,
                               logits_activation, "softmax");
  z = as_f32(z);
  int64_t classes = z.shape()[z.rank() - 1];
  std::vector<int64_t> lead = z.shape().dims();
  lead.pop_back();
  Tensor labels = y_true.shape().dims() == lead ? y_true : reshape(y_true, lead);
  Tensor oh = one_hot(labels, classes);
  if (is_logits) return mean(logsumexp(z, {-1}) - sum(oh * z, {-1}));
  Tensor p = z / sum(z, {-1}, true);
  p = clip(sum(oh * p, {-1}), kEpsilon, 1.0 - kEpsilon);
  return -mean(log(p));
}

void SparseCategoricalCrossentropy::check_labels(const TensorType& labels,
                                                 const TensorType& output) const {
  if (labels.dtype != DType::i32)
    SOMA_THROW(TypeError, name() << ": labels must be integer class indices (i32), got "
                                 << labels.str()
                                 << "; cast them to i32, or use categorical_crossentropy for "
                                    "one-hot labels");
  std::vector<int64_t> lead(output.shape.dims().begin(), output.shape.dims().end() - 1);
  std::vector<int64_t> lead1 = lead;
  lead1.push_back(1);
  if (output.shape.rank() < 2 || (labels.shape.dims() != lead && labels.shape.dims() != lead1))
    SOMA_THROW(ShapeError, name() << ": model outputs " << output.str()
                                  << " (classes on the last axis) need labels of shape "
                                  << Shape(lead).str() << ", got " << labels.str());
}

// ---- categorical cross-entropy
// --------------------------------------------------------------------

Tensor CategoricalCrossentropy::compute(const Tensor& y_true, const Tensor& y_pred,
                                        const Tensor& logits,
                                        const std::string& logits_activation) const {
  auto [z, is_logits] = choose(*this, "CategoricalCrossentropy", from_logits_, y_pred, logits,
                               logits_activation, "softmax");
  z = as_f32(z);
  Tensor t = like_output(y_true, z);
  if (is_logits) return mean(-sum(t * log_softmax(z, -1), {-1}));
  Tensor p = clip(z / sum(z, {-1}, true), kEpsilon, 1.0 - kEpsilon);
  return mean(-sum(t * log(p), {-1}));
}

void CategoricalCrossentropy::check_labels(const TensorType& labels,
                                           const TensorType& output) const {
  if (!is_float(labels.dtype))
    SOMA_THROW(TypeError, name() << ": labels must be one-hot (or probability) vectors of floats, "
                                    "got "
                                 << labels.str()
                                 << "; use sparse_categorical_crossentropy for integer labels");
  if (labels.shape != output.shape)
    SOMA_THROW(ShapeError, name() << ": labels must have the outputs' shape " << output.str()
                                  << ", got " << labels.str());
}

// ---- by name
// --------------------------------------------------------------------------------------

std::vector<std::string> loss_names() {
  return {"mse",
          "mean_squared_error",
          "mae",
          "mean_absolute_error",
          "huber",
          "huber_loss",
          "kld",
          "kl_divergence",
          "kullback_leibler_divergence",
          "cosine_similarity",
          "binary_crossentropy",
          "bce",
          "sparse_categorical_crossentropy",
          "categorical_crossentropy"};
}

LossPtr get_loss(const std::string& name0) {
  std::string name = name0;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (name == "mse" || name == "mean_squared_error" || name == "meansquarederror")
    return std::make_shared<MeanSquaredError>();
  if (name == "mae" || name == "mean_absolute_error" || name == "meanabsoluteerror")
    return std::make_shared<MeanAbsoluteError>();
  if (name == "huber" || name == "huber_loss") return std::make_shared<Huber>();
  if (name == "kld" || name == "kl_divergence" || name == "kullback_leibler_divergence" ||
      name == "kldivergence")
    return std::make_shared<KLDivergence>();
  if (name == "cosine_similarity" || name == "cosinesimilarity")
    return std::make_shared<CosineSimilarity>();
  if (name == "binary_crossentropy" || name == "bce" || name == "binarycrossentropy")
    return std::make_shared<BinaryCrossentropy>();
  if (name == "sparse_categorical_crossentropy" || name == "sparsecategoricalcrossentropy")
    return std::make_shared<SparseCategoricalCrossentropy>();
  if (name == "categorical_crossentropy" || name == "categoricalcrossentropy")
    return std::make_shared<CategoricalCrossentropy>();
  std::string list;
  for (const auto& n : loss_names()) list += (list.empty() ? "" : ", ") + n;
  SOMA_THROW(NameError, "unknown loss '" << name0 << "'; known: " << list);
}

}  // namespace soma::nn
