// Host memory: large blocks are mapped pages of their own, kept for reuse by the next allocation
// of their size (a bounded cache) and always handed out zeroed. (tests/llvm/seeds_test.cpp runs
// the loop whose memory this keeps flat.)
#include "runtime/host_memory.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace soma {
namespace {

TEST(HostMemory, AFreedLargeBlockIsReusedAndZeroedAgain) {
  const size_t n = size_t{3} << 20;
  const LargeBlockStats before = large_block_stats();
  std::byte* first = nullptr;
  {
    AlignedBytes a = allocate_zeroed(n, "a test block");
    first = a.get();
    std::memset(a.get(), 0x5A, n);
  }
  AlignedBytes b = allocate_zeroed(n, "a test block");
  EXPECT_EQ(b.get(), first);
  EXPECT_EQ(large_block_stats().reused, before.reused + 1);
  for (size_t i = 0; i < n; i += 4093) ASSERT_EQ(b[i], std::byte{0}) << i;
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.get()) % 64, 0u);
}

TEST(HostMemory, SmallBlocksAreZeroedAndAligned) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{100}, size_t{4096}}) {
    AlignedBytes a = allocate_zeroed(n, "a small test block");
    ASSERT_NE(a.get(), nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a.get()) % 64, 0u);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(a[i], std::byte{0});
  }
}

TEST(HostMemory, TheCacheOfFreedBlocksIsBounded) {
  {
    std::vector<AlignedBytes> blocks;
    for (int i = 0; i < 40; ++i) blocks.push_back(allocate_zeroed(size_t{8} << 20, "a test block"));
  }  // 320 MiB freed at once
  EXPECT_LE(large_block_stats().bytes, size_t{128} << 20);
}

}  // namespace
}  // namespace soma
