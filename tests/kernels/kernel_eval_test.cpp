// The kernel-IR evaluator's own behaviour: how it shares storage with the parameter store, what
// memory nothing wrote holds, its errors and its aborts. The values each construct of the IR
// computes are conformance cases (conformance_test.cpp), run on the evaluator and on every
// backend alike.
#include "backends/interp/kernel_eval.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "graph/error.h"
#include "graph/kernel_parser.h"
#include "kernels/kir_files.h"

namespace soma {
namespace {

using namespace kir;
using kirtest::load_kir;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Array f32(Shape s, std::vector<double> v) {
  return Array::from_doubles(DType::f32, std::move(s), v);
}
Array i32(Shape s, std::vector<double> v) {
  return Array::from_doubles(DType::i32, std::move(s), v);
}

std::vector<Array> run(const Program& p, const Feeds& feeds = {}) {
  ParamStore params;
  return run_program(p, feeds, params, true);
}

// NaN must match exactly; finite values within 1e-6 (relative, at least 1 absolute).
void expect_values(const Array& a, const std::vector<double>& want) {
  ASSERT_EQ(a.numel(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    double got = a.get(static_cast<int64_t>(i)), w = want[i];
    if (std::isnan(w))
      EXPECT_TRUE(std::isnan(got)) << "element " << i << " is " << got;
    else
      EXPECT_NEAR(got, w, 1e-6 * std::max(1.0, std::fabs(w))) << "element " << i;
  }
}

// One input x: f32[n] and one output out0: f32[n], with `body` as the kernel's statements.
Program one_kernel(const std::string& name, int64_t n, const std::string& body) {
  std::string s = std::to_string(n);
  return parse_program("program {\n  buffers:\n    x: input f32[" + s + "]\n    out0: output f32[" +
                       s + "]\n  outputs: out0\n  arena: 0 bytes (0 without reuse)\n}\nkernel " +
                       name + "(x: f32[" + s + "], out out0: f32[" + s +
                       "]) {\n  parallel n0 in 0.." + s + "\n" + body + "}\n");
}

// Hash-consing shares subexpressions: x doubled 60 times by v + v is a DAG of 60 nodes, which
// must be evaluated as such (plain recursion would take 2^60 steps). The text form spells an
// expression as a tree, 2^60 terms long here, so the doublings are added to a parsed program.
TEST(KernelEval, SharedSubexpressionsAreEvaluatedOnce) {
  Program p = one_kernel("doublings", 2, "    store out0[n0] = load x[n0]\n");
  Kernel& k = p.kernels[0];
  ExprId v = k.body[0].value;
  for (int i = 0; i < 60; ++i) v = k.binary(Op::Add, v, v);
  k.body[0].value = v;
  expect_values(run(p, {{"x", f32({2}, {1, -0.5})}})[0],
                {std::ldexp(1.0, 60), -std::ldexp(1.0, 59)});
}

// ---- parameters and updates ----

// Kernel 1 reads w (the old value) into out0; kernel 2 updates w in place: w -= 0.5 * g.
TEST(KernelEval, InPlaceParameterUpdateWritesTheStoreStorage) {
  Program p = load_kir("param_in_place_update.kir");
  ParamStore params;
  params.set("w", f32({4}, {1, 2, 3, 4}));
  Array held = params.get("w");  // shares the store's storage
  uint64_t version = params.version();
  Feeds feeds = {{"g", f32({4}, {2, 2, -2, 0})}};

  auto out = run_program(p, feeds, params, true);
  expect_values(out[0], {2, 4, 6, 8});  // the old w
  expect_values(params.get("w"), {0, 1, 4, 4});
  EXPECT_TRUE(params.get("w").shares_storage(held));
  expect_values(held, {0, 1, 4, 4});
  EXPECT_GT(params.version(), version);
  EXPECT_FALSE(out[0].shares_storage(held));

  // Without write_updates the store is left alone (the in-place kernel writes a private copy).
  version = params.version();
  out = run_program(p, feeds, params, false);
  expect_values(out[0], {0, 2, 8, 8});
  expect_values(params.get("w"), {0, 1, 4, 4});
  EXPECT_EQ(params.version(), version);
}

// The parameter is itself an output (its value before the update) and is updated from a temp.
TEST(KernelEval, CopiedParameterUpdateAndParamAsOutput) {
  Program p = load_kir("param_as_output.kir");
  ParamStore params;
  params.set("w", f32({3}, {1, 2, 3}));
  Array held = params.get("w");
  auto out = run_program(p, {}, params, true);
  expect_values(out[0], {1, 2, 3});
  expect_values(held, {2, 3, 4});  // assigned into the same storage
  EXPECT_FALSE(out[0].shares_storage(held));
  out = run_program(p, {}, params, true);
  expect_values(out[0], {2, 3, 4});
  expect_values(params.get("w"), {3, 4, 5});
  out = run_program(p, {}, params, false);
  expect_values(params.get("w"), {3, 4, 5});
}

// ---- memory ----

// Temps and outputs start as NaN: reading what no kernel wrote shows up in the results.
TEST(KernelEval, UnwrittenMemoryReadsAsNaN) {
  Program p = parse_program(R"(program {
  buffers:
    t: temp f32[2]
    out0: output f32[2]
    out1: output f32[2]
  outputs: out0 out1
  arena: 0 bytes (0 without reuse)
}
kernel copy(t: f32[2], out out0: f32[2]) {
  parallel n0 in 0..2
    store out0[n0] = load t[n0]
}
)");
  auto out = run(p);
  expect_values(out[0], {kNaN, kNaN});
  expect_values(out[1], {kNaN, kNaN});  // never written at all
}

// ---- user errors (soma::Error, not aborts) ----

TEST(KernelEval, FeedAndParameterErrors) {
  Program p = load_kir("param_in_place_update.kir");
  ParamStore params;
  Feeds good = {{"g", f32({4}, {0, 0, 0, 0})}};
  EXPECT_THROW(run_program(p, good, params, true), NameError);  // no parameter w
  params.set("w", f32({3}, {0, 0, 0}));
  EXPECT_THROW(run_program(p, good, params, true), ShapeError);
  params.set("w", f32({4}, {0, 0, 0, 0}));
  EXPECT_THROW(run_program(p, {}, params, true), ValueError);
  EXPECT_THROW(run_program(p, {{"g", i32({4}, {0, 0, 0, 0})}}, params, true), TypeError);
  EXPECT_THROW(run_program(p, {{"g", f32({2, 2}, {0, 0, 0, 0})}}, params, true), ShapeError);
  EXPECT_NO_THROW(run_program(p, good, params, true));
}

// ---- the backend ----

TEST(KernelEval, InterpKernelsBackend) {
  auto names = backend_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "interp-kernels"), names.end());
  Backend& backend = get_backend("interp-kernels");
  EXPECT_EQ(backend.name(), "interp-kernels");
  auto params = std::make_shared<ParamStore>();
  params->set("w", f32({4}, {1, 2, 3, 4}));

