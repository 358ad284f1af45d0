// Tensor, creation functions and operators.
#include "frontend/tensor.h"

#include <cmath>

#include "frontend/init.h"
#include "frontend/tensor_util.h"

namespace soma {

using detail::build;
using detail::ctx_of;

Context& Tensor::context() const {
  if (!ctx_) SOMA_THROW(ValueError, "use of an undefined (default-constructed) tensor");
  return *ctx_;
}

Tensor Tensor::T() const {
  return transpose(*this);
}

Tensor input(const std::string& name, const Shape& shape, DType dtype) {
  auto c = Context::current();
  return Tensor(c, c->builder().input(name, TensorType{dtype, shape}));
}

namespace {

void need_new_param(Context& c, const std::string& name) {
  if (c.params().has(name))
    SOMA_THROW(NameError, "param: a parameter named '"
                              << name << "' already exists (" << c.params().peek(name).type_str()
                              << "); use reuse_param to continue with its values, or give the new "
                                 "parameter another name");
}

}  // namespace

Tensor param(const std::string& name, const Shape& shape, const std::string& init, uint64_t seed,
             DType dtype) {
  auto c = Context::current();
  TensorType t{dtype, shape};
  NodeId id = c->builder().param(name, t);  // checks the name and shape first
  need_new_param(*c, name);
  c->params().set(name, initial_value(init, t, seed));
  return Tensor(c, id);
}

Tensor param(const std::string& name, const Array& value) {
  auto c = Context::current();
  NodeId id = c->builder().param(name, TensorType{value.dtype(), value.shape()});
  need_new_param(*c, name);
  c->params().set(name, value.clone());
  return Tensor(c, id);
}

Tensor reuse_param(const std::string& name, const Shape& shape, const std::string& init,
                   uint64_t seed, DType dtype) {
  auto c = Context::current();
  TensorType t{dtype, shape};
  NodeId id = c->builder().param(name, t);
  ParamStore& store = c->params();
  if (!store.has(name)) {
    store.set(name, initial_value(init, t, seed));
  } else {
    const Array& old = store.peek(name);
    if (old.dtype() != dtype)
      SOMA_THROW(TypeError, "reuse_param: parameter '" << name << "' is " << old.type_str()
                                                       << ", not " << t.str());
    if (old.shape() != shape)
      SOMA_THROW(ShapeError, "reuse_param: parameter '" << name << "' is " << old.type_str()
                                                        << ", not " << t.str());
  }
  return Tensor(c, id);
}

Tensor constant(const Array& value) {
  return constant(value.to_doubles(), value.shape(), value.dtype());
}

Tensor constant(const std::vector<double>& values, const Shape& shape, DType dtype) {
  auto c = Context::current();
  return Tensor(c, c->builder().constant(values, TensorType{dtype, shape}));
}

Tensor scalar(double value, DType dtype) {
  return full(Shape{}, value, dtype);
}
Tensor zeros(const Shape& shape, DType dtype) {
  return full(shape, 0.0, dtype);
}
Tensor ones(const Shape& shape, DType dtype) {
  return full(shape, 1.0, dtype);
}
Tensor full(const Shape& shape, double value, DType dtype) {
  return constant({value}, shape, dtype);
}

Tensor arange(double start, double stop, double step) {
  if (step == 0) SOMA_THROW(ValueError, "arange: step must not be zero");
  if (!std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step))
    SOMA_THROW(ValueError, "arange: start, stop and step must be finite, got "
                               << start << ", " << stop << ", " << step);
  double span = (stop - start) / step;
  if (span > 9.0e15)  // beyond int64 (and any array that fits in memory)
    SOMA_THROW(ValueError,
               "arange(" << start << ", " << stop << ", " << step << ") has too many elements");
  int64_t n = span > 0 ? static_cast<int64_t>(std::ceil(span)) : 0;
  bool ints = start == std::floor(start) && stop == std::floor(stop) && step == std::floor(step);
  DType t = ints ? DType::i32 : DType::f32;
  auto c = Context::current();
  Builder b = c->builder();
  NodeId i = b.iota(TensorType{t, Shape{n}}, 0);
  if (step != 1) i = b.binary_scalar(Op::Mul, i, step);
  if (start != 0) i = b.binary_scalar(Op::Add, i, start);
  return Tensor(c, i);
}

