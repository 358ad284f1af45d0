// The on-disk compile caches (LLVM objects, SPIR-V modules, Vulkan pipeline caches) share one
// self-checking entry format and one folder policy.
//
// An entry is the file <dir>/<sha256 of kind, producer and key>.<kind>:
//   soma-cache 1\n                     magic and format version
//   kind <kind>\n                      what the payload is ("llvm-object", "spirv", ...)
//   producer <producer>\n              who made it: soma's version and the code generator's stamp
//   key <N>\n<N bytes>\n               the full key (not a digest of it)
//   payload <M> <sha256 hex>\n<M bytes>
// An entry is used only when every field matches what the caller expects and the payload's
// digest checks out; anything else (a truncated file, another kernel's entry copied over this
// one, a flipped byte, an older soma's format) is removed with a warning on stderr and the caller
// rebuilds it. Writes are atomic (runtime/file_io.h) and best effort: a full disk costs a
// rebuild, never a failure. The folder is kept under a size limit (SOMA_CACHE_MAX_MB, default
// 1024) by removing the least recently used entries after each write; a hit marks its entry used.
//
// Folder: $SOMA_CACHE_DIR, else $XDG_CACHE_HOME/soma, else $HOME/.cache/soma, with one subfolder
// per cache; SOMA_DISK_CACHE=0 turns the disk caches off.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace soma {

struct CacheKey {
  std::string kind;      // one word: the file extension too
  std::string producer;  // one line
  std::string key;       // any bytes
  std::string file_name() const;
};

struct CacheLookup {
  enum class Status { Hit, Miss, Rejected } status = Status::Miss;
  std::string payload;  // Hit
  std::string why;      // Rejected: what was wrong (already reported on stderr)
};

// The cache folder `sub` of the root ("" when the disk caches are off or no root is known).
std::string cache_dir(const std::string& sub);

CacheLookup read_cache_entry(const std::string& dir, const CacheKey& key);

// Best effort: returns false (and says nothing) when the entry cannot be written.
bool write_cache_entry(const std::string& dir, const CacheKey& key, std::string_view payload);

// The entry format, for tests and tools.
std::string encode_cache_entry(const CacheKey& key, std::string_view payload);

// What a cache folder holds: its entries (files named <sha256>.<kind>, and temporary files of
// writes in progress or abandoned), by kind.
struct CacheUsage {
  struct Kind {
    std::string kind;
    int64_t entries = 0;
    uint64_t bytes = 0;
  };
  std::vector<Kind> kinds;  // sorted by kind
  int64_t entries = 0;
  uint64_t bytes = 0;
};
CacheUsage cache_usage(const std::string& dir);
// Removes the entries of `dir` (never another file: a cache folder set to a folder of the user's
// own keeps everything else) and returns what they held.
CacheUsage clear_cache_dir(const std::string& dir);
// Whether a file name is a cache entry's or a temporary file of one's write.
bool is_cache_file_name(const std::string& name);

// Removes the least recently used entries of `dir` until its entries take at most max_bytes
// (other files are neither counted nor removed).
void prune_cache_dir(const std::string& dir, uint64_t max_bytes);
// SOMA_CACHE_MAX_MB in bytes (default 1 GiB).
uint64_t cache_max_bytes();

}  // namespace soma