  CompileRequest req;
  try {
    backend.compile(req, params);
    ADD_FAILURE() << "compiled without a program";
  } catch (const BackendError& e) {
    EXPECT_NE(std::string(e.what()).find("the interp-kernels backend needs a lowered program"),
              std::string::npos)
        << e.what();
  }

  std::unique_ptr<Executable> exe;
  {
    Program p = load_kir("param_in_place_update.kir");
    req.program = &p;
    exe = backend.compile(req, params);
  }  // the executable holds its own copy of the program
  auto out = exe->run({{"g", f32({4}, {1, 1, 1, 1})}});
  expect_values(out[0], {2, 4, 6, 8});
  expect_values(params->get("w"), {0.5, 1.5, 2.5, 3.5});
  out = exe->run({{"g", f32({4}, {1, 1, 1, 1})}});
  expect_values(out[0], {1, 3, 5, 7});
  expect_values(params->get("w"), {0, 1, 2, 3});
}

// ---- internal bugs abort with the kernel printed ----

TEST(KernelEvalDeathTest, OutOfBoundsLoadAbortsWithTheKernel) {
  Program p = one_kernel("shift", 4, "    store out0[n0] = load x[n0 + 1]\n");
  Feeds feeds = {{"x", f32({4}, {1, 2, 3, 4})}};
  EXPECT_DEATH(
      run(p, feeds),
      "kernel shift: load x\\[4\\] is out of bounds(.|\n)*where n0=3(.|\n)*kernel shift\\(");
}

// A select evaluates both arms (as branch-free code does): it cannot guard a load.
TEST(KernelEvalDeathTest, SelectDoesNotGuardALoad) {
  Program p = one_kernel("guarded", 4, "    store out0[n0] = n0 + 1 < 4 ? load x[n0 + 1] : 0.0\n");
  Feeds feeds = {{"x", f32({4}, {1, 2, 3, 4})}};
  EXPECT_DEATH(run(p, feeds), "load x\\[4\\] is out of bounds");
}

