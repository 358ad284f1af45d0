// The interpreter's op families, one file each; eval_node (interp.cpp) dispatches to them.
#pragma once

#include <vector>

#include "graph/node.h"
#include "runtime/array.h"

namespace soma::interp {

Array eval_source(const Node& n, const std::vector<const Array*>& in);
Array eval_elementwise(const Node& n, const std::vector<const Array*>& in);
Array eval_reduce(const Node& n, const Array& x);
Array eval_movement(const Node& n, const std::vector<const Array*>& in);
Array eval_matmul(const Node& n, const Array& a, const Array& b);
Array eval_window(const Node& n, const Array& x);
Array eval_unwindow(const Node& n, const Array& g);
Array eval_gather(const Node& n, const Array& table, const Array& ids);
Array eval_scatter_add(const Node& n, const Array& ids, const Array& updates);

// Calls f(out_flat_index, multi_index) for every element of `shape` in C order.
template <typename F>
void for_each_index(const Shape& shape, F&& f) {
  int r = shape.rank();
  int64_t n = shape.numel();
  std::vector<int64_t> idx(static_cast<size_t>(r), 0);
  for (int64_t flat = 0; flat < n; ++flat) {
    f(flat, idx);
    for (int d = r - 1; d >= 0; --d) {
      size_t k = static_cast<size_t>(d);
      if (++idx[k] < shape[d]) break;
      idx[k] = 0;
    }
  }
}

}  // namespace soma::interp
