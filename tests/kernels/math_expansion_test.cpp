// The composite math expansions (graph/kernel_math.h), checked once on the kernel evaluator:
// every expandable (op, dtype) run as itself (the evaluator calls the C library) and as its
// expansion over a sweep of inputs (signs, magnitudes from denormals to overflow, the branch
// thresholds, NaN, infinities, zeros), within a bound in units in the last place of the result.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "backends/interp/kernel_eval.h"
#include "graph/kernel_math.h"
#include "graph/kernel_parser.h"
#include "graph/kernel_verify.h"
#include "graph/philox.h"

namespace soma {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// The program `out[i] = op(x[i])` (or pow(x[i], y[i])) over n elements of t.
kir::Program one_op(Op op, DType t, int64_t n) {
  const std::string ty = std::string(dtype_name(t)) + "[" + std::to_string(n) + "]";
  const bool pow = op == Op::Pow;
  std::string text = "program {\n  buffers:\n    x: input " + ty + "\n" +
                     (pow ? "    y: input " + ty + "\n" : "") + "    out0: output " + ty +
                     "\n  outputs: out0\n  arena: 0 bytes (0 without reuse)\n}\n";
  text += "kernel k(x: " + ty + (pow ? ", y: " + ty : "") + ", out out0: " + ty +
          ") {\n  parallel i0 in 0.." + std::to_string(n) +
          "\n    store out0[i0] = " + op_name(op) + "(load x[i0]" + (pow ? ", load y[i0]" : "") +
          ")\n}\n";
  return kir::parse_program(text);
}

// Units in the last place of `want` (in dtype t) between got and want; 0 when both are the same
// NaN/infinity, a huge number when only one is.
double ulps(double got, double want, DType t) {
  if (std::isnan(want) || std::isnan(got)) return std::isnan(want) && std::isnan(got) ? 0 : 1e30;
  if (std::isinf(want) || std::isinf(got)) return got == want ? 0 : 1e30;
  double ulp;
  if (t == DType::f32) {
    float w = static_cast<float>(std::fabs(want));
    ulp = std::nextafter(w, std::numeric_limits<float>::infinity()) - w;
    ulp = std::max(ulp, static_cast<double>(std::numeric_limits<float>::denorm_min()));
  } else {
    double w = std::fabs(want);
    ulp = std::nextafter(w, kInf) - w;
  }
  return std::fabs(got - want) / ulp;
}

std::vector<double> sweep(DType t) {
  std::vector<double> v = {kNaN, kInf, -kInf, 0.0, -0.0, 1,   -1, 0.5, -0.5, 2,    -2,    4,     -4,
                           6,    -6,   9,     -9,  22,   -22, 88, -88, 103,  -104, 1e-30, -1e-30};
  const double tiny = t == DType::f32 ? 1e-45 : 5e-324;
  for (double s : {1.0, -1.0}) {
    v.push_back(s * tiny);
    for (double thr : {0.5, 1.0, 4.0, 6.0, 9.0, 22.0})  // the branch thresholds, both sides
      for (double d : {-1e-7, 1e-7}) v.push_back(s * thr * (1 + d));
    for (int i = 0; i <= 600; ++i) v.push_back(s * std::pow(10.0, -9 + i * 0.02));  // 1e-9..1e3
    for (int i = 0; i <= 400; ++i) v.push_back(s * 0.025 * i);                      // 0..10
  }
  if (t == DType::f64)
    for (double x : {1e-310, 1e-300, 1e300, 1.7e308, 700.0, 709.7, 709.8, -708.0, -745.0, -745.3,
                     -740.0, 1e5, 123456.789})
      v.insert(v.end(), {x, -x});
  for (double& x : v)
    if (t == DType::f32) x = static_cast<float>(x);
  return v;
}

struct Bound {
  Op op;
  DType t;
  double max_ulps;
};

// The measured maxima plus one. f32 erf's middle range is Abramowitz-Stegun 7.1.26 (absolute
// error 1.5e-7); f64 erf's series rounds in each of its terms (an absolute error under 4e-15,
// 29 ulps next to 1, at x = 5.7); f64 pow is exp(y log|x|), which loses |y log x| ulps.
const Bound kBounds[] = {
    {Op::Sigmoid, DType::f32, 3}, {Op::Sigmoid, DType::f64, 3}, {Op::Tanh, DType::f32, 3},
    {Op::Tanh, DType::f64, 3},    {Op::Expm1, DType::f32, 2},   {Op::Expm1, DType::f64, 3},
    {Op::Log1p, DType::f32, 3},   {Op::Log1p, DType::f64, 3},   {Op::Erf, DType::f32, 4},
    {Op::Erf, DType::f64, 30},    {Op::Exp, DType::f64, 2},     {Op::Log, DType::f64, 3},
    {Op::Sin, DType::f64, 2},     {Op::Cos, DType::f64, 2},     {Op::Pow, DType::f64, 161},
};

std::vector<double> run(const kir::Program& p, DType t, const std::vector<double>& x,
                        const std::vector<double>& y) {
  Feeds feeds;
  const Shape s{static_cast<int64_t>(x.size())};
  feeds["x"] = Array::from_doubles(t, s, x);
  if (!y.empty()) feeds["y"] = Array::from_doubles(t, s, y);
  ParamStore params;
  Array out = run_program(p, feeds, params, false).at(0);
  std::vector<double> v(static_cast<size_t>(out.numel()));
  for (int64_t i = 0; i < out.numel(); ++i) v[static_cast<size_t>(i)] = out.get(i);
  return v;
}

TEST(MathExpansion, EveryExpansionIsCloseToTheCLibrary) {
  ASSERT_EQ(std::size(kBounds), kir::expandable_math().fns.size());
  for (const Bound& b : kBounds) {
    const std::string what = std::string(op_name(b.op)) + " " + dtype_name(b.t);
    std::vector<double> x = sweep(b.t), y;
    if (b.op == Op::Sin || b.op == Op::Cos) {  // the reduction is documented for |x| < 1e6
      std::vector<double> kept;
      for (double v : x)
        if (!(std::fabs(v) > 1e6 && std::isfinite(v))) kept.push_back(v);
      x = kept;
    }
    if (b.op == Op::Pow) {  // every pair of a grid of bases and exponents
      const std::vector<double> bases = {kNaN, kInf,   -kInf, 0.0,  -0.0,  1,   -1,
                                         0.5,  -0.5,   2,     -2,   3,     -3,  10,
                                         0.1,  1e-300, 1e300, 7.25, -7.25, 1e-5};
      const std::vector<double> exps = {kNaN, kInf, -kInf, 0.0, -0.0, 1,   -1,   2,    -2,     3,
                                        -3,   0.5,  -0.5,  2.5, 1e-3, 100, -100, 1e10, 0.3333, 17};
      x.clear();
      for (double a : bases)
        for (double e : exps) {
          x.push_back(a);
          y.push_back(e);
        }
    }
    kir::Program plain = one_op(b.op, b.t, static_cast<int64_t>(x.size()));
    kir::Program expanded = plain;
    expanded.kernels[0] = kir::expand_math(plain.kernels[0], kir::expandable_math());
    kir::verify(expanded);
    ASSERT_GT(expanded.kernels[0].exprs.size(), plain.kernels[0].exprs.size()) << what;
    // The expansion is kernel IR like any other: it prints and parses back the same.
    EXPECT_EQ(kir::difference(kir::parse_program(kir::print_program(expanded)), expanded),
              std::nullopt)
        << what;
    const std::vector<double> want = run(plain, b.t, x, y), got = run(expanded, b.t, x, y);
    double worst = 0;
    size_t worst_at = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      double u = ulps(got[i], want[i], b.t);
      if (u > worst) {
        worst = u;
        worst_at = i;
      }
    }
    EXPECT_LE(worst, b.max_ulps) << what << ": " << worst << " ulps at x = " << x[worst_at]
                                 << (y.empty() ? "" : ", y = " + std::to_string(y[worst_at]))
                                 << ": got " << got[worst_at] << ", want " << want[worst_at];
    std::printf("%-8s %s: at most %.2f ulps over %zu inputs\n", op_name(b.op), dtype_name(b.t),
                worst, x.size());
  }
}

