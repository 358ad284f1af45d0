#include "frontend/data/dataset.h"

#include <cstring>

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
  size_t rb = row_bytes(a);
  int64_t n = a.shape()[0];
  Array out(a.dtype(), with_rows(a.shape(), static_cast<int64_t>(rows.size())));
  auto* dst = static_cast<char*>(out.raw());
  const auto* src = static_cast<const char*>(a.raw());
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] < 0 || rows[i] >= n)
      SOMA_THROW(ValueError,
                 "gather_rows: row " << rows[i] << " out of range for " << a.type_str());
    if (rb) std::memcpy(dst + i * rb, src + static_cast<size_t>(rows[i]) * rb, rb);
  }
  return out;
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
  if (end < 0) end = rows;
  if (begin < 0 || begin > end || end > rows)
    SOMA_THROW(ValueError,
               "rows [" << begin << ", " << end << ") out of range for " << x_.type_str());
  begin_ = begin;
  n_ = end - begin;
  if (y_) {
    row_bytes(*y_);
    if (y_->shape()[0] != rows)
      SOMA_THROW(ShapeError, "inputs and labels have different numbers of samples: "
                                 << x_.type_str() << " and " << y_->type_str());
  }
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

Batch BatchIterator::batch(int64_t i) const {
  if (i < 0 || i >= num_batches())
    SOMA_THROW(ValueError, "batch " << i << " out of range (" << num_batches() << " batches)");
  int64_t begin = i * batch_size_;
  int64_t end = std::min(n_, begin + batch_size_);
  Batch b;
  b.size = end - begin;
  if (order_.empty()) {
    b.x = slice_rows(x_, begin_ + begin, begin_ + end);
    if (y_) b.y = slice_rows(*y_, begin_ + begin, begin_ + end);
  } else {
    std::vector<int64_t> rows(order_.begin() + begin, order_.begin() + end);
    b.x = gather_rows(x_, rows);
    if (y_) b.y = gather_rows(*y_, rows);
  }
  return b;
}

}  // namespace soma::data
