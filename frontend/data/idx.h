// The IDX file format of (Fashion-)MNIST: a big-endian header (two zero bytes, an element type
// code, the rank), the rank's sizes as big-endian u32, then the elements in C order. Files may be
// gzip-compressed (read through zlib; uncompressed files are read as they are).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/array.h"

namespace soma::data {

enum class IdxType : uint8_t {
  u8 = 0x08,
  i8 = 0x09,
  i16 = 0x0B,
  i32 = 0x0C,
  f32 = 0x0D,
  f64 = 0x0E
};

struct IdxFile {
  IdxType type = IdxType::u8;
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;  // the elements as stored (big-endian for multi-byte types)
  int64_t numel() const;
};

// Reads the (decompressed) file, or only its first max_bytes bytes when max_bytes >= 0; throws
// IOError naming the file when it cannot be opened or is not valid gzip.
std::string read_maybe_gzip(const std::string& path, int64_t max_bytes = -1);
// Parses IDX bytes; rejects (IOError naming `what`) a bad magic, an unknown type, a rank of 0 or
// above 6, sizes whose product overflows, a truncated body or trailing bytes.
IdxFile parse_idx(std::string_view bytes, const std::string& what);
// max_rows >= 0: only the first max_rows entries of the first axis are read (and decompressed),
// e.g. a subset of a dataset's images.
IdxFile read_idx(const std::string& path, int64_t max_rows = -1);
// The elements converted to an Array of `dtype` (u8/i8/i16/i32 -> i32 or f32 or f64, f32/f64 ->
// f32/f64), multiplied by `scale` (e.g. 1/255 to normalize pixels to [0, 1]) for float dtypes.
Array idx_to_array(const IdxFile& file, DType dtype, double scale = 1.0);

}  // namespace soma::data
