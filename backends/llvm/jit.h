// The LLVM backend's compiler: kernel IR -> LLVM IR (codegen.cpp) -> O3 for the host CPU -> ORC
// LLJIT, with an in-process memo and an on-disk object cache. No LLVM types appear here, so the
// executable and the tests can include it cheaply.
//
// Kernel ABI: every kernel is one function
//   void kernel(void* const* buffers, int64_t begin, int64_t end, void* scratch)
// where buffers[b] is the base address of program buffer b, [begin, end) is a chunk of the
// kernel's task domain (the flattened parallel domain; for a contraction, its output tiles), and
// scratch is private memory of KernelInfo::scratch_bytes for the calling thread. Chunks of one
// kernel may run concurrently on different threads (never for a sequential kernel).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "graph/kernel_ir.h"
#include "runtime/host_memory.h"
#include "runtime/kernel_profile.h"

namespace soma::jit {

// `buffers`: one pointer per program buffer (by id), then one per rand expression of the program
// pointing at its int64 seed (kir::rand_seeds order): seeds are read at run time, so programs
// that differ only in their seeds share compiled code.
using KernelFn = void (*)(void* const* buffers, int64_t begin, int64_t end, void* scratch);

// What the executable needs to launch one kernel (computed by codegen, no LLVM types).
struct KernelInfo {
  std::string symbol;         // the function's name in the module
  int64_t tasks = 0;          // the task domain is [0, tasks)
  int64_t cost_per_task = 1;  // a rough count of operations per task (for the parallel split)
  int64_t grain = 1;          // chunks preferably start at multiples of this
  int64_t scratch_bytes = 0;  // per-thread scratch memory
  bool sequential = false;    // run [0, tasks) in order on one thread
};

struct CompiledKernel {
  KernelFn fn = nullptr;
  KernelInfo info;
};

// Native code for one program; shared by every executable compiled from an identical program.
class CompiledProgram {
 public:
  std::vector<CompiledKernel> kernels;  // one per program kernel, in order
  std::string key;                      // hex digest of program + target
  std::string cache_file;               // its (first part's) disk cache entry's file name
  std::shared_ptr<void> jit_resources;  // releases the program's JIT code when the last user goes
};

// Runs compiled kernels on the process's thread pool: a kernel with little work (or a sequential
// one) runs inline on the calling thread; a larger one is split into chunks of its task domain
// (aligned to KernelInfo::grain) that up to `threads` participants claim. Owns each
// participant's scratch memory. One launcher serves one caller at a time.
class Launcher {
 public:
  // threads <= 0: the pool's size.
  explicit Launcher(int threads = 0);
  ~Launcher();
  Launcher(const Launcher&) = delete;
  Launcher& operator=(const Launcher&) = delete;
  void run(const CompiledKernel& kernel, void* const* buffers);
  // Runs every kernel in order; with a profile, times each one into it.
  void run_all(const CompiledProgram& program, void* const* buffers,
               profile::ProgramProfile* prof = nullptr);
  int threads() const { return threads_; }

 private:
  void* scratch(int participant, int64_t bytes);
  int threads_;
  struct Scratch {
    AlignedBytes data;
    int64_t bytes = 0;
  };
  std::vector<Scratch> scratch_;
};

// Compiles (or finds in the memo / disk cache) the native code of `program`. Throws BackendError
// when LLVM cannot compile it (e.g. an op the code generator does not know).
std::shared_ptr<const CompiledProgram> compile_program(const kir::Program& program,
                                                       const CompileOptions& options);

// The optimized LLVM IR and the host assembly of `program` (what `soma emit llvm|asm` shows).
std::string emit_llvm_ir(const kir::Program& program, const CompileOptions& options);
std::string emit_asm(const kir::Program& program, const CompileOptions& options);

// Counters since process start (or the last reset_stats()).
struct JitStats {
  int64_t compiles = 0;      // programs compiled by LLVM (some part not found in any cache)
  int64_t memory_hits = 0;   // compile_program calls answered by the in-process memo
  int64_t disk_hits = 0;     // programs loaded from the disk cache (every part)
  int64_t disk_misses = 0;   // disk cache lookups that found no entry
  int64_t disk_rejects = 0;  // entries found but corrupt or mismatched (ignored, rebuilt)
  int64_t disk_writes = 0;   // entries written
};
JitStats jit_stats();
void reset_jit_stats();
// Forgets the in-process memo (programs still in use stay alive), so that the next compile of a
// known program goes to the disk cache as a fresh process would.
void clear_memory_cache();
// Programs in the in-process memo (at most 64: the least recently used are dropped).
size_t memory_cache_size();
// The disk cache folder: cache_dir("llvm") of runtime/disk_cache.h; empty when disabled
// ($SOMA_DISK_CACHE=0) or no folder can be determined. Read at each compile.
std::string disk_cache_dir();
// The host CPU name and whether it has AVX-512 (what the code is compiled for).
std::string host_cpu_name();
bool host_has_avx512();

}  // namespace soma::jit
