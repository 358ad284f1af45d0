// Merge layers: combine the outputs of several branches of a functional model (functional.h).
// They take a list of tensors, as in Keras:
//
//   auto merged = (*std::make_shared<nn::Concatenate>())({a, b});   // [N, 4] + [N, 6] -> [N, 10]
//
// Concatenate joins along `axis` (the last by default; not the batch axis); the elementwise ones
// (Add, Subtract, Multiply, Average, Maximum, Minimum) need inputs of one per-sample shape.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "frontend/nn/layer.h"

namespace soma::nn {

// The shared part: list inputs, float checks; a single tensor is an error.
class MergeLayer : public Layer {
 public:
  bool takes_list() const override { return true; }
  // One tensor is not a list: throws ValueError.
  Tensor call(const Tensor& x, CallContext& ctx) override;

 protected:
  explicit MergeLayer(std::string name) : Layer(std::move(name)) {}
  void build_weights(const TensorType& input, uint64_t seed) override;
};

class Concatenate : public MergeLayer {
 public:
  explicit Concatenate(int64_t axis = -1, std::string name = "");
  std::string class_name() const override { return "Concatenate"; }
  LayerConfig config() const override;

 protected:
  void build_weights_list(const std::vector<TensorType>& inputs, uint64_t seed) override;
  Tensor call_list_impl(const std::vector<Tensor>& xs, CallContext& ctx) override;

 private:
  int64_t axis_;
};

// One class per elementwise combination; Subtract takes exactly two inputs (a - b).
class ElementwiseMerge : public MergeLayer {
 public:
  // op: "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum" (the class name).
  ElementwiseMerge(std::string op, std::string name);
  std::string class_name() const override { return op_; }

 protected:
  void build_weights_list(const std::vector<TensorType>& inputs, uint64_t seed) override;
  Tensor call_list_impl(const std::vector<Tensor>& xs, CallContext& ctx) override;

 private:
  std::string op_;
};

class Add : public ElementwiseMerge {
 public:
  explicit Add(std::string name = "") : ElementwiseMerge("Add", std::move(name)) {}
};
class Subtract : public ElementwiseMerge {
 public:
  explicit Subtract(std::string name = "") : ElementwiseMerge("Subtract", std::move(name)) {}
};
class Multiply : public ElementwiseMerge {
 public:
  explicit Multiply(std::string name = "") : ElementwiseMerge("Multiply", std::move(name)) {}
};
class Average : public ElementwiseMerge {
 public:
  explicit Average(std::string name = "") : ElementwiseMerge("Average", std::move(name)) {}
};
class Maximum : public ElementwiseMerge {
 public:
  explicit Maximum(std::string name = "") : ElementwiseMerge("Maximum", std::move(name)) {}
};
class Minimum : public ElementwiseMerge {
 public:
  explicit Minimum(std::string name = "") : ElementwiseMerge("Minimum", std::move(name)) {}
};

}  // namespace soma::nn
