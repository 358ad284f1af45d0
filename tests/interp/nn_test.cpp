// Neural-network functions: softmax family (stable for large logits), one_hot, embedding and the
// gather/scatter_add primitives, dropout, layer_norm.
#include <cmath>

#include "interp/expect.h"

namespace soma {
namespace {

using namespace soma::test;

using NN = OpTest;

TEST_F(NN, Softmax) {
  EXPECT_TRUE(ArrayIs(run(softmax(cf32({1, 2, 3}, {3}))), DType::f32, {3},
                      {0.09003057317038043, 0.24472847105479767, 0.6652409557748218}));
  // Large logits: no overflow, no NaN.
  Tensor big = cf32({1000, 0, 1000, 1000, -1000, -1000}, {3, 2});
  EXPECT_TRUE(ArrayIs(run(softmax(big)), DType::f32, {3, 2}, {1, 0, 0.5, 0.5, 0.5, 0.5}));
  // Along axis 0.
  Tensor x = cf32({1, 2, 3, 5}, {2, 2});
  EXPECT_TRUE(
      ArrayIs(run(softmax(x, 0)), DType::f32, {2, 2},
              {0.11920292202211755, 0.04742587317756679, 0.8807970779778824, 0.9525741268224333}));
  EXPECT_TRUE(
      ArrayIs(run(softmax(x, -2)), DType::f32, {2, 2},
              {0.11920292202211755, 0.04742587317756679, 0.8807970779778824, 0.9525741268224333}));
  // -inf logits get probability 0; integers compute in f32.
  EXPECT_TRUE(ArrayIs(run(softmax(cf32({-kInf, 0, 0}, {3}))), DType::f32, {3}, {0, 0.5, 0.5}));
  EXPECT_TRUE(ArrayIs(run(softmax(ci32({1, 2, 3}, {3}))), DType::f32, {3},
                      {0.09003057317038043, 0.24472847105479767, 0.6652409557748218}));
}

TEST_F(NN, LogSoftmax) {
  EXPECT_TRUE(ArrayIs(run(log_softmax(cf32({1, 2, 3}, {3}))), DType::f32, {3},
                      {-2.4076059644443806, -1.4076059644443804, -0.40760596444438035}));
  Tensor big = cf32({1000, 0, -1000, 1000, 1000, 1000}, {3, 2});
  EXPECT_TRUE(ArrayIs(run(log_softmax(big)), DType::f32, {3, 2},
                      {0, -1000, -2000, 0, -0.6931471805599453, -0.6931471805599453}));
  EXPECT_TRUE(ArrayIs(run(log_softmax(cf32({-kInf, 0, 0}, {3}))), DType::f32, {3},
                      {-kInf, -0.6931471805599453, -0.6931471805599453}));
  Tensor x = cf32({1, 2, 3, 5}, {2, 2});
  EXPECT_TRUE(ArrayIs(
      run(log_softmax(x, 0)), DType::f32, {2, 2},
      {-2.1269280110429727, -3.048587351573742, -0.1269280110429727, -0.04858735157374206}));
}

TEST_F(NN, LogSoftmaxOfLargeLogitsKeepsFullPrecision) {
  // The shifted logits (0, -1) are exact; x - logsumexp(x) would lose the digits below
  // 1000's f32 ulp (6e-5).
  EXPECT_TRUE(ArrayIs(run(log_softmax(cf32({1000, 999}, {2}))), DType::f32, {2},
                      {-0.31326168751822286, -1.3132616875182228}));
  EXPECT_TRUE(ArrayIs(run(log_softmax(cf32({-1e6, -1e6 + 1}, {2}))), DType::f32, {2},
                      {-1.3132616875182228, -0.31326168751822286}));
}

TEST_F(NN, OneHot) {
  // Labels outside [0, n) give all zeros.
  Tensor labels = ci32({0, 2, -1, 3, 1}, {5});
  EXPECT_TRUE(ArrayIs(run(one_hot(labels, 3)), DType::f32, {5, 3},
                      {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0}));
  Tensor l2 = ci32({1, 0, 0, 1}, {2, 2});
  EXPECT_TRUE(ArrayIs(run(one_hot(l2, 2)), DType::f32, {2, 2, 2}, {0, 1, 1, 0, 1, 0, 0, 1}));
  EXPECT_TRUE(ArrayIs(run(one_hot(ci32({2}, {}), 4)), DType::f32, {4}, {0, 0, 1, 0}));
}

TEST_F(NN, EmbeddingReadsZerosOutOfRange) {
  Tensor table = cf32({0.5, 1, 2, 3, 4, 5, 6, 7}, {4, 2});
  Tensor ids = input("ids", {2, 2}, DType::i32);
  Array r = run(embedding(ids, table), {{"ids", i32({2, 2}, {0, 3, 5, -1})}});
  EXPECT_TRUE(ArrayIs(r, DType::f32, {2, 2, 2}, {0.5, 1, 6, 7, 0, 0, 0, 0}));
  EXPECT_TRUE(ArrayIs(run(embedding(ci32({2}, {}), table)), DType::f32, {2}, {4, 5}));
  // Repeated ids.
  EXPECT_TRUE(ArrayIs(run(embedding(ci32({1, 1}, {2}), table)), DType::f32, {2, 2}, {2, 3, 2, 3}));
}

TEST_F(NN, GatherPrimitive) {
  auto ctx = Context::current();
  Builder b = ctx->builder();
  Tensor table = cf32({0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23}, {3, 2, 2});
  Tensor ids = ci32({2, 0, 3}, {3});
  Tensor g(ctx, b.gather(table.id(), ids.id()));
  EXPECT_TRUE(ArrayIs(run(g), DType::f32, {3, 2, 2}, {20, 21, 22, 23, 0, 1, 2, 3, 0, 0, 0, 0}));
  // A 1-D table gives one value per id; i32 tables stay i32.
  Tensor t1 = ci32({7, 8, 9}, {3});
  Tensor g1(ctx, b.gather(t1.id(), ci32({2, 2, 0, -3}, {2, 2}).id()));
  EXPECT_TRUE(ArrayIs(run(g1), DType::i32, {2, 2}, {9, 9, 7, 0}));
}

TEST_F(NN, ScatterAddPrimitive) {
  auto ctx = Context::current();
  Builder b = ctx->builder();
  Tensor ids = ci32({0, 2, 0, 5, -1}, {5});
  Tensor upd = cf32({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {5, 2});
  // Out-of-range ids are dropped; repeated ids add up.
  Tensor s(ctx, b.scatter_add(ids.id(), upd.id(), TensorType{DType::f32, Shape{3, 2}}));
  EXPECT_TRUE(ArrayIs(run(s), DType::f32, {3, 2}, {6, 8, 0, 0, 3, 4}));
  // 2-D ids into a 1-D result, i32.
  Tensor ids2 = ci32({1, 1, 0, 3}, {2, 2});
  Tensor upd2 = ci32({5, 6, 7, 8}, {2, 2});
  Tensor s2(ctx, b.scatter_add(ids2.id(), upd2.id(), TensorType{DType::i32, Shape{4}}));
  EXPECT_TRUE(ArrayIs(run(s2), DType::i32, {4}, {7, 11, 0, 8}));
}

TEST_F(NN, DropoutZeroIsIdentity) {
  Tensor x = cf32({1, -2, 3}, {3});
  Tensor y = dropout(x, 0.0, 7);
  EXPECT_TRUE(ArrayIs(run(y), DType::f32, {3}, {1, -2, 3}));
}

TEST_F(NN, DropoutHalf) {
  const int n = 10000;
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(1 + i % 7);
  Tensor x = cf32(v, {n});
  Tensor off = input("off", {}, DType::i32);
  auto out = compile_interp({dropout(x, 0.5, 42), dropout(x, 0.5, 42), dropout(x, 0.5, 43),
                             dropout(x, 0.5, 42, off)})
                 .run({{"off", i32({}, {1})}});
  int kept = 0, same_seed_diff = 0, other_seed_diff = 0, other_offset_diff = 0;
  for (int i = 0; i < n; ++i) {
    double y = out[0].get(i), xi = v[static_cast<size_t>(i)];
    ASSERT_TRUE(y == 0 || y == 2 * xi) << "element " << i << " = " << y;
    kept += y != 0;
    same_seed_diff += out[1].get(i) != y;
    other_seed_diff += out[2].get(i) != y;
    other_offset_diff += out[3].get(i) != y;
  }
  // Binomial(10000, 0.5): standard deviation 50.
  EXPECT_GT(kept, 4800);
  EXPECT_LT(kept, 5200);
  EXPECT_EQ(same_seed_diff, 0);
  EXPECT_GT(other_seed_diff, 4000);
  EXPECT_GT(other_offset_diff, 4000);
  // The same seed and offset in another graph: the same mask.
  Array again = compile_interp({dropout(x, 0.5, 42, off)}).run({{"off", i32({}, {1})}})[0];
  for (int i = 0; i < n; ++i) ASSERT_EQ(again.get(i), out[3].get(i));
  // Offset 0 is the default stream.
  Array zero = compile_interp({dropout(x, 0.5, 42, off)}).run({{"off", i32({}, {0})}})[0];
  for (int i = 0; i < n; ++i) ASSERT_EQ(zero.get(i), out[0].get(i));
}

TEST_F(NN, DropoutKeepProbability) {
  // p = 0.8: about 20% kept, each scaled by 5.
  Tensor x = ones({10000});
  Array r = run(dropout(x, 0.8, 3));
  int kept = 0;
  for (int i = 0; i < r.numel(); ++i) {
    ASSERT_TRUE(r.get(i) == 0 || std::fabs(r.get(i) - 5) <= 5 * kF32Rel) << r.get(i);
    kept += r.get(i) != 0;
  }
  // Binomial(10000, 0.2): standard deviation 40.
  EXPECT_GT(kept, 1840);
  EXPECT_LT(kept, 2160);
}

TEST_F(NN, LayerNorm) {
  Tensor x = cf32({1, 2, 3, 4, 2, 2, 2, 2}, {2, 4});
  EXPECT_TRUE(ArrayIs(run(layer_norm(x)), DType::f32, {2, 4},
                      {-1.3416354199689269, -0.447211806656309, 0.447211806656309,
                       1.3416354199689269, 0, 0, 0, 0}));
  // Over the last two axes.
  Tensor m = cf32({1, 2, 3, 5, 1, 2, 3, 5}, {2, 2, 2});
  EXPECT_TRUE(
      ArrayIs(run(layer_norm(m, 2)), DType::f32, {2, 2, 2},
              {-1.1832132521355805, -0.5070913937723917, 0.1690304645907972, 1.521274181317175,
               -1.1832132521355805, -0.5070913937723917, 0.1690304645907972, 1.521274181317175}));
  // Another eps.
  EXPECT_TRUE(ArrayIs(run(layer_norm(cf32({0, 0, 10}, {3}), 1, 1e-3)), DType::f32, {3},
                      {-0.7070908718209099, -0.7070908718209099, 1.4141817436418196}));
}

}  // namespace
}  // namespace soma
