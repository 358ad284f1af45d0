// Split-reduce: reductions longer than a target's serial limit become trees of shorter ones with
// the same values (sums, maxima with NaN, i32 sums that wrap, every axis layout); and split-K's
// forced mode for long contractions, with padding and batch axes.
#include <gtest/gtest.h>

#include <random>

#include "graph/builder.h"
#include "graph/printer.h"
#include "pass_test_util.h"
#include "passes/split_k.h"
#include "passes/split_reduce.h"

namespace soma {
namespace {

// Every reduce in `m` covers at most `limit` elements, and every matmul's k too.
void expect_all_short(const Module& m, int64_t limit) {
  for (NodeId id : reachable(m.graph, m.roots())) {
    const Node& n = m.graph.node(id);
    const Shape in = n.inputs.empty() ? Shape{} : m.graph.node(n.inputs[0]).type.shape;
    if (n.op == Op::ReduceSum || n.op == Op::ReduceMax) {
      int64_t e = 1;
      for (int64_t a : n.attrs.get_ints("axes")) e *= in[static_cast<int>(a)];
      EXPECT_LE(e, limit) << print_graph(m.graph);
    }
    if (n.op == Op::MatMul) {
      EXPECT_LE(in[in.rank() - 1], limit) << print_graph(m.graph);
    }
  }
}

void expect_same_values(const Module& before, const Module& after, bool specials, double tol) {
  std::mt19937 rng(11);
  pass_test::Env env = pass_test::random_env(before.graph, rng, specials);
  std::vector<Array> want = pass_test::run_module(before, env),
                     got = pass_test::run_module(after, env);
  ASSERT_EQ(want.size(), got.size());
  for (size_t o = 0; o < want.size(); ++o) {
    ASSERT_EQ(want[o].shape(), got[o].shape());
    ASSERT_EQ(want[o].dtype(), got[o].dtype());
    for (int64_t i = 0; i < want[o].numel(); ++i) {
      double w = want[o].get(i), g = got[o].get(i);
      if (std::isnan(w)) {
        EXPECT_TRUE(std::isnan(g)) << "output " << o << "[" << i << "]";
      } else if (std::isinf(w)) {
        EXPECT_EQ(g, w) << "output " << o << "[" << i << "]";
      } else {
        EXPECT_NEAR(g, w, tol * (1 + std::fabs(w))) << "output " << o << "[" << i << "]";
      }
    }
  }
}

TEST(SplitReduce, NoLimitOrShortReductionsChangeNothing) {
  Module m;
  Builder b(m.graph);
  NodeId x = b.input("x", TensorType{DType::f32, Shape{40, 50}});
  m.outputs = {b.reduce(Op::ReduceSum, x, {}, false)};
  EXPECT_FALSE(split_reduce(m, 0));
  EXPECT_FALSE(split_reduce(m, 2000));
  EXPECT_TRUE(split_reduce(m, 1999));
}

TEST(SplitReduce, EveryLayoutKeepsItsValues) {
  for (DType t : {DType::f64, DType::i32}) {
    Module m;
    Builder b(m.graph);
    NodeId x = b.input("x", TensorType{t, Shape{7, 45, 3}});
    NodeId y = b.input("y", TensorType{t, Shape{1000}});
    m.outputs = {
        b.reduce(Op::ReduceSum, x, {}, false),     b.reduce(Op::ReduceMax, x, {}, true),
        b.reduce(Op::ReduceSum, x, {1}, false),    b.reduce(Op::ReduceMax, x, {0, 1}, true),
        b.reduce(Op::ReduceSum, x, {0, 2}, false), b.reduce(Op::ReduceMax, y, {0}, false),
        b.reduce(Op::ReduceSum, y, {0}, true)};
    Module before = m;
    ASSERT_TRUE(split_reduce(m, 16));
    expect_all_short(m, 16);
    EXPECT_FALSE(split_reduce(m, 16));  // nothing left to split
    expect_same_values(before, m, t != DType::i32, 1e-12);
  }
}

TEST(SplitReduce, MaxKeepsNaNAndInfinities) {
  Module m;
  Builder b(m.graph);
  NodeId x = b.input("x", TensorType{DType::f32, Shape{3, 999}});
  m.outputs = {b.reduce(Op::ReduceMax, x, {1}, false), b.reduce(Op::ReduceSum, x, {1}, false)};
  Module before = m;
  ASSERT_TRUE(split_reduce(m, 100));
  expect_all_short(m, 100);
  expect_same_values(before, m, /*specials=*/true, 1e-5);
}

TEST(SplitK, ForcedSplitPadsAndHandlesBatches) {
  Module m;
  Builder b(m.graph);
  NodeId a = b.input("a", TensorType{DType::f64, Shape{5, 1001}});
  NodeId w = b.input("w", TensorType{DType::f64, Shape{1001, 3}});
  NodeId p = b.input("p", TensorType{DType::f64, Shape{2, 3, 4, 777}});
  NodeId q = b.input("q", TensorType{DType::f64, Shape{2, 3, 777, 2}});
  m.outputs = {b.matmul(a, w), b.matmul(p, q)};
  Module before = m;
  ASSERT_TRUE(split_k(m, 100));
  expect_all_short(m, 100);
  EXPECT_FALSE(split_k(m, 100));
  expect_same_values(before, m, false, 1e-12);
}

}  // namespace
}  // namespace soma
