#include "backends/interp/eval_ops.h"
#include "graph/error.h"
#include "graph/philox.h"

namespace soma::interp {

Array eval_source(const Node& n, const std::vector<const Array*>& in) {
  Array out(n.type.dtype, n.type.shape);
  switch (n.op) {
    case Op::Const: {
      const auto& v = n.attrs.get_floats("value");
      for (int64_t i = 0; i < out.numel(); ++i)
        out.set(i, v.size() == 1 ? v[0] : v[static_cast<size_t>(i)]);
      return out;
    }
    case Op::Iota: {
      int axis = static_cast<int>(n.attrs.get_int("axis"));
      for_each_index(n.type.shape, [&](int64_t flat, const std::vector<int64_t>& idx) {
        out.set(flat, static_cast<double>(idx[static_cast<size_t>(axis)]));
      });
      return out;
    }
    case Op::RandUniform: {
      uint64_t seed = static_cast<uint64_t>(n.attrs.get_int("seed"));
      uint32_t offset = static_cast<uint32_t>(in[0]->data<int32_t>()[0]);
      for (int64_t i = 0; i < out.numel(); ++i)
        out.set(i, philox_uniform(seed, static_cast<uint64_t>(i), offset));
      return out;
    }
    default:
      break;
  }
  SOMA_CHECK(false) << "eval_source: " << op_name(n.op);
  return out;
}

}  // namespace soma::interp
