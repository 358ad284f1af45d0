// simplify: IR text in -> simplify (with the interpreter's constant folding) -> IR text out, one
// small case per rewrite, and the cases it must leave alone. Every case is also run on random
// inputs before and after (pass_test_util.h).
#include <gtest/gtest.h>

#include "pass_test_util.h"
#include "passes/simplify.h"

namespace soma {
namespace {

using pass_test::run_on_text;

std::string simplified(const std::string& text, bool* changed = nullptr) {
  FoldFn fold = make_interp_fold_fn();
  return run_on_text(
      text, [&](Module& m) { return simplify(m, fold); }, changed);
}

// The input must come back unchanged, and the pass must say so.
void expect_unchanged(const std::string& text) {
  bool changed = true;
  EXPECT_EQ(simplified(text, &changed), text);
  EXPECT_FALSE(changed);
}

void expect_simplified(const std::string& text, const std::string& want) {
  bool changed = false;
  EXPECT_EQ(simplified(text, &changed), want);
  EXPECT_TRUE(changed);
}

const char* kX = "%0 = input() {name=\"x\"} : f32[2,3]\n";

// ---- identities -------------------------------------------------------------------------------

TEST(Simplify, AddZero) {
  expect_simplified(std::string(kX) + R"(%1 = const() {value=[0.0]} : f32[2,3]
%2 = add(%0, %1) : f32[2,3]
return %2
)",
                    std::string(kX) + "return %0\n");
  expect_simplified(std::string(kX) + R"(%1 = const() {value=[0.0]} : f32[2,3]
%2 = add(%1, %0) : f32[2,3]
return %2
)",
                    std::string(kX) + "return %0\n");
}

TEST(Simplify, AddZeroLooksThroughReshapeAndBroadcastOfAScalar) {
  expect_simplified(std::string(kX) + R"(%1 = const() {value=[0.0]} : f32[]
%2 = reshape(%1) : f32[1,1]
%3 = broadcast(%2) : f32[2,3]
%4 = add(%3, %0) : f32[2,3]
return %4
)",
                    std::string(kX) + "return %0\n");
}

TEST(Simplify, AddNegativeZero) {
  expect_simplified(std::string(kX) + R"(%1 = const() {value=[-0.0]} : f32[2,3]
%2 = add(%0, %1) : f32[2,3]
return %2
)",
                    std::string(kX) + "return %0\n");
}

TEST(Simplify, SubZero) {
  expect_simplified(std::string(kX) + R"(%1 = const() {value=[0.0]} : f32[2,3]
%2 = sub(%0, %1) : f32[2,3]
return %2
)",
                    std::string(kX) + "return %0\n");
}

TEST(Simplify, ZeroMinusXIsNotRewritten) {  // 0 - 0 is +0 but neg 0 is -0
  expect_unchanged(std::string(kX) + R"(%1 = const() {value=[0.0]} : f32[2,3]
%2 = sub(%1, %0) : f32[2,3]
return %2
)");
}

TEST(Simplify, MulOneAndDivOne) {
  expect_simplified(std::string(kX) + R"(%1 = const() {value=[1.0]} : f32[2,3]
%2 = mul(%0, %1) : f32[2,3]
%3 = mul(%1, %2) : f32[2,3]
%4 = div(%3, %1) : f32[2,3]
return %4
)",
                    std::string(kX) + "return %0\n");
}

TEST(Simplify, MulMinusOneIsNeg) {
  expect_simplified(R"(%0 = input() {name="x"} : f64[4]
%1 = const() {value=[-1.0]} : f64[4]
%2 = mul(%1, %0) : f64[4]
%3 = div(%0, %1) : f64[4]
return %2, %3
)",
                    R"(%0 = input() {name="x"} : f64[4]
%1 = neg(%0) : f64[4]
%2 = neg(%0) : f64[4]
return %1, %2
)");
}