// The scatter of scatter.kir with its points run in parallel: the repeated ids race.
TEST(KernelEvalDeathTest, ScatterInAParallelKernelIsARace) {
  Program p = parse_program(R"(program {
  buffers:
    ids: input i32[6]
    upd: input f32[6,2]
    out0: output f32[4,2]
  outputs: out0
  arena: 0 bytes (0 without reuse)
}
kernel zero(out out0: f32[4,2]) {
  parallel r0 in 0..8
    store out0[r0] = 0.0
}
kernel scatter_add(ids: i32[6], upd: f32[6,2], inout out0: f32[4,2]) {
  parallel n0 in 0..6
    id1 = load ids[n0]
    ok2 = id1 >= 0 && id1 < 4
    row3 = ok2 ? id1 : 0
    for c4 in 0..2:
      store out0[row3*2 + c4] = load out0[row3*2 + c4] + (ok2 ? load upd[n0*2 + c4] : 0.0)
}
)");
  Feeds feeds = {{"ids", i32({6}, {1, 3, 1, 0, 1, 7})},
                 {"upd", f32({6, 2}, std::vector<double>(12, 1.0))}};
  EXPECT_DEATH(run(p, feeds),
               "data race: point \\(n0=2\\) reads out0\\[2\\], which point \\(n0=0\\) wrote");
}

TEST(KernelEvalDeathTest, TwoPointsWritingOneElementIsARace) {
  Program p = parse_program(R"(program {
  buffers:
    out0: output f32[1]
  outputs: out0
  arena: 0 bytes (0 without reuse)
}
kernel collide(out out0: f32[1]) {
  parallel n0 in 0..3
    store out0[0] = f32(n0)
}
)");
  EXPECT_DEATH(run(p), "data race: points \\(n0=0\\) and \\(n0=1\\) both write out0\\[0\\]");
  p.kernels[0].sequential = true;  // in order, the last write wins
  EXPECT_EQ(run(p)[0].get(0), 2.0);
}

// The programs below are invalid, so the parser would refuse them as text: each starts from a
// valid parsed program and breaks one rule by hand, to see the evaluator's own check fire.

TEST(KernelEvalDeathTest, MalformedKernel) {
  Program p = parse_program(R"(program {
  buffers:
    out0: output f32[1]
  outputs: out0
  arena: 0 bytes (0 without reuse)
}
kernel malformed(out out0: f32[1]) {
  parallel (one point)
    store out0[0] = 1.0
}
)");
  Expr bad;
  bad.kind = ExprKind::Unary;
  bad.op = Op::Neg;
  bad.a[0] = 7;  // not an earlier expression
  p.kernels[0].exprs.push_back(bad);
  EXPECT_DEATH(run(p), "kernel malformed: expression 2 has operand 7");
}

TEST(KernelEvalDeathTest, IllegalWritesAndScopes) {
  const Feeds feeds = {{"x", f32({4}, {1, 2, 3, 4})}};
  {
    Program p = one_kernel("clobber", 4, "    store out0[n0] = 0.0\n");
    Kernel& k = p.kernels[0];
    k.body[0].buffer = 0;  // x, an input
    k.writes = {0};
    EXPECT_DEATH(run(p, feeds),
                 "kernel clobber: writes x, a input buffer that no kernel may write");
  }
  {
    Program p = one_kernel("undeclared", 4, "    store out0[n0] = 0.0\n");
    p.kernels[0].writes.clear();
    EXPECT_DEATH(run(p, feeds), "stores to out0, which is not in the kernel's writes");
  }
  {
    Program p = one_kernel("scope", 4,
                           "    s2 = reduce sum j1 in 0..2 of j1\n"
                           "    store out0[n0] = f32(n0)\n");
    Kernel& k = p.kernels[0];
    VarId j = k.body[0].axes[0].var;
    k.body[1].value = k.cast(k.var_ref(j), DType::f32);  // j is out of scope
    EXPECT_DEATH(run(p, feeds), "reads j1 outside its scope");
  }
  {
    Program p = one_kernel("types", 4, "    store out0[n0] = load x[n0]\n");
    for (Expr& e : p.kernels[0].exprs)
      if (e.kind == ExprKind::Load) e.dtype = DType::f64;
    EXPECT_DEATH(run(p, feeds), "loads f64 from x \\(f32\\)");
  }
}

}  // namespace
}  // namespace soma
