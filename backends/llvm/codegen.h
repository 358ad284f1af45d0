// Kernel IR -> LLVM IR: one module per program, one function per kernel (the ABI is described
// in backends/llvm/jit.h). Internal to the LLVM backend: only forward declarations of LLVM types.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/llvm/jit.h"
#include "graph/kernel_ir.h"

namespace llvm {
class LLVMContext;
class Module;
}  // namespace llvm

namespace soma::jit {

struct CodegenTarget {
  std::string triple;
  std::string data_layout;
  std::string cpu;
  std::string features;   // "+avx2,+avx512f,..."
  int vector_bits = 128;  // the widest vector register the code may use (512 with AVX-512)
  bool fast_math = false;
  int parallelism = 1;  // threads the kernels will usually run on (sizes the GEMM's task grid)
};

// The symbol of kernel `index` (named `name`) of a program.
std::string symbol_for(size_t index, const std::string& name);

// Builds the module; fills `info` with one entry per kernel. Throws BackendError for IR it
// cannot compile.
std::unique_ptr<llvm::Module> generate_module(const kir::Program& program,
                                              const CodegenTarget& target,
                                              llvm::LLVMContext& context,
                                              std::vector<KernelInfo>& info);
// The same for some of the program's kernels (indices into program.kernels; their symbols are
// those of the whole program's module): `info` holds one entry per listed kernel, in order.
std::unique_ptr<llvm::Module> generate_module(const kir::Program& program,
                                              const std::vector<size_t>& kernels,
                                              const CodegenTarget& target,
                                              llvm::LLVMContext& context,
                                              std::vector<KernelInfo>& info);

}  // namespace soma::jit