TEST(Simplify, FloatTimesZeroIsNotRewritten) {  // inf * 0 and nan * 0 are nan, not 0
  expect_unchanged(std::string(kX) + R"(%1 = const() {value=[0.0]} : f32[2,3]
%2 = mul(%0, %1) : f32[2,3]
%3 = mul(%1, %0) : f32[2,3]
return %2, %3
)");
}

TEST(Simplify, IntegerTimesZeroIsZero) {
  expect_simplified(R"(%0 = input() {name="n"} : i32[3]
%1 = const() {value=[0.0]} : i32[3]
%2 = mul(%1, %0) : i32[3]
%3 = mul(%0, %1) : i32[3]
return %2, %3
)",
                    R"(%0 = const() {value=[0.0]} : i32[3]
%1 = const() {value=[0.0]} : i32[3]
return %0, %1
)");
}

TEST(Simplify, IntegerXMinusXIsZeroButFloatIsNot) {  // inf - inf is nan
  expect_simplified(R"(%0 = input() {name="n"} : i32[3]
%1 = sub(%0, %0) : i32[3]
return %1
)",
                    R"(%0 = const() {value=[0.0]} : i32[3]
return %0
)");
  expect_unchanged(std::string(kX) + "%1 = sub(%0, %0) : f32[2,3]\nreturn %1\n");
}

TEST(Simplify, IntegerConstThatIsNotAnIntegerIsNotTrustedAsOne) {
  // An i32 const of 1.5 holds 1 once converted; the rules only trust values the dtype holds.
  expect_unchanged(R"(%0 = input() {name="n"} : i32[3]
%1 = const() {value=[1.5]} : i32[3]
%2 = mul(%0, %1) : i32[3]
return %2
)");
}

TEST(Simplify, MaxMinOfSameOperand) {
  expect_simplified(std::string(kX) + R"(%1 = max(%0, %0) : f32[2,3]
%2 = min(%1, %1) : f32[2,3]
return %2
)",
                    std::string(kX) + "return %0\n");
}

TEST(Simplify, LogicalIdentities) {
  const char* b = "%0 = input() {name=\"b\"} : bool[3]\n";
  expect_simplified(std::string(b) + R"(%1 = const() {value=[1.0]} : bool[3]
%2 = and(%0, %1) : bool[3]
%3 = const() {value=[0.0]} : bool[3]
%4 = or(%3, %2) : bool[3]
%5 = and(%4, %4) : bool[3]
return %5
)",
                    std::string(b) + "return %0\n");
  expect_simplified(std::string(b) + R"(%1 = const() {value=[1.0]} : bool[3]
%2 = or(%0, %1) : bool[3]
%3 = const() {value=[0.0]} : bool[3]
%4 = and(%3, %0) : bool[3]
return %2, %4
)",
                    R"(%0 = const() {value=[1.0]} : bool[3]
%1 = const() {value=[0.0]} : bool[3]
return %0, %1
)");
}

// ---- involutions and signs --------------------------------------------------------------------

TEST(Simplify, DoubleNegation) {
  expect_simplified(std::string(kX) + R"(%1 = neg(%0) : f32[2,3]
%2 = neg(%1) : f32[2,3]
return %2
)",
                    std::string(kX) + "return %0\n");
  expect_simplified(std::string(kX) + R"(%1 = neg(%0) : f32[2,3]
%2 = neg(%1) : f32[2,3]
%3 = neg(%2) : f32[2,3]
return %3
)",
                    std::string(kX) + "%1 = neg(%0) : f32[2,3]\nreturn %1\n");
}

TEST(Simplify, DoubleNot) {
  expect_simplified(R"(%0 = input() {name="b"} : bool[3]
%1 = not(%0) : bool[3]
%2 = not(%1) : bool[3]
return %2
)",
                    "%0 = input() {name=\"b\"} : bool[3]\nreturn %0\n");
}

