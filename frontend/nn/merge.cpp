#include "frontend/nn/merge.h"

#include <sstream>

#include "frontend/nn/config_util.h"
#include "frontend/nn/layer_registry.h"

namespace soma::nn {

using namespace detail;

namespace {

// "(None, 4)" for a batch type [N, 4].
std::string per_sample(const TensorType& t) {
  std::ostringstream os;
  os << "(None";
  for (int i = 1; i < t.shape.rank(); ++i) os << ", " << t.shape[i];
  os << ")";
  return os.str();
}

std::string list_str(const std::vector<TensorType>& ts) {
  std::string s;
  for (const TensorType& t : ts) s += (s.empty() ? "" : ", ") + per_sample(t);
  return "[" + s + "]";
}

void need_two(const std::vector<TensorType>& inputs, const std::string& cls,
              const std::string& name) {
  if (inputs.size() < 2)
    SOMA_THROW(ValueError, cls << " layer '" << name << "' needs a list of at least 2 inputs, got "
                               << inputs.size());
  for (const TensorType& t : inputs)
    if (t.dtype != inputs[0].dtype)
      SOMA_THROW(TypeError, cls << " layer '" << name << "' needs inputs of one dtype, got "
                                << inputs[0].str() << " and " << t.str());
}

}  // namespace

Tensor MergeLayer::call(const Tensor&, CallContext&) {
  SOMA_THROW(ValueError,
             class_name() << " layer '" << name() << "' takes a list of tensors, not one tensor");
}

void MergeLayer::build_weights(const TensorType& input, uint64_t) {
  SOMA_THROW(ValueError, class_name() << " layer '" << name()
                                      << "' merges a list of tensors and cannot follow one layer "
                                         "in a Sequential model (got one input "
                                      << per_sample(input) << "); use it in a functional model: "
                                      << class_name() << "()([a, b])");
}

// ---- Concatenate --------------------------------------------------------------------------------

Concatenate::Concatenate(int64_t axis, std::string name) : MergeLayer(name), axis_(axis) {
  if (axis == 0)
    SOMA_THROW(ValueError,
               "Concatenate: axis 0 is the batch axis; use a feature axis (-1 is the "
               "last)");
  if (!name.empty()) set_name(name);
}

LayerConfig Concatenate::config() const {
  LayerConfig c = Layer::config();
  c["axis"] = fmt_int(axis_);
  return c;
}

void Concatenate::build_weights_list(const std::vector<TensorType>& inputs, uint64_t) {
  need_two(inputs, "Concatenate", name());
  int rank = inputs[0].shape.rank();
  auto a = normalize_axis(axis_, rank);
  bool ok = a && *a > 0;
  for (const TensorType& t : inputs) {
    if (!ok || t.shape.rank() != rank) {
      ok = false;
      break;
    }
    for (int i = 1; i < rank; ++i)
      if (i != *a && t.shape[i] != inputs[0].shape[i]) ok = false;
  }
  if (!ok)
    SOMA_THROW(ShapeError, "Concatenate layer '"
                               << name() << "' (axis " << axis_
                               << ") needs inputs whose shapes match except along that axis, got "
                               << list_str(inputs));
}

Tensor Concatenate::call_list_impl(const std::vector<Tensor>& xs, CallContext& ctx) {
  ctx.logits = Tensor();
  return concat(xs, axis_);
}

// ---- elementwise merges -------------------------------------------------------------------------

ElementwiseMerge::ElementwiseMerge(std::string op, std::string name)
    : MergeLayer(name), op_(std::move(op)) {
  if (!name.empty()) set_name(name);
}

void ElementwiseMerge::build_weights_list(const std::vector<TensorType>& inputs, uint64_t) {
  need_two(inputs, op_, name());
  if (op_ == "Subtract" && inputs.size() != 2)
    SOMA_THROW(ValueError,
               "Subtract layer '" << name() << "' needs exactly 2 inputs, got " << inputs.size());
  if (op_ == "Average" && !is_float(inputs[0].dtype))
    SOMA_THROW(TypeError,
               "Average layer '" << name() << "' needs float inputs, got " << inputs[0].str());
  for (const TensorType& t : inputs)
    if (t.shape.rank() != inputs[0].shape.rank() || per_sample(t) != per_sample(inputs[0]))
      SOMA_THROW(ShapeError, op_ << " layer '" << name() << "' needs inputs of one shape, got "
                                 << list_str(inputs));
}

Tensor ElementwiseMerge::call_list_impl(const std::vector<Tensor>& xs, CallContext& ctx) {
  ctx.logits = Tensor();
  if (op_ == "Subtract") return xs[0] - xs[1];
  Tensor y = xs[0];
  for (size_t i = 1; i < xs.size(); ++i) {
    if (op_ == "Add" || op_ == "Average")
      y = y + xs[i];
    else if (op_ == "Multiply")
      y = y * xs[i];
    else if (op_ == "Maximum")
      y = maximum(y, xs[i]);
    else
      y = minimum(y, xs[i]);
  }
  if (op_ == "Average") y = y / static_cast<double>(xs.size());
  return y;
}

// ---- from config --------------------------------------------------------------------------------

namespace detail {

void add_merge_layers(std::vector<LayerKind>& kinds) {
  kinds.push_back(
      {"Concatenate", {}, "", [](const std::string& cls, const LayerConfig& c) -> LayerPtr {
         cfg_check_keys(c, cls, {"axis"});
         return std::make_shared<Concatenate>(cfg_int(c, cls, "axis", -1), cfg_str(c, "name", ""));
       }});
  for (const char* op : {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"})
    kinds.push_back({op, {}, "", [](const std::string& cls, const LayerConfig& c) -> LayerPtr {
                       cfg_check_keys(c, cls, {});
                       return std::make_shared<ElementwiseMerge>(cls, cfg_str(c, "name", ""));
                     }});
}

}  // namespace detail

}  // namespace soma::nn
