#include "runtime/host_memory.h"

#include <sys/mman.h>

#include <cstdio>
#include <cstring>

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

}  // namespace soma