TEST(Simplify, AddingANegationIsSubtraction) {
  const char* xy = R"(%0 = input() {name="x"} : f32[3]
%1 = input() {name="y"} : f32[3]
)";
  expect_simplified(std::string(xy) + R"(%2 = neg(%1) : f32[3]
%3 = add(%0, %2) : f32[3]
%4 = add(%2, %0) : f32[3]
%5 = sub(%0, %2) : f32[3]
return %3, %4, %5
)",
                    std::string(xy) + R"(%2 = sub(%0, %1) : f32[3]
%3 = sub(%0, %1) : f32[3]
%4 = add(%0, %1) : f32[3]
return %2, %3, %4
)");
}

TEST(Simplify, RulesChainToAFixedPoint) {
  expect_simplified(std::string(kX) + R"(%1 = const() {value=[1.0]} : f32[]
%2 = reshape(%1) : f32[1,1]
%3 = broadcast(%2) : f32[2,3]
%4 = mul(%0, %3) : f32[2,3]
%5 = const() {value=[0.0]} : f32[2,3]
%6 = add(%4, %5) : f32[2,3]
%7 = neg(%6) : f32[2,3]
%8 = stop_gradient(%7) : f32[2,3]
%9 = neg(%8) : f32[2,3]
%10 = sub(%9, %5) : f32[2,3]
return %10
)",
                    std::string(kX) + "return %0\n");
}

// ---- transcendental pairs that are not inverses in floating point ------------------------------

TEST(Simplify, ExpOfLogIsNotRewritten) {  // nan for x < 0, not x
  expect_unchanged(std::string(kX) + R"(%1 = log(%0) : f32[2,3]
%2 = exp(%1) : f32[2,3]
return %2
)");
}

TEST(Simplify, LogOfExpIsNotRewritten) {  // exp overflows to inf for large x
  expect_unchanged(std::string(kX) + R"(%1 = exp(%0) : f32[2,3]
%2 = log(%1) : f32[2,3]
return %2
)");
}

TEST(Simplify, PowOneAndDivisionByAConstantAreNotRewritten) {
  expect_unchanged(std::string(kX) + R"(%1 = const() {value=[1.0]} : f32[2,3]
%2 = pow(%0, %1) : f32[2,3]
%3 = const() {value=[3.0]} : f32[2,3]
%4 = div(%0, %3) : f32[2,3]
return %2, %4
)");
}

// ---- movement ---------------------------------------------------------------------------------

TEST(Simplify, ReshapeOfReshape) {
  expect_simplified(std::string(kX) + R"(%1 = reshape(%0) : f32[6]
%2 = reshape(%1) : f32[3,2]
return %2
)",
                    std::string(kX) + "%1 = reshape(%0) : f32[3,2]\nreturn %1\n");
}

TEST(Simplify, ReshapeBackToTheSameShapeIsGone) {
  expect_simplified(std::string(kX) + R"(%1 = reshape(%0) : f32[6]
%2 = reshape(%1) : f32[1,6]
%3 = reshape(%2) : f32[2,3]
return %3
)",
                    std::string(kX) + "return %0\n");
  expect_simplified(std::string(kX) + "%1 = reshape(%0) : f32[2,3]\nreturn %1\n",
                    std::string(kX) + "return %0\n");
}

TEST(Simplify, PermuteOfPermuteComposes) {
  const char* x = "%0 = input() {name=\"x\"} : f32[2,3,4]\n";
  expect_simplified(std::string(x) + R"(%1 = permute(%0) {perm=[1,0,2]} : f32[3,2,4]
%2 = permute(%1) {perm=[0,2,1]} : f32[3,4,2]
return %2
)",
                    std::string(x) + "%1 = permute(%0) {perm=[1,2,0]} : f32[3,4,2]\nreturn %1\n");
}

