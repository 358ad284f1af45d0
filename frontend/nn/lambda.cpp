#include "frontend/nn/lambda.h"

#include "frontend/nn/config_util.h"
#include "frontend/nn/layer_registry.h"
#include "graph/error.h"

namespace soma::nn {

using namespace detail;

namespace {
thread_local const CustomObjects* current_objects = nullptr;
}  // namespace

CustomObjectScope::CustomObjectScope(const CustomObjects& objects) : previous_(current_objects) {
  current_objects = &objects;
}
CustomObjectScope::~CustomObjectScope() {
  current_objects = previous_;
}
const CustomObjects* CustomObjectScope::current() {
  return current_objects;
}

Lambda::Lambda(LayerFunction function, std::string function_name, std::string name)
    : Layer(std::move(name)),
      function_(std::move(function)),
      function_name_(std::move(function_name)) {
  if (!function_) SOMA_THROW(ValueError, "Lambda: no function given");
  if (!valid_name(function_name_))
    SOMA_THROW(ValueError, "Lambda: function name '"
                               << function_name_
                               << "' must be letters, digits, '_', '.' or '-' (a saved model "
                                  "records it)");
}

LayerConfig Lambda::config() const {
  LayerConfig c = Layer::config();
  c["function"] = function_name_;
  return c;
}

std::shared_ptr<Layer> Lambda::probe_copy() const {
  CustomObjects own;
  own.functions[function_name_] = function_;
  CustomObjectScope scope(own);
  return Layer::probe_copy();
}

void Lambda::build_weights(const TensorType&, uint64_t) {}

Tensor Lambda::call(const Tensor& x, CallContext&) {
  Tensor y = function_(x);
  if (y.context_ptr() != x.context_ptr())
    SOMA_THROW(ValueError, "Lambda layer '" << name() << "': function " << function_name_
                                            << " returned a tensor of another graph; build it "
                                               "from its argument with tensor operations");
  return y;
}

namespace detail {

void add_lambda_layer(std::vector<LayerKind>& kinds) {
  kinds.push_back({"Lambda", {}, "", [](const std::string& cls, const LayerConfig& c) -> LayerPtr {
                     cfg_check_keys(c, cls, {"function"});
                     const std::string f = cfg_str(c, "function", "");
                     const std::string name = cfg_str(c, "name", "");
                     if (const CustomObjects* objects = CustomObjectScope::current())
                       if (auto it = objects->functions.find(f); it != objects->functions.end())
                         return std::make_shared<Lambda>(it->second, f, name);
                     SOMA_THROW(ValueError, "Lambda layer '"
                                                << name << "' calls function '" << f
                                                << "', which a saved model cannot hold: pass it "
                                                   "to load_model (custom_objects=["
                                                << f << "])");
                   }});
}

}  // namespace detail

}  // namespace soma::nn
