// Linear algebra, shape manipulation and numpy-style indexing.
#include <algorithm>

#include "frontend/tensor.h"
#include "frontend/tensor_util.h"

namespace soma {

using detail::build;

Tensor matmul(const Tensor& a, const Tensor& b) {
  const auto& c = detail::ctx_of(a, b, "matmul");
  return Tensor(c, c->builder().matmul(a.id(), b.id()));
}

Tensor transpose(const Tensor& x, std::vector<int64_t> perm) {
  if (perm.empty())
    for (int i = x.rank() - 1; i >= 0; --i) perm.push_back(i);
  return build(x, "transpose", [&](Builder& b) { return b.permute(x.id(), perm); });
}

Tensor reshape(const Tensor& x, std::vector<int64_t> shape) {
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0)
        SOMA_THROW(ValueError, "reshape: only one -1 is allowed in " << Shape(shape).str());
      infer = static_cast<int>(i);
    } else if (shape[i] < 0) {
      SOMA_THROW(ValueError, "reshape: negative size in " << Shape(shape).str());
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || x.numel() % known != 0)
      SOMA_THROW(ShapeError, "reshape: cannot reshape " << x.shape().str() << " (" << x.numel()
                                                        << " elements) to " << Shape(shape).str());
    shape[static_cast<size_t>(infer)] = x.numel() / known;
  }
  if (Shape(shape).numel() != x.numel())
    SOMA_THROW(ShapeError, "reshape: cannot reshape " << x.shape().str() << " (" << x.numel()
                                                      << " elements) to " << Shape(shape).str()
                                                      << " (" << Shape(shape).numel()
                                                      << " elements)");
  if (static_cast<int>(shape.size()) > kMaxRank)
    SOMA_THROW(ShapeError,
               "reshape: rank " << shape.size() << " exceeds soma's maximum rank " << kMaxRank);
  return build(x, "reshape", [&](Builder& b) { return b.reshape(x.id(), Shape(shape)); });
}

Tensor flatten(const Tensor& x, int64_t start, int64_t end) {
  if (x.rank() == 0) return reshape(x, {1});
  auto s = normalize_axis(start, x.rank()), e = normalize_axis(end, x.rank());
  if (!s || !e || *s > *e)
    SOMA_THROW(ValueError, "flatten: axes " << start << ".." << end << " are invalid for shape "
                                            << x.shape().str());
  std::vector<int64_t> dims;
  for (int i = 0; i < *s; ++i) dims.push_back(x.shape()[i]);
  int64_t m = 1;
  for (int i = *s; i <= *e; ++i) m *= x.shape()[i];
  dims.push_back(m);
  for (int i = *e + 1; i < x.rank(); ++i) dims.push_back(x.shape()[i]);
  return reshape(x, dims);
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  return build(x, "broadcast_to", [&](Builder& b) { return b.broadcast_to(x.id(), shape); });
}

Tensor concat(const std::vector<Tensor>& xs, int64_t axis) {
  if (xs.empty()) SOMA_THROW(ValueError, "concat: needs at least one tensor");
  std::vector<NodeId> ids;
  for (const Tensor& t : xs) {
    detail::ctx_of(xs[0], t, "concat");
    ids.push_back(t.id());
  }
  return build(xs[0], "concat", [&](Builder& b) { return b.concat(ids, axis); });
}

Tensor stack(const std::vector<Tensor>& xs, int64_t axis) {
  if (xs.empty()) SOMA_THROW(ValueError, "stack: needs at least one tensor");
  auto a = normalize_axis(axis, xs[0].rank() + 1);
  if (!a) SOMA_THROW(ValueError, "stack: axis " << axis << " out of range");
  std::vector<Tensor> parts;
  for (const Tensor& t : xs) {
    if (t.shape() != xs[0].shape())
      SOMA_THROW(ShapeError, "stack: all tensors need one shape; got "
                                 << xs[0].shape().str() << " and " << t.shape().str());
    parts.push_back(unsqueeze(t, *a));
  }
  return concat(parts, *a);
}

Tensor pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& widths, double value) {
  std::vector<int64_t> lo, hi, interior(static_cast<size_t>(x.rank()), 0);
  if (widths.size() == 1) {
    lo.assign(static_cast<size_t>(x.rank()), widths[0].first);
    hi.assign(static_cast<size_t>(x.rank()), widths[0].second);
  } else if (static_cast<int>(widths.size()) == x.rank()) {
    for (auto& [l, h] : widths) {
      lo.push_back(l);
      hi.push_back(h);
    }
  } else {
    SOMA_THROW(ValueError, "pad: needs one (before, after) pair per axis ("
                               << x.rank() << ") or a single pair; got " << widths.size());
  }
  return build(x, "pad", [&](Builder& b) { return b.pad(x.id(), lo, hi, interior, value); });
}

