// The Vulkan disk caches (SPIR-V modules, the pipeline cache) never run what they should not: an
// entry holding another kernel's valid shader, a truncated entry or garbage is detected by its
// key and digest, reported, rebuilt, and the results stay right.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "backends/vulkan/pipeline.h"
#include "backends/vulkan/spirv.h"
#include "kernels/kir_files.h"
#include "tests/vulkan/vk_test_util.h"

namespace soma::vktest {
namespace {

namespace fs = std::filesystem;
using kir::Program;

class VulkanCache : public VulkanTest {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/soma-vk-cache-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ::setenv("SOMA_CACHE_DIR", dir_.c_str(), 1);
    VulkanTest::SetUp();
  }
  void TearDown() override {
    VulkanTest::TearDown();
    ::unsetenv("SOMA_CACHE_DIR");
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::set<std::string> spirv_entries() const {
    std::set<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_ + "/vulkan", ec))
      if (e.path().extension() == ".spirv") out.insert(e.path().string());
    return out;
  }
  // Runs add_const(c) and returns the entry it added to the cache.
  std::string run_and_find_entry(double c) {
    auto before = spirv_entries();
    check(c);
    auto after = spirv_entries();
    for (const std::string& e : after)
      if (!before.count(e)) return e;
    ADD_FAILURE() << "no new SPIR-V cache entry for c = " << c;
    return "";
  }
  void check(double c) {
    std::vector<double> xv(64);
    for (size_t i = 0; i < xv.size(); ++i) xv[i] = static_cast<double>(i);
    auto out = run_vulkan(add_const(c), {{"x", Array::from_doubles(DType::f32, Shape{64}, xv)}});
    for (int64_t i = 0; i < 64; ++i)
      ASSERT_EQ(out[0].get(i), static_cast<double>(i) + c) << "c = " << c << ", [" << i << "]";
  }
  std::string dir_;
};

TEST_F(VulkanCache, AnotherKernelsValidShaderIsNotRun) {
  std::string a = run_and_find_entry(1.5), b = run_and_find_entry(2.5);
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  fs::copy_file(a, b, fs::copy_options::overwrite_existing);  // b's entry now holds a's shader
  vulkan::clear_spirv_memory_cache();
  auto before = vulkan::spirv_stats();
  check(2.5);  // not 1.5
  EXPECT_EQ(vulkan::spirv_stats().compiles, before.compiles + 1) << "the entry was not rebuilt";
  vulkan::clear_spirv_memory_cache();
  before = vulkan::spirv_stats();
  check(2.5);
  EXPECT_EQ(vulkan::spirv_stats().disk_hits, before.disk_hits + 1) << "the rebuilt entry is good";
}

TEST_F(VulkanCache, TruncatedAndGarbageEntriesAreRebuilt) {
  std::string a = run_and_find_entry(3.5);
  ASSERT_FALSE(a.empty());
  for (int damage = 0; damage < 3; ++damage) {
    std::string bytes;
    {
      std::ifstream in(a, std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    if (damage == 0) bytes.resize(bytes.size() - 7);
    if (damage == 1) bytes[bytes.size() - 9] = static_cast<char>(bytes[bytes.size() - 9] ^ 1);
    if (damage == 2) bytes.assign(300, '\x07');
    std::ofstream(a, std::ios::binary | std::ios::trunc) << bytes;
    vulkan::clear_spirv_memory_cache();
    auto before = vulkan::spirv_stats();
    check(3.5);
    EXPECT_EQ(vulkan::spirv_stats().compiles, before.compiles + 1) << "damage " << damage;
  }
}

// The in-memory pipeline cache has a bound: a process that compiles program after program (a
// seed per step) keeps at most that many pipelines, while every executable keeps the pipelines
// it uses and still runs right after they left the cache.
TEST_F(VulkanCache, ThePipelineCacheIsBoundedAndExecutablesKeepTheirPipelines) {
  vulkan::set_pipeline_cache_limit(3);
  std::vector<std::unique_ptr<Executable>> exes;
  std::vector<Program> programs;
  for (int i = 0; i < 8; ++i) programs.push_back(add_const(1000.0 + i));
  for (const Program& p : programs)
    exes.push_back(compile_vulkan(p, std::make_shared<ParamStore>()));
  EXPECT_LE(vulkan::pipeline_stats().cached, 3);
  Array x(DType::f32, Shape{64});
  for (int i = 0; i < 8; ++i) {
    std::vector<Array> out = exes[static_cast<size_t>(i)]->run({{"x", x}});
    EXPECT_EQ(out.at(0).get(5), 1000.0 + i) << i;  // the first ones' pipelines left the cache
  }
  const int64_t alive = vulkan::pipeline_stats().alive;
  exes.clear();  // their pipelines go with them, except the cached ones
  EXPECT_LT(vulkan::pipeline_stats().alive, alive);
  EXPECT_LE(vulkan::pipeline_stats().alive, 3 + (alive - 8));
  vulkan::set_pipeline_cache_limit(512);
}

// `draws` random draws summed, their seeds seed, seed + 1, ...
kir::Program draws_program(int64_t seed, int draws) {
  std::string sum;
  for (int d = 0; d < draws; ++d)
    sum += (d ? " + " : "") + std::string("rand(") + std::to_string(seed + d) + ", i0, " +
           std::to_string(d) + ")";
  return kirtest::kir_with(R"(program {
  buffers:
    out0: output f32[1000]
  outputs: out0
  arena: 0 bytes (0 without reuse)
}
kernel draws(out out0: f32[1000]) {
  parallel i0 in 0..1000
    store out0[i0] = $sum
}
)",
                           {{"sum", sum}});
}

// Seeds are push constants: programs that differ only in their seeds (a loop over rand(...,
// seed=i)) share one shader, and each draws its own stream. A kernel with more draws than the
// push constants hold takes its seeds as literals, and is right too.
TEST_F(VulkanCache, KernelsThatDifferOnlyInTheirSeedsShareAShader) {
  expect_matches_reference(draws_program(7, 2), {}, 0, 0);
  auto before = vulkan::spirv_stats();
  for (int64_t seed : {int64_t{8}, int64_t{9}, int64_t{-3}, int64_t{1} << 40})
    expect_matches_reference(draws_program(seed, 2), {}, 0, 0);
  EXPECT_EQ(vulkan::spirv_stats().compiles, before.compiles) << "a new seed compiled a new shader";
  auto shader = [](const kir::Program& p) {  // the GLSL, without the kernel IR in its comment
    std::string glsl = emit_glsl(p);
    return glsl.substr(glsl.find("#version"));
  };
  EXPECT_EQ(shader(draws_program(7, 2)), shader(draws_program(8, 2)));
  // 40 draws: 80 seed words, more than lavapipe's push constants hold (32 words, Vulkan's minimum).
  expect_matches_reference(draws_program(11, 40), {}, 1e-6, 1e-6);
  EXPECT_NE(shader(draws_program(11, 40)), shader(draws_program(12, 40)));
}

}  // namespace
}  // namespace soma::vktest
