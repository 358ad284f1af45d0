// Reductions over axes; reduced axes keep size 1. Sums accumulate in f64 (i32: in 64-bit, then
// wrap); max propagates NaN.
#include <cmath>
#include <limits>

#include "backends/interp/eval_ops.h"

namespace soma::interp {

Array eval_reduce(const Node& n, const Array& x) {
  const Shape& os = n.type.shape;
  std::vector<double> acc(static_cast<size_t>(os.numel()),
                          n.op == Op::ReduceSum ? 0.0 : -std::numeric_limits<double>::infinity());
  std::vector<int64_t> iacc(static_cast<size_t>(os.numel()), 0);
  const bool is_int = x.dtype() == DType::i32;
  if (is_int && n.op == Op::ReduceMax)
    for (auto& v : iacc) v = std::numeric_limits<int64_t>::min();
  auto ostrides = os.strides();
  for_each_index(x.shape(), [&](int64_t flat, const std::vector<int64_t>& idx) {
    int64_t o = 0;
    for (int d = 0; d < os.rank(); ++d)
      o += (os[d] == 1 ? 0 : idx[static_cast<size_t>(d)]) * ostrides[static_cast<size_t>(d)];
    size_t k = static_cast<size_t>(o);
    if (is_int) {
      int64_t v = x.data<int32_t>()[flat];
      iacc[k] = n.op == Op::ReduceSum ? iacc[k] + v : (v > iacc[k] ? v : iacc[k]);
    } else {
      double v = x.get(flat);
      if (n.op == Op::ReduceSum)
        acc[k] += v;
      else if (std::isnan(v) || std::isnan(acc[k]))
        acc[k] = std::numeric_limits<double>::quiet_NaN();
      else if (v > acc[k])
        acc[k] = v;
    }
  });
  Array out(n.type.dtype, os);
  for (int64_t i = 0; i < out.numel(); ++i) {
    size_t k = static_cast<size_t>(i);
    if (is_int)
      out.data<int32_t>()[i] =
          static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(iacc[k])));
    else
      out.set(i, acc[k]);
  }
  return out;
}

}  // namespace soma::interp
