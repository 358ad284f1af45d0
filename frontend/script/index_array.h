// numpy's basic indexing of an array value, on the host: what `a[i]`, `a[1:3, ..., None]` give
// when `a` is an array (a copy, no graph, no compiled program).
#pragma once

#include <vector>

#include "frontend/script/source.h"
#include "frontend/tensor.h"
#include "runtime/array.h"

namespace soma::script {

// Ints drop their axis, slices keep it, None adds one, ... stands for the axes not named. Throws
// ScriptError at `loc` for an index out of range, too many indices or two ellipses.
Array index_array(const Array& a, const std::vector<Index>& items, const Location& loc);

}  // namespace soma::script
