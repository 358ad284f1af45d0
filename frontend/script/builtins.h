// The table of built-in functions. Each group of built-ins lives in its own file and adds itself
// to the table through one register function:
//
//   builtins_core.cpp    print, len, range, float, int, feed, load_npy, save_npy, assign, array,
//                        set_printoptions
//   builtins_tensor.cpp  the tensor API of SCRIPT.md (creation, math, reductions, shapes, neural
//                        functions, losses, grad/vjp)
//   builtins_nn.cpp      Keras-style layers, optimizers, losses, callbacks and datasets
//   builtins_models.cpp  Keras-style models: Sequential, Input / Model (functional), load_model
#pragma once

#include <functional>
#include <map>
#include <string>

#include "frontend/script/value.h"

namespace soma::script {

using Registry = std::map<std::string, FunctionPtr>;

// Every built-in by name.
const Registry& builtins();
FunctionPtr find_builtin(const std::string& name);

// Adds a built-in; `signature` as in make_function ("sum(x, axis=None, keepdims=False)").
FunctionPtr add_builtin(Registry& r, const std::string& signature, const std::string& doc,
                        std::function<Value(Call&)> body, bool pure = false);

void register_core_builtins(Registry& r);
void register_tensor_builtins(Registry& r);
void register_nn_builtins(Registry& r);
void register_model_builtins(Registry& r);
void register_image_builtins(Registry& r);

}  // namespace soma::script
