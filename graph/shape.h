// Static tensor shapes (rank 0 to kMaxRank), row-major strides, and numpy broadcasting.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

namespace soma {

constexpr int kMaxRank = 6;

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) : dims_(dims) {}
  explicit Shape(std::vector<int64_t> dims) : dims_(std::move(dims)) {}

  int rank() const { return static_cast<int>(dims_.size()); }
  int64_t operator[](int i) const { return dims_[static_cast<size_t>(i)]; }
  int64_t& operator[](int i) { return dims_[static_cast<size_t>(i)]; }
  const std::vector<int64_t>& dims() const { return dims_; }
  std::vector<int64_t>& dims() { return dims_; }
  int64_t numel() const;
  // Row-major (C order) strides in elements.
  std::vector<int64_t> strides() const;

  bool operator==(const Shape& o) const { return dims_ == o.dims_; }
  bool operator!=(const Shape& o) const { return dims_ != o.dims_; }

  // "[2,3]"; a scalar prints as "[]".
  std::string str() const;

 private:
  std::vector<int64_t> dims_;
};

// numpy broadcasting: align from the right; sizes must be equal or one of them 1.
// Returns nullopt when the shapes are incompatible.
std::optional<Shape> broadcast_shapes(const Shape& a, const Shape& b);

// Normalizes a possibly negative axis for a tensor of rank `rank`; nullopt when out of range.
std::optional<int> normalize_axis(int64_t axis, int rank);

}  // namespace soma
