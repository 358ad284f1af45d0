// Host memory for arrays, arenas and scratch: 64-byte aligned and zero-filled. Running out is a
// ResourceError "out of memory allocating 1.50 GiB for <what>", never a crash or a bare
// std::bad_alloc.
//
// Large blocks (256 KiB and more) are mapped pages of their own, never on malloc's heap: a
// program that makes and frees many of them (a loop that compiles and runs a new program each
// step, each run's fresh outputs) would otherwise fragment the heap, and its memory would grow
// without bound. A freed large block is kept for reuse by the next allocation of its size (up to
// 128 MiB of them in all), so that repeated runs do not fault fresh pages in again; blocks of
// 2 MiB and more are offered transparent huge pages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

namespace soma {

// Frees what allocate_zeroed returned: `bytes` tells a large block (returned to the cache of
// large blocks, or unmapped) from a small one (free).
struct AlignedFree {
  size_t bytes = 0;
  void operator()(void* p) const;
};
using AlignedBytes = std::unique_ptr<std::byte[], AlignedFree>;

// The large blocks kept for reuse now, their bytes, and how allocations were served (for tests).
struct LargeBlockStats {
  size_t blocks = 0, bytes = 0;
  uint64_t reused = 0, mapped = 0;  // allocations served from the cache / by a fresh mapping
};
LargeBlockStats large_block_stats();

// At least one cache line even for 0 bytes.
AlignedBytes allocate_zeroed(size_t bytes, const std::string& what);
// The same without the zero fill, for memory that is written in full before it is read (a
// kernel's output): a reused large block keeps its old bytes, which saves a pass over it.
AlignedBytes allocate_uninitialized(size_t bytes, const std::string& what);

// "512 bytes", "3.5 MiB", "1.25 GiB".
std::string format_bytes(int64_t bytes);

// The most memory this process could ever hold: the smallest of physical memory plus swap, its
// cgroup's memory.max and its address-space limit (RLIMIT_AS).
uint64_t memory_limit_bytes();

// Refuses, before anything is allocated, a plan that cannot fit: ResourceError "<what> needs N,
// more than the M this process can have".
void check_fits_in_memory(uint64_t bytes, const std::string& what);

}  // namespace soma
