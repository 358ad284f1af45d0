// ParamStore: values by name, per-parameter versions, and host copies marked stale by a holder of
// a newer copy (a device), fetched on the first host read.
#include "runtime/param_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "graph/error.h"

namespace soma {
namespace {

Array f32(std::vector<float> v) {
  return Array::from_f32(Shape{static_cast<int64_t>(v.size())}, v);
}

// A fetch that writes `value` into the host copy and counts its calls.
ParamStore::Fetch writes(float value, std::shared_ptr<int> calls) {
  return [value, calls](Array& host) {
    ++*calls;
    for (int64_t i = 0; i < host.numel(); ++i) host.set(i, value);
  };
}

TEST(ParamStore, SetGetAssignErase) {
  ParamStore s;
  EXPECT_FALSE(s.has("w"));
  EXPECT_THROW(s.get("w"), NameError);
  EXPECT_THROW(s.version("w"), NameError);
  s.set("w", f32({1, 2}));
  EXPECT_TRUE(s.has("w"));
  Array held = s.get("w");
  s.assign("w", f32({3, 4}));
  EXPECT_EQ(held.get(1), 4);  // assign writes into the existing storage
  EXPECT_THROW(s.assign("w", f32({1, 2, 3})), ShapeError);
  EXPECT_EQ(s.names(), std::vector<std::string>{"w"});
  s.erase("w");
  EXPECT_FALSE(s.has("w"));
  s.erase("w");  // erasing a missing name is a no-op
}

TEST(ParamStore, VersionsChangeOnEveryWriteAndAreUnique) {
  ParamStore s;
  s.set("a", f32({1}));
  s.set("b", f32({1}));
  const uint64_t a0 = s.version("a"), b0 = s.version("b"), all0 = s.version();
  EXPECT_NE(a0, b0);
  s.assign("a", s.get("a"));  // in place: still a change
  EXPECT_GT(s.version("a"), a0);
  EXPECT_EQ(s.version("b"), b0);  // other parameters keep theirs
  EXPECT_GT(s.version(), all0);
  const uint64_t a1 = s.version("a");
  s.erase("a");
  s.set("a", f32({1}));
  EXPECT_GT(s.version("a"), a1);  // a new entry never repeats an old version
  const uint64_t marked = s.mark_host_stale("a", [](Array&) {});
  EXPECT_EQ(marked, s.version("a"));
  s.get("a");  // a fetch changes no version
  EXPECT_EQ(s.version("a"), marked);
}

TEST(ParamStore, StaleHostCopyIsFetchedOnceOnRead) {
  ParamStore s;
  s.set("w", f32({1, 1, 1}));
  Array held = s.get("w");
  auto calls = std::make_shared<int>(0);
  s.mark_host_stale("w", writes(7, calls));
  EXPECT_FALSE(s.host_current("w"));
  EXPECT_EQ(*calls, 0);              // lazy: nothing moves until the host reads
  EXPECT_EQ(s.peek("w").get(0), 1);  // peek does not fetch
  EXPECT_EQ(s.peek("w").shape(), Shape{3});
  EXPECT_EQ(*calls, 0);
  EXPECT_EQ(s.get("w").get(2), 7);
  EXPECT_EQ(held.get(2), 7);  // into the same storage
  EXPECT_TRUE(s.host_current("w"));
  EXPECT_EQ(s.get("w").get(0), 7);
  const ParamStore& c = s;
  EXPECT_EQ(c.get("w").get(1), 7);
  EXPECT_EQ(*calls, 1);
  EXPECT_EQ(s.fetch_count(), 1);
}

TEST(ParamStore, HostWritesDropTheStaleMark) {
  ParamStore s;
  s.set("a", f32({1}));
  s.set("b", f32({1}));
  s.set("c", f32({1}));
  auto calls = std::make_shared<int>(0);
  s.mark_host_stale("a", writes(9, calls));
  s.mark_host_stale("b", writes(9, calls));
  s.mark_host_stale("c", writes(9, calls));
  s.assign("a", f32({2}));  // the host's value is the newest again
  s.set("b", f32({3}));
  s.erase("c");
  EXPECT_TRUE(s.host_current("a"));
  EXPECT_TRUE(s.host_current("b"));
  EXPECT_EQ(s.get("a").get(0), 2);
  EXPECT_EQ(s.get("b").get(0), 3);
  EXPECT_EQ(*calls, 0);
  EXPECT_EQ(s.fetch_count(), 0);
}

TEST(ParamStore, ANewerMarkReplacesTheFetchAndReleasesIt) {
  ParamStore s;
  s.set("w", f32({0}));
  auto first = std::make_shared<int>(0), second = std::make_shared<int>(0);
  s.mark_host_stale("w", writes(1, first));
  EXPECT_EQ(first.use_count(), 2);  // the store holds the fetch (and what it owns)
  s.mark_host_stale("w", writes(2, second));
  EXPECT_EQ(first.use_count(), 1);
  EXPECT_EQ(s.get("w").get(0), 2);
  EXPECT_EQ(*first, 0);
  EXPECT_EQ(second.use_count(), 1);  // released once it ran
}

TEST(ParamStore, SyncHostFetchesEveryStaleParameter) {
  ParamStore s;
  auto calls = std::make_shared<int>(0);
  for (const char* n : {"a", "b", "c"}) s.set(n, f32({0, 0}));
  s.mark_host_stale("a", writes(1, calls));
  s.mark_host_stale("c", writes(3, calls));
  s.sync_host();
  EXPECT_EQ(*calls, 2);
  EXPECT_EQ(s.peek("a").get(1), 1);
  EXPECT_EQ(s.peek("c").get(1), 3);
  EXPECT_TRUE(s.host_current("a") && s.host_current("c"));
}

TEST(ParamStore, AFailedFetchLeavesTheCopyStale) {
  ParamStore s;
  s.set("w", f32({0}));
  bool fail = true;
  s.mark_host_stale("w", [&fail](Array& host) {
    if (fail) throw std::runtime_error("device lost");
    host.set(0, 5);
  });
  EXPECT_THROW(s.get("w"), std::runtime_error);
  EXPECT_FALSE(s.host_current("w"));
  fail = false;
  EXPECT_EQ(s.get("w").get(0), 5);
  EXPECT_EQ(s.fetch_count(), 1);
}

TEST(ParamStore, ConcurrentReadersFetchOnce) {
  ParamStore s;
  s.set("w", Array(DType::f32, Shape{1024}));
  std::atomic<int> calls{0};
  s.mark_host_stale("w", [&calls](Array& host) {
    ++calls;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (int64_t i = 0; i < host.numel(); ++i) host.set(i, 3);
  });
  std::vector<std::thread> readers;
  std::atomic<int> good{0};
  for (int t = 0; t < 4; ++t)
    readers.emplace_back([&] {
      const Array& a = s.get("w");
      bool ok = true;
      for (int64_t i = 0; i < a.numel(); ++i) ok = ok && a.get(i) == 3;
      good += ok;
    });
  for (auto& t : readers) t.join();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(good.load(), 4);
}

}  // namespace
}  // namespace soma
