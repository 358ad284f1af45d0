// User errors: each throws the documented soma::Error subclass with a message that names the op
// and the shapes involved — never an abort (a SOMA_CHECK failure would end this program).
#include "interp/expect.h"

namespace soma {
namespace {

using namespace soma::test;

using Errors = OpTest;

TEST_F(Errors, BroadcastingMismatch) {
  Tensor a = input("a", {2, 3}), b = input("b", {4});
  EXPECT_TRUE(Throws<ShapeError>([&] { a + b; }, {"add", "[2,3]", "[4]", "broadcast"}));
  EXPECT_TRUE(Throws<ShapeError>([&] { a* b; }, {"mul", "[2,3]", "[4]"}));
  EXPECT_TRUE(Throws<ShapeError>([&] { a < b; }, {"lt", "[2,3]", "[4]"}));
  EXPECT_TRUE(Throws<ShapeError>([&] { maximum(a, b); }, {"max", "[2,3]", "[4]"}));
  EXPECT_TRUE(Throws<ShapeError>([&] { where(a > 0.0, a, b); }, {"where", "[2,3]", "[4]"}));
  EXPECT_TRUE(Throws<ShapeError>([&] { broadcast_to(a, {3, 3}); }, {"[2,3]", "[3,3]"}));
  EXPECT_TRUE(Throws<ShapeError>([&] { broadcast_to(a, {3}); }, {"[2,3]", "[3]"}));
  EXPECT_TRUE(Throws<ShapeError>([&] { mse(a, b); }, {"[2,3]", "[4]"}));
}

TEST_F(Errors, MatMulShapes) {
  Tensor a = input("a", {2, 3}), b = input("b", {4, 5});
  EXPECT_TRUE(Throws<ShapeError>([&] { matmul(a, b); }, {"matmul", "[2,3]", "[4,5]"}));
  Tensor v = input("v", {4});
  EXPECT_TRUE(Throws<ShapeError>([&] { matmul(a, v); }, {"matmul", "[2,3]", "[4]"}));
  Tensor p = input("p", {2, 3, 4}), q = input("q", {3, 4, 5});
  EXPECT_TRUE(Throws<ShapeError>([&] { matmul(p, q); }, {"matmul", "[2,3,4]", "[3,4,5]", "batch"}));
  Tensor s = input("s", {});
  EXPECT_TRUE(Throws<ShapeError>([&] { matmul(s, a); }, {"matmul", "[]", "[2,3]"}));
}

TEST_F(Errors, Reshape) {
  Tensor x = input("x", {2, 3});
  EXPECT_TRUE(Throws<ShapeError>([&] { reshape(x, {4, 2}); }, {"reshape", "[2,3]", "[4,2]"}));
  EXPECT_TRUE(Throws<ShapeError>([&] { reshape(x, {4, -1}); }, {"reshape", "[2,3]", "[4,-1]"}));
  EXPECT_TRUE(Throws<ValueError>([&] { reshape(x, {-1, -1}); }, {"reshape", "-1"}));
  EXPECT_TRUE(Throws<ValueError>([&] { reshape(x, {-2, -3}); }, {"reshape"}));
  EXPECT_TRUE(Throws<ShapeError>([&] { reshape(x, {1, 1, 1, 1, 1, 2, 3}); }, {"rank"}));
}

TEST_F(Errors, BadAxes) {
  Tensor x = input("x", {2, 3});
  EXPECT_TRUE(Throws<ValueError>([&] { sum(x, {2}); }, {"axis 2", "[2,3]"}));
  EXPECT_TRUE(Throws<ValueError>([&] { max(x, {-3}); }, {"axis -3", "[2,3]"}));
  EXPECT_TRUE(Throws<ValueError>([&] { mean(x, {5}); }, {"axis 5", "[2,3]"}));
  EXPECT_TRUE(Throws<ValueError>([&] { var(x, {2}); }, {"axis 2", "[2,3]"}));
  EXPECT_TRUE(Throws<ValueError>([&] { logsumexp(x, {2}); }, {"axis 2", "[2,3]"}));
  EXPECT_TRUE(Throws<ValueError>([&] { sum(x, {1, -1}); }, {"repeated axis"}));
  EXPECT_TRUE(Throws<ValueError>([&] { argmax(x, 2); }, {"axis 2", "[2,3]"}));
  EXPECT_TRUE(Throws<ValueError>([&] { argmin(x, -3); }, {"axis -3", "[2,3]"}));
  EXPECT_TRUE(Throws<ValueError>([&] { softmax(x, 2); }, {"softmax", "axis 2", "[2,3]"}));
  EXPECT_TRUE(Throws<ValueError>([&] { log_softmax(x, -3); }, {"log_softmax", "[2,3]"}));
  EXPECT_TRUE(Throws<ValueError>([&] { unsqueeze(x, 3); }, {"unsqueeze", "[2,3]"}));
  EXPECT_TRUE(Throws<ValueError>([&] { squeeze(x, 2); }, {"squeeze", "[2,3]"}));
  EXPECT_TRUE(Throws<ShapeError>([&] { squeeze(x, 0); }, {"squeeze", "[2,3]", "not 1"}));
  EXPECT_TRUE(Throws<ValueError>([&] { flatten(x, 1, 0); }, {"flatten", "[2,3]"}));
  EXPECT_TRUE(Throws<ValueError>([&] { flatten(x, 0, 2); }, {"flatten", "[2,3]"}));
  EXPECT_TRUE(Throws<ValueError>([&] { transpose(x, {0}); }, {"transpose", "rank 2"}));
  EXPECT_TRUE(Throws<ValueError>([&] { transpose(x, {0, 0}); }, {"transpose", "repeated"}));
  EXPECT_TRUE(Throws<ValueError>([&] { transpose(x, {0, 2}); }, {"transpose", "[2,3]"}));
  EXPECT_TRUE(Throws<ValueError>([&] { flip(x, {0, -2}); }, {"flip", "repeated"}));
  EXPECT_TRUE(Throws<ValueError>([&] { flip(x, {2}); }, {"flip", "[2,3]"}));
  EXPECT_TRUE(Throws<ValueError>([&] { concat({x, x}, 2); }, {"concat", "axis 2"}));
  EXPECT_TRUE(Throws<ValueError>([&] { stack({x, x}, 3); }, {"stack", "axis 3"}));
  EXPECT_TRUE(Throws<ValueError>([&] { layer_norm(x, 3); }, {"layer_norm", "[2,3]"}));
  EXPECT_TRUE(Throws<ValueError>([&] { sum(input("s", {}), {0}); }, {"axis 0", "[]"}));
}

TEST_F(Errors, ConcatAndStackMismatch) {
  Tensor a = input("a", {2, 3}), b = input("b", {2, 4}), c = input("c", {2, 3, 1});
  EXPECT_TRUE(Throws<ShapeError>([&] { concat({a, b}, 0); }, {"concat", "[2,3]", "[2,4]"}));
  EXPECT_TRUE(Throws<ShapeError>([&] { concat({a, c}, 0); }, {"concat", "[2,3]", "[2,3,1]"}));
  EXPECT_TRUE(Throws<ShapeError>([&] { stack({a, b}); }, {"stack", "[2,3]", "[2,4]"}));
  EXPECT_TRUE(Throws<ValueError>([&] { concat({}); }, {"concat"}));
  EXPECT_TRUE(Throws<ValueError>([&] { stack({}); }, {"stack"}));
}

TEST_F(Errors, Conv2dAndPooling) {
  Tensor x = input("x", {1, 3, 5, 5});
  Tensor w = input("w", {2, 4, 3, 3});
  EXPECT_TRUE(Throws<ShapeError>([&] { conv2d(x, w); }, {"conv2d", "[1,3,5,5]", "[2,4,3,3]"}));
  Tensor w3 = input("w3", {2, 3, 3, 3});
  EXPECT_TRUE(Throws<ShapeError>(
      [&] {
        conv2d(input("x3", {3, 5, 5}), w3);
      },
      {"conv2d", "[3,5,5]"}));
  EXPECT_TRUE(Throws<ShapeError>(
      [&] {
        conv2d(x, input("w2", {2, 3, 3}));
      },
      {"conv2d", "[2,3,3]"}));
  EXPECT_TRUE(
      Throws<ShapeError>([&] { conv2d(x, w3, input("b", {3})); }, {"conv2d", "bias", "[3]"}));
  // A kernel larger than the (padded) input.
  EXPECT_TRUE(Throws<ShapeError>(
      [&] {
        conv2d(x, input("wbig", {2, 3, 6, 6}));
      },
      {"conv2d", "[1,3,5,5]", "[2,3,6,6]"}));
  EXPECT_TRUE(Throws<ShapeError>(
      [&] {
        conv2d(x, w3, std::nullopt, {1, 1}, {0, 0}, {3, 3});
      },
      {"conv2d", "7x7", "[1,3,5,5]"}));
  EXPECT_TRUE(Throws<ValueError>(
      [&] {
        conv2d(x, w3, std::nullopt, {1, 1}, "full");
      },
      {"conv2d", "full"}));
  EXPECT_TRUE(Throws<ValueError>(
      [&] {
        conv2d(x, w3, std::nullopt, {2, 2}, "same");
      },
      {"conv2d", "same", "stride"}));
  EXPECT_TRUE(Throws<ValueError>([&] { max_pool2d(x, {2, 2}, {2, 2}, {2, 2}); }, {"max_pool2d"}));
  EXPECT_TRUE(Throws<ShapeError>(
      [&] {
        avg_pool2d(input("v", {5}), {2, 2});
      },
      {"avg_pool2d", "[5]"}));
  EXPECT_TRUE(Throws<ShapeError>([&] { max_pool2d(x, {6, 6}); }, {"max_pool2d", "[1,3,5,5]"}));
  EXPECT_TRUE(Throws<ShapeError>([&] { avg_pool2d(x, {2, 7}); }, {"avg_pool2d", "[1,3,5,5]"}));
}

TEST_F(Errors, Feeds) {
  Tensor x = input("x", {2, 3});
  Compiled c = compile_interp({x * 2.0});
  EXPECT_TRUE(Throws<ValueError>([&] { c.run({}); }, {"'x'", "f32[2,3]", "not fed"}));
  EXPECT_TRUE(Throws<ValueError>(
      [&] {
        c.run({{"y", f32({2, 3}, {1, 2, 3, 4, 5, 6})}});
      },
      {"'x'", "not fed", "y"}));
  EXPECT_TRUE(Throws<ShapeError>(
      [&] {
        c.run({{"x", f32({3, 2}, {1, 2, 3, 4, 5, 6})}});
      },
      {"'x'", "f32[2,3]", "f32[3,2]"}));
  EXPECT_TRUE(Throws<TypeError>(
      [&] {
        c.run({{"x", i32({2, 3}, {1, 2, 3, 4, 5, 6})}});
      },
      {"'x'", "f32[2,3]", "i32[2,3]"}));
  // After the errors the executable still works.
  EXPECT_TRUE(ArrayIs(c.run({{"x", f32({2, 3}, {1, 2, 3, 4, 5, 6})}})[0], DType::f32, {2, 3},
                      {2, 4, 6, 8, 10, 12}));
  // One name declared with two types.
  Tensor x2 = input("x", {3});
  EXPECT_TRUE(Throws<ValueError>([&] { compile_interp({sum(x) + sum(x2)}); },
                                 {"'x'", "f32[2,3]", "f32[3]"}));
}

TEST_F(Errors, UnknownBackendAndInitializer) {
  Tensor x = input("x", {2});
  CompileOptions opts;
  opts.backend = "no_such_backend";
  EXPECT_TRUE(Throws<BackendError>([&] { compile({x}, opts); }, {"no_such_backend", "interp"}));
  EXPECT_TRUE(Throws<BackendError>([&] { eval(x, {}, opts); }, {"no_such_backend"}));
  EXPECT_TRUE(Throws<ValueError>(
      [&] {
        param("w", {2, 2}, "no_such_init");
      },
      {"no_such_init", "glorot_uniform"}));
}

TEST_F(Errors, DtypeErrors) {
  Tensor x = input("x", {2});
  Tensor n = input("n", {2}, DType::i32);
  Tensor b = input("b", {2}, DType::boolean);
  EXPECT_TRUE(Throws<TypeError>([&] { !x; }, {"not", "f32[2]"}));
  EXPECT_TRUE(Throws<TypeError>([&] { x&& b; }, {"and", "f32[2]"}));
  EXPECT_TRUE(Throws<TypeError>([&] { n || b; }, {"or", "i32[2]"}));
  EXPECT_TRUE(Throws<TypeError>([&] { where(x, x, x); }, {"where", "f32[2]"}));
  EXPECT_TRUE(Throws<TypeError>([&] { one_hot(x, 3); }, {"one_hot", "f32[2]"}));
  EXPECT_TRUE(Throws<TypeError>([&] { embedding(b, input("t", {3, 2})); }, {"gather", "bool[2]"}));
  // Primitive rules (graph/infer.cpp) through the builder.
  Builder bld = Context::current()->builder();
  EXPECT_TRUE(Throws<TypeError>(
      [&] {
        bld.add_node(Op::Add, {x.id(), n.id()});
      },
      {"add", "f32[2]", "i32[2]"}));
  EXPECT_TRUE(Throws<TypeError>([&] { bld.add_node(Op::Exp, {n.id()}); }, {"exp", "i32[2]"}));
  EXPECT_TRUE(Throws<TypeError>([&] { bld.add_node(Op::Div, {n.id(), n.id()}); }, {"div"}));
  EXPECT_TRUE(Throws<TypeError>([&] { bld.add_node(Op::Add, {b.id(), b.id()}); }, {"bool"}));
  EXPECT_TRUE(Throws<TypeError>([&] { bld.add_node(Op::MatMul, {n.id(), n.id()}); }, {"matmul"}));
  EXPECT_TRUE(Throws<TypeError>(
      [&] {
        bld.scatter_add(x.id(), x.id(), TensorType{DType::f32, Shape{4}});
      },
      {"scatter_add"}));
}

TEST_F(Errors, BadValues) {
  Tensor x = input("x", {4});
  EXPECT_TRUE(Throws<ValueError>([&] { dropout(x, 1.0); }, {"dropout", "p"}));
  EXPECT_TRUE(Throws<ValueError>([&] { dropout(x, -0.1); }, {"dropout"}));
  EXPECT_TRUE(Throws<ValueError>([&] { clip(x, 1, 0); }, {"clip"}));
  EXPECT_TRUE(Throws<ValueError>([&] { arange(0, 5, 0); }, {"arange", "step"}));
  EXPECT_TRUE(Throws<ValueError>([&] { arange(0, kInf); }, {"arange", "finite"}));
  EXPECT_TRUE(Throws<ValueError>([&] { arange(kNaN); }, {"arange", "finite"}));
  EXPECT_TRUE(Throws<ValueError>([&] { arange(0, 1, 1e-300); }, {"arange", "too many"}));
  EXPECT_TRUE(Throws<ValueError>([&] { one_hot(input("l", {2}, DType::i32), 0); }, {"one_hot"}));
  EXPECT_TRUE(Throws<ValueError>([&] { pad(x, {{1, 1}, {1, 1}}); }, {"pad", "pair"}));
  EXPECT_TRUE(Throws<ValueError>([&] { pad(x, {{-1, 0}}); }, {"pad", ">= 0"}));
  EXPECT_TRUE(Throws<ValueError>([&] { index(x, {int64_t{4}}); }, {"index 4", "size 4"}));
  EXPECT_TRUE(Throws<ValueError>([&] { index(x, {int64_t{-5}}); }, {"index -5", "size 4"}));
  EXPECT_TRUE(Throws<ValueError>([&] { index(x, {int64_t{0}, int64_t{0}}); }, {"too many", "[4]"}));
  EXPECT_TRUE(Throws<ValueError>([&] { index(x, {Ellipsis{}, Ellipsis{}}); }, {"..."}));
  EXPECT_TRUE(Throws<ValueError>([&] { index(x, {Slice{0, 4, 0}}); }, {"step"}));
  EXPECT_TRUE(Throws<ValueError>([&] { constant({1, 2, 3}, {2, 2}); }, {"const", "[2,2]"}));
  EXPECT_TRUE(Throws<ShapeError>([&] { zeros({-1, 2}); }, {"negative", "[-1,2]"}));
  EXPECT_TRUE(Throws<ShapeError>([&] { input("big", {1, 1, 1, 1, 1, 1, 1}); }, {"rank 7"}));
}

TEST_F(Errors, Losses) {
  Tensor logits = input("logits", {4, 3});
  EXPECT_TRUE(Throws<ShapeError>([&] { cross_entropy(logits, input("l", {3}, DType::i32)); },
                                 {"cross_entropy", "[4,3]", "[4]", "i32[3]"}));
  EXPECT_TRUE(Throws<ShapeError>(
      [&] {
        cross_entropy(logits, input("p", {4, 2}));
      },
      {"cross_entropy", "[4,3]", "[4,2]"}));
  EXPECT_TRUE(Throws<ShapeError>([&] { cross_entropy(input("s", {}), input("t", {})); },
                                 {"cross_entropy", "[]"}));
  EXPECT_TRUE(
      Throws<ShapeError>([&] { binary_cross_entropy(logits, input("q", {4})); }, {"[4,3]", "[4]"}));
}

TEST_F(Errors, TensorsAndContexts) {
  Tensor a = input("a", {2});
  Tensor other;
  {
    ContextScope scope(std::make_shared<Context>());
    other = input("b", {2});
  }
  EXPECT_TRUE(Throws<ValueError>([&] { a + other; }, {"different contexts"}));
  EXPECT_TRUE(Throws<ValueError>([&] { compile_interp({a, other}); }, {"different contexts"}));
  Tensor undefined;
  EXPECT_TRUE(Throws<ValueError>([&] { exp(undefined); }, {"undefined"}));
  EXPECT_TRUE(Throws<ValueError>([&] { a* undefined; }, {"undefined"}));
  EXPECT_TRUE(Throws<ValueError>([&] { compile_interp({}); }, {"nothing to compute"}));
  EXPECT_TRUE(Throws<ValueError>([&] { Compiled().run(); }, {"not compiled"}));
  // The graph is unchanged by a failed call: later calls still work.
  EXPECT_TRUE(ArrayIs(run(a + 1.0, {{"a", f32({2}, {1, 2})}}), DType::f32, {2}, {2, 3}));
}

TEST_F(Errors, EveryErrorIsASomaError) {
  Tensor x = input("x", {2, 3});
  EXPECT_TRUE(Throws<Error>([&] { x + input("y", {3, 2}); }));
  EXPECT_TRUE(Throws<Error>([&] { run(x); }));
  EXPECT_TRUE(Throws<Error>([&] { max(input("e", {0}), {0}); }));
}

}  // namespace
}  // namespace soma

