// Every pass keeps every value: interp(before) == interp(after) on random inputs, for random
// well-typed graphs and for models built with the tensor API (MLP forward and backward with SGD
// updates, softmax, conv + pooling, layer norm, dropout).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>

#include "frontend/compile.h"
#include "graph/builder.h"
#include "pass_test_util.h"
#include "passes/cse.h"
#include "passes/dce.h"
#include "passes/pipeline.h"
#include "passes/simplify.h"

namespace soma {
namespace {

struct NamedPass {
  std::string name;
  pass_test::PassFn run;
};

std::vector<NamedPass> all_passes() {
  FoldFn fold = make_interp_fold_fn();
  return {
      {"dce", dce},
      {"cse", cse},
      {"simplify", [fold](Module& m) { return simplify(m, fold); }},
      {"simplify without folding", [](Module& m) { return simplify(m, FoldFn{}); }},
      {"pipeline",
       [fold](Module& m) {
         PipelineOptions o;
         o.verify = true;
         o.fold = fold;
         optimize_graph(m, o);
         return true;
       }},
  };
}

// Runs every pass on a copy of `m` and checks the copy against `m` on random inputs.
void check_all_passes(const Module& m, const std::string& what, bool specials) {
  for (const NamedPass& p : all_passes()) {
    Module after = m;
    p.run(after);
    ASSERT_NO_THROW(verify(after.graph)) << what << ", " << p.name;
    ASSERT_EQ(after.outputs.size(), m.outputs.size());
    ASSERT_EQ(after.updates.size(), m.updates.size());
    pass_test::expect_equivalent(m, after, what + ", " + p.name, 3, 7, specials);
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "before:\n"
                    << print_graph(m.graph, m.outputs) << "after " << p.name << ":\n"
                    << print_graph(after.graph, after.outputs);
      return;
    }
  }
}

// ---- random graphs ----------------------------------------------------------------------------

// Grows a random well-typed graph with the Builder, biased towards the patterns the passes
// rewrite: identities with 0, 1 and -1, double negations, reshape/permute/cast chains, splat
// constants, constant subgraphs and exact duplicates.
class RandomGraph {
 public:
  explicit RandomGraph(unsigned seed) : rng_(seed), b_(g_) {
    auto f32 = [](Shape s) { return TensorType{DType::f32, std::move(s)}; };
    floats_ = {b_.input("x", f32({2, 3})),
               b_.input("y", f32({2, 3})),
               b_.input("z", f32({3})),
               b_.input("s", f32({})),
               b_.param("w", f32({3, 2})),
               b_.scalar(0, DType::f32),
               b_.scalar(1, DType::f32),
               b_.scalar(-1, DType::f32),
               b_.constant({0.5, -1, 2, 0, 1, 3}, f32({2, 3}))};
    ints_ = {b_.input("n", TensorType{DType::i32, Shape{2, 3}}), b_.scalar(0, DType::i32),
             b_.scalar(1, DType::i32)};
    bools_ = {b_.input("c", TensorType{DType::boolean, Shape{2, 3}})};
  }

  // The module whose outputs are every value nothing else uses (so that almost every node is
  // live), plus a few random ones.
  Module build(int steps) {
    for (int i = 0; i < steps; ++i) step();
    std::vector<char> used(static_cast<size_t>(g_.size()), 0);
    for (const Node& n : g_.nodes())
      for (NodeId i : n.inputs) used[static_cast<size_t>(i)] = 1;
    Module m;
    for (NodeId id = 0; id < g_.size(); ++id)
      if (!used[static_cast<size_t>(id)] && !has_trait(g_.node(id).op, Src))
        m.outputs.push_back(id);
    for (int k = 0; k < 3; ++k) m.outputs.push_back(pick_any());
    m.graph = g_;
    return m;
  }