// Random draws expand into Philox's rounds in 32-bit word arithmetic: bit for bit the stream of
// graph/philox.h (which the evaluator runs for a rand expression), for any seed, counter and
// offset; the draws keep their numbers, so the seeds a code generator binds at run time are the
// same before and after.
TEST(MathExpansion, RandomDrawsAreExactlyPhilox) {
  const std::vector<int64_t> seeds = {0, 42, -5, 1250999896491, INT64_MIN, INT64_MAX};
  std::string text = "program {\n  buffers:\n    c: input i32[N]\n    o: input i32[N]\n";
  std::string outs, params, body;
  for (size_t d = 0; d < seeds.size(); ++d) {
    const std::string name = "out" + std::to_string(d), t = d % 2 ? "f64" : "f32";
    text += "    " + name + ": output " + t + "[N]\n";
    outs += (d ? " " : "") + name;
    params += ", out " + name + ": " + t + "[N]";
    body += "    store " + name + "[i0] = rand(" + std::to_string(seeds[d]) +
            ", load c[i0], load o[i0]" + (d % 2 ? ", f64" : "") + ")\n";
  }
  text += "  outputs: " + outs + "\n  arena: 0 bytes (0 without reuse)\n}\n";
  text +=
      "kernel draws(c: i32[N], o: i32[N]" + params + ") {\n  parallel i0 in 0..N\n" + body + "}\n";
  std::vector<double> counter, offset;
  for (int64_t c : {0LL, 1LL, 2LL, 255LL, 65536LL, 16777217LL, 2147483646LL, 2147483647LL})
    for (int64_t o : {0LL, 1LL, -1LL, 7LL, 2147483647LL, -2147483648LL}) {
      counter.push_back(static_cast<double>(c));
      offset.push_back(static_cast<double>(o));
    }
  for (int i = 0; i < 500; ++i) {
    counter.push_back(i * 7919);
    offset.push_back(i % 13 - 6);
  }
  const std::string n = std::to_string(counter.size());
  for (size_t at; (at = text.find("N]")) != std::string::npos;) text.replace(at, 1, n);
  text.replace(text.find("0..N"), 4, "0.." + n);
  kir::Program plain = kir::parse_program(text), expanded = plain;
  kir::MathSet rand_only;
  rand_only.rand = true;
  expanded.kernels[0] = kir::expand_math(plain.kernels[0], rand_only);
  kir::verify(expanded);
  for (const kir::Expr& e : expanded.kernels[0].exprs) ASSERT_NE(e.kind, kir::ExprKind::Rand);
  EXPECT_EQ(kir::rand_seeds(expanded), seeds);
  EXPECT_EQ(kir::rand_seeds(plain), seeds);
  EXPECT_EQ(kir::difference(kir::parse_program(kir::print_program(expanded)), expanded),
            std::nullopt);
  Feeds feeds;
  const Shape s{static_cast<int64_t>(counter.size())};
  feeds["c"] = Array::from_doubles(DType::i32, s, counter);
  feeds["o"] = Array::from_doubles(DType::i32, s, offset);
  ParamStore params_store;
  std::vector<Array> want = run_program(plain, feeds, params_store, false);
  std::vector<Array> got = run_program(expanded, feeds, params_store, false);
  for (size_t d = 0; d < seeds.size(); ++d)
    for (int64_t i = 0; i < s.numel(); ++i) {
      const double w = want[d].get(i), g = got[d].get(i);
      ASSERT_EQ(g, w) << "seed " << seeds[d] << ", counter " << counter[static_cast<size_t>(i)]
                      << ", offset " << offset[static_cast<size_t>(i)];
      ASSERT_EQ(w, philox_uniform(static_cast<uint64_t>(seeds[d]),
                                  static_cast<uint64_t>(counter[static_cast<size_t>(i)]),
                                  static_cast<uint32_t>(
                                      static_cast<int32_t>(offset[static_cast<size_t>(i)]))));
    }
}

