// Devices that end a shader's loops after a fixed count (lavapipe: 65535 iterations per
// invocation, over all loops together) must never give a silently cut result: the backend
// refuses a kernel it cannot run whole, runs long sequential kernels in chunks, and the graph
// passes split long reductions and contractions (tests/parity/limits_test.cpp checks values).
#include <gtest/gtest.h>

#include "backends/vulkan/glsl_lib.h"
#include "kernels/kir_files.h"
#include "tests/vulkan/vk_test_util.h"

namespace soma::vktest {
namespace {

using kir::Program;

class LoopLimit : public VulkanTest {
 protected:
  // Whether the device ends loops early (Mesa's llvmpipe).
  static bool limited() {
    return vulkan::device_description().find("llvmpipe") != std::string::npos;
  }
};

TEST(LoopLimitHelpers, NoHelperHasALoop) {
  for (const std::string& name : vulkan::glsl_helper_names()) {
    std::string text = vulkan::glsl_helpers({name});
    EXPECT_EQ(text.find("for ("), std::string::npos) << name << ":\n" << text;
    EXPECT_EQ(text.find("while"), std::string::npos) << name << ":\n" << text;
  }
}

// out[0] = sum over n of in[i]: one point, one serial loop of n iterations.
Program one_long_sum(int64_t n) {
  return kirtest::kir_with(R"(program {
  buffers:
    x: input f32[$n]
    out0: output f32[1]
  outputs: out0
  arena: 0 bytes (0 without reuse)
}
kernel long_sum(x: f32[$n], out out0: f32[1]) {
  parallel (one point)
    v1 = reduce sum r0 in 0..$n of load x[r0]
    store out0[0] = v1
}
)",
                           {{"n", std::to_string(n)}});
}

TEST_F(LoopLimit, AKernelTooLongForTheDeviceIsRefusedNotCut) {
  const int64_t n = 70000;
  Program p = one_long_sum(n);
  Feeds f{{"x", Array::from_doubles(DType::f32, Shape{n}, std::vector<double>(n, 1.0))}};
  if (!limited()) {
    expect_matches_reference(p, f);
    return;
  }
  try {
    run_vulkan(p, f);
    FAIL() << "a 70000-iteration loop ran on a device that stops loops after 65535";
  } catch (const BackendError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("long_sum"), std::string::npos) << m;
    EXPECT_NE(m.find("loop"), std::string::npos) << m;
    EXPECT_NE(m.find("65535"), std::string::npos) << m;
  }
  // Under the limit the same kernel runs.
  Program q = one_long_sum(60000);
  expect_matches_reference(
      q, {{"x", Array::from_doubles(DType::f32, Shape{60000}, std::vector<double>(60000, 1.0))}});
}

// A sequential scatter over more points than one invocation may loop: run in chunks, in order.
TEST_F(LoopLimit, LongSequentialScatterRunsInOrderedChunks) {
  const int64_t n = 200003, m = 31;
  // Order matters: each store keeps the running value rounded to a multiple of 1/8 (so a
  // reordering shows), and adds the point's value.
  Program p = kir::parse_program(R"(program {
  buffers:
    idx: input i32[200003]
    v: input f32[200003]
    out0: output f32[31]
  outputs: out0
  arena: 0 bytes (0 without reuse)
}
kernel zero(out out0: f32[31]) {
  parallel i0 in 0..31
    store out0[i0] = 0.0
}
kernel scatter(idx: i32[200003], v: f32[200003], inout out0: f32[31]) {
  sequential i0 in 0..200003
    store out0[load idx[i0]] = floor((load out0[load idx[i0]] + load v[i0])*8.0) / 8.0*0.999
}
)");
  std::vector<double> iv, vv;
  for (int64_t i = 0; i < n; ++i) {
    iv.push_back(static_cast<double>((i * 7) % m));
    vv.push_back(static_cast<double>(i % 13) * 0.37);
  }
  expect_matches_reference(p,
                           {{"idx", Array::from_doubles(DType::i32, Shape{n}, iv)},
                            {"v", Array::from_doubles(DType::f32, Shape{n}, vv)}},
                           1e-6, 1e-5);
}

}  // namespace
}  // namespace soma::vktest
