// Training on Vulkan: a small MLP trained for a few hundred SGD steps (forward, backward and
// update in one compiled step; parameters stay on the device) reaches the same loss as on llvm,
// a predict executable sees the trained weights, and a read of the ParamStore sees them too.
// Also the `emit glsl` / `emit spirv` printers and the compile caches.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "backends/vulkan/pipeline.h"
#include "backends/vulkan/spirv.h"
#include "frontend/compile.h"
#include "frontend/context.h"
#include "frontend/tensor.h"
#include "kernels/kir_build.h"
#include "tests/vulkan/vk_test_util.h"

namespace soma::vktest {
namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// A deterministic two-cluster-per-class dataset: 4 classes in 8 dimensions.
void make_data(int64_t n, Array& x, Array& y) {
  x = Array(DType::f32, Shape{n, 8});
  y = Array(DType::i32, Shape{n});
  uint32_t s = 12345;
  auto rnd = [&] {
    s = s * 1664525u + 1013904223u;
    return static_cast<double>(s >> 8) / 16777216.0 - 0.5;
  };
  for (int64_t i = 0; i < n; ++i) {
    int64_t c = i % 4;
    y.set(i, static_cast<double>(c));
    for (int64_t d = 0; d < 8; ++d) {
      double center = ((c + d) % 4 == 0 ? 1.5 : -0.5) * (d % 2 ? 1 : -1);
      x.set(i * 8 + d, center + rnd());
    }
  }
}

struct TrainResult {
  std::vector<double> losses;
  double seconds_per_step = 0;
  std::vector<Array> weights;  // the ParamStore's final values
  Array predictions;
};

TrainResult train(const std::string& backend, int steps) {
  ContextScope scope(std::make_shared<Context>());
  const int64_t batch = 64;
  Tensor x = input("x", {batch, 8});
  Tensor t = input("t", {batch}, DType::i32);
  Tensor w1 = param("w1", {8, 32}, "glorot_uniform", 1);
  Tensor b1 = param("b1", {32}, "zeros");
  Tensor w2 = param("w2", {32, 32}, "glorot_uniform", 2);
  Tensor b2 = param("b2", {32}, "zeros");
  Tensor w3 = param("w3", {32, 4}, "glorot_uniform", 3);
  Tensor b3 = param("b3", {4}, "zeros");
  Tensor h1 = tanh(matmul(x, w1) + b1);
  Tensor h2 = relu(matmul(h1, w2) + b2);
  Tensor logits = matmul(h2, w3) + b3;
  Tensor loss = cross_entropy(logits, t);
  std::vector<Tensor> ps = {w1, b1, w2, b2, w3, b3};
  std::vector<Tensor> gs = grad(loss, ps);
  std::vector<std::pair<Tensor, Tensor>> updates;
  for (size_t i = 0; i < ps.size(); ++i) updates.push_back({ps[i], ps[i] - gs[i] * 0.1});
  CompileOptions opts;
  opts.backend = backend;
  Compiled step = compile({loss}, opts, updates);
  Compiled predict = compile({softmax(logits)}, opts);

  Array xs, ys;
  make_data(batch, xs, ys);
  Feeds feeds{{"x", xs}, {"t", ys}};
  TrainResult r;
  step.run(feeds);  // warm-up (first dispatches)
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 1; i < steps; ++i) r.losses.push_back(step.run(feeds)[0].get(0));
  auto t1 = std::chrono::steady_clock::now();
  r.seconds_per_step = std::chrono::duration<double>(t1 - t0).count() / (steps - 1);
  ParamStore& store = Context::current()->params();
  for (const char* n : {"w1", "b1", "w2", "b2", "w3", "b3"})
    r.weights.push_back(store.get(n).clone());
  r.predictions = predict.run(feeds)[0];
  return r;
}

class Training : public VulkanTest {};

TEST_F(Training, MlpReachesTheSameLossAsLlvm) {
  const int steps = 300;
  TrainResult vk = train("vulkan", steps);
  TrainResult ref = train("llvm", steps);
  ASSERT_EQ(vk.losses.size(), ref.losses.size());
  std::printf("  vulkan (%s): %.3f ms/step; llvm: %.3f ms/step; loss %.6f -> %.6f (llvm %.6f)\n",
              vulkan::device_description().c_str(), vk.seconds_per_step * 1e3,
              ref.seconds_per_step * 1e3, vk.losses.front(), vk.losses.back(), ref.losses.back());
  EXPECT_LT(vk.losses.back(), 0.5 * vk.losses.front());  // it learned
  for (size_t i = 0; i < vk.losses.size(); i += 50)
    EXPECT_NEAR(vk.losses[i], ref.losses[i], 2e-3 * std::max(1.0, std::fabs(ref.losses[i])))
        << "step " << i;
  EXPECT_NEAR(vk.losses.back(), ref.losses.back(), 2e-3 * std::max(1.0, ref.losses.back()));
  // The host copies of the parameters equal llvm's (updated in place in the store).
  for (size_t i = 0; i < vk.weights.size(); ++i)
    expect_close(vk.weights[i], ref.weights[i], 1e-2, 1e-3, "weight " + std::to_string(i));
  // A separate predict executable used the trained device weights.
  expect_close(vk.predictions, ref.predictions, 1e-2, 1e-3, "predictions");
}

