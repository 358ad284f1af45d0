#include "runtime/host_memory.h"

#include <sys/mman.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "graph/error.h"

namespace soma {

AlignedBytes allocate_zeroed(size_t bytes, const std::string& what) {
  size_t n = bytes > SIZE_MAX - 63 ? 0 : (bytes + 63) / 64 * 64;
  if (n == 0 && bytes) n = SIZE_MAX;  // cannot be rounded: fails below
  if (n == 0) n = 64;
  void* p = n == SIZE_MAX ? nullptr : std::aligned_alloc(64, n);
  if (!p)
    SOMA_THROW(ResourceError,
               "out of memory allocating "
                   << format_bytes(static_cast<int64_t>(std::min<size_t>(bytes, INT64_MAX)))
                   << " for " << what);
  if (n >= (size_t{2} << 20)) madvise(p, n, MADV_HUGEPAGE);  // a hint; failure is harmless
  std::memset(p, 0, n);
  return AlignedBytes(static_cast<std::byte*>(p));
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
