// In-memory datasets for fit/evaluate/predict: row slicing, seeded shuffling and batching. An
// epoch is a permutation of row indices; a batch gathers its rows into a batch-sized array (a
// fresh one, or one reused from the previous batch), so the dataset itself is never copied per
// epoch.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "runtime/array.h"

namespace soma::data {

// A permutation of 0..n-1 (Fisher-Yates on a splitmix64 stream of `seed`): the same on every
// platform for the same seed.
std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed);
// Rows [begin, end) of `a` along axis 0 (a copy).
Array slice_rows(const Array& a, int64_t begin, int64_t end);
// Rows `rows` of `a` along axis 0, gathered into a new array [rows.size(), ...].
Array gather_rows(const Array& a, const std::vector<int64_t>& rows);
// The same into `out`: its storage is reused when it already has a's dtype and the batch's shape
// (the old contents are overwritten in place, so nothing else may still read them), else `out`
// becomes a fresh array. Runs of consecutive rows are copied as one block. Throws ValueError for
// a row out of range (leaving `out` partly written).
void gather_rows_into(const Array& a, std::span<const int64_t> rows, Array& out);

struct Batch {
  Array x;
  std::optional<Array> y;
  int64_t size = 0;
};

// Batches of (x, y) — y optional — along axis 0.
class BatchIterator {
 public:
  // Iterates over rows [begin, end) of x and y (end -1: all rows), so a training/validation
  // split needs no copy. Throws ShapeError when x and y have different lengths, ValueError for
  // batch_size < 1 or a bad row range.
  BatchIterator(Array x, std::optional<Array> y, int64_t batch_size, bool shuffle = false,
                uint64_t seed = 0, bool drop_remainder = false, int64_t begin = 0,
                int64_t end = -1);
  // Over row numbers 0..rows-1 only, for arrays kept elsewhere (several inputs and labels that
  // share one row order): use batch_rows, then gather_rows_into each array. batch() and
  // batch_into() throw ValueError on such an iterator.
  BatchIterator(int64_t rows, int64_t batch_size, bool shuffle = false, uint64_t seed = 0,
                bool drop_remainder = false, int64_t begin = 0, int64_t end = -1);
  int64_t num_samples() const { return n_; }
  // Batches per epoch: ceil(n / batch_size), or floor with drop_remainder.
  int64_t num_batches() const;
  // Starts epoch `epoch` (a new permutation when shuffling; seed and epoch select it).
  void start_epoch(int epoch);
  // Batch i (0-based) of the current epoch; the last may be smaller than batch_size.
  Batch batch(int64_t i) const;
  // Batch i into `out`, reusing its arrays' storage (see gather_rows_into): the training loop's
  // form, which allocates nothing per batch once the first batch has been gathered.
  void batch_into(int64_t i, Batch& out) const;
  // The row numbers (of the whole arrays, begin included) of batch i, into `rows` (its capacity
  // reused).
  void batch_rows(int64_t i, std::vector<int64_t>& rows) const;

 private:
  void init(int64_t rows, int64_t begin, int64_t end);
  void need_arrays() const;

  Array x_;
  std::optional<Array> y_;
  bool has_x_ = true;  // false: an iterator over row numbers only
  int64_t n_ = 0, batch_size_, begin_ = 0;
  bool shuffle_, drop_remainder_;
  uint64_t seed_;
  std::vector<int64_t> order_;  // rows of x in epoch order (empty: begin_, begin_ + 1, ...)
};

}  // namespace soma::data
