// Fusion and lowering: kernel counts for the patterns the fusion policy promises, and
// interp(graph) == eval(lowered program) on every case.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "backends/interp/interp.h"
#include "backends/interp/kernel_eval.h"
#include "frontend/compile.h"
#include "graph/kernel_ir.h"
#include "graph/kernel_parser.h"
#include "passes/pipeline.h"

namespace soma {
namespace {

// The pipeline's options with the IR verifiers on, in every build.
PipelineOptions verified() {
  PipelineOptions o;
  o.verify = true;
  return o;
}

struct Case {
  std::string name;
  std::function<std::vector<Tensor>()> build;  // returns outputs
  int max_kernels = -1;                        // -1: not checked
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

Array random_array(const TensorType& t, uint64_t seed) {
  Array a(t.dtype, t.shape);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> d(-2, 2);
  for (int64_t i = 0; i < a.numel(); ++i)
    a.set(i, t.dtype == DType::i32 ? std::floor(d(rng) + 2) : d(rng));
  return a;
}

struct Lowered {
  kir::Program program;
  std::vector<Array> expected, actual;
};

Lowered run_case(const Case& c) {
  auto ctx = std::make_shared<Context>();
  ContextScope scope(ctx);
  std::vector<Tensor> outs = c.build();
  Module m;
  std::vector<NodeId> roots, map;
  for (const Tensor& t : outs) roots.push_back(t.id());
  m.graph = extract(ctx->graph(), roots, &map);
  for (NodeId r : roots) m.outputs.push_back(map[static_cast<size_t>(r)]);
  Feeds feeds;
  uint64_t seed = 1;
  for (const Node& n : m.graph.nodes())
    if (n.op == Op::Input) feeds[n.attrs.get_str("name")] = random_array(n.type, seed++);
  Lowered l;
  l.program = lower_to_kernels(m, verified());
  // The program's text reads back as the same program (the dumps are replayable).
  auto diff = kir::difference(kir::parse_program(kir::print_program(l.program, true)), l.program);
  EXPECT_FALSE(diff) << c.name << ": " << *diff;
  l.expected = interpret(m.graph, m.outputs, feeds, ctx->params());
  l.actual = run_program(l.program, feeds, ctx->params(), false);
  return l;
}

void expect_close(const Case& c, const Lowered& l) {
  ASSERT_EQ(l.expected.size(), l.actual.size());
  for (size_t o = 0; o < l.expected.size(); ++o) {
    ASSERT_EQ(l.expected[o].shape(), l.actual[o].shape()) << c.name;
    for (int64_t i = 0; i < l.expected[o].numel(); ++i) {
      double e = l.expected[o].get(i), a = l.actual[o].get(i);
      if (std::isnan(e)) {
        EXPECT_TRUE(std::isnan(a)) << c.name << " output " << o << "[" << i << "]";
        continue;
      }
      EXPECT_NEAR(a, e, 1e-5 + 1e-5 * std::fabs(e))
          << c.name << " output " << o << "[" << i << "]\n"
          << kir::print_program(l.program);
      if (std::fabs(a - e) > 1e-5 + 1e-5 * std::fabs(e)) return;
    }
  }
}

std::vector<Case> cases() {
  std::vector<Case> c;
  c.push_back({"elementwise_chain_6ops",
               [] {
                 Tensor x = input("x", {64, 32}), w = input("w", {32}), b = input("b", {64, 1});
                 return std::vector<Tensor>{sigmoid(x * w + b) * x - exp(-x) / 2.0};
               },
               1});
  c.push_back({"softmax_rows",
               [] {
                 return std::vector<Tensor>{softmax(input("x", {8, 10}))};
               },
               1});
  c.push_back({"log_softmax_rows",
               [] {
                 return std::vector<Tensor>{log_softmax(input("x", {8, 10}))};
               },
               1});
  c.push_back({"softmax_axis0",
               [] {
                 return std::vector<Tensor>{softmax(input("x", {6, 5}), 0)};
               },
               2});
  c.push_back({"layer_norm",
               [] {
                 return std::vector<Tensor>{layer_norm(input("x", {4, 16}))};
               },
               1});
  c.push_back({"dense_bias_relu",
               [] {
                 Tensor x = input("x", {16, 24}), w = input("w", {24, 8}), b = input("b", {8});
                 return std::vector<Tensor>{relu(matmul(x, w) + b)};
               },
               1});
  c.push_back(
      {"batched_matmul_bcast", [] {
         return std::vector<Tensor>{matmul(input("a", {2, 1, 3, 4}), input("b", {3, 4, 5}))};
       }});
  c.push_back({"matmul_transposed_operands",
               [] {
                 Tensor a = input("a", {7, 5}), b = input("b", {6, 7});
                 return std::vector<Tensor>{matmul(transpose(a), transpose(b)) * 2.0};
               },
               1});
  c.push_back(
      {"reductions", [] {
         Tensor x = input("x", {3, 4, 5});
         return std::vector<Tensor>{sum(x, {1}), max(x, {0, 2}, true), mean(x), argmax(x, 2)};
       }});
  c.push_back({"movement", [] {
                 Tensor x = input("x", {3, 4, 5});
                 Tensor y = index(transpose(x, {2, 0, 1}),
                                  {Slice{1, 5, 2}, Slice{}, Slice{std::nullopt, std::nullopt, -1}});
                 return std::vector<Tensor>{reshape(y, {-1}) + 1.0,
                                            pad(x, {{1, 0}, {0, 2}, {1, 1}}, 3.0),
                                            concat({x, x * 2.0}, 1), flip(x, {0, 2})};
               }});
  c.push_back(
      {"conv_pool", [] {
         Tensor x = input("x", {2, 3, 8, 8}), w = input("w", {4, 3, 3, 3}), b = input("b", {4});
         Tensor y = max_pool2d(relu(conv2d(x, w, b, {1, 1}, {1, 1})), {2, 2});
         return std::vector<Tensor>{y, avg_pool2d(x, {3, 3}, {2, 2}, {1, 1})};
       }});
  c.push_back({"cross_entropy", [] {
                 Tensor logits = input("l", {8, 10}), y = input("y", {8}, DType::i32);
                 return std::vector<Tensor>{cross_entropy(logits, y)};
               }});
  c.push_back({"embedding_and_grad", [] {
                 Tensor ids = input("ids", {5}, DType::i32), t = input("t", {4, 3});
                 Tensor e = embedding(ids, t);
                 return std::vector<Tensor>{e, grad(sum(e * e), t)};
               }});
  c.push_back({"conv_grads", [] {
                 Tensor x = input("x", {1, 2, 6, 6}), w = input("w", {3, 2, 3, 3});
                 Tensor loss = sum(square(conv2d(x, w, std::nullopt, {2, 2}, {1, 1})));
                 auto g = grad(loss, {x, w});
                 return std::vector<Tensor>{g[0], g[1]};
               }});
  c.push_back(
      {"mlp_backward", [] {
         Tensor x = input("x", {8, 12}), y = input("y", {8}, DType::i32);
         Tensor w1 = input("w1", {12, 16}), b1 = input("b1", {16}), w2 = input("w2", {16, 4});
         Tensor loss = cross_entropy(matmul(relu(matmul(x, w1) + b1), w2), y);
         auto g = grad(loss, {w1, b1, w2});
         return std::vector<Tensor>{loss, g[0], g[1], g[2]};
       }});
  c.push_back(
      {"random_and_iota", [] {
         Tensor x = input("x", {4, 6});
         return std::vector<Tensor>{dropout(x, 0.5, 3), arange(0, 12, 1.5), randn({3, 3}, 9)};
       }});
  return c;
}

class Lowering : public ::testing::TestWithParam<Case> {};

TEST_P(Lowering, MatchesInterpreter) {
  const Case& c = GetParam();
  Lowered l = run_case(c);
  expect_close(c, l);
  if (c.max_kernels >= 0) {
    EXPECT_LE(static_cast<int>(l.program.kernels.size()), c.max_kernels)
        << kir::print_program(l.program);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, Lowering, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

// A recurrence of cheap ops read at every step (an LSTM's cell state): recomputed inline, each
// step's kernel would redo the whole chain from its start. The chain is realized every few
// steps instead, so no kernel grows with the sequence length.
TEST(LoweringRecurrence, LongCheapChainsAreRealizedNotRecomputed) {
  Case c{"recurrence", [] {
           Tensor x = input("x", {4, 8}), a = input("a", {8}), b = input("b", {4, 8});
           std::vector<Tensor> outs;
           Tensor state = x;
           for (int t = 0; t < 60; ++t) {
             state = state * a + b;
             outs.push_back(tanh(state));
           }
           return outs;
         }};
  Lowered l = run_case(c);
  expect_close(c, l);
  for (const kir::Kernel& k : l.program.kernels) {
    EXPECT_LE(k.exprs.size(), 120u) << k.name << "\n" << kir::print_program(l.program);
    EXPECT_LE(k.reads.size(), 6u) << k.name;
  }
}

}  // namespace
}  // namespace soma

namespace soma {
namespace {

// A training step with parameter updates: in-place and copied updates leave the same parameter
// values as the graph interpreter, and planned temporaries reuse memory.
TEST(LoweringUpdates, SgdStepMatchesInterpreter) {
  const int kSteps = 3;
  std::shared_ptr<Context> ctxs[2] = {std::make_shared<Context>(), std::make_shared<Context>()};
  std::vector<Array> results[2];
  kir::Program prog;
  for (int run = 0; run < 2; ++run) {
    ContextScope scope(ctxs[run]);
    Tensor x = input("x", {8, 12}), y = input("y", {8}, DType::i32);
    Tensor w1 = param("w1", {12, 16}, "glorot_uniform", 1), b1 = param("b1", {16}, "uniform", 2);
    Tensor w2 = param("w2", {16, 4}, "glorot_uniform", 3);
    Tensor loss = cross_entropy(matmul(relu(matmul(x, w1) + b1), w2), y);
    auto g = grad(loss, {w1, b1, w2});
    Tensor n1 = w1 - g[0] * 0.5, n2 = b1 - g[1] * 0.5, n3 = w2 - g[2] * 0.5;
    Module m;
    std::vector<NodeId> map;
    m.graph = extract(ctxs[run]->graph(),
                      {loss.id(), w1.id(), b1.id(), w2.id(), n1.id(), n2.id(), n3.id()}, &map);
    m.outputs = {map[static_cast<size_t>(loss.id())]};
    m.updates = {{map[static_cast<size_t>(w1.id())], map[static_cast<size_t>(n1.id())]},
                 {map[static_cast<size_t>(b1.id())], map[static_cast<size_t>(n2.id())]},
                 {map[static_cast<size_t>(w2.id())], map[static_cast<size_t>(n3.id())]}};
    Feeds feeds{{"x", random_array({DType::f32, {8, 12}}, 5)},
                {"y", random_array({DType::i32, {8}}, 6)}};
    for (int step = 0; step < kSteps; ++step) {
      if (run == 0) {
        CompileRequest req;
        req.graph = &m.graph;
        req.outputs = m.outputs;
        req.updates = m.updates;
        results[run].push_back(
            get_backend("interp").compile(req, ctxs[run]->params_ptr())->run(feeds)[0]);
      } else {
        prog = lower_to_kernels(m, verified());
        results[run].push_back(run_program(prog, feeds, ctxs[run]->params(), true)[0]);
      }
    }
  }
  EXPECT_LT(prog.arena_bytes, prog.unplanned_bytes) << kir::print_program(prog);
  bool in_place = false;
  for (auto& [p, v] : prog.updates) in_place |= p == v;
  EXPECT_TRUE(in_place) << kir::print_program(prog);
  for (int step = 0; step < kSteps; ++step)
    EXPECT_NEAR(results[1][static_cast<size_t>(step)].get(0),
                results[0][static_cast<size_t>(step)].get(0), 1e-5);
  for (const char* name : {"w1", "b1", "w2"}) {
    const Array &a = ctxs[0]->params().get(name), &b = ctxs[1]->params().get(name);
    for (int64_t i = 0; i < a.numel(); ++i)
      EXPECT_NEAR(b.get(i), a.get(i), 1e-5) << name << "[" << i << "]";
  }
}

}  // namespace
}  // namespace soma

namespace soma {
namespace {

// Momentum's update reads the new velocity: the velocity is still updated in place (its readers
// then read the parameter), and parameters, velocities and losses match the graph interpreter.
TEST(LoweringUpdates, MomentumSlotsUpdateInPlace) {
  const int kSteps = 3;
  std::shared_ptr<Context> ctxs[2] = {std::make_shared<Context>(), std::make_shared<Context>()};
  std::vector<Array> results[2];
  kir::Program prog;
  for (int run = 0; run < 2; ++run) {
    ContextScope scope(ctxs[run]);
    Tensor x = input("x", {8, 12}), y = input("y", {8}, DType::i32);
    Tensor w = param("w", {12, 4}, "glorot_uniform", 1), b = param("b", {4}, "uniform", 2);
    Tensor vw = param("w/momentum", {12, 4}, "zeros"), vb = param("b/momentum", {4}, "zeros");
    Tensor loss = cross_entropy(matmul(x, w) + b, y);
    auto g = grad(loss, {w, b});
    Tensor nvw = vw * 0.9 + g[0], nvb = vb * 0.9 + g[1];
    Tensor nw = w - nvw * 0.1, nb = b - nvb * 0.1;
    Module m;
    std::vector<NodeId> map;
    m.graph = extract(
        ctxs[run]->graph(),
        {loss.id(), w.id(), b.id(), vw.id(), vb.id(), nw.id(), nb.id(), nvw.id(), nvb.id()}, &map);
    auto id = [&](const Tensor& t) { return map[static_cast<size_t>(t.id())]; };
    m.outputs = {id(loss)};
    m.updates = {{id(vw), id(nvw)}, {id(vb), id(nvb)}, {id(w), id(nw)}, {id(b), id(nb)}};
    Feeds feeds{{"x", random_array({DType::f32, {8, 12}}, 5)},
                {"y", random_array({DType::i32, {8}}, 6)}};
    for (int step = 0; step < kSteps; ++step) {
      if (run == 0) {
        CompileRequest req;
        req.graph = &m.graph;
        req.outputs = m.outputs;
        req.updates = m.updates;
        results[run].push_back(
            get_backend("interp").compile(req, ctxs[run]->params_ptr())->run(feeds)[0]);
      } else {
        prog = lower_to_kernels(m, verified());
        results[run].push_back(run_program(prog, feeds, ctxs[run]->params(), true)[0]);
      }
    }
  }
  ASSERT_EQ(prog.updates.size(), 4u);
  for (auto& [p, v] : prog.updates)
    EXPECT_EQ(p, v) << prog.buffers[static_cast<size_t>(p)].name << " is not updated in place\n"
                    << kir::print_program(prog);
  for (int step = 0; step < kSteps; ++step)
    EXPECT_NEAR(results[1][static_cast<size_t>(step)].get(0),
                results[0][static_cast<size_t>(step)].get(0), 1e-5);
  for (const char* name : {"w", "b", "w/momentum", "b/momentum"}) {
    const Array &a = ctxs[0]->params().get(name), &b = ctxs[1]->params().get(name);
    for (int64_t i = 0; i < a.numel(); ++i)
      EXPECT_NEAR(b.get(i), a.get(i), 1e-5) << name << "[" << i << "]";
  }
}

}  // namespace
}  // namespace soma
