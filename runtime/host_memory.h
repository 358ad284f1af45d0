// Host memory for arrays, arenas and scratch: 64-byte aligned and zero-filled. Running out is a
// ResourceError "out of memory allocating 1.50 GiB for <what>", never a crash or a bare
// std::bad_alloc; large blocks are offered transparent huge pages (fewer page faults).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

namespace soma {

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};
using AlignedBytes = std::unique_ptr<std::byte[], AlignedFree>;

// At least one cache line even for 0 bytes.
AlignedBytes allocate_zeroed(size_t bytes, const std::string& what);

// "512 bytes", "3.5 MiB", "1.25 GiB".
std::string format_bytes(int64_t bytes);

// The most memory this process could ever hold: the smallest of physical memory plus swap, its
// cgroup's memory.max and its address-space limit (RLIMIT_AS).
uint64_t memory_limit_bytes();

// Refuses, before anything is allocated, a plan that cannot fit: ResourceError "<what> needs N,
// more than the M this process can have".
void check_fits_in_memory(uint64_t bytes, const std::string& what);

}  // namespace soma
