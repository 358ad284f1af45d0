// Nodes of the tensor graph: an op, a type (dtype + static shape), inputs and attributes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graph/attrs.h"
#include "graph/dtype.h"
#include "graph/op.h"
#include "graph/shape.h"

namespace soma {

using NodeId = int32_t;

struct TensorType {
  DType dtype = DType::f32;
  Shape shape;
  bool operator==(const TensorType& o) const { return dtype == o.dtype && shape == o.shape; }
  bool operator!=(const TensorType& o) const { return !(*this == o); }
  std::string str() const { return std::string(dtype_name(dtype)) + shape.str(); }  // f32[2,3]
};

struct Node {
  Op op;
  TensorType type;
  std::vector<NodeId> inputs;
  Attrs attrs;

  DType dtype() const { return type.dtype; }
  const Shape& shape() const { return type.shape; }
};

}  // namespace soma
