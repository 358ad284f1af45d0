// Functional models: layer calls on symbolic tensors, Functional(inputs, outputs) with several
// inputs and outputs, shared layers, summary, checkpoints, and the errors a user can cause. The
// training core is Sequential's: a chain-shaped functional model must train exactly like the
// Sequential model of the same layers.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include <unistd.h>

#include "frontend/nn/functional.h"
#include "frontend/nn/merge.h"
#include "nn/nn_test_util.h"

namespace soma::nn {
namespace {

using namespace soma::nn::testing;

// n samples of two 4-feature inputs; class = argmax of (a + b)[:3]; value = sum(a) - sum(b).
struct TwoInputs {
  Array a, b, cls, value;
  explicit TwoInputs(int64_t n, uint64_t seed = 1) {
    a = random_array({n, 4}, -1, 1, seed);
    b = random_array({n, 4}, -1, 1, seed + 100);
    cls = Array(DType::i32, {n});
    value = Array(DType::f32, {n, 1});
    for (int64_t i = 0; i < n; ++i) {
      int best = 0;
      double s = 0;
      for (int c = 0; c < 4; ++c) s += a.get(i * 4 + c) - b.get(i * 4 + c);
      for (int c = 1; c < 3; ++c)
        if (a.get(i * 4 + c) + b.get(i * 4 + c) > a.get(i * 4 + best) + b.get(i * 4 + best))
          best = c;
      cls.set(i, best);
      value.set(i, s);
    }
  }
};

template <class L, class... Args>
std::shared_ptr<L> make(Args&&... args) {
  return std::make_shared<L>(std::forward<Args>(args)...);
}

FitOptions quiet(int epochs, int64_t batch) {
  FitOptions o;
  o.epochs = epochs;
  o.batch_size = batch;
  o.verbose = 0;
  return o;
}

EvaluateOptions quiet_eval() {
  EvaluateOptions o;
  o.verbose = 0;
  o.batch_size = 64;
  return o;
}

// The tests train on the interpreter: the models are tiny, so compiling would dominate.
const std::string kBackend = "interp";

std::shared_ptr<Functional> two_input_classifier(uint64_t seed = 0) {
  SymbolicTensor a = Input({4}, DType::f32, "a"), b = Input({4}, DType::f32, "b");
  SymbolicTensor ha = (*make<Dense>(8, DenseOptions{.activation = "relu"}))(a);
  SymbolicTensor hb = (*make<Dense>(8, DenseOptions{.activation = "relu"}))(b);
  SymbolicTensor h = (*make<Concatenate>())({ha, hb});
  SymbolicTensor out = (*make<Dense>(3))(h);
  return make<Functional>(std::vector{a, b}, std::vector{out}, "", seed);
}

TEST(Functional, SymbolicTensorsRecordCalls) {
  SymbolicTensor x = Input({784});
  EXPECT_TRUE(x.is_input());
  EXPECT_EQ(x.str(), "(None, 784)");
  auto dense = make<Dense>(10);
  SymbolicTensor y = (*dense)(x);
  EXPECT_FALSE(y.is_input());
  EXPECT_EQ(y.layer(), dense);
  EXPECT_EQ(y.inputs().size(), 1u);
  EXPECT_EQ(y.type()->shape, (Shape{10}));  // inferred when the call is recorded
  EXPECT_EQ(y.str(), "(None, 10)");
  SymbolicTensor bad = (*make<Dense>(2))((*make<Concatenate>())({x, Input({3, 3})}));
  EXPECT_FALSE(bad.type());  // the model reports why when it is made
  EXPECT_EQ(bad.str(), "(None, ?)");
  Functional m(x, y);
  EXPECT_EQ(y.type()->shape, (Shape{10}));
  EXPECT_EQ(m.input_names(), (std::vector<std::string>{"input_1"}));
  EXPECT_EQ(m.output_names(), (std::vector<std::string>{"dense"}));
  EXPECT_EQ(m.count_params(), 7850);
}

TEST(Functional, AChainTrainsExactlyLikeSequential) {
  auto seq = make<Sequential>(
      std::vector<LayerPtr>{make<Dense>(8, DenseOptions{.activation = "relu"}), make<Dense>(3)}, "",
      7);
  seq->build({4});
  SymbolicTensor x = Input({4});
  SymbolicTensor y = (*make<Dense>(3))((*make<Dense>(8, DenseOptions{.activation = "relu"}))(x));
  auto fn = make<Functional>(x, y, "", 7);
  std::vector<Array> w0 = seq->get_weights(), w1 = fn->get_weights();
  ASSERT_EQ(w0.size(), w1.size());
  for (size_t i = 0; i < w0.size(); ++i) EXPECT_EQ(w0[i].to_doubles(), w1[i].to_doubles());
  TwoInputs d(100);
  for (Model* m : {static_cast<Model*>(seq.get()), static_cast<Model*>(fn.get())}) {
    m->compile(make<SGD>(0.1, 0.9),
               {LossPtr(std::make_shared<SparseCategoricalCrossentropy>(true))}, {"accuracy"},
               kBackend);
    FitOptions o = quiet(2, 16);
    o.validation_split = 0.2;
    m->fit(d.a, d.cls, o);
  }
  w0 = seq->get_weights();
  w1 = fn->get_weights();
  for (size_t i = 0; i < w0.size(); ++i) EXPECT_EQ(w0[i].to_doubles(), w1[i].to_doubles());
  EXPECT_EQ(seq->iterations(), fn->iterations());
}

TEST(Functional, TwoInputModelTrains) {
  TwoInputs train(600, 1), test(200, 2);
  auto m = two_input_classifier(3);
  EXPECT_EQ(m->num_inputs(), 2u);
  m->compile(make<Adam>(0.02), std::make_shared<SparseCategoricalCrossentropy>(true), {"accuracy"},
             kBackend);
  History h = m->fit({train.a, train.b}, train.cls, quiet(12, 32));  // 600 = 18 * 32 + 24
  EXPECT_LT(h["loss"].back(), h["loss"].front());
  Logs e = m->evaluate({test.a, test.b}, test.cls, quiet_eval());
  EXPECT_GT(e.at("accuracy"), 0.9);
  Array logits = m->predict({test.a, test.b}, {.batch_size = 48});
  EXPECT_EQ(logits.shape(), (Shape{200, 3}));
  // train_on_batch / test_on_batch take one array per input too.
  EXPECT_TRUE(std::isfinite(m->train_on_batch({test.a, test.b}, test.cls).at("loss")));
  EXPECT_TRUE(std::isfinite(m->test_on_batch({test.a, test.b}, test.cls).at("accuracy")));
}

// Two inputs a, b -> Dense 16 tanh -> a class head "cls" (3 logits) and a value head "value".
std::shared_ptr<Functional> two_heads() {
  SymbolicTensor a = Input({4}, DType::f32, "a"), b = Input({4}, DType::f32, "b");
  SymbolicTensor h =
      (*make<Dense>(16, DenseOptions{.activation = "tanh"}))((*make<Concatenate>())({a, b}));
  SymbolicTensor cls = (*make<Dense>(3, DenseOptions{.name = "cls"}))(h);
  SymbolicTensor value = (*make<Dense>(1, DenseOptions{.name = "value"}))(h);
  return make<Functional>(std::vector{a, b}, std::vector{cls, value}, "two_heads", 1);
}

TEST(Functional, TwoOutputModelSumsWeightedLosses) {
  auto m = two_heads();
  EXPECT_THROW(m->compile(make<Adam>(0.02), std::vector<LossPtr>{get_loss("mse")}, {}, kBackend,
                          {1.0, 2.0, 3.0}),
               ValueError);
  EXPECT_THROW(m->compile(make<Adam>(0.02),
                          std::vector<LossPtr>{get_loss("mse"), get_loss("mse"), get_loss("mse")}),
               ValueError);
  m->compile(
      make<Adam>(0.02),
      std::vector<LossPtr>{std::make_shared<SparseCategoricalCrossentropy>(true), get_loss("mse")},
      {"accuracy"}, kBackend, {1.0, 0.5});
  EXPECT_EQ(m->metrics_names(), (std::vector<std::string>{"loss", "cls_loss", "value_loss",
                                                          "cls_accuracy", "value_accuracy"}));
  TwoInputs train(400, 1), test(100, 2);
  FitOptions o = quiet(15, 32);
  o.validation_data = std::pair{Arrays{test.a, test.b}, Arrays{test.cls, test.value}};
  History hist = m->fit({train.a, train.b}, {train.cls, train.value}, o);
  EXPECT_TRUE(hist.has("val_cls_accuracy"));
  EXPECT_LT(hist["cls_loss"].back(), hist["cls_loss"].front());
  EXPECT_LT(hist["value_loss"].back(), 0.3 * hist["value_loss"].front());
  Logs e = m->evaluate({test.a, test.b}, {test.cls, test.value}, quiet_eval());
  EXPECT_NEAR(e.at("loss"), e.at("cls_loss") + 0.5 * e.at("value_loss"), 1e-4);
  EXPECT_GT(e.at("cls_accuracy"), 0.8);
  std::vector<Array> outs = m->predict_outputs({test.a, test.b});
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_EQ(outs[0].shape(), (Shape{100, 3}));
  EXPECT_EQ(outs[1].shape(), (Shape{100, 1}));
  double mse = 0;
  for (int64_t i = 0; i < 100; ++i) mse += std::pow(outs[1].get(i) - test.value.get(i), 2);
  EXPECT_NEAR(e.at("value_loss"), mse / 100, 1e-4);
  EXPECT_THROW(m->predict({test.a, test.b}), ValueError);  // two outputs: predict_outputs
  EXPECT_THROW(m->fit({train.a, train.b}, train.cls, quiet(1, 32)), ValueError);
  EXPECT_THROW(m->fit(train.a, {train.cls, train.value}, quiet(1, 32)), ValueError);
  EXPECT_THROW(m->fit({train.a, test.b}, {train.cls, train.value}, quiet(1, 32)), ShapeError);
}

TEST(Functional, ASharedLayerHasOneSetOfWeightsAndSumsItsGradients) {
  // One layer called twice on one input, each call an output with an MSE loss, trains exactly as
  // the same layer called once with its loss counted twice.
  TwoInputs d(32);
  auto shared = make<Dense>(2, DenseOptions{.name = "d"});
  SymbolicTensor x = Input({4});
  auto twice = make<Functional>(x, std::vector{(*shared)(x), (*shared)(x)}, "twice", 3);
  EXPECT_EQ(twice->layers().size(), 1u);
  EXPECT_EQ(twice->weights().size(), 2u);
  EXPECT_EQ(twice->output_names(), (std::vector<std::string>{"d", "d_1"}));
  SymbolicTensor x1 = Input({4});
  auto once = make<Functional>(x1, (*make<Dense>(2, DenseOptions{.name = "d"}))(x1), "once", 3);
  EXPECT_EQ(twice->get_weights()[0].to_doubles(), once->get_weights()[0].to_doubles());
  Array target = random_array({32, 2}, -1, 1, 4);
  twice->compile(make<SGD>(0.1), get_loss("mse"), {}, kBackend);
  once->compile(make<SGD>(0.1), {get_loss("mse")}, {}, kBackend, {2.0});
  twice->train_on_batch(d.a, {target, target});
  once->train_on_batch(d.a, target);
  std::vector<Array> wt = twice->get_weights(), wo = once->get_weights();
  for (size_t i = 0; i < 2; ++i)
    for (int64_t e = 0; e < wt[i].numel(); ++e) EXPECT_NEAR(wt[i].get(e), wo[i].get(e), 1e-6);
  // A siamese pair: one Dense on two inputs; equal inputs give equal branch outputs.
  SymbolicTensor a = Input({4}), b = Input({4});
  auto tower = make<Dense>(3, DenseOptions{.activation = "tanh"});
  SymbolicTensor diff = (*make<Subtract>())({(*tower)(a), (*tower)(b)});
  auto siamese = make<Functional>(std::vector{a, b}, std::vector{diff});
  EXPECT_EQ(siamese->count_params(), 15);
  siamese->compile(make<SGD>(0.1), get_loss("mse"), {}, kBackend);
  Array zero(DType::f32, {32, 3});
  siamese->train_on_batch({d.a, d.b}, zero);
  for (double v : siamese->predict({d.a, d.a}).to_doubles()) EXPECT_EQ(v, 0.0);
}

TEST(Functional, SummaryShowsInputsAndConnections) {
  auto m = two_input_classifier();
  const std::string want =
      "Model: \"model\"\n"
      "____________________________________________________________________________________________"
      "_____\n"
      " Layer (type)                  Output Shape          Param #     Connected to\n"
      "============================================================================================"
      "=====\n"
      " a (InputLayer)                [(None, 4)]           0           []\n"
      "\n"
      " b (InputLayer)                [(None, 4)]           0           []\n"
      "\n"
      " dense (Dense)                 (None, 8)             40          ['a[0][0]']\n"
      "\n"
      " dense_1 (Dense)               (None, 8)             40          ['b[0][0]']\n"
      "\n"
      " concatenate (Concatenate)     (None, 16)            0           ['dense[0][0]', "
      "'dense_1[0][0]']\n"
      "\n"
      " dense_2 (Dense)               (None, 3)             51          ['concatenate[0][0]']\n"
      "============================================================================================"
      "=====\n"
      "Total params: 131\n"
      "Trainable params: 131\n"
      "Non-trainable params: 0\n"
      "____________________________________________________________________________________________"
      "_____\n";
  EXPECT_EQ(m->summary(), want);
  // A chain reads like Sequential's table, with its input row.
  SymbolicTensor x = Input({28, 28});
  SymbolicTensor y = (*make<Dense>(10))((*make<Flatten>())(x));
  Functional chain(x, y, "chain");
  const std::string chain_want =
      "Model: \"chain\"\n"
      "_________________________________________________________________\n"
      " Layer (type)                Output Shape              Param #\n"
      "=================================================================\n"
      " input_1 (InputLayer)        [(None, 28, 28)]          0\n"
      " flatten (Flatten)           (None, 784)               0\n"
      " dense (Dense)               (None, 10)                7850\n"
      "=================================================================\n"
      "Total params: 7,850\n"
      "Trainable params: 7,850\n"
      "Non-trainable params: 0\n"
      "_________________________________________________________________\n";
  EXPECT_EQ(chain.summary(), chain_want);
}

// Keras's list of lists: each output its own metrics (no accuracy of a regression head), kept by
// save and load_model.
TEST(Functional, EachOutputGetsItsOwnMetrics) {
  namespace fs = std::filesystem;
  auto m = two_heads();
  const std::vector<LossPtr> losses{std::make_shared<SparseCategoricalCrossentropy>(true),
                                    get_loss("mse")};
  EXPECT_THROW(m->compile(make<Adam>(0.02), losses, Model::OutputMetrics{{{"accuracy"}}}, kBackend),
               ValueError);
  m->compile(make<Adam>(0.02), losses, Model::OutputMetrics{{{"accuracy"}, {"mae", "mse"}}},
             kBackend);
  EXPECT_EQ(m->metrics_names(),
            (std::vector<std::string>{"loss", "cls_loss", "value_loss", "cls_accuracy", "value_mae",
                                      "value_mse"}));
  TwoInputs train(200, 1), test(50, 2);
  m->fit({train.a, train.b}, {train.cls, train.value}, quiet(2, 32));
  Logs e = m->evaluate({test.a, test.b}, {test.cls, test.value}, quiet_eval());
  std::vector<Array> outs = m->predict_outputs({test.a, test.b});
  double mae = 0;
  for (int64_t i = 0; i < 50; ++i) mae += std::fabs(outs[1].get(i) - test.value.get(i));
  EXPECT_NEAR(e.at("value_mae"), mae / 50, 1e-4);
  EXPECT_NEAR(e.at("value_mse"), e.at("value_loss"), 1e-5);
  EXPECT_FALSE(e.has("value_accuracy"));
  EXPECT_FALSE(e.has("cls_mae"));

  fs::path path = fs::temp_directory_path() / ("soma_output_metrics_" + std::to_string(::getpid()));
  m->save(path.string());
  std::shared_ptr<Model> back = load_model(path.string(), kBackend);
  EXPECT_EQ(back->metrics_names(), m->metrics_names());
  fs::remove(path);

  // A metric object for one output only.
  struct Zero : Metric {
    std::string name() const override { return "zero"; }
    Tensor compute(const Tensor& t, const Tensor&, const Tensor&,
                   const std::string&) const override {
      return cast(sum(t), DType::f32) * 0.0;
    }
  };
  m->add_metric(std::make_shared<Zero>(), 0);
  EXPECT_EQ(m->metrics_names().at(4), "cls_zero");
  EXPECT_EQ(m->metrics_names().size(), 7u);
  EXPECT_THROW(m->add_metric(std::make_shared<Zero>(), 0), ValueError);
  EXPECT_THROW(m->add_metric(std::make_shared<Zero>(), 2), ValueError);
}

TEST(Functional, CheckpointRoundTrip) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("soma_functional_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  TwoInputs d(64);
  auto m = two_input_classifier(2);
  m->compile(make<Adam>(0.01), std::make_shared<SparseCategoricalCrossentropy>(true), {"accuracy"},
             kBackend);
  m->fit({d.a, d.b}, d.cls, quiet(1, 16));
  std::string path = (dir / "m.soma-weights").string();
  m->save(path);
  std::shared_ptr<Model> back = load_model(path, kBackend);
  EXPECT_EQ(back->class_name(), "Functional");
  EXPECT_EQ(back->architecture(), m->architecture());
  EXPECT_EQ(back->summary(), m->summary());
  EXPECT_EQ(back->iterations(), m->iterations());
  EXPECT_EQ(back->metrics_names(), m->metrics_names());
  EXPECT_EQ(back->predict({d.a, d.b}).to_doubles(), m->predict({d.a, d.b}).to_doubles());
  // The optimizer state came along: one more step gives the same weights.
  m->train_on_batch({d.a, d.b}, d.cls);
  back->train_on_batch({d.a, d.b}, d.cls);
  std::vector<Array> w0 = m->get_weights(), w1 = back->get_weights();
  for (size_t i = 0; i < w0.size(); ++i) EXPECT_EQ(w0[i].to_doubles(), w1[i].to_doubles());
  EXPECT_THROW(Sequential::load(path), ValueError);
  // Weights only, into the same architecture made again in code.
  std::string wpath = (dir / "w.soma-weights").string();
  m->save_weights(wpath);
  auto fresh = two_input_classifier(99);
  EXPECT_NE(fresh->get_weights()[0].to_doubles(), w0[0].to_doubles());
  fresh->load_weights(wpath);
  EXPECT_EQ(fresh->get_weights()[0].to_doubles(), m->get_weights()[0].to_doubles());
  // Another architecture refuses them and keeps its weights.
  SymbolicTensor x = Input({4});
  Functional other(x, (*make<Dense>(3))(x));
  std::vector<double> before = other.get_weights()[0].to_doubles();
  EXPECT_THROW(other.load_weights(wpath), ShapeError);
  EXPECT_EQ(other.get_weights()[0].to_doubles(), before);
  // Multi-output models keep their per-output losses and weights.
  SymbolicTensor in = Input({4});
  SymbolicTensor hid = (*make<Dense>(4))(in);
  auto heads = make<Functional>(
      in, std::vector{(*make<Dense>(3, DenseOptions{.name = "c"}))(hid),
                      (*make<Dense>(1, DenseOptions{.name = "v", .seed = 5}))(hid)});
  heads->compile(
      make<SGD>(0.1),
      std::vector<LossPtr>{std::make_shared<SparseCategoricalCrossentropy>(true), get_loss("mse")},
      {"accuracy"}, kBackend, {1.0, 0.25});
  heads->save(path);
  auto heads_back = load_model(path, kBackend);
  EXPECT_EQ(heads_back->losses()[1]->name(), "mean_squared_error");
  EXPECT_EQ(heads_back->loss_weights(), (std::vector<double>{1.0, 0.25}));
  EXPECT_EQ(heads_back->metrics_names(), heads->metrics_names());
  fs::remove_all(dir);
}

TEST(Functional, Errors) {
  SymbolicTensor a = Input({4}, DType::f32, "a"), b = Input({5}, DType::f32, "b");
  // An input that no output depends on.
  try {
    Functional m(std::vector{a, b}, std::vector{(*make<Dense>(1))(a)});
    ADD_FAILURE() << "no error for an unconnected input";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("input 1 ('b')"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not connected to any output"), std::string::npos);
  }
  // An output that depends on an Input that is not a model input.
  try {
    Functional m(a, (*make<Dense>(1))((*make<Concatenate>())({a, b})));
    ADD_FAILURE() << "no error for a disconnected graph";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("graph disconnected"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Input 'b'"), std::string::npos) << e.what();
  }
  // Shapes that do not fit a layer: the error names it and the shapes it got.
  try {
    Functional m(std::vector{a, b}, std::vector{(*make<Add>())({a, b})});
    ADD_FAILURE() << "no error for Add of different shapes";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("Add layer 'add'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(None, 4), (None, 5)"), std::string::npos) << e.what();
  }
  auto shared = make<Dense>(2, DenseOptions{.name = "tower"});
  try {
    Functional m(std::vector{a, b}, std::vector{(*shared)(a), (*shared)(b)});
    ADD_FAILURE() << "no error for a shared layer on another input size";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("layer 'tower' (Dense) on input (None, 5)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(shared->built());
  EXPECT_NO_THROW(Functional(a, (*shared)(a)));  // released by the failed model
  // Calls that do not fit the layer.
  EXPECT_THROW((*make<Dense>(2))(std::vector{a, b}), ValueError);
  EXPECT_THROW((*make<Concatenate>())(a), ValueError);
  EXPECT_THROW((*make<Concatenate>())(std::vector{a}), ValueError);
  EXPECT_THROW(Concatenate(0), ValueError);
  Dense on_stack(2);
  EXPECT_THROW(on_stack(a), ValueError);  // not held by a shared_ptr
  // Inputs that are not Inputs, twice, or missing.
  SymbolicTensor h = (*make<Dense>(3))(a);
  EXPECT_THROW(Functional(h, (*make<Dense>(1))(h)), ValueError);
  EXPECT_THROW(Functional(std::vector{a, a}, std::vector{(*make<Dense>(1))(a)}), ValueError);
  EXPECT_THROW(Functional(std::vector<SymbolicTensor>{}, std::vector{h}), ValueError);
  EXPECT_THROW(Input({0}), ValueError);
  // Duplicate names, a layer of another model, a merge layer in a Sequential model.
  EXPECT_THROW(Functional(a, (*make<Dense>(1, DenseOptions{.name = "a"}))(a)), ValueError);
  EXPECT_THROW(Functional(a, (*shared)(a)), ValueError);  // built by the model above
  Sequential with_merge({make<Add>()});
  EXPECT_THROW(with_merge.build({4}), ValueError);
  // Data that does not fit.
  auto m = two_input_classifier();
  m->compile(get_optimizer("sgd"), std::make_shared<SparseCategoricalCrossentropy>(true), {},
             kBackend);
  TwoInputs d(8);
  EXPECT_THROW(m->fit(d.a, d.cls, quiet(1, 4)), ValueError);  // one array for two inputs
  try {
    m->fit({d.a, Array(DType::f32, {8, 5})}, d.cls, quiet(1, 4));
    ADD_FAILURE() << "no error for a wrong input shape";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("input 'b'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(m->build({4}), ValueError);
}

// Dropping the last handle of a chain of 200,000 layer calls frees it without recursing once
// per call (a recursive destructor overflowed the stack).
TEST(FunctionalChains, AVeryLongChainOfCallsIsFreedWithoutDeepRecursion) {
  auto relu = make<Activation>("relu");
  SymbolicTensor y = Input({2});
  for (int i = 0; i < 200000; ++i) y = (*relu)(y);
  y = SymbolicTensor();  // the whole chain goes here
  SUCCEED();
}

TEST(FunctionalChains, AModelOfAVeryLongChainIsMadeAndFreed) {
  auto relu = make<Activation>("relu");
  SymbolicTensor x = Input({2});
  SymbolicTensor y = x;
  for (int i = 0; i < 100000; ++i) y = (*relu)(y);
  auto model = make<Functional>(x, y);
  x = y = SymbolicTensor();
  model.reset();  // the model held the only handles
  SUCCEED();
}

}  // namespace
}  // namespace soma::nn