TEST(Simplify, TransposeOfTransposeIsGone) {
  expect_simplified(std::string(kX) + R"(%1 = permute(%0) {perm=[1,0]} : f32[3,2]
%2 = permute(%1) {perm=[1,0]} : f32[2,3]
return %2
)",
                    std::string(kX) + "return %0\n");
  const char* x = "%0 = input() {name=\"x\"} : f32[2,3,4]\n";
  expect_simplified(std::string(x) + R"(%1 = permute(%0) {perm=[1,2,0]} : f32[3,4,2]
%2 = permute(%1) {perm=[2,0,1]} : f32[2,3,4]
return %2
)",
                    std::string(x) + "return %0\n");
}

TEST(Simplify, IdentityPermute) {
  expect_simplified(std::string(kX) + "%1 = permute(%0) {perm=[0,1]} : f32[2,3]\nreturn %1\n",
                    std::string(kX) + "return %0\n");
}

TEST(Simplify, BroadcastOfBroadcast) {
  const char* x = "%0 = input() {name=\"x\"} : f32[1,1]\n";
  expect_simplified(std::string(x) + R"(%1 = broadcast(%0) : f32[2,1]
%2 = broadcast(%1) : f32[2,3]
return %2
)",
                    std::string(x) + "%1 = broadcast(%0) : f32[2,3]\nreturn %1\n");
}

TEST(Simplify, NoOpMovementIsGone) {
  expect_simplified(std::string(kX) + R"(%1 = broadcast(%0) : f32[2,3]
%2 = slice(%1) {start=[0,0], step=[1,1], stop=[2,3]} : f32[2,3]
%3 = pad(%2) {hi=[0,0], interior=[0,0], lo=[0,0], value=0.0} : f32[2,3]
%4 = flip(%3) {axes=[]} : f32[2,3]
%5 = concat(%4) {axis=0} : f32[2,3]
return %5
)",
                    std::string(kX) + "return %0\n");
  const char* y = "%0 = input() {name=\"y\"} : f32[1,3]\n";
  expect_simplified(std::string(y) + R"(%1 = flip(%0) {axes=[0]} : f32[1,3]
%2 = reduce_max(%1) {axes=[0]} : f32[1,3]
%3 = reduce_sum(%2) {axes=[0]} : f32[1,3]
return %3
)",
                    std::string(y) + "return %0\n");
}

TEST(Simplify, RealMovementStays) {
  expect_unchanged(std::string(kX) +
                   R"(%1 = slice(%0) {start=[0,1], step=[1,1], stop=[2,3]} : f32[2,2]
%2 = flip(%0) {axes=[1]} : f32[2,3]
%3 = pad(%0) {hi=[0,1], interior=[0,0], lo=[0,0], value=0.0} : f32[2,4]
%4 = reduce_sum(%0) {axes=[1]} : f32[2,1]
return %1, %2, %3, %4
)");
}

TEST(Simplify, BroadcastOfAScalarConstantIsASplat) {
  expect_simplified(R"(%0 = const() {value=[2.5]} : f32[]
%1 = reshape(%0) : f32[1]
%2 = broadcast(%1) : f32[4]
%3 = input() {name="x"} : f32[4]
%4 = add(%3, %2) : f32[4]
return %4
)",
                    R"(%0 = const() {value=[2.5]} : f32[4]
%1 = input() {name="x"} : f32[4]
%2 = add(%1, %0) : f32[4]
return %2
)");
}

TEST(Simplify, MovementOfASplatIsASplat) {
  expect_simplified(R"(%0 = const() {value=[3.0]} : f32[2,3]
%1 = permute(%0) {perm=[1,0]} : f32[3,2]
%2 = slice(%1) {start=[0,0], step=[2,1], stop=[3,2]} : f32[2,2]
%3 = flip(%2) {axes=[0]} : f32[2,2]
%4 = pad(%3) {hi=[1,0], interior=[0,0], lo=[0,0], value=3.0} : f32[3,2]
%5 = reduce_max(%4) {axes=[1]} : f32[3,1]
%6 = concat(%5, %5) {axis=1} : f32[3,2]
%7 = input() {name="x"} : f32[3,2]
%8 = sub(%7, %6) : f32[3,2]
return %8
)",
                    R"(%0 = const() {value=[3.0]} : f32[3,2]
%1 = input() {name="x"} : f32[3,2]
%2 = sub(%1, %0) : f32[3,2]
return %2
)");
}

