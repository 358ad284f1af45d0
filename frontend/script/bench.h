// Benchmarking a tensor expression on several backends side by side: for each backend, the time
// of a fresh compile, then `warmup` untimed runs and `runs` timed runs (each one everything a user
// waits for: uploads, launches and the download of the value), reported as median and minimum.
#pragma once

#include <string>
#include <vector>

#include "frontend/script/session.h"

namespace soma::script {

struct BenchOptions {
  std::vector<std::string> backends;  // empty: every registered backend
  int runs = 10;
  int warmup = 2;
};

struct BenchResult {
  std::string name;
  std::string backend;
  double compile_ms = 0;
  double run_ms_median = 0;
  double run_ms_min = 0;
  int runs = 0;
  std::string error;  // non-empty: the backend failed (compile or run)
};

// Benchmarks `t` (called `name`); inputs without a feed get random values. Ctrl-C stops it
// (Interrupted). A backend that fails gives a result with `error` set.
std::vector<BenchResult> bench(Session& session, const Tensor& t, const std::string& name,
                               const BenchOptions& options, const Location& loc);

// The side-by-side table.
std::string bench_table(const std::vector<BenchResult>& results, const BenchOptions& options);
// One JSON object: {"name", "backend", "compile_ms", "run_ms_median", "run_ms_min", "runs"}
// (plus "error" for a failed backend, whose numbers are null).
std::string bench_json(const BenchResult& r);

}  // namespace soma::script
