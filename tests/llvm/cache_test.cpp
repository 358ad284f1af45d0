// The on-disk object cache: a fresh JIT (the in-process memo cleared) loads the object from disk
// instead of compiling; corrupt, truncated or mismatched entries are detected and rebuilt.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "backends/llvm/jit.h"
#include "kernels/kir_files.h"
#include "runtime/disk_cache.h"
#include "tests/llvm/llvm_test_util.h"

namespace soma::test {
namespace {

namespace fs = std::filesystem;

// Every test process of this suite uses a private cache folder (never the user's ~/.cache).
struct PrivateCacheHome {
  std::string dir;
  PrivateCacheHome() {
    char tmpl[] = "/tmp/soma-llvm-test-XXXXXX";
    if (char* d = ::mkdtemp(tmpl)) {
      dir = d;
      ::setenv("XDG_CACHE_HOME", d, 1);
    }
  }
  ~PrivateCacheHome() {
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
  }
};
PrivateCacheHome private_cache_home;

// A program unique to `tag`, so that no other test has put it in a cache.
kir::Program tagged_program(double tag) {
  return kirtest::kir_with(R"(program {
  buffers:
    x: input f32[64]
    out0: output f32[64]
  outputs: out0
  arena: 0 bytes (0 without reuse)
}
kernel tagged(x: f32[64], out out0: f32[64]) {
  parallel i0 in 0..64
    store out0[i0] = tanh(load x[i0]) + $tag
}
)",
                           {{"tag", kir::scalar_text(tag, DType::f32)}});
}

void expect_runs(const kir::Program& p, double tag) {
  std::vector<float> xv(64);
  for (size_t i = 0; i < 64; ++i) xv[i] = static_cast<float>(i) * 0.1f - 3;
  auto out = run_llvm(p, {{"x", Array::from_f32(Shape{64}, xv)}});
  for (size_t i = 0; i < 64; ++i)
    ASSERT_TRUE(near(out[0].get(static_cast<int64_t>(i)),
                     std::tanh(static_cast<double>(xv[i])) + static_cast<float>(tag), DType::f32,
                     1e-6))
        << i;
}

std::string entry_path(const kir::Program& p) {
  auto code = jit::compile_program(p, CompileOptions{});
  return jit::disk_cache_dir() + "/" + code->cache_file;
}

TEST(LlvmDiskCache, LivesUnderXdgCacheHome) {
  ASSERT_FALSE(private_cache_home.dir.empty());
  EXPECT_EQ(jit::disk_cache_dir(), private_cache_home.dir + "/soma/llvm");
}

TEST(LlvmDiskCache, FreshJitHitsTheCache) {
  kir::Program p = tagged_program(1.25);
  jit::reset_jit_stats();
  expect_runs(p, 1.25);
  jit::JitStats s = jit::jit_stats();
  EXPECT_EQ(s.compiles, 1);
  EXPECT_EQ(s.disk_misses, 1);
  EXPECT_EQ(s.disk_writes, 1);
  std::string path = entry_path(p);
  EXPECT_TRUE(fs::exists(path)) << path;

  jit::clear_memory_cache();
  expect_runs(p, 1.25);
  s = jit::jit_stats();
  EXPECT_EQ(s.compiles, 1) << "the second compile must come from the disk cache";
  EXPECT_EQ(s.disk_hits, 1);
  // No temporary files are left behind.
  for (const auto& e : fs::directory_iterator(jit::disk_cache_dir()))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
}

void rewrite(const std::string& path, const std::function<void(std::string&)>& edit) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  edit(bytes);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void expect_rebuilt_after(double tag, const std::function<void(std::string&)>& damage) {
  kir::Program p = tagged_program(tag);
  expect_runs(p, tag);  // compiled and written
  std::string path = entry_path(p);
  ASSERT_TRUE(fs::exists(path));
  rewrite(path, damage);
  jit::clear_memory_cache();
  jit::reset_jit_stats();
  expect_runs(p, tag);
  jit::JitStats s = jit::jit_stats();
  EXPECT_EQ(s.disk_rejects, 1) << "the damaged entry was not detected";
  EXPECT_EQ(s.disk_hits, 0);
  EXPECT_EQ(s.compiles, 1) << "the program was not rebuilt";
  EXPECT_EQ(s.disk_writes, 1) << "the entry was not rewritten";
  // The rewritten entry is good again.
  jit::clear_memory_cache();
  jit::reset_jit_stats();
  expect_runs(p, tag);
  EXPECT_EQ(jit::jit_stats().disk_hits, 1);
  EXPECT_EQ(jit::jit_stats().compiles, 0);
}

