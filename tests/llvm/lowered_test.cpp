// End to end: graphs built with the frontend, lowered by passes/lower (fusion + lowering +
// memory planning), compiled by the llvm backend, against the graph interpreter and the kernel-IR
// evaluator.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "backends/interp/interp.h"
#include "frontend/compile.h"
#include "graph/printer.h"
#include "passes/pipeline.h"
#include "tests/llvm/llvm_test_util.h"

namespace soma::test {
namespace {

Array random_array(const TensorType& t, std::mt19937_64& rng) {
  Array a(t.dtype, t.shape);
  std::uniform_real_distribution<double> d(-2, 2);
  for (int64_t i = 0; i < a.numel(); ++i)
    a.set(i, t.dtype == DType::i32 ? std::floor(d(rng) + 2) : d(rng));
  return a;
}

struct Built {
  Module module;
  Feeds feeds;
};

// Extracts `outputs` (and updates, pairs of param and new value) from the context's graph and
// makes random feeds for its inputs.
Built build(Context& ctx, const std::vector<Tensor>& outputs,
            const std::vector<std::pair<Tensor, Tensor>>& updates, uint64_t seed) {
  Built b;
  std::vector<NodeId> roots, map;
  for (const Tensor& t : outputs) roots.push_back(t.id());
  for (auto& [p, v] : updates) {
    roots.push_back(p.id());
    roots.push_back(v.id());
  }
  b.module.graph = extract(ctx.graph(), roots, &map);
  for (const Tensor& t : outputs) b.module.outputs.push_back(map[static_cast<size_t>(t.id())]);
  for (auto& [p, v] : updates)
    b.module.updates.emplace_back(map[static_cast<size_t>(p.id())],
                                  map[static_cast<size_t>(v.id())]);
  std::mt19937_64 rng(seed);
  for (const Node& n : b.module.graph.nodes())
    if (n.op == Op::Input) b.feeds[n.attrs.get_str("name")] = random_array(n.type, rng);
  return b;
}

void expect_close(const std::vector<Array>& got, const std::vector<Array>& want, double tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t o = 0; o < got.size(); ++o) {
    ASSERT_EQ(got[o].shape(), want[o].shape()) << what;
    for (int64_t i = 0; i < got[o].numel(); ++i) {
      double e = want[o].get(i), a = got[o].get(i);
      if (std::isnan(e)) {
        ASSERT_TRUE(std::isnan(a)) << what << " output " << o << "[" << i << "]";
        continue;
      }
      ASSERT_NEAR(a, e, tol + tol * std::fabs(e)) << what << " output " << o << "[" << i << "]";
    }
  }
}

// Runs `steps` steps of the module on the interpreter and on the llvm backend (each with its own
// copy of the parameters) and compares outputs and parameters after every step.
void check_model(
    const std::string& name,
    const std::function<void(std::vector<Tensor>&, std::vector<std::pair<Tensor, Tensor>>&)>& make,
    int steps = 1, double tol = 1e-4, bool optimize = false) {
  SCOPED_TRACE(name);
  auto ctx = std::make_shared<Context>();
  ContextScope scope(ctx);
  std::vector<Tensor> outs;
  std::vector<std::pair<Tensor, Tensor>> updates;
  make(outs, updates);
  Built b = build(*ctx, outs, updates, 7);
  Module lowered = b.module;  // the interpreter runs the graph as built
  if (optimize) optimize_graph(lowered, PipelineOptions{});
  kir::Program prog = lower_to_kernels(lowered, PipelineOptions{});

  auto ref_params = std::make_shared<ParamStore>(), my_params = std::make_shared<ParamStore>();
  for (const std::string& n : ctx->params().names()) {
    ref_params->set(n, ctx->params().get(n).clone());
    my_params->set(n, ctx->params().get(n).clone());
  }
  CompileRequest ref_req;
  ref_req.graph = &b.module.graph;
  ref_req.outputs = b.module.outputs;
  ref_req.updates = b.module.updates;
  auto ref = get_backend("interp").compile(ref_req, ref_params);
  CompileRequest req = ref_req;
  req.program = &prog;
  auto mine = get_backend("llvm").compile(req, my_params);
  for (int s = 0; s < steps; ++s) {
    std::string what = name + " step " + std::to_string(s) + "\n" + kir::print_program(prog);
    expect_close(mine->run(b.feeds), ref->run(b.feeds), tol, what);
    for (const std::string& n : ref_params->names())
      expect_close({my_params->get(n)}, {ref_params->get(n)}, tol, what + " param " + n);
  }
}

TEST(LlvmLowered, MlpTrainingStep) {
  check_model(
      "mlp",
      [](auto& outs, auto& updates) {
        Tensor x = input("x", {32, 50}), y = input("y", {32}, DType::i32);
        Tensor w1 = param("w1", {50, 40}, "glorot_uniform", 1),
               b1 = param("b1", {40}, "uniform", 2);
        Tensor w2 = param("w2", {40, 10}, "glorot_uniform", 3),
               b2 = param("b2", {10}, "uniform", 4);
        Tensor loss = cross_entropy(matmul(relu(matmul(x, w1) + b1), w2) + b2, y);
        auto g = grad(loss, {w1, b1, w2, b2});
        outs = {loss};
        updates = {{w1, w1 - g[0] * 0.1},
                   {b1, b1 - g[1] * 0.1},
                   {w2, w2 - g[2] * 0.1},
                   {b2, b2 - g[3] * 0.1}};
      },
      3);
}

TEST(LlvmLowered, ConvPoolAndGradients) {
  check_model(
      "conv",
      [](auto& outs, auto& updates) {
        Tensor x = input("x", {2, 3, 9, 9});
        Tensor w = param("w", {4, 3, 3, 3}, "he_uniform", 1),
               bias = param("bias", {4}, "uniform", 2);
        Tensor h = relu(conv2d(x, w, bias, {1, 1}, {1, 1}));
        Tensor p = max_pool2d(h, {2, 2});
        Tensor loss = mean(square(p));
        auto g = grad(loss, {w, bias});
        outs = {loss, p};
        updates = {{w, w - g[0] * 0.05}, {bias, bias - g[1] * 0.05}};
      },
      2);
}

// The Fashion-MNIST CNN's layers at a batch large enough for the GEMM code path, split-K (the
// first convolution's weight gradient: k = 8*26*26) and transposed narrow products (its 9
// columns, the 10 logits).
TEST(LlvmLowered, ConvNetAtTrainingSizes) {
  check_model(
      "cnn",
      [](auto& outs, auto& updates) {
        Tensor x = input("x", {8, 1, 28, 28}), y = input("y", {8}, DType::i32);
        Tensor w1 = param("w1", {32, 1, 3, 3}, "he_uniform", 1),
               b1 = param("b1", {32}, "uniform", 2);
        Tensor w2 = param("w2", {16, 32, 3, 3}, "he_uniform", 3),
               b2 = param("b2", {16}, "uniform", 4);
        Tensor w3 = param("w3", {400, 10}, "glorot_uniform", 5),
               b3 = param("b3", {10}, "uniform", 6);
        Tensor h = max_pool2d(relu(conv2d(x, w1, b1, {1, 1}, "valid")), {2, 2});
        h = max_pool2d(relu(conv2d(h, w2, b2, {1, 1}, "valid")), {2, 2});
        Tensor logits = matmul(reshape(h, {8, 400}), w3) + b3;
        Tensor loss = cross_entropy(logits, y);
        auto g = grad(loss, {w1, b1, w2, b2, w3, b3});
        outs = {loss, logits};
        updates = {{w1, w1 - g[0] * 0.05}, {b1, b1 - g[1] * 0.05}, {w2, w2 - g[2] * 0.05},
                   {b2, b2 - g[3] * 0.05}, {w3, w3 - g[4] * 0.05}, {b3, b3 - g[5] * 0.05}};
      },
      2, 2e-4, /*optimize=*/true);
}

TEST(LlvmLowered, NormalizationsAndActivations) {
  check_model("norms", [](auto& outs, auto&) {
    Tensor x = input("x", {6, 33});
    outs = {softmax(x, -1), log_softmax(x, 0),
            layer_norm(x),  gelu(x),
            gelu(x, true),  elu(x),
            softplus(x),    logsumexp(x, {1}),
            var(x, {0}),    sigmoid(x) * tanh(x) + erf(x)};
  });
}

TEST(LlvmLowered, EmbeddingAndItsGradient) {
  check_model(
      "embedding",
      [](auto& outs, auto& updates) {
        Tensor ids = input("ids", {5, 3}, DType::i32);
        Tensor table = param("table", {6, 4}, "uniform", 9);
        Tensor loss = sum(square(embedding(ids, table)));
        Tensor g = grad(loss, table);
        outs = {loss};
        updates = {{table, table - g * 0.5}};
      },
      2);
}

TEST(LlvmLowered, DropoutAndRandom) {
  check_model("dropout", [](auto& outs, auto&) {
    Tensor x = input("x", {40, 25});
    outs = {dropout(x, 0.3, 11), rand({7, 9}, 5), randn({4, 4}, 6)};
  });
}

TEST(LlvmLowered, MovementOps) {
  check_model("movement", [](auto& outs, auto&) {
    Tensor x = input("x", {4, 6}), z = input("z", {3, 4});
    outs = {transpose(x),
            flip(x, {0, 1}),
            concat({x, x * 2.0}, 1),
            pad(x, {{1, 2}, {0, 3}}),
            reshape(x, {2, 12}) + 1.0,
            matmul(z, x),
            matmul(transpose(x), transpose(z))};
  });
}

// Random graphs from a small pool of ops: llvm against the kernel-IR evaluator on the same
// lowered program (so a difference is the code generator's), and against the interpreter.
TEST(LlvmLowered, RandomGraphs) {
  int checked = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    auto ctx = std::make_shared<Context>();
    ContextScope scope(ctx);
    std::mt19937_64 rng(seed * 7919);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    static const std::vector<Shape> shapes = {{5, 7}, {7}, {1, 7}, {5, 1}, {3, 5, 7}};
    std::vector<Tensor> pool;
    for (int i = 0, inputs = pick(1, 3); i < inputs; ++i) {
      std::string name = "x";
      name += std::to_string(i);
      pool.push_back(input(name, shapes[static_cast<size_t>(pick(0, 4))]));
    }
    auto any = [&] {
      return pool[static_cast<size_t>(pick(0, static_cast<int>(pool.size()) - 1))];
    };
    try {
      for (int s = 0, n = pick(3, 10); s < n; ++s) {
        Tensor a = any();
        switch (pick(0, 11)) {
          case 0:
            pool.push_back(a + any());
            break;
          case 1:
            pool.push_back(a * any() - 0.5);
            break;
          case 2:
            pool.push_back(exp(-abs(a)) + tanh(a));
            break;
          case 3:
            pool.push_back(a.rank() ? sum(a, {-1}, pick(0, 1) == 1) : a);
            break;
          case 4:
            pool.push_back(a.rank() ? max(a, {0}, true) : a);
            break;
          case 5:
            pool.push_back(a.rank() ? softmax(a, -1) : a);
            break;
          case 6:
            pool.push_back(transpose(a));
            break;
          case 7:
            pool.push_back(a.rank() == 2 ? matmul(a, transpose(a)) : a);
            break;
          case 8:
            pool.push_back(where(a > 0.0, a, any() * 2.0));
            break;
          case 9:
            pool.push_back(a.rank() ? flip(a, {0}) : a);
            break;
          case 10:
            pool.push_back(sigmoid(a) * relu(a));
            break;
          default:
            pool.push_back(mean(a));
            break;
        }
      }
    } catch (const ShapeError&) {
      continue;
    }
    Built b = build(*ctx, {pool.back()}, {}, seed);
    kir::Program prog = lower_to_kernels(b.module, PipelineOptions{});
    CompileRequest req;
    req.program = &prog;
    auto mine = get_backend("llvm").compile(req, ctx->params_ptr())->run(b.feeds);
    auto eval = run_program(prog, b.feeds, ctx->params(), false);
    auto ref = interpret(b.module.graph, b.module.outputs, b.feeds, ctx->params());
    std::string what = "seed " + std::to_string(seed) + "\n" + kir::print_program(prog);
    expect_close(mine, eval, 2e-5, what);
    expect_close(mine, ref, 1e-4, what);
    ++checked;
  }
  EXPECT_GT(checked, 30);
}

}  // namespace
}  // namespace soma::test
