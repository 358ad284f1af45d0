// Elementwise ops. Floats: computed in f64, rounded once to the result dtype. i32: computed in
// 64-bit and wrapped to 32 bits (two's complement), as the code generators do.
#include <cmath>
#include <limits>

#include "backends/interp/eval_ops.h"
#include "graph/error.h"

namespace soma::interp {

namespace {

double unary_float(Op op, double x) {
  switch (op) {
    case Op::Neg:
      return -x;
    case Op::Abs:
      return std::fabs(x);
    case Op::Sign:
      return std::isnan(x) ? x : (x > 0) - (x < 0);
    case Op::Floor:
      return std::floor(x);
    case Op::Exp:
      return std::exp(x);
    case Op::Expm1:
      return std::expm1(x);
    case Op::Log:
      return std::log(x);
    case Op::Log1p:
      return std::log1p(x);
    case Op::Sqrt:
      return std::sqrt(x);
    case Op::Rsqrt:
      return 1.0 / std::sqrt(x);
    case Op::Sin:
      return std::sin(x);
    case Op::Cos:
      return std::cos(x);
    case Op::Tanh:
      return std::tanh(x);
    case Op::Sigmoid:
      return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
    case Op::Erf:
      return std::erf(x);
    default:
      break;
  }
  SOMA_CHECK(false) << "unary_float: " << op_name(op);
  return 0;
}

int64_t unary_int(Op op, int64_t x) {
  switch (op) {
    case Op::Neg:
      return -x;
    case Op::Abs:
      return x < 0 ? -x : x;
    case Op::Sign:
      return (x > 0) - (x < 0);
    default:
      break;
  }
  SOMA_CHECK(false) << "unary_int: " << op_name(op);
  return 0;
}

double max_nan(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  return a > b ? a : b;
}
double min_nan(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  return a < b ? a : b;
}

double binary_float(Op op, double a, double b) {
  switch (op) {
    case Op::Add:
      return a + b;
    case Op::Sub:
      return a - b;
    case Op::Mul:
      return a * b;
    case Op::Div:
      return a / b;
    case Op::Pow:
      return std::pow(a, b);
    case Op::Max:
      return max_nan(a, b);
    case Op::Min:
      return min_nan(a, b);
    default:
      break;
  }
  SOMA_CHECK(false) << "binary_float: " << op_name(op);
  return 0;
}

int64_t binary_int(Op op, int64_t a, int64_t b) {
  switch (op) {
    case Op::Add:
      return a + b;
    case Op::Sub:
      return a - b;
    case Op::Mul:
      return a * b;
    case Op::Max:
      return a > b ? a : b;
    case Op::Min:
      return a < b ? a : b;
    default:
      break;
  }
  SOMA_CHECK(false) << "binary_int: " << op_name(op);
  return 0;
}

bool compare(Op op, double a, double b) {
  switch (op) {
    case Op::Lt:
      return a < b;
    case Op::Le:
      return a <= b;
    case Op::Gt:
      return a > b;
    case Op::Ge:
      return a >= b;
    case Op::Eq:
      return a == b;
    case Op::Ne:
      return a != b;
    default:
      break;
  }
  SOMA_CHECK(false) << "compare: " << op_name(op);
  return false;
}

int32_t wrap32(int64_t v) {
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v)));
}

}  // namespace

Array eval_elementwise(const Node& n, const std::vector<const Array*>& in) {
  Array out(n.type.dtype, n.type.shape);
  const int64_t count = out.numel();
  const Op op = n.op;
  const DType in_type = in[0]->dtype();

  if (op == Op::Cast || op == Op::StopGradient) {
    for (int64_t i = 0; i < count; ++i) out.set(i, in[0]->get(i));  // Array::set converts
    return out;
  }
  if (op == Op::Select) {
    const uint8_t* c = in[0]->data<uint8_t>();
    for (int64_t i = 0; i < count; ++i) out.set(i, c[i] ? in[1]->get(i) : in[2]->get(i));
    return out;
  }
  if (op == Op::Not || op == Op::And || op == Op::Or) {
    uint8_t* o = out.data<uint8_t>();
    const uint8_t* a = in[0]->data<uint8_t>();
    const uint8_t* b = in.size() > 1 ? in[1]->data<uint8_t>() : nullptr;
    for (int64_t i = 0; i < count; ++i)
      o[i] = op == Op::Not ? !a[i] : op == Op::And ? (a[i] && b[i]) : (a[i] || b[i]);
    return out;
  }
  if (is_comparison(op)) {
    uint8_t* o = out.data<uint8_t>();
    for (int64_t i = 0; i < count; ++i) o[i] = compare(op, in[0]->get(i), in[1]->get(i));
    return out;
  }
  if (in_type == DType::i32) {
    const int32_t* a = in[0]->data<int32_t>();
    const int32_t* b = in.size() > 1 ? in[1]->data<int32_t>() : nullptr;
    int32_t* o = out.data<int32_t>();
    for (int64_t i = 0; i < count; ++i)
      o[i] = wrap32(b ? binary_int(op, a[i], b[i]) : unary_int(op, a[i]));
    return out;
  }
  for (int64_t i = 0; i < count; ++i) {
    double a = in[0]->get(i);
    out.set(i, in.size() > 1 ? binary_float(op, a, in[1]->get(i)) : unary_float(op, a));
  }
  return out;
}

}  // namespace soma::interp
