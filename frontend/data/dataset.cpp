#include "frontend/data/dataset.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "graph/error.h"

namespace soma::data {

namespace {

uint64_t splitmix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Uniform in [0, n) without modulo bias.
uint64_t below(uint64_t& state, uint64_t n) {
  uint64_t limit = ~uint64_t{0} - (~uint64_t{0} % n);
  for (;;) {
    uint64_t r = splitmix(state);
    if (r < limit) return r % n;
  }
}

size_t row_bytes(const Array& a) {
  if (a.shape().rank() < 1)
    SOMA_THROW(ShapeError, "dataset arrays need a sample axis, got a scalar");
  return a.shape()[0] == 0 ? 0 : a.nbytes() / static_cast<size_t>(a.shape()[0]);
}

Shape with_rows(const Shape& s, int64_t rows) {
  std::vector<int64_t> d = s.dims();
  d[0] = rows;
  return Shape(d);
}

// Makes `out` an array of a's dtype and `count` rows of a's row shape, keeping its storage when it
// already is one.
void reuse_or_make(const Array& a, int64_t count, Array& out) {
  if (out.dtype() != a.dtype() || out.shape().rank() != a.shape().rank() ||
      out.shape()[0] != count || out.nbytes() != row_bytes(a) * static_cast<size_t>(count))
    out = Array(a.dtype(), with_rows(a.shape(), count));
}

// Rows [begin, begin + count) of `a` into `out` (see reuse_or_make), as one copy.
void copy_rows_into(const Array& a, int64_t begin, int64_t count, Array& out) {
  reuse_or_make(a, count, out);
  if (out.nbytes())
    std::memcpy(out.raw(),
                static_cast<const char*>(a.raw()) + static_cast<size_t>(begin) * row_bytes(a),
                out.nbytes());
}

}  // namespace

std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed) {
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = i;
  uint64_t state = seed;
  for (int64_t i = n - 1; i > 0; --i) {
    auto j = static_cast<int64_t>(below(state, static_cast<uint64_t>(i + 1)));
    std::swap(idx[static_cast<size_t>(i)], idx[static_cast<size_t>(j)]);
  }
  return idx;
}

Array slice_rows(const Array& a, int64_t begin, int64_t end) {
  size_t rb = row_bytes(a);
  if (begin < 0 || end < begin || end > a.shape()[0])
    SOMA_THROW(ValueError, "slice_rows: rows [" << begin << ", " << end << ") out of range for "
                                                << a.type_str());
  Array out(a.dtype(), with_rows(a.shape(), end - begin));
  if (rb && end > begin)
    std::memcpy(out.raw(), static_cast<const char*>(a.raw()) + static_cast<size_t>(begin) * rb,
                static_cast<size_t>(end - begin) * rb);
  return out;
}

Array gather_rows(const Array& a, const std::vector<int64_t>& rows) {
  Array out;
  gather_rows_into(a, rows, out);
  return out;
}

void gather_rows_into(const Array& a, std::span<const int64_t> rows, Array& out) {
  size_t rb = row_bytes(a);
  int64_t n = a.shape()[0];
  reuse_or_make(a, static_cast<int64_t>(rows.size()), out);
  auto* dst = static_cast<char*>(out.raw());
  const auto* src = static_cast<const char*>(a.raw());
  for (size_t i = 0; i < rows.size();) {
    // A run of consecutive rows: one copy.
    size_t j = i + 1;
    while (j < rows.size() && rows[j] == rows[j - 1] + 1) ++j;
    if (rows[i] < 0 || rows[j - 1] >= n)
      SOMA_THROW(ValueError, "gather_rows: row " << (rows[i] < 0 ? rows[i] : rows[j - 1])
                                                 << " out of range for " << a.type_str());
    if (rb) std::memcpy(dst + i * rb, src + static_cast<size_t>(rows[i]) * rb, (j - i) * rb);
    i = j;
  }
}

