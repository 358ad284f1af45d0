// `soma cache` and `soma cache clear`: what the on-disk compile caches hold, and emptying them.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "frontend/repl/subcommands.h"
#include "runtime/disk_cache.h"
#include "runtime/host_memory.h"

namespace soma::tool {

namespace {

// The root's subfolders (one per cache: llvm, vulkan, ...), sorted.
std::vector<std::string> cache_folders(const std::string& root) {
  std::vector<std::string> subs;
  if (DIR* d = ::opendir(root.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      struct stat st;
      if (name != "." && name != ".." && ::stat((root + "/" + name).c_str(), &st) == 0 &&
          S_ISDIR(st.st_mode))
        subs.push_back(name);
    }
    ::closedir(d);
  }
  std::sort(subs.begin(), subs.end());
  return subs;
}

std::string entries_text(int64_t n) {
  return std::to_string(n) + (n == 1 ? " entry" : " entries");
}

std::string padded(std::string s, size_t width) {
  if (s.size() < width) s += std::string(width - s.size(), ' ');
  return s;
}

}  // namespace

int cmd_cache(const Options& o) {
  const std::string root = cache_dir("");
  if (root.empty()) {
    std::cout << "the disk caches are off (SOMA_DISK_CACHE=0, or neither SOMA_CACHE_DIR, "
                 "XDG_CACHE_HOME nor HOME is set)\n";
    return 0;
  }
  const bool clear = o.name == "clear";
  int64_t entries = 0;
  uint64_t bytes = 0;
  if (!clear) std::cout << "soma's compile caches: " << root << "\n";
  for (const std::string& sub : cache_folders(root)) {
    const CacheUsage u = clear ? clear_cache_dir(root + "/" + sub) : cache_usage(root + "/" + sub);
    entries += u.entries;
    bytes += u.bytes;
    if (clear || u.entries == 0) continue;
    std::string kinds;
    for (const CacheUsage::Kind& k : u.kinds)
      kinds += (kinds.empty() ? "" : ", ") + k.kind + " " + std::to_string(k.entries);
    std::cout << "  " << padded(sub + "/", 10) << padded(entries_text(u.entries), 14)
              << padded(format_bytes(static_cast<int64_t>(u.bytes)), 11) << "(" << kinds << ")\n";
  }
  if (clear) {
    std::cout << "removed " << entries_text(entries) << " ("
              << format_bytes(static_cast<int64_t>(bytes)) << ") from " << root << "\n";
    return 0;
  }
  if (entries == 0)
    std::cout << "  (empty)\n";
  else
    std::cout << "  " << padded("total", 10) << padded(entries_text(entries), 14)
              << format_bytes(static_cast<int64_t>(bytes)) << "\n";
  std::cout << "Each folder is kept under " << format_bytes(static_cast<int64_t>(cache_max_bytes()))
            << " (SOMA_CACHE_MAX_MB; the least recently used entries go first). `soma cache "
               "clear` removes every entry; SOMA_DISK_CACHE=0 turns the caches off.\n";
  return 0;
}

}  // namespace soma::tool
