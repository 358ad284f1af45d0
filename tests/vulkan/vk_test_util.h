// Helpers of the Vulkan suite: the environment (lavapipe unless VK_DRIVER_FILES is set, the
// validation layer on), a fixture that fails a test on any validation error and skips it when
// there is no device, and running kernel programs on vulkan and on the kernel-IR evaluator.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/interp/kernel_eval.h"
#include "backends/vulkan/vulkan_backend.h"
#include "graph/error.h"
#include "graph/kernel_ir.h"
#include "kernels/kir_files.h"

namespace soma::vktest {

constexpr const char* kLavapipeIcd = "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json";

// Runs before main (each test file includes this header): no Vulkan call has happened yet.
inline const bool kEnvReady = [] {
  setenv("VK_DRIVER_FILES", kLavapipeIcd, 0);  // keeps a value the caller set
#ifdef __SANITIZE_ADDRESS__
  // The synchronization validator leaks a few objects at exit, which LeakSanitizer reports.
  setenv("SOMA_VULKAN_VALIDATION", "1", 0);
#else
  setenv("SOMA_VULKAN_VALIDATION", "sync", 0);  // core and synchronization checks
#endif
  return true;
}();

// Whether a Vulkan device is usable; the reason when not.
inline bool device_available(std::string* why = nullptr) {
  try {
    vulkan::device_description();
    return true;
  } catch (const BackendError& e) {
    if (why) *why = e.what();
    return false;
  }
}

class VulkanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!device_available(&why)) GTEST_SKIP() << why;
    errors_before_ = vulkan::validation_error_count();
  }
  void TearDown() override {
    if (!device_available()) return;
    int64_t now = vulkan::validation_error_count();
    if (now != errors_before_) {
      std::string all;
      for (const std::string& m : vulkan::validation_errors()) all += "\n  " + m;
      ADD_FAILURE() << (now - errors_before_) << " Vulkan validation error(s):" << all;
    }
  }
  int64_t errors_before_ = 0;
};

inline std::unique_ptr<Executable> compile_vulkan(const kir::Program& p,
                                                  std::shared_ptr<ParamStore> params) {
  CompileRequest req;
  req.program = &p;
  return get_backend("vulkan").compile(req, std::move(params));
}

inline std::vector<Array> run_vulkan(const kir::Program& p, const Feeds& feeds,
                                     std::shared_ptr<ParamStore> params = nullptr) {
  if (!params) params = std::make_shared<ParamStore>();
  return compile_vulkan(p, params)->run(feeds);
}

// The kernel-IR evaluator's outputs, on a copy of `params` (left untouched).
inline std::vector<Array> run_reference(const kir::Program& p, const Feeds& feeds,
                                        const ParamStore* params = nullptr) {
  ParamStore copy;
  if (params)
    for (const std::string& n : params->names()) copy.set(n, params->get(n).clone());
  return run_program(p, feeds, copy, true);
}

// Element-wise comparison: exact for i32 and bool, NaN where expected, else within
// atol + rtol * |expected|.
inline void expect_close(const Array& actual, const Array& expected, double rtol = 2e-6,
                         double atol = 1e-6, const std::string& what = "") {
  ASSERT_EQ(actual.dtype(), expected.dtype()) << what;
  ASSERT_EQ(actual.shape(), expected.shape()) << what;
  int bad = 0;
  for (int64_t i = 0; i < expected.numel() && bad < 10; ++i) {
    double a = actual.get(i), e = expected.get(i);
    bool ok;
    if (std::isnan(e))
      ok = std::isnan(a);
    else if (std::isinf(e))
      ok = a == e;
    else if (!is_float(expected.dtype()))
      ok = a == e;
    else
      ok = std::fabs(a - e) <= atol + rtol * std::fabs(e);
    if (!ok) {
      ++bad;
      ADD_FAILURE() << what << "[" << i << "]: vulkan " << a << ", expected " << e;
    }
  }
}

inline void expect_matches_reference(const kir::Program& p, const Feeds& feeds, double rtol = 2e-6,
                                     double atol = 1e-6,
                                     std::shared_ptr<ParamStore> params = nullptr) {
  auto expected = run_reference(p, feeds, params.get());
  auto actual = run_vulkan(p, feeds, params);
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i)
    expect_close(actual[i], expected[i], rtol, atol, "output " + std::to_string(i));
}

// out0 = x + c over n f32 elements.
inline kir::Program add_const(double c, int64_t n = 64) {
  return kirtest::kir_with(R"(program {
  buffers:
    x: input f32[$n]
    out0: output f32[$n]
  outputs: out0
  arena: 0 bytes (0 without reuse)
}
kernel add_const(x: f32[$n], out out0: f32[$n]) {
  parallel i0 in 0..$n
    store out0[i0] = load x[i0] + $c
}
)",
                           {{"n", std::to_string(n)}, {"c", kir::scalar_text(c, DType::f32)}});
}

}  // namespace soma::vktest
