// The llvm backend's executable: buffer binding (arena temps, constants, params in place, feeds),
// parameter updates, errors, thread-count determinism, and the IR/assembly printers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "backends/llvm/jit.h"
#include "backends/llvm/llvm_backend.h"
#include "graph/error.h"
#include "kernels/kir_files.h"
#include "runtime/host_memory.h"
#include "runtime/thread_pool.h"
#include "tests/llvm/llvm_test_util.h"

namespace soma::test {
namespace {

// t1 = x * 2 (arena @0); t2 = t1 + c (arena @64, c a constant); out0 = t2 + w;
// in place: v = v * 0.5 + out0 (update (v, v)); copy update: w <- out0. Outputs: out0, w (param).
kir::Program training_like_program(int64_t n) {
  std::string c = "[";
  for (int64_t i = 0; i < n; ++i) c += (i ? ", " : "") + std::to_string(100 * i) + ".0";
  const int64_t off2 = (n * 4 + 63) / 64 * 64;
  return kirtest::kir_with(R"(program {
  buffers:
    x: input f32[$n]
    w: param f32[$n]
    v: param f32[$n]
    c: const f32[$n] = $c
    t1: temp f32[$n] @0
    t2: temp f32[$n] @$off2
    out0: output f32[$n]
  outputs: out0 w
  update v <- v (in place)
  update w <- out0
  arena: $arena bytes ($arena without reuse)
}
kernel double(x: f32[$n], out t1: f32[$n]) {
  parallel i0 in 0..$n
    store t1[i0] = load x[i0]*2.0
}
kernel add_const(t1: f32[$n], c: f32[$n], out t2: f32[$n]) {
  parallel i0 in 0..$n
    store t2[i0] = load t1[i0] + load c[i0]
}
kernel add_w(t2: f32[$n], w: f32[$n], out out0: f32[$n]) {
  parallel i0 in 0..$n
    store out0[i0] = load t2[i0] + load w[i0]
}
kernel momentum(out0: f32[$n], inout v: f32[$n]) {
  parallel i0 in 0..$n
    store v[i0] = load v[i0]*0.5 + load out0[i0]
}
)",
                           {{"n", std::to_string(n)},
                            {"c", c + "]"},
                            {"off2", std::to_string(off2)},
                            {"arena", std::to_string(off2 + n * 4)}});
}

TEST(LlvmExecutable, TempsConstantsParamsAndUpdates) {
  const int64_t n = 37;
  kir::Program p = training_like_program(n);
  auto params = std::make_shared<ParamStore>();
  std::vector<float> xv(n), wv(n), vv(n);
  for (int64_t i = 0; i < n; ++i) {
    xv[static_cast<size_t>(i)] = static_cast<float>(i) * 0.5f;
    wv[static_cast<size_t>(i)] = 1.0f - static_cast<float>(i);
    vv[static_cast<size_t>(i)] = 8.0f;
  }
  params->set("w", Array::from_f32(Shape{n}, wv));
  params->set("v", Array::from_f32(Shape{n}, vv));
  Array w_storage = params->get("w");  // shares storage: updates must land in it
  Array v_storage = params->get("v");
  CompileRequest req;
  req.program = &p;
  auto exe = get_backend("llvm").compile(req, params);
  Feeds feeds{{"x", Array::from_f32(Shape{n}, xv)}};
  for (int step = 0; step < 3; ++step) {
    uint64_t version = params->version();
    std::vector<float> w_old(n), v_old(n);
    std::memcpy(w_old.data(), w_storage.raw(), n * 4);
    std::memcpy(v_old.data(), v_storage.raw(), n * 4);
    auto out = exe->run(feeds);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_FALSE(out[1].shares_storage(w_storage));
    for (int64_t i = 0; i < n; ++i) {
      size_t s = static_cast<size_t>(i);
      double o = xv[s] * 2.0 + 100.0 * i + w_old[s];
      EXPECT_TRUE(near(out[0].get(i), o, DType::f32)) << i;
      EXPECT_EQ(out[1].get(i), w_old[s]) << "a param output holds the value before the update";
      EXPECT_TRUE(near(w_storage.get(i), o, DType::f32)) << "w <- out0, in the store's storage";
      EXPECT_TRUE(near(v_storage.get(i), v_old[s] * 0.5 + o, DType::f32)) << "v updated in place";
    }
    EXPECT_GT(params->version(), version);
  }
}