Tensor unsqueeze(const Tensor& x, int64_t axis) {
  auto a = normalize_axis(axis, x.rank() + 1);
  if (!a)
    SOMA_THROW(ValueError,
               "unsqueeze: axis " << axis << " out of range for shape " << x.shape().str());
  std::vector<int64_t> dims = x.shape().dims();
  dims.insert(dims.begin() + *a, 1);
  return reshape(x, dims);
}

Tensor squeeze(const Tensor& x, std::optional<int64_t> axis) {
  std::vector<int64_t> dims;
  if (axis) {
    auto a = normalize_axis(*axis, x.rank());
    if (!a)
      SOMA_THROW(ValueError,
                 "squeeze: axis " << *axis << " out of range for shape " << x.shape().str());
    if (x.shape()[*a] != 1)
      SOMA_THROW(ShapeError, "squeeze: axis " << *axis << " of " << x.shape().str() << " has size "
                                              << x.shape()[*a] << ", not 1");
    for (int i = 0; i < x.rank(); ++i)
      if (i != *a) dims.push_back(x.shape()[i]);
  } else {
    const Shape s = x.shape();
    for (int64_t d : s.dims())
      if (d != 1) dims.push_back(d);
  }
  return reshape(x, dims);
}

Tensor flip(const Tensor& x, std::vector<int64_t> axes) {
  return build(x, "flip", [&](Builder& b) { return b.flip(x.id(), axes); });
}

Tensor index(const Tensor& x, const std::vector<Index>& items) {
  // Expand the ellipsis and count the axes consumed.
  int consumed = 0, ellipses = 0;
  for (const Index& it : items) {
    if (std::holds_alternative<int64_t>(it) || std::holds_alternative<Slice>(it)) ++consumed;
    if (std::holds_alternative<Ellipsis>(it)) ++ellipses;
  }
  if (ellipses > 1) SOMA_THROW(ValueError, "index: at most one '...' is allowed");
  if (consumed > x.rank())
    SOMA_THROW(ValueError, "index: too many indices (" << consumed << ") for a tensor of shape "
                                                       << x.shape().str());
  std::vector<Index> full;
  for (const Index& it : items) {
    if (std::holds_alternative<Ellipsis>(it))
      for (int i = 0; i < x.rank() - consumed; ++i) full.push_back(Slice{});
    else
      full.push_back(it);
  }
  if (!ellipses)
    for (int i = consumed; i < x.rank(); ++i) full.push_back(Slice{});

  int r = x.rank();
  std::vector<int64_t> start(static_cast<size_t>(r)), stop(static_cast<size_t>(r)),
      step(static_cast<size_t>(r), 1), flips;
  std::vector<int64_t> out_dims;  // after slicing: drop integer axes, add new axes
  int axis = 0;
  for (const Index& it : full) {
    if (std::holds_alternative<NewAxis>(it)) {
      out_dims.push_back(1);
      continue;
    }
    size_t k = static_cast<size_t>(axis);
    int64_t n = x.shape()[axis];
    if (auto* i = std::get_if<int64_t>(&it)) {
      int64_t v = *i < 0 ? *i + n : *i;
      if (v < 0 || v >= n)
        SOMA_THROW(ValueError,
                   "index " << *i << " is out of range for axis " << axis << " of size " << n);
      start[k] = v;
      stop[k] = v + 1;
    } else {
      const Slice& s = std::get<Slice>(it);
      int64_t st = s.step.value_or(1);
      if (st == 0) SOMA_THROW(ValueError, "index: slice step must not be zero");
      // Python's slice.indices semantics.
      auto clampi = [&](std::optional<int64_t> v, int64_t dflt, int64_t lo, int64_t hi) {
        if (!v) return dflt;
        int64_t w = *v < 0 ? *v + n : *v;
        return std::clamp(w, lo, hi);
      };
      int64_t b, e;
      if (st > 0) {
        b = clampi(s.start, 0, 0, n);
        e = clampi(s.stop, n, 0, n);
      } else {
        b = clampi(s.start, n - 1, -1, n - 1);
        e = clampi(s.stop, -1, -1, n - 1);
      }
      int64_t len =
          st > 0 ? (e > b ? (e - b + st - 1) / st : 0) : (b > e ? (b - e - st - 1) / (-st) : 0);
      if (st > 0) {
        start[k] = b;
        stop[k] = b + (len > 0 ? (len - 1) * st + 1 : 0);
        step[k] = st;
      } else {
        // Reverse the axis, then take a forward slice of the reversed tensor.
        flips.push_back(axis);
        int64_t rb = n - 1 - b;
        start[k] = len > 0 ? rb : 0;
        stop[k] = len > 0 ? rb + (len - 1) * (-st) + 1 : 0;
        step[k] = -st;
      }
      out_dims.push_back(len);
    }
    ++axis;
  }
  Tensor y = flips.empty() ? x : flip(x, flips);
  y = build(y, "index", [&](Builder& b) { return b.slice(y.id(), start, stop, step); });
  return reshape(y, out_dims);
}

}  // namespace soma
