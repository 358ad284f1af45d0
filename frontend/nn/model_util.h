// Internal helpers of the model files (model.cpp, training.cpp, model_io.cpp, sequential.cpp,
// functional.cpp): shapes with and without the batch axis, Keras's shape text and layer names.
#pragma once

#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "frontend/nn/layer.h"

namespace soma::nn::detail {

// The dims of `s` without its first (batch) axis.
std::vector<int64_t> sample_dims(const Shape& s);
// [batch] + per_sample.
Shape with_batch(int64_t batch, const Shape& per_sample);
// "(None, 28, 28)"
std::string keras_shape(const Shape& per_sample);
// "12,345"
std::string with_commas(int64_t v);
// Keras's default name of a layer class: "dense", "conv2d", "max_pooling2d", "simple_rnn", ...
std::string default_layer_name(const std::string& cls);
// "f32[28,28]" -> the type (nullopt for bad text).
std::optional<TensorType> parse_type(const std::string& s);
// The text form of a model's architecture (what Model::save writes): a header line
// "CLASS NAME key=value ...", then one entry per line. Errors are ValueErrors naming the line.
class ArchitectureReader {
 public:
  // Reads the header; throws unless it names `cls`.
  ArchitectureReader(const std::string& text, const std::string& cls);
  const std::string& name() const { return name_; }
  // The header's key=value settings, in order.
  const std::vector<std::pair<std::string, std::string>>& settings() const { return settings_; }
  // The next non-empty line into `line`; false at the end.
  bool next(std::istringstream& line);
  // The rest of `line` as key=value items.
  LayerConfig config(std::istream& line) const;
  [[noreturn]] void fail(const std::string& why) const;

 private:
  std::istringstream in_;
  int line_no_ = 0;
  std::string name_;
  std::vector<std::pair<std::string, std::string>> settings_;
};
// `a` converted to dtype `to` (the same array when it already has it).
Array convert(const Array& a, DType to);
// Builds `layer` if needed and calls it on `xs` (a list call for list-taking layers), adding the
// layer's name and input shapes to a ShapeError, TypeError or ValueError that does not name it.
Tensor build_and_call(Layer& layer, const std::vector<Tensor>& xs, bool list_call, uint64_t seed,
                      CallContext& cc);

}  // namespace soma::nn::detail
