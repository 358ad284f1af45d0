#include "graph/verifier.h"

#include <gtest/gtest.h>

#include <random>

#include "graph/dot.h"
#include "graph/printer.h"
#include "tests/graph/example_graphs.h"

namespace soma {
namespace {

using graph_test::f32;

// A graph with two valid inputs x: f32[2] (%0) and y: f32[3] (%1).
Graph two_inputs() {
  Graph g;
  g.add(Op::Input, {}, {{"name", std::string("x")}}, f32({2}));
  g.add(Op::Input, {}, {{"name", std::string("y")}}, f32({3}));
  return g;
}

// verify(g) throws a VerifyError whose message contains each of `needles`.
void expect_verify_error(const Graph& g, const std::vector<std::string>& needles) {
  try {
    verify(g);
    ADD_FAILURE() << "verified without error:\n" << print_graph(g);
  } catch (const VerifyError& e) {
    for (const std::string& n : needles)
      EXPECT_NE(std::string(e.what()).find(n), std::string::npos)
          << "message '" << e.what() << "' lacks '" << n << "'";
  }
}

TEST(Verifier, AcceptsValidGraphs) {
  graph_test::ExampleGraph ex = graph_test::all_ops_graph();
  EXPECT_NO_THROW(verify(ex.graph));
  EXPECT_TRUE(verify_all(ex.graph).empty());
  EXPECT_NO_THROW(verify(Graph{}));
}

TEST(Verifier, AcceptsAValidGraphBuiltUnchecked) {
  Graph g = two_inputs();
  g.add_unchecked(Node{Op::Neg, f32({3}), {1}, {}});
  g.add_unchecked(Node{Op::Reshape, f32({3, 1}), {2}, {}});
  EXPECT_NO_THROW(verify(g));
}

TEST(Verifier, WrongArity) {
  Graph g = two_inputs();
  g.add_unchecked(Node{Op::Add, f32({2}), {0}, {}});
  expect_verify_error(g, {"verifier: %2 = add(%0) : f32[2]: add takes 2 input(s), got 1"});

  Graph h = two_inputs();
  h.add_unchecked(Node{Op::Concat, f32({2}), {}, {{"axis", int64_t{0}}}});
  expect_verify_error(h, {"%2 = concat()", "concat takes at least one input"});

  Graph s = two_inputs();
  s.add_unchecked(Node{Op::Input, f32({2}), {0}, {{"name", std::string("z")}}});
  expect_verify_error(s, {"%2 = input(%0)", "input takes 0 input(s), got 1"});
}

TEST(Verifier, DanglingInput) {
  Graph g = two_inputs();
  g.add_unchecked(Node{Op::Neg, f32({2}), {7}, {}});
  expect_verify_error(g, {"verifier: %2 = neg(%7)", "input %7 does not exist (the graph has 3"});

  Graph h = two_inputs();
  h.add_unchecked(Node{Op::Neg, f32({2}), {-1}, {}});
  expect_verify_error(h, {"input %-1 does not exist"});
}

TEST(Verifier, CycleOrForwardReference) {
  Graph g = two_inputs();
  g.add_unchecked(Node{Op::Neg, f32({2}), {2}, {}});  // itself
  expect_verify_error(g, {"%2 = neg(%2)", "input %2 is not defined before %2"});

  Graph h = two_inputs();
  h.add_unchecked(Node{Op::Neg, f32({2}), {3}, {}});  // a later node
  h.add_unchecked(Node{Op::Neg, f32({2}), {2}, {}});
  expect_verify_error(h, {"%2 = neg(%3)", "input %3 is not defined before %2 (a cycle"});
}

TEST(Verifier, TypeDiffersFromInferred) {
  Graph g = two_inputs();
  g.add_unchecked(Node{Op::Neg, f32({3}), {0}, {}});
  expect_verify_error(
      g, {"%2 = neg(%0) : f32[3]", "its type is f32[3] but its inputs and attributes give f32[2]"});

  Graph h = two_inputs();
  h.add_unchecked(Node{Op::Lt, f32({2}), {0, 0}, {}});
  expect_verify_error(h, {"give bool[2]"});
}

TEST(Verifier, ShapeRuleViolation) {
  Graph g = two_inputs();
  g.add_unchecked(Node{Op::Add, f32({2}), {0, 1}, {}});
  expect_verify_error(g, {"%2 = add(%0, %1)", "f32[2] and f32[3]", "equal shapes"});
}

TEST(Verifier, DeclaredTypesAreCheckedByTheRule) {
  Graph g = two_inputs();
  g.add_unchecked(Node{Op::Reshape, f32({4}), {1}, {}});  // 3 elements into 4
  expect_verify_error(g, {"%2 = reshape(%1) : f32[4]", "element counts differ"});

  Graph h = two_inputs();
  h.add_unchecked(Node{Op::Broadcast, f32({3, 3}), {1}, {}});
  expect_verify_error(h, {"needs equal ranks"});
}

TEST(Verifier, BadAttributes) {
  Graph g = two_inputs();
  g.add_unchecked(Node{Op::ReduceSum, f32({1}), {0}, {}});
  expect_verify_error(g, {"%2 = reduce_sum(%0)", "missing attribute 'axes'"});

  Graph h = two_inputs();
  h.add_unchecked(Node{Op::ReduceSum, f32({1}), {0}, {{"axes", std::vector<int64_t>{4}}}});
  expect_verify_error(h, {"{axes=[4]}", "axis 4 in 'axes' is out of range for rank 1"});
}

TEST(Verifier, MalformedTypesAndOps) {
  Graph g;
  g.add_unchecked(Node{Op::Input, f32({2, -1}), {}, {{"name", std::string("x")}}});
  expect_verify_error(g, {"%0 = input()", "negative dimension"});

  Graph h;
  h.add_unchecked(Node{Op::Input, f32({1, 1, 1, 1, 1, 1, 1}), {}, {{"name", std::string("x")}}});
  expect_verify_error(h, {"rank 7"});

  Graph big;
  big.add_unchecked(
      Node{Op::Const, f32({int64_t{1} << 32, int64_t{1} << 32}), {}, {{"value", 1.0}}});
  expect_verify_error(big, {"more elements than fit in 64 bits"});

  Graph bad_op = two_inputs();
  bad_op.add_unchecked(Node{static_cast<Op>(250), f32({2}), {0}, {}});
  expect_verify_error(bad_op, {"%2 = <op 250>(%0)", "op code 250 is not an op"});
}

TEST(Verifier, OutputsTooLargeToCount) {
  Graph g;
  g.add(Op::Input, {}, {{"name", std::string("a")}}, f32({int64_t{1} << 32, 1}));
  g.add(Op::Input, {}, {{"name", std::string("b")}}, f32({1, int64_t{1} << 32}));
  g.add_unchecked(Node{Op::MatMul, f32({0}), {0, 1}, {}});
  expect_verify_error(g, {"%2 = matmul(%0, %1)", "more elements than fit in 64 bits"});
}

TEST(Verifier, AUserOfABadNodeIsNotReportedAgain) {
  Graph g;
  g.add_unchecked(Node{Op::Input, f32({-2}), {}, {{"name", std::string("x")}}});
  g.add_unchecked(Node{Op::Neg, f32({-2}), {0}, {}});
  std::vector<std::string> all = verify_all(g);
  ASSERT_EQ(all.size(), 2u);  // the negative dimension of each node, not a rule failure
  EXPECT_NE(all[0].find("%0 = input()"), std::string::npos);
  EXPECT_NE(all[1].find("%1 = neg(%0)"), std::string::npos);
  EXPECT_NE(all[1].find("negative dimension"), std::string::npos);
}

TEST(Verifier, VerifyAllReportsEveryProblemInOrder) {
  Graph g = two_inputs();
  g.add_unchecked(Node{Op::Add, f32({2}), {0, 1}, {}});     // %2: shapes
  g.add_unchecked(Node{Op::Neg, f32({2}), {0}, {}});        // %3: fine
  g.add_unchecked(Node{Op::Neg, f32({2}), {9}, {}});        // %4: dangling
  g.add_unchecked(Node{Op::Sub, f32({2}), {0, 5, 6}, {}});  // %5: arity, cycle, dangling
  std::vector<std::string> all = verify_all(g);
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[0].rfind("verifier: %2 = add", 0), 0u);
  EXPECT_EQ(all[1].rfind("verifier: %4 = neg(%9)", 0), 0u);
  EXPECT_NE(all[2].find("sub takes 2 input(s), got 3"), std::string::npos);
  EXPECT_NE(all[3].find("input %5 is not defined before %5"), std::string::npos);
  EXPECT_NE(all[4].find("input %6 does not exist"), std::string::npos);
  try {
    verify(g);
    ADD_FAILURE();
  } catch (const VerifyError& e) {
    EXPECT_EQ(std::string(e.what()), all[0]);
  }
}

TEST(Verifier, VerifyErrorIsASomaError) {
  Graph g = two_inputs();
  g.add_unchecked(Node{Op::Neg, f32({2}), {5}, {}});
  EXPECT_THROW(verify(g), Error);
}

TEST(Verifier, LongNodesAreCutInMessages) {
  Graph g;
  g.add_unchecked(Node{Op::Const, f32({1000}), {}, {{"value", std::vector<double>(999, 0.25)}}});
  std::vector<std::string> all = verify_all(g);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_LT(all[0].size(), 400u);
  EXPECT_NE(all[0].find("...: const: has 999 values for shape [1000]"), std::string::npos)
      << all[0];
}

// Random graphs of random ops, types, inputs and attributes (huge values included): the verifier
// reports problems or none, never crashes, and verify() throws verify_all()'s first message.
TEST(Verifier, RandomMalformedGraphsNeverCrash) {
  std::mt19937 rng(2024);
  const int64_t ints[] = {0,
                          1,
                          2,
                          3,
                          -1,
                          std::numeric_limits<int64_t>::max(),
                          std::numeric_limits<int64_t>::min(),
                          int64_t{1} << 32};
  const char* keys[] = {"name",   "value",    "axes",   "axis",   "perm",     "start",
                        "stop",   "step",     "lo",     "hi",     "interior", "kernel",
                        "stride", "dilation", "pad_lo", "pad_hi", "seed"};
  auto small_or_huge = [&] {
    return rng() % 4 ? int64_t(rng() % 4) : ints[rng() % std::size(ints)];
  };
  for (int iter = 0; iter < 300; ++iter) {
    Graph g;
    int n = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < n; ++i) {
      Node node{static_cast<Op>(rng() % (kNumOps + 1)), {}, {}, {}};
      node.type.dtype = static_cast<DType>(rng() % 4);
      for (int d = static_cast<int>(rng() % 4); d > 0; --d)
        node.type.shape.dims().push_back(small_or_huge());
      for (int k = static_cast<int>(rng() % 4); k > 0; --k)
        node.inputs.push_back(rng() % 8 ? static_cast<NodeId>(rng() % static_cast<unsigned>(i + 1))
                                        : static_cast<NodeId>(rng() % 20) - 5);
      for (int k = static_cast<int>(rng() % 6); k > 0; --k) {
        std::string key = keys[rng() % std::size(keys)];
        switch (rng() % 5) {
          case 0:
            node.attrs.set(key, small_or_huge());
            break;
          case 1:
            node.attrs.set(key, 1.5);
            break;
          case 2: {
            std::vector<int64_t> v;
            for (int m = static_cast<int>(rng() % 4); m > 0; --m) v.push_back(small_or_huge());
            node.attrs.set(key, v);
            break;
          }
          case 3:
            node.attrs.set(key, std::vector<double>(rng() % 4, 0.5));
            break;
          default:
            node.attrs.set(key, std::string("s"));
            break;
        }
      }
      g.add_unchecked(node);
    }
    std::vector<std::string> all = verify_all(g);
    try {
      verify(g);
      EXPECT_TRUE(all.empty());
    } catch (const VerifyError& e) {
      ASSERT_FALSE(all.empty());
      EXPECT_EQ(all[0], e.what());
    }
    EXPECT_FALSE(print_graph(g, {0}).empty());
    EXPECT_FALSE(to_dot(g, {0}).empty());
  }
}

}  // namespace
}  // namespace soma
