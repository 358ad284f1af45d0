// Sequential: naming, building, summary, compile/fit/evaluate/predict on small synthetic data,
// the one-step training graph (in-place updates, partial batches), progress output, History,
// callbacks, and the errors a user can cause.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <regex>
#include <sstream>

#include <fstream>

#include "frontend/data/dataset.h"
#include "frontend/nn/model.h"
#include "nn/nn_test_util.h"
#include "runtime/npy.h"

namespace soma::nn {
namespace {

using namespace soma::nn::testing;

// n samples of 4 features; class = argmax of the first 3 features (learnable by a linear model).
struct Toy {
  Array x, y;
  explicit Toy(int64_t n, uint64_t seed = 1) {
    x = random_array({n, 4}, -1, 1, seed);
    y = Array(DType::i32, {n});
    for (int64_t i = 0; i < n; ++i) {
      int best = 0;
      for (int c = 1; c < 3; ++c)
        if (x.get(i * 4 + c) > x.get(i * 4 + best)) best = c;
      y.set(i, best);
    }
  }
};

std::shared_ptr<Sequential> mlp(uint64_t seed = 0) {
  return std::make_shared<Sequential>(
      std::vector<LayerPtr>{std::make_shared<Dense>(8, DenseOptions{.activation = "relu"}),
                            std::make_shared<Dense>(3)},
      "", seed);
}

FitOptions quiet(int epochs = 1, int64_t batch = 16) {
  FitOptions o;
  o.epochs = epochs;
  o.batch_size = batch;
  o.verbose = 0;
  return o;
}

EvaluateOptions quiet_eval(int64_t batch = 32) {
  EvaluateOptions o;
  o.batch_size = batch;
  o.verbose = 0;
  return o;
}

TEST(Sequential, NamesLayersUniquelyPerModel) {
  auto m = std::make_shared<Sequential>(std::vector<LayerPtr>{
      std::make_shared<Conv2D>(2, 3), std::make_shared<MaxPool2D>(), std::make_shared<Flatten>(),
      std::make_shared<Dense>(4), std::make_shared<Dense>(2), std::make_shared<Dense>(1)});
  std::vector<std::string> names;
  for (const auto& l : m->layers()) names.push_back(l->name());
  EXPECT_EQ(names, (std::vector<std::string>{"conv2d", "max_pooling2d", "flatten", "dense",
                                             "dense_1", "dense_2"}));
  auto other = mlp();  // counts start again in another model
  EXPECT_EQ(other->layers()[0]->name(), "dense");
  m->build({1, 6, 6});
  std::vector<std::string> weights;
  for (const Weight& w : m->weights()) weights.push_back(w.name);
  EXPECT_EQ(weights, (std::vector<std::string>{"conv2d/kernel", "conv2d/bias", "dense/kernel",
                                               "dense/bias", "dense_1/kernel", "dense_1/bias",
                                               "dense_2/kernel", "dense_2/bias"}));
}

TEST(Sequential, LayerErrors) {
  Sequential m;
  m.add(std::make_shared<Dense>(3, DenseOptions{.name = "out"}));
  EXPECT_THROW(m.add(std::make_shared<Dense>(3, DenseOptions{.name = "out"})), ValueError);
  EXPECT_THROW(Dense(3, DenseOptions{.name = "has space"}), ValueError);
  auto shared = std::make_shared<Dense>(2);
  Sequential a({shared});
  EXPECT_THROW(Sequential({shared}), ValueError);  // a layer belongs to one model
  auto loose = std::make_shared<Dense>(2);
  { Sequential unbuilt({loose}); }
  EXPECT_NO_THROW(Sequential({loose}));  // released by a model that never built it
  EXPECT_THROW(m.add(nullptr), ValueError);
  m.build({5});
  EXPECT_THROW(m.add(std::make_shared<Dense>(1)), ValueError);
  EXPECT_THROW(m.build({6}), ShapeError);
  EXPECT_NO_THROW(m.build({5}));
  Sequential empty;
  EXPECT_THROW(empty.build({3}), ValueError);
}

TEST(Sequential, SummaryIsAKerasTable) {
  auto m = std::make_shared<Sequential>(std::vector<LayerPtr>{
      std::make_shared<Flatten>(), std::make_shared<Dense>(32, DenseOptions{.activation = "relu"}),
      std::make_shared<BatchNorm>(), std::make_shared<Dense>(10)});
  EXPECT_THROW(m->summary(), ValueError);  // not built
  m->build({28, 28});
  const std::string want =
      "Model: \"sequential\"\n"
      "_____________________________________________________________________\n"
      " Layer (type)                    Output Shape              Param #\n"
      "=====================================================================\n"
      " flatten (Flatten)               (None, 784)               0\n"
      " dense (Dense)                   (None, 32)                25120\n"
      " batch_normalization (BatchNorm) (None, 32)                128\n"
      " dense_1 (Dense)                 (None, 10)                330\n"
      "=====================================================================\n"
      "Total params: 25,578\n"
      "Trainable params: 25,514\n"
      "Non-trainable params: 64\n"
      "_____________________________________________________________________\n";
  EXPECT_EQ(m->summary(), want);
  EXPECT_EQ(m->count_params(), 25578);
  EXPECT_EQ(m->output_type().shape, (Shape{10}));
}

TEST(Sequential, SameSeedSameWeights) {
  auto a = mlp(7), b = mlp(7), c = mlp(8);
  a->build({4});
  b->build({4});
  c->build({4});
  auto wa = a->get_weights(), wb = b->get_weights(), wc = c->get_weights();
  EXPECT_EQ(wa[0].to_doubles(), wb[0].to_doubles());
  EXPECT_NE(wa[0].to_doubles(), wc[0].to_doubles());
}

TEST(Sequential, AFirstLayerWithAnInputShapeBuildsTheModelAsKerasDoes) {
  auto first = std::make_shared<Dense>(4, DenseOptions{.activation = "relu"});
  first->set_input_shape({3});
  auto m = std::make_shared<Sequential>(std::vector<LayerPtr>{first, std::make_shared<Dense>(2)});
  ASSERT_TRUE(m->built());
  EXPECT_EQ(m->input_type().str(), "f32[3]");
  EXPECT_EQ(m->count_params(), 16 + 10);
  // Adding a layer builds the model again around it; the weights so far keep their values.
  std::vector<Array> before = m->get_weights();
  m->add(std::make_shared<Dense>(5));
  EXPECT_EQ(m->output_type().str(), "f32[5]");
  std::vector<Array> after = m->get_weights();
  ASSERT_EQ(after.size(), 6u);
  for (size_t i = 0; i < before.size(); ++i)
    EXPECT_EQ(after[i].to_doubles(), before[i].to_doubles()) << i;
  // A layer that does not fit is refused and leaves the model as it was.
  EXPECT_THROW(m->add(std::make_shared<Reshape>(std::vector<int64_t>{3})), ShapeError);
  EXPECT_EQ(m->layers().size(), 3u);
  EXPECT_EQ(m->output_type().str(), "f32[5]");
  m->compile("sgd", "mse");
  EXPECT_THROW(m->add(std::make_shared<Dense>(1)), ValueError);
  // An Embedding's declared input is token ids.
  auto emb = std::make_shared<Embedding>(10, 3);
  emb->set_input_shape({4});
  Sequential e({emb});
  EXPECT_EQ(e.input_type().str(), "i32[4]");
}

// AUC's epoch value is the area of one curve over every batch, not a mean of batch areas: it does
// not depend on the batch size, and fit's last logged value is evaluate's on the same data.
TEST(Model, AUCCoversTheWholeEpochWhateverTheBatchSize) {
  Toy d(200);
  Array yb(DType::f32, Shape{200, 1});
  for (int64_t i = 0; i < 200; ++i) yb.set(i, d.y.get(i) == 0 ? 1 : 0);
  auto m = std::make_shared<Sequential>(
      std::vector<LayerPtr>{std::make_shared<Dense>(8, DenseOptions{.activation = "relu"}),
                            std::make_shared<Dense>(1, DenseOptions{.activation = "sigmoid"})},
      "", 3);
  m->compile(get_optimizer("adam"), get_loss("binary_crossentropy"), {"auc", "accuracy"});
  History h = m->fit(d.x, yb, quiet(5, 16));
  ASSERT_EQ(h["auc"].size(), 5u);
  EXPECT_GT(h["auc"].back(), 0.8);
  double a7 = m->evaluate(d.x, yb, quiet_eval(7)).at("auc");
  double a200 = m->evaluate(d.x, yb, quiet_eval(200)).at("auc");
  EXPECT_NEAR(a7, a200, 1e-12);
  EXPECT_GE(a200, 0.0);
  EXPECT_LE(a200, 1.0);
  Logs one = m->test_on_batch(d.x, yb);
  EXPECT_NEAR(one.at("auc"), a200, 1e-12);
}

// Arrays mapped from .npy files (streamed from disk by the batch gatherer) train exactly as
// arrays in memory.
TEST(Model, FitStreamsMappedNpyFilesAsItTrainsOnArrays) {
  Toy d(96);
  std::string dir = ::testing::TempDir() + "/soma_map_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  save_npy(dir + "/x.npy", d.x);
  save_npy(dir + "/y.npy", d.y);
  Array mx = map_npy(dir + "/x.npy"), my = map_npy(dir + "/y.npy");
  History h[2];
  for (int k = 0; k < 2; ++k) {
    auto m = mlp(4);
    m->compile(get_optimizer("adam"), std::make_shared<SparseCategoricalCrossentropy>(true),
               {"accuracy"});
    FitOptions o = quiet(3, 10);  // shuffled, with a partial last batch
    h[k] = k == 0 ? m->fit(d.x, d.y, o) : m->fit(mx, my, o);
  }
  EXPECT_EQ(h[0]["loss"], h[1]["loss"]);
  EXPECT_EQ(h[0]["accuracy"], h[1]["accuracy"]);
  std::filesystem::remove_all(dir);
}

TEST(Model, FitBeforeCompileAndOtherUserErrors) {
  Toy d(20);
  auto m = mlp();
  EXPECT_THROW(m->fit(d.x, d.y, quiet()), ValueError);
  EXPECT_THROW(m->evaluate(d.x, d.y), ValueError);
  EXPECT_THROW(m->compile("adamw", "mse"), NameError);
  EXPECT_THROW(m->compile("adam", "hinge"), NameError);
  EXPECT_THROW(m->compile("adam", "mse", {"f1"}), NameError);
  EXPECT_THROW(m->compile("adam", "mse", {}, "no-such-backend"), BackendError);
  m->compile(get_optimizer("adam"), std::make_shared<SparseCategoricalCrossentropy>(true),
             {"accuracy"});
  // Float labels for a sparse loss.
  Array yf(DType::f32, {20});
  EXPECT_THROW(m->fit(d.x, yf, quiet()), TypeError);
  // Class indices outside the outputs.
  Array y3 = d.y.clone();
  y3.set(7, 3);
  EXPECT_THROW(m->fit(d.x, y3, quiet()), ValueError);
  // Inputs of another shape than the model was built for.
  m->fit(d.x, d.y, quiet());
  try {
    m->fit(Array(DType::f32, {20, 5}), d.y, quiet());
    ADD_FAILURE() << "no error for a wrong input shape";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("(None, 4)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(m->predict(Array(DType::f32, {3, 5})), ShapeError);
  EXPECT_THROW(m->fit(d.x, Array(DType::i32, {19}), quiet()), ShapeError);
  FitOptions bad = quiet();
  bad.batch_size = 0;
  EXPECT_THROW(m->fit(d.x, d.y, bad), ValueError);
  bad = quiet();
  bad.validation_split = 1.0;
  EXPECT_THROW(m->fit(d.x, d.y, bad), ValueError);
}

TEST(Model, OneCompiledStepUpdatesParametersAndSlotsInPlace) {
  Toy d(32);
  auto m = mlp();
  m->compile(std::make_shared<Adam>(0.01), std::make_shared<SparseCategoricalCrossentropy>(true));
  m->build({4});
  Array kernel = m->params().get("dense/kernel");  // shares the store's buffer
  std::vector<double> before = kernel.clone().to_doubles();
  m->train_on_batch(d.x, d.y);
  EXPECT_EQ(m->iterations(), 1);
  EXPECT_TRUE(m->params().get("dense/kernel").shares_storage(kernel));
  EXPECT_NE(kernel.to_doubles(), before);  // updated in place
  EXPECT_TRUE(m->params().has("dense/kernel/m"));
  EXPECT_TRUE(m->params().has("dense_1/bias/v"));
  Array m_slot = m->params().get("dense/kernel/m");
  std::vector<double> m1 = m_slot.clone().to_doubles();
  m->train_on_batch(d.x, d.y);
  EXPECT_TRUE(m->params().get("dense/kernel/m").shares_storage(m_slot));
  EXPECT_NE(m_slot.to_doubles(), m1);
}

TEST(Model, PartialLastBatchIsTrainedUnlessDropRemainder) {
  Toy d(10);
  auto m = mlp();
  m->compile(std::make_shared<SGD>(0.1), std::make_shared<SparseCategoricalCrossentropy>(true));
  m->fit(d.x, d.y, quiet(1, 4));
  EXPECT_EQ(m->iterations(), 3);  // 4 + 4 + 2
  FitOptions o = quiet(1, 4);
  o.drop_remainder = true;
  m->fit(d.x, d.y, o);
  EXPECT_EQ(m->iterations(), 5);  // 4 + 4
}

TEST(Model, LearnsASeparableProblemAndEvaluates) {
  Toy train(400, 1), test(200, 2);
  auto m = mlp(3);
  m->compile(std::make_shared<Adam>(0.02), std::make_shared<SparseCategoricalCrossentropy>(true),
             {"accuracy"});
  History h = m->fit(train.x, train.y, quiet(15, 32));
  ASSERT_EQ(h.size(), 15u);
  EXPECT_LT(h["loss"].back(), h["loss"].front());
  Logs e = m->evaluate(test.x, test.y, quiet_eval(64));
  EXPECT_GT(e.at("accuracy"), 0.85);
  EXPECT_EQ(m->metrics_names(), (std::vector<std::string>{"loss", "accuracy"}));
  // evaluate == the mean of per-sample losses computed from predict.
  Array logits = m->predict(test.x, {.batch_size = 48});  // 200 = 4 * 48 + 8
  ASSERT_EQ(logits.shape(), (Shape{200, 3}));
  double loss = 0, correct = 0;
  for (int64_t i = 0; i < 200; ++i) {
    double mx = -1e30, s = 0;
    int arg = 0;
    for (int c = 0; c < 3; ++c) {
      double z = logits.get(i * 3 + c);
      if (z > mx) mx = z, arg = c;
    }
    for (int c = 0; c < 3; ++c) s += std::exp(logits.get(i * 3 + c) - mx);
    loss += mx + std::log(s) - logits.get(i * 3 + static_cast<int64_t>(test.y.get(i)));
    correct += arg == test.y.get(i);
  }
  EXPECT_NEAR(e.at("loss"), loss / 200, 1e-4);
  EXPECT_NEAR(e.at("accuracy"), correct / 200, 1e-6);
}

TEST(Model, TrainingIsDeterministicForASeed) {
  Toy d(64);
  auto run = [&](uint64_t shuffle_seed) {
    auto m = mlp(5);
    m->compile(std::make_shared<SGD>(0.1, 0.9),
               std::make_shared<SparseCategoricalCrossentropy>(true));
    FitOptions o = quiet(2, 8);
    o.seed = shuffle_seed;
    m->fit(d.x, d.y, o);
    return m->get_weights()[0].to_doubles();
  };
  EXPECT_EQ(run(1), run(1));
  EXPECT_NE(run(1), run(2));
}

TEST(Model, ValidationSplitAndValidationData) {
  Toy d(50);
  auto m = mlp();
  m->compile(get_optimizer("sgd"), std::make_shared<SparseCategoricalCrossentropy>(true),
             {"accuracy"});
  FitOptions o = quiet(2, 16);
  o.validation_split = 0.2;
  History h = m->fit(d.x, d.y, o);
  EXPECT_EQ(h.keys(), (std::vector<std::string>{"loss", "accuracy", "val_loss", "val_accuracy"}));
  EXPECT_EQ(m->iterations(), 2 * 3);  // 40 training samples: 16 + 16 + 8
  ASSERT_EQ(h.times().size(), 2u);    // each epoch's wall-clock seconds
  for (double t : h.times()) EXPECT_GT(t, 0);
  // The last 20% (10 samples) are the validation set, as in Keras.
  Array vx = data::slice_rows(d.x, 40, 50), vy = data::slice_rows(d.y, 40, 50);
  Logs v = m->evaluate(vx, vy, quiet_eval());
  EXPECT_NEAR(h["val_loss"].back(), v.at("loss"), 1e-5);
  o.validation_split = 0;
  o.validation_data = std::make_pair(vx, vy);
  h = m->fit(d.x, d.y, o);
  EXPECT_TRUE(h.has("val_accuracy"));
}

TEST(Model, ProgressOutputWithoutATerminalIsOneLinePerEpoch) {
  Toy d(40);
  auto m = mlp();
  m->compile(get_optimizer("sgd"), std::make_shared<SparseCategoricalCrossentropy>(true),
             {"accuracy"});
  std::ostringstream out;
  FitOptions o = quiet(2, 16);
  o.verbose = 1;
  o.out = &out;
  o.tty = false;
  o.validation_split = 0.25;
  m->fit(d.x, d.y, o);
  std::regex line(
      "Epoch [12]/2 - [0-9.]+s - loss: [0-9.]+ - accuracy: [0-9.]+ - val_loss: [0-9.]+ - "
      "val_accuracy: [0-9.]+");
  std::istringstream lines(out.str());
  std::string l;
  int n = 0;
  while (std::getline(lines, l)) {
    EXPECT_TRUE(std::regex_match(l, line)) << l;
    ++n;
  }
  EXPECT_EQ(n, 2);
}

TEST(Model, ProgressBarOnATerminal) {
  Toy d(40);
  auto m = mlp();
  m->compile(get_optimizer("sgd"), std::make_shared<SparseCategoricalCrossentropy>(true),
             {"accuracy"});
  std::ostringstream out;
  FitOptions o = quiet(1, 8);
  o.verbose = 1;
  o.out = &out;
  o.tty = true;
  m->fit(d.x, d.y, o);
  std::string s = out.str();
  EXPECT_EQ(s.rfind("Epoch 1/1\n", 0), 0u) << s;
  EXPECT_NE(s.find("ETA: "), std::string::npos) << s;
  EXPECT_NE(s.find("\r5/5 [==============================] - "), std::string::npos) << s;
  EXPECT_NE(s.find("/step - loss: "), std::string::npos) << s;
  EXPECT_EQ(s.back(), '\n');
  // The first step compiles with "compiling…" on the line, and callbacks hear of it before the
  // step runs (the REPL checks for Ctrl-C there); the second fit compiles nothing.
  EXPECT_NE(s.find("\r0/5 [..............................] - compiling\u2026"), std::string::npos)
      << s;
  auto seen = std::make_shared<LambdaCallback>();
  int compiled = 0, batches = 0;
  seen->step_compiled = [&](Model&) {
    EXPECT_EQ(batches, 0) << "before the step runs";
    ++compiled;
  };
  seen->batch_end = [&](Model&, int64_t, const Logs&) { ++batches; };
  auto fresh = mlp();
  fresh->compile("sgd", "mse");
  FitOptions q = quiet(1, 8);
  q.callbacks = {seen};
  Array yf(DType::f32, Shape{40, 3});
  fresh->fit(d.x, yf, q);
  EXPECT_EQ(compiled, 1);
  EXPECT_EQ(batches, 5);
  out.str("");
  m->fit(d.x, d.y, o);
  EXPECT_EQ(out.str().find("compiling"), std::string::npos) << out.str();
}

TEST(Model, EvaluatePrintsOneLine) {
  Toy d(40);
  auto m = mlp();
  m->compile(get_optimizer("sgd"), std::make_shared<SparseCategoricalCrossentropy>(true),
             {"accuracy"});
  std::ostringstream out;
  EvaluateOptions o;
  o.out = &out;
  o.tty = false;
  m->evaluate(d.x, d.y, o);
  EXPECT_TRUE(std::regex_match(out.str(),
                               std::regex("2/2 - [0-9.]+s - loss: [0-9.]+ - accuracy: [0-9.]+\n")))
      << out.str();
}

TEST(History, CsvExport) {
  History h;
  Logs a, b;
  a.set("loss", 0.5);
  a.set("accuracy", 0.75);
  b.set("loss", 0.25);
  b.set("accuracy", 0.875);
  b.set("val_loss", 0.3);
  h.append(0, a);
  h.append(1, b);
  EXPECT_EQ(h.to_csv(), "epoch,loss,accuracy,val_loss\n0,0.5,0.75,\n1,0.25,0.875,0.3\n");
  EXPECT_THROW(h["nope"], NameError);
  std::string path = ::testing::TempDir() + "/soma_history.csv";
  h.write_csv(path);
  std::ifstream f(path);
  std::string content((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, h.to_csv());
  EXPECT_THROW(h.write_csv("/nonexistent-dir/x.csv"), IOError);
}

TEST(History, EpochTimes) {
  History h;
  Logs a;
  a.set("loss", 0.5);
  h.append(0, a);
  EXPECT_EQ(h.to_csv(), "epoch,loss\n0,0.5\n");  // no time recorded: no column
  h.append(1, a, 1.25);
  EXPECT_EQ(h.to_csv(), "epoch,loss,time\n0,0.5,\n1,0.5,1.250000\n");
  ASSERT_EQ(h.times().size(), 2u);
  EXPECT_TRUE(std::isnan(h.times()[0]));
  EXPECT_EQ(h.times()[1], 1.25);
  EXPECT_FALSE(h.has("time"));  // not a log key
}

TEST(Callbacks, LearningRateSchedulerAndEarlyStopping) {
  Toy d(32);
  auto m = mlp();
  m->compile(std::make_shared<SGD>(0.1), std::make_shared<SparseCategoricalCrossentropy>(true));
  m->build({4});
  // lr 0 from the first epoch: nothing moves (the rate is an input, no recompilation).
  auto before = m->get_weights();
  FitOptions o = quiet(2, 8);
  o.callbacks = {std::make_shared<LearningRateScheduler>([](int, double) { return 0.0; })};
  m->fit(d.x, d.y, o);
  EXPECT_EQ(m->get_weights()[0].to_doubles(), before[0].to_doubles());
  EXPECT_EQ(m->optimizer()->learning_rate(), 0.0);
  // EarlyStopping: with lr 0 the loss never improves (beyond summation-order noise, below
  // min_delta), so patience 1 stops after epoch 2.
  auto stop = std::make_shared<EarlyStopping>("loss", 1, 1e-3);
  o = quiet(10, 8);
  o.callbacks = {stop};
  History h = m->fit(d.x, d.y, o);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_EQ(stop->stopped_epoch(), 1);
  // A callback that asks for val_loss without validation data: a clear error.
  o.callbacks = {std::make_shared<EarlyStopping>("val_loss")};
  EXPECT_THROW(m->fit(d.x, d.y, o), NameError);
}

TEST(Callbacks, BatchAndEpochHooks) {
  Toy d(20);
  auto m = mlp();
  m->compile(get_optimizer("sgd"), std::make_shared<SparseCategoricalCrossentropy>(true),
             {"accuracy"});
  auto cb = std::make_shared<LambdaCallback>();
  int batches = 0, epochs = 0;
  cb->batch_end = [&](Model&, int64_t, const Logs& logs) {
    ++batches;
    EXPECT_TRUE(logs.has("accuracy"));
  };
  cb->epoch_end = [&](Model&, int, const Logs&) { ++epochs; };
  FitOptions o = quiet(3, 8);
  o.callbacks = {cb};
  m->fit(d.x, d.y, o);
  EXPECT_EQ(batches, 9);
  EXPECT_EQ(epochs, 3);
}

TEST(Model, DropoutOnlyInTrainingAndBatchNormStatisticsMove) {
  Toy d(64);
  auto m = std::make_shared<Sequential>(std::vector<LayerPtr>{
      std::make_shared<Dense>(16, DenseOptions{.activation = "relu"}),
      std::make_shared<BatchNorm>(), std::make_shared<Dropout>(0.5), std::make_shared<Dense>(3)});
  m->compile(std::make_shared<Adam>(0.01), std::make_shared<SparseCategoricalCrossentropy>(true),
             {"accuracy"});
  Array p1 = m->predict(d.x), p2 = m->predict(d.x);
  EXPECT_EQ(p1.to_doubles(), p2.to_doubles());  // inference: no dropout, fixed statistics
  m->fit(d.x, d.y, quiet(2, 16));
  for (double v : m->params().get("batch_normalization/moving_mean").to_doubles())
    EXPECT_NE(v, 0.0);
  EXPECT_EQ(m->non_trainable_weights().size(), 2u);
  EXPECT_FALSE(m->params().has("batch_normalization/moving_mean/m"));  // not trained
}

TEST(Model, ConvNetTrainsOnImages) {
  // 8x8 images: class 0 has a bright left half, class 1 a bright right half.
  int64_t n = 32;
  Array x(DType::f32, {n, 8, 8}), y(DType::i32, {n});
  Array noise = random_array({n, 8, 8}, 0, 0.3, 4);
  for (int64_t i = 0; i < n; ++i) {
    y.set(i, i % 2);
    for (int r = 0; r < 8; ++r)
      for (int c = 0; c < 8; ++c) {
        int64_t k = (i * 8 + r) * 8 + c;
        x.set(k, noise.get(k) + ((c < 4) == (i % 2 == 0) ? 0.7 : 0.0));
      }
  }
  auto m = std::make_shared<Sequential>(std::vector<LayerPtr>{
      std::make_shared<Reshape>(std::vector<int64_t>{1, 8, 8}),
      std::make_shared<Conv2D>(4, 3, Conv2DOptions{.padding = "same", .activation = "relu"}),
      std::make_shared<MaxPool2D>(2), std::make_shared<AvgPool2D>(2), std::make_shared<Flatten>(),
      std::make_shared<Dense>(2, DenseOptions{.activation = "softmax"})});
  m->compile(std::make_shared<Adam>(0.05), std::make_shared<SparseCategoricalCrossentropy>(true),
             {"accuracy"});
  History h = m->fit(x, y, quiet(8, 8));
  EXPECT_LT(h["loss"].back(), h["loss"].front());
  EXPECT_GT(m->evaluate(x, y, quiet_eval()).at("accuracy"), 0.9);
  Array p = m->predict(x);
  for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(p.get(2 * i) + p.get(2 * i + 1), 1.0, 1e-5);
}

TEST(Model, EmbeddingModelTakesTokenIds) {
  int64_t n = 48;
  Array x(DType::i32, {n, 3}), y(DType::f32, {n, 1});
  for (int64_t i = 0; i < n; ++i) {
    for (int t = 0; t < 3; ++t) x.set(i * 3 + t, (i + t) % 5);
    y.set(i, x.get(i * 3) == 2 ? 1.0 : 0.0);  // is the first token a 2?
  }
  auto m = std::make_shared<Sequential>(
      std::vector<LayerPtr>{std::make_shared<Embedding>(5, 4), std::make_shared<Flatten>(),
                            std::make_shared<Dense>(1, DenseOptions{.activation = "sigmoid"})});
  m->compile(std::make_shared<Adam>(0.1), get_loss("binary_crossentropy"), {"accuracy"});
  m->fit(x, y, quiet(20, 16));
  EXPECT_EQ(m->input_type().dtype, DType::i32);
  EXPECT_GT(m->evaluate(x, y, quiet_eval()).at("accuracy"), 0.95);
  EXPECT_THROW(m->predict(Array(DType::f32, {2, 3})), TypeError);
}

// Keras's rule: a model built from its data takes float32 inputs, so integer images (uint8 pixels
// read from a .npy file become i32) train a float model; only an Embedding takes ids as they are.
TEST(Model, IntegerDataBuildsAFloatModelUnlessTheFirstLayerReadsIds) {
  int64_t n = 32;
  Array x(DType::i32, {n, 2, 2}), y(DType::i32, {n});
  for (int64_t i = 0; i < n; ++i) {
    for (int k = 0; k < 4; ++k) x.set(i * 4 + k, (i * 37 + k * 11) % 256);
    y.set(i, x.get(i * 4) > 127 ? 1 : 0);
  }
  auto m = std::make_shared<Sequential>(
      std::vector<LayerPtr>{std::make_shared<Rescaling>(1.0 / 255), std::make_shared<Flatten>(),
                            std::make_shared<Dense>(2)});
  m->compile(std::make_shared<Adam>(0.05), std::make_shared<SparseCategoricalCrossentropy>(true));
  m->fit(x, y, quiet(2, 8));
  EXPECT_EQ(m->input_type().dtype, DType::f32);
  Array xf(DType::f32, {n, 2, 2});
  for (int64_t i = 0; i < xf.numel(); ++i) xf.set(i, x.get(i));
  EXPECT_EQ(m->predict(x).to_doubles(), m->predict(xf).to_doubles());
}

// Keras's meaning of a loss named by a string: probabilities, whatever comes last. A sigmoid
// followed by a Reshape is still read through its logits (the same value, stable), so the model
// trains as the one without the Reshape does, to the same loss; an unbounded output read as
// probabilities is an error naming the fixes.
TEST(Model, StringLossesReadProbabilitiesWhateverComesLast) {
  int64_t n = 64;
  Array x = random_array({n, 2}, -1, 1, 5), y(DType::f32, {n, 1});
  for (int64_t i = 0; i < n; ++i) y.set(i, x.get(2 * i) + x.get(2 * i + 1) > 0 ? 1.0 : 0.0);
  auto train = [&](bool reshape) {
    std::vector<LayerPtr> layers{
        std::make_shared<Dense>(8, DenseOptions{.activation = "relu", .seed = 3}),
        std::make_shared<Dense>(1, DenseOptions{.activation = "sigmoid", .seed = 4})};
    if (reshape) layers.push_back(std::make_shared<Reshape>(std::vector<int64_t>{1}));
    auto m = std::make_shared<Sequential>(layers);
    m->compile(std::make_shared<Adam>(0.05), get_loss("binary_crossentropy"), {"accuracy"});
    m->fit(x, y, quiet(40, 16));
    return m->evaluate(x, y, quiet_eval());
  };
  auto plain = train(false), reshaped = train(true);
  EXPECT_GT(reshaped.at("accuracy"), 0.95);
  EXPECT_NEAR(reshaped.at("loss"), plain.at("loss"), 1e-5);
  auto linear = std::make_shared<Sequential>(
      std::vector<LayerPtr>{std::make_shared<Dense>(4), std::make_shared<Dense>(2)});
  linear->compile(std::make_shared<SGD>(0.1), get_loss("sparse_categorical_crossentropy"));
  Array labels(DType::i32, {n});
  for (int64_t i = 0; i < n; ++i) labels.set(i, y.get(i));
  EXPECT_THROW(linear->fit(x, labels, quiet(1, 16)), ValueError);
}

TEST(Model, RegressionWithMse) {
  int64_t n = 64;
  Array x = random_array({n, 2}, -1, 1, 9), y(DType::f32, {n});
  for (int64_t i = 0; i < n; ++i) y.set(i, 2 * x.get(2 * i) - x.get(2 * i + 1) + 0.5);
  auto m = std::make_shared<Sequential>(std::vector<LayerPtr>{std::make_shared<Dense>(1)});
  m->compile(std::make_shared<SGD>(0.1), get_loss("mse"), {"mae"});
  m->fit(x, y, quiet(60, 16));
  EXPECT_LT(m->evaluate(x, y, quiet_eval()).at("loss"), 1e-3);
  expect_values(m->params().get("dense/kernel"), {2, -1}, 0.02);
}

// Keras's regression losses train, and metrics given by name are logged under that name.
TEST(Model, RegressionLossesAndMetricsByName) {
  int64_t n = 64;
  Array x = random_array({n, 2}, -1, 1, 9), y(DType::f32, {n});
  for (int64_t i = 0; i < n; ++i) y.set(i, 2 * x.get(2 * i) - x.get(2 * i + 1) + 0.5);
  for (const char* loss : {"huber", "mae"}) {
    SCOPED_TRACE(loss);
    auto m = std::make_shared<Sequential>(std::vector<LayerPtr>{std::make_shared<Dense>(1)});
    m->compile(std::make_shared<SGD>(0.1), get_loss(loss), {"mse", "mae"});
    m->fit(x, y, quiet(150, 16));
    auto logs = m->evaluate(x, y, quiet_eval());
    ASSERT_TRUE(logs.has("mse") && logs.has("mae"));
    EXPECT_LT(logs.at("mse"), 1e-2);
    expect_values(m->params().get("dense/kernel"), {2, -1}, 0.1);
  }
}

TEST(Model, RecompileStartsTheOptimizerAfresh) {
  Toy d(16);
  auto m = mlp();
  m->compile(get_optimizer("adam"), std::make_shared<SparseCategoricalCrossentropy>(true));
  m->fit(d.x, d.y, quiet(1, 8));
  EXPECT_EQ(m->iterations(), 2);
  EXPECT_TRUE(m->params().has("dense/kernel/m"));
  auto w = m->get_weights();
  m->compile(get_optimizer("sgd"), std::make_shared<SparseCategoricalCrossentropy>(true));
  EXPECT_EQ(m->iterations(), 0);
  EXPECT_FALSE(m->params().has("dense/kernel/m"));
  EXPECT_EQ(m->get_weights()[0].to_doubles(), w[0].to_doubles());  // weights kept
  m->fit(d.x, d.y, quiet(1, 8));
}

TEST(Model, SetWeightsChecksEverythingFirst) {
  auto m = mlp();
  m->build({4});
  auto w = m->get_weights();
  auto bad = w;
  bad[3] = Array(DType::f32, {4});
  auto k0 = m->params().get("dense/kernel").clone().to_doubles();
  bad[0] = Array(DType::f32, {4, 8});  // valid, but must not be written
  EXPECT_THROW(m->set_weights(bad), ShapeError);
  EXPECT_EQ(m->params().get("dense/kernel").to_doubles(), k0);
  EXPECT_THROW(m->set_weights({}), ValueError);
}

}  // namespace
}  // namespace soma::nn

namespace soma::nn {
namespace {

// Data with one sample whose feature is NaN: its batch's loss is NaN.
struct NanToy {
  Array x, y;
  NanToy() : x(random_array({64, 4}, -1, 1, 3)), y(DType::i32, {64}) {
    for (int64_t i = 0; i < 64; ++i) y.set(i, i % 3);
    x.set(37 * 4 + 2, std::nan(""));  // batch 3 of 4 (batch_size 16), no shuffle
  }
};

bool all_finite(const std::vector<Array>& ws) {
  for (const Array& w : ws)
    for (int64_t i = 0; i < w.numel(); ++i)
      if (!std::isfinite(w.get(i))) return false;
  return true;
}

TEST(Model, ANonFiniteLossStopsFitWithAnErrorAndIsNotApplied) {
  NanToy d;
  auto m = std::make_shared<Sequential>(
      std::vector<LayerPtr>{std::make_shared<Dense>(8, DenseOptions{.activation = "relu"}),
                            std::make_shared<Dense>(3)},
      "", 0);
  m->compile(std::make_shared<Adam>(0.01), std::make_shared<SparseCategoricalCrossentropy>(true),
             {});
  FitOptions o;
  o.epochs = 3;
  o.batch_size = 16;
  o.verbose = 0;
  o.shuffle = false;
  try {
    m->fit({d.x}, {d.y}, o);
    FAIL() << "fit went on with a NaN loss";
  } catch (const ValueError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("nan"), std::string::npos) << msg;
    EXPECT_NE(msg.find("epoch 1, batch 3 of 4"), std::string::npos) << msg;
    EXPECT_NE(msg.find("TerminateOnNaN"), std::string::npos) << msg;
  }
  EXPECT_TRUE(all_finite(m->get_weights()));
  EXPECT_EQ(m->iterations(), 2);  // the two good steps
  // The model still predicts finite values for finite inputs.
  Array p = m->predict({random_array({5, 4}, -1, 1, 9)});
  EXPECT_TRUE(all_finite({p}));
}

TEST(Model, TerminateOnNaNEndsFitWithoutAnError) {
  NanToy d;
  auto m = std::make_shared<Sequential>(std::vector<LayerPtr>{std::make_shared<Dense>(3)}, "", 0);
  m->compile(std::make_shared<SGD>(0.1), std::make_shared<SparseCategoricalCrossentropy>(true), {});
  std::ostringstream out;
  FitOptions o;
  o.epochs = 5;
  o.batch_size = 16;
  o.verbose = 0;
  o.shuffle = false;
  o.callbacks = {std::make_shared<TerminateOnNaN>(&out)};
  History h = m->fit({d.x}, {d.y}, o);
  EXPECT_NE(out.str().find("Batch 2: Invalid loss, terminating training"), std::string::npos)
      << out.str();
  EXPECT_TRUE(all_finite(m->get_weights()));
  EXPECT_EQ(m->iterations(), 2);
}

}  // namespace
}  // namespace soma::nn