Tensor dynamic_rows(const Tensor& x, int64_t start, int64_t n) {
  const auto& c = ctx_of(x, "dynamic_rows");
  if (x.rank() < 1 || start < 0 || n < 0 || start + n > x.shape()[0])
    SOMA_THROW(ShapeError,
               "dynamic_rows: rows [" << start << ", " << start + n << ") of " << x.type().str());
  Builder b = c->builder();
  NodeId base = b.runtime_scalar(static_cast<double>(start), DType::i32);
  NodeId ids = b.iota(TensorType{DType::i32, Shape{n}}, 0);
  ids = b.add_node(Op::Add, {ids, b.broadcast_to(base, Shape{n})});
  return Tensor(c, b.gather(x.id(), ids));
}

Tensor arange(double stop) {
  return arange(0, stop, 1);
}

Tensor rand(const Shape& shape, uint64_t seed, std::optional<Tensor> offset) {
  auto c = offset ? ctx_of(*offset, "rand") : Context::current();
  Builder b = c->builder();
  NodeId off = offset ? b.cast(offset->id(), DType::i32) : -1;
  if (offset && offset->rank() != 0)
    SOMA_THROW(ShapeError, "rand: offset must be a scalar, got " << offset->type().str());
  return Tensor(c, b.rand_uniform(TensorType{DType::f32, shape}, static_cast<int64_t>(seed), off));
}

Tensor randn(const Shape& shape, uint64_t seed, std::optional<Tensor> offset) {
  // Box-Muller over two independent uniform streams (seed and a derived key).
  Tensor u1 = rand(shape, seed, offset), u2 = rand(shape, seed ^ 0x5DEECE66DULL, offset);
  return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

#define SOMA_BINARY_OPERATOR(sym, OPNAME)                                                      \
  Tensor operator sym(const Tensor& a, const Tensor& b) {                                      \
    const auto& c = detail::ctx_of(a, b, #sym);                                                \
    return Tensor(c, c->builder().binary(Op::OPNAME, a.id(), b.id()));                         \
  }                                                                                            \
  Tensor operator sym(const Tensor& a, double s) {                                             \
    return build(a, #sym, [&](Builder& b) { return b.binary_scalar(Op::OPNAME, a.id(), s); }); \
  }
SOMA_BINARY_OPERATOR(+, Add)
SOMA_BINARY_OPERATOR(-, Sub)
SOMA_BINARY_OPERATOR(*, Mul)
SOMA_BINARY_OPERATOR(/, Div)
SOMA_BINARY_OPERATOR(<, Lt)
SOMA_BINARY_OPERATOR(<=, Le)
SOMA_BINARY_OPERATOR(>, Gt)
SOMA_BINARY_OPERATOR(>=, Ge)
SOMA_BINARY_OPERATOR(==, Eq)
SOMA_BINARY_OPERATOR(!=, Ne)
#undef SOMA_BINARY_OPERATOR

#define SOMA_SCALAR_LEFT(sym, OPNAME)                                                          \
  Tensor operator sym(double s, const Tensor& a) {                                             \
    return build(a, #sym, [&](Builder& b) { return b.scalar_binary(Op::OPNAME, s, a.id()); }); \
  }
SOMA_SCALAR_LEFT(+, Add)
SOMA_SCALAR_LEFT(-, Sub)
SOMA_SCALAR_LEFT(*, Mul)
SOMA_SCALAR_LEFT(/, Div)
#undef SOMA_SCALAR_LEFT

Tensor operator-(const Tensor& a) {
  return neg(a);
}

Tensor operator&&(const Tensor& a, const Tensor& b) {
  const auto& c = detail::ctx_of(a, b, "and");
  return Tensor(c, c->builder().binary(Op::And, a.id(), b.id()));
}
Tensor operator||(const Tensor& a, const Tensor& b) {
  const auto& c = detail::ctx_of(a, b, "or");
  return Tensor(c, c->builder().binary(Op::Or, a.id(), b.id()));
}
Tensor operator!(const Tensor& a) {
  return build(a, "not", [&](Builder& b) {
    if (b.dtype(a.id()) != DType::boolean)
      SOMA_THROW(TypeError, "not: needs a bool tensor, got " << b.type(a.id()).str());
    return b.unary(Op::Not, a.id());
  });
}

}  // namespace soma
