// Helpers of the LLVM backend suite: running kernel programs on the llvm backend and on the
// kernel-IR evaluator, and comparing arrays with per-dtype tolerances.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/interp/kernel_eval.h"
#include "graph/kernel_ir.h"

namespace soma::test {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

struct RunOptions {
  int threads = 0;
  bool fast_math = false;
};

// Compiles with the llvm backend and runs once.
inline std::vector<Array> run_llvm(const kir::Program& p, const Feeds& feeds = {},
                                   std::shared_ptr<ParamStore> params = nullptr,
                                   RunOptions o = {}) {
  if (!params) params = std::make_shared<ParamStore>();
  CompileRequest req;
  req.program = &p;
  req.options.backend = "llvm";
  req.options.threads = o.threads;
  req.options.fast_math = o.fast_math;
  return get_backend("llvm").compile(req, params)->run(feeds);
}

// |got - want| within a per-dtype tolerance; NaN and infinities must match exactly.
inline ::testing::AssertionResult near(double got, double want, DType t, double rel = -1) {
  if (rel < 0) rel = t == DType::f32 ? 2e-6 : t == DType::f64 ? 1e-13 : 0;
  if (std::isnan(want))
    return std::isnan(got) ? ::testing::AssertionSuccess()
                           : ::testing::AssertionFailure() << "got " << got << ", want NaN";
  if (std::isinf(want) || rel == 0)
    return got == want ? ::testing::AssertionSuccess()
                       : ::testing::AssertionFailure() << "got " << got << ", want " << want;
  double tol = rel * std::max(1.0, std::fabs(want));
  if (std::fabs(got - want) <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "got " << got << ", want " << want << " (tolerance " << tol << ")";
}

inline void expect_values(const Array& got, const std::vector<double>& want, double rel = -1) {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size()));
  for (int64_t i = 0; i < got.numel(); ++i)
    EXPECT_TRUE(near(got.get(i), want[static_cast<size_t>(i)], got.dtype(), rel))
        << "element " << i;
}

inline void expect_arrays_near(const Array& got, const Array& want, double rel = -1) {
  ASSERT_EQ(got.dtype(), want.dtype());
  ASSERT_EQ(got.shape(), want.shape());
  for (int64_t i = 0; i < got.numel(); ++i)
    ASSERT_TRUE(near(got.get(i), want.get(i), got.dtype(), rel)) << "element " << i;
}

// Runs `p` on the llvm backend and on the kernel-IR evaluator (fresh copies of `params` each)
// and compares every output and every parameter afterwards.
inline void expect_matches_kernel_eval(const kir::Program& p, const Feeds& feeds,
                                       const ParamStore& params = {}, double rel = -1) {
  auto mine = std::make_shared<ParamStore>();
  ParamStore ref;
  for (const std::string& n : params.names()) {
    mine->set(n, params.get(n).clone());
    ref.set(n, params.get(n).clone());
  }
  std::vector<Array> got = run_llvm(p, feeds, mine);
  std::vector<Array> want = run_program(p, feeds, ref, true);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE("output " + std::to_string(i));
    expect_arrays_near(got[i], want[i], rel);
  }
  for (const std::string& n : params.names()) {
    SCOPED_TRACE("param " + n);
    expect_arrays_near(mine->get(n), ref.get(n), rel);
  }
}

}  // namespace soma::test
