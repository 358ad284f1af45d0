// The pipeline after the graph passes: fuse, lower and plan as named stages (timed, dumped,
// verified, switchable), and fusion's decisions with their reasons.
#include <gtest/gtest.h>

#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "backends/interp/interp.h"
#include "backends/interp/kernel_eval.h"
#include "frontend/compile.h"
#include "graph/error.h"
#include "graph/kernel_parser.h"
#include "graph/parser.h"
#include "passes/fuse.h"
#include "passes/pipeline.h"
#include "tests/source_tree.h"

namespace soma {
namespace {

namespace fs = std::filesystem;

}  // namespace

void PrintTo(FuseReason why, std::ostream* os) {
  *os << describe(why);
}

namespace {

// The module of `outs`, and the node each tensor became.
struct Built {
  Module module;
  std::vector<NodeId> map;
  NodeId node(const Tensor& t) const { return map[static_cast<size_t>(t.id())]; }
};

Built build(const std::vector<Tensor>& outs) {
  Built b;
  std::vector<NodeId> roots;
  for (const Tensor& t : outs) roots.push_back(t.id());
  b.module.graph = extract(Context::current()->graph(), roots, &b.map);
  for (NodeId r : roots) b.module.outputs.push_back(b.map[static_cast<size_t>(r)]);
  return b;
}

Feeds random_feeds(const Graph& g) {
  Feeds feeds;
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> d(-2, 2);
  for (const Node& n : g.nodes())
    if (n.op == Op::Input) {
      Array a(n.type.dtype, n.type.shape);
      for (int64_t i = 0; i < a.numel(); ++i) a.set(i, d(rng));
      feeds[n.attrs.get_str("name")] = a;
    }
  return feeds;
}

PipelineOptions quiet(std::ostream& log) {
  PipelineOptions o;
  o.verify = true;
  o.log = &log;
  return o;
}

// Fusion decides; lowering builds what it decided and the program computes what the graph does.
void expect_lowers_right(const Built& b) {
  std::ostringstream log;
  kir::Program p = lower_to_kernels(b.module, quiet(log));
  Feeds feeds = random_feeds(b.module.graph);
  auto expected = interpret(b.module.graph, b.module.outputs, feeds, Context::current()->params());
  auto actual = run_program(p, feeds, Context::current()->params(), false);
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t o = 0; o < expected.size(); ++o)
    for (int64_t i = 0; i < expected[o].numel(); ++i)
      ASSERT_NEAR(actual[o].get(i), expected[o].get(i), 1e-4 + 1e-4 * std::fabs(expected[o].get(i)))
          << "output " << o << "[" << i << "]";
}

class FusionDecisions : public ::testing::Test {
 protected:
  ContextScope scope_{std::make_shared<Context>()};
};

TEST_F(FusionDecisions, AMatmulFusesIntoItsElementwiseEpilogue) {
  Tensor a = input("a", {8, 12}), b = input("b", {12, 16}), bias = input("bias", {16});
  Tensor mm = matmul(a, b);
  Tensor y = relu(mm + bias);
  Built m = build({y});
  Fusion f = fuse(m.module);
  EXPECT_EQ(f.why[static_cast<size_t>(m.node(mm))], FuseReason::Fused);
  EXPECT_EQ(f.roots.size(), 1u);
  expect_lowers_right(m);
}

TEST_F(FusionDecisions, AMatmulInsideAnotherOneIsStored) {
  Tensor a = input("a", {8, 12}), b = input("b", {12, 16}), c = input("c", {16, 4});
  Tensor inner = matmul(a, b);
  Built m = build({matmul(inner, c)});
  Fusion f = fuse(m.module);
  EXPECT_EQ(f.why[static_cast<size_t>(m.node(inner))], FuseReason::NotEpilogue);
  expect_lowers_right(m);
}

TEST_F(FusionDecisions, AKernelHoldsOneMatmul) {
  Tensor a = input("a", {8, 12}), b = input("b", {12, 16}), c = input("c", {8, 5}),
         d = input("d", {5, 16});
  Tensor first = matmul(a, b), second = matmul(c, d);
  Built m = build({first + second});
  Fusion f = fuse(m.module);
  // One of the two is the kernel's contraction, the other is stored.
  FuseReason x = f.why[static_cast<size_t>(m.node(first))];
  FuseReason y = f.why[static_cast<size_t>(m.node(second))];
  EXPECT_TRUE((x == FuseReason::Fused && y == FuseReason::SecondContraction) ||
              (y == FuseReason::Fused && x == FuseReason::SecondContraction))
      << describe(x) << " / " << describe(y);
  expect_lowers_right(m);
}

TEST_F(FusionDecisions, NoReductionInsideAMatmulsOperands) {
  Tensor a = input("a", {8, 12}), b = input("b", {12, 16, 3});
  Tensor r = sum(b, {2});
  Built m = build({matmul(a, r)});
  Fusion f = fuse(m.module);
  // The reduction (or the reshape that drops its kept axis, which reads it) is stored.
  bool stored = false;
  for (size_t n = 0; n < f.why.size(); ++n) stored |= f.why[n] == FuseReason::ReductionInOperand;
  EXPECT_TRUE(stored) << print_fusion(m.module, f);
  expect_lowers_right(m);
}

TEST_F(FusionDecisions, ARowKernelHoldsTheReductionsOfItsRows) {
  Tensor x = input("x", {6, 10});
  Built m = build({softmax(x)});
  Fusion f = fuse(m.module);
  EXPECT_EQ(f.roots.size(), 1u) << print_fusion(m.module, f);
  expect_lowers_right(m);
}

TEST_F(FusionDecisions, AReductionOverOtherAxesThanTheRowsIsStored) {
  Tensor x = input("x", {6, 10});
  Tensor rows = sum(x, {1}, true), cols = sum(x, {0}, true);
  Built m = build({x - rows - cols});
  Fusion f = fuse(m.module);
  FuseReason a = f.why[static_cast<size_t>(m.node(rows))];
  FuseReason b = f.why[static_cast<size_t>(m.node(cols))];
  EXPECT_TRUE((a == FuseReason::Fused && b == FuseReason::RowsDiffer) ||
              (b == FuseReason::Fused && a == FuseReason::RowsDiffer))
      << print_fusion(m.module, f);
  expect_lowers_right(m);
}

TEST_F(FusionDecisions, AReductionReadInsideAnotherLoopIsStored) {
  Tensor x = input("x", {6, 10}), z = input("z", {6, 10});
  Tensor r = sum(x, {1}, true);  // [6, 1], read inside the column sums' loop over rows
  Built m = build({sum(r * z, {0}, true)});
  Fusion f = fuse(m.module);
  EXPECT_EQ(f.why[static_cast<size_t>(m.node(r))], FuseReason::ReductionRepeated)
      << print_fusion(m.module, f);
  expect_lowers_right(m);
}

TEST_F(FusionDecisions, OverlappingWindowGradientsUnderAReductionAreStored) {
  // The input gradient of an overlapping pooling is an unwindow with a loop over taps; a sum
  // over it must not rerun that loop for every term.
  Tensor x = input("x", {1, 2, 6, 6});
  Tensor pooled = avg_pool2d(x, {3, 3}, {1, 1}, {1, 1});
  Tensor g = grad(sum(pooled * pooled), x);
  Built m = build({sum(g, {2}, true)});
  Fusion f = fuse(m.module);
  bool stored = false;
  for (NodeId n = 0; n < m.module.graph.size(); ++n)
    if (m.module.graph.node(n).op == Op::Unwindow)
      stored |= f.why[static_cast<size_t>(n)] == FuseReason::TapLoopRepeated ||
                f.why[static_cast<size_t>(n)] == FuseReason::Fused;
  EXPECT_TRUE(stored) << print_fusion(m.module, f);
  expect_lowers_right(m);
}

TEST_F(FusionDecisions, EmitFusedSaysWhyEachStoredNodeIsStored) {
  Tensor x = input("x", {4, 8});
  Tensor e = exp(x);
  Built m = build({sum(e, {1}), sum(e, {0})});
  Fusion f = fuse(m.module);
  const std::string text = print_fusion(m.module, f);
  EXPECT_NE(text.find("(stored: an output)"), std::string::npos) << text;
  EXPECT_NE(text.find("(stored: read by several kernels)"), std::string::npos) << text;
  // The annotations are comments: the text is still the module.
  ParsedGraph back = parse_graph(text);
  EXPECT_EQ(back.graph.size(),
            static_cast<NodeId>(reachable(m.module.graph, m.module.roots()).size()));
  EXPECT_EQ(back.outputs.size(), 2u);
}

TEST_F(FusionDecisions, DisabledFusionStoresEveryComputedNode) {
  Tensor x = input("x", {4, 8});
  Tensor y = exp(x) * 2.0 + 1.0;
  Built m = build({y});
  Fusion f = fuse(m.module, /*enabled=*/false);
  for (NodeId n = 0; n < m.module.graph.size(); ++n) {
    const Node& node = m.module.graph.node(n);
    if (node.op == Op::Input || always_inline(node)) continue;
    EXPECT_TRUE(f.realized[static_cast<size_t>(n)]) << print_fusion(m.module, f);
  }
  expect_lowers_right(m);
}

class PipelineStages : public ::testing::Test {
 protected:
  // A small training step: an MLP's loss as the output, SGD updates of its parameters.
  Built training_step() {
    Tensor x = input("x", {16, 12}), y = input("y", {16, 4});
    Tensor w1 = param("w1", {12, 8}, "glorot_uniform", 1), w2 = param("w2", {8, 4}, "uniform", 2);
    Tensor loss = mse(matmul(relu(matmul(x, w1)), w2), y);
    std::vector<Tensor> g = grad(loss, {w1, w2});
    Tensor n1 = w1 - g[0] * 0.1, n2 = w2 - g[1] * 0.1;
    Built b = build({loss, w1, w2, n1, n2});
    b.module.outputs = {b.node(loss)};
    b.module.updates = {{b.node(w1), b.node(n1)}, {b.node(w2), b.node(n2)}};
    return b;
  }
  ContextScope scope_{std::make_shared<Context>()};
};

fs::path temp_dir(const std::string& name) {
  return testing::fresh_temp_dir("stages_" + name);
}

std::string read_file(const fs::path& p) {
  return testing::read_text(p);
}

TEST_F(PipelineStages, EachStageIsDumpedInOrderAndReadsBack) {
  Built b = training_step();
  fs::path dir = temp_dir("dumps");
  std::ostringstream log;
  PipelineOptions o = quiet(log);
  o.dump_dir = dir.string();
  kir::Program p = lower_to_kernels(b.module, o);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  ASSERT_EQ(names.size(), 3u);
  EXPECT_NE(names[0].find("-fuse.soma-ir"), std::string::npos) << names[0];
  EXPECT_NE(names[1].find("-lower.kir"), std::string::npos) << names[1];
  EXPECT_NE(names[2].find("-plan.kir"), std::string::npos) << names[2];
  // The fuse dump is the module with comments; the kernel dumps are replayable programs, the
  // last one the program that runs.
  EXPECT_NO_THROW(parse_graph(read_file(dir / names[0])));
  EXPECT_NO_THROW(kir::parse_program(read_file(dir / names[1])));
  EXPECT_FALSE(kir::difference(kir::parse_program(read_file(dir / names[2])), p));
  fs::remove_all(dir);
}

TEST_F(PipelineStages, DebugLevelOneTimesEachStage) {
  Built b = training_step();
  std::ostringstream log;
  PipelineOptions o = quiet(log);
  o.debug_level = 1;
  lower_to_kernels(b.module, o);
  for (const char* stage : {"pass fuse: ", "pass lower: ", "pass plan: "})
    EXPECT_NE(log.str().find(stage), std::string::npos) << log.str();
  o.debug_level = 2;
  std::ostringstream log2;
  o.log = &log2;
  lower_to_kernels(b.module, o);
  EXPECT_NE(log2.str().find("--- after fuse ---"), std::string::npos);
  EXPECT_NE(log2.str().find("(stored: "), std::string::npos);
}

TEST_F(PipelineStages, LowerCannotBeDisabled) {
  Built b = training_step();
  std::ostringstream log;
  PipelineOptions o = quiet(log);
  o.disabled = {"lower"};
  try {
    lower_to_kernels(b.module, o);
    FAIL() << "expected a NameError";
  } catch (const NameError& e) {
    EXPECT_NE(std::string(e.what()).find("'lower' cannot be disabled"), std::string::npos)
        << e.what();
  }
}

// Without `plan`, every temporary has bytes of its own (none shares with another) and the
// program computes the same values.
TEST_F(PipelineStages, WithoutPlanNoTemporarySharesBytes) {
  Built b = training_step();
  std::ostringstream log;
  PipelineOptions o = quiet(log);
  kir::Program planned = lower_to_kernels(b.module, o);
  o.disabled = {"plan"};
  kir::Program unplanned = lower_to_kernels(b.module, o);
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (const kir::Buffer& buf : unplanned.buffers)
    if (buf.kind == kir::Buffer::Kind::Temp)
      ranges.emplace_back(buf.offset, buf.offset + buf.bytes());
  std::sort(ranges.begin(), ranges.end());
  ASSERT_GT(ranges.size(), 2u);
  for (size_t i = 1; i < ranges.size(); ++i) EXPECT_LE(ranges[i - 1].second, ranges[i].first);
  EXPECT_GE(unplanned.arena_bytes, planned.arena_bytes);
  Feeds feeds = random_feeds(b.module.graph);
  auto x = run_program(planned, feeds, Context::current()->params(), false);
  auto y = run_program(unplanned, feeds, Context::current()->params(), false);
  ASSERT_EQ(x.size(), y.size());
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_EQ(0, std::memcmp(x[i].raw(), y[i].raw(), x[i].nbytes())) << "output " << i;
}

}  // namespace
}  // namespace soma
