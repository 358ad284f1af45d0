// Seeds are run-time values of the llvm backend's code: programs that differ only in the seeds
// of their random ops share one compiled program (a loop over rand(..., seed=i) compiles once),
// and each still draws its own stream.
#include <gtest/gtest.h>

#include "backends/backend.h"
#include "backends/llvm/jit.h"
#include "frontend/compile.h"
#include "graph/philox.h"

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

}  // namespace
}  // namespace soma
