// numpy dtype descriptors ('<f4', '>i8', '|u1', ...) as the .npy reader meets them, and the rules
// that turn each into one of soma's types:
//
//   float32, float16          -> f32 (float16 is exact in f32)
//   float64                   -> f64
//   int8/16/32, uint8/16      -> i32 (exact)
//   int64, uint32, uint64     -> i32 when every value fits; an IOError names the first that does
//                                not (soma's integers are 32-bit)
//   bool                      -> bool (bytes 0 or 1)
//
// in either byte order ('<', '>', '=' native little-endian, '|' for one-byte types).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "runtime/array.h"

namespace soma::npy {

struct SourceType {
  char kind = 'f';  // 'f' float, 'i' signed, 'u' unsigned, 'b' bool
  int size = 4;     // bytes per element
  bool big_endian = false;
};

// The descriptor's type, or nullopt when soma cannot read it.
std::optional<SourceType> parse_descr(std::string_view descr);
// soma's type for it (see the table above).
DType soma_dtype(const SourceType& t);
// numpy's name for a type code ("u1" -> "uint8"), or "" when unknown.
std::string numpy_type_name(std::string_view code);
// Converts `data` (exactly out.numel() elements of type t) into `out`, whose dtype is
// soma_dtype(t). Throws IOError prefixed by `what` for a value that does not fit or a bool byte
// other than 0 or 1.
void convert(const SourceType& t, std::string_view data, Array& out, const std::string& what);

}  // namespace soma::npy
