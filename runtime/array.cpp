#include "runtime/array.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

#include "graph/error.h"
#include "runtime/host_memory.h"

namespace soma {

namespace {
std::shared_ptr<std::byte[]> allocate(size_t nbytes, DType dtype, const Shape& shape) {
  AlignedBytes p =
      allocate_zeroed(nbytes, std::string("an array ") + dtype_name(dtype) + shape.str());
  AlignedFree free_it = p.get_deleter();
  return std::shared_ptr<std::byte[]>(p.release(), free_it);
}

int32_t to_i32(double v) {
  if (std::isnan(v)) return 0;
  if (v >= 2147483647.0) return 2147483647;
  if (v <= -2147483648.0) return static_cast<int32_t>(-2147483647 - 1);
  return static_cast<int32_t>(v);
}

// Rejects negative dimensions and shapes whose size in bytes (zeros counted as one, so that strides
// fit too) overflows int64.
void check_shape(const Shape& shape, DType dtype) {
  for (int64_t d : shape.dims())
    if (d < 0) SOMA_THROW(ShapeError, "array shape " << shape.str() << " has a negative dimension");
  int64_t span = static_cast<int64_t>(dtype_size(dtype));
  for (int64_t d : shape.dims())
    if (d > 0 && __builtin_mul_overflow(span, d, &span))
      SOMA_THROW(ShapeError, "array shape " << shape.str() << " is too large");
}
}  // namespace

Array::Array(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  check_shape(shape_, dtype_);
  data_ = allocate(nbytes(), dtype_, shape_);
}

Array Array::from_storage(DType dtype, Shape shape, std::shared_ptr<std::byte[]> data) {
  Array a(dtype, Shape{});
  check_shape(shape, dtype);
  SOMA_CHECK(data != nullptr || shape.numel() == 0) << "Array::from_storage: no storage";
  SOMA_CHECK(reinterpret_cast<uintptr_t>(data.get()) % 64 == 0)
      << "Array::from_storage: storage not 64-byte aligned";
  a.shape_ = std::move(shape);
  a.data_ = std::move(data);
  return a;
}

double Array::get(int64_t i) const {
  switch (dtype_) {
    case DType::f32:
      return data<float>()[i];
    case DType::f64:
      return data<double>()[i];
    case DType::i32:
      return data<int32_t>()[i];
    case DType::boolean:
      return data<uint8_t>()[i] ? 1.0 : 0.0;
  }
  return 0;
}

void Array::set(int64_t i, double v) {
  switch (dtype_) {
    case DType::f32:
      data<float>()[i] = static_cast<float>(v);
      break;
    case DType::f64:
      data<double>()[i] = v;
      break;
    case DType::i32:
      data<int32_t>()[i] = to_i32(v);
      break;
    case DType::boolean:
      data<uint8_t>()[i] = v != 0.0 ? 1 : 0;
      break;
  }
}

std::vector<double> Array::to_doubles() const {
  std::vector<double> out(static_cast<size_t>(numel()));
  for (int64_t i = 0; i < numel(); ++i) out[static_cast<size_t>(i)] = get(i);
  return out;
}

namespace {
template <typename T>
Array from_typed(DType dt, Shape shape, std::span<const T> values) {
  Array a(dt, std::move(shape));
  if (static_cast<int64_t>(values.size()) != a.numel())
    SOMA_THROW(ValueError, "array of shape " << a.shape().str() << " needs " << a.numel()
                                             << " values, got " << values.size());
  for (size_t i = 0; i < values.size(); ++i)
    a.set(static_cast<int64_t>(i), static_cast<double>(values[i]));
  return a;
}
}  // namespace

Array Array::from_f32(Shape s, std::span<const float> v) {
  return from_typed(DType::f32, std::move(s), v);
}
Array Array::from_f64(Shape s, std::span<const double> v) {
  return from_typed(DType::f64, std::move(s), v);
}
Array Array::from_i32(Shape s, std::span<const int32_t> v) {
  return from_typed(DType::i32, std::move(s), v);
}
Array Array::from_bool(Shape s, std::span<const bool> v) {
  return from_typed(DType::boolean, std::move(s), v);
}
Array Array::from_doubles(DType dt, Shape s, std::span<const double> v) {
  return from_typed(dt, std::move(s), v);
}

Array Array::scalar(DType dtype, double value) {
  Array a(dtype, Shape{});
  a.set(0, value);
  return a;
}

Array Array::clone() const {
  Array a(dtype_, shape_);
  if (nbytes()) std::memcpy(a.raw(), raw(), nbytes());
  return a;
}

Array Array::reshaped(Shape shape) const {
  check_shape(shape, dtype_);
  if (shape.numel() != numel())
    SOMA_THROW(ShapeError, "cannot reshape array " << type_str() << " to " << shape.str());
  Array a = *this;
  a.shape_ = std::move(shape);
  return a;
}

std::string Array::type_str() const {
  return std::string(dtype_name(dtype_)) + shape_.str();
}

}  // namespace soma
