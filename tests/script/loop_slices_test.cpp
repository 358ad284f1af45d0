// Mini-batches sliced in a script loop (x[i*n:(i+1)*n]) take their start at run time: the loop
// compiles its program once or twice, not once per step, and means what the static slice means,
// gradients included.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "backends/llvm/jit.h"
#include "tests/script/llvm_script.h"

namespace soma::script {
namespace {

using Script = testing::LlvmScript;

TEST(LoopSlices, ABatchLoopCompilesOnce) {
  Script s;
  s.run("X = rand([640, 8], seed=4)\nt = 0.0\n");
  jit::reset_jit_stats();
  s.run("for i in range(40):\n    xb = X[i*16:(i+1)*16]\n    t = t + float(sum(xb * xb))\n");
  const jit::JitStats st = jit::jit_stats();
  EXPECT_LE(st.compiles + st.disk_hits, 2) << "a program per step";
  const double t = std::stod(s.run("print(t)"));
  const double all = std::stod(s.run("print(float(sum(X * X)))"));
  EXPECT_NEAR(t, all, 1e-4 * all);
}

// Every form of slice in a loop: negative and past-the-end bounds, the first rows (static), a
// step (static), more axes; and a gradient through the moving slice.
TEST(LoopSlices, MeanWhatStaticSlicesMean) {
  Script s;
  s.run("X = rand([10, 3], seed=2)\nw = param(\"w\", [3], init=\"ones\")\n");
  const char* cases[] = {"X[2:5]",    "X[-4:-1]",    "X[7:100]",  "X[0:3]",   "X[1:9:2]",
                         "X[3:6, 1]", "X[3:6, ::2]", "X[4:5][0]", "X[-100:2]"};
  for (const char* c : cases) {
    SCOPED_TRACE(c);
    const std::string want = s.run(std::string("print(") + c + ")");
    EXPECT_EQ(s.run(std::string("for k in range(1):\n    v = ") + c + "\nprint(v)"), want);
  }
  const std::string want = s.run("print(grad(sum(X[3:7] * w), w))");
  EXPECT_EQ(s.run("for k in range(1):\n    g = grad(sum(X[3:7] * w), w)\nprint(g)"), want);
}

}  // namespace
}  // namespace soma::script
