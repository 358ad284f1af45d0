// The scalar meaning of the elementwise ops (see scalar_ops.h).
#include "backends/interp/scalar_ops.h"

#include <cmath>
#include <limits>

#include "graph/error.h"

namespace soma::interp {

namespace {

double max_nan(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  return a > b ? a : b;
}
double min_nan(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  return a < b ? a : b;
}

}  // namespace

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

double convert_to(DType t, double v) {
  switch (t) {
    case DType::f32:
      return static_cast<double>(static_cast<float>(v));
    case DType::f64:
      return v;
    case DType::i32:
      if (std::isnan(v)) return 0;
      if (v >= 2147483647.0) return 2147483647.0;
      if (v <= -2147483648.0) return -2147483648.0;
      return std::trunc(v);
    case DType::boolean:
      return v != 0.0 ? 1.0 : 0.0;
  }
  return v;
}

}  // namespace soma::interp
