// Shape and dtype rules: one per op. Each rule checks its inputs and attributes and returns the
// output type, or throws ShapeError / TypeError / ValueError naming the op, the types and the rule.
#pragma once

#include <optional>
#include <vector>

#include "graph/attrs.h"
#include "graph/node.h"

namespace soma {

TensorType infer_type(Op op, const std::vector<const TensorType*>& inputs, const Attrs& attrs,
                      const std::optional<TensorType>& declared);

// The output spatial size of a window of `kernel` taps with `stride`, `dilation` and padding
// over `size` elements; may be <= 0 when the window does not fit.
int64_t window_out_size(int64_t size, int64_t kernel, int64_t stride, int64_t dilation,
                        int64_t pad_lo, int64_t pad_hi);

}  // namespace soma
