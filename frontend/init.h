// Parameter initializers (Keras names), drawn from soma's counter-based generator.
#pragma once

#include <cstdint>
#include <string>

#include "graph/node.h"
#include "runtime/array.h"

namespace soma {

// zeros, ones, glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_normal,
// orthogonal (Keras's: orthonormal rows or columns of the [prod(shape[:-1]), shape[-1]] matrix,
// whichever are fewer), uniform (U[-0.05, 0.05]) and normal (N(0, 0.05)). Fans follow Keras: a [in,
// out] kernel has fan_in = in and fan_out = out; an OIHW kernel has fan_in = I*H*W and fan_out =
// O*H*W. Throws ValueError for an unknown name (listing the known ones).
Array initial_value(const std::string& init, const TensorType& type, uint64_t seed);

}  // namespace soma
