// Printing follows numpy (the expected strings are numpy 1.2x's output for the same arrays, with
// soma's dtype names).
#include "frontend/script/array_format.h"

#include <gtest/gtest.h>

namespace soma::script {
namespace {

Array f32(Shape s, std::vector<float> v) {
  return Array::from_f32(std::move(s), v);
}

TEST(ArrayFormat, FloatsAlignLikeNumpy) {
  EXPECT_EQ(format_array_repr(f32({3}, {1, 2, 3})), "array([1., 2., 3.])");
  EXPECT_EQ(format_array_str(f32({3}, {1, 2, 3})), "[1. 2. 3.]");
  EXPECT_EQ(format_array_repr(f32({2}, {0.5f, 0.25f})), "array([0.5 , 0.25])");
  EXPECT_EQ(format_array_repr(f32({2, 2}, {1.5f, -2, 0.25f, 100})),
            "array([[  1.5 ,  -2.  ],\n       [  0.25, 100.  ]])");
  EXPECT_EQ(format_array_str(f32({2, 2}, {1, 2, 3, 4})), "[[1. 2.]\n [3. 4.]]");
  EXPECT_EQ(format_array_repr(f32({2}, {0.1f, 0.123456789f})), "array([0.1       , 0.12345679])");
}

TEST(ArrayFormat, ScientificForWideRanges) {
  EXPECT_EQ(format_array_repr(f32({2}, {1e-5f, 1})), "array([1.e-05, 1.e+00])");
  EXPECT_EQ(format_array_repr(f32({2}, {1.5e10f, 1})), "array([1.5e+10, 1.0e+00])");
  EXPECT_EQ(format_array_repr(f32({2}, {0.001f, 27.0f / 7})),
            "array([1.000000e-03, 3.857143e+00])");
  // Every mantissa gets the most digits any element needs.
  EXPECT_EQ(format_array_repr(f32({3}, {0, 27.0f / 7, 1.5e-5f})),
            "array([0.000000e+00, 3.857143e+00, 1.500000e-05])");
  // ... continuing with the value's exact digits, not zeros.
  EXPECT_EQ(format_array_repr(f32({3}, {1e-5f, 27.0f / 7, 0.12345678f})),
            "array([9.9999997e-06, 3.8571429e+00, 1.2345678e-01])");
}

TEST(ArrayFormat, NonFinite) {
  float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(format_array_repr(f32({3}, {nan, inf, -1})), "array([nan, inf, -1.])");
  EXPECT_EQ(format_array_repr(f32({2}, {nan, 1})), "array([nan,  1.])");
  EXPECT_EQ(format_array_repr(f32({2}, {-inf, 1})), "array([-inf,   1.])");
}

TEST(ArrayFormat, IntsBoolsAndDtypes) {
  EXPECT_EQ(format_array_repr(Array::from_i32({3}, std::vector<int32_t>{1, -20, 3})),
            "array([  1, -20,   3], dtype=i32)");
  const bool tf[] = {true, false};
  EXPECT_EQ(format_array_repr(Array::from_bool({2}, tf)), "array([ True, False])");
  EXPECT_EQ(format_array_repr(Array::from_f64({1}, std::vector<double>{0.1})),
            "array([0.1], dtype=f64)");
}

TEST(ArrayFormat, ZeroDAndEmpty) {
  EXPECT_EQ(format_array_repr(Array::scalar(DType::f32, 46)), "46.0");
  EXPECT_EQ(format_array_str(Array::scalar(DType::f32, 0.1f)), "0.1");
  EXPECT_EQ(format_array_str(Array::scalar(DType::i32, -3)), "-3");
  EXPECT_EQ(format_array_str(Array::scalar(DType::boolean, 1)), "True");
  EXPECT_EQ(format_array_repr(Array(DType::f32, Shape{0})), "array([])");
  EXPECT_EQ(format_array_repr(Array(DType::i32, Shape{0, 3})), "array([], shape=[0,3], dtype=i32)");
}

TEST(ArrayFormat, SummarizesLargeArrays) {
  std::vector<int32_t> v(2000);
  for (int i = 0; i < 2000; ++i) v[static_cast<size_t>(i)] = i;
  EXPECT_EQ(format_array_repr(Array::from_i32({2000}, v)),
            "array([   0,    1,    2, ..., 1997, 1998, 1999], dtype=i32)");
  EXPECT_EQ(format_array_str(Array::from_i32({2, 1000}, v)),
            "[[   0    1    2 ...  997  998  999]\n [1000 1001 1002 ... 1997 1998 1999]]");
  PrintOptions full = PrintOptions{}.full();
  EXPECT_EQ(format_array_str(Array::from_i32({2000}, v), full).find("..."), std::string::npos);
}

TEST(ArrayFormat, WrapsLongLines) {
  std::vector<float> v(30);
  for (int i = 0; i < 30; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i) + 0.5f;
  std::string s = format_array_repr(f32({30}, v));
  // numpy: 11 elements fit in 75 columns after "array(", the rest continue under the first.
  EXPECT_EQ(s.substr(0, s.find('\n')),
            "array([ 0.5,  1.5,  2.5,  3.5,  4.5,  5.5,  6.5,  7.5,  8.5,  9.5, 10.5,");
  EXPECT_EQ(s.substr(s.find('\n'), 12), "\n       11.5");
}

TEST(ArrayFormat, PrecisionAndFull) {
  PrintOptions p3;
  p3.precision = 3;
  EXPECT_EQ(format_array_repr(f32({2}, {3.14159265f, 2.71828f}), p3), "array([3.142, 2.718])");
  EXPECT_EQ(format_array_str(f32({1}, {3.14159265f}), PrintOptions{}.full()), "[3.1415927]");
  EXPECT_EQ(
      format_array_str(Array::from_f64({1}, std::vector<double>{0.1 + 0.2}), PrintOptions{}.full()),
      "[0.30000000000000004]");
}

TEST(PythonFloat, Repr) {
  EXPECT_EQ(python_float(1.0), "1.0");
  EXPECT_EQ(python_float(0.1), "0.1");
  EXPECT_EQ(python_float(1e-5), "1e-05");
  EXPECT_EQ(python_float(1.5e-7), "1.5e-07");
  EXPECT_EQ(python_float(1e16), "1e+16");
  EXPECT_EQ(python_float(123456789.0), "123456789.0");
  EXPECT_EQ(python_float(-2.5), "-2.5");
  EXPECT_EQ(python_float(0.0001), "0.0001");
  EXPECT_EQ(python_float(0.1f, DType::f32), "0.1");
  EXPECT_EQ(python_float(0.1f), "0.10000000149011612");
}

}  // namespace
}  // namespace soma::script
