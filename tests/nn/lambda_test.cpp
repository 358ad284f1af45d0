// Lambda layers (a function of the user's as a layer: values, gradients, training, the functional
// form, and the saving rule — the function is given again to load_model) and Rescaling.
#include "frontend/nn/lambda.h"

#include <gtest/gtest.h>

#include <filesystem>

#include <unistd.h>

#include "frontend/nn/functional.h"
#include "nn/nn_test_util.h"

namespace soma::nn {
namespace {

using namespace soma::nn::testing;

Tensor swish(const Tensor& x) {
  return x * sigmoid(x);
}

TEST(Rescaling, ScalesAndOffsetsAndRoundTripsItsConfig) {
  LayerRun r(std::make_shared<Rescaling>(1.0 / 255, -0.5), {DType::f32, {1, 3}});
  expect_values(r.run(f32({1, 3}, {0, 127.5, 255})), {-0.5, 0, 0.5}, 1e-6);
  Rescaling l(1.0 / 255, -0.5, "rs");
  LayerPtr copy = layer_from_config("Rescaling", l.config());
  EXPECT_EQ(copy->config(), l.config());
  EXPECT_THROW(Rescaling(NAN), ValueError);
  EXPECT_THROW(LayerRun(std::make_shared<Rescaling>(2.0), {DType::i32, {1, 3}}), TypeError);
}

TEST(Lambda, AppliesTheFunctionAndDifferentiatesThroughIt) {
  LayerRun r(std::make_shared<Lambda>(swish, "swish"), {DType::f32, {1, 3}});
  Array y = r.run(f32({1, 3}, {-1, 0, 2}));
  expect_values(y, {-1 / (1 + std::exp(1.0)), 0, 2 / (1 + std::exp(-2.0))}, 1e-6);
  EXPECT_TRUE(r.layer->weights().empty());
  {  // d swish / dx = s + x s (1 - s), through the layer
    ContextScope scope(r.ctx);
    Tensor g = grad(sum(r.y), std::vector<Tensor>{r.x}).at(0);
    Array gv = compile({g})
                   .run({{"x", f32({1, 3}, {-1, 0, 2})}, {"step", Array::scalar(DType::i32, 0)}})
                   .at(0);
    std::vector<double> want;
    for (double v : {-1.0, 0.0, 2.0}) {
      const double sg = 1 / (1 + std::exp(-v));
      want.push_back(sg + v * sg * (1 - sg));
    }
    expect_values(gv, want, 1e-6);
  }
  EXPECT_EQ(r.layer->config().at("function"), "swish");
  EXPECT_THROW(Lambda(swish, "has space"), ValueError);
  EXPECT_THROW(Lambda(LayerFunction{}, "f"), ValueError);
  // A function that builds on a tensor of another graph is refused, naming the layer.
  Tensor foreign = [] {
    ContextScope s(std::make_shared<Context>());
    return scalar(1.0);
  }();
  EXPECT_THROW(
      LayerRun(std::make_shared<Lambda>([foreign](const Tensor& x) { return x + foreign; }, "bad"),
               {DType::f32, {1, 2}}),
      ValueError);
}

struct Toy {
  Array x = random_array({64, 3}, -1, 1, 3), y{DType::f32, {64, 1}};
  Toy() {
    for (int64_t i = 0; i < 64; ++i) y.set(i, x.get(3 * i) * x.get(3 * i + 1) > 0 ? 1 : 0);
  }
};

std::shared_ptr<Sequential> model_with_lambda(uint64_t seed) {
  return std::make_shared<Sequential>(
      std::vector<LayerPtr>{std::make_shared<Dense>(8, DenseOptions{.seed = seed}),
                            std::make_shared<Lambda>(swish, "swish"),
                            std::make_shared<Dense>(1, DenseOptions{.activation = "sigmoid"})},
      "with_lambda", seed);
}

TEST(Lambda, TrainsAndSavesWithTheFunctionGivenAgain) {
  namespace fs = std::filesystem;
  Toy d;
  auto m = model_with_lambda(4);
  m->compile(std::make_shared<Adam>(0.05), std::make_shared<BinaryCrossentropy>(), {"accuracy"},
             "interp");
  FitOptions o;
  o.epochs = 30;
  o.batch_size = 16;
  o.verbose = 0;
  History h = m->fit(d.x, d.y, o);
  EXPECT_LT(h["loss"].back(), h["loss"].front() * 0.8);

  const std::string path =
      (fs::temp_directory_path() / ("soma_lambda_" + std::to_string(::getpid()))).string();
  m->save(path);
  try {
    load_model(path, "interp");
    ADD_FAILURE() << "a Lambda's function is not in the file";
  } catch (const IOError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("calls function 'swish'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("custom_objects=[swish]"), std::string::npos) << msg;
  }
  std::shared_ptr<Model> back = load_model(path, "interp", {.functions = {{"swish", swish}}});
  EXPECT_EQ(back->summary(), m->summary());
  EXPECT_EQ(back->predict(d.x).to_doubles(), m->predict(d.x).to_doubles());
  back->train_on_batch(d.x, d.y);  // compiled again, optimizer state included
  m->train_on_batch(d.x, d.y);
  EXPECT_EQ(back->get_weights()[0].to_doubles(), m->get_weights()[0].to_doubles());
  fs::remove(path);
}

TEST(Lambda, WorksInFunctionalModelsWithItsShapeKnownEarly) {
  SymbolicTensor in = Input({4});
  auto first_two = std::make_shared<Lambda>(
      [](const Tensor& x) {
        return index(x, {Slice{}, Slice{0, 2, std::nullopt}});
      },
      "first_two");
  SymbolicTensor half = (*first_two)(in);
  ASSERT_TRUE(half.type());
  EXPECT_EQ(half.type()->str(), "f32[2]");
  auto dense = std::make_shared<Dense>(1);
  SymbolicTensor out = (*dense)(half);
  Functional f({in}, {out});
  Array x = random_array({5, 4}, -1, 1, 2);
  EXPECT_EQ(f.predict(x).type_str(), "f32[5,1]");
}

// A loss of the user's own, given again, compiles the loaded model.
class DoubledMse : public MeanSquaredError {
 public:
  std::string name() const override { return "doubled_mse"; }
  bool is_custom() const override { return true; }
  Tensor compute(const Tensor& t, const Tensor& p, const Tensor& w,
                 const std::string& r) const override {
    return 2.0 * MeanSquaredError::compute(t, p, w, r);
  }
};

TEST(Lambda, CustomLossesComeBackWhenGiven) {
  namespace fs = std::filesystem;
  Toy d;
  auto m = std::make_shared<Sequential>(std::vector<LayerPtr>{std::make_shared<Dense>(1)}, "m", 1);
  m->compile(std::make_shared<SGD>(0.1), std::make_shared<DoubledMse>(), {}, "interp");
  m->train_on_batch(d.x, d.y);
  const std::string path =
      (fs::temp_directory_path() / ("soma_custom_loss_" + std::to_string(::getpid()))).string();
  m->save(path);
  EXPECT_FALSE(load_model(path, "interp")->compiled());
  auto back =
      load_model(path, "interp", {.losses = {{"doubled_mse", std::make_shared<DoubledMse>()}}});
  ASSERT_TRUE(back->compiled());
  EXPECT_EQ(back->evaluate(d.x, d.y, {.verbose = 0}).at("loss"),
            m->evaluate(d.x, d.y, {.verbose = 0}).at("loss"));
  fs::remove(path);
}

}  // namespace
}  // namespace soma::nn
