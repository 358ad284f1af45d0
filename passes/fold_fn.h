// FoldFn: how graph passes evaluate a node whose inputs are all constants (constant folding).
//
// Passes include only graph/, so they cannot run the interpreter themselves; the frontend hands
// them a FoldFn that wraps it (frontend/fold.h), so that a folded constant is exactly the value
// the node would have computed. A pass without a FoldFn (an empty std::function) folds nothing.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "graph/node.h"

namespace soma {

// Evaluates `node` on constant inputs. input_values[i] holds input i's values in C order, or a
// single value that fills the whole input (a splat); input_types[i] is input i's type. Returns the
// node's values in C order (node.type.shape.numel() of them, or one for a splat result), exactly
// as the interpreter computes them, or nullopt to decline.
using FoldFn = std::function<std::optional<std::vector<double>>(
    const Node& node, const std::vector<std::vector<double>>& input_values,
    const std::vector<TensorType>& input_types)>;

}  // namespace soma
