// The LLVM backend: kernel IR JIT-compiled to native, vectorized, multithreaded CPU code.
//
// compile() needs the lowered program (CompileRequest::program). The executable binds parameter
// buffers to the ParamStore's storage (updates are written in place), feeds without copying,
// temporaries to one arena allocated once per executable, and returns fresh output arrays.
// Kernels run in program order; each splits its task domain over the process's thread pool
// (runtime/thread_pool.h) when it is large enough. See backends/llvm/jit.h for the compiler and
// its caches.
#pragma once

#include <memory>
#include <string>

#include "backends/backend.h"

namespace soma {

std::unique_ptr<Backend> make_llvm_backend();

// The optimized LLVM IR / host assembly of a program, as the llvm backend compiles it
// (the tool's `emit llvm` / `emit asm`).
std::string emit_llvm_ir(const kir::Program& program, const CompileOptions& options);
std::string emit_asm(const kir::Program& program, const CompileOptions& options);

}  // namespace soma