namespace soma {
namespace {

using namespace soma::test;

// Composites build into their tensors' context, not into the current one.
TEST(Contexts, CompositesBuildInTheTensorsContext) {
  auto ctx = std::make_shared<Context>();
  Tensor x, n;
  {
    ContextScope scope(ctx);
    x = input("x", {2});
    n = input("n", {2}, DType::i32);
  }
  ContextScope other(std::make_shared<Context>());
  Feeds f{{"x", f32({2}, {1000, 1000})}, {"n", i32({2}, {1, 0})}};
  EXPECT_TRUE(ArrayIs(run(logsumexp(x), f), DType::f32, {}, {1000.6931471805599}));
  EXPECT_TRUE(
      ArrayIs(run(log_softmax(x), f), DType::f32, {2}, {-0.6931471805599453, -0.6931471805599453}));
  EXPECT_TRUE(ArrayIs(run(softmax(x), f), DType::f32, {2}, {0.5, 0.5}));
  EXPECT_TRUE(ArrayIs(run(argmax(x), f), DType::i32, {}, {0}));
  EXPECT_TRUE(ArrayIs(run(argmin(n), f), DType::i32, {}, {1}));
  EXPECT_TRUE(ArrayIs(run(min(n), f), DType::i32, {}, {0}));
  EXPECT_TRUE(ArrayIs(run(relu(x - 1000.0), f), DType::f32, {2}, {0, 0}));
  EXPECT_TRUE(ArrayIs(run(clip(x, 0, 1), f), DType::f32, {2}, {1, 1}));
  EXPECT_TRUE(ArrayIs(run(softplus(x), f), DType::f32, {2}, {1000, 1000}));
  EXPECT_TRUE(ArrayIs(run(elu(x), f), DType::f32, {2}, {1000, 1000}));
  EXPECT_TRUE(ArrayIs(run(binary_cross_entropy(x / 1000.0, n), f), DType::f32, {}, {50}));
  EXPECT_TRUE(ArrayIs(run(cross_entropy(reshape(x, {1, 2}), index(n, {Slice{0, 1, {}}})), f),
                      DType::f32, {}, {0.6931471805599453}));
  EXPECT_TRUE(ArrayIs(run(one_hot(n, 2), f), DType::f32, {2, 2}, {0, 1, 1, 0}));
  EXPECT_TRUE(ArrayIs(run(layer_norm(x), f), DType::f32, {2}, {0, 0}));
  EXPECT_TRUE(ArrayIs(run(var(x), f), DType::f32, {}, {0}));
  EXPECT_TRUE(ArrayIs(run(max_pool2d(reshape(x, {1, 1, 1, 2}), {1, 2}), f), DType::f32,
                      {1, 1, 1, 1}, {1000}));
  Array d = run(dropout(x, 0.5, 1), f);
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(d.get(i) == 0 || d.get(i) == 2000);
}

}  // namespace
}  // namespace soma
