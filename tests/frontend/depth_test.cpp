// Deep and large graphs compile and run on every code generator: a chain of tens of thousands of
// fused nodes is cut into kernels of bounded expression depth (every kernel-IR walker recurses
// over it), a diamond chain (x = x * x) lowers in linear time, and a concat of a thousand parts
// is a balanced tree of selects.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>

#include "backends/backend.h"
#include "frontend/compile.h"
#include "tests/backend_param.h"
#include "tests/sanitizer.h"

namespace soma {
namespace {

const bool kVulkanDriver = [] {
  return setenv("VK_DRIVER_FILES", "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json", 0) == 0;
}();

std::vector<std::string> backends() {
  std::vector<std::string> out;
  for (const std::string& b : backend_names())
    if (b != "vulkan") out.push_back(b);  // lavapipe would compile thousands of pipelines
  return out;
}

class Depth : public ::testing::TestWithParam<std::string> {
 protected:
  std::vector<Array> run(const std::vector<Tensor>& outs, const Feeds& feeds = {}) {
    CompileOptions o;
    o.backend = GetParam();
    return compile(outs, o).run(feeds);
  }
};

TEST_P(Depth, ALongChainOfFusedNodes) {
  ContextScope scope(std::make_shared<Context>());
  // 60,000 nodes (6,000 under sanitizers: still dozens of kernels cut at the depth limit).
  const int steps = soma::testing::kSanitized ? 2000 : 20000;
  Tensor x = input("x", {4});
  Tensor y = x;
  for (int i = 0; i < steps; ++i) y = tanh(y) * 0.5 + x;
  Array xv = Array::from_f32({4}, std::vector<float>{0.5f, -0.25f, 1.0f, 0.0f});
  auto out = run({y}, {{"x", xv}});
  for (int64_t j = 0; j < 4; ++j) {
    double v = xv.get(j), w = v;
    for (int i = 0; i < steps; ++i) w = std::tanh(w) * 0.5 + v;  // the fixed point, in f64
    EXPECT_NEAR(out[0].get(j), w, 1e-4) << j;
  }
}

TEST_P(Depth, ADiamondChainLowersInLinearTime) {
  ContextScope scope(std::make_shared<Context>());
  Tensor x = input("x", {8});
  Tensor y = x;
  for (int i = 0; i < 60; ++i) y = y * y * 0.5 + 0.25;  // y read twice at every step
  auto t0 = std::chrono::steady_clock::now();
  auto out = run({y}, {{"x", Array::from_f32({8}, std::vector<float>(8, 0.5f))}});
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 60.0) << "exponential lowering?";
  double w = 0.5;
  for (int i = 0; i < 60; ++i) w = w * w * 0.5 + 0.25;
  EXPECT_NEAR(out[0].get(0), w, 1e-5);
}

TEST_P(Depth, AConcatOfAThousandParts) {
  ContextScope scope(std::make_shared<Context>());
  Tensor x = input("x", {3});
  std::vector<Tensor> parts;
  const int n = soma::testing::kSanitized ? 200 : 1000;
  for (int i = 0; i < n; ++i) parts.push_back(x * static_cast<double>(i));
  auto out = run({concat(parts, 0)}, {{"x", Array::from_f32({3}, std::vector<float>{1, 2, 3})}});
  ASSERT_EQ(out[0].numel(), 3 * n);
  for (int64_t i : {int64_t{0}, int64_t{4}, int64_t{n + 1}, int64_t{3 * n - 1}})
    EXPECT_EQ(out[0].get(i), static_cast<double>((i % 3 + 1) * (i / 3))) << i;
}

INSTANTIATE_TEST_SUITE_P(Backends, Depth, ::testing::ValuesIn(backends()),
                         soma::testing::BackendParamName());

}  // namespace
}  // namespace soma
