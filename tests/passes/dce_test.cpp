// dce: IR text in -> dce -> IR text out.
#include <gtest/gtest.h>

#include "pass_test_util.h"
#include "passes/dce.h"

namespace soma {
namespace {

using pass_test::run_on_text;

TEST(Dce, RemovesWhatTheOutputsDoNotNeed) {
  bool changed = false;
  EXPECT_EQ(run_on_text(R"(%0 = input() {name="x"} : f32[3]
%1 = input() {name="unused"} : f32[3]
%2 = exp(%0) : f32[3]
%3 = neg(%0) : f32[3]
%4 = add(%1, %2) : f32[3]
%5 = mul(%3, %3) : f32[3]
return %5
)",
                        dce, &changed),
            R"(%0 = input() {name="x"} : f32[3]
%1 = neg(%0) : f32[3]
%2 = mul(%1, %1) : f32[3]
return %2
)");
  EXPECT_TRUE(changed);
}

TEST(Dce, KeepsEverythingLive) {
  const std::string text = R"(%0 = input() {name="x"} : f32[3]
%1 = exp(%0) : f32[3]
%2 = neg(%0) : f32[3]
return %2, %1, %0
)";
  bool changed = true;
  EXPECT_EQ(run_on_text(text, dce, &changed), text);
  EXPECT_FALSE(changed);
}

TEST(Dce, KeepsUpdatesAndTheirParams) {
  Module m = pass_test::parse_module(R"(%0 = input() {name="x"} : f32[3]
%1 = param() {name="w"} : f32[3]
%2 = param() {name="unused"} : f32[3]
%3 = const() {value=[0.1]} : f32[3]
%4 = mul(%0, %3) : f32[3]
%5 = sub(%1, %4) : f32[3]
%6 = exp(%2) : f32[3]
)");
  m.updates = {{1, 5}};
  Module before = m;
  EXPECT_TRUE(dce(m));
  EXPECT_EQ(print_graph(m.graph, m.outputs), R"(%0 = input() {name="x"} : f32[3]
%1 = param() {name="w"} : f32[3]
%2 = const() {value=[0.1]} : f32[3]
%3 = mul(%0, %2) : f32[3]
%4 = sub(%1, %3) : f32[3]
)");
  EXPECT_EQ(m.updates, (std::vector<std::pair<NodeId, NodeId>>{{1, 4}}));
  pass_test::expect_equivalent(before, m, "dce with updates");
}

TEST(Dce, AModuleWithoutRootsIsEmpty) {
  Module m = pass_test::parse_module("%0 = input() {name=\"x\"} : f32[3]\n");
  EXPECT_TRUE(dce(m));
  EXPECT_EQ(m.graph.size(), 0);
}

}  // namespace
}  // namespace soma