TEST_F(Training, HostChangesToParametersReachTheDevice) {
  ContextScope scope(std::make_shared<Context>());
  Tensor w = param("w", Array::from_f32({3}, std::vector<float>{1, 2, 3}));
  Tensor x = input("x", {3});
  CompileOptions opts;
  opts.backend = "vulkan";
  Compiled f = compile({x * w}, opts, {{w, w * 2.0}});
  Feeds feeds{{"x", Array::from_f32({3}, std::vector<float>{1, 1, 1})}};
  EXPECT_EQ(f.run(feeds)[0].get(2), 3.0);
  EXPECT_EQ(Context::current()->params().get("w").get(2), 6.0);  // the host read downloads it
  EXPECT_EQ(f.run(feeds)[0].get(2), 6.0);
  Context::current()->params().assign("w", Array::from_f32({3}, std::vector<float>{5, 5, 5}));
  EXPECT_EQ(f.run(feeds)[0].get(2), 5.0);  // uploaded after the host's assignment
  EXPECT_EQ(Context::current()->params().get("w").get(2), 10.0);
  // Another backend on the same store sees the device's updates, and vulkan sees its.
  CompileOptions llvm;
  llvm.backend = "llvm";
  Compiled g = compile({x * w}, llvm, {{w, w + 1.0}});
  EXPECT_EQ(g.run(feeds)[0].get(2), 10.0);
  EXPECT_EQ(f.run(feeds)[0].get(2), 11.0);
}

TEST_F(Training, EmitGlslAndSpirv) {
  kir::Program p = kir::test::softmax_rows_program(4, 10);
  std::string glsl = emit_glsl(p);
  EXPECT_TRUE(contains(glsl, "// ---- kernel softmax_rows (points) ----")) << glsl;
  EXPECT_TRUE(contains(glsl, "#version 450")) << glsl;
  EXPECT_TRUE(contains(glsl, "layout(local_size_x_id = 0) in;")) << glsl;
  EXPECT_TRUE(contains(glsl, "// kernel softmax_rows(x: f32[4,10], out y: f32[4,10])")) << glsl;
  EXPECT_TRUE(contains(glsl, "soma_max_f")) << glsl;  // the NaN-propagating max
  EXPECT_TRUE(contains(glsl, "// bindings: 0=x 1=y")) << glsl;
  std::string spirv = emit_spirv_text(p);
  EXPECT_TRUE(contains(spirv, "; ---- kernel softmax_rows")) << spirv;
  EXPECT_TRUE(contains(spirv, "OpEntryPoint GLCompute")) << spirv;
  EXPECT_TRUE(contains(spirv, "OpExecutionModeId") || contains(spirv, "LocalSize")) << spirv;
}

TEST_F(Training, CompiledShadersAndPipelinesAreCached) {
  kir::Program p = kir::test::softmax_rows_program(8, 9);
  Feeds f{{"x", Array(DType::f32, Shape{8, 9})}};
  run_vulkan(p, f);
  auto spirv = vulkan::spirv_stats();
  auto pipes = vulkan::pipeline_stats();
  run_vulkan(p, f);  // the same program again: no glslang run, no new pipeline
  EXPECT_EQ(vulkan::spirv_stats().compiles, spirv.compiles);
  EXPECT_EQ(vulkan::spirv_stats().memory_hits, spirv.memory_hits + 1);
  EXPECT_EQ(vulkan::pipeline_stats().created, pipes.created);
  if (!vulkan::vulkan_cache_dir().empty()) {
    vulkan::clear_spirv_memory_cache();
    auto before = vulkan::spirv_stats();
    run_vulkan(p, f);  // found on disk
    EXPECT_EQ(vulkan::spirv_stats().disk_hits, before.disk_hits + 1);
    EXPECT_EQ(vulkan::spirv_stats().compiles, before.compiles);
  }
}

}  // namespace
}  // namespace soma::vktest
