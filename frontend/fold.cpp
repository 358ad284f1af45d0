#include "frontend/fold.h"

#include "backends/interp/interp.h"
#include "graph/error.h"

namespace soma {

FoldFn make_interp_fold_fn() {
  return [](const Node& node, const std::vector<std::vector<double>>& input_values,
            const std::vector<TensorType>& input_types) -> std::optional<std::vector<double>> {
    std::vector<Array> arrays;
    arrays.reserve(input_values.size());
    for (size_t i = 0; i < input_values.size(); ++i) {
      const TensorType& t = input_types[i];
      const std::vector<double>& v = input_values[i];
      if (v.size() == 1 && t.shape.numel() != 1) {  // a splat
        std::vector<double> full(static_cast<size_t>(t.shape.numel()), v[0]);
        arrays.push_back(Array::from_doubles(t.dtype, t.shape, full));
      } else {
        arrays.push_back(Array::from_doubles(t.dtype, t.shape, v));
      }
    }
    std::vector<const Array*> ptrs;
    for (const Array& a : arrays) ptrs.push_back(&a);
    try {
      return eval_node(node, ptrs).to_doubles();
    } catch (const Error&) {
      return std::nullopt;
    }
  };
}

}  // namespace soma
