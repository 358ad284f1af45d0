// ThreadPool: the process's worker threads for parallel kernels.
//
// One pool per process (ThreadPool::global()): its size is the number of CPUs the process may use
// (its affinity mask and cgroup CPU quota), or $SOMA_THREADS (1..1024; anything else is a
// ValueError naming the variable). Threads the system refuses to start (a process or memory
// limit) are done without, with a warning: the pool never fails or hangs for them.
// A parallel_for hands tasks [0, n) to up to `max_threads` participants, the calling thread being
// participant 0; tasks are claimed dynamically, so callers must make results independent of which
// participant runs which task (the LLVM backend's kernels write disjoint outputs per task).
//
// Idle workers spin only briefly (a few microseconds), then sleep on a condition variable: a pool
// that keeps spinning collapses when another process shares the cores. Threads are started once,
// never per call. A parallel_for issued from inside a task, or while another thread is using the
// pool, runs its tasks inline on the calling thread (same results, no deadlock).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace soma {

class ThreadPool {
 public:
  // `threads` participants in all: the caller plus threads - 1 workers (at least one participant).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // The process-wide pool: $SOMA_THREADS participants when set, else one per available CPU.
  // Created on first use and never destroyed.
  static ThreadPool& global();
  // The default size of the global pool (reads $SOMA_THREADS).
  static int default_size();

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs task(t, participant) for every t in [0, n), on at most max_threads participants
  // (0: all); participant indices are in [0, min(max_threads, size())). Blocks until every task
  // has finished; rethrows the first exception a task threw.
  template <typename F>
  void parallel_for(int64_t n, int max_threads, F&& task) {
    using Fn = std::remove_reference_t<F>;
    run(
        n, max_threads,
        [](void* ctx, int64_t t, int participant) { (*static_cast<Fn*>(ctx))(t, participant); },
        const_cast<void*>(static_cast<const void*>(&task)));
  }

  // How many parallel_for calls were spread over more than one participant (for tests).
  uint64_t parallel_calls() const { return parallel_calls_.load(std::memory_order_relaxed); }

 private:
  using TaskFn = void (*)(void*, int64_t, int);
  void run(int64_t n, int max_threads, TaskFn fn, void* ctx);
  void worker_main(int index);
  void work_on_job(TaskFn fn, void* ctx, int64_t n, int participant);

  std::vector<std::thread> workers_;
  std::mutex call_mu_;  // one parallel_for at a time uses the workers

  std::mutex mu_;
  std::condition_variable wake_;  // workers wait here for a new job
  std::condition_variable done_;  // the caller waits here for the job to finish
  bool stop_ = false;

  // The current job (written under mu_ while no worker is active, read after seeing generation_).
  std::atomic<uint64_t> generation_{0};
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  int job_workers_ = 0;               // workers with index < job_workers_ take part
  std::atomic<int64_t> next_{0};      // the next unclaimed task
  std::atomic<int64_t> finished_{0};  // tasks finished
  std::atomic<int> active_{0};        // workers inside the job (joined under mu_)
  std::exception_ptr error_;          // first exception (under mu_)

  std::atomic<uint64_t> parallel_calls_{0};
};

}  // namespace soma