BatchIterator::BatchIterator(Array x, std::optional<Array> y, int64_t batch_size, bool shuffle,
                             uint64_t seed, bool drop_remainder, int64_t begin, int64_t end)
    : x_(std::move(x)),
      y_(std::move(y)),
      batch_size_(batch_size),
      shuffle_(shuffle),
      drop_remainder_(drop_remainder),
      seed_(seed) {
  if (batch_size < 1) SOMA_THROW(ValueError, "batch_size must be positive, got " << batch_size);
  row_bytes(x_);
  int64_t rows = x_.shape()[0];
  if (y_) {
    row_bytes(*y_);
    if (y_->shape()[0] != rows)
      SOMA_THROW(ShapeError, "inputs and labels have different numbers of samples: "
                                 << x_.type_str() << " and " << y_->type_str());
  }
  init(rows, begin, end);
}

BatchIterator::BatchIterator(int64_t rows, int64_t batch_size, bool shuffle, uint64_t seed,
                             bool drop_remainder, int64_t begin, int64_t end)
    : has_x_(false),
      batch_size_(batch_size),
      shuffle_(shuffle),
      drop_remainder_(drop_remainder),
      seed_(seed) {
  if (batch_size < 1) SOMA_THROW(ValueError, "batch_size must be positive, got " << batch_size);
  if (rows < 0) SOMA_THROW(ValueError, "a dataset cannot have " << rows << " rows");
  init(rows, begin, end);
}

void BatchIterator::init(int64_t rows, int64_t begin, int64_t end) {
  if (end < 0) end = rows;
  if (begin < 0 || begin > end || end > rows)
    SOMA_THROW(ValueError, "rows [" << begin << ", " << end << ") out of range for "
                                    << (has_x_ ? x_.type_str() : std::to_string(rows) + " rows"));
  begin_ = begin;
  n_ = end - begin;
}

void BatchIterator::need_arrays() const {
  if (!has_x_)
    SOMA_THROW(ValueError,
               "this batch iterator runs over row numbers only; gather the rows of "
               "batch_rows() from the arrays instead");
}

int64_t BatchIterator::num_batches() const {
  return drop_remainder_ ? n_ / batch_size_ : (n_ + batch_size_ - 1) / batch_size_;
}

void BatchIterator::start_epoch(int epoch) {
  if (!shuffle_) return;
  uint64_t s = seed_ ^ (0x5851f42d4c957f2dull * (static_cast<uint64_t>(epoch) + 1));
  order_ = shuffled_indices(n_, s);
  for (int64_t& r : order_) r += begin_;
}

void BatchIterator::batch_rows(int64_t i, std::vector<int64_t>& rows) const {
  if (i < 0 || i >= num_batches())
    SOMA_THROW(ValueError, "batch " << i << " out of range (" << num_batches() << " batches)");
  int64_t begin = i * batch_size_;
  int64_t end = std::min(n_, begin + batch_size_);
  if (order_.empty()) {
    rows.resize(static_cast<size_t>(end - begin));
    for (int64_t r = begin; r < end; ++r) rows[static_cast<size_t>(r - begin)] = begin_ + r;
  } else {
    rows.assign(order_.begin() + begin, order_.begin() + end);
  }
}

Batch BatchIterator::batch(int64_t i) const {
  Batch b;
  batch_into(i, b);
  return b;
}

void BatchIterator::batch_into(int64_t i, Batch& out) const {
  need_arrays();
  if (i < 0 || i >= num_batches())
    SOMA_THROW(ValueError, "batch " << i << " out of range (" << num_batches() << " batches)");
  int64_t begin = i * batch_size_;
  int64_t end = std::min(n_, begin + batch_size_);
  out.size = end - begin;
  if (!y_) out.y.reset();
  if (y_ && !out.y) out.y.emplace();
  if (order_.empty()) {
    copy_rows_into(x_, begin_ + begin, out.size, out.x);
    if (y_) copy_rows_into(*y_, begin_ + begin, out.size, *out.y);
    return;
  }
  auto rows = std::span<const int64_t>(order_).subspan(static_cast<size_t>(begin),
                                                       static_cast<size_t>(out.size));
  gather_rows_into(x_, rows, out.x);
  if (y_) gather_rows_into(*y_, rows, *out.y);
}

}  // namespace soma::data
