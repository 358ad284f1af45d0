// A canonical byte string of everything in a kir::Program that the generated code depends on:
// the in-process memo uses it as the key, the disk cache a digest of it. Names, constant data,
// outputs and updates are bound at run time and left out (so are buffer shapes beyond their
// element count and dtype).
#pragma once

#include <string>

#include "graph/kernel_ir.h"

namespace soma::jit {

std::string codegen_key(const kir::Program& program);

}  // namespace soma::jit
