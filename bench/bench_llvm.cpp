// The LLVM backend's kernels against hand-written C++ compiled into the same binary (with
// -march=native, see CMakeLists.txt), for the targets of the backend's issue:
//   - sgemm: square sizes and the products of the MLP 784-256-128-10 training step (with the
//     operands lowering gives them), 1 and 2 threads, against a blocked C++ loop;
//   - a fused 5-op elementwise chain on 16M floats against STREAM triad (the machine's
//     bandwidth) and against the same chain op by op (one kernel per op, as with
//     SOMA_DISABLE_PASSES=fuse);
//   - row softmax 4096 x 4096 against a hand-written row softmax;
//   - compile time of an MLP training step: cold (no memo, no disk cache) and from the disk cache;
//   - row sums, and the thread pool's cost per parallel call.
// Kernels run through jit::Launcher on preallocated buffers (what an executable does between
// binding and returning), so the numbers are the generated code's, not the allocator's. Every
// benchmark reports, besides its rate, the rate per CPU-second of the whole process and the cores
// it kept busy (see CpuMeter): on a shared machine the wall-clock rate drops when another
// process takes the cores, the CPU-time rate does not. Run with e.g.
//   soma_bench_llvm --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/llvm/jit.h"
#include "frontend/compile.h"
#include "frontend/context.h"
#include "frontend/tensor.h"
#include "graph/graph.h"
#include "passes/pipeline.h"
#include "runtime/thread_pool.h"

