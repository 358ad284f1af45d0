// The script session's graph stays the size of what its values use: a loop that builds new
// nodes every step (x = rand(..., seed=i)) runs 10,000 steps with its graph and resident memory
// flat, and every value made before, during and after collections keeps its meaning.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "tests/sanitizer.h"
#include "tests/script/llvm_script.h"

namespace soma::script {
namespace {

int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * 4096;
}

using Script = testing::LlvmScript;

std::string loop(int first, int last) {
  return "for i in range(" + std::to_string(first) + ", " + std::to_string(last) +
         "):\n    x = rand([16, 16], seed=i)\n    t = t + float(sum(x @ w))\n";
}

TEST(GraphCollect, TenThousandStepsKeepTheGraphAndMemoryFlat) {
  Script s;
  s.run("w = param(\"w\", [16, 16], init=\"ones\")\ny = w * 2\nt = 0.0\n");
  s.run(loop(0, 2000));
  const int64_t before = resident_bytes();
  s.run(loop(2000, 10000));
  const int64_t grown = resident_bytes() - before;
  std::printf("8,000 steps: resident memory %+lld KiB, graph %d nodes after %d collections\n",
              static_cast<long long>(grown / 1024), s.graph_size(), s.session.graph_collections());
  // Each step adds its rand, matmul and sum (and their reshapes): ~60,000 nodes uncollected.
  EXPECT_GT(s.session.graph_collections(), 0);
  EXPECT_LT(s.graph_size(), 3 * 4096) << "the graph grew with the steps";
  if (!soma::testing::kSanitized) {
    EXPECT_LT(grown, int64_t{8} << 20) << "grew " << grown / 1024 << " KiB over 8,000 steps";
  }
  // The values kept their meaning through the collections: w and y (made before the loop), t
  // (the sum over all steps: each x @ w sums 16 x the elements of x, 256 draws of mean 0.5).
  EXPECT_EQ(s.run("print(float(sum(y)))"), "512.0\n");
  const double t = std::stod(s.run("print(t)"));
  EXPECT_NEAR(t, 10000 * 16 * 128.0, 10000 * 16 * 128.0 * 0.01);
}

// Tensors made at any point, lazy ones included, and the compiled cache survive a collection;
// a parameter updated in the loop keeps its value.
TEST(GraphCollect, ValuesKeepTheirMeaningThroughCollections) {
  Script s;
  s.run(
      "a = const([1.0, 2.0, 3.0])\nb = a * 10\nw = param(\"v\", [3], init=\"zeros\")\n"
      "keep = []\n");
  EXPECT_EQ(s.run("print(b)"), "[10. 20. 30.]\n");
  s.run("for i in range(6000):\n    c = a + i\n    w += c * 0.0001\n");
  EXPECT_GT(s.session.graph_collections(), 0);
  EXPECT_EQ(s.run("print(b)"), "[10. 20. 30.]\n");
  EXPECT_EQ(s.run("print(c)"), "[6000. 6001. 6002.]\n");
  // w[k] = sum over i of (k + i) / 10^4 for k = 1, 2, 3: 6000 k / 10^4 + 1799.7 (in f32).
  const double w = std::stod(s.run("print(float(sum(w)))"));
  EXPECT_NEAR(w, 1800.3 + 1800.9 + 1801.5, 0.01);
  const int compiles = s.session.compile_count();
  s.run("print(b)");
  EXPECT_EQ(s.session.compile_count(), compiles) << "b's program is still in the cache";
}

}  // namespace
}  // namespace soma::script
