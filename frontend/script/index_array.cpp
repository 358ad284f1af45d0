#include "frontend/script/index_array.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "frontend/script/source.h"

namespace soma::script {

Array index_array(const Array& a, const std::vector<Index>& items, const Location& loc) {
  const int rank = a.shape().rank();
  int named = 0;
  bool ellipsis = false;
  for (const Index& ix : items) {
    if (std::holds_alternative<Ellipsis>(ix)) {
      if (ellipsis) throw ScriptError(loc, "an index can only have a single ellipsis ('...')");
      ellipsis = true;
    } else if (!std::holds_alternative<NewAxis>(ix)) {
      ++named;
    }
  }
  if (named > rank)
    throw ScriptError(
        loc, "too many indices for " + a.type_str() + ": " + std::to_string(named) + " were given");
  // Per source axis: first element, step and count; the output's shape.
  std::vector<int64_t> start(rank, 0), step(rank, 1), count(rank);
  std::vector<int64_t> out_shape;
  int axis = 0;
  for (const Index& ix : items) {
    if (std::holds_alternative<Ellipsis>(ix)) {
      for (int k = 0; k < rank - named; ++k, ++axis) {
        count[axis] = a.shape()[axis];
        out_shape.push_back(count[axis]);
      }
    } else if (std::holds_alternative<NewAxis>(ix)) {
      out_shape.push_back(1);
    } else if (const int64_t* i = std::get_if<int64_t>(&ix)) {
      const int64_t n = a.shape()[axis], k = *i < 0 ? *i + n : *i;
      if (k < 0 || k >= n)
        throw ScriptError(loc, "index " + std::to_string(*i) + " is out of bounds for axis " +
                                   std::to_string(axis) + " with size " + std::to_string(n));
      start[axis] = k;
      count[axis] = 1;
      ++axis;
    } else {
      const Slice& sl = std::get<Slice>(ix);
      const int64_t n = a.shape()[axis], st = sl.step.value_or(1);
      if (st == 0) throw ScriptError(loc, "slice step cannot be zero");
      auto clampi = [&](std::optional<int64_t> v, int64_t dflt, int64_t lo, int64_t hi) {
        if (!v) return dflt;
        return std::clamp(*v < 0 ? *v + n : *v, lo, hi);
      };
      const int64_t lo = st > 0 ? clampi(sl.start, 0, 0, n) : clampi(sl.start, n - 1, -1, n - 1);
      const int64_t hi = st > 0 ? clampi(sl.stop, n, 0, n) : clampi(sl.stop, -1, -1, n - 1);
      const int64_t c = st > 0 ? std::max<int64_t>(0, (hi - lo + st - 1) / st)
                               : std::max<int64_t>(0, (lo - hi - st - 1) / -st);
      start[axis] = lo;
      step[axis] = st;
      count[axis] = c;
      out_shape.push_back(c);
      ++axis;
    }
  }
  for (; axis < rank; ++axis) {
    count[axis] = a.shape()[axis];
    out_shape.push_back(count[axis]);
  }
  Array out(a.dtype(), Shape(out_shape));
  if (out.numel() == 0) return out;
  const size_t es = dtype_size(a.dtype());
  std::vector<int64_t> stride(rank, 1);
  for (int k = rank - 2; k >= 0; --k) stride[k] = stride[k + 1] * a.shape()[k + 1];
  // The innermost axes that are copied whole and contiguous go as one block.
  int inner = rank;
  int64_t block = 1;
  while (inner > 0 && start[inner - 1] == 0 && step[inner - 1] == 1 &&
         count[inner - 1] == a.shape()[inner - 1]) {
    --inner;
    block *= count[inner];
  }
  const auto* src = static_cast<const std::byte*>(a.raw());
  auto* dst = static_cast<std::byte*>(out.raw());
  std::vector<int64_t> at(inner, 0);
  const int64_t blocks = out.numel() / block;
  for (int64_t b = 0; b < blocks; ++b) {
    int64_t off = 0;
    for (int k = 0; k < inner; ++k) off += (start[k] + at[k] * step[k]) * stride[k];
    std::memcpy(dst + b * block * es, src + off * es, static_cast<size_t>(block) * es);
    for (int k = inner - 1; k >= 0; --k) {
      if (++at[k] < count[k]) break;
      at[k] = 0;
    }
  }
  return out;
}

}  // namespace soma::script