TEST(Simplify, ConstWithEqualValuesBecomesASplat) {
  expect_simplified("%0 = const() {value=[1.0,1.0,1.0]} : f32[3]\nreturn %0\n",
                    "%0 = const() {value=[1.0]} : f32[3]\nreturn %0\n");
  expect_unchanged("%0 = const() {value=[0.0,-0.0]} : f32[2]\nreturn %0\n");
}

// ---- casts ------------------------------------------------------------------------------------

TEST(Simplify, CastToTheSameDtype) {
  expect_simplified(std::string(kX) + "%1 = cast(%0) : f32[2,3]\nreturn %1\n",
                    std::string(kX) + "return %0\n");
}

TEST(Simplify, CastThroughAWiderTypeIsExact) {
  expect_simplified(std::string(kX) + R"(%1 = cast(%0) : f64[2,3]
%2 = cast(%1) : f32[2,3]
return %2
)",
                    std::string(kX) + "return %0\n");
  expect_simplified(R"(%0 = input() {name="n"} : i32[3]
%1 = cast(%0) : f64[3]
%2 = cast(%1) : f32[3]
return %2
)",
                    R"(%0 = input() {name="n"} : i32[3]
%1 = cast(%0) : f32[3]
return %1
)");
  expect_simplified(R"(%0 = input() {name="b"} : bool[3]
%1 = cast(%0) : i32[3]
%2 = cast(%1) : f32[3]
return %2
)",
                    R"(%0 = input() {name="b"} : bool[3]
%1 = cast(%0) : f32[3]
return %1
)");
}

TEST(Simplify, CastThroughANarrowerTypeIsNotRewritten) {
  expect_unchanged(R"(%0 = input() {name="x"} : f64[3]
%1 = cast(%0) : f32[3]
%2 = cast(%1) : f64[3]
return %2
)");
  expect_unchanged(std::string(kX) + R"(%1 = cast(%0) : i32[2,3]
%2 = cast(%1) : f32[2,3]
%3 = cast(%0) : bool[2,3]
%4 = cast(%3) : f32[2,3]
return %2, %4
)");
}

TEST(Simplify, StopGradientIsGoneAfterAutodiff) {
  expect_simplified(std::string(kX) + "%1 = stop_gradient(%0) : f32[2,3]\nreturn %1\n",
                    std::string(kX) + "return %0\n");
}

// ---- select -----------------------------------------------------------------------------------

const char* kSel = R"(%0 = input() {name="c"} : bool[3]
%1 = input() {name="a"} : f32[3]
%2 = input() {name="b"} : f32[3]
)";

TEST(Simplify, SelectOfEqualBranches) {
  expect_simplified(std::string(kSel) + "%3 = select(%0, %1, %1) : f32[3]\nreturn %3\n",
                    "%0 = input() {name=\"a\"} : f32[3]\nreturn %0\n");
}

TEST(Simplify, SelectWithAConstantCondition) {
  const char* ab = R"(%0 = input() {name="a"} : f32[3]
%1 = input() {name="b"} : f32[3]
)";
  expect_simplified(std::string(ab) + R"(%2 = const() {value=[1.0]} : bool[]
%3 = reshape(%2) : bool[1]
%4 = broadcast(%3) : bool[3]
%5 = select(%4, %0, %1) : f32[3]
%6 = const() {value=[0.0]} : bool[3]
%7 = select(%6, %0, %1) : f32[3]
return %5, %7
)",
                    std::string(ab) + "return %0, %1\n");
}

