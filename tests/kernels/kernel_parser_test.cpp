// The kernel-IR parser (graph/kernel_parser.h), program comparison and the verifier
// (graph/kernel_verify.h): round trips, every construct of the text form, and clear errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "graph/error.h"
#include "graph/kernel_parser.h"
#include "graph/kernel_verify.h"
#include "kernels/kir_build.h"

namespace soma {
namespace {

using namespace kir;
using namespace kir::test;

void expect_round_trip(const Program& p) {
  std::string text = print_program(p, true);
  Program back = parse_program(text);
  auto diff = difference(back, p);
  EXPECT_FALSE(diff) << *diff << "\n" << text;
  EXPECT_EQ(print_program(back, true), text);
}

TEST(KernelParser, HandBuiltProgramsRoundTrip) {
  expect_round_trip(softmax_rows_program(4, 10));
  expect_round_trip(softmax_rows_program(1, 1));
}

// Every kind of expression, literal and statement, a contraction, constants of each dtype,
// names that need quotes.
TEST(KernelParser, EveryConstructRoundTrips) {
  Program p;
  BufferId x = input(p, "x", {2, 3});
  BufferId q = input(p, "odd name:1", {3}, DType::f64);
  BufferId w = param(p, "layer/kernel", {3, 2});
  BufferId cb = constant(p, "cb", {3}, {1, 0, 1}, DType::boolean);
  BufferId cf = constant(
      p, "cf", {3},
      {std::numeric_limits<double>::infinity(), -0.0, std::numeric_limits<double>::quiet_NaN()},
      DType::f64);
  BufferId ci = constant(p, "ci", {2}, {-2147483648.0, 2147483647.0}, DType::i32);
  BufferId cs = constant(p, "cs", {3}, {0.1}, DType::f32);  // a splat
  BufferId t = temp(p, "t", {2, 2}, 0);
  BufferId y = output(p, {2, 2});
  BufferId z = output(p, {3}, DType::f64);
  p.arena_bytes = 16;
  p.unplanned_bytes = 16;
  p.updates = {{w, w}};
  {
    Kernel k;
    k.name = "mm";
    VarId i = k.new_var(DType::i32, "i", 2), j = k.new_var(DType::i32, "j", 2);
    VarId kk = k.new_var(DType::i32, "k", 3);
    k.parallel = {{i, 2}, {j, 2}};
    k.is_contraction = true;
    k.contraction.k = {kk, 3};
    k.contraction.a = k.load(x, DType::f32, linear(k, {{i, 3}, {kk, 1}}));
    k.contraction.b = k.binary(Op::Mul, k.load(w, DType::f32, linear(k, {{kk, 2}, {j, 1}})),
                               k.load(cs, DType::f32, k.var_ref(kk)));
    k.contraction.acc = k.new_var(DType::f32, "acc");
    k.body = {store(t, linear(k, {{i, 2}, {j, 1}}), k.var_ref(k.contraction.acc))};
    k.reads = {x, w, cs};
    k.writes = {t};
    p.kernels.push_back(k);
  }
  {
    Kernel k;
    k.name = "everything";
    VarId n = k.new_var(DType::i32, "n", 3), r = k.new_var(DType::i32, "r", 4);
    VarId v = k.new_var(DType::f64, "v"), s = k.new_var(DType::f64, "v");
    VarId l = k.new_var(DType::i32, "l", 2);
    k.parallel = {{n, 3}};
    ExprId nv = k.var_ref(n);
    ExprId mask = k.binary(Op::And, k.load(cb, DType::boolean, nv),
                           k.unary(Op::Not, k.binary(Op::Eq, nv, k.index_const(1))));
    ExprId qv = k.load(q, DType::f64, nv, mask, -2.5);
    ExprId fancy = k.binary(
        Op::Pow, k.binary(Op::Max, qv, k.rand(42, k.var_ref(r), k.index_const(-3), DType::f64)),
        k.constant(2, DType::f64));
    ExprId chosen = k.select(k.binary(Op::Lt, fancy, k.constant(1e-30, DType::f64)),
                             k.unary(Op::Sigmoid, fancy),
                             k.cast(k.load(ci, DType::i32, k.imod(nv, 2)), DType::f64));
    k.body = {
        reduce(s, Op::ReduceSum, {{r, 4}},
               k.binary(Op::Sub, k.var_ref(v), k.load(cf, DType::f64, nv)),
               {let(v, k.binary(Op::Div, chosen,
                                k.cast(k.rand(1, nv, k.var_ref(r), DType::f32), DType::f64)))}),
        store(z, nv, k.var_ref(s)),
        loop({{l, 2}}, {store(y,
                              k.binary(Op::Add, k.binary(Op::Mul, k.idiv(nv, 2), k.index_const(2)),
                                       k.var_ref(l)),
                              k.load(t, DType::f32, k.var_ref(l)))}),
    };
    k.reads = {cb, q, ci, cf, t};
    k.writes = {z, y};
    k.sequential = true;
    p.kernels.push_back(k);
  }
  {
    Kernel k;
    k.name = "one point";
    k.body = {store(w, k.index_const(0), k.constant(-0.0, DType::f32))};
    k.writes = {w};
    p.kernels.push_back(k);
  }
  verify(p);
  expect_round_trip(p);
  std::string text = print_program(p, true);
  // Typed literals, quoted names, masked loads, f64 rand.
  for (const char* piece :
       {"\"odd name:1\": input f64[3]", "layer/kernel: param f32[3,2]", "= [infd, -0.0d, nand]",
        "[-2147483648, 2147483647]", "= [true, false, true]", "cs: const f32[3] = 0.1",
        "(load \"odd name:1\"[n0] if load cb[n0] && not(n0 == 1) else -2.5d)", ", f64)",
        "kernel \"one point\"(out layer/kernel: f32[3,2])", "parallel (one point)",
        "sequential n0 in 0..3", "contract i0 in 0..2, j1 in 0..2, k2 in 0..3:"})
    EXPECT_NE(text.find(piece), std::string::npos) << piece << "\n" << text;
}

TEST(KernelParser, DifferenceNamesWhatDiffers) {
  Program a = softmax_rows_program(4, 10);
  EXPECT_FALSE(difference(a, a));
  Program b = a;
  b.kernels[0].body[2].body[0].value = b.kernels[0].add([&] {
    Expr e = b.kernels[0].expr(b.kernels[0].body[2].body[0].value);
    e.op = Op::Mul;
    return e;
  }());
  auto d = difference(a, b);
  ASSERT_TRUE(d);
  EXPECT_NE(d->find("kernel softmax_rows: statement 2: statement 0: values differ"),
            std::string::npos)
      << *d;
  Program c = a;
  c.buffers[0].shape = Shape{4, 11};
  ASSERT_TRUE(difference(a, c));
  EXPECT_NE(difference(a, c)->find("buffer x: types f32[4,10] and f32[4,11]"), std::string::npos);
}

std::string parse_error(const std::string& text) {
  try {
    parse_program(text);
  } catch (const ParseError& e) {
    return e.what();
  }
  return "(no error)";
}

const char* kHeader =
    "program {\n"
    "  buffers:\n"
    "    x: input f32[4]\n"
    "    out0: output f32[4]\n"
    "  outputs: out0\n"
    "  arena: 0 bytes (0 without reuse)\n"
    "}\n";

TEST(KernelParser, ErrorsNameTheLineAndColumn) {
  auto with = [](const std::string& kernel) { return kHeader + kernel; };
  EXPECT_EQ(parse_error(with("kernel k(x: f32[4], out out0: f32[4]) {\n"
                             "  parallel i0 in 0..4\n"
                             "    store out0[i0] = load y[i0]\n"
                             "}\n")),
            "10:27: unknown buffer y");
  EXPECT_EQ(parse_error(with("kernel k(x: f32[4], out out0: f32[4]) {\n"
                             "  parallel i0 in 0..4\n"
                             "    store out0[i1] = load x[i0]\n"
                             "}\n")),
            "10:16: unknown var i1");
  EXPECT_EQ(parse_error(with("kernel k(x: f32[4], out out0: f32[4]) {\n"
                             "  parallel i0 in 0..4\n"
                             "    store out0[i0] = load x[i0] + 1\n"
                             "}\n")),
            "10:33: add of f32 and i32");
  EXPECT_EQ(parse_error(with("kernel k(x: f32[4], out out0: f32[5]) {\n")),
            "8:25: kernel k declares out0 as f32[5], the program as f32[4]");
  EXPECT_EQ(parse_error(with("kernel k(x: f32[4], out out0: f32[4]) {\n"
                             "  parallel i0 in 0..4\n"
                             "    store out0[i0] = exp(load x[i0], 1.0)\n"
                             "}\n")),
            "10:22: exp takes 1 operands, not 2");
  EXPECT_EQ(parse_error(with("kernel k(x: f32[4], out out0: f32[4]) {\n"
                             "  parallel i0 in 0..4\n"
                             "    store out0[i0] = load x[i0]\n"
                             "      store out0[i0] = load x[i0]\n"
                             "}\n")),
            "11:7: unexpected indentation");
  EXPECT_EQ(parse_error(with("kernel k(x: f32[4], out out0: f32[4]) {\n"
                             "  parallel i0 in 0..4\n"
                             "    store out0[i0] = $\n"
                             "}\n")),
            "10:22: unexpected character '$'");
  // The verifier's rules hold for what is read: here, a store to an input.
  std::string msg =
      parse_error(with("kernel k(inout x: f32[4]) {\n"
                       "  parallel i0 in 0..4\n"
                       "    store x[i0] = 0.0\n"
                       "}\n"));
  EXPECT_NE(msg.find("kernel-IR verifier: kernel k: writes x, a input buffer"), std::string::npos)
      << msg;
  EXPECT_EQ(
      parse_error("program {\n  buffers:\n    c: const f32[20] = [1.0, 2.0, ... (20 values)]\n"),
      "3:35: constant c has elided values: print the program with all its data "
      "(print_program(p, true), as SOMA_DUMP_DIR writes it)");
  EXPECT_EQ(parse_error(""), "1:1: expected 'program', found the end of the text");
}

TEST(KernelParser, ElidedProgramsDoNotParse) {
  Program p;
  std::vector<double> many(20, 1.0);
  constant(p, "c", {20}, many);
  EXPECT_NE(print_program(p).find("... (20 values)"), std::string::npos);
  EXPECT_NE(parse_error(print_program(p)).find("has elided values"), std::string::npos);
  expect_round_trip(p);
}

// ---- the verifier ----

std::string first_problem(const Program& p) {
  auto all = verify_all(p);
  return all.empty() ? "(valid)" : all[0];
}

Program one_kernel(const std::function<void(Program&, Kernel&)>& build) {
  Program p;
  input(p, "x", {4});
  output(p, {4});
  Kernel k;
  k.name = "k";
  build(p, k);
  p.kernels.push_back(k);
  return p;
}

TEST(KernelVerifier, NamesTheRuleThatIsBroken) {
  // A loop var used after its loop.
  EXPECT_EQ(
      first_problem(one_kernel([](Program&, Kernel& k) {
        VarId n = k.new_var(DType::i32, "n"), j = k.new_var(DType::i32, "j");
        k.parallel = {{n, 4}};
        k.body = {loop({{j, 2}}, {}), store(1, k.var_ref(n), k.cast(k.var_ref(j), DType::f32))};
        k.writes = {1};
      })),
      "kernel-IR verifier: kernel k: the value of a store to out0 reads j1 outside its scope");
  // A param written without an in-place update.
  EXPECT_EQ(first_problem(one_kernel([](Program& p, Kernel& k) {
              BufferId w = param(p, "w", {4});
              VarId n = k.new_var(DType::i32, "n");
              k.parallel = {{n, 4}};
              k.body = {store(w, k.var_ref(n), k.constant(0, DType::f32))};
              k.writes = {w};
            })),
            "kernel-IR verifier: kernel k: writes w, a param buffer that no kernel may write (it "
            "is not updated in place)");
  // A temp outside the arena.
  {
    Program p;
    temp(p, "t", {4}, 8);
    p.arena_bytes = 16;
    EXPECT_EQ(first_problem(p),
              "kernel-IR verifier: buffer t: bytes [8, 24) lie outside the arena of 16 bytes");
  }
  // A store index of the wrong dtype; a var bound twice; an accumulator of another dtype.
  EXPECT_EQ(first_problem(one_kernel([](Program&, Kernel& k) {
              VarId n = k.new_var(DType::i32, "n");
              k.parallel = {{n, 4}};
              k.body = {store(1, k.cast(k.var_ref(n), DType::f32), k.constant(1, DType::f32))};
              k.writes = {1};
            })),
            "kernel-IR verifier: kernel k: the index of a store to out0 must be i32, not f32");
  EXPECT_EQ(first_problem(one_kernel([](Program&, Kernel& k) {
              VarId n = k.new_var(DType::i32, "n");
              k.parallel = {{n, 4}};
              k.body = {loop({{n, 2}}, {})};
            })),
            "kernel-IR verifier: kernel k: a loop binds n0, already bound");
  EXPECT_EQ(first_problem(one_kernel([](Program&, Kernel& k) {
              VarId i = k.new_var(DType::i32, "i"), j = k.new_var(DType::i32, "j");
              VarId kk = k.new_var(DType::i32, "k");
              k.parallel = {{i, 2}, {j, 2}};
              k.is_contraction = true;
              k.contraction.k = {kk, 2};
              k.contraction.a = k.load(0, DType::f32, k.var_ref(kk));
              k.contraction.b = k.load(0, DType::f32, k.var_ref(j));
              k.contraction.acc = k.new_var(DType::f64, "acc");
              k.reads = {0};
            })),
            "kernel-IR verifier: kernel k: the accumulator acc3 is f64, its products f32");
  // A division by something that is not a positive constant.
  EXPECT_EQ(first_problem(one_kernel([](Program&, Kernel& k) {
              VarId n = k.new_var(DType::i32, "n");
              k.parallel = {{n, 4}};
              Expr e;
              e.kind = ExprKind::IDiv;
              e.dtype = DType::i32;
              e.a[0] = k.var_ref(n);
              e.a[1] = k.var_ref(n);
              k.add(e);
            })),
            "kernel-IR verifier: kernel k: expression 1 divides by something other than a "
            "positive i32 constant");
}

// Found by the fuzzer: an i32 written -0 read as the double -0.0, printed as 0 and read back as
// +0.0, a different program. Integers have one zero.
TEST(KernelParser, AnIntegerMinusZeroIsZero) {
  const std::string text = R"(program {
  buffers:
    c: const i32[3] = [1, -0, 3]
    out0: output i32[3]
  outputs: out0
  arena: 0 bytes (0 without reuse)
}
kernel k(c: i32[3], out out0: i32[3]) {
  parallel i0 in 0..3
    store out0[i0] = load c[i0]*-0
}
)";
  kir::Program p = kir::parse_program(text);
  const std::string printed = kir::print_program(p, true);
  EXPECT_FALSE(kir::difference(kir::parse_program(printed), p)) << printed;
  EXPECT_FALSE(std::signbit(p.buffers[0].data[1]));
}

}  // namespace
}  // namespace soma
