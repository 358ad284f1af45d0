// The LLVM backend's kernels against hand-written C++ compiled into the same binary (with
// -march=native, see CMakeLists.txt): sgemm (square and the MLP's shapes), a fused 5-op
// elementwise chain against STREAM triad, and row sums. Kernels run through jit::Launcher on
// preallocated buffers (what an executable does between binding and returning), so the numbers
// are the generated code's, not the allocator's. Run with e.g.
//   soma_bench_llvm --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "backends/llvm/jit.h"
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
kir::Program matmul_program(int64_t M, int64_t N, int64_t K, bool a_trans, bool b_trans) {
  kir::Program p;
  BufferId a = add_buffer(p, kir::Buffer::Kind::Input, a_trans ? Shape{K, M} : Shape{M, K}, "a");
  BufferId b = add_buffer(p, kir::Buffer::Kind::Input, b_trans ? Shape{N, K} : Shape{K, N}, "b");
  BufferId c = add_buffer(p, kir::Buffer::Kind::Output, Shape{M, N}, "c");
  p.outputs = {c};
  Kernel k;
  k.name = "matmul";
  k.is_contraction = true;
  ExprId i = var_axis(k, M, "i"), j = var_axis(k, N, "j");
  kir::VarId kv = k.new_var(DType::i32, "k");
  k.contraction.k = {kv, K};
  ExprId kk = k.var_ref(kv);
  k.contraction.a = k.load(a, DType::f32, a_trans ? lin(k, kk, M, i) : lin(k, i, K, kk));
  k.contraction.b = k.load(b, DType::f32, b_trans ? lin(k, j, K, kk) : lin(k, kk, N, j));
  k.contraction.acc = k.new_var(DType::f32, "acc");
  k.reads = {a, b};
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

// ---- sgemm ----

void run_sgemm(benchmark::State& state, int64_t M, int64_t N, int64_t K, bool at, bool bt) {
  const int threads = static_cast<int>(state.range(0));
  kir::Program p = matmul_program(M, N, K, at, bt);
  auto code = compile(p, threads);
  Buffer a(static_cast<size_t>(M * K)), b(static_cast<size_t>(K * N)),
      c(static_cast<size_t>(M * N), 1);
  void* bufs[] = {a.p, b.p, c.p};
  jit::Launcher launcher(threads);
  launcher.run_all(*code, bufs);  // warm up (scratch, caches)
  for (auto _ : state) {
    launcher.run_all(*code, bufs);
    benchmark::DoNotOptimize(c.p);
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(static_cast<double>(2 * M * N * K),
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
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

// The MLP 784-256-128-10 at batch 128: forward products, and the backward ones of the first layer
// (dW1 = x^T dy reads A transposed, dx = dy W1^T reads B transposed).
void BM_MlpShapesLlvm(benchmark::State& state) {
  struct Shape3 {
    int64_t M, N, K;
    bool at, bt;
  };
  static const Shape3 shapes[] = {{128, 256, 784, false, false},
                                  {128, 128, 256, false, false},
                                  {128, 10, 128, false, false},
                                  {784, 256, 128, true, false},
                                  {128, 784, 256, false, true}};
  const Shape3& s = shapes[state.range(1)];
  run_sgemm(state, s.M, s.N, s.K, s.at, s.bt);
  state.SetLabel(std::to_string(s.M) + "x" + std::to_string(s.K) + " @ " + std::to_string(s.K) +
                 "x" + std::to_string(s.N) + (s.at ? " (A^T)" : "") + (s.bt ? " (B^T)" : ""));
}
BENCHMARK(BM_MlpShapesLlvm)
    ->ArgNames({"threads", "shape"})
    ->ArgsProduct({{1, 2}, {0, 1, 2, 3, 4}})
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

// ---- streaming: the fused chain against STREAM triad ----

constexpr int64_t kStreamN = int64_t{1} << 24;  // 16M floats, 64 MiB per array

void bytes_counter(benchmark::State& state, double bytes) {
  state.counters["GB/s"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}

void BM_ChainLlvm(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  kir::Program p = chain_program(kStreamN);
  auto code = compile(p, threads);
  Buffer x(kStreamN), y(kStreamN, 1);
  void* bufs[] = {x.p, y.p};
  jit::Launcher launcher(threads);
  for (auto _ : state) {
    launcher.run_all(*code, bufs);
    benchmark::ClobberMemory();
  }
  bytes_counter(state, 2.0 * 4 * kStreamN);
}
BENCHMARK(BM_ChainLlvm)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_ChainCpp(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  Buffer x(kStreamN), y(kStreamN, 1);
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
}
BENCHMARK(BM_StreamTriadCpp)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// ---- reductions ----

constexpr int64_t kRows = 4096, kCols = 4096;

// f32 sums accumulate in f64 by default; fast math keeps them in f32.
void BM_RowSumLlvm(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const bool fast = state.range(1) != 0;
  kir::Program p = rowsum_program(kRows, kCols);
  auto code = compile(p, threads, fast);
  Buffer x(static_cast<size_t>(kRows * kCols)), s(kRows, 1);
  void* bufs[] = {x.p, s.p};
  jit::Launcher launcher(threads);
  for (auto _ : state) {
    launcher.run_all(*code, bufs);
    benchmark::ClobberMemory();
  }
  bytes_counter(state, 4.0 * kRows * kCols);
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
}
BENCHMARK(BM_RowSumCpp)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace soma

BENCHMARK_MAIN();
