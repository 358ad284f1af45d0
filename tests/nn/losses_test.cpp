// Losses and metrics against hand-computed values, their numerically stable forms, gradients,
// and label checks.
#include <gtest/gtest.h>

#include <cmath>

#include "autodiff/gradcheck.h"
#include "frontend/nn/losses.h"
#include "frontend/nn/metrics.h"
#include "nn/nn_test_util.h"

namespace soma::nn {
namespace {

using namespace soma::nn::testing;

double value(const Tensor& t) {
  return eval(t).get(0);
}

struct Fixture {
  std::shared_ptr<Context> ctx = std::make_shared<Context>();
  ContextScope scope{ctx};
};

TEST(SparseCategoricalCrossentropy, FromLogits) {
  Fixture f;
  Tensor z = constant(f32({2, 3}, {1, 2, 3, 1, 1, 1}));
  Tensor y = constant(i32({2}, {2, 0}));
  SparseCategoricalCrossentropy loss(true);
  double want = (std::log(std::exp(1) + std::exp(2) + std::exp(3)) - 3 + std::log(3.0)) / 2;
  EXPECT_NEAR(value(loss.compute(y, z)), want, 1e-6);
  // A softmax output whose logits the model passes along: the same value, computed from them.
  Tensor p = softmax(z);
  EXPECT_NEAR(value(SparseCategoricalCrossentropy().compute(y, p, z, "softmax")), want, 1e-6);
  // Probabilities without logits (from_logits=false).
  EXPECT_NEAR(value(SparseCategoricalCrossentropy(false).compute(y, p)), want, 1e-6);
  // Labels [N, 1] as Keras accepts them.
  EXPECT_NEAR(value(loss.compute(constant(i32({2, 1}, {2, 0})), z)), want, 1e-6);
}

TEST(SparseCategoricalCrossentropy, StableForHugeLogits) {
  Fixture f;
  Tensor z = constant(f32({2, 2}, {1000, 0, -1000, 0}));
  Tensor y = constant(i32({2}, {1, 1}));
  SparseCategoricalCrossentropy loss(true);
  EXPECT_NEAR(value(loss.compute(y, z)), 500, 1e-3);
  // Through a softmax that saturates to exactly 0 and 1, the logits keep it finite and exact.
  EXPECT_NEAR(value(SparseCategoricalCrossentropy().compute(y, softmax(z), z, "softmax")), 500,
              1e-3);
  Tensor g = grad(loss.compute(y, z), z);
  for (double v : eval(g).to_doubles()) EXPECT_TRUE(std::isfinite(v));
}

TEST(CategoricalCrossentropy, OneHotMatchesSparse) {
  Fixture f;
  Tensor z = constant(f32({2, 3}, {1, 2, 3, 1, 1, 1}));
  Tensor oh = constant(f32({2, 3}, {0, 0, 1, 1, 0, 0}));
  double sparse = value(SparseCategoricalCrossentropy(true).compute(constant(i32({2}, {2, 0})), z));
  EXPECT_NEAR(value(CategoricalCrossentropy(true).compute(oh, z)), sparse, 1e-6);
  EXPECT_NEAR(value(CategoricalCrossentropy().compute(oh, softmax(z), z, "softmax")), sparse, 1e-6);
  EXPECT_NEAR(value(CategoricalCrossentropy(false).compute(oh, softmax(z))), sparse, 1e-6);
}

TEST(BinaryCrossentropy, LogitsAndProbabilities) {
  Fixture f;
  Tensor z = constant(f32({3, 1}, {0, 2, -3}));
  Tensor t = constant(f32({3, 1}, {1, 0, 1}));
  double want = (std::log(2.0) + std::log1p(std::exp(2.0)) + std::log1p(std::exp(3.0))) / 3;
  EXPECT_NEAR(value(BinaryCrossentropy(true).compute(t, z)), want, 1e-6);
  EXPECT_NEAR(value(BinaryCrossentropy().compute(t, sigmoid(z), z, "sigmoid")), want, 1e-6);
  EXPECT_NEAR(value(BinaryCrossentropy(false).compute(t, sigmoid(z))), want, 1e-5);
  // Probabilities given directly.
  Tensor p = constant(f32({2}, {0.9f, 0.2f}));
  EXPECT_NEAR(value(BinaryCrossentropy(false).compute(constant(f32({2}, {1, 0})), p)),
              -(std::log(0.9) + std::log(0.8)) / 2, 1e-6);
  // Stable: a huge logit on the wrong side costs its size, not inf.
  EXPECT_NEAR(
      value(BinaryCrossentropy(true).compute(constant(f32({1}, {0})), constant(f32({1}, {100})))),
      100, 1e-4);
  // Integer labels are accepted (cast to the output's dtype).
  EXPECT_NEAR(value(BinaryCrossentropy(true).compute(constant(i32({3, 1}, {1, 0, 1})), z)), want,
              1e-6);
}

// As in Keras, a loss without from_logits reads probabilities, whatever the output is: values in
// (0, 1) that are not a sigmoid's or softmax's are clipped probabilities, never logits.
TEST(Crossentropy, WithoutFromLogitsTheOutputIsProbabilities) {
  Fixture f;
  Tensor p = constant(f32({2, 1}, {0.9f, 0.2f}));
  Tensor t = constant(f32({2, 1}, {1, 0}));
  const double want = -(std::log(0.9) + std::log(0.8)) / 2;
  EXPECT_NEAR(value(BinaryCrossentropy().compute(t, p)), want, 1e-6);
  EXPECT_NEAR(value(get_loss("binary_crossentropy")->compute(t, p)), want, 1e-6);
  // A relu output is not a squash: read as probabilities (normalized per row), as Keras does.
  Tensor q = constant(f32({1, 2}, {3, 1}));
  EXPECT_NEAR(value(get_loss("sparse_categorical_crossentropy")
                        ->compute(constant(i32({1}, {0})), q, Tensor(), "relu")),
              -std::log(0.75), 1e-6);
  // An output straight from a layer with no activation is unbounded: an error naming both fixes.
  try {
    get_loss("sparse_categorical_crossentropy")
        ->compute(constant(i32({1}, {0})), q, Tensor(), "linear");
    ADD_FAILURE() << "no error";
  } catch (const ValueError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("from_logits=True"), std::string::npos) << m;
    EXPECT_NE(m.find("activation=\"softmax\""), std::string::npos) << m;
  }
  EXPECT_THROW(BinaryCrossentropy().compute(t, p, Tensor(), "linear"), ValueError);
  EXPECT_NO_THROW(BinaryCrossentropy(true).compute(t, p, Tensor(), "linear"));
}

TEST(MeanSquaredError, Value) {
  Fixture f;
  EXPECT_NEAR(value(MeanSquaredError().compute(constant(f32({2, 1}, {1, 2})),
                                               constant(f32({2, 1}, {3, 5})))),
              6.5, 1e-6);
  // Labels [N] for outputs [N, 1].
  EXPECT_NEAR(
      value(MeanSquaredError().compute(constant(f32({2}, {1, 2})), constant(f32({2, 1}, {3, 5})))),
      6.5, 1e-6);
}

// The regression and distribution losses against values computed by hand from Keras's formulas.
TEST(RegressionLosses, Values) {
  Fixture f;
  auto c = [](const Shape& shape, const std::vector<float>& v) { return constant(f32(shape, v)); };
  EXPECT_NEAR(value(MeanAbsoluteError().compute(c({2, 1}, {1, 2}), c({2, 1}, {3, 5}))), 2.5, 1e-6);
  // e = 0.5, 2, -3: 0.125, 1.5, 2.5 with delta 1; 0.125, 2, 4 with delta 2.
  Tensor zero = c(Shape{3}, {0, 0, 0});
  Tensor pred = c(Shape{3}, {0.5, 2, -3});
  EXPECT_NEAR(value(Huber().compute(zero, pred)), 4.125 / 3, 1e-6);
  EXPECT_NEAR(value(Huber(2.0).compute(zero, pred)), 6.125 / 3, 1e-6);
  EXPECT_THROW(Huber(0.0), ValueError);
  // 0.2 ln(0.2 / 0.5) + 0.8 ln(0.8 / 0.5), and a row equal to its label: 0.
  EXPECT_NEAR(value(KLDivergence().compute(c({2, 2}, {0.2, 0.8, 0.3, 0.7}),
                                           c({2, 2}, {0.5, 0.5, 0.3, 0.7}))),
              (0.2 * std::log(0.4) + 0.8 * std::log(1.6)) / 2, 1e-6);
  // cos 45 degrees and 0 degrees; a zero prediction is orthogonal to everything.
  EXPECT_NEAR(value(CosineSimilarity().compute(c({2, 2}, {1, 0, 0, 1}), c({2, 2}, {1, 1, 0, 2}))),
              -(std::sqrt(0.5) + 1) / 2, 1e-6);
  EXPECT_NEAR(value(CosineSimilarity().compute(c({1, 2}, {1, 0}), c({1, 2}, {0, 0}))), 0, 1e-6);
  for (const char* name : {"mae", "huber", "kld", "kl_divergence", "cosine_similarity",
                           "MeanAbsoluteError", "Huber", "KLDivergence", "CosineSimilarity"})
    EXPECT_NO_THROW(get_loss(name)) << name;
  EXPECT_EQ(get_loss("mae")->name(), "mean_absolute_error");
  EXPECT_EQ(get_loss("huber")->name(), "huber_loss");
  EXPECT_THROW(KLDivergence().check_labels({DType::i32, {8, 3}}, {DType::f32, {8, 3}}), TypeError);
  EXPECT_THROW(CosineSimilarity().check_labels({DType::f32, {8, 2}}, {DType::f32, {8, 3}}),
               ShapeError);
}

TEST(RegressionLosses, Gradients) {
  using soma::testing::GradCase;
  const std::vector<std::pair<std::string, LossPtr>> losses = {
      {"mae", std::make_shared<MeanAbsoluteError>()},
      {"huber", std::make_shared<Huber>(0.7)},
      {"kld", std::make_shared<KLDivergence>()},
      {"cosine", std::make_shared<CosineSimilarity>()}};
  for (const auto& [name, loss] : losses) {
    // Predictions away from the kinks (|e| = 0, |e| = delta) and, for the KL divergence, in (0, 1].
    GradCase g{
        name,
        {{{3, 4}, 0.05, 0.45, {}, DType::f64, true}, {{3, 4}, 0.55, 0.95, {}, DType::f64, false}},
        [loss = loss](const std::vector<Tensor>& xs) { return loss->compute(xs[1], xs[0]); }};
    soma::testing::check_gradients(g);
  }
}

TEST(Losses, Gradients) {
  using soma::testing::GradCase;
  using soma::testing::InputSpec;
  InputSpec labels{{4}, 0, 3, {2, 0, 1, 2}, DType::i32, false};
  GradCase sparse{"sparse_cce", {{{4, 3}, -2, 2}, labels}, [](const std::vector<Tensor>& xs) {
                    return SparseCategoricalCrossentropy().compute(xs[1], xs[0]);
                  }};
  soma::testing::check_gradients(sparse);
  GradCase cce{"cce",
               {{{2, 3}, -2, 2}, {{2, 3}, 0, 1, {}, DType::f64, false}},
               [](const std::vector<Tensor>& xs) {
                 return CategoricalCrossentropy().compute(xs[1], xs[0]);
               }};
  soma::testing::check_gradients(cce);
  GradCase bce{
      "bce_logits",
      {{{5}, -3, 3}, {{5}, 0, 1, {0, 1, 1, 0, 1}, DType::f64, false}},
      [](const std::vector<Tensor>& xs) { return BinaryCrossentropy().compute(xs[1], xs[0]); }};
  soma::testing::check_gradients(bce);
  GradCase bcep{"bce_probabilities",
                {{{3}, 0.1, 0.9}, {{3}, 0, 1, {0, 1, 1}, DType::f64, false}},
                [](const std::vector<Tensor>& xs) {
                  return BinaryCrossentropy(false).compute(xs[1], xs[0]);
                }};
  soma::testing::check_gradients(bcep);
  GradCase mse_case{"mse", {{{2, 2}}, {{2, 2}}}, [](const std::vector<Tensor>& xs) {
                      return MeanSquaredError().compute(xs[1], xs[0]);
                    }};
  soma::testing::check_gradients(mse_case);
}

TEST(Losses, LabelChecks) {
  TensorType out{DType::f32, {8, 10}};
  SparseCategoricalCrossentropy sparse;
  EXPECT_NO_THROW(sparse.check_labels({DType::i32, {8}}, out));
  EXPECT_NO_THROW(sparse.check_labels({DType::i32, {8, 1}}, out));
  EXPECT_THROW(sparse.check_labels({DType::f32, {8}}, out), TypeError);
  EXPECT_THROW(sparse.check_labels({DType::i32, {8, 10}}, out), ShapeError);
  try {
    sparse.check_labels({DType::f32, {8}}, out);
  } catch (const TypeError& e) {
    EXPECT_NE(std::string(e.what()).find("i32"), std::string::npos) << e.what();
  }
  CategoricalCrossentropy cce;
  EXPECT_THROW(cce.check_labels({DType::i32, {8}}, out), TypeError);
  EXPECT_THROW(cce.check_labels({DType::f32, {8, 9}}, out), ShapeError);
  EXPECT_THROW(MeanSquaredError().check_labels({DType::f32, {8, 3}}, out), ShapeError);
  EXPECT_NO_THROW(MeanSquaredError().check_labels({DType::f32, {8}}, {DType::f32, {8, 1}}));
}

TEST(Losses, ByName) {
  EXPECT_EQ(get_loss("mse")->name(), "mean_squared_error");
  EXPECT_EQ(get_loss("binary_crossentropy")->name(), "binary_crossentropy");
  EXPECT_EQ(get_loss("sparse_categorical_crossentropy")->name(), "sparse_categorical_crossentropy");
  EXPECT_EQ(get_loss("categorical_crossentropy")->name(), "categorical_crossentropy");
  EXPECT_THROW(get_loss("hinge"), NameError);
  try {
    get_loss("hinge");
  } catch (const NameError& e) {
    EXPECT_NE(std::string(e.what()).find("sparse_categorical_crossentropy"), std::string::npos);
  }
}

TEST(Metrics, Accuracies) {
  Fixture f;
  Tensor z = constant(f32({2, 3}, {1, 2, 3, 3, 1, 0}));
  EXPECT_NEAR(value(SparseCategoricalAccuracy().compute(constant(i32({2}, {2, 1})), z, {}, "")),
              0.5, 1e-7);
  EXPECT_NEAR(
      value(CategoricalAccuracy().compute(constant(f32({2, 3}, {0, 0, 1, 1, 0, 0})), z, {}, "")),
      1.0, 1e-7);
  Tensor t = constant(f32({4}, {1, 0, 1, 0}));
  Tensor logits = constant(f32({4}, {0.3f, -0.2f, -0.1f, 0.4f}));
  EXPECT_NEAR(value(BinaryAccuracy().compute(t, logits, {}, "")), 0.5, 1e-7);  // threshold 0
  Tensor probs = constant(f32({4}, {0.6f, 0.4f, 0.45f, 0.3f}));
  EXPECT_NEAR(value(BinaryAccuracy().compute(t, probs, logits, "sigmoid")), 0.75, 1e-7);
  EXPECT_NEAR(value(BinaryAccuracy("b", false).compute(t, probs, {}, "")), 0.75, 1e-7);
  EXPECT_NEAR(value(MeanAbsoluteError().compute(t, probs, {}, "")), (0.4 + 0.4 + 0.55 + 0.3) / 4,
              1e-6);
}

// Top-k accuracy: the label's score among the k highest (a tie at the boundary counts in).
TEST(Metrics, TopK) {
  Fixture f;
  Tensor p =
      constant(f32({3, 4}, {0.1, 0.2, 0.3, 0.4, 0.4, 0.3, 0.2, 0.1, 0.25, 0.25, 0.25, 0.25}));
  Tensor labels = constant(i32({3}, {1, 3, 0}));
  // Ranks of the labels' scores: 2 higher, 3 higher, 0 higher (all tied).
  EXPECT_NEAR(value(TopKCategoricalAccuracy("t", 2, true).compute(labels, p)), 1.0 / 3, 1e-7);
  EXPECT_NEAR(value(TopKCategoricalAccuracy("t", 3, true).compute(labels, p)), 2.0 / 3, 1e-7);
  Tensor onehot = constant(f32({3, 4}, {0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0}));
  EXPECT_NEAR(value(TopKCategoricalAccuracy("t", 3, false).compute(onehot, p)), 2.0 / 3, 1e-7);
  auto m = get_metric("sparse_top_k_categorical_accuracy", SparseCategoricalCrossentropy());
  EXPECT_EQ(m->name(), "sparse_top_k_categorical_accuracy");
  EXPECT_NEAR(value(m->compute(labels, p)), 1.0, 1e-7);  // k = 5 > 4 classes
}

// Regression metrics are reported under the name asked for, as Keras does.
TEST(Metrics, LossesAsMetrics) {
  Fixture f;
  EXPECT_EQ(get_metric("mae", MeanSquaredError())->name(), "mae");
  EXPECT_EQ(get_metric("mean_squared_error", MeanSquaredError())->name(), "mean_squared_error");
  Tensor t = constant(f32({2}, {1, 2})), p = constant(f32({2}, {3, 5}));
  EXPECT_NEAR(value(get_metric("mse", MeanAbsoluteError())->compute(t, p)), 6.5, 1e-6);
  EXPECT_NEAR(value(get_metric("mae", MeanSquaredError())->compute(t, p)), 2.5, 1e-6);
}

// Keras's AUC: ROC area from counts at 200 thresholds, summed over batches.
double auc_of(const Metric& m, const std::vector<std::pair<Array, Array>>& batches) {
  std::vector<double> sums;
  for (const auto& [y, p] : batches) {
    std::vector<double> s = eval(m.compute(constant(y), constant(p))).to_doubles();
    if (sums.empty()) sums.assign(s.size(), 0.0);
    for (size_t i = 0; i < s.size(); ++i) sums[i] += s[i];
  }
  return m.result(sums);
}

// The same by plain loops: thresholds, counts, trapezoids.
double reference_auc(const std::vector<double>& y, const std::vector<double>& p, int t = 200) {
  double area = 0, prev_tpr = 0, prev_fpr = 0;
  double pos = 0, neg = 0;
  for (double v : y) (v != 0 ? pos : neg) += 1;
  for (int i = 0; i < t; ++i) {
    double thr = i == 0 ? -1e-7 : i == t - 1 ? 1 + 1e-7 : i * 1.0 / (t - 1);
    double tp = 0, fp = 0;
    for (size_t k = 0; k < y.size(); ++k)
      if (static_cast<float>(p[k]) > thr) (y[k] != 0 ? tp : fp) += 1;
    double tpr = tp / pos, fpr = fp / neg;
    if (i > 0) area += (prev_fpr - fpr) * (prev_tpr + tpr) / 2;
    prev_tpr = tpr;
    prev_fpr = fpr;
  }
  return area;
}

TEST(Metrics, AUCAsKerasComputesIt) {
  Fixture f;
  AUC auc;
  // scikit-learn's and Keras's documented example: 0.75.
  EXPECT_NEAR(auc_of(auc, {{f32({4}, {0, 0, 1, 1}), f32({4}, {0.1f, 0.4f, 0.35f, 0.8f})}}), 0.75,
              1e-6);
  // Many predictions, in batches of different sizes: the sums make one curve.
  std::vector<double> y, p;
  Array ya = random_array({300}, 0, 1, 5), pa = random_array({300}, 0, 1, 6);
  std::vector<std::pair<Array, Array>> batches;
  for (int b = 0; b < 3; ++b) {
    std::vector<float> yb, pb;
    for (int i = b * 100; i < (b + 1) * 100; ++i) {
      // Labels that the predictions rank fairly well.
      double label = ya.get(i) < 0.5 ? 0 : 1;
      double pred = 0.6 * pa.get(i) + 0.4 * label;
      y.push_back(label);
      p.push_back(pred);
      yb.push_back(static_cast<float>(label));
      pb.push_back(static_cast<float>(pred));
    }
    batches.emplace_back(f32({100, 1}, yb), f32({100, 1}, pb));
  }
  double want = reference_auc(y, p);
  EXPECT_GT(want, 0.8);
  EXPECT_NEAR(auc_of(auc, batches), want, 1e-9);
  // From logits (a from_logits loss): the same curve through a sigmoid.
  std::vector<float> logit;
  for (double v : p) logit.push_back(static_cast<float>(std::log(v / (1 - v))));
  std::vector<float> yf(y.begin(), y.end());
  AUC from_logits("auc", 200, true);
  EXPECT_NEAR(auc_of(from_logits, {{f32({300}, yf), f32({300}, logit)}}), want, 0.01);
  auto named = get_metric("AUC", BinaryCrossentropy(true));
  EXPECT_EQ(named->name(), "auc");
  EXPECT_TRUE(named->has_statistics());
  EXPECT_THROW(AUC("a", 1), ValueError);
}

TEST(Metrics, AccuracyFollowsTheLoss) {
  EXPECT_NE(dynamic_cast<SparseCategoricalAccuracy*>(
                get_metric("accuracy", SparseCategoricalCrossentropy()).get()),
            nullptr);
  EXPECT_EQ(get_metric("accuracy", SparseCategoricalCrossentropy())->name(), "accuracy");
  EXPECT_EQ(get_metric("acc", CategoricalCrossentropy())->name(), "accuracy");
  EXPECT_NE(
      dynamic_cast<CategoricalAccuracy*>(get_metric("accuracy", CategoricalCrossentropy()).get()),
      nullptr);
  EXPECT_NE(dynamic_cast<BinaryAccuracy*>(get_metric("accuracy", BinaryCrossentropy()).get()),
            nullptr);
  EXPECT_EQ(get_metric("sparse_categorical_accuracy", MeanSquaredError())->name(),
            "sparse_categorical_accuracy");
  EXPECT_THROW(get_metric("f1", MeanSquaredError()), NameError);
}

}  // namespace
}  // namespace soma::nn
