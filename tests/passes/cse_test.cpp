// cse: IR text in -> cse -> IR text out, and what it must never merge.
#include <gtest/gtest.h>

#include "pass_test_util.h"
#include "passes/cse.h"

namespace soma {
namespace {

using pass_test::run_on_text;

void expect_cse(const std::string& text, const std::string& want) {
  bool changed = false;
  EXPECT_EQ(run_on_text(text, cse, &changed), want);
  EXPECT_TRUE(changed);
}

void expect_unchanged(const std::string& text) {
  bool changed = true;
  EXPECT_EQ(run_on_text(text, cse, &changed), text);
  EXPECT_FALSE(changed);
}

const char* kXY = R"(%0 = input() {name="x"} : f32[3]
%1 = input() {name="y"} : f32[3]
)";

TEST(Cse, MergesDuplicates) {
  expect_cse(std::string(kXY) + R"(%2 = add(%0, %1) : f32[3]
%3 = add(%0, %1) : f32[3]
%4 = mul(%2, %3) : f32[3]
return %4
)",
             std::string(kXY) + R"(%2 = add(%0, %1) : f32[3]
%3 = mul(%2, %2) : f32[3]
return %3
)");
}

TEST(Cse, MergesChainsWhoseInputsWereMerged) {
  expect_cse(std::string(kXY) + R"(%2 = sub(%0, %1) : f32[3]
%3 = exp(%2) : f32[3]
%4 = sub(%0, %1) : f32[3]
%5 = exp(%4) : f32[3]
return %3, %5
)",
             std::string(kXY) + R"(%2 = sub(%0, %1) : f32[3]
%3 = exp(%2) : f32[3]
return %3, %3
)");
}

TEST(Cse, CommutativeOpsMatchInEitherOrder) {
  expect_cse(std::string(kXY) + R"(%2 = add(%0, %1) : f32[3]
%3 = add(%1, %0) : f32[3]
%4 = max(%0, %1) : f32[3]
%5 = max(%1, %0) : f32[3]
%6 = eq(%0, %1) : bool[3]
%7 = eq(%1, %0) : bool[3]
return %3, %5, %7
)",
             std::string(kXY) + R"(%2 = add(%0, %1) : f32[3]
%3 = max(%0, %1) : f32[3]
%4 = eq(%0, %1) : bool[3]
return %2, %3, %4
)");
}

TEST(Cse, NonCommutativeOpsNeedTheSameOrder) {
  expect_unchanged(std::string(kXY) + R"(%2 = sub(%0, %1) : f32[3]
%3 = sub(%1, %0) : f32[3]
%4 = lt(%0, %1) : bool[3]
%5 = lt(%1, %0) : bool[3]
%6 = div(%0, %1) : f32[3]
%7 = div(%1, %0) : f32[3]
return %2, %3, %4, %5, %6, %7
)");
}

TEST(Cse, InputsMergeOnlyByName) {
  expect_unchanged(std::string(kXY) + "%2 = add(%0, %1) : f32[3]\nreturn %2\n");
  expect_cse(R"(%0 = input() {name="x"} : f32[3]
%1 = input() {name="x"} : f32[3]
%2 = param() {name="w"} : f32[3]
%3 = param() {name="w"} : f32[3]
%4 = add(%0, %2) : f32[3]
%5 = add(%1, %3) : f32[3]
return %4, %5
)",
             R"(%0 = input() {name="x"} : f32[3]
%1 = param() {name="w"} : f32[3]
%2 = add(%0, %1) : f32[3]
return %2, %2
)");
  expect_unchanged(R"(%0 = input() {name="w"} : f32[3]
%1 = param() {name="w"} : f32[3]
return %0, %1
)");
}

TEST(Cse, RandUniformMergesOnlyWithTheSameSeedAndOffset) {
  expect_unchanged(R"(%0 = const() {value=[0.0]} : i32[]
%1 = rand_uniform(%0) {seed=1} : f32[4]
%2 = rand_uniform(%0) {seed=2} : f32[4]
%3 = input() {name="step"} : i32[]
%4 = rand_uniform(%3) {seed=1} : f32[4]
return %1, %2, %4
)");
  expect_cse(R"(%0 = input() {name="step"} : i32[]
%1 = rand_uniform(%0) {seed=1} : f32[4]
%2 = rand_uniform(%0) {seed=1} : f32[4]
%3 = sub(%1, %2) : f32[4]
return %3
)",
             R"(%0 = input() {name="step"} : i32[]
%1 = rand_uniform(%0) {seed=1} : f32[4]
%2 = sub(%1, %1) : f32[4]
return %2
)");
}

TEST(Cse, ConstantsMergeBitForBit) {
  expect_cse(R"(%0 = const() {value=[1.5,2.0]} : f32[2]
%1 = const() {value=[1.5,2.0]} : f32[2]
%2 = const() {value=[nan]} : f32[2]
%3 = const() {value=[nan]} : f32[2]
%4 = add(%0, %1) : f32[2]
%5 = add(%2, %3) : f32[2]
return %4, %5
)",
             R"(%0 = const() {value=[1.5,2.0]} : f32[2]
%1 = const() {value=[nan]} : f32[2]
%2 = add(%0, %0) : f32[2]
%3 = add(%1, %1) : f32[2]
return %2, %3
)");
  // 0.0 and -0.0 compare equal as numbers but are different constants (1/x tells them apart).
  expect_unchanged(R"(%0 = const() {value=[0.0]} : f32[2]
%1 = const() {value=[-0.0]} : f32[2]
return %0, %1
)");
}

TEST(Cse, DifferentTypesOrAttributesStayApart) {
  expect_unchanged(R"(%0 = const() {value=[1.0]} : f32[2]
%1 = const() {value=[1.0]} : f32[3]
%2 = const() {value=[1.0]} : f64[2]
%3 = input() {name="x"} : f32[2,3]
%4 = reduce_sum(%3) {axes=[0]} : f32[1,3]
%5 = reduce_sum(%3) {axes=[1]} : f32[2,1]
%6 = reduce_max(%3) {axes=[1]} : f32[2,1]
%7 = cast(%3) : f64[2,3]
%8 = cast(%3) : i32[2,3]
return %0, %1, %2, %4, %5, %6, %7, %8
)");
}

TEST(Cse, KeepsDeadNodesForDce) {
  expect_unchanged(std::string(kXY) + R"(%2 = exp(%0) : f32[3]
%3 = neg(%1) : f32[3]
return %3
)");
}

TEST(Cse, RemapsUpdates) {
  Module m = pass_test::parse_module(R"(%0 = param() {name="w"} : f32[3]
%1 = param() {name="w"} : f32[3]
%2 = const() {value=[0.5]} : f32[3]
%3 = mul(%0, %2) : f32[3]
%4 = mul(%1, %2) : f32[3]
%5 = sub(%1, %4) : f32[3]
return %3
)");
  m.updates = {{1, 5}};
  Module before = m;
  EXPECT_TRUE(cse(m));
  EXPECT_EQ(print_graph(m.graph, m.outputs), R"(%0 = param() {name="w"} : f32[3]
%1 = const() {value=[0.5]} : f32[3]
%2 = mul(%0, %1) : f32[3]
%3 = sub(%0, %2) : f32[3]
return %2
)");
  ASSERT_EQ(m.updates.size(), 1u);
  EXPECT_EQ(m.updates[0], (std::pair<NodeId, NodeId>{0, 3}));
  pass_test::expect_equivalent(before, m, "cse with updates");
}

}  // namespace
}  // namespace soma
