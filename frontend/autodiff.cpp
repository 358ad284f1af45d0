// The tensor API's entry points to the autodiff pass.
#include "frontend/tensor.h"
#include "frontend/tensor_util.h"
#include "passes/grad.h"

namespace soma {

namespace {
std::vector<NodeId> ids_of(const Tensor& y, const std::vector<Tensor>& xs, const char* what) {
  std::vector<NodeId> ids;
  for (const Tensor& x : xs) {
    detail::ctx_of(y, x, what);
    ids.push_back(x.id());
  }
  return ids;
}
std::vector<Tensor> wrap_all(const Tensor& y, const std::vector<NodeId>& ids) {
  std::vector<Tensor> out;
  for (NodeId i : ids) out.emplace_back(y.context_ptr(), i);
  return out;
}
}  // namespace

std::vector<Tensor> grad(const Tensor& y, const std::vector<Tensor>& xs) {
  auto ids = ids_of(y, xs, "grad");
  return wrap_all(y, soma::grad(y.context().graph(), y.id(), ids));
}

Tensor grad(const Tensor& y, const Tensor& x) {
  return grad(y, std::vector<Tensor>{x})[0];
}

std::vector<Tensor> vjp(const Tensor& y, const std::vector<Tensor>& xs, const Tensor& v) {
  auto ids = ids_of(y, xs, "vjp");
  detail::ctx_of(y, v, "vjp");
  return wrap_all(y, soma::vjp(y.context().graph(), y.id(), ids, v.id()));
}

Tensor vjp(const Tensor& y, const Tensor& x, const Tensor& v) {
  return vjp(y, std::vector<Tensor>{x}, v)[0];
}

}  // namespace soma