namespace soma {
namespace {

using kir::BufferId;
using kir::ExprId;
using kir::Kernel;

// ---- buffers and programs ----

struct Buffer {
  float* p = nullptr;
  size_t n = 0;
  explicit Buffer(size_t count, float fill = 0) : n(count) {
    p = static_cast<float*>(std::aligned_alloc(64, (count * 4 + 63) / 64 * 64));
    for (size_t i = 0; i < n; ++i)
      p[i] = fill == 0 ? std::sin(0.001f * static_cast<float>(i)) : fill;
  }
  ~Buffer() { std::free(p); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
};

BufferId add_buffer(kir::Program& p, kir::Buffer::Kind kind, Shape s, const char* name) {
  kir::Buffer b;
  b.kind = kind;
  b.dtype = DType::f32;
  b.shape = std::move(s);
  b.name = name;
  p.buffers.push_back(b);
  return static_cast<BufferId>(p.buffers.size() - 1);
}

ExprId var_axis(Kernel& k, int64_t extent, const char* name) {
  kir::VarId v = k.new_var(DType::i32, name);
  k.parallel.push_back({v, extent});
  return k.var_ref(v);
}

ExprId lin(Kernel& k, ExprId row, int64_t stride, ExprId col) {
  return k.binary(Op::Add, k.binary(Op::Mul, row, k.index_const(stride)), col);
}

void store(Kernel& k, BufferId b, ExprId index, ExprId value) {
  kir::Stmt s;
  s.kind = kir::Stmt::Kind::Store;
  s.buffer = b;
  s.index = index;
  s.value = value;
  k.body.push_back(s);
  k.writes.push_back(b);
}

// C[M,N] = A[M,K] @ B[K,N]; a_trans: A is stored [K,M]; b_trans: B is stored [N,K].
// a_fused: the A operand is relu(A + bias[k]) (the previous layer's bias and ReLU, as lowering
// fuses them into a dense layer's input); b_fused: B is (mask > 0 ? B : 0) (a ReLU's gradient,
// as in the weight gradients of the MLP's backward pass).
kir::Program matmul_program(int64_t M, int64_t N, int64_t K, bool a_trans, bool b_trans,
                            bool a_fused = false, bool b_fused = false) {
  kir::Program p;
  BufferId a = add_buffer(p, kir::Buffer::Kind::Input, a_trans ? Shape{K, M} : Shape{M, K}, "a");
  BufferId b = add_buffer(p, kir::Buffer::Kind::Input, b_trans ? Shape{N, K} : Shape{K, N}, "b");
  BufferId c = add_buffer(p, kir::Buffer::Kind::Output, Shape{M, N}, "c");
  BufferId bias = add_buffer(p, kir::Buffer::Kind::Input, Shape{K}, "bias");
  BufferId mask =
      add_buffer(p, kir::Buffer::Kind::Input, b_trans ? Shape{N, K} : Shape{K, N}, "mask");
  p.outputs = {c};
  Kernel k;
  k.name = "matmul";
  k.is_contraction = true;
  ExprId i = var_axis(k, M, "i"), j = var_axis(k, N, "j");
  kir::VarId kv = k.new_var(DType::i32, "k");
  k.contraction.k = {kv, K};
  ExprId kk = k.var_ref(kv);
  ExprId zero = k.constant(0, DType::f32);
  ExprId av = k.load(a, DType::f32, a_trans ? lin(k, kk, M, i) : lin(k, i, K, kk));
  if (a_fused) av = k.binary(Op::Max, k.binary(Op::Add, av, k.load(bias, DType::f32, kk)), zero);
  ExprId b_at = b_trans ? lin(k, j, K, kk) : lin(k, kk, N, j);
  ExprId bv = k.load(b, DType::f32, b_at);
  if (b_fused) bv = k.select(k.binary(Op::Gt, k.load(mask, DType::f32, b_at), zero), bv, zero);
  k.contraction.a = av;
  k.contraction.b = bv;
  k.contraction.acc = k.new_var(DType::f32, "acc");
  k.reads = {a, b, bias, mask};
  store(k, c, lin(k, i, N, j), k.var_ref(k.contraction.acc));
  p.kernels.push_back(std::move(k));
  return p;
}

// y = max(x * 1.5 + 0.5, 0) * x - 0.25: five ops per element, one read and one write.
kir::Program chain_program(int64_t n) {
  kir::Program p;
  BufferId x = add_buffer(p, kir::Buffer::Kind::Input, Shape{n}, "x");
  BufferId y = add_buffer(p, kir::Buffer::Kind::Output, Shape{n}, "y");
  p.outputs = {y};
  Kernel k;
  k.name = "chain";
  ExprId i = var_axis(k, n, "i");
  ExprId v = k.load(x, DType::f32, i);
  auto c = [&](double d) { return k.constant(d, DType::f32); };
  ExprId r = k.binary(Op::Add, k.binary(Op::Mul, v, c(1.5)), c(0.5));
  r = k.binary(Op::Sub, k.binary(Op::Mul, k.binary(Op::Max, r, c(0)), v), c(0.25));
  k.reads = {x};
  store(k, y, i, r);
  p.kernels.push_back(std::move(k));
  return p;
}

// s[r] = sum over j of x[r, j].
kir::Program rowsum_program(int64_t rows, int64_t cols) {
  kir::Program p;
  BufferId x = add_buffer(p, kir::Buffer::Kind::Input, Shape{rows, cols}, "x");
  BufferId s = add_buffer(p, kir::Buffer::Kind::Output, Shape{rows}, "s");
  p.outputs = {s};
  Kernel k;
  k.name = "rowsum";
  ExprId r = var_axis(k, rows, "r");
  kir::Stmt red;
  red.kind = kir::Stmt::Kind::Reduce;
  red.reduce_op = Op::ReduceSum;
  red.var = k.new_var(DType::f32, "s");
  kir::VarId j = k.new_var(DType::i32, "j");
  red.axes = {{j, cols}};
  red.value = k.load(x, DType::f32, lin(k, r, cols, k.var_ref(j)));
  k.body.push_back(red);
  k.reads = {x};
  store(k, s, r, k.var_ref(red.var));
  p.kernels.push_back(std::move(k));
  return p;
}

std::shared_ptr<const jit::CompiledProgram> compile(const kir::Program& p, int threads,
                                                    bool fast_math = false) {
  CompileOptions o;
  o.threads = threads;
  o.fast_math = fast_math;
  return jit::compile_program(p, o);
}

// ---- CPU time ----
//
// The machine may be shared: wall-clock rates then drop while the code did not change. The
// process's CPU time (every thread) tells the two apart: "<unit>/cpu_s" is the work per
// CPU-second (drops only when the code gets slower, or spins), "cpu_util" the cores it kept busy.

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

class CpuMeter {
 public:
  CpuMeter() : cpu0_(process_cpu_seconds()), t0_(std::chrono::steady_clock::now()) {}
  // work: per iteration, in units of 1e9 (GFLOP, GB).
  void report(benchmark::State& state, double work, const std::string& unit) const {
    double cpu = process_cpu_seconds() - cpu0_;
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    if (cpu <= 0 || wall <= 0) return;
    state.counters["cpu_util"] = cpu / wall;
    state.counters[unit + "/cpu_s"] = work * static_cast<double>(state.iterations()) / cpu / 1e9;
  }

