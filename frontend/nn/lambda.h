// Lambda: a layer that is a function of the user's (Keras's Lambda), and the custom objects that
// load_model needs to bring such a layer — or a loss of the user's own — back from a file.
//
// A function is code, not data: a saved model records the function's name only. Loading it takes
// the function again, by that name (C++: load_model(path, backend, {.functions = {{"f", f}}});
// the script: load_model(path, custom_objects=[f])); without it, load_model is a ValueError that
// names the layer and the function. This is Keras's rule too (it refuses to load a lambda's
// bytecode unless told to trust the file).
#pragma once

#include <functional>
#include <map>
#include <string>

#include "frontend/nn/layer.h"
#include "frontend/nn/losses.h"

namespace soma::nn {

// The function of a Lambda layer: a batch (batch axis first) to a batch, built from tensor
// operations (it is called while a model builds its graphs, and differentiated with them).
using LayerFunction = std::function<Tensor(const Tensor&)>;

struct CustomObjects {
  std::map<std::string, LayerFunction> functions;  // Lambda layers' functions, by name
  std::map<std::string, LossPtr> losses;           // losses of the user's own, by name
};

class Lambda : public Layer {
 public:
  // `function_name` is what a saved model records ([A-Za-z0-9_.-]+; ValueError otherwise). A
  // Lambda holds no weights.
  Lambda(LayerFunction function, std::string function_name, std::string name = "");
  std::string class_name() const override { return "Lambda"; }
  LayerConfig config() const override;
  // The copy gets this layer's function (its config only names it).
  std::shared_ptr<Layer> probe_copy() const override;
  Tensor call(const Tensor& x, CallContext& ctx) override;
  const std::string& function_name() const { return function_name_; }
  const LayerFunction& function() const { return function_; }

 protected:
  void build_weights(const TensorType& input, uint64_t seed) override;

 private:
  LayerFunction function_;
  std::string function_name_;
};

// While one is alive (on this thread), layer_from_config finds Lambda functions in `objects`;
// load_model opens one around reading the architecture. Scopes nest (the innermost is used).
class CustomObjectScope {
 public:
  explicit CustomObjectScope(const CustomObjects& objects);
  ~CustomObjectScope();
  CustomObjectScope(const CustomObjectScope&) = delete;
  CustomObjectScope& operator=(const CustomObjectScope&) = delete;
  // The innermost scope's objects; nullptr outside every scope.
  static const CustomObjects* current();

 private:
  const CustomObjects* previous_;
};

}  // namespace soma::nn
