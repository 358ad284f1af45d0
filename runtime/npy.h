// numpy's .npy format (versions 1.0, 2.0 and 3.0 read; 1.0 written, 2.0 when the header needs it),
// C order. Written: f32, f64, i32 and bool, little-endian. Read: every numeric dtype people save
// (float16/32/64, int8..int64, uint8..uint64, bool) in either byte order, converted to soma's
// types by the rules in npy_dtype.h (an integer that does not fit in i32 is an error, never
// wrapped). Anything else (Fortran order, complex, strings, objects, a truncated file, a wrong
// magic) is rejected with an IOError naming the file and what is wrong.
#pragma once

#include <string>
#include <string_view>

#include "runtime/array.h"

namespace soma {

Array load_npy(const std::string& path);
// The array of a .npy file mapped into memory instead of read (numpy's mmap_mode): its pages are
// read from the file as they are touched and can be dropped again, so arrays larger than memory
// can be fed to fit batch by batch. Copy-on-write: writes change the Array, never the file.
// Only the types soma stores as they are (float32, float64, int32, bool; little-endian, data
// 64-byte aligned, as numpy writes it) can be mapped; others are an IOError naming load_npy.
Array map_npy(const std::string& path);
// Parses .npy bytes; `what` names the source in error messages.
Array parse_npy(std::string_view bytes, const std::string& what);
// Writes atomically: a temporary file in the same folder, then rename.
void save_npy(const std::string& path, const Array& a);
std::string serialize_npy(const Array& a);

}  // namespace soma
