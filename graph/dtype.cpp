#include "graph/dtype.h"

namespace soma {

std::optional<DType> parse_dtype(std::string_view name) {
  if (name == "f32" || name == "float32" || name == "float") return DType::f32;
  if (name == "f64" || name == "float64" || name == "double") return DType::f64;
  if (name == "i32" || name == "int32" || name == "int") return DType::i32;
  if (name == "bool") return DType::boolean;
  return std::nullopt;
}

}  // namespace soma