TEST(LlvmExecutable, MatchesKernelEvaluatorOnAProgramWithUpdates) {
  const int64_t n = 1000;
  kir::Program p = training_like_program(n);
  ParamStore params;
  std::vector<double> wv(n), vv(n), xv(n);
  for (int64_t i = 0; i < n; ++i) {
    wv[static_cast<size_t>(i)] = std::sin(0.1 * static_cast<double>(i));
    vv[static_cast<size_t>(i)] = std::cos(0.3 * static_cast<double>(i));
    xv[static_cast<size_t>(i)] = 0.01 * static_cast<double>(i);
  }
  params.set("w", Array::from_doubles(DType::f32, Shape{n}, wv));
  params.set("v", Array::from_doubles(DType::f32, Shape{n}, vv));
  expect_matches_kernel_eval(p, {{"x", Array::from_doubles(DType::f32, Shape{n}, xv)}}, params);
}

TEST(LlvmExecutable, FeedAndParamErrors) {
  kir::Program p = training_like_program(4);
  auto params = std::make_shared<ParamStore>();
  params->set("w", Array(DType::f32, Shape{4}));
  params->set("v", Array(DType::f32, Shape{4}));
  CompileRequest req;
  req.program = &p;
  auto exe = get_backend("llvm").compile(req, params);
  EXPECT_THROW(exe->run({}), ValueError);
  EXPECT_THROW(exe->run({{"x", Array(DType::f64, Shape{4})}}), TypeError);
  EXPECT_THROW(exe->run({{"x", Array(DType::f32, Shape{5})}}), ShapeError);
  params->set("w", Array(DType::f32, Shape{2, 2}));
  EXPECT_THROW(exe->run({{"x", Array(DType::f32, Shape{4})}}), ShapeError);
  params->erase("w");
  EXPECT_THROW(exe->run({{"x", Array(DType::f32, Shape{4})}}), NameError);

  CompileRequest empty;
  EXPECT_THROW(get_backend("llvm").compile(empty, params), BackendError);
}

TEST(LlvmExecutable, UnsupportedIrIsABackendError) {
  kir::Program p = kir::parse_program(R"(program {
  buffers:
    x: input i32[3]
    out0: output i32[3]
  outputs: out0
  arena: 0 bytes (0 without reuse)
}
kernel bad(x: i32[3], out out0: i32[3]) {
  parallel i0 in 0..3
    store out0[i0] = exp(load x[i0])
}
)");  // exp of an i32
  EXPECT_THROW(run_llvm(p, {{"x", Array(DType::i32, Shape{3})}}), BackendError);
}

TEST(LlvmExecutable, ProgramWithoutKernelsCopiesSourceOutputs) {
  kir::Program p = kir::parse_program(R"(program {
  buffers:
    x: input f32[3]
  outputs: x
  arena: 0 bytes (0 without reuse)
}
)");
  Array xa = Array::from_f32(Shape{3}, std::vector<float>{1, 2, 3});
  auto out = run_llvm(p, {{"x", xa}});
  expect_values(out[0], {1, 2, 3});
  EXPECT_FALSE(out[0].shares_storage(xa));
}

// A program big enough to be split across threads: an elementwise chain over 2^20 elements, row
// sums of 4096 elements (f32 accumulation order is fixed by the code, not by the chunking),
// a rand kernel and a contraction.
kir::Program big_program() {
  return kir::parse_program(R"(program {
  buffers:
    x: input f32[1048576]
    out0: output f32[1048576]
    out1: output f32[256]
    out2: output f32[96,80]
  outputs: out0 out1 out2
  arena: 0 bytes (0 without reuse)
}
kernel chain(x: f32[1048576], out out0: f32[1048576]) {
  parallel i0 in 0..1048576
    store out0[i0] = exp(sin(load x[i0])) + load x[i0]*load x[i0] + rand(42, i0, 3)
}
kernel rowsum(x: f32[1048576], out out1: f32[256]) {
  parallel i0 in 0..256
    s1 = reduce sum j2 in 0..4096 of load x[i0*4096 + j2]*1.001
    store out1[i0] = s1
}
kernel mm(x: f32[1048576], out out2: f32[96,80]) {
  contract i0 in 0..96, j1 in 0..80, k2 in 0..300:  acc3 += load x[i0*300 + k2] * load x[k2*80 + j1]
  epilogue:
    store out2[i0*80 + j1] = acc3
}
)");
}

