// The op table is covered: every op of graph/ops.def appears in the graph of at least one op
// case (its forward value or its gradient), so the parity suite runs it on every backend against
// the interpreter — shape rule, gradient rule, interpreter case, LLVM and GLSL lowering. An op
// that no differentiable case can build would be listed below with the suite that covers it.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "autodiff/op_cases.h"
#include "graph/op.h"

namespace soma::testing {
namespace {

// Ops the graph of a differentiable f32/f64 case cannot hold, and where they are run on every
// backend instead (none today).
const std::map<Op, const char*> kCoveredElsewhere = {};

std::set<Op> ops_in_cases() {
  std::set<Op> seen;
  for (const GradCase& c : op_cases()) {
    auto ctx = std::make_shared<Context>();
    ContextScope scope(ctx);
    std::vector<Tensor> xs, wrt;
    for (size_t i = 0; i < c.inputs.size(); ++i) {
      const InputSpec& s = c.inputs[i];
      xs.push_back(input("x" + std::to_string(i), s.shape, s.dtype));
      if (s.differentiable && is_float(s.dtype)) wrt.push_back(xs.back());
    }
    Tensor y = c.fn(xs);
    grad(sum(y * 2.0), wrt);  // the gradient's nodes join the same graph
    const Graph& g = ctx->graph();
    for (NodeId id = 0; id < g.size(); ++id) seen.insert(g.node(id).op);
  }
  return seen;
}

TEST(OpCoverage, EveryOpOfTheTableIsInAParityCase) {
  const std::set<Op> seen = ops_in_cases();
  for (int i = 0; i < kNumOps; ++i) {
    const Op op = static_cast<Op>(i);
    if (kCoveredElsewhere.count(op)) {
      EXPECT_FALSE(seen.count(op)) << op_name(op) << " is in a case now: drop it from the list";
      continue;
    }
    EXPECT_TRUE(seen.count(op)) << "no op case builds '" << op_name(op)
                                << "': add one to tests/autodiff/op_cases.h";
  }
}

}  // namespace
}  // namespace soma::testing
