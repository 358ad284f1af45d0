// A first taste of soma: build a small model as tensor expressions, differentiate it, and train
// it with hand-written gradient descent on the reference interpreter.
//
// The model is a single neuron — a weighted sum of inputs plus a bias, squashed by a sigmoid —
// learning the logical OR of two inputs.
#include <cstdio>

#include "frontend/compile.h"

int main() {
  using namespace soma;
  try {
    Tensor x = input("x", {4, 2});
    Tensor t = input("t", {4, 1});
    Tensor w = param("w", {2, 1}, "glorot_uniform", /*seed=*/7);
    Tensor b = param("b", {1}, "zeros");
    Tensor y = sigmoid(matmul(x, w) + b);
    Tensor loss = binary_cross_entropy(y, t);
    std::vector<Tensor> g = grad(loss, {w, b});
    const double lr = 1.0;
    Compiled step = compile({loss}, {}, {{w, w - g[0] * lr}, {b, b - g[1] * lr}});
    Compiled predict = compile({y});

    Feeds feeds = {{"x", Array::from_f32({4, 2}, std::vector<float>{0, 0, 0, 1, 1, 0, 1, 1})},
                   {"t", Array::from_f32({4, 1}, std::vector<float>{0, 1, 1, 1})}};
    std::printf("soma demo: one neuron learns OR (backend: %s)\n", step.backend().c_str());
    for (int epoch = 0; epoch <= 200; ++epoch) {
      double l = step.run(feeds)[0].get(0);
      if (epoch % 40 == 0) std::printf("  epoch %3d  loss %.4f\n", epoch, l);
    }
    Array p = predict.run(feeds)[0];
    std::printf("  predictions for (0,0) (0,1) (1,0) (1,1): %.3f %.3f %.3f %.3f\n", p.get(0),
                p.get(1), p.get(2), p.get(3));
    bool ok = p.get(0) < 0.5 && p.get(1) > 0.5 && p.get(2) > 0.5 && p.get(3) > 0.5;
    std::printf("  %s\n", ok ? "learned OR" : "did not learn OR");
    return ok ? 0 : 1;
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
