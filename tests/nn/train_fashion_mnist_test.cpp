// End to end on the real data: an MLP 784-32-10 trained on 4000 Fashion-MNIST images for two
// epochs must classify 1000 held-out test images far above chance (10%); a broken gradient or
// optimizer cannot reach the threshold. About a second on the interpreter. Skipped, with a
// message, when the dataset package is not installed.
#include <gtest/gtest.h>

#include <chrono>

#include "frontend/data/fashion_mnist.h"
#include "frontend/nn/model.h"

namespace soma::nn {
namespace {

TEST(FashionMnistTraining, MlpBeatsTheThresholdOnHeldOutImages) {
  if (data::find_fashion_mnist_dir().empty())
    GTEST_SKIP() << "Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist (or "
                    "set SOMA_DATA)";
  data::FashionMnist d = data::load_fashion_mnist({.train_limit = 4000, .test_limit = 1000});
  auto model = std::make_shared<Sequential>(std::vector<LayerPtr>{
      std::make_shared<Flatten>(), std::make_shared<Dense>(32, DenseOptions{.activation = "relu"}),
      std::make_shared<Dense>(10)});
  model->compile(std::make_shared<Adam>(0.003),
                 std::make_shared<SparseCategoricalCrossentropy>(true), {"accuracy"});
  auto start = std::chrono::steady_clock::now();
  FitOptions o;
  o.epochs = 2;
  o.batch_size = 32;
  o.verbose = 0;
  o.validation_split = 0.1;
  History h = model->fit(d.x_train, d.y_train, o);
  EvaluateOptions eo;
  eo.batch_size = 250;
  eo.verbose = 0;
  Logs test = model->evaluate(d.x_test, d.y_test, eo);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("  train accuracy %.4f, val accuracy %.4f, test accuracy %.4f (loss %.4f), %.2fs\n",
              h["accuracy"].back(), h["val_accuracy"].back(), test.at("accuracy"), test.at("loss"),
              seconds);
  EXPECT_LT(h["loss"][1], h["loss"][0]);
  EXPECT_GT(test.at("accuracy"), 0.75);
  EXPECT_LT(test.at("loss"), 0.75);
}

}  // namespace
}  // namespace soma::nn
