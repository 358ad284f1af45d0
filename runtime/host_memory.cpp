#include "runtime/host_memory.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "graph/error.h"

namespace soma {

namespace {

constexpr size_t kLargeBlock = size_t{64} << 10;    // and up: mapped pages of their own
constexpr size_t kCachedBytes = size_t{128} << 20;  // the most freed large blocks kept

size_t page_size() {
  static const size_t p = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return p;
}

// Freed large blocks by size, the most recently freed last.
struct LargeBlocks {
  std::mutex mu;
  std::map<size_t, std::vector<void*>> free;
  size_t bytes = 0;
  uint64_t reused = 0, mapped = 0;

  void* take(size_t n) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = free.find(n);
    if (it == free.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    bytes -= n;
    ++reused;
    return p;
  }

  // Keeps `p` for reuse while the cache has room; unmaps it otherwise.
  void give(void* p, size_t n) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (bytes + n <= kCachedBytes) {
        free[n].push_back(p);
        bytes += n;
        return;
      }
    }
    ::munmap(p, n);
  }
};

LargeBlocks& large_blocks() {
  static LargeBlocks* b = new LargeBlocks;  // never destroyed: blocks may be freed at exit
  return *b;
}

[[noreturn]] void out_of_memory(size_t bytes, const std::string& what) {
  SOMA_THROW(ResourceError,
             "out of memory allocating "
                 << format_bytes(static_cast<int64_t>(std::min<size_t>(bytes, INT64_MAX)))
                 << " for " << what);
}

}  // namespace

void AlignedFree::operator()(void* p) const {
  if (!p) return;
  if (bytes >= kLargeBlock)
    large_blocks().give(p, bytes);
  else
    std::free(p);
}

namespace {

AlignedBytes allocate_block(size_t bytes, const std::string& what, bool zero) {
  size_t n = bytes > SIZE_MAX - 63 ? 0 : (bytes + 63) / 64 * 64;
  if (n == 0 && bytes) out_of_memory(bytes, what);  // cannot be rounded
  if (n == 0) n = 64;
  if (n >= kLargeBlock) {
    const size_t page = page_size();
    if (n > SIZE_MAX - page) out_of_memory(bytes, what);
    n = (n + page - 1) / page * page;
    if (void* p = large_blocks().take(n)) {
      if (zero) std::memset(p, 0, n);  // resident pages: no faults
      return AlignedBytes(static_cast<std::byte*>(p), AlignedFree{n});
    }
    void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) out_of_memory(bytes, what);
    if (n >= (size_t{2} << 20)) madvise(p, n, MADV_HUGEPAGE);  // a hint; failure is harmless
    {
      std::lock_guard<std::mutex> lock(large_blocks().mu);
      ++large_blocks().mapped;
    }
    return AlignedBytes(static_cast<std::byte*>(p), AlignedFree{n});  // mapped pages are zero
  }
  void* p = std::aligned_alloc(64, n);
  if (!p) out_of_memory(bytes, what);
  if (zero) std::memset(p, 0, n);
  return AlignedBytes(static_cast<std::byte*>(p), AlignedFree{n});
}

}  // namespace

AlignedBytes allocate_zeroed(size_t bytes, const std::string& what) {
  return allocate_block(bytes, what, true);
}

AlignedBytes allocate_uninitialized(size_t bytes, const std::string& what) {
  return allocate_block(bytes, what, false);
}

LargeBlockStats large_block_stats() {
  LargeBlocks& b = large_blocks();
  std::lock_guard<std::mutex> lock(b.mu);
  LargeBlockStats s;
  for (auto& [n, list] : b.free) s.blocks += list.size();
  s.bytes = b.bytes;
  s.reused = b.reused;
  s.mapped = b.mapped;
  return s;
}

std::string format_bytes(int64_t bytes) {
  char buf[64];
  if (bytes >= (int64_t{1} << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / (1 << 30));
  else if (bytes >= (int64_t{1} << 20))
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  else
    std::snprintf(buf, sizeof buf, "%lld bytes", static_cast<long long>(bytes));
  return buf;
}

uint64_t memory_limit_bytes() {
  uint64_t limit = UINT64_MAX;
  {
    std::ifstream meminfo("/proc/meminfo");
    std::string key, unit;
    uint64_t kb = 0, total = 0;
    while (meminfo >> key >> kb >> unit)
      if (key == "MemTotal:" || key == "SwapTotal:") total += kb * 1024;
    if (total) limit = total;
  }
  {
    std::ifstream cgroup("/sys/fs/cgroup/memory.max");
    std::string v;
    if (cgroup >> v && v != "max") {
      uint64_t b = std::strtoull(v.c_str(), nullptr, 10);
      if (b) limit = std::min(limit, b);
    }
  }
  struct rlimit as;
  if (::getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY)
    limit = std::min<uint64_t>(limit, as.rlim_cur);
  return limit;
}

void check_fits_in_memory(uint64_t bytes, const std::string& what) {
  const uint64_t limit = memory_limit_bytes();
  if (bytes <= limit) return;
  SOMA_THROW(ResourceError,
             what << " needs "
                  << format_bytes(static_cast<int64_t>(std::min<uint64_t>(bytes, INT64_MAX)))
                  << ", more than the "
                  << format_bytes(static_cast<int64_t>(std::min<uint64_t>(limit, INT64_MAX)))
                  << " this process can have (memory and swap, its cgroup's limit, ulimit -v)");
}

}  // namespace soma
