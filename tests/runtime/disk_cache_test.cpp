// The checked cache entry format: every byte of an entry is checked (a flip anywhere makes the
// entry rejected, never used), a rejected entry is removed, and the folder stays under its size
// limit by dropping the least recently used entries.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "runtime/disk_cache.h"
#include "runtime/file_io.h"

namespace soma {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  std::string path;
  TempDir() {
    char t[] = "/tmp/soma-cache-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

TEST(DiskCache, RoundTripAndMiss) {
  TempDir d;
  CacheKey k{"spirv", "test-producer 1", "the full key\nwith lines"};
  EXPECT_EQ(read_cache_entry(d.path, k).status, CacheLookup::Status::Miss);
  ASSERT_TRUE(write_cache_entry(d.path, k, "payload bytes"));
  CacheLookup r = read_cache_entry(d.path, k);
  ASSERT_EQ(r.status, CacheLookup::Status::Hit);
  EXPECT_EQ(r.payload, "payload bytes");
  CacheKey other = k;
  other.producer = "test-producer 2";
  EXPECT_EQ(read_cache_entry(d.path, other).status, CacheLookup::Status::Miss);  // another file
}

TEST(DiskCache, EveryByteIsChecked) {
  TempDir d;
  CacheKey k{"llvm-object", "producer x", "key"};
  const std::string entry = encode_cache_entry(k, "some payload");
  const std::string path = d.path + "/" + k.file_name();
  for (size_t i = 0; i < entry.size(); ++i) {
    std::string bad = entry;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    write_file_atomic(path, bad, "entry");
    CacheLookup r = read_cache_entry(d.path, k);
    EXPECT_EQ(r.status, CacheLookup::Status::Rejected) << "byte " << i;
    EXPECT_FALSE(fs::exists(path)) << "a rejected entry is removed (byte " << i << ")";
  }
  for (size_t cut = 0; cut < entry.size(); ++cut) {
    write_file_atomic(path, entry.substr(0, cut), "entry");
    EXPECT_EQ(read_cache_entry(d.path, k).status, CacheLookup::Status::Rejected) << cut;
  }
  write_file_atomic(path, entry + "x", "entry");
  EXPECT_EQ(read_cache_entry(d.path, k).status, CacheLookup::Status::Rejected);
}

TEST(DiskCache, PruneDropsTheLeastRecentlyUsed) {
  TempDir d;
  std::vector<CacheKey> keys;
  for (int i = 0; i < 6; ++i) {
    keys.push_back(CacheKey{"spirv", "p", "key " + std::to_string(i)});
    ASSERT_TRUE(write_cache_entry(d.path, keys.back(), std::string(1000, 'x')));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Entry 0 is used again: it becomes the most recent.
  ASSERT_EQ(read_cache_entry(d.path, keys[0]).status, CacheLookup::Status::Hit);
  prune_cache_dir(d.path, 3500);
  EXPECT_EQ(read_cache_entry(d.path, keys[0]).status, CacheLookup::Status::Hit);
  EXPECT_EQ(read_cache_entry(d.path, keys[1]).status, CacheLookup::Status::Miss);
  EXPECT_EQ(read_cache_entry(d.path, keys[2]).status, CacheLookup::Status::Miss);
  EXPECT_EQ(read_cache_entry(d.path, keys[5]).status, CacheLookup::Status::Hit);
}

// A cache folder may be a folder of the user's own (SOMA_CACHE_DIR=~/work): pruning, counting and
// clearing see only entries (<sha256>.<kind> and their temporary files).
TEST(DiskCache, OnlyEntriesArePrunedCountedOrCleared) {
  TempDir d;
  std::ofstream(d.path + "/thesis.tex") << std::string(5000, 't');
  std::ofstream(d.path + "/" + std::string(64, 'a') + ".tex.bak") << "x";
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(write_cache_entry(d.path, CacheKey{"spirv", "p", "k" + std::to_string(i)},
                                  std::string(1000, 'x')));
  ASSERT_TRUE(write_cache_entry(d.path, CacheKey{"llvm-object", "p", "k"}, "obj"));
  CacheUsage u = cache_usage(d.path);
  EXPECT_EQ(u.entries, 4);
  ASSERT_EQ(u.kinds.size(), 2u);
  EXPECT_EQ(u.kinds[0].kind, "llvm-object");
  EXPECT_EQ(u.kinds[1].entries, 3);
  prune_cache_dir(d.path, 0);
  EXPECT_TRUE(fs::exists(d.path + "/thesis.tex"));
  EXPECT_EQ(cache_usage(d.path).entries, 0);
  ASSERT_TRUE(write_cache_entry(d.path, CacheKey{"spirv", "p", "again"}, "y"));
  EXPECT_EQ(clear_cache_dir(d.path).entries, 1);
  EXPECT_TRUE(fs::exists(d.path + "/thesis.tex"));
  EXPECT_TRUE(fs::exists(d.path + "/" + std::string(64, 'a') + ".tex.bak"));
  EXPECT_FALSE(is_cache_file_name("thesis.tex"));
  EXPECT_TRUE(is_cache_file_name(std::string(64, 'f') + ".spirv.tmp-123-4"));
}

TEST(DiskCache, ConcurrentWritersAndReadersNeverSeeAPartialEntry) {
  // Several threads (as several processes would) write and read the same few entries: a reader
  // finds an entry complete or not at all, never a damaged one.
  TempDir d;
  std::vector<std::thread> threads;
  std::atomic<int> rejected{0}, hits{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        CacheKey k{"spirv", "p", "key " + std::to_string(i % 3)};
        if ((i + t) % 2) {
          write_cache_entry(d.path, k,
                            std::string(20000 + 1000 * (i % 3), static_cast<char>('a' + i % 3)));
        } else {
          CacheLookup r = read_cache_entry(d.path, k);
          if (r.status == CacheLookup::Status::Rejected) ++rejected;
          if (r.status == CacheLookup::Status::Hit) {
            ++hits;
            EXPECT_EQ(r.payload,
                      std::string(20000 + 1000 * (i % 3), static_cast<char>('a' + i % 3)));
          }
        }
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(rejected.load(), 0);
  EXPECT_GT(hits.load(), 0);
}

TEST(DiskCache, SizeLimitFromTheEnvironment) {
  TempDir d;
  ::setenv("SOMA_CACHE_MAX_MB", "1", 1);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(write_cache_entry(d.path, CacheKey{"spirv", "p", std::to_string(i)},
                                  std::string(400 << 10, 'x')));
  ::unsetenv("SOMA_CACHE_MAX_MB");
  uint64_t total = 0;
  for (const auto& e : fs::directory_iterator(d.path)) total += fs::file_size(e.path());
  EXPECT_LE(total, uint64_t{1} << 20);
}

}  // namespace
}  // namespace soma
