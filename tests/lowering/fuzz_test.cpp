// Random well-typed graphs through fusion, lowering and memory planning: the lowered program
// must agree with the graph interpreter on random inputs. The graphs mix elementwise ops,
// reductions, row kernels, matmuls, movement ops (pad, concat, slices, flips), windows
// (convolutions and pooling), gathers, and the gradients of all of these (unwindows, scatters,
// transposed index maps), so that fusion's legality rules meet every construct lowering builds.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "backends/interp/interp.h"
#include "backends/interp/kernel_eval.h"
#include "frontend/compile.h"
#include "graph/kernel_ir.h"
#include "graph/kernel_parser.h"
#include "graph/printer.h"
#include "passes/pipeline.h"

namespace soma {
namespace {

// The pipeline's options with the IR verifiers on, in every build.
PipelineOptions verified() {
  PipelineOptions o;
  o.verify = true;
  return o;
}

// Builds a random graph from a pool of f32 tensors of a few related shapes.
class RandomGraph {
 public:
  explicit RandomGraph(uint64_t seed) : rng_(seed) {}

  std::vector<Tensor> build() {
    int n_inputs = pick(1, 3);
    for (int i = 0; i < n_inputs; ++i)
      pool_.push_back(input("x" + std::to_string(i), random_shape()));
    int steps = pick(3, 12);
    for (int s = 0; s < steps; ++s) pool_.push_back(step());
    std::vector<Tensor> outs{pool_.back()};
    if (pick(0, 1))
      outs.push_back(pool_[static_cast<size_t>(pick(0, static_cast<int>(pool_.size()) - 1))]);
    if (pick(0, 2) == 0) {
      // The gradients of a scalar function of the output, with respect to the inputs and
      // weights: the backward pass's transposed index maps, unwindows and scatters.
      Tensor y = pool_.back();
      Tensor loss = sum(y * y);
      std::vector<Tensor> wrt(pool_.begin(), pool_.begin() + n_inputs);
      wrt.insert(wrt.end(), weights_.begin(), weights_.end());
      for (const Tensor& g : grad(loss, wrt)) outs.push_back(g);
    }
    return outs;
  }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  Shape random_shape() {
    static const std::vector<Shape> shapes = {{4, 6}, {6}, {1, 6}, {4, 1}, {2, 4, 6}, {4, 6}};
    return shapes[static_cast<size_t>(pick(0, static_cast<int>(shapes.size()) - 1))];
  }
  Tensor any() { return pool_[static_cast<size_t>(pick(0, static_cast<int>(pool_.size()) - 1))]; }

  Tensor step() {
    Tensor a = any();
    switch (pick(0, 22)) {
      case 0:
        return a + any();
      case 1:
        return a * any();
      case 2:
        return a - any() * 0.5;
      case 3:
        return tanh(a);
      case 4:
        return exp(-abs(a));
      case 5:
        return relu(a);
      case 6:
        return sigmoid(a) * a;
      case 7:
        return a.rank() > 0 ? sum(a, {-1}, pick(0, 1) == 1) : a;
      case 8:
        return a.rank() > 0 ? max(a, {0}, true) : a;
      case 9:
        return a.rank() > 0 ? softmax(a, -1) : a;
      case 10:
        return transpose(a);
      case 11:
        return reshape(a, {-1});
      case 12:
        if (a.rank() == 2 && a.shape()[1] > 1) return matmul(a, transpose(a));
        return a;
      case 13:
        return where(a > 0.0, a, any() * 2.0);
      case 14:
        return a.rank() >= 1 ? flip(a, {0}) : a;
      case 15:  // masked reads: a pad cut back to the shape
        if (a.rank() >= 1) {
          Tensor p = pad(a, {{1, 2}}, 0.5);
          std::vector<Index> items;
          for (int i = 0; i < a.rank(); ++i) items.push_back(Slice{1, 1 + a.shape()[i], 1});
          return index(p, items);
        }
        return a;
      case 16:  // concat of two parts, then one half of it
        if (a.rank() >= 1) {
          Tensor c = concat({a * 2.0, exp(a)}, -1);
          return index(
              c, {Ellipsis{}, Slice{a.shape()[a.rank() - 1] / 2,
                                    a.shape()[a.rank() - 1] / 2 + a.shape()[a.rank() - 1], 1}});
        }
        return a;
      case 17:  // every other element, reversed
        if (a.rank() >= 1) return index(a, {Ellipsis{}, Slice{std::nullopt, std::nullopt, -2}});
        return a;
      case 18:  // a same-size convolution (window + matmul)
      case 19:  // pooling over overlapping windows (window + reduction)
        if (a.rank() == 2) {
          Tensor img = reshape(a, {1, 1, a.shape()[0], a.shape()[1]});
          Tensor out = pick(0, 1) ? conv2d(img, weight({2, 1, 3, 3}), std::nullopt, {1, 1}, {1, 1})
                                  : avg_pool2d(img, {3, 3}, {1, 1}, {1, 1});
          if (out.shape()[1] == 2) out = sum(out, {1});
          return reshape(out, {a.shape()[0], a.shape()[1]});
        }
        return a;
      case 20:
        if (a.rank() == 2 && a.shape()[0] >= 2 && a.shape()[1] >= 2) {
          Tensor img = reshape(a, {1, 1, a.shape()[0], a.shape()[1]});
          Tensor out = max_pool2d(img, {2, 2}, {1, 1});
          return sum(out) + a;
        }
        return a;
      case 21:  // an embedding lookup (gather), summed back to the ids' shape
      {
        Tensor ids = cast(floor(abs(a) * 2.0), DType::i32);
        return sum(embedding(ids, weight({5, 3})), {-1});
      }
      default:
        return mean(a);
    }
  }

