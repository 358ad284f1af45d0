// Backend parity: every op case (forward values and gradients, in f32 and f64) on every
// registered code-generating backend, against the graph interpreter, with per-dtype tolerances.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "autodiff/op_cases.h"
#include "backends/backend.h"
#include "tests/sanitizer.h"

namespace soma::testing {
namespace {

// Without a GPU the vulkan backend runs on lavapipe (Mesa's CPU driver), unless the caller chose
// drivers; set before main, ahead of any Vulkan use.
const bool kVulkanDriver = [] {
  return setenv("VK_DRIVER_FILES", "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json", 0) == 0;
}();

struct ParityParam {
  GradCase c;
  std::string backend;
  DType dtype;
};

void PrintTo(const ParityParam& p, std::ostream* os) {
  *os << p.c.name << "/" << p.backend << "/" << dtype_name(p.dtype);
}

std::vector<std::string> code_backends() {
  std::vector<std::string> out;
  for (const std::string& b : backend_names())
    if (get_backend(b).needs_program()) out.push_back(b);
  return out;
}

std::vector<ParityParam> params() {
  std::vector<ParityParam> out;
  for (const std::string& b : code_backends())
    for (const GradCase& c : op_cases())
      for (DType t : {DType::f32, DType::f64})
        // Under sanitizers: f32 on the host-side backends (the vulkan suite covers that
        // backend's host code); the release run has every case.
        if (!kSanitized || (t == DType::f32 && b != "vulkan")) out.push_back({c, b, t});
  return out;
}

class Parity : public ::testing::TestWithParam<ParityParam> {};

TEST_P(Parity, MatchesInterpreter) {
  const ParityParam& p = GetParam();
  ContextScope scope(std::make_shared<Context>());
  std::vector<Tensor> xs, wrt;
  Feeds feeds;
  for (size_t i = 0; i < p.c.inputs.size(); ++i) {
    InputSpec s = p.c.inputs[i];
    if (is_float(s.dtype)) s.dtype = p.dtype;
    std::string name = "x" + std::to_string(i);
    xs.push_back(input(name, s.shape, s.dtype));
    feeds[name] = make_value(s, p.c.seed * 1000 + i);
    if (s.differentiable && is_float(s.dtype)) wrt.push_back(xs.back());
  }
  Tensor y = p.c.fn(xs);
  InputSpec vs{y.shape(), 0.5, 1.5};
  vs.dtype = y.dtype();
  Tensor loss = sum(y * constant(make_value(vs, 7919)));
  std::vector<Tensor> outs{y};
  for (const Tensor& g : grad(loss, wrt)) outs.push_back(g);

  CompileOptions ref_opts, opts;
  ref_opts.backend = "interp";
  opts.backend = p.backend;
  auto expected = compile(outs, ref_opts).run(feeds);
  Compiled compiled;
  try {
    compiled = compile(outs, opts);
  } catch (const BackendError& e) {
    // A backend that cannot run on this machine (no Vulkan device) is skipped, not failed.
    if (std::string(e.what()).find("is unavailable") != std::string::npos) GTEST_SKIP() << e.what();
    throw;
  }
  auto actual = compiled.run(feeds);
  ASSERT_EQ(expected.size(), actual.size());
  const double rtol = p.dtype == DType::f32 ? 2e-4 : 1e-9,
               atol = p.dtype == DType::f32 ? 2e-5 : 1e-11;
  for (size_t o = 0; o < expected.size(); ++o) {
    ASSERT_EQ(expected[o].shape(), actual[o].shape());
    ASSERT_EQ(expected[o].dtype(), actual[o].dtype());
    for (int64_t i = 0; i < expected[o].numel(); ++i) {
      double e = expected[o].get(i), a = actual[o].get(i);
      if (std::isnan(e)) {
        EXPECT_TRUE(std::isnan(a)) << (o ? "gradient " : "value ") << o << "[" << i << "]";
        continue;
      }
      ASSERT_LE(std::fabs(a - e), atol + rtol * std::fabs(e))
          << (o ? "gradient " : "value ") << o << "[" << i << "]: " << a << " vs " << e;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, Parity, ::testing::ValuesIn(params()), [](const auto& info) {
  std::string n = info.param.c.name + "_" + info.param.backend + "_" + dtype_name(info.param.dtype);
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
});

}  // namespace
}  // namespace soma::testing
