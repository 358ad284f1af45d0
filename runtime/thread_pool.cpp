#include "runtime/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "runtime/env.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace soma {

namespace {

// Waiters spin (pause instructions) for at most this long before sleeping: long enough to catch
// back-to-back kernel launches, short enough not to steal much from another process sharing
// the cores. The pause instruction's cost varies by CPU (10 to 150 cycles), hence a clock.
constexpr auto kSpinTime = std::chrono::microseconds(30);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// Spins until pred() holds or kSpinTime has passed; returns pred().
template <typename Pred>
bool spin_until(Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  for (;;) {
    for (int i = 0; i < 32; ++i) {
      if (pred()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return pred();
  }
}

thread_local bool tl_in_pool_task = false;

struct InTask {
  bool saved;
  InTask() : saved(tl_in_pool_task) { tl_in_pool_task = true; }
  ~InTask() { tl_in_pool_task = saved; }
};

}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads < 1) threads = 1;
  workers_.reserve(static_cast<size_t>(threads - 1));
  // Start what can be started: a process or memory limit (ulimit -u, a container's pids limit)
  // may refuse some threads; the pool then works with fewer participants.
  for (int i = 0; i < threads - 1; ++i) {
    try {
      workers_.emplace_back([this, i] { worker_main(i); });
    } catch (const std::exception& e) {
      std::cerr << "soma: warning: started " << i + 1 << " of " << threads << " threads ("
                << e.what() << "); kernels run on " << i + 1 << "\n";
      break;
    }
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

namespace {

// The CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota (a
// container's --cpus) when there is one.
int available_cpus() {
  int n = 0;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  if (std::FILE* f = std::fopen("/sys/fs/cgroup/cpu.max", "r")) {
    char quota[32] = {0};
    long period = 0;
    if (std::fscanf(f, "%31s %ld", quota, &period) == 2 && std::string(quota) != "max" &&
        period > 0) {
      long q = std::strtol(quota, nullptr, 10);
      if (q > 0) n = std::max(1, std::min(n, static_cast<int>((q + period - 1) / period)));
    }
    std::fclose(f);
  }
  return n;
}

}  // namespace

int ThreadPool::default_size() {
  return static_cast<int>(env_int("SOMA_THREADS", available_cpus(), 1, 1024));
}

ThreadPool& ThreadPool::global() {
  // Never destroyed: kernels may run from static destructors of other objects, and joining
  // workers at exit buys nothing.
  static ThreadPool* pool = new ThreadPool(default_size());
  return *pool;
}

void ThreadPool::work_on_job(TaskFn fn, void* ctx, int64_t n, int participant) {
  InTask in_task;
  for (;;) {
    int64_t t = next_.fetch_add(1, std::memory_order_relaxed);
    if (t >= n) break;
    try {
      fn(ctx, t, participant);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = std::current_exception();
    }
    finished_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::worker_main(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Spin briefly for the next job, then sleep.
    bool fresh = spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; });
    std::unique_lock<std::mutex> lock(mu_);
    if (!fresh)
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
    if (stop_) return;
    seen = generation_.load(std::memory_order_acquire);
    if (index >= job_workers_) continue;
    TaskFn fn = fn_;
    void* ctx = ctx_;
    int64_t n = n_;
    active_.fetch_add(1, std::memory_order_relaxed);  // under mu_: seen by the next job's setup
    lock.unlock();
    work_on_job(fn, ctx, n, index + 1);
    // Leave the job. The caller usually spins for this (no lock, no wake-up); one that went to
    // sleep is woken under the mutex, so the notification cannot slip past its check.
    if (active_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      lock.lock();
      done_.notify_all();
    }
  }
}

void ThreadPool::run(int64_t n, int max_threads, TaskFn fn, void* ctx) {
  if (n <= 0) return;
  int participants = size();
  if (max_threads > 0 && max_threads < participants) participants = max_threads;
  if (n < participants) participants = static_cast<int>(n);

  std::unique_lock<std::mutex> call_lock(call_mu_, std::defer_lock);
  if (participants <= 1 || tl_in_pool_task || !call_lock.try_lock()) {
    InTask in_task;
    for (int64_t t = 0; t < n; ++t) fn(ctx, t, 0);
    return;
  }
  parallel_calls_.fetch_add(1, std::memory_order_relaxed);

  {
    // Workers that joined the previous job late must leave it before its fields change.
    spin_until([&] { return active_.load(std::memory_order_acquire) == 0; });
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return active_.load(std::memory_order_acquire) == 0; });
    fn_ = fn;
    ctx_ = ctx;
    n_ = n;
    job_workers_ = participants - 1;
    next_.store(0, std::memory_order_relaxed);
    finished_.store(0, std::memory_order_relaxed);
    error_ = nullptr;
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();

  work_on_job(fn, ctx, n, 0);

  // Wait for the tasks that other participants claimed, and for the workers to leave the job:
  // spin briefly, then sleep.
  auto done = [&] {
    return finished_.load(std::memory_order_acquire) >= n &&
           active_.load(std::memory_order_acquire) == 0;
  };
  spin_until(done);
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, done);
    error = error_;
    error_ = nullptr;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace soma
