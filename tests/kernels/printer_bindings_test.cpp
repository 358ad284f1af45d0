// The kernel IR's text form on programs with shared subexpressions: an expression read in
// several places is printed once, in the kernel's `where` section, so that the text grows
// linearly with the program (a tree form doubles with every level of x = x*x + x).
#include <gtest/gtest.h>

#include <cstring>

#include "backends/interp/kernel_eval.h"
#include "frontend/compile.h"
#include "graph/error.h"
#include "graph/kernel_parser.h"
#include "passes/pipeline.h"

namespace soma {
namespace {

// x = x*x + x, `levels` times, in one kernel.
kir::Program doubling_program(int levels) {
  ContextScope scope(std::make_shared<Context>());
  Tensor x = input("x", {4});
  Tensor y = x;
  for (int i = 0; i < levels; ++i) y = y * y * 0.5 + y * 0.25;
  Module m;
  std::vector<NodeId> map;
  m.graph = extract(Context::current()->graph(), {y.id()}, &map);
  m.outputs = {map[static_cast<size_t>(y.id())]};
  PipelineOptions o;
  o.verify = true;  // includes the round trip of the text
  return lower_to_kernels(m, o);
}

TEST(KernelTextBindings, ADeepSharedExpressionPrintsInLinearSize) {
  // (Fusion cuts the chain into kernels of bounded depth; each still holds 2^20 and more paths.)
  kir::Program p = doubling_program(100);
  const std::string text = kir::print_program(p);
  EXPECT_LT(text.size(), 100000u) << text.substr(0, 2000);
  EXPECT_NE(text.find("  where\n    %0 = "), std::string::npos) << text.substr(0, 2000);
  // It reads back as the same program, computing the same values, and prints the same again.
  kir::Program back = kir::parse_program(text);
  EXPECT_FALSE(kir::difference(back, p));
  EXPECT_EQ(kir::print_program(back), text);
  ParamStore params;
  Feeds feeds{{"x", Array::from_doubles(DType::f32, {4}, std::vector<double>{0.1, -0.2, 0.3, 0})}};
  auto a = run_program(p, feeds, params, false), b = run_program(back, feeds, params, false);
  EXPECT_EQ(0, std::memcmp(a[0].raw(), b[0].raw(), a[0].nbytes()));
}

TEST(KernelTextBindings, SmallSharedExpressionsStayInline) {
  kir::Program p = doubling_program(2);
  EXPECT_EQ(kir::print_program(p).find("where"), std::string::npos) << kir::print_program(p);
}

kir::Program parse(const std::string& body, const std::string& where) {
  return kir::parse_program(R"(program {
  buffers:
    x: input f32[4]
    out0: output f32[4]
  outputs: out0
  arena: 0 bytes (0 without reuse)
}
kernel k(x: f32[4], out out0: f32[4]) {
  parallel i0 in 0..4
    store out0[i0] = )" + body +
                            "\n" + where + "}\n");
}

TEST(KernelTextBindings, BadBindingsAreErrorsWithPlaces) {
  auto error = [](const std::string& body, const std::string& where) {
    try {
      parse(body, where);
    } catch (const ParseError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error("%0 + %1", "  where\n    %0 = load x[i0]\n").find("%1 is not bound"),
            std::string::npos);
  EXPECT_NE(error("%0", "  where\n    %0 = %0*2.0\n").find("refers to itself"), std::string::npos);
  EXPECT_NE(error("%0", "  where\n    %0 = load x[i0]\n    %0 = 1.0\n").find("bound twice"),
            std::string::npos);
  EXPECT_NE(error("%0", "  where\n    load x[i0]\n").find("expected a binding"), std::string::npos);
  EXPECT_NE(error("%0", "  where\n    %0 = load x[i0] 2.0\n").find("end of binding %0"),
            std::string::npos);
  // A modulo is still a modulo; a binding read twice is one expression.
  kir::Program ok = parse("%0 + %0", "  where\n    %0 = f32(i0 % 3)\n");
  int casts = 0;
  for (const kir::Expr& e : ok.kernels[0].exprs) casts += e.kind == kir::ExprKind::Cast;
  EXPECT_EQ(casts, 1);
  ParamStore params;
  auto out = run_program(ok, {{"x", Array(DType::f32, Shape{4})}}, params, false);
  EXPECT_EQ(out[0].get(3), 0.0);
  EXPECT_EQ(out[0].get(2), 4.0);
}

}  // namespace
}  // namespace soma
