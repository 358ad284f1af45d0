// Keras-style training on the real Fashion-MNIST (Debian's dataset-fashion-mnist package): the
// C++ form of SCRIPT.md's example. Usage: soma_fashion_mnist [EPOCHS] [BACKEND]
//
// An MLP 784-256-128-10 trained with SGD + momentum, validated on the last 10% of the training
// set, tested on the 10000 test images, then saved (architecture, weights, optimizer state).
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "frontend/data/fashion_mnist.h"
#include "frontend/nn/model.h"

int main(int argc, char** argv) {
  using namespace soma;
  using namespace soma::nn;
  try {
    int epochs = argc > 1 ? std::atoi(argv[1]) : 5;
    std::string backend = argc > 2 ? argv[2] : "";
    data::FashionMnist data = data::load_fashion_mnist();
    DenseOptions relu;
    relu.activation = "relu";
    auto model = std::make_shared<Sequential>(
        std::vector<LayerPtr>{std::make_shared<Flatten>(), std::make_shared<Dense>(256, relu),
                              std::make_shared<Dense>(128, relu), std::make_shared<Dense>(10)});
    model->compile(std::make_shared<SGD>(0.1, 0.9),
                   std::make_shared<SparseCategoricalCrossentropy>(true), {"accuracy"}, backend);
    model->build({28, 28});
    model->summary(std::cout);
    FitOptions fit;
    fit.epochs = epochs;
    fit.batch_size = 128;
    fit.validation_split = 0.1;
    History history = model->fit(data.x_train, data.y_train, fit);
    Logs test = model->evaluate(data.x_test, data.y_test);
    std::printf("test loss %.4f, test accuracy %.4f\n", test.at("loss"), test.at("accuracy"));
    history.write_csv("fmnist-history.csv");
    model->save("fmnist.soma-weights");
    std::printf("saved fmnist.soma-weights and fmnist-history.csv\n");
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
