// A finite-difference harness for gradients, in the style of ggml's test-backend-ops: a case is
// written once (input shapes, input ranges that avoid kinks, a function of the inputs), and the
// harness checks every input's VJP against central differences in f64 on the interpreter.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "frontend/compile.h"

namespace soma::testing {

struct InputSpec {
  Shape shape;
  double lo = -1.0, hi = 1.0;  // uniform range for random values
  std::vector<double> values;  // explicit values (overrides lo/hi) when non-empty
  DType dtype = DType::f64;    // i32 inputs (labels, ids) are fed but not differentiated
  bool differentiable = true;
};

struct GradCase {
  std::string name;
  std::vector<InputSpec> inputs;
  std::function<Tensor(const std::vector<Tensor>&)> fn;
  double atol = 1e-6, rtol = 1e-5;
  double step = 1e-6;
  uint64_t seed = 1;
};

// Checks d(sum(v * fn(xs)))/dxs for a fixed random v against central differences; reports
// failures with gtest's ADD_FAILURE (the case name, input, element, both values).
void check_gradients(const GradCase& c);

// Checks the Hessian-vector product of sum(v * fn(xs)) with respect to input 0 — computed as
// grad(grad(L, x) . u, x) — against central differences of the gradient.
void check_hvp(const GradCase& c);

// Random values for an input spec (deterministic in seed).
Array make_value(const InputSpec& s, uint64_t seed);

}  // namespace soma::testing