TEST(Simplify, SelectOfANegatedCondition) {
  expect_simplified(std::string(kSel) + R"(%3 = not(%0) : bool[3]
%4 = select(%3, %1, %2) : f32[3]
return %4
)",
                    std::string(kSel) + "%3 = select(%0, %2, %1) : f32[3]\nreturn %3\n");
}

// ---- constant folding -------------------------------------------------------------------------

TEST(Simplify, FoldsConstantSubgraphs) {
  expect_simplified(R"(%0 = const() {value=[1.0,2.0,3.0]} : f32[3]
%1 = const() {value=[10.0,20.0,30.5]} : f32[3]
%2 = add(%0, %1) : f32[3]
%3 = reshape(%2) : f32[1,3]
%4 = reduce_sum(%3) {axes=[1]} : f32[1,1]
%5 = input() {name="x"} : f32[1,1]
%6 = mul(%5, %4) : f32[1,1]
return %2, %6
)",
                    R"(%0 = const() {value=[11.0,22.0,33.5]} : f32[3]
%1 = const() {value=[66.5]} : f32[1,1]
%2 = input() {name="x"} : f32[1,1]
%3 = mul(%2, %1) : f32[1,1]
return %0, %3
)");
}

TEST(Simplify, FoldsMatmulAndComparisons) {
  expect_simplified(R"(%0 = const() {value=[1.0,2.0,3.0,4.0]} : f64[2,2]
%1 = const() {value=[0.5]} : f64[2,2]
%2 = matmul(%0, %1) : f64[2,2]
%3 = const() {value=[2.0]} : f64[2,2]
%4 = gt(%2, %3) : bool[2,2]
return %2, %4
)",
                    R"(%0 = const() {value=[1.5,1.5,3.5,3.5]} : f64[2,2]
%1 = const() {value=[0.0,0.0,1.0,1.0]} : bool[2,2]
return %0, %1
)");
}

TEST(Simplify, FoldsElementwiseSplatsOfAnySize) {
  expect_simplified(R"(%0 = const() {value=[0.0]} : f32[100,100]
%1 = exp(%0) : f32[100,100]
%2 = cast(%1) : i32[100,100]
return %2
)",
                    "%0 = const() {value=[1.0]} : i32[100,100]\nreturn %0\n");
}

TEST(Simplify, FoldingRoundsToTheDtype) {
  expect_simplified(R"(%0 = const() {value=[1.0]} : f32[]
%1 = const() {value=[3.0]} : f32[]
%2 = div(%0, %1) : f32[]
return %2
)",
                    "%0 = const() {value=[0.3333333432674408]} : f32[]\nreturn %0\n");
}

TEST(Simplify, SourcesAreNeverFolded) {
  expect_unchanged(R"(%0 = const() {value=[0.0]} : i32[]
%1 = rand_uniform(%0) {seed=7} : f32[3]
%2 = iota() {axis=0} : i32[3]
%3 = input() {name="x"} : f32[3]
%4 = param() {name="w"} : f32[3]
return %1, %2, %3, %4
)");
}

