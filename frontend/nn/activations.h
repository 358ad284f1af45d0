// Activation functions by Keras name, as used by Dense(activation=...), Conv2D and Activation.
#pragma once

#include <string>
#include <vector>

#include "frontend/tensor.h"

namespace soma::nn {

// "linear" (or "" / "none": the identity), relu, relu6, sigmoid, hard_sigmoid, tanh, softmax,
// log_softmax, elu, selu, gelu (exact, erf form), softplus, softsign, swish (= silu),
// leaky_relu (slope 0.2, as keras.activations), exponential.
// softmax and log_softmax act on the last axis (as in Keras). Throws ValueError for an unknown
// name, listing the known ones.
Tensor activation(const std::string& name, const Tensor& x);

// Throws ValueError (listing the known names) unless `name` is an activation; lets layers reject
// a bad name at construction rather than when the model is first built.
void check_activation(const std::string& name);

std::vector<std::string> activation_names();

}  // namespace soma::nn