// A kernel holds its draws in one form: rand expressions, or expanded seed words numbered 0..n-1
// with one seed each.
TEST(MathExpansion, TheVerifierChecksTheDraws) {
  auto kernel = [](const std::string& body) {
    return "program {\n  buffers:\n    out0: output i32[4]\n    out1: output f32[4]\n"
           "  outputs: out0 out1\n  arena: 0 bytes (0 without reuse)\n}\n"
           "kernel k(out out0: i32[4], out out1: f32[4]) {\n  parallel i0 in 0..4\n" +
           body + "}\n";
  };
  auto problem = [&](const std::string& body) -> std::string {
    try {
      kir::verify(kir::parse_program(kernel(body)));
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(problem("    store out0[i0] = u32_xor(seed_lo(3, 0), seed_hi(3, 1))\n"
                    "    store out1[i0] = 1.0\n"),
            "");
  EXPECT_NE(problem("    store out0[i0] = u32_xor(seed_lo(3, 0), seed_hi(4, 0))\n"
                    "    store out1[i0] = 1.0\n")
                .find("two seeds"),
            std::string::npos);
  EXPECT_NE(
      problem("    store out0[i0] = seed_lo(3, 1)\n    store out1[i0] = 1.0\n").find("not draw 0"),
      std::string::npos);
  EXPECT_NE(problem("    store out0[i0] = seed_lo(3, 0)\n    store out1[i0] = rand(3, i0, 0)\n")
                .find("both"),
            std::string::npos);
  EXPECT_NE(
      problem("    store out0[i0] = u32_shr(i0, i0)\n    store out1[i0] = 1.0\n").find("shifts by"),
      std::string::npos);
}

// Only what a target asks for is expanded: the rest of the kernel is left as it was.
TEST(MathExpansion, ExpandsOnlyWhatIsWanted) {
  kir::Program p = one_op(Op::Tanh, DType::f32, 8);
  kir::MathSet none;
  EXPECT_EQ(kir::expand_math(p.kernels[0], none).exprs.size(), p.kernels[0].exprs.size());
  kir::MathSet f64_only{{{Op::Tanh, DType::f64}}};
  EXPECT_EQ(kir::expand_math(p.kernels[0], f64_only).exprs.size(), p.kernels[0].exprs.size());
  // f64 sigmoid keeps its exp unless exp is wanted too.
  kir::Program s = one_op(Op::Sigmoid, DType::f64, 8);
  auto count_exp = [](const kir::Kernel& k) {
    int n = 0;
    for (const kir::Expr& e : k.exprs) n += e.kind == kir::ExprKind::Unary && e.op == Op::Exp;
    return n;
  };
  EXPECT_EQ(count_exp(kir::expand_math(s.kernels[0], {{{Op::Sigmoid, DType::f64}}})), 1);
  EXPECT_EQ(count_exp(kir::expand_math(s.kernels[0],
                                       {{{Op::Sigmoid, DType::f64}, {Op::Exp, DType::f64}}})),
            0);
}

}  // namespace
}  // namespace soma