 private:
  int uniform(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  NodeId pick(const std::vector<NodeId>& pool) {
    return pool[static_cast<size_t>(uniform(static_cast<int>(pool.size())))];
  }
  NodeId pick_any() { return uniform(g_.size()); }

  void keep(NodeId id) {
    DType t = g_.node(id).type.dtype;
    (is_float(t) ? floats_ : t == DType::i32 ? ints_ : bools_).push_back(id);
  }

  // A float node broadcastable with `a` (else a scalar).
  NodeId partner(NodeId a) {
    for (int tries = 0; tries < 8; ++tries) {
      NodeId c = pick(floats_);
      if (g_.node(c).type.dtype == g_.node(a).type.dtype &&
          broadcast_shapes(g_.node(a).type.shape, g_.node(c).type.shape))
        return c;
    }
    return b_.scalar(2, g_.node(a).type.dtype);
  }

  void step() {
    static const Op kUnary[] = {Op::Neg, Op::Abs,  Op::Exp,   Op::Tanh,        Op::Sigmoid,
                                Op::Sin, Op::Sqrt, Op::Log,   Op::Floor,       Op::Sign,
                                Op::Neg, Op::Neg,  Op::Expm1, Op::StopGradient};
    static const Op kBinary[] = {Op::Add, Op::Sub, Op::Mul, Op::Div, Op::Max, Op::Min, Op::Pow};
    static const Op kCompare[] = {Op::Lt, Op::Gt, Op::Eq, Op::Ne};
    static const double kScalars[] = {0, 1, -1, 2, -0.0};
    NodeId a = pick(floats_);
    const Shape sa = g_.node(a).type.shape;
    switch (uniform(16)) {
      case 0:
      case 1:
        keep(b_.unary(kUnary[uniform(std::size(kUnary))], a));
        break;
      case 2:
      case 3:
        keep(b_.binary(kBinary[uniform(std::size(kBinary))], a, partner(a)));
        break;
      case 4: {  // identities with 0, 1, -1 on either side
        Op op = kBinary[uniform(4)];
        double s = kScalars[uniform(std::size(kScalars))];
        keep(uniform(2) ? b_.binary_scalar(op, a, s) : b_.scalar_binary(op, s, a));
        break;
      }
      case 5:
        keep(b_.binary(kCompare[uniform(std::size(kCompare))], a, partner(a)));
        break;
      case 6: {
        NodeId c = pick(bools_);
        NodeId x = a, y = uniform(3) ? partner(a) : a;
        if (!broadcast_shapes(g_.node(c).type.shape, g_.node(x).type.shape) ||
            !broadcast_shapes(g_.node(c).type.shape, g_.node(y).type.shape))
          break;
        if (uniform(2)) c = b_.unary(Op::Not, c);
        keep(b_.select(c, x, y));
        break;
      }
      case 7: {  // reshape chains
        NodeId r = b_.reshape(a, Shape{sa.numel()});
        std::vector<int64_t> dims = sa.dims();
        std::reverse(dims.begin(), dims.end());
        keep(b_.reshape(r, uniform(2) ? sa : Shape(dims)));
        break;
      }
      case 8: {  // permute chains
        if (sa.rank() < 2) break;
        std::vector<int64_t> p(static_cast<size_t>(sa.rank()));
        for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<int64_t>(i);
        std::shuffle(p.begin(), p.end(), rng_);
        NodeId t = b_.permute(a, p);
        std::shuffle(p.begin(), p.end(), rng_);
        keep(uniform(2) ? b_.permute(t, p) : b_.transpose_last2(b_.transpose_last2(a)));
        break;
      }
      case 9: {
        if (sa.rank() == 0) break;
        std::vector<int64_t> axes;
        for (int i = 0; i < sa.rank(); ++i)
          if (uniform(2)) axes.push_back(i);
        if (axes.empty()) axes.push_back(0);
        keep(b_.reduce(uniform(2) ? Op::ReduceSum : Op::ReduceMax, a, axes, uniform(2)));
        break;
      }
      case 10: {  // casts
        switch (uniform(4)) {
          case 0:
            keep(b_.cast(b_.cast(a, DType::f64), DType::f32));
            break;
          case 1:
            keep(b_.cast(b_.cast(a, DType::i32), DType::f32));
            break;
          case 2:
            keep(b_.cast(b_.cast(pick(ints_), DType::f64), DType::f32));
            break;
          default:
            keep(b_.cast(b_.cast(pick(bools_), DType::i32), DType::f32));
        }
        break;
      }
      case 11: {  // integers
        NodeId n = pick(ints_), m = pick(ints_);
        if (!broadcast_shapes(g_.node(n).type.shape, g_.node(m).type.shape)) break;
        Op op = std::array{Op::Add, Op::Sub, Op::Mul, Op::Max}[static_cast<size_t>(uniform(4))];
        keep(uniform(3) ? b_.binary(op, n, m) : b_.binary(op, n, n));
        break;
      }
      case 12: {  // an exact duplicate of an earlier node
        const Node n = g_.node(pick_any());
        keep(g_.add(n.op, n.inputs, n.attrs, n.type));
        break;
      }
      case 13: {  // matmul, or movement of 2-D values
        if (sa != Shape{2, 3}) break;
        switch (uniform(4)) {
          case 0:
            keep(b_.matmul(a, floats_[4]));
            break;
          case 1:
            keep(b_.slice(a, {0, 1}, {2, 3}, {1, 1}));
            break;
          case 2:
            keep(b_.pad(a, {0, 1}, {1, 0}, {0, 0}, uniform(2) ? 0.0 : 1.0));
            break;
          default:
            keep(b_.flip(a, {uniform(2) ? 0 : 1}));
        }
        break;
      }
      case 14: {  // constant subgraphs
        NodeId c = b_.constant({1, 2, 3}, TensorType{DType::f32, Shape{3}});
        NodeId d = b_.fill(uniform(2) ? 0.0 : 1.5, TensorType{DType::f32, Shape{2, 3}});
        keep(b_.binary(kBinary[uniform(std::size(kBinary))], c, d));
        break;
      }
      default:  // broadcasts of scalars
        keep(b_.binary(kBinary[uniform(4)], a,
                       b_.broadcast_to(floats_[static_cast<size_t>(5 + uniform(3))], sa)));
    }
  }

  std::mt19937 rng_;
  Graph g_;
  Builder b_;
  std::vector<NodeId> floats_, ints_, bools_;
};

TEST(PassEquivalence, RandomGraphs) {
  int total_before = 0, total_after = 0;
  for (unsigned seed = 1; seed <= 60; ++seed) {
    Module m = RandomGraph(seed).build(40);
    check_all_passes(m, "random graph " + std::to_string(seed), /*specials=*/false);
    if (HasFailure()) return;
    Module opt = m;
    all_passes().back().run(opt);
    total_before += m.graph.size();
    total_after += opt.graph.size();
  }
  std::cout << "[ info ] random graphs: " << total_before << " nodes before, " << total_after
            << " after the pipeline\n";
  EXPECT_LT(total_after, total_before);
}

TEST(PassEquivalence, RandomGraphsWithSpecialValues) {
  // inf, nan, 0 and -0 inputs: the rewrites must keep them too (-0 may become +0, which the
  // comparison allows; see simplify.h).
  for (unsigned seed = 100; seed < 130; ++seed) {
    check_all_passes(RandomGraph(seed).build(30), "random graph " + std::to_string(seed), true);
    if (HasFailure()) return;
  }
}

// ---- models built with the tensor API ---------------------------------------------------------

// The module compile() would hand to the passes: the nodes the outputs and updates need.
Module module_of(const std::vector<Tensor>& outputs,
                 const std::vector<std::pair<Tensor, Tensor>>& updates = {}) {
  const Graph& g =
      outputs.empty() ? updates[0].first.context().graph() : outputs[0].context().graph();
  std::vector<NodeId> roots;
  for (const Tensor& t : outputs) roots.push_back(t.id());
  for (auto& [p, v] : updates) {
    roots.push_back(p.id());
    roots.push_back(v.id());
  }
  std::vector<NodeId> map;
  Module m;
  m.graph = extract(g, roots, &map);
  for (const Tensor& t : outputs) m.outputs.push_back(map[static_cast<size_t>(t.id())]);
  for (auto& [p, v] : updates)
    m.updates.emplace_back(map[static_cast<size_t>(p.id())], map[static_cast<size_t>(v.id())]);
  return m;
}

TEST(PassEquivalence, MlpTrainingStep) {
  ContextScope scope(std::make_shared<Context>());
  Tensor x = input("x", {8, 4}), labels = input("labels", {8}, DType::i32);
  Tensor w1 = param("w1", {4, 16}), b1 = param("b1", {16}, "zeros");
  Tensor w2 = param("w2", {16, 3}), b2 = param("b2", {3}, "zeros");
  Tensor logits = matmul(relu(matmul(x, w1) + b1), w2) + b2;
  Tensor loss = cross_entropy(logits, labels);
  std::vector<Tensor> ps = {w1, b1, w2, b2};
  std::vector<Tensor> gs = grad(loss, ps);
  std::vector<std::pair<Tensor, Tensor>> updates;
  for (size_t i = 0; i < ps.size(); ++i) updates.emplace_back(ps[i], ps[i] - gs[i] * 0.1);
  check_all_passes(module_of({loss, softmax(logits)}, updates), "mlp training step", false);
}

TEST(PassEquivalence, SoftmaxAndItsGradient) {
  ContextScope scope(std::make_shared<Context>());
  Tensor x = input("x", {4, 5}, DType::f64), t = input("t", {4, 5}, DType::f64);
  Tensor y = softmax(x, 1);
  Tensor l = sum(y * t) + sum(logsumexp(x, {0}));
  check_all_passes(module_of({y, l, grad(l, x)}), "softmax", true);
}

TEST(PassEquivalence, ConvPoolTrainingStep) {
  ContextScope scope(std::make_shared<Context>());
  Tensor x = input("x", {2, 1, 6, 6});
  Tensor w = param("cw", {3, 1, 3, 3}), b = param("cb", {3}, "zeros");
  Tensor y = max_pool2d(
      relu(conv2d(x, w, b, std::pair<int64_t, int64_t>{1, 1}, std::pair<int64_t, int64_t>{1, 1})),
      {2, 2});
  Tensor z = avg_pool2d(y, {3, 3});
  Tensor loss = mean(square(z - 0.5));
  auto gs = grad(loss, {w, b});
  check_all_passes(module_of({loss, y}, {{w, w - gs[0] * 0.01}, {b, b - gs[1] * 0.01}}),
                   "conv training step", false);
}

TEST(PassEquivalence, LayerNormDropoutAndEmbedding) {
  ContextScope scope(std::make_shared<Context>());
  Tensor ids = input("ids", {2, 3}, DType::i32), step = input("step", {}, DType::i32);
  Tensor table = param("table", {5, 4});
  Tensor h = layer_norm(embedding(ids, table));
  Tensor d = dropout(h, 0.25, 3, step);
  Tensor loss = sum(d * d) + sum(gelu(h));
  check_all_passes(module_of({loss, d, grad(loss, table)}), "layer norm + dropout", false);
}

}  // namespace
}  // namespace soma
