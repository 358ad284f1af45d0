// Movement ops: reshape, transpose, flatten, broadcast_to, concat, stack, pad, unsqueeze, squeeze,
// flip and numpy basic indexing (expected values as numpy gives them).
#include "interp/expect.h"

namespace soma {
namespace {

using namespace soma::test;

using Movement = OpTest;

std::vector<double> iota_values(int n, double start = 0) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(start + i);
  return v;
}

// arange(24) as f32 [2,3,4].
Tensor arange24() {
  return cf32(iota_values(24), {2, 3, 4});
}

TEST_F(Movement, ReshapeWithInferredSize) {
  Tensor x = arange24();
  EXPECT_TRUE(ArrayIs(run(reshape(x, {4, -1})), DType::f32, {4, 6}, iota_values(24)));
  EXPECT_TRUE(ArrayIs(run(reshape(x, {-1})), DType::f32, {24}, iota_values(24)));
  EXPECT_TRUE(ArrayIs(run(reshape(x, {2, -1, 3})), DType::f32, {2, 4, 3}, iota_values(24)));
  EXPECT_TRUE(ArrayIs(run(reshape(x, {1, 24, 1})), DType::f32, {1, 24, 1}, iota_values(24)));
  // To and from rank 0.
  EXPECT_TRUE(ArrayIs(run(reshape(cf32({5}, {1, 1}), {})), DType::f32, {}, {5}));
  EXPECT_TRUE(ArrayIs(run(reshape(cf32({5}, {}), {-1})), DType::f32, {1}, {5}));
  // Empty tensors.
  Tensor e = input("e", {0, 3});
  EXPECT_TRUE(ArrayIs(run(reshape(e, {3, -1, 1}), {{"e", Array(DType::f32, {0, 3})}}), DType::f32,
                      {3, 0, 1}, {}));
  // Integers keep their dtype.
  EXPECT_TRUE(
      ArrayIs(run(reshape(ci32({1, 2, 3, 4}, {4}), {2, 2})), DType::i32, {2, 2}, {1, 2, 3, 4}));
}

TEST_F(Movement, Transpose) {
  Tensor x = arange24();
  EXPECT_TRUE(ArrayIs(
      run(transpose(x)), DType::f32, {4, 3, 2},
      {0, 12, 4, 16, 8, 20, 1, 13, 5, 17, 9, 21, 2, 14, 6, 18, 10, 22, 3, 15, 7, 19, 11, 23}));
  EXPECT_TRUE(ArrayIs(
      run(x.T()), DType::f32, {4, 3, 2},
      {0, 12, 4, 16, 8, 20, 1, 13, 5, 17, 9, 21, 2, 14, 6, 18, 10, 22, 3, 15, 7, 19, 11, 23}));
  EXPECT_TRUE(ArrayIs(
      run(transpose(x, {1, 0, 2})), DType::f32, {3, 2, 4},
      {0, 1, 2, 3, 12, 13, 14, 15, 4, 5, 6, 7, 16, 17, 18, 19, 8, 9, 10, 11, 20, 21, 22, 23}));
  // Negative perm entries count from the end: (-1, 0, 1) == (2, 0, 1).
  EXPECT_TRUE(ArrayIs(
      run(transpose(x, {-1, 0, 1})), DType::f32, {4, 2, 3},
      {0, 4, 8, 12, 16, 20, 1, 5, 9, 13, 17, 21, 2, 6, 10, 14, 18, 22, 3, 7, 11, 15, 19, 23}));
  EXPECT_TRUE(ArrayIs(run(cf32({1, 2, 3}, {3}).T()), DType::f32, {3}, {1, 2, 3}));
  EXPECT_TRUE(ArrayIs(run(transpose(cf32({7}, {}))), DType::f32, {}, {7}));
}

TEST_F(Movement, Flatten) {
  Tensor x = arange24();
  EXPECT_TRUE(ArrayIs(run(flatten(x)), DType::f32, {2, 12}, iota_values(24)));
  EXPECT_TRUE(ArrayIs(run(flatten(x, 0)), DType::f32, {24}, iota_values(24)));
  EXPECT_TRUE(ArrayIs(run(flatten(x, 0, 1)), DType::f32, {6, 4}, iota_values(24)));
  EXPECT_TRUE(ArrayIs(run(flatten(x, -2, -1)), DType::f32, {2, 12}, iota_values(24)));
  EXPECT_TRUE(ArrayIs(run(flatten(x, 1, 1)), DType::f32, {2, 3, 4}, iota_values(24)));
  EXPECT_TRUE(ArrayIs(run(flatten(cf32({3}, {}), 0)), DType::f32, {1}, {3}));
}

TEST_F(Movement, BroadcastTo) {
  EXPECT_TRUE(ArrayIs(run(broadcast_to(cf32({1, 2, 3}, {3}), {2, 3})), DType::f32, {2, 3},
                      {1, 2, 3, 1, 2, 3}));
  EXPECT_TRUE(ArrayIs(run(broadcast_to(cf32({1, 2}, {2, 1}), {2, 3})), DType::f32, {2, 3},
                      {1, 1, 1, 2, 2, 2}));
  EXPECT_TRUE(ArrayIs(run(broadcast_to(ci32({4}, {}), {2, 2})), DType::i32, {2, 2}, {4, 4, 4, 4}));
  EXPECT_TRUE(ArrayIs(run(broadcast_to(cf32({1, 2}, {2, 1}), {3, 2, 2})), DType::f32, {3, 2, 2},
                      {1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2}));
  EXPECT_TRUE(ArrayIs(run(broadcast_to(cf32({1, 2, 3}, {3}), {0, 3})), DType::f32, {0, 3}, {}));
}

TEST_F(Movement, Concat) {
  Tensor y = cf32(iota_values(6), {2, 3});
  Tensor b = cf32({10, 11, 12}, {1, 3});
  Tensor c = cf32({7, 8}, {2, 1});
  EXPECT_TRUE(ArrayIs(run(concat({y, b})), DType::f32, {3, 3}, {0, 1, 2, 3, 4, 5, 10, 11, 12}));
  EXPECT_TRUE(
      ArrayIs(run(concat({y, c, c}, 1)), DType::f32, {2, 5}, {0, 1, 2, 7, 7, 3, 4, 5, 8, 8}));
  EXPECT_TRUE(ArrayIs(run(concat({y, c}, -1)), DType::f32, {2, 4}, {0, 1, 2, 7, 3, 4, 5, 8}));
  // Dtypes promote; empty parts contribute nothing; one tensor is itself.
  Tensor n = ci32({-1, -2, -3}, {1, 3});
  EXPECT_TRUE(ArrayIs(run(concat({n, b})), DType::f32, {2, 3}, {-1, -2, -3, 10, 11, 12}));
  Tensor e = input("e", {0, 3});
  EXPECT_TRUE(ArrayIs(run(concat({e, b, e}), {{"e", Array(DType::f32, {0, 3})}}), DType::f32,
                      {1, 3}, {10, 11, 12}));
  EXPECT_TRUE(ArrayIs(run(concat({b})), DType::f32, {1, 3}, {10, 11, 12}));
}

TEST_F(Movement, Stack) {
  Tensor p = cf32({1, 2, 3}, {3}), q = cf32({4, 5, 6}, {3});
  EXPECT_TRUE(ArrayIs(run(stack({p, q})), DType::f32, {2, 3}, {1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(ArrayIs(run(stack({p, q}, 1)), DType::f32, {3, 2}, {1, 4, 2, 5, 3, 6}));
  Tensor y = cf32(iota_values(6), {2, 3}), z = cf32(iota_values(6, 10), {2, 3});
  EXPECT_TRUE(ArrayIs(run(stack({y, z}, -1)), DType::f32, {2, 3, 2},
                      {0, 10, 1, 11, 2, 12, 3, 13, 4, 14, 5, 15}));
  EXPECT_TRUE(ArrayIs(run(stack({y, z}, 1)), DType::f32, {2, 2, 3},
                      {0, 1, 2, 10, 11, 12, 3, 4, 5, 13, 14, 15}));
  EXPECT_TRUE(ArrayIs(run(stack({cf32({1}, {}), cf32({2}, {})})), DType::f32, {2}, {1, 2}));
}

TEST_F(Movement, Pad) {
  Tensor a = cf32({1, 2, 3, 4}, {2, 2});
  EXPECT_TRUE(ArrayIs(run(pad(a, {{1, 0}, {0, 2}}, 9)), DType::f32, {3, 4},
                      {9, 9, 9, 9, 1, 2, 9, 9, 3, 4, 9, 9}));
  // A single pair pads every axis.
  EXPECT_TRUE(ArrayIs(run(pad(a, {{1, 1}})), DType::f32, {4, 4},
                      {0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0}));
  EXPECT_TRUE(ArrayIs(run(pad(cf32({1, 2, 3}, {3}), {{2, 1}}, -1)), DType::f32, {6},
                      {-1, -1, 1, 2, 3, -1}));
  EXPECT_TRUE(ArrayIs(run(pad(ci32({5}, {1}), {{1, 1}}, 7)), DType::i32, {3}, {7, 5, 7}));
  EXPECT_TRUE(
      ArrayIs(run(pad(cf32({1}, {1}), {{0, 2}}, -kInf)), DType::f32, {3}, {1, -kInf, -kInf}));
  EXPECT_TRUE(ArrayIs(run(pad(a, {{0, 0}, {0, 0}})), DType::f32, {2, 2}, {1, 2, 3, 4}));
}

TEST_F(Movement, PadPrimitiveWithInteriorPadding) {
  auto ctx = Context::current();
  Builder b = ctx->builder();
  Tensor x = cf32({1, 2, 3}, {3});
  Tensor y(ctx, b.pad(x.id(), {1}, {0}, {1}, 0.5));
  EXPECT_TRUE(ArrayIs(run(y), DType::f32, {6}, {0.5, 1, 0.5, 2, 0.5, 3}));
  Tensor m = cf32({1, 2, 3, 4}, {2, 2});
  Tensor z(ctx, b.pad(m.id(), {0, 1}, {1, 0}, {1, 2}, 0));
  EXPECT_TRUE(ArrayIs(run(z), DType::f32, {4, 5},
                      {0, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 3, 0, 0, 4, 0, 0, 0, 0, 0}));
}

TEST_F(Movement, UnsqueezeSqueeze) {
  Tensor x = cf32(iota_values(6), {2, 3});
  EXPECT_EQ(unsqueeze(x, 0).shape(), (Shape{1, 2, 3}));
  EXPECT_EQ(unsqueeze(x, 1).shape(), (Shape{2, 1, 3}));
  EXPECT_EQ(unsqueeze(x, -1).shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(unsqueeze(x, 2).shape(), (Shape{2, 3, 1}));
  EXPECT_TRUE(ArrayIs(run(unsqueeze(x, 1)), DType::f32, {2, 1, 3}, iota_values(6)));
  Tensor y = cf32(iota_values(6), {1, 2, 1, 3, 1});
  EXPECT_TRUE(ArrayIs(run(squeeze(y)), DType::f32, {2, 3}, iota_values(6)));
  EXPECT_TRUE(ArrayIs(run(squeeze(y, 2)), DType::f32, {1, 2, 3, 1}, iota_values(6)));
  EXPECT_TRUE(ArrayIs(run(squeeze(y, -1)), DType::f32, {1, 2, 1, 3}, iota_values(6)));
  EXPECT_TRUE(ArrayIs(run(squeeze(cf32({4}, {1, 1}))), DType::f32, {}, {4}));
  EXPECT_TRUE(ArrayIs(run(unsqueeze(cf32({4}, {}), 0)), DType::f32, {1}, {4}));
}

TEST_F(Movement, Flip) {
  Tensor y = cf32(iota_values(6), {2, 3});
  EXPECT_TRUE(ArrayIs(run(flip(y, {0})), DType::f32, {2, 3}, {3, 4, 5, 0, 1, 2}));
  EXPECT_TRUE(ArrayIs(run(flip(y, {1})), DType::f32, {2, 3}, {2, 1, 0, 5, 4, 3}));
  EXPECT_TRUE(ArrayIs(run(flip(y, {-1})), DType::f32, {2, 3}, {2, 1, 0, 5, 4, 3}));
  EXPECT_TRUE(ArrayIs(run(flip(y, {1, 0})), DType::f32, {2, 3}, {5, 4, 3, 2, 1, 0}));
  EXPECT_TRUE(ArrayIs(run(flip(y, {})), DType::f32, {2, 3}, iota_values(6)));
}

TEST_F(Movement, Index1D) {
  Tensor x = ci32(iota_values(10), {10});
  using S = Slice;
  auto at = [&](std::vector<Index> items) { return run(index(x, items)); };
  EXPECT_TRUE(ArrayIs(at({int64_t{3}}), DType::i32, {}, {3}));
  EXPECT_TRUE(ArrayIs(at({int64_t{-1}}), DType::i32, {}, {9}));
  EXPECT_TRUE(ArrayIs(at({S{{}, {}, -1}}), DType::i32, {10}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}));
  EXPECT_TRUE(ArrayIs(at({S{5, 1, -2}}), DType::i32, {2}, {5, 3}));
  EXPECT_TRUE(ArrayIs(at({S{1, 8, 3}}), DType::i32, {3}, {1, 4, 7}));
  EXPECT_TRUE(ArrayIs(at({S{-3, {}, {}}}), DType::i32, {3}, {7, 8, 9}));
  EXPECT_TRUE(ArrayIs(at({S{{}, -7, -2}}), DType::i32, {3}, {9, 7, 5}));
  EXPECT_TRUE(ArrayIs(at({S{8, 2, {}}}), DType::i32, {0}, {}));
  EXPECT_TRUE(ArrayIs(at({S{100, {}, {}}}), DType::i32, {0}, {}));
  EXPECT_TRUE(ArrayIs(at({S{-100, 100, {}}}), DType::i32, {10}, iota_values(10)));
  EXPECT_TRUE(ArrayIs(at({S{-1, -11, -1}}), DType::i32, {10}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}));
  EXPECT_TRUE(ArrayIs(at({S{7, -100, -3}}), DType::i32, {3}, {7, 4, 1}));
  EXPECT_TRUE(ArrayIs(at({S{{}, {}, 4}}), DType::i32, {3}, {0, 4, 8}));
  EXPECT_TRUE(ArrayIs(at({S{-2, -8, -1}}), DType::i32, {6}, {8, 7, 6, 5, 4, 3}));
  EXPECT_TRUE(ArrayIs(at({NewAxis{}}), DType::i32, {1, 10}, iota_values(10)));
  EXPECT_TRUE(ArrayIs(at({}), DType::i32, {10}, iota_values(10)));
}

TEST_F(Movement, Index3D) {
  Tensor y = cf32(iota_values(24), {2, 3, 4});
  using S = Slice;
  auto at = [&](std::vector<Index> items) { return run(index(y, items)); };
  EXPECT_TRUE(ArrayIs(at({int64_t{1}}), DType::f32, {3, 4}, iota_values(12, 12)));
  // y[:, 1:3]
  EXPECT_TRUE(ArrayIs(at({S{}, S{1, 3, {}}}), DType::f32, {2, 2, 4},
                      {4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23}));
  // y[..., -1]
  EXPECT_TRUE(ArrayIs(at({Ellipsis{}, int64_t{-1}}), DType::f32, {2, 3}, {3, 7, 11, 15, 19, 23}));
  // y[..., ::-2]
  EXPECT_TRUE(ArrayIs(at({Ellipsis{}, S{{}, {}, -2}}), DType::f32, {2, 3, 2},
                      {3, 1, 7, 5, 11, 9, 15, 13, 19, 17, 23, 21}));
  // y[0, ..., 1]
  EXPECT_TRUE(ArrayIs(at({int64_t{0}, Ellipsis{}, int64_t{1}}), DType::f32, {3}, {1, 5, 9}));
  // y[None, 1, :, None, 2]
  EXPECT_TRUE(ArrayIs(at({NewAxis{}, int64_t{1}, S{}, NewAxis{}, int64_t{2}}), DType::f32,
                      {1, 3, 1}, {14, 18, 22}));
  // y[-1, ::-1, 1:4:2]
  EXPECT_TRUE(ArrayIs(at({int64_t{-1}, S{{}, {}, -1}, S{1, 4, 2}}), DType::f32, {3, 2},
                      {21, 23, 17, 19, 13, 15}));
  // y[..., None]
  EXPECT_TRUE(ArrayIs(at({Ellipsis{}, NewAxis{}}), DType::f32, {2, 3, 4, 1}, iota_values(24)));
  // y[:, :, :]
  EXPECT_TRUE(ArrayIs(at({S{}, S{}, S{}}), DType::f32, {2, 3, 4}, iota_values(24)));
  // y[1, -1]
  EXPECT_TRUE(ArrayIs(at({int64_t{1}, int64_t{-1}}), DType::f32, {4}, {20, 21, 22, 23}));
  // y[:, ::-1, ::-1]
  EXPECT_TRUE(ArrayIs(
      at({S{}, S{{}, {}, -1}, S{{}, {}, -1}}), DType::f32, {2, 3, 4},
      {11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12}));
  // y[1, 2, 3]
  EXPECT_TRUE(ArrayIs(at({int64_t{1}, int64_t{2}, int64_t{3}}), DType::f32, {}, {23}));
  // y[:, None, -2:]
  EXPECT_TRUE(ArrayIs(at({S{}, NewAxis{}, S{-2, {}, {}}}), DType::f32, {2, 1, 2, 4},
                      {4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23}));
}

TEST_F(Movement, IndexRankZero) {
  Tensor s = cf32({5}, {});
  EXPECT_TRUE(ArrayIs(run(index(s, {Ellipsis{}})), DType::f32, {}, {5}));
  EXPECT_TRUE(ArrayIs(run(index(s, {NewAxis{}})), DType::f32, {1}, {5}));
  EXPECT_TRUE(ArrayIs(run(index(s, {})), DType::f32, {}, {5}));
}

}  // namespace
}  // namespace soma
