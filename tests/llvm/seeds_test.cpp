// Seeds are run-time values of the llvm backend's code: programs that differ only in the seeds
// of their random ops share one compiled program (a loop over rand(..., seed=i) compiles once),
// and each still draws its own stream; such a loop keeps its memory flat.
#include <gtest/gtest.h>

#include "backends/backend.h"
#include "backends/llvm/jit.h"
#include "frontend/compile.h"
#include "graph/philox.h"
#include "tests/sanitizer.h"

#include <deque>
#include <fstream>

namespace soma {
namespace {

TEST(LlvmSeeds, ProgramsDifferingOnlyInSeedsShareCompiledCode) {
  jit::reset_jit_stats();
  for (int64_t seed : std::vector<int64_t>{3, 4, int64_t{1} << 40, -7}) {
    SCOPED_TRACE(seed);
    ContextScope scope(std::make_shared<Context>());
    // Two random tensors (two seeds in one kernel), fused into a matmul's operands and a sum.
    Tensor a = rand({16, 8}, static_cast<uint64_t>(seed));
    Tensor b = rand({8, 4}, static_cast<uint64_t>(seed) + 1);
    CompileOptions o;
    o.backend = "llvm";
    Compiled c = compile({matmul(a, b), a}, o);
    std::vector<Array> out = c.run({});
    // Each element of `a` is Philox's draw for its own seed.
    for (int64_t i = 0; i < 16 * 8; ++i)
      ASSERT_EQ(out[1].get(i), static_cast<float>(philox_uniform(static_cast<uint64_t>(seed),
                                                                 static_cast<uint64_t>(i), 0)))
          << i;
    double want = 0;
    for (int64_t k = 0; k < 8; ++k)
      want += philox_uniform(static_cast<uint64_t>(seed), static_cast<uint64_t>(k), 0) *
              philox_uniform(static_cast<uint64_t>(seed) + 1, static_cast<uint64_t>(k * 4), 0);
    EXPECT_NEAR(out[0].get(0), want, 1e-5);
  }
  jit::JitStats s = jit::jit_stats();
  EXPECT_EQ(s.compiles + s.disk_hits, 1) << "one program, four seeds";
  EXPECT_EQ(s.memory_hits, 3);
}

int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * 4096;
}

// A new program every step, as a script's loop makes them: one context whose graph grows by a
// few nodes a step, the last 64 compiled programs kept (the script session's cache), each with
// its own arena and outputs. Resident memory stays flat over 2,000 steps: large blocks never
// sit on malloc's heap between the graph's small nodes (it grew by ~40 KB a step there).
TEST(HostMemory, ALoopOfNewProgramsKeepsMemoryFlat) {
  if (testing::kSanitized) GTEST_SKIP() << "the sanitizer's allocator holds freed memory back";
  ContextScope scope(std::make_shared<Context>());
  std::deque<Compiled> recent;
  auto step = [&](int i) {
    Tensor x = rand({200, 200}, static_cast<uint64_t>(i));
    CompileOptions o;
    o.backend = "llvm";
    recent.push_back(compile({sum(matmul(x, x))}, o));
    if (recent.size() > 64) recent.pop_front();
    return recent.back().run({})[0].get(0);
  };
  for (int i = 0; i < 200; ++i) step(i);  // warm up: caches, pools, the thread pool
  const int64_t before = resident_bytes();
  jit::reset_jit_stats();
  for (int i = 200; i < 2200; ++i) step(i);
  const int64_t grown = resident_bytes() - before;
  EXPECT_LT(grown, int64_t{16} << 20) << "grew " << grown / 1024 << " KiB over 2,000 steps";
  EXPECT_EQ(jit::jit_stats().compiles, 0) << "every step's program is the same code";
}

}  // namespace
}  // namespace soma
