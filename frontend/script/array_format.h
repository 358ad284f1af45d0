// Printing arrays the way numpy does: str() as `[[1. 2.]\n [3. 4.]]`, repr() as
// `array([[1., 2.],\n       [3., 4.]])`, with numpy's rules for float digits (at most
// `precision` fractional digits, as few as represent each value uniquely, aligned), scientific
// notation for very large or small magnitudes, summarization with '...' above `threshold`
// elements, and line wrapping at `linewidth`. Python's repr for scalars (1.0, 1e-05, True).
#pragma once

#include <cstdint>
#include <string>

#include "runtime/array.h"

namespace soma::script {

struct PrintOptions {
  int precision = 8;         // fractional digits at most (numpy's default)
  int64_t threshold = 1000;  // summarize arrays with more elements than this
  int edgeitems = 3;         // items shown at each end of a summarized axis
  int linewidth = 75;
  // Every element, with as many digits as it takes to read back the same value.
  PrintOptions full() const {
    PrintOptions o = *this;
    o.precision = 17;
    o.threshold = INT64_MAX;
    return o;
  }
};

// numpy's str(a): "[1. 2. 3.]"; a 0-d array prints its element alone.
std::string format_array_str(const Array& a, const PrintOptions& o = {});
// numpy's repr(a) with soma's dtype names: "array([1., 2., 3.])", "array([1, 2], dtype=i32)".
// The dtype is shown except for f32 and bool; a 0-d array prints its element alone.
std::string format_array_repr(const Array& a, const PrintOptions& o = {});

// Python's repr of a float: shortest round-trip digits, "1.0", "0.1", "1e-05", "1e+16", "inf"
// (with t = f32: the shortest digits that read back as the same float32).
std::string python_float(double v, DType t = DType::f64);

}  // namespace soma::script