  // A parameter-like input (its gradient is taken too).
  Tensor weight(const Shape& shape) {
    Tensor w = input("w" + std::to_string(weights_.size()), shape);
    weights_.push_back(w);
    return w;
  }

 public:
  const std::vector<Tensor>& weights() const { return weights_; }

 private:
  std::vector<Tensor> weights_;

  std::mt19937_64 rng_;
  std::vector<Tensor> pool_;
};

TEST(LoweringFuzz, RandomGraphsMatchInterpreter) {
  int checked = 0;
  for (uint64_t seed = 1; seed <= 1000; ++seed) {
    auto ctx = std::make_shared<Context>();
    ContextScope scope(ctx);
    std::vector<Tensor> outs;
    try {
      outs = RandomGraph(seed).build();
    } catch (const ShapeError&) {
      continue;  // the random choice broke a broadcasting rule: not a case
    }
    Module m;
    std::vector<NodeId> roots, map;
    for (const Tensor& t : outs) roots.push_back(t.id());
    m.graph = extract(ctx->graph(), roots, &map);
    for (NodeId r : roots) m.outputs.push_back(map[static_cast<size_t>(r)]);
    Feeds feeds;
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> d(-2, 2);
    for (const Node& n : m.graph.nodes())
      if (n.op == Op::Input) {
        Array a(n.type.dtype, n.type.shape);
        for (int64_t i = 0; i < a.numel(); ++i) a.set(i, d(rng));
        feeds[n.attrs.get_str("name")] = a;
      }
    // Half the graphs as the frontend built them, half as the graph passes leave them.
    if (seed % 2 == 0) optimize_graph(m, PipelineOptions{});
    kir::Program p = lower_to_kernels(m, verified());
    // Its text reads back as the same program, which computes the same values.
    kir::Program back = kir::parse_program(kir::print_program(p, true));
    auto diff = kir::difference(back, p);
    ASSERT_FALSE(diff) << "seed " << seed << ": " << *diff << "\n" << kir::print_program(p, true);
    auto expected = interpret(m.graph, m.outputs, feeds, ctx->params());
    auto actual = run_program(p, feeds, ctx->params(), false);
    auto replayed = run_program(back, feeds, ctx->params(), false);
    for (size_t o = 0; o < actual.size(); ++o)
      ASSERT_EQ(0, std::memcmp(actual[o].raw(), replayed[o].raw(), actual[o].nbytes()))
          << "seed " << seed << " output " << o;
    ASSERT_EQ(expected.size(), actual.size());
    for (size_t o = 0; o < expected.size(); ++o)
      for (int64_t i = 0; i < expected[o].numel(); ++i) {
        double e = expected[o].get(i), a = actual[o].get(i);
        if (std::isnan(e) && std::isnan(a)) continue;
        ASSERT_NEAR(a, e, 1e-4 + 1e-4 * std::fabs(e))
            << "seed " << seed << " output " << o << "[" << i << "]\n"
            << print_graph(m.graph, m.outputs) << kir::print_program(p);
      }
    ++checked;
  }
  EXPECT_GT(checked, 850);
}

}  // namespace
}  // namespace soma
