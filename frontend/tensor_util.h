// Internal helpers shared by the frontend's tensor functions.
#pragma once

#include <string>

#include "frontend/tensor.h"
#include "graph/error.h"

namespace soma::detail {

inline Tensor wrap(const std::shared_ptr<Context>& ctx, NodeId id) {
  return Tensor(ctx, id);
}

inline const std::shared_ptr<Context>& ctx_of(const Tensor& t, const char* what) {
  if (!t.defined()) SOMA_THROW(ValueError, what << ": an undefined (default-constructed) tensor");
  return t.context_ptr();
}

inline const std::shared_ptr<Context>& ctx_of(const Tensor& a, const Tensor& b, const char* what) {
  const auto& c = ctx_of(a, what);
  if (ctx_of(b, what) != c)
    SOMA_THROW(ValueError, what << ": tensors from two different contexts cannot be combined");
  return c;
}

// Applies `f(builder, ids...)` in the tensors' context and wraps the result.
template <typename F>
Tensor build(const Tensor& x, const char* what, F&& f) {
  const auto& c = ctx_of(x, what);
  Builder b = c->builder();
  return Tensor(c, f(b));
}

// A scalar constant in t's context (composites must not build into Context::current(), which
// may be another context than their tensors').
inline Tensor scalar_like(const Tensor& t, double value, DType dtype) {
  return build(t, "constant", [&](Builder& b) { return b.scalar(value, dtype); });
}

}  // namespace soma::detail
