// Elementwise ops. Floats: computed in f64, rounded once to the result dtype. i32: computed in
// 64-bit and wrapped to 32 bits (two's complement), as the code generators do.
#include "backends/interp/eval_ops.h"
#include "backends/interp/scalar_ops.h"
#include "graph/error.h"

namespace soma::interp {

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
