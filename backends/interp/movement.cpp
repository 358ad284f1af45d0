// Movement ops: each output element is copied from one input element (or is a pad value).
#include <cstring>

#include "backends/interp/eval_ops.h"
#include "graph/error.h"

namespace soma::interp {

namespace {

// Copies element `src` of `from` to element `dst` of `to` (same dtype).
inline void copy_elem(const Array& from, int64_t src, Array& to, int64_t dst) {
  size_t es = dtype_size(from.dtype());
  std::memcpy(static_cast<std::byte*>(to.raw()) + static_cast<size_t>(dst) * es,
              static_cast<const std::byte*>(from.raw()) + static_cast<size_t>(src) * es, es);
}

int64_t dot(const std::vector<int64_t>& idx, const std::vector<int64_t>& strides) {
  int64_t o = 0;
  for (size_t i = 0; i < idx.size(); ++i) o += idx[i] * strides[i];
  return o;
}

}  // namespace

Array eval_movement(const Node& n, const std::vector<const Array*>& in) {
  Array out(n.type.dtype, n.type.shape);
  const Array& x = *in[0];
  const Shape& xs = x.shape();
  const auto xst = xs.strides();
  const int r = n.type.shape.rank();
  switch (n.op) {
    case Op::Reshape:
      if (out.nbytes()) std::memcpy(out.raw(), x.raw(), out.nbytes());
      return out;
    case Op::Broadcast:
      for_each_index(n.type.shape, [&](int64_t flat, const std::vector<int64_t>& idx) {
        int64_t s = 0;
        for (int d = 0; d < r; ++d)
          s += (xs[d] == 1 ? 0 : idx[static_cast<size_t>(d)]) * xst[static_cast<size_t>(d)];
        copy_elem(x, s, out, flat);
      });
      return out;
    case Op::Permute: {
      const auto& perm = n.attrs.get_ints("perm");
      for_each_index(n.type.shape, [&](int64_t flat, const std::vector<int64_t>& idx) {
        int64_t s = 0;
        for (int d = 0; d < r; ++d)
          s += idx[static_cast<size_t>(d)] * xst[static_cast<size_t>(perm[static_cast<size_t>(d)])];
        copy_elem(x, s, out, flat);
      });
      return out;
    }
    case Op::Slice: {
      const auto& start = n.attrs.get_ints("start");
      const auto& step = n.attrs.get_ints("step");
      for_each_index(n.type.shape, [&](int64_t flat, const std::vector<int64_t>& idx) {
        int64_t s = 0;
        for (size_t d = 0; d < idx.size(); ++d) s += (start[d] + idx[d] * step[d]) * xst[d];
        copy_elem(x, s, out, flat);
      });
      return out;
    }
    case Op::Pad: {
      const auto& lo = n.attrs.get_ints("lo");
      const auto& interior = n.attrs.get_ints("interior");
      double value = n.attrs.get_float("value");
      for_each_index(n.type.shape, [&](int64_t flat, const std::vector<int64_t>& idx) {
        int64_t s = 0;
        bool inside = true;
        for (size_t d = 0; d < idx.size() && inside; ++d) {
          int64_t p = idx[d] - lo[d];
          int64_t q = interior[d] + 1;
          if (p < 0 || p % q != 0 || p / q >= xs[static_cast<int>(d)])
            inside = false;
          else
            s += (p / q) * xst[d];
        }
        if (inside)
          copy_elem(x, s, out, flat);
        else
          out.set(flat, value);
      });
      return out;
    }
    case Op::Concat: {
      int axis = static_cast<int>(n.attrs.get_int("axis"));
      for_each_index(n.type.shape, [&](int64_t flat, const std::vector<int64_t>& idx) {
        std::vector<int64_t> j = idx;
        size_t k = static_cast<size_t>(axis);
        size_t part = 0;
        while (j[k] >= in[part]->shape()[axis]) j[k] -= in[part++]->shape()[axis];
        copy_elem(*in[part], dot(j, in[part]->shape().strides()), out, flat);
      });
      return out;
    }
    case Op::Flip: {
      const auto& axes = n.attrs.get_ints("axes");
      for_each_index(n.type.shape, [&](int64_t flat, const std::vector<int64_t>& idx) {
        std::vector<int64_t> j = idx;
        for (int64_t a : axes)
          j[static_cast<size_t>(a)] = xs[static_cast<int>(a)] - 1 - j[static_cast<size_t>(a)];
        copy_elem(x, dot(j, xst), out, flat);
      });
      return out;
    }
    default:
      break;
  }
  SOMA_CHECK(false) << "eval_movement: " << op_name(n.op);
  return out;
}

}  // namespace soma::interp
