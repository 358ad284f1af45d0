// The pipeline on whole programs: an MLP training step shrinks, and compile() (which runs the
// pipeline) gives the same results and parameter updates as with every pass disabled.
#include <gtest/gtest.h>

#include <cstdlib>

#include "frontend/compile.h"
#include "pass_test_util.h"
#include "passes/pipeline.h"

namespace soma {
namespace {

int count_op(const Graph& g, Op op) {
  int n = 0;
  for (const Node& node : g.nodes()) n += node.op == op;
  return n;
}

struct Mlp {
  Tensor x, labels, loss, logits;
  std::vector<Tensor> params;
  std::vector<std::pair<Tensor, Tensor>> updates;
};

Mlp build_mlp() {
  Mlp m;
  m.x = input("x", {16, 8});
  m.labels = input("labels", {16}, DType::i32);
  Tensor w1 = param("w1", {8, 32}, "glorot_uniform", 1), b1 = param("b1", {32}, "zeros");
  Tensor w2 = param("w2", {32, 32}, "glorot_uniform", 2), b2 = param("b2", {32}, "zeros");
  Tensor w3 = param("w3", {32, 4}, "glorot_uniform", 3), b3 = param("b3", {4}, "zeros");
  Tensor h = relu(matmul(m.x, w1) + b1);
  h = tanh(matmul(h, w2) + b2);
  m.logits = matmul(h, w3) + b3;
  m.loss = cross_entropy(m.logits, m.labels);
  m.params = {w1, b1, w2, b2, w3, b3};
  std::vector<Tensor> gs = grad(m.loss, m.params);
  for (size_t i = 0; i < gs.size(); ++i)
    m.updates.emplace_back(m.params[i], m.params[i] - gs[i] * 0.05);
  return m;
}

TEST(Pipeline, MlpTrainingStepShrinks) {
  ContextScope scope(std::make_shared<Context>());
  Mlp mlp = build_mlp();
  std::vector<NodeId> roots = {mlp.loss.id()};
  for (auto& [p, v] : mlp.updates) {
    roots.push_back(p.id());
    roots.push_back(v.id());
  }
  std::vector<NodeId> map;
  Module m;
  m.graph = extract(mlp.x.context().graph(), roots, &map);
  m.outputs = {map[static_cast<size_t>(mlp.loss.id())]};
  for (auto& [p, v] : mlp.updates)
    m.updates.emplace_back(map[static_cast<size_t>(p.id())], map[static_cast<size_t>(v.id())]);
  Module before = m;

  PipelineOptions o;
  o.verify = true;
  o.fold = make_interp_fold_fn();
  optimize_graph(m, o);
  std::cout << "[ info ] MLP training step: " << before.graph.size() << " nodes before, "
            << m.graph.size() << " after optimize_graph (consts "
            << count_op(before.graph, Op::Const) << " -> " << count_op(m.graph, Op::Const)
            << ", broadcasts " << count_op(before.graph, Op::Broadcast) << " -> "
            << count_op(m.graph, Op::Broadcast) << ", reshapes "
            << count_op(before.graph, Op::Reshape) << " -> " << count_op(m.graph, Op::Reshape)
            << ")\n";
  EXPECT_LT(m.graph.size(), before.graph.size());
  EXPECT_EQ(count_op(m.graph, Op::StopGradient), 0);
  pass_test::expect_equivalent(before, m, "mlp training step", 3, 11, false);

  // The optimized graph is a fixed point of the pipeline.
  Module again = m;
  optimize_graph(again, o);
  EXPECT_EQ(print_graph(again.graph, again.outputs), print_graph(m.graph, m.outputs));
}

TEST(Pipeline, CompileOptimizesAndKeepsResults) {
  // Two identical contexts: one compiled as usual, one with every pass disabled.
  auto run_steps = [](bool optimize, int* nodes) {
    ContextScope scope(std::make_shared<Context>());
    Mlp mlp = build_mlp();
    std::optional<std::string> old;
    if (const char* v = std::getenv("SOMA_DISABLE_PASSES")) old = v;
    if (!optimize) setenv("SOMA_DISABLE_PASSES", "dce,simplify,cse", 1);
    Compiled step = compile({mlp.loss, mlp.logits}, {}, mlp.updates);
    if (old)
      setenv("SOMA_DISABLE_PASSES", old->c_str(), 1);
    else
      unsetenv("SOMA_DISABLE_PASSES");
    *nodes = step.graph().size();
    std::mt19937 rng(5);
    std::vector<Array> results;
    for (int i = 0; i < 3; ++i) {
      Feeds feeds = {{"x", pass_test::random_array(mlp.x.type(), rng, false)},
                     {"labels", pass_test::random_array(mlp.labels.type(), rng, false)}};
      for (Array& a : step.run(feeds)) results.push_back(a);
    }
    for (const Tensor& p : mlp.params)
      results.push_back(mlp.x.context().params().get(p.node().attrs.get_str("name")).clone());
    return results;
  };
  int optimized_nodes = 0, plain_nodes = 0;
  std::vector<Array> optimized = run_steps(true, &optimized_nodes);
  std::vector<Array> plain = run_steps(false, &plain_nodes);
  std::cout << "[ info ] compiled MLP training step: " << plain_nodes << " nodes unoptimized, "
            << optimized_nodes << " optimized\n";
  EXPECT_LT(optimized_nodes, plain_nodes);
  pass_test::expect_same_arrays(plain, optimized, "three SGD steps, optimized vs not");
}

TEST(Pipeline, CompileRejectsAnUnknownDisabledPass) {
  ContextScope scope(std::make_shared<Context>());
  Tensor x = input("x", {3});
  setenv("SOMA_DISABLE_PASSES", "no_such_pass", 1);
  EXPECT_THROW(compile({x * 2.0}), NameError);
  unsetenv("SOMA_DISABLE_PASSES");
}

}  // namespace
}  // namespace soma
