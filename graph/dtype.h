// Element types of tensors. Promotion order: bool < i32 < f32 < f64.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace soma {

enum class DType : uint8_t { f32, f64, i32, boolean };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32:
      return 4;
    case DType::f64:
      return 8;
    case DType::i32:
      return 4;
    case DType::boolean:
      return 1;
  }
  return 0;
}

constexpr const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32:
      return "f32";
    case DType::f64:
      return "f64";
    case DType::i32:
      return "i32";
    case DType::boolean:
      return "bool";
  }
  return "?";
}

constexpr bool is_float(DType t) {
  return t == DType::f32 || t == DType::f64;
}

// Accepts soma's names (f32, f64, i32, bool) and numpy's (float32, float64, int32).
std::optional<DType> parse_dtype(std::string_view name);

// The rank used for promotion: bool 0, i32 1, f32 2, f64 3.
constexpr int dtype_rank(DType t) {
  switch (t) {
    case DType::boolean:
      return 0;
    case DType::i32:
      return 1;
    case DType::f32:
      return 2;
    case DType::f64:
      return 3;
  }
  return 0;
}

constexpr DType promote(DType a, DType b) {
  return dtype_rank(a) >= dtype_rank(b) ? a : b;
}

}  // namespace soma