TEST(LlvmDiskCache, CorruptPayloadIsRebuilt) {
  expect_rebuilt_after(2.5, [](std::string& b) {
    for (size_t i = b.size() / 2; i < b.size() / 2 + 16; ++i) b[i] = static_cast<char>(b[i] ^ 0x5a);
  });
}

TEST(LlvmDiskCache, TruncatedEntryIsRebuilt) {
  expect_rebuilt_after(3.75, [](std::string& b) { b.resize(b.size() - 100); });
}

TEST(LlvmDiskCache, MismatchedHeaderIsRebuilt) {
  // An entry written for another LLVM version (same key by accident) must not be used.
  expect_rebuilt_after(4.125, [](std::string& b) {
    size_t at = b.find(" llvm ");
    ASSERT_NE(at, std::string::npos);
    b[at + 6] = b[at + 6] == '9' ? '8' : '9';
  });
}

TEST(LlvmDiskCache, AnotherProgramsValidEntryIsNotUsed) {
  // The entry of program A copied over the entry of program B: the key check refuses it.
  kir::Program a = tagged_program(7.5), b = tagged_program(8.5);
  expect_runs(a, 7.5);
  expect_runs(b, 8.5);
  std::string pa = entry_path(a), pb = entry_path(b);
  fs::copy_file(pa, pb, fs::copy_options::overwrite_existing);
  jit::clear_memory_cache();
  jit::reset_jit_stats();
  expect_runs(b, 8.5);
  EXPECT_EQ(jit::jit_stats().disk_rejects, 1);
  EXPECT_EQ(jit::jit_stats().compiles, 1);
}

TEST(LlvmDiskCache, AnEntryReplacedByAFolderIsRebuiltNotAHang) {
  kir::Program p = tagged_program(9.25);
  expect_runs(p, 9.25);
  std::string path = entry_path(p);
  fs::remove(path);
  fs::create_directory(path);
  jit::clear_memory_cache();
  jit::reset_jit_stats();
  expect_runs(p, 9.25);  // compiled again; the folder stays (it is not ours to remove)
  EXPECT_EQ(jit::jit_stats().disk_rejects, 1);
  fs::remove_all(path);
}

// Three kernels on three threads: three parts, each compiled on its own thread with its own
// cache entry; a program loads from disk only when every part is there.
TEST(LlvmDiskCache, AProgramInPartsIsCachedPartByPart) {
  kir::Program p = kirtest::kir_with(R"(program {
  buffers:
    x: input f32[64]
    t0: temp f32[64] @0
    t1: temp f32[64] @256
    out0: output f32[64]
  outputs: out0
  arena: 512 bytes (512 without reuse)
}
kernel first(x: f32[64], out t0: f32[64]) {
  parallel i0 in 0..64
    store t0[i0] = tanh(load x[i0]) + $tag
}
kernel second(t0: f32[64], out t1: f32[64]) {
  parallel i0 in 0..64
    store t1[i0] = load t0[i0] * 2.0
}
kernel third(t1: f32[64], out out0: f32[64]) {
  parallel i0 in 0..64
    store out0[i0] = load t1[63 - i0] - 1.0
}
)",
                                     {{"tag", kir::scalar_text(10.5, DType::f32)}});
  std::vector<float> xv(64);
  for (size_t i = 0; i < 64; ++i) xv[i] = static_cast<float>(i) * 0.1f - 3;
  auto check = [&] {
    auto out = run_llvm(p, {{"x", Array::from_f32(Shape{64}, xv)}}, nullptr, {.threads = 3});
    for (size_t i = 0; i < 64; ++i)
      ASSERT_TRUE(near(out[0].get(static_cast<int64_t>(i)),
                       (std::tanh(static_cast<double>(xv[63 - i])) + 10.5) * 2 - 1, DType::f32,
                       1e-6))
          << i;
  };
  jit::clear_memory_cache();
  jit::reset_jit_stats();
  check();
  EXPECT_EQ(jit::jit_stats().compiles, 1);
  EXPECT_EQ(jit::jit_stats().disk_writes, 3) << "one entry per part";
  jit::clear_memory_cache();
  jit::reset_jit_stats();
  check();
  EXPECT_EQ(jit::jit_stats().disk_hits, 1);
  EXPECT_EQ(jit::jit_stats().compiles, 0);
  // One part's entry gone: that part is compiled again, the others still come from disk.
  CompileOptions o;
  o.threads = 3;
  const std::string first = jit::disk_cache_dir() + "/" + jit::compile_program(p, o)->cache_file;
  ASSERT_TRUE(fs::remove(first)) << first;
  jit::clear_memory_cache();
  jit::reset_jit_stats();
  check();
  EXPECT_EQ(jit::jit_stats().compiles, 1);
  EXPECT_EQ(jit::jit_stats().disk_misses, 1);
  EXPECT_EQ(jit::jit_stats().disk_writes, 1);
}

