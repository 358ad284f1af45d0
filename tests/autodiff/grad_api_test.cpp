// The grad pass's contract: coverage of the op table, pruning, zeros for unconnected inputs,
// and clear errors.
#include <gtest/gtest.h>

#include <cmath>

#include "frontend/compile.h"
#include "passes/grad.h"

namespace soma {
namespace {

TEST(GradTable, EveryOpHasAnEntry) {
  for (int i = 0; i < kNumOps; ++i) {
    Op op = static_cast<Op>(i);
    EXPECT_NE(grad_kind(op), GradKind::Missing)
        << "op '" << op_name(op) << "' has no gradient rule and no 'not differentiable' entry";
  }
}

TEST(GradTable, DifferentiableFloatOpsHaveRules) {
  for (Op op : {Op::Exp, Op::MatMul, Op::Window, Op::Gather, Op::ReduceMax, Op::Pad})
    EXPECT_EQ(grad_kind(op), GradKind::Rule) << op_name(op);
  EXPECT_EQ(grad_kind(Op::StopGradient), GradKind::ZeroGradient);
  EXPECT_EQ(grad_kind(Op::Lt), GradKind::NotDifferentiable);
}

TEST(Grad, UnconnectedInputGetsZeros) {
  ContextScope scope(std::make_shared<Context>());
  Tensor x = input("x", {3}), z = input("z", {2, 2});
  Tensor y = sum(x * x);
  auto g = grad(y, {x, z});
  auto out = compile({g[0], g[1]})
                 .run({{"x", Array::from_f32({3}, std::vector<float>{1, 2, 3})},
                       {"z", Array(DType::f32, {2, 2})}});
  EXPECT_FLOAT_EQ(out[0].get(2), 6);
  EXPECT_EQ(out[1].shape(), (Shape{2, 2}));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[1].get(i), 0);
}

TEST(Grad, OnlyNodesBetweenOutputAndInputsAreDifferentiated) {
  ContextScope scope(std::make_shared<Context>());
  Tensor x = input("x", {3}), w = input("w", {3});
  Tensor unrelated = exp(w) * sin(w);  // must not get gradient nodes
  Tensor y = sum(x * 2.0) + sum(unrelated);
  int before = x.context().graph().size();
  grad(y, x);
  const Graph& g = x.context().graph();
  for (NodeId i = before; i < g.size(); ++i) {
    EXPECT_NE(g.node(i).op, Op::Cos) << "the sin branch (not connected to x) was differentiated";
    EXPECT_NE(g.node(i).op, Op::Exp);
  }
}

TEST(Grad, StopGradientBlocksFlow) {
  ContextScope scope(std::make_shared<Context>());
  Tensor x = input("x", {}, DType::f64);
  Tensor y = x * stop_gradient(x);
  auto v = eval(grad(y, x), {{"x", Array::scalar(DType::f64, 3)}});
  EXPECT_DOUBLE_EQ(v.get(0), 3);
}

TEST(Grad, ReluAtZeroIsZeroAndMaxTiesSplit) {
  ContextScope scope(std::make_shared<Context>());
  Tensor x = input("x", {3});
  auto out =
      eval(grad(sum(relu(x)), x), {{"x", Array::from_f32({3}, std::vector<float>{-1, 0, 2})}});
  EXPECT_EQ(out.get(0), 0);
  EXPECT_EQ(out.get(1), 0);
  EXPECT_EQ(out.get(2), 1);
  Tensor m = max(x);
  auto gm = eval(grad(m, x), {{"x", Array::from_f32({3}, std::vector<float>{2, 1, 2})}});
  EXPECT_FLOAT_EQ(gm.get(0), 0.5f);
  EXPECT_FLOAT_EQ(gm.get(1), 0.0f);
  EXPECT_FLOAT_EQ(gm.get(2), 0.5f);
}

TEST(Grad, StableAtExtremes) {
  ContextScope scope(std::make_shared<Context>());
  Tensor x = input("x", {4});
  Array big = Array::from_f32({4}, std::vector<float>{-1000, -100, 100, 1000});
  for (Tensor y :
       {sum(sigmoid(x)), sum(softplus(x)), logsumexp(x), sum(elu(x)), sum(log_softmax(x))}) {
    Array g = eval(grad(y, x), {{"x", big}});
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(std::isfinite(g.get(i))) << i;
  }
  Tensor labels = input("l", {1}, DType::i32);
  Tensor logits = reshape(x, {1, 4});
  Array g = eval(grad(cross_entropy(logits, labels), x),
                 {{"x", big}, {"l", Array::from_i32({1}, std::vector<int32_t>{0})}});
  EXPECT_NEAR(g.get(0), -1.0, 1e-6);
  EXPECT_NEAR(g.get(3), 1.0, 1e-6);
}

TEST(GradErrors, NonScalarOutput) {
  ContextScope scope(std::make_shared<Context>());
  Tensor x = input("x", {3});
  try {
    grad(x * 2.0, x);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("not a scalar"), std::string::npos) << e.what();
  }
}

TEST(GradErrors, SeedShapeMismatch) {
  ContextScope scope(std::make_shared<Context>());
  Tensor x = input("x", {3});
  EXPECT_THROW(vjp(x * 2.0, x, ones({4})), ShapeError);
  auto g = vjp(x * 2.0, x, ones({3}));
  auto v = eval(g, {{"x", Array(DType::f32, {3})}});
  EXPECT_FLOAT_EQ(v.get(1), 2);
}

TEST(GradErrors, IntegerInputsAndOutputs) {
  ContextScope scope(std::make_shared<Context>());
  Tensor i = input("i", {3}, DType::i32);
  Tensor x = input("x", {3});
  EXPECT_THROW(grad(sum(x * cast(i, DType::f32)), i), TypeError);
  EXPECT_THROW(grad(sum(i), x), TypeError);
}

}  // namespace
}  // namespace soma
