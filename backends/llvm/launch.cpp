// jit::Launcher: how compiled kernels are split over the thread pool. No LLVM headers here.

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>

#include "backends/llvm/jit.h"
#include "runtime/host_memory.h"
#include "runtime/thread_pool.h"

namespace soma::jit {

namespace {
// Below this many estimated operations a kernel runs inline on the calling thread (waking a
// parked worker costs microseconds); above it, chunks carry at least kChunkWork operations.
constexpr int64_t kMinParallelWork = 1 << 17;
constexpr int64_t kChunkWork = 1 << 15;
}  // namespace

Launcher::Launcher(int threads) : threads_(threads > 0 ? threads : ThreadPool::global().size()) {}

Launcher::~Launcher() = default;

void* Launcher::scratch(int participant, int64_t bytes) {
  if (bytes <= 0) return nullptr;
  size_t p = static_cast<size_t>(participant);
  if (scratch_.size() <= p) scratch_.resize(p + 1);
  Scratch& s = scratch_[p];
  if (s.bytes < bytes) {
    s.data.reset();
    s.bytes = 0;
    size_t n = static_cast<size_t>((bytes + 63) / 64 * 64);
    s.data = allocate_zeroed(n, "a kernel's scratch (packed GEMM panels)");
    s.bytes = static_cast<int64_t>(n);
  }
  return s.data.get();
}

void Launcher::run(const CompiledKernel& k, void* const* buffers) {
  const int64_t n = k.info.tasks;
  if (n <= 0) return;
  ThreadPool& pool = ThreadPool::global();
  const int participants = std::min(threads_, pool.size());
  const int64_t work = n * k.info.cost_per_task;
  const int64_t sb = k.info.scratch_bytes;
  if (k.info.sequential || participants <= 1 || n == 1 || work < kMinParallelWork) {
    k.fn(buffers, 0, n, scratch(0, sb));
    return;
  }
  // Enough chunks for every participant, some slack for balance, each worth kChunkWork or more,
  // starting at multiples of the kernel's grain where possible.
  int64_t chunks = std::clamp<int64_t>(work / kChunkWork, participants, int64_t{participants} * 4);
  chunks = std::min(chunks, n);
  int64_t size = (n + chunks - 1) / chunks;
  const int64_t grain = std::max<int64_t>(k.info.grain, 1);
  if (size > grain) size = (size + grain - 1) / grain * grain;
  chunks = (n + size - 1) / size;
  std::vector<void*> mem(static_cast<size_t>(participants));
  for (int i = 0; i < participants; ++i) mem[static_cast<size_t>(i)] = scratch(i, sb);
  pool.parallel_for(chunks, participants, [&](int64_t c, int who) {
    int64_t b = c * size, e = std::min(n, b + size);
    k.fn(buffers, b, e, mem[static_cast<size_t>(who)]);
  });
}

void Launcher::run_all(const CompiledProgram& program, void* const* buffers,
                       profile::ProgramProfile* prof) {
  if (!prof) {
    for (const CompiledKernel& k : program.kernels) run(k, buffers);
    return;
  }
  for (size_t i = 0; i < program.kernels.size(); ++i) {
    auto t0 = std::chrono::steady_clock::now();
    run(program.kernels[i], buffers);
    prof->add(i, std::chrono::steady_clock::now() - t0);
  }
}

}  // namespace soma::jit