// An entry whose container is sound (right key, checksum) but whose kernel infos name another
// kernel: decoded, refused, rebuilt.
TEST(LlvmDiskCache, AnEntryWhoseKernelInfosDoNotMatchIsRebuilt) {
  kir::Program p = tagged_program(11.75);
  expect_runs(p, 11.75);
  const std::string path = entry_path(p);
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  // The entry: magic, "kind K", "producer P", "key N" and N bytes, "payload M SHA", payload.
  const size_t prod = bytes.find("\nproducer ");
  const size_t key_at = bytes.find("\nkey ", prod);
  ASSERT_NE(prod, std::string::npos);
  ASSERT_NE(key_at, std::string::npos);
  const std::string producer = bytes.substr(prod + 10, bytes.find('\n', prod + 1) - (prod + 10));
  const size_t key_len = std::stoul(bytes.substr(key_at + 5));
  const size_t key_from = bytes.find('\n', key_at + 1) + 1;
  const std::string key = bytes.substr(key_from, key_len);
  const size_t pay_line = bytes.find("\npayload ", key_from + key_len - 1);
  ASSERT_NE(pay_line, std::string::npos);
  std::string payload = bytes.substr(bytes.find('\n', pay_line + 1) + 1);
  const size_t sym = payload.find("soma_k0_tagged");
  ASSERT_NE(sym, std::string::npos) << "the payload lists the kernel's symbol";
  payload.replace(sym, 14, "soma_k0_other_");
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const std::string entry = encode_cache_entry(CacheKey{"llvm-object", producer, key}, payload);
  out.write(entry.data(), static_cast<std::streamsize>(entry.size()));
  out.close();
  jit::clear_memory_cache();
  jit::reset_jit_stats();
  ::testing::internal::CaptureStderr();
  expect_runs(p, 11.75);
  const std::string said = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(said.find("not this program's kernels"), std::string::npos)
      << "refused by the container check, not by the infos: " << said;
  EXPECT_EQ(jit::jit_stats().disk_rejects, 1);
  EXPECT_EQ(jit::jit_stats().compiles, 1);
  EXPECT_EQ(jit::jit_stats().disk_writes, 1);
}

TEST(LlvmDiskCache, TheMemoIsBounded) {
  for (int i = 0; i < 80; ++i) expect_runs(tagged_program(100 + i), 100 + i);
  EXPECT_LE(jit::memory_cache_size(), 64u);
}

TEST(LlvmDiskCache, GarbageIsRebuilt) {
  expect_rebuilt_after(5.5, [](std::string& b) { b.assign(1000, 'x'); });
}

TEST(LlvmDiskCache, DisabledBySomaDiskCache0) {
  ::setenv("SOMA_DISK_CACHE", "0", 1);
  EXPECT_EQ(jit::disk_cache_dir(), "");
  jit::reset_jit_stats();
  kir::Program p = tagged_program(6.0);
  expect_runs(p, 6.0);
  EXPECT_EQ(jit::jit_stats().disk_writes, 0);
  ::unsetenv("SOMA_DISK_CACHE");
}

}  // namespace
}  // namespace soma::test
