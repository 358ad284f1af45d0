// Array: an owning, typed, shaped host tensor in C order. Copies share storage (like numpy views
// of one buffer); clone() makes an independent copy. Storage is 64-byte aligned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "graph/dtype.h"
#include "graph/shape.h"

namespace soma {

class Array {
 public:
  Array() : Array(DType::f32, Shape{}) {}
  // Zero-filled.
  Array(DType dtype, Shape shape);

  static Array from_f32(Shape shape, std::span<const float> values);
  static Array from_f64(Shape shape, std::span<const double> values);
  static Array from_i32(Shape shape, std::span<const int32_t> values);
  static Array from_bool(Shape shape, std::span<const bool> values);
  // Converts each double to dtype (rounding to f32, truncating toward zero for i32, != 0 for bool).
  static Array from_doubles(DType dtype, Shape shape, std::span<const double> values);
  static Array scalar(DType dtype, double value);
  // An array over storage the caller provides (at least the array's bytes, 64-byte aligned), e.g.
  // a mapped file; the shared_ptr's owner releases it when the last copy is gone.
  static Array from_storage(DType dtype, Shape shape, std::shared_ptr<std::byte[]> data);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t numel() const { return shape_.numel(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

  void* raw() { return data_.get(); }
  const void* raw() const { return data_.get(); }
  template <typename T>
  T* data() {
    return reinterpret_cast<T*>(data_.get());
  }
  template <typename T>
  const T* data() const {
    return reinterpret_cast<const T*>(data_.get());
  }

  // Element i (flat, C order) as a double, and set from a double (converted as in from_doubles).
  double get(int64_t i) const;
  void set(int64_t i, double v);
  std::vector<double> to_doubles() const;

  Array clone() const;
  // Same data, another shape of the same element count (shares storage).
  Array reshaped(Shape shape) const;
  bool shares_storage(const Array& o) const { return data_ == o.data_; }

  // "f32[2,3]"
  std::string type_str() const;

 private:
  DType dtype_;
  Shape shape_;
  std::shared_ptr<std::byte[]> data_;
};

}  // namespace soma
