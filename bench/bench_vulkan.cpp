// The vulkan backend on whatever device it picks (lavapipe without a GPU; VK_DRIVER_FILES and
// SOMA_VULKAN_DEVICE choose): a 16M-element elementwise kernel (device time from timestamp
// queries: GB/s of its 128 MiB of traffic; and the whole run() with uploads and readback), a
// 1024^2 sgemm, and an MLP training step (784-256-128-10, batch 128, SGD) against llvm, with the
// step's device time, its host time and its parameter downloads (none: they stay on the device).
// Run e.g.
//   soma_bench_vulkan --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "backends/vulkan/vulkan_backend.h"
#include "frontend/compile.h"
#include "frontend/context.h"
#include "frontend/tensor.h"

namespace soma {
namespace {

const bool kProfile = [] {
  setenv("SOMA_VULKAN_PROFILE", "1", 1);
  return true;
}();

using kir::BufferId;
using kir::Kernel;
using kir::VarId;

kir::Buffer make_buffer(kir::Buffer::Kind kind, int64_t n, std::string name) {
  kir::Buffer b;
  b.kind = kind;
  b.shape = Shape{n};
  b.name = std::move(name);
  return b;
}

kir::Program axpb(int64_t n) {
  kir::Program p;
  p.buffers.push_back(make_buffer(kir::Buffer::Kind::Input, n, std::string(1, 'x')));
  p.buffers.push_back(make_buffer(kir::Buffer::Kind::Output, n, std::string("out0")));
  p.outputs = {1};
  Kernel k;
  k.name = "axpb";
  VarId i = k.new_var(DType::i32, "i");
  k.parallel = {{i, n}};
  kir::Stmt s;
  s.kind = kir::Stmt::Kind::Store;
  s.buffer = 1;
  s.index = k.var_ref(i);
  s.value = k.binary(
      Op::Add, k.binary(Op::Mul, k.load(0, DType::f32, k.var_ref(i)), k.constant(2, DType::f32)),
      k.constant(1, DType::f32));
  k.body = {s};
  k.reads = {0};
  k.writes = {1};
  p.kernels.push_back(k);
  return p;
}

double device_ms() {
  double ms = 0;
  for (const auto& k : vulkan::last_profile()) ms += k.ms;
  return ms;
}

void BM_Elementwise16M(benchmark::State& state) {
  const int64_t n = int64_t{1} << 24;
  kir::Program p = axpb(n);
  CompileRequest req;
  req.program = &p;
  std::unique_ptr<Executable> exe;
  try {
    exe = get_backend("vulkan").compile(req, std::make_shared<ParamStore>());
  } catch (const BackendError& e) {
    state.SkipWithError(e.what());
    return;
  }
  Array x(DType::f32, Shape{n});
  Feeds feeds{{"x", x}};
  exe->run(feeds);
  double kernel_ms = 0;
  int64_t runs = 0;
  for (auto _ : state) {
    auto out = exe->run(feeds);
    benchmark::DoNotOptimize(out[0].raw());
    kernel_ms += device_ms();
    ++runs;
  }
  const double bytes = static_cast<double>(n) * 8;  // read 4 + write 4 per element
  state.counters["kernel_ms"] = kernel_ms / static_cast<double>(runs);
  state.counters["kernel_GB/s"] = bytes / (kernel_ms / static_cast<double>(runs) * 1e-3) / 1e9;
  state.SetLabel(vulkan::device_description());
}
BENCHMARK(BM_Elementwise16M)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Sgemm1024(benchmark::State& state) {
  ContextScope scope(std::make_shared<Context>());
  Tensor a = input("a", {1024, 1024});
  Tensor b = input("b", {1024, 1024});
  CompileOptions opts;
  opts.backend = "vulkan";
  Compiled c;
  try {
    c = compile({matmul(a, b)}, opts);
  } catch (const BackendError& e) {
    state.SkipWithError(e.what());
    return;
  }
  Feeds feeds{{"a", Array(DType::f32, Shape{1024, 1024})},
              {"b", Array(DType::f32, Shape{1024, 1024})}};
  c.run(feeds);
  double kernel_ms = 0;
  int64_t runs = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(c.run(feeds)[0].raw());
    kernel_ms += device_ms();
    ++runs;
  }
  state.counters["kernel_ms"] = kernel_ms / static_cast<double>(runs);
  state.counters["GFLOP/s"] =
      2.0 * 1024 * 1024 * 1024 / (kernel_ms / static_cast<double>(runs) * 1e-3) / 1e9;
}
BENCHMARK(BM_Sgemm1024)->Unit(benchmark::kMillisecond)->UseRealTime();

// One SGD step of the Fashion-MNIST MLP (TOOLCHAIN.md's comparison shape) on `backend`.
void mlp_step(benchmark::State& state, const std::string& backend) {
  ContextScope scope(std::make_shared<Context>());
  const int64_t batch = 128;
  Tensor x = input("x", {batch, 784});
  Tensor t = input("t", {batch}, DType::i32);
  Tensor w1 = param("w1", {784, 256}, "glorot_uniform", 1), b1 = param("b1", {256}, "zeros");
  Tensor w2 = param("w2", {256, 128}, "glorot_uniform", 2), b2 = param("b2", {128}, "zeros");
  Tensor w3 = param("w3", {128, 10}, "glorot_uniform", 3), b3 = param("b3", {10}, "zeros");
  Tensor h = relu(matmul(relu(matmul(x, w1) + b1), w2) + b2);
  Tensor loss = cross_entropy(matmul(h, w3) + b3, t);
  std::vector<Tensor> ps = {w1, b1, w2, b2, w3, b3};
  std::vector<Tensor> gs = grad(loss, ps);
  std::vector<std::pair<Tensor, Tensor>> updates;
  for (size_t i = 0; i < ps.size(); ++i) updates.push_back({ps[i], ps[i] - gs[i] * 0.05});
  CompileOptions opts;
  opts.backend = backend;
  Compiled step;
  try {
    step = compile({loss}, opts, updates);
  } catch (const BackendError& e) {
    state.SkipWithError(e.what());
    return;
  }
  Array xs(DType::f32, Shape{batch, 784}), ts(DType::i32, Shape{batch});
  for (int64_t i = 0; i < xs.numel(); ++i) xs.set(i, std::sin(0.01 * static_cast<double>(i)));
  for (int64_t i = 0; i < batch; ++i) ts.set(i, static_cast<double>(i % 10));
  Feeds feeds{{"x", xs}, {"t", ts}};
  step.run(feeds);
  double kernel_ms = 0, wall_ms = 0;
  int64_t runs = 0;
  const bool vk = backend == "vulkan";
  const vulkan::ParamTransfers before = vk ? vulkan::param_transfers() : vulkan::ParamTransfers{};
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(step.run(feeds)[0].get(0));
    wall_ms +=
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (vk) kernel_ms += device_ms();
    ++runs;
  }
  if (vk) {
    // device_ms: the kernels (timestamps); host_ms: the rest of a step (feeds, submission,
    // readback, parameter sync); param_downloads: parameter copies to the host per step.
    const double n = static_cast<double>(runs);
    state.counters["device_ms"] = kernel_ms / n;
    state.counters["host_ms"] = (wall_ms - kernel_ms) / n;
    state.counters["param_downloads"] =
        static_cast<double>(vulkan::param_transfers().downloads - before.downloads) / n;
  }
}
void BM_MlpStepVulkan(benchmark::State& state) {
  mlp_step(state, "vulkan");
}
void BM_MlpStepLlvm(benchmark::State& state) {
  mlp_step(state, "llvm");
}
BENCHMARK(BM_MlpStepVulkan)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MlpStepLlvm)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace soma

BENCHMARK_MAIN();
