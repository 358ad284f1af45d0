#include "runtime/thread_pool.h"
#include "graph/error.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

namespace soma {
namespace {

TEST(ThreadPool, RunsEveryTaskOnce) {
  ThreadPool pool(3);
  EXPECT_EQ(pool.size(), 3);
  for (int64_t n : {0, 1, 2, 7, 1000}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    std::atomic<int> bad_participant{0};
    pool.parallel_for(n, 0, [&](int64_t t, int who) {
      hits[static_cast<size_t>(t)].fetch_add(1);
      if (who < 0 || who >= 3) bad_participant.fetch_add(1);
    });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
    EXPECT_EQ(bad_participant.load(), 0);
  }
}

TEST(ThreadPool, HonorsMaxThreads) {
  ThreadPool pool(4);
  std::atomic<int> max_who{0};
  pool.parallel_for(200, 2, [&](int64_t, int who) {
    int m = max_who.load();
    while (who > m && !max_who.compare_exchange_weak(m, who)) {
    }
  });
  EXPECT_LE(max_who.load(), 1);
}

TEST(ThreadPool, UsesWorkersAndParksBetweenCalls) {
  ThreadPool pool(2);
  std::atomic<int> on_worker{0};
  for (int round = 0; round < 50; ++round) {
    pool.parallel_for(64, 0, [&](int64_t, int who) {
      if (who == 1) on_worker.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    });
    if (round % 10 == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // workers sleep
  }
  EXPECT_GT(on_worker.load(), 0);
  EXPECT_EQ(pool.parallel_calls(), 50u);
}

TEST(ThreadPool, NestedCallsRunInline) {
  ThreadPool pool(2);
  std::atomic<int> total{0};
  pool.parallel_for(8, 0, [&](int64_t, int) {
    pool.parallel_for(8, 0, [&](int64_t, int who) {
      EXPECT_EQ(who, 0);
      total.fetch_add(1);
    });
  });
  EXPECT_EQ(total.load(), 64);
}

TEST(ThreadPool, ConcurrentCallersBothComplete) {
  ThreadPool pool(2);
  std::atomic<int64_t> sum{0};
  auto work = [&] {
    for (int r = 0; r < 100; ++r)
      pool.parallel_for(100, 0, [&](int64_t t, int) { sum.fetch_add(t); });
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  EXPECT_EQ(sum.load(), 2 * 100 * (99 * 100 / 2));
}

TEST(ThreadPool, RethrowsTheFirstException) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.parallel_for(100, 0,
                                 [&](int64_t t, int) {
                                   if (t == 37) throw std::runtime_error("task 37");
                                 }),
               std::runtime_error);
  // Still usable afterwards.
  std::atomic<int> n{0};
  pool.parallel_for(10, 0, [&](int64_t, int) { n.fetch_add(1); });
  EXPECT_EQ(n.load(), 10);
}

TEST(ThreadPool, GlobalPoolSizeFollowsSomaThreads) {
  EXPECT_GE(ThreadPool::global().size(), 1);
  ::setenv("SOMA_THREADS", "3", 1);
  EXPECT_EQ(ThreadPool::default_size(), 3);
  for (const char* bad : {"junk", "0", "99999999999999999999", "1025"}) {
    ::setenv("SOMA_THREADS", bad, 1);
    try {
      ThreadPool::default_size();
      ADD_FAILURE() << bad;
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find("SOMA_THREADS"), std::string::npos) << e.what();
    }
  }
  ::unsetenv("SOMA_THREADS");
}

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
TEST(ThreadPool, ThreadsTheSystemRefusesAreDoneWithout) {
  // In a child: an address-space limit lets only a few 8 MiB thread stacks be mapped. The pool
  // starts what it can, warns, and runs every task (no hang, no crash).
  pid_t child = ::fork();
  if (child == 0) {
    struct rlimit lim;
    ::getrlimit(RLIMIT_AS, &lim);
    std::ifstream statm("/proc/self/statm");
    long pages = 0;
    statm >> pages;
    lim.rlim_cur = static_cast<rlim_t>(pages) * 4096 + (64u << 20);
    ::setrlimit(RLIMIT_AS, &lim);
    ThreadPool pool(1024);
    std::atomic<int> n{0};
    pool.parallel_for(5000, 0, [&](int64_t, int) { n.fetch_add(1); });
    ::_exit(n.load() == 5000 && pool.size() < 1024 ? 0 : 3);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "the child crashed (signal " << WTERMSIG(status) << ")";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}
#endif

}  // namespace
}  // namespace soma