TEST(LlvmExecutable, OneAndTwoThreadsGiveIdenticalResults) {
  if (ThreadPool::global().size() < 2) GTEST_SKIP() << "the thread pool has one participant";
  kir::Program p = big_program();
  const int64_t n = 1 << 20;
  std::vector<float> xv(n);
  for (int64_t i = 0; i < n; ++i)
    xv[static_cast<size_t>(i)] = std::sin(static_cast<float>(i) * 0.001f);
  Feeds feeds{{"x", Array::from_f32(Shape{n}, xv)}};
  auto one = run_llvm(p, feeds, nullptr, RunOptions{1, false});
  uint64_t before = ThreadPool::global().parallel_calls();
  auto two = run_llvm(p, feeds, nullptr, RunOptions{2, false});
  EXPECT_GT(ThreadPool::global().parallel_calls(), before) << "two threads were never used";
  ASSERT_EQ(one.size(), two.size());
  for (size_t o = 0; o < one.size(); ++o)
    EXPECT_EQ(std::memcmp(one[o].raw(), two[o].raw(), one[o].nbytes()), 0) << "output " << o;
  auto again = run_llvm(p, feeds, nullptr, RunOptions{2, false});
  for (size_t o = 0; o < one.size(); ++o)
    EXPECT_EQ(std::memcmp(again[o].raw(), two[o].raw(), one[o].nbytes()), 0) << "output " << o;
  // And the values are right (row sums within f32 accumulation error of an f64 sum).
  for (int64_t r = 0; r < 256; ++r) {
    double want = 0;
    for (int64_t j = 0; j < 4096; ++j)
      want +=
          static_cast<double>(xv[static_cast<size_t>(r * 4096 + j)]) * static_cast<double>(1.001f);
    EXPECT_NEAR(one[1].get(r), want, 1e-3 * std::max(1.0, std::fabs(want))) << r;
  }
}

TEST(LlvmExecutable, EmitsLlvmIrAndAssembly) {
  kir::Program p = training_like_program(1024);
  CompileOptions o;
  std::string ir = emit_llvm_ir(p, o);
  EXPECT_NE(ir.find("define void @soma_k0_double"), std::string::npos) << ir;
  EXPECT_NE(ir.find("<16 x float>"), std::string::npos)
      << "the elementwise loop was not vectorized";
  std::string as = emit_asm(p, o);
  EXPECT_NE(as.find("soma_k3_momentum"), std::string::npos);
  if (jit::host_has_avx512()) {
    EXPECT_NE(ir.find("\"prefer-vector-width\"=\"512\""), std::string::npos);
    EXPECT_NE(as.find("zmm"), std::string::npos) << "no 512-bit vectors on an AVX-512 host";
  }
}

TEST(LlvmExecutable, IdenticalProgramsShareCompiledCode) {
  kir::Program p = training_like_program(16);
  jit::JitStats before = jit::jit_stats();
  auto a = jit::compile_program(p, CompileOptions{});
  auto b = jit::compile_program(p, CompileOptions{});
  EXPECT_EQ(a.get(), b.get());
  EXPECT_GE(jit::jit_stats().memory_hits, before.memory_hits + 1);
  CompileOptions fast;
  fast.fast_math = true;
  EXPECT_NE(jit::compile_program(p, fast).get(), a.get()) << "fast math is part of the key";
}

TEST(LlvmExecutable, AProgramThatCannotFitIsRefusedAtCompileTime) {
  // 2^31 - 1 f32 elements of output per buffer, five of them: 40 GiB, more than this machine's
  // memory, swap and limits — refused with what it needs, before anything is allocated.
  const int64_t n = (int64_t{1} << 31) - 1;
  if (memory_limit_bytes() > uint64_t{5} * 4 * static_cast<uint64_t>(n))
    GTEST_SKIP() << "this machine could hold 40 GiB";
  std::string buffers, outs, params, stores;
  for (int o = 0; o < 5; ++o) {
    const std::string name = "out" + std::to_string(o);
    buffers += "    " + name + ": output f32[$n]\n";
    outs += " " + name;
    params += std::string(o ? ", " : "") + "out " + name + ": f32[$n]";
    stores += "    store " + name + "[i0] = f32(i0)\n";
  }
  kir::Program p = kirtest::kir_with("program {\n  buffers:\n" + buffers + "  outputs:" + outs +
                                         "\n  arena: 0 bytes (0 without reuse)\n}\nkernel big(" +
                                         params + ") {\n  parallel i0 in 0..$n\n" + stores + "}\n",
                                     {{"n", std::to_string(n)}});
  try {
    CompileRequest req;
    req.program = &p;
    get_backend("llvm").compile(req, std::make_shared<ParamStore>());
    FAIL() << "a 40 GiB program was accepted";
  } catch (const ResourceError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("needs 40.00 GiB"), std::string::npos) << m;
    EXPECT_NE(m.find("this process can have"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace soma::test
