// Split-K: long contractions with small outputs become partial products plus a sum, with the
// same values.
#include <gtest/gtest.h>

#include <random>

#include "graph/builder.h"
#include "graph/printer.h"
#include "pass_test_util.h"
#include "passes/split_k.h"

namespace soma {
namespace {

TEST(SplitK, ChoosesSlicesOnlyForLongNarrowContractions) {
  EXPECT_EQ(split_k_slices(32, 86528, 9), 16);     // a conv weight gradient
  EXPECT_EQ(split_k_slices(64, 15488, 288), 16);   // another one
  EXPECT_EQ(split_k_slices(1024, 1024, 1024), 1);  // square: enough output tiles
  EXPECT_EQ(split_k_slices(784, 128, 256), 1);     // an MLP weight gradient: k is short
  EXPECT_EQ(split_k_slices(8, 4097, 8), 1);        // no slice count divides k
  EXPECT_EQ(split_k_slices(8, 6144, 8), 8);        // slices keep at least 512 of k
}

TEST(SplitK, RewritesAndKeepsTheValue) {
  Module m;
  Builder b(m.graph);
  NodeId a = b.input("a", TensorType{DType::f64, Shape{5, 8192}});
  NodeId w = b.param("w", TensorType{DType::f64, Shape{8192, 3}});
  NodeId y = b.matmul(a, w);
  m.outputs = {b.unary(Op::Tanh, y)};
  Module before = m;
  ASSERT_TRUE(split_k(m));
  std::string ir = print_graph(m.graph);
  EXPECT_NE(ir.find("matmul"), std::string::npos) << ir;
  EXPECT_NE(ir.find("f64[16,5,3]"), std::string::npos) << ir;
  EXPECT_NE(ir.find("reduce_sum"), std::string::npos) << ir;
  EXPECT_FALSE(split_k(m));  // nothing left to split

  std::mt19937 rng(7);
  pass_test::Env env = pass_test::random_env(before.graph, rng, false);
  std::vector<Array> want = pass_test::run_module(before, env), got = pass_test::run_module(m, env);
  ASSERT_EQ(want.size(), 1u);
  for (int64_t i = 0; i < want[0].numel(); ++i)
    EXPECT_NEAR(got[0].get(i), want[0].get(i), 1e-9) << i;
}

}  // namespace
}  // namespace soma