TEST(Simplify, FoldsOnlySmallResults) {
  // A non-splat result over 4096 elements stays a node (the IR would grow by its values).
  Graph g;
  std::vector<double> values(5000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>(i);
  NodeId c = g.add(Op::Const, {}, {{"value", values}}, TensorType{DType::f32, Shape{5000}});
  NodeId n = g.add(Op::Neg, {c});
  NodeId r = g.add(Op::ReduceSum, {c}, {{"axes", std::vector<int64_t>{0}}});
  Module m{g, {n, r}, {}};
  EXPECT_TRUE(simplify(m, make_interp_fold_fn()));
  ASSERT_EQ(m.graph.size(), 3);
  EXPECT_EQ(m.graph.node(m.outputs[0]).op, Op::Neg);
  // The 1-element sum of the constant is folded: 0 + 1 + ... + 4999.
  const Node& sum = m.graph.node(m.outputs[1]);
  ASSERT_EQ(sum.op, Op::Const);
  EXPECT_EQ(sum.attrs.get_floats("value"), std::vector<double>{12497500.0});
}

TEST(Simplify, WithoutAFoldFunctionOnlyRewrites) {
  const std::string text = R"(%0 = const() {value=[1.0,2.0]} : f32[2]
%1 = const() {value=[1.0]} : f32[2]
%2 = add(%0, %1) : f32[2]
%3 = mul(%2, %1) : f32[2]
%4 = exp(%1) : f32[2]
return %3, %4
)";
  bool changed = false;
  EXPECT_EQ(run_on_text(
                text, [](Module& m) { return simplify(m, FoldFn{}); }, &changed),
            R"(%0 = const() {value=[1.0,2.0]} : f32[2]
%1 = const() {value=[1.0]} : f32[2]
%2 = add(%0, %1) : f32[2]
%3 = exp(%1) : f32[2]
return %2, %3
)");
  EXPECT_TRUE(changed);
}

TEST(Simplify, AFoldFunctionMayDecline) {
  FoldFn decline = [](const Node&, const std::vector<std::vector<double>>&,
                      const std::vector<TensorType>&) {
    return std::optional<std::vector<double>>();
  };
  const std::string text = R"(%0 = const() {value=[1.0,2.0]} : f32[2]
%1 = exp(%0) : f32[2]
return %1
)";
  bool changed = true;
  EXPECT_EQ(run_on_text(
                text, [&](Module& m) { return simplify(m, decline); }, &changed),
            text);
  EXPECT_FALSE(changed);
}

TEST(Simplify, UpdatesKeepTheirParamsAndAreRemapped) {
  Module m = pass_test::parse_module(R"(%0 = param() {name="w"} : f32[3]
%1 = param() {name="v"} : f32[3]
%2 = const() {value=[0.0]} : f32[]
%3 = reshape(%2) : f32[1]
%4 = broadcast(%3) : f32[3]
%5 = add(%0, %4) : f32[3]
%6 = const() {value=[2.0]} : f32[3]
%7 = const() {value=[0.25]} : f32[3]
%8 = mul(%6, %7) : f32[3]
%9 = mul(%1, %8) : f32[3]
%10 = sub(%1, %9) : f32[3]
return %5
)");
  m.updates = {{0, 5}, {1, 10}};  // w <- w + 0 (a no-op update), v <- v - v * (2 * 0.25)
  Module before = m;
  EXPECT_TRUE(simplify(m, make_interp_fold_fn()));
  EXPECT_EQ(print_graph(m.graph, m.outputs), R"(%0 = param() {name="w"} : f32[3]
%1 = param() {name="v"} : f32[3]
%2 = const() {value=[0.5]} : f32[3]
%3 = mul(%1, %2) : f32[3]
%4 = sub(%1, %3) : f32[3]
return %0
)");
  EXPECT_EQ(m.updates, (std::vector<std::pair<NodeId, NodeId>>{{0, 0}, {1, 4}}));
  pass_test::expect_equivalent(before, m, "simplify with updates");
}

TEST(Simplify, DropsDeadNodes) {
  expect_simplified(std::string(kX) + R"(%1 = exp(%0) : f32[2,3]
%2 = neg(%0) : f32[2,3]
return %2
)",
                    std::string(kX) + "%1 = neg(%0) : f32[2,3]\nreturn %1\n");
}

TEST(Simplify, AlreadySimpleGraphIsUnchanged) {
  expect_unchanged(std::string(kX) + R"(%1 = param() {name="w"} : f32[3,4]
%2 = matmul(%0, %1) : f32[2,4]
%3 = tanh(%2) : f32[2,4]
return %3
)");
}

}  // namespace
}  // namespace soma