 private:
  double cpu0_;
  std::chrono::steady_clock::time_point t0_;
};

void flops_counter(benchmark::State& state, double flops) {
  state.counters["GFLOP/s"] = benchmark::Counter(
      flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

// ---- sgemm ----

void run_sgemm(benchmark::State& state, int64_t M, int64_t N, int64_t K, bool at, bool bt,
               bool af = false, bool bf = false) {
  const int threads = static_cast<int>(state.range(0));
  kir::Program p = matmul_program(M, N, K, at, bt, af, bf);
  auto code = compile(p, threads);
  Buffer a(static_cast<size_t>(M * K)), b(static_cast<size_t>(K * N)),
      c(static_cast<size_t>(M * N), 1), bias(static_cast<size_t>(K)),
      mask(static_cast<size_t>(K * N));
  void* bufs[] = {a.p, b.p, c.p, bias.p, mask.p};
  jit::Launcher launcher(threads);
  launcher.run_all(*code, bufs);  // warm up (scratch, caches)
  CpuMeter meter;
  for (auto _ : state) {
    launcher.run_all(*code, bufs);
    benchmark::DoNotOptimize(c.p);
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * static_cast<double>(M * N * K);
  flops_counter(state, flops);
  meter.report(state, flops, "GFLOP");
}

void BM_SgemmLlvm(benchmark::State& state) {
  int64_t n = state.range(1);
  run_sgemm(state, n, n, n, false, false);
}
BENCHMARK(BM_SgemmLlvm)
    ->ArgNames({"threads", "n"})
    ->ArgsProduct({{1, 2}, {128, 256, 512, 1024, 2048}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The products of the MLP 784-256-128-10 training step at batch 128, with the operands lowering
// gives them (passes/lower.cpp fuses the previous layer's bias and ReLU into a dense layer's
// input, and the ReLU's gradient into the backward products' operands). Shapes 0-4 are plain
// loads (comparable with older runs of this benchmark); 5-10 are the step's fused products.
struct MlpShape {
  int64_t M, N, K;
  bool at, bt, af, bf;
  const char* what;
};
const MlpShape kMlpShapes[] = {
    {128, 256, 784, false, false, false, false, "fwd1 x@W1"},
    {128, 128, 256, false, false, false, false, "fwd2 plain"},
    {128, 10, 128, false, false, false, false, "fwd3 plain"},
    {784, 256, 128, true, false, false, false, "dW1 plain"},
    {128, 784, 256, false, true, false, false, "B^T plain"},
    {128, 128, 256, false, false, true, false, "fwd2 relu(h1+b1)@W2"},
    {128, 10, 128, false, false, true, false, "fwd3 relu(h2+b2)@W3"},
    {784, 256, 128, true, false, false, true, "dW1 x^T@relu'(dy1)"},
    {128, 256, 128, false, true, false, true, "dh1 relu'(dy2)@W2^T"},
    {256, 128, 128, true, false, true, true, "dW2 relu(h1)^T@relu'(dy2)"},
    {128, 128, 10, false, true, false, false, "dh2 dy3@W3^T"},
    {128, 10, 128, true, false, true, false, "dW3 relu(h2)^T@dy3"},
};

void BM_MlpShapesLlvm(benchmark::State& state) {
  const MlpShape& s = kMlpShapes[state.range(1)];
  run_sgemm(state, s.M, s.N, s.K, s.at, s.bt, s.af, s.bf);
  state.SetLabel(std::to_string(s.M) + "x" + std::to_string(s.K) + " @ " + std::to_string(s.K) +
                 "x" + std::to_string(s.N) + " " + s.what);
}
BENCHMARK(BM_MlpShapesLlvm)
    ->ArgNames({"threads", "shape"})
    ->ArgsProduct({{1, 2}, benchmark::CreateDenseRange(0, 11, 1)})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// The hand-written baseline: i-k-j loops over 64x256 blocks of k/j (auto-vectorized by g++ with
// -O3 -march=native), rows split over the same thread pool.
void cpp_sgemm(const float* a, const float* b, float* c, int64_t M, int64_t N, int64_t K,
               int threads) {
  ThreadPool& pool = ThreadPool::global();
  const int64_t rows_per = (M + 15) / 16;
  pool.parallel_for(16, threads, [&](int64_t t, int) {
    int64_t r0 = t * rows_per, r1 = std::min(M, r0 + rows_per);
    for (int64_t i = r0; i < r1; ++i) std::fill(c + i * N, c + i * N + N, 0.0f);
    for (int64_t k0 = 0; k0 < K; k0 += 64)
      for (int64_t j0 = 0; j0 < N; j0 += 256) {
        int64_t k1 = std::min(K, k0 + 64), j1 = std::min(N, j0 + 256);
        for (int64_t i = r0; i < r1; ++i) {
          float* __restrict crow = c + i * N;
          for (int64_t k = k0; k < k1; ++k) {
            const float aik = a[i * K + k];
            const float* __restrict brow = b + k * N;
            for (int64_t j = j0; j < j1; ++j) crow[j] += aik * brow[j];
          }
        }
      }
  });
}

void BM_SgemmCpp(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  int64_t n = state.range(1);
  Buffer a(static_cast<size_t>(n * n)), b(static_cast<size_t>(n * n)),
      c(static_cast<size_t>(n * n), 1);
  for (auto _ : state) {
    cpp_sgemm(a.p, b.p, c.p, n, n, n, threads);
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(static_cast<double>(2 * n * n * n),
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}
BENCHMARK(BM_SgemmCpp)
    ->ArgNames({"threads", "n"})
    ->ArgsProduct({{1, 2}, {128, 256, 512, 1024, 2048}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// ---- programs from the frontend ----

// The kernel program of `outputs` as the frontend's compile() builds it: the graph passes, then
// fusion (or one kernel per node, as SOMA_DISABLE_PASSES=fuse) and lowering.
kir::Program lowered(Context& ctx, const std::vector<Tensor>& outputs, bool fuse) {
  std::vector<NodeId> roots, map;
  for (const Tensor& t : outputs) roots.push_back(t.id());
  Module m;
  m.graph = extract(ctx.graph(), roots, &map);
  for (const Tensor& t : outputs) m.outputs.push_back(map[static_cast<size_t>(t.id())]);
  PipelineOptions po;
  if (!fuse) po.disabled.insert("fuse");
  optimize_graph(m, po);
  return lower_to_kernels(m, po);
}

// Memory for every buffer of a lowered program: inputs by name (filled with a test pattern),
// outputs, temporaries at their planned arena offsets, constants. Allocated and touched once.
class BoundProgram {
 public:
  explicit BoundProgram(const kir::Program& p) {
    ptrs_.resize(p.buffers.size());
    arena_ = std::make_unique<Bytes>(static_cast<size_t>(std::max<int64_t>(p.arena_bytes, 64)));
    for (size_t i = 0; i < p.buffers.size(); ++i) {
      const kir::Buffer& b = p.buffers[i];
      if (b.kind == kir::Buffer::Kind::Temp && b.offset >= 0) {
        ptrs_[i] = arena_->p + b.offset;
        continue;
      }
      owned_.push_back(
          std::make_unique<Bytes>(static_cast<size_t>(std::max<int64_t>(b.bytes(), 64))));
      Bytes& m = *owned_.back();
      ptrs_[i] = m.p;
      if (b.kind == kir::Buffer::Kind::Constant) {
        for (size_t e = 0; e < b.data.size(); ++e) {
          if (b.dtype == DType::f32)
            reinterpret_cast<float*>(m.p)[e] = static_cast<float>(b.data[e]);
          if (b.dtype == DType::f64) reinterpret_cast<double*>(m.p)[e] = b.data[e];
          if (b.dtype == DType::i32)
            reinterpret_cast<int32_t*>(m.p)[e] = static_cast<int32_t>(b.data[e]);
          if (b.dtype == DType::boolean) m.p[e] = std::byte{b.data[e] != 0};
        }
      } else if (b.dtype == DType::f32) {
        float* f = reinterpret_cast<float*>(m.p);
        for (int64_t e = 0; e < b.numel(); ++e) f[e] = std::sin(0.001f * static_cast<float>(e));
      }
    }
  }
  void* const* buffers() const { return ptrs_.data(); }

 private:
  struct Bytes {
    std::byte* p;
    explicit Bytes(size_t n) {
      p = static_cast<std::byte*>(std::aligned_alloc(64, (n + 63) / 64 * 64));
      std::memset(p, 0, n);
    }
    ~Bytes() { std::free(p); }
  };
  std::unique_ptr<Bytes> arena_;
  std::vector<std::unique_ptr<Bytes>> owned_;
  std::vector<void*> ptrs_;
};

// Runs a lowered program's kernels in a loop; `work` per iteration in units of 1e9 of `unit`.
void run_lowered(benchmark::State& state, const kir::Program& p, int threads, bool fast_math,
                 double work, const std::string& unit) {
  auto code = compile(p, threads, fast_math);
  BoundProgram bound(p);
  jit::Launcher launcher(threads);
  launcher.run_all(*code, bound.buffers());  // warm up
  CpuMeter meter;
  for (auto _ : state) {
    launcher.run_all(*code, bound.buffers());
    benchmark::ClobberMemory();
  }
  state.counters[unit + "/s"] = benchmark::Counter(
      work, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  meter.report(state, work, unit);
  state.counters["kernels"] = static_cast<double>(p.kernels.size());
}

// ---- streaming: the fused chain against STREAM triad and against op by op ----

constexpr int64_t kStreamN = int64_t{1} << 24;  // 16M floats, 64 MiB per array

void bytes_counter(benchmark::State& state, double bytes) {
  state.counters["GB/s"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}

// y = max(x * 1.5 + 0.5, 0) * x - 0.25: five ops per element, one read and one write when fused.
kir::Program chain_lowered(bool fuse) {
  auto ctx = std::make_shared<Context>();
  ContextScope scope(ctx);
  Tensor x = input("x", {kStreamN});
  Tensor y = maximum(x * 1.5 + 0.5, scalar(0)) * x - 0.25;
  return lowered(*ctx, {y}, fuse);
}

// GB/s counts the fused chain's traffic (read x, write y) for both versions, so the two rates
// compare directly (op by op moves more bytes for the same result).
void BM_ChainLlvm(benchmark::State& state) {
  run_lowered(state, chain_lowered(true), static_cast<int>(state.range(0)), false,
              2.0 * 4 * kStreamN, "GB");
}
BENCHMARK(BM_ChainLlvm)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_ChainOpByOpLlvm(benchmark::State& state) {
  run_lowered(state, chain_lowered(false), static_cast<int>(state.range(0)), false,
              2.0 * 4 * kStreamN, "GB");
}
BENCHMARK(BM_ChainOpByOpLlvm)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The same chain through what a user calls: Compiled::run (a new output array each run) and
// Compiled::run(feeds, outputs) (the caller's array, computed in place).
void run_chain_compiled(benchmark::State& state, bool into) {
  auto ctx = std::make_shared<Context>();
  ContextScope scope(ctx);
  Tensor x = input("x", {kStreamN});
  CompileOptions o;
  o.backend = "llvm";
  o.threads = static_cast<int>(state.range(0));
  Compiled c = compile({maximum(x * 1.5 + 0.5, scalar(0)) * x - 0.25}, o);
  Feeds feeds = {{"x", Array(DType::f32, {kStreamN})}};
  std::vector<Array> out = {Array(DType::f32, {kStreamN})};
  CpuMeter meter;
  for (auto _ : state) {
    if (into)
      c.run(feeds, out);
    else
      benchmark::DoNotOptimize(c.run(feeds));
  }
  bytes_counter(state, 2.0 * 4 * kStreamN);
  meter.report(state, 2.0 * 4 * kStreamN, "GB");
}

void BM_ChainRunLlvm(benchmark::State& state) {
  run_chain_compiled(state, false);
}
BENCHMARK(BM_ChainRunLlvm)
    ->ArgName("threads")
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_ChainRunIntoLlvm(benchmark::State& state) {
  run_chain_compiled(state, true);
}
BENCHMARK(BM_ChainRunIntoLlvm)
    ->ArgName("threads")
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The kernel IR written by hand (no frontend): the code generator alone.
void BM_ChainKernelLlvm(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  kir::Program p = chain_program(kStreamN);
  auto code = compile(p, threads);
  Buffer x(kStreamN), y(kStreamN, 1);
  void* bufs[] = {x.p, y.p};
  jit::Launcher launcher(threads);
  CpuMeter meter;
  for (auto _ : state) {
    launcher.run_all(*code, bufs);
    benchmark::ClobberMemory();
  }
  bytes_counter(state, 2.0 * 4 * kStreamN);
  meter.report(state, 2.0 * 4 * kStreamN, "GB");
}
BENCHMARK(BM_ChainKernelLlvm)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_ChainCpp(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  Buffer x(kStreamN), y(kStreamN, 1);
  CpuMeter meter;
  for (auto _ : state) {
    ThreadPool::global().parallel_for(threads, threads, [&](int64_t t, int) {
      int64_t b = kStreamN / threads * t, e = t == threads - 1 ? kStreamN : b + kStreamN / threads;
      const float* __restrict xp = x.p;
      float* __restrict yp = y.p;
      for (int64_t i = b; i < e; ++i) yp[i] = std::max(xp[i] * 1.5f + 0.5f, 0.0f) * xp[i] - 0.25f;
    });
    benchmark::ClobberMemory();
  }
  bytes_counter(state, 2.0 * 4 * kStreamN);
  meter.report(state, 2.0 * 4 * kStreamN, "GB");
}
BENCHMARK(BM_ChainCpp)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_StreamTriadCpp(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  Buffer a(kStreamN, 1), b(kStreamN), c(kStreamN);
  const float s = 3.0f;
  CpuMeter meter;
  for (auto _ : state) {
    ThreadPool::global().parallel_for(threads, threads, [&](int64_t t, int) {
      int64_t lo = kStreamN / threads * t,
              hi = t == threads - 1 ? kStreamN : lo + kStreamN / threads;
      float* __restrict ap = a.p;
      const float* __restrict bp = b.p;
      const float* __restrict cp = c.p;
      for (int64_t i = lo; i < hi; ++i) ap[i] = bp[i] + s * cp[i];
    });
    benchmark::ClobberMemory();
  }
  bytes_counter(state, 3.0 * 4 * kStreamN);
  meter.report(state, 3.0 * 4 * kStreamN, "GB");
}
BENCHMARK(BM_StreamTriadCpp)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// ---- row softmax ----

constexpr int64_t kRows = 4096, kCols = 4096;

// softmax(x, -1) lowered by the frontend: one row kernel (max, sum of exps, scaled exps).
void BM_SoftmaxLlvm(benchmark::State& state) {
  auto ctx = std::make_shared<Context>();
  ContextScope scope(ctx);
  Tensor x = input("x", {kRows, kCols});
  kir::Program p = lowered(*ctx, {softmax(x, -1)}, true);
  run_lowered(state, p, static_cast<int>(state.range(0)), state.range(1) != 0,
              2.0 * 4 * kRows * kCols, "GB");
}
BENCHMARK(BM_SoftmaxLlvm)
    ->ArgNames({"threads", "fast_math"})
    ->ArgsProduct({{1, 2}, {0, 1}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The hand-written row softmax: the max, then e^(x - max) stored and summed, then scaled. Plain
// C++ (no -ffast-math: g++ keeps the sums in order and calls expf per element).
void BM_SoftmaxCpp(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  Buffer x(static_cast<size_t>(kRows * kCols)), y(static_cast<size_t>(kRows * kCols), 1);
  CpuMeter meter;
  for (auto _ : state) {
    ThreadPool::global().parallel_for(threads, threads, [&](int64_t t, int) {
      for (int64_t r = kRows / threads * t; r < kRows / threads * (t + 1); ++r) {
        const float* __restrict in = x.p + r * kCols;
        float* __restrict out = y.p + r * kCols;
        float m = in[0];
        for (int64_t j = 1; j < kCols; ++j) m = std::max(m, in[j]);
        float sum = 0;
        for (int64_t j = 0; j < kCols; ++j) {
          out[j] = std::exp(in[j] - m);
          sum += out[j];
        }
        const float inv = 1.0f / sum;
        for (int64_t j = 0; j < kCols; ++j) out[j] *= inv;
      }
    });
    benchmark::ClobberMemory();
  }
  const double bytes = 2.0 * 4 * kRows * kCols;
  bytes_counter(state, bytes);
  meter.report(state, bytes, "GB");
}
BENCHMARK(BM_SoftmaxCpp)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// ---- compile time of an MLP training step ----

// The MLP 784-256-128-10 at batch 128: forward, cross-entropy loss, backward, and SGD with
// momentum for the six parameters (what Model.fit compiles, less the metrics).
struct MlpStep {
  std::shared_ptr<Context> ctx = std::make_shared<Context>();
  std::vector<Tensor> outputs;
  std::vector<std::pair<Tensor, Tensor>> updates;
  MlpStep() {
    ContextScope scope(ctx);
    Tensor x = input("x", {128, 784}), y = input("y", {128}, DType::i32);
    std::vector<Tensor> ps = {param("w1", {784, 256}), param("b1", {256}, "zeros"),
                              param("w2", {256, 128}), param("b2", {128}, "zeros"),
                              param("w3", {128, 10}),  param("b3", {10}, "zeros")};
    Tensor h1 = relu(matmul(x, ps[0]) + ps[1]);
    Tensor h2 = relu(matmul(h1, ps[2]) + ps[3]);
    Tensor loss = cross_entropy(matmul(h2, ps[4]) + ps[5], y);
    std::vector<Tensor> g = grad(loss, ps);
    for (size_t i = 0; i < ps.size(); ++i) {
      Tensor m = param("m" + std::to_string(i), ps[i].shape(), "zeros");
      Tensor m1 = m * 0.9 + g[i];
      updates.push_back({m, m1});
      updates.push_back({ps[i], ps[i] - m1 * 0.01});
    }
    outputs = {loss};
  }
};

// Sets an environment variable for the scope (restoring it after).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// compile() of the step: graph passes, fusion, lowering, code generation, O3 and JIT linking
// (cold: the in-process memo cleared and the disk cache off), or the same with the object found
// in the disk cache (a fresh process with a warm cache: the memo cleared, a private cache folder).
void BM_CompileMlpStep(benchmark::State& state) {
  const bool disk = state.range(0) != 0;
  MlpStep step;
  CompileOptions o;
  o.backend = "llvm";
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("soma-bench-cache-" + std::to_string(::getpid()));
  ScopedEnv cache_home("XDG_CACHE_HOME", dir.c_str());
  ScopedEnv off("SOMA_DISK_CACHE", disk ? nullptr : "0");
  jit::clear_memory_cache();
  if (disk) Compiled warm = soma::compile(step.outputs, o, step.updates);  // fills the cache
  jit::reset_jit_stats();
  for (auto _ : state) {
    state.PauseTiming();
    jit::clear_memory_cache();
    state.ResumeTiming();
    Compiled c = soma::compile(step.outputs, o, step.updates);
    benchmark::DoNotOptimize(&c);
  }
  jit::JitStats st = jit::jit_stats();
  state.counters["llvm_compiles"] =
      benchmark::Counter(static_cast<double>(st.compiles), benchmark::Counter::kAvgIterations);
  state.counters["disk_hits"] =
      benchmark::Counter(static_cast<double>(st.disk_hits), benchmark::Counter::kAvgIterations);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_CompileMlpStep)
    ->ArgName("disk_cache")
    ->Arg(0)
    ->Arg(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// ---- reductions ----

// s[r] = sum over j of x[r, j]. f32 sums accumulate in f64 by default; fast math keeps them in
// f32.
void BM_RowSumLlvm(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const bool fast = state.range(1) != 0;
  kir::Program p = rowsum_program(kRows, kCols);
  auto code = compile(p, threads, fast);
  Buffer x(static_cast<size_t>(kRows * kCols)), s(kRows, 1);
  void* bufs[] = {x.p, s.p};
  jit::Launcher launcher(threads);
  CpuMeter meter;
  for (auto _ : state) {
    launcher.run_all(*code, bufs);
    benchmark::ClobberMemory();
  }
  bytes_counter(state, 4.0 * kRows * kCols);
  meter.report(state, 4.0 * kRows * kCols, "GB");
}
BENCHMARK(BM_RowSumLlvm)
    ->ArgNames({"threads", "fast_math"})
    ->ArgsProduct({{1, 2}, {0, 1}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The straightforward loop: g++ keeps the sequential order (no -ffast-math), so it is scalar.
void BM_RowSumCpp(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  Buffer x(static_cast<size_t>(kRows * kCols)), s(kRows, 1);
  CpuMeter meter;
  for (auto _ : state) {
    ThreadPool::global().parallel_for(threads, threads, [&](int64_t t, int) {
      for (int64_t r = kRows / threads * t; r < kRows / threads * (t + 1); ++r) {
        float acc = 0;
        for (int64_t j = 0; j < kCols; ++j) acc += x.p[r * kCols + j];
        s.p[r] = acc;
      }
    });
    benchmark::ClobberMemory();
  }
  bytes_counter(state, 4.0 * kRows * kCols);
  meter.report(state, 4.0 * kRows * kCols, "GB");
}
BENCHMARK(BM_RowSumCpp)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// ---- the thread pool ----

// One parallel call of two tiny tasks: what a kernel launch costs beyond its work. idle_us: the
// time between calls (0: back to back, the workers spinning; 500: the workers asleep).
void BM_ThreadPoolCall(benchmark::State& state) {
  const int64_t idle_us = state.range(0);
  ThreadPool& pool = ThreadPool::global();
  std::atomic<int64_t> sink{0};
  for (auto _ : state) {
    if (idle_us > 0) {
      state.PauseTiming();
      auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(idle_us);
      while (std::chrono::steady_clock::now() < until) {
      }
      state.ResumeTiming();
    }
    pool.parallel_for(2, 2, [&](int64_t t, int) { sink.fetch_add(t, std::memory_order_relaxed); });
  }
  benchmark::DoNotOptimize(sink.load());
}
BENCHMARK(BM_ThreadPoolCall)
    ->ArgName("idle_us")
    ->Arg(0)
    ->Arg(500)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace soma

BENCHMARK_MAIN();
