#include "frontend/nn/activations.h"

#include <functional>
#include <map>

#include "graph/error.h"

namespace soma::nn {

namespace {

using Fn = std::function<Tensor(const Tensor&)>;

const std::map<std::string, Fn>& table() {
  static const std::map<std::string, Fn> t = {
      {"linear", [](const Tensor& x) { return x; }},
      {"relu", [](const Tensor& x) { return relu(x); }},
      {"relu6", [](const Tensor& x) { return clip(x, 0.0, 6.0); }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }},
      {"hard_sigmoid", [](const Tensor& x) { return clip(x / 6.0 + 0.5, 0.0, 1.0); }},
      {"tanh", [](const Tensor& x) { return tanh(x); }},
      {"softmax", [](const Tensor& x) { return softmax(x, -1); }},
      {"log_softmax", [](const Tensor& x) { return log_softmax(x, -1); }},
      {"elu", [](const Tensor& x) { return elu(x); }},
      {"selu", [](const Tensor& x) { return elu(x, 1.6732632423543772) * 1.0507009873554805; }},
      {"gelu", [](const Tensor& x) { return gelu(x); }},
      {"softplus", [](const Tensor& x) { return softplus(x); }},
      {"softsign", [](const Tensor& x) { return x / (abs(x) + 1.0); }},
      {"swish", [](const Tensor& x) { return x * sigmoid(x); }},
      {"silu", [](const Tensor& x) { return x * sigmoid(x); }},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.2); }},
      {"exponential", [](const Tensor& x) { return exp(x); }},
  };
  return t;
}

}  // namespace

std::vector<std::string> activation_names() {
  std::vector<std::string> names;
  for (const auto& [k, v] : table()) names.push_back(k);
  return names;
}

void check_activation(const std::string& name) {
  if (name.empty() || name == "none" || table().count(name)) return;
  std::string list;
  for (const auto& n : activation_names()) list += (list.empty() ? "" : ", ") + n;
  SOMA_THROW(ValueError, "unknown activation '" << name << "'; known: " << list);
}

Tensor activation(const std::string& name, const Tensor& x) {
  check_activation(name);
  if (name.empty() || name == "none") return x;
  return table().at(name)(x);
}

}  // namespace soma::nn
