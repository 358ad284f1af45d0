#include "graph/dot.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/graph/example_graphs.h"

namespace soma {
namespace {

using graph_test::f32;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(Dot, DrawsNodesEdgesAndOutputs) {
  Graph g;
  NodeId x = g.add(Op::Input, {}, {{"name", std::string("x")}}, f32({2, 3}));
  NodeId w = g.add(Op::Param, {}, {{"name", std::string("w")}}, f32({2, 3}));
  NodeId c = g.add(Op::Const, {}, {{"value", std::vector<double>{1.0}}}, f32({2, 3}));
  NodeId s = g.add(Op::Sub, {x, w});
  NodeId m = g.add(Op::Neg, {s});
  g.add(Op::Add, {m, c});
  std::string dot = to_dot(g, {m});

  EXPECT_EQ(dot.rfind("digraph soma {\n", 0), 0u);
  EXPECT_EQ(dot.substr(dot.size() - 2), "}\n");
  EXPECT_TRUE(contains(dot, "n0 [label=\"%0 input \\\"x\\\"\\nf32[2,3]\", shape=invhouse"));
  EXPECT_TRUE(contains(dot, "n1 [label=\"%1 param \\\"w\\\"\\nf32[2,3]\", shape=cylinder"));
  EXPECT_TRUE(contains(dot, "n2 [label=\"%2 const\\nf32[2,3]\", shape=note"));
  EXPECT_TRUE(contains(dot, "n3 [label=\"%3 sub\\nf32[2,3]\", shape=box"));
  // Inputs of a multi-input node are numbered; a single input is not.
  EXPECT_TRUE(contains(dot, "n0 -> n3 [label=\"0\"];\n"));
  EXPECT_TRUE(contains(dot, "n1 -> n3 [label=\"1\"];\n"));
  EXPECT_TRUE(contains(dot, "n3 -> n4;\n"));
  EXPECT_TRUE(contains(dot, "n4 -> n5 [label=\"0\"];\n"));
  EXPECT_TRUE(contains(dot, "n2 -> n5 [label=\"1\"];\n"));
  // The output is bold and feeds a sink.
  EXPECT_TRUE(contains(dot,
                       "n4 [label=\"%4 neg\\nf32[2,3]\", shape=box, fillcolor=\"#ffffff\", "
                       "style=\"filled,bold\", penwidth=2];"));
  EXPECT_TRUE(contains(dot, "out0 [label=\"out 0\", shape=doubleoctagon"));
  EXPECT_TRUE(contains(dot, "n4 -> out0 [style=bold];"));
  EXPECT_FALSE(contains(dot,
                        "n5 [label=\"%5 add\\nf32[2,3]\", shape=box, fillcolor=\"#ffffff\", "
                        "style"));
  EXPECT_EQ(std::count(dot.begin(), dot.end(), '{'), std::count(dot.begin(), dot.end(), '}'));
}

TEST(Dot, EscapesNames) {
  Graph g;
  g.add(Op::Input, {}, {{"name", std::string("a\"b\\c\nd")}}, f32({}));
  std::string dot = to_dot(g);
  // The name is shown as the text form's string ("a\"b\\c\nd"), then escaped for dot.
  EXPECT_TRUE(contains(dot, "label=\"%0 input \\\"a\\\\\\\"b\\\\\\\\c\\\\nd\\\"\\nf32[]\"")) << dot;
  EXPECT_FALSE(contains(dot, "out0"));
}

TEST(Dot, EveryNodeOfALargeGraphAppearsOnce) {
  graph_test::ExampleGraph ex = graph_test::all_ops_graph();
  std::string dot = to_dot(ex.graph, ex.outputs);
  for (NodeId i = 0; i < ex.graph.size(); ++i) {
    std::string decl = "  n" + std::to_string(i) + " [label=";
    size_t first = dot.find(decl);
    ASSERT_NE(first, std::string::npos) << i;
    EXPECT_EQ(dot.find(decl, first + 1), std::string::npos) << i;
  }
  for (size_t k = 0; k < ex.outputs.size(); ++k)
    EXPECT_TRUE(contains(dot, "n" + std::to_string(ex.outputs[k]) + " -> out" + std::to_string(k) +
                                  " [style=bold];"));
}

TEST(Dot, MalformedGraphsDoNotCrash) {
  Graph g;
  g.add_unchecked(Node{Op::Neg, f32({2}), {5}, {}});
  g.add_unchecked(Node{static_cast<Op>(200), f32({2}), {0}, {}});
  std::string dot = to_dot(g, {1});
  EXPECT_TRUE(contains(dot, "n5 -> n0;"));
  EXPECT_TRUE(contains(dot, "%1 <op 200>"));
}

}  // namespace
}  // namespace soma
