#include "frontend/script/builtins.h"

namespace soma::script {

FunctionPtr add_builtin(Registry& r, const std::string& signature, const std::string& doc,
                        std::function<Value(Call&)> body, bool pure) {
  FunctionPtr f = make_function(signature, doc, std::move(body));
  if (pure) std::const_pointer_cast<Function>(f)->pure = true;
  r[f->name] = f;
  return f;
}

const Registry& builtins() {
  static const Registry table = [] {
    Registry r;
    register_core_builtins(r);
    register_tensor_builtins(r);
    register_nn_builtins(r);
    register_model_builtins(r);
    register_image_builtins(r);
    return r;
  }();
  return table;
}

FunctionPtr find_builtin(const std::string& name) {
  const Registry& r = builtins();
  auto it = r.find(name);
  return it == r.end() ? nullptr : it->second;
}

}  // namespace soma::script
