// Sizes around the devices' limits, on every code-generating backend: reductions just under, at
// and over 2^16 elements (lavapipe ends a shader's loops after 65535 iterations; its grids have
// at most 65535 workgroups per dimension), 2^20 and 2^24 elements, in every reduction mode (full,
// rows, columns, several axes, argmax, softmax, mean/var, a scatter and a long contraction), and
// a buffer over the device's largest binding. Expected values are exact where they can be (sums
// of ones, maxima of ramps), else the graph interpreter's.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <random>

#include "autodiff/gradcheck.h"
#include "backends/backend.h"
#include "backends/vulkan/vulkan_backend.h"
#include "tests/backend_param.h"
#include "tests/sanitizer.h"

namespace soma::testing {
namespace {

const bool kVulkanDriver = [] {
  return setenv("VK_DRIVER_FILES", "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json", 0) == 0;
}();

std::vector<std::string> code_backends() {
  std::vector<std::string> out;
  for (const std::string& b : backend_names())
    if (get_backend(b).needs_program()) out.push_back(b);
  return out;
}

class Limits : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { scope_ = std::make_unique<ContextScope>(std::make_shared<Context>()); }
  void TearDown() override { scope_.reset(); }

  // Compiles on the backend under test; skips when its device is unavailable.
  std::vector<Array> run(const std::vector<Tensor>& outs, const Feeds& feeds = {}) {
    CompileOptions o;
    o.backend = GetParam();
    Compiled c;
    try {
      c = compile(outs, o);
    } catch (const BackendError& e) {
      if (std::string(e.what()).find("is unavailable") != std::string::npos) {
        skipped_ = true;
        return {};
      }
      throw;
    }
    return c.run(feeds);
  }
  std::vector<Array> reference(const std::vector<Tensor>& outs, const Feeds& feeds = {}) {
    CompileOptions o;
    o.backend = "interp";
    return compile(outs, o).run(feeds);
  }
  void expect_like_reference(const std::vector<Tensor>& outs, const Feeds& feeds, double rtol,
                             double atol) {
    auto got = run(outs, feeds);
    if (skipped_) GTEST_SKIP() << GetParam() << " is unavailable";
    auto want = reference(outs, feeds);
    ASSERT_EQ(got.size(), want.size());
    for (size_t o = 0; o < want.size(); ++o) {
      ASSERT_EQ(got[o].shape(), want[o].shape()) << "output " << o;
      int bad = 0;
      for (int64_t i = 0; i < want[o].numel() && bad < 5; ++i) {
        double e = want[o].get(i), a = got[o].get(i);
        if (std::fabs(a - e) > atol + rtol * std::fabs(e)) {
          ++bad;
          ADD_FAILURE() << "output " << o << "[" << i << "]: " << a << " vs " << e;
        }
      }
    }
  }
  bool skipped_ = false;
  std::unique_ptr<ContextScope> scope_;
};

Array random_array(DType t, const Shape& s, uint64_t seed, double lo = -1, double hi = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(static_cast<size_t>(s.numel()));
  for (double& x : v) x = u(rng);
  return Array::from_doubles(t, s, v);
}

// The kernel-IR evaluator has no device limits and takes seconds (minutes under sanitizers) for
// 2^24 elements: the largest cases run on the code generators only.
bool large_cases(const std::string& backend) {
  return backend != "interp-kernels" && !kSanitized;
}

TEST_P(Limits, FullReductionsOfRampsAroundTwoToTheSixteen) {
  for (int64_t n : {65535, 65536, 65537, 70000, (1 << 20) + 3}) {
    if (n > 70000 && !large_cases(GetParam())) continue;
    Tensor a = arange(0, static_cast<double>(n));  // i32
    std::vector<Tensor> outs{max(a),     sum(cast(a > -1, DType::i32)),       argmax(a), min(a),
                             argmin(-a), sum(cast(a, DType::f32) * 0.0 + 1.0)};
    auto r = run(outs);
    if (skipped_) GTEST_SKIP() << GetParam() << " is unavailable";
    EXPECT_EQ(r[0].get(0), n - 1) << "max, n = " << n;
    EXPECT_EQ(r[1].get(0), n) << "count, n = " << n;
    EXPECT_EQ(r[2].get(0), n - 1) << "argmax, n = " << n;
    EXPECT_EQ(r[3].get(0), 0) << "min, n = " << n;
    EXPECT_EQ(r[4].get(0), n - 1) << "argmin, n = " << n;
    EXPECT_EQ(r[5].get(0), n) << "f32 sum of ones, n = " << n;
  }
}

TEST_P(Limits, SumOfTwoToTheTwentyFourOnesFromABuffer) {
  if (!large_cases(GetParam())) GTEST_SKIP() << "no device limits";
  const int64_t n = (int64_t{1} << 24) - 1;  // exactly representable in f32
  Tensor x = input("x", Shape{n});
  Array ones(DType::f32, Shape{n});
  for (int64_t i = 0; i < n; ++i) ones.data<float>()[i] = 1.0f;
  auto r = run({sum(x), max(x * 2.0)}, {{"x", ones}});
  if (skipped_) GTEST_SKIP() << GetParam() << " is unavailable";
  EXPECT_EQ(r[0].get(0), static_cast<double>(n));
  EXPECT_EQ(r[1].get(0), 2.0);
}

TEST_P(Limits, RowColumnAndMultiAxisReductions) {
  for (DType t : {DType::f32, DType::f64}) {
    const double tol = t == DType::f32 ? 2e-4 : 1e-10;
    Tensor a = input("a", Shape{300, 270}, t);  // 81000 elements
    Tensor b = input("b", Shape{70000, 3}, t);  // long columns
    Tensor c = input("c", Shape{2, 70001}, t);  // long rows
    Feeds f{{"a", random_array(t, Shape{300, 270}, 1)},
            {"b", random_array(t, Shape{70000, 3}, 2)},
            {"c", random_array(t, Shape{2, 70001}, 3)}};
    expect_like_reference(
        {sum(a), max(a), mean(a, {0}), sum(b, {0}), max(b, {0}), argmax(b, 0), sum(c, {1}),
         max(c, {1}, true), argmin(c, 1), var(c, {1}), logsumexp(c, {1}), softmax(c, 1)},
        f, tol, tol);
  }
}

TEST_P(Limits, ThreeAxisReductionsKeepDims) {
  Tensor x = input("x", Shape{40, 3, 1700});  // 204000 elements
  Feeds f{{"x", random_array(DType::f32, Shape{40, 3, 1700}, 4)}};
  expect_like_reference({sum(x, {0, 2}, true), max(x, {0, 2}), sum(x, {0, 1, 2})}, f, 2e-4, 2e-4);
}

TEST_P(Limits, LongContractionsPlainAndBatched) {
  Tensor a = input("a", Shape{4, 70000});
  Tensor b = input("b", Shape{70000, 3});
  Tensor p = input("p", Shape{2, 3, 66000});
  Tensor q = input("q", Shape{2, 66000, 2});
  Feeds f{{"a", random_array(DType::f32, Shape{4, 70000}, 5)},
          {"b", random_array(DType::f32, Shape{70000, 3}, 6)},
          {"p", random_array(DType::f32, Shape{2, 3, 66000}, 7)},
          {"q", random_array(DType::f32, Shape{2, 66000, 2}, 8)}};
  expect_like_reference({matmul(a, b), matmul(p, q)}, f, 1e-3, 1e-3);
}

TEST_P(Limits, GradientsOfLongBroadcastsAndEmbeddings) {
  // The bias gradient sums 70000 rows; the embedding's gradient scatters 70000 ids.
  Tensor x = input("x", Shape{70000, 4});
  Tensor bias = param("bias", Shape{4}, "zeros");
  Tensor table = param("table", Shape{50, 4}, "glorot_uniform", 3);
  Tensor ids = input("ids", Shape{70000}, DType::i32);
  Tensor loss = sum(tanh(x + bias) * embedding(ids, table));
  auto g = grad(loss, std::vector<Tensor>{bias, table});
  std::vector<double> iv;
  for (int64_t i = 0; i < 70000; ++i) iv.push_back(static_cast<double>((i * 37) % 50));
  Feeds f{{"x", random_array(DType::f32, Shape{70000, 4}, 9)},
          {"ids", Array::from_doubles(DType::i32, Shape{70000}, iv)}};
  expect_like_reference({loss, g[0], g[1]}, f, 1e-3, 1e-3);
}

TEST_P(Limits, ElementwiseOverMoreWorkgroupsThanOneGridRow) {
  if (!large_cases(GetParam())) GTEST_SKIP() << "no device limits";
  const int64_t n = (int64_t{1} << 24) + 5;  // > 65535 workgroups of 256
  Tensor a = arange(0, static_cast<double>(n));
  Tensor y = a * 2 + 1;  // i32: exact
  auto r = run({y});
  if (skipped_) GTEST_SKIP() << GetParam() << " is unavailable";
  ASSERT_EQ(r[0].numel(), n);
  for (int64_t i : {int64_t{0}, int64_t{65535}, int64_t{1} << 22, n - 1})
    EXPECT_EQ(r[0].get(i), static_cast<double>(2 * i + 1)) << i;
}

TEST_P(Limits, ABufferOverTheDevicesLargestBindingIsAClearError) {
  if (GetParam() != "vulkan") GTEST_SKIP() << "a Vulkan limit";
  const int64_t n = (int64_t{1} << 25) + 1;  // 128 MiB + 4 bytes of f32: over lavapipe's binding
  Tensor x = input("x", Shape{n});
  CompileOptions o;
  o.backend = "vulkan";
  try {
    compile({sum(x * 2.0)}, o);
    EXPECT_EQ(vulkan::device_description().find("llvmpipe"), std::string::npos)
        << "lavapipe binds at most 128 MiB: the compile should have failed";
  } catch (const BackendError& e) {
    std::string m = e.what();
    if (m.find("is unavailable") != std::string::npos) GTEST_SKIP() << m;
    EXPECT_NE(m.find("largest storage buffer"), std::string::npos) << m;
    EXPECT_NE(m.find("'x'"), std::string::npos) << m;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, Limits, ::testing::ValuesIn(code_backends()),
                         soma::testing::BackendParamName());

}  // namespace
}  // namespace soma::testing
