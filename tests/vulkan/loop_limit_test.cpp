// Devices that end a shader's loops after a fixed count (lavapipe: 65535 iterations per
// invocation, over all loops together) must never give a silently cut result: the backend
// refuses a kernel it cannot run whole, runs long sequential kernels in chunks, and the graph
// passes split long reductions and contractions (tests/parity/limits_test.cpp checks values).
#include <gtest/gtest.h>

#include "backends/vulkan/glsl_lib.h"
#include "tests/vulkan/vk_test_util.h"

namespace soma::vktest {
namespace {

using kir::BufferId;
using kir::ExprId;
using kir::Kernel;
using kir::Program;
using kir::VarId;
namespace kb = kir::test;

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
  Program p;
  BufferId x = kb::input(p, "x", {n});
  BufferId o = kb::output(p, {1});
  Kernel k;
  k.name = "long_sum";
  VarId r = k.new_var(DType::i32, "r", n);
  VarId v = k.new_var(DType::f32, "v");
  k.body = {kb::reduce(v, Op::ReduceSum, {{r, n}}, k.load(x, DType::f32, k.var_ref(r))),
            kb::store(o, k.index_const(0), k.var_ref(v))};
  k.reads = {x};
  k.writes = {o};
  p.kernels.push_back(std::move(k));
  return p;
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
  Program p;
  BufferId idx = kb::input(p, "idx", {n}, DType::i32);
  BufferId v = kb::input(p, "v", {n});
  BufferId o = kb::output(p, {m});
  {
    Kernel k;
    k.name = "zero";
    VarId i = k.new_var(DType::i32, "i");
    k.parallel = {{i, m}};
    k.body = {kb::store(o, k.var_ref(i), k.constant(0, DType::f32))};
    k.writes = {o};
    p.kernels.push_back(std::move(k));
  }
  {
    Kernel k;
    k.name = "scatter";
    k.sequential = true;
    VarId i = k.new_var(DType::i32, "i");
    k.parallel = {{i, n}};
    ExprId at = k.load(idx, DType::i32, k.var_ref(i));
    // Order matters: each store keeps the running value rounded to a multiple of 1/8 (so a
    // reordering shows), and adds the point's value.
    ExprId old = k.load(o, DType::f32, at);
    ExprId sum = k.binary(Op::Add, old, k.load(v, DType::f32, k.var_ref(i)));
    ExprId rounded =
        k.binary(Op::Div, k.unary(Op::Floor, k.binary(Op::Mul, sum, k.constant(8, DType::f32))),
                 k.constant(8, DType::f32));
    k.body = {kb::store(o, at, k.binary(Op::Mul, rounded, k.constant(0.999, DType::f32)))};
    k.reads = {idx, v, o};
    k.writes = {o};
    p.kernels.push_back(std::move(k));
  }
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
