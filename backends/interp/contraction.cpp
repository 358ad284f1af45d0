// matmul, window/unwindow and gather/scatter_add. Products accumulate in f64.
#include "backends/interp/eval_ops.h"

namespace soma::interp {

Array eval_matmul(const Node& n, const Array& a, const Array& b) {
  Array out(n.type.dtype, n.type.shape);
  const Shape& as = a.shape();
  int r = as.rank();
  int64_t m = as[r - 2], k = as[r - 1], nn = b.shape()[r - 1];
  if (m * nn == 0) return out;
  int64_t batch = out.numel() / (m * nn);
  std::vector<double> av = a.to_doubles(), bv = b.to_doubles();
  std::vector<double> acc(static_cast<size_t>(nn));
  for (int64_t bi = 0; bi < batch; ++bi) {
    const double* pa = av.data() + bi * m * k;
    const double* pb = bv.data() + bi * k * nn;
    for (int64_t i = 0; i < m; ++i) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t p = 0; p < k; ++p) {
        double x = pa[i * k + p];
        const double* row = pb + p * nn;
        for (int64_t j = 0; j < nn; ++j) acc[static_cast<size_t>(j)] += x * row[j];
      }
      for (int64_t j = 0; j < nn; ++j) out.set((bi * m + i) * nn + j, acc[static_cast<size_t>(j)]);
    }
  }
  return out;
}

namespace {

struct WindowGeom {
  int k;  // number of window axes
  std::vector<int64_t> kernel, stride, dilation, pad_lo;
  explicit WindowGeom(const Attrs& a)
      : k(static_cast<int>(a.get_ints("kernel").size())),
        kernel(a.get_ints("kernel")),
        stride(a.get_ints("stride")),
        dilation(a.get_ints("dilation")),
        pad_lo(a.get_ints("pad_lo")) {}
};

// For a window-output multi-index, the flat index into the window's input, or -1 when the tap
// reads padding.
int64_t window_source(const WindowGeom& w, const Shape& xs, const std::vector<int64_t>& idx) {
  int lead = xs.rank() - w.k;
  auto xst = xs.strides();
  int64_t s = 0;
  for (int d = 0; d < lead; ++d) s += idx[static_cast<size_t>(d)] * xst[static_cast<size_t>(d)];
  for (int i = 0; i < w.k; ++i) {
    size_t j = static_cast<size_t>(i);
    int64_t o = idx[static_cast<size_t>(lead + i)];
    int64_t t = idx[static_cast<size_t>(lead + w.k + i)];
    int64_t p = o * w.stride[j] - w.pad_lo[j] + t * w.dilation[j];
    if (p < 0 || p >= xs[lead + i]) return -1;
    s += p * xst[static_cast<size_t>(lead + i)];
  }
  return s;
}

}  // namespace

Array eval_window(const Node& n, const Array& x) {
  Array out(n.type.dtype, n.type.shape);
  WindowGeom w(n.attrs);
  double value = n.attrs.get_float("value");
  for_each_index(n.type.shape, [&](int64_t flat, const std::vector<int64_t>& idx) {
    int64_t s = window_source(w, x.shape(), idx);
    out.set(flat, s < 0 ? value : x.get(s));
  });
  return out;
}

Array eval_unwindow(const Node& n, const Array& g) {
  WindowGeom w(n.attrs);
  std::vector<double> acc(static_cast<size_t>(n.type.shape.numel()), 0.0);
  for_each_index(g.shape(), [&](int64_t flat, const std::vector<int64_t>& idx) {
    int64_t s = window_source(w, n.type.shape, idx);
    if (s >= 0) acc[static_cast<size_t>(s)] += g.get(flat);
  });
  return Array::from_doubles(n.type.dtype, n.type.shape, acc);
}

Array eval_gather(const Node& n, const Array& table, const Array& ids) {
  Array out(n.type.dtype, n.type.shape);
  int64_t rows = table.shape()[0];
  int64_t row = rows ? table.numel() / rows : 0;
  for (int64_t i = 0; i < ids.numel(); ++i) {
    int64_t id = ids.data<int32_t>()[i];
    if (id < 0 || id >= rows) continue;  // out-of-range ids read zeros
    for (int64_t j = 0; j < row; ++j) out.set(i * row + j, table.get(id * row + j));
  }
  return out;
}

Array eval_scatter_add(const Node& n, const Array& ids, const Array& updates) {
  int64_t rows = n.type.shape[0];
  int64_t row = rows ? n.type.shape.numel() / rows : 0;
  std::vector<double> acc(static_cast<size_t>(n.type.shape.numel()), 0.0);
  for (int64_t i = 0; i < ids.numel(); ++i) {
    int64_t id = ids.data<int32_t>()[i];
    if (id < 0 || id >= rows) continue;  // out-of-range ids are dropped
    for (int64_t j = 0; j < row; ++j)
      acc[static_cast<size_t>(id * row + j)] += updates.get(i * row + j);
  }
  return Array::from_doubles(n.type.dtype, n.type.shape, acc);
}

}  // namespace soma::interp
